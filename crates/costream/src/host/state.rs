//! What the host, its endpoint and the decoders share about the guests: their states and
//! quality, the per-session switches, and the errors a join can meet.

use crate::invite::{InviteError, Invites};
use marquee_capture::feed::Feeds;
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the host decides before the first guest arrives.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The UDP socket every guest's media arrives on.
    pub bind: SocketAddr,
    /// The addresses guests reach this machine at (one ICE host candidate each, with the
    /// socket's port). Never empty: the show fills in the machine's usable addresses.
    pub addresses: Vec<IpAddr>,
    /// Guest slots (`guest1` … `guestN`).
    pub slots: u32,
    pub invite_life: Duration,
    /// Guests wait until the host admits them (the app); off, they are on air at once (the CLI).
    pub green_room: bool,
    /// A STUN server the host asks, from its one UDP socket, for the address it has beyond
    /// its NAT: offered to guests as a server-reflexive candidate. `None`: host candidates
    /// only (a guest on the same network, or one with a TURN relay, needs nothing more).
    pub stun: Option<crate::stun::StunUrl>,
    /// ICE servers handed to guests in `/info` (a TURN relay for guests behind strict NATs).
    pub guest_ice_servers: Vec<crate::ice::IceServer>,
}

/// Where a guest stands (the state JSON of docs/costream.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestState {
    /// In the green room: connected, not in the program yet.
    Waiting,
    OnAir,
    Declined,
    Removed,
    /// The guest left, or the show ended.
    Ended,
}

impl GuestState {
    pub(super) fn is_over(self) -> bool {
        matches!(self, Self::Declined | Self::Removed | Self::Ended)
    }
}

/// Connection quality of one guest, from str0m's stats (once a second).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Quality {
    pub rtt_ms: Option<u32>,
    /// Packets lost on the way in, per cent: the worse of the video's and the voice's, each
    /// what stayed lost after resend requests (NACKs) were answered (the voice is not resent).
    pub loss_pct: Option<f32>,
    /// Resend requests (NACKs, each for one or more packets) sent to the guest per second over
    /// the last stats period: a lossy uplink shows here while `loss_pct` stays low.
    pub nacks_per_s: Option<f32>,
    /// What arrives from the guest, kbit/s.
    pub in_kbps: u32,
    /// Frames decoded, and frames or packets the decoders could not use.
    pub frames: u64,
    pub decode_errors: u64,
    /// Media dropped on the way to the decoders (they were behind), or pictures held back
    /// after a lost one until a keyframe came.
    pub dropped: u64,
    /// Keyframe requests (PLI) sent to the guest: a lost video packet asks for one.
    pub keyframe_requests: u64,
    /// About how long after the guest sent a picture it is ready for the program, ms: half
    /// the round trip, plus how much later than the best of the last minute it arrived (jitter,
    /// a queue on the way), plus its wait for its last packet and its decoding. The program
    /// takes it at its next frame (at most one frame later); the guest's camera and encoder
    /// come before and are not in it.
    pub latency_ms: Option<u32>,
}

/// A guest's latency into the program from what the host measures (see
/// [`Quality::latency_ms`]): the path on this side, and half the round trip when it is known.
pub(crate) fn latency_ms(path_ms: Option<f64>, rtt_ms: Option<u32>) -> Option<u32> {
    path_ms.map(|p| (p + f64::from(rtt_ms.unwrap_or(0)) / 2.0).round().max(0.0) as u32)
}

/// One guest as the host sees them.
#[derive(Debug, Clone, Serialize)]
pub struct Guest {
    pub session: u64,
    pub slot: u32,
    pub name: String,
    pub state: GuestState,
    /// The host turned their voice off in the program.
    pub muted_by_host: bool,
    /// The host took their picture out of the layout (their voice stays).
    pub hidden: bool,
    /// Their voice's level in the program, dB (0 as sent).
    pub volume_db: f32,
    /// The WebRTC connection is up (ICE + DTLS).
    pub connected: bool,
    pub quality: Quality,
    /// Their voice's peak level as it arrives (before mute and volume), dBFS: the host's meter,
    /// in the green room too.
    pub level_db: f32,
}

/// Why a guest cannot join (each is one JSON error of docs/costream.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Invite(#[from] InviteError),
    #[error("the host is not live: try again when the show has started")]
    NotLive,
    #[error("the offer was refused: {0}")]
    BadOffer(String),
    #[error("no such guest session")]
    NoSession,
}

impl JoinError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invite(e) => e.code(),
            Self::NotLive => "host_not_live",
            Self::BadOffer(_) => "bad_offer",
            Self::NoSession => "no_session",
        }
    }
}

/// A guest's per-session switches shared with the endpoint and the decoders.
#[derive(Debug)]
pub(crate) struct Switches {
    /// Media goes into the program (admitted, not hidden/muted below).
    pub on_air: AtomicBool,
    pub muted: AtomicBool,
    /// The picture stays out of the program.
    pub hidden: AtomicBool,
    /// The voice's linear gain, as `f32` bits (1.0 until the host sets a volume).
    pub gain: std::sync::atomic::AtomicU32,
    /// The endpoint should drop this guest's connection.
    pub drop: AtomicBool,
    /// What the decoders last saw, on air or not (the host's green-room thumbnail and meter).
    pub peek: Peek,
}

/// A guest's latest picture and voice level as decoded, before the host's switches: the host
/// sees who is waiting in the green room before anything of them reaches the program.
#[derive(Debug, Default)]
pub(crate) struct Peek {
    /// Peak level of the voice, dBFS as `f32` bits, falling by [`Peek::FALL_DB_PER_S`].
    level: std::sync::atomic::AtomicU32,
    level_at: Mutex<Option<Instant>>,
    picture: Mutex<Option<(Instant, Picture)>>,
}

/// A decoded picture of a guest (tightly packed I420).
#[derive(Debug, Clone)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub i420: Arc<Vec<u8>>,
}

/// The quietest level a meter shows.
pub const SILENCE_DB: f32 = -90.0;

impl Peek {
    /// How fast a meter falls after a peak (a usual peak-meter release).
    const FALL_DB_PER_S: f32 = 20.0;
    /// Pictures kept at most this often (a thumbnail, not a video).
    const PICTURE_EVERY: Duration = Duration::from_millis(200);

    /// A block of decoded samples was heard.
    pub(crate) fn heard(&self, samples: &[f32]) {
        self.heard_at(samples, Instant::now());
    }

    fn heard_at(&self, samples: &[f32], now: Instant) {
        let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        let db = if peak > 0.0 {
            (20.0 * peak.log10()).max(SILENCE_DB)
        } else {
            SILENCE_DB
        };
        let shown = self.level_at(now);
        if db >= shown {
            self.level
                .store(db.to_bits(), std::sync::atomic::Ordering::Relaxed);
            *self.level_at.lock().expect("peek") = Some(now);
        }
    }

    /// The meter's level now, dBFS.
    pub(crate) fn level(&self) -> f32 {
        self.level_at(Instant::now())
    }

    fn level_at(&self, now: Instant) -> f32 {
        let Some(at) = *self.level_at.lock().expect("peek") else {
            return SILENCE_DB;
        };
        let peak = f32::from_bits(self.level.load(std::sync::atomic::Ordering::Relaxed));
        let fallen = now.saturating_duration_since(at).as_secs_f32() * Self::FALL_DB_PER_S;
        (peak - fallen).max(SILENCE_DB)
    }

    /// Whether a picture decoded now should be kept (one every [`Peek::PICTURE_EVERY`]).
    pub(crate) fn wants_picture(&self) -> bool {
        self.picture
            .lock()
            .expect("peek")
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= Self::PICTURE_EVERY)
    }

    pub(crate) fn keep_picture(&self, p: Picture) {
        *self.picture.lock().expect("peek") = Some((Instant::now(), p));
    }

    pub(crate) fn picture(&self) -> Option<Picture> {
        self.picture
            .lock()
            .expect("peek")
            .as_ref()
            .map(|(_, p)| p.clone())
    }
}

impl Default for Switches {
    fn default() -> Self {
        Self {
            on_air: AtomicBool::new(false),
            muted: AtomicBool::new(false),
            hidden: AtomicBool::new(false),
            gain: std::sync::atomic::AtomicU32::new(1f32.to_bits()),
            drop: AtomicBool::new(false),
            peek: Peek::default(),
        }
    }
}

impl Switches {
    pub(crate) fn gain(&self) -> f32 {
        f32::from_bits(self.gain.load(std::sync::atomic::Ordering::Relaxed))
    }
}

pub(super) struct Entry {
    pub(super) guest: Guest,
    pub(super) token: String,
    pub(super) switches: Arc<Switches>,
    /// When the state became final (entries are forgotten a while after).
    pub(super) over_at: Option<Instant>,
    /// The guest has read their final state (the page shows why they are off the show).
    pub(super) told: bool,
}

pub(crate) struct Shared {
    pub(super) epoch: Instant,
    pub(super) invites: Mutex<Invites>,
    pub(super) guests: Mutex<HashMap<u64, Entry>>,
    pub(super) next_session: Mutex<u64>,
    pub(super) live: AtomicBool,
    pub(super) cfg: HostConfig,
    pub(crate) feeds: Arc<Feeds>,
    /// The server-reflexive address STUN found and its base (the local address the request
    /// left from), while it holds.
    pub(crate) reflexive: Mutex<Option<Reflexive>>,
}

/// The host's address beyond its NAT, as a STUN server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reflexive {
    pub mapped: SocketAddr,
    pub base: SocketAddr,
}

impl Shared {
    pub(super) fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The endpoint saw the session's connection end (guest gone, ICE failed).
    pub(crate) fn disconnected(&self, session: u64) {
        self.invites.lock().expect("invites").release(session);
        let mut guests = self.guests.lock().expect("guests");
        if let Some(e) = guests.get_mut(&session) {
            e.guest.connected = false;
            if !e.guest.state.is_over() {
                e.guest.state = GuestState::Ended;
                e.over_at = Some(Instant::now());
            }
            self.feeds.get(&format!("guest{}", e.guest.slot)).clear();
        }
    }

    pub(crate) fn connected(&self, session: u64) {
        if let Some(e) = self.guests.lock().expect("guests").get_mut(&session) {
            e.guest.connected = true;
        }
    }

    pub(crate) fn update_quality(&self, session: u64, f: impl FnOnce(&mut Quality)) {
        if let Some(e) = self.guests.lock().expect("guests").get_mut(&session) {
            f(&mut e.guest.quality);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guests_latency_is_half_the_round_trip_plus_the_path_on_this_side() {
        assert_eq!(latency_ms(None, Some(40)), None, "no picture yet");
        assert_eq!(latency_ms(Some(12.4), Some(40)), Some(32));
        assert_eq!(
            latency_ms(Some(12.4), None),
            Some(12),
            "before the first RTCP report"
        );
    }

    #[test]
    fn the_meter_holds_a_peak_and_falls_twenty_db_a_second() {
        let peek = Peek::default();
        let t0 = Instant::now();
        assert_eq!(peek.level_at(t0), SILENCE_DB, "nothing heard yet");
        peek.heard_at(&[0.0, 0.5, -0.25], t0);
        assert!((peek.level_at(t0) + 6.02).abs() < 0.01);
        // A quieter block does not pull the meter down; the peak falls by itself.
        peek.heard_at(&[0.1], t0 + Duration::from_millis(100));
        assert!((peek.level_at(t0 + Duration::from_millis(100)) + 8.02).abs() < 0.01);
        assert!((peek.level_at(t0 + Duration::from_secs(1)) + 26.02).abs() < 0.01);
        // A louder one takes over at once.
        peek.heard_at(&[-1.0], t0 + Duration::from_secs(1));
        assert!(peek.level_at(t0 + Duration::from_secs(1)).abs() < 0.01);
        assert_eq!(peek.level_at(t0 + Duration::from_secs(60)), SILENCE_DB);
    }

    #[test]
    fn a_thumbnail_keeps_at_most_five_pictures_a_second() {
        let peek = Peek::default();
        assert!(peek.wants_picture());
        peek.keep_picture(Picture {
            width: 2,
            height: 2,
            i420: Arc::new(vec![0; 6]),
        });
        assert!(!peek.wants_picture(), "a picture was just kept");
        assert_eq!(peek.picture().map(|p| p.width), Some(2));
    }
}
