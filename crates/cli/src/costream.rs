//! `marquee live --guests N`: the show's co-stream host, with the invite routes served by the
//! CLI itself (no room server), and one `guest N: LINK` line per slot.

use crate::failure::Failure;
use marquee_costream::host::CoHost;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(clap::Args, Debug, Clone)]
pub struct GuestArgs {
    /// Open N co-stream guest slots (guest1 … guestN, at most 8) and print one invite link per
    /// slot. Guests are on air as soon as they join (unless --green-room); with no --scene
    /// naming guest slots, the show lays them out beside the host (one) or in a grid (2–4).
    #[arg(long, default_value_t = 0)]
    pub guests: u32,
    /// Guests wait until admitted (the app's green room) instead of going on air at once.
    #[arg(long)]
    pub green_room: bool,
    /// Where the invite links are served (HTTP: the guest page and WHIP signalling).
    #[arg(long, default_value = "0.0.0.0:0")]
    pub guest_listen: SocketAddr,
    /// The UDP port for every guest's media (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub guest_udp_port: u16,
    /// An address guests reach this machine at (repeatable; default: every LAN address).
    /// The links use the first one.
    #[arg(long = "guest-address")]
    pub guest_addresses: Vec<IpAddr>,
    /// How the guests on air are laid out: auto (beside the host for one, a grid for more),
    /// grid, or pip (the host full frame, the guests in a row of insets). Change it while
    /// live with `marquee guest layout`.
    #[arg(long, default_value = "auto", value_parser = ["auto", "grid", "pip"])]
    pub guest_layout: String,
}

impl GuestArgs {
    pub fn settings(&self) -> marquee_show::GuestSettings {
        marquee_show::GuestSettings {
            slots: self.guests,
            green_room: self.green_room,
            udp_port: self.guest_udp_port,
            addresses: self.guest_addresses.clone(),
            layout: self.guest_layout.parse().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// Serves the invite routes and prints a link per slot; the server stops when dropped.
pub struct InviteServer {
    _runtime: tokio::runtime::Runtime,
}

pub fn serve(a: &GuestArgs, host: &Arc<CoHost>) -> Result<InviteServer, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("costream-http")
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the invite server: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(a.guest_listen))
        .map_err(|e| Failure::usage(format!("cannot serve invites on {}: {e}", a.guest_listen)))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::runtime(e.to_string()))?
        .port();
    let ip = link_address(a)?;
    runtime.spawn(marquee_costream::signal::serve(listener, host.clone()));
    let base = match ip {
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
    };
    host.set_base(&base);
    for slot in 1..=host.slots() {
        let invite = host
            .invite(slot)
            .map_err(|e| Failure::runtime(e.to_string()))?;
        let link = host.link(&invite).unwrap_or_default();
        println!("guest {slot}: {link}");
    }
    eprintln!(
        "  guests: media on UDP {}; browsers need https (put the links behind a TLS proxy) — `marquee guest join LINK` works as is",
        host.udp_addr().port()
    );
    Ok(InviteServer { _runtime: runtime })
}

/// The address in the links: the first given, else this machine's LAN address. Never
/// loopback: a link is for someone else.
fn link_address(a: &GuestArgs) -> Result<IpAddr, Failure> {
    let given = a
        .guest_addresses
        .iter()
        .find(|ip| !ip.is_loopback())
        .copied();
    given
        .or_else(|| {
            marquee_show::netif::interfaces()
                .first()
                .map(|i| i.address)
        })
        .ok_or_else(|| {
            Failure::usage(
                "no network address to put in the guest links: connect to a network or pass --guest-address IP",
            )
        })
}
