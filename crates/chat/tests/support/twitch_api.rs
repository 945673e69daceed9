//! A local stand-in for id.twitch.tv and the Helix API, shared by the chat crate's tests and
//! `tests/bin/platform_chat_servers.rs` (which includes this file).
//!
//! Frame sources: dev.twitch.tv/docs/authentication/getting-tokens-oauth/#device-code-grant-flow
//! (the device answer, `authorization_pending`, the token answer) and
//! dev.twitch.tv/docs/api/reference (#get-users, #delete-chat-messages: 204, #ban-user: the
//! request body and its 200 answer, the error body `{"error","status","message"}`). Ids are the
//! docs' (1234 broadcaster, 5678 moderator, 9876 user); the poll interval is 1 s, not 5.

use std::sync::atomic::{AtomicU32, Ordering};

pub const DEVICE: &str = r#"{"device_code":"ike3GM8QIdYZs43KdrWPIO36LofILoCyFEzjlQ91","expires_in":1800,"interval":1,"user_code":"ABCDEFGH","verification_uri":"https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH"}"#;
pub const PENDING: &str = r#"{"status":400,"message":"authorization_pending"}"#;
pub const TOKEN: &str = r#"{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,"refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01","scope":["moderator:manage:chat_messages","moderator:manage:banned_users"],"token_type":"bearer"}"#;
pub const ME: &str = r#"{"data":[{"id":"5678","login":"themod","display_name":"TheMod","type":"","broadcaster_type":"","description":"","profile_image_url":"","offline_image_url":"","view_count":0,"created_at":"2016-12-14T20:32:28Z"}]}"#;
pub const CHANNEL: &str = r#"{"data":[{"id":"1234","login":"thechannel","display_name":"TheChannel","type":"","broadcaster_type":"partner","description":"","profile_image_url":"","offline_image_url":"","view_count":0,"created_at":"2016-12-14T20:32:28Z"}]}"#;
pub const BANNED: &str = r#"{"data":[{"broadcaster_id":"1234","moderator_id":"5678","user_id":"9876","created_at":"2021-09-28T19:27:31Z","end_time":"2021-09-28T19:22:31Z"}]}"#;
pub const UNAUTHORIZED: &str =
    r#"{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}"#;
pub const FORBIDDEN: &str = r#"{"error":"Forbidden","status":403,"message":"The user in moderator_id is not one of the broadcaster's moderators."}"#;

/// The answer to one request (`head` lower-cased): the device login approves on its second
/// poll (counted in `polls`); a token `expired` is refused until renewed; a ban of the user
/// `forbidden` is refused as for a login that does not moderate the channel.
pub fn twitch_api_answer(
    method: &str,
    path: &str,
    head: &str,
    body: &str,
    polls: &AtomicU32,
) -> (u16, String) {
    let bearer = super::bearer(head);
    match (method, path.split('?').next().unwrap_or("")) {
        ("POST", "/oauth2/device") => (200, DEVICE.into()),
        ("POST", "/oauth2/token") if body.contains("grant_type=refresh_token") => (
            200,
            r#"{"access_token":"renewed","refresh_token":"r2","scope":[],"token_type":"bearer"}"#
                .into(),
        ),
        ("POST", "/oauth2/token") => {
            if polls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                (400, PENDING.into())
            } else {
                (200, TOKEN.into())
            }
        }
        _ if bearer.is_empty() || bearer == "expired" => (401, UNAUTHORIZED.into()),
        ("GET", "/helix/users") if path.contains("login=") => (200, CHANNEL.into()),
        ("GET", "/helix/users") => (200, ME.into()),
        ("DELETE", "/helix/moderation/chat") => (204, String::new()),
        ("POST", "/helix/moderation/bans") if body.contains("\"forbidden\"") => {
            (403, FORBIDDEN.into())
        }
        ("POST", "/helix/moderation/bans") => (200, BANNED.into()),
        _ => (
            404,
            r#"{"error":"Not Found","status":404,"message":""}"#.into(),
        ),
    }
}
