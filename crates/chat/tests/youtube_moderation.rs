//! Moderating a YouTube live chat from Marquee against a local server answering as Google's
//! OAuth device grant and the Data API do (support/youtube_api.rs, frames from Google's docs):
//! the device login with the client's secret, then delete / temporary ban / permanent ban in
//! the video's live chat, a token renewed once when it expired, and refusals.

#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::moderation::ModAction;
use marquee_chat::oauth::OAuthToken;
use marquee_chat::youtube::moderate::{YoutubeMod, YoutubeModEndpoints, device_login};
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use support::youtube_api::*;
use support::*;

/// Google's OAuth and the Data API on one local server.
async fn google() -> (String, tokio::sync::mpsc::UnboundedReceiver<HttpRequest>) {
    let polls = Arc::new(AtomicU32::new(0));
    http_server_with(move |r| youtube_api_answer(&r.method, &r.path, &r.head, &r.body, &polls))
        .await
}

fn ends(base: &str) -> YoutubeModEndpoints {
    YoutubeModEndpoints {
        api: format!("{base}/youtube/v3"),
        oauth: base.to_string(),
    }
}

fn token(access: &str) -> OAuthToken {
    OAuthToken {
        access_token: access.into(),
        refresh_token: "1/xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI".into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    }
}

#[tokio::test]
async fn the_device_login_shows_googles_code_and_keeps_the_client_to_renew_the_token() {
    let (base, mut seen) = google().await;
    let mut shown = Vec::new();
    let t = device_login(&base, CLIENT_ID, CLIENT_SECRET, |code, uri| {
        shown.push((code.to_string(), uri.to_string()))
    })
    .await
    .unwrap();
    assert_eq!(t, token("1/fFAGRNJru1FTz70BzhT3Zg"));
    assert_eq!(
        shown,
        vec![(
            "GQVQ-JKEC".to_string(),
            "https://www.google.com/device".to_string()
        )]
    );
    let asks: Vec<HttpRequest> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    assert_eq!(asks.len(), 3, "device, pending (428), token: {asks:?}");
    assert!(!asks[0].body.contains("client_secret"), "{}", asks[0].body);
    assert!(asks[1].body.contains("client_secret="));
}

#[tokio::test]
async fn a_wrong_client_secret_fails_the_login_naming_youtube_and_where_to_get_a_client() {
    let (base, _seen) = google().await;
    let err = device_login(&base, CLIENT_ID, "wrong", |_, _| {})
        .await
        .unwrap_err();
    assert!(
        err.starts_with("YouTube: ") && err.contains("console.cloud.google.com"),
        "{err}"
    );
    assert!(
        !err.contains("wrong"),
        "the secret is never repeated: {err}"
    );
}

#[tokio::test]
async fn delete_and_bans_reach_the_data_api_as_its_reference_describes() {
    let (base, mut seen) = google().await;
    let mut m = YoutubeMod::new(ends(&base), token("good"), VIDEO).unwrap();
    m.moderate(&ModAction::Delete {
        message_id: "LCC.abc/def".into(),
    })
    .await
    .unwrap();
    m.moderate(&ModAction::Timeout {
        user_id: "UCtimeout".into(),
        seconds: 300,
        reason: String::new(),
    })
    .await
    .unwrap();
    m.moderate(&ModAction::Ban {
        user_id: "UCban".into(),
        reason: String::new(),
    })
    .await
    .unwrap();
    let calls: Vec<HttpRequest> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    assert!(
        calls
            .iter()
            .all(|r| r.head.contains("authorization: bearer good"))
    );
    let paths: Vec<(&str, &str)> = (calls.iter())
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("DELETE", "/youtube/v3/liveChat/messages?id=LCC.abc%2Fdef"),
            (
                "GET",
                "/youtube/v3/videos?part=liveStreamingDetails&id=dQw4w9WgXcQ"
            ),
            ("POST", "/youtube/v3/liveChat/bans?part=snippet"),
            ("POST", "/youtube/v3/liveChat/bans?part=snippet"),
        ],
        "the live chat is looked up once, when a ban first needs it"
    );
    let body = |i: usize| serde_json::from_str::<serde_json::Value>(&calls[i].body).unwrap();
    assert_eq!(
        body(2),
        serde_json::json!({"snippet": {
            "liveChatId": CHAT_ID, "type": "temporary", "banDurationSeconds": 300,
            "bannedUserDetails": {"channelId": "UCtimeout"},
        }})
    );
    assert_eq!(
        body(3),
        serde_json::json!({"snippet": {
            "liveChatId": CHAT_ID, "type": "permanent",
            "bannedUserDetails": {"channelId": "UCban"},
        }})
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_with_the_client_secret_and_the_action_goes_through() {
    let (base, mut seen) = google().await;
    let mut m = YoutubeMod::new(ends(&base), token("expired"), VIDEO).unwrap();
    m.moderate(&ModAction::Delete {
        message_id: "m1".into(),
    })
    .await
    .unwrap();
    assert_eq!(m.token().access_token, "renewed");
    assert_eq!(
        m.token().refresh_token,
        token("x").refresh_token,
        "Google sends no new refresh token: the old one stays"
    );
    let calls: Vec<HttpRequest> = std::iter::from_fn(|| seen.try_recv().ok()).collect();
    assert!(calls[1].body.contains("grant_type=refresh_token"));
    assert!(calls[1].body.contains("client_secret="));
}

#[tokio::test]
async fn a_login_that_may_not_moderate_a_video_with_no_chat_or_no_server_is_told_so() {
    let (base, _seen) = google().await;
    let mut m = YoutubeMod::new(ends(&base), token("good"), VIDEO).unwrap();
    let err = m
        .moderate(&ModAction::Ban {
            user_id: PROTECTED_CHANNEL.into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        err.starts_with("YouTube: this login may not moderate") && err.contains("moderators"),
        "{err}"
    );
    let mut none = YoutubeMod::new(ends(&base), token("good"), "nosuchvideo").unwrap();
    let err = none
        .moderate(&ModAction::Ban {
            user_id: "UCx".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.contains("no video nosuchvideo"), "{err}");
    let mut gone = YoutubeMod::new(ends("http://127.0.0.1:9"), token("good"), VIDEO).unwrap();
    let err = gone
        .moderate(&ModAction::Delete {
            message_id: "m".into(),
        })
        .await
        .unwrap_err();
    assert!(err.contains("YouTube's API cannot be reached"), "{err}");
}
