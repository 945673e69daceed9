//! `marquee scene`: switch the scene of a running `marquee live` over its control socket.

use crate::failure::Failure;
use marquee_highlights::control;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct SceneArgs {
    /// The scene (or source) to put on air; without it, list the scenes.
    name: Option<String>,
    /// cut, fade[:MS] or slide[:MS] (MS defaults to 300).
    #[arg(long, short, default_value = "cut")]
    transition: String,
    /// The live session's control socket [default: $XDG_RUNTIME_DIR/marquee/live.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
}

/// One request to the running session (default socket unless given); its JSON answer.
fn send(socket: Option<PathBuf>, line: &str) -> Result<String, Failure> {
    let socket = socket.unwrap_or_else(control::default_socket_path);
    control::request(&socket, line, Duration::from_secs(5))
        .map_err(|e| Failure::runtime(e.to_string()))
}

pub fn run(a: SceneArgs) -> Result<(), Failure> {
    let line = match &a.name {
        Some(n) => {
            let t: marquee_scene::Transition = a
                .transition
                .parse()
                .map_err(|e: marquee_scene::SceneError| Failure::usage(e.to_string()))?;
            format!("scene {n} {t}")
        }
        None => "scenes".to_string(),
    };
    let answer = send(a.socket, &line)?;
    let v: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| Failure::runtime(format!("unexpected answer from the session: {e}")))?;
    match &a.name {
        Some(n) => println!("{n} on air ({})", v["transition"].as_str().unwrap_or("cut")),
        None => {
            let on_air = v["on_air"].as_str().unwrap_or("");
            for s in v["scenes"].as_array().into_iter().flatten() {
                let name = s["name"].as_str().unwrap_or("");
                let mark = if name == on_air { "*" } else { " " };
                println!("{mark} {name:<16} {}", s["layout"].as_str().unwrap_or(""));
            }
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct OverlayArgs {
    /// The overlay's id (as given to `marquee live --overlay ID=...`).
    id: String,
    /// on or off.
    #[arg(value_parser = ["on", "off"])]
    state: String,
    /// The live session's control socket [default: $XDG_RUNTIME_DIR/marquee/live.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
}

/// `marquee overlay ID on|off`.
pub fn run_overlay(a: OverlayArgs) -> Result<(), Failure> {
    let line = format!("overlay {} {}", a.id, a.state);
    send(a.socket, &line)?;
    println!("{line}");
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct DirectorArgs {
    /// on or off.
    #[arg(value_parser = ["on", "off"])]
    state: String,
    /// The live session's control socket [default: $XDG_RUNTIME_DIR/marquee/live.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
}

/// `marquee director on|off`.
pub fn run_director(a: DirectorArgs) -> Result<(), Failure> {
    let socket = a.socket.unwrap_or_else(control::default_socket_path);
    control::request(
        &socket,
        &format!("director {}", a.state),
        Duration::from_secs(5),
    )
    .map_err(|e| Failure::runtime(e.to_string()))?;
    println!("director {}", a.state);
    Ok(())
}
