//! The CLI under test: the built `marquee` binary, run in a home of its own, and what its
//! runs must show.

use crate::programs::is_executable;
use crate::run::Run;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where the `marquee` binary is: `MARQUEE_BIN`, else next to this executable's target dir
/// (`…/target/<profile>/marquee`, honouring `CARGO_TARGET_DIR`), else the workspace's `target/`.
pub fn marquee_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MARQUEE_BIN") {
        let p = PathBuf::from(p);
        assert!(
            is_executable(&p),
            "MARQUEE_BIN={} is not an executable file",
            p.display()
        );
        return p;
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // tests live in target/<profile>/deps/, bins in target/<profile>/
        let mut dir = exe.parent().map(Path::to_path_buf);
        if dir.as_deref().and_then(Path::file_name) == Some(OsStr::new("deps")) {
            dir = dir.and_then(|d| d.parent().map(Path::to_path_buf));
        }
        if let Some(d) = dir {
            candidates.push(d.join("marquee"));
        }
    }
    let profiles = ["debug", "release"];
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        for p in profiles {
            candidates.push(PathBuf::from(&t).join(p).join("marquee"));
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."))
        .to_path_buf();
    for p in profiles {
        candidates.push(workspace.join("target").join(p).join("marquee"));
    }
    candidates.dedup();
    match candidates.iter().find(|p| is_executable(p)) {
        Some(p) => p.clone(),
        None => panic!(
            "the `marquee` binary was not found (looked at: {}). Build it with \
             `cargo build -p marquee-cli` (same target dir as the tests), or set MARQUEE_BIN=/path/to/marquee",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A [`Command`] for the built `marquee` binary.
pub fn marquee() -> Command {
    let mut c = Command::new(marquee_path());
    c.env("NO_COLOR", "1").env("RUST_BACKTRACE", "1");
    c
}

/// A [`Command`] for `marquee` with HOME and the XDG dirs inside `home`, so no user config,
/// profile or videos folder leaks in, and everything the run writes can be inspected.
pub fn marquee_in(home: &Path) -> Command {
    let mut c = marquee();
    for (var, sub) in [
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_VIDEOS_DIR", "Videos"),
    ] {
        let p = if sub.is_empty() {
            home.to_path_buf()
        } else {
            home.join(sub)
        };
        let _ = std::fs::create_dir_all(&p);
        c.env(var, p);
    }
    c
}

/// Asserts the run has ended with exit code 0 and printed no panic.
pub fn assert_exited_ok(run: &Run) {
    let st = run
        .status()
        .expect("assert_exited_ok: the process is still running");
    assert!(
        st.success(),
        "expected exit code 0, got {st}\n{}",
        run.report()
    );
    assert_no_panic(run);
}

/// Asserts the run has ended with a non-zero exit code (not killed by a signal) and printed no
/// panic: a failure the user is told about, not a crash.
pub fn assert_failed_cleanly(run: &Run) {
    let st = run
        .status()
        .expect("assert_failed_cleanly: the process is still running");
    assert!(
        st.code().is_some_and(|c| c != 0),
        "expected a non-zero exit code, got {st}\n{}",
        run.report()
    );
    assert_no_panic(run);
}

/// Asserts neither stdout nor stderr shows a Rust panic.
pub fn assert_no_panic(run: &Run) {
    let all = format!("{}\n{}", run.stdout(), run.stderr());
    assert!(
        !all.contains("panicked at") && !all.contains("RUST_BACKTRACE"),
        "marquee panicked:\n{}",
        run.report()
    );
}

/// stdout and stderr together, lower-cased, for "the message says …" checks.
pub fn output_lower(run: &Run) -> String {
    format!("{}\n{}", run.stdout(), run.stderr()).to_lowercase()
}

/// One request to a running `marquee live`'s control socket (waits up to 10 s for it to
/// open); returns the answer line (`ok JSON` or `err MESSAGE`).
pub fn control_request(socket: &Path, line: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    for _ in 0..100 {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) {
            s.write_all(format!("{line}\n").as_bytes())
                .expect("write request");
            let mut answer = String::new();
            BufReader::new(s)
                .read_line(&mut answer)
                .expect("read answer");
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the control socket {} never opened", socket.display());
}

/// The invite link `marquee live --guests N` prints for `slot` (`guest N: LINK`), waited for
/// up to a minute (the show opens its devices and encoders first).
pub fn guest_link(host: &Run, slot: u32) -> String {
    let prefix = format!("guest {slot}: ");
    assert!(
        host.wait_for_stdout(&prefix, Duration::from_secs(60)),
        "no invite printed for slot {slot}\n{}",
        host.report()
    );
    (host.stdout().lines())
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .expect("the invite line")
}
