//! Stream destinations: a server (shown freely) and a stream key (a secret: inline, from the
//! command line only, or a name in the OS keychain). The URL with the key in it is built only
//! at connect time and is never formatted for people; [`redact`] is the one rule for showing
//! anything that may contain a destination URL.
//!
//! Any URL shape splits the same way: `scheme://host[:port]/APP/KEY[?QUERY]`. The key is the
//! last path segment with its query, or, when the path is only the app, the query itself
//! (bilibili's server `…/live-bvc/` with the key `?streamname=…&key=…`). A trailing slash after
//! the key is dropped.

use std::fmt;

/// Schemes we can push to.
const SCHEMES: [&str; 2] = ["rtmp", "rtmps"];

/// Where to push, without the key: `scheme://host[:port]/app`. Safe to show and to store; it
/// shows as it was written (a default port stays left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `scheme://authority/app` as given (scheme in lower case, no trailing slash).
    shown: String,
    scheme: String,
    host: String,
    port: u16,
    /// The path without leading or trailing slashes, e.g. `live` or `a/b`.
    app: String,
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
    #[error("unsupported scheme '{0}': use rtmp:// or rtmps://")]
    Scheme(String),
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
            Some(parts) => Ok(parts),
            None => Err(UrlError::Malformed(redact(s))),
        }
    }

    /// Any `scheme://host[:port]/app[/key][?query]`, whatever the scheme.
    fn split(s: &str) -> Option<(Server, Option<String>)> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let default_port = if scheme == "rtmps" { 443 } else { 1935 };
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

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
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

    /// The form a config file keeps (`rtmp://host:port/app/key:NAME`); `None` for an inline
    /// key, which is never written to a file.
    pub fn reference(&self) -> Option<String> {
        self.keychain_name()
            .map(|n| format!("{}/key:{n}", self.server))
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
            ("srt://h:9000?streamid=s3cret", "srt://h:9000/****"),
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
}
