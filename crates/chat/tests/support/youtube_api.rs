//! A local stand-in for Google's OAuth device grant and the YouTube Data API's moderation
//! calls, shared by the chat crate's tests and the CLI's (tests/bin/platform_chat_servers.rs
//! includes this file).
//!
//! Frame sources: developers.google.com/youtube/v3/guides/auth/devices (the device answer with
//! `verification_url`, `authorization_pending` with HTTP 428, the token answer: its example
//! values), …/youtube/v3/docs/videos (`liveStreamingDetails.activeLiveChatId`),
//! …/youtube/v3/live/docs/liveChatMessages/delete (204, no body), …/liveChatBans/insert (the
//! `youtube#liveChatBan` resource answered), …/youtube/v3/docs/errors (the error body, the
//! `forbidden` reason). The poll interval is 1 s, not 5.

use std::sync::atomic::{AtomicU32, Ordering};

pub const CLIENT_ID: &str = "1234567890-abc.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-not-a-real-secret";
pub const VIDEO: &str = "dQw4w9WgXcQ";
pub const CHAT_ID: &str = "Cg0KC2RRdzR3OVdnWGNR";
/// The channel whose ban the stand-in refuses, as for a login that is not the chat's moderator.
pub const PROTECTED_CHANNEL: &str = "UCforbidden";

pub const DEVICE: &str = r#"{"device_code":"4/4-GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":1}"#;
pub const PENDING: &str =
    r#"{"error":"authorization_pending","error_description":"Precondition Required"}"#;
pub const TOKEN: &str = r#"{"access_token":"1/fFAGRNJru1FTz70BzhT3Zg","expires_in":3920,"scope":"https://www.googleapis.com/auth/youtube","token_type":"Bearer","refresh_token":"1/xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI"}"#;
pub const VIDEOS: &str = r#"{"kind":"youtube#videoListResponse","etag":"x","items":[{"kind":"youtube#video","etag":"y","id":"dQw4w9WgXcQ","liveStreamingDetails":{"actualStartTime":"2026-12-05T10:00:00Z","activeLiveChatId":"Cg0KC2RRdzR3OVdnWGNR"}}],"pageInfo":{"totalResults":1,"resultsPerPage":1}}"#;
pub const UNAUTHORIZED: &str = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","errors":[{"message":"Invalid Credentials","domain":"global","reason":"authError","location":"Authorization","locationType":"header"}],"status":"UNAUTHENTICATED"}}"#;
pub const FORBIDDEN: &str = r#"{"error":{"code":403,"message":"The request is not properly authorized to create the specified ban.","errors":[{"message":"The request is not properly authorized to create the specified ban.","domain":"youtube.liveChat","reason":"forbidden"}]}}"#;

/// The `youtube#liveChatBan` resource a ban answers with.
fn ban_answer(body: &str) -> String {
    let asked: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    serde_json::json!({
        "kind": "youtube#liveChatBan",
        "etag": "e",
        "id": "ban-1",
        "snippet": asked["snippet"],
    })
    .to_string()
}

/// The answer to one request (`head` lower-cased): the device login approves on its second
/// poll (counted in `polls`) and only for [`CLIENT_SECRET`]; a token `expired` is refused
/// until renewed; a ban of [`PROTECTED_CHANNEL`] is refused.
pub fn youtube_api_answer(
    method: &str,
    path: &str,
    head: &str,
    body: &str,
    polls: &AtomicU32,
) -> (u16, String) {
    let bearer = super::bearer(head);
    let secret_ok = body.contains(&format!("client_secret={CLIENT_SECRET}"));
    match (method, path.split('?').next().unwrap_or("")) {
        ("POST", "/device/code") if body.contains("client_id=1234567890-abc") => {
            (200, DEVICE.into())
        }
        ("POST", "/device/code") => (
            401,
            r#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#
                .into(),
        ),
        ("POST", "/token") if !secret_ok => (
            401,
            r#"{"error":"invalid_client","error_description":"Unauthorized"}"#.into(),
        ),
        ("POST", "/token") if body.contains("grant_type=refresh_token") => (
            200,
            r#"{"access_token":"renewed","expires_in":3599,"scope":"https://www.googleapis.com/auth/youtube","token_type":"Bearer"}"#
                .into(),
        ),
        ("POST", "/token") => {
            if polls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                (428, PENDING.into())
            } else {
                (200, TOKEN.into())
            }
        }
        _ if bearer.is_empty() || bearer == "expired" => (401, UNAUTHORIZED.into()),
        ("GET", "/youtube/v3/videos") if path.contains(VIDEO) => (200, VIDEOS.into()),
        ("GET", "/youtube/v3/videos") => (
            200,
            r#"{"kind":"youtube#videoListResponse","items":[],"pageInfo":{"totalResults":0}}"#
                .into(),
        ),
        ("DELETE", "/youtube/v3/liveChat/messages") => (204, String::new()),
        ("POST", "/youtube/v3/liveChat/bans") if body.contains(PROTECTED_CHANNEL) => {
            (403, FORBIDDEN.into())
        }
        ("POST", "/youtube/v3/liveChat/bans") => (200, ban_answer(body)),
        _ => (
            404,
            r#"{"error":{"code":404,"message":"Not Found","errors":[{"reason":"notFound"}]}}"#
                .into(),
        ),
    }
}
