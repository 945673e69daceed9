//! The viewer page's scripts, embedded and served from the room's own origin (no CDN: a
//! room on a LAN or behind a firewall still plays, and nothing a third party serves runs in
//! the page): `GET /viewer/{file}`.
//!
//! The players (hls.js, mpegts.js) are vendored from npm with their licenses (see
//! `viewer/vendor/README.md`); their file names carry their versions, so browsers keep them
//! for a year. The page's own scripts change with the server: browsers revalidate them
//! (`no-cache` with an `ETag`).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// One embedded script.
struct Asset {
    name: &'static str,
    body: &'static str,
    /// Versioned in its name: cache for good.
    immutable: bool,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "player.js",
        body: include_str!("../viewer/player.js"),
        immutable: false,
    },
    Asset {
        name: "lanes.js",
        body: include_str!("../viewer/lanes.js"),
        immutable: false,
    },
    Asset {
        name: "hls-1.7.4.light.min.js",
        body: include_str!("../viewer/vendor/hls-1.7.4.light.min.js"),
        immutable: true,
    },
    Asset {
        name: "mpegts-1.8.2.min.js",
        body: include_str!("../viewer/vendor/mpegts-1.8.2.min.js"),
        immutable: true,
    },
];

/// Each asset's `ETag` (a hash of its bytes), computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let h = Sha256::digest(a.body.as_bytes());
                let hex: String = h[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// `GET /viewer/{file}`.
pub(super) async fn viewer_asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let (asset, etag) = (&ASSETS[i], &etags()[i]);
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    (h, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(file: &str, headers: HeaderMap) -> Response {
        viewer_asset(Path(file.to_string()), headers).await
    }

    fn header(r: &Response, name: header::HeaderName) -> &str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn players_are_cached_for_good_and_the_pages_own_scripts_revalidated() {
        let hls = get("hls-1.7.4.light.min.js", HeaderMap::new()).await;
        assert_eq!(hls.status(), StatusCode::OK);
        assert_eq!(
            header(&hls, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert!(header(&hls, header::CACHE_CONTROL).contains("immutable"));
        let player = get("player.js", HeaderMap::new()).await;
        assert_eq!(header(&player, header::CACHE_CONTROL), "no-cache");
        assert_eq!(header(&player, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        let etag = header(&player, header::ETAG).to_string();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        assert_eq!(get("player.js", h).await.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn only_the_embedded_files_are_served() {
        for f in ["index.html", "../lib.rs", "vendor", "LICENSE-hls.js.txt"] {
            assert_eq!(
                get(f, HeaderMap::new()).await.status(),
                StatusCode::NOT_FOUND
            );
        }
    }
}
