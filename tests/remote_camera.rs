//! Remote cameras: ffmpeg (the "phone") pushes a coloured picture over SRT or RTMP into
//! `marquee live --video srt://…?mode=listener` / `rtmp://…/APP/KEY`, and the recording
//! shows that colour; a sender that stops gives the slate, a sender that returns gives its
//! picture again by itself, a sender that stalls gives the slate and is dropped, a resolution
//! change mid-stream is re-scaled, and garbage sent to the listener is refused with a message
//! while the show goes on. A listener with a passphrase shows only a sender that has it; an
//! RTMP listener only a sender with its app and stream key.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use marquee_e2e::{
    Keychain, Run, Summary, assert_exited_ok, assert_no_panic, free_port, free_udp_port, heavy,
    marquee_in, output_lower, probe, program, tcp_listening, tempdir, udp_port_bound, wait_until,
};

const FPS: u32 = 30;

/// The centre of each recorded frame: `R`ed, `G`reen, `B`lue, or `S` (anything else: the
/// grey-blue slate).
fn colours(path: &Path) -> Vec<char> {
    let out = Command::new(program("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", "crop=iw/4:ih/4,scale=1:1", "-f", "rawvideo"])
        .args(["-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg decodes the recording");
    out.stdout
        .chunks_exact(3)
        .map(|p| match (p[0], p[1], p[2]) {
            (r, g, b) if r > 180 && g < 70 && b < 70 => 'R',
            (r, g, b) if g > 100 && r < 70 && b < 70 => 'G',
            (r, g, b) if b > 180 && r < 70 && g < 70 => 'B',
            _ => 'S',
        })
        .collect()
}

/// Runs of the same colour, as (colour, frames).
fn runs(c: &[char]) -> Vec<(char, usize)> {
    let mut out: Vec<(char, usize)> = Vec::new();
    for &x in c {
        match out.last_mut() {
            Some((y, n)) if *y == x => *n += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

/// Asserts `want` appears in order among the runs of at least `min` frames.
fn assert_sequence(path: &Path, want: &[char], min: usize, live: &Run) {
    let c = colours(path);
    let long: Vec<(char, usize)> = runs(&c).into_iter().filter(|r| r.1 >= min).collect();
    let mut it = long.iter().map(|r| r.0);
    let found = want.iter().all(|w| it.any(|x| x == *w));
    assert!(
        found,
        "expected {want:?} in order; the recording's colour runs: {:?}\n{}",
        runs(&c),
        live.report()
    );
}

fn count(run: &Run, needle: &str) -> usize {
    run.stderr().matches(needle).count()
}

fn wait_count(run: &Run, needle: &str, n: usize, timeout: Duration) {
    assert!(
        wait_until(timeout, || count(run, needle) >= n),
        "waited for {n}× {needle:?}\n{}",
        run.report()
    );
}

/// `marquee live` with `video` as its only camera, recording to `out` (its summary beside
/// it, `summary.json`).
fn live(home: &Path, video: &str, out: &Path) -> Run {
    live_with(home, video, out, Vec::new())
}

/// [`live`] with more environment (a test keychain's bus).
fn live_with(home: &Path, video: &str, out: &Path, env: Vec<(String, String)>) -> Run {
    let mut c = marquee_in(home);
    c.envs(env);
    c.args(["live", "--video", video, "--audio", "tone"])
        .args(["--size", "320x180", "--fps", &FPS.to_string()])
        .args(["--duration", "40s", "--record"])
        .arg(out)
        .arg("--summary-json")
        .arg(home.join("summary.json"));
    let run = Run::spawn(c);
    assert!(
        run.wait_for_stderr("going live", Duration::from_secs(20)),
        "{}",
        run.report()
    );
    run
}

/// A short H.264 test picture of one colour as MPEG-TS (keyframe every half second).
fn clip(dir: &Path, colour: &str, size: &str, seconds: u32) -> std::path::PathBuf {
    let path = dir.join(format!("{colour}-{size}.ts"));
    let st = Command::new(program("ffmpeg"))
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c={colour}:s={size}:r={FPS}"))
        .args(["-t", &seconds.to_string(), "-c:v", "libx264", "-g", "15"])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-preset",
            "ultrafast",
            "-f",
            "mpegts",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg makes a test clip");
    assert!(st.success());
    path
}

/// Pushes `inputs` (played one after the other, in real time, copied) to `url`.
fn push(inputs: &[&Path], format: &str, url: &str) -> Run {
    let mut c = Command::new(program("ffmpeg"));
    c.args(["-v", "error", "-re"]);
    if inputs.len() > 1 {
        let list: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        c.arg("-i").arg(format!("concat:{}", list.join("|")));
    } else {
        c.arg("-i").arg(inputs[0]);
    }
    c.args(["-c", "copy", "-f", format, url]);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(20));
    run
}

#[test]
fn an_srt_camera_is_on_air_rescaled_then_the_slate_when_it_leaves_and_back_when_it_returns() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let red = clip(home.path(), "red", "640x360", 2);
    let blue = clip(home.path(), "blue", "320x240", 2);
    let green = clip(home.path(), "green", "1280x720", 2);
    let port = free_udp_port();
    let out = home.path().join("remote.mkv");
    let mut show = live(
        home.path(),
        &format!("srt://127.0.0.1:{port}?mode=listener&latency=120"),
        &out,
    );
    let sender = format!("srt://127.0.0.1:{port}?mode=caller&latency=120000");
    assert!(wait_until(Duration::from_secs(10), || udp_port_bound(port)));

    // Garbage first: refused with a reason, and the listener listens again.
    // (Raw PCM: bytes that are no container at all.)
    let mut junk = Command::new(program("ffmpeg"));
    junk.args(["-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1"])
        .args(["-c:a", "pcm_s16le", "-f", "s16le", &sender]);
    let mut junk = Run::spawn(junk);
    junk.wait(Duration::from_secs(15));
    assert!(
        show.wait_for_stderr("cannot be read as MPEG-TS", Duration::from_secs(15)),
        "garbage was not refused clearly\n{}",
        show.report()
    );
    assert!(wait_until(Duration::from_secs(10), || udp_port_bound(port)));

    // One sender, whose picture changes size mid-stream; then it leaves.
    let first = push(&[&red, &blue], "mpegts", &sender);
    assert!(
        first.status().is_some_and(|s| s.success()),
        "{}",
        first.report()
    );
    wait_count(&show, "video source is back", 1, Duration::from_secs(10));
    wait_count(&show, "video source lost", 2, Duration::from_secs(10));

    // It comes back by itself when the sender returns.
    assert!(wait_until(Duration::from_secs(10), || udp_port_bound(port)));
    let second = push(&[&green], "mpegts", &sender);
    assert!(
        second.status().is_some_and(|s| s.success()),
        "{}",
        second.report()
    );
    wait_count(&show, "video source is back", 2, Duration::from_secs(10));
    wait_count(&show, "video source lost", 3, Duration::from_secs(10));
    show.interrupt(Duration::from_secs(15));
    assert_exited_ok(&show);

    assert_sequence(&out, &['S', 'R', 'B', 'S', 'G'], 10, &show);
    // What the senders sent is counted (the camera's own bitrate in the status line): the
    // media in it, without the container (MPEG-TS weighs a lot beside tiny solid colours).
    let s = Summary::read(home.path().join("summary.json"));
    let sent: u64 = [&red, &blue, &green]
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let got = s.num("/remote_cameras/0/bytes").unwrap_or(0.0) as u64;
    assert!(
        got >= sent / 10 && got <= sent,
        "received {got} bytes of the {sent} the senders sent\n{}",
        s.pretty()
    );
    // How far behind the sender its picture was: SRT's 120 ms window and a little more (a
    // sender pacing its pictures builds no backlog).
    let lat = s.num("/remote_cameras/0/latency_ms").unwrap_or(f64::NAN);
    assert!(
        (120.0..1120.0).contains(&lat),
        "the camera's latency estimate was {lat} ms\n{}",
        s.pretty()
    );
    let last = runs(&colours(&out)).last().map(|r| r.0);
    assert_eq!(
        last,
        Some('S'),
        "the show did not end on the slate after the sender left"
    );
    let v = probe(&out).video.expect("the recording has video");
    let pts: Vec<f64> = v.packets.iter().map(|p| p.pts).collect();
    let worst = pts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        worst < 0.1,
        "the show stalled for {worst:.3} s while the camera came and went\n{}",
        show.report()
    );
}

#[test]
fn an_rtmp_camera_refuses_another_app_or_key_and_is_on_air_then_the_slate_when_it_stops_or_stalls_and_back_when_it_returns()
 {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let red = clip(home.path(), "red", "640x360", 3);
    let green = clip(home.path(), "green", "640x360", 1);
    let port = free_port();
    let out = home.path().join("remote.mkv");
    let mut show = live(
        home.path(),
        &format!("rtmp://127.0.0.1:{port}/live/phone-key-e2e"),
        &out,
    );
    let url = format!("rtmp://127.0.0.1:{port}/live/phone-key-e2e");
    assert!(wait_until(Duration::from_secs(10), || tcp_listening(port)));

    // Garbage on the port: refused, and the listener listens again.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _ = s.write_all(&[0x17; 4000]);
    drop(s);
    assert!(
        wait_until(Duration::from_secs(10), || count(&show, "listening again")
            >= 1),
        "{}",
        show.report()
    );
    assert!(wait_until(Duration::from_secs(10), || tcp_listening(port)));

    // Another stream key, then another app: refused (FFmpeg alone would take either; the
    // recording never shows their green), said once, and the listener listens again.
    for wrong in [
        format!("rtmp://127.0.0.1:{port}/live/someone-else"),
        format!("rtmp://127.0.0.1:{port}/other/phone-key-e2e"),
    ] {
        let _ = push(&[&green], "flv", &wrong).status();
        assert!(
            show.wait_for_stderr("another app or stream key", Duration::from_secs(10)),
            "a push to {wrong} was not refused\n{}",
            show.report()
        );
        assert!(wait_until(Duration::from_secs(10), || tcp_listening(port)));
    }

    let first = push(&[&red], "flv", &url);
    assert!(
        first.status().is_some_and(|s| s.success()),
        "{}",
        first.report()
    );
    wait_count(&show, "video source is back", 1, Duration::from_secs(10));
    wait_count(&show, "video source lost", 2, Duration::from_secs(10));

    // It returns, then stalls without hanging up: the slate, and the listener drops it.
    assert!(wait_until(Duration::from_secs(10), || tcp_listening(port)));
    let mut c = Command::new(program("ffmpeg"));
    c.args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
        .arg(&red)
        .args(["-c", "copy", "-f", "flv", &url]);
    let mut second = Run::spawn(c);
    wait_count(&show, "video source is back", 2, Duration::from_secs(10));
    second.signal(libc::SIGSTOP);
    wait_count(&show, "video source lost", 3, Duration::from_secs(5));
    assert!(
        show.wait_for_stderr("sent nothing for", Duration::from_secs(10)),
        "{}",
        show.report()
    );
    second.kill9();
    show.interrupt(Duration::from_secs(15));
    assert_exited_ok(&show);
    assert_no_panic(&show);
    assert!(
        !output_lower(&show).contains("phone-key-e2e"),
        "the listener's key was shown\n{}",
        show.report()
    );
    assert_sequence(&out, &['S', 'R', 'S', 'R'], 10, &show);
    assert!(
        !colours(&out).contains(&'G'),
        "a push to the wrong key (green) reached the show"
    );
}

#[test]
fn an_srt_camera_with_a_passphrase_shows_only_a_sender_that_has_it_and_says_what_a_sender_without_video_lacks()
 {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let red = clip(home.path(), "red", "640x360", 2);
    let green = clip(home.path(), "green", "640x360", 2);
    let sound = home.path().join("sound.ts");
    let st = Command::new(program("ffmpeg"))
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
        ])
        .args(["-t", "2", "-c:a", "aac", "-f", "mpegts"])
        .arg(&sound)
        .status()
        .expect("ffmpeg makes a sound-only clip");
    assert!(st.success());
    let port = free_udp_port();
    let out = home.path().join("remote.mkv");
    // The passphrase lives in the keychain; the listener names its entry.
    // Any character may be in it: the listener percent-encodes it for FFmpeg, as a sender does.
    let secret = "stage&door#e2e secret?";
    let kc = Keychain::start();
    let mut set = marquee_in(home.path());
    set.args(["key", "set", "cam-e2e"]).envs(kc.env());
    let mut set = Run::spawn_with_input(set, format!("{secret}\n").as_bytes());
    set.wait(Duration::from_secs(30));
    assert_exited_ok(&set);
    let mut show = live_with(
        home.path(),
        &format!("srt://127.0.0.1:{port}?mode=listener&latency=120&passphrase=key:cam-e2e"),
        &out,
        kc.env(),
    );
    let sender =
        |pass: &str| format!("srt://127.0.0.1:{port}?mode=caller&latency=120000&passphrase={pass}");
    assert!(wait_until(Duration::from_secs(10), || udp_port_bound(port)));

    // A wrong passphrase: SRT's handshake refuses the sender, nothing reaches the show.
    let wrong = push(&[&green], "mpegts", &sender("not-the-right-one"));
    assert!(
        !wrong.status().is_some_and(|s| s.success()),
        "a sender with the wrong passphrase got through\n{}",
        wrong.report()
    );
    assert_eq!(count(&show, "video source is back"), 0, "{}", show.report());

    // Sound only: refused with what it lacks, and the listener listens again.
    let mute = push(
        &[&sound],
        "mpegts",
        &sender(&marquee_capture::url_escape(secret)),
    );
    let _ = mute.status();
    assert!(
        show.wait_for_stderr("the sender sends no video", Duration::from_secs(15)),
        "{}",
        show.report()
    );
    assert!(wait_until(Duration::from_secs(10), || udp_port_bound(port)));

    // The right passphrase: on air.
    let right = push(
        &[&red],
        "mpegts",
        &sender(&marquee_capture::url_escape(secret)),
    );
    assert!(
        right.status().is_some_and(|s| s.success()),
        "{}",
        right.report()
    );
    wait_count(&show, "video source is back", 1, Duration::from_secs(10));
    show.interrupt(Duration::from_secs(15));
    assert_exited_ok(&show);
    assert_no_panic(&show);
    assert!(
        !output_lower(&show).contains(secret)
            && !output_lower(&show).contains(&marquee_capture::url_escape(secret).to_lowercase()),
        "the listener's passphrase was shown\n{}",
        show.report()
    );
    assert_sequence(&out, &['S', 'R'], 10, &show);
    assert!(
        !colours(&out).contains(&'G'),
        "the wrong passphrase's (green) picture reached the show"
    );
}
