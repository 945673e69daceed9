//! Platform chat beside the show: `bilibili:ROOM`, `bilibili-open:APPID`, `twitch:CHANNEL`,
//! `youtube:VIDEO` sources as settings, and one thread that runs them on a small tokio runtime, hands their messages
//! and gifts to the show's audience and their connection states to the observer. A source
//! that fails only says so: the show and the other sources go on.

use crate::audience::Audience;
use crate::error::ShowError;
use marquee_chat::bilibili::open::sign::AccessKey;
use marquee_chat::bilibili::open::{BilibiliOpen, OpenConfig, keychain_names};
use marquee_chat::bilibili::{Bilibili, BilibiliConfig, discover};
use marquee_chat::twitch::{Twitch, TwitchConfig};
use marquee_chat::youtube::{Youtube, YoutubeConfig};
use marquee_chat::{ChatSource, DriverConfig, EventBody, Platform, SourceState};
use marquee_profile::Keychain;
use marquee_room::filter::WordFilter;
use std::fmt;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The keychain entry holding the YouTube Data API v3 key (as `marquee chat watch youtube`).
pub const YOUTUBE_KEY_NAME: &str = "youtube-api-key";

/// One platform chat the show reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSetting {
    pub platform: Platform,
    /// The bilibili room id (or open-platform app id), the Twitch channel or the YouTube
    /// video id.
    pub target: String,
    /// bilibili through the open platform (`bilibili-open:APPID`): the app's key pair and
    /// the streamer's 身份码 come from the keychain ([`keychain_names`]).
    pub open_platform: bool,
    /// Connect here instead of the platform (a local test server): the WebSocket for
    /// bilibili and Twitch, the API root for YouTube. Skips bilibili's room lookup.
    pub endpoint: Option<String>,
    /// The bilibili open platform's HTTP API root instead of bilibili's (a local test server).
    pub api: Option<String>,
}

impl ChatSetting {
    /// `bilibili:ROOM`, `bilibili-open:APPID`, `twitch:CHANNEL` or `youtube:VIDEO`.
    pub fn parse(spec: &str) -> Result<Self, ShowError> {
        let bad = |why: &str| {
            ShowError::Settings(format!(
                "chat source '{spec}': {why} (bilibili:ROOM, bilibili-open:APPID, \
                 twitch:CHANNEL or youtube:VIDEO)"
            ))
        };
        let (p, target) = spec.split_once(':').ok_or_else(|| bad("no platform"))?;
        if p.trim().eq_ignore_ascii_case("bilibili-open") {
            let app = target.trim();
            if !app.parse::<u64>().is_ok_and(|a| a > 0) {
                return Err(bad("a bilibili open-platform app id is a number"));
            }
            return Ok(Self {
                platform: Platform::Bilibili,
                target: app.to_string(),
                open_platform: true,
                endpoint: None,
                api: None,
            });
        }
        let platform = parse_platform(p).ok_or_else(|| bad("unknown platform"))?;
        let target = target.trim().trim_start_matches('#');
        let ok = match platform {
            Platform::Bilibili => target.parse::<u64>().is_ok_and(|r| r > 0),
            Platform::Twitch => {
                !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            Platform::Youtube => {
                !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }
        };
        if !ok {
            return Err(bad(match platform {
                Platform::Bilibili => "a bilibili room is a number",
                Platform::Twitch => "a Twitch channel is letters, digits and _",
                Platform::Youtube => "a YouTube video id is letters, digits, - and _",
            }));
        }
        Ok(Self {
            platform,
            target: target.to_string(),
            open_platform: false,
            endpoint: None,
            api: None,
        })
    }

    /// The source's protocol core. YouTube's API key is read from the keychain here.
    fn source(&self, keychain: &Keychain) -> Result<Box<dyn ChatSource>, String> {
        if self.open_platform {
            let app_id = self.target.parse().unwrap_or(0);
            let src = bilibili_open_source(
                keychain,
                app_id,
                self.api.as_deref(),
                self.endpoint.as_deref(),
            )?;
            return Ok(Box::new(src));
        }
        Ok(match self.platform {
            Platform::Bilibili => {
                let mut cfg = BilibiliConfig::new(self.target.parse().unwrap_or(0));
                if let Some(url) = &self.endpoint {
                    cfg.url = url.clone();
                }
                Box::new(Bilibili::new(cfg))
            }
            Platform::Twitch => {
                let mut cfg = TwitchConfig::new(&self.target);
                if let Some(url) = &self.endpoint {
                    cfg.url = url.clone();
                }
                Box::new(Twitch::new(cfg))
            }
            Platform::Youtube => {
                let key = keychain.get(YOUTUBE_KEY_NAME).map_err(|e| {
                    format!(
                        "YouTube needs a Data API v3 key in the OS keychain as '{YOUTUBE_KEY_NAME}' \
                         (`marquee key set {YOUTUBE_KEY_NAME}`): {e}"
                    )
                })?;
                let mut cfg = YoutubeConfig::new(&self.target, key);
                if let Some(url) = &self.endpoint {
                    cfg.url = url.clone();
                }
                Box::new(Youtube::new(cfg))
            }
        })
    }
}

impl ChatSetting {
    /// What kind of source this is, as written before the colon and as a test server is named
    /// for it: `bilibili`, `bilibili-open`, `twitch` or `youtube`.
    pub fn kind(&self) -> &'static str {
        match self.platform {
            Platform::Bilibili if self.open_platform => "bilibili-open",
            Platform::Bilibili => "bilibili",
            Platform::Twitch => "twitch",
            Platform::Youtube => "youtube",
        }
    }

    /// Points the source at the local test server `endpoint_for(kind)` names, if any
    /// (`marquee live --chat-endpoint`, the app's `MARQUEE_CHAT_ENDPOINTS`): the open
    /// platform's HTTP API (which names its own WebSocket), else the long connection or
    /// YouTube's API root.
    pub fn point_at(&mut self, endpoint_for: impl FnOnce(&str) -> Option<String>) {
        let url = endpoint_for(self.kind());
        if self.open_platform {
            self.api = url;
        } else {
            self.endpoint = url;
        }
    }
}

/// The source kind a test server's name stands for (`bilibili-open`, or a platform by any of
/// its names: `bili`, `yt`…), as [`ChatSetting::kind`] gives it.
pub fn endpoint_kind(name: &str) -> Option<&'static str> {
    if name.trim().eq_ignore_ascii_case("bilibili-open") {
        return Some("bilibili-open");
    }
    Some(match parse_platform(name)? {
        Platform::Bilibili => "bilibili",
        Platform::Twitch => "twitch",
        Platform::Youtube => "youtube",
    })
}

impl fmt::Display for ChatSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.target)
    }
}

/// Stores what the bilibili open platform needs for `app_id` in the keychain: the developer
/// app's key pair and/or the streamer's 身份码 (each only when given).
pub fn bilibili_open_store(
    keychain: &Keychain,
    app_id: u64,
    key: Option<&AccessKey>,
    code: Option<&str>,
) -> Result<(), String> {
    let [id_name, secret_name, code_name] = keychain_names(app_id);
    let store = |name: &str, value: &str| {
        keychain
            .set(name, value)
            .map_err(|e| format!("bilibili open platform: {e}"))
    };
    if let Some(k) = key {
        store(&id_name, &k.id)?;
        store(&secret_name, &k.secret)?;
    }
    if let Some(c) = code {
        store(&code_name, c)?;
    }
    Ok(())
}

/// Forgets everything stored for `app_id` (entries that are not there are no error).
pub fn bilibili_open_forget(keychain: &Keychain, app_id: u64) -> Result<(), String> {
    for name in keychain_names(app_id) {
        match keychain.delete(&name) {
            Ok(()) | Err(marquee_profile::KeyError::Missing(_)) => {}
            Err(e) => return Err(format!("bilibili open platform: {e}")),
        }
    }
    Ok(())
}

/// The open-platform source for `app_id`, its secrets read from the keychain. `api` and `ws`
/// replace bilibili's HTTP API and long connection (local test servers).
pub fn bilibili_open_source(
    keychain: &Keychain,
    app_id: u64,
    api: Option<&str>,
    ws: Option<&str>,
) -> Result<BilibiliOpen, String> {
    let [id_name, secret_name, code_name] = keychain_names(app_id);
    let read = |name: &str, what: &str| {
        keychain.get(name).map_err(|e| match e {
            marquee_profile::KeyError::Missing(_) => format!(
                "bilibili open platform needs {what} for app {app_id} in the OS keychain: store \
                 it with `marquee chat login bilibili-open --app-id {app_id}`"
            ),
            e => format!("bilibili open platform: {e}"),
        })
    };
    let key = AccessKey {
        id: read(&id_name, "the developer app's access key id")?,
        secret: read(&secret_name, "the developer app's access key secret")?,
    };
    let code = read(&code_name, "the streamer's 身份码")?;
    let mut cfg = OpenConfig::new(app_id, key, &code);
    if let Some(api) = api {
        cfg.api = api.to_string();
    }
    cfg.ws_url = ws.map(str::to_string);
    Ok(BilibiliOpen::new(cfg))
}

/// `bilibili`, `twitch` or `youtube` (any case).
pub fn parse_platform(s: &str) -> Option<Platform> {
    match s.trim().to_ascii_lowercase().as_str() {
        "bilibili" | "bili" => Some(Platform::Bilibili),
        "twitch" => Some(Platform::Twitch),
        "youtube" | "yt" => Some(Platform::Youtube),
        _ => None,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A source's protocol core, or why it cannot start.
type Prepared = (ChatSetting, Result<Box<dyn ChatSource>, String>);
/// Takes what the audience did; false once nobody is there to take it (the show ended).
pub(crate) type ToAudience = Box<dyn Fn(&Audience) -> bool + Send>;
/// Takes a source's new state, with the source's name (`twitch:NAME`).
pub(crate) type ToState = Box<dyn Fn(&str, &SourceState) + Send>;
/// Takes a source's note on how it reads its platform: its name, the case's code, the words.
pub(crate) type ToNote = Box<dyn Fn(&str, &str, &str) + Send>;
pub(crate) type ToPanel = Box<dyn Fn(&str, &crate::audience::ChatLine) + Send>;
/// Takes how many more of a source's chat lines were dropped because the show fell behind.
pub(crate) type ToDropped = Box<dyn Fn(&str, u64) + Send>;
/// Takes lines a moderator took away on the platform.
pub(crate) type ToRemoved = Box<dyn Fn(&str, &crate::audience::ChatRemoval) + Send>;

/// What a source's reader forwards to the show's loop.
enum Forward {
    Event(String, Box<EventBody>, Platform),
    Dropped(String, u64),
}

/// Where the sources' events go: the audience (overlay and signals), each source's state,
/// and each message or gift as the host's chat panel lists it.
pub(crate) struct ChatOut {
    pub audience: ToAudience,
    pub state: ToState,
    pub note: ToNote,
    pub line: ToPanel,
    pub dropped: ToDropped,
    pub removed: ToRemoved,
}

/// The running sources; dropping it stops them.
pub(crate) struct ChatRunner {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ChatRunner {
    /// Starts every source on one thread's runtime. What the audience does goes to
    /// `audience`, each source's state to `state`.
    pub(crate) fn start(
        settings: &[ChatSetting],
        blocked: WordFilter,
        keychain: &Keychain,
        to: ChatOut,
    ) -> Result<Self, String> {
        let sources: Vec<Prepared> = settings
            .iter()
            .map(|s| (s.clone(), s.source(keychain)))
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("show-chat".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        for (s, _) in &sources {
                            let why = format!("{}: cannot start: {e}", s.platform);
                            (to.state)(&s.to_string(), &SourceState::Failed { reason: why });
                        }
                        return;
                    }
                };
                rt.block_on(run(sources, blocked, to, stopped));
            })
            .map_err(|e| format!("cannot start the chat thread: {e}"))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for ChatRunner {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

async fn run(
    sources: Vec<Prepared>,
    blocked: WordFilter,
    to: ChatOut,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let ChatOut {
        audience,
        state,
        note,
        line,
        dropped,
        removed,
    } = to;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    // On stop each source says goodbye (bilibili's open platform ends its session).
    let (quit, quitting) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (setting, source) in sources {
        let name = setting.to_string();
        let source = match source {
            Ok(s) => s,
            Err(reason) => {
                state(&name, &SourceState::Failed { reason });
                continue;
            }
        };
        let tx = tx.clone();
        let mut quitting = quitting.clone();
        tasks.spawn(async move {
            let source = match resolve(&setting, source).await {
                Ok((s, warning)) => {
                    if let Some(text) = warning {
                        let note = EventBody::SourceNote {
                            code: marquee_chat::event::note::BILIBILI_ANONYMOUS.into(),
                            text,
                        };
                        let note = Forward::Event(name.clone(), Box::new(note), setting.platform);
                        if tx.send(note).await.is_err() {
                            return;
                        }
                    }
                    s
                }
                Err(reason) => {
                    let failed = EventBody::State(SourceState::Failed { reason });
                    let _ = tx
                        .send(Forward::Event(name, Box::new(failed), setting.platform))
                        .await;
                    return;
                }
            };
            let mut h = marquee_chat::spawn(source, DriverConfig::default());
            let mut told = 0;
            loop {
                let ev = tokio::select! {
                    ev = h.recv() => ev,
                    _ = quitting.changed() => {
                        h.shutdown(Duration::from_secs(3)).await;
                        return;
                    }
                };
                let Some(ev) = ev else {
                    return;
                };
                let lost = h.stats().dropped;
                if lost > told {
                    let n = lost - told;
                    told = lost;
                    if tx.send(Forward::Dropped(name.clone(), n)).await.is_err() {
                        return;
                    }
                }
                let ev = Forward::Event(name.clone(), Box::new(ev.body), ev.platform);
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let farewell = async move {
        let _ = quit.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(4), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
    };
    loop {
        let next = tokio::select! {
            _ = &mut stopped => return farewell.await,
            next = rx.recv() => next,
        };
        let (name, body, platform) = match next {
            Some(Forward::Event(name, body, platform)) => (name, *body, platform),
            Some(Forward::Dropped(name, n)) => {
                dropped(&name, n);
                continue;
            }
            None => {
                // Every source has ended; wait for the show to end.
                let _ = stopped.await;
                return farewell.await;
            }
        };
        match &body {
            EventBody::State(s) => {
                state(&name, s);
                continue;
            }
            EventBody::SourceNote { code, text } => {
                note(&name, code, text);
                continue;
            }
            _ => {}
        }
        let ev = marquee_chat::ChatEvent::new(platform, body);
        if let Some(l) = crate::audience::ChatLine::from_chat(&ev, &blocked) {
            line(&name, &l);
        }
        if let Some(r) = crate::audience::ChatRemoval::from_chat(&ev) {
            removed(&name, &r);
        }
        if let Some(a) = Audience::from_chat(&ev, &blocked, now_ms())
            && !audience(&a)
        {
            return farewell.await;
        }
    }
}

/// A bilibili room id becomes the real one, with its danmaku host and token when bilibili gives
/// them (unless an endpoint skips the lookup); with why not, when it reads anonymously.
async fn resolve(
    setting: &ChatSetting,
    source: Box<dyn ChatSource>,
) -> Result<(Box<dyn ChatSource>, Option<String>), String> {
    if setting.platform != Platform::Bilibili || setting.open_platform || setting.endpoint.is_some()
    {
        return Ok((source, None));
    }
    let asked = setting.target.parse().unwrap_or(0);
    let prepared = discover::prepare(asked, &discover::Endpoints::default()).await?;
    let warning = prepared.warning.map(|w| {
        tracing::warn!("bilibili: {w}");
        format!("bilibili: {w}")
    });
    Ok((Box::new(Bilibili::new(prepared.config)), warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_specs_name_a_platform_and_a_room_channel_or_video() {
        let t = ChatSetting::parse("twitch:#Some_Channel").unwrap();
        assert_eq!(
            (t.platform, t.target.as_str()),
            (Platform::Twitch, "Some_Channel")
        );
        assert_eq!(t.to_string(), "twitch:Some_Channel");
        assert_eq!(
            ChatSetting::parse("bilibili:21452505").unwrap().platform,
            Platform::Bilibili
        );
        assert_eq!(
            ChatSetting::parse("YouTube:dQw4w9WgXcQ").unwrap().platform,
            Platform::Youtube
        );
        let open = ChatSetting::parse("bilibili-open:1650000000001").unwrap();
        assert!(open.open_platform && open.platform == Platform::Bilibili);
        assert_eq!(open.to_string(), "bilibili-open:1650000000001");
        for bad in [
            "bilibili-open:x",
            "twitch",
            "bilibili:abc",
            "twitch:a b",
            "mixer:x",
            "youtube:",
        ] {
            assert!(
                matches!(ChatSetting::parse(bad), Err(ShowError::Settings(_))),
                "{bad}"
            );
        }
    }
}
