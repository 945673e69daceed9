//! The co-stream host's STUN client (`marquee_costream::stun`) on arbitrary datagrams: the
//! decoder never panics and what it reads round-trips; the client, with a query in flight,
//! takes only its server's answer to that query and never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

// The module alone (std only): no str0m, FFmpeg or axum to build for the fuzzer.
#[path = "../../../crates/costream/src/stun.rs"]
#[allow(dead_code)]
mod stun;

fuzz_target!(|data: &[u8]| {
    if let Ok(stun::Response::Mapped(a)) = stun::decode_response(data) {
        let txid = stun::transaction_id(data).expect("a decoded response has an id");
        let again = stun::encode_success(&txid, a);
        assert_eq!(
            stun::decode_response(&again),
            Ok(stun::Response::Mapped(a))
        );
    }
    // The same bytes as an answer to a query in flight, with the datagram's own id (so the
    // client reads it) and from its server.
    let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    let t0 = Instant::now();
    let mut b = stun::Binding::new(server, t0);
    let id = stun::transaction_id(data).unwrap_or([0; 12]);
    assert!(b.poll_transmit(t0, || id).is_some());
    let took = b.handle(t0, server, data);
    if b.mapped().is_some() {
        assert!(took, "an address is learnt only from a datagram taken");
    }
    let later = t0 + Duration::from_secs(60);
    let _ = b.poll_transmit(later, || [1; 12]);
    let _ = b.handle(later, server, data);
});
