//! bilibili's packet decoder (framing, zlib/brotli bodies, nested packets, commands) on
//! arbitrary bytes, cut into WebSocket messages at points the input chooses: never panics,
//! and never holds more than one packet's worth of bytes waiting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_chat::bilibili::packet::{MAX_PACKET, Reassembler};
use marquee_chat::bilibili::{Bilibili, BilibiliConfig};
use marquee_chat::{ChatSource, Input};
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
