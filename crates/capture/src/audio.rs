//! Audio sources: a tone generator on the session clock, and microphones through cpal.

use crate::camera::{SourceHandle, SourceState, SourceStatus};
use crate::clock::SessionClock;
use crate::error::CaptureError;
use crate::frame::AudioBlock;
use crate::sink::Sink;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Output rate of every source that makes its own samples, and of the mixer.
pub const RATE: u32 = 48_000;

/// Length of the silent sync mark at the start of every second of the tone.
pub const TONE_MARK: Duration = Duration::from_millis(20);

/// How far ahead of its time the tone is made. Its samples are known in advance and stamped
/// exactly, so they can wait in the mixer's input: a tone thread starved of CPU for less than
/// this (plus the mixer's own delay) still delivers before its time is mixed, instead of
/// leaving silence that a sync measurement would take for the mark. Well under what the
/// mixer's input queue holds.
pub const TONE_LEAD: Duration = Duration::from_millis(200);

/// The tone's sample `n` (48 kHz): a sine at `hz`, -12 dBFS, silent for [`TONE_MARK`] at
/// each whole second of session time. The synthetic camera stamps each frame's session
/// time, so A/V sync can be measured from content: the gap's onset must meet the frame
/// whose code says `session_ms % 1000 == 0`.
pub fn tone_sample(n: u64, hz: f64) -> f32 {
    let mark = TONE_MARK.as_nanos() as u64 * RATE as u64 / 1_000_000_000;
    if n % RATE as u64 <= mark {
        return 0.0;
    }
    ((n as f64 * std::f64::consts::TAU * hz / RATE as f64).sin() * 0.25) as f32
}

/// A sine tone at `hz` (see [`tone_sample`]), stereo 48 kHz, in 10 ms blocks stamped by
/// sample count, each made [`TONE_LEAD`] before its first sample is due.
pub fn spawn_tone(hz: f64, clock: SessionClock, sink: Sink<AudioBlock>) -> SourceHandle {
    const BLOCK: u64 = 480;
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(SourceStatus::default());
    let (stop2, status2) = (stop.clone(), status.clone());
    let thread = std::thread::Builder::new()
        .name("tone".into())
        .spawn(move || {
            status2.set(SourceState::Live);
            let mut n = 0u64;
            loop {
                let start = Duration::from_nanos(n * 1_000_000_000 / RATE as u64);
                if !clock.sleep_until(start.saturating_sub(TONE_LEAD), &stop2) {
                    break;
                }
                let mut samples = Vec::with_capacity(2 * BLOCK as usize);
                for i in 0..BLOCK {
                    let v = tone_sample(n + i, hz);
                    samples.push(v);
                    samples.push(v);
                }
                n += BLOCK;
                let block = AudioBlock {
                    rate: RATE,
                    channels: 2,
                    samples,
                    captured: start,
                };
                if !sink.send(block) {
                    break;
                }
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
    SourceHandle::new(format!("tone {hz} Hz"), status, stop, thread)
}

/// A microphone as `devices` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MicInfo {
    pub id: String,
    pub description: String,
    pub is_default: bool,
    pub min_channels: u16,
    pub max_channels: u16,
    /// Common rates the device accepts.
    pub sample_rates: Vec<u32>,
}

/// Runs `f` with the process's stderr pointed at /dev/null: ALSA, JACK and OSS plugins
/// print probing noise there while devices are enumerated or opened.
pub fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    {
        // SAFETY: plain fd juggling; fd 2 is restored before returning.
        unsafe {
            let saved = libc::dup(2);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if saved >= 0 && null >= 0 {
                libc::dup2(null, 2);
                libc::close(null);
                let r = f();
                libc::dup2(saved, 2);
                libc::close(saved);
                return r;
            }
            if null >= 0 {
                libc::close(null);
            }
            if saved >= 0 {
                libc::close(saved);
            }
        }
    }
    f()
}

/// Lists input devices of the default audio host that offer at least one usable format.
pub fn list_microphones() -> Result<Vec<MicInfo>, CaptureError> {
    quiet_stderr(list_microphones_noisy)
}

fn list_microphones_noisy() -> Result<Vec<MicInfo>, CaptureError> {
    let host = cpal::default_host();
    let default_id = host.default_input_device().and_then(|d| d.id().ok());
    let devices = match host.input_devices() {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!("input devices: {e}");
            return Ok(Vec::new());
        }
    };
    let mut out = Vec::new();
    for dev in devices {
        let Ok(id) = dev.id() else { continue };
        let description = dev
            .description()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|_| id.id().to_string());
        let mut channels = Vec::new();
        let mut rates = Vec::new();
        if let Ok(cfgs) = dev.supported_input_configs() {
            for c in cfgs {
                if !channels.contains(&c.channels()) {
                    channels.push(c.channels());
                }
                for r in [8_000, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000] {
                    if c.min_sample_rate() <= r && r <= c.max_sample_rate() && !rates.contains(&r) {
                        rates.push(r);
                    }
                }
            }
        }
        if channels.is_empty() {
            // A plugin entry (rate converter, JACK without a server…), not a capture device.
            continue;
        }
        rates.sort_unstable();
        out.push(MicInfo {
            is_default: default_id.as_ref() == Some(&id),
            id: id.to_string(),
            description,
            min_channels: channels.iter().copied().min().unwrap_or(0),
            max_channels: channels.iter().copied().max().unwrap_or(0),
            sample_rates: rates,
        });
    }
    Ok(out)
}

/// Opens a microphone (`default`, a device id as `devices` prints it, or part of its
/// description). The callback only copies, stamps and sends; conversion to 48 kHz stereo
/// happens in the mixer. Prefers 48 kHz when the device offers it.
pub fn spawn_mic(
    spec: &str,
    clock: SessionClock,
    sink: Sink<AudioBlock>,
) -> Result<SourceHandle, CaptureError> {
    quiet_stderr(|| spawn_mic_noisy(spec, clock, sink))
}

fn spawn_mic_noisy(
    spec: &str,
    clock: SessionClock,
    sink: Sink<AudioBlock>,
) -> Result<SourceHandle, CaptureError> {
    let host = cpal::default_host();
    let open_err = |reason: String| CaptureError::Open {
        device: format!("microphone '{spec}'"),
        tried: format!(
            "{} host: 48 kHz stereo/mono f32/i16, then the device default",
            host.id()
        ),
        reason,
    };
    let device = if spec == "default" {
        host.default_input_device()
            .ok_or_else(|| open_err("there is no default input device".into()))?
    } else {
        let mut found = None;
        for d in host.input_devices().map_err(|e| open_err(e.to_string()))? {
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            let desc = d
                .description()
                .map(|x| x.name().to_string())
                .unwrap_or_default();
            if id == spec || id.ends_with(&format!(":{spec}")) || desc.contains(spec) {
                found = Some(d);
                break;
            }
        }
        found.ok_or_else(|| open_err("no such input device (see `marquee devices`)".into()))?
    };
    // Try the formats that need no conversion directly: enumerating every supported
    // config (ALSA probes each channel count) can take seconds.
    let mut candidates: Vec<(cpal::SampleFormat, cpal::StreamConfig)> = Vec::new();
    for (fmt, ch) in [
        (cpal::SampleFormat::F32, 2),
        (cpal::SampleFormat::I16, 2),
        (cpal::SampleFormat::F32, 1),
        (cpal::SampleFormat::I16, 1),
    ] {
        candidates.push((
            fmt,
            cpal::StreamConfig {
                channels: ch,
                sample_rate: RATE,
                // 10 ms periods keep the capture latency (and the start-up backlog) small.
                buffer_size: cpal::BufferSize::Fixed(RATE / 100),
            },
        ));
    }
    if let Ok(def) = device.default_input_config() {
        candidates.push((def.sample_format(), def.config()));
    }

    let status = Arc::new(SourceStatus::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (status2, stop2) = (status.clone(), stop.clone());
    let name = format!("microphone '{spec}'");
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    // cpal streams are not Send on every platform: own the stream on its own thread.
    let thread = std::thread::Builder::new()
        .name("mic".into())
        .spawn(move || {
            let mut last_err = String::from("no usable format");
            let mut stream = None;
            for (fmt, config) in candidates {
                match build_mic_stream(&device, fmt, config, clock.clone(), &sink, &status2) {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last_err = e,
                }
            }
            let Some(stream) = stream else {
                let _ = ready_tx.send(Err(last_err));
                return;
            };
            let _ = ready_tx.send(Ok(()));
            while !stop2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(stream);
        })
        .map_err(|e| open_err(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(SourceHandle::new(name, status, stop, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(open_err(e))
        }
        Err(_) => Err(open_err(
            "the audio thread ended before the stream started".into(),
        )),
    }
}

/// Builds and starts an input stream whose callback only copies, stamps and sends.
fn build_mic_stream(
    device: &cpal::Device,
    format: cpal::SampleFormat,
    config: cpal::StreamConfig,
    clock: SessionClock,
    sink: &Sink<AudioBlock>,
    status: &Arc<SourceStatus>,
) -> Result<cpal::Stream, String> {
    let (rate, channels) = (config.sample_rate, config.channels);
    let err_status = status.clone();
    let on_err = move |e: cpal::Error| {
        tracing::warn!("microphone error: {e}");
        err_status.set(SourceState::Lost);
    };
    // The first sample of a callback was captured `callback - capture` ago.
    let stamp = move |info: &cpal::InputCallbackInfo| {
        // Audio from before the session starts is pre-roll: not sent.
        if !clock.is_started() {
            return None;
        }
        let ts = info.timestamp();
        Some(
            clock
                .now()
                .saturating_sub(ts.callback.saturating_duration_since(ts.capture)),
        )
    };
    let (st, sink) = (status.clone(), sink.clone());
    let timeout = Some(Duration::from_secs(5));
    let stream = match format {
        cpal::SampleFormat::I16 => device.build_input_stream::<i16, _, _>(
            config,
            move |data, info| {
                st.set(SourceState::Live);
                if let Some(captured) = stamp(info) {
                    let samples = data.iter().map(|s| *s as f32 / 32768.0).collect();
                    sink.send(AudioBlock {
                        rate,
                        channels,
                        samples,
                        captured,
                    });
                }
            },
            on_err,
            timeout,
        ),
        cpal::SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
            config,
            move |data, info| {
                st.set(SourceState::Live);
                if let Some(captured) = stamp(info) {
                    sink.send(AudioBlock {
                        rate,
                        channels,
                        samples: data.to_vec(),
                        captured,
                    });
                }
            },
            on_err,
            timeout,
        ),
        other => return Err(format!("sample format {other:?} is not supported")),
    }
    .map_err(|e| e.to_string())?;
    stream.play().map_err(|e| e.to_string())?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tone_is_silent_for_the_mark_at_each_whole_second() {
        let mark = (TONE_MARK.as_secs_f64() * RATE as f64) as u64;
        for second in 0..3u64 {
            let base = second * RATE as u64;
            assert!((base..=base + mark).all(|n| tone_sample(n, 440.0) == 0.0));
            let after: f32 = (base + mark + 1..base + mark + 480)
                .map(|n| tone_sample(n, 440.0).abs())
                .fold(0.0, f32::max);
            assert!(after > 0.2);
        }
    }
}
