//! YouTube's page, chat-id and error parsers on arbitrary bytes: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_chat::youtube::page;

fuzz_target!(|data: &[u8]| {
    let _ = page::parse_page(data);
    let _ = page::parse_chat_id(data);
    let _ = page::parse_error(data);
});
