//! Finding a room before connecting: bilibili's `room_init` turns a short (vanity) room id
//! into the real one the danmaku protocol wants; `getDanmuInfo` (WBI-signed: [`super::wbi`])
//! gives the room's danmaku hosts and the token its auth packet carries, as the web client
//! does. When that fails (bilibili's risk control answers -352 or -412 to some networks) the
//! public host still takes the anonymous login without a token. `--endpoint` skips all of this.

use serde_json::Value;
use std::time::Duration;

/// The public room lookup (no login, no signing).
pub const ROOM_INIT_URL: &str = "https://api.live.bilibili.com/room/v1/Room/room_init";

/// Where the signing keys are (answered without a login too).
pub const NAV_URL: &str = "https://api.bilibili.com/x/web-interface/nav";

/// A room's danmaku hosts and token (WBI-signed).
pub const DANMU_INFO_URL: &str =
    "https://api.live.bilibili.com/xlive/web-room/v1/index/getDanmuInfo";

/// What bilibili's own web client sends with these requests; its APIs refuse bare clients.
const BROWSER_HEADERS: [(&str, &str); 2] = [
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    ("referer", "https://live.bilibili.com/"),
];

/// The room's own danmaku host and the token for its auth packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanmuInfo {
    /// `wss://HOST:PORT/sub`, the first host bilibili lists.
    pub url: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// The real (long) room id.
    pub room_id: u64,
    /// Whether the room is broadcasting now (`live_status` 1).
    pub live: bool,
}

/// A `room_init` answer: `{"code":0,"data":{"room_id":…,"short_id":…,"live_status":…}}`.
pub fn parse_room_init(asked: u64, body: &[u8]) -> Result<RoomInfo, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| "bilibili's room lookup answered something unreadable".to_string())?;
    let code = v["code"].as_i64().unwrap_or(-1);
    if code != 0 {
        let msg = v["msg"].as_str().or(v["message"].as_str()).unwrap_or("");
        return Err(format!(
            "bilibili has no room {asked} ({msg}, code {code}); check the id in the room's URL"
        ));
    }
    let room_id = v["data"]["room_id"]
        .as_u64()
        .filter(|&r| r != 0)
        .ok_or_else(|| format!("bilibili's lookup of room {asked} gave no room id"))?;
    Ok(RoomInfo {
        room_id,
        live: v["data"]["live_status"].as_u64() == Some(1),
    })
}

/// A `getDanmuInfo` answer (bilibili-API-collect docs/live/message_stream.md):
/// `{"code":0,"data":{"token":…,"host_list":[{"host":…,"wss_port":…},…]}}`.
pub fn parse_danmu_info(room: u64, body: &[u8]) -> Result<DanmuInfo, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| "bilibili's getDanmuInfo answered something unreadable".to_string())?;
    let code = v["code"].as_i64().unwrap_or(-1);
    if code != 0 {
        let msg = v["message"].as_str().unwrap_or("");
        return Err(format!(
            "bilibili refused the danmaku token for room {room} ({msg}, code {code})"
        ));
    }
    let token = (v["data"]["token"].as_str())
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .ok_or("bilibili's getDanmuInfo gave no token")?;
    let host = (v["data"]["host_list"].as_array().into_iter().flatten())
        .find_map(|h| {
            let name = h["host"].as_str()?;
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            let port = u16::try_from(h["wss_port"].as_u64()?).ok()?;
            ok.then(|| format!("wss://{name}:{port}/sub"))
        })
        .ok_or("bilibili's getDanmuInfo listed no usable host")?;
    Ok(DanmuInfo {
        url: host,
        token: token.to_string(),
    })
}

/// GETs `url` with the browser's headers; the body when the status is one of `answers`.
/// `what` names the request in errors, which say to try again later.
async fn get_json(url: &str, what: &str, answers: &[u16]) -> Result<Vec<u8>, String> {
    let tls = crate::tls::client_config()?;
    let req = crate::http::Request {
        headers: BROWSER_HEADERS
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect(),
        ..Default::default()
    };
    let (status, body) = crate::http::send(url, req, Some(&tls), 1 << 20, Duration::from_secs(15))
        .await
        .map_err(|e| format!("bilibili: {what}: {e}"))?;
    if !answers.contains(&status) {
        return Err(format!(
            "bilibili: {what} answered HTTP {status}; try again later"
        ));
    }
    Ok(body)
}

/// The room's danmaku host and token: the signing keys from `nav_url` (normally [`NAV_URL`]),
/// then `info_url` (normally [`DANMU_INFO_URL`]) signed at `wts` (unix seconds).
pub async fn danmu_info(
    nav_url: &str,
    info_url: &str,
    room: u64,
    wts: u64,
) -> Result<DanmuInfo, String> {
    let nav = get_json(nav_url, "the signing keys", &[200]).await?;
    let (img, sub) = super::wbi::keys_from_nav(&nav)?;
    let key = super::wbi::mixin_key(&img, &sub).ok_or("bilibili's signing keys are malformed")?;
    let room_s = room.to_string();
    let query = super::wbi::signed_query(
        &[("id", &room_s), ("type", "0"), ("web_location", "444.8")],
        &key,
        wts,
    );
    let body = get_json(&format!("{info_url}?{query}"), "the danmaku token", &[200]).await?;
    parse_danmu_info(room, &body)
}

/// Where discovery asks (the platform's addresses by default; tests point them elsewhere).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub room_init: String,
    pub nav: String,
    pub danmu_info: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            room_init: ROOM_INIT_URL.into(),
            nav: NAV_URL.into(),
            danmu_info: DANMU_INFO_URL.into(),
        }
    }
}

/// A room ready to connect to, found as bilibili's web client finds it.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The real room id, its danmaku host and token when they could be had.
    pub config: super::BilibiliConfig,
    /// Whether the room is broadcasting now.
    pub live: bool,
    /// Why there is no token (the public host and an anonymous login are used instead).
    pub warning: Option<String>,
}

/// The real room id for `asked` (an error if bilibili has no such room), then its danmaku host
/// and token (a warning if they cannot be had: the connection still works without them).
pub async fn prepare(asked: u64, ends: &Endpoints) -> Result<Prepared, String> {
    let info = resolve_room(&ends.room_init, asked).await?;
    let mut config = super::BilibiliConfig::new(info.room_id);
    let wts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let warning = match danmu_info(&ends.nav, &ends.danmu_info, info.room_id, wts).await {
        Ok(d) => {
            config.url = d.url;
            config.token = Some(d.token);
            None
        }
        Err(e) => Some(format!(
            "{e}; reading room {} through bilibili's public host without a token",
            info.room_id
        )),
    };
    Ok(Prepared {
        config,
        live: info.live,
        warning,
    })
}

/// Looks `room` up at `url` (normally [`ROOM_INIT_URL`]).
pub async fn resolve_room(url: &str, room: u64) -> Result<RoomInfo, String> {
    // An unknown room is a 404 with the reason in its body.
    let what = format!("the lookup of room {room}");
    let body = get_json(&format!("{url}?id={room}"), &what, &[200, 404]).await?;
    parse_room_init(room, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_id_resolves_to_the_real_room() {
        // Shape per bilibili-API-collect docs/live/info.md (room_init), values ours.
        let body = br#"{"code":0,"msg":"ok","message":"ok","data":{"room_id":5440,"short_id":1,"uid":9617619,"need_p2p":0,"is_hidden":false,"is_locked":false,"is_portrait":false,"live_status":1,"hidden_till":0,"lock_till":0,"encrypted":false,"pwd_verified":false,"live_time":1700000000,"room_shield":0,"is_sp":0,"special_type":0}}"#;
        assert_eq!(
            parse_room_init(1, body),
            Ok(RoomInfo {
                room_id: 5440,
                live: true
            })
        );
    }

    #[test]
    fn the_danmu_info_answer_gives_the_first_host_and_the_token() {
        // The example answer of bilibili-API-collect docs/live/message_stream.md (room 1017),
        // its token shortened.
        let body = br#"{"code":0,"message":"0","ttl":1,"data":{"group":"live","business_id":0,"refresh_row_factor":0.125,"refresh_rate":100,"max_delay":5000,"token":"gZ2Pp2T4rIc2HfD0e53FHhQAwKWjb6-QDD84AcxXi8sk3S89XcdvPWOgClZIMZ5m","host_list":[{"host":"zj-cn-live-comet.chat.bilibili.com","port":2243,"wss_port":2245,"ws_port":2244},{"host":"broadcastlv.chat.bilibili.com","port":2243,"wss_port":2245,"ws_port":2244}]}}"#;
        assert_eq!(
            parse_danmu_info(1017, body),
            Ok(DanmuInfo {
                url: "wss://zj-cn-live-comet.chat.bilibili.com:2245/sub".into(),
                token: "gZ2Pp2T4rIc2HfD0e53FHhQAwKWjb6-QDD84AcxXi8sk3S89XcdvPWOgClZIMZ5m".into(),
            })
        );
        // Risk control, and a host no URL may hold.
        let e = parse_danmu_info(1017, br#"{"code":-352,"message":"-352","ttl":1}"#).unwrap_err();
        assert!(e.contains("room 1017") && e.contains("-352"), "{e}");
        let evil =
            br#"{"code":0,"data":{"token":"t","host_list":[{"host":"a/b@c","wss_port":443}]}}"#;
        assert!(parse_danmu_info(1, evil).is_err());
    }

    #[test]
    fn an_unknown_room_says_so() {
        let body = r#"{"code":60004,"msg":"直播间不存在","message":"直播间不存在","data":[]}"#;
        let e = parse_room_init(999, body.as_bytes()).unwrap_err();
        assert!(
            e.contains("no room 999") && e.contains("直播间不存在"),
            "{e}"
        );
    }
}
