//! The host's side of a co-stream: invites, the guests and their states, and one WebRTC
//! endpoint (one UDP socket, one str0m `Rtc` per guest) whose decoded media goes into the
//! show's feeds (`guest1` … as sources, see `marquee_capture::feed`).
//!
//! [`CoHost`] is what the show and the signalling routes call; the socket loop is in
//! `endpoint.rs`, the decoders in `inbound.rs`.

mod endpoint;
mod inbound;
mod outbound;
mod playout;
mod state;

use state::{Entry, Shared, Switches};
pub use state::{Guest, GuestState, HostConfig, JoinError, Picture, Quality, SILENCE_DB};

pub use endpoint::MAX_OFFER;

use crate::invite::{Invite, Invites};
use marquee_capture::feed::Feeds;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most guest slots a show may open (the grid holds the host and 4 guests; more slots
/// than that are for scenes that name them).
pub const MAX_SLOTS: u32 = 8;

/// The co-stream host of one show.
pub struct CoHost {
    shared: Arc<Shared>,
    endpoint: endpoint::Handle,
    local: SocketAddr,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Where guests reach the invite routes (`https://host/…`), once served.
    base: Mutex<Option<String>>,
}

impl std::fmt::Debug for CoHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoHost").field("udp", &self.local).finish()
    }
}

impl CoHost {
    /// Binds the UDP socket and starts the endpoint. Guests are refused (`host_not_live`)
    /// until [`CoHost::set_live`].
    pub fn start(cfg: HostConfig, feeds: Arc<Feeds>) -> std::io::Result<Self> {
        crate::install_crypto();
        let socket = UdpSocket::bind(cfg.bind)?;
        let local = socket.local_addr()?;
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            invites: Mutex::new(Invites::default()),
            guests: Mutex::new(HashMap::new()),
            next_session: Mutex::new(1),
            live: AtomicBool::new(false),
            cfg,
            feeds,
            reflexive: Mutex::new(None),
        });
        let (endpoint, thread) = endpoint::spawn(socket, shared.clone())?;
        Ok(Self {
            shared,
            endpoint,
            local,
            thread: Mutex::new(Some(thread)),
            base: Mutex::new(None),
        })
    }

    /// The UDP address guests send media to.
    pub fn udp_addr(&self) -> SocketAddr {
        self.local
    }

    /// The host's address beyond its NAT, once the configured STUN server answered.
    pub fn reflexive_addr(&self) -> Option<SocketAddr> {
        self.shared
            .reflexive
            .lock()
            .expect("reflexive")
            .map(|r| r.mapped)
    }

    /// The ICE servers guests use (`/info`'s `ice_servers`): the host's TURN relay for
    /// guests behind strict NATs. Carries credentials: for a guest holding a valid invite.
    pub fn guest_ice_servers(&self) -> &[crate::ice::IceServer] {
        &self.shared.cfg.guest_ice_servers
    }

    pub fn slots(&self) -> u32 {
        self.shared.cfg.slots
    }

    /// Accept guests (the show is live) or refuse them with `host_not_live`.
    pub fn set_live(&self, live: bool) {
        self.shared.live.store(live, Ordering::Relaxed);
    }

    /// Where the invite routes are reachable (no trailing slash), for the links.
    pub fn set_base(&self, base: &str) {
        *self.base.lock().expect("base") = Some(base.trim_end_matches('/').to_string());
    }

    /// The link of an invite, once the routes are served somewhere.
    pub fn link(&self, invite: &Invite) -> Option<String> {
        let base = self.base.lock().expect("base");
        base.as_ref().map(|b| format!("{b}/join/{}", invite.token))
    }

    /// A new invite for `slot` (1-based).
    pub fn invite(&self, slot: u32) -> Result<Invite, JoinError> {
        if slot == 0 || slot > self.shared.cfg.slots {
            return Err(JoinError::BadOffer(format!(
                "there is no guest slot {slot} (this show has {})",
                self.shared.cfg.slots
            )));
        }
        let now = self.shared.now();
        let mut invites = self.shared.invites.lock().expect("invites");
        invites.sweep(now, Duration::from_secs(3600));
        Ok(invites.create(slot, now, self.shared.cfg.invite_life))
    }

    /// Revokes an invite: the guest on it is dropped at once.
    pub fn revoke(&self, token: &str) {
        let session = self.shared.invites.lock().expect("invites").revoke(token);
        if let Some(s) = session {
            self.end(s, GuestState::Removed);
        }
    }

    /// What the invite opens, if it can be used now.
    pub fn check(&self, token: &str) -> Result<Invite, JoinError> {
        let now = self.shared.now();
        let invites = self.shared.invites.lock().expect("invites");
        Ok(invites.check(token, now)?.clone())
    }

    /// Seconds the invite has left.
    pub fn expires_in(&self, invite: &Invite) -> Duration {
        invite.expires.saturating_sub(self.shared.now())
    }

    /// A guest's offer (SDP text) on `token`: claims the slot and returns the session and
    /// the answer (SDP text, the endpoint's host candidates in it). A guest already on the
    /// slot with the same token is replaced (a reconnect from the same link).
    pub fn offer(&self, token: &str, name: &str, sdp: &str) -> Result<(u64, String), JoinError> {
        if !self.shared.live.load(Ordering::Relaxed) {
            return Err(JoinError::NotLive);
        }
        let now = self.shared.now();
        let slot = self
            .shared
            .invites
            .lock()
            .expect("invites")
            .check(token, now)?
            .slot;
        // The same link reconnecting: the old session on this token ends first.
        let previous: Vec<u64> = self
            .shared
            .guests
            .lock()
            .expect("guests")
            .iter()
            .filter(|(_, e)| e.token == token && !e.guest.state.is_over())
            .map(|(s, _)| *s)
            .collect();
        for s in previous {
            self.end(s, GuestState::Ended);
        }
        let session = {
            let mut n = self.shared.next_session.lock().expect("sessions");
            *n += 1;
            *n
        };
        self.shared
            .invites
            .lock()
            .expect("invites")
            .claim(token, session, now)?;
        let switches = Arc::new(Switches::default());
        let addrs: Vec<SocketAddr> = self
            .shared
            .cfg
            .addresses
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.local.port()))
            .collect();
        let reflexive = *self.shared.reflexive.lock().expect("reflexive");
        let answer =
            match self
                .endpoint
                .add(session, slot, sdp, &addrs, reflexive, switches.clone())
            {
                Ok(a) => a,
                Err(e) => {
                    self.shared
                        .invites
                        .lock()
                        .expect("invites")
                        .release(session);
                    return Err(e);
                }
            };
        let name = clean_name(name, slot);
        let state = if self.shared.cfg.green_room {
            GuestState::Waiting
        } else {
            switches.on_air.store(true, Ordering::Relaxed);
            GuestState::OnAir
        };
        let mut guests = self.shared.guests.lock().expect("guests");
        guests.retain(|_, e| {
            e.over_at
                .is_none_or(|t| t.elapsed() < Duration::from_secs(600))
        });
        guests.insert(
            session,
            Entry {
                guest: Guest {
                    session,
                    slot,
                    name,
                    state,
                    muted_by_host: false,
                    hidden: false,
                    volume_db: 0.0,
                    connected: false,
                    quality: Quality::default(),
                    level_db: state::SILENCE_DB,
                },
                token: token.to_string(),
                switches,
                over_at: None,
                told: false,
            },
        );
        Ok((session, answer))
    }

    /// The guest's state, asked with their token (a guest sees only their own session).
    pub fn state(&self, token: &str, session: u64) -> Result<Guest, JoinError> {
        let mut guests = self.shared.guests.lock().expect("guests");
        match guests.get_mut(&session) {
            Some(e) if e.token == token => {
                e.told |= e.guest.state.is_over();
                Ok(e.guest.clone())
            }
            _ => Err(JoinError::NoSession),
        }
    }

    /// Guests whose session ended in the last few seconds and who have not read it yet: a
    /// show that is stopping keeps its routes up until they have (or a few seconds passed).
    pub fn untold_ends(&self) -> usize {
        self.shared
            .guests
            .lock()
            .expect("guests")
            .values()
            .filter(|e| {
                !e.told
                    && e.over_at
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(5))
            })
            .count()
    }

    /// Blocks until every guest whose session ended has read it (their page asks about once
    /// a second), or `max` passed: a stopping show keeps its routes up that long.
    pub fn wait_until_guests_told(&self, max: Duration) {
        let since = Instant::now();
        while self.untold_ends() > 0 && since.elapsed() < max {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The guest leaves (their DELETE).
    pub fn leave(&self, token: &str, session: u64) -> Result<(), JoinError> {
        self.state(token, session)?;
        self.end(session, GuestState::Ended);
        if let Some(e) = self.shared.guests.lock().expect("guests").get_mut(&session) {
            e.told = true;
        }
        Ok(())
    }

    /// Every guest now connected or waiting, by slot.
    pub fn guests(&self) -> Vec<Guest> {
        let mut v: Vec<Guest> = self
            .shared
            .guests
            .lock()
            .expect("guests")
            .values()
            .filter(|e| !e.guest.state.is_over())
            .map(|e| Guest {
                level_db: e.switches.peek.level(),
                ..e.guest.clone()
            })
            .collect();
        v.sort_by_key(|g| (g.slot, g.session));
        v
    }

    /// A guest's latest picture as decoded (in the green room too; at most five a second are
    /// kept): the host's thumbnail of them.
    pub fn picture(&self, session: u64) -> Result<Option<Picture>, JoinError> {
        let guests = self.shared.guests.lock().expect("guests");
        let e = guests.get(&session).ok_or(JoinError::NoSession)?;
        Ok(e.switches.peek.picture())
    }

    /// Admits a waiting guest into the program.
    pub fn admit(&self, session: u64) -> Result<(), JoinError> {
        self.with(session, |e| {
            e.guest.state = GuestState::OnAir;
            e.switches.on_air.store(true, Ordering::Relaxed);
        })
    }

    /// Turns the guest's voice off or on in the program.
    pub fn mute(&self, session: u64, muted: bool) -> Result<(), JoinError> {
        self.with(session, |e| {
            e.guest.muted_by_host = muted;
            e.switches.muted.store(muted, Ordering::Relaxed);
        })
    }

    /// Takes the guest's picture out of the program (or puts it back); their voice stays.
    pub fn hide(&self, session: u64, hidden: bool) -> Result<(), JoinError> {
        self.with(session, |e| {
            e.guest.hidden = hidden;
            e.switches.hidden.store(hidden, Ordering::Relaxed);
        })
    }

    /// The guest's voice level in the program, dB (−60 … +12; 0 is as sent).
    pub fn set_volume(&self, session: u64, db: f32) -> Result<(), JoinError> {
        let db = if db.is_finite() {
            db.clamp(-60.0, 12.0)
        } else {
            0.0
        };
        self.with(session, |e| {
            e.guest.volume_db = db;
            e.switches
                .gain
                .store(10f32.powf(db / 20.0).to_bits(), Ordering::Relaxed);
        })
    }

    /// Declines a waiting guest.
    pub fn decline(&self, session: u64) -> Result<(), JoinError> {
        self.with(session, |_| ())?;
        self.end(session, GuestState::Declined);
        Ok(())
    }

    /// Takes a guest off the show (their link still works for a new session).
    pub fn remove(&self, session: u64) -> Result<(), JoinError> {
        self.with(session, |_| ())?;
        self.end(session, GuestState::Removed);
        Ok(())
    }

    fn with(&self, session: u64, f: impl FnOnce(&mut Entry)) -> Result<(), JoinError> {
        let mut guests = self.shared.guests.lock().expect("guests");
        match guests.get_mut(&session) {
            Some(e) if !e.guest.state.is_over() => {
                f(e);
                Ok(())
            }
            _ => Err(JoinError::NoSession),
        }
    }

    fn end(&self, session: u64, state: GuestState) {
        if let Some(e) = self.shared.guests.lock().expect("guests").get_mut(&session)
            && !e.guest.state.is_over()
        {
            e.guest.state = state;
            e.over_at = Some(Instant::now());
            e.switches.on_air.store(false, Ordering::Relaxed);
            e.switches.drop.store(true, Ordering::Relaxed);
        }
        self.shared
            .invites
            .lock()
            .expect("invites")
            .release(session);
    }

    /// Ends every guest's session (they see `ended`) and stops the endpoint.
    pub fn stop(&self) {
        self.set_live(false);
        let sessions: Vec<u64> = self.guests().iter().map(|g| g.session).collect();
        for s in sessions {
            self.end(s, GuestState::Ended);
        }
        self.endpoint.stop();
        let thread = self.thread.lock().expect("endpoint thread").take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for CoHost {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A display name: trimmed, control characters out, at most 32 characters; "Guest N" if empty.
pub fn clean_name(name: &str, slot: u32) -> String {
    let n: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect::<String>()
        .trim()
        .to_string();
    if n.is_empty() {
        format!("Guest {slot}")
    } else {
        n
    }
}
