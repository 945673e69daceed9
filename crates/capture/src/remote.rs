//! Remote cameras: a phone (Larix, Moblin) or a second PC pushes SRT or RTMP to a listener of
//! ours, and the picture is a camera like any other.
//!
//! A receiver thread owns the listener: it waits for a sender, reads and decodes what it
//! sends (any video FFmpeg decodes, scaled to I420 at the sender's size, a new scaler when
//! that size changes), and when the sender leaves, stalls or sends something unreadable it
//! says why and listens again. The camera loop ([`crate::camera`]) sees a device that opens
//! once a sender's first picture is in, and is lost when the sender is gone: the compositor
//! shows the last picture, then the slate, and the picture again when the sender returns.
//! Only the picture is taken; the sender's sound is not (a source's audio is its own input).

use crate::camera::{CameraDevice, CameraMode, RawFrame};
use crate::clock::SessionClock;
use crate::error::CaptureError;
use crate::frame::PixelFormat;
use crate::pool::FramePool;
use crate::remote_latency::LatencyGauge;
pub use crate::remote_latency::RemoteMeter;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ffmpeg_next as ff;
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A sender silent this long is gone: the listener hangs up and listens again.
const STALL: Duration = Duration::from_secs(3);
/// How long a sender that left keeps its last picture up before the camera is lost (the
/// compositor's own "silent for a second" rule).
const GONE_GRACE: Duration = Duration::from_secs(1);
/// From a sender's connection to its stream being understood.
const PROBE_TIMEOUT: Duration = Duration::from_secs(8);
/// Pictures larger than this are refused (a hostile sender must not make us allocate).
const MAX_PIXELS: u32 = 4096 * 2304;
/// Undecodable packets in a row before the sender is dropped as unreadable.
const MAX_BAD_PACKETS: u32 = 150;

/// A listener address checked and ready for FFmpeg, and how it may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenUrl {
    /// The URL as the user wrote it (it may hold a passphrase or a stream key).
    written: String,
    /// `scheme://host:port`: safe to show.
    shown: String,
    /// What FFmpeg opens (SRT latency in microseconds).
    ffmpeg: String,
    rtmp: bool,
    /// How long the transport holds each packet, ms (SRT's latency, 120 unless given; RTMP 0).
    window_ms: u64,
    /// `passphrase=key:NAME`: the keychain entry holding the SRT passphrase, until
    /// [`ListenUrl::set_passphrase`] puts the secret itself in `ffmpeg`.
    passphrase_key: Option<String>,
}

/// What an SRT listener's passphrase must be, as messages say it.
pub const SRT_PASSPHRASE_RULE: &str = "10 to 79 characters";

/// SRT's length rule. A passphrase from the keychain may hold any character (it is
/// percent-encoded into the URL FFmpeg opens, which decodes it); one written inline in the URL
/// cannot hold `&` or `#`, which end it there.
pub fn srt_passphrase_fits(p: &str) -> bool {
    (10..=79).contains(&p.chars().count())
}

impl ListenUrl {
    /// `srt://HOST:PORT[?mode=listener&latency=MS&passphrase=…]` or
    /// `rtmp://HOST:PORT/APP/KEY`. The error never holds the passphrase or the key.
    pub fn parse(s: &str) -> Result<Self, CaptureError> {
        let bad = |reason: &str| CaptureError::BadSpec {
            spec: shown(s),
            reason: reason.to_string(),
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let (before, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before.split_once('/').unwrap_or((before, ""));
        let port_ok = authority
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        match scheme {
            "srt" => {
                if !port_ok {
                    return Err(bad(
                        "an SRT listener needs an address and a port: srt://0.0.0.0:PORT?mode=listener",
                    ));
                }
                if !path.trim_matches('/').is_empty() {
                    return Err(bad(
                        "an SRT address has no path: srt://0.0.0.0:PORT?mode=listener",
                    ));
                }
                let mut params = vec!["mode=listener".to_string()];
                // libsrt's default receiver latency.
                let mut window_ms = 120;
                let mut passphrase_key = None;
                for item in query.split('&').filter(|i| !i.is_empty()) {
                    match item.split_once('=').unwrap_or((item, "")) {
                        ("mode", "listener") => {}
                        ("mode", _) => {
                            return Err(bad(
                                "a remote camera is an SRT listener (mode=listener): the phone or PC calls it",
                            ));
                        }
                        ("latency", ms) => match ms.parse::<u64>() {
                            Ok(ms) if ms <= 60_000 => {
                                window_ms = ms;
                                params.push(format!("latency={}", ms * 1000))
                            }
                            _ => return Err(bad("SRT latency is in milliseconds, 0 to 60000")),
                        },
                        ("passphrase", p) if p.starts_with("key:") => {
                            let name = &p[4..];
                            if name.is_empty() {
                                return Err(bad(
                                    "passphrase=key:NAME needs the keychain entry's name",
                                ));
                            }
                            passphrase_key = Some(name.to_string());
                        }
                        ("passphrase", p) if !srt_passphrase_fits(p) => {
                            return Err(bad("the SRT passphrase must be 10 to 79 characters long"));
                        }
                        ("passphrase", p) if p.contains(['?', '#']) => {
                            return Err(bad(
                                "a passphrase written in the URL cannot hold ? or #: keep it in the keychain (passphrase=key:NAME)",
                            ));
                        }
                        _ => params.push(item.to_string()),
                    }
                }
                Ok(Self {
                    written: s.to_string(),
                    shown: format!("srt://{authority}"),
                    ffmpeg: format!("srt://{authority}?{}", params.join("&")),
                    rtmp: false,
                    window_ms,
                    passphrase_key,
                })
            }
            "rtmp" => {
                let segments = path.split('/').filter(|p| !p.is_empty()).count();
                if !port_ok || segments < 2 || !query.is_empty() {
                    return Err(bad(
                        "an RTMP listener is rtmp://0.0.0.0:PORT/APP/KEY (the phone pushes to rtmp://THIS_COMPUTER:PORT/APP/KEY)",
                    ));
                }
                Ok(Self {
                    written: s.to_string(),
                    shown: format!("rtmp://{authority}"),
                    ffmpeg: s.to_string(),
                    rtmp: true,
                    window_ms: 0,
                    passphrase_key: None,
                })
            }
            _ => Err(bad("a remote camera is srt://… or rtmp://…")),
        }
    }

    /// As written (with its secrets): for saving the spec, never for showing.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// `scheme://host:port`, nothing secret.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The address listened on (`0.0.0.0`, `::`, or one of this computer's).
    pub fn listen_host(&self) -> &str {
        let authority = &self.shown[self.shown.find("://").map_or(0, |i| i + 3)..];
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// What a sender pushes to when this computer is `host`, safe to show: `srt://HOST:PORT`,
    /// or `rtmp://HOST:PORT/APP/****` (the key as the user gave it).
    pub fn push_url(&self, host: &str) -> String {
        let port = self.shown.rsplit_once(':').map_or("", |(_, p)| p);
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        if !self.rtmp {
            return format!("srt://{host}:{port}");
        }
        let path = self.written.splitn(4, '/').nth(3).unwrap_or("");
        let app = path.rsplit_once('/').map_or(path, |(app, _)| app);
        format!("rtmp://{host}:{port}/{app}/****")
    }

    /// The sender must give a passphrase (SRT).
    pub fn has_passphrase(&self) -> bool {
        self.passphrase_key.is_some() || self.ffmpeg.contains("passphrase=")
    }

    /// The keychain entry named by `passphrase=key:NAME`, still to be read.
    pub fn passphrase_key(&self) -> Option<&str> {
        self.passphrase_key
            .as_deref()
            .filter(|_| !self.ffmpeg.contains("passphrase="))
    }

    /// Puts the passphrase read from the keychain into what FFmpeg opens (never into what
    /// is shown or saved, which keep `key:NAME`).
    pub fn set_passphrase(&mut self, secret: &str) -> Result<(), CaptureError> {
        let name = self.passphrase_key.clone().unwrap_or_default();
        if !srt_passphrase_fits(secret) {
            return Err(CaptureError::BadSpec {
                spec: self.shown.clone(),
                reason: format!(
                    "the SRT passphrase in the keychain entry {name} must be {SRT_PASSPHRASE_RULE}"
                ),
            });
        }
        self.ffmpeg.push_str("&passphrase=");
        self.ffmpeg.push_str(&crate::url::url_escape(secret));
        Ok(())
    }
}

/// `scheme://authority` of anything URL-like, for messages.
fn shown(s: &str) -> String {
    match s.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            format!("{scheme}://{}", &rest[..end])
        }
        None => "remote camera".into(),
    }
}

enum Msg {
    Frame(RawFrame),
    /// The sender is gone, and why.
    Gone(String),
}

/// A remote camera as the camera loop sees it.
pub struct RemoteCamera {
    url: ListenUrl,
    rx: Option<Receiver<Msg>>,
    receiver: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    pending: Option<RawFrame>,
    /// What is received, for the stats.
    meter: Arc<RemoteMeter>,
}

impl RemoteCamera {
    /// A remote camera measuring what it receives into `meter`.
    pub fn new(url: ListenUrl, meter: Arc<RemoteMeter>) -> Self {
        Self {
            url,
            rx: None,
            receiver: None,
            pending: None,
            meter,
        }
    }

    fn start(&mut self, clock: &SessionClock) -> Result<(), CaptureError> {
        if self.receiver.is_some() {
            return Ok(());
        }
        // Listening without the passphrase asked for would let anyone on air.
        if let Some(name) = self.url.passphrase_key() {
            return Err(CaptureError::BadSpec {
                spec: self.url.shown.clone(),
                reason: format!("its passphrase (keychain entry {name}) was not read"),
            });
        }
        crate::file::init_ffmpeg();
        let (tx, rx) = crossbeam_channel::bounded(4);
        let stop = Arc::new(AtomicBool::new(false));
        let (url, stop2, clock, meter) = (
            self.url.clone(),
            stop.clone(),
            clock.clone(),
            self.meter.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("remote-camera".into())
            .spawn(move || receive_loop(&url, &tx, &stop2, &clock, &meter))
            .map_err(|e| CaptureError::NotFound(format!("cannot start a listener thread: {e}")))?;
        self.rx = Some(rx);
        self.receiver = Some((stop, thread));
        Ok(())
    }
}

impl Drop for RemoteCamera {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.receiver.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

impl CameraDevice for RemoteCamera {
    fn name(&self) -> String {
        format!("remote camera {}", self.url.shown)
    }

    /// Opens once a sender's first picture is in (the listener itself starts at the first
    /// call and keeps listening).
    fn open(&mut self, clock: &SessionClock) -> Result<CameraMode, CaptureError> {
        self.start(clock)?;
        let rx = self.rx.as_ref().expect("started");
        // The latest news wins: a sender that came and went is not open.
        while let Ok(m) = rx.try_recv() {
            self.pending = match m {
                Msg::Frame(f) => Some(f),
                Msg::Gone(_) => None,
            };
        }
        match &self.pending {
            Some(f) => Ok(CameraMode {
                width: f.width,
                height: f.height,
                fps: 0,
                format: PixelFormat::I420,
            }),
            None => Err(CaptureError::NotFound(format!(
                "{}: waiting for a sender",
                self.name()
            ))),
        }
    }

    fn next_frame(
        &mut self,
        _clock: &SessionClock,
        stop: &AtomicBool,
    ) -> Result<RawFrame, CaptureError> {
        if let Some(f) = self.pending.take() {
            return Ok(f);
        }
        let rx = self.rx.as_ref().expect("opened");
        // A sender that left may be back at once (a phone's network blinked): until then
        // the last picture stays up, as for a camera that stalls.
        let mut gone: Option<(Instant, String)> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Frame(f)) => return Ok(f),
                Ok(Msg::Gone(reason)) => gone = Some((Instant::now(), reason)),
                Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::Relaxed) => {}
                Err(_) => {
                    return Err(CaptureError::Lost {
                        device: self.name(),
                        reason: "stopped".into(),
                    });
                }
            }
            if let Some((since, reason)) = &gone
                && since.elapsed() >= GONE_GRACE
            {
                return Err(CaptureError::Lost {
                    device: self.name(),
                    reason: reason.clone(),
                });
            }
        }
    }

    fn close(&mut self) {
        self.pending = None;
    }

    fn retry_every(&self) -> Duration {
        Duration::from_millis(100)
    }
}

/// What FFmpeg's blocking calls check: the session stopping, or a deadline passing.
struct Gate {
    stop: Arc<AtomicBool>,
    epoch: Instant,
    /// Milliseconds after `epoch`; 0: no deadline (waiting for a sender).
    deadline_ms: AtomicU64,
}

impl Gate {
    fn arm(&self, after: Duration) {
        let ms = (self.epoch.elapsed() + after).as_millis() as u64;
        self.deadline_ms.store(ms.max(1), Ordering::Relaxed);
    }

    fn expired(&self) -> bool {
        let d = self.deadline_ms.load(Ordering::Relaxed);
        d != 0 && self.epoch.elapsed().as_millis() as u64 > d
    }
}

extern "C" fn gate_closed(opaque: *mut c_void) -> c_int {
    // SAFETY: opaque is the Gate inside the Arc the receiver keeps alive while FFmpeg runs.
    let gate = unsafe { &*(opaque as *const Gate) };
    (gate.stop.load(Ordering::Relaxed) || gate.expired()) as c_int
}

/// Listens, receives, listens again, until stopped. Each way a sender ends is told to the
/// camera (`Gone`) and logged once while it repeats.
fn receive_loop(
    url: &ListenUrl,
    tx: &Sender<Msg>,
    stop: &Arc<AtomicBool>,
    clock: &SessionClock,
    meter: &RemoteMeter,
) {
    let gate = Arc::new(Gate {
        stop: stop.clone(),
        epoch: Instant::now(),
        deadline_ms: AtomicU64::new(0),
    });
    let mut last_said = String::new();
    while !stop.load(Ordering::Relaxed) {
        gate.deadline_ms.store(0, Ordering::Relaxed);
        let received = receive(url, &gate, tx, clock, meter);
        meter.set_latency_ms(None);
        let reason = match received {
            _ if stop.load(Ordering::Relaxed) => return,
            Ok(()) => "the sender stopped".to_string(),
            Err(e) => e,
        };
        if reason != last_said {
            tracing::warn!("remote camera {}: {reason}; listening again", url.shown);
            last_said = reason.clone();
        }
        // The camera may be busy reopening: wait for room rather than lose the news.
        let mut msg = Msg::Gone(reason);
        loop {
            match tx.send_timeout(msg, Duration::from_millis(100)) {
                Ok(()) => break,
                Err(crossbeam_channel::SendTimeoutError::Timeout(m))
                    if !stop.load(Ordering::Relaxed) =>
                {
                    msg = m
                }
                Err(_) => return,
            }
        }
        // A listener that cannot even bind (port taken) must not spin.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An input being read through an I/O context we opened (so the wait for a sender and the
/// reading have separate deadlines); closes both on drop.
struct Opened {
    input: Option<ff::format::context::Input>,
    pb: *mut ff::ffi::AVIOContext,
}

impl Drop for Opened {
    fn drop(&mut self) {
        drop(self.input.take());
        // SAFETY: pb came from avio_open2 and the input using it is closed (custom I/O is
        // left open by avformat_close_input).
        unsafe { ff::ffi::avio_closep(&mut self.pb) };
    }
}

thread_local! {
    /// Set (on the receiver's thread) when an RTMP publisher named another app or stream.
    static WRONG_PUBLISH: Cell<bool> = const { Cell::new(false) };
}

/// FFmpeg's RTMP listener accepts any app and stream name and only logs a mismatch, so its
/// log (silenced otherwise: it can print URLs with keys) is where we learn of it. The format
/// string is enough: the names themselves are never read or kept.
unsafe extern "C" fn ffmpeg_log<V>(_: *mut c_void, _: c_int, fmt: *const c_char, _: V) {
    if fmt.is_null() {
        return;
    }
    // SAFETY: FFmpeg passes its format string, a NUL-terminated literal.
    let f = unsafe { CStr::from_ptr(fmt) }.to_bytes();
    if f.starts_with(b"Unexpected stream ") || f.starts_with(b"App field don't match up") {
        WRONG_PUBLISH.with(|w| w.set(true));
    }
}

fn watch_ffmpeg_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: the callback only reads the format string and sets a thread-local flag.
    ONCE.call_once(|| unsafe { ff::ffi::av_log_set_callback(Some(ffmpeg_log)) });
}

fn av_error(code: c_int) -> String {
    ff::Error::from(code).to_string()
}

/// Waits for one sender and reads it until it leaves (Ok) or fails (Err: why, for people).
fn receive(
    url: &ListenUrl,
    gate: &Arc<Gate>,
    tx: &Sender<Msg>,
    clock: &SessionClock,
    meter: &RemoteMeter,
) -> Result<(), String> {
    let c_url = CString::new(url.ffmpeg.as_str()).map_err(|_| "bad address".to_string())?;
    let cb = ff::ffi::AVIOInterruptCB {
        callback: Some(gate_closed),
        opaque: Arc::as_ptr(gate) as *mut c_void,
    };
    let mut opened = Opened {
        input: None,
        pb: std::ptr::null_mut(),
    };
    // SAFETY: libavformat's documented custom-I/O setup; every pointer is checked, the
    // context is freed by avformat_open_input on failure and by `Opened` otherwise, and the
    // Gate behind the callback outlives both.
    unsafe {
        let mut io_opts = ff::Dictionary::new();
        if url.rtmp {
            io_opts.set("listen", "1");
            watch_ffmpeg_log();
            WRONG_PUBLISH.with(|w| w.set(false));
        }
        let mut raw = io_opts.disown();
        let r = ff::ffi::avio_open2(
            &mut opened.pb,
            c_url.as_ptr(),
            ff::ffi::AVIO_FLAG_READ,
            &cb,
            &mut raw,
        );
        ff::ffi::av_dict_free(&mut raw);
        if r < 0 {
            return Err(format!(
                "cannot listen on {} ({}): is the port free and the address one of this computer's?",
                url.shown,
                av_error(r)
            ));
        }
        if url.rtmp && WRONG_PUBLISH.with(|w| w.replace(false)) {
            return Err("a sender pushed to another app or stream key than this camera's (refused): check the address and key typed into the phone".into());
        }
        gate.arm(PROBE_TIMEOUT);
        let mut ctx = ff::ffi::avformat_alloc_context();
        if ctx.is_null() {
            return Err("out of memory".into());
        }
        (*ctx).pb = opened.pb;
        (*ctx).interrupt_callback = cb;
        let mut opts = ff::Dictionary::new();
        opts.set("analyzeduration", "1000000");
        // The frame rate is not needed (each picture is stamped as it arrives); probing it
        // held the first second of pictures back and then let them through in a burst.
        opts.set("fpsprobesize", "0");
        if !url.rtmp {
            // The MPEG-TS demuxer hands out whole PES packets, one picture each as every
            // encoder we know writes them (FFmpeg, OBS, Larix, Moblin, GStreamer): its H.264
            // parser would only hold each one back until the next began, a frame interval.
            opts.set("fflags", "+noparse+nofillin");
        }
        let mut raw = opts.disown();
        let r = ff::ffi::avformat_open_input(&mut ctx, c_url.as_ptr(), std::ptr::null(), &mut raw);
        ff::ffi::av_dict_free(&mut raw);
        if r < 0 {
            return Err(unreadable(url, &av_error(r)));
        }
        opened.input = Some(ff::format::context::Input::wrap(ctx));
        let r = ff::ffi::avformat_find_stream_info(ctx, std::ptr::null_mut());
        if r < 0 {
            return Err(unreadable(url, &av_error(r)));
        }
    }
    let input = opened.input.as_mut().expect("opened");
    let stream = input
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| "the sender sends no video".to_string())?;
    let index = stream.index();
    let tb = f64::from(stream.time_base());
    let id = stream.parameters().id();
    if ff::decoder::find(id).is_none() {
        return Err(format!(
            "the sender's video is {}, which this build cannot decode: send H.264 (or HEVC)",
            id.name()
        ));
    }
    let mut decoder = ff::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|mut c| {
            // No frame threading: it would hold each picture back a frame per thread.
            c.set_threading(ff::codec::threading::Config {
                kind: ff::codec::threading::Type::Slice,
                count: 0,
                ..Default::default()
            });
            c.decoder().video()
        })
        .map_err(|e| format!("cannot decode the sender's {} video: {e}", id.name()))?;
    let mut picture = Picture::default();
    let mut bad = 0u32;
    let mut gauge = LatencyGauge::new(url.window_ms);
    let epoch = Instant::now();
    loop {
        gate.arm(STALL);
        let mut packet = ff::Packet::empty();
        match packet.read(input) {
            Ok(()) => {}
            Err(ff::Error::Eof) => return Ok(()),
            Err(_) if gate.expired() => {
                return Err(format!("the sender sent nothing for {} s", STALL.as_secs()));
            }
            Err(e) => return Err(format!("the sender left or its stream broke ({e})")),
        }
        let read_s = epoch.elapsed().as_secs_f64();
        meter
            .bytes
            .fetch_add(packet.size() as u64, Ordering::Relaxed);
        if packet.stream() != index {
            continue;
        }
        if decoder.send_packet(&packet).is_err() {
            bad += 1;
            if bad > MAX_BAD_PACKETS {
                return Err(
                    "the sender's video cannot be decoded (corrupt or not what it says)".into(),
                );
            }
            continue;
        }
        bad = 0;
        let mut frame = ff::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            let raw = picture.convert(&frame, clock)?;
            if let Some(ts) = frame.pts().or(frame.timestamp()) {
                let ready_s = epoch.elapsed().as_secs_f64();
                meter.set_latency_ms(Some(gauge.picture(read_s, ts as f64 * tb, ready_s)));
            }
            // Latest picture wins: a full queue means the camera is behind; drop this one.
            let _ = tx.try_send(Msg::Frame(raw));
        }
    }
}

fn unreadable(url: &ListenUrl, e: &str) -> String {
    let wants = if url.rtmp { "RTMP (FLV)" } else { "MPEG-TS" };
    format!("a sender connected but what it sent cannot be read as {wants} video ({e})")
}

/// Decoded pictures to packed I420 at the sender's size (even), rescaled when it changes.
#[derive(Default)]
struct Picture {
    scaler: Option<(
        ff::software::scaling::Context,
        (u32, u32, ff::format::Pixel),
    )>,
    pool: Option<FramePool>,
}

impl Picture {
    fn convert(&mut self, f: &ff::frame::Video, clock: &SessionClock) -> Result<RawFrame, String> {
        let (w, h) = (f.width() & !1, f.height() & !1);
        if w == 0 || h == 0 || w.saturating_mul(h) > MAX_PIXELS {
            return Err(format!(
                "the sender's picture is {}x{}: send at most 4096x2304",
                f.width(),
                f.height()
            ));
        }
        let key = (f.width(), f.height(), f.format());
        if self.scaler.as_ref().is_none_or(|(_, k)| *k != key) {
            let sc = ff::software::scaling::Context::get(
                f.format(),
                f.width(),
                f.height(),
                ff::format::Pixel::YUV420P,
                w,
                h,
                ff::software::scaling::Flags::BILINEAR,
            )
            .map_err(|e| format!("cannot convert the sender's picture: {e}"))?;
            self.scaler = Some((sc, key));
        }
        let (sc, _) = self.scaler.as_mut().expect("made above");
        let mut yuv = ff::frame::Video::empty();
        sc.run(f, &mut yuv)
            .map_err(|e| format!("cannot convert the sender's picture: {e}"))?;
        let pool = self
            .pool
            .get_or_insert_with(|| FramePool::new(crate::pool::SOURCE_KEEP));
        Ok(RawFrame {
            width: w,
            height: h,
            format: PixelFormat::I420,
            data: crate::file::pack_i420(&yuv, w, h, pool),
            captured: clock.now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_addresses_are_checked_and_shown_without_secrets() {
        let u =
            ListenUrl::parse("srt://0.0.0.0:9000?mode=listener&latency=200&passphrase=abcdefghijk")
                .unwrap();
        assert_eq!(u.shown(), "srt://0.0.0.0:9000");
        assert_eq!(
            u.ffmpeg,
            "srt://0.0.0.0:9000?mode=listener&latency=200000&passphrase=abcdefghijk"
        );
        let u = ListenUrl::parse("srt://0.0.0.0:9000").unwrap();
        assert_eq!(u.ffmpeg, "srt://0.0.0.0:9000?mode=listener");
        assert_eq!(u.push_url("192.168.1.5"), "srt://192.168.1.5:9000");
        assert_eq!(u.listen_host(), "0.0.0.0");
        assert_eq!(u.window_ms, 120, "libsrt's default latency");
        let u = ListenUrl::parse("srt://0.0.0.0:9000?latency=300").unwrap();
        assert_eq!(u.window_ms, 300);
        let u = ListenUrl::parse("rtmp://0.0.0.0:1935/live/phone1").unwrap();
        assert_eq!(u.shown(), "rtmp://0.0.0.0:1935");
        assert_eq!(u.push_url("fd00::5"), "rtmp://[fd00::5]:1935/live/****");
        assert!(!u.has_passphrase());
        assert_eq!(u.window_ms, 0, "RTMP holds nothing back");
        let mut u =
            ListenUrl::parse("srt://0.0.0.0:9000?mode=listener&passphrase=key:cam-9000").unwrap();
        assert!(u.has_passphrase());
        assert_eq!(u.passphrase_key(), Some("cam-9000"));
        assert!(u.set_passphrase("short").is_err());
        u.set_passphrase("stage-door-secret").unwrap();
        assert_eq!(u.passphrase_key(), None, "read");
        assert_eq!(
            u.ffmpeg,
            "srt://0.0.0.0:9000?mode=listener&passphrase=stage-door-secret"
        );
        assert!(!u.as_written().contains("stage-door") && !u.shown().contains("stage-door"));
        // From the keychain any character goes: FFmpeg decodes what is percent-encoded.
        let mut u =
            ListenUrl::parse("srt://0.0.0.0:9000?mode=listener&passphrase=key:cam-9000").unwrap();
        u.set_passphrase("stage&door?#100% 舞台").unwrap();
        assert_eq!(
            u.ffmpeg,
            "srt://0.0.0.0:9000?mode=listener&passphrase=stage%26door%3F%23100%25%20%E8%88%9E%E5%8F%B0"
        );
        for bad in [
            "srt://0.0.0.0:9000?mode=caller",
            "srt://0.0.0.0?mode=listener",
            "srt://0.0.0.0:9000?passphrase=short",
            "srt://0.0.0.0:9000?passphrase=secretkey#secretkey",
            "srt://0.0.0.0:9000?latency=200000",
            "rtmp://0.0.0.0:1935/live",
            "rtmp://0.0.0.0/live/secretkey",
            "http://0.0.0.0:80/x",
        ] {
            let e = ListenUrl::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("secretkey") && !e.contains("short"), "{e}");
        }
    }
}
