//! Playback URLs: where viewers watch the show. The room only passes them on to the viewer
//! page (it never fetches them), so the rules are about what a browser may be pointed at and
//! what every viewer will see: http or https only, no credentials, bounded in number and size.

use crate::protocol::PlaybackSource;

/// The most playback URLs (camera angles) a room offers.
pub const MAX_SOURCES: usize = 8;
/// The longest playback URL, in bytes (signed CDN URLs run long).
pub const MAX_URL_BYTES: usize = 2048;
/// The longest angle name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// Why a playback list was refused; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaybackError {
    #[error("at most {MAX_SOURCES} playback URLs (got {0})")]
    TooMany(usize),
    /// The URL at a 1-based position in the list (0: a single one) and why.
    #[error("playback URL{}: {}", at(*.0), .1)]
    Url(usize, String),
    #[error("playback name{}: {}", at(*.0), .1)]
    Name(usize, String),
}

fn at(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" {n}")
    }
}

/// How the viewer page plays a URL: by the path's extension, `.flv` is HTTP-FLV and anything
/// else HLS (CDN playlists often have no `.m3u8` in their path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackKind {
    Hls,
    Flv,
}

/// The kind of `url` (see [`PlaybackKind`]).
pub fn kind(url: &str) -> PlaybackKind {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    if path.to_ascii_lowercase().ends_with(".flv") {
        PlaybackKind::Flv
    } else {
        PlaybackKind::Hls
    }
}

/// Checks a whole list (1-based positions in the messages); an empty list is valid (no video).
pub fn validate(sources: &[PlaybackSource]) -> Result<(), PlaybackError> {
    if sources.len() > MAX_SOURCES {
        return Err(PlaybackError::TooMany(sources.len()));
    }
    for (i, s) in sources.iter().enumerate() {
        let n = i + 1;
        check_url(&s.url).map_err(|why| PlaybackError::Url(n, why))?;
        check_name(&s.name).map_err(|why| PlaybackError::Name(n, why))?;
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("longer than {MAX_URL_BYTES} bytes"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "{scheme}:// cannot be played in a browser; use the ingest's HLS (.m3u8) or \
             HTTP-FLV (.flv) http:// or https:// URL"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not carry a user name or password (every viewer sees it)".into());
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()) && !authority.ends_with(']'))
        .map_or(authority, |(h, _)| h);
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("longer than {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Reads `NAME=URL` or `URL` (a command-line argument, a line in a form). A string that starts
/// with a scheme is all URL, so `=` in its query string is no name.
pub fn parse_source(arg: &str) -> Result<PlaybackSource, PlaybackError> {
    let arg = arg.trim();
    let (name, url) = match arg.split_once('=') {
        Some((name, url)) if !name.contains("://") => (name.trim(), url.trim()),
        _ => ("", arg),
    };
    let source = PlaybackSource {
        name: name.to_string(),
        url: url.to_string(),
    };
    validate(std::slice::from_ref(&source)).map_err(|e| match e {
        PlaybackError::Url(_, why) => PlaybackError::Url(0, why),
        PlaybackError::Name(_, why) => PlaybackError::Name(0, why),
        e => e,
    })?;
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, url: &str) -> PlaybackSource {
        PlaybackSource {
            name: name.into(),
            url: url.into(),
        }
    }

    #[test]
    fn http_and_https_playlists_and_flv_are_accepted() {
        let ok = [
            src("stage", "http://127.0.0.1:8080/hls/show.m3u8"),
            src("", "https://cdn.example.com/live/abc.flv?sign=x=y"),
            src("后台", "HTTPS://[::1]:8443/hls/back.m3u8"),
        ];
        assert_eq!(validate(&ok), Ok(()));
        assert_eq!(validate(&[]), Ok(()));
    }

    #[test]
    fn what_a_browser_cannot_play_or_every_viewer_should_not_see_is_refused_with_the_reason() {
        let cases = [
            ("rtmp://ingest/live/key", "cannot be played in a browser"),
            ("javascript:alert(1)", "not an http"),
            ("/hls/show.m3u8", "not an http"),
            ("http:///x.m3u8", "no host"),
            ("https://user:pw@cdn/x.m3u8", "user name or password"),
            ("http://a b/x.m3u8", "spaces"),
        ];
        for (url, why) in cases {
            let e = validate(&[src("", url)]).unwrap_err().to_string();
            assert!(
                e.starts_with("playback URL 1: ") && e.contains(why),
                "{url}: {e}"
            );
        }
        let long = format!("https://cdn/{}.m3u8", "a".repeat(MAX_URL_BYTES));
        assert!(
            validate(&[src("", &long)])
                .unwrap_err()
                .to_string()
                .contains("longer than")
        );
        let name = "n".repeat(MAX_NAME_CHARS + 1);
        assert!(matches!(
            validate(&[src(&name, "http://h/x.m3u8")]),
            Err(PlaybackError::Name(1, _))
        ));
        let many = vec![src("", "http://h/x.m3u8"); MAX_SOURCES + 1];
        assert_eq!(
            validate(&many),
            Err(PlaybackError::TooMany(MAX_SOURCES + 1))
        );
    }

    #[test]
    fn an_argument_is_name_equals_url_or_just_a_url() {
        assert_eq!(
            parse_source("stage=http://h/s.m3u8").unwrap(),
            src("stage", "http://h/s.m3u8")
        );
        assert_eq!(
            parse_source("https://h/s.flv?a=b").unwrap(),
            src("", "https://h/s.flv?a=b")
        );
        let e = parse_source("stage=rtmp://h/live/s")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("playback URL: rtmp://"), "{e}");
    }

    #[test]
    fn flv_by_its_extension_and_everything_else_is_hls() {
        assert_eq!(kind("https://h/live/a.FLV?t=1"), PlaybackKind::Flv);
        assert_eq!(kind("https://h/live/a.m3u8"), PlaybackKind::Hls);
        assert_eq!(kind("https://h/play?id=a.flv"), PlaybackKind::Hls);
    }
}
