//! Live counters, readable from any thread; snapshots serialise for the UI and the CLI.

use crate::output::policy::DropCounts;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A latency histogram with 0.1 ms buckets up to 10 s (larger values land in the last).
#[derive(Debug)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: vec![0; 100_001],
            count: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let i = ((d.as_micros() / 100) as usize).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.count += 1;
    }

    /// The q-quantile (0..=1) in milliseconds, or None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let target = ((self.count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Some((i as f64 + 0.5) / 10.0);
            }
        }
        None
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Counters of the video path.
#[derive(Debug, Default)]
pub struct VideoCounters {
    pub frames: AtomicU64,
    pub repeated: AtomicU64,
    pub slate: AtomicU64,
    /// Ticks skipped because the compositor fell far behind.
    pub render_lag: AtomicU64,
    /// Frames dropped because the encoder was behind.
    pub encoder_lag: AtomicU64,
    pub encoded: AtomicU64,
    pub bytes: AtomicU64,
    /// Time from tick to encoded packet, last value in µs.
    pub encode_us: AtomicU64,
    /// Source frames never shown because a newer one was due (a camera faster than the
    /// output), over all sources.
    pub superseded: AtomicU64,
    /// The bitrate adaptive bitrate wants, kbit/s (0: the rate the encoder opened with).
    pub target_kbps: Arc<std::sync::atomic::AtomicU32>,
}

/// Counters of the audio path.
#[derive(Debug, Default)]
pub struct AudioCounters {
    pub chunks: AtomicU64,
    pub encoded: AtomicU64,
    pub padded_samples: AtomicU64,
    pub dropped_samples: AtomicU64,
    /// Samples the mixer wanted but an input had not delivered yet (played as silence).
    pub underrun_samples: AtomicU64,
    /// The mixer's current delay behind real time.
    pub buffer_ms: AtomicU64,
    pub encoder_lag: AtomicU64,
    /// Last chunk's levels in hundredths of dB (negative), for meters.
    pub peak_cdb: std::sync::atomic::AtomicI64,
    pub rms_cdb: std::sync::atomic::AtomicI64,
    /// Each input's last levels (the main input, then camera microphones).
    pub inputs: std::sync::Mutex<Vec<InputLevel>>,
}

/// One audio input's levels, for its meter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputLevel {
    pub input: String,
    pub peak_db: f32,
    pub rms_db: f32,
}

/// A destination's (or the recording's) life, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutputState {
    Connecting {
        attempt: u32,
    },
    Live,
    Reconnecting {
        attempt: u32,
        retry_in_ms: u64,
        reason: String,
    },
    Failed {
        reason: String,
    },
    Stopped,
}

impl std::fmt::Display for OutputState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connecting { attempt } if *attempt <= 1 => write!(f, "connecting"),
            Self::Connecting { attempt } => write!(f, "connecting #{attempt}"),
            Self::Live => write!(f, "live"),
            Self::Reconnecting { attempt, .. } => write!(f, "reconnecting #{attempt}"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
            Self::Stopped => write!(f, "stopped"),
        }
    }
}

/// Per-output counters.
#[derive(Debug)]
pub struct OutputCounters {
    /// Redacted URL or file path.
    pub name: String,
    pub state: Mutex<OutputState>,
    pub bytes: AtomicU64,
    pub packets: AtomicU64,
    pub dropped: Mutex<DropCounts>,
    pub reconnects: AtomicU64,
    pub queued_ms: AtomicU64,
    pub latency: Mutex<Histogram>,
    /// The live connection's socket, as the kernel sees it (RTMP on Linux).
    pub link: crate::output::link::LinkProbe,
}

impl OutputCounters {
    pub fn new(name: String) -> Self {
        Self {
            name,
            state: Mutex::new(OutputState::Connecting { attempt: 1 }),
            bytes: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            dropped: Mutex::new(DropCounts::default()),
            reconnects: AtomicU64::new(0),
            queued_ms: AtomicU64::new(0),
            latency: Mutex::new(Histogram::default()),
            link: Default::default(),
        }
    }

    pub fn state(&self) -> OutputState {
        self.state.lock().expect("state lock").clone()
    }

    pub fn snapshot(&self) -> OutputSnapshot {
        let lat = self.latency.lock().expect("latency lock");
        OutputSnapshot {
            url: self.name.clone(),
            state: self.state(),
            bytes: self.bytes.load(Ordering::Relaxed),
            packets: self.packets.load(Ordering::Relaxed),
            dropped: *self.dropped.lock().expect("drop lock"),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            queued_ms: self.queued_ms.load(Ordering::Relaxed),
            latency_p50_ms: lat.quantile_ms(0.5),
            latency_p99_ms: lat.quantile_ms(0.99),
            rtt_ms: self.link.sample().map(|l| l.rtt_us as f64 / 1000.0),
        }
    }
}

/// What the status line and the UI show of adaptive bitrate.
#[derive(Debug, Clone, Serialize)]
pub struct AbrSnapshot {
    pub target_kbps: u32,
    pub min_kbps: u32,
    pub max_kbps: u32,
    pub changes: u64,
    /// Why the target last changed, and when (session seconds).
    pub reason: Option<crate::output::abr::AbrReason>,
    pub changed_at_s: Option<f64>,
}

/// A point-in-time copy of an output's counters.
#[derive(Debug, Clone, Serialize)]
pub struct OutputSnapshot {
    pub url: String,
    pub state: OutputState,
    pub bytes: u64,
    pub packets: u64,
    pub dropped: DropCounts,
    pub reconnects: u64,
    pub queued_ms: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// The connection's smoothed round trip, where the kernel says (RTMP on Linux).
    pub rtt_ms: Option<f64>,
}

/// Everything the status line and the UI show.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    pub session_s: f64,
    pub video: VideoSnapshot,
    pub audio: AudioSnapshot,
    pub destinations: Vec<OutputSnapshot>,
    pub recording: Option<OutputSnapshot>,
    /// Process CPU time so far, seconds (user + system).
    pub cpu_s: f64,
    pub rss_bytes: u64,
    /// Adaptive bitrate, when on.
    pub abr: Option<AbrSnapshot>,
    /// Each remote camera (SRT/RTMP listener source), in source order.
    pub remote: Vec<RemoteSnapshot>,
}

/// A remote camera: what its senders have sent so far.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteSnapshot {
    /// The source's id.
    pub id: String,
    pub state: marquee_capture::SourceState,
    /// Media bytes received from senders (every track's packets, without the container).
    pub bytes: u64,
    /// How far behind its sender the picture is, while one is on (see
    /// [`marquee_capture::remote_latency`]).
    pub latency_ms: Option<f64>,
    /// The last such estimate while a sender was on (the summary's).
    pub last_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoSnapshot {
    pub encoder: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub frames: u64,
    pub encoded: u64,
    pub bytes: u64,
    pub repeated: u64,
    pub slate: u64,
    pub encode_ms: f64,
    pub dropped: VideoDrops,
}

/// Video frames lost before the outputs, by cause.
#[derive(Debug, Clone, Serialize)]
pub struct VideoDrops {
    /// The source delivered faster than the compositor took frames.
    pub capture_queue_full: u64,
    pub render_lag: u64,
    pub encoder_lag: u64,
    /// Camera frames replaced by a newer one before their tick (not an error: a camera
    /// faster than the output fps).
    pub superseded: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AudioSnapshot {
    pub chunks: u64,
    pub encoded: u64,
    pub padded_samples: u64,
    pub dropped_samples: u64,
    pub underrun_samples: u64,
    pub buffer_ms: u64,
    pub capture_queue_full: u64,
    pub encoder_lag: u64,
    pub peak_db: f32,
    pub rms_db: f32,
    /// Per input (the mix above is their sum).
    pub inputs: Vec<InputLevel>,
}

/// CPU seconds used by this process so far.
pub fn process_cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills a plain struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return tv(ru.ru_utime) + tv(ru.ru_stime);
        }
    }
    0.0
}

/// Resident memory of this process in bytes (0 where unknown).
pub fn process_rss_bytes() -> u64 {
    #[cfg(target_os = "linux")]
    {
        if let Some(pages) = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        {
            return pages * 4096;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.quantile_ms(0.5).map(|v| v.round()), Some(50.0));
        assert_eq!(h.quantile_ms(0.99).map(|v| v.round()), Some(99.0));
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
    }
}
