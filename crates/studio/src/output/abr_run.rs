//! The adaptive bitrate controller ([`super::abr::Abr`]) at work beside a session: it samples
//! the primary destination (its send queue and what reached its socket) when the controller
//! asks, and hands each new target to the video encoder, which applies it between two frames.
//! Only the primary destination steers: a slow secondary one drops frames as before and never
//! drags the others down.

use super::abr::{Abr, AbrChange, AbrConfig, AbrSample};
use crate::stats::{AbrSnapshot, OutputCounters, OutputState};
use marquee_capture::clock::SessionClock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The controller's state as the stats show it.
#[derive(Debug)]
pub struct AbrStatus {
    cfg: AbrConfig,
    target: AtomicU32,
    changes: AtomicU64,
    last: Mutex<Option<(AbrChange, Duration)>>,
}

impl AbrStatus {
    pub fn new(cfg: AbrConfig) -> Arc<Self> {
        Arc::new(Self {
            target: AtomicU32::new(cfg.max_kbps),
            cfg,
            changes: AtomicU64::new(0),
            last: Mutex::new(None),
        })
    }

    pub fn snapshot(&self) -> AbrSnapshot {
        let last = *self.last.lock().expect("abr status");
        AbrSnapshot {
            target_kbps: self.target.load(Ordering::Relaxed),
            min_kbps: self.cfg.min_kbps,
            max_kbps: self.cfg.max_kbps,
            changes: self.changes.load(Ordering::Relaxed),
            reason: last.map(|(c, _)| c.reason),
            changed_at_s: last.map(|(_, at)| at.as_secs_f64()),
        }
    }

    fn changed(&self, c: AbrChange, at: Duration) {
        self.target.store(c.kbps, Ordering::Relaxed);
        self.changes.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().expect("abr status") = Some((c, at));
    }
}

/// One sample of the primary destination. Where the kernel tells (RTMP on Linux) the
/// throughput is what the peer acknowledged and the bytes still in the socket count as
/// queue, at the rate the link carries; elsewhere it is what was written into the socket.
fn observe(
    primary: &OutputCounters,
    now: Duration,
    last: &mut Option<(Duration, u64, bool)>,
    target_kbps: u32,
) -> AbrSample {
    let link = primary.link.sample();
    let sent = link.map_or(primary.bytes.load(Ordering::Relaxed), |l| l.bytes_acked);
    // A new connection (its counter starts again) or another counter: no rate this time.
    let throughput_kbps = match *last {
        Some((t, b, was_link)) if now > t && sent >= b && was_link == link.is_some() => {
            ((sent - b) as f64 * 8.0 / 1000.0 / (now - t).as_secs_f64()) as u32
        }
        _ => 0,
    };
    *last = Some((now, sent, link.is_some()));
    let queued = Duration::from_millis(primary.queued_ms.load(Ordering::Relaxed));
    let in_socket = link.map_or(Duration::ZERO, |l| {
        let drain_kbps = throughput_kbps.max(target_kbps / 4).max(1);
        Duration::from_secs_f64(l.in_socket as f64 * 8.0 / 1000.0 / drain_kbps as f64)
    });
    AbrSample {
        at: now,
        queue_delay: queued + in_socket,
        throughput_kbps,
        connected: matches!(primary.state(), OutputState::Live),
    }
}

/// Runs the controller until `stop`: samples `primary` on `clock`, publishes each new
/// target to `encoder_target` (kbit/s; the encoder thread reads it before every frame).
pub(crate) fn spawn(
    status: Arc<AbrStatus>,
    primary: Arc<OutputCounters>,
    encoder_target: Arc<AtomicU32>,
    clock: SessionClock,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    crate::util::spawn_thread("abr", move || {
        let mut abr = Abr::new(status.cfg);
        let mut last = None;
        while !stop.load(Ordering::Relaxed) {
            let now = clock.now();
            let due = abr.next_sample_at();
            if now < due {
                std::thread::sleep((due - now).min(Duration::from_millis(100)));
                continue;
            }
            let sample = observe(&primary, now, &mut last, abr.target_kbps());
            if let Some(change) = abr.on_sample(sample) {
                tracing::info!(
                    kbps = change.kbps,
                    reason = ?change.reason,
                    "adaptive bitrate: new target"
                );
                encoder_target.store(change.kbps, Ordering::Relaxed);
                status.changed(change, now);
            }
        }
    })
}
