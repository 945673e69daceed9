//! bilibili's packet decoder (framing, zlib/brotli bodies, nested packets, commands) on
//! arbitrary bytes, cut into WebSocket messages at points the input chooses: never panics,
//! and never holds more than one packet's worth of bytes waiting. The same bytes go to the open
//! platform's adapter as its start answer, and (after a real start) as its long connection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_chat::bilibili::packet::{MAX_PACKET, Reassembler};
use marquee_chat::bilibili::open::sign::AccessKey;
use marquee_chat::bilibili::open::{BilibiliOpen, OpenConfig};
use marquee_chat::bilibili::{Bilibili, BilibiliConfig};
use marquee_chat::{ChatSource, Input, Output};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut b = Bilibili::new(BilibiliConfig::new(1));
    b.connected(now);
    let step = cut as usize + 1;
    for (i, chunk) in rest.chunks(step).enumerate() {
        let t = now + Duration::from_millis(i as u64);
        b.handle_input(t, Input::Binary(chunk));
        b.handle_timeout(t);
        while b.poll_output().is_some() {}
    }
    open_platform(now, step, rest);
    let mut r = Reassembler::default();
    let mut out = Vec::new();
    for chunk in rest.chunks(step) {
        if r.push(chunk, &mut out).is_err() {
            break;
        }
        assert!(r.pending() < MAX_PACKET);
        out.clear();
    }
});

/// A start answer the adapter reads (the open platform's documented shape).
const STARTED: &[u8] = br#"{"code":0,"message":"0","request_id":"1","data":{"anchor_info":{"room_id":1,"uname":"u","uid":0},"game_info":{"game_id":"g"},"websocket_info":{"auth_body":"{}","wss_link":["ws://127.0.0.1:1/sub"]}}}"#;

fn open_platform(now: Instant, step: usize, data: &[u8]) {
    let key = AccessKey {
        id: "id".into(),
        secret: "secret".into(),
    };
    let cfg = OpenConfig::new(1, key, "CODE");
    // The bytes as the API's answer.
    let mut o = BilibiliOpen::new(cfg.clone());
    o.connected(now);
    while o.poll_output().is_some() {}
    o.handle_input(now, Input::Http { status: 200, body: data });
    while o.poll_output().is_some() {}
    // The bytes as the long connection, after a real start.
    let mut o = BilibiliOpen::new(cfg);
    o.connected(now);
    while o.poll_output().is_some() {}
    o.handle_input(now, Input::Http { status: 200, body: STARTED });
    while let Some(out) = o.poll_output() {
        if matches!(out, Output::Connect(_)) {
            o.connected(now);
        }
    }
    for (i, chunk) in data.chunks(step).enumerate() {
        let t = now + Duration::from_millis(i as u64);
        o.handle_input(t, Input::Binary(chunk));
        o.handle_timeout(t);
        while o.poll_output().is_some() {}
    }
}
