//! `marquee live --guests N`: the show's co-stream host, with the invite routes served by the
//! engine's own invite server (no room server), and one `guest N: LINK` line per slot.

use crate::failure::Failure;
use marquee_costream::host::CoHost;
use marquee_show::ShowError;
use marquee_show::invites::{self, InviteServer};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(clap::Args, Debug, Clone)]
pub struct GuestArgs {
    /// Open N co-stream guest slots (guest1 … guestN, at most 8) and print one invite link per
    /// slot: under the room when --danmaku-from joins it with its host token (guests signal
    /// through the room), else served by this machine (--guest-listen). Guests are on air as soon as they join (unless --green-room); with no --scene
    /// naming guest slots, the show lays them out beside the host (one) or in a grid (2–4).
    #[arg(long, default_value_t = 0)]
    pub guests: u32,
    /// Guests wait until admitted (the app's green room) instead of going on air at once.
    #[arg(long)]
    pub green_room: bool,
    /// Where the invite links are served (HTTP: the guest page and WHIP signalling) when no
    /// room takes the guests.
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
    /// What the guests see while on air: program (the show as viewers see it) or camera (the
    /// host's own camera, full frame). Change it while live with `marquee guest view`.
    #[arg(long, default_value = "program", value_parser = ["program", "camera"])]
    pub guest_view: String,
    /// A STUN server (stun:HOST[:PORT]) the host asks for its address beyond its NAT, offered
    /// to guests on other networks. Off by default: the query tells that server you are live
    /// with guests, and guests on your network (or with a TURN relay) do not need it.
    #[arg(long, value_name = "stun:HOST[:PORT]")]
    pub stun: Option<marquee_costream::stun::StunUrl>,
    /// A TURN relay guests behind strict NATs use (turn:HOST[:PORT][?transport=udp|tcp] or
    /// turns:HOST[:PORT]); needs --guest-turn-user and --guest-turn-credential.
    #[arg(long, value_name = "URL", value_parser = turn_url, requires_all = ["guest_turn_user", "guest_turn_credential"])]
    pub guest_turn: Option<String>,
    /// The TURN relay's user name (long-term credential).
    #[arg(long, value_name = "USER", requires = "guest_turn")]
    pub guest_turn_user: Option<String>,
    /// The TURN relay's credential, from the OS keychain: key:NAME (store it with
    /// `marquee key set NAME`). Guests get it with their invite; it is never printed.
    #[arg(long, value_name = "key:NAME", value_parser = keychain_name, requires = "guest_turn")]
    pub guest_turn_credential: Option<String>,
}

fn turn_url(s: &str) -> Result<String, String> {
    marquee_costream::ice::check_turn_url(s)?;
    Ok(s.to_string())
}

fn keychain_name(s: &str) -> Result<String, String> {
    s.strip_prefix("key:")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            "the TURN credential comes from the OS keychain: key:NAME (store it with `marquee key set NAME`)".to_string()
        })
}

impl GuestArgs {
    pub fn settings(&self) -> marquee_show::GuestSettings {
        marquee_show::GuestSettings {
            slots: self.guests,
            green_room: self.green_room,
            udp_port: self.guest_udp_port,
            addresses: self.guest_addresses.clone(),
            layout: self.guest_layout.parse().unwrap_or_default(),
            view: self.guest_view.parse().unwrap_or_default(),
            stun: self.stun.clone(),
            guest_turn: match (
                &self.guest_turn,
                &self.guest_turn_user,
                &self.guest_turn_credential,
            ) {
                (Some(url), Some(username), Some(credential_key)) => {
                    vec![marquee_show::GuestTurn {
                        url: url.clone(),
                        username: username.clone(),
                        credential_key: credential_key.clone(),
                    }]
                }
                _ => Vec::new(),
            },
            ..Default::default()
        }
    }
}

/// Serves the invite routes (the engine's own invite server: no room takes the guests) and
/// prints a link per slot; the server stops when dropped.
pub fn serve(a: &GuestArgs, host: &Arc<CoHost>) -> Result<InviteServer, Failure> {
    let failure = |e: ShowError| match e {
        ShowError::Settings(m) => Failure::usage(m),
        e => Failure::runtime(e.to_string()),
    };
    let server =
        invites::serve_invites(a.guest_listen, &a.guest_addresses, host).map_err(failure)?;
    print_links(host)?;
    eprintln!(
        "  guests: media on UDP {}; browsers need https (put the links behind a TLS proxy) — `marquee guest join LINK` works as is",
        host.udp_addr().port()
    );
    Ok(server)
}

/// One invite per slot, printed `guest N: LINK` (the host's link base is set).
pub fn print_links(host: &CoHost) -> Result<(), Failure> {
    let links = invites::invite_every_slot(host).map_err(|e| Failure::runtime(e.to_string()))?;
    for (slot, link) in links {
        println!("guest {slot}: {link}");
    }
    Ok(())
}
