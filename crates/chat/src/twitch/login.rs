//! Logging in to Twitch to moderate: OAuth's device code grant (RFC 8628), the flow Twitch
//! offers public clients such as a desktop app (no client secret, no redirect server): ask for
//! a code, show it with the address to type it at, poll until the streamer approved.
//! Per dev.twitch.tv/docs/authentication/getting-tokens-oauth/#device-code-grant-flow.
//!
//! [`DeviceLogin`] is sans-IO: it says which request to send and when, and takes the answers.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// What moderating from Marquee needs: deleting messages, bans and timeouts.
pub const SCOPES: &str = "moderator:manage:chat_messages moderator:manage:banned_users";
pub const ID_URL: &str = "https://id.twitch.tv";

/// A user access token and what renews it; kept in the OS keychain as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwitchToken {
    pub access_token: String,
    pub refresh_token: String,
    /// The application the token was issued to (Twitch wants it beside every call).
    pub client_id: String,
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

/// `application/x-www-form-urlencoded` escaping (space as `+`).
fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where the login stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginState {
    /// Asking Twitch for a code.
    Starting,
    /// Show this to the streamer: open `uri` and enter `code` (the uri already carries it).
    Waiting {
        code: String,
        uri: String,
    },
    Done(TwitchToken),
    Failed(String),
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    expires_in: u64,
    interval: u64,
    user_code: String,
    verification_uri: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    message: String,
}

/// The device code grant, sans-IO.
#[derive(Debug)]
pub struct DeviceLogin {
    id_url: String,
    client_id: String,
    state: LoginState,
    device_code: Option<String>,
    interval: Duration,
    expires: Option<Instant>,
    next_poll: Option<Instant>,
    /// A request is out: no other until its answer.
    in_flight: bool,
}

impl DeviceLogin {
    /// `id_url`: `https://id.twitch.tv` (or a local server in tests).
    pub fn new(id_url: &str, client_id: &str) -> Self {
        Self {
            id_url: id_url.trim_end_matches('/').to_string(),
            client_id: client_id.trim().to_string(),
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

    /// The request to send now, if any (then wait for its answer).
    pub fn poll_request(&mut self, now: Instant) -> Option<FormPost> {
        if self.in_flight || matches!(self.state, LoginState::Done(_) | LoginState::Failed(_)) {
            return None;
        }
        if self.expires.is_some_and(|e| now >= e) {
            self.state = LoginState::Failed(
                "Twitch: the code expired before it was entered: log in again".into(),
            );
            return None;
        }
        let post = match &self.device_code {
            None => FormPost {
                url: format!("{}/oauth2/device", self.id_url),
                form: vec![
                    ("client_id", self.client_id.clone()),
                    ("scopes", SCOPES.into()),
                ],
            },
            Some(device_code) => {
                if self.next_poll.is_some_and(|t| now < t) {
                    return None;
                }
                FormPost {
                    url: format!("{}/oauth2/token", self.id_url),
                    form: vec![
                        ("client_id", self.client_id.clone()),
                        ("scopes", SCOPES.into()),
                        ("device_code", device_code.clone()),
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:device_code".into(),
                        ),
                    ],
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
        let message = || {
            serde_json::from_slice::<ErrorAnswer>(body)
                .map(|e| e.message)
                .unwrap_or_default()
        };
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
                    self.state = LoginState::Failed(
                        "Twitch's answer to the login was not understood: try again".into(),
                    )
                }
                (400 | 401 | 403, _) => {
                    self.state = LoginState::Failed(format!(
                        "Twitch refused the application's client ID ({}): check it in Settings → \
                         Chat sources (a public client registered at dev.twitch.tv/console)",
                        message()
                    ))
                }
                _ => {
                    self.state = LoginState::Failed(format!(
                        "Twitch answered the login with HTTP {status}: try again later"
                    ))
                }
            }
            return;
        }
        match status {
            200 => match serde_json::from_slice::<TokenAnswer>(body) {
                Ok(t) => {
                    self.state = LoginState::Done(TwitchToken {
                        access_token: t.access_token,
                        refresh_token: t.refresh_token,
                        client_id: self.client_id.clone(),
                    })
                }
                Err(_) => {
                    self.state = LoginState::Failed(
                        "Twitch's token answer was not understood: try again".into(),
                    )
                }
            },
            _ => match message().as_str() {
                "authorization_pending" => self.next_poll = Some(now + self.interval),
                "slow_down" => {
                    self.interval += Duration::from_secs(5);
                    self.next_poll = Some(now + self.interval);
                }
                "access_denied" => {
                    self.state = LoginState::Failed(
                        "Twitch: the login was declined on the activation page".into(),
                    )
                }
                "expired_token" | "invalid device code" => {
                    self.state = LoginState::Failed(
                        "Twitch: the code expired before it was entered: log in again".into(),
                    )
                }
                other => {
                    self.state = LoginState::Failed(format!(
                        "Twitch refused the login (HTTP {status}{}): try again",
                        if other.is_empty() {
                            String::new()
                        } else {
                            format!(", {other}")
                        }
                    ))
                }
            },
        }
    }
}

/// The form that renews `token` (public clients send no secret).
pub fn refresh_request(id_url: &str, token: &TwitchToken) -> FormPost {
    FormPost {
        url: format!("{}/oauth2/token", id_url.trim_end_matches('/')),
        form: vec![
            ("client_id", token.client_id.clone()),
            ("grant_type", "refresh_token".into()),
            ("refresh_token", token.refresh_token.clone()),
        ],
    }
}

/// The renewed token from a refresh answer (`None`: log in again).
pub fn refreshed(token: &TwitchToken, status: u16, body: &[u8]) -> Option<TwitchToken> {
    if status != 200 {
        return None;
    }
    let t: TokenAnswer = serde_json::from_slice(body).ok()?;
    Some(TwitchToken {
        access_token: t.access_token,
        refresh_token: if t.refresh_token.is_empty() {
            token.refresh_token.clone()
        } else {
            t.refresh_token
        },
        client_id: token.client_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example answers of dev.twitch.tv/docs/authentication/getting-tokens-oauth
    // (#device-code-grant-flow).
    const DEVICE: &str = r#"{"device_code":"ike3GM8QIdYZs43KdrWPIO36LofILoCyFEzjlQ91","expires_in":1800,"interval":5,"user_code":"ABCDEFGH","verification_uri":"https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH"}"#;
    const PENDING: &str = r#"{"status":400,"message":"authorization_pending"}"#;
    const TOKEN: &str = r#"{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,"refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01","scope":["channel:moderate","chat:edit","chat:read"],"token_type":"bearer"}"#;

    #[test]
    fn the_device_login_shows_a_code_polls_at_the_interval_and_ends_with_a_token() {
        let t0 = Instant::now();
        let mut l = DeviceLogin::new("http://id.local/", "abc123");
        let ask = l.poll_request(t0).expect("ask for a code");
        assert_eq!(ask.url, "http://id.local/oauth2/device");
        assert_eq!(
            ask.body(),
            "client_id=abc123&scopes=moderator%3Amanage%3Achat_messages+moderator%3Amanage%3Abanned_users"
        );
        assert_eq!(l.poll_request(t0), None, "one request at a time");
        l.on_answer(t0, 200, DEVICE.as_bytes());
        assert_eq!(
            l.state(),
            &LoginState::Waiting {
                code: "ABCDEFGH".into(),
                uri: "https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH".into()
            }
        );
        assert_eq!(l.next_wake(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(l.poll_request(t0 + Duration::from_secs(4)), None);
        let poll = l.poll_request(t0 + Duration::from_secs(5)).expect("a poll");
        assert_eq!(poll.url, "http://id.local/oauth2/token");
        assert!(
            poll.body()
                .contains("device_code=ike3GM8QIdYZs43KdrWPIO36LofILoCyFEzjlQ91")
        );
        assert!(
            poll.body()
                .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code")
        );
        l.on_answer(t0 + Duration::from_secs(5), 400, PENDING.as_bytes());
        assert_eq!(l.next_wake(), Some(t0 + Duration::from_secs(10)));
        l.poll_request(t0 + Duration::from_secs(10)).expect("again");
        l.on_answer(
            t0 + Duration::from_secs(10),
            400,
            br#"{"message":"slow_down"}"#,
        );
        assert_eq!(
            l.next_wake(),
            Some(t0 + Duration::from_secs(20)),
            "five more"
        );
        l.poll_request(t0 + Duration::from_secs(20)).expect("again");
        l.on_answer(t0 + Duration::from_secs(20), 200, TOKEN.as_bytes());
        assert_eq!(
            l.state(),
            &LoginState::Done(TwitchToken {
                access_token: "rfx2uswqe8l4g1mkagrvg5tv0ks3".into(),
                refresh_token: "5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01".into(),
                client_id: "abc123".into(),
            })
        );
        assert_eq!(l.poll_request(t0 + Duration::from_secs(30)), None);
    }

    #[test]
    fn a_refused_client_id_a_declined_login_or_an_expired_code_say_what_to_do() {
        let t0 = Instant::now();
        let mut l = DeviceLogin::new(ID_URL, "wrong");
        l.poll_request(t0);
        l.on_answer(t0, 400, br#"{"status":400,"message":"invalid client"}"#);
        let LoginState::Failed(why) = l.state() else {
            panic!("{:?}", l.state())
        };
        assert!(
            why.contains("client ID") && why.contains("invalid client"),
            "{why}"
        );

        let mut l = DeviceLogin::new(ID_URL, "abc");
        l.poll_request(t0);
        l.on_answer(t0, 200, DEVICE.as_bytes());
        l.poll_request(t0 + Duration::from_secs(5));
        l.on_answer(t0, 400, br#"{"status":400,"message":"access_denied"}"#);
        assert!(matches!(l.state(), LoginState::Failed(w) if w.contains("declined")));

        let mut l = DeviceLogin::new(ID_URL, "abc");
        l.poll_request(t0);
        l.on_answer(t0, 200, DEVICE.as_bytes());
        assert_eq!(l.poll_request(t0 + Duration::from_secs(1801)), None);
        assert!(matches!(l.state(), LoginState::Failed(w) if w.contains("expired")));
    }

    #[test]
    fn garbage_answers_fail_the_login_without_a_panic() {
        for body in [&b""[..], b"{", b"\xff\xfe", br#"{"device_code":1}"#] {
            let t0 = Instant::now();
            let mut l = DeviceLogin::new(ID_URL, "abc");
            l.poll_request(t0);
            l.on_answer(t0, 200, body);
            assert!(matches!(l.state(), LoginState::Failed(_)));
        }
    }

    #[test]
    fn a_refresh_keeps_the_old_refresh_token_when_twitch_sends_none() {
        let old = TwitchToken {
            access_token: "a".into(),
            refresh_token: "r".into(),
            client_id: "c".into(),
        };
        let req = refresh_request(ID_URL, &old);
        assert_eq!(req.url, "https://id.twitch.tv/oauth2/token");
        assert_eq!(
            req.body(),
            "client_id=c&grant_type=refresh_token&refresh_token=r"
        );
        let new = refreshed(&old, 200, br#"{"access_token":"b"}"#).unwrap();
        assert_eq!(
            (new.access_token.as_str(), new.refresh_token.as_str()),
            ("b", "r")
        );
        assert_eq!(refreshed(&old, 400, b"{}"), None);
    }
}
