//! `marquee devices` and `camera:N` on a machine with no cameras (nokhwa enumerates 0).

use std::time::Duration;

use marquee_e2e::{
    Pulse, Run, assert_exited_ok, assert_failed_cleanly, marquee_in, output_lower, tempdir,
};
use serde_json::Value;

fn devices(extra: &[&str], env: Vec<(String, String)>) -> Run {
    let home = tempdir("marquee-home-");
    let mut c = marquee_in(home.path());
    c.arg("devices").args(extra).envs(env);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    run
}

/// The array under `key` at the top level (or under `devices`), if any.
fn list<'a>(v: &'a Value, key: &str) -> Option<&'a Vec<Value>> {
    v.get(key)
        .or_else(|| v.get("devices").and_then(|d| d.get(key)))
        .and_then(Value::as_array)
}

#[test]
fn devices_without_cameras_answers_cleanly() {
    let run = devices(&[], Vec::new());
    assert_exited_ok(&run);
    let text = output_lower(&run);
    assert!(
        text.contains("camera"),
        "no word about cameras:\n{}",
        run.report()
    );
    assert!(
        text.contains("no camera") || text.contains("0 camera") || text.contains("none"),
        "does not say plainly that there are no cameras:\n{}",
        run.report()
    );

    let run = devices(&["--json"], Vec::new());
    assert_exited_ok(&run);
    let v: Value = serde_json::from_str(&run.stdout()).unwrap_or_else(|e| {
        panic!(
            "`devices --json` stdout is not JSON ({e}):\n{}",
            run.report()
        )
    });
    let cams = list(&v, "cameras").unwrap_or_else(|| panic!("no `cameras` array: {v:#}"));
    assert!(
        cams.is_empty(),
        "this machine has no cameras, got {cams:#?}"
    );
    assert!(
        list(&v, "microphones").is_some(),
        "no `microphones` array: {v:#}"
    );
}

#[test]
fn devices_lists_the_pulse_microphone() {
    let pulse = Pulse::start();
    let run = devices(&["--json"], pulse.env());
    assert_exited_ok(&run);
    let v: Value = serde_json::from_str(&run.stdout()).unwrap_or_else(|e| {
        panic!(
            "`devices --json` stdout is not JSON ({e}):\n{}",
            run.report()
        )
    });
    let mics = list(&v, "microphones").unwrap_or_else(|| panic!("no `microphones` array: {v:#}"));
    assert!(
        !mics.is_empty(),
        "with PulseAudio running there is at least the default microphone: {v:#}"
    );
}

#[test]
fn camera_0_fails_cleanly_naming_the_device() {
    let home = tempdir("marquee-home-");
    let out = home.path().join("cam.mkv");
    let mut c = marquee_in(home.path());
    c.args([
        "live",
        "--video",
        "camera:0",
        "--audio",
        "none",
        "--duration",
        "5s",
    ])
    .arg("--record")
    .arg(&out);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    assert_failed_cleanly(&run);
    let msg = output_lower(&run);
    assert!(
        msg.contains("camera") && msg.contains('0'),
        "the error does not name camera 0:\n{}",
        run.report()
    );
}
