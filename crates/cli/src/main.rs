//! `marquee`: the engine headless — list devices, go live, manage stream keys.

mod chat;
mod clip;
mod costream;
mod devices;
mod failure;
mod guest;
mod keys;
mod live;
mod overlay;
mod room;
mod scene;
mod status;
mod util;

use clap::{Parser, Subcommand};
use failure::Failure;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "marquee",
    version,
    about = "Go live from the command line: capture → encode → RTMP(S), record locally."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List cameras, microphones (and with --encoders, which video encoders open here).
    Devices(devices::DevicesArgs),
    /// Go live: capture, encode once, push to every --to and record.
    Live(Box<live::LiveArgs>),
    /// Stream keys in the OS keychain.
    #[command(subcommand)]
    Key(keys::KeyCmd),
    /// The config file with named profiles.
    #[command(subcommand)]
    Config(keys::ConfigCmd),
    /// Highlights: save the last seconds of a live session, mark, cut, export, suggest.
    #[command(subcommand)]
    Clip(clip::ClipCmd),
    /// Platform chat (bilibili, Twitch, YouTube) in the terminal.
    #[command(subcommand)]
    Chat(chat::ChatCmd),
    /// The live room: server, tokens, a terminal view, a load test.
    #[command(subcommand)]
    Room(room::RoomCmd),
    /// Switch the scene of a running `marquee live` (or list its scenes).
    Scene(scene::SceneArgs),
    /// Turn an overlay of a running `marquee live` on or off.
    Overlay(scene::OverlayArgs),
    /// Turn director mode (the loudest camera microphone gets the shot) on or off.
    Director(scene::DirectorArgs),
    /// Co-stream as a guest: join a host's show from an invite link.
    #[command(subcommand)]
    Guest(guest::GuestCmd),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MARQUEE_LOG")
                // The PulseAudio client logs a harmless error when its connection closes.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,pulseaudio=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Devices(a) => devices::run(a),
        Cmd::Live(a) => live::run(*a),
        Cmd::Key(c) => keys::run_key(c),
        Cmd::Config(c) => keys::run_config(c),
        Cmd::Chat(c) => chat::run(c),
        Cmd::Room(c) => room::run(c).map_err(|e| Failure::runtime(e.to_string())),
        Cmd::Scene(a) => scene::run(a),
        Cmd::Overlay(a) => scene::run_overlay(a),
        Cmd::Director(a) => scene::run_director(a),
        Cmd::Guest(c) => guest::run(c),
        Cmd::Clip(c) => clip::run(c).map_err(|e| Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("marquee: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
