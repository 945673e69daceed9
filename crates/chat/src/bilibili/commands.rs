//! bilibili's message commands (operation 5 JSON bodies) as unified events. Field positions
//! per bilibili-API-collect `docs/live/message_stream.md` and blivedm's models; every field is
//! read defensively (numbers arrive as numbers or strings, arrays may be short).

use crate::event::{Emote, EventBody, Interaction, Money, User};
use serde_json::Value;

/// A number given as a JSON number or a numeric string.
pub(crate) fn num(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

pub(crate) fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

pub(crate) fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `#RRGGBB` from a string colour ("#00D1F1") or a decimal RGB number (16777215).
fn colour(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.starts_with('#') && s.len() == 7 => Some(s.to_ascii_uppercase()),
        Value::Number(n) => n
            .as_u64()
            .filter(|&c| c <= 0xFF_FFFF)
            .map(|c| format!("#{c:06X}")),
        _ => None,
    }
}

/// 大航海 levels: 1 总督, 2 提督, 3 舰长.
pub(crate) fn guard_name(level: u64) -> Option<&'static str> {
    match level {
        1 => Some("总督"),
        2 => Some("提督"),
        3 => Some("舰长"),
        _ => None,
    }
}

/// A user from a uid and a name. Without a login bilibili sends uid 0 and "张***".
fn user(uid: Option<u64>, name: String) -> User {
    let masked = uid.unwrap_or(0) == 0 || name.contains("***");
    User {
        id: uid.filter(|&u| u != 0).map(|u| u.to_string()),
        name,
        masked,
        ..User::default()
    }
}

pub(crate) fn cny(amount: f64) -> Money {
    Money {
        amount,
        currency: "CNY".into(),
        display: None,
    }
}

/// The events in one command object (`{"cmd": …}`); unknown commands give none.
pub fn events(v: &Value, out: &mut Vec<EventBody>) {
    let Some(cmd) = v.get("cmd").and_then(Value::as_str) else {
        return;
    };
    // Some commands carry a suffix: "DANMU_MSG:4:0:2:2:2:0".
    let cmd = cmd.split(':').next().unwrap_or(cmd);
    let data = &v["data"];
    match cmd {
        "DANMU_MSG" => {
            if let Some(e) = danmaku(&v["info"]) {
                out.push(e);
            }
        }
        "SEND_GIFT" => out.push(gift(data)),
        "SUPER_CHAT_MESSAGE" => out.push(super_chat(data)),
        "GUARD_BUY" => out.push(guard(data)),
        "INTERACT_WORD" => {
            let action = match num(&data["msg_type"]) {
                Some(1) => Interaction::Enter,
                Some(2) | Some(4) | Some(5) => Interaction::Follow,
                Some(3) => Interaction::Share,
                _ => return,
            };
            let mut u = user(num(&data["uid"]), text(&data["uname"]).unwrap_or_default());
            u.colour = colour(&data["uname_color"]);
            out.push(EventBody::Interaction { user: u, action });
        }
        "LOG_IN_NOTICE" => out.push(EventBody::Notice {
            text: text(&data["notice_msg"]).unwrap_or_default(),
            code: Some("LOG_IN_NOTICE".into()),
        }),
        "ROOM_BLOCK_MSG" => {
            // The fields sit at the top level or in data, depending on the era.
            let pick = |k: &str| {
                if data.get(k).is_some() {
                    &data[k]
                } else {
                    &v[k]
                }
            };
            let by = match num(pick("operator")) {
                Some(1) => Some("moderator".to_string()),
                Some(2) => Some("streamer".to_string()),
                _ => None,
            };
            out.push(EventBody::UserBanned {
                user: user(num(pick("uid")), text(pick("uname")).unwrap_or_default()),
                duration_s: None,
                by,
            });
        }
        "PREPARING" => out.push(EventBody::Notice {
            text: "the streamer ended the live broadcast".into(),
            code: Some("PREPARING".into()),
        }),
        "LIVE" => out.push(EventBody::Notice {
            text: "the streamer went live".into(),
            code: Some("LIVE".into()),
        }),
        _ => {}
    }
}

/// DANMU_MSG's `info` array: info[0] metadata (3: colour, 13: sticker, 15.extra: emotes),
/// info[1] text, info[2] [uid, name, is_admin, …, 7: name colour], info[3] fan medal
/// [level, name, …], info[7] guard level.
fn danmaku(info: &Value) -> Option<EventBody> {
    let meta = &info[0];
    let text_s = text(&info[1])?;
    let mut name = text(&info[2][1]).unwrap_or_default();
    if name.is_empty() {
        name = text(&meta[15]["user"]["base"]["name"]).unwrap_or_default();
    }
    let mut u = user(num(&info[2][0]), name);
    u.colour = colour(&info[2][7]);
    if num(&info[2][2]) == Some(1) {
        u.badges.push("moderator".into());
    }
    if let Some(g) = num(&info[7]).and_then(guard_name) {
        u.badges.push(g.into());
    }
    if let (Some(level), Some(medal)) = (num(&info[3][0]), info[3][1].as_str())
        && !medal.is_empty()
    {
        u.badges.push(format!("medal:{medal} {level}"));
    }
    let mut emotes = Vec::new();
    let mut id = None;
    if let Some(unique) = meta[13]["emoticon_unique"].as_str() {
        emotes.push(Emote {
            name: text_s.clone(),
            id: Some(unique.to_string()),
            url: text(&meta[13]["url"]),
        });
    }
    if let Some(extra) = meta[15]["extra"].as_str()
        && let Ok(extra) = serde_json::from_str::<Value>(extra)
    {
        id = id_text(&extra["id_str"]);
        if let Some(emots) = extra["emots"].as_object() {
            for (name, e) in emots {
                emotes.push(Emote {
                    name: name.clone(),
                    id: id_text(&e["emoticon_unique"]).or_else(|| id_text(&e["emoticon_id"])),
                    url: text(&e["url"]),
                });
            }
        }
    }
    Some(EventBody::Message {
        id,
        user: u,
        text: text_s,
        colour: colour(&meta[3]),
        emotes,
    })
}

/// SEND_GIFT: gold-coin gifts are paid (1,000 gold = ¥1), silver ones free.
fn gift(d: &Value) -> EventBody {
    let count = num(&d["num"]).unwrap_or(1);
    let mut u = user(num(&d["uid"]), text(&d["uname"]).unwrap_or_default());
    u.colour = colour(&d["name_color"]);
    if let Some(g) = num(&d["guard_level"]).and_then(guard_name) {
        u.badges.push(g.into());
    }
    let value = (d["coin_type"].as_str() == Some("gold"))
        .then(|| {
            num(&d["total_coin"])
                .or_else(|| num(&d["price"]).map(|p| p.saturating_mul(count)))
                .map(|gold| cny(gold as f64 / 1000.0))
        })
        .flatten();
    EventBody::Gift {
        user: u,
        gift: text(&d["giftName"]).unwrap_or_default(),
        count,
        value,
    }
}

/// SUPER_CHAT_MESSAGE: `price` is in yuan, `time` the seconds it stays pinned.
fn super_chat(d: &Value) -> EventBody {
    let info = &d["user_info"];
    let mut u = user(num(&d["uid"]), text(&info["uname"]).unwrap_or_default());
    u.colour = colour(&info["name_color"]);
    if let Some(g) = num(&info["guard_level"]).and_then(guard_name) {
        u.badges.push(g.into());
    }
    let amount = float(&d["price"]).unwrap_or(0.0);
    EventBody::SuperChat {
        id: id_text(&d["id"]),
        user: u,
        text: text(&d["message"]).unwrap_or_default(),
        value: Money {
            display: Some(format!("¥{amount}")),
            ..cny(amount)
        },
        duration_s: num(&d["time"]),
        sticker: None,
    }
}

/// GUARD_BUY: `price` is gold coins per month (1,000 gold = ¥1), `num` the months.
fn guard(d: &Value) -> EventBody {
    let months = num(&d["num"]).unwrap_or(1);
    let level = num(&d["guard_level"])
        .and_then(guard_name)
        .map(str::to_string)
        .or_else(|| text(&d["gift_name"]))
        .unwrap_or_default();
    EventBody::Membership {
        user: user(num(&d["uid"]), text(&d["username"]).unwrap_or_default()),
        level,
        months: Some(months),
        value: num(&d["price"]).map(|p| cny(p.saturating_mul(months) as f64 / 1000.0)),
    }
}
