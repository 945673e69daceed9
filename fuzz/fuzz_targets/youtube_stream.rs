//! YouTube's streamed chat on arbitrary bytes: the gRPC deframer (fed in pieces at a step the
//! first byte chooses) and each message it yields through the protobuf reader and the page
//! mapping: never panic, never hold more than a message's worth of bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_chat::grpc::Deframer;
use marquee_chat::youtube::{page, stream};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    // The body itself as one message, as the reader would see it.
    if let Ok(v) = stream::response(body) {
        let _ = page::page_of(&v);
    }
    let mut d = Deframer::new(MAX);
    for piece in body.chunks(usize::from(step).max(1)) {
        if d.push(piece).is_err() {
            return;
        }
        while let Some(m) = d.next_message() {
            assert!(m.len() <= MAX);
            if let Ok(v) = stream::response(&m) {
                let _ = page::page_of(&v);
            }
        }
    }
    let _ = d.finish();
});
