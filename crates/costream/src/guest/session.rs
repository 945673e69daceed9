//! One call: the offer (sendrecv video and audio, host candidates of one UDP socket, no
//! trickle), the answer, then str0m's sans-IO loop on that socket — sources encoded out, the
//! return feed decoded into files, keyframes on request, the send bitrate from the bandwidth
//! estimate — while a thread polls the host for the guest's state.

use super::files::{WavWriter, Y4mWriter};
use super::http::Tls;
use super::pipes::{DecoderPipe, EncoderPipe};
use super::relay::Relay;
use super::sources::{self, Blocks};
use super::types::{
    EndReason, GuestError, GuestOptions, GuestState, Progress, StateReport, Summary,
};
use super::whip::{self, Answer, Link};
use crate::media::{AudioDecoder, AudioEncoder, VideoCodec, VideoEncoder};
use crate::turn::Handled;
use crossbeam_channel::Receiver;
use marquee_capture::{AudioBlock, SessionClock, VideoFrame};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, KeyframeRequestKind, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// How long ICE and DTLS may take before the guest gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a lost connection may stay lost.
const RECONNECT_GRACE: Duration = Duration::from_secs(10);
/// The longest the loop waits on the socket, so captured media goes out promptly.
const MAX_WAIT: Duration = Duration::from_millis(5);
/// The shortest (a zero read timeout means "block forever" to the OS).
const MIN_WAIT: Duration = Duration::from_micros(100);
const AUDIO_KBPS: u32 = 64;
/// Sound due this long ago is stale and not sent (five 20 ms packets: a held-up turn of the
/// loop on a busy machine still sends everything).
const STALE_AUDIO: Duration = Duration::from_millis(100);
const STATE_POLL: Duration = Duration::from_secs(1);

fn rtc_err(e: impl std::fmt::Display) -> GuestError {
    GuestError::Rtc(e.to_string())
}

/// The address the guest's socket binds to and offers as its host candidate: the one that
/// routes to the host (loopback when the host is on loopback: str0m accepts loopback
/// candidates). One bound address means every datagram's local address is known exactly,
/// which str0m needs to match ICE checks to their pair; a socket on all addresses cannot tell
/// a packet for 10.x from one for 127.0.0.1 without per-packet ancillary data.
fn local_ip(host: IpAddr) -> Option<IpAddr> {
    if host.is_loopback() {
        Some(host)
    } else {
        crate::net::route_to(host).filter(|ip| !ip.is_loopback())
    }
}

/// The first relay the host names in the invite's info that gives an address (as a browser
/// guest is given them): a fallback for a network that lets nothing else through, so one out
/// of reach is said and the guest joins without it. An info the host refuses is left for the
/// offer to report.
fn host_relay(
    socket: &UdpSocket,
    tls: &Tls,
    link: &Link,
    progress: &mut impl FnMut(Progress),
) -> Option<Relay> {
    let relays = whip::host_relays(tls, link)
        .inspect_err(|e| tracing::debug!("the invite's info: {e}"))
        .ok()?;
    for t in relays {
        let outcome = Relay::allocate(socket, &t, tls, Relay::HOST_NAMED_WITHIN);
        progress(Progress::Relay {
            url: t.url.clone(),
            by_host: true,
            outcome: outcome.as_ref().map(|r| r.addr).map_err(Clone::clone),
        });
        if let Ok(r) = outcome {
            return Some(r);
        }
    }
    None
}

/// Runs the whole call (see [`super::join`]).
pub fn run(
    opts: &GuestOptions,
    link: &Link,
    stop: Arc<AtomicBool>,
    mut progress: impl FnMut(Progress),
) -> Result<(EndReason, Summary), GuestError> {
    str0m::crypto::from_feature_flags().install_process_default();
    let (w, h, fps) = (opts.width, opts.height, opts.fps.clamp(1, 60));
    // Open everything local first: a missing camera or a bad path fails before the host sees us.
    let clock = SessionClock::start();
    let epoch = Instant::now();
    let (video_src, video_rx) = sources::open_video(&opts.video, w, h, fps, &clock)?;
    let audio = sources::open_audio(&opts.audio, &clock)?;
    let wav = opts
        .return_audio
        .as_deref()
        .map(WavWriter::create)
        .transpose()?;
    let y4m = opts
        .return_video
        .as_deref()
        .map(|p| Y4mWriter::create(p, 30))
        .transpose()?;

    let network = |e: String| GuestError::Network {
        host: link.url.authority(),
        reason: e,
    };
    let tls = match &opts.ca_file {
        Some(p) => {
            let pem = std::fs::read(p).map_err(|e| {
                GuestError::BadLink(format!("cannot read the CA file {}: {e}", p.display()))
            })?;
            Tls::new(Some(&pem))
        }
        None if link.url.tls => Tls::new(None),
        None => Ok(Tls::default()),
    }
    .map_err(GuestError::BadLink)?;
    let host_ip = link.url.resolve().map_err(network)?[0].ip();
    let ip =
        local_ip(host_ip).ok_or_else(|| network("no local address routes to the host".into()))?;
    let socket = UdpSocket::bind((ip, 0)).map_err(|e| network(format!("no UDP socket: {e}")))?;
    let local = socket.local_addr().map_err(|e| network(e.to_string()))?;
    let mut relay = match &opts.turn {
        Some(t) => {
            let r = Relay::allocate(&socket, t, &tls, Relay::ASKED_WITHIN).map_err(network)?;
            progress(Progress::Relay {
                url: t.url.clone(),
                by_host: false,
                outcome: Ok(r.addr),
            });
            Some(r)
        }
        None => host_relay(&socket, &tls, link, &mut progress),
    };

    let video_kbps = (w * h * fps / 8000).clamp(300, 2500);
    let mut config = RtcConfig::new().clear_codecs().enable_opus(true, false);
    config = match opts.codec {
        VideoCodec::Vp8 => config.enable_vp8(true),
        VideoCodec::H264 => config.enable_h264(true),
    };
    let mut rtc = config
        .enable_bwe(Some(Bitrate::kbps((video_kbps + AUDIO_KBPS) as u64)))
        .build(Instant::now());
    if opts.turn.as_ref().is_none_or(|t| !t.relay_only) {
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(rtc_err)?);
    }
    if let Some(r) = &relay {
        rtc.add_local_candidate(Candidate::relayed(r.addr, local, "udp").map_err(rtc_err)?);
    }
    let mut api = rtc.sdp_api();
    let stream = Some("marquee-guest".to_string());
    let (direction, how) = if opts.send_only {
        (Direction::SendOnly, whip::Offer::Bearer)
    } else {
        let name = opts.name.as_deref();
        (Direction::SendRecv, whip::Offer::Link { name })
    };
    let vmid = api.add_media(
        MediaKind::Video,
        direction,
        stream.clone(),
        Some("video".into()),
        None,
    );
    let amid = api.add_media(
        MediaKind::Audio,
        direction,
        stream,
        Some("audio".into()),
        None,
    );
    let (offer, pending) = api.apply().ok_or_else(|| rtc_err("no offer to make"))?;
    let answer = whip::post_offer(&tls, link, how, &offer.to_sdp_string())?;
    progress(Progress::Signalled {
        location: answer.location.to_string_url(),
    });
    if let Some(r) = &mut relay {
        r.permit_answer(&answer.sdp);
        r.tick(&socket);
    }

    let mut call = Call {
        tls: tls.clone(),
        rtc,
        socket,
        local,
        relay,
        vmid,
        amid,
        codec: opts.codec,
        w,
        h,
        fps,
        video_kbps,
        epoch,
        video_rx: Some(video_rx),
        audio_rx: audio.as_ref().map(|(_, rx)| rx.clone()),
        blocks: Blocks::default(),
        enc: None,
        reported_kbps: video_kbps,
        audio_enc: None,
        video_pt: None,
        audio_pt: None,
        dec: DecoderPipe::spawn(y4m),
        audio_dec: None,
        last_pli: None,
        wav,
        summary: Summary::default(),
    };
    let result = call.run(&answer, pending, opts.duration, &stop, &mut progress);
    // Leave whatever happened, so the slot is free at once.
    let _ = whip::leave(&tls, &answer.location);
    drop((video_src, audio));
    let finished = call.finish();
    let summary = call.summary.clone();
    let reason = result?;
    finished?;
    Ok((reason, summary))
}

struct Call {
    tls: Tls,
    rtc: Rtc,
    socket: UdpSocket,
    /// The socket's address: where every datagram arrives.
    local: SocketAddr,
    /// The TURN relay, when the guest was given one: what str0m sends from its address goes
    /// through the server, and the server's Data indications are the peers' datagrams.
    relay: Option<Relay>,
    vmid: Mid,
    amid: Mid,
    codec: VideoCodec,
    w: u32,
    h: u32,
    fps: u32,
    video_kbps: u32,
    epoch: Instant,
    /// Until connected; then the encoder pipe takes it.
    video_rx: Option<Receiver<VideoFrame>>,
    audio_rx: Option<Receiver<AudioBlock>>,
    blocks: Blocks,
    enc: Option<EncoderPipe>,
    /// The bitrate last reported as progress.
    reported_kbps: u32,
    audio_enc: Option<AudioEncoder>,
    video_pt: Option<Pt>,
    audio_pt: Option<Pt>,
    /// Session time of the first audio sample sent.
    dec: DecoderPipe,
    audio_dec: Option<AudioDecoder>,
    last_pli: Option<Instant>,
    wav: Option<WavWriter>,
    summary: Summary,
}

/// Why the inner loop stopped polling.
enum Step {
    Continue,
    End(EndReason),
}

impl Call {
    fn run(
        &mut self,
        answer: &Answer,
        pending: str0m::change::SdpPendingOffer,
        duration: Option<Duration>,
        stop: &AtomicBool,
        progress: &mut impl FnMut(Progress),
    ) -> Result<EndReason, GuestError> {
        accept_answer(&mut self.rtc, pending, &answer.sdp)?;
        let quit = Arc::new(AtomicBool::new(false));
        let states = spawn_state_poll(self.tls.clone(), answer.location.clone(), quit.clone());
        let _quit = QuitOnDrop(quit);
        let start = Instant::now();
        let mut connected: Option<bool> = None;
        let mut lost_since: Option<Instant> = None;
        let mut last_state: Option<StateReport> = None;
        let mut buf = vec![0u8; 2000];
        loop {
            let now = Instant::now();
            if stop.load(Ordering::Relaxed) {
                return Ok(EndReason::Stopped);
            }
            if duration.is_some_and(|d| now >= start + d) {
                return Ok(EndReason::Duration);
            }
            while let Ok(s) = states.try_recv() {
                let end = end_of(s.state);
                if last_state.as_ref() != Some(&s) {
                    progress(Progress::State(s.clone()));
                    last_state = Some(s);
                }
                if let Some(r) = end {
                    return Ok(r);
                }
            }
            match connected {
                None if now >= start + CONNECT_TIMEOUT => {
                    return Err(GuestError::NoConnection(CONNECT_TIMEOUT));
                }
                Some(false) if lost_since.is_some_and(|t| now >= t + RECONNECT_GRACE) => {
                    return Err(GuestError::Disconnected);
                }
                _ => {}
            }
            if connected == Some(true) {
                self.send_media(now)?;
            }
            if self.dec.broken.swap(false, Ordering::Relaxed) {
                self.request_keyframe();
            }
            if let Some(r) = &mut self.relay {
                r.tick(&self.socket);
            }
            // Drain str0m until it wants input or time.
            let deadline = loop {
                match self.rtc.poll_output().map_err(rtc_err)? {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => match &self.relay {
                        Some(r) if t.source == r.addr => {
                            r.send(&self.socket, t.destination, &t.contents)
                        }
                        _ => {
                            let _ = self.socket.send_to(&t.contents, t.destination);
                        }
                    },
                    Output::Event(e) => {
                        if let Step::End(r) =
                            self.event(e, &mut connected, &mut lost_since, progress)?
                        {
                            // The host hung up: its state says why, if it still answers.
                            if let Ok(s) = whip::get_state(&self.tls, &answer.location)
                                && let Some(r) = end_of(s.state)
                            {
                                progress(Progress::State(s));
                                return Ok(r);
                            }
                            return Ok(r);
                        }
                    }
                }
            };
            let now = Instant::now();
            // Always read the socket, even when str0m's timer is already due: with the pacer
            // busy it is due on nearly every turn, and skipping the read would leave everything
            // the host sends (return feed, ICE consent answers) unread. A due timer is served
            // after the read either way.
            let wait = deadline
                .saturating_duration_since(now)
                .clamp(MIN_WAIT, MAX_WAIT);
            let _ = self.socket.set_read_timeout(Some(wait));
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let relay_addr = self.relay.as_ref().map(|r| r.addr);
                    let (source, destination, data) =
                        match self.relay.as_mut().map(|r| r.handle(from, &buf[..n])) {
                            Some(Handled::Consumed) => continue,
                            Some(Handled::Data { peer, data }) => {
                                (peer, relay_addr.unwrap_or(self.local), data)
                            }
                            _ => (from, self.local, &buf[..n]),
                        };
                    let Ok(contents) = data.try_into() else {
                        continue;
                    };
                    let input = Input::Receive(
                        Instant::now(),
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination,
                            contents,
                        },
                    );
                    // A packet str0m refuses is dropped, not fatal: it came from the network.
                    let _ = self.rtc.handle_input(input);
                    let now = Instant::now();
                    if deadline <= now {
                        self.rtc
                            .handle_input(Input::Timeout(now))
                            .map_err(rtc_err)?;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.rtc
                        .handle_input(Input::Timeout(Instant::now()))
                        .map_err(rtc_err)?;
                }
                // ICMP unreachable and the like show up as errors on the next receive.
                Err(_) => {
                    self.rtc
                        .handle_input(Input::Timeout(Instant::now()))
                        .map_err(rtc_err)?;
                }
            }
        }
    }

    fn event(
        &mut self,
        e: Event,
        connected: &mut Option<bool>,
        lost_since: &mut Option<Instant>,
        progress: &mut impl FnMut(Progress),
    ) -> Result<Step, GuestError> {
        match e {
            Event::Connected => {
                *connected = Some(true);
                *lost_since = None;
                self.on_connected()?;
                progress(Progress::Connected);
            }
            Event::IceConnectionStateChange(s) => match s {
                IceConnectionState::Disconnected if connected.is_some() => {
                    *connected = Some(false);
                    lost_since.get_or_insert_with(Instant::now);
                }
                IceConnectionState::Connected | IceConnectionState::Completed
                    if *connected == Some(false) =>
                {
                    *connected = Some(true);
                    *lost_since = None;
                    if let Some(enc) = &self.enc {
                        enc.keyframe.store(true, Ordering::Relaxed);
                    }
                }
                _ => {}
            },
            Event::MediaData(d) => self.receive(d),
            Event::KeyframeRequest(r) if r.mid == self.vmid => {
                if let Some(enc) = &self.enc {
                    enc.keyframe.store(true, Ordering::Relaxed);
                }
                self.summary.keyframes_requested += 1;
            }
            Event::EgressBitrateEstimate(
                BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. },
            ) => {
                let total = (estimate.as_u64() / 1000) as u32;
                let kbps = (total * 9 / 10)
                    .saturating_sub(AUDIO_KBPS)
                    .clamp(self.min_kbps(), self.video_kbps * 2);
                if let Some(enc) = &self.enc {
                    enc.kbps.store(kbps, Ordering::Relaxed);
                    let old = self.reported_kbps;
                    if kbps.abs_diff(old) * 10 > old {
                        self.reported_kbps = kbps;
                        progress(Progress::Bitrate(kbps));
                    }
                }
            }
            Event::Closed => return Ok(Step::End(EndReason::ShowEnded)),
            _ => {}
        }
        Ok(Step::Continue)
    }

    /// The least the video is encoded at, whatever the estimate (a picture below it is mush;
    /// when even this is more than the path takes, pictures are thinned out:
    /// [`EncoderPipe::follow_queue`]).
    fn min_kbps(&self) -> u32 {
        (self.video_kbps * 15 / 100).max(100)
    }

    fn on_connected(&mut self) -> Result<(), GuestError> {
        let Some(frames) = self.video_rx.take() else {
            return Ok(());
        };
        let want = match self.codec {
            VideoCodec::Vp8 => Codec::Vp8,
            VideoCodec::H264 => Codec::H264,
        };
        self.video_pt = crate::media::payload_type(&mut self.rtc, self.vmid, want);
        if self.video_pt.is_none() {
            return Err(GuestError::BadAnswer(format!(
                "the host does not take {} video from this guest",
                self.codec
            )));
        }
        self.audio_pt = crate::media::payload_type(&mut self.rtc, self.amid, Codec::Opus);
        let enc = VideoEncoder::new(self.codec, self.w, self.h, self.fps, self.video_kbps)?;
        self.enc = Some(EncoderPipe::spawn(enc, frames, self.w, self.h));
        if self.audio_rx.is_some() && self.audio_pt.is_some() {
            self.audio_enc = Some(AudioEncoder::new(AUDIO_KBPS)?);
        }
        self.rtc.bwe().set_bitrate(
            Bitrate::kbps(100),
            Bitrate::kbps((self.video_kbps * 2 + AUDIO_KBPS) as u64),
        );
        Ok(())
    }

    /// Encodes and writes what the sources have produced since the last turn.
    fn send_media(&mut self, now: Instant) -> Result<(), GuestError> {
        let queued = super::pipes::video_queued(&mut self.rtc, self.vmid, now);
        if let Some(enc) = &self.enc {
            enc.follow_queue("the video", queued);
        }
        if let (Some(enc), Some(pt)) = (self.enc.as_ref(), self.video_pt) {
            for e in enc.out.try_iter() {
                let Some(w) = self.rtc.writer(self.vmid) else {
                    break;
                };
                let rtp = MediaTime::new(e.captured.as_millis() as u64 * 90, Frequency::NINETY_KHZ);
                // str0m's sender reports map RTP time to the wall clock through the last
                // write, and a wall-clock time still ahead (the test card stamps its pictures
                // 40 ms early) makes them say RTP time 0: the host's lip sync needs them right.
                w.write(pt, (self.epoch + e.captured).min(now), rtp, e.frame.data)
                    .map_err(rtc_err)?;
                self.summary.video_frames_sent += 1;
            }
        }
        if let (Some(rx), Some(enc), Some(pt)) = (
            self.audio_rx.as_ref(),
            self.audio_enc.as_mut(),
            self.audio_pt,
        ) {
            for b in rx.try_iter() {
                self.blocks.push(&b);
            }
            // A source may make its sound ahead of time (the test tone, 200 ms): each block
            // leaves when due, as a microphone's would, so the voice meets the picture made at
            // the same moment; its RTP time is when it was captured, on the clock the pictures'
            // RTP times use. Sound already stale when due is not sent: the host could only play
            // it late or drop it, and the backlog gathered before the call opened, sent as one
            // burst, kept the voice out of step with its picture for the call's first seconds
            // (the host then dropped ~0.3 s of it to catch up).
            let fresh_from = now
                .saturating_duration_since(self.epoch)
                .saturating_sub(STALE_AUDIO);
            self.summary.audio_blocks_stale += self.blocks.drop_before(fresh_from);
            while let Some(at) = self.blocks.next_at().filter(|at| self.epoch + *at <= now) {
                let Some(block) = self.blocks.next_block() else {
                    break;
                };
                let packet = enc.encode(&block)?;
                let rtp = MediaTime::new(
                    at.as_micros() as u64 * 48 / 1000,
                    Frequency::FORTY_EIGHT_KHZ,
                );
                let Some(w) = self.rtc.writer(self.amid) else {
                    break;
                };
                w.write(pt, self.epoch + at, rtp, packet).map_err(rtc_err)?;
                self.summary.audio_packets_sent += 1;
            }
        }
        Ok(())
    }

    /// The return feed: decoded and written to the files asked for.
    fn receive(&mut self, d: str0m::media::MediaData) {
        if d.mid == self.vmid {
            let codec = match d.params.spec().codec {
                Codec::Vp8 => VideoCodec::Vp8,
                Codec::H264 => VideoCodec::H264,
                _ => return,
            };
            self.summary.video_frames_received += 1;
            // A frame went missing before this one: the picture is damaged until a keyframe.
            if !d.contiguous {
                self.request_keyframe();
            }
            self.dec.push(codec, d.data);
        } else if d.mid == self.amid {
            if d.params.spec().codec != Codec::Opus {
                return;
            }
            let dec = match self.audio_dec.as_mut() {
                Some(d) => d,
                None => match AudioDecoder::new() {
                    Ok(a) => self.audio_dec.insert(a),
                    Err(_) => return,
                },
            };
            self.summary.audio_packets_received += 1;
            let mut pcm = Vec::new();
            if !d.contiguous {
                pcm.extend(dec.conceal());
            }
            match dec.decode(&d.data) {
                Ok(p) => pcm.extend(p),
                Err(_) => {
                    self.summary.decode_errors += 1;
                    pcm.extend(dec.conceal());
                }
            }
            if let Some(w) = self.wav.as_mut()
                && w.write(&pcm).is_err()
            {
                self.wav = None;
            }
        }
    }

    /// Asks the host for a keyframe, at most once a second.
    fn request_keyframe(&mut self) {
        if self
            .last_pli
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_pli = Some(Instant::now());
        if let Some(mut w) = self.rtc.writer(self.vmid) {
            let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
        }
    }

    fn finish(&mut self) -> Result<(), GuestError> {
        if let Some(enc) = self.enc.take() {
            self.summary.video_frames_left_out = enc.left_out.load(Ordering::Relaxed);
        }
        let y4m = self.dec.finish();
        self.summary.decode_errors += self.dec.errors.load(Ordering::Relaxed);
        if let Some(w) = self.wav.take() {
            w.finish()?;
        }
        if let Some(y) = y4m {
            y.finish()?;
        }
        Ok(())
    }
}

/// Applies the host's SDP answer (network input: any failure is an error, never a panic).
fn accept_answer(
    rtc: &mut Rtc,
    pending: str0m::change::SdpPendingOffer,
    sdp: &str,
) -> Result<(), GuestError> {
    let sdp = SdpAnswer::from_sdp_string(sdp)
        .map_err(|e| GuestError::BadAnswer(format!("the SDP answer does not parse: {e}")))?;
    crate::net::guard_sdp(|| rtc.sdp_api().accept_answer(pending, sdp))
        .map_err(GuestError::BadAnswer)?
        .map_err(|e| GuestError::BadAnswer(format!("the SDP answer is not usable: {e}")))
}

fn end_of(s: GuestState) -> Option<EndReason> {
    match s {
        GuestState::Declined => Some(EndReason::Declined),
        GuestState::Removed => Some(EndReason::Removed),
        GuestState::Ended => Some(EndReason::ShowEnded),
        _ => None,
    }
}

/// Polls the guest's state about once a second on its own thread (an HTTP request must not
/// hold up the media loop); it ends when the receiver is dropped.
fn spawn_state_poll(
    tls: Tls,
    location: super::http::Url,
    quit: Arc<AtomicBool>,
) -> Receiver<StateReport> {
    let (tx, rx) = crossbeam_channel::bounded(8);
    let _ = std::thread::Builder::new()
        .name("guest-state".into())
        .spawn(move || {
            while !quit.load(Ordering::Relaxed) {
                let t = Instant::now();
                if let Ok(s) = whip::get_state(&tls, &location) {
                    let _ = tx.try_send(s);
                }
                // The poll's period, not a wait for an event: the host has no push channel.
                std::thread::sleep(STATE_POLL.saturating_sub(t.elapsed()));
            }
        });
    rx
}

/// Stops the state poll when the call ends, however it ends.
struct QuitOnDrop(Arc<AtomicBool>);

impl Drop for QuitOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest offer like the real one, and a host that answers it.
    fn guest_offer() -> (Rtc, str0m::change::SdpPendingOffer, String) {
        str0m::crypto::from_feature_flags().install_process_default();
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .build(Instant::now());
        let c = Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap();
        rtc.add_local_candidate(c);
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
        api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().unwrap();
        (rtc, pending, offer.to_sdp_string())
    }

    fn answer_to(offer: &str) -> String {
        let mut host = RtcConfig::new().build(Instant::now());
        let c = Candidate::host("127.0.0.1:5001".parse().unwrap(), "udp").unwrap();
        host.add_local_candidate(c);
        let offer = str0m::change::SdpOffer::from_sdp_string(offer).unwrap();
        host.sdp_api().accept_offer(offer).unwrap().to_sdp_string()
    }

    #[test]
    fn a_real_answer_is_accepted() {
        let (mut rtc, pending, offer) = guest_offer();
        accept_answer(&mut rtc, pending, &answer_to(&offer)).unwrap();
    }

    #[test]
    fn damaged_answers_are_errors_not_panics() {
        let (_, _, offer) = guest_offer();
        let good = answer_to(&offer);
        let mut x = 0x9e37_79b9_u32;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as usize
        };
        let mut variants = vec![String::new(), "v=0".into(), "\0\0\0".into()];
        for i in (0..good.len()).step_by(good.len() / 60 + 1) {
            variants.push(good[..good.floor_char_boundary(i)].to_string());
        }
        for _ in 0..150 {
            let mut b = good.clone().into_bytes();
            for _ in 0..1 + rand() % 4 {
                let i = rand() % b.len();
                let junk = b" :=/\r\n0123456789abcxyz-";
                b[i] = junk[rand() % junk.len()];
            }
            variants.push(String::from_utf8_lossy(&b).into_owned());
        }
        for v in variants {
            let (mut rtc, pending, _) = guest_offer();
            // Accepted or refused, but never a panic.
            let _ = accept_answer(&mut rtc, pending, &v);
        }
        let (mut rtc, pending, _) = guest_offer();
        let e = accept_answer(&mut rtc, pending, "hello")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SDP answer"), "{e}");
    }
}
