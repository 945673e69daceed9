//! SRT output: `marquee live --to srt://…` pushes MPEG-TS (H.264 + AAC) to a real SRT
//! listener (srt-live-transmit), with its stream id and passphrase read from the real OS
//! keychain and never shown; a wrong passphrase fails at once, naming SRT and what to check;
//! and a link narrower than the bitrate (tbf on a veth into a network namespace) reaches
//! adaptive bitrate, as it does for RTMP, instead of SRT dropping packets at the ingest.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use marquee_e2e::{
    Keychain, NetLink, Run, SrtListener, Summary, assert_exited_ok, assert_failed_cleanly,
    contains_bytes, files_containing, heavy, marquee_in, noise_clip, output_lower, probe, tempdir,
};

const PASSPHRASE: &str = "srt-e2e-passphrase-9f3c";
const STREAM_ID: &str = "publish:live/e2e-stream-77a1";

fn key_set(home: &Path, kc: &Keychain, name: &str, value: &str) {
    let mut c = marquee_in(home);
    c.args(["key", "set", name]).envs(kc.env());
    let mut set = Run::spawn_with_input(c, format!("{value}\n").as_bytes());
    set.wait(Duration::from_secs(30));
    assert_exited_ok(&set);
}

fn live(home: &Path, kc: &Keychain, to: &str, seconds: u32, summary: &Path) -> Run {
    let mut c: Command = marquee_in(home);
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", "320x180", "--fps", "30"])
        .args(["--duration", &format!("{seconds}s"), "--to", to])
        .arg("--summary-json")
        .arg(summary)
        .envs(kc.env());
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(40));
    run
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for s in [PASSPHRASE, STREAM_ID] {
        assert!(
            !contains_bytes(bytes, s.as_bytes()),
            "{s:?} leaked into {what}"
        );
    }
}

#[test]
fn srt_output_with_keychain_secrets_reaches_the_listener_and_never_shows_them() {
    let _g = heavy();
    let kc = Keychain::start();
    let home = tempdir("marquee-home-");
    key_set(home.path(), &kc, "e2e-srt-pass", PASSPHRASE);
    key_set(home.path(), &kc, "e2e-srt-id", STREAM_ID);
    // The ingest's own files (its log names its passphrase) live apart from marquee's HOME.
    let ingest_dir = tempdir("marquee-srt-");
    let mut ingest = SrtListener::start(ingest_dir.path(), Some(PASSPHRASE));
    let to = format!(
        "srt://127.0.0.1:{}?streamid=key:e2e-srt-id&passphrase=key:e2e-srt-pass&latency=200",
        ingest.port()
    );
    let summary = home.path().join("summary.json");
    let run = live(home.path(), &kc, &to, 4, &summary);
    assert_exited_ok(&run);
    ingest.stop();

    let p = probe(ingest.output());
    let v = p.video.as_ref().unwrap_or_else(|| {
        panic!(
            "no video arrived over SRT\n{}\n{}",
            ingest.log(),
            run.report()
        )
    });
    assert_eq!(v.codec, "h264");
    assert_eq!((v.width, v.height), (320, 180));
    assert!(
        v.packets.len() >= 90,
        "only {} video frames arrived of ~120 sent\n{}",
        v.packets.len(),
        run.report()
    );
    let a = p.audio.as_ref().expect("no audio arrived over SRT");
    assert_eq!(a.codec, "aac");
    assert!(!a.packets.is_empty());

    let s = Summary::read(&summary);
    let dests = s.destinations();
    assert_eq!(dests.len(), 1, "{}", s.pretty());
    let shown = dests[0]["url"].as_str().unwrap_or_default();
    assert_eq!(
        shown,
        format!(
            "srt://127.0.0.1:{}?latency=200&streamid=key:e2e-srt-id&passphrase=key:e2e-srt-pass",
            ingest.port()
        )
    );
    assert_no_secret("the summary JSON", &s.raw);
    assert_no_secret("stdout", &run.stdout_bytes());
    assert_no_secret("stderr", &run.stderr_bytes());
    for s in [PASSPHRASE, STREAM_ID] {
        let hits = files_containing(home.path(), s.as_bytes());
        assert!(hits.is_empty(), "a secret was written to {hits:?}");
    }
}

#[test]
fn a_wrong_srt_passphrase_fails_at_once_naming_srt_and_the_passphrase() {
    let _g = heavy();
    let kc = Keychain::start();
    let home = tempdir("marquee-home-");
    let ingest_dir = tempdir("marquee-srt-");
    let ingest = SrtListener::start(ingest_dir.path(), Some("the-right-passphrase"));
    let to = format!(
        "srt://127.0.0.1:{}?streamid={STREAM_ID}&passphrase={PASSPHRASE}",
        ingest.port()
    );
    let summary = home.path().join("summary.json");
    let run = live(home.path(), &kc, &to, 20, &summary);
    assert_failed_cleanly(&run);
    assert!(
        run.elapsed() < Duration::from_secs(10),
        "a rejected passphrase took {:?} to fail",
        run.elapsed()
    );
    let out = output_lower(&run);
    assert!(
        out.contains("srt") && out.contains("passphrase") && out.contains("refused"),
        "the error does not say the SRT listener refused and to check the passphrase:\n{}",
        run.report()
    );
    assert_no_secret("stdout", &run.stdout_bytes());
    assert_no_secret("stderr", &run.stderr_bytes());
}

#[test]
fn a_narrow_link_steps_srt_down_through_adaptive_bitrate_without_a_reconnect() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let noise = noise_clip(home.path());
    let link = NetLink::start();
    link.shape(1500);
    let ingest_dir = tempdir("marquee-srt-");
    let mut ingest = SrtListener::start_in(&link, ingest_dir.path(), None);
    let summary = home.path().join("summary.json");
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
            "20s",
        ])
        .arg("--to")
        .arg(format!(
            "srt://{}:{}?latency=200",
            link.inner_ip(),
            ingest.port()
        ))
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);
    ingest.stop();

    let s = Summary::read(&summary);
    let targets: Vec<u32> = (run.stderr().lines())
        .filter_map(|l| l.split(" | abr ").nth(1))
        .filter_map(|l| l.split('/').next()?.parse().ok())
        .collect();
    assert!(
        s.num("/abr/changes").unwrap_or(0.0) >= 1.0 && targets.iter().any(|&k| k < 1500),
        "the target never went below the link: {targets:?}\n{}",
        run.report()
    );
    assert_eq!(
        s.destinations()[0]["reconnects"].as_f64(),
        Some(0.0),
        "adapting is not reconnecting\n{}",
        run.report()
    );
    // The stream stayed up to the end: the ingest has pictures from the last seconds.
    let p = probe(ingest.output());
    let v = p.video.as_ref().expect("video at the ingest");
    let span = v.span_s().unwrap_or(0.0);
    assert!(
        span > 15.0,
        "the ingest got {span:.1} s of video of 20\n{}\n{}",
        ingest.log(),
        run.report()
    );
}
