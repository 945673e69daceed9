//! Moderation sent to a platform, for the CLI and the app alike, with a login kept in the OS
//! keychain: Twitch through Helix, YouTube through the Data API. bilibili has none Marquee can
//! call (its moderation needs the streamer's web cookies): there, and on a platform without a
//! login, the app hides the message locally and says so.

use marquee_chat::moderation::ModAction;
use marquee_chat::oauth::OAuthToken;
use marquee_chat::twitch::helix::{Helix, HelixEndpoints, device_login};
use marquee_chat::youtube::moderate::{self as yt, YoutubeMod, YoutubeModEndpoints};
use marquee_profile::Keychain;

/// The keychain entry holding the Twitch login (a JSON token, never in a file).
pub const TWITCH_LOGIN: &str = "twitch-moderator";
/// The keychain entry holding the YouTube login (the token and its client, as JSON).
pub const YOUTUBE_LOGIN: &str = "youtube-moderator";

/// Where a login is kept and how it is named in messages.
struct Login {
    entry: &'static str,
    platform: &'static str,
    /// Where the streamer logs in.
    how: &'static str,
}

const TWITCH: Login = Login {
    entry: TWITCH_LOGIN,
    platform: "Twitch",
    how: "Settings → Chat sources, or `marquee chat login twitch`",
};
const YOUTUBE: Login = Login {
    entry: YOUTUBE_LOGIN,
    platform: "YouTube",
    how: "Settings → Chat sources, or `marquee chat login youtube --client-id …`",
};

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

/// Google's endpoints, or a local server speaking both (`BASE/token`, `BASE/device/code`,
/// `BASE/youtube/v3/…`) when `base` is given (tests; `MARQUEE_YOUTUBE_API` in the app).
pub fn youtube_endpoints(base: Option<&str>) -> YoutubeModEndpoints {
    match base {
        Some(b) => {
            let b = b.trim_end_matches('/');
            YoutubeModEndpoints {
                api: format!("{b}/youtube/v3"),
                oauth: b.to_string(),
            }
        }
        None => YoutubeModEndpoints::default(),
    }
}

/// What a login reports while it runs.
pub trait LoginProgress {
    /// Show the streamer `code` and where to enter it.
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
    store(keychain, &TWITCH, &token)
}

/// Logs in to YouTube (Google's device code; blocks until approved, declined or expired) and
/// keeps the token, with the client that renews it, in the keychain.
pub fn youtube_login(
    keychain: &Keychain,
    client_id: &str,
    client_secret: &str,
    ends: &YoutubeModEndpoints,
    mut progress: impl LoginProgress,
) -> Result<(), String> {
    if client_id.trim().is_empty() || client_secret.trim().is_empty() {
        return Err(
            "YouTube: an OAuth client ID and its secret are needed to log in: create a client of \
             type “TVs and Limited Input devices” at console.cloud.google.com (YouTube Data API \
             v3 on) and paste both"
                .into(),
        );
    }
    let token = runtime()?.block_on(yt::device_login(
        &ends.oauth,
        client_id,
        client_secret,
        |c, u| progress.code(c, u),
    ))?;
    store(keychain, &YOUTUBE, &token)
}

/// Whether a Twitch login is kept.
pub fn twitch_logged_in(keychain: &Keychain) -> bool {
    load(keychain, &TWITCH).is_ok()
}

/// Whether a YouTube login is kept.
pub fn youtube_logged_in(keychain: &Keychain) -> bool {
    load(keychain, &YOUTUBE).is_ok()
}

/// Forgets the Twitch login.
pub fn twitch_logout(keychain: &Keychain) -> Result<(), String> {
    forget(keychain, &TWITCH)
}

/// Forgets the YouTube login.
pub fn youtube_logout(keychain: &Keychain) -> Result<(), String> {
    forget(keychain, &YOUTUBE)
}

/// Carries out `action` on `channel` with the kept login; a renewed token is kept again.
pub fn twitch_moderate(
    keychain: &Keychain,
    ends: &HelixEndpoints,
    channel: &str,
    action: &ModAction,
) -> Result<(), String> {
    let token = load(keychain, &TWITCH)?;
    let mut helix = Helix::new(ends.clone(), token.clone(), channel)?;
    let result = runtime()?.block_on(helix.moderate(action));
    if helix.token() != &token {
        store(keychain, &TWITCH, helix.token())?;
    }
    result
}

/// Carries out `action` in the live chat of `video` with the kept login; a renewed token is
/// kept again.
pub fn youtube_moderate(
    keychain: &Keychain,
    ends: &YoutubeModEndpoints,
    video: &str,
    action: &ModAction,
) -> Result<(), String> {
    let token = load(keychain, &YOUTUBE)?;
    let mut m = YoutubeMod::new(ends.clone(), token.clone(), video)?;
    let result = runtime()?.block_on(m.moderate(action));
    if m.token() != &token {
        store(keychain, &YOUTUBE, m.token())?;
    }
    result
}

fn load(keychain: &Keychain, l: &Login) -> Result<OAuthToken, String> {
    let json = keychain.get(l.entry).map_err(|e| match e {
        marquee_profile::KeyError::Missing(_) => {
            format!("{}: not logged in to moderate ({})", l.platform, l.how)
        }
        e => format!("{}: the keychain could not be read: {e}", l.platform),
    })?;
    serde_json::from_str(&json)
        .map_err(|_| format!("{}: the kept login is unreadable: log in again", l.platform))
}

fn store(keychain: &Keychain, l: &Login, token: &OAuthToken) -> Result<(), String> {
    let json = serde_json::to_string(token).map_err(|e| e.to_string())?;
    keychain
        .set(l.entry, &json)
        .map_err(|e| format!("{}: the keychain refused the login: {e}", l.platform))
}

fn forget(keychain: &Keychain, l: &Login) -> Result<(), String> {
    match keychain.delete(l.entry) {
        Ok(()) | Err(marquee_profile::KeyError::Missing(_)) => Ok(()),
        Err(e) => Err(format!(
            "{}: the keychain refused to forget the login: {e}",
            l.platform
        )),
    }
}
