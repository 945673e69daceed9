//! Moderating Twitch chat from Marquee against a local server answering as id.twitch.tv and
//! the Helix API do (support/twitch_api.rs, frames from Twitch's docs): the device login, then
//! delete / timeout / ban, a token renewed once when it expired, and refusals.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::twitch::helix::{Helix, HelixEndpoints, ModAction, device_login};
use marquee_chat::twitch::login::TwitchToken;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use support::twitch_api::*;
use support::*;

/// id.twitch.tv and Helix on one local server.
async fn twitch_api() -> (String, tokio::sync::mpsc::UnboundedReceiver<HttpRequest>) {
    let polls = Arc::new(AtomicU32::new(0));
    http_server_with(move |r| twitch_api_answer(&r.method, &r.path, &r.head, &r.body, &polls)).await
}

fn ends(base: &str) -> HelixEndpoints {
    HelixEndpoints {
        api: format!("{base}/helix"),
        id: base.to_string(),
    }
}

fn token(access: &str) -> TwitchToken {
    TwitchToken {
        access_token: access.into(),
        refresh_token: "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01".into(),
        client_id: "abc123".into(),
        client_secret: String::new(),
    }
}

#[tokio::test]
async fn the_device_login_shows_the_code_and_returns_the_token_once_approved() {
    let (base, mut seen) = twitch_api().await;
    let mut shown = Vec::new();
    let t = device_login(&base, "abc123", |code, uri| {
        shown.push((code.to_string(), uri.to_string()))
    })
    .await
    .unwrap();
    assert_eq!(t, token("rfx2uswqe8l4g1mkagrvg5tv0ks3"));
    assert_eq!(
        shown,
        vec![(
            "ABCDEFGH".to_string(),
            "https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH".to_string()
        )]
    );
    let asks: Vec<HttpRequest> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    assert_eq!(asks.len(), 3, "device, pending, token: {asks:?}");
    assert!(asks[0].body.contains("client_id=abc123"));
    assert!(asks[0].head.contains("application/x-www-form-urlencoded"));
}

#[tokio::test]
async fn delete_timeout_and_ban_reach_helix_as_its_reference_describes() {
    let (base, mut seen) = twitch_api().await;
    let mut h = Helix::new(ends(&base), token("good"), "#TheChannel").unwrap();
    h.moderate(&ModAction::Delete {
        message_id: "eb24e920-8065-492a-8aea-266a00fc5126".into(),
    })
    .await
    .unwrap();
    h.moderate(&ModAction::Timeout {
        user_id: "9876".into(),
        seconds: 600,
        reason: "spam".into(),
    })
    .await
    .unwrap();
    h.moderate(&ModAction::Ban {
        user_id: "9876".into(),
        reason: "no reason".into(),
    })
    .await
    .unwrap();
    let calls: Vec<HttpRequest> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    let lookups: Vec<&str> = calls.iter().take(2).map(|r| r.path.as_str()).collect();
    assert_eq!(lookups, ["/helix/users", "/helix/users?login=thechannel"]);
    assert!(
        calls
            .iter()
            .all(|r| r.head.contains("authorization: bearer good")
                && r.head.contains("client-id: abc123"))
    );
    let del = &calls[2];
    assert_eq!(del.method, "DELETE");
    assert_eq!(
        del.path,
        "/helix/moderation/chat?broadcaster_id=1234&moderator_id=5678&message_id=eb24e920-8065-492a-8aea-266a00fc5126"
    );
    let timeout = &calls[3];
    assert_eq!(
        (timeout.method.as_str(), timeout.path.as_str()),
        (
            "POST",
            "/helix/moderation/bans?broadcaster_id=1234&moderator_id=5678"
        )
    );
    let body: serde_json::Value = serde_json::from_str(&timeout.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"data": {"user_id": "9876", "duration": 600, "reason": "spam"}})
    );
    let ban: serde_json::Value = serde_json::from_str(&calls[4].body).unwrap();
    assert_eq!(
        ban,
        serde_json::json!({"data": {"user_id": "9876", "reason": "no reason"}})
    );
    assert_eq!(calls.len(), 5, "the ids are looked up once");
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_the_action_goes_through() {
    let (base, _seen) = twitch_api().await;
    let mut h = Helix::new(ends(&base), token("expired"), "thechannel").unwrap();
    h.moderate(&ModAction::Delete {
        message_id: "m1".into(),
    })
    .await
    .unwrap();
    assert_eq!(h.token().access_token, "renewed");
    assert_eq!(h.token().refresh_token, "r2");
}

#[tokio::test]
async fn a_login_that_may_not_moderate_the_channel_is_told_so() {
    let (base, _seen) = twitch_api().await;
    let mut h = Helix::new(ends(&base), token("good"), "thechannel").unwrap();
    let err = h
        .moderate(&ModAction::Ban {
            user_id: "forbidden".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        err.contains("Twitch") && err.contains("moderators") && err.contains("#thechannel"),
        "{err}"
    );
    // Nothing listening: an error naming Twitch, not a hang or a panic.
    let mut gone = Helix::new(ends("http://127.0.0.1:9"), token("good"), "x").unwrap();
    let err = gone
        .moderate(&ModAction::Delete {
            message_id: "m".into(),
        })
        .await
        .unwrap_err();
    assert!(err.contains("Twitch's API cannot be reached"), "{err}");
}
