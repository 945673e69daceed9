//! Whole-room fuzzing: frames split from the input go to a room with a joined viewer and a
//! joined moderator; the state machine must never panic whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marquee_room::protocol::Role;
use marquee_room::room::{Action, GiftOutcome, Input, Room, RoomConfig, Snapshot};
use marquee_room::token::{Claims, sign};

const SECRET: &[u8] = b"fuzz-secret-0123456789";

fn hello(user: &str, role: Role) -> String {
    let t = sign(
        SECRET,
        &Claims {
            room: "f".into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: u64::MAX,
        },
    );
    format!(r#"{{"type":"hello","token":"{t}"}}"#)
}

fn run(room: &mut Room, input: Input<'_>, now: u64) {
    let mut queue = vec![room.handle(input, now)];
    while let Some(actions) = queue.pop() {
        for a in actions {
            if let Action::RecordGift { conn, gift, wallet } = a {
                let outcome = if wallet.is_some() {
                    GiftOutcome::Inserted
                } else {
                    GiftOutcome::NotRecorded
                };
                queue.push(room.handle(
                    Input::GiftRecorded {
                        conn,
                        gift,
                        outcome,
                    },
                    now,
                ));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (mut room, _) = Room::restore(RoomConfig::new("f", SECRET), Snapshot::default(), 1_000);
    let mut now = 1_000u64;
    for (conn, user, role) in [(1, "v", Role::Viewer), (2, "m", Role::Moderator)] {
        run(&mut room, Input::Open { conn, ip: None }, now);
        let h = hello(user, role);
        run(&mut room, Input::Text { conn, text: &h }, now);
    }
    for (i, frame) in data.split(|b| *b == b'\n').enumerate() {
        now += 300;
        let text = String::from_utf8_lossy(frame);
        let conn = if i % 2 == 0 { 1 } else { 2 };
        run(&mut room, Input::Text { conn, text: &text }, now);
        if i % 8 == 0 {
            run(&mut room, Input::Tick, now);
        }
    }
});
