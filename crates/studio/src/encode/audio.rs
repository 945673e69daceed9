//! The audio encoder: AAC-LC, 48 kHz stereo, opened once per session; its thread encodes
//! the mixer's chunks and hands the packets to the bus.

use super::drain;
use crate::compat;
use crate::error::StudioError;
use crate::mixer::{self, AudioChunk};
use crate::packet::{Packet, PacketBus, StreamInfo, Track};
use crate::stats::AudioCounters;
use crossbeam_channel::Receiver;
use ffmpeg_next as ff;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

/// Audio settings (AAC-LC, stereo, 48 kHz).
#[derive(Debug, Clone)]
pub struct AudioSettings {
    pub bitrate_kbps: u32,
    /// Gain on the main input (the microphone), in dB; camera microphones are not changed.
    pub gain_db: f32,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            bitrate_kbps: 128,
            gain_db: 0.0,
        }
    }
}

/// An opened AAC encoder.
pub struct OpenedAudio {
    pub encoder: ff::encoder::Audio,
    pub info: StreamInfo,
    /// Samples per channel in each frame the encoder takes (1024 for AAC).
    pub frame_size: usize,
}

/// Opens AAC-LC, 48 kHz stereo, at the given bitrate.
pub fn open_audio(s: &AudioSettings) -> Result<OpenedAudio, StudioError> {
    crate::util::init();
    let err = |reason: String| StudioError::Encoder {
        name: "aac".into(),
        reason,
    };
    let codec = ff::encoder::find(ff::codec::Id::AAC)
        .ok_or_else(|| err("not in this FFmpeg build".into()))?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(|e| err(e.to_string()))?;
    enc.set_rate(mixer::RATE as i32);
    enc.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
    compat::set_stereo(&mut enc);
    enc.set_bit_rate(s.bitrate_kbps as usize * 1000);
    enc.set_time_base((1, mixer::RATE as i32));
    enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let opened = enc.open().map_err(|e| err(e.to_string()))?;
    let frame_size = (opened.frame_size() as usize).max(1);
    let mut params = ff::codec::Parameters::from(&opened);
    // The priming packet is dropped (see the audio encoder thread), so containers must not
    // tell decoders to skip priming samples too: that would shift audio 21 ms early.
    // SAFETY: a plain field of the parameters we own.
    unsafe {
        (*params.as_mut_ptr()).initial_padding = 0;
    }
    let info = StreamInfo {
        track: Track::Audio,
        params,
        time_base: (1, mixer::RATE as i32),
    };
    Ok(OpenedAudio {
        encoder: opened,
        info,
        frame_size,
    })
}

/// What the audio encoder thread reads and writes.
pub(crate) struct AudioEncoder {
    pub opened: OpenedAudio,
    pub chunks: Receiver<AudioChunk>,
    pub bus: Arc<PacketBus>,
    pub counters: Arc<AudioCounters>,
}

impl AudioEncoder {
    /// Runs until the mixer is gone, then flushes the encoder.
    pub fn spawn(self) -> JoinHandle<()> {
        crate::util::spawn_thread("audio-encoder", move || self.run())
    }

    fn run(self) {
        let AudioEncoder {
            opened: mut a,
            chunks: rx,
            bus,
            counters,
        } = self;
        let n = a.frame_size;
        let mut frame = ff::frame::Audio::new(
            ff::format::Sample::F32(ff::format::sample::Type::Planar),
            n,
            ff::ChannelLayout::STEREO,
        );
        compat::set_frame_stereo(&mut frame);
        frame.set_rate(mixer::RATE);
        let publish = |mut p: Packet| {
            // AAC's priming packet sits before zero; dropping it keeps A/V starting together.
            if p.pts < 0 {
                return;
            }
            p.key = true;
            counters.encoded.fetch_add(1, Ordering::Relaxed);
            bus.publish(&p);
        };
        for chunk in rx.iter() {
            // SAFETY: as for video, the encoder may hold the previous buffer.
            unsafe {
                ff::ffi::av_frame_make_writable(frame.as_mut_ptr());
            }
            for c in 0..2 {
                let plane = frame.plane_mut::<f32>(c);
                for (i, s) in plane.iter_mut().enumerate().take(n) {
                    *s = chunk.samples[2 * i + c];
                }
            }
            frame.set_pts(Some(chunk.pts));
            if a.encoder.send_frame(&frame).is_ok() {
                drain(&mut a.encoder, Track::Audio).for_each(publish);
            }
        }
        let _ = a.encoder.send_eof();
        drain(&mut a.encoder, Track::Audio).for_each(publish);
    }
}
