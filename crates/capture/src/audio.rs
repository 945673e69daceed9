//! Audio sources: a tone generator on the session clock, and microphones through cpal.

use crate::camera::{SourceHandle, SourceState, SourceStatus};
use crate::{AudioBlock, CaptureError, SessionClock, Sink};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Output rate of every source that makes its own samples, and of the mixer.
pub const RATE: u32 = 48_000;

/// A sine tone at `hz`, -12 dBFS, stereo 48 kHz, in 10 ms blocks stamped by sample count.
pub fn spawn_tone(hz: f64, clock: SessionClock, sink: Sink<AudioBlock>) -> SourceHandle {
    const BLOCK: u64 = 480;
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(SourceStatus::default());
    let (stop2, status2) = (stop.clone(), status.clone());
    let thread = std::thread::Builder::new()
        .name("tone".into())
        .spawn(move || {
            status2.set(SourceState::Live);
            let step = std::f64::consts::TAU * hz / RATE as f64;
            let mut n = 0u64;
            loop {
                let start = Duration::from_nanos(n * 1_000_000_000 / RATE as u64);
                // Made as its first sample is due; the mixer runs a little behind real time.
                if !clock.sleep_until(start, &stop2) {
                    break;
                }
                let mut samples = Vec::with_capacity(2 * BLOCK as usize);
                for i in 0..BLOCK {
                    let v = (((n + i) as f64 * step).sin() * 0.25) as f32;
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
    pub channels: Vec<u16>,
    pub sample_rates: Vec<u32>,
}

/// Lists input devices of the default audio host.
pub fn list_microphones() -> Result<Vec<MicInfo>, CaptureError> {
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
        channels.sort_unstable();
        rates.sort_unstable();
        out.push(MicInfo {
            is_default: default_id.as_ref() == Some(&id),
            id: id.to_string(),
            description,
            channels,
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
    let host = cpal::default_host();
    let open_err = |reason: String| CaptureError::Open {
        device: format!("microphone '{spec}'"),
        tried: format!("{} host, 48 kHz preferred", host.id()),
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
    let supported = device
        .supported_input_configs()
        .map_err(|e| open_err(e.to_string()))?
        .filter(|c| {
            c.sample_format() == cpal::SampleFormat::F32
                || c.sample_format() == cpal::SampleFormat::I16
        })
        .collect::<Vec<_>>();
    let pick = supported
        .iter()
        .find(|c| c.sample_format() == cpal::SampleFormat::F32 && c.contains_rate(RATE))
        .or_else(|| supported.iter().find(|c| c.contains_rate(RATE)))
        .cloned()
        .map(|c| c.with_sample_rate(RATE))
        .or_else(|| device.default_input_config().ok())
        .ok_or_else(|| open_err("the device offers no usable format".into()))?;
    let format = pick.sample_format();
    let config: cpal::StreamConfig = pick.config();
    let (rate, channels) = (config.sample_rate, config.channels);

    let status = Arc::new(SourceStatus::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (status2, stop2) = (status.clone(), stop.clone());
    let name = format!("microphone '{spec}'");
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    // cpal streams are not Send on every platform: own the stream on its own thread.
    let thread = std::thread::Builder::new()
        .name("mic".into())
        .spawn(move || {
            let err_status = status2.clone();
            let on_err = move |e: cpal::Error| {
                tracing::warn!("microphone error: {e}");
                err_status.set(SourceState::Lost);
            };
            let stamp = move |info: &cpal::InputCallbackInfo| {
                let ts = info.timestamp();
                let delay = ts.callback.saturating_duration_since(ts.capture);
                clock.now().saturating_sub(delay)
            };
            let st = status2.clone();
            let stream = match format {
                cpal::SampleFormat::I16 => {
                    let sink = sink.clone();
                    device.build_input_stream::<i16, _, _>(
                        config,
                        move |data, info| {
                            st.set(SourceState::Live);
                            let samples = data.iter().map(|s| *s as f32 / 32768.0).collect();
                            sink.send(AudioBlock {
                                rate,
                                channels,
                                samples,
                                captured: stamp(info),
                            });
                        },
                        on_err,
                        Some(Duration::from_secs(5)),
                    )
                }
                _ => device.build_input_stream::<f32, _, _>(
                    config,
                    move |data, info| {
                        st.set(SourceState::Live);
                        sink.send(AudioBlock {
                            rate,
                            channels,
                            samples: data.to_vec(),
                            captured: stamp(info),
                        });
                    },
                    on_err,
                    Some(Duration::from_secs(5)),
                ),
            };
            let stream = match stream.and_then(|s| s.play().map(|_| s)) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
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
