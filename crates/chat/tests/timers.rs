//! The protocol cores' clocks, driven by hand (sans-IO: no socket, no sleep): bilibili's 30 s
//! heartbeat and 70 s silence limit, Twitch's idle PING and its deadline, YouTube's polling
//! pace.

#![allow(clippy::unwrap_used)]

use marquee_chat::bilibili::packet::{self, encode};
use marquee_chat::bilibili::{Bilibili, BilibiliConfig};
use marquee_chat::twitch::{Twitch, TwitchConfig};
use marquee_chat::youtube::{Youtube, YoutubeConfig};
use marquee_chat::{ChatSource, Input, Output};
use std::time::{Duration, Instant};

fn drain(s: &mut dyn ChatSource) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn bilibili_heartbeats_every_30_s_and_reconnects_after_70_s_of_silence() {
    let t0 = Instant::now();
    let mut b = Bilibili::new(BilibiliConfig::new(1));
    b.connected(t0);
    assert!(matches!(&drain(&mut b)[..], [Output::SendBinary(_)]));
    b.handle_input(
        t0,
        Input::Binary(&encode(1, packet::OP_AUTH_REPLY, br#"{"code":0}"#)),
    );
    assert_eq!(
        b.poll_timeout(),
        Some(t0),
        "the first heartbeat is due at once"
    );
    b.handle_timeout(t0);
    let out = drain(&mut b);
    assert!(
        matches!(out.last(), Some(Output::SendBinary(p)) if p[11] == packet::OP_HEARTBEAT as u8)
    );
    assert_eq!(b.poll_timeout(), Some(t0 + secs(30)));
    b.handle_timeout(t0 + secs(30));
    assert!(matches!(&drain(&mut b)[..], [Output::SendBinary(_)]));
    // The heartbeat replies stop coming.
    b.handle_timeout(t0 + secs(60));
    drain(&mut b);
    b.handle_timeout(t0 + secs(70));
    let out = drain(&mut b);
    assert!(
        matches!(out.last(), Some(Output::Reconnect(r)) if r.contains("70 s")),
        "{out:?}"
    );
    assert_eq!(b.poll_timeout(), None, "a closed session has no timers");
}

#[test]
fn bilibili_without_a_login_reply_reconnects_after_10_s() {
    let t0 = Instant::now();
    let mut b = Bilibili::new(BilibiliConfig::new(1));
    b.connected(t0);
    drain(&mut b);
    assert_eq!(b.poll_timeout(), Some(t0 + secs(10)));
    b.handle_timeout(t0 + secs(10));
    assert!(matches!(drain(&mut b).last(), Some(Output::Reconnect(_))));
}

#[test]
fn twitch_pings_after_a_quiet_minute_and_reconnects_without_an_answer() {
    let t0 = Instant::now();
    let mut cfg = TwitchConfig::new("x");
    cfg.nick = "justinfan1".into();
    let mut t = Twitch::new(cfg);
    t.connected(t0);
    drain(&mut t);
    t.handle_input(t0, Input::Text(":justinfan1!a@b JOIN #x\r\n"));
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(t0 + secs(60)));
    t.handle_timeout(t0 + secs(60));
    assert_eq!(
        drain(&mut t),
        vec![Output::SendText("PING :tmi.twitch.tv".into())]
    );
    t.handle_timeout(t0 + secs(75));
    assert!(matches!(drain(&mut t).last(), Some(Output::Reconnect(_))));
}

#[test]
fn twitch_answers_ping_in_kind_and_any_line_resets_the_idle_timer() {
    let t0 = Instant::now();
    let mut t = Twitch::new(TwitchConfig::new("x"));
    t.connected(t0);
    drain(&mut t);
    t.handle_input(t0 + secs(50), Input::Text("PING :tmi.twitch.tv\r\n"));
    assert_eq!(
        drain(&mut t),
        vec![Output::SendText("PONG :tmi.twitch.tv".into())]
    );
    assert_eq!(
        t.poll_timeout(),
        Some(t0 + secs(15)),
        "the join deadline comes first"
    );
}

#[test]
fn youtube_waits_the_longer_of_the_page_interval_and_its_own_minimum() {
    let t0 = Instant::now();
    let mut cfg = YoutubeConfig::new("v", "k".into());
    cfg.url = "http://127.0.0.1:9/v3".into();
    cfg.min_interval = secs(20);
    cfg.stream = false;
    let mut y = Youtube::new(cfg);
    y.connected(t0);
    y.handle_timeout(t0);
    let out = drain(&mut y);
    assert!(matches!(&out[..], [Output::HttpGet(u)] if u.contains("/v3/videos?")));
    assert_eq!(y.poll_timeout(), None, "one request at a time");
    y.handle_input(
        t0,
        Input::Http {
            status: 200,
            body: br#"{"items":[{"liveStreamingDetails":{"activeLiveChatId":"c"}}]}"#,
        },
    );
    y.handle_timeout(t0);
    drain(&mut y);
    y.handle_input(
        t0,
        Input::Http {
            status: 200,
            body: br#"{"pollingIntervalMillis":5000,"nextPageToken":"n","items":[]}"#,
        },
    );
    drain(&mut y);
    assert_eq!(y.poll_timeout(), Some(t0 + secs(20)));
}
