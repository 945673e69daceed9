//! HTTP: the accept loop (hyper's HTTP/1 directly, so that an upgraded connection gives its
//! socket back), the router, the pages and JSON endpoints, and the WebSocket upgrade that hands
//! a socket to its room.
//!
//! * `GET /room/{room}` — the viewer page; `GET /room/{room}/ws` — the WebSocket.
//! * `GET /viewer/{file}` — the viewer page's scripts (players included; see `assets`).
//! * `GET /gifts/{file}` — gift art; `GET /api/catalog` — the gift catalog; `GET /api/stats`.
//! * `PUT /api/rooms/{room}` — create a room (admin key or its host's token).
//! * `/room/{room}/join/…`, `/room/{room}/whip` — co-stream guests (see `guests`).
//!
//! Every request passes the edge first ([`Edge::check`]: `Host`, `Origin`); every socket holds an
//! HTTP connection slot until upgraded and a WebSocket connection slot after, and a handshake
//! slot only while a request head is arriving on it ([`Limits`], [`super::meter`]).

use super::connection::connection;
use super::guests::RoomDoors;
use super::meter::{Meter, Metered};
use super::refusal::Refusal;
use super::rooms::OpenError;
use super::shared::{Shared, valid_room};
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// Refused sockets still waiting for their refusal to be read (beyond this they are just
/// closed: a flood must not hold descriptors for its own refusals).
const MAX_LINGERING_REFUSALS: usize = 256;
static LINGERING: AtomicUsize = AtomicUsize::new(0);

/// Answer a socket refused before its request was read, then close it. The response is
/// written at once; the socket lingers briefly (bounded in time and number) so that the
/// client's request is read and the close does not reset the connection before the client
/// has read the answer.
fn refuse_socket(tcp: tokio::net::TcpStream, why: &Refusal) {
    let _ = tcp.try_write(&why.raw_http());
    if LINGERING.fetch_add(1, Ordering::AcqRel) >= MAX_LINGERING_REFUSALS {
        LINGERING.fetch_sub(1, Ordering::AcqRel);
        // Read what already came, so that closing does not reset the connection.
        let mut sink = [0u8; 4096];
        while matches!(tcp.try_read(&mut sink), Ok(n) if n > 0) {}
        return;
    }
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tcp;
        let _ = tcp.shutdown().await;
        let mut sink = [0u8; 2048];
        let _ = tokio::time::timeout(Duration::from_millis(300), async {
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        LINGERING.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Accept connections and serve each with hyper's HTTP/1 (upgrades included), until aborted.
/// Each holds an HTTP connection slot (per peer address, in all) until it is upgraded or closed,
/// and a handshake slot while a request head arrives; a head must arrive within the header
/// timeout (which also closes a connection idle that long) and fit the size cap.
pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = router(shared.clone());
    let caps = shared.limits.caps().clone();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(caps.header_timeout)
        .max_header_size(caps.max_header_bytes)
        .max_buf_size(caps.max_header_bytes.max(8 * 1024) * 2);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, mostly: wait for some to be released.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let stats = &shared.sockets.stats;
        let peer_ip = peer.ip().to_canonical();
        // A trusted proxy carries many clients: it counts in the total only.
        let per_peer = (!shared.edge.trusted(peer_ip)).then_some(peer_ip);
        let slot = match shared.limits.http_connection(per_peer) {
            Ok(s) => s,
            Err(why) => {
                stats.refused_caps.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, reason = %why.reason, "connection refused");
                refuse_socket(tcp, &why);
                continue;
            }
        };
        // No Nagle: small frames must not wait for the previous segment's ACK (with delayed
        // ACKs that can add 40 ms); writes are already batched per connection.
        let _ = tcp.set_nodelay(true);
        let (app, http, shared) = (app.clone(), http.clone(), shared.clone());
        let meter = Meter::new(shared.limits.clone(), per_peer, stats.clone());
        tokio::spawn(async move {
            let edge_shared = shared.clone();
            let svc_meter = meter.clone();
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    svc_meter.head_read();
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let refused = edge_shared.edge.check(req.headers()).err();
                    let mut app = app.clone();
                    let stats = edge_shared.sockets.stats.clone();
                    let meter = svc_meter.clone();
                    async move {
                        if let Some(why) = refused {
                            stats.refused_origin_or_host.fetch_add(1, Ordering::Relaxed);
                            meter.answered();
                            return Ok(why.into_response());
                        }
                        let res = tower_service::Service::call(&mut app, req).await;
                        meter.answered();
                        res
                    }
                },
            );
            // HTTP/1 directly, so that an upgraded connection gives its TcpStream back.
            let io = Metered::new(tcp, meter.clone());
            let served = http
                .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
                .with_upgrades()
                .await;
            meter.ended();
            if let Err(e) = served
                && e.is_timeout()
            {
                let stats = &shared.sockets.stats;
                stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            // Upgraded (the WebSocket holds its own slot now) or closed.
            drop(slot);
        });
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/stats", get(stats))
        .route("/api/catalog", get(catalog))
        .route("/api/rooms/{room}", axum::routing::put(create_room))
        .route("/gifts/{file}", get(gift_art))
        .route("/viewer/{file}", get(super::assets::viewer_asset))
        .route("/room/{room}", get(viewer_page))
        .route("/room/{room}/ws", get(ws_upgrade))
        .with_state(shared.clone())
        .merge(marquee_guestdoor::routes(
            "/room/{room}",
            Arc::new(RoomDoors(shared)),
        ))
}

/// Whether `room` is a valid room name: 1–64 of `A-Z a-z 0-9 - _`.
pub fn valid_room_name(room: &str) -> bool {
    valid_room(room)
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>Marquee room server</title>\
         <p>Marquee room server. Open <code>/room/NAME</code> to join a room.</p>",
    )
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(&*s.sockets.stats).into_response()
}

async fn catalog() -> Response {
    axum::Json(crate::gifts::default_catalog()).into_response()
}

async fn gift_art(Path(file): Path<String>) -> Response {
    match crate::gifts::art(&file) {
        Some(svg) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            svg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The viewer page (zh-CN and English), embedded.
pub const VIEWER_HTML: &str = include_str!("../viewer/index.html");

async fn viewer_page(Path(room): Path<String>, State(s): State<Arc<Shared>>) -> Response {
    if !s.serves(&room) {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        VIEWER_HTML,
    )
        .into_response()
}

/// Whether a header holds `token` in its comma-separated list (case-insensitive).
fn header_has(h: &axum::http::HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `PUT /api/rooms/{room}` with `Authorization: Bearer` (the admin key, or a host token for
/// the room): create the room, or find it, without joining it. It stops again when idle.
async fn create_room(
    Path(room): Path<String>,
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if !s.serves(&room) {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    }
    if let Err(why) = s.edge.may_create(&room, &headers) {
        s.sockets
            .stats
            .refused_rooms
            .fetch_add(1, Ordering::Relaxed);
        return why.into_response();
    }
    match s.rooms.lease(&room, || true) {
        Ok(_) => axum::Json(serde_json::json!({ "room": room, "open": true })).into_response(),
        Err(e) => open_refusal(&room, e).into_response(),
    }
}

/// Why a room could not be joined, for its client.
fn open_refusal(room: &str, e: OpenError) -> Refusal {
    match e {
        OpenError::Unknown => Refusal::new(StatusCode::NOT_FOUND, "no such room"),
        OpenError::TooManyRooms(n) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("this server already runs its maximum of {n} rooms; try again later"),
        ),
        OpenError::RoomFull(n) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("room {room:?} is full ({n} connections); try again later"),
        ),
        OpenError::Failed(e) => {
            tracing::error!(%room, error = %e, "cannot open room");
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "room unavailable")
        }
    }
}

async fn ws_upgrade(
    Path(room): Path<String>,
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: axum::extract::Request,
) -> Response {
    if !s.serves(&room) {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    }
    let h = req.headers();
    let key = h.get(header::SEC_WEBSOCKET_KEY).cloned();
    let upgrade = header_has(h, header::UPGRADE, "websocket")
        && header_has(h, header::CONNECTION, "upgrade")
        && h.get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v.as_bytes() == b"13");
    let (Some(key), true) = (key, upgrade) else {
        return (
            StatusCode::BAD_REQUEST,
            [(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            )],
            "expected a WebSocket upgrade (version 13)",
        )
            .into_response();
    };
    let stats = &s.sockets.stats;
    let ip = s.edge.client_ip(peer, req.headers());
    let slot = match s.limits.connection(ip) {
        Ok(slot) => slot,
        Err(why) => {
            stats.refused_caps.fetch_add(1, Ordering::Relaxed);
            return why.into_response();
        }
    };
    let lease = match s
        .rooms
        .lease(&room, || s.edge.may_create(&room, req.headers()).is_ok())
    {
        Ok(lease) => lease,
        Err(e) => {
            stats.refused_rooms.fetch_add(1, Ordering::Relaxed);
            let why = match e {
                OpenError::Unknown => match s.edge.may_create(&room, req.headers()) {
                    Err(why) => why,
                    Ok(()) => open_refusal(&room, e),
                },
                e => open_refusal(&room, e),
            };
            return why.into_response();
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        match upgraded.downcast::<hyper_util::rt::TokioIo<Metered>>() {
            Ok(parts) => {
                let (tcp, prefix) = (parts.io.into_inner().into_inner(), parts.read_buf);
                let tx = lease.tx().clone();
                connection(s.sockets.clone(), tcp, prefix, tx, Some(ip)).await
            }
            Err(_) => tracing::error!("WebSocket upgrade over an unexpected transport"),
        }
        // The room and the caps learn that this connection is gone.
        drop((lease, slot));
    });
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let rh = res.headers_mut();
    rh.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    rh.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        rh.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}
