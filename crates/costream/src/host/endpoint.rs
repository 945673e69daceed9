//! One UDP socket for every guest: str0m demultiplexes each datagram to the guest's `Rtc`
//! (`accepts`), the loop sends what they emit, drives their timers, and hands their media to
//! the decoders (`inbound.rs`) through bounded queues. When a STUN server is configured the
//! same socket asks it for the host's server-reflexive address (`crate::stun`); its answers
//! are taken out of the traffic before str0m sees it.

use super::inbound::{self, Inbound};
use super::outbound::Outbound;
use super::state::{JoinError, Reflexive, Shared, Switches};
use crate::media::VideoCodec;
use crossbeam_channel::{Receiver, Sender};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, KeyframeRequestKind, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// Voice packets str0m holds back for one that is missing (a path that reorders by more is
/// rare; a lost one is concealed after this).
const AUDIO_REORDER_PACKETS: usize = 3;
/// …and for no longer than this.
const AUDIO_REORDER_WAIT: Duration = Duration::from_millis(60);
/// The longest an offer may be (docs/costream.md: 413 beyond).
pub const MAX_OFFER: usize = marquee_guestdoor::MAX_OFFER;

/// The loop never sleeps longer than this without looking at its queue of new guests.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Keyframe requests to one guest at most this often.
const KEYFRAME_EVERY: Duration = Duration::from_millis(500);

struct NewPeer {
    session: u64,
    slot: u32,
    rtc: Rtc,
    switches: Arc<Switches>,
}

/// The handle the host keeps: adds guests, stops the loop.
pub(super) struct Handle {
    new: Sender<NewPeer>,
    stop: Arc<AtomicBool>,
    /// A clone of the socket, to wake the loop with an empty datagram to itself.
    waker: UdpSocket,
    wake_to: SocketAddr,
}

impl Handle {
    /// Answers `sdp` with a new `Rtc` that has one host candidate per address (and the
    /// server-reflexive one STUN found), and passes it to the loop.
    pub(super) fn add(
        &self,
        session: u64,
        slot: u32,
        sdp: &str,
        addrs: &[SocketAddr],
        reflexive: Option<Reflexive>,
        switches: Arc<Switches>,
    ) -> Result<String, JoinError> {
        if sdp.len() > MAX_OFFER {
            return Err(JoinError::BadOffer("the offer is over 64 KiB".into()));
        }
        let offer = SdpOffer::from_sdp_string(sdp)
            .map_err(|e| JoinError::BadOffer(format!("not an SDP offer: {e}")))?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_h264(true)
            .enable_opus(true, false)
            .set_stats_interval(Some(Duration::from_secs(1)))
            .enable_bwe(Some(Bitrate::kbps(600)))
            // Voice is never sent again: waiting for a lost packet (str0m's default, up to 15
            // packets or 1 s) only makes the packets behind it late, and the mixer then runs
            // further behind real time for the whole show. The decoder conceals the gap.
            .set_reordering_size_audio(AUDIO_REORDER_PACKETS)
            .set_reordering_timeout_audio(Some(AUDIO_REORDER_WAIT))
            .build(Instant::now());
        for a in addrs {
            let c = Candidate::host(*a, "udp")
                .map_err(|e| JoinError::BadOffer(format!("host address {a}: {e}")))?;
            rtc.add_local_candidate(c);
        }
        // str0m drops it itself when it is one of the host addresses (no NAT in between).
        if let Some(r) = reflexive {
            match Candidate::server_reflexive(r.mapped, r.base, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => tracing::debug!("server-reflexive {}: {e}", r.mapped),
            }
        }
        let answer = crate::net::guard_sdp(|| rtc.sdp_api().accept_offer(offer))
            .map_err(JoinError::BadOffer)?
            .map_err(|e| JoinError::BadOffer(e.to_string()))?;
        self.new
            .try_send(NewPeer {
                session,
                slot,
                rtc,
                switches,
            })
            .map_err(|_| JoinError::BadOffer("too many guests joining at once".into()))?;
        self.wake();
        Ok(answer.to_sdp_string())
    }

    fn wake(&self) {
        let _ = self.waker.send_to(&[], self.wake_to);
    }

    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake();
    }
}

struct Peer {
    session: u64,
    rtc: Rtc,
    switches: Arc<Switches>,
    inbound: Inbound,
    last_keyframe_request: Option<Instant>,
    keyframe_requests: u64,
    /// The video's NACKs sent so far and when counted (for their rate).
    video_nacks: Option<(Instant, u64)>,
    /// The last receiver-report loss of the video and of the audio (each comes in its own
    /// stats event; the line shows the worse).
    loss: [Option<f32>; 2],
    connected: bool,
    /// Where the return feed goes: the m-lines we may send on, their payload types, and the
    /// video's codec (VP8 where the guest takes it, else H.264).
    video_out: Option<(Mid, Pt, VideoCodec)>,
    audio_out: Option<(Mid, Pt)>,
    /// The send-side bandwidth estimate towards this guest, kbit/s.
    estimate_kbps: Option<u32>,
}

pub(super) fn spawn(
    socket: UdpSocket,
    shared: Arc<Shared>,
) -> std::io::Result<(Handle, JoinHandle<()>)> {
    let local = socket.local_addr()?;
    let wake_to = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), local.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), local.port())
        }
        _ => local,
    };
    let (tx, rx) = crossbeam_channel::bounded(16);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Handle {
        new: tx,
        stop: stop.clone(),
        waker: socket.try_clone()?,
        wake_to,
    };
    let thread = std::thread::Builder::new()
        .name("costream-udp".into())
        .spawn(move || run(socket, rx, stop, shared))?;
    Ok((handle, thread))
}

fn run(socket: UdpSocket, new: Receiver<NewPeer>, stop: Arc<AtomicBool>, shared: Arc<Shared>) {
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut peers: Vec<Peer> = Vec::new();
    let mut arrivals = crate::net::Arrivals::new(local);
    let mut outbound = Outbound::start(&shared.feeds);
    let mut buf = vec![0u8; 2000];
    // The server's name is resolved off this thread: a slow resolver must not hold up guests.
    let (stun_tx, stun_rx) = crossbeam_channel::bounded(1);
    if let Some(url) = shared.cfg.stun.clone() {
        let _ = std::thread::Builder::new()
            .name("costream-stun-dns".into())
            .spawn(move || {
                if let Some(s) = stun_client(&url, local) {
                    let _ = stun_tx.send(s);
                }
            });
    }
    let mut stun: Option<Stun> = None;
    while !stop.load(Ordering::Relaxed) {
        if stun.is_none()
            && let Ok(s) = stun_rx.try_recv()
        {
            stun = Some(s);
        }
        while let Ok(p) = new.try_recv() {
            let feed = shared.feeds.get(&format!("guest{}", p.slot));
            feed.clear();
            peers.push(Peer {
                session: p.session,
                inbound: inbound::spawn(
                    feed,
                    p.switches.clone(),
                    p.session,
                    outbound.voices.clone(),
                ),
                rtc: p.rtc,
                switches: p.switches,
                last_keyframe_request: None,
                keyframe_requests: 0,
                video_nacks: None,
                loss: [None, None],
                connected: false,
                video_out: None,
                audio_out: None,
                estimate_kbps: None,
            });
        }
        send_return(&mut peers, &outbound);
        for p in &mut peers {
            if p.switches.drop.load(Ordering::Relaxed) && p.rtc.is_alive() {
                p.rtc.disconnect();
            }
        }
        let mut wait = Instant::now() + MAX_WAIT;
        for p in &mut peers {
            if let Some(t) = drive(p, &socket, &shared, &outbound) {
                wait = wait.min(t);
            }
        }
        peers.retain(|p| {
            let alive = p.rtc.is_alive();
            if !alive {
                shared.disconnected(p.session);
                outbound.voices.forget(p.session);
            }
            alive
        });
        *outbound.listeners.lock().expect("listeners") = peers
            .iter()
            .filter(|p| p.connected && p.audio_out.is_some())
            .map(|p| p.session)
            .collect();
        let mut codecs: Vec<VideoCodec> = Vec::new();
        for p in peers.iter().filter(|p| p.connected) {
            if let Some((_, _, c)) = p.video_out
                && !codecs.contains(&c)
            {
                codecs.push(c);
            }
        }
        shared.feeds.set_program_wanted(!codecs.is_empty());
        outbound.use_codecs(&codecs);
        let now = Instant::now();
        for codec in codecs {
            let weakest = (peers.iter())
                .filter(|p| p.video_out.is_some_and(|v| v.2 == codec))
                .filter_map(|p| p.estimate_kbps)
                .min();
            if let Some(weakest) = weakest {
                outbound.set_bitrate(codec, weakest);
            }
            // The one encode waits for the guest the network holds back most.
            let queued = (peers.iter_mut())
                .filter_map(|p| match p.video_out {
                    Some((mid, _, c)) if c == codec => {
                        Some(crate::guest::pipes::video_queued(&mut p.rtc, mid, now))
                    }
                    _ => None,
                })
                .max()
                .unwrap_or_default();
            outbound.follow_queue(codec, queued);
        }
        if let Some(s) = &mut stun {
            s.transmit(&socket, &shared);
            wait = wait.min(s.binding.poll_timeout());
        }
        let timeout = wait
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let _ = socket.set_read_timeout(Some(timeout));
        buf.resize(2000, 0);
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                let stun_answer = stun
                    .as_mut()
                    .is_some_and(|s| s.handle(source, &buf[..n], &shared));
                if !stun_answer && let Ok(contents) = buf[..n].try_into() {
                    let input = Input::Receive(
                        Instant::now(),
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: arrivals.destination(source),
                            contents,
                        },
                    );
                    if let Some(p) = peers.iter_mut().find(|p| p.rtc.accepts(&input))
                        && let Err(e) = p.rtc.handle_input(input)
                    {
                        tracing::debug!("guest session {}: {e}", p.session);
                        p.rtc.disconnect();
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                // ICMP port unreachable from a guest who left arrives as an error here on
                // Linux: not the socket's end.
                tracing::debug!("co-stream socket: {e}");
            }
        }
        let now = Instant::now();
        for p in &mut peers {
            if p.rtc.handle_input(Input::Timeout(now)).is_err() {
                p.rtc.disconnect();
            }
        }
    }
    for p in &mut peers {
        p.rtc.disconnect();
        shared.disconnected(p.session);
    }
}

/// Runs one guest's `Rtc` until it waits; returns when it wants to be woken.
fn drive(p: &mut Peer, socket: &UdpSocket, shared: &Shared, ret: &Outbound) -> Option<Instant> {
    loop {
        if !p.rtc.is_alive() {
            return None;
        }
        let out = match p.rtc.poll_output() {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!("guest session {}: {e}", p.session);
                p.rtc.disconnect();
                return None;
            }
        };
        match out {
            Output::Timeout(t) => return Some(t),
            Output::Transmit(t) => {
                let _ = socket.send_to(&t.contents, t.destination);
            }
            Output::Event(e) => event(p, e, shared, ret),
        }
    }
}

fn event(p: &mut Peer, e: Event, shared: &Shared, out: &Outbound) {
    match e {
        Event::Connected => {
            p.connected = true;
            shared.connected(p.session);
            out.request_keyframe(p.video_out.map(|v| v.2));
        }
        Event::MediaAdded(m)
            if matches!(m.direction, Direction::SendRecv | Direction::SendOnly) =>
        {
            let mut pt_of = |codec| crate::media::payload_type(&mut p.rtc, m.mid, codec);
            match m.kind {
                MediaKind::Video => {
                    p.video_out = (pt_of(Codec::Vp8).map(|pt| (m.mid, pt, VideoCodec::Vp8)))
                        .or_else(|| pt_of(Codec::H264).map(|pt| (m.mid, pt, VideoCodec::H264)));
                }
                MediaKind::Audio => p.audio_out = pt_of(Codec::Opus).map(|pt| (m.mid, pt)),
            }
        }
        Event::KeyframeRequest(_) => out.request_keyframe(p.video_out.map(|v| v.2)),
        Event::EgressBitrateEstimate(
            BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. },
        ) => {
            p.estimate_kbps = Some((estimate.as_u64() / 1000).min(u32::MAX as u64) as u32);
        }
        Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
            p.rtc.disconnect();
        }
        Event::MediaData(d) => {
            let needs_key = p.inbound.media(d);
            if needs_key {
                request_keyframe(p);
            }
        }
        // The loss shown is the receiver reports' (below), not TWCC's: one measure for every
        // guest, whether or not it negotiated TWCC.
        Event::PeerStats(s) => shared.update_quality(p.session, |q| {
            q.rtt_ms = s.rtt.map(|d| d.as_millis().min(u32::MAX as u128) as u32);
        }),
        Event::MediaIngressStats(s) => {
            let c = p.inbound.counters();
            let plis = p.keyframe_requests;
            let video = Some(s.mid) == p.inbound.video_mid();
            let nacks_per_s = video
                .then(|| nack_rate(&mut p.video_nacks, s.timestamp, s.nacks))
                .flatten();
            if s.loss.is_some() {
                p.loss[usize::from(!video)] = s.loss;
            }
            let loss = p.loss.iter().flatten().copied().reduce(f32::max);
            shared.update_quality(p.session, |q| {
                q.keyframe_requests = plis;
                if nacks_per_s.is_some() {
                    q.nacks_per_s = nacks_per_s;
                }
                if let Some(l) = loss {
                    q.loss_pct = Some(l * 100.0);
                }
                q.in_kbps = c.kbps();
                q.frames = c.frames();
                q.decode_errors = c.errors();
                q.dropped = c.dropped();
                q.latency_ms = super::state::latency_ms(c.path_ms(), q.rtt_ms);
            });
        }
        _ => {}
    }
    if p.inbound.take_keyframe_wish() {
        request_keyframe(p);
    }
}

/// Writes the return feed waiting in `out` to every connected guest that takes it.
fn send_return(peers: &mut [Peer], out: &Outbound) {
    let now = Instant::now();
    for (codec, pic) in out.pictures() {
        let rtp = MediaTime::new(pic.captured.as_millis() as u64 * 90, Frequency::NINETY_KHZ);
        let data: Arc<[u8]> = pic.frame.data.into();
        for p in peers.iter_mut().filter(|p| p.connected) {
            if let Some((mid, pt, c)) = p.video_out
                && c == codec
                && let Some(w) = p.rtc.writer(mid)
            {
                let _ = w.write(pt, now, rtp, data.clone());
            }
        }
    }
    for a in out.audio.try_iter() {
        let Some(p) = peers
            .iter_mut()
            .find(|p| p.session == a.session && p.connected)
        else {
            continue;
        };
        if let Some((mid, pt)) = p.audio_out
            && let Some(w) = p.rtc.writer(mid)
        {
            let rtp = MediaTime::new(a.pos, Frequency::FORTY_EIGHT_KHZ);
            let _ = w.write(pt, now, rtp, a.packet);
        }
    }
}

/// The STUN client on the endpoint's socket, and the local address its requests leave from.
struct Stun {
    binding: crate::stun::Binding,
    base: SocketAddr,
}

/// A client for `url` (resolved once, to an address of the socket's family), or `None` with a
/// warning when the name does not resolve.
fn stun_client(url: &crate::stun::StunUrl, local: SocketAddr) -> Option<Stun> {
    use std::net::ToSocketAddrs;
    let server = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(|a| a.is_ipv4() == local.is_ipv4()));
    let Some(server) = server else {
        tracing::warn!(
            "co-stream: the STUN server {url} does not resolve; guests get host candidates only"
        );
        return None;
    };
    let base_ip = if local.ip().is_unspecified() {
        crate::net::route_to(server.ip())?
    } else {
        local.ip()
    };
    Some(Stun {
        binding: crate::stun::Binding::new(server, Instant::now()),
        base: SocketAddr::new(base_ip, local.port()),
    })
}

impl Stun {
    fn transmit(&mut self, socket: &UdpSocket, shared: &Shared) {
        let lost = self.binding.lost();
        while let Some(req) = self.binding.poll_transmit(Instant::now(), || {
            let mut t = [0u8; 12];
            getrandom::fill(&mut t).expect("the OS random number generator");
            t
        }) {
            let _ = socket.send_to(&req, self.binding.server());
        }
        if self.binding.lost() > lost {
            *shared.reflexive.lock().expect("reflexive") = None;
            tracing::warn!(
                "co-stream: the STUN server {} did not answer; guests get host candidates only until it does",
                self.binding.server()
            );
        }
    }

    /// Whether the datagram was the STUN server's answer (then it is not a guest's).
    fn handle(&mut self, source: SocketAddr, data: &[u8], shared: &Shared) -> bool {
        let before = self.binding.mapped();
        if !self.binding.handle(Instant::now(), source, data) {
            return false;
        }
        let now = self.binding.mapped();
        if now != before {
            if let Some(m) = now {
                tracing::info!(
                    "co-stream: guests reach this host at {m} beyond its NAT (STUN {})",
                    self.binding.server()
                );
            }
            *shared.reflexive.lock().expect("reflexive") = now.map(|mapped| Reflexive {
                mapped,
                base: self.base,
            });
        }
        true
    }
}

/// NACKs sent per second since the last count (`last`, updated), None for the first.
fn nack_rate(last: &mut Option<(Instant, u64)>, at: Instant, nacks: u64) -> Option<f32> {
    let rate = last.and_then(|(t, n)| {
        let dt = at.checked_duration_since(t)?.as_secs_f32();
        (dt > 0.0).then(|| nacks.saturating_sub(n) as f32 / dt)
    });
    *last = Some((at, nacks));
    rate
}

fn request_keyframe(p: &mut Peer) {
    if p.last_keyframe_request
        .is_some_and(|t| t.elapsed() < KEYFRAME_EVERY)
    {
        return;
    }
    let Some(mid) = p.inbound.video_mid() else {
        return;
    };
    if let Some(mut w) = p.rtc.writer(mid)
        && w.request_keyframe(None, KeyframeRequestKind::Pli).is_ok()
    {
        p.last_keyframe_request = Some(Instant::now());
        p.keyframe_requests += 1;
    }
}
