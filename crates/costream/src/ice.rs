//! The ICE servers a host hands its guests (their TURN relay for strict NATs), in the shape of
//! WebRTC's `RTCIceServer` so the guest page passes them to `RTCPeerConnection` as they come.
//!
//! A TURN credential is a secret: it reaches a guest only in the `/info` answer to a valid
//! invite, and `Debug` never shows it (the host's config is logged on failures).

use serde::Serialize;

/// One `RTCIceServer`: `urls`, and for TURN a long-term `username` and `credential`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// The longest URL, user name or credential taken (a config typo must not become a page).
const MAX_FIELD: usize = 512;

impl IceServer {
    /// A TURN server (`turn:HOST[:PORT][?transport=udp|tcp]` or `turns:…`) with its long-term
    /// credential. The URL carries no user or password (they would be printed with it).
    pub fn turn(url: &str, username: &str, credential: &str) -> Result<Self, String> {
        check_turn_url(url)?;
        if username.is_empty() || username.len() > MAX_FIELD || username.contains(char::is_control)
        {
            return Err(format!(
                "the TURN user for {url} must be 1–{MAX_FIELD} characters"
            ));
        }
        if credential.is_empty() || credential.len() > MAX_FIELD {
            return Err(format!(
                "the TURN credential for {url} must be 1–{MAX_FIELD} characters"
            ));
        }
        Ok(Self {
            urls: vec![url.to_string()],
            username: Some(username.to_string()),
            credential: Some(credential.to_string()),
        })
    }

    /// A STUN server for guests (`stun:HOST[:PORT]`), no credential.
    pub fn stun(url: &str) -> Result<Self, String> {
        url.parse::<crate::stun::StunUrl>()?;
        Ok(Self {
            urls: vec![url.to_string()],
            username: None,
            credential: None,
        })
    }
}

/// Whether `url` is a `turn:`/`turns:` URL (RFC 7065) without user information.
pub fn check_turn_url(url: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "'{}' is not a TURN URL: turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]",
            url.chars().take(80).collect::<String>()
        )
    };
    let rest = url
        .strip_prefix("turn:")
        .or_else(|| url.strip_prefix("turns:"))
        .ok_or_else(bad)?;
    if url.len() > MAX_FIELD || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad());
    }
    if rest.contains('@') {
        return Err(
            "a TURN URL must not carry a user or password (they would be printed with it): give the user and the credential separately"
                .to_string(),
        );
    }
    let (addr, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    if let Some(q) = query
        && !matches!(q, "transport=udp" | "transport=tcp")
    {
        return Err(bad());
    }
    let stun_like = format!("stun:{addr}");
    stun_like
        .parse::<crate::stun::StunUrl>()
        .map_err(|_| bad())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_are_checked_and_the_credential_never_shows_in_debug() {
        let s = IceServer::turn("turn:10.0.0.1:3478?transport=udp", "guest", "s3cret").unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"urls":["turn:10.0.0.1:3478?transport=udp"],"username":"guest","credential":"s3cret"}"#
        );
        assert!(IceServer::turn("turns:relay.example.org", "u", "p").is_ok());
        for bad in [
            "stun:x",
            "turn:",
            "turn:u:p@x",
            "turn:x?transport=sctp",
            "turn:x:0",
            "http://x",
        ] {
            assert!(IceServer::turn(bad, "u", "p").is_err(), "{bad}");
        }
        assert!(IceServer::turn("turn:x", "", "p").is_err());
        assert!(IceServer::turn("turn:x", "u", "").is_err());
        let stun = serde_json::to_string(&IceServer::stun("stun:x:3478").unwrap()).unwrap();
        assert_eq!(stun, r#"{"urls":["stun:x:3478"]}"#);
    }
}
