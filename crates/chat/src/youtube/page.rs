//! YouTube Data API v3 JSON: a `liveChatMessages.list` page as unified events, the
//! `videos.list` answer as the live chat id, and the API's error bodies as plain words.
//! Field names per developers.google.com/youtube/v3/live/docs/liveChatMessages.

use crate::event::{EventBody, Money, User};
use serde_json::Value;

/// What one `liveChatMessages.list` page says.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    pub events: Vec<EventBody>,
    pub next_page_token: Option<String>,
    pub polling_interval_ms: Option<u64>,
    /// The broadcast went offline or the chat ended.
    pub ended: bool,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn n(v: &Value) -> Option<u64> {
    match v {
        Value::Number(x) => x.as_u64(),
        Value::String(t) => t.parse().ok(),
        _ => None,
    }
}

fn author(a: &Value) -> User {
    let mut badges = Vec::new();
    for (flag, badge) in [
        ("isChatOwner", "broadcaster"),
        ("isChatModerator", "moderator"),
        ("isChatSponsor", "member"),
        ("isVerified", "verified"),
    ] {
        if a[flag].as_bool() == Some(true) {
            badges.push(badge.to_string());
        }
    }
    User {
        id: s(&a["channelId"]),
        name: s(&a["displayName"]).unwrap_or_default(),
        badges,
        colour: None,
        masked: false,
    }
}

fn money(d: &Value) -> Money {
    Money {
        amount: n(&d["amountMicros"]).unwrap_or(0) as f64 / 1e6,
        currency: s(&d["currency"]).unwrap_or_default(),
        display: s(&d["amountDisplayString"]),
    }
}

/// A `liveChatMessages.list` response body; None when it is not such a page.
pub fn parse_page(body: &[u8]) -> Option<Page> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("items")?;
    page_of(&v)
}

/// A page as JSON: polled, or a streamed response read into the same JSON
/// ([`super::stream::response`]). A streamed page has no `items` when nothing was said.
pub fn page_of(v: &Value) -> Option<Page> {
    let empty = Vec::new();
    let items = match v.get("items") {
        Some(items) => items.as_array()?,
        None if v.is_object() => &empty,
        None => return None,
    };
    let mut page = Page {
        next_page_token: s(&v["nextPageToken"]),
        polling_interval_ms: n(&v["pollingIntervalMillis"]),
        ended: v.get("offlineAt").is_some_and(|o| !o.is_null()),
        ..Page::default()
    };
    for item in items {
        let id = s(&item["id"]);
        let sn = &item["snippet"];
        let user = author(&item["authorDetails"]);
        let body = match sn["type"].as_str().unwrap_or("") {
            "textMessageEvent" => EventBody::Message {
                id,
                user,
                text: s(&sn["textMessageDetails"]["messageText"])
                    .or_else(|| s(&sn["displayMessage"]))
                    .unwrap_or_default(),
                colour: None,
                emotes: Vec::new(),
            },
            "superChatEvent" => {
                let d = &sn["superChatDetails"];
                EventBody::SuperChat {
                    id,
                    user,
                    text: s(&d["userComment"]).unwrap_or_default(),
                    value: money(d),
                    duration_s: None,
                    sticker: None,
                }
            }
            "superStickerEvent" => {
                let d = &sn["superStickerDetails"];
                EventBody::SuperChat {
                    id,
                    user,
                    text: String::new(),
                    value: money(d),
                    duration_s: None,
                    sticker: s(&d["superStickerMetadata"]["altText"])
                        .or_else(|| s(&d["superStickerMetadata"]["stickerId"])),
                }
            }
            "newSponsorEvent" => EventBody::Membership {
                user,
                level: s(&sn["newSponsorDetails"]["memberLevelName"]).unwrap_or_default(),
                months: None,
                value: None,
            },
            "memberMilestoneChatEvent" => {
                let d = &sn["memberMilestoneChatDetails"];
                EventBody::Membership {
                    user,
                    level: s(&d["memberLevelName"]).unwrap_or_default(),
                    months: n(&d["memberMonth"]),
                    value: None,
                }
            }
            "messageDeletedEvent" => match s(&sn["messageDeletedDetails"]["deletedMessageId"]) {
                Some(deleted) => EventBody::MessageDeleted {
                    id: deleted,
                    user: None,
                },
                None => continue,
            },
            "userBannedEvent" => {
                let d = &sn["userBannedDetails"];
                let b = &d["bannedUserDetails"];
                EventBody::UserBanned {
                    user: User {
                        id: s(&b["channelId"]),
                        name: s(&b["displayName"]).unwrap_or_default(),
                        ..User::default()
                    },
                    duration_s: (d["banType"].as_str() == Some("temporary"))
                        .then(|| n(&d["banDurationSeconds"]))
                        .flatten(),
                    by: Some(user.name).filter(|n| !n.is_empty()),
                }
            }
            "chatEndedEvent" => {
                page.ended = true;
                continue;
            }
            "membershipGiftingEvent" | "giftMembershipReceivedEvent" => EventBody::Notice {
                text: s(&sn["displayMessage"]).unwrap_or_default(),
                code: s(&sn["type"]),
            },
            _ => continue,
        };
        page.events.push(body);
    }
    Some(page)
}

/// What `videos.list?part=liveStreamingDetails` says about a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatId {
    Active(String),
    /// The video exists but has no active live chat (not live, or chat off).
    None,
    /// No such video (or not a `videos.list` answer).
    NoVideo,
}

pub fn parse_chat_id(body: &[u8]) -> ChatId {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return ChatId::NoVideo;
    };
    match v.get("items").and_then(|i| i.get(0)) {
        None => ChatId::NoVideo,
        Some(item) => match s(&item["liveStreamingDetails"]["activeLiveChatId"]) {
            Some(id) => ChatId::Active(id),
            None => ChatId::None,
        },
    }
}

/// The API's error reason (`error.errors[0].reason`) and message, if the body is an error.
pub fn parse_error(body: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let reason = s(&e["errors"][0]["reason"])
        .or_else(|| s(&e["status"]))
        .unwrap_or_default();
    Some((reason, s(&e["message"]).unwrap_or_default()))
}
