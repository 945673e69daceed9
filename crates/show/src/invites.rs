//! Where guests signal, decided by the engine: through the host's room when there is one (the
//! room server serves the invite routes under the room, see [`crate::room::HostRoom`]), else
//! through an invite server of the show's own ([`serve_invites`]: plain HTTP on its own port,
//! what `marquee live --guests N` without a room uses).

use crate::error::ShowError;
use marquee_costream::host::CoHost;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The show's own invite server; it stops when dropped.
pub struct InviteServer {
    _runtime: tokio::runtime::Runtime,
    base: String,
}

impl InviteServer {
    /// Where guests reach it (`http://ADDRESS:PORT`, the links' base).
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// Serves the invite routes on `listen` for `host`, with links on the first of `addresses`
/// that is not loopback (else this machine's LAN address), and sets the host's link base.
pub fn serve_invites(
    listen: SocketAddr,
    addresses: &[IpAddr],
    host: &Arc<CoHost>,
) -> Result<InviteServer, ShowError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("costream-http")
        .enable_all()
        .build()
        .map_err(|e| ShowError::Internal(format!("cannot start the invite server: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|e| ShowError::Settings(format!("cannot serve invites on {listen}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| ShowError::Internal(e.to_string()))?
        .port();
    let ip = link_address(addresses)?;
    runtime.spawn(marquee_costream::signal::serve(listener, host.clone()));
    let base = match ip {
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
    };
    host.set_base(&base);
    Ok(InviteServer {
        _runtime: runtime,
        base,
    })
}

/// One invite per slot, with its link (the host's base must be set): `(slot, link)`.
pub fn invite_every_slot(host: &CoHost) -> Result<Vec<(u32, String)>, ShowError> {
    (1..=host.slots())
        .map(|slot| {
            let invite = host
                .invite(slot)
                .map_err(|e| ShowError::Internal(e.to_string()))?;
            Ok((slot, host.link(&invite).unwrap_or_default()))
        })
        .collect()
}

/// The address in the links: the first given, else this machine's LAN address. Never
/// loopback: a link is for someone else.
fn link_address(addresses: &[IpAddr]) -> Result<IpAddr, ShowError> {
    let given = addresses.iter().find(|ip| !ip.is_loopback()).copied();
    given
        .or_else(|| crate::netif::interfaces().first().map(|i| i.address))
        .ok_or_else(|| {
            ShowError::Settings(
                "no network address to put in the guest links: connect to a network or pass --guest-address IP".into(),
            )
        })
}
