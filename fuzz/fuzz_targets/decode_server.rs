//! What the Rust client (the desktop app) does with a server frame must never panic, `batch`
//! frames (nested messages) included, and whatever decodes survives a round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_room::protocol::decode_server;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = decode_server(text, 1 << 20) {
        let again = serde_json::to_string(&msg).expect("serialise");
        let back = decode_server(&again, usize::MAX).expect("round trip decodes");
        assert_eq!(back, msg);
    }
});
