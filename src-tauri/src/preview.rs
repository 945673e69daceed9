//! The preview's path to the webview: JPEGs from `marquee_studio::preview` as raw bytes over a
//! Tauri [`Channel`] (an `ArrayBuffer` in JS, no base64, no JSON), with credit-based flow
//! control: at most [`IN_FLIGHT`] pictures are on their way; the UI acks each one it drew
//! (`preview_ack`). A busy or hidden webview therefore lowers the preview's rate instead of
//! queueing pictures (memory) or showing old ones (latency).
//!
//! Each message is a 24-byte little-endian header, then the JPEG:
//! `u32 index | f64 captured_unix_ms | u16 width | u16 height | u32 encode_us | u32 dropped`.
//! `captured_unix_ms` is the wall-clock time of the compositor tick that made the picture
//! (session clock now − the picture's age), so the UI measures capture→display latency.
//!
//! Two sources feed it: the live session's frame tap (what goes out), or before going live a
//! [`CapturePreview`] of the chosen camera alone (no encoder running for nobody).

use crate::error::{AppError, ErrorCode};
use marquee_studio::preview::{
    CapturePreview, LevelPreview, Now, Preview, PreviewConfig, PreviewFrame,
};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tauri::ipc::{Channel, InvokeResponseBody};

/// The preview's rate while live (what goes out) and before (a camera alone).
pub const LIVE_FPS: u32 = 30;
pub const IDLE_FPS: u32 = 20;
/// Pictures sent but not yet acknowledged by the UI, at most.
pub const IN_FLIGHT: u32 = 2;
/// An unacknowledged picture older than this is written off (a reload, a lost ack).
const ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// Where preview pictures go. Shared by the commands and the live session.
#[derive(Default)]
pub struct PreviewHub {
    channel: Mutex<Option<Channel<InvokeResponseBody>>>,
    in_flight: AtomicU32,
    last_send: Mutex<Option<Instant>>,
    /// Pictures not sent because the webview had not drawn the previous ones.
    busy_drops: AtomicU64,
    sent: AtomicU64,
    capture: Mutex<Option<(CapturePreview, Preview)>>,
    level: Mutex<Option<LevelPreview>>,
    /// The alternative transport, measured against the channel (docs/benchmarks.md): clients
    /// of a localhost `multipart/x-mixed-replace` stream, each with a one-picture queue.
    mjpeg: Mutex<Vec<std::sync::mpsc::SyncSender<Arc<Vec<u8>>>>>,
    mjpeg_url: Mutex<Option<String>>,
}

/// The header layout (see the module docs).
pub fn encode_message(f: &PreviewFrame, captured_unix_ms: f64, dropped: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(24 + f.jpeg.len());
    m.extend_from_slice(&(f.index as u32).to_le_bytes());
    m.extend_from_slice(&captured_unix_ms.to_le_bytes());
    m.extend_from_slice(&(f.width as u16).to_le_bytes());
    m.extend_from_slice(&(f.height as u16).to_le_bytes());
    m.extend_from_slice(&(f.encode.as_micros() as u32).to_le_bytes());
    m.extend_from_slice(&dropped.to_le_bytes());
    m.extend_from_slice(&f.jpeg);
    m
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl PreviewHub {
    /// The UI's channel (again after a reload): later pictures go there.
    pub fn attach(&self, ch: Channel<InvokeResponseBody>) {
        *self.channel.lock().unwrap_or_else(|e| e.into_inner()) = Some(ch);
        self.in_flight.store(0, Ordering::Relaxed);
    }

    /// No more pictures over the channel (until `attach` again).
    pub fn detach(&self) {
        *self.channel.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub fn ack(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Hands a picture to the UI unless it is still drawing the previous ones.
    pub fn send(&self, f: PreviewFrame) {
        {
            let mut clients = self.mjpeg.lock().unwrap_or_else(|e| e.into_inner());
            if !clients.is_empty() {
                let jpeg = Arc::new(f.jpeg.clone());
                clients.retain(|c| {
                    !matches!(
                        c.try_send(jpeg.clone()),
                        Err(std::sync::mpsc::TrySendError::Disconnected(_))
                    )
                });
            }
        }
        let dropped = self.busy_drops.load(Ordering::Relaxed) as u32;
        let ch = self
            .channel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(ch) = ch else { return };
        {
            let mut last = self.last_send.lock().unwrap_or_else(|e| e.into_inner());
            if self.in_flight.load(Ordering::Relaxed) >= IN_FLIGHT {
                if last.is_some_and(|t| t.elapsed() < ACK_TIMEOUT) {
                    self.busy_drops.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                self.in_flight.store(0, Ordering::Relaxed);
            }
            *last = Some(Instant::now());
        }
        let captured = unix_ms() - f.age.as_secs_f64() * 1000.0;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.sent.fetch_add(1, Ordering::Relaxed);
        if ch
            .send(InvokeResponseBody::Raw(encode_message(
                &f, captured, dropped,
            )))
            .is_err()
        {
            self.ack();
        }
    }

    /// (sent, not sent because the webview was busy).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.busy_drops.load(Ordering::Relaxed),
        )
    }

    /// A preview worker whose pictures come here, at most `max_fps` a second; `now` is the
    /// session clock.
    pub fn worker(self: &Arc<Self>, now: Now, max_fps: u32) -> Result<Preview, AppError> {
        let hub = self.clone();
        let cfg = PreviewConfig {
            max_fps,
            ..PreviewConfig::default()
        };
        Preview::start(cfg, now, move |f| hub.send(f)).map_err(AppError::from)
    }

    /// Shows `video` (a source like `test` or `camera:0`) without going live, or nothing.
    pub fn show_source(self: &Arc<Self>, video: Option<&str>) -> Result<(), AppError> {
        let mut slot = self.capture.lock().unwrap_or_else(|e| e.into_inner());
        // Close the old camera first: a device opens once.
        *slot = None;
        let Some(video) = video else { return Ok(()) };
        let spec = video.parse().map_err(|e: marquee_capture::CaptureError| {
            AppError::new(ErrorCode::Settings, e.to_string())
        })?;
        let clock = marquee_capture::SessionClock::start();
        let c = clock.clone();
        // 20 fps is smooth for picking a camera and costs a third less than 30.
        let preview = self.worker(Arc::new(move || c.now()), IDLE_FPS)?;
        let capture = CapturePreview::start(&spec, clock, preview.tap(), 640, 360, 30)?;
        *slot = Some((capture, preview));
        Ok(())
    }

    /// Measures `audio` (a source like `tone` or `mic:ID`) for the first-run level meter,
    /// or stops measuring. Levels go to `on_level(input, peak_db, rms_db)` ten times a second.
    pub fn measure_audio(
        &self,
        audio: Option<&str>,
        on_level: impl Fn(&str, f32, f32) + Send + 'static,
    ) -> Result<(), AppError> {
        let mut slot = self.level.lock().unwrap_or_else(|e| e.into_inner());
        *slot = None;
        let Some(audio) = audio else { return Ok(()) };
        let spec = audio.parse().map_err(|e: marquee_capture::CaptureError| {
            AppError::new(ErrorCode::Settings, e.to_string())
        })?;
        let input = audio.to_string();
        *slot = Some(LevelPreview::start(
            &spec,
            Duration::from_millis(100),
            move |p, r| on_level(&input, p, r),
        )?);
        Ok(())
    }

    /// The alternative transport: a localhost MJPEG stream an `<img>` plays natively, on a
    /// random port and path (started on first use). Used by the benchmark, not by the UI.
    pub fn mjpeg_url(self: &Arc<Self>) -> Result<String, AppError> {
        let mut url = self.mjpeg_url.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = url.as_ref() {
            return Ok(u.clone());
        }
        let io = |e: std::io::Error| AppError::new(ErrorCode::Internal, e.to_string());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
        let mut token = [0u8; 12];
        getrandom::fill(&mut token)
            .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
        let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let path = format!("/preview/{token}.mjpg");
        let u = format!("http://{}{path}", listener.local_addr().map_err(io)?);
        let hub = self.clone();
        std::thread::Builder::new()
            .name("preview-mjpeg".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let (hub, path) = (hub.clone(), path.clone());
                    let _ = std::thread::Builder::new()
                        .name("preview-mjpeg-client".into())
                        .spawn(move || mjpeg_client(conn, &path, &hub));
                }
            })
            .map_err(io)?;
        *url = Some(u.clone());
        Ok(u)
    }

    /// Whether a camera is open for the device preview.
    pub fn showing_source(&self) -> bool {
        self.capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// One MJPEG viewer: checks the request path, then writes each picture as a multipart part.
fn mjpeg_client(mut conn: std::net::TcpStream, path: &str, hub: &PreviewHub) {
    use std::io::{BufRead, BufReader, Write};
    let Ok(read) = conn.try_clone() else { return };
    let mut line = String::new();
    if BufReader::new(read).read_line(&mut line).is_err()
        || line.split_whitespace().nth(1) != Some(path)
    {
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let _ = conn.set_nodelay(true);
    if conn
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        )
        .is_err()
    {
        return;
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(1);
    hub.mjpeg.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
    for jpeg in rx {
        let head = format!(
            "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        );
        if conn.write_all(head.as_bytes()).is_err()
            || conn.write_all(&jpeg).is_err()
            || conn.write_all(b"\r\n").is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_carries_index_time_and_size_before_the_jpeg() {
        let f = PreviewFrame {
            jpeg: vec![0xFF, 0xD8, 1, 2, 0xFF, 0xD9],
            width: 640,
            height: 360,
            index: 42,
            at: Duration::from_millis(1400),
            age: Duration::from_millis(30),
            encode: Duration::from_micros(2500),
        };
        let m = encode_message(&f, 1_700_000_000_123.5, 7);
        assert_eq!(m.len(), 24 + 6);
        assert_eq!(u32::from_le_bytes(m[0..4].try_into().unwrap()), 42);
        assert_eq!(
            f64::from_le_bytes(m[4..12].try_into().unwrap()),
            1_700_000_000_123.5
        );
        assert_eq!(u16::from_le_bytes(m[12..14].try_into().unwrap()), 640);
        assert_eq!(u16::from_le_bytes(m[14..16].try_into().unwrap()), 360);
        assert_eq!(u32::from_le_bytes(m[16..20].try_into().unwrap()), 2500);
        assert_eq!(u32::from_le_bytes(m[20..24].try_into().unwrap()), 7);
        assert_eq!(&m[24..], &f.jpeg[..]);
    }

    #[test]
    fn acks_never_go_below_zero() {
        let hub = PreviewHub::default();
        hub.ack();
        hub.ack();
        assert_eq!(hub.in_flight.load(Ordering::Relaxed), 0);
    }
}
