//! Every JSON example in docs/protocol.md decodes as the message kind it claims to be, and every
//! client message type and error code is documented.

use marquee_room::protocol::{EventBody, ServerMsg, decode_client, decode_server};
use marquee_room::room::verify_draw;

const DOC: &str = include_str!("../../../docs/protocol.md");

fn blocks(tag: &str) -> Vec<String> {
    let fence = format!("```json {tag}");
    let mut out = Vec::new();
    let mut rest = DOC;
    while let Some(i) = rest.find(&fence) {
        let after = &rest[i + fence.len()..];
        let end = after.find("```").expect("closed block");
        out.push(after[..end].trim().to_string());
        rest = &after[end + 3..];
    }
    out
}

#[test]
fn client_examples_decode() {
    let b = blocks("client");
    assert!(b.len() >= 19, "{} client examples", b.len());
    for json in b {
        decode_client(&json, 1 << 16).unwrap_or_else(|e| panic!("{json}: {e}"));
    }
}

#[test]
fn server_examples_decode_as_the_right_kind() {
    let b = blocks("server");
    assert!(b.len() >= 25, "{} server examples", b.len());
    for json in b {
        let msg = decode_server(&json, 1 << 20).unwrap_or_else(|e| panic!("{json}: {e}"));
        let is_event = matches!(msg, ServerMsg::Event(_));
        let has_seq = serde_json::from_str::<serde_json::Value>(&json).unwrap()["seq"].is_number()
            && !json.starts_with("{\"type\":\"welcome\"");
        assert_eq!(is_event, has_seq, "{json}");
    }
}

#[test]
fn every_error_code_is_documented() {
    for code in [
        "bad_json",
        "unknown_type",
        "invalid",
        "too_large",
        "not_joined",
        "already_joined",
        "unauthorized",
        "token_expired",
        "forbidden",
        "rate_limited",
        "slow_mode",
        "muted",
        "banned",
        "blocked_word",
        "mods_only",
        "not_found",
        "poll_closed",
        "already_voted",
        "storage",
        "busy",
        "flood",
        "slow_consumer",
        "room_closed",
        "insufficient_balance",
        "reserved_name",
    ] {
        assert!(
            DOC.contains(&format!("| `{code}` |")),
            "{code} missing from docs/protocol.md"
        );
    }
}

/// The documented lottery is one a reader can check by hand: its seed hashes to its commitment
/// and gives its winners.
#[test]
fn the_documented_draw_verifies() {
    let drawn = blocks("server")
        .into_iter()
        .find_map(|json| match decode_server(&json, 1 << 20).ok()? {
            ServerMsg::Event(e) => match e.body {
                EventBody::LotteryDrawn { lottery, entrants } => Some((lottery, entrants)),
                _ => None,
            },
            _ => None,
        })
        .expect("a lottery_drawn example");
    let (lottery, entrants) = drawn;
    let seed = lottery.seed.expect("the draw reveals the seed");
    assert_eq!(
        verify_draw(&lottery.commitment, &seed, &entrants, &lottery.winners),
        Ok(())
    );
}
