//! The harness itself: each real part starts, does its job, and is checked with the same tools
//! the end-to-end tests use. These pass without Marquee.

use std::process::Command;
use std::time::Duration;

use marquee_e2e::{Keychain, Nginx, Pulse, Run, dominant_frequency, dominant_frequency_of, probe};

#[test]
fn nginx_records_a_push_from_the_ffmpeg_cli() {
    let _g = marquee_e2e::heavy();
    let mut nginx = Nginx::start();
    let mut c = Command::new(marquee_e2e::program("ffmpeg"));
    c.args(["-nostdin", "-v", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-g", "60"])
        .args(["-c:a", "aac", "-t", "2", "-f", "flv"])
        .arg(nginx.url("selftest"));
    let d = marquee_e2e::exec(c, Duration::from_secs(30));
    assert!(d.success(), "ffmpeg push failed: {}", d.stderr);
    nginx.wait_recordings_settled(Duration::from_millis(300), Duration::from_secs(5));
    let recs = nginx.recordings_of("selftest");
    assert_eq!(recs.len(), 1, "recordings: {:?}", nginx.recordings());

    let p = probe(&recs[0]);
    let v = p.video.as_ref().expect("video stream");
    assert_eq!(v.codec, "h264");
    assert_eq!((v.width, v.height), (320, 240));
    let fps = v.measured_fps().expect("fps");
    assert!((fps - 30.0).abs() < 0.3, "fps {fps}");
    assert!(
        (v.span_s().unwrap() - 2.0).abs() < 0.2,
        "span {:?}",
        v.span_s()
    );
    assert_eq!(v.keyframes().len(), 1, "keyframes {:?}", v.keyframes());
    let a = p.audio.as_ref().expect("audio stream");
    assert_eq!(a.codec, "aac");
    assert_eq!(a.sample_rate, 48_000);
    assert!((dominant_frequency(&recs[0]) - 440.0).abs() < 2.0);

    // stop / start_again keeps the port and the dirs
    let port = nginx.port();
    nginx.stop();
    assert!(!nginx.is_running());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    nginx.start_again();
    assert_eq!(nginx.port(), port);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert_eq!(nginx.recordings_of("selftest").len(), 1);
}

#[test]
fn nginx_serves_the_live_stream_to_ffprobe() {
    let _g = marquee_e2e::heavy();
    let nginx = Nginx::start();
    let mut c = Command::new(marquee_e2e::program("ffmpeg"));
    c.args(["-nostdin", "-v", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-g", "30"])
        .args(["-t", "8", "-f", "flv"])
        .arg(nginx.url("pull"));
    let mut push = Run::spawn(c);
    assert!(
        nginx
            .wait_recording("pull", 1, Duration::from_secs(10))
            .is_some()
    );
    let p = probe(nginx.url("pull"));
    let v = p.video.expect("live video stream");
    assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", 320, 240));
    push.terminate(Duration::from_secs(5));
}

#[test]
fn pulse_null_sink_monitor_hears_the_tone() {
    let pulse = Pulse::start();
    let _tone = pulse.play_tone(440);
    let x = pulse.record_monitor(1.0);
    let rms = marquee_e2e::rms(&x);
    assert!(rms > 0.05, "monitor is (nearly) silent: rms {rms}");
    let f = dominant_frequency_of(&x, 48_000.0);
    assert!((f - 440.0).abs() <= 5.0, "dominant frequency {f} Hz");
}

#[test]
fn pulse_is_the_alsa_default_capture_device() {
    // cpal on Linux records through ALSA; libasound2-plugins routes ALSA `default` to the
    // PulseAudio named by PULSE_SERVER. Prove that path with ffmpeg's ALSA input.
    let pulse = Pulse::start();
    let _tone = pulse.play_tone(660);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("alsa.wav");
    let mut c = Command::new(marquee_e2e::program("ffmpeg"));
    c.args(["-nostdin", "-v", "error", "-f", "alsa", "-i", "default"])
        .args(["-t", "1.5", "-ac", "1", "-ar", "48000"])
        .arg(&wav)
        .envs(pulse.env());
    let d = marquee_e2e::exec(c, Duration::from_secs(20));
    assert!(d.success(), "ffmpeg -f alsa -i default: {}", d.stderr);
    let f = dominant_frequency(&wav);
    assert!((f - 660.0).abs() <= 5.0, "dominant frequency {f} Hz");
}

#[test]
fn keychain_offers_an_unlocked_secret_service() {
    let k = Keychain::start();
    let d = k.dbus_send(&[
        "/org/freedesktop/secrets",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Service",
        "string:Collections",
    ]);
    assert!(d.success(), "{}", d.stderr);
    assert!(
        d.stdout_str()
            .contains("/org/freedesktop/secrets/collection/login"),
        "{}",
        d.stdout_str()
    );
    let d = k.dbus_send(&[
        "/org/freedesktop/secrets/collection/login",
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Collection",
        "string:Locked",
    ]);
    assert!(d.success(), "{}", d.stderr);
    assert!(
        d.stdout_str().contains("boolean false"),
        "login collection is locked: {}",
        d.stdout_str()
    );
}

#[test]
fn run_captures_output_and_signals() {
    let mut c = Command::new("sh");
    c.args(["-c", "echo out; echo err >&2; echo live >&2; exec sleep 30"]);
    let mut r = Run::spawn(c);
    assert!(r.wait_for_stderr("live", Duration::from_secs(5)));
    assert!(r.wait_timeout(Duration::from_millis(100)).is_none());
    let st = r.terminate(Duration::from_secs(5));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert_eq!(r.stdout(), "out\n");
    assert_eq!(r.stderr(), "err\nlive\n");
    assert!(r.usage().is_some());
}

#[test]
fn frame_codes_read_the_test_pattern_back_through_x264() {
    // Render the lead's test pattern, encode it with the ffmpeg CLI (lossy, like a stream),
    // and read every frame's code back: proves frame_codes + check_continuity end to end.
    use std::io::Write;
    use std::process::Stdio;
    let (w, h, n) = (640u32, 360u32, 45u64);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pattern.mkv");
    let mut c = Command::new(marquee_e2e::program("ffmpeg"));
    c.args([
        "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
    ])
    .args(["-s", &format!("{w}x{h}"), "-r", "30", "-i", "-"])
    .args(["-c:v", "libx264", "-preset", "veryfast", "-b:v", "800k"])
    .arg(&out)
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    let mut child = c.spawn().expect("ffmpeg");
    let mut stdin = child.stdin.take().unwrap();
    let mut buf = Vec::new();
    for i in 0..n {
        marquee_capture::pattern::render_i420(&mut buf, w, h, i, 1000 + i * 33);
        stdin.write_all(&buf).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());

    let codes = marquee_e2e::frame_codes(&out, w, h);
    assert_eq!(codes.len(), n as usize);
    marquee_e2e::check_continuity(&codes).unwrap();
    assert_eq!(codes[0].map(|c| c.index), Some(0));
    assert_eq!(codes[44].map(|c| c.session_ms), Some(1000 + 44 * 33));

    // and the checker catches a gap and a repeat
    let mut gap = codes.clone();
    gap.remove(10);
    assert!(
        marquee_e2e::check_continuity(&gap)
            .unwrap_err()
            .contains("missing")
    );
    let mut rep = codes.clone();
    rep.insert(10, rep[10]);
    assert!(
        marquee_e2e::check_continuity(&rep)
            .unwrap_err()
            .contains("repeated")
    );
}

#[test]
fn nginx_stop_mid_stream_cuts_the_publisher_and_start_again_accepts_it() {
    // What server_restart_mid_stream relies on: stop() drops a live publisher at once, and
    // start_again() serves the same URL, recording into a new file.
    let _g = marquee_e2e::heavy();
    let mut nginx = Nginx::start();
    let push = |nginx: &Nginx| {
        let mut c = Command::new(marquee_e2e::program("ffmpeg"));
        c.args(["-nostdin", "-v", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"])
            .args(["-c:v", "libx264", "-preset", "veryfast", "-g", "30"])
            .args(["-t", "30", "-f", "flv"])
            .arg(nginx.url("cut"));
        Run::spawn(c)
    };
    let mut first = push(&nginx);
    assert!(
        nginx
            .wait_recording("cut", 10_000, Duration::from_secs(10))
            .is_some()
    );
    let t = std::time::Instant::now();
    nginx.stop();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t.elapsed()
    );
    let st = first.wait(Duration::from_secs(10));
    assert!(
        !st.success(),
        "the publisher should see the connection break"
    );

    std::thread::sleep(Duration::from_millis(1100)); // record_unique names are per second
    nginx.start_again();
    let mut second = push(&nginx);
    assert!(
        marquee_e2e::wait_until(Duration::from_secs(10), || nginx.recordings_of("cut").len()
            == 2),
        "no second recording: {:?}",
        nginx.recordings()
    );
    second.terminate(Duration::from_secs(5));
}
