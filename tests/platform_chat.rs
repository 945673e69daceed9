//! Platform chat in a live show (`marquee live --chat`): a Twitch chat line from a local IRC-
//! over-WebSocket server reaches the highlight signals beside the recording, and a second
//! source whose server refuses the connection only says so on the status line while the show
//! goes on to its end.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use marquee_e2e::{Run, assert_exited_ok, free_port, marquee_in, tempdir};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A PRIVMSG with tags, from Twitch's documentation (dev.twitch.tv/docs/irc/tags, "PRIVMSG
/// tags" example), its channel set to the one joined.
const HEYGUYS: &str = "@badge-info=;badges=broadcaster/1;client-nonce=997dcf443c31e258c1d32a8da47b6936;color=#0000FF;display-name=abc;emotes=;first-msg=0;flags=0-6:S.7;id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0;room-id=713936733;subscriber=0;tmi-sent-ts=1642786203573;turbo=0;user-id=713936733;user-type= :abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :HeyGuys";

/// A Twitch chat server for one reader: answers the anonymous login (CAP ACK, 001, the JOIN
/// echo, as tmi.twitch.tv does), then sends one chat line and holds the connection.
fn twitch_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let serve = async {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let mut lines = Vec::new();
                while !lines.iter().any(|l: &String| l.starts_with("JOIN ")) {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) => {
                            lines.extend(t.as_str().lines().map(str::to_string))
                        }
                        Some(Ok(_)) => {}
                        other => panic!("the reader left before joining: {other:?}"),
                    }
                }
                let nick = lines
                    .iter()
                    .find_map(|l| l.strip_prefix("NICK "))
                    .expect("a NICK line")
                    .to_string();
                let hello = format!(
                    ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n:tmi.twitch.tv 001 {nick} :Welcome, GLHF!\r\n:{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #xyz\r\n{HEYGUYS}\r\n"
                );
                ws.send(Message::text(hello)).await.unwrap();
                // Hold the connection (answering nothing more) until the show ends.
                while let Some(Ok(_)) = ws.next().await {}
            };
            // The show ends within its --duration; the server does not outlive the test.
            let _ = tokio::time::timeout(Duration::from_secs(60), serve).await;
        });
    });
    (url, thread)
}

/// The `danmaku` counts in a signals file (one JSON object a line).
fn danmaku_in(signals: &str) -> u64 {
    signals
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("danmaku").and_then(|d| d.as_u64()))
        .sum()
}

#[test]
fn a_twitch_chat_line_reaches_the_signals_and_a_refused_source_leaves_the_show_running() {
    let home = tempdir("marquee-chat-live-");
    let rec = home.path().join("chat.mkv");
    let (twitch, server) = twitch_server();
    // Nothing listens here: bilibili's connection is refused at every attempt.
    let refused = format!("ws://127.0.0.1:{}/sub", free_port());
    let mut c = marquee_in(home.path());
    c.args([
        "live", "--video", "test", "--audio", "none", "--size", "320x180",
    ])
    .args(["--duration", "5s", "--replay-seconds", "0"])
    .args(["--chat", "twitch:xyz", "--chat", "bilibili:21452505"])
    .arg("--chat-endpoint")
    .arg(format!("twitch={twitch}"))
    .arg("--chat-endpoint")
    .arg(format!("bilibili={refused}"))
    .arg("--record")
    .arg(&rec)
    .env("MARQUEE_CONTROL", home.path().join("live.sock"));
    let mut run = Run::spawn(c);
    assert!(
        run.wait_for_stderr("chat twitch:xyz: live", Duration::from_secs(30)),
        "{}",
        run.report()
    );
    assert!(
        run.wait_for_stderr(
            "chat bilibili:21452505: reconnecting",
            Duration::from_secs(30)
        ),
        "{}",
        run.report()
    );
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);
    server.join().unwrap();

    let stderr = run.stderr();
    assert!(!stderr.contains("every destination failed"), "{stderr}");
    let signals = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".signals.jsonl"))
        .unwrap_or_else(|| panic!("no signals file beside the recording\n{}", run.report()));
    let text = std::fs::read_to_string(&signals).unwrap();
    assert_eq!(danmaku_in(&text), 1, "one chat line counted: {text}");
    assert!(
        std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0) > 10_000,
        "the recording went on to its end"
    );
}
