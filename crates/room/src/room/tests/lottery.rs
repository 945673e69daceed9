//! The lottery: entry by keyword once per user, a draw anyone can reproduce from the seed.

use super::*;
use crate::room::draw_winners;

#[test]
fn lottery_entries_once_per_user_and_draw_is_reproducible_from_the_seed() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.text(
        host,
        json!({"type":"lottery_start","keyword":"我要抽奖","prize":"T-shirt"}),
    );
    let lot = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::LotteryStarted { lottery } => Some(lottery),
        _ => None,
    });
    let lot = lot.unwrap();
    assert_eq!(lot.seed.len(), 64);
    let mut conns = Vec::new();
    for i in 0..8 {
        let c = h.join(&format!("u{i}"), Role::Viewer);
        h.say(c, "我要 抽奖!");
        h.advance(1_100);
        h.say(c, "我要抽奖 again");
        conns.push(c);
    }
    h.say(host, "我要抽奖"); // the host does not enter
    h.text(
        host,
        json!({"type":"lottery_draw","lottery":lot.lottery,"winners":3}),
    );
    let drawn = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::LotteryDrawn { lottery, entrants } => Some((lottery, entrants)),
        _ => None,
    });
    let (info, entrants) = drawn.unwrap();
    assert_eq!(entrants.len(), 8);
    assert_eq!(info.winners.len(), 3);
    assert_eq!(info.winners, draw_winners(&lot.seed, &entrants, 3));
    // Anyone can check: the same seed and entrants give the same winners in any order.
    let mut shuffled = entrants.clone();
    shuffled.reverse();
    assert_eq!(draw_winners(&lot.seed, &shuffled, 3), info.winners);
    h.text(
        host,
        json!({"type":"lottery_draw","lottery":lot.lottery,"winners":3}),
    );
    assert_eq!(h.errors(host), [ErrorCode::NotFound]);
}

#[test]
fn lottery_entrants_survive_a_restart() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.text(
        host,
        json!({"type":"lottery_start","keyword":"go","prize":"cap"}),
    );
    let a = h.join("alice", Role::Viewer);
    h.say(a, "GO");
    let mut h = h.restart();
    let host = h.join("host", Role::Host);
    let lottery = h.room.durable_state().lotteries[0].lottery;
    h.text(
        host,
        json!({"type":"lottery_draw","lottery":lottery,"winners":1}),
    );
    let w = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::LotteryDrawn { lottery, .. } => Some(lottery),
        _ => None,
    });
    let w = w.unwrap();
    assert_eq!(w.winners, ["alice"]);
    assert_eq!(w.winner_names, ["ALICE"]);
}
