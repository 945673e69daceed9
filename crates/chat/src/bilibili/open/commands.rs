//! The open platform's long-connection commands (operation 5 JSON bodies) as unified events,
//! mapped as the web adapter maps its DANMU_MSG / SEND_GIFT / SUPER_CHAT_MESSAGE / GUARD_BUY.
//! Fields per the open platform's "长连CMD" document
//! (open-live.bilibili.com/document/f9ce25be-312e-1f4a-85fd-fef21f1637f8, as quoted in
//! xfgryujk/blivedm `blivedm/models/open_live.py`). Users carry their `open_id` (the platform's
//! per-app user id; `uid` is deprecated and always 0) and their real name: nothing is masked.

use crate::bilibili::commands::{cny, float, guard_name, id_text, num, text};
use crate::event::{Emote, EventBody, Interaction, Money, User};
use serde_json::Value;

/// What a command asks of the session beside its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    #[default]
    None,
    /// LIVE_OPEN_PLATFORM_INTERACTION_END: bilibili ended this session.
    SessionEnded,
}

/// A viewer: open id, name, 大航海 and fan medal badges.
fn user(d: &Value) -> User {
    let mut u = User {
        id: id_text(&d["open_id"]),
        name: text(&d["uname"]).unwrap_or_default(),
        ..User::default()
    };
    if let Some(g) = num(&d["guard_level"]).and_then(guard_name) {
        u.badges.push(g.into());
    }
    if let (Some(level), Some(medal)) = (num(&d["fans_medal_level"]), d["fans_medal_name"].as_str())
        && !medal.is_empty()
    {
        u.badges.push(format!("medal:{medal} {level}"));
    }
    u
}

/// The events in one command object (`{"cmd": …, "data": …}`); unknown commands give none.
pub fn events(v: &Value, out: &mut Vec<EventBody>) -> Control {
    let Some(cmd) = v.get("cmd").and_then(Value::as_str) else {
        return Control::None;
    };
    let d = &v["data"];
    match cmd {
        "LIVE_OPEN_PLATFORM_DM" => {
            let msg = text(&d["msg"]).unwrap_or_default();
            let mut emotes = Vec::new();
            // dm_type 1: a sticker (表情包) danmaku; its text names it, the URL shows it.
            if num(&d["dm_type"]) == Some(1)
                && let Some(url) = text(&d["emoji_img_url"]).filter(|u| !u.is_empty())
            {
                emotes.push(Emote {
                    name: msg.clone(),
                    id: None,
                    url: Some(url),
                });
            }
            out.push(EventBody::Message {
                id: id_text(&d["msg_id"]),
                user: user(d),
                text: msg,
                colour: None,
                emotes,
            });
        }
        "LIVE_OPEN_PLATFORM_SEND_GIFT" => out.push(gift(d)),
        "LIVE_OPEN_PLATFORM_SUPER_CHAT" => {
            let amount = float(&d["rmb"]).unwrap_or(0.0);
            let duration = num(&d["end_time"])
                .zip(num(&d["start_time"]))
                .map(|(end, start)| end.saturating_sub(start))
                .filter(|&s| s > 0);
            out.push(EventBody::SuperChat {
                id: id_text(&d["message_id"]),
                user: user(d),
                text: text(&d["message"]).unwrap_or_default(),
                value: Money {
                    display: Some(format!("¥{amount}")),
                    ..cny(amount)
                },
                duration_s: duration,
                sticker: None,
            });
        }
        "LIVE_OPEN_PLATFORM_SUPER_CHAT_DEL" => {
            if let Some(ids) = d["message_ids"].as_array() {
                for id in ids.iter().filter_map(id_text).take(64) {
                    out.push(EventBody::MessageDeleted { id, user: None });
                }
            }
        }
        "LIVE_OPEN_PLATFORM_GUARD" => out.push(guard(d)),
        "LIVE_OPEN_PLATFORM_LIKE" => out.push(EventBody::Interaction {
            user: user(d),
            action: Interaction::Like,
        }),
        "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER" => out.push(EventBody::Interaction {
            user: user(d),
            action: Interaction::Enter,
        }),
        "LIVE_OPEN_PLATFORM_LIVE_START" => out.push(EventBody::Notice {
            text: "the streamer went live".into(),
            code: Some("LIVE".into()),
        }),
        "LIVE_OPEN_PLATFORM_LIVE_END" => out.push(EventBody::Notice {
            text: "the streamer ended the live broadcast".into(),
            code: Some("PREPARING".into()),
        }),
        "LIVE_OPEN_PLATFORM_INTERACTION_END" => {
            out.push(EventBody::Notice {
                text: "bilibili ended the open-platform session".into(),
                code: Some("INTERACTION_END".into()),
            });
            return Control::SessionEnded;
        }
        _ => {}
    }
    Control::None
}

/// SEND_GIFT: `price` is the unit price in gold (1,000 = ¥1); `r_price`, when given, what was
/// really paid for a discounted one. Free gifts (`paid` false) carry no value.
fn gift(d: &Value) -> EventBody {
    let count = num(&d["gift_num"]).unwrap_or(1);
    let paid = d["paid"].as_bool().unwrap_or(false);
    let value = paid
        .then(|| {
            num(&d["r_price"])
                .filter(|&p| p > 0)
                .or_else(|| num(&d["price"]))
                .map(|unit| cny(unit.saturating_mul(count) as f64 / 1000.0))
        })
        .flatten();
    EventBody::Gift {
        user: user(d),
        gift: text(&d["gift_name"]).unwrap_or_default(),
        count,
        value,
    }
}

/// GUARD: `price` is gold (1,000 = ¥1) per `guard_unit` (normally 月, a month), `guard_num`
/// how many; the buyer sits in `user_info`.
fn guard(d: &Value) -> EventBody {
    let n = num(&d["guard_num"]).unwrap_or(1);
    let monthly = d["guard_unit"].as_str().is_none_or(|u| u == "月");
    let level = num(&d["guard_level"])
        .and_then(guard_name)
        .map(str::to_string)
        .unwrap_or_default();
    let mut buyer = user(&d["user_info"]);
    if let (Some(level), Some(medal)) = (num(&d["fans_medal_level"]), d["fans_medal_name"].as_str())
        && !medal.is_empty()
    {
        buyer.badges.push(format!("medal:{medal} {level}"));
    }
    EventBody::Membership {
        user: buyer,
        level,
        months: monthly.then_some(n),
        value: num(&d["price"]).map(|p| cny(p.saturating_mul(n) as f64 / 1000.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str) -> Vec<EventBody> {
        let mut out = Vec::new();
        events(&serde_json::from_str(json).unwrap(), &mut out);
        out
    }

    #[test]
    fn fields_of_the_wrong_type_give_defaults_not_a_panic() {
        for cmd in [
            "LIVE_OPEN_PLATFORM_DM",
            "LIVE_OPEN_PLATFORM_SEND_GIFT",
            "LIVE_OPEN_PLATFORM_SUPER_CHAT",
            "LIVE_OPEN_PLATFORM_SUPER_CHAT_DEL",
            "LIVE_OPEN_PLATFORM_GUARD",
            "LIVE_OPEN_PLATFORM_LIKE",
        ] {
            for data in [
                "null",
                "[]",
                "7",
                r#"{"uname":[],"gift_num":"x","message_ids":{}}"#,
            ] {
                let _ = one(&format!(r#"{{"cmd":"{cmd}","data":{data}}}"#));
            }
        }
    }

    #[test]
    fn a_free_gift_has_no_value_and_a_paid_one_counts_every_item() {
        let free = one(
            r#"{"cmd":"LIVE_OPEN_PLATFORM_SEND_GIFT","data":{"gift_name":"小心心","gift_num":3,"price":0,"paid":false}}"#,
        );
        assert!(matches!(
            &free[0],
            EventBody::Gift {
                value: None,
                count: 3,
                ..
            }
        ));
        let paid = one(
            r#"{"cmd":"LIVE_OPEN_PLATFORM_SEND_GIFT","data":{"gift_name":"牛哇","gift_num":2,"price":100,"r_price":100,"paid":true}}"#,
        );
        let EventBody::Gift { value: Some(v), .. } = &paid[0] else {
            panic!("{paid:?}")
        };
        assert!((v.amount - 0.2).abs() < 1e-9, "{v:?}");
    }
}
