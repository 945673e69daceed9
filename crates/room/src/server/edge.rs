//! The network edge: which requests the server answers at all. A browser's `Origin` must be the
//! server's own (or allowed), a `Host` must be one of the server's names (a DNS-rebinding page
//! names its own domain), the client's address comes from `X-Forwarded-For` only through a
//! trusted proxy, and an unknown room opens only for its host's token or the admin key.
//! Everything here is a pure check on a request's parts; refusals say why.

use super::config::ServerConfig;
use super::ipnet::IpNet;
use super::refusal::Refusal;
use crate::protocol::Role;
use crate::token;
use axum::http::{HeaderMap, StatusCode, header};
use std::net::{IpAddr, SocketAddr};

/// What the server accepts from whom, fixed when it starts.
#[derive(Debug)]
pub(super) struct Edge {
    /// Host names (lowercase, no port) the server answers to.
    names: Vec<String>,
    /// Any IP literal is one of the server's names (a wildcard listener: every local address).
    any_ip_name: bool,
    /// Origins (`scheme://host[:port]`, lowercase, no default port) that may call it.
    origins: Vec<String>,
    proxies: Vec<IpNet>,
    /// Every peer is a proxy (one hop): `--behind-proxy`.
    any_peer_is_proxy: bool,
    admin_key: Option<Vec<u8>>,
    secret: Vec<u8>,
}

/// `scheme://host[:port]` of a URL, lowercase, without a default port; `None` if it is not
/// an http(s) URL.
pub(super) fn origin_of(url: &str) -> Option<String> {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return None,
    };
    let scheme = if scheme.starts_with('w') {
        if scheme == "ws" { "http" } else { "https" }
    } else {
        scheme
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.strip_suffix(default).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`), lowercase, without a trailing
/// dot.
fn host_of(authority: &str) -> String {
    let a = authority.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if a.matches(':').count() == 1 {
        a.split(':').next().unwrap_or("")
    } else {
        a
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn ip_url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Compares without stopping at the first difference (an admin key must not leak by timing).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl Edge {
    /// The server configured by `cfg`, listening on `listen` (the bound address).
    pub(super) fn new(listen: SocketAddr, cfg: &ServerConfig) -> Self {
        let public_url = cfg.public_url.as_deref();
        let (allowed_origins, allowed_hosts) = (&cfg.allowed_origins, &cfg.allowed_hosts);
        let ip = listen.ip().to_canonical();
        let port = listen.port();
        let mut names: Vec<String> = allowed_hosts.iter().map(|h| host_of(h)).collect();
        let mut origins: Vec<String> = allowed_origins
            .iter()
            .filter_map(|o| origin_of(o))
            .collect();
        if let Some(own) = public_url.and_then(origin_of) {
            names.push(host_of(own.split_once("://").map_or("", |(_, a)| a)));
            origins.push(own);
        }
        let any_ip_name = ip.is_unspecified();
        if ip.is_loopback() || any_ip_name {
            names.push("localhost".into());
            origins.push(format!("http://localhost:{port}"));
        }
        if ip.is_loopback() {
            for lo in [
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ] {
                names.push(host_of(&ip_url_host(lo)));
                origins.push(format!("http://{}:{port}", ip_url_host(lo)));
            }
        }
        if !any_ip_name {
            names.push(host_of(&ip_url_host(ip)));
            origins.push(format!("http://{}:{port}", ip_url_host(ip)));
        }
        names.sort();
        names.dedup();
        origins.sort();
        origins.dedup();
        Edge {
            names,
            any_ip_name,
            origins,
            proxies: cfg.trusted_proxies.clone(),
            any_peer_is_proxy: cfg.behind_proxy,
            admin_key: cfg.admin_key.clone().filter(|k| !k.is_empty()),
            secret: cfg.secret.clone(),
        }
    }

    /// Whether a request may be answered: its `Host` is one of the server's names and its
    /// `Origin` (sent by browsers only) is the server's own or an allowed one.
    pub(super) fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = match headers.get(header::HOST) {
            None => None,
            Some(h) => Some(h.to_str().map_err(|_| {
                Refusal::new(StatusCode::BAD_REQUEST, "the Host header is not text")
            })?),
        };
        if let Some(h) = host {
            let name = host_of(h);
            let known =
                self.names.contains(&name) || (self.any_ip_name && name.parse::<IpAddr>().is_ok());
            if !known {
                return Err(Refusal::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "Host {name:?} is not a name of this server (it answers to {}); \
                         start it with --public-url or --allow-host for that name",
                        self.names.join(", ")
                    ),
                ));
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let raw = origin.to_str().unwrap_or("");
        let own = origin_of(raw).is_some_and(|o| {
            self.origins.contains(&o)
                // Same origin as the browser sees it: the page came from the Host it called
                // (which passed the check above), e.g. a LAN address of a wildcard listener.
                || host.is_some_and(|h| {
                    let scheme = o.split("://").next().unwrap_or("");
                    origin_of(&format!("{scheme}://{}", h.trim())).as_deref() == Some(o.as_str())
                })
        });
        if own {
            Ok(())
        } else {
            Err(Refusal::new(
                StatusCode::FORBIDDEN,
                format!(
                    "cross-site request refused: Origin {raw:?} is not this server's own \
                     origin nor one allowed with --allow-origin"
                ),
            ))
        }
    }

    /// The client's address: the socket's peer, or — only when that peer is a trusted proxy —
    /// the nearest address in `X-Forwarded-For` (else `Forwarded: for=`) that is not itself a
    /// trusted proxy, read from the right (the entries a client wrote itself are further left).
    pub(super) fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip().to_canonical();
        if !self.trusted(peer) {
            return peer;
        }
        let mut chain: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        if chain.is_empty() {
            chain = headers
                .get_all(header::FORWARDED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|el| {
                    el.split(';').find_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then_some(v)
                    })
                })
                .collect();
        }
        let mut addr = peer;
        for (hop, entry) in chain.iter().rev().enumerate() {
            // The peer is a proxy; an address it forwards is one only if it is listed.
            if hop > 0 && !self.listed(addr) {
                break;
            }
            match parse_forwarded_ip(entry) {
                Some(ip) => addr = ip,
                None => break,
            }
        }
        addr
    }

    /// Whether a peer at `ip` is a proxy whose forwarding headers count.
    pub(super) fn trusted(&self, ip: IpAddr) -> bool {
        self.any_peer_is_proxy || self.listed(ip)
    }

    fn listed(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|n| n.contains(ip))
    }

    /// Whether the request may open room `room` that does not exist yet: it carries
    /// `Authorization: Bearer` with a host token for that room or the admin key.
    pub(super) fn may_create(&self, room: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, cred) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| cred.trim())
            });
        let Some(cred) = bearer else {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no room {room:?} here: a room opens when its host connects (with a host \
                     token for it) or an admin creates it"
                ),
            ));
        };
        if cred.starts_with("mq1.") {
            return match token::verify(&self.secret, cred, room, crate::clock::now_ms()) {
                Ok(c) if c.role == Role::Host => Ok(()),
                Ok(c) => Err(Refusal::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "a {:?} token cannot open room {room:?}: only its host or an admin can",
                        c.role
                    )
                    .to_lowercase(),
                )),
                Err(e) => Err(Refusal::new(
                    StatusCode::FORBIDDEN,
                    format!("cannot open room {room:?}: {e}"),
                )),
            };
        }
        match &self.admin_key {
            Some(k) if same_bytes(k, cred.as_bytes()) => Ok(()),
            _ => Err(Refusal::new(
                StatusCode::FORBIDDEN,
                format!("cannot open room {room:?}: not a host token for it nor the admin key"),
            )),
        }
    }
}

/// An address in a forwarding header: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:80`, optionally quoted (`Forwarded: for="[::1]:80"`).
fn parse_forwarded_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|v6| v6.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn edge(listen: &str, public: Option<&str>, proxies: &[&str]) -> Edge {
        let mut cfg = ServerConfig::new(listen.parse().unwrap(), b"0123456789abcdef".to_vec());
        cfg.public_url = public.map(Into::into);
        cfg.allowed_origins = vec!["https://studio.example.org".into()];
        cfg.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
        cfg.admin_key = Some(b"admin-key-0123456789".to_vec());
        Edge::new(cfg.listen, &cfg)
    }

    #[test]
    fn the_client_address_comes_from_x_forwarded_for_only_through_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let remote: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let h = headers(&[
            ("x-forwarded-for", "10.0.0.1, 198.51.100.7"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        // Nobody trusted: a loopback peer (a script on this machine) cannot pick its address.
        let plain = edge("127.0.0.1:8787", None, &[]);
        assert_eq!(plain.client_ip(local, &h), ip("127.0.0.1"));
        assert_eq!(plain.client_ip(remote, &h), ip("192.0.2.1"));
        // A trusted proxy: the entry it added (the rightmost).
        let proxied = edge("127.0.0.1:8787", None, &["192.0.2.0/24"]);
        assert_eq!(proxied.client_ip(remote, &h), ip("203.0.113.9"));
        assert_eq!(
            proxied.client_ip(local, &h),
            ip("127.0.0.1"),
            "only the configured proxies"
        );
        // A chain of trusted proxies is walked from the right, never into what the client wrote.
        let chain = edge("127.0.0.1:8787", None, &["192.0.2.0/24", "203.0.113.0/24"]);
        assert_eq!(chain.client_ip(remote, &h), ip("198.51.100.7"));
        // No (usable) header: the peer itself.
        assert_eq!(
            proxied.client_ip(remote, &HeaderMap::new()),
            ip("192.0.2.1")
        );
        let junk = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(proxied.client_ip(remote, &junk), ip("192.0.2.1"));
        // `Forwarded` when there is no X-Forwarded-For, ports and quotes allowed.
        let fwd = headers(&[(
            "forwarded",
            r#"for=198.51.100.1;proto=https, for="[2001:db8::7]:4711""#,
        )]);
        assert_eq!(proxied.client_ip(remote, &fwd), ip("2001:db8::7"));
        // `--behind-proxy`: every peer is a proxy, and only the entry it added counts (the
        // client wrote the ones before it).
        let mut cfg = ServerConfig::new("0.0.0.0:1".parse().unwrap(), vec![]);
        cfg.behind_proxy = true;
        let any = Edge::new(cfg.listen, &cfg);
        assert_eq!(any.client_ip(local, &h), ip("203.0.113.9"));
        assert_eq!(any.client_ip(remote, &h), ip("203.0.113.9"));
    }

    #[test]
    fn a_foreign_host_name_is_refused_and_the_servers_own_names_pass() {
        let e = edge("127.0.0.1:8787", Some("https://Room.Example.com/"), &[]);
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "[::1]:8787",
            "room.example.com",
            "room.example.com.:443",
        ] {
            assert_eq!(e.check(&headers(&[("host", ok)])), Ok(()), "{ok}");
        }
        assert_eq!(e.check(&HeaderMap::new()), Ok(()), "no Host: not a browser");
        for bad in [
            "evil.example:8787",
            "rebind.attacker.net",
            "192.168.1.5:8787",
        ] {
            let r = e.check(&headers(&[("host", bad)])).unwrap_err();
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
            assert!(r.reason.contains("not a name of this server"), "{r:?}");
        }
        // A wildcard listener answers to any of its addresses, never to a domain it was not
        // told about.
        let lan = edge("0.0.0.0:8787", None, &[]);
        assert_eq!(lan.check(&headers(&[("host", "192.168.1.5:8787")])), Ok(()));
        assert!(lan.check(&headers(&[("host", "evil.example")])).is_err());
        // A LAN listener on one address does not answer to localhost names.
        let one = edge("192.168.1.5:8787", None, &[]);
        assert_eq!(one.check(&headers(&[("host", "192.168.1.5:8787")])), Ok(()));
        assert!(one.check(&headers(&[("host", "localhost:8787")])).is_err());
    }

    #[test]
    fn a_cross_site_origin_is_refused_and_same_site_or_allowed_ones_pass() {
        let e = edge("127.0.0.1:8787", Some("https://room.example.com"), &[]);
        let req =
            |host: &str, origin: &str| e.check(&headers(&[("host", host), ("origin", origin)]));
        assert_eq!(req("127.0.0.1:8787", "http://127.0.0.1:8787"), Ok(()));
        assert_eq!(req("localhost:8787", "http://localhost:8787"), Ok(()));
        assert_eq!(req("room.example.com", "https://room.example.com"), Ok(()));
        assert_eq!(
            req("room.example.com", "https://room.example.com:443"),
            Ok(())
        );
        assert_eq!(
            req("127.0.0.1:8787", "https://studio.example.org"),
            Ok(()),
            "allowed"
        );
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:9999",
            "https://room.example.com.evil.example",
        ] {
            let r = req("127.0.0.1:8787", bad).unwrap_err();
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
            assert!(r.reason.contains("cross-site"), "{r:?}");
        }
        // The page's own origin on a wildcard listener's LAN address.
        let lan = edge("0.0.0.0:8787", None, &[]);
        assert_eq!(
            lan.check(&headers(&[
                ("host", "192.168.1.5:8787"),
                ("origin", "http://192.168.1.5:8787")
            ])),
            Ok(())
        );
        assert!(
            lan.check(&headers(&[
                ("host", "192.168.1.5:8787"),
                ("origin", "http://192.168.1.66:8787")
            ]))
            .is_err()
        );
    }

    #[test]
    fn only_a_host_token_for_the_room_or_the_admin_key_opens_a_room() {
        let e = edge("127.0.0.1:8787", None, &[]);
        let tok = |room: &str, role: Role| {
            token::sign(
                b"0123456789abcdef",
                &token::Claims {
                    room: room.into(),
                    user: "u".into(),
                    name: "u".into(),
                    role,
                    exp_ms: u64::MAX,
                },
            )
        };
        let bearer = |c: &str| headers(&[("authorization", &format!("Bearer {c}"))]);
        assert_eq!(
            e.may_create("show", &bearer(&tok("show", Role::Host))),
            Ok(())
        );
        assert_eq!(
            e.may_create("show", &bearer("admin-key-0123456789")),
            Ok(())
        );
        let none = e.may_create("show", &HeaderMap::new()).unwrap_err();
        assert_eq!(none.status, StatusCode::NOT_FOUND);
        let viewer = e
            .may_create("show", &bearer(&tok("show", Role::Viewer)))
            .unwrap_err();
        assert!(
            viewer.reason.contains("viewer token cannot open"),
            "{viewer:?}"
        );
        for (c, why) in [
            (tok("other", Role::Host), "another room"),
            ("admin-key-012345678X".to_string(), "wrong admin key"),
            (tok("show", Role::Moderator), "a moderator"),
        ] {
            assert_eq!(
                e.may_create("show", &bearer(&c)).unwrap_err().status,
                StatusCode::FORBIDDEN,
                "{why}"
            );
        }
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin_of("HTTPS://Room.example.com:443/x").as_deref(),
            Some("https://room.example.com")
        );
        assert_eq!(
            origin_of("wss://h:8443/room/r/ws").as_deref(),
            Some("https://h:8443")
        );
        assert_eq!(
            origin_of("http://[::1]:80").as_deref(),
            Some("http://[::1]")
        );
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("ftp://h"), None);
        assert_eq!(origin_of("http://user@h"), None);
    }
}
