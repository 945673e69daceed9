//! Stream keys live only in the OS keychain (real gnome-keyring over a private D-Bus session):
//! set from stdin, filled into `key:NAME` URLs at connect time, never printed or written.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use marquee_e2e::{
    Keychain, Nginx, Run, Summary, assert_exited_ok, assert_failed_cleanly, contains_bytes,
    files_containing, heavy, marquee_in, output_lower, tempdir,
};

const NAME: &str = "e2e-main";

/// A fresh random key, so a match can only come from a leak.
fn secret_key() -> String {
    let r = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt ^ std::process::id() as u64);
        h.finish()
    };
    format!("mqk{:016x}{:016x}", r(1), r(2))
}

fn key_cmd(home: &Path, kc: &Keychain, args: &[&str]) -> Command {
    let mut c = marquee_in(home);
    c.arg("key").args(args).envs(kc.env());
    c
}

fn assert_no_leak(what: &str, bytes: &[u8], key: &str) {
    assert!(
        !contains_bytes(bytes, key.as_bytes()),
        "the stream key leaked into {what}"
    );
}

#[test]
fn stream_key_from_keychain_is_used_and_never_leaks() {
    let _g = heavy();
    let kc = Keychain::start();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-home-");
    let key = secret_key();
    let mut runs: Vec<Run> = Vec::new();

    // set, from stdin (with the newline a shell `echo` adds)
    let mut set = Run::spawn_with_input(
        key_cmd(home.path(), &kc, &["set", NAME]),
        format!("{key}\n").as_bytes(),
    );
    set.wait(Duration::from_secs(30));
    assert_exited_ok(&set);
    runs.push(set);

    let mut list = Run::spawn(key_cmd(home.path(), &kc, &["list"]));
    list.wait(Duration::from_secs(30));
    assert_exited_ok(&list);
    assert!(
        list.stdout().contains(NAME),
        "`key list` does not show {NAME}:\n{}",
        list.report()
    );
    runs.push(list);

    // use it: the URL names the key, the server sees the key
    let local = home.path().join("keyed.mkv");
    let summary = home.path().join("summary.json");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", "320x180", "--fps", "30", "--duration", "4s"])
        .arg("--to")
        .arg(format!("{}/key:{NAME}", nginx.app_url()))
        .arg("--record")
        .arg(&local)
        .arg("--summary-json")
        .arg(&summary)
        .envs(kc.env());
    let mut live = Run::spawn(c);
    live.wait(Duration::from_secs(60));
    assert_exited_ok(&live);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop();
    let recs = nginx.recordings_of(&key);
    assert_eq!(
        recs.len(),
        1,
        "nginx did not record a stream named after the key (recordings: {} files)\n{}",
        nginx.recordings().len(),
        live.report()
    );
    assert!(
        std::fs::metadata(&recs[0]).map(|m| m.len()).unwrap_or(0) > 10_000,
        "the keyed stream is (nearly) empty"
    );
    runs.push(live);

    // never in output, summary, recording, or any file marquee wrote under its HOME
    let s = Summary::read(&summary);
    assert_no_leak("the summary JSON", &s.raw, &key);
    let dests = s.destinations();
    assert_eq!(dests.len(), 1, "{}", s.pretty());
    let shown = dests[0]["url"].as_str().unwrap_or_default();
    assert!(
        !shown.is_empty() && !shown.contains(&key),
        "summary destination url should be present and redacted: {shown:?}"
    );
    let rec = std::fs::read(&local).expect("local recording");
    assert!(rec.len() > 10_000, "local recording is (nearly) empty");
    assert_no_leak("the local recording", &rec, &key);
    let hits = files_containing(home.path(), key.as_bytes());
    assert!(
        hits.is_empty(),
        "the stream key was written to files: {hits:?}"
    );

    // delete: gone from the list, and using it fails naming the key's NAME
    let mut del = Run::spawn(key_cmd(home.path(), &kc, &["delete", NAME]));
    del.wait(Duration::from_secs(30));
    assert_exited_ok(&del);
    runs.push(del);
    let mut list = Run::spawn(key_cmd(home.path(), &kc, &["list"]));
    list.wait(Duration::from_secs(30));
    assert_exited_ok(&list);
    assert!(
        !list.stdout().contains(NAME),
        "`key list` still shows {NAME} after delete:\n{}",
        list.report()
    );
    runs.push(list);

    nginx.start_again();
    let mut c = marquee_in(home.path());
    c.args([
        "live",
        "--video",
        "test",
        "--audio",
        "tone",
        "--duration",
        "10s",
    ])
    .arg("--to")
    .arg(format!("{}/key:{NAME}", nginx.app_url()))
    .envs(kc.env());
    let mut gone = Run::spawn(c);
    gone.wait(Duration::from_secs(30));
    assert_failed_cleanly(&gone);
    assert!(
        gone.elapsed() < Duration::from_secs(10),
        "a missing key took {:?} to fail",
        gone.elapsed()
    );
    assert!(
        output_lower(&gone).contains(NAME),
        "the error does not name the missing key {NAME}:\n{}",
        gone.report()
    );
    runs.push(gone);

    for r in &runs {
        assert_no_leak(
            &format!("the stdout of `{}`", r.name()),
            &r.stdout_bytes(),
            &key,
        );
        assert_no_leak(
            &format!("the stderr of `{}`", r.name()),
            &r.stderr_bytes(),
            &key,
        );
    }
}

#[test]
fn without_a_keychain_key_set_says_how_to_fix_and_writes_nothing() {
    let home = tempdir("marquee-home-");
    let key = secret_key();
    let mut c = marquee_in(home.path());
    c.args(["key", "set", NAME]).env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/marquee-e2e-bus",
    );
    let mut run = Run::spawn_with_input(c, format!("{key}\n").as_bytes());
    run.wait(Duration::from_secs(30));
    assert_failed_cleanly(&run);
    let msg = output_lower(&run);
    assert!(
        msg.contains("keychain") || msg.contains("keyring") || msg.contains("secret service"),
        "the error does not say the keychain is unreachable:\n{}",
        run.report()
    );
    assert_no_leak("stdout", &run.stdout_bytes(), &key);
    assert_no_leak("stderr", &run.stderr_bytes(), &key);
    let hits = files_containing(home.path(), key.as_bytes());
    assert!(
        hits.is_empty(),
        "with no keychain the key fell back to a file: {hits:?}"
    );
}
