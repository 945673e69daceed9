//! The external programs the harness runs: where they are, and which package installs them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Debian package that provides each external program the harness uses.
const PACKAGES: &[(&str, &str)] = &[
    ("nginx", "nginx libnginx-mod-rtmp"),
    ("openssl", "openssl"),
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
    ("srt-live-transmit", "srt-tools"),
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

pub(crate) fn is_executable(p: &Path) -> bool {
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
