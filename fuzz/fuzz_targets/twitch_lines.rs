//! Twitch's IRC parser and the adapter on arbitrary text cut into WebSocket messages: never
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_chat::twitch::{Twitch, TwitchConfig, irc};
use marquee_chat::{ChatSource, Input};
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.split('\n') {
        let _ = irc::parse(line);
    }
    let now = Instant::now();
    let mut t = Twitch::new(TwitchConfig::new("fuzz"));
    t.connected(now);
    for part in text.split('\u{0}') {
        t.handle_input(now, Input::Text(part));
        while t.poll_output().is_some() {}
    }
});
