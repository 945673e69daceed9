//! The invite routes of docs/costream.md over any door: WHIP on the invite's path, the
//! guest's state, leaving, the invite's info and the guest page. Every body is bounded, every
//! address limited in how often it may offer, every refusal a JSON `{code, message}`. Mounted
//! at the root (the CLI's own server) or under a room (`/room/{room}`: the room server).

use crate::door::{DoorReply, DoorRequest, GuestDoor};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Offers (and any other body) beyond this are refused with 413.
pub const MAX_OFFER: usize = 64 * 1024;

/// Offers per address per minute: a guest reconnecting now and then is fine; a script
/// hammering invites is refused.
pub const OFFERS_PER_MINUTE: u32 = 20;
/// Addresses remembered for the limit (the oldest window is forgotten first).
const MAX_TRACKED: usize = 4096;

/// A reply on its way (the host may be across a WebSocket).
pub type Knock = Pin<Box<dyn Future<Output = DoorReply> + Send>>;

/// What the routes need from the server that mounts them.
pub trait Doorway: Send + Sync + 'static {
    /// The address an offer counts against (the per-address limit): the TCP peer, or the
    /// client a trusted proxy forwards.
    fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr;
    /// Carries `request` to the host of `room` (`None` when mounted at the root).
    fn knock(&self, room: Option<&str>, request: DoorRequest) -> Knock;
    /// Whether there is such a room here at all (an unknown one is a 404 like an unknown
    /// invite).
    fn serves(&self, _room: Option<&str>) -> bool {
        true
    }
}

/// One door, always there, for a server of its own: the TCP peer is the client.
pub struct Fixed(pub Arc<dyn GuestDoor>);

impl Doorway for Fixed {
    fn client_ip(&self, peer: SocketAddr, _: &HeaderMap) -> IpAddr {
        peer.ip().to_canonical()
    }
    fn knock(&self, _: Option<&str>, request: DoorRequest) -> Knock {
        let door = self.0.clone();
        Box::pin(blocking(door, request))
    }
}

/// Asks `door` on a blocking thread (an offer may wait briefly on the WebRTC endpoint).
pub async fn blocking(door: Arc<dyn GuestDoor>, request: DoorRequest) -> DoorReply {
    tokio::task::spawn_blocking(move || door.answer(request))
        .await
        .unwrap_or_else(|_| DoorReply::refused(500, "internal", "the host failed to answer"))
}

#[derive(Clone)]
struct Shared {
    way: Arc<dyn Doorway>,
    knocks: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
    /// Where the routes are mounted: `""` or `/room/{room}` (a pattern with the room's name).
    prefix: &'static str,
}

/// The routes under `prefix` (`""`, or `"/room/{room}"` where `{room}` is the room's name).
pub fn routes(prefix: &'static str, way: Arc<dyn Doorway>) -> Router {
    let shared = Shared {
        way,
        knocks: Arc::new(Mutex::new(HashMap::new())),
        prefix,
    };
    Router::new()
        .route(&format!("{prefix}/join/{{token}}"), get(page))
        .route(&format!("{prefix}/join/assets/{{file}}"), get(asset))
        .route(&format!("{prefix}/join/{{token}}/info"), get(info))
        .route(&format!("{prefix}/join/{{token}}/whip"), post(whip_offer))
        .route(&format!("{prefix}/whip"), post(whip_bearer))
        .route(
            &format!("{prefix}/join/{{token}}/whip/{{session}}"),
            get(state).delete(leave),
        )
        .layer(DefaultBodyLimit::max(MAX_OFFER))
        .with_state(shared)
}

type Params = Path<HashMap<String, String>>;

/// The path of the routes for this request's room (`/room/main` or `""`).
fn base(s: &Shared, p: &HashMap<String, String>) -> String {
    match p.get("room") {
        Some(room) => s.prefix.replace("{room}", room),
        None => s.prefix.to_string(),
    }
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
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

/// A refusal before any door is asked.
struct Refuse(StatusCode, &'static str, &'static str);

impl IntoResponse for Refuse {
    fn into_response(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

fn unknown() -> Refuse {
    Refuse(StatusCode::NOT_FOUND, "invite_unknown", "no such invite")
}

/// An invite token as minted: 22 characters of base64url (128 bits). Anything else is
/// refused before it reaches a door.
pub fn valid_token(token: &str) -> bool {
    token.len() == 22
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The room named in the path, if the routes are under one, and whether it is served.
fn room_of<'a>(s: &Shared, p: &'a HashMap<String, String>) -> Result<Option<&'a str>, Refuse> {
    let room = p.get("room").map(String::as_str);
    if s.way.serves(room) {
        Ok(room)
    } else {
        Err(unknown())
    }
}

fn token_of(p: &HashMap<String, String>) -> Result<String, Refuse> {
    match p.get("token") {
        Some(t) if valid_token(t) => Ok(t.clone()),
        _ => Err(unknown()),
    }
}

async fn page(State(s): State<Shared>, Path(p): Params) -> Response {
    if let Err(r) = room_of(&s, &p).and_then(|_| token_of(&p)) {
        return r.into_response();
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

async fn asset(Path(p): Params) -> Response {
    match p.get("file").and_then(|f| crate::page::asset(f)) {
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

/// A door's reply as the contract's HTTP answer; `invite` is the invite's path (for the
/// Location of a new session).
fn reply(r: DoorReply, invite: &str) -> Response {
    match r {
        DoorReply::Answer { session, sdp } => (
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/sdp".to_string()),
                (header::LOCATION, format!("{invite}/whip/{session}")),
            ],
            sdp,
        )
            .into_response(),
        DoorReply::Json { body } => axum::Json(body).into_response(),
        DoorReply::Left => StatusCode::OK.into_response(),
        DoorReply::Refused {
            status,
            code,
            message,
        } => {
            // Only a refusal is a refusal: a host's odd status is the host's failure.
            let status = StatusCode::from_u16(status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            error(status, &code, &message)
        }
    }
}

async fn info(State(s): State<Shared>, Path(p): Params) -> Response {
    let (room, token) = match room_of(&s, &p).and_then(|r| Ok((r, token_of(&p)?))) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let invite = format!("{}/join/{token}", base(&s, &p));
    reply(
        s.way.knock(room, DoorRequest::Info { token }).await,
        &invite,
    )
}

#[derive(serde::Deserialize)]
struct NameQuery {
    name: Option<String>,
}

async fn whip_offer(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(p): Params,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let token = p.get("token").cloned().unwrap_or_default();
    offer(&s, peer, &p, token, q.name, &headers, body).await
}

/// WHIP with the invite as a bearer token (OBS's WHIP output: a URL and a bearer token).
async fn whip_bearer(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(p): Params,
    Query(q): Query<NameQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim()
        .to_string();
    offer(&s, peer, &p, token, q.name, &headers, body).await
}

async fn offer(
    s: &Shared,
    peer: SocketAddr,
    p: &HashMap<String, String>,
    token: String,
    name: Option<String>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the offer is over 64 KiB",
            );
        }
        Err(e) => return error(e.status(), "bad_offer", &e.body_text()),
    };
    let ip = s.way.client_ip(peer, headers);
    if !allow(&s.knocks, ip, Instant::now()) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many",
            "too many attempts from this address: wait a minute",
        );
    }
    let room = match room_of(s, p) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if !valid_token(&token) {
        return unknown().into_response();
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
    let Ok(sdp) = String::from_utf8(body.to_vec()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_offer",
            "the offer is not UTF-8 text",
        );
    };
    let invite = format!("{}/join/{token}", base(s, p));
    let request = DoorRequest::Offer {
        token,
        name: name.unwrap_or_default(),
        sdp,
    };
    reply(s.way.knock(room, request).await, &invite)
}

/// The token and session of `…/whip/{session}`; a session that is not a number is no session.
fn session_of(p: &HashMap<String, String>) -> Result<(String, u64), Refuse> {
    let token = token_of(p)?;
    match p.get("session").and_then(|v| v.parse().ok()) {
        Some(session) => Ok((token, session)),
        None => Err(Refuse(
            StatusCode::NOT_FOUND,
            "no_session",
            "no such guest session",
        )),
    }
}

async fn state(State(s): State<Shared>, Path(p): Params) -> Response {
    session_call(&s, &p, |token, session| DoorRequest::State {
        token,
        session,
    })
    .await
}

async fn leave(State(s): State<Shared>, Path(p): Params) -> Response {
    session_call(&s, &p, |token, session| DoorRequest::Leave {
        token,
        session,
    })
    .await
}

async fn session_call(
    s: &Shared,
    p: &HashMap<String, String>,
    make: impl FnOnce(String, u64) -> DoorRequest,
) -> Response {
    let (room, (token, session)) = match room_of(s, p).and_then(|r| Ok((r, session_of(p)?))) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let invite = format!("{}/join/{token}", base(s, p));
    reply(s.way.knock(room, make(token, session)).await, &invite)
}

/// Counts an offer from `ip`; false when it is over [`OFFERS_PER_MINUTE`].
fn allow(knocks: &Mutex<HashMap<IpAddr, (Instant, u32)>>, ip: IpAddr, now: Instant) -> bool {
    let mut k = knocks.lock().unwrap_or_else(|e| e.into_inner());
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

    #[test]
    fn a_host_reply_that_is_not_a_refusal_status_is_a_bad_gateway() {
        let r = reply(DoorReply::refused(200, "x", "y"), "/join/t");
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        let r = reply(DoorReply::host_not_live(), "/join/t");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
