//! Moderation sent to a platform, for the CLI and the app alike: Twitch through Helix with a
//! login kept in the OS keychain. bilibili and YouTube have no moderation Marquee can call
//! (bilibili's needs the streamer's web cookies; YouTube's needs an OAuth client of its own):
//! for them, and for Twitch without a login, the app hides the message locally and says so.

use marquee_chat::twitch::helix::{Helix, HelixEndpoints, ModAction, device_login};
use marquee_chat::twitch::login::TwitchToken;
use marquee_profile::Keychain;

/// The keychain entry holding the Twitch login (a JSON token, never in a file).
pub const TWITCH_LOGIN: &str = "twitch-moderator";

/// Twitch's endpoints, or a local server speaking both (`BASE/oauth2/…`, `BASE/helix/…`) when
/// `base` is given (tests; `MARQUEE_TWITCH_API` in the app).
pub fn twitch_endpoints(base: Option<&str>) -> HelixEndpoints {
    match base {
        Some(b) => {
            let b = b.trim_end_matches('/');
            HelixEndpoints {
                api: format!("{b}/helix"),
                id: b.to_string(),
            }
        }
        None => HelixEndpoints::default(),
    }
}

/// What `twitch_login` reports while it runs.
pub trait LoginProgress {
    /// Show the streamer `code` and where to enter it (`uri` already carries it).
    fn code(&mut self, code: &str, uri: &str);
}

impl<F: FnMut(&str, &str)> LoginProgress for F {
    fn code(&mut self, code: &str, uri: &str) {
        self(code, uri)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Logs in to Twitch with the device code (blocks until approved, declined or expired) and
/// keeps the token in the keychain. `client_id`: a public application's, from
/// dev.twitch.tv/console.
pub fn twitch_login(
    keychain: &Keychain,
    client_id: &str,
    ends: &HelixEndpoints,
    mut progress: impl LoginProgress,
) -> Result<(), String> {
    if client_id.trim().is_empty() {
        return Err(
            "Twitch: a client ID is needed to log in: register a public application at \
                    dev.twitch.tv/console and paste its Client ID"
                .into(),
        );
    }
    let token = runtime()?.block_on(device_login(&ends.id, client_id, |c, u| {
        progress.code(c, u)
    }))?;
    store(keychain, &token)
}

/// Whether a Twitch login is kept.
pub fn twitch_logged_in(keychain: &Keychain) -> bool {
    load(keychain).is_ok()
}

/// Forgets the Twitch login.
pub fn twitch_logout(keychain: &Keychain) -> Result<(), String> {
    match keychain.delete(TWITCH_LOGIN) {
        Ok(()) | Err(marquee_profile::KeyError::Missing(_)) => Ok(()),
        Err(e) => Err(format!(
            "Twitch: the keychain refused to forget the login: {e}"
        )),
    }
}

/// Carries out `action` on `channel` with the kept login; a renewed token is kept again.
pub fn twitch_moderate(
    keychain: &Keychain,
    ends: &HelixEndpoints,
    channel: &str,
    action: &ModAction,
) -> Result<(), String> {
    let token = load(keychain)?;
    let mut helix = Helix::new(ends.clone(), token.clone(), channel)?;
    let result = runtime()?.block_on(helix.moderate(action));
    if helix.token() != &token {
        store(keychain, helix.token())?;
    }
    result
}

fn load(keychain: &Keychain) -> Result<TwitchToken, String> {
    let json = keychain.get(TWITCH_LOGIN).map_err(|e| match e {
        marquee_profile::KeyError::Missing(_) => {
            "Twitch: not logged in to moderate (Settings → Chat sources, or `marquee chat login \
             twitch`)"
                .to_string()
        }
        e => format!("Twitch: the keychain could not be read: {e}"),
    })?;
    serde_json::from_str(&json)
        .map_err(|_| "Twitch: the kept login is unreadable: log in again".to_string())
}

fn store(keychain: &Keychain, token: &TwitchToken) -> Result<(), String> {
    let json = serde_json::to_string(token).map_err(|e| e.to_string())?;
    keychain
        .set(TWITCH_LOGIN, &json)
        .map_err(|e| format!("Twitch: the keychain refused the login: {e}"))
}
