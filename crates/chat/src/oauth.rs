//! OAuth's device authorization grant (RFC 8628), the flow Twitch and Google offer an app that
//! cannot keep a secret and runs no redirect server (a desktop app, a CLI on a headless box):
//! ask for a code, show it with the address to type it at, poll until the streamer approved.
//! Each platform is a [`DeviceFlow`] (its endpoints, scopes and client); [`DeviceLogin`] is
//! sans-IO: it says which form to send and when, and takes the answers.

use crate::http::{self, Request};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_BODY: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A user access token and what renews it; kept in the OS keychain as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthToken {
    pub access_token: String,
    pub refresh_token: String,
    /// The application the token was issued to (Twitch wants it beside every call).
    pub client_id: String,
    /// Google's installed-app "secret" (not confidential by Google's own account, but still
    /// kept only in the keychain); empty for Twitch's public clients.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret: String,
}

/// One platform's device grant: where to ask, what for, as which application.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceFlow {
    /// Named in every message ("Twitch", "YouTube").
    pub platform: &'static str,
    pub device_url: String,
    pub token_url: String,
    /// The form field carrying the scopes (`scopes` at Twitch, `scope` at Google).
    pub scope_field: &'static str,
    pub scopes: &'static str,
    /// Twitch wants the scopes again on each poll.
    pub scopes_on_poll: bool,
    pub client_id: String,
    pub client_secret: String,
    /// Where the streamer gets a client, for the message when it is refused.
    pub register_hint: &'static str,
}

impl std::fmt::Debug for DeviceFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceFlow")
            .field("platform", &self.platform)
            .field("device_url", &self.device_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// A form POST the caller sends to `url` (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPost {
    pub url: String,
    pub form: Vec<(&'static str, String)>,
}

impl FormPost {
    pub fn body(&self) -> String {
        self.form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `application/x-www-form-urlencoded` escaping (space as `+`, as the form encoding has it).
fn form_escape(s: &str) -> String {
    const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'*')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(s, FORM)
        .to_string()
        .replace(' ', "+")
}

/// Where the login stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginState {
    /// Asking for a code.
    Starting,
    /// Show this to the streamer: open `uri` and enter `code`.
    Waiting {
        code: String,
        uri: String,
    },
    Done(OAuthToken),
    Failed(String),
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    expires_in: u64,
    #[serde(default = "five")]
    interval: u64,
    user_code: String,
    /// Google names it `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
}

fn five() -> u64 {
    5
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: String,
}

/// Twitch says what went wrong in `message`, RFC 6749/8628 servers (Google) in `error`.
#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: serde_json::Value,
    #[serde(default)]
    message: String,
}

fn error_code(body: &[u8]) -> String {
    let e: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    match e.error {
        serde_json::Value::String(s) if !s.is_empty() => s,
        _ => e.message,
    }
}

/// The device code grant, sans-IO.
#[derive(Debug)]
pub struct DeviceLogin {
    flow: DeviceFlow,
    state: LoginState,
    device_code: Option<String>,
    interval: Duration,
    expires: Option<Instant>,
    next_poll: Option<Instant>,
    /// A request is out: no other until its answer.
    in_flight: bool,
}

impl DeviceLogin {
    pub fn new(flow: DeviceFlow) -> Self {
        Self {
            flow,
            state: LoginState::Starting,
            device_code: None,
            interval: Duration::from_secs(5),
            expires: None,
            next_poll: None,
            in_flight: false,
        }
    }

    pub fn state(&self) -> &LoginState {
        &self.state
    }

    fn fail(&mut self, why: String) {
        self.state = LoginState::Failed(format!("{}: {why}", self.flow.platform));
    }

    /// The request to send now, if any (then wait for its answer).
    pub fn poll_request(&mut self, now: Instant) -> Option<FormPost> {
        if self.in_flight || matches!(self.state, LoginState::Done(_) | LoginState::Failed(_)) {
            return None;
        }
        if self.expires.is_some_and(|e| now >= e) {
            self.fail("the code expired before it was entered: log in again".into());
            return None;
        }
        let f = &self.flow;
        let post = match &self.device_code {
            None => FormPost {
                url: f.device_url.clone(),
                form: vec![
                    ("client_id", f.client_id.clone()),
                    (f.scope_field, f.scopes.into()),
                ],
            },
            Some(device_code) => {
                if self.next_poll.is_some_and(|t| now < t) {
                    return None;
                }
                let mut form = vec![("client_id", f.client_id.clone())];
                if !f.client_secret.is_empty() {
                    form.push(("client_secret", f.client_secret.clone()));
                }
                if f.scopes_on_poll {
                    form.push((f.scope_field, f.scopes.into()));
                }
                form.push(("device_code", device_code.clone()));
                form.push((
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:device_code".into(),
                ));
                FormPost {
                    url: f.token_url.clone(),
                    form,
                }
            }
        };
        self.in_flight = true;
        Some(post)
    }

    /// When [`DeviceLogin::poll_request`] next has something to send.
    pub fn next_wake(&self) -> Option<Instant> {
        match self.state {
            LoginState::Waiting { .. } if !self.in_flight => self.next_poll,
            _ => None,
        }
    }

    /// The answer to the last request: its HTTP status and body.
    pub fn on_answer(&mut self, now: Instant, status: u16, body: &[u8]) {
        self.in_flight = false;
        let platform = self.flow.platform;
        if self.device_code.is_none() {
            match (status, serde_json::from_slice::<DeviceAnswer>(body)) {
                (200, Ok(d)) => {
                    self.interval = Duration::from_secs(d.interval.clamp(1, 60));
                    self.expires = Some(now + Duration::from_secs(d.expires_in.min(3600)));
                    self.next_poll = Some(now + self.interval);
                    self.device_code = Some(d.device_code);
                    self.state = LoginState::Waiting {
                        code: d.user_code,
                        uri: d.verification_uri,
                    };
                }
                (200, Err(_)) => {
                    self.fail("the answer to the login was not understood: try again".into())
                }
                (400 | 401 | 403, _) => {
                    let hint = self.flow.register_hint;
                    self.fail(format!(
                        "the application's client was refused ({}): check its client ID in \
                         Settings → Chat sources ({hint})",
                        error_code(body)
                    ))
                }
                _ => self.fail(format!(
                    "the login was answered with HTTP {status}: try again later"
                )),
            }
            return;
        }
        if status == 200 {
            match serde_json::from_slice::<TokenAnswer>(body) {
                Ok(t) => {
                    self.state = LoginState::Done(OAuthToken {
                        access_token: t.access_token,
                        refresh_token: t.refresh_token,
                        client_id: self.flow.client_id.clone(),
                        client_secret: self.flow.client_secret.clone(),
                    })
                }
                Err(_) => self.fail("the token answer was not understood: try again".into()),
            }
            return;
        }
        match error_code(body).as_str() {
            "authorization_pending" => self.next_poll = Some(now + self.interval),
            "slow_down" => {
                self.interval += Duration::from_secs(5);
                self.next_poll = Some(now + self.interval);
            }
            "access_denied" => self.fail("the login was declined on the activation page".into()),
            "expired_token" | "invalid device code" => {
                self.fail("the code expired before it was entered: log in again".into())
            }
            "invalid_client" => {
                let hint = self.flow.register_hint;
                self.fail(format!(
                    "the application's client ID or secret was refused: check them in Settings → \
                     Chat sources ({hint})"
                ))
            }
            other => {
                let other = if other.is_empty() {
                    String::new()
                } else {
                    format!(", {other}")
                };
                self.state = LoginState::Failed(format!(
                    "{platform} refused the login (HTTP {status}{other}): try again"
                ))
            }
        }
    }
}

/// The form that renews `token` at `token_url`.
pub fn refresh_request(token_url: &str, token: &OAuthToken) -> FormPost {
    let mut form = vec![("client_id", token.client_id.clone())];
    if !token.client_secret.is_empty() {
        form.push(("client_secret", token.client_secret.clone()));
    }
    form.push(("grant_type", "refresh_token".into()));
    form.push(("refresh_token", token.refresh_token.clone()));
    FormPost {
        url: token_url.to_string(),
        form,
    }
}

/// The renewed token from a refresh answer (`None`: log in again). A server that sends no
/// new refresh token (Google never does) leaves the old one in place.
pub fn refreshed(token: &OAuthToken, status: u16, body: &[u8]) -> Option<OAuthToken> {
    if status != 200 {
        return None;
    }
    let t: TokenAnswer = serde_json::from_slice(body).ok()?;
    Some(OAuthToken {
        access_token: t.access_token,
        refresh_token: if t.refresh_token.is_empty() {
            token.refresh_token.clone()
        } else {
            t.refresh_token
        },
        ..token.clone()
    })
}

/// The TLS config a URL needs (none for a local `http://` server in tests).
pub fn tls_for(urls: &[&str]) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    if urls.iter().any(|u| u.starts_with("https")) {
        Ok(Some(crate::tls::client_config()?))
    } else {
        Ok(None)
    }
}

/// Runs the device login until the streamer approved (or it failed), telling
/// `show_code(code, uri)` what to show once the platform gave a code.
pub async fn device_login(
    flow: DeviceFlow,
    mut show_code: impl FnMut(&str, &str),
) -> Result<OAuthToken, String> {
    let tls = tls_for(&[&flow.device_url, &flow.token_url])?;
    let platform = flow.platform;
    let mut login = DeviceLogin::new(flow);
    loop {
        let now = Instant::now();
        if let Some(form) = login.poll_request(now) {
            let (status, body) = post_form(platform, &form, tls.as_ref()).await?;
            let was_waiting = matches!(login.state(), LoginState::Waiting { .. });
            login.on_answer(Instant::now(), status, &body);
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
    platform: &str,
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
        .map_err(|e| format!("{platform}'s login cannot be reached: {e}"))
}

/// An API client sending a token as its bearer, renewing it once when the API says it
/// expired (HTTP 401) and keeping the renewed one (the caller stores it again).
pub struct BearerClient {
    platform: &'static str,
    token: OAuthToken,
    token_url: String,
    /// Headers beside the bearer on every call (Twitch wants its client id).
    extra: Vec<(&'static str, String)>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl BearerClient {
    /// `api` is the root the calls go to (it and `token_url` decide whether TLS is needed).
    pub fn new(
        platform: &'static str,
        token: OAuthToken,
        token_url: String,
        extra: Vec<(&'static str, String)>,
        api: &str,
    ) -> Result<Self, String> {
        let tls = tls_for(&[api, &token_url])?;
        Ok(Self {
            platform,
            token,
            token_url,
            extra,
            tls,
        })
    }

    /// The token now.
    pub fn token(&self) -> &OAuthToken {
        &self.token
    }

    /// One call; an expired token is renewed once and the call made again.
    pub async fn call(
        &mut self,
        method: hyper::Method,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let first = self.send(method.clone(), url, body.clone()).await?;
        if first.0 != 401 || self.token.refresh_token.is_empty() {
            return Ok(first);
        }
        let form = refresh_request(&self.token_url, &self.token);
        let (status, answer) = post_form(self.platform, &form, self.tls.as_ref()).await?;
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
        let mut headers = vec![(
            "authorization",
            format!("Bearer {}", self.token.access_token),
        )];
        headers.extend(self.extra.iter().cloned());
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
            .map_err(|e| format!("{}'s API cannot be reached: {e}", self.platform))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google() -> DeviceFlow {
        DeviceFlow {
            platform: "YouTube",
            device_url: "http://g.local/device/code".into(),
            token_url: "http://g.local/token".into(),
            scope_field: "scope",
            scopes: "https://www.googleapis.com/auth/youtube",
            scopes_on_poll: false,
            client_id: "123.apps.googleusercontent.com".into(),
            client_secret: "sec ret".into(),
            register_hint: "console.cloud.google.com",
        }
    }

    // The example answers of developers.google.com/youtube/v3/guides/auth/devices (steps 2
    // and 6; its error responses: `authorization_pending` with HTTP 428, `slow_down` 403).
    const GOOGLE_DEVICE: &str = r#"{"device_code":"4/4-GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#;
    const GOOGLE_TOKEN: &str = r#"{"access_token":"1/fFAGRNJru1FTz70BzhT3Zg","expires_in":3920,"scope":"https://www.googleapis.com/auth/youtube","token_type":"Bearer","refresh_token":"1/xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI"}"#;

    #[test]
    fn googles_device_grant_sends_the_secret_when_polling_and_reads_its_error_field() {
        let t0 = Instant::now();
        let mut l = DeviceLogin::new(google());
        let ask = l.poll_request(t0).unwrap();
        assert_eq!(
            ask.body(),
            "client_id=123.apps.googleusercontent.com&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fyoutube",
            "no secret in the code request"
        );
        l.on_answer(t0, 200, GOOGLE_DEVICE.as_bytes());
        assert_eq!(
            l.state(),
            &LoginState::Waiting {
                code: "GQVQ-JKEC".into(),
                uri: "https://www.google.com/device".into()
            }
        );
        let poll = l.poll_request(t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(poll.url, "http://g.local/token");
        assert!(
            poll.body().starts_with(
                "client_id=123.apps.googleusercontent.com&client_secret=sec+ret&device_code=4%2F4-GMM"
            ),
            "{}",
            poll.body()
        );
        let pending =
            br#"{"error":"authorization_pending","error_description":"Precondition Required"}"#;
        l.on_answer(t0 + Duration::from_secs(5), 428, pending);
        assert_eq!(l.next_wake(), Some(t0 + Duration::from_secs(10)));
        l.poll_request(t0 + Duration::from_secs(10)).unwrap();
        l.on_answer(
            t0 + Duration::from_secs(10),
            403,
            br#"{"error":"slow_down","error_description":"Forbidden"}"#,
        );
        assert_eq!(l.next_wake(), Some(t0 + Duration::from_secs(20)));
        l.poll_request(t0 + Duration::from_secs(20)).unwrap();
        l.on_answer(t0 + Duration::from_secs(20), 200, GOOGLE_TOKEN.as_bytes());
        let LoginState::Done(t) = l.state() else {
            panic!("{:?}", l.state())
        };
        assert_eq!(t.client_secret, "sec ret", "kept to renew the token");
        assert_eq!(
            refresh_request("http://g.local/token", t).body(),
            "client_id=123.apps.googleusercontent.com&client_secret=sec+ret&grant_type=refresh_token&refresh_token=1%2FxEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI"
        );
        let renewed = refreshed(t, 200, br#"{"access_token":"new","expires_in":3920}"#).unwrap();
        assert_eq!(renewed.refresh_token, t.refresh_token);
        assert_eq!(renewed.client_secret, "sec ret");
    }

    #[test]
    fn a_refused_google_client_names_the_platform_and_where_to_get_one() {
        let t0 = Instant::now();
        let mut l = DeviceLogin::new(google());
        l.poll_request(t0);
        l.on_answer(
            t0,
            401,
            br#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#,
        );
        let LoginState::Failed(why) = l.state() else {
            panic!("{:?}", l.state())
        };
        assert!(
            why.starts_with("YouTube: ") && why.contains("console.cloud.google.com"),
            "{why}"
        );
        let mut l = DeviceLogin::new(google());
        l.poll_request(t0);
        l.on_answer(t0, 200, GOOGLE_DEVICE.as_bytes());
        l.poll_request(t0 + Duration::from_secs(5));
        l.on_answer(
            t0,
            403,
            br#"{"error":"access_denied","error_description":"Forbidden"}"#,
        );
        assert!(matches!(l.state(), LoginState::Failed(w) if w.contains("declined")));
    }

    #[test]
    fn the_secret_never_shows_in_a_debug_print() {
        assert!(!format!("{:?}", google()).contains("sec ret"));
    }
}
