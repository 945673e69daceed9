//! Co-stream guests in a show: their slots as sources (`guest1` … with their voices in the
//! mix), the scenes that lay them out when no scene of the host's names them, the co-stream
//! host (`marquee_costream::host::CoHost`) started with the show, and the watcher that cuts to
//! the layout of the guests on air.

use crate::error::ShowError;
use marquee_costream::host::{CoHost, GuestState, HostConfig};
use marquee_scene::{Layout, Scene, Transition};
use marquee_studio::{SceneControl, SourceConfig};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Guests laid out by themselves (beyond this the host names them in scenes): the grid
/// holds the host and four guests.
pub const AUTO_LAYOUT_SLOTS: u32 = 4;

/// The co-stream part of the show's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestSettings {
    /// Guest slots to open (0: no co-stream).
    pub slots: u32,
    /// Guests wait until admitted (the app's green room); off, they are on air at once.
    pub green_room: bool,
    /// The UDP port for every guest's media (0: any free port).
    pub udp_port: u16,
    /// The addresses guests reach this machine at; empty: every LAN address of this machine
    /// (and loopback, for a guest on the same machine).
    pub addresses: Vec<IpAddr>,
    pub invite_life: Duration,
    /// A STUN server the host asks for its address beyond its NAT (a server-reflexive
    /// candidate for guests on other networks). None by default: a STUN query tells a third
    /// party that this machine is streaming with guests, and a host on the guests' network
    /// (or one whose guests have a TURN relay) does not need it.
    pub stun: Option<marquee_costream::stun::StunUrl>,
    /// TURN relays handed to guests behind strict NATs (their credentials stay in the keychain
    /// until the show starts).
    pub guest_turn: Vec<GuestTurn>,
}

/// A TURN relay for guests: its URL, the long-term user, and the keychain entry holding the
/// credential (`marquee key set NAME`: never in a settings file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestTurn {
    /// `turn:HOST[:PORT][?transport=udp|tcp]` or `turns:HOST[:PORT]`.
    pub url: String,
    pub username: String,
    /// The keychain entry holding the credential.
    pub credential_key: String,
}

impl Default for GuestSettings {
    fn default() -> Self {
        Self {
            slots: 0,
            green_room: false,
            udp_port: 0,
            addresses: Vec::new(),
            invite_life: marquee_costream::invite::DEFAULT_LIFE,
            stun: None,
            guest_turn: Vec::new(),
        }
    }
}

/// The source id of guest slot `n`.
pub fn source_id(n: u32) -> String {
    format!("guest{n}")
}

/// The auto scene for the guests in `on_air` (slots): beside the host for one, a grid for more.
fn auto_scene_name(on_air: &BTreeSet<u32>) -> String {
    let slots: Vec<String> = on_air.iter().map(u32::to_string).collect();
    format!("guests-{}", slots.join("-"))
}

/// Adds the guest slots to the sources (and `main` in front when the show had only its one
/// source) and, when no scene of the host's names a guest, one scene for every set of guests
/// on air. Returns whether the show lays guests out by itself.
pub(crate) fn add_sources(
    g: &GuestSettings,
    main: &marquee_capture::VideoSpec,
    sources: &mut Vec<SourceConfig>,
    scenes: &mut Vec<Scene>,
    start: &mut Option<String>,
    faults: marquee_capture::camera::Faults,
) -> Result<bool, ShowError> {
    if g.slots == 0 {
        return Ok(false);
    }
    if g.slots > marquee_costream::host::MAX_SLOTS {
        return Err(ShowError::Settings(format!(
            "{} guest slots asked; a show has at most {}",
            g.slots,
            marquee_costream::host::MAX_SLOTS
        )));
    }
    if sources.is_empty() {
        sources.push(SourceConfig {
            id: "main".into(),
            spec: main.clone(),
            mic: None,
            faults,
        });
    }
    for n in 1..=g.slots {
        let id = source_id(n);
        if sources.iter().any(|s| s.id == id) {
            return Err(ShowError::Settings(format!(
                "the source id {id} is the co-stream guest slot {n}: rename the source"
            )));
        }
        sources.push(SourceConfig {
            id,
            spec: marquee_capture::VideoSpec::Guest(n),
            mic: Some(marquee_capture::AudioSpec::Guest(n)),
            faults,
        });
    }
    let named = scenes
        .iter()
        .any(|s| s.layout.sources().iter().any(|id| id.starts_with("guest")));
    if named || g.slots > AUTO_LAYOUT_SLOTS {
        return Ok(false);
    }
    // The scene the show starts on, and goes back to when the last guest leaves.
    let home = start
        .clone()
        .or_else(|| scenes.first().map(|s| s.name.clone()))
        .unwrap_or_else(|| sources[0].id.clone());
    let host_source = match scenes.iter().find(|s| s.name == home) {
        Some(s) => s.layout.sources().first().map(|s| s.to_string()),
        None => Some(home.clone()),
    }
    .unwrap_or_else(|| sources[0].id.clone());
    *start = Some(home);
    for mask in 1u32..(1 << g.slots) {
        let on: BTreeSet<u32> = (1..=g.slots)
            .filter(|n| mask & (1 << (n - 1)) != 0)
            .collect();
        let mut ids = vec![host_source.clone()];
        ids.extend(on.iter().map(|n| source_id(*n)));
        let layout = if ids.len() == 2 {
            Layout::SideBySide {
                left: ids[0].clone(),
                right: ids[1].clone(),
            }
        } else {
            Layout::Grid { sources: ids }
        };
        scenes.push(Scene {
            name: auto_scene_name(&on),
            layout,
        });
    }
    Ok(true)
}

/// How the co-stream host is started for a show.
pub(crate) fn start_host(
    g: &GuestSettings,
    feeds: Arc<marquee_capture::feed::Feeds>,
    keychain: &marquee_profile::Keychain,
) -> Result<CoHost, ShowError> {
    let mut guest_ice_servers = Vec::new();
    for t in &g.guest_turn {
        let credential = keychain.get(&t.credential_key)?;
        guest_ice_servers.push(
            marquee_costream::ice::IceServer::turn(&t.url, &t.username, &credential)
                .map_err(ShowError::Settings)?,
        );
    }
    let mut addresses = g.addresses.clone();
    if addresses.is_empty() {
        addresses = crate::netif::interfaces()
            .into_iter()
            .map(|i| i.address)
            .collect();
        addresses.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), g.udp_port);
    CoHost::start(
        HostConfig {
            bind,
            addresses,
            slots: g.slots,
            invite_life: g.invite_life,
            green_room: g.green_room,
            stun: g.stun.clone(),
            guest_ice_servers,
        },
        feeds,
    )
    .map_err(|e| ShowError::Settings(format!("cannot open the co-stream UDP port {bind}: {e}")))
}

/// Cuts to the scene of the guests on air whenever that set changes (and back home when the
/// last leaves). Between changes the host's own switches stand.
pub(crate) struct AutoLayout {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AutoLayout {
    pub(crate) fn start(host: Arc<CoHost>, scenes: SceneControl, home: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("guest-layout".into())
            .spawn(move || {
                let mut last = BTreeSet::new();
                while !stop2.load(Ordering::Relaxed) {
                    let on: BTreeSet<u32> = host
                        .guests()
                        .iter()
                        .filter(|g| g.state == GuestState::OnAir && g.connected && !g.hidden)
                        .map(|g| g.slot)
                        .collect();
                    if on != last {
                        let target = if on.is_empty() {
                            home.clone()
                        } else {
                            auto_scene_name(&on)
                        };
                        match scenes.switch(&target, Transition::Cut) {
                            Ok(()) => last = on,
                            Err(e) => tracing::debug!("guest layout: {e}"),
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for AutoLayout {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_slots_become_sources_with_their_voices_and_a_scene_for_each_set_on_air() {
        let g = GuestSettings {
            slots: 2,
            ..Default::default()
        };
        let (mut sources, mut scenes, mut start) = (Vec::new(), Vec::new(), None);
        let auto = add_sources(
            &g,
            &marquee_capture::VideoSpec::Test,
            &mut sources,
            &mut scenes,
            &mut start,
            Default::default(),
        )
        .unwrap();
        assert!(auto);
        let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["main", "guest1", "guest2"]);
        assert_eq!(sources[2].mic, Some(marquee_capture::AudioSpec::Guest(2)));
        let names: Vec<&str> = scenes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["guests-1", "guests-2", "guests-1-2"]);
        assert_eq!(start.as_deref(), Some("main"));
        assert_eq!(scenes[0].layout.sources(), ["main", "guest1"]);
        assert_eq!(scenes[2].layout.sources(), ["main", "guest1", "guest2"]);
    }

    #[test]
    fn a_scene_naming_a_guest_leaves_the_layout_to_the_host() {
        let g = GuestSettings {
            slots: 1,
            ..Default::default()
        };
        let mut scenes = vec![Scene::parse("duo=side:main,guest1").unwrap()];
        let (mut sources, mut start) = (Vec::new(), None);
        let auto = add_sources(
            &g,
            &marquee_capture::VideoSpec::Test,
            &mut sources,
            &mut scenes,
            &mut start,
            Default::default(),
        )
        .unwrap();
        assert!(!auto);
        assert_eq!(scenes.len(), 1);
    }
}
