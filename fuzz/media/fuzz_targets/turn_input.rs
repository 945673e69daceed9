//! The native guest's TURN client (`marquee_costream::turn`) on arbitrary datagrams from its
//! server: each input is split into datagrams, each given the transaction id of the request in
//! flight (so the client reads it as the answer); the client never panics, and what it hands
//! back as a peer's data lies inside the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

// The modules alone (std, hmac and sha1): no str0m, FFmpeg or axum to build for the fuzzer.
#[path = "../../../crates/costream/src/stun.rs"]
#[allow(dead_code)]
mod stun;
#[path = "../../../crates/costream/src/turn.rs"]
#[allow(dead_code)]
mod turn;

fuzz_target!(|data: &[u8]| {
    let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    let mut c = turn::TurnClient::new(server, "guest", "pw");
    c.permit("203.0.113.5".parse().unwrap());
    let mut now = Instant::now();
    let mut n = 0u8;
    // The input is datagrams separated by `~` bytes.
    for part in data.split(|b| *b == b'~') {
        let req = c.poll_transmit(now, || {
            n = n.wrapping_add(1);
            [n; 12]
        });
        let mut d = part.to_vec();
        if let Some(r) = req
            && d.len() >= 20
        {
            d[8..20].copy_from_slice(&r[8..20]);
        }
        match c.handle(now, server, &d) {
            turn::Handled::Data { data: inner, .. } => {
                let start = inner.as_ptr() as usize;
                let base = d.as_ptr() as usize;
                assert!(start >= base && start + inner.len() <= base + d.len());
            }
            turn::Handled::NotMine | turn::Handled::Consumed => {}
        }
        let _ = c.wrap("203.0.113.5:4000".parse().unwrap(), &d, [1; 12]);
        now += Duration::from_millis(700);
    }
});
