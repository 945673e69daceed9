//! The host's own room: the room server the desktop app embeds (started with the app), or a
//! hosted one (see [`crate::room_home`]), and the host's connection to it. Every room event
//! goes to the show as the room sent it; what a page shows of them (its own type, translated
//! by the shell) is kept for a page that attaches late ([`RoomFeed`]).

use crate::error::ShowError;
pub use crate::room_home::RoomPlan;
use marquee_costream::host::CoHost;
use marquee_guestdoor::{DoorReply, GuestDoor};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{
    BlockedMode, ClientMsg, Control, Event, PlaybackSource, Role, SettingsPatch,
};
use marquee_room::server::{self, ServerConfig, ServerHandle};
use marquee_room::token::{self, Claims};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// The room the host hosts.
pub const ROOM: &str = "main";

/// Events kept after the latest join (≈ 1 MB of the app's events; the oldest go first).
pub const FEED_KEPT: usize = 5_000;

/// Where the room is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAddress {
    pub room: String,
    /// The page viewers open.
    pub viewer_url: String,
    /// The host connection's WebSocket URL.
    pub ws_url: String,
    /// Where the embedded server listens (none for a hosted room).
    pub listen: Option<SocketAddr>,
}

/// A running room and the host's connection to it; `T` is what a page is told of it.
pub struct HostRoom<T> {
    pub address: RoomAddress,
    out: mpsc::Sender<ClientMsg>,
    feed: Arc<Mutex<RoomFeed<T>>>,
    task: tokio::task::JoinHandle<()>,
    server: Mutex<Option<ServerHandle>>,
    /// Where co-stream guests are let in while a show with guest slots runs.
    door: Door,
}

/// The current guest door, shared with the connection's task (a hosted room relays guests'
/// requests over the host's WebSocket; they go to whatever door is set when they arrive).
type Door = Arc<Mutex<Option<Arc<dyn GuestDoor>>>>;

/// What a page is told, kept for a page that starts listening late. The host connection
/// joins (and gets its history) before the page has loaded, and a reloaded page has missed
/// everything: the page attaches ([`HostRoom::attach`]), which hands over what the latest join
/// brought and every event since and, under the same lock, starts live delivery — so nothing
/// is missed or doubled.
#[derive(Debug)]
pub struct RoomFeed<T> {
    joined: Vec<T>,
    since: VecDeque<T>,
    attached: bool,
    /// Events dropped from `since` because it was full (oldest first).
    pub trimmed: u64,
}

impl<T> Default for RoomFeed<T> {
    fn default() -> Self {
        Self {
            joined: Vec::new(),
            since: VecDeque::new(),
            attached: false,
            trimmed: 0,
        }
    }
}

impl<T: Clone> RoomFeed<T> {
    /// Records what the page is told of one room event (`join`: of a (re)join, which replaces
    /// everything kept); returns whether to deliver it to the page now.
    pub fn push(&mut self, items: &[T], join: bool) -> bool {
        if join {
            self.joined = items.to_vec();
            self.since.clear();
        } else {
            for e in items {
                if self.since.len() >= FEED_KEPT {
                    self.since.pop_front();
                    self.trimmed += 1;
                }
                self.since.push_back(e.clone());
            }
        }
        self.attached
    }

    /// Everything to replay (the join first), and live delivery from now on.
    pub fn attach(&mut self) -> Vec<T> {
        self.attached = true;
        self.joined.iter().chain(&self.since).cloned().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the room as `plan` says and connects as the host. Must run on the tokio runtime.
/// Embedded: the server (SQLite in `data_dir`, a secret kept beside it) on the plan's address
/// (another free port when a port that is not fixed is taken), the host's token minted here.
/// Hosted: no server here; the host key joins the hosted room over wss (it opens the room
/// there), reconnecting by itself. `on_room` sees every room event as the room sent it (for
/// the show); `to_page` translates a room event into what the page shows (often nothing);
/// `on_page(e, now)` gets each of those, `now` saying whether the page is attached and should
/// get it now (else it is kept for [`HostRoom::attach`]).
pub async fn start<T: Clone + Send + 'static>(
    data_dir: &Path,
    plan: RoomPlan,
    on_room: impl Fn(&Event) + Send + 'static,
    to_page: impl Fn(ClientEvent) -> Vec<T> + Send + 'static,
    on_page: impl Fn(T, bool) + Send + 'static,
) -> Result<HostRoom<T>, ShowError> {
    let (address, client, server) = match plan {
        RoomPlan::Embedded { listen, fixed } => {
            let (address, host, handle) = start_server(data_dir, listen, fixed).await?;
            let client = ClientConfig::new(address.ws_url.clone()).token(host);
            (address, client, Some(handle))
        }
        RoomPlan::Hosted {
            viewer_url,
            ws_url,
            host_key,
            ca_pem,
        } => {
            let room = viewer_url.rsplit('/').next().unwrap_or(ROOM).to_string();
            let mut client = ClientConfig::new(ws_url.clone()).token(host_key);
            if let Some(pem) = ca_pem {
                client = client.ca_pem(pem);
            }
            let address = RoomAddress {
                room,
                viewer_url,
                ws_url,
                listen: None,
            };
            (address, client, None)
        }
    };
    let mut client = RoomClient::connect(client);
    let (out, mut out_rx) = mpsc::channel::<ClientMsg>(256);
    let feed = Arc::new(Mutex::new(RoomFeed::default()));
    let keep = feed.clone();
    let door: Door = Arc::default();
    let (relay_door, relay_out) = (door.clone(), out.clone());
    // The embedded server takes its door in process; only a hosted room relays.
    let relays = server.is_none();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                ev = client.recv() => match ev {
                    Some(ClientEvent::Control(Control::GuestRequest { id, request })) => {
                        let door = lock(&relay_door).clone();
                        let out = relay_out.clone();
                        tokio::spawn(async move {
                            let reply = match door {
                                Some(d) => marquee_guestdoor::blocking(d, request).await,
                                None => DoorReply::host_not_live(),
                            };
                            let _ = out.send(ClientMsg::GuestAnswer { id, reply }).await;
                        });
                    }
                    Some(ev) => {
                        // A reconnected host tells the room again that it takes guests.
                        if relays
                            && matches!(ev, ClientEvent::Joined { .. })
                            && lock(&relay_door).is_some()
                        {
                            let _ = client.send(ClientMsg::GuestDoor { open: true }).await;
                        }
                        match &ev {
                            ClientEvent::Event(e) => on_room(e),
                            ClientEvent::History(h) => h.iter().for_each(&on_room),
                            _ => {}
                        }
                        let join = matches!(ev, ClientEvent::Joined { .. });
                        let items = to_page(ev);
                        // Delivered under the lock so `attach` sees a clean cut.
                        let mut f = lock(&keep);
                        let now = f.push(&items, join);
                        for e in items {
                            on_page(e, now);
                        }
                    }
                    None => break,
                },
                msg = out_rx.recv() => match msg {
                    Some(m) => { let _ = client.send(m).await; }
                    None => break,
                },
            }
        }
    });
    Ok(HostRoom {
        address,
        out,
        feed,
        task,
        server: Mutex::new(server),
        door,
    })
}

/// The embedded server on `listen`, its address and a host token for its room.
async fn start_server(
    data_dir: &Path,
    listen: SocketAddr,
    fixed: bool,
) -> Result<(RoomAddress, String, ServerHandle), ShowError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| ShowError::Room(format!("cannot create {}: {e}", data_dir.display())))?;
    let secret = marquee_room::secret::load_or_create_secret(&data_dir.join("room.secret"))?;
    let mut cfg = ServerConfig::new(listen, secret.clone());
    cfg.db = Some(data_dir.join("room.sqlite"));
    // Its own room only, created by the host's connection below; any other name is refused.
    cfg.only_rooms = Some(vec![ROOM.into()]);
    let handle = match server::start(cfg.clone()).await {
        Ok(h) => h,
        Err(e) if fixed => {
            return Err(ShowError::Room(format!(
                "the room cannot listen on {listen} ({e}): another program may use the port, \
                 or the address is no longer this computer's; choose another in Settings → Room"
            )));
        }
        Err(_) if listen.port() != 0 => {
            cfg.listen = SocketAddr::new(listen.ip(), 0);
            server::start(cfg).await.map_err(|e| {
                ShowError::Room(format!("the room cannot listen on {}: {e}", listen.ip()))
            })?
        }
        Err(e) => return Err(e.into()),
    };
    let address = RoomAddress {
        room: ROOM.into(),
        viewer_url: handle.viewer_url(ROOM),
        ws_url: handle.ws_url(ROOM),
        listen: Some(handle.addr()),
    };
    let host = token::sign(
        &secret,
        &Claims {
            room: ROOM.into(),
            user: "host".into(),
            name: "Host".into(),
            role: Role::Host,
            exp_ms: marquee_room::now_ms() + 30 * 24 * 3600 * 1000,
        },
    );
    Ok((address, host, handle))
}

impl<T> HostRoom<T> {
    /// Leaves the room and stops the embedded server (its port is free afterwards). A
    /// message sent after this fails ("the room connection has stopped").
    pub async fn stop(&self) {
        self.task.abort();
        let server = lock(&self.server).take();
        if let Some(s) = server {
            s.shutdown().await;
        }
    }
}

impl<T: Clone> HostRoom<T> {
    /// Lets co-stream guests in through `door` — the show's co-stream host
    /// (`Show::cohost()`), set when a show with guest slots starts — or refuses them again
    /// (`None`, when it stops: `503 host_not_live`). An embedded room serves the invite
    /// routes itself; a hosted room relays them to this connection. Call
    /// `cohost.set_base(room.guest_base())` too, so that the show's links point here.
    pub async fn set_guest_door(&self, door: Option<Arc<dyn GuestDoor>>) {
        let open = door.is_some();
        *lock(&self.door) = door.clone();
        let embedded = {
            let server = lock(&self.server);
            server
                .as_ref()
                .map(|s| s.set_guest_door(&self.address.room, door))
                .is_some()
        };
        if !embedded {
            let _ = self.send(ClientMsg::GuestDoor { open }).await;
        }
    }

    /// A show's co-stream host takes its guests through this room: its links get the room's
    /// base ([`HostRoom::guest_base`]) and the room lets them in ([`HostRoom::set_guest_door`]).
    /// Call when a show with guest slots has started; [`HostRoom::close_guests`] when it stops.
    pub async fn open_guests(&self, cohost: &Arc<CoHost>) {
        cohost.set_base(self.guest_base());
        self.set_guest_door(Some(cohost.clone() as Arc<dyn GuestDoor>))
            .await;
    }

    /// Guests are refused again (`503 host_not_live`): the show with guest slots has stopped.
    pub async fn close_guests(&self) {
        self.set_guest_door(None).await;
    }

    /// The base of the guest links (`{base}/join/{token}`): the room's viewer URL, the same
    /// origin as the viewer page.
    pub fn guest_base(&self) -> &str {
        &self.address.viewer_url
    }

    /// Sends `msg` as the host.
    pub async fn send(&self, msg: ClientMsg) -> Result<(), ShowError> {
        self.out
            .send(msg)
            .await
            .map_err(|_| ShowError::Room("the room connection has stopped".into()))
    }

    /// The latest join's events and every one since (see [`RoomFeed`]), and live delivery
    /// from now on.
    pub fn attach(&self) -> Vec<T> {
        lock(&self.feed).attach()
    }

    /// Applies remembered room rules and blocked words (the room keeps them too; this makes
    /// the config file the host's source of truth).
    pub async fn apply_rules(&self, rules: &marquee_profile::RoomPrefs) {
        let patch = SettingsPatch {
            slow_mode_s: Some(rules.slow_mode_s),
            mods_only: Some(rules.mods_only),
            blocked_mode: Some(if rules.blocked_mode == "reject" {
                BlockedMode::Reject
            } else {
                BlockedMode::Mask
            }),
            user_rate_per_min: Some(rules.user_rate_per_min),
            playback: Some(playback_sources(&rules.playback)),
        };
        let _ = self.send(ClientMsg::Settings(patch)).await;
        if !rules.blocked_words.is_empty() {
            let _ = self
                .send(ClientMsg::BlockWords {
                    add: rules.blocked_words.clone(),
                    remove: vec![],
                })
                .await;
        }
    }
}

/// The remembered playback URLs as the room takes them.
pub fn playback_sources(prefs: &[marquee_profile::PlaybackPref]) -> Vec<PlaybackSource> {
    prefs
        .iter()
        .map(|p| PlaybackSource {
            name: p.name.clone(),
            url: p.url.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page's event in these tests: a join (0) or a viewer count.
    fn counts(v: &[u64]) -> Vec<u64> {
        v.iter().copied().filter(|&c| c != 0).collect()
    }

    #[test]
    fn a_late_page_gets_the_join_and_everything_since_then_live_events_without_doubles() {
        let mut f = RoomFeed::<u64>::default();
        assert!(!f.push(&[1], false), "before any join: kept, not delivered");
        assert!(!f.push(&[0], true));
        assert!(!f.push(&[2], false));
        assert!(!f.push(&[3], false));
        let replay = f.attach();
        assert_eq!(replay[0], 0, "the join first");
        assert_eq!(
            counts(&replay),
            [2, 3],
            "history since the latest join only"
        );
        assert!(f.push(&[4], false), "live from now on");
        // A reloaded page attaches again and gets the whole picture once more.
        assert_eq!(counts(&f.attach()), [2, 3, 4]);
    }

    #[test]
    fn the_feed_is_bounded_and_counts_what_it_trimmed() {
        let mut f = RoomFeed::<u64>::default();
        f.push(&[0], true);
        for i in 1..=(FEED_KEPT as u64 + 10) {
            f.push(&[i], false);
        }
        let replay = f.attach();
        assert_eq!(replay.len(), FEED_KEPT + 1);
        assert_eq!(counts(&replay)[0], 11);
        assert_eq!(f.trimmed, 10);
    }

    #[tokio::test]
    async fn the_host_joins_its_room_and_a_late_page_gets_the_join() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let room = start(
            dir.path(),
            RoomPlan::Embedded {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                fixed: false,
            },
            |_| {},
            |ev| match ev {
                ClientEvent::Joined { .. } => vec!["joined"],
                _ => vec![],
            },
            move |e, now| {
                let _ = tx.send((e, now));
            },
        )
        .await
        .unwrap();
        assert_eq!(room.address.room, ROOM);
        assert!(room.address.viewer_url.ends_with("/room/main"));
        let first = tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await;
        assert_eq!(
            first.ok().flatten(),
            Some(("joined", false)),
            "kept, not delivered"
        );
        assert_eq!(room.attach(), ["joined"]);
        assert!(dir.path().join("room.secret").is_file());
        let at = room.address.listen.unwrap();
        room.stop().await;
        assert!(
            std::net::TcpListener::bind(at).is_ok(),
            "the port is free once the room stopped"
        );
    }
}
