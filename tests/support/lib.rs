//! The end-to-end harness: real parts started by the test, waited for, and cleaned up on drop.
//!
//! | part | type | what it is |
//! | --- | --- | --- |
//! | RTMP ingest | [`Nginx`] | foreground nginx + libnginx-mod-rtmp on a free loopback port, recording every stream |
//! | microphone | [`Pulse`] | a private PulseAudio with a null sink `vsink` whose monitor is the default source |
//! | keychain | [`Keychain`] | a private D-Bus session bus + an unlocked gnome-keyring (Secret Service) |
//! | the CLI | [`marquee`] | the built `marquee` binary, found next to this test or via `MARQUEE_BIN` |
//! | checks | [`probe`], [`frame_codes`], [`dominant_frequency`] | ffprobe/ffmpeg on recordings and URLs |
//!
//! A missing program is never a silent skip: it panics with the `apt-get install` that fixes it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod keychain;
mod media;
mod nginx;
mod pulse;
mod run;
mod summary;

pub use keychain::Keychain;
pub use marquee_capture::pattern::FrameCode;
pub use media::{
    AudioInfo, Packet, Probe, VideoInfo, av_offsets, check_continuity, decode_audio_mono,
    dominant_frequency, dominant_frequency_of, frame_codes, gray_frames, probe, rms, silent_spans,
    try_probe,
};
pub use nginx::Nginx;
pub use pulse::{Pulse, Tone};
pub use run::{Done, Run, Usage, cmd, exec, exec_with_input, tail};
pub use summary::{Event, Summary};

/// Debian package that provides each external program the harness uses.
const PACKAGES: &[(&str, &str)] = &[
    ("nginx", "nginx libnginx-mod-rtmp"),
    ("ffmpeg", "ffmpeg"),
    ("ffprobe", "ffmpeg"),
    ("pulseaudio", "pulseaudio"),
    ("pactl", "pulseaudio-utils"),
    ("pacat", "pulseaudio-utils"),
    ("parec", "pulseaudio-utils"),
    ("sox", "sox"),
    ("dbus-daemon", "dbus"),
    ("dbus-send", "dbus"),
    ("gnome-keyring-daemon", "gnome-keyring"),
];

/// " — install it with `apt-get install …`" for a known program, or "".
pub fn install_hint(program: &OsStr) -> String {
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match PACKAGES.iter().find(|(p, _)| *p == name) {
        Some((_, pkg)) => format!(
            " — `{name}` is required by the end-to-end tests: install it with `sudo apt-get install -y {pkg}`"
        ),
        None => String::new(),
    }
}

/// Finds `name` on PATH (plus /usr/sbin and /sbin, where nginx lives), if installed.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The full path of `name`, or a panic that says which package installs it.
pub fn program(name: &str) -> PathBuf {
    match find_program(name) {
        Some(p) => p,
        None => {
            let hint = install_hint(OsStr::new(name));
            if hint.is_empty() {
                panic!("`{name}` not found on PATH");
            }
            panic!("`{name}` not found on PATH{hint}");
        }
    }
}

/// A free TCP port on 127.0.0.1 (bind :0, read the port, release it).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Milliseconds since the Unix epoch (the clock summary events use).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Polls `f` every 20 ms until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serialises the tests that encode video in real time: on two shared cores, two live sessions
/// at once would turn timing assertions (fps, reconnect within 2 s) into noise.
pub fn heavy() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `needle` occurs anywhere in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `dir` (recursively) whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file()
                && let Ok(bytes) = std::fs::read(&p)
                && contains_bytes(&bytes, needle)
            {
                hits.push(p);
            }
        }
    }
    hits
}

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

/// A world-traversable temp dir (nginx's worker runs as `nobody` when the tests run as root).
/// With `MARQUEE_E2E_KEEP=1` it is left behind (and its path printed) for a post-mortem.
pub fn tempdir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let keep = std::env::var_os("MARQUEE_E2E_KEEP").is_some_and(|v| v == "1");
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(keep)
        .tempdir()
        .expect("create temp dir");
    if keep {
        eprintln!("MARQUEE_E2E_KEEP: keeping {}", d.path().display());
    }
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    d
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
