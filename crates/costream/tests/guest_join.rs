//! The native guest against a test-only WHIP answerer: a tiny HTTP server on 127.0.0.1 and a
//! str0m `Rtc` on its own UDP socket, which decodes what the guest sends and sends a return
//! feed back.

#![allow(clippy::unwrap_used)]

use marquee_capture::pattern::read_code;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_costream::guest::{self, EndReason, GuestOptions, Progress};
use marquee_costream::invite::new_token;
use marquee_costream::media::{
    AudioDecoder, AudioEncoder, OPUS_FRAME, RATE, VideoCodec, VideoDecoder, VideoEncoder, i420_len,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, KeyframeRequestKind, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

/// What the test host saw.
#[derive(Default)]
struct Seen {
    /// Why the host's media loop stopped, if it failed.
    failed: Option<String>,
    names: Vec<String>,
    sizes: Vec<(u32, u32)>,
    /// Frame indices read from the synthetic camera's codes.
    codes: Vec<u64>,
    audio: Vec<f32>,
    deleted: bool,
    gets: u32,
    /// Set by the test: the host asks for a keyframe (PLI) at this time.
    pli_at: Option<Instant>,
    /// How long after the request the first keyframe came.
    keyframe_after_pli: Option<Duration>,
}

enum Mode {
    Answer,
    /// Answers, reports `on_air` for this many state polls, then `removed`.
    RemoveAfter(u32),
    Refuse(u16, &'static str),
}

struct TestHost {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    quit: Arc<AtomicBool>,
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
    }
}

impl TestHost {
    fn start(mode: Mode) -> TestHost {
        str0m::crypto::from_feature_flags().install_process_default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let quit = Arc::new(AtomicBool::new(false));
        let (s, q) = (seen.clone(), quit.clone());
        let mode = Arc::new(mode);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if q.load(Ordering::Relaxed) {
                    return;
                }
                let (s, q, mode) = (s.clone(), q.clone(), mode.clone());
                std::thread::spawn(move || serve(conn, &mode, &s, &q));
            }
        });
        TestHost { port, seen, quit }
    }

    fn link(&self) -> String {
        format!("http://127.0.0.1:{}/join/{}", self.port, new_token())
    }
}

/// Reads one request: method, path, body.
fn read_request(conn: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let end = loop {
        let n = conn.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let len: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut b).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&b[..n]);
    }
    Some((method, path, body))
}

fn respond(conn: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(body);
}

fn serve(mut conn: TcpStream, mode: &Mode, seen: &Arc<Mutex<Seen>>, quit: &Arc<AtomicBool>) {
    let Some((method, path, body)) = read_request(&mut conn) else {
        return;
    };
    if let Mode::Refuse(status, code) = mode {
        let body = format!(r#"{{"code":"{code}","message":"refused by the test"}}"#);
        let status = format!("{status} Refused");
        return respond(
            &mut conn,
            &status,
            "Content-Type: application/json\r\n",
            body.as_bytes(),
        );
    }
    let session = "/whip/s1";
    match method.as_str() {
        "POST" => {
            let name = path
                .split_once("name=")
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            seen.lock().unwrap().names.push(name);
            let offer = SdpOffer::from_sdp_string(std::str::from_utf8(&body).unwrap()).unwrap();
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = socket.local_addr().unwrap();
            let mut rtc = RtcConfig::new().build(Instant::now());
            rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
            let answer = rtc.sdp_api().accept_offer(offer).unwrap();
            let (s, q) = (seen.clone(), quit.clone());
            std::thread::spawn(move || media(rtc, socket, &s, &q));
            let location = format!(
                "Location: {}{session}\r\nContent-Type: application/sdp\r\n",
                path.split('?').next().unwrap().trim_end_matches("/whip")
            );
            respond(
                &mut conn,
                "201 Created",
                &location,
                answer.to_sdp_string().as_bytes(),
            );
        }
        "GET" if path.ends_with(session) => {
            let gets = {
                let mut s = seen.lock().unwrap();
                s.gets += 1;
                s.gets
            };
            let body: &[u8] = match mode {
                Mode::RemoveAfter(n) if gets > *n => {
                    br#"{"state":"removed","slot":1,"muted_by_host":false,"message":""}"#
                }
                _ => br#"{"state":"on_air","slot":1,"muted_by_host":false,"message":""}"#,
            };
            respond(
                &mut conn,
                "200 OK",
                "Content-Type: application/json\r\n",
                body,
            );
        }
        "DELETE" if path.ends_with(session) => {
            seen.lock().unwrap().deleted = true;
            quit.store(true, Ordering::Relaxed);
            respond(&mut conn, "200 OK", "", b"");
        }
        _ => respond(&mut conn, "404 Not Found", "", b""),
    }
}

/// The return feed's picture and tone.
const RETURN_W: u32 = 320;
const RETURN_H: u32 = 180;
const RETURN_HZ: f64 = 660.0;

/// The host's side of the call: decode the guest, send a return feed.
fn media(mut rtc: Rtc, socket: UdpSocket, seen: &Arc<Mutex<Seen>>, quit: &AtomicBool) {
    let mut buf = vec![0u8; 2000];
    let mut adec = AudioDecoder::new().unwrap();
    let pictures = spawn_decoder(seen);
    let mut mids: Vec<(Mid, MediaKind)> = Vec::new();
    let mut connected = false;
    let mut pli_sent = false;
    let mut venc: Option<VideoEncoder> = None;
    let mut aenc = AudioEncoder::new(48).unwrap();
    let start = Instant::now();
    let (mut vn, mut an) = (0u64, 0u64);
    while !quit.load(Ordering::Relaxed) {
        let timeout = match rtc.poll_output() {
            Ok(Output::Timeout(t)) => t,
            Ok(Output::Transmit(t)) => {
                let _ = socket.send_to(&t.contents, t.destination);
                continue;
            }
            Ok(Output::Event(e)) => {
                match e {
                    Event::Connected => connected = true,
                    Event::MediaAdded(m) => mids.push((m.mid, m.kind)),
                    Event::MediaData(d) => match d.params.spec().codec {
                        Codec::Opus => match adec.decode(&d.data) {
                            Ok(pcm) => seen.lock().unwrap().audio.extend(pcm),
                            Err(e) => seen.lock().unwrap().failed = Some(e.to_string()),
                        },
                        c @ (Codec::Vp8 | Codec::H264) => {
                            let mut s = seen.lock().unwrap();
                            if let Some(t) = s.pli_at
                                && d.is_keyframe()
                                && s.keyframe_after_pli.is_none()
                            {
                                s.keyframe_after_pli = Some(t.elapsed());
                            }
                            drop(s);
                            let codec = if c == Codec::Vp8 {
                                VideoCodec::Vp8
                            } else {
                                VideoCodec::H264
                            };
                            let _ = pictures.try_send((codec, d.data));
                        }
                        _ => {}
                    },
                    _ => {}
                }
                continue;
            }
            Err(e) => {
                seen.lock().unwrap().failed = Some(e.to_string());
                return;
            }
        };
        if connected && !pli_sent && seen.lock().unwrap().pli_at.is_some() {
            pli_sent = true;
            if let Some((mid, _)) = mids.iter().find(|(_, k)| *k == MediaKind::Video)
                && let Some(mut w) = rtc.writer(*mid)
            {
                w.request_keyframe(None, KeyframeRequestKind::Pli).unwrap();
            }
        }
        if connected {
            let t = start.elapsed().as_millis() as u64;
            // The return feed, paced by the clock: 15 pictures and 50 Opus packets a second.
            if t >= vn * 66 {
                let mut pic = vec![128u8; i420_len(RETURN_W, RETURN_H)];
                pic[..(RETURN_W * RETURN_H) as usize]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, p)| *p = ((i as u64 + vn * 3) % 220) as u8 + 16);
                // The return feed uses the codec the guest offered.
                let codec = video_codec(&mut rtc, &mids);
                let enc = venc.get_or_insert_with(|| {
                    VideoEncoder::new(codec, RETURN_W, RETURN_H, 15, 300).unwrap()
                });
                for f in enc.encode(&pic, (vn * 66) as i64, vn == 0).unwrap() {
                    let rtp = MediaTime::new(vn * 66 * 90, Frequency::NINETY_KHZ);
                    write(&mut rtc, &mids, MediaKind::Video, rtp, f.data);
                }
                vn += 1;
            }
            if t >= an * 20 {
                let block: Vec<f32> = (0..OPUS_FRAME)
                    .flat_map(|i| {
                        let n = (an as usize * OPUS_FRAME + i) as f64;
                        let v = (n * std::f64::consts::TAU * RETURN_HZ / RATE as f64).sin() as f32
                            * 0.3;
                        [v, v]
                    })
                    .collect();
                let packet = aenc.encode(&block).unwrap();
                let rtp = MediaTime::new(an * OPUS_FRAME as u64, Frequency::FORTY_EIGHT_KHZ);
                write(&mut rtc, &mids, MediaKind::Audio, rtp, packet);
                an += 1;
            }
        }
        let wait = timeout
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(5));
        if wait.is_zero() {
            let _ = rtc.handle_input(Input::Timeout(Instant::now()));
            continue;
        }
        socket.set_read_timeout(Some(wait)).unwrap();
        let input = match socket.recv_from(&mut buf) {
            Ok((n, source)) => match buf[..n].try_into() {
                Ok(contents) => Input::Receive(
                    Instant::now(),
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: socket.local_addr().unwrap(),
                        contents,
                    },
                ),
                Err(_) => continue,
            },
            Err(_) => Input::Timeout(Instant::now()),
        };
        let _ = rtc.handle_input(input);
    }
}

/// Decodes the guest's video on its own thread (as a real host would), so the network loop
/// reads the socket on time; records sizes and frame codes.
fn spawn_decoder(seen: &Arc<Mutex<Seen>>) -> crossbeam_channel::Sender<(VideoCodec, Arc<[u8]>)> {
    let (tx, rx) = crossbeam_channel::bounded::<(VideoCodec, Arc<[u8]>)>(60);
    let seen = seen.clone();
    std::thread::spawn(move || {
        let mut dec: Option<VideoDecoder> = None;
        for (codec, data) in rx.iter() {
            let d = dec.get_or_insert_with(|| VideoDecoder::new(codec).unwrap());
            if let Ok(Some(p)) = d.decode(&data) {
                let code = read_code(&p.i420, p.width as usize, p.width, p.height);
                let mut s = seen.lock().unwrap();
                s.sizes.push((p.width, p.height));
                if let Some(c) = code {
                    s.codes.push(c.index);
                }
            }
        }
    });
    tx
}

fn video_codec(rtc: &mut Rtc, mids: &[(Mid, MediaKind)]) -> VideoCodec {
    let h264 = mids
        .iter()
        .find(|(_, k)| *k == MediaKind::Video)
        .and_then(|(mid, _)| rtc.writer(*mid))
        .is_some_and(|w| w.payload_params().any(|p| p.spec().codec == Codec::H264));
    if h264 {
        VideoCodec::H264
    } else {
        VideoCodec::Vp8
    }
}

fn write(rtc: &mut Rtc, mids: &[(Mid, MediaKind)], kind: MediaKind, t: MediaTime, data: Vec<u8>) {
    let Some((mid, _)) = mids.iter().find(|(_, k)| *k == kind) else {
        return;
    };
    let Some(w) = rtc.writer(*mid) else { return };
    let Some(pt) = w
        .payload_params()
        .find(|p| {
            let s = p.spec();
            matches!(s.codec, Codec::Vp8 | Codec::Opus)
                || (s.codec == Codec::H264 && s.format.packetization_mode == Some(1))
        })
        .map(|p| p.pt())
    else {
        return;
    };
    let _ = w.write(pt, Instant::now(), t, data);
}

/// Power of `hz` in the samples (left channel), Goertzel.
fn power(stereo: &[f32], hz: f64) -> f64 {
    let k = 2.0 * (std::f64::consts::TAU * hz / RATE as f64).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in stereo.iter().step_by(2) {
        let s0 = *x as f64 + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

fn assert_tone(stereo: &[f32], hz: f64) {
    let p = power(stereo, hz);
    for other in [hz * 0.7, hz * 1.4] {
        let q = power(stereo, other);
        assert!(
            p > 100.0 * q,
            "{hz} Hz is not the tone: {p} vs {q} at {other} Hz"
        );
    }
}

/// Waits (polling the test host's record) until `ready`, for at most `limit`.
fn wait_for(seen: &Mutex<Seen>, limit: Duration, ready: impl Fn(&Seen) -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if ready(&seen.lock().unwrap()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The calls run one at a time: each is a guest and a host encoding and decoding in real
/// time, and the machine's cores are few.
static ONE_CALL: Mutex<()> = Mutex::new(());

fn joins_and_sends(codec: VideoCodec) {
    let _one = ONE_CALL.lock().unwrap_or_else(|e| e.into_inner());
    let host = TestHost::start(Mode::Answer);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = GuestOptions::new(host.link());
    opts.video = VideoSpec::TestCard(2);
    opts.audio = AudioSpec::Tone(440.0);
    opts.name = Some("Li Lei".into());
    opts.codec = codec;
    // 640×360 keeps the codes' cells 10 pixels wide; 15 fps halves the work.
    opts.fps = 15;
    opts.return_audio = Some(dir.path().join("return.wav"));
    opts.return_video = Some(dir.path().join("return.y4m"));
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(Mutex::new(Vec::new()));
    let (o, st, ev) = (opts.clone(), stop.clone(), events.clone());
    let guest = std::thread::spawn(move || guest::join(&o, st, |p| ev.lock().unwrap().push(p)));

    // Several pictures with readable codes, and a second of the tone; and in the return
    // files (written as they arrive), a second of audio and several pictures. Generous time:
    // the machine may be busy with other work.
    let (wav, y4m) = (dir.path().join("return.wav"), dir.path().join("return.y4m"));
    let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len() as usize);
    let got = wait_for(&host.seen, Duration::from_secs(60), |s| {
        s.codes.len() >= 15
            && s.audio.len() >= 2 * RATE as usize
            && len(&wav) > 44 + 4 * RATE as usize + 8192
            && len(&y4m) > 6 * i420_len(RETURN_W, RETURN_H)
    });
    // The host asks for a keyframe: one comes at once (the periodic ones are 4 s apart).
    host.seen.lock().unwrap().pli_at = Some(Instant::now());
    let keyframe = got
        && wait_for(&host.seen, Duration::from_secs(10), |s| {
            s.keyframe_after_pli.is_some()
        });
    stop.store(true, Ordering::Relaxed);
    let ended = guest.join().unwrap();
    let seen = host.seen.lock().unwrap();
    assert!(
        got,
        "{codec}: {} frames with codes, {} audio samples, return files {} and {} bytes, host failure {:?}, guest {ended:?}",
        seen.codes.len(),
        seen.audio.len(),
        len(&wav),
        len(&y4m),
        seen.failed,
    );
    let (reason, summary) = ended.unwrap();
    assert_eq!(reason, EndReason::Stopped);
    assert!(seen.deleted, "the guest did not leave with DELETE");
    assert!(keyframe, "{codec}: no keyframe after the host's PLI");
    let after = seen.keyframe_after_pli.unwrap();
    assert!(
        after < Duration::from_millis(1500),
        "{codec}: the keyframe came {after:?} after the PLI"
    );
    assert_eq!(seen.names, ["Li%20Lei"]);
    assert!(
        seen.sizes.iter().all(|s| *s == (640, 360)),
        "{codec}: sizes {:?}",
        &seen.sizes[..5]
    );
    // Test card 2 counts from 2,000,000; its codes advance.
    assert!(
        seen.codes.iter().all(|c| *c >= 2_000_000),
        "{:?}",
        &seen.codes[..5]
    );
    let advancing = seen.codes.windows(2).filter(|w| w[1] > w[0]).count();
    assert!(
        advancing + 1 >= seen.codes.len() * 9 / 10,
        "{:?}",
        seen.codes
    );
    let n = seen.audio.len();
    assert_tone(&seen.audio[n / 2..], 440.0);
    assert!(
        summary.video_frames_sent >= 15
            && summary.audio_packets_sent >= 50
            && summary.keyframes_requested >= 1,
        "{summary:?}"
    );

    // The return feed reached the files.
    let events = events.lock().unwrap();
    assert!(events.contains(&Progress::Connected), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Progress::State(s) if s.state == guest::GuestState::OnAir))
    );
    assert!(
        summary.video_frames_received > 0 && summary.audio_packets_received > 0,
        "{summary:?}"
    );
    let y4m = std::fs::read(dir.path().join("return.y4m")).unwrap();
    assert!(
        y4m.starts_with(b"YUV4MPEG2 W320 H180 "),
        "{:?}",
        String::from_utf8_lossy(&y4m[..40.min(y4m.len())])
    );
    assert!(y4m.windows(6).filter(|w| w == b"FRAME\n").count() >= 5);
    let wav = std::fs::read(dir.path().join("return.wav")).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    let pcm: Vec<f32> = wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect();
    assert!(pcm.len() > RATE as usize, "{} samples returned", pcm.len());
    assert_tone(&pcm[pcm.len() / 2..], RETURN_HZ);
}

#[test]
fn a_guest_sends_the_synthetic_camera_in_vp8_and_the_tone_and_keeps_the_return_feed() {
    joins_and_sends(VideoCodec::Vp8);
}

#[test]
fn a_guest_sends_h264_when_asked() {
    joins_and_sends(VideoCodec::H264);
}

#[test]
fn an_expired_invite_says_so_and_asks_for_a_new_link() {
    let host = TestHost::start(Mode::Refuse(410, "invite_expired"));
    let mut opts = GuestOptions::new(host.link());
    opts.duration = Some(Duration::from_secs(5));
    let e = guest::join(&opts, Arc::new(AtomicBool::new(false)), |_| {}).unwrap_err();
    assert_eq!(e.code(), Some("invite_expired"));
    let msg = e.to_string();
    assert_eq!(msg, "this invite has expired: ask the host for a new link");
    assert!(host.seen.lock().unwrap().names.is_empty());
}

#[test]
fn a_link_that_is_not_an_invite_fails_before_any_request() {
    let e = guest::join(
        &GuestOptions::new("http://127.0.0.1:9/join/nope"),
        Arc::new(AtomicBool::new(false)),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("invite token"), "{e}");
}

#[test]
fn a_guest_removed_by_the_host_says_so_and_leaves() {
    let _one = ONE_CALL.lock().unwrap_or_else(|e| e.into_inner());
    let host = TestHost::start(Mode::RemoveAfter(2));
    let mut opts = GuestOptions::new(host.link());
    opts.fps = 15;
    let states = Arc::new(Mutex::new(Vec::new()));
    let st = states.clone();
    let (reason, _) = guest::join(&opts, Arc::new(AtomicBool::new(false)), |p| {
        if let Progress::State(s) = p {
            st.lock().unwrap().push(s.state);
        }
    })
    .unwrap();
    assert_eq!(reason, EndReason::Removed);
    assert_eq!(
        *states.lock().unwrap(),
        [guest::GuestState::OnAir, guest::GuestState::Removed]
    );
    assert!(
        host.seen.lock().unwrap().deleted,
        "the guest did not leave with DELETE"
    );
}
