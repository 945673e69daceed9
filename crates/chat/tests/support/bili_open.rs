//! A local stand-in for bilibili's live open platform: the HTTP API that checks each request's
//! signature, and the long connection's frames.
//!
//! The signature is checked from the documented steps (open-live.bilibili.com/document,
//! "签名机制": the MD5 of the body, the `x-bili-*` headers sorted as `name:value` lines, the
//! HMAC-SHA256 of them with the secret, lower-case hex), computed here from the headers as
//! received, not with the client's code. Answers per the same document ("项目开启": `code`,
//! `message`, `request_id`, `data.game_info.game_id`, `data.websocket_info.{auth_body,
//! wss_link}`, `data.anchor_info`; "公共错误码": 4002 签名异常, 7007 身份码错误). The start
//! answer's values are those of the documented example as quoted in
//! XL8Z/BiliBili_PlayWithMe.js `样本.js` (room 4639581, game 93594bf8-…); the auth body is
//! shortened.
//!
//! The command bodies are the document's examples ("长连CMD",
//! open-live.bilibili.com/document/f9ce25be-312e-1f4a-85fd-fef21f1637f8), their field values
//! filled from the captured ones in `样本.js` (names, messages, prices).

use super::HttpRequest;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

pub const APP_ID: u64 = 1650000000001;
pub const KEY_ID: &str = "akid0123456789abcdef";
pub const KEY_SECRET: &str = "0123456789abcdef0123456789abcdef";
/// A 身份码 as 直播姬 shows them (12–14 upper-case letters and digits).
pub const CODE: &str = "C9VJ3QKX7T2M4";
pub const GAME_ID: &str = "93594bf8-70e0-4b30-a5e9-0d60c4e11e17";
pub const AUTH_BODY: &str = r#"{"roomid":4639581,"protover":2,"uid":1081499745,"key":"rn6HS6_gfZjI4J1jki0kDSvnsS_kLWithuUJFcMGg","group":"open"}"#;

pub const DM: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_DM","data":{"room_id":4639581,"uid":0,"open_id":"39b8fedb-60a5-4e29-ac75-b16955f7e632","uname":"猫裙少年泽远喵","msg":"你们谁扔个小心心呗","msg_id":"eb805544-0cf2-4688-bca1-88299e5344bf","fans_medal_level":21,"fans_medal_name":"官方","fans_medal_wearing_status":false,"guard_level":0,"timestamp":1650717881,"uface":"http://i0.hdslb.com/bfs/face/7ced8612a3f3ef10e7238ee22b4c6948d3f53139.jpg","emoji_img_url":"","dm_type":0}}"#;
pub const GIFT: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_SEND_GIFT","data":{"room_id":4639581,"uid":0,"open_id":"5b1e0ea4-3bba-4bd3-9b0a-4a3b8f5c6f11","uname":"不忘韩文初心","uface":"http://i2.hdslb.com/bfs/face/e549b18085113c6f824c0eefaf2c9d9dcaf5a1d5.jpg","gift_id":31036,"gift_name":"小花花","gift_num":5,"price":100,"r_price":100,"paid":true,"fans_medal_level":25,"fans_medal_name":"官方","fans_medal_wearing_status":true,"guard_level":3,"timestamp":1650717898,"msg_id":"e0677be6-4d08-49bc-a722-17238b0f370b","anchor_info":{"uid":0,"open_id":"39b8fedb-60a5-4e29-ac75-b16955f7e632","uname":"猫裙少年泽远喵","uface":""},"gift_icon":"","combo_gift":false,"combo_info":{"combo_base_num":5,"combo_count":1,"combo_id":"xxxxxx","combo_timeout":3}}}"#;
pub const SUPER_CHAT: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_SUPER_CHAT","data":{"room_id":4639581,"uid":0,"open_id":"a1b2c3d4-0000-4000-8000-000000000001","uname":"Sequbre","uface":"http://i0.hdslb.com/bfs/face/061e978938b8a60b4920fad15596657e77465170.jpg","message_id":3992851,"message":"进行一个鱼的摸","msg_id":"968e07ea-49e6-478c-867e-b721ccbd0d62","rmb":30,"timestamp":1652413567,"start_time":1652413567,"end_time":1652413627,"guard_level":0,"fans_medal_level":0,"fans_medal_name":"","fans_medal_wearing_status":false}}"#;
pub const SUPER_CHAT_DEL: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_SUPER_CHAT_DEL","data":{"room_id":4639581,"message_ids":[3992851],"msg_id":"0f5c1a8e-6c4b-4a55-9d3e-2b9b1f1f0a01"}}"#;
pub const GUARD: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_GUARD","data":{"user_info":{"uid":0,"open_id":"c0ffee00-1111-4222-8333-444455556666","uname":"你的魔法","uface":"http://i1.hdslb.com/bfs/face/f1d9def953795085dd42aecb2e57a08a3cdf65ac.jpg"},"guard_level":3,"guard_num":1,"guard_unit":"月","price":198000,"fans_medal_level":24,"fans_medal_name":"aw4ifC","fans_medal_wearing_status":false,"timestamp":1654801753,"room_id":4639581,"msg_id":"415d1592-9f76-4c84-9a59-4a2ee081a4dd"}}"#;
pub const LIKE: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_LIKE","data":{"uname":"哔哩哔哩直播","uid":0,"open_id":"39b8fedb-60a5-4e29-ac75-b16955f7e632","uface":"https://i0.hdslb.com/bfs/face/8f6a614a48a3813d90da7a11894ae56a59396fcd.jpg","timestamp":1685946262,"like_text":"为主播点赞了","like_count":114,"fans_medal_wearing_status":false,"fans_medal_name":"","fans_medal_level":0,"msg_id":"57a7c676-ff00-4967-bb09-03e800ab0f4d","room_id":4639581}}"#;
pub const INTERACTION_END: &str = r#"{"cmd":"LIVE_OPEN_PLATFORM_INTERACTION_END","data":{"game_id":"93594bf8-70e0-4b30-a5e9-0d60c4e11e17","timestamp":1714113037}}"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The header's value as sent (names are case-insensitive).
fn header<'a>(raw_head: &'a str, name: &str) -> Option<&'a str> {
    raw_head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether the request is signed with `secret` as the document says.
pub fn signature_ok(req: &HttpRequest, secret: &str) -> bool {
    let names = [
        "x-bili-accesskeyid",
        "x-bili-content-md5",
        "x-bili-signature-method",
        "x-bili-signature-nonce",
        "x-bili-signature-version",
        "x-bili-timestamp",
    ];
    let mut lines = Vec::new();
    for n in names {
        let Some(v) = header(&req.raw_head, n) else {
            return false;
        };
        lines.push(format!("{n}:{v}"));
    }
    if header(&req.raw_head, "x-bili-content-md5") != Some(&hex(&Md5::digest(req.body.as_bytes())))
        || header(&req.raw_head, "x-bili-signature-method") != Some("HMAC-SHA256")
        || header(&req.raw_head, "x-bili-signature-version") != Some("1.0")
    {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(lines.join("\n").as_bytes());
    header(&req.raw_head, "authorization") == Some(&hex(&mac.finalize().into_bytes()))
}

fn error(code: i64, message: &str) -> String {
    serde_json::json!({"code": code, "message": message, "request_id": "1534992646149816320", "data": null})
        .to_string()
}

/// The API's answer to one request; `wss` is the long connection's address it hands out.
pub fn answer(req: &HttpRequest, wss: &str) -> (u16, String) {
    if !signature_ok(req, KEY_SECRET) {
        return (200, error(4002, "签名异常"));
    }
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
    match req.path.as_str() {
        "/v2/app/start" => {
            if body["code"] != CODE || body["app_id"] != APP_ID {
                return (200, error(7007, "身份码错误"));
            }
            let ok = serde_json::json!({
                "code": 0,
                "message": "0",
                "request_id": "1534992646149816320",
                "data": {
                    "anchor_info": {
                        "room_id": 4639581,
                        "uface": "http://i0.hdslb.com/bfs/face/7ced8612a3f3ef10e7238ee22b4c6948d3f53139.jpg",
                        "uid": 0,
                        "open_id": "39b8fedb-60a5-4e29-ac75-b16955f7e632",
                        "uname": "猫裙少年泽远喵"
                    },
                    "game_info": {"game_id": GAME_ID},
                    "websocket_info": {"auth_body": AUTH_BODY, "wss_link": [wss]}
                }
            });
            (200, ok.to_string())
        }
        "/v2/app/heartbeat" if body["game_id"] == GAME_ID => (
            200,
            r#"{"code":0,"message":"0","request_id":"1","data":{}}"#.into(),
        ),
        "/v2/app/end" if body["game_id"] == GAME_ID && body["app_id"] == APP_ID => (
            200,
            r#"{"code":0,"message":"0","request_id":"2","data":{}}"#.into(),
        ),
        "/v2/app/heartbeat" | "/v2/app/end" => (200, error(7003, "心跳过期")),
        _ => (200, error(4010, "接口不存在")),
    }
}
