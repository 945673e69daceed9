//! HTTP: the accept loop (hyper's HTTP/1 directly, so that an upgraded connection gives its
//! socket back), the router, the pages and JSON endpoints, and the WebSocket upgrade that hands
//! a socket to its room.
//!
//! * `GET /room/{room}` — the viewer page; `GET /room/{room}/ws` — the WebSocket.
//! * `GET /gifts/{file}` — gift art; `GET /api/catalog` — the gift catalog; `GET /api/stats`.

use super::connection::{Sockets, connection};
use super::rooms::Rooms;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// What the HTTP handlers share.
pub(super) struct Shared {
    pub(super) rooms: Rooms,
    pub(super) sockets: Arc<Sockets>,
    /// Take the client address from `X-Forwarded-For` from any peer (see
    /// `ServerConfig::behind_proxy`).
    pub(super) behind_proxy: bool,
}

/// Accept connections and serve each with hyper's HTTP/1 (upgrades included), until aborted.
pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = router(shared);
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
        // No Nagle: small frames must not wait for the previous segment's ACK (with delayed
        // ACKs that can add 40 ms); writes are already batched per connection.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let mut app = app.clone();
                    async move { tower_service::Service::call(&mut app, req).await }
                },
            );
            // HTTP/1 directly, so that an upgraded connection gives its TcpStream back.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                .with_upgrades()
                .await;
        });
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/stats", get(stats))
        .route("/api/catalog", get(catalog))
        .route("/gifts/{file}", get(gift_art))
        .route("/room/{room}", get(viewer_page))
        .route("/room/{room}/ws", get(ws_upgrade))
        .with_state(shared)
}

fn valid_room(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= 64
        && room
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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

async fn viewer_page(Path(room): Path<String>) -> Response {
    if !valid_room(&room) {
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

/// The client's address: the last `X-Forwarded-For` entry when the peer is a proxy we trust (on
/// this machine, or any peer with `behind_proxy`), otherwise the socket's peer. A client that
/// reaches the server directly cannot choose its address with the header.
fn client_ip(behind_proxy: bool, peer: SocketAddr, headers: &axum::http::HeaderMap) -> IpAddr {
    if !(behind_proxy || peer.ip().is_loopback()) {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Whether a header holds `token` in its comma-separated list (case-insensitive).
fn header_has(h: &axum::http::HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

async fn ws_upgrade(
    Path(room): Path<String>,
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: axum::extract::Request,
) -> Response {
    if !valid_room(&room) {
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
    let ip = client_ip(s.behind_proxy, peer, req.headers());
    let tx = match s.rooms.sender(&room) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(%room, error = %e, "cannot open room");
            return (StatusCode::SERVICE_UNAVAILABLE, "room unavailable").into_response();
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
        match upgraded.downcast::<hyper_util::rt::TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) => {
                let (tcp, prefix) = (parts.io.into_inner(), parts.read_buf);
                connection(s.sockets.clone(), tcp, prefix, tx, Some(ip)).await
            }
            Err(_) => tracing::error!("WebSocket upgrade over an unexpected transport"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_address_comes_from_x_forwarded_for_only_through_a_trusted_proxy() {
        let mut h = axum::http::HeaderMap::new();
        h.append("x-forwarded-for", "10.0.0.1, 198.51.100.7".parse().unwrap());
        h.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let remote: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A client straight from the network cannot pick its address.
        assert_eq!(client_ip(false, remote, &h), ip("192.0.2.1"));
        // A proxy or tunnel on this machine, or any peer when told so: the proxy's entry.
        assert_eq!(client_ip(false, local, &h), ip("203.0.113.9"));
        assert_eq!(client_ip(true, remote, &h), ip("203.0.113.9"));
        // No (usable) header: the peer itself.
        let none = axum::http::HeaderMap::new();
        assert_eq!(client_ip(true, remote, &none), ip("192.0.2.1"));
        let mut bad = axum::http::HeaderMap::new();
        bad.append("x-forwarded-for", "unknown".parse().unwrap());
        assert_eq!(client_ip(false, local, &bad), ip("127.0.0.1"));
    }
}
