//! The room's decoder for untrusted client frames must never panic, and what it accepts must
//! survive a serialise/decode round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_room::protocol::decode_client;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = decode_client(text, 4096) {
        let again = serde_json::to_string(&msg).expect("serialise");
        let back = decode_client(&again, usize::MAX).expect("round trip decodes");
        assert_eq!(back, msg);
    }
});
