//! The Twitch adapter against a local IRC-over-WebSocket server: the anonymous login, PING/PONG,
//! tags for bits and emotes, USERNOTICE (resub, subgift, raid), CLEARMSG, CLEARCHAT, and
//! RECONNECT making the adapter reconnect.
//!
//! Frame sources (dev.twitch.tv/docs/irc unless noted):
//! - PRIVMSG with tags: docs/irc/tags ("abc … HeyGuys").
//! - bits: docs/irc/tags PRIVMSG example with `bits=100` (ronni, "cheer100").
//! - emotes: 3ventic's Twitch IRC notes (gist 0c3282e4b62695da7203), "Kappa Keepo Kappa".
//! - resub: docs/irc/tags USERNOTICE example (ronni, Prime, 6 months).
//! - subgift: docs/irc/tags USERNOTICE example (TWW2 → Mr_Woodchuck).
//! - raid: docs/irc/tags USERNOTICE example (TestChannel, 15 raiders).
//! - CLEARMSG, CLEARCHAT: docs/irc/tags examples; PING/RECONNECT: docs/irc/commands.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::twitch::{Twitch, TwitchConfig};
use marquee_chat::{EventBody, SourceState, spawn};
use support::*;
use tokio_tungstenite::tungstenite::Message;

const HEYGUYS: &str = "@badge-info=;badges=broadcaster/1;client-nonce=997dcf443c31e258c1d32a8da47b6936;color=#0000FF;display-name=abc;emotes=;first-msg=0;flags=0-6:S.7;id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0;room-id=713936733;subscriber=0;tmi-sent-ts=1642786203573;turbo=0;user-id=713936733;user-type= :abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :HeyGuys";
const CHEER: &str = "@badge-info=;badges=staff/1,bits/1000;bits=100;color=;display-name=ronni;emotes=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;room-id=12345678;subscriber=0;tmi-sent-ts=1507246572675;turbo=1;user-id=12345678;user-type=staff :ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :cheer100";
const EMOTES: &str = "@color=#1E0ACC;display-name=3ventic;emotes=25:0-4,12-16/1902:6-10;subscriber=0;turbo=1;user-type=mod;user_type=mod :3ventic!3ventic@3ventic.tmi.twitch.tv PRIVMSG #notventic :Kappa Keepo Kappa";
const RESUB: &str = r"@badge-info=;badges=staff/1,broadcaster/1,turbo/1;color=#008000;display-name=ronni;emotes=;id=db25007f-7a18-43eb-9379-80131e44d633;login=ronni;mod=0;msg-id=resub;msg-param-cumulative-months=6;msg-param-streak-months=2;msg-param-should-share-streak=1;msg-param-sub-plan=Prime;msg-param-sub-plan-name=Prime;room-id=12345678;subscriber=1;system-msg=ronni\shas\ssubscribed\sfor\s6\smonths!;tmi-sent-ts=1507246572675;turbo=1;user-id=87654321;user-type=staff :tmi.twitch.tv USERNOTICE #dallas :Great stream -- keep it up!";
const SUBGIFT: &str = r"@badge-info=;badges=staff/1,premium/1;color=#0000FF;display-name=TWW2;emotes=;id=e9176cd8-5e22-4684-ad40-ce53c2561c5e;login=tww2;mod=0;msg-id=subgift;msg-param-months=1;msg-param-recipient-display-name=Mr_Woodchuck;msg-param-recipient-id=55554444;msg-param-recipient-name=mr_woodchuck;msg-param-sub-plan-name=House\sof\sNyoro~n;msg-param-sub-plan=1000;room-id=19571752;subscriber=0;system-msg=TWW2\sgifted\sa\sTier\s1\ssub\sto\sMr_Woodchuck!;tmi-sent-ts=1521159445153;turbo=0;user-id=87654321;user-type=staff :tmi.twitch.tv USERNOTICE #forstycup";
const RAID: &str = r"@badge-info=;badges=turbo/1;color=#9ACD32;display-name=TestChannel;emotes=;id=3d830f12-795c-447d-af3c-ea05e40fbddb;login=testchannel;mod=0;msg-id=raid;msg-param-displayName=TestChannel;msg-param-login=testchannel;msg-param-viewerCount=15;room-id=33332222;subscriber=0;system-msg=15\sraiders\sfrom\sTestChannel\shave\sjoined\n!;tmi-sent-ts=1507246572675;turbo=1;user-id=123456;user-type= :tmi.twitch.tv USERNOTICE #othertestchannel";
const CLEARMSG: &str = "@login=foo;room-id=;target-msg-id=94e6c7ff-bf98-4faa-af5d-7ad633a158a9;tmi-sent-ts=1642720582342 :tmi.twitch.tv CLEARMSG #bar :what a great day";
const TIMEOUT: &str = "@ban-duration=350;room-id=12345678;target-user-id=87654321;tmi-sent-ts=1642719320727 :tmi.twitch.tv CLEARCHAT #dallas :ronni";
const CLEAR_ALL: &str =
    "@room-id=12345678;tmi-sent-ts=1642715695392 :tmi.twitch.tv CLEARCHAT #dallas";

/// Reads the login lines; returns the anonymous nick.
async fn login(ws: &mut Ws, channel: &str) -> String {
    let mut lines = Vec::new();
    while lines.len() < 4 {
        let Message::Text(t) = next_msg(ws).await else {
            panic!("IRC lines are text");
        };
        lines.extend(t.as_str().lines().map(str::to_string));
    }
    assert_eq!(lines[0], "CAP REQ :twitch.tv/tags twitch.tv/commands");
    assert_eq!(lines[1], "PASS SCHMOOPIIE");
    let nick = lines[2].strip_prefix("NICK ").unwrap().to_string();
    assert!(nick.starts_with("justinfan"), "{nick}");
    assert_eq!(lines[3], format!("JOIN #{channel}"));
    send_text(
        ws,
        &format!(
            ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands\r\n:tmi.twitch.tv 001 {nick} :Welcome, GLHF!\r\n:{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{channel}\r\n"
        ),
    )
    .await;
    nick
}

#[tokio::test]
async fn reads_chat_cheers_subs_raids_and_moderation_and_reconnects_on_request() {
    let (url, mut conns) = ws_server().await;
    let mut cfg = TwitchConfig::new("#Ronni");
    cfg.url = url;
    let mut h = spawn(Box::new(Twitch::new(cfg)), fast());
    let mut ws = accept(&mut conns).await;
    login(&mut ws, "ronni").await;

    send_text(&mut ws, "PING :tmi.twitch.tv\r\n").await;
    let Message::Text(pong) = next_msg(&mut ws).await else {
        panic!("text")
    };
    assert_eq!(pong.as_str(), "PONG :tmi.twitch.tv");

    let batch = [
        HEYGUYS, CHEER, EMOTES, RESUB, SUBGIFT, RAID, CLEARMSG, TIMEOUT, CLEAR_ALL,
    ]
    .join("\r\n")
        + "\r\n";
    // Cut inside a line: the adapter joins it back.
    let (a, b) = batch.split_at(100);
    send_text(&mut ws, a).await;
    send_text(&mut ws, b).await;

    let evs = events_until(&mut h, |b| matches!(b, EventBody::ChatCleared)).await;
    assert!(matches!(evs[0], EventBody::State(SourceState::Connecting)));
    assert!(matches!(evs[1], EventBody::State(SourceState::Live)));
    let EventBody::Message { user, text, id, .. } = &evs[2] else {
        panic!("{:?}", evs[2])
    };
    assert_eq!((user.name.as_str(), text.as_str()), ("abc", "HeyGuys"));
    assert_eq!(user.colour.as_deref(), Some("#0000FF"));
    assert_eq!(user.badges, vec!["broadcaster"]);
    assert_eq!(id.as_deref(), Some("eb24e920-8065-492a-8aea-266a00fc5126"));
    let EventBody::Cheer { bits, user, .. } = &evs[3] else {
        panic!("{:?}", evs[3])
    };
    assert_eq!(*bits, 100);
    assert_eq!(user.badges, vec!["staff", "bits/1000"]);
    let EventBody::Message { emotes, .. } = &evs[4] else {
        panic!("{:?}", evs[4])
    };
    let names: Vec<_> = emotes.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["Kappa", "Keepo"]);
    assert!(matches!(
        &evs[5],
        EventBody::Subscription { kind, plan, months: Some(6), text, .. }
            if kind == "resub" && plan == "Prime" && text == "Great stream -- keep it up!"
    ));
    assert!(matches!(
        &evs[6],
        EventBody::Subscription { kind, plan, gifted_to: Some(to), user, .. }
            if kind == "subgift" && plan == "Tier 1" && to == "Mr_Woodchuck" && user.name == "TWW2"
    ));
    assert!(matches!(
        &evs[7],
        EventBody::Raid { user, viewers: 15 } if user.name == "TestChannel"
    ));
    assert!(matches!(
        &evs[8],
        EventBody::MessageDeleted { id, user: Some(u) }
            if id == "94e6c7ff-bf98-4faa-af5d-7ad633a158a9" && u == "foo"
    ));
    assert!(matches!(
        &evs[9],
        EventBody::UserBanned { user, duration_s: Some(350), .. } if user.name == "ronni"
    ));

    // RECONNECT: the adapter leaves and logs in again on a new connection.
    send_text(&mut ws, ":tmi.twitch.tv RECONNECT\r\n").await;
    let evs = events_until(&mut h, |b| {
        is_state(b, |s| matches!(s, SourceState::Reconnecting { .. }))
    })
    .await;
    let Some(EventBody::State(SourceState::Reconnecting {
        attempt, reason, ..
    })) = evs.last()
    else {
        unreachable!()
    };
    assert_eq!(*attempt, 1);
    assert!(reason.contains("Twitch asked to reconnect"), "{reason}");
    let mut ws2 = accept(&mut conns).await;
    login(&mut ws2, "ronni").await;
    let evs = events_until(&mut h, |b| is_state(b, |s| *s == SourceState::Live)).await;
    assert_eq!(evs.len(), 1);
    drop(ws);
}

#[tokio::test]
async fn a_refused_login_fails_and_names_twitch() {
    let (url, mut conns) = ws_server().await;
    let mut cfg = TwitchConfig::new("ronni");
    cfg.url = url;
    let mut h = spawn(Box::new(Twitch::new(cfg)), fast());
    let mut ws = accept(&mut conns).await;
    let _ = next_msg(&mut ws).await;
    send_text(
        &mut ws,
        ":tmi.twitch.tv NOTICE * :Login authentication failed\r\n",
    )
    .await;
    let reason = failure(&mut h).await;
    assert!(reason.starts_with("Twitch"), "{reason}");
}
