//! Destination URLs: parsing, the `key:NAME` placeholder, and redaction for display.
//! A URL with its key is built only at connect time and is never formatted for humans.

use std::fmt;

/// A destination as configured: what to show, and how to build the real URL when connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUrl {
    scheme: String,
    host: String,
    port: u16,
    /// Path without the stream name (e.g. "/live").
    app_path: String,
    stream: StreamName,
}

/// The last path segment: the stream key, given inline or by keychain name.
#[derive(Clone, PartialEq, Eq)]
pub enum StreamName {
    Inline(String),
    Keychain(String),
}

impl fmt::Debug for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(****)"),
            Self::Keychain(n) => write!(f, "Keychain({n})"),
        }
    }
}

/// Why a URL can never work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("unsupported scheme '{0}': use rtmp:// or rtmps://")]
    Scheme(String),
    #[error("'{0}' is not a URL like rtmp://host[:port]/app/STREAM_KEY")]
    Malformed(String),
}

impl DestinationUrl {
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| UrlError::Malformed(redact_str(s)))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "rtmp" && scheme != "rtmps" {
            return Err(UrlError::Scheme(scheme));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| UrlError::Malformed(redact_str(s)))?,
            ),
            _ => (
                authority.to_string(),
                if scheme == "rtmps" { 443 } else { 1935 },
            ),
        };
        if host.is_empty() {
            return Err(UrlError::Malformed(redact_str(s)));
        }
        let (app, stream) = path.rsplit_once('/').unwrap_or(("", path));
        if app.is_empty() || stream.is_empty() {
            return Err(UrlError::Malformed(redact_str(s)));
        }
        let stream = match stream.strip_prefix("key:") {
            Some(name) if !name.is_empty() => StreamName::Keychain(name.to_string()),
            _ => StreamName::Inline(stream.to_string()),
        };
        Ok(Self {
            scheme,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            app_path: format!("/{app}"),
            stream,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// RTMPS (RTMP inside TLS).
    pub fn is_tls(&self) -> bool {
        self.scheme() == "rtmps"
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Keychain entry name, if the key comes from the keychain.
    pub fn keychain_name(&self) -> Option<&str> {
        match &self.stream {
            StreamName::Keychain(n) => Some(n),
            StreamName::Inline(_) => None,
        }
    }

    /// The full URL to connect with. Only for the muxer; never print it.
    pub fn with_key(&self, key: Option<&str>) -> String {
        let name = match (&self.stream, key) {
            (StreamName::Inline(s), _) => s.as_str(),
            (StreamName::Keychain(_), Some(k)) => k,
            (StreamName::Keychain(_), None) => "",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{}:{}{}/{}",
            self.scheme, host, self.port, self.app_path, name
        )
    }
}

/// Shown to people: the stream name is always masked.
impl fmt::Display for DestinationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.stream {
            StreamName::Inline(_) => "****".to_string(),
            StreamName::Keychain(n) => format!("key:{n}"),
        };
        write!(
            f,
            "{}://{}:{}{}/{}",
            self.scheme, self.host, self.port, self.app_path, name
        )
    }
}

/// Best-effort redaction of something that looked like a URL but did not parse.
pub fn redact_str(s: &str) -> String {
    match s.rsplit_once('/') {
        Some((head, tail)) if !tail.is_empty() && head.contains("://") => format!("{head}/****"),
        _ if s.contains("://") => s.to_string(),
        _ => "****".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys_are_masked_when_displayed() {
        let u = DestinationUrl::parse("rtmp://live.example.com/app/sk_live_123").unwrap();
        assert_eq!(u.to_string(), "rtmp://live.example.com:1935/app/****");
        assert!(!format!("{u:?}").contains("sk_live_123"));
        assert_eq!(
            u.with_key(None),
            "rtmp://live.example.com:1935/app/sk_live_123"
        );
    }

    #[test]
    fn keychain_placeholders_are_filled_only_at_connect_time() {
        let u = DestinationUrl::parse("rtmps://h:4443/live/key:main").unwrap();
        assert_eq!(u.keychain_name(), Some("main"));
        assert_eq!(u.to_string(), "rtmps://h:4443/live/key:main");
        assert_eq!(u.with_key(Some("secret")), "rtmps://h:4443/live/secret");
    }

    #[test]
    fn urls_that_can_never_work_are_rejected_without_echoing_the_key() {
        let e = DestinationUrl::parse("http://h/live/secret").unwrap_err();
        assert!(e.to_string().contains("rtmp://"));
        let e = DestinationUrl::parse("rtmp://h/secretonly").unwrap_err();
        assert!(!e.to_string().contains("secretonly"), "{e}");
        assert!(DestinationUrl::parse("rtmp://:1935/a/b").is_err());
    }

    #[test]
    fn nested_app_paths_keep_all_but_the_last_segment() {
        let u = DestinationUrl::parse("rtmp://h:1936/a/b/k").unwrap();
        assert_eq!(u.with_key(None), "rtmp://h:1936/a/b/k");
        assert_eq!(u.to_string(), "rtmp://h:1936/a/b/****");
    }
}
