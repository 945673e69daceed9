//! HMAC-SHA256 signed room tokens with expiry.
//!
//! Format: `mq1.` + base64url(JSON claims) + `.` + base64url(HMAC-SHA256(secret, "mq1." + claims part)).

use crate::protocol::Role;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PREFIX: &str = "mq1.";
/// Tokens longer than this are rejected before any decoding.
pub const MAX_TOKEN_BYTES: usize = 2048;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub room: String,
    /// Stable user id (votes, gifts and bans are per user id).
    pub user: String,
    /// Display name.
    pub name: String,
    pub role: Role,
    /// Expiry, ms since the Unix epoch.
    pub exp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token is for another room")]
    WrongRoom,
    #[error("secret must be at least 16 bytes")]
    WeakSecret,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length")
}

/// Sign claims into a token string.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let body = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("{PREFIX}{body}");
    let mut m = mac(secret);
    m.update(signed.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    format!("{signed}.{sig}")
}

/// Verify a token's signature, expiry and room. Constant-time signature check.
pub fn verify(secret: &[u8], token: &str, room: &str, now_ms: u64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES || !token.starts_with(PREFIX) {
        return Err(TokenError::Malformed);
    }
    let (signed, sig) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    if signed.len() <= PREFIX.len() {
        return Err(TokenError::Malformed);
    }
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    let mut m = mac(secret);
    m.update(signed.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let body = B64
        .decode(&signed[PREFIX.len()..])
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| TokenError::Malformed)?;
    if claims.exp_ms <= now_ms {
        return Err(TokenError::Expired);
    }
    if claims.room != room {
        return Err(TokenError::WrongRoom);
    }
    Ok(claims)
}

/// Parse a duration like `90s`, `15m`, `12h`, `7d` (a bare number is seconds) into ms.
pub fn parse_ttl(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let mult = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("bad duration unit in {s:?} (use s, m, h or d)")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("duration {s:?} out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_ms: u64) -> Claims {
        Claims {
            room: "r1".into(),
            user: "alice".into(),
            name: "Alice".into(),
            role: Role::Host,
            exp_ms,
        }
    }

    #[test]
    fn signed_token_verifies_until_expiry() {
        let t = sign(b"0123456789abcdef", &claims(5_000));
        assert_eq!(
            verify(b"0123456789abcdef", &t, "r1", 4_999).unwrap(),
            claims(5_000)
        );
        assert_eq!(
            verify(b"0123456789abcdef", &t, "r1", 5_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(b"0123456789abcdef", &t, "r2", 1),
            Err(TokenError::WrongRoom)
        );
    }

    #[test]
    fn forged_token_is_rejected() {
        let t = sign(b"0123456789abcdef", &claims(5_000));
        assert_eq!(
            verify(b"another-secret!!", &t, "r1", 1),
            Err(TokenError::BadSignature)
        );
        // Swap in claims with a higher role but keep the old signature.
        let (_, sig) = t.rsplit_once('.').unwrap();
        let mut c = claims(5_000);
        c.user = "mallory".into();
        let body = B64.encode(serde_json::to_vec(&c).unwrap());
        let forged = format!("{PREFIX}{body}.{sig}");
        assert_eq!(
            verify(b"0123456789abcdef", &forged, "r1", 1),
            Err(TokenError::BadSignature)
        );
        for junk in ["", "mq1.", "mq1..", "x.y.z", "mq1.@@.@@", &"a".repeat(5000)] {
            assert!(
                verify(b"0123456789abcdef", junk, "r1", 1).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn ttl_parses_units() {
        assert_eq!(parse_ttl("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_ttl("90"), Ok(90_000));
        assert_eq!(parse_ttl("15m"), Ok(900_000));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("3w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
