//! Stream destinations: a server (shown freely) and a stream key (a secret: inline, from the
//! command line only, or a name in the OS keychain). The URL with the key in it is built only
//! at connect time and is never formatted for people; [`redact`] is the one rule for showing
//! anything that may contain a destination URL.
//!
//! Any RTMP URL shape splits the same way: `scheme://host[:port]/APP/KEY[?QUERY]`. The key is
//! the last path segment with its query, or, when the path is only the app, the query itself
//! (bilibili's server `…/live-bvc/` with the key `?streamname=…&key=…`). A trailing slash after
//! the key is dropped.
//!
//! SRT (`srt://host:port?streamid=…&passphrase=…&latency=…`, caller mode) has no path: its
//! secret is the `streamid` and `passphrase` parameters (see [`SRT_SECRETS`]), kept together
//! as one key like bilibili's query string; the other parameters belong to the server. Each
//! secret value may itself be `key:NAME` (a keychain entry holding that one value), and the
//! whole secret may be one keychain entry (`srt://host:port?key:NAME`, the entry holding
//! `streamid=…&passphrase=…`), which is the form the app saves.

use std::fmt;

/// Schemes we can push to.
const SCHEMES: [&str; 3] = ["rtmp", "rtmps", "srt"];

/// The SRT parameters that are secrets: never shown, never written to a file.
pub const SRT_SECRETS: [&str; 2] = ["streamid", "passphrase"];

/// SRT's default port when none is given (the common ingest port).
const SRT_DEFAULT_PORT: u16 = 9000;

/// Where to push, without the key: `scheme://host[:port]/app`. Safe to show and to store; it
/// shows as it was written (a default port stays left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `scheme://authority/app` as given (scheme in lower case, no trailing slash).
    shown: String,
    scheme: String,
    host: String,
    port: u16,
    /// The path without leading or trailing slashes, e.g. `live` or `a/b` (empty for SRT).
    app: String,
    /// SRT: the parameters that are not secret (`latency=200`), as written.
    query: String,
}

/// The stream key: given inline (the CLI's `--to rtmp://h/app/KEY`) or by keychain name.
#[derive(Clone, PartialEq, Eq)]
pub enum StreamKey {
    Inline(String),
    Keychain(String),
}

impl fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(****)"),
            Self::Keychain(n) => write!(f, "Keychain({n})"),
        }
    }
}

/// A destination as configured: what to show, and how to build the real URL when connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUrl {
    server: Server,
    key: StreamKey,
}

/// Why a URL can never work. Never contains a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("unsupported scheme '{0}': use rtmp://, rtmps:// or srt://")]
    Scheme(String),
    /// An SRT address that cannot work (the reason never contains a secret).
    #[error("{0}")]
    Srt(String),
    #[error("'{0}' is not a URL like rtmp://host[:port]/app/STREAM_KEY")]
    Malformed(String),
    #[error(
        "'{0}' has no stream key: add it after the app (rtmp://host/app/KEY) or name one in the keychain (…/app/key:NAME)"
    )]
    NoKey(String),
}

impl Server {
    /// Parses a server address. A key pasted after the app (a full URL) comes back apart:
    /// `(server, Some(key))`.
    pub fn parse(s: &str) -> Result<(Server, Option<String>), UrlError> {
        let s = s.trim();
        match Self::split(s) {
            Some((server, _)) if !SCHEMES.contains(&server.scheme.as_str()) => {
                Err(UrlError::Scheme(server.scheme))
            }
            Some((server, _)) if server.scheme == "srt" => {
                check_srt_query(&server.query)?;
                Self::split(s).ok_or_else(|| UrlError::Malformed(redact(s)))
            }
            Some(parts) => Ok(parts),
            None => Err(UrlError::Malformed(redact(s))),
        }
    }

    /// Any `scheme://host[:port]/app[/key][?query]`, whatever the scheme; for `srt://`,
    /// `srt://host:port[?query]` with the secret parameters as the key.
    fn split(s: &str) -> Option<(Server, Option<String>)> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "srt" {
            return split_srt(rest);
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let default_port = if scheme == "rtmps" { 443 } else { 1935 };
        let (host, port) = host_port(authority, default_port)?;
        let (path, query) = match path.find('?') {
            Some(i) => path.split_at(i),
            None => (path, ""),
        };
        let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let (app, key) = match (segments.as_slice(), query) {
            ([], _) => return None,
            ([app], "") => (app.to_string(), None),
            ([app], q) => (app.to_string(), Some(q.to_string())),
            ([app @ .., last], q) => (app.join("/"), Some(format!("{last}{q}"))),
        };
        Some((
            Server {
                shown: format!("{scheme}://{authority}/{app}"),
                scheme,
                host: host.to_string(),
                port,
                app,
                query: String::new(),
            },
            key,
        ))
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SRT: the parameters that are not secret (`latency=200`), as written.
    pub fn query(&self) -> &str {
        &self.query
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// `host[:port]` or `[v6][:port]`; None when it is not an address.
fn host_port(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        // [IPv6]:port
        Some(v6) => {
            let (host, rest) = v6.split_once(']')?;
            match rest.strip_prefix(':') {
                Some(p) => (host, p.parse::<u16>().ok()?),
                None if rest.is_empty() => (host, default_port),
                None => return None,
            }
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok()?),
            None => (authority, default_port),
        },
    };
    if host.is_empty() || host.contains(['@', ' ']) {
        return None;
    }
    Some((host, port))
}

/// `host[:port][/][?query]` after `srt://`: the secret parameters (and a bare `key:NAME`)
/// become the key, the others stay with the server.
fn split_srt(rest: &str) -> Option<(Server, Option<String>)> {
    let (before, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = before.strip_suffix('/').unwrap_or(before);
    if authority.contains('/') {
        return None;
    }
    let (host, port) = host_port(authority, SRT_DEFAULT_PORT)?;
    let (mut public, mut secret) = (Vec::new(), Vec::new());
    for item in query.split('&').filter(|i| !i.is_empty()) {
        let name = item.split_once('=').map_or(item, |(k, _)| k);
        if SRT_SECRETS.contains(&name) || item.starts_with("key:") {
            secret.push(item);
        } else {
            public.push(item);
        }
    }
    let query = public.join("&");
    let shown = match query.as_str() {
        "" => format!("srt://{authority}"),
        q => format!("srt://{authority}?{q}"),
    };
    let server = Server {
        shown,
        scheme: "srt".into(),
        host: host.to_string(),
        port,
        app: String::new(),
        query,
    };
    Some((server, (!secret.is_empty()).then(|| secret.join("&"))))
}

/// An SRT destination's own parameters: caller mode only, `latency` in milliseconds.
fn check_srt_query(query: &str) -> Result<(), UrlError> {
    for item in query.split('&').filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        match k {
            "mode" if v != "caller" => {
                return Err(UrlError::Srt(format!(
                    "an SRT destination calls the ingest (mode=caller), it cannot be mode={v}"
                )));
            }
            "latency" if !v.parse::<u32>().is_ok_and(|ms| ms <= 60_000) => {
                return Err(UrlError::Srt(format!(
                    "latency={v}: SRT latency is in milliseconds, 0 to 60000 (120 is SRT's default; 200 to 2000 over the internet)"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The SRT passphrase rule, checked before connecting (the listener only says "rejected").
fn check_srt_passphrase(p: &str) -> Result<(), String> {
    match p.chars().count() {
        10..=79 => Ok(()),
        _ => Err("the SRT passphrase must be 10 to 79 characters long (check it; it is the same on both ends)".into()),
    }
}

/// The secret parameters as shown: names kept, values masked, `key:NAME` references kept.
fn srt_secrets_shown(secret: &str) -> String {
    let shown: Vec<String> = secret
        .split('&')
        .filter(|i| !i.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if v.starts_with("key:") => format!("{k}={v}"),
            Some((k, _)) => format!("{k}=****"),
            None if item.starts_with("key:") => item.to_string(),
            None => "****".into(),
        })
        .collect();
    shown.join("&")
}

/// True when a secret query holds a secret itself, not only `key:NAME` references.
fn srt_has_inline_secret(secret: &str) -> bool {
    srt_secrets_shown(secret).contains("****")
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl DestinationUrl {
    /// A full URL whose last part is the key, inline or `key:NAME` (the keychain).
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let (server, key) = Server::parse(s)?;
        if server.scheme == "srt" {
            // SRT without a stream id or passphrase is a valid (open) ingest.
            let key = StreamKey::from_tail(key.as_deref().unwrap_or(""));
            if let StreamKey::Inline(q) = &key {
                for item in q.split('&') {
                    if let Some(p) = item.strip_prefix("passphrase=")
                        && !p.starts_with("key:")
                    {
                        check_srt_passphrase(p).map_err(UrlError::Srt)?;
                    }
                }
            }
            return Ok(Self::new(server, key));
        }
        // Only the host is shown: a lone path segment may be a key typed without its app.
        let key = key.ok_or_else(|| {
            UrlError::NoKey(format!(
                "{}://{}:{}",
                server.scheme, server.host, server.port
            ))
        })?;
        Ok(Self::new(server, StreamKey::from_tail(&key)))
    }

    pub fn new(server: Server, key: StreamKey) -> Self {
        Self { server, key }
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    pub fn key(&self) -> &StreamKey {
        &self.key
    }

    pub fn host(&self) -> &str {
        &self.server.host
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// RTMPS (RTMP inside TLS).
    pub fn is_tls(&self) -> bool {
        self.scheme() == "rtmps"
    }

    pub fn scheme(&self) -> &str {
        &self.server.scheme
    }

    /// Keychain entry name, if the key comes from the keychain.
    pub fn keychain_name(&self) -> Option<&str> {
        match &self.key {
            StreamKey::Keychain(n) => Some(n),
            StreamKey::Inline(_) => None,
        }
    }

    /// SRT (caller mode, MPEG-TS).
    pub fn is_srt(&self) -> bool {
        self.scheme() == "srt"
    }

    /// The form a config file keeps (`rtmp://host:port/app/key:NAME`,
    /// `srt://host:port?latency=200&key:NAME`); `None` for an inline key, which is never
    /// written to a file.
    pub fn reference(&self) -> Option<String> {
        match &self.key {
            StreamKey::Inline(q) if self.is_srt() && !srt_has_inline_secret(q) => {
                Some(self.to_string())
            }
            StreamKey::Inline(_) => None,
            StreamKey::Keychain(_) if self.is_srt() => Some(self.to_string()),
            StreamKey::Keychain(n) => Some(format!("{}/key:{n}", self.server)),
        }
    }

    /// True when connecting needs a secret that is not in the keychain (an inline key).
    pub fn has_inline_secret(&self) -> bool {
        match &self.key {
            StreamKey::Inline(q) if self.is_srt() => srt_has_inline_secret(q),
            StreamKey::Inline(_) => true,
            StreamKey::Keychain(_) => false,
        }
    }

    /// Every keychain entry connecting reads: the key's, and for SRT each
    /// `streamid=key:NAME` / `passphrase=key:NAME`.
    pub fn keychain_names(&self) -> Vec<&str> {
        match &self.key {
            StreamKey::Keychain(n) => vec![n.as_str()],
            StreamKey::Inline(q) if self.is_srt() => q
                .split('&')
                .filter_map(|i| i.split_once('=')?.1.strip_prefix("key:"))
                .filter(|n| !n.is_empty())
                .collect(),
            StreamKey::Inline(_) => Vec::new(),
        }
    }

    /// The full URL to connect with, keychain entries read through `resolve` (name → secret;
    /// its error is shown as it is). Only for the muxer; never print it. For SRT, FFmpeg's
    /// form: `mode=caller`, `latency` in microseconds.
    pub fn connect_url(
        &self,
        resolve: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<String, String> {
        if !self.is_srt() {
            let key = match &self.key {
                StreamKey::Keychain(n) => Some(resolve(n)?),
                StreamKey::Inline(_) => None,
            };
            return Ok(self.with_key(key.as_deref()));
        }
        let secret = match &self.key {
            StreamKey::Inline(q) => q.clone(),
            StreamKey::Keychain(n) => resolve(n)?,
        };
        let mut params = vec!["mode=caller".to_string()];
        for item in self.server.query.split('&').filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some(("mode", _)) => {}
                Some(("latency", ms)) => {
                    let ms: u64 = ms.parse().map_err(|_| "bad SRT latency".to_string())?;
                    params.push(format!("latency={}", ms * 1000));
                }
                _ => params.push(item.to_string()),
            }
        }
        for item in secret.trim().split('&').filter(|i| !i.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(format!(
                    "the keychain entry for {self} must hold streamid=…&passphrase=… (SRT's secret parameters)"
                ));
            };
            let (raw, v) = match v.strip_prefix("key:").filter(|n| !n.is_empty()) {
                Some(name) => {
                    let raw = resolve(name)?.trim().to_string();
                    let enc = marquee_capture::url_escape(&raw);
                    (raw, enc)
                }
                None => (v.to_string(), v.to_string()),
            };
            if k == "passphrase" {
                check_srt_passphrase(&raw)?;
            }
            params.push(format!("{k}={v}"));
        }
        Ok(format!(
            "srt://{}:{}?{}",
            self.server.host_for_url(),
            self.server.port,
            params.join("&")
        ))
    }

    /// The full URL to connect with. Only for the muxer; never print it.
    pub fn with_key(&self, key: Option<&str>) -> String {
        let name = match (&self.key, key) {
            (StreamKey::Inline(s), _) => s.as_str(),
            (StreamKey::Keychain(_), Some(k)) => k.trim(),
            (StreamKey::Keychain(_), None) => "",
        };
        let name = name.trim_start_matches('/');
        let s = &self.server;
        format!(
            "{}://{}:{}/{}/{name}",
            s.scheme,
            s.host_for_url(),
            s.port,
            s.app
        )
    }
}

impl StreamKey {
    /// `key:NAME` names a keychain entry; anything else is the key itself.
    pub fn from_tail(tail: &str) -> Self {
        match tail.strip_prefix("key:") {
            Some(name) if !name.is_empty() => StreamKey::Keychain(name.to_string()),
            _ => StreamKey::Inline(tail.to_string()),
        }
    }
}

/// Shown to people: an inline key is always masked, a keychain key shows its name.
impl fmt::Display for DestinationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_srt() {
            let secret = match &self.key {
                StreamKey::Inline(q) => srt_secrets_shown(q),
                StreamKey::Keychain(n) => format!("key:{n}"),
            };
            let sep = if self.server.query.is_empty() {
                '?'
            } else {
                '&'
            };
            return match secret.as_str() {
                "" => write!(f, "{}", self.server),
                s => write!(f, "{}{sep}{s}", self.server),
            };
        }
        match &self.key {
            StreamKey::Inline(_) => write!(f, "{}/****", self.server),
            StreamKey::Keychain(n) => write!(f, "{}/key:{n}", self.server),
        }
    }
}

/// Masks every stream key in `text`: each `scheme://…` in it keeps its server and loses what
/// follows the app (a `key:NAME` reference stays, it is not secret). Text that only looks like
/// a URL keeps its host and first path segment.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme: letters before "://".
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |j| j + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |j| i + j);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn redact_url(url: &str) -> String {
    if let Some((server, key)) =
        Server::split(url).filter(|(s, _)| SCHEMES.contains(&s.scheme.as_str()))
    {
        return match key.map(|k| StreamKey::from_tail(&k)) {
            None => server.to_string(),
            Some(key) => DestinationUrl::new(server, key).to_string(),
        };
    }
    // Unparsable: keep `scheme://authority/first`, mask the rest.
    let Some((scheme, rest)) = url.split_once("://") else {
        return "****".into();
    };
    let cut = |s: &str| s.find(['/', '?', '#']).unwrap_or(s.len());
    let (authority, after) = rest.split_at(cut(rest));
    let mut shown = format!("{scheme}://{authority}");
    let hidden = match after.strip_prefix('/') {
        Some(path) => {
            let (first, tail) = path.split_at(cut(path));
            if !first.is_empty() {
                shown.push('/');
                shown.push_str(first);
            }
            tail
        }
        None => after,
    };
    if hidden.trim_matches(['/', '?', '#']).is_empty() {
        shown
    } else {
        format!("{shown}/****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys_are_masked_when_displayed() {
        let u = DestinationUrl::parse("rtmp://live.example.com/app/sk_live_123").unwrap();
        assert_eq!(u.to_string(), "rtmp://live.example.com/app/****");
        assert!(!format!("{u:?}").contains("sk_live_123"));
        assert_eq!(
            u.with_key(None),
            "rtmp://live.example.com:1935/app/sk_live_123"
        );
        assert_eq!(u.reference(), None, "an inline key never goes to a file");
    }

    #[test]
    fn keychain_placeholders_are_filled_only_at_connect_time() {
        let u = DestinationUrl::parse("rtmps://h:4443/live/key:main").unwrap();
        assert_eq!(u.keychain_name(), Some("main"));
        assert_eq!(u.to_string(), "rtmps://h:4443/live/key:main");
        assert_eq!(u.with_key(Some("secret")), "rtmps://h:4443/live/secret");
        assert_eq!(
            u.reference().as_deref(),
            Some("rtmps://h:4443/live/key:main")
        );
    }

    #[test]
    fn urls_that_can_never_work_are_rejected_without_echoing_the_key() {
        let e = DestinationUrl::parse("http://h/live/secret").unwrap_err();
        assert!(e.to_string().contains("rtmp://"));
        let e = DestinationUrl::parse("rtmp://h/secretonly").unwrap_err();
        assert!(!e.to_string().contains("secretonly"), "{e}");
        assert!(DestinationUrl::parse("rtmp://:1935/a/b").is_err());
        let e = DestinationUrl::parse("rtmp://h:port/app/SECRET").unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    #[test]
    fn a_trailing_slash_after_the_key_neither_leaks_nor_reaches_the_server() {
        let u = DestinationUrl::parse("rtmp://host/app/SECRET/").unwrap();
        assert_eq!(u.to_string(), "rtmp://host/app/****");
        assert_eq!(u.with_key(None), "rtmp://host:1935/app/SECRET");
        assert_eq!(
            redact("cannot reach rtmp://host/app/SECRET/ now"),
            "cannot reach rtmp://host/app/**** now"
        );
    }

    #[test]
    fn bilibili_query_string_keys_split_and_rebuild_exactly() {
        let full = "rtmp://live-push.bilivideo.com/live-bvc/?streamname=live_1_2&key=abc123&schedule=rtmp&pflag=1";
        let u = DestinationUrl::parse(full).unwrap();
        assert_eq!(
            u.to_string(),
            "rtmp://live-push.bilivideo.com/live-bvc/****"
        );
        assert_eq!(
            u.with_key(None),
            "rtmp://live-push.bilivideo.com:1935/live-bvc/?streamname=live_1_2&key=abc123&schedule=rtmp&pflag=1"
        );
        // The same key from the keychain behind the bare server.
        let (server, none) = Server::parse("rtmp://live-push.bilivideo.com/live-bvc/").unwrap();
        assert_eq!(none, None);
        let k = DestinationUrl::new(server, StreamKey::Keychain("bili".into()));
        assert_eq!(
            k.with_key(Some("?streamname=live_1_2&key=abc123")),
            "rtmp://live-push.bilivideo.com:1935/live-bvc/?streamname=live_1_2&key=abc123"
        );
        assert!(!redact(full).contains("abc123"));
    }

    #[test]
    fn a_key_with_a_signed_query_is_one_secret() {
        let u = DestinationUrl::parse("rtmp://push.example.com/live/room1?txSecret=ff&txTime=6")
            .unwrap();
        assert_eq!(u.to_string(), "rtmp://push.example.com/live/****");
        assert_eq!(
            u.with_key(None),
            "rtmp://push.example.com:1935/live/room1?txSecret=ff&txTime=6"
        );
    }

    #[test]
    fn nested_app_paths_keep_all_but_the_last_segment() {
        let u = DestinationUrl::parse("rtmp://h:1936/a/b/k").unwrap();
        assert_eq!(u.with_key(None), "rtmp://h:1936/a/b/k");
        assert_eq!(u.to_string(), "rtmp://h:1936/a/b/****");
    }

    #[test]
    fn a_pasted_full_url_in_the_server_field_comes_apart() {
        let (s, key) = Server::parse("rtmp://live.twitch.tv/app/live_123_abc").unwrap();
        assert_eq!(s.to_string(), "rtmp://live.twitch.tv/app");
        assert_eq!(key.as_deref(), Some("live_123_abc"));
        let (s, key) = Server::parse("rtmps://a.rtmps.youtube.com/live2").unwrap();
        assert_eq!(s.to_string(), "rtmps://a.rtmps.youtube.com/live2");
        assert_eq!(key, None);
        let (s, key) = Server::parse("rtmp://[::1]:1935/live/").unwrap();
        assert_eq!((s.host(), key), ("::1", None));
        assert_eq!(s.to_string(), "rtmp://[::1]:1935/live");
    }

    #[test]
    fn redaction_masks_every_url_shape_in_free_text() {
        let cases = [
            ("rtmp://h/app/s3cret", "rtmp://h/app/****"),
            ("rtmps://h:443/app/s3cret?x=1", "rtmps://h:443/app/****"),
            ("rtmp://h/app/key:main", "rtmp://h/app/key:main"),
            ("rtmp://h/app", "rtmp://h/app"),
            ("srt://h:9000?streamid=s3cret", "srt://h:9000?streamid=****"),
            (
                "srt://h:9000?latency=200&passphrase=s3cretpass&streamid=key:sid",
                "srt://h:9000?latency=200&passphrase=****&streamid=key:sid",
            ),
            ("rtmp://h:bad/app/s3cret", "rtmp://h:bad/app/****"),
            ("no url here", "no url here"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
        let text = "dest 1 \"rtmp://a/b/s3cret\" and rtmp://c/d/s3cret2, done";
        let r = redact(text);
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.starts_with("dest 1 \"rtmp://a/b/****\" and "), "{r}");
    }

    fn no_keychain(name: &str) -> Result<String, String> {
        Err(format!("no keychain entry {name}"))
    }

    #[test]
    fn srt_secrets_are_masked_and_the_rest_is_the_server() {
        let u = DestinationUrl::parse(
            "srt://ingest.example.com:9000?streamid=live/abc&passphrase=hunter2hunter2&latency=300",
        )
        .unwrap();
        assert!(u.is_srt());
        assert_eq!(
            u.server().to_string(),
            "srt://ingest.example.com:9000?latency=300"
        );
        assert_eq!(
            u.to_string(),
            "srt://ingest.example.com:9000?latency=300&streamid=****&passphrase=****"
        );
        assert!(!format!("{u:?}").contains("hunter2"));
        assert_eq!(u.reference(), None, "inline secrets never go to a file");
        assert!(u.has_inline_secret());
        assert_eq!(
            u.connect_url(&no_keychain).unwrap(),
            "srt://ingest.example.com:9000?mode=caller&latency=300000&streamid=live/abc&passphrase=hunter2hunter2"
        );
    }

    #[test]
    fn srt_secrets_come_from_the_keychain_one_by_one_or_together() {
        let keychain = |name: &str| match name {
            "sid" => Ok("#!::r=live/a,m=publish".to_string()),
            "pw" => Ok("correct horse battery".to_string()),
            "both" => Ok("streamid=s1&passphrase=key:pw".to_string()),
            n => no_keychain(n),
        };
        let u = DestinationUrl::parse("srt://h:9001?streamid=key:sid&passphrase=key:pw").unwrap();
        assert_eq!(u.keychain_names(), vec!["sid", "pw"]);
        assert!(!u.has_inline_secret());
        assert_eq!(
            u.reference().as_deref(),
            Some("srt://h:9001?streamid=key:sid&passphrase=key:pw")
        );
        assert_eq!(
            u.connect_url(&keychain).unwrap(),
            "srt://h:9001?mode=caller&streamid=%23%21%3A%3Ar%3Dlive%2Fa%2Cm%3Dpublish&passphrase=correct%20horse%20battery"
        );
        let whole = DestinationUrl::parse("srt://h?latency=200&key:both").unwrap();
        assert_eq!(whole.keychain_name(), Some("both"));
        assert_eq!(
            whole.reference().as_deref(),
            Some("srt://h?latency=200&key:both")
        );
        assert_eq!(
            whole.connect_url(&keychain).unwrap(),
            "srt://h:9000?mode=caller&latency=200000&streamid=s1&passphrase=correct%20horse%20battery"
        );
        let e = u.connect_url(&no_keychain).unwrap_err();
        assert!(e.contains("sid"), "{e}");
    }

    #[test]
    fn srt_addresses_that_can_never_work_say_why_without_the_secret() {
        let open = DestinationUrl::parse("srt://127.0.0.1:9000").unwrap();
        assert_eq!(open.reference().as_deref(), Some("srt://127.0.0.1:9000"));
        assert_eq!(
            open.connect_url(&no_keychain).unwrap(),
            "srt://127.0.0.1:9000?mode=caller"
        );
        let e = DestinationUrl::parse("srt://h:9000?passphrase=short1").unwrap_err();
        assert!(e.to_string().contains("10 to 79"), "{e}");
        assert!(!e.to_string().contains("short1"), "{e}");
        let e = DestinationUrl::parse("srt://h:9000?mode=listener").unwrap_err();
        assert!(e.to_string().contains("caller"), "{e}");
        let e = DestinationUrl::parse("srt://h:9000?latency=200000").unwrap_err();
        assert!(e.to_string().contains("milliseconds"), "{e}");
        let bad = |_: &str| Ok("short".to_string());
        let kc = DestinationUrl::parse("srt://h?passphrase=key:pw").unwrap();
        let e = kc.connect_url(&bad).unwrap_err();
        assert!(e.contains("10 to 79") && !e.contains("short"), "{e}");
        let (server, key) = Server::parse("srt://h:9000?streamid=abc&latency=80").unwrap();
        assert_eq!(server.to_string(), "srt://h:9000?latency=80");
        assert_eq!(key.as_deref(), Some("streamid=abc"));
    }
}
