//! Moderating a YouTube live chat with the streamer's (or a channel moderator's) Google login:
//! delete a message (`liveChatMessages.delete`, 204), ban a channel for a while or for good
//! (`liveChatBans.insert` with `type` temporary + `banDurationSeconds`, or permanent). Per
//! developers.google.com/youtube/v3/live/docs/liveChatMessages/delete and
//! …/liveChatBans/insert. Both need the `youtube` (or `youtube.force-ssl`) scope; the live
//! chat's id comes from `videos.list` (1 unit) with the same login. Each action costs 50 quota
//! units of the login's own Google project, not the reading key's.
//!
//! The login is OAuth's device grant at Google (developers.google.com/youtube/v3/guides/auth/
//! devices): a client of type "TVs and Limited Input devices" from the streamer's own Google
//! Cloud project. An expired access token (they last an hour) is renewed once with the
//! refresh token; every refusal names YouTube and what to do.

use super::page::{ChatId, parse_chat_id, parse_error};
use crate::http::query_escape;
use crate::moderation::ModAction;
use crate::oauth::{self, BearerClient, DeviceFlow, OAuthToken};

pub const OAUTH_URL: &str = "https://oauth2.googleapis.com";
/// Manage the account's YouTube: the narrowest scope the device grant allows that covers
/// deleting chat messages and banning.
pub const SCOPE: &str = "https://www.googleapis.com/auth/youtube";

/// Google's device grant at `oauth_url` (`https://oauth2.googleapis.com`, or a local server).
pub fn flow(oauth_url: &str, client_id: &str, client_secret: &str) -> DeviceFlow {
    let base = oauth_url.trim_end_matches('/');
    DeviceFlow {
        platform: "YouTube",
        device_url: format!("{base}/device/code"),
        token_url: format!("{base}/token"),
        scope_field: "scope",
        scopes: SCOPE,
        scopes_on_poll: false,
        client_id: client_id.trim().to_string(),
        client_secret: client_secret.trim().to_string(),
        register_hint: "an OAuth client of type “TVs and Limited Input devices” from \
                        console.cloud.google.com, in a project with the YouTube Data API v3 on",
    }
}

/// The endpoints (Google's, or local servers in tests).
#[derive(Debug, Clone)]
pub struct YoutubeModEndpoints {
    /// The Data API root (`…/youtube/v3`).
    pub api: String,
    pub oauth: String,
}

impl Default for YoutubeModEndpoints {
    fn default() -> Self {
        Self {
            api: super::DEFAULT_URL.into(),
            oauth: OAUTH_URL.into(),
        }
    }
}

/// A moderator's session on one live video's chat.
pub struct YoutubeMod {
    ends: YoutubeModEndpoints,
    api: BearerClient,
    video_id: String,
    /// The video's live chat, looked up once.
    chat_id: Option<String>,
}

impl YoutubeMod {
    pub fn new(
        ends: YoutubeModEndpoints,
        token: OAuthToken,
        video_id: &str,
    ) -> Result<Self, String> {
        let token_url = format!("{}/token", ends.oauth.trim_end_matches('/'));
        let api = BearerClient::new("YouTube", token, token_url, Vec::new(), &ends.api)?;
        Ok(Self {
            ends,
            api,
            video_id: video_id.to_string(),
            chat_id: None,
        })
    }

    /// The token now (a renewed one must be stored again by the caller).
    pub fn token(&self) -> &OAuthToken {
        self.api.token()
    }

    /// Carries out `action`; `Ok` once YouTube confirmed it.
    pub async fn moderate(&mut self, action: &ModAction) -> Result<(), String> {
        let api = self.ends.api.trim_end_matches('/').to_string();
        let ban = |chat: &str, user: &str, seconds: Option<u32>| {
            let mut snippet = serde_json::json!({
                "liveChatId": chat,
                "type": if seconds.is_some() { "temporary" } else { "permanent" },
                "bannedUserDetails": {"channelId": user},
            });
            if let Some(s) = seconds {
                snippet["banDurationSeconds"] = s.max(1).into();
            }
            serde_json::to_vec(&serde_json::json!({ "snippet": snippet })).unwrap_or_default()
        };
        let (method, url, body) = match action {
            ModAction::Delete { message_id } => (
                hyper::Method::DELETE,
                format!("{api}/liveChat/messages?id={}", query_escape(message_id)),
                Vec::new(),
            ),
            ModAction::Timeout {
                user_id, seconds, ..
            } => {
                let chat = self.chat_id().await?;
                (
                    hyper::Method::POST,
                    format!("{api}/liveChat/bans?part=snippet"),
                    ban(&chat, user_id, Some(*seconds)),
                )
            }
            ModAction::Ban { user_id, .. } => {
                let chat = self.chat_id().await?;
                (
                    hyper::Method::POST,
                    format!("{api}/liveChat/bans?part=snippet"),
                    ban(&chat, user_id, None),
                )
            }
        };
        let (status, answer) = self.api.call(method, &url, body).await?;
        match status {
            200..=299 => Ok(()),
            _ => Err(refusal(status, &answer)),
        }
    }

    async fn chat_id(&mut self) -> Result<String, String> {
        if let Some(id) = &self.chat_id {
            return Ok(id.clone());
        }
        let url = format!(
            "{}/videos?part=liveStreamingDetails&id={}",
            self.ends.api.trim_end_matches('/'),
            query_escape(&self.video_id)
        );
        let (status, body) = self.api.call(hyper::Method::GET, &url, Vec::new()).await?;
        if status != 200 {
            return Err(refusal(status, &body));
        }
        match parse_chat_id(&body) {
            ChatId::Active(id) => {
                self.chat_id = Some(id.clone());
                Ok(id)
            }
            ChatId::None => Err(format!(
                "YouTube: video {} has no live chat now (not live, or its chat is off)",
                self.video_id
            )),
            ChatId::NoVideo => Err(format!(
                "YouTube has no video {} this login can see",
                self.video_id
            )),
        }
    }
}

/// Runs Google's device login until the streamer approved (or it failed).
pub async fn device_login(
    oauth_url: &str,
    client_id: &str,
    client_secret: &str,
    show_code: impl FnMut(&str, &str),
) -> Result<OAuthToken, String> {
    oauth::device_login(flow(oauth_url, client_id, client_secret), show_code).await
}

/// What a refusal means for the streamer (the reasons of the API's error reference).
fn refusal(status: u16, body: &[u8]) -> String {
    let (reason, message) = parse_error(body).unwrap_or_default();
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    };
    match (status, reason.as_str()) {
        (401, _) => format!(
            "YouTube: the login expired or was revoked{said}: log in again in Settings → Chat sources"
        ),
        (403, "quotaExceeded" | "dailyLimitExceeded") => format!(
            "YouTube: the login's project has used its quota for today{said}: it resets at \
             midnight Pacific time"
        ),
        (403, "insufficientPermissions") => format!(
            "YouTube: the login lacks the permission to moderate{said}: log in again and allow \
             managing the YouTube account"
        ),
        (403, _) => format!(
            "YouTube: this login may not moderate this chat{said}: log in as the channel or one of \
             its moderators"
        ),
        (404, _) => format!("YouTube: the message, channel or chat is gone{said}"),
        (400, _) => format!("YouTube refused the action{said}"),
        _ => format!("YouTube answered HTTP {status}{said}: try again later"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_youtube_and_what_to_do() {
        // The error body shape of developers.google.com/youtube/v3/docs/errors.
        let forbidden = br#"{"error":{"code":403,"message":"The request is not properly authorized to delete the specified live chat message.","errors":[{"message":"The request is not properly authorized to delete the specified live chat message.","domain":"youtube.liveChat","reason":"forbidden"}]}}"#;
        let m = refusal(403, forbidden);
        assert!(
            m.starts_with("YouTube: this login may not moderate")
                && m.contains("not properly authorized"),
            "{m}"
        );
        let quota =
            br#"{"error":{"code":403,"message":"quota","errors":[{"reason":"quotaExceeded"}]}}"#;
        assert!(refusal(403, quota).contains("midnight Pacific"));
        assert!(refusal(401, b"").contains("log in again"));
        assert!(refusal(500, b"\xff").contains("HTTP 500"));
    }
}
