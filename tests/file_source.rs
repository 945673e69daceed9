//! A media file as the source: decoded, converted (any size, 44.1 kHz), looped, in real time.

use marquee_e2e::{
    Run, Summary, assert_exited_ok, dominant_frequency, exec, heavy, marquee_in, probe, program,
    tempdir,
};
use std::process::Command;
use std::time::Duration;

#[test]
fn a_file_source_loops_with_its_picture_and_sound_converted_to_the_output_format() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let input = home.path().join("in.mp4");
    let mut ff = Command::new(program("ffmpeg"));
    ff.args(["-nostdin", "-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=400x300:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100"])
        .args([
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-ac",
            "1",
        ])
        .arg(&input);
    let made = exec(ff, Duration::from_secs(60));
    assert!(
        made.success(),
        "ffmpeg could not make the input: {}",
        made.all_output()
    );

    let out = home.path().join("out.mkv");
    let summary = home.path().join("summary.json");
    let spec = format!("file:{}", input.display());
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", &spec, "--audio", &spec])
        .args(["--size", "320x180", "--fps", "30", "--duration", "7s"])
        .arg("--record")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);

    let p = probe(&out);
    let v = p.video.as_ref().expect("video");
    let a = p.audio.as_ref().expect("audio");
    assert_eq!(
        (v.width, v.height),
        (320, 180),
        "letterboxed into the canvas"
    );
    assert_eq!(
        (a.sample_rate, a.channels),
        (48_000, 2),
        "44.1 kHz mono became 48 kHz stereo"
    );
    let span = v.span_s().unwrap_or(0.0);
    assert!(
        span > 6.5,
        "only {span:.2} s of video from a looped 3 s file"
    );
    let hz = dominant_frequency(&out);
    assert!(
        (hz - 1000.0).abs() < 5.0,
        "the file's 1 kHz tone came out at {hz:.1} Hz"
    );
    let s = Summary::read(&summary);
    assert_eq!(
        s.num("/video/slate"),
        Some(0.0),
        "the loop never left a 1 s hole\n{}",
        s.pretty()
    );
}
