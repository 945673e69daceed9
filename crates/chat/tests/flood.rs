//! A platform flood never grows memory: 2,000 chat lines a second for 10 s from a local Twitch
//! server, read by a consumer that falls behind. The queue holds at most its capacity, every
//! line is either delivered or counted as dropped, and the events that must not be lost (a
//! raid at the end) still arrive.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::twitch::{Twitch, TwitchConfig};
use marquee_chat::{DriverConfig, EventBody, SourceState, spawn};
use std::time::Duration;
use support::*;
use tokio_tungstenite::tungstenite::Message;

const RATE_PER_TICK: usize = 100;
const TICK: Duration = Duration::from_millis(50);
const TICKS: usize = 200; // 100 lines / 50 ms = 2,000 lines/s, for 10 s
const CAP: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_2000_lines_a_second_for_10_s_stays_bounded_and_counts_what_it_drops() {
    let (url, mut conns) = ws_server().await;
    let mut cfg = TwitchConfig::new("flood");
    cfg.url = url;
    let driver = DriverConfig {
        queue: CAP,
        ..fast()
    };
    let mut h = spawn(Box::new(Twitch::new(cfg)), driver);
    let mut ws = accept(&mut conns).await;
    let mut got = 0;
    while got < 4 {
        if let Message::Text(t) = next_msg(&mut ws).await {
            got += t.as_str().lines().count();
        }
    }
    send_text(
        &mut ws,
        ":justinfan1!x@x JOIN #flood\r\n:tmi.twitch.tv ROOMSTATE #flood\r\n",
    )
    .await;

    // The reader is busy elsewhere during the flood; the queue's size is sampled as it goes.
    let mut max_queued = 0;
    let mut interval = tokio::time::interval(TICK);
    let mut n = 0u64;
    for _ in 0..TICKS {
        interval.tick().await;
        let mut batch = String::new();
        for _ in 0..RATE_PER_TICK {
            n += 1;
            batch.push_str(&format!(
                "@color=#FF0000;display-name=v{n};id=m{n} :v!v@v.tmi.twitch.tv PRIVMSG #flood :line {n}\r\n"
            ));
        }
        send_text(&mut ws, &batch).await;
        max_queued = max_queued.max(h.stats().queued);
    }
    let sent = n;
    send_text(
        &mut ws,
        "@display-name=Raider;msg-id=raid;msg-param-displayName=Raider;msg-param-viewerCount=7 :tmi.twitch.tv USERNOTICE #flood\r\n",
    )
    .await;

    let mut delivered = 0u64;
    let mut reported_dropped = 0u64;
    loop {
        let ev = next_event(&mut h).await;
        max_queued = max_queued.max(h.stats().queued);
        match ev.body {
            EventBody::Message { .. } => delivered += 1,
            EventBody::Dropped { count } => reported_dropped += count,
            EventBody::Raid { viewers, .. } => {
                assert_eq!(viewers, 7);
                break;
            }
            EventBody::State(SourceState::Connecting | SourceState::Live) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let stats = h.stats();
    assert!(
        max_queued <= CAP,
        "the queue never held more than {CAP}: {max_queued}"
    );
    assert!(stats.dropped > 0, "a reader this slow loses lines");
    assert_eq!(reported_dropped, stats.dropped, "every drop is reported");
    assert_eq!(
        delivered + stats.dropped,
        sent,
        "each line is delivered or counted"
    );
}
