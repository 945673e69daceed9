//! `marquee chat watch` against a local Twitch IRC-over-WebSocket server: JSON lines and human
//! lines, the source's states among them, and errors that name the platform.
//! Frames from dev.twitch.tv/docs/irc/tags (the PRIVMSG and bits examples).

#![allow(clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const HEYGUYS: &str = "@badge-info=;badges=broadcaster/1;color=#0000FF;display-name=abc;emotes=;id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0;room-id=713936733;subscriber=0;tmi-sent-ts=1642786203573;turbo=0;user-id=713936733;user-type= :abc!abc@abc.tmi.twitch.tv PRIVMSG #ronni :HeyGuys";
const CHEER: &str = "@badge-info=;badges=staff/1,bits/1000;bits=100;color=;display-name=ronni;emotes=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=12345678;subscriber=0;tmi-sent-ts=1507246572675;turbo=1;user-id=12345678;user-type=staff :ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :cheer100";

/// A Twitch-like server: on each connection it waits for the JOIN, confirms it, sends the two
/// frames, then RECONNECT on the first connection only.
async fn twitch_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            n += 1;
            let first = n == 1;
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let mut nick = String::new();
                while let Some(Ok(m)) = ws.next().await {
                    let Message::Text(t) = m else { continue };
                    if let Some(n) = t.as_str().strip_prefix("NICK ") {
                        nick = n.trim().to_string();
                    }
                    if t.as_str().starts_with("JOIN") {
                        break;
                    }
                }
                let mut batch = format!(":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #ronni\r\n");
                batch.push_str(&format!("{HEYGUYS}\r\n{CHEER}\r\n"));
                if first {
                    batch.push_str(":tmi.twitch.tv RECONNECT\r\n");
                }
                ws.send(Message::Text(batch.into())).await.unwrap();
                while ws.next().await.is_some() {}
            });
        }
    });
    url
}

struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_marquee"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// Lines until one contains `want` (failing after 20 s).
    fn until(&self, want: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line with {want:?}; saw {seen:#?}"));
            let done = l.contains(want);
            seen.push(l);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_carry_messages_cheers_and_the_source_state() {
    let url = twitch_server().await;
    let w = Watch::start(&[
        "chat",
        "watch",
        "twitch",
        "--channel",
        "ronni",
        "--json",
        "--endpoint",
        &url,
    ]);
    let lines = w.until(r#""state":"reconnecting""#);
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(v.iter().all(|e| e["platform"] == "twitch"));
    assert_eq!(v[0]["state"], "connecting");
    assert_eq!(v[1]["state"], "live");
    assert_eq!(v[2]["type"], "message");
    assert_eq!(v[2]["text"], "HeyGuys");
    assert_eq!(v[2]["user"]["name"], "abc");
    assert_eq!(v[2]["user"]["colour"], "#0000FF");
    assert_eq!(v[3]["type"], "cheer");
    assert_eq!(v[3]["bits"], 100);
    assert_eq!(v[4]["attempt"], 1);
    // It connects again by itself.
    let again = w.until(r#""state":"live""#);
    assert!(again.len() <= 2, "{again:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_lines_name_the_platform_badges_and_states() {
    let url = twitch_server().await;
    let w = Watch::start(&[
        "chat",
        "watch",
        "twitch",
        "--channel",
        "ronni",
        "--endpoint",
        &url,
    ]);
    let lines = w.until("cheered");
    assert_eq!(lines[0], "[Twitch] * connecting");
    assert_eq!(lines[1], "[Twitch] * live");
    assert_eq!(lines[2], "[Twitch] [broadcaster] abc: HeyGuys");
    assert_eq!(
        lines[3],
        "[Twitch] [staff] [bits/1000] ronni cheered 100 bits: cheer100"
    );
}

#[test]
fn a_bad_channel_name_is_refused_naming_twitch() {
    let out = Command::new(env!("CARGO_BIN_EXE_marquee"))
        .args(["chat", "watch", "twitch", "--channel", "no spaces!"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Twitch") && err.contains("channel name"),
        "{err}"
    );
}

#[test]
fn a_refused_bilibili_room_ends_with_exit_1_and_the_reason() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("ws://{}/sub", listener.local_addr().unwrap());
    rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _auth = ws.next().await;
        // Auth reply (operation 8) refusing the login.
        let body = br#"{"code":-101}"#;
        let mut p = Vec::new();
        p.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        p.extend_from_slice(&16u16.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(&8u32.to_be_bytes());
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(body);
        ws.send(Message::Binary(p.into())).await.unwrap();
        while ws.next().await.is_some() {}
    });
    let out = Command::new(env!("CARGO_BIN_EXE_marquee"))
        .args([
            "chat",
            "watch",
            "bilibili",
            "--room",
            "7",
            "--endpoint",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bilibili refused to join room 7"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("! failed: bilibili"), "{stdout}");
}
