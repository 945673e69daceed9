//! The microphone path: cpal → ALSA → PulseAudio, fed by a tone played into a null sink.

use std::path::PathBuf;
use std::time::Duration;

use marquee_e2e::{
    Pulse, Run, assert_exited_ok, decode_audio_mono, dominant_frequency, heavy, marquee_in, probe,
    rms, silent_spans, tempdir,
};

/// Not 440 Hz: marquee's own `tone` source most likely defaults to 440, and this test must fail
/// if the microphone is silently replaced by the built-in tone.
const MIC_HZ: u32 = 660;

/// Plays the tone, then records `seconds` of `--audio mic:default` to an MKV.
fn record_mic(pulse: &Pulse, seconds: u32) -> (Run, PathBuf, tempfile::TempDir) {
    let home = tempdir("marquee-home-");
    let out = home.path().join("mic.mkv");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "mic:default"])
        .args(["--size", "320x180", "--fps", "30"])
        .args(["--duration", &format!("{seconds}s")])
        .arg("--record")
        .arg(&out)
        .envs(pulse.env());
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);
    (run, out, home)
}

#[test]
fn microphone_tone_reaches_the_recording() {
    let _g = heavy();
    let pulse = Pulse::start();
    let _tone = pulse.play_tone(MIC_HZ);
    let (run, out, _home) = record_mic(&pulse, 5);

    let p = probe(&out);
    let a = p.audio.as_ref().expect("the recording has no audio");
    assert_eq!(a.codec, "aac");
    assert_eq!(a.sample_rate, 48_000, "microphones are resampled to 48 kHz");
    assert_eq!(a.channels, 2, "microphones are mixed to stereo");
    let span = a.span_s().unwrap_or(0.0);
    assert!(span >= 4.0, "only {span:.2} s of audio in a 5 s recording");
    let samples = decode_audio_mono(&out);
    eprintln!(
        "mic recording: {:.2} s of audio, rms {:.3}",
        samples.len() as f64 / 48_000.0,
        rms(&samples)
    );
    let f = dominant_frequency(&out);
    assert!(
        (f - MIC_HZ as f64).abs() <= 5.0,
        "the recording's dominant frequency is {f:.1} Hz; the microphone played {MIC_HZ} Hz\n{}",
        run.report()
    );
}

#[test]
fn microphone_audio_starts_with_the_session_and_has_no_gaps() {
    // The tone is already playing when marquee starts, so the recording should carry it from
    // (nearly) its first sample, and a continuous tone must stay continuous: a silent stretch
    // means capture started late or blocks were dropped. (The ffmpeg CLI's ALSA input through
    // the same PulseAudio hears it within 10 ms.)
    let _g = heavy();
    let pulse = Pulse::start();
    let _tone = pulse.play_tone(MIC_HZ);
    let (run, out, _home) = record_mic(&pulse, 5);

    let x = decode_audio_mono(&out);
    let rate = 48_000.0;
    let total = x.len() as f64 / rate;
    let spans = silent_spans(&x, rate, 0.01, 0.010);
    eprintln!("mic recording: {total:.2} s, silent spans (start s, length s): {spans:?}");
    let startup = spans
        .first()
        .filter(|(start, _)| *start == 0.0)
        .map_or(0.0, |(_, len)| *len);
    assert!(
        startup <= 0.5,
        "the microphone's sound starts {startup:.2} s into the recording (tone was already playing)\n{}",
        run.report()
    );
    let gaps: Vec<_> = spans
        .iter()
        .filter(|(start, len)| *start > 0.0 && start + len < total - 0.05)
        .collect();
    assert!(
        gaps.is_empty(),
        "the continuous tone has {} silent gaps ≥ 10 ms after it started (start s, length s): {gaps:?}",
        gaps.len()
    );
}
