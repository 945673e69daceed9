//! Local servers speaking two platforms' chat protocols, for suites outside Rust (the app's
//! WebDriver suite) and the CLI's: Twitch IRC over WebSocket, bilibili's web danmaku protocol,
//! Twitch's login and moderation API (id.twitch.tv + Helix, as
//! crates/chat/tests/support/twitch_api.rs answers them), Google's OAuth and the YouTube Data
//! API's moderation calls (as crates/chat/tests/support/youtube_api.rs answers them), and bilibili's live open platform
//! (its signed HTTP API and long connection, as crates/chat/tests/support/bili_open.rs answers
//! them; app id, key pair and 身份码 are that file's). Prints one JSON line — `twitch`,
//! `bilibili` (their ws:// URLs, for `MARQUEE_CHAT_ENDPOINTS`), `twitch_api`, `youtube_api`,
//! `bilibili_open` (their http:// bases), `youtube_client` (the OAuth client and the live
//! video), `bilibili_open_app` (the app id and the secrets to store) — then one JSON line per API request it answered (`{"api": "METHOD PATH", "body": …}`), and
//! serves until stdin closes. A line `flood RATE SECONDS` on stdin makes every
//! Twitch reader get RATE chat lines a second for SECONDS (`flood 1` … `flood N`, each a
//! PRIVMSG shaped like the docs' example, sent in 10 ms frames), as a raid would.
//!
//! Each Twitch reader gets, after its anonymous login, the CAP ACK / 001 / JOIN echo as
//! tmi.twitch.tv sends them, a chat line and a cheer; each bilibili reader gets the auth reply
//! (op 8), a captured DANMU_MSG (op 5), and heartbeat replies (op 3); each open-platform
//! reader the same with the documented danmaku, gift, super chat and guard commands. Frame sources:
//! - Twitch: dev.twitch.tv/docs/irc/tags, the PRIVMSG tags example and the bits example
//!   (`bits=100`, "cheer100"), their channel set to the one joined.
//! - bilibili: header, operations and auth reply from bilibili-API-collect
//!   `docs/live/message_stream.md`; the DANMU_MSG captured from a live room (2020-06-01) in the
//!   comments of the public Go client `bilidanmaku` (cmd.go), as crates/chat/tests uses it.

use futures_util::{SinkExt, StreamExt};
use marquee_chat::bilibili::packet::{self, encode};
/// The chat crate's test servers: its HTTP server and the Twitch API's answers (test code:
/// a failed unwrap there is a failed test).
#[allow(clippy::unwrap_used)]
#[path = "../../crates/chat/tests/support/mod.rs"]
mod chat_support;

use std::io::BufRead;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const HEYGUYS: &str = "@badge-info=;badges=broadcaster/1;client-nonce=997dcf443c31e258c1d32a8da47b6936;color=#0000FF;display-name=abc;emotes=;first-msg=0;flags=0-6:S.7;id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0;room-id=713936733;subscriber=0;tmi-sent-ts=1642786203573;turbo=0;user-id=713936733;user-type= :abc!abc@abc.tmi.twitch.tv PRIVMSG #CHANNEL :HeyGuys";
const CHEER: &str = "@badge-info=;badges=staff/1,bits/1000;bits=100;color=;display-name=ronni;emotes=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=12345678;subscriber=0;tmi-sent-ts=1507246572675;turbo=1;user-id=12345678;user-type=staff :ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #CHANNEL :cheer100";
const DANMU: &str = r##"{"cmd":"DANMU_MSG","info":[[0,1,25,16777215,1591004454028,-1464052061,0,"034722a0",0,0,0],"我改一下",[23624052,"星云之音喵",0,0,0,10000,1,""],[1,"谜酥","谜之声",5082,6406234,"",0],[12,0,6406234,"\u003e50000"],["",""],0,0,null,{"ts":1591004454,"ct":"5E5F26D2"},0,0,null,null,0]}"##;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A flood asked on stdin: lines a second, for how long.
#[derive(Clone, Copy, Default)]
struct Flood {
    rate: u64,
    secs: u64,
}

/// The numbered chat lines `from..=to` of a flood, one IRC line each.
fn flood_lines(channel: &str, from: u64, to: u64) -> String {
    (from..=to)
        .map(|n| {
            format!(
                "@badge-info=;badges=;color=;display-name=f{n};emotes=;first-msg=0;flags=;id=flood-{n};mod=0;room-id=1;subscriber=0;tmi-sent-ts=0;turbo=0;user-id={n};user-type= :f{n}!f{n}@f{n}.tmi.twitch.tv PRIVMSG #{channel} :flood {n}\r\n"
            )
        })
        .collect()
}

async fn twitch(mut ws: Ws, mut floods: tokio::sync::watch::Receiver<Flood>) {
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("JOIN ")) {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => lines.extend(t.as_str().lines().map(str::to_string)),
            Some(Ok(_)) => {}
            _ => return,
        }
    }
    let nick = lines
        .iter()
        .find_map(|l| l.strip_prefix("NICK "))
        .unwrap_or("justinfan1")
        .to_string();
    let channel = lines
        .iter()
        .find_map(|l| l.strip_prefix("JOIN #"))
        .unwrap_or("channel")
        .to_string();
    let hello = format!(
        ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n:tmi.twitch.tv 001 {nick} :Welcome, GLHF!\r\n:{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{channel}\r\n{}\r\n{}\r\n",
        HEYGUYS.replace("CHANNEL", &channel),
        CHEER.replace("CHANNEL", &channel),
    );
    if ws.send(Message::text(hello)).await.is_err() {
        return;
    }
    floods.mark_unchanged();
    // (started, the flood, lines sent so far)
    let mut flooding: Option<(Instant, Flood, u64)> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) if t.as_str().starts_with("PING") => {
                    let _ = ws.send(Message::text("PONG :tmi.twitch.tv\r\n")).await;
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            Ok(()) = floods.changed() => {
                flooding = Some((Instant::now(), *floods.borrow_and_update(), 0));
            }
            _ = tick.tick(), if flooding.is_some() => {
                let Some((started, f, sent)) = flooding.as_mut() else { continue };
                let total = f.rate * f.secs;
                let due = ((started.elapsed().as_secs_f64() * f.rate as f64) as u64).min(total);
                if due > *sent {
                    let frame = flood_lines(&channel, *sent + 1, due);
                    if ws.send(Message::text(frame)).await.is_err() {
                        return;
                    }
                    *sent = due;
                }
                if *sent >= total {
                    flooding = None;
                }
            }
        }
    }
}

async fn bilibili(mut ws: Ws, bodies: &[&str]) {
    // The auth packet first (op 7), whatever it holds: an anonymous reader's.
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(_))) => break,
            Some(Ok(_)) => {}
            _ => return,
        }
    }
    let mut hello = vec![encode(1, packet::OP_AUTH_REPLY, br#"{"code":0}"#)];
    for b in bodies {
        hello.push(encode(0, packet::OP_MESSAGE, b.as_bytes()));
    }
    for p in hello {
        if ws.send(Message::binary(p)).await.is_err() {
            return;
        }
    }
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Binary(_) = m {
            // A heartbeat: the popularity reply.
            let reply = encode(1, packet::OP_HEARTBEAT_REPLY, &1234u32.to_be_bytes());
            if ws.send(Message::binary(reply)).await.is_err() {
                return;
            }
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let tw = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let bl = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open_ws = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open_wss = format!("ws://{}/sub", open_ws.local_addr().expect("addr"));
        let (open_base, mut open_calls) =
            chat_support::http_server_with(move |r| chat_support::bili_open::answer(r, &open_wss))
                .await;
        let polls = std::sync::atomic::AtomicU32::new(0);
        let (api_base, mut api_calls) = chat_support::http_server_with(move |r| {
            chat_support::twitch_api::twitch_api_answer(
                &r.method, &r.path, &r.head, &r.body, &polls,
            )
        })
        .await;
        let yt_polls = std::sync::atomic::AtomicU32::new(0);
        let (youtube_base, mut youtube_calls) = chat_support::http_server_with(move |r| {
            chat_support::youtube_api::youtube_api_answer(
                &r.method, &r.path, &r.head, &r.body, &yt_polls,
            )
        })
        .await;
        println!(
            "{}",
            serde_json::json!({
                "twitch": format!("ws://{}", tw.local_addr().expect("addr")),
                "youtube_api": youtube_base,
                // The OAuth client a streamer would make for the YouTube login.
                "youtube_client": {
                    "client_id": chat_support::youtube_api::CLIENT_ID,
                    "client_secret": chat_support::youtube_api::CLIENT_SECRET,
                    "video": chat_support::youtube_api::VIDEO,
                },
                "bilibili": format!("ws://{}", bl.local_addr().expect("addr")),
                "twitch_api": api_base,
                "bilibili_open": open_base,
                // What a streamer stores with `marquee chat login bilibili-open`.
                "bilibili_open_app": {
                    "app_id": chat_support::bili_open::APP_ID,
                    "key_id": chat_support::bili_open::KEY_ID,
                    "key_secret": chat_support::bili_open::KEY_SECRET,
                    "code": chat_support::bili_open::CODE,
                },
            })
        );
        tokio::spawn(async move {
            while let Some(r) = open_calls.recv().await {
                println!(
                    "{}",
                    serde_json::json!({"api": format!("{} {}", r.method, r.path), "body": r.body})
                );
            }
        });
        tokio::spawn(async move {
            use chat_support::bili_open as open;
            while let Ok((tcp, _)) = open_ws.accept().await {
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        let bodies = [open::DM, open::GIFT, open::SUPER_CHAT, open::GUARD];
                        bilibili(ws, &bodies).await;
                    }
                });
            }
        });
        tokio::spawn(async move {
            while let Some(r) = youtube_calls.recv().await {
                println!(
                    "{}",
                    serde_json::json!({"api": format!("{} {}", r.method, r.path), "body": r.body})
                );
            }
        });
        tokio::spawn(async move {
            while let Some(r) = api_calls.recv().await {
                println!(
                    "{}",
                    serde_json::json!({"api": format!("{} {}", r.method, r.path), "body": r.body})
                );
            }
        });
        let (flood_tx, flood_rx) = tokio::sync::watch::channel(Flood::default());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = tw.accept().await {
                let floods = flood_rx.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        twitch(ws, floods).await;
                    }
                });
            }
        });
        tokio::spawn(async move {
            while let Ok((tcp, _)) = bl.accept().await {
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        bilibili(ws, &[DANMU]).await;
                    }
                });
            }
        });
        // Until the suite closes stdin; `flood RATE SECONDS` lines start floods.
        tokio::task::spawn_blocking(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let mut w = line.split_whitespace();
                if w.next() == Some("flood")
                    && let (Some(Ok(rate)), Some(Ok(secs))) =
                        (w.next().map(str::parse), w.next().map(str::parse))
                {
                    let _ = flood_tx.send(Flood { rate, secs });
                }
            }
        })
        .await
        .ok();
    });
}
