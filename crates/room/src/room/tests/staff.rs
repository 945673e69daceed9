//! Moderators are people, not tokens: the host appoints a viewer (by id) or mints a single-use,
//! revocable invite; appointments survive restarts; every moderation action is logged.

use super::*;
use crate::protocol::ModLogEntry;

/// The staff listing last sent to `conn`: (moderator ids, invite codes).
fn staff(h: &mut Harness, conn: ConnId) -> (Vec<String>, Vec<String>) {
    h.take(conn)
        .into_iter()
        .filter_map(|m| match m {
            ServerMsg::Control(Control::Staff {
                moderators,
                invites,
            }) => Some((moderators.into_iter().map(|m| m.id).collect(), invites)),
            _ => None,
        })
        .next_back()
        .expect("a staff listing")
}

fn invite(h: &mut Harness, host: ConnId) -> String {
    h.text(host, json!({"type":"mod_invite"}));
    h.take(host)
        .into_iter()
        .find_map(|m| match m {
            ServerMsg::Control(Control::ModInvite { code }) => Some(code),
            _ => None,
        })
        .expect("an invite code")
}

fn log(h: &mut Harness, conn: ConnId) -> Vec<ModLogEntry> {
    h.text(conn, json!({"type":"modlog","limit":100}));
    h.take(conn)
        .into_iter()
        .find_map(|m| match m {
            ServerMsg::Control(Control::Modlog { entries }) => Some(entries),
            _ => None,
        })
        .expect("a modlog")
}

#[test]
fn an_appointed_viewer_moderates_until_removed_and_the_appointment_survives_a_restart() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let (lily, token) = h.nickname_join("203.0.113.7", "Lily").unwrap();
    let id = h.room.base.user_of(lily).unwrap().id.clone();
    let troll = h.join("troll", Role::Viewer);
    h.say(troll, "spam");
    let spam = h.events(lily)[0].seq;
    // A viewer may not delete, nor appoint herself.
    h.text(lily, json!({"type":"delete","id":spam}));
    h.text(lily, json!({"type":"appoint","user":id}));
    assert_eq!(h.errors(lily), [ErrorCode::Forbidden, ErrorCode::Forbidden]);

    h.text(host, json!({"type":"appoint","user":id}));
    assert_eq!(staff(&mut h, host), (vec![id.clone()], vec![]));
    let appointed = h.events(lily).into_iter().find_map(|e| match e.body {
        EventBody::ModeratorAppointed { user, by } => Some((user, by)),
        _ => None,
    });
    let (user, by) = appointed.unwrap();
    assert_eq!(
        (user.name.as_str(), user.role, by.as_str()),
        ("Lily", Role::Moderator, "host")
    );
    // Her open connection moderates at once; what she says carries the badge.
    h.text(lily, json!({"type":"delete","id":spam}));
    h.text(lily, json!({"type":"timeout","user":"troll","seconds":60}));
    assert_eq!(h.errors(lily), []);
    h.say(lily, "be nice");
    let roles: Vec<Role> = h
        .events(host)
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Danmaku { user, .. } => Some(user.role),
            _ => None,
        })
        .collect();
    assert_eq!(roles, [Role::Moderator]);

    // After a restart, her viewer token makes her a moderator again.
    let mut h = h.restart();
    let host = h.join("host", Role::Host);
    let c = h.open();
    h.text(c, json!({"type":"hello","token":token}));
    let me = h.take(c).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::Welcome { user, .. }) => Some(user),
        _ => None,
    });
    assert_eq!(me.unwrap().role, Role::Moderator);
    h.text(c, json!({"type":"settings","slow_mode_s":5}));
    assert_eq!(h.errors(c), []);

    // Removed: a viewer again, on the open connection and at the next hello.
    h.text(host, json!({"type":"unappoint","user":id}));
    assert_eq!(staff(&mut h, host), (vec![], vec![]));
    h.text(c, json!({"type":"settings","slow_mode_s":0}));
    assert_eq!(h.errors(c), [ErrorCode::Forbidden]);
    let c2 = h.open();
    h.text(c2, json!({"type":"hello","token":token}));
    let me = h.take(c2).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::Welcome { user, .. }) => Some(user),
        _ => None,
    });
    assert_eq!(me.unwrap().role, Role::Viewer);
    let actions: Vec<(String, String, String)> = log(&mut h, host)
        .into_iter()
        .map(|e| (e.actor, e.action, e.target))
        .collect();
    assert!(actions.contains(&("host".into(), "appoint".into(), id.clone())));
    assert!(actions.contains(&(id.clone(), "delete".into(), spam.to_string())));
    assert!(actions.contains(&(id.clone(), "timeout".into(), "troll".into())));
    assert!(actions.contains(&(id.clone(), "settings".into(), String::new())));
    assert!(actions.contains(&("host".into(), "unappoint".into(), id.clone())));
}

#[test]
fn a_moderator_invite_works_once_and_not_after_it_is_revoked() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let code = invite(&mut h, host);
    assert_eq!(code.len(), 32);
    let ann = h.join("ann", Role::Viewer);
    let bo = h.join("bo", Role::Viewer);
    // Only the host mints, revokes and lists invites.
    h.text(ann, json!({"type":"mod_invite"}));
    h.text(ann, json!({"type":"mod_invite_revoke","code":code}));
    h.text(ann, json!({"type":"staff"}));
    assert_eq!(h.errors(ann), [ErrorCode::Forbidden; 3]);
    // A guessed code does nothing.
    h.text(
        bo,
        json!({"type":"mod_invite_redeem","code":"0".repeat(32)}),
    );
    assert_eq!(h.errors(bo), [ErrorCode::NotFound]);

    h.text(ann, json!({"type":"mod_invite_redeem","code":code}));
    h.text(ann, json!({"type":"ban","user":"bo"}));
    assert_eq!(h.errors(ann), []);
    assert!(
        h.closed.contains_key(&bo),
        "ann, now a moderator, banned bo"
    );
    assert_eq!(staff(&mut h, host), (vec!["ann".into()], vec![]));
    // Used up.
    let cy = h.join("cy", Role::Viewer);
    h.text(cy, json!({"type":"mod_invite_redeem","code":code}));
    assert_eq!(h.errors(cy), [ErrorCode::NotFound]);
    // Revoked before use: refused.
    let code2 = invite(&mut h, host);
    h.text(host, json!({"type":"mod_invite_revoke","code":code2}));
    assert_eq!(staff(&mut h, host).1, Vec::<String>::new());
    h.text(cy, json!({"type":"mod_invite_redeem","code":code2}));
    assert_eq!(h.errors(cy), [ErrorCode::NotFound]);
    // An open invite survives a restart; it is in the log by its first characters only.
    let code3 = invite(&mut h, host);
    let mut h = h.restart();
    let dee = h.join("dee", Role::Viewer);
    h.text(dee, json!({"type":"mod_invite_redeem","code":code3}));
    assert_eq!(h.errors(dee), []);
    let host = h.join("host", Role::Host);
    let entries = log(&mut h, host);
    assert!(entries.iter().all(|e| !e.detail.contains(&code3)));
    assert!(
        entries
            .iter()
            .any(|e| e.actor == "dee" && e.action == "appoint" && e.target == "dee")
    );
}

#[test]
fn every_moderation_action_is_logged_with_who_what_target_and_when() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let m = h.join("mod", Role::Viewer);
    h.text(host, json!({"type":"appoint","user":"mod"}));
    let v = h.join("v", Role::Viewer);
    h.text(v, json!({"type":"ask","text":"when is the next show?"}));
    h.say(v, "hello");
    let q = h.room.durable_state().questions[0].question;
    let said = h
        .events(m)
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Danmaku { id, .. } => Some(id),
            _ => None,
        })
        .next_back()
        .unwrap();
    h.advance(1_000);
    let at = h.now;
    for msg in [
        json!({"type":"delete","id":said}),
        json!({"type":"timeout","user":"v","seconds":30}),
        json!({"type":"pin_question","question":q}),
        json!({"type":"block_words","add":["spoiler"]}),
        json!({"type":"settings","slow_mode_s":3}),
        json!({"type":"settings","mods_only":true}),
        json!({"type":"ban","user":"v"}),
        json!({"type":"unban","user":"v"}),
    ] {
        h.text(m, msg);
    }
    assert_eq!(h.errors(m), []);
    let got: Vec<(String, String, String)> = log(&mut h, host)
        .into_iter()
        .filter(|e| e.at == at)
        .map(|e| (e.actor, e.action, e.target))
        .collect();
    let want: Vec<(String, String, String)> = [
        ("delete", said.to_string()),
        ("timeout", "v".into()),
        ("pin_question", q.to_string()),
        ("block_words", String::new()),
        ("settings", String::new()),
        ("settings", String::new()),
        ("ban", "v".into()),
        ("unban", "v".into()),
    ]
    .into_iter()
    .map(|(a, t)| ("mod".to_string(), a.to_string(), t))
    .collect();
    assert_eq!(got, want);
    // Durable: in the store, not only in memory.
    let stored = h.store.modlog("r1", 100).unwrap();
    assert!(
        stored
            .iter()
            .any(|e| e.action == "pin_question" && e.actor == "mod")
    );
}

#[test]
fn a_moderator_cannot_mute_or_ban_the_host_or_another_moderator() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let ann = h.join("ann", Role::Viewer);
    let bo = h.join("bo", Role::Viewer);
    let tok = h.join("tok", Role::Moderator);
    h.text(host, json!({"type":"appoint","user":"ann"}));
    h.text(host, json!({"type":"appoint","user":"bo"}));
    for target in ["host", "bo", "tok"] {
        h.text(ann, json!({"type":"ban","user":target}));
        h.text(ann, json!({"type":"timeout","user":target,"seconds":60}));
    }
    assert_eq!(h.errors(ann), [ErrorCode::Forbidden; 6]);
    assert!(!h.closed.contains_key(&host) && !h.closed.contains_key(&tok));
    // An appointed moderator who is offline is protected too; the host may do either.
    h.input(Input::Closed { conn: bo });
    h.text(ann, json!({"type":"ban","user":"bo"}));
    assert_eq!(h.errors(ann), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"timeout","user":"ann","seconds":60}));
    assert_eq!(h.errors(host), []);
}
