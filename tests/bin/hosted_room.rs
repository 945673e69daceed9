//! A hosted room for suites outside Rust (the app's WebDriver suite): `marquee room serve` on
//! loopback behind the real nginx TLS proxy of [`marquee_e2e::RoomProxy`] (a CA made here),
//! a host key for room `ROOM` minted with `marquee room token`. Prints one JSON line — `url`
//! (the public https URL), `room`, `ca_file`, `host_key` — then runs until stdin closes, and
//! stops nginx and the server.
//!
//! `hosted_room [ROOM]` (default `premiere`); the `marquee` binary as the suites find it
//! (`MARQUEE_BIN`, else beside this one).

use marquee_e2e::{RoomProxy, RoomServer, marquee, reserve_port, tempdir};
use std::io::Read;

fn main() {
    let room = std::env::args().nth(1).unwrap_or_else(|| "premiere".into());
    let dir = tempdir("marquee-hosted-room-");
    let secret = dir.path().join("room.secret");
    // Held until nginx listens on it: the server is told its public URL first.
    let reserved = reserve_port();
    let front = reserved.port();
    let public = format!("https://localhost:{front}");
    let server = RoomServer::start_behind_proxy(dir.path(), front);
    let addr = server.addr();
    let proxy = RoomProxy::start(&[(front, addr)]);
    drop(reserved);
    let token = marquee()
        .args([
            "room", "token", "--room", &room, "--user", "host", "--role", "host",
        ])
        .args(["--ttl", "1d", "--secret-file"])
        .arg(&secret)
        .output()
        .expect("run marquee room token");
    assert!(
        token.status.success(),
        "marquee room token: {}",
        String::from_utf8_lossy(&token.stderr)
    );
    let host_key = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let line = serde_json::json!({
        "url": public,
        "room": room,
        "ca_file": proxy.ca_path(),
        "host_key": host_key,
    });
    println!("{line}");
    // Until the suite closes stdin (or exits).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(proxy);
    drop(server);
}
