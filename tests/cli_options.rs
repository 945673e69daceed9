//! Encoder choice, config profiles with flag overrides, and the default recording place.

use marquee_e2e::{
    Run, Summary, assert_exited_ok, assert_failed_cleanly, heavy, marquee_in, probe, tempdir,
};
use std::time::Duration;

fn run_live(home: &std::path::Path, args: &[&str]) -> Run {
    let mut c = marquee_in(home);
    c.arg("live").args(args);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    run
}

#[test]
fn encoder_auto_falls_back_to_x264_and_says_what_it_skipped() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let out = home.path().join("auto.mkv");
    let summary = home.path().join("s.json");
    let run = run_live(
        home.path(),
        &[
            "--encoder",
            "auto",
            "--size",
            "320x180",
            "--duration",
            "2s",
            "--record",
            out.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    assert_exited_ok(&run);
    let s = Summary::read(&summary);
    // No GPU on these machines: every hardware encoder is skipped with a reason.
    assert_eq!(s.str("/video/encoder"), Some("libx264"), "{}", s.pretty());
    let err = run.stderr();
    assert!(
        err.contains("libx264") && err.contains("not used: h264_nvenc"),
        "{err}"
    );
}

#[test]
fn an_encoder_that_cannot_open_fails_naming_it_and_the_way_out() {
    let home = tempdir("marquee-home-");
    let run = run_live(
        home.path(),
        &["--encoder", "h264_nvenc", "--duration", "2s"],
    );
    assert_failed_cleanly(&run);
    let err = run.stderr();
    assert!(
        err.contains("h264_nvenc") && err.contains("--encoder x264"),
        "{err}"
    );
}

#[test]
fn profile_settings_apply_and_flags_override_them() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let cfg = home.path().join(".config/marquee/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        "default_profile = \"small\"\n[profiles.small]\nsize = \"320x180\"\nfps = 15\naudio = \"none\"\n",
    )
    .unwrap();
    let a = home.path().join("a.mkv");
    assert_exited_ok(&run_live(
        home.path(),
        &["--duration", "2s", "--record", a.to_str().unwrap()],
    ));
    let p = probe(&a);
    let v = p.video.as_ref().unwrap();
    assert_eq!((v.width, v.height), (320, 180));
    assert!(
        (v.measured_fps().unwrap() - 15.0).abs() < 0.5,
        "{:?}",
        v.measured_fps()
    );
    assert!(p.audio.is_none(), "the profile said audio none");

    let b = home.path().join("b.mkv");
    assert_exited_ok(&run_live(
        home.path(),
        &[
            "--duration",
            "2s",
            "--fps",
            "30",
            "--record",
            b.to_str().unwrap(),
        ],
    ));
    let v = probe(&b).video.unwrap();
    assert_eq!(
        (v.width, v.height),
        (320, 180),
        "the rest of the profile still applies"
    );
    assert!(
        (v.measured_fps().unwrap() - 30.0).abs() < 0.5,
        "the flag wins"
    );
}

#[test]
fn a_profile_with_an_inline_stream_key_is_refused_without_echoing_it() {
    let home = tempdir("marquee-home-");
    let cfg = home.path().join(".config/marquee/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        "[profiles.default]\nto = [\"rtmp://h/live/sk_live_LEAK\"]\n",
    )
    .unwrap();
    let run = run_live(home.path(), &["--duration", "1s"]);
    assert_failed_cleanly(&run);
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(
        all.contains("key:NAME") && !all.contains("sk_live_LEAK"),
        "{all}"
    );
}

#[test]
fn without_destinations_it_records_to_the_videos_folder_and_says_where() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let run = run_live(home.path(), &["--size", "320x180", "--duration", "2s"]);
    assert_exited_ok(&run);
    let err = run.stderr();
    let dir = home.path().join("Videos/Marquee");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} missing ({e}); stderr: {err}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "mkv"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        err.contains(files[0].to_str().unwrap()),
        "it says where: {err}"
    );
    assert!(probe(&files[0]).video.is_some());
}

#[test]
fn an_inline_stream_key_never_shows_whatever_the_url_shape() {
    let home = tempdir("marquee-home-");
    // Each fails before or at connecting: a bad port, no key, an unknown host, another scheme.
    let shapes = [
        ("rtmp://nonexistent.invalid/app/{KEY}/", true),
        (
            "rtmp://nonexistent.invalid/live-bvc/?streamname=live_1&key={KEY}&pflag=1",
            true,
        ),
        ("rtmps://nonexistent.invalid/app/{KEY}?token={KEY}", true),
        ("rtmp://h:badport/app/{KEY}", false),
        ("rtmp://nonexistent.invalid/{KEY}", false),
        ("srt://nonexistent.invalid:9000?streamid={KEY}", false),
        ("http://nonexistent.invalid/app/{KEY}", false),
    ];
    for (i, (shape, goes_live)) in shapes.iter().enumerate() {
        let key = format!("sk_leak_probe_{i}_{}", std::process::id());
        let url = shape.replace("{KEY}", &key);
        let run = run_live(
            home.path(),
            &[
                "--to",
                &url,
                "--size",
                "320x180",
                "--duration",
                "2s",
                "--replay-seconds",
                "0",
            ],
        );
        assert_failed_cleanly(&run);
        let (out, err) = (run.stdout(), run.stderr());
        assert!(
            !out.contains(&key) && !err.contains(&key),
            "{url}: the key leaked:\n{err}"
        );
        // It said which destination, with the key masked, or what is wrong with the address.
        if *goes_live {
            assert!(err.contains("/****"), "{url}: {err}");
        } else {
            assert!(err.contains("marquee: "), "{url}: {err}");
        }
    }
}
