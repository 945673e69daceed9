//! The bilibili adapter against a local server speaking the web danmaku protocol: auth 7/8,
//! heartbeat 2/3, message 5 in zlib (ver 2) and brotli (ver 3) bodies, packets split and merged
//! across WebSocket messages, and a reconnect after the server drops the connection.
//!
//! Frame sources:
//! - header layout, operations, versions, auth body and heartbeat body: bilibili-API-collect
//!   (SocialSisterYi) `docs/live/message_stream.md`, and lovelyyoshino/Bilibili-Live-API
//!   `API.WebSocket.md`.
//! - DANMU_MSG and SUPER_CHAT_MESSAGE: frames captured from a live room (2020-06-01) in the
//!   comments of a public Go client (package `bilidanmaku`, cmd.go); the DANMU_MSG capture is
//!   cut short in its `info[9]` object, completed here with `"ct"`.
//! - LOG_IN_NOTICE: bilibili-API-collect's capture (2023-08-14 text).
//! - INTERACT_WORD: a capture from room 21144080 quoted in a public Java client
//!   (tech.sunkey.bilibili DanmuLoadTests).
//! - SEND_GIFT and GUARD_BUY: the field set of blivedm (xfgryujk) `models/web.py`, values ours.
//! - the masked DANMU_MSG (uid 0, "星***"): the anonymous shape LOG_IN_NOTICE announces.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::bilibili::packet::{self, encode};
use marquee_chat::bilibili::{Bilibili, BilibiliConfig};
use marquee_chat::{EventBody, Interaction, SourceState, spawn};
use std::io::Write;
use support::*;
use tokio_tungstenite::tungstenite::Message;

const DANMU: &str = r##"{"cmd":"DANMU_MSG","info":[[0,1,25,16777215,1591004454028,-1464052061,0,"034722a0",0,0,0],"我改一下",[23624052,"星云之音喵",0,0,0,10000,1,""],[1,"谜酥","谜之声",5082,6406234,"",0],[12,0,6406234,"\u003e50000"],["",""],0,0,null,{"ts":1591004454,"ct":"5E5F26D2"},0,0,null,null,0]}"##;
const MASKED: &str = r##"{"cmd":"DANMU_MSG:4:0:2:2:2:0","info":[[0,1,25,5566168,1700000000000,0,0,"",0,0,0,"",0,{},"{}",{"extra":"{\"id_str\":\"abc123\",\"emots\":{\"[dog]\":{\"emoticon_unique\":\"emoji_1\",\"url\":\"https://i0.hdslb.com/dog.png\"}}}"}],"[dog] 好耶",[0,"星***",0,0,0,10000,1,""],[],[0,0,9868950,">50000",0],["",""],0,3,null,{"ts":1700000000,"ct":"00"},0,0,null,null,0,0]}"##;
const GIFT: &str = r##"{"cmd":"SEND_GIFT","data":{"action":"投喂","coin_type":"gold","giftId":31036,"giftName":"小花花","num":5,"price":100,"total_coin":500,"uid":10086,"uname":"送礼人","guard_level":3,"timestamp":1700000001}}"##;
const LOGIN_NOTICE: &str = r##"{"cmd":"LOG_IN_NOTICE","data":{"notice_msg":"为保护用户隐私，未登录无法查看他人昵称","image_web":"http://i0.hdslb.com/bfs/dm/75e7c16b99208df259fe0a93354fd3440cbab412.png","image_app":"http://i0.hdslb.com/bfs/dm/b632f7dcd3acf47deffb5f9ccc9546ae97a3415b.png"}}"##;
const SUPER_CHAT: &str = r##"{"cmd":"SUPER_CHAT_MESSAGE","data":{"id":"352006","uid":14349165,"price":30,"rate":1000,"message":"\u82ad\u5a1c\u5a1c\u4f60\u597d\u554a","trans_mark":0,"is_ranked":1,"message_trans":"","background_image":"http:\/\/i0.hdslb.com\/bfs\/live\/1aee2d5e9e8f03eed462a7b4bbfd0a7128bbc8b1.png","background_color":"#EDF5FF","background_icon":"","background_price_color":"#7497CD","background_bottom_color":"#2A60B2","ts":1591004473,"token":"C932D837","medal_info":null,"user_info":{"uname":"shine2015","face":"http:\/\/i1.hdslb.com\/bfs\/face\/3073ec94bb43cb0d9eecb86d932410fe8ac3736c.jpg","face_frame":"","guard_level":0,"user_level":1,"level_color":"#969696","is_vip":0,"is_svip":0,"is_main_vip":1,"title":"0","manager":0},"time":60,"start_time":1591004473,"end_time":1591004533,"gift":{"num":1,"gift_id":12000,"gift_name":"\u9192\u76ee\u7559\u8a00"}}}"##;
const GUARD: &str = r##"{"cmd":"GUARD_BUY","data":{"uid":2721583,"username":"超高校级的无节操","guard_level":3,"num":2,"price":198000,"gift_id":10003,"gift_name":"舰长","start_time":1700000002,"end_time":1700000002}}"##;
const INTERACT: &str = r##"{"cmd":"INTERACT_WORD","data":{"uid":424750845,"uname":"触手逸然","uname_color":"","identities":[1],"msg_type":1,"roomid":21144080,"timestamp":1610093837,"score":1610093837941,"fans_medal":{"target_id":0,"medal_level":0,"medal_name":"","medal_color":0,"medal_color_start":0,"medal_color_end":0,"medal_color_border":0,"is_lighted":0,"guard_level":0,"special":"","icon_id":0,"anchor_roomid":0,"score":0},"is_spread":0,"spread_info":"","contribution":{"grade":0},"spread_desc":"","tail_icon":0}}"##;

fn msg(json: &str) -> Vec<u8> {
    encode(packet::VER_PLAIN, packet::OP_MESSAGE, json.as_bytes())
}

fn zlib(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn brotli(b: &[u8]) -> Vec<u8> {
    let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
    w.write_all(b).unwrap();
    w.into_inner()
}

/// Reads one client packet off the connection: (version, operation, body).
async fn client_packet(ws: &mut Ws) -> (u16, u32, Vec<u8>) {
    let Message::Binary(b) = next_msg(ws).await else {
        panic!("bilibili packets are binary");
    };
    let len = u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize;
    assert_eq!(len, b.len(), "one packet per client message");
    let ver = u16::from_be_bytes(b[6..8].try_into().unwrap());
    let op = u32::from_be_bytes(b[8..12].try_into().unwrap());
    (ver, op, b[16..].to_vec())
}

#[tokio::test]
async fn reads_danmaku_gifts_and_super_chats_from_compressed_split_and_merged_packets() {
    let (url, mut conns) = ws_server().await;
    let mut cfg = BilibiliConfig::new(21144080);
    cfg.url = url;
    let mut h = spawn(Box::new(Bilibili::new(cfg)), fast());

    let mut ws = accept(&mut conns).await;
    let (ver, op, body) = client_packet(&mut ws).await;
    assert_eq!((ver, op), (1, packet::OP_AUTH));
    let auth: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        auth,
        serde_json::json!({"uid":0,"roomid":21144080,"protover":3,"platform":"web","type":2})
    );
    send_bin(&mut ws, encode(1, packet::OP_AUTH_REPLY, br#"{"code":0}"#)).await;
    let (_, op, body) = client_packet(&mut ws).await;
    assert_eq!(op, packet::OP_HEARTBEAT, "a heartbeat follows the login");
    assert_eq!(body, b"[object Object]");
    send_bin(
        &mut ws,
        encode(1, packet::OP_HEARTBEAT_REPLY, &1234u32.to_be_bytes()),
    )
    .await;

    // Brotli batch (what protover 3 gets), split in the middle of its body.
    let mut inner = msg(DANMU);
    inner.extend(msg(MASKED));
    inner.extend(msg(GIFT));
    inner.extend(msg(LOGIN_NOTICE));
    let br = encode(packet::VER_BROTLI, packet::OP_MESSAGE, &brotli(&inner));
    let (a, b) = br.split_at(br.len() / 2);
    send_bin(&mut ws, a.to_vec()).await;
    send_bin(&mut ws, b.to_vec()).await;
    // A zlib batch and a plain packet merged into one message, with the start of a third
    // packet whose rest comes in the next message.
    let mut inner = msg(SUPER_CHAT);
    inner.extend(msg(GUARD));
    let mut merged = encode(packet::VER_ZLIB, packet::OP_MESSAGE, &zlib(&inner));
    merged.extend(msg(INTERACT));
    let last = msg(
        r#"{"cmd":"ROOM_BLOCK_MSG","uid":"8","uname":"捣乱者","data":{"uid":"8","uname":"捣乱者","operator":1}}"#,
    );
    merged.extend(&last[..5]);
    send_bin(&mut ws, merged).await;
    send_bin(&mut ws, last[5..].to_vec()).await;

    let mut saw_popularity = false;
    let mut got = Vec::new();
    while got.len() < 10 {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), h.recv())
            .await
            .unwrap()
            .unwrap();
        match ev.body {
            EventBody::Popularity { value } => {
                assert_eq!(value, 1234);
                saw_popularity = true;
            }
            b => got.push(b),
        }
    }
    assert!(
        saw_popularity,
        "the heartbeat reply's popularity is reported"
    );
    assert!(matches!(got[0], EventBody::State(SourceState::Connecting)));
    assert!(matches!(got[1], EventBody::State(SourceState::Live)));
    let EventBody::Message {
        user, text, colour, ..
    } = &got[2]
    else {
        panic!("danmaku expected, got {:?}", got[2]);
    };
    assert_eq!(text, "我改一下");
    assert_eq!(user.name, "星云之音喵");
    assert_eq!(user.id.as_deref(), Some("23624052"));
    assert!(!user.masked);
    assert!(user.badges.contains(&"medal:谜酥 1".to_string()));
    assert_eq!(colour.as_deref(), Some("#FFFFFF"));
    let EventBody::Message {
        user, emotes, id, ..
    } = &got[3]
    else {
        panic!("masked danmaku expected, got {:?}", got[3]);
    };
    assert!(user.masked, "uid 0 and a starred name are masked");
    assert_eq!(user.id, None);
    assert!(user.badges.contains(&"舰长".to_string()));
    assert_eq!(emotes[0].name, "[dog]");
    assert_eq!(id.as_deref(), Some("abc123"));
    let EventBody::Gift {
        gift, count, value, ..
    } = &got[4]
    else {
        panic!("gift expected, got {:?}", got[4]);
    };
    assert_eq!((gift.as_str(), *count), ("小花花", 5));
    assert_eq!(value.as_ref().unwrap().amount, 0.5);
    assert!(matches!(&got[5], EventBody::Notice { text, .. } if text.contains("未登录")));
    let EventBody::SuperChat {
        id,
        text,
        value,
        duration_s,
        user,
        ..
    } = &got[6]
    else {
        panic!("super chat expected, got {:?}", got[6]);
    };
    assert_eq!(id.as_deref(), Some("352006"));
    assert_eq!(text, "芭娜娜你好啊");
    assert_eq!((value.amount, value.currency.as_str()), (30.0, "CNY"));
    assert_eq!(*duration_s, Some(60));
    assert_eq!(user.name, "shine2015");
    assert!(matches!(
        &got[7],
        EventBody::Membership { level, months: Some(2), value: Some(v), .. } if level == "舰长" && v.amount == 396.0
    ));
    assert!(matches!(
        &got[8],
        EventBody::Interaction { action: Interaction::Enter, user } if user.name == "触手逸然"
    ));
    assert!(matches!(
        &got[9],
        EventBody::UserBanned { user, by: Some(by), .. } if user.name == "捣乱者" && by == "moderator"
    ));

    // The server drops the connection: the adapter says so and logs in again.
    drop(ws);
    let evs = events_until(&mut h, |b| {
        is_state(b, |s| matches!(s, SourceState::Reconnecting { .. }))
    })
    .await;
    let Some(EventBody::State(SourceState::Reconnecting { attempt, .. })) = evs.last() else {
        unreachable!()
    };
    assert_eq!(*attempt, 1);
    let mut ws = accept(&mut conns).await;
    let (_, op, _) = client_packet(&mut ws).await;
    assert_eq!(op, packet::OP_AUTH);
    send_bin(&mut ws, encode(1, packet::OP_AUTH_REPLY, br#"{"code":0}"#)).await;
    let evs = events_until(&mut h, |b| is_state(b, |s| *s == SourceState::Live)).await;
    assert_eq!(evs.len(), 1);
}

#[tokio::test]
async fn a_refused_login_fails_with_the_platform_and_what_to_do() {
    let (url, mut conns) = ws_server().await;
    let mut cfg = BilibiliConfig::new(1);
    cfg.url = url;
    let mut h = spawn(Box::new(Bilibili::new(cfg)), fast());
    let mut ws = accept(&mut conns).await;
    let _ = client_packet(&mut ws).await;
    send_bin(
        &mut ws,
        encode(1, packet::OP_AUTH_REPLY, br#"{"code":-101}"#),
    )
    .await;
    let reason = failure(&mut h).await;
    assert!(
        reason.contains("bilibili") && reason.contains("room id"),
        "{reason}"
    );
    assert!(h.recv().await.is_none(), "a failed source ends its stream");
}

#[tokio::test]
async fn a_garbage_packet_makes_the_adapter_reconnect_not_panic() {
    let (url, mut conns) = ws_server().await;
    let mut cfg = BilibiliConfig::new(1);
    cfg.url = url;
    let mut h = spawn(Box::new(Bilibili::new(cfg)), fast());
    let mut ws = accept(&mut conns).await;
    let _ = client_packet(&mut ws).await;
    send_bin(&mut ws, encode(1, packet::OP_AUTH_REPLY, br#"{"code":0}"#)).await;
    // A header claiming a 4-byte header.
    let mut bad = msg("{}");
    bad[5] = 4;
    send_bin(&mut ws, bad).await;
    let evs = events_until(&mut h, |b| {
        is_state(b, |s| matches!(s, SourceState::Reconnecting { .. }))
    })
    .await;
    let Some(EventBody::State(SourceState::Reconnecting { reason, .. })) = evs.last() else {
        unreachable!()
    };
    assert!(reason.contains("bilibili"), "{reason}");
    let _ = accept(&mut conns).await;
}

#[tokio::test]
async fn a_short_room_id_is_looked_up_over_http_before_connecting() {
    // room_init's shape per bilibili-API-collect docs/live/info.md; values ours.
    let (base, mut paths) = http_server(|_| {
        (
            200,
            r#"{"code":0,"msg":"ok","message":"ok","data":{"room_id":21144080,"short_id":6,"uid":1,"live_status":0}}"#.into(),
        )
    })
    .await;
    let info = marquee_chat::bilibili::discover::resolve_room(&format!("{base}/room_init"), 6)
        .await
        .unwrap();
    assert_eq!(info.room_id, 21144080);
    assert!(!info.live);
    assert_eq!(paths.recv().await.unwrap(), "/room_init?id=6");
}

/// The device ids, the nav answer of a visitor and a getDanmuInfo answer, in the shapes of
/// bilibili-API-collect (docs/misc/buvid3_4.md, docs/misc/sign/wbi.md,
/// docs/live/message_stream.md); the ids, token and host ours. getDanmuInfo answers -352
/// (risk control) unless the request is signed right and carries the buvid3 cookie given.
fn discovery_answer(r: &HttpRequest, danmu_code: i64) -> (u16, String) {
    const IMG: &str = "7cd084941338484aae1ad9425b84077c";
    const SUB: &str = "4932caff0ff746eab6f01bf08b70ac45";
    if r.path.starts_with("/room_init") {
        return (200, r#"{"code":0,"msg":"ok","message":"ok","data":{"room_id":21144080,"short_id":6,"uid":1,"live_status":1}}"#.into());
    }
    if r.path == "/spi" {
        return (
            200,
            format!(r#"{{"code":0,"data":{{"b_3":"{BUVID3}","b_4":"B4-x"}},"message":"ok"}}"#),
        );
    }
    if r.path == "/nav" {
        return (
            200,
            format!(
                r#"{{"code":-101,"message":"账号未登录","ttl":1,"data":{{"isLogin":false,"wbi_img":{{"img_url":"https://i0.hdslb.com/bfs/wbi/{IMG}.png","sub_url":"https://i0.hdslb.com/bfs/wbi/{SUB}.png"}}}}}}"#
            ),
        );
    }
    // Signed as the docs say: the same parameters and wts signed again must give its w_rid.
    let query = r.path.split_once('?').map_or("", |q| q.1);
    let pairs: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1);
    let params: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|p| p.0 != "w_rid" && p.0 != "wts")
        .copied()
        .collect();
    let key = marquee_chat::bilibili::wbi::mixin_key(IMG, SUB).unwrap();
    let wts = get("wts").and_then(|w| w.parse().ok()).unwrap_or(0);
    let again = marquee_chat::bilibili::wbi::signed_query(&params, &key, wts);
    let signed = get("w_rid").is_some() && again == query && get("id") == Some("21144080");
    let browser = r.head.contains("referer: https://live.bilibili.com/")
        && r.head.contains("user-agent: mozilla/5.0")
        && r.raw_head.contains(&format!("cookie: buvid3={BUVID3}\r\n"));
    if !(signed && browser) || danmu_code != 0 {
        return (200, r#"{"code":-352,"message":"-352","ttl":1}"#.into());
    }
    (200, r#"{"code":0,"message":"0","ttl":1,"data":{"group":"live","business_id":0,"refresh_row_factor":0.125,"refresh_rate":100,"max_delay":5000,"token":"tok-e2e_Q==","host_list":[{"host":"127.0.0.1","port":2243,"wss_port":2245,"ws_port":2244}]}}"#.into())
}

const BUVID3: &str = "3E3F1A2B-57C4-8D2E-9A61-1F2E3D4C5B6A12345infoc";

fn endpoints(base: &str) -> marquee_chat::bilibili::discover::Endpoints {
    marquee_chat::bilibili::discover::Endpoints {
        room_init: format!("{base}/room_init"),
        spi: format!("{base}/spi"),
        nav: format!("{base}/nav"),
        danmu_info: format!("{base}/getDanmuInfo"),
    }
}

#[tokio::test]
async fn discovery_signs_get_danmu_info_and_the_auth_packet_carries_its_token() {
    let (base, mut requests) = http_server_with(|r| discovery_answer(r, 0)).await;
    let p = marquee_chat::bilibili::discover::prepare(6, &endpoints(&base))
        .await
        .unwrap();
    assert_eq!(p.warning, None);
    assert!(p.live);
    assert_eq!(p.config.room_id, 21144080);
    assert_eq!(p.config.url, "wss://127.0.0.1:2245/sub");
    let auth: serde_json::Value =
        serde_json::from_str(&Bilibili::new(p.config).auth_body()).unwrap();
    assert_eq!(auth["key"], "tok-e2e_Q==");
    assert_eq!(auth["roomid"], 21144080);
    assert_eq!(
        auth["buvid"], BUVID3,
        "the auth packet names the device as the web client does"
    );
    let paths: Vec<String> = std::iter::from_fn(|| requests.try_recv().ok())
        .map(|r| r.path)
        .collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert_eq!(paths[1], "/spi");
    assert!(
        paths[3].starts_with("/getDanmuInfo?id=21144080&type=0&"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn when_bilibili_refuses_the_token_the_room_is_read_anonymously_and_it_says_why() {
    let (base, _requests) = http_server_with(|r| discovery_answer(r, -352)).await;
    let p = marquee_chat::bilibili::discover::prepare(6, &endpoints(&base))
        .await
        .unwrap();
    let w = p.warning.unwrap();
    assert!(w.contains("-352") && w.contains("without a token"), "{w}");
    assert_eq!(p.config.url, marquee_chat::bilibili::DEFAULT_URL);
    assert_eq!(p.config.token, None);
    assert_eq!(p.config.room_id, 21144080);
}
