//! Signalling over HTTP: WHIP (RFC 9725) on the invite's path, the guest's state, and the
//! guest page. The routes and their errors are in docs/costream.md. Every body is bounded,
//! every address limited in how often it may knock, every refusal a JSON `{code, message}`.

use crate::host::{CoHost, JoinError};
use crate::invite::valid_token;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Offers (and any other body) beyond this are refused with 413.
const MAX_BODY: usize = crate::host::MAX_OFFER;

/// Offers per address per minute: a guest reconnecting now and then is fine; a script
/// hammering invites is refused.
const OFFERS_PER_MINUTE: u32 = 20;
/// Addresses remembered for the limit (the oldest window is forgotten first).
const MAX_TRACKED: usize = 4096;

#[derive(Clone)]
struct Shared {
    host: Arc<CoHost>,
    knocks: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
}

/// The routes, for a server of their own ([`serve`]) or mounted in the room server.
pub fn router(host: Arc<CoHost>) -> Router {
    let shared = Shared {
        host,
        knocks: Arc::new(Mutex::new(HashMap::new())),
    };
    Router::new()
        .route("/join/{token}", get(page))
        .route("/join/assets/{file}", get(asset))
        .route("/join/{token}/info", get(info))
        .route("/join/{token}/whip", post(whip_offer))
        .route("/whip", post(whip_bearer))
        .route("/join/{token}/whip/{session}", get(state).delete(leave))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Serves the routes on `listener` until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, host: Arc<CoHost>) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(host).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn join_error(e: &JoinError) -> Response {
    let status = match e {
        JoinError::Invite(crate::invite::InviteError::Unknown) | JoinError::NoSession => {
            StatusCode::NOT_FOUND
        }
        JoinError::Invite(crate::invite::InviteError::SlotBusy) => StatusCode::CONFLICT,
        JoinError::Invite(_) => StatusCode::GONE,
        JoinError::NotLive => StatusCode::SERVICE_UNAVAILABLE,
        JoinError::BadOffer(_) => StatusCode::BAD_REQUEST,
    };
    error(status, e.code(), &e.to_string())
}

fn unknown() -> Response {
    join_error(&JoinError::Invite(crate::invite::InviteError::Unknown))
}

async fn page(Path(token): Path<String>) -> Response {
    if !valid_token(&token) {
        return unknown();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::page::JOIN_HTML,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match crate::page::asset(&file) {
        Some((body, kind)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    }
}

async fn info(State(s): State<Shared>, Path(token): Path<String>) -> Response {
    if !valid_token(&token) {
        return unknown();
    }
    match s.host.check(&token) {
        Ok(invite) => axum::Json(serde_json::json!({
            "slot": invite.slot,
            "expires_in_s": s.host.expires_in(&invite).as_secs(),
            "ice_servers": s.host.guest_ice_servers(),
        }))
        .into_response(),
        Err(e) => join_error(&e),
    }
}

#[derive(serde::Deserialize)]
struct NameQuery {
    name: Option<String>,
}

async fn whip_offer(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return too_large(&e),
    };
    offer(
        &s,
        peer.ip(),
        &token,
        q.name.as_deref(),
        &headers,
        &body,
        &format!("/join/{token}"),
    )
}

/// A body over the limit (or one that could not be read) as a JSON refusal.
fn too_large(e: &BytesRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the offer is over 64 KiB",
        )
    } else {
        error(e.status(), "bad_offer", &e.body_text())
    }
}

/// WHIP with the invite as a bearer token (OBS's WHIP output: a URL and a bearer token).
async fn whip_bearer(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return too_large(&e),
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim()
        .to_string();
    offer(
        &s,
        peer.ip(),
        &token,
        q.name.as_deref(),
        &headers,
        &body,
        &format!("/join/{token}"),
    )
}

fn offer(
    s: &Shared,
    ip: IpAddr,
    token: &str,
    name: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
) -> Response {
    if !allow(&s.knocks, ip, Instant::now()) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many",
            "too many attempts from this address: wait a minute",
        );
    }
    if !valid_token(token) {
        return unknown();
    }
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/sdp"));
    if !is_sdp {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_sdp",
            "send the offer with Content-Type: application/sdp",
        );
    }
    let Ok(sdp) = std::str::from_utf8(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_offer",
            "the offer is not UTF-8 text",
        );
    };
    match s.host.offer(token, name.unwrap_or(""), sdp) {
        Ok((session, answer)) => (
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/sdp".to_string()),
                (header::LOCATION, format!("{base}/whip/{session}")),
            ],
            answer,
        )
            .into_response(),
        Err(e) => join_error(&e),
    }
}

async fn state(State(s): State<Shared>, Path((token, session)): Path<(String, u64)>) -> Response {
    match s.host.state(&token, session) {
        Ok(g) => axum::Json(serde_json::json!({
            "state": g.state,
            "slot": g.slot,
            "name": g.name,
            "muted_by_host": g.muted_by_host,
            "connected": g.connected,
        }))
        .into_response(),
        Err(e) => join_error(&e),
    }
}

async fn leave(State(s): State<Shared>, Path((token, session)): Path<(String, u64)>) -> Response {
    match s.host.leave(&token, session) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => join_error(&e),
    }
}

/// Counts an offer from `ip`; false when it is over [`OFFERS_PER_MINUTE`].
fn allow(knocks: &Mutex<HashMap<IpAddr, (Instant, u32)>>, ip: IpAddr, now: Instant) -> bool {
    let mut k = knocks.lock().expect("knocks");
    if k.len() >= MAX_TRACKED {
        k.retain(|_, (t, _)| now.duration_since(*t) < Duration::from_secs(60));
        if k.len() >= MAX_TRACKED {
            return false;
        }
    }
    let e = k.entry(ip).or_insert((now, 0));
    if now.duration_since(e.0) >= Duration::from_secs(60) {
        *e = (now, 0);
    }
    e.1 += 1;
    e.1 <= OFFERS_PER_MINUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_per_minute_and_forgiven_after() {
        let k = Mutex::new(HashMap::new());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        for _ in 0..OFFERS_PER_MINUTE {
            assert!(allow(&k, ip, t));
        }
        assert!(!allow(&k, ip, t));
        assert!(allow(&k, "10.0.0.2".parse().unwrap(), t));
        assert!(allow(&k, ip, t + Duration::from_secs(61)));
    }
}
