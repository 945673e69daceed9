//! Moderating a Twitch channel through the Helix API with the streamer's (or a moderator's)
//! token: delete a message, time a user out, ban them. Per dev.twitch.tv/docs/api/reference:
//! Get Users (`GET /users`), Delete Chat Messages (`DELETE /moderation/chat`, 204), Ban User
//! (`POST /moderation/bans`, a `duration` makes it a timeout). An expired token is renewed
//! once with its refresh token; every refusal becomes a message naming Twitch and what to do.

use super::login::TwitchToken;
use crate::http::query_escape;
pub use crate::moderation::ModAction;
use crate::oauth::{self, BearerClient};
use serde::Deserialize;

pub const API_URL: &str = "https://api.twitch.tv/helix";

/// The endpoints (Twitch's own, or local servers in tests).
#[derive(Debug, Clone)]
pub struct HelixEndpoints {
    pub api: String,
    pub id: String,
}

impl Default for HelixEndpoints {
    fn default() -> Self {
        Self {
            api: API_URL.into(),
            id: super::login::ID_URL.into(),
        }
    }
}

/// A moderator's session on one channel.
pub struct Helix {
    ends: HelixEndpoints,
    api: BearerClient,
    channel: String,
    /// (broadcaster id, moderator id), looked up once.
    ids: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Users {
    data: Vec<UserEntry>,
}

#[derive(Deserialize)]
struct UserEntry {
    id: String,
}

#[derive(Deserialize)]
struct HelixError {
    #[serde(default)]
    message: String,
}

impl Helix {
    pub fn new(ends: HelixEndpoints, token: TwitchToken, channel: &str) -> Result<Self, String> {
        let client = vec![("client-id", token.client_id.clone())];
        let token_url = format!("{}/oauth2/token", ends.id.trim_end_matches('/'));
        let api = BearerClient::new("Twitch", token, token_url, client, &ends.api)?;
        Ok(Self {
            ends,
            api,
            channel: channel.trim_start_matches('#').to_ascii_lowercase(),
            ids: None,
        })
    }

    /// The token now (renewed tokens must be stored again by the caller).
    pub fn token(&self) -> &TwitchToken {
        self.api.token()
    }

    /// Carries out `action`; `Ok` once Twitch confirmed it.
    pub async fn moderate(&mut self, action: &ModAction) -> Result<(), String> {
        let (broadcaster, moderator) = self.ids().await?;
        let q = format!("broadcaster_id={broadcaster}&moderator_id={moderator}");
        let (method, url, body) = match action {
            ModAction::Delete { message_id } => (
                hyper::Method::DELETE,
                format!(
                    "{}/moderation/chat?{q}&message_id={}",
                    self.ends.api,
                    query_escape(message_id)
                ),
                Vec::new(),
            ),
            ModAction::Timeout {
                user_id,
                seconds,
                reason,
            } => (
                hyper::Method::POST,
                format!("{}/moderation/bans?{q}", self.ends.api),
                serde_json::to_vec(&serde_json::json!({"data": {
                    "user_id": user_id, "duration": (*seconds).clamp(1, 1_209_600), "reason": reason,
                }}))
                .unwrap_or_default(),
            ),
            ModAction::Ban { user_id, reason } => (
                hyper::Method::POST,
                format!("{}/moderation/bans?{q}", self.ends.api),
                serde_json::to_vec(&serde_json::json!({"data": {
                    "user_id": user_id, "reason": reason,
                }}))
                .unwrap_or_default(),
            ),
        };
        let (status, answer) = self.api.call(method, &url, body).await?;
        match status {
            200..=299 => Ok(()),
            _ => Err(refusal(status, &answer, &self.channel)),
        }
    }

    async fn ids(&mut self) -> Result<(String, String), String> {
        if let Some(ids) = &self.ids {
            return Ok(ids.clone());
        }
        let me = self.user(None).await?;
        let broadcaster = self.user(Some(&self.channel.clone())).await?;
        let ids = (broadcaster, me);
        self.ids = Some(ids.clone());
        Ok(ids)
    }

    /// The id of `login`, or of the token's own user.
    async fn user(&mut self, login: Option<&str>) -> Result<String, String> {
        let url = match login {
            Some(l) => format!("{}/users?login={}", self.ends.api, query_escape(l)),
            None => format!("{}/users", self.ends.api),
        };
        let (status, body) = self.api.call(hyper::Method::GET, &url, Vec::new()).await?;
        if status != 200 {
            return Err(refusal(status, &body, &self.channel));
        }
        let users: Users = serde_json::from_slice(&body)
            .map_err(|_| "Twitch's user lookup was not understood".to_string())?;
        match (users.data.into_iter().next(), login) {
            (Some(u), _) => Ok(u.id),
            (None, Some(l)) => Err(format!("Twitch has no channel named '{l}'")),
            (None, None) => Err("Twitch did not say whose the login is: log in again".into()),
        }
    }
}

/// Runs the device login against `id_url` until the streamer approved (or it failed),
/// telling `show_code(code, uri)` what to show once Twitch gave a code.
pub async fn device_login(
    id_url: &str,
    client_id: &str,
    show_code: impl FnMut(&str, &str),
) -> Result<TwitchToken, String> {
    oauth::device_login(super::login::flow(id_url, client_id), show_code).await
}

/// What a refusal means for the streamer.
fn refusal(status: u16, body: &[u8], channel: &str) -> String {
    let said = serde_json::from_slice::<HelixError>(body)
        .map(|e| e.message)
        .unwrap_or_default();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(" ({said})")
    };
    match status {
        401 => format!(
            "Twitch: the login expired or was revoked{said}: log in again in Settings → Chat sources"
        ),
        403 => format!(
            "Twitch: this login may not moderate #{channel}{said}: log in as the streamer or one of \
             the channel's moderators"
        ),
        404 => format!("Twitch: the message or user is gone{said}"),
        429 => format!("Twitch: too many moderation calls at once{said}: try again in a moment"),
        400 => format!("Twitch refused the action{said}"),
        _ => format!("Twitch answered HTTP {status}{said}: try again later"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_twitch_and_what_to_do() {
        let body = br#"{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}"#;
        let m = refusal(401, body, "abc");
        assert!(
            m.contains("log in again") && m.contains("Invalid OAuth token"),
            "{m}"
        );
        assert!(refusal(403, b"", "abc").contains("#abc"));
        assert!(refusal(500, b"\xff", "abc").contains("HTTP 500"));
        assert_eq!(query_escape("a b&c"), "a%20b%26c");
    }
}
