//! The preview and the input meter before going live: `preview_info`, the `audio_level` event.
//! The preview itself is `marquee_show::preview`.

use serde::Serialize;
use ts_rs::TS;

/// Levels of one audio input, dBFS (−120 is silence).
#[derive(Debug, Clone, Serialize, TS)]
pub struct AudioLevel {
    pub input: String,
    pub peak_db: f32,
    pub rms_db: f32,
}

/// The preview stream and what the page cannot measure itself (`preview_info`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct PreviewInfo {
    /// `http://127.0.0.1:PORT/preview/TOKEN.mjpg` once started (`preview_url`).
    pub url: Option<String>,
    /// Pictures made per second, over the last 2 s.
    pub fps: f64,
    /// Median time to scale and encode a picture, ms.
    pub encode_ms: f64,
    /// Median time from the picture's capture (compositor tick) to its JPEG being ready, ms.
    pub ready_ms: f64,
    /// Wall-clock time (ms since 1970) of the shown source's clock zero, as of this reading:
    /// with the test card's frame code, a page can tell how old the picture it shows is.
    pub clock_origin_unix_ms: f64,
    /// Previews being fed now (by address; an older address is parked, see `preview.rs`).
    pub viewers: u32,
    /// Pictures handed to viewers.
    #[ts(type = "number")]
    pub sent: u64,
    /// Pictures a viewer was still busy with (it got the next one instead).
    #[ts(type = "number")]
    pub busy: u64,
    /// Connections the preview's local server refused (malformed, too large or too slow
    /// requests, a foreign `Host`, over a cap).
    #[ts(type = "number")]
    pub refused: u64,
}

impl From<marquee_show::PreviewInfo> for PreviewInfo {
    fn from(i: marquee_show::PreviewInfo) -> Self {
        Self {
            url: i.url,
            fps: i.fps,
            encode_ms: i.encode_ms,
            ready_ms: i.ready_ms,
            clock_origin_unix_ms: i.clock_origin_unix_ms,
            viewers: i.viewers,
            sent: i.sent,
            busy: i.busy,
            refused: i.refused,
        }
    }
}
