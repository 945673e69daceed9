//! Untrusted frames: bad input gets an error and the connection stays; oversized or
//! malformed frames never panic.

use super::*;

#[test]
fn bad_input_gets_an_error_and_the_connection_stays() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for bad in [
        "not json",
        "{\"type\":\"nope\"}",
        "{\"type\":\"vote\"}",
        "[]",
        "{\"type\":\"danmaku\",\"text\":\"\"}",
    ] {
        h.input(Input::Text { conn: a, text: bad });
    }
    assert_eq!(
        h.errors(a),
        [
            ErrorCode::BadJson,
            ErrorCode::UnknownType,
            ErrorCode::Invalid,
            ErrorCode::BadJson,
            ErrorCode::Invalid
        ]
    );
    assert!(!h.closed.contains_key(&a));
    h.say(a, "still here");
    assert_eq!(danmaku_texts(&h.events(a)), ["still here"]);
}

#[test]
fn oversized_frame_gets_an_error_then_a_close() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let big = format!(
        "{{\"type\":\"danmaku\",\"text\":\"{}\"}}",
        "x".repeat(10_000)
    );
    h.input(Input::Text {
        conn: a,
        text: &big,
    });
    assert_eq!(h.errors(a), [ErrorCode::TooLarge]);
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::TooLarge));
}

#[test]
fn untrusted_frames_never_panic() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let m = h.join("mod", Role::Moderator);
    let mut rng = fastrand::Rng::with_seed(7);
    let samples = [
        r#"{"type":"gift","gift":"rose","count":4294967295,"key":"k"}"#,
        r#"{"type":"vote","poll":18446744073709551615,"option":4294967295}"#,
        r#"{"type":"delete","id":18446744073709551615}"#,
        r#"{"type":"timeout","user":"alice","seconds":4294967295}"#,
        r#"{"type":"lottery_draw","lottery":0,"winners":4294967295}"#,
        r#"{"type":"poll_start","question":"q","options":[],"duration_s":0}"#,
        r##"{"type":"danmaku","text":"\u0000\u0001","color":"#zzzzzz"}"##,
        r#"{"type":"hello","token":"mq1.....","nickname":""}"#,
        r#"{"type":"block_words","add":["","\u200b"]}"#,
        r#"{"type":"settings","slow_mode_s":99999999}"#,
    ];
    for i in 0..2_000u64 {
        h.now += 700;
        let base = samples[rng.usize(..samples.len())];
        let mut bytes = base.as_bytes().to_vec();
        if i % 2 == 0 && !bytes.is_empty() {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
        let text = String::from_utf8_lossy(&bytes).to_string();
        let conn = if i % 3 == 0 { m } else { a };
        h.input(Input::Text { conn, text: &text });
        if i % 50 == 0 {
            h.input(Input::Tick);
        }
    }
}
