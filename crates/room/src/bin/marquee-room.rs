//! A standalone room binary (`marquee-room serve|token|watch|bench`) with the same arguments as
//! `marquee room …`. The `marquee` CLI wires the same functions; this binary lets the room crate's
//! own tests run the server as a real process (and kill it with -9).

use clap::{Parser, Subcommand};
use marquee_room::cli;

#[derive(Parser)]
#[command(name = "marquee-room", about = "Marquee live room server and tools")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the room server.
    Serve(cli::ServeArgs),
    /// Print a signed room token.
    Token(cli::TokenArgs),
    /// Print a room's events as they come.
    Watch(cli::WatchArgs),
    /// Load-test one room.
    Bench(cli::BenchArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().cmd {
        Cmd::Serve(a) => cli::serve(&a),
        Cmd::Token(a) => cli::token(&a).map(|t| println!("{t}")),
        Cmd::Watch(a) => cli::watch(&a),
        Cmd::Bench(a) => cli::bench(&a).map(|_| ()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
