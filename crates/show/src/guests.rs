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
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
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
    /// How guests on air are laid out when no scene of the host's names them.
    pub layout: GuestLayout,
    /// What the guests see: the program or the host's camera.
    pub view: GuestView,
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

/// What the guests see of the show while on air (changeable while live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuestView {
    /// The program, as the viewers see it (themselves included).
    #[default]
    Program,
    /// The host's own camera, full frame: a guest talking to the host sees the host, not a
    /// layout with their own picture in it.
    HostCamera,
}

impl GuestView {
    pub const ALL: [GuestView; 2] = [Self::Program, Self::HostCamera];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Program => "program",
            Self::HostCamera => "camera",
        }
    }
}

impl std::str::FromStr for GuestView {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not what guests can see: program or camera"))
    }
}

/// How the show lays out the guests on air with the host (changeable while live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuestLayout {
    /// Side by side for one guest, a grid for more.
    #[default]
    Auto,
    /// Host and guests in a near-square grid.
    Grid,
    /// The host full frame, the guests in a row of pictures-in-picture along the bottom.
    Pip,
}

impl GuestLayout {
    pub const ALL: [GuestLayout; 3] = [Self::Auto, Self::Grid, Self::Pip];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Grid => "grid",
            Self::Pip => "pip",
        }
    }

    fn index(self) -> u8 {
        self as u8
    }

    fn from_index(i: u8) -> Self {
        Self::ALL.get(i as usize).copied().unwrap_or_default()
    }
}

impl std::str::FromStr for GuestLayout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a guest layout: auto, grid or pip"))
    }
}

impl Default for GuestSettings {
    fn default() -> Self {
        Self {
            slots: 0,
            green_room: false,
            udp_port: 0,
            addresses: Vec::new(),
            invite_life: marquee_costream::invite::DEFAULT_LIFE,
            layout: GuestLayout::Auto,
            view: GuestView::Program,
            stun: None,
            guest_turn: Vec::new(),
        }
    }
}

/// The source id of guest slot `n`.
pub fn source_id(n: u32) -> String {
    format!("guest{n}")
}

/// The scene laying out the guests in `on_air` (slots) with the host as `layout` says.
fn auto_scene_name(layout: GuestLayout, on_air: &BTreeSet<u32>) -> String {
    let slots: Vec<String> = on_air.iter().map(u32::to_string).collect();
    match layout {
        GuestLayout::Auto => format!("guests-{}", slots.join("-")),
        l => format!("guests-{}-{}", l.as_str(), slots.join("-")),
    }
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
        let guests: Vec<String> = on.iter().map(|n| source_id(*n)).collect();
        let mut ids = vec![host_source.clone()];
        ids.extend(guests.iter().cloned());
        for kind in GuestLayout::ALL {
            let layout = match kind {
                GuestLayout::Auto if ids.len() == 2 => Layout::SideBySide {
                    left: ids[0].clone(),
                    right: ids[1].clone(),
                },
                GuestLayout::Auto | GuestLayout::Grid => Layout::Grid {
                    sources: ids.clone(),
                },
                GuestLayout::Pip => Layout::PipRow {
                    main: host_source.clone(),
                    insets: guests.clone(),
                },
            };
            scenes.push(Scene {
                name: auto_scene_name(kind, &on),
                layout,
            });
        }
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

/// Watches the guests on air: each change (a guest on air, gone, hidden) is told to
/// `on_change` (a highlight signal), and when the show lays guests out by itself (`home`: the
/// scene to go back to when the last leaves) it cuts to the layout of the guests on air.
/// Between changes the host's own switches stand.
pub(crate) struct GuestWatch {
    stop: Arc<AtomicBool>,
    /// The layout, when the show lays guests out by itself.
    layout: Option<Arc<AtomicU8>>,
    thread: Option<JoinHandle<()>>,
}

impl GuestWatch {
    pub(crate) fn start(
        host: Arc<CoHost>,
        scenes: SceneControl,
        home: Option<String>,
        layout: GuestLayout,
        on_change: Box<dyn Fn() + Send>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let chosen = home
            .is_some()
            .then(|| Arc::new(AtomicU8::new(layout.index())));
        let (stop2, chosen2) = (stop.clone(), chosen.clone());
        let thread = std::thread::Builder::new()
            .name("guest-watch".into())
            .spawn(move || {
                let mut told = BTreeSet::new();
                let mut laid_out = (BTreeSet::new(), layout);
                while !stop2.load(Ordering::Relaxed) {
                    let on: BTreeSet<u32> = host
                        .guests()
                        .iter()
                        .filter(|g| g.state == GuestState::OnAir && g.connected && !g.hidden)
                        .map(|g| g.slot)
                        .collect();
                    if on != told {
                        on_change();
                        told = on.clone();
                    }
                    if let (Some(home), Some(chosen)) = (&home, &chosen2) {
                        let now = (on, GuestLayout::from_index(chosen.load(Ordering::Relaxed)));
                        if now != laid_out {
                            let target = if now.0.is_empty() {
                                home.clone()
                            } else {
                                auto_scene_name(now.1, &now.0)
                            };
                            match scenes.switch(&target, Transition::Cut) {
                                Ok(()) => laid_out = now,
                                Err(e) => tracing::debug!("guest layout: {e}"),
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .ok();
        Self {
            stop,
            layout: chosen,
            thread,
        }
    }

    /// Lays the guests out another way from now on (the cut follows at once); false when
    /// the host's scenes place them.
    pub(crate) fn set_layout(&self, layout: GuestLayout) -> bool {
        self.layout
            .as_ref()
            .map(|l| l.store(layout.index(), Ordering::Relaxed))
            .is_some()
    }

    /// `None` when the host's scenes place the guests.
    pub(crate) fn layout(&self) -> Option<GuestLayout> {
        (self.layout.as_ref()).map(|l| GuestLayout::from_index(l.load(Ordering::Relaxed)))
    }
}

impl Drop for GuestWatch {
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
        assert_eq!(
            names,
            [
                "guests-1",
                "guests-grid-1",
                "guests-pip-1",
                "guests-2",
                "guests-grid-2",
                "guests-pip-2",
                "guests-1-2",
                "guests-grid-1-2",
                "guests-pip-1-2"
            ]
        );
        assert_eq!(start.as_deref(), Some("main"));
        assert!(matches!(scenes[0].layout, Layout::SideBySide { .. }));
        assert_eq!(scenes[0].layout.sources(), ["main", "guest1"]);
        assert!(matches!(scenes[1].layout, Layout::Grid { .. }));
        assert_eq!(scenes[6].layout.sources(), ["main", "guest1", "guest2"]);
        assert!(matches!(scenes[8].layout, Layout::PipRow { .. }));
        assert_eq!(scenes[8].layout.sources(), ["main", "guest1", "guest2"]);
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
