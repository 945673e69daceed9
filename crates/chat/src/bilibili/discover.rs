//! Finding a room before connecting: bilibili's `room_init` turns a short (vanity) room id
//! into the real one the danmaku protocol wants. The per-room host list and token
//! (`getDanmuInfo`) now sit behind bilibili's request signing and cookies and are not used:
//! the public host accepts the anonymous login without them. `--endpoint` skips all of this.

use serde_json::Value;
use std::time::Duration;

/// The public room lookup (no login, no signing).
pub const ROOM_INIT_URL: &str = "https://api.live.bilibili.com/room/v1/Room/room_init";

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

/// Looks `room` up at `url` (normally [`ROOM_INIT_URL`]).
pub async fn resolve_room(url: &str, room: u64) -> Result<RoomInfo, String> {
    let tls = crate::tls::client_config()?;
    let (status, body) = crate::http::get(
        &format!("{url}?id={room}"),
        Some(&tls),
        1 << 20,
        Duration::from_secs(15),
    )
    .await
    .map_err(|e| format!("bilibili: cannot look up room {room}: {e}"))?;
    if status != 200 && status != 404 {
        return Err(format!(
            "bilibili: the room lookup answered HTTP {status}; try again later"
        ));
    }
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
    fn an_unknown_room_says_so() {
        let body = r#"{"code":60004,"msg":"直播间不存在","message":"直播间不存在","data":[]}"#;
        let e = parse_room_init(999, body.as_bytes()).unwrap_err();
        assert!(
            e.contains("no room 999") && e.contains("直播间不存在"),
            "{e}"
        );
    }
}
