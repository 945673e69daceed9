//! Co-stream guests (连麦): the settings a show opens its guest slots with, the invite links,
//! and each guest as the host's panel shows them (`marquee_costream::host::Guest`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How the guests on air are laid out with the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum GuestLayout {
    /// Beside the host for one guest, a grid for more.
    #[default]
    Auto,
    Grid,
    /// The host full frame, the guests in a row of pictures-in-picture.
    Pip,
}

impl GuestLayout {
    pub fn parse(s: &str) -> Self {
        match s {
            "grid" => Self::Grid,
            "pip" => Self::Pip,
            _ => Self::Auto,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.engine().as_str()
    }

    pub fn engine(self) -> marquee_show::guests::GuestLayout {
        use marquee_show::guests::GuestLayout as L;
        match self {
            Self::Auto => L::Auto,
            Self::Grid => L::Grid,
            Self::Pip => L::Pip,
        }
    }
}

impl From<marquee_show::guests::GuestLayout> for GuestLayout {
    fn from(l: marquee_show::guests::GuestLayout) -> Self {
        Self::parse(l.as_str())
    }
}

/// What the guests see while on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum GuestView {
    /// The show as the viewers see it.
    #[default]
    Program,
    /// The host's own camera, full frame.
    Camera,
}

impl GuestView {
    pub fn parse(s: &str) -> Self {
        match s {
            "camera" => Self::Camera,
            _ => Self::Program,
        }
    }

    pub fn engine(self) -> marquee_show::guests::GuestView {
        match self {
            Self::Program => marquee_show::guests::GuestView::Program,
            Self::Camera => marquee_show::guests::GuestView::HostCamera,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.engine().as_str()
    }
}

impl From<marquee_show::guests::GuestView> for GuestView {
    fn from(v: marquee_show::guests::GuestView) -> Self {
        Self::parse(v.as_str())
    }
}

/// The co-stream part of the settings (remembered) and of `go_live`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct GuestsSetting {
    /// Guest slots the show opens (0–4; 0: no co-stream).
    pub slots: u32,
    /// Guests wait in the green room until admitted.
    pub green_room: bool,
    pub layout: GuestLayout,
    pub view: GuestView,
}

impl Default for GuestsSetting {
    fn default() -> Self {
        Self {
            slots: 0,
            green_room: true,
            layout: GuestLayout::Auto,
            view: GuestView::Program,
        }
    }
}

/// The most guest slots the app offers (the automatic layouts hold the host and four guests).
pub const APP_GUEST_SLOTS: u32 = marquee_show::guests::AUTO_LAYOUT_SLOTS;

/// Where a guest stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum GuestState {
    /// In the green room, waiting for the host.
    Waiting,
    OnAir,
}

/// One guest as the host's panel shows them.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct GuestInfo {
    /// Names the guest in the guest commands.
    #[ts(type = "number")]
    pub session: u64,
    pub slot: u32,
    pub name: String,
    pub state: GuestState,
    /// The WebRTC connection is up.
    pub connected: bool,
    /// The host turned their voice off in the program.
    pub muted: bool,
    /// The host took their picture out of the layout.
    pub hidden: bool,
    /// Their voice in the program, dB (−60…12).
    pub volume_db: f32,
    /// Their voice's peak level as it arrives, dBFS (−90: silence).
    pub level_db: f32,
    pub rtt_ms: Option<u32>,
    /// Lost on the way in after resends, per cent (the worse of video and voice).
    pub loss_pct: Option<f32>,
    /// Resend requests (NACKs) sent to them per second: their uplink's loss before repair.
    pub nacks_per_s: Option<f32>,
    /// What arrives from them, kbit/s.
    pub in_kbps: u32,
    /// About how long after they send a picture it is ready for the program, ms (half the
    /// round trip + jitter or a queue on the way + decoding; their camera and encoder not in it).
    pub latency_ms: Option<u32>,
}

impl From<&marquee_costream::host::Guest> for GuestInfo {
    fn from(g: &marquee_costream::host::Guest) -> Self {
        Self {
            session: g.session,
            slot: g.slot,
            name: g.name.clone(),
            state: match g.state {
                marquee_costream::host::GuestState::OnAir => GuestState::OnAir,
                _ => GuestState::Waiting,
            },
            connected: g.connected,
            muted: g.muted_by_host,
            hidden: g.hidden,
            volume_db: g.volume_db,
            level_db: g.level_db,
            rtt_ms: g.quality.rtt_ms,
            loss_pct: g.quality.loss_pct,
            nacks_per_s: g.quality.nacks_per_s,
            in_kbps: g.quality.in_kbps,
            latency_ms: g.quality.latency_ms,
        }
    }
}

/// A slot's invite: the link a guest opens (and its QR code).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct GuestLink {
    pub slot: u32,
    /// `{base}/join/{token}`; `None` while the show serves no invite routes (say why instead).
    pub link: Option<String>,
    #[ts(type = "number")]
    pub expires_in_s: u64,
}

/// The co-stream panel while live.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct GuestsView {
    /// Guest slots of the show on air (0: the show takes no guests).
    pub slots: u32,
    /// `None` when the host's scenes place the guests.
    pub layout: Option<GuestLayout>,
    /// What the guests see now.
    pub view: GuestView,
    pub links: Vec<GuestLink>,
    pub guests: Vec<GuestInfo>,
}
