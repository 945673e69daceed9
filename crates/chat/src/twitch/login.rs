//! Logging in to Twitch to moderate: OAuth's device code grant ([`crate::oauth`]), the flow
//! Twitch offers public clients such as a desktop app (no client secret, no redirect server).
//! Per dev.twitch.tv/docs/authentication/getting-tokens-oauth/#device-code-grant-flow.

use crate::oauth::{DeviceFlow, OAuthToken};
pub use crate::oauth::{DeviceLogin, FormPost, LoginState};

/// What moderating from Marquee needs: deleting messages, bans and timeouts.
pub const SCOPES: &str = "moderator:manage:chat_messages moderator:manage:banned_users";
pub const ID_URL: &str = "https://id.twitch.tv";

/// A Twitch user access token (no client secret: Twitch's public clients have none).
pub type TwitchToken = OAuthToken;

/// Twitch's device grant at `id_url` (`https://id.twitch.tv`, or a local server in tests).
pub fn flow(id_url: &str, client_id: &str) -> DeviceFlow {
    let id = id_url.trim_end_matches('/');
    DeviceFlow {
        platform: "Twitch",
        device_url: format!("{id}/oauth2/device"),
        token_url: format!("{id}/oauth2/token"),
        scope_field: "scopes",
        scopes: SCOPES,
        scopes_on_poll: true,
        client_id: client_id.trim().to_string(),
        client_secret: String::new(),
        register_hint: "a public client registered at dev.twitch.tv/console",
    }
}

/// The form that renews `token` (public clients send no secret).
pub fn refresh_request(id_url: &str, token: &TwitchToken) -> FormPost {
    crate::oauth::refresh_request(
        &format!("{}/oauth2/token", id_url.trim_end_matches('/')),
        token,
    )
}

pub use crate::oauth::refreshed;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    // The example answers of dev.twitch.tv/docs/authentication/getting-tokens-oauth
    // (#device-code-grant-flow).
    const DEVICE: &str = r#"{"device_code":"ike3GM8QIdYZs43KdrWPIO36LofILoCyFEzjlQ91","expires_in":1800,"interval":5,"user_code":"ABCDEFGH","verification_uri":"https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH"}"#;
    const PENDING: &str = r#"{"status":400,"message":"authorization_pending"}"#;
    const TOKEN: &str = r#"{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,"refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01","scope":["channel:moderate","chat:edit","chat:read"],"token_type":"bearer"}"#;

    #[test]
    fn the_device_login_shows_a_code_polls_at_the_interval_and_ends_with_a_token() {
        let t0 = Instant::now();
        let mut l = DeviceLogin::new(flow("http://id.local/", "abc123"));
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
                client_secret: String::new(),
            })
        );
        assert_eq!(l.poll_request(t0 + Duration::from_secs(30)), None);
    }

    #[test]
    fn a_refused_client_id_a_declined_login_or_an_expired_code_say_what_to_do() {
        let t0 = Instant::now();
        let mut l = DeviceLogin::new(flow(ID_URL, "wrong"));
        l.poll_request(t0);
        l.on_answer(t0, 400, br#"{"status":400,"message":"invalid client"}"#);
        let LoginState::Failed(why) = l.state() else {
            panic!("{:?}", l.state())
        };
        assert!(
            why.contains("client ID") && why.contains("invalid client"),
            "{why}"
        );

        let mut l = DeviceLogin::new(flow(ID_URL, "abc"));
        l.poll_request(t0);
        l.on_answer(t0, 200, DEVICE.as_bytes());
        l.poll_request(t0 + Duration::from_secs(5));
        l.on_answer(t0, 400, br#"{"status":400,"message":"access_denied"}"#);
        assert!(matches!(l.state(), LoginState::Failed(w) if w.contains("declined")));

        let mut l = DeviceLogin::new(flow(ID_URL, "abc"));
        l.poll_request(t0);
        l.on_answer(t0, 200, DEVICE.as_bytes());
        assert_eq!(l.poll_request(t0 + Duration::from_secs(1801)), None);
        assert!(matches!(l.state(), LoginState::Failed(w) if w.contains("expired")));
    }

    #[test]
    fn garbage_answers_fail_the_login_without_a_panic() {
        for body in [&b""[..], b"{", b"\xff\xfe", br#"{"device_code":1}"#] {
            let t0 = Instant::now();
            let mut l = DeviceLogin::new(flow(ID_URL, "abc"));
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
            client_secret: String::new(),
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
