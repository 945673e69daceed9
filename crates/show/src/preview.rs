//! The preview's path to a page: JPEGs from `marquee_studio::preview` served as a localhost
//! `multipart/x-mixed-replace` stream (MJPEG) that an `<img>` plays natively (the desktop
//! app's webview).
//!
//! Why not a Tauri channel: every channel message is a script the webview evaluates plus an
//! IPC fetch, and each JPEG then had to be decoded from JavaScript (a `Blob` — whose bytes
//! WebKit keeps in its network process — or a data: URL string). Measured in the real app
//! (docs/benchmarks.md): the stream costs about half the CPU and ~15 MiB less memory in the
//! web process, and the network process no longer grows.
//!
//! - The server ([`crate::mjpeg`]) listens on 127.0.0.1 on a random port; the path carries a
//!   random 128-bit token, so only the page that asked ([`PreviewHub::url`], the app's
//!   `preview_url`) knows it. Any local process or web page can still connect: requests are
//!   read within a size and a time limit, a `Host` other than a loopback name is refused (DNS
//!   rebinding), and connections (in all and per address) and streams are capped (a thread
//!   each, none beyond the caps). Refusals are counted ([`PreviewInfo::refused`]).
//! - Each client has a one-picture queue: a busy or hidden page gets fewer pictures (TCP
//!   pushes back), never older ones, and the engine never waits.
//! - One picture fed at a time, the newest: each preview asks with its own query (`?v=N`).
//!   WebKit keeps a removed `<img>`'s endless load open (the first-run wizard's picture, say)
//!   and ending such a stream from here makes its network process spin (~150% CPU, measured),
//!   so the streams of older addresses are parked: kept open, sent nothing. WebKit opens two
//!   connections for one image (and its web process crashed when one was closed as the
//!   picture started): connections asking for the same address are all fed.
//! - What the page cannot see is measured here ([`PreviewHub::info`]): pictures made per
//!   second, scale + encode time, and capture → picture ready. The end-to-end latency (to
//!   the picture on screen) is measured by the e2e test: it reads the test card's frame code
//!   from screenshots of the preview against [`PreviewInfo::clock_origin_unix_ms`] (a page
//!   cannot read the pixels of a cross-origin multipart image).
//!
//! Two sources feed it: the live session's frame tap (what goes out), or before going live a
//! [`CapturePreview`] of the chosen camera alone (no encoder running for nobody).

use crate::error::ShowError;
use crate::mjpeg::{self, Feed, Limits, Refusals};
use marquee_studio::preview::{
    CapturePreview, LevelPreview, Now, Preview, PreviewConfig, PreviewFrame,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::TrySendError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The preview's rate while live (what goes out) and before (a camera alone).
pub const LIVE_FPS: u32 = 30;
pub const IDLE_FPS: u32 = 20;
/// Streams of older addresses kept open, unfed (see the module doc); past this the oldest ends.
const PARKED: usize = 8;
/// Pictures remembered for [`PreviewHub::info`] (2 s at 30 fps).
const RECENT: usize = 60;

/// The stream and what a page cannot measure itself ([`PreviewHub::info`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewInfo {
    /// `http://127.0.0.1:PORT/preview/TOKEN.mjpg` once started ([`PreviewHub::url`]).
    pub url: Option<String>,
    /// Pictures made per second, over the last 2 s.
    pub fps: f64,
    /// Median time to scale and encode a picture, ms.
    pub encode_ms: f64,
    /// Median time from the picture's capture (compositor tick) to its JPEG being ready, ms.
    pub ready_ms: f64,
    /// Wall-clock time (ms since 1970) of the shown source's clock zero, as of this reading.
    pub clock_origin_unix_ms: f64,
    /// Pictures being fed now (by address; an older address is parked).
    pub viewers: u32,
    /// Pictures handed to viewers.
    pub sent: u64,
    /// Pictures a viewer was still busy with (it got the next one instead).
    pub busy: u64,
    /// Connections the stream's server refused (bad, too large or too slow requests, a
    /// wrong `Host`, a wrong path, over a cap).
    pub refused: u64,
}

/// One picture handed to the clients, for the numbers.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    encode_ms: f64,
    age_ms: f64,
}

/// Where preview pictures go. Shared by the app's commands and the live show.
#[derive(Default)]
pub struct PreviewHub {
    capture: Mutex<Option<(CapturePreview, Preview)>>,
    level: Mutex<Option<LevelPreview>>,
    /// The stream's connections (by the address each asked for), each with a one-picture queue.
    clients: Mutex<Vec<(String, Feed)>>,
    /// Older addresses' streams, open and unfed (ending them upsets WebKit).
    parked: Mutex<Vec<Feed>>,
    url: Mutex<Option<String>>,
    recent: Mutex<VecDeque<Sent>>,
    /// The current source's session clock.
    clock: Mutex<Option<Now>>,
    sent: AtomicU64,
    /// Held while going live, and while opening a device preview after checking the app is
    /// not live: a device preview opened as a session starts would hold the camera and feed
    /// this stream a second picture (and clock) beside the session's.
    gate: Mutex<()>,
    /// Pictures a viewer was still busy with (it gets the next one instead).
    busy: AtomicU64,
    /// What the stream's server accepts at once.
    limits: Limits,
    /// Connections its server refused.
    refusals: Arc<Refusals>,
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl PreviewHub {
    /// Hands a picture to every viewer that is ready for one.
    pub fn send(&self, f: PreviewFrame) {
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(Sent {
                at: Instant::now(),
                encode_ms: f.encode.as_secs_f64() * 1000.0,
                age_ms: f.age.as_secs_f64() * 1000.0,
            });
        }
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.is_empty() {
            return;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let jpeg = Arc::new(f.jpeg);
        clients.retain(|(_, c)| match c.try_send(jpeg.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.busy.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// The numbers the page cannot measure itself.
    pub fn info(&self) -> PreviewInfo {
        let recent: Vec<Sent> = self
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        let now = Instant::now();
        let last2s: Vec<&Sent> = recent
            .iter()
            .filter(|s| now.duration_since(s.at) <= Duration::from_secs(2))
            .collect();
        let fps = match (last2s.first(), last2s.last()) {
            (Some(a), Some(b)) if last2s.len() > 1 => {
                (last2s.len() - 1) as f64 / b.at.duration_since(a.at).as_secs_f64().max(1e-3)
            }
            _ => 0.0,
        };
        PreviewInfo {
            url: self.url.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            fps,
            encode_ms: median(recent.iter().map(|s| s.encode_ms).collect()),
            ready_ms: median(recent.iter().map(|s| s.age_ms).collect()),
            // Read now, not when the source started: a wall-clock step in between (NTP, a VM
            // resyncing) would otherwise skew every age computed from it.
            clock_origin_unix_ms: self
                .clock
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map_or(0.0, |now| unix_ms() - now().as_secs_f64() * 1000.0),
            viewers: self.viewers(),
            sent: self.sent.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            refused: self.refusals.total(),
        }
    }

    /// A preview worker whose pictures come here, at most `max_fps` a second; `now` is the
    /// session clock.
    pub fn worker(self: &Arc<Self>, now: Now, max_fps: u32) -> Result<Preview, ShowError> {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner()) = Some(now.clone());
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let hub = self.clone();
        let cfg = PreviewConfig {
            max_fps,
            ..PreviewConfig::default()
        };
        // The engine's error kept whole (not `?`): its message says what it refused.
        Preview::start(cfg, now, move |f| hub.send(f)).map_err(ShowError::Engine)
    }

    /// Shows `video` (a source like `test` or `camera:0`) without going live, or nothing.
    pub fn show_source(self: &Arc<Self>, video: Option<&str>) -> Result<(), ShowError> {
        let mut slot = self.capture.lock().unwrap_or_else(|e| e.into_inner());
        // Close the old camera first: a device opens once.
        *slot = None;
        let Some(video) = video else { return Ok(()) };
        let spec = video
            .parse()
            .map_err(|e: marquee_capture::CaptureError| ShowError::Settings(e.to_string()))?;
        let clock = marquee_capture::SessionClock::start();
        let c = clock.clone();
        // 20 fps is smooth for picking a camera and costs a third less than 30.
        let preview = self.worker(Arc::new(move || c.now()), IDLE_FPS)?;
        let capture = CapturePreview::start(&spec, clock, preview.tap(), 640, 360, 30)
            .map_err(ShowError::Engine)?;
        *slot = Some((capture, preview));
        Ok(())
    }

    /// Measures `audio` (a source like `tone` or `mic:ID`) for the first-run level meter,
    /// or stops measuring. Levels go to `on_level(input, peak_db, rms_db)` ten times a second.
    pub fn measure_audio(
        &self,
        audio: Option<&str>,
        on_level: impl Fn(&str, f32, f32) + Send + 'static,
    ) -> Result<(), ShowError> {
        let mut slot = self.level.lock().unwrap_or_else(|e| e.into_inner());
        *slot = None;
        let Some(audio) = audio else { return Ok(()) };
        let spec = audio
            .parse()
            .map_err(|e: marquee_capture::CaptureError| ShowError::Settings(e.to_string()))?;
        let input = audio.to_string();
        *slot = Some(
            LevelPreview::start(&spec, Duration::from_millis(100), move |p, r| {
                on_level(&input, p, r)
            })
            .map_err(ShowError::Engine)?,
        );
        Ok(())
    }

    /// The stream's address (the server starts on first use): `http://127.0.0.1:PORT/preview/TOKEN.mjpg`.
    pub fn url(self: &Arc<Self>) -> Result<String, ShowError> {
        let mut url = self.url.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = url.as_ref() {
            return Ok(u.clone());
        }
        let io = |e: std::io::Error| {
            ShowError::Internal(format!("the preview could not start its local stream: {e}"))
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).map_err(|e| ShowError::Internal(e.to_string()))?;
        let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let path = format!("/preview/{token}.mjpg");
        let u = format!("http://{}{path}", listener.local_addr().map_err(io)?);
        let hub = self.clone();
        mjpeg::serve(
            listener,
            path,
            self.limits,
            self.refusals.clone(),
            move |target, feed| hub.register(target, feed),
        )
        .map_err(io)?;
        *url = Some(u.clone());
        Ok(u)
    }

    /// See the `gate` field: take it around going live and around opening a device preview.
    pub fn gate(&self) -> std::sync::MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds a new connection; streams of other addresses are parked (kept open, unfed).
    fn register(&self, target: String, tx: Feed) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        let (same, older): (Vec<_>, Vec<_>) = clients.drain(..).partition(|(t, _)| *t == target);
        *clients = same;
        clients.push((target, tx));
        parked.extend(older.into_iter().map(|(_, tx)| tx));
        let excess = parked.len().saturating_sub(PARKED);
        parked.drain(..excess);
    }

    /// Pictures being shown: connections by distinct address (WebKit may open two for one image).
    fn viewers(&self) -> u32 {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let mut targets: Vec<&str> = clients.iter().map(|(t, _)| t.as_str()).collect();
        targets.sort_unstable();
        targets.dedup();
        targets.len() as u32
    }

    /// Whether a camera is open for the device preview.
    pub fn showing_source(&self) -> bool {
        self.capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn frame(bytes: usize, index: i64) -> PreviewFrame {
        PreviewFrame {
            jpeg: vec![0xAB; bytes],
            width: 640,
            height: 360,
            index,
            at: Duration::from_millis(1400),
            age: Duration::from_millis(30),
            encode: Duration::from_micros(2500),
        }
    }

    fn get(url: &str, path: &str) -> std::net::TcpStream {
        let addr = url.trim_start_matches("http://").split('/').next().unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        c
    }

    /// Reads until `needle` has been seen (or the peer closes); returns what was read.
    fn read_until(c: &mut std::net::TcpStream, needle: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(needle.len()).any(|w| w == needle) {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    }

    #[test]
    fn only_the_tokened_path_streams_and_each_picture_is_a_part() {
        let hub = Arc::new(PreviewHub::default());
        let url = hub.url().unwrap();
        assert_eq!(hub.url().unwrap(), url, "one server, one address");
        let path = &url[url.find("/preview/").unwrap()..];
        assert!(
            path.len() > "/preview/.mjpg".len() + 30,
            "a long random token: {path}"
        );

        let mut stranger = get(&url, "/preview/guess.mjpg");
        assert!(read_until(&mut stranger, b"\r\n\r\n").starts_with(b"HTTP/1.1 404"));

        let mut viewer = get(&url, path);
        let head = read_until(&mut viewer, b"\r\n\r\n");
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.contains("multipart/x-mixed-replace; boundary=frame"),
            "{head}"
        );
        // The viewer is registered once its head is written; then pictures flow.
        for _ in 0..100 {
            if hub.info().viewers == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        hub.send(frame(1000, 1));
        let got = read_until(&mut viewer, &[0xAB; 1000]);
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.contains("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n"),
            "{got}"
        );
        let info = hub.info();
        assert_eq!((info.sent, info.viewers), (1, 1));
        assert_eq!(info.url.as_deref(), Some(url.as_str()));
        assert!((info.encode_ms - 2.5).abs() < 1e-9 && (info.ready_ms - 30.0).abs() < 1e-9);
    }

    #[test]
    fn a_viewer_that_does_not_read_is_skipped_never_waited_for() {
        let hub = Arc::new(PreviewHub::default());
        let url = hub.url().unwrap();
        let path = url[url.find("/preview/").unwrap()..].to_string();
        let _stuck = get(&url, &path); // never reads
        for _ in 0..100 {
            if hub.info().viewers == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let t = Instant::now();
        for i in 0..400 {
            hub.send(frame(200_000, i)); // 80 MB: far more than the socket buffers hold
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(hub.info().busy > 100, "{:?}", hub.info());
    }

    /// Sends pictures until `c` has read one; whether it did.
    fn feed_until_read(hub: &PreviewHub, c: &mut std::net::TcpStream) -> bool {
        c.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let mut got = Vec::new();
        for i in 0..200 {
            hub.send(PreviewFrame {
                jpeg: vec![0xCD; 500],
                ..frame(0, i)
            });
            std::thread::sleep(Duration::from_millis(10));
            let mut buf = [0u8; 4096];
            if let Ok(n) = c.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            if got.windows(500).any(|w| w == [0xCD; 500]) {
                return true;
            }
        }
        false
    }

    #[test]
    fn a_new_picture_address_parks_the_older_streams_and_same_address_ones_are_fed() {
        let hub = Arc::new(PreviewHub::default());
        let url = hub.url().unwrap();
        let path = url[url.find("/preview/").unwrap()..].to_string();
        let mut old = get(&url, &format!("{path}?v=1"));
        read_until(&mut old, b"\r\n\r\n");
        let mut new = get(&url, &format!("{path}?v=2"));
        read_until(&mut new, b"\r\n\r\n");
        let mut twin = get(&url, &format!("{path}?v=2"));
        read_until(&mut twin, b"\r\n\r\n");
        assert!(
            feed_until_read(&hub, &mut new),
            "the newest picture gets pictures"
        );
        assert!(
            feed_until_read(&hub, &mut twin),
            "so does its twin connection"
        );
        assert_eq!(hub.info().viewers, 1, "one picture fed");
        // The older stream is parked: still open (no close), but sent nothing.
        old.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 4096];
        match old.read(&mut buf) {
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{e}"
            ),
            Ok(n) => panic!("the parked stream got {n} bytes (0 = closed)"),
        }
    }

    #[test]
    fn no_viewer_no_work_and_the_rate_is_measured() {
        let hub = PreviewHub::default();
        for i in 0..3 {
            hub.send(frame(10, i));
            std::thread::sleep(Duration::from_millis(20));
        }
        let info = hub.info();
        assert_eq!((info.sent, info.viewers, info.url.as_deref()), (0, 0, None));
        assert!(info.fps > 10.0 && info.fps < 60.0, "{info:?}");
    }
}
