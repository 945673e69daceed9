//! Moderating a Twitch channel through the Helix API with the streamer's (or a moderator's)
//! token: delete a message, time a user out, ban them. Per dev.twitch.tv/docs/api/reference:
//! Get Users (`GET /users`), Delete Chat Messages (`DELETE /moderation/chat`, 204), Ban User
//! (`POST /moderation/bans`, a `duration` makes it a timeout). An expired token is renewed
//! once with its refresh token; every refusal becomes a message naming Twitch and what to do.

use super::login::{FormPost, TwitchToken, refresh_request, refreshed};
use crate::http::{self, Request};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub const API_URL: &str = "https://api.twitch.tv/helix";
const MAX_BODY: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// What to do to a chatter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModAction {
    /// Delete one message (its IRC `id` tag).
    Delete {
        message_id: String,
    },
    /// Keep the user out of chat for `seconds` (1 s to 14 days).
    Timeout {
        user_id: String,
        seconds: u32,
        reason: String,
    },
    Ban {
        user_id: String,
        reason: String,
    },
}

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
    token: TwitchToken,
    tls: Option<Arc<rustls::ClientConfig>>,
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
        let tls = if ends.api.starts_with("https") || ends.id.starts_with("https") {
            Some(crate::tls::client_config()?)
        } else {
            None
        };
        Ok(Self {
            ends,
            token,
            tls,
            channel: channel.trim_start_matches('#').to_ascii_lowercase(),
            ids: None,
        })
    }

    /// The token now (renewed tokens must be stored again by the caller).
    pub fn token(&self) -> &TwitchToken {
        &self.token
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
        let (status, answer) = self.call(method, &url, body).await?;
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
        let (status, body) = self.call(hyper::Method::GET, &url, Vec::new()).await?;
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

    /// One call, renewing the token once if Twitch says it expired.
    async fn call(
        &mut self,
        method: hyper::Method,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let first = self.send(method.clone(), url, body.clone()).await?;
        if first.0 != 401 || self.token.refresh_token.is_empty() {
            return Ok(first);
        }
        let form = refresh_request(&self.ends.id, &self.token);
        let (status, answer) = self.post_form(&form).await?;
        match refreshed(&self.token, status, &answer) {
            Some(t) => self.token = t,
            None => return Ok(first),
        }
        self.send(method, url, body).await
    }

    async fn send(
        &self,
        method: hyper::Method,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut headers = vec![
            (
                "authorization",
                format!("Bearer {}", self.token.access_token),
            ),
            ("client-id", self.token.client_id.clone()),
        ];
        if !body.is_empty() {
            headers.push(("content-type", "application/json".into()));
        }
        let req = Request {
            method,
            headers,
            body,
        };
        http::send(url, req, self.tls.as_ref(), MAX_BODY, TIMEOUT)
            .await
            .map_err(|e| format!("Twitch's API cannot be reached: {e}"))
    }

    async fn post_form(&self, form: &FormPost) -> Result<(u16, Vec<u8>), String> {
        post_form(form, self.tls.as_ref()).await
    }
}

/// Runs the device login against `id_url` until the streamer approved (or it failed),
/// telling `show_code(code, uri)` what to show once Twitch gave a code.
pub async fn device_login(
    id_url: &str,
    client_id: &str,
    mut show_code: impl FnMut(&str, &str),
) -> Result<TwitchToken, String> {
    use super::login::{DeviceLogin, LoginState};
    let tls = if id_url.starts_with("https") {
        Some(crate::tls::client_config()?)
    } else {
        None
    };
    let mut login = DeviceLogin::new(id_url, client_id);
    loop {
        let now = std::time::Instant::now();
        if let Some(form) = login.poll_request(now) {
            let (status, body) = post_form(&form, tls.as_ref()).await?;
            let was_waiting = matches!(login.state(), LoginState::Waiting { .. });
            login.on_answer(std::time::Instant::now(), status, &body);
            if let (false, LoginState::Waiting { code, uri }) = (was_waiting, login.state()) {
                show_code(code, uri);
            }
            continue;
        }
        match login.state() {
            LoginState::Done(t) => return Ok(t.clone()),
            LoginState::Failed(why) => return Err(why.clone()),
            _ => {}
        }
        let wake = login.next_wake().unwrap_or(now + Duration::from_secs(1));
        tokio::time::sleep_until(wake.into()).await;
    }
}

/// Sends a login or refresh form.
pub async fn post_form(
    form: &FormPost,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(u16, Vec<u8>), String> {
    let req = Request {
        method: hyper::Method::POST,
        headers: vec![(
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        )],
        body: form.body().into_bytes(),
    };
    http::send(&form.url, req, tls, MAX_BODY, TIMEOUT)
        .await
        .map_err(|e| format!("Twitch's login cannot be reached: {e}"))
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

/// Escapes a query value (ids and logins are plain, but never trust them).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
