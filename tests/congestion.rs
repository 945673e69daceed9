//! A slow destination: its own queue drops non-key video up to the next keyframe (never
//! audio, never keyframes), while the encoder, the recording and the other destination are
//! untouched; and with adaptive bitrate, a primary destination narrower than the bitrate pulls
//! the encoder's rate below the link, in the bitstream, without a reconnect. The slow link is a
//! real TCP proxy in front of nginx that forwards at a fixed rate.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_e2e::{
    Nginx, Run, Summary, assert_exited_ok, check_continuity, exec, frame_codes, heavy, marquee_in,
    noise_clip, probe, program, tempdir,
};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Forwards 127.0.0.1:port → upstream, client-to-server at `bytes_per_s`.
struct Throttle {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Throttle {
    fn start(upstream: u16, bytes_per_s: u64) -> Throttle {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).expect("blocking");
                        small_receive_buffer(&client);
                        let server = TcpStream::connect(("127.0.0.1", upstream)).expect("upstream");
                        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let stop3 = stop2.clone();
                        std::thread::spawn(move || pump(client, server, Some(bytes_per_s), stop3));
                        let stop4 = stop2.clone();
                        std::thread::spawn(move || pump(s2, c2, None, stop4));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Throttle { port, stop }
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Keeps the kernel from absorbing megabytes on loopback, so the link is really slow.
fn small_receive_buffer(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 32 * 1024;
    // SAFETY: setsockopt on a socket we own, with a correctly sized int.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Forwards `from` → `to`, at most `rate` bytes/s when given. Like a real link (tbf's bucket)
/// the unused time is not saved up beyond [`BURST`]: a sender that was slower for a while
/// cannot then pass at full speed until the average catches up.
fn pump(mut from: TcpStream, mut to: TcpStream, rate: Option<u64>, stop: Arc<AtomicBool>) {
    const BURST: Duration = Duration::from_millis(50);
    let mut start = Instant::now();
    let mut sent = 0u64;
    let mut buf = [0u8; 1400];
    let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
    while !stop.load(Ordering::Relaxed) {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        if let Some(r) = rate {
            let due = Duration::from_secs_f64(sent as f64 / r as f64);
            let elapsed = start.elapsed();
            if let Some(wait) = due.checked_sub(elapsed) {
                std::thread::sleep(wait);
            } else if elapsed > due + BURST {
                start += elapsed - due - BURST;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn a_slow_destination_drops_video_to_keyframes_without_stalling_the_rest() {
    let _g = heavy();
    let nginx = Nginx::start();
    let slow = Throttle::start(nginx.port(), 1_000_000 / 8);
    let home = tempdir("marquee-home-");
    let out = home.path().join("local.mkv");
    let summary = home.path().join("summary.json");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args([
            "--size",
            "640x360",
            "--fps",
            "30",
            "--bitrate",
            "2500",
            "--duration",
            "12s",
        ])
        .args(["--to", &format!("rtmp://127.0.0.1:{}/live/slow", slow.port)])
        .args(["--to", &nginx.url("fast")])
        // The drop policy is what is tested here: the rate stays as chosen.
        .arg("--no-abr")
        .arg("--record")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(90));
    assert_exited_ok(&run);
    drop(slow);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));

    let s = Summary::read(&summary);
    let d = s.destinations();
    assert_eq!(d.len(), 2);
    let congested = d[0]["dropped"]["congestion"].as_f64().unwrap_or(0.0);
    assert!(
        congested > 0.0,
        "the slow destination dropped nothing\n{}",
        s.pretty()
    );
    assert_eq!(
        d[0]["reconnects"].as_f64(),
        Some(0.0),
        "a slow link is not a broken one\n{}",
        run.report()
    );
    assert_eq!(
        d[1]["dropped_video"].as_f64(),
        Some(0.0),
        "the fast destination lost packets\n{}",
        s.pretty()
    );
    assert_eq!(
        s.num("/video/dropped/encoder_lag"),
        Some(0.0),
        "the encoder stalled"
    );

    // The fast destination and the recording have every frame.
    let fast = nginx.recordings_of("fast");
    let fp = probe(fast.first().expect("no recording of the fast stream"));
    let frames = fp.video.as_ref().map(|v| v.packets.len()).unwrap_or(0);
    assert!(
        frames >= 12 * 30 - 10,
        "fast destination got {frames} frames in 12 s"
    );
    check_continuity(&frame_codes(&out, 640, 360)).expect("the local recording has a gap");

    // The slow destination's copy decodes cleanly: every drop ended on a keyframe.
    let slow_rec = nginx.recordings_of("slow");
    let path = slow_rec.first().expect("no recording of the slow stream");
    let sp = probe(path);
    let sv = sp.video.as_ref().expect("slow video");
    assert!(
        sv.packets.first().is_some_and(|p| p.key),
        "starts on a keyframe"
    );
    let audio = sp.audio.as_ref().map(|a| a.packets.len()).unwrap_or(0);
    assert!(audio > 0, "the slow destination still gets audio");
    let mut dec = Command::new(program("ffmpeg"));
    dec.args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"]);
    let done = exec(dec, Duration::from_secs(60));
    assert!(
        done.success() && done.all_output().trim().is_empty(),
        "decode errors: {}",
        done.all_output()
    );
}

#[test]
fn a_link_narrower_than_the_bitrate_pulls_the_encoder_below_it_without_a_reconnect() {
    let _g = heavy();
    let nginx = Nginx::start();
    // 1500 kbit/s for a 4000 kbit/s stream.
    let link = Throttle::start(nginx.port(), 1_500_000 / 8);
    let home = tempdir("marquee-home-");
    let summary = home.path().join("summary.json");
    // Moving noise: a picture that needs every bit of 4000 kbit/s.
    let noise = noise_clip(home.path());
    let mut c = marquee_in(home.path());
    c.args(["live", "--audio", "tone", "--video"])
        .arg(format!("file:{}", noise.display()))
        .args(["--size", "640x360", "--fps", "30", "--preset", "ultrafast"])
        .args([
            "--bitrate",
            "4000",
            "--min-bitrate",
            "400",
            "--duration",
            "25s",
        ])
        .args(["--replay-seconds", "0"])
        .args(["--to", &format!("rtmp://127.0.0.1:{}/live/abr", link.port)])
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(120));
    assert_exited_ok(&run);
    drop(link);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));

    let s = Summary::read(&summary);
    let rec = nginx.recordings_of("abr");
    let p = probe(rec.first().expect("no recording at the server"));
    let v = p.video.as_ref().expect("video at the server");
    let t0 = v.packets.first().map_or(0.0, |p| p.pts);
    // What the encoder produced, second by second of media time, as the server got it.
    let seconds = (v.packets.iter().map(|p| p.pts).fold(t0, f64::max) - t0).ceil() as usize;
    let in_second = |i: usize| {
        (v.packets.iter()).filter(move |p| p.pts - t0 >= i as f64 && p.pts - t0 < i as f64 + 1.0)
    };
    let kbps_each: Vec<u64> = (0..seconds)
        .map(|i| in_second(i).map(|p| p.size * 8 / 1000).sum())
        .collect();
    let frames_each: Vec<usize> = (0..seconds).map(|i| in_second(i).count()).collect();
    // The status line's "| abr TARGET/MAX kbps (why)" each time it was printed.
    let targets: Vec<String> = (run.stderr().lines())
        .filter_map(|l| l.split(" | abr ").nth(1))
        .map(|l| l.split(" | ").next().unwrap_or("").to_string())
        .collect();
    let report = format!(
        "kbit/s each second at the server {kbps_each:?}\nframes {frames_each:?}\nabr {}\n\
         targets {targets:?}",
        s.json["abr"]
    );
    eprintln!("{report}");
    assert!(
        s.num("/abr/changes").unwrap_or(0.0) >= 1.0
            && targets.iter().any(|t| {
                t.split('/')
                    .next()
                    .and_then(|k| k.parse::<u32>().ok())
                    .is_some_and(|k| k < 1500)
            }),
        "the target never went below the link\n{report}"
    );
    assert_eq!(
        s.destinations()[0]["reconnects"].as_f64(),
        Some(0.0),
        "adapting is not reconnecting\n{}",
        run.report()
    );
    // Adapting instead of dropping: the server has (nearly) every frame the encoder made.
    let made = s.num("/video/frames").unwrap_or(0.0);
    let got = v.packets.len() as f64;
    assert!(
        made > 0.0 && got >= 0.95 * made,
        "the server got {got} of {made} frames\n{report}"
    );
    // In the bitstream, not just the setting: after adapting, the encoder produced less than
    // the link carries for five whole seconds in a row, every frame of them at the server.
    let under = (0..seconds.saturating_sub(5))
        .find(|&i| (i..i + 5).all(|j| kbps_each[j] < 1500 && frames_each[j] >= 29));
    assert!(
        under.is_some(),
        "no five seconds under the link with every frame\n{report}"
    );
}
