//! Where the host's room lives: this computer (loopback), the local network (one interface's
//! address, so phones and laptops on that network can open the viewer link), or a hosted
//! `marquee room serve` on a public machine that the app joins as the room's host. This turns
//! the remembered choice ([`marquee_profile::RoomHomePrefs`]) into what to start
//! ([`RoomPlan`]), keeps the host key in the OS keychain, and tells a hosted connection's
//! failures apart ([`Problem`]) so the app can say what to fix.

use crate::error::ShowError;
use crate::netif::{self, NetInterface};
use marquee_profile::{Keychain, RoomHomePrefs};
use marquee_room::protocol::ErrorCode;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The embedded room's port unless one is fixed (any free port when it is taken).
pub const DEFAULT_PORT: u16 = 7717;

/// The keychain service and entry holding a hosted room's host key (apart from the stream
/// keys, so that it never shows among them).
pub const HOST_KEY_SERVICE: &str = "marquee-room";
pub const HOST_KEY_ENTRY: &str = "host";

/// Where the room lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RoomHome {
    /// 127.0.0.1: only this computer reaches it.
    #[default]
    ThisComputer,
    /// One local address (`None`: the one the default route uses, looked up at start).
    LocalNetwork { address: Option<IpAddr> },
    /// A public room server.
    Hosted(Hosted),
}

/// A hosted room: the server's public URL (no trailing `/`) and the room's name there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosted {
    pub url: String,
    pub room: String,
    /// A PEM file of a private CA to trust besides the OS's roots (which include
    /// `SSL_CERT_FILE` where the platform reads it).
    pub ca_file: Option<PathBuf>,
}

impl Hosted {
    /// The page viewers open.
    pub fn viewer_url(&self) -> String {
        format!("{}/room/{}", self.url, self.room)
    }

    /// The host connection's WebSocket URL (`wss://` for an `https://` server).
    pub fn ws_url(&self) -> String {
        marquee_room::client::ws_url(&self.viewer_url())
    }
}

/// The choice as remembered, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HomeChoice {
    pub home: RoomHome,
    /// A fixed port for an embedded room (the link stays the same across restarts).
    pub port: Option<u16>,
}

fn settings(msg: impl Into<String>) -> ShowError {
    ShowError::Settings(msg.into())
}

/// A hosted server's URL, normalised (`https://host[:port][/prefix]`, no trailing `/`).
pub fn hosted_url(url: &str) -> Result<String, ShowError> {
    let u = url.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| {
            settings(format!(
                "the room server's address {u:?} must start with https:// (e.g. https://live.example.com)"
            ))
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || rest.contains(['?', '#', ' ', '@']) {
        return Err(settings(format!(
            "{u:?} is not a room server address (e.g. https://live.example.com)"
        )));
    }
    Ok(u.to_string())
}

impl HomeChoice {
    /// Reads the remembered choice; a choice that cannot work says what to change.
    pub fn from_prefs(p: &RoomHomePrefs) -> Result<Self, ShowError> {
        let port = p.port.filter(|&p| p != 0);
        let home = match p.mode.as_str() {
            "" | "this_computer" => RoomHome::ThisComputer,
            "local_network" => {
                let address = match p.lan_address.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(a) => {
                        let ip: IpAddr = a.parse().map_err(|_| {
                            settings(format!("{a:?} is not a local network address"))
                        })?;
                        if ip.is_loopback() || ip.is_unspecified() {
                            return Err(settings(format!(
                                "{ip} is not reachable from the local network: choose an interface's address"
                            )));
                        }
                        Some(ip)
                    }
                };
                RoomHome::LocalNetwork { address }
            }
            "hosted" => {
                let room = p.hosted_room.trim();
                if !marquee_room::server::valid_room_name(room) {
                    return Err(settings(format!(
                        "the hosted room's name {room:?} must be 1–64 of A-Z a-z 0-9 - _"
                    )));
                }
                RoomHome::Hosted(Hosted {
                    url: hosted_url(&p.hosted_url)?,
                    room: room.to_string(),
                    ca_file: p
                        .ca_file
                        .as_deref()
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(PathBuf::from),
                })
            }
            other => return Err(settings(format!("unknown room home {other:?}"))),
        };
        Ok(HomeChoice { home, port })
    }
}

/// What to start for the room.
#[derive(Clone, PartialEq, Eq)]
pub enum RoomPlan {
    /// The embedded server on `listen`; `fixed`: a taken port is an error rather than
    /// another port (the link must not change).
    Embedded { listen: SocketAddr, fixed: bool },
    /// Join a hosted room as its host.
    Hosted {
        viewer_url: String,
        ws_url: String,
        host_key: String,
        ca_pem: Option<Vec<u8>>,
    },
}

impl std::fmt::Debug for RoomPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoomPlan::Embedded { listen, fixed } => f
                .debug_struct("Embedded")
                .field("listen", listen)
                .field("fixed", fixed)
                .finish(),
            // The host key never reaches a log.
            RoomPlan::Hosted { viewer_url, .. } => f
                .debug_struct("Hosted")
                .field("viewer_url", viewer_url)
                .finish_non_exhaustive(),
        }
    }
}

/// Where an embedded room listens: loopback, or the chosen (else the default route's, else
/// the first listed) local address; on the fixed port, else `env_port` (a test's), else
/// [`DEFAULT_PORT`] with any free port as the fallback.
pub fn embedded_listen(
    choice: &HomeChoice,
    env_port: Option<u16>,
    default_route: Option<IpAddr>,
    interfaces: &[NetInterface],
) -> Result<(SocketAddr, bool), ShowError> {
    let ip = match &choice.home {
        RoomHome::ThisComputer => IpAddr::V4(Ipv4Addr::LOCALHOST),
        RoomHome::LocalNetwork { address: Some(a) } => *a,
        RoomHome::LocalNetwork { address: None } => default_route
            .or_else(|| interfaces.first().map(|i| i.address))
            .ok_or_else(|| {
                settings(
                    "this computer is on no local network (no address but loopback): connect \
                     it to one, or choose This computer",
                )
            })?,
        RoomHome::Hosted(_) => {
            return Err(ShowError::Internal("a hosted room is not embedded".into()));
        }
    };
    let (port, fixed) = match (choice.port, env_port) {
        (Some(p), _) => (p, true),
        (None, Some(p)) => (p, false),
        (None, None) => (DEFAULT_PORT, false),
    };
    Ok((SocketAddr::new(ip, port), fixed))
}

/// The plan for `choice`: looks up the default route's address, reads the host key from
/// `host_keys` and the CA file.
pub fn plan(
    choice: &HomeChoice,
    env_port: Option<u16>,
    host_keys: &Keychain,
) -> Result<RoomPlan, ShowError> {
    match &choice.home {
        RoomHome::Hosted(h) => {
            let host_key = host_keys.get(HOST_KEY_ENTRY).map_err(|e| match e {
                marquee_profile::KeyError::Missing(_) => settings(
                    "no host key for the hosted room: paste the one `marquee room token --role \
                     host` printed in Settings → Room",
                ),
                e => e.into(),
            })?;
            let ca_pem = match &h.ca_file {
                Some(f) => Some(std::fs::read(f).map_err(|e| {
                    settings(format!("cannot read the CA file {}: {e}", f.display()))
                })?),
                None => None,
            };
            Ok(RoomPlan::Hosted {
                viewer_url: h.viewer_url(),
                ws_url: h.ws_url(),
                host_key,
                ca_pem,
            })
        }
        _ => {
            let (listen, fixed) = embedded_listen(
                choice,
                env_port,
                netif::default_route_address(),
                &netif::interfaces(),
            )?;
            Ok(RoomPlan::Embedded { listen, fixed })
        }
    }
}

/// The keychain holding the host key.
pub fn host_keychain() -> Keychain {
    Keychain::new(HOST_KEY_SERVICE)
}

/// Keeps a pasted host key in the OS keychain (it is never written anywhere else).
pub fn store_host_key(keychain: &Keychain, key: &str) -> Result<(), ShowError> {
    let key = key.trim();
    if !key.starts_with("mq1.") || key.chars().any(char::is_whitespace) {
        return Err(settings(
            "that is not a host key: a host key starts with mq1. (mint one with `marquee room \
             token --room ROOM --user host --role host --ttl 90d` on the server)",
        ));
    }
    keychain.set(HOST_KEY_ENTRY, key)?;
    Ok(())
}

/// Whether a host key is stored (never the key).
pub fn host_key_stored(keychain: &Keychain) -> bool {
    keychain.get(HOST_KEY_ENTRY).is_ok()
}

/// Why the host connection to the room failed, as the streamer can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No answer (down, wrong address, no network, a firewall): it keeps retrying.
    Unreachable,
    /// The server's certificate is not trusted (self-signed, a private CA not given, expired).
    Certificate,
    /// The host key is not one for this room on this server, or it expired.
    HostKey,
    /// The server answered and refused the room (not served there, full, closed, banned).
    Refused,
}

impl Problem {
    /// The IPC and UI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Unreachable => "unreachable",
            Problem::Certificate => "certificate",
            Problem::HostKey => "host_key",
            Problem::Refused => "refused",
        }
    }
}

/// Tells a host connection failure apart: from the room's refusal code when it gave one, else
/// from the client's reason (its connect and TLS errors and the server's HTTP refusals).
pub fn problem(code: Option<ErrorCode>, reason: &str) -> Problem {
    match code {
        Some(ErrorCode::Unauthorized | ErrorCode::TokenExpired) => return Problem::HostKey,
        Some(_) => return Problem::Refused,
        None => {}
    }
    let r = reason.to_ascii_lowercase();
    if r.contains("certificate") || r.contains("unknownissuer") || r.contains("tls error") {
        Problem::Certificate
    } else if let Some(status) = r
        .split("http ")
        .nth(1)
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
    {
        let about_key = r.contains("token")
            || r.contains("host key")
            || r.contains("cannot open room")
            || r.contains("signature")
            || r.contains("expired");
        if (status == 401 || status == 403) && about_key {
            Problem::HostKey
        } else if status >= 500 && status != 503 {
            // A proxy with no server behind it (502, 504).
            Problem::Unreachable
        } else {
            Problem::Refused
        }
    } else {
        Problem::Unreachable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(mode: &str) -> RoomHomePrefs {
        RoomHomePrefs {
            mode: mode.into(),
            ..RoomHomePrefs::default()
        }
    }

    fn iface(name: &str, ip: &str) -> NetInterface {
        NetInterface {
            name: name.into(),
            address: ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        }
    }

    #[test]
    fn this_computer_is_the_default_and_listens_on_loopback_only() {
        let c = HomeChoice::from_prefs(&RoomHomePrefs::default()).unwrap();
        assert_eq!(c.home, RoomHome::ThisComputer);
        let (at, fixed) = embedded_listen(&c, None, None, &[]).unwrap();
        assert_eq!(at, "127.0.0.1:7717".parse().unwrap());
        assert!(!fixed, "7717 falls back to a free port");
        let (at, _) = embedded_listen(&c, Some(0), None, &[]).unwrap();
        assert_eq!(at.port(), 0, "a test's MARQUEE_ROOM_PORT");
    }

    #[test]
    fn the_local_network_listens_on_the_chosen_or_the_default_routes_address_never_loopback() {
        let ifs = [iface("eth0", "192.168.1.20"), iface("wlan0", "10.0.0.7")];
        let mut p = prefs("local_network");
        let c = HomeChoice::from_prefs(&p).unwrap();
        let route = Some("10.0.0.7".parse().unwrap());
        let (at, _) = embedded_listen(&c, None, route, &ifs).unwrap();
        assert_eq!(at.ip().to_string(), "10.0.0.7", "the default route's");
        let (at, _) = embedded_listen(&c, None, None, &ifs).unwrap();
        assert_eq!(at.ip().to_string(), "192.168.1.20", "else the first listed");
        assert!(
            embedded_listen(&c, None, None, &[]).is_err(),
            "no network: said, not 127.0.0.1"
        );
        p.lan_address = Some("192.168.1.20".into());
        p.port = Some(8800);
        let c = HomeChoice::from_prefs(&p).unwrap();
        let (at, fixed) = embedded_listen(&c, Some(0), route, &ifs).unwrap();
        assert_eq!(at, "192.168.1.20:8800".parse().unwrap());
        assert!(
            fixed,
            "a fixed port wins over the environment and never moves"
        );
        for bad in ["127.0.0.1", "0.0.0.0", "::", "not-an-ip"] {
            p.lan_address = Some(bad.into());
            assert!(HomeChoice::from_prefs(&p).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_hosted_room_links_to_the_servers_public_page_and_joins_over_wss() {
        let mut p = prefs("hosted");
        p.hosted_url = " https://live.example.com/ ".into();
        p.hosted_room = "premiere".into();
        p.ca_file = Some(String::new());
        let c = HomeChoice::from_prefs(&p).unwrap();
        let RoomHome::Hosted(h) = &c.home else {
            panic!("{c:?}")
        };
        assert_eq!(h.viewer_url(), "https://live.example.com/room/premiere");
        assert_eq!(h.ws_url(), "wss://live.example.com/room/premiere/ws");
        assert_eq!(h.ca_file, None, "an empty CA file is none");
        for bad in ["live.example.com", "ftp://x", "https://", "https://a b"] {
            p.hosted_url = bad.into();
            assert!(HomeChoice::from_prefs(&p).is_err(), "{bad}");
        }
        p.hosted_url = "https://live.example.com".into();
        p.hosted_room = "no spaces".into();
        assert!(HomeChoice::from_prefs(&p).is_err());
    }

    #[test]
    fn a_plan_never_shows_the_host_key() {
        let plan = RoomPlan::Hosted {
            viewer_url: "https://h/room/r".into(),
            ws_url: "wss://h/room/r/ws".into(),
            host_key: "mq1.secret-part".into(),
            ca_pem: None,
        };
        assert!(!format!("{plan:?}").contains("secret"));
    }

    #[test]
    fn only_a_host_key_is_kept() {
        let k = Keychain::new("marquee-test-unreachable");
        for bad in ["", "hunter2", "mq1.abc def"] {
            let e = store_host_key(&k, bad).unwrap_err().to_string();
            assert!(e.contains("not a host key"), "{e}");
            assert!(!e.contains("hunter2"), "the pasted text is not echoed: {e}");
        }
    }

    #[test]
    fn hosted_connection_failures_are_told_apart() {
        use Problem::*;
        let cases = [
            (
                "connect: IO error: Connection refused (os error 111)",
                Unreachable,
            ),
            (
                "connect: IO error: failed to lookup address information: Name or service not known",
                Unreachable,
            ),
            (
                "connect: TLS error: rustls error: invalid peer certificate: UnknownIssuer",
                Certificate,
            ),
            (
                "connect: IO error: invalid peer certificate: Expired",
                Certificate,
            ),
            (
                "connect: HTTP 403 Forbidden: cannot open room \"r\": bad signature",
                HostKey,
            ),
            (
                "connect: HTTP 403 Forbidden: cannot open room \"r\": token expired",
                HostKey,
            ),
            ("connect: HTTP 404 Not Found: no room \"r\" here", Refused),
            (
                "connect: HTTP 403 Forbidden: Host \"x\" is not a name of this server",
                Refused,
            ),
            (
                "connect: HTTP 503 Service Unavailable: 64 rooms are running",
                Refused,
            ),
            ("connect: HTTP 502 Bad Gateway: ", Unreachable),
            ("closed by server: ", Unreachable),
        ];
        for (reason, want) in cases {
            assert_eq!(problem(None, reason), want, "{reason}");
        }
        assert_eq!(problem(Some(ErrorCode::TokenExpired), ""), HostKey);
        assert_eq!(problem(Some(ErrorCode::Unauthorized), ""), HostKey);
        assert_eq!(problem(Some(ErrorCode::RoomClosed), ""), Refused);
    }
}
