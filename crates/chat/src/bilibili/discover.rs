//! Finding a room before connecting: bilibili's `room_init` turns a short (vanity) room id
//! into the real one the danmaku protocol wants; `getDanmuInfo` (WBI-signed: [`super::wbi`])
//! gives the room's danmaku hosts and the token its auth packet carries, as the web client
//! does, with the visitor's device id (`buvid3`, from `finger/spi`) as its cookie: bilibili's
//! risk control refuses clients without one. When that fails (its risk control answers -352 or
//! -412 to some networks) the public host still takes the anonymous login without a token.
//! `--endpoint` skips all of this.

use serde_json::Value;
use std::time::Duration;

/// The public room lookup (no login, no signing).
pub const ROOM_INIT_URL: &str = "https://api.live.bilibili.com/room/v1/Room/room_init";

/// A visitor's device ids (`b_3` is the `buvid3` cookie), answered without a login.
pub const SPI_URL: &str = "https://api.bilibili.com/x/frontend/finger/spi";

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

/// A `finger/spi` answer (bilibili-API-collect docs/misc/buvid3_4.md):
/// `{"code":0,"data":{"b_3":…,"b_4":…},"message":"ok"}`; the `buvid3` it gives.
pub fn parse_spi(body: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| "bilibili's device id answer is unreadable".to_string())?;
    let b3 = v["data"]["b_3"].as_str().unwrap_or("");
    let fits = !b3.is_empty()
        && b3.len() <= 128
        && b3
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if v["code"].as_i64() != Some(0) || !fits {
        return Err(format!(
            "bilibili gave no device id (code {})",
            v["code"].as_i64().unwrap_or(-1)
        ));
    }
    Ok(b3.to_string())
}

/// GETs `url` with the browser's headers (and `cookie`); the body when the status is one of
/// `answers`. `what` names the request in errors, which say to try again later.
async fn get_json(
    url: &str,
    what: &str,
    answers: &[u16],
    cookie: Option<&str>,
) -> Result<Vec<u8>, String> {
    let tls = crate::tls::client_config()?;
    let mut headers: Vec<(&'static str, String)> = BROWSER_HEADERS
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    if let Some(c) = cookie {
        headers.push(("cookie", c.to_string()));
    }
    let req = crate::http::Request {
        headers,
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

/// The visitor's `buvid3` from `url` (normally [`SPI_URL`]).
pub async fn buvid(url: &str) -> Result<String, String> {
    parse_spi(&get_json(url, "the device id", &[200], None).await?)
}

/// The room's danmaku host and token: the signing keys from `nav_url` (normally [`NAV_URL`]),
/// then `info_url` (normally [`DANMU_INFO_URL`]) signed at `wts` (unix seconds), both with
/// the visitor's `buvid3` cookie when there is one.
pub async fn danmu_info(
    nav_url: &str,
    info_url: &str,
    room: u64,
    wts: u64,
    buvid: Option<&str>,
) -> Result<DanmuInfo, String> {
    let cookie = buvid.map(|b| format!("buvid3={b}"));
    let cookie = cookie.as_deref();
    let nav = get_json(nav_url, "the signing keys", &[200], cookie).await?;
    let (img, sub) = super::wbi::keys_from_nav(&nav)?;
    let key = super::wbi::mixin_key(&img, &sub).ok_or("bilibili's signing keys are malformed")?;
    let room_s = room.to_string();
    let query = super::wbi::signed_query(
        &[("id", &room_s), ("type", "0"), ("web_location", "444.8")],
        &key,
        wts,
    );
    let url = format!("{info_url}?{query}");
    let body = get_json(&url, "the danmaku token", &[200], cookie).await?;
    parse_danmu_info(room, &body)
}

/// Where discovery asks (the platform's addresses by default; tests point them elsewhere).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub room_init: String,
    pub spi: String,
    pub nav: String,
    pub danmu_info: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            room_init: ROOM_INIT_URL.into(),
            spi: SPI_URL.into(),
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
    let (buvid, no_buvid) = match buvid(&ends.spi).await {
        Ok(b) => (Some(b), String::new()),
        Err(e) => (None, format!(" ({e})")),
    };
    let info_asked = danmu_info(
        &ends.nav,
        &ends.danmu_info,
        info.room_id,
        wts,
        buvid.as_deref(),
    );
    let warning = match info_asked.await {
        Ok(d) => {
            config.url = d.url;
            config.token = Some(d.token);
            None
        }
        Err(e) => Some(format!(
            "{e}{no_buvid}; reading room {} through bilibili's public host without a token",
            info.room_id
        )),
    };
    config.buvid = buvid;
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
    let body = get_json(&format!("{url}?id={room}"), &what, &[200, 404], None).await?;
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
    fn the_device_id_answer_gives_buvid3() {
        // The shape of bilibili-API-collect docs/misc/buvid3_4.md, the ids ours.
        let body = br#"{"code":0,"data":{"b_3":"3E3F1A2B-57C4-8D2E-9A61-1F2E3D4C5B6A12345infoc","b_4":"A1B2C3D4-E5F6-0718-293A-4B5C6D7E8F9012345-025120610-abc=="},"message":"ok"}"#;
        assert_eq!(
            parse_spi(body).unwrap(),
            "3E3F1A2B-57C4-8D2E-9A61-1F2E3D4C5B6A12345infoc"
        );
        // Anything that could break out of a cookie header is refused.
        assert!(parse_spi(br#"{"code":0,"data":{"b_3":"a; b=c"}}"#).is_err());
        assert!(parse_spi(br#"{"code":-412,"message":"blocked"}"#).is_err());
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
