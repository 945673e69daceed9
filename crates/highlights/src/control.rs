//! A local control channel so `marquee clip save` (or a hotkey helper) can reach a running
//! `marquee live`: a Unix socket in the user's runtime dir, one text line per request, one
//! line per answer.
//!
//! ```text
//! socket  $XDG_RUNTIME_DIR/marquee/live.sock   (else <tmp>/marquee-<uid>/live.sock), dir 0700
//! request  = "save" [" " SECONDS] | "mark" [" " LABEL] | "status" | "ping"   "\n"
//! answer   = "ok " JSON | "err " MESSAGE                                      "\n"
//! ```
//! One request per connection; the server answers `save` once the clip is on disk.

use crate::error::{HighlightError, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server does with one request line: `Ok(json)` or `Err(message)`.
pub type Handler = Arc<dyn Fn(&str) -> std::result::Result<String, String> + Send + Sync>;

/// Where `marquee live` listens by default.
pub fn default_socket_path() -> PathBuf {
    if let Some(d) = std::env::var_os("MARQUEE_CONTROL") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("marquee"))
        .unwrap_or_else(|| std::env::temp_dir().join(format!("marquee-{}", uid())));
    base.join("live.sock")
}

#[cfg(unix)]
fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn uid() -> u32 {
    0
}

#[cfg(all(test, unix))]
mod private_dir_tests {
    use super::*;

    #[test]
    fn a_socket_in_a_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ControlServer::start(
            &shared.join("live.sock"),
            Arc::new(|_: &str| Ok(String::new())),
        )
        .unwrap_err();
        assert!(e.to_string().contains("writable by other users"), "{e}");
        // And it was not chmod-ed behind the user's back.
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o777);
    }
}

/// The server half, run by the live command.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

#[cfg(unix)]
impl ControlServer {
    /// Listens at `path` (its directory is created 0700). A stale socket left by a crashed
    /// session is replaced; a live one is an error (another session is running).
    pub fn start(path: &Path, handler: Handler) -> Result<Self> {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::net::{UnixListener, UnixStream};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| HighlightError::io(dir, e))?;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
            // Nobody else may be able to replace the socket (a shared temp dir could hold
            // a directory someone else made first).
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(dir).map_err(|e| HighlightError::io(dir, e))?;
            if meta.uid() != uid() || meta.mode() & 0o022 != 0 {
                return Err(HighlightError::Invalid(format!(
                    "{} is writable by other users or not ours; set MARQUEE_CONTROL or --control",
                    dir.display()
                )));
            }
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(HighlightError::Invalid(format!(
                    "another live session is listening at {}; stop it or set MARQUEE_CONTROL",
                    path.display()
                )));
            }
            use std::os::unix::fs::FileTypeExt;
            let is_socket = std::fs::symlink_metadata(path)
                .map(|m| m.file_type().is_socket())
                .unwrap_or(false);
            if !is_socket {
                return Err(HighlightError::Invalid(format!(
                    "{} exists and is not a socket; pick another --control path",
                    path.display()
                )));
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path).map_err(|e| HighlightError::io(path, e))?;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        listener
            .set_nonblocking(true)
            .map_err(|e| HighlightError::io(path, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("highlight-control".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                            let mut line = String::new();
                            let mut reader = BufReader::new(&stream);
                            // Requests are short; a client sending more is cut off.
                            let read = reader.by_ref().take(4096).read_line(&mut line).unwrap_or(0);
                            let answer = if read == 0 {
                                "err empty request".to_string()
                            } else {
                                match handler(line.trim()) {
                                    Ok(json) => format!("ok {}", json.replace('\n', " ")),
                                    Err(msg) => format!("err {}", msg.replace('\n', " ")),
                                }
                            };
                            let mut w = &stream;
                            let _ = writeln!(w, "{answer}");
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
            })
            .map_err(|e| {
                HighlightError::Invalid(format!("cannot start the control thread: {e}"))
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }
}

#[cfg(not(unix))]
impl ControlServer {
    pub fn start(path: &Path, _handler: Handler) -> Result<Self> {
        Err(HighlightError::NotRunning {
            path: path.display().to_string(),
            reason: "the control socket is Unix-only for now".into(),
        })
    }
}

impl ControlServer {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops listening and removes the socket.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The client half: sends one request line, returns the JSON of an `ok` answer.
#[cfg(unix)]
pub fn request(path: &Path, line: &str, timeout: Duration) -> Result<String> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let not_running = |e: std::io::Error| HighlightError::NotRunning {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut s = UnixStream::connect(path).map_err(not_running)?;
    s.set_read_timeout(Some(timeout)).map_err(not_running)?;
    writeln!(s, "{}", line.replace('\n', " ")).map_err(not_running)?;
    let mut answer = String::new();
    BufReader::new(&s)
        .read_line(&mut answer)
        .map_err(not_running)?;
    let answer = answer.trim_end();
    if let Some(json) = answer.strip_prefix("ok ") {
        Ok(json.to_string())
    } else if let Some(msg) = answer.strip_prefix("err ") {
        Err(HighlightError::Remote(msg.to_string()))
    } else {
        Err(HighlightError::Remote(format!(
            "unexpected answer '{answer}'"
        )))
    }
}

#[cfg(not(unix))]
pub fn request(path: &Path, _line: &str, _timeout: Duration) -> Result<String> {
    Err(HighlightError::NotRunning {
        path: path.display().to_string(),
        reason: "the control socket is Unix-only for now".into(),
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_request_gets_the_handlers_answer_and_errors_come_back_as_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rt/live.sock");
        let server = ControlServer::start(
            &path,
            Arc::new(|line: &str| match line {
                "ping" => Ok("{\"pong\":true}".into()),
                other => Err(format!("unknown request '{other}'")),
            }),
        )
        .unwrap();
        let t = Duration::from_secs(5);
        assert_eq!(request(&path, "ping", t).unwrap(), "{\"pong\":true}");
        let e = request(&path, "dance", t).unwrap_err();
        assert!(e.to_string().contains("unknown request 'dance'"), "{e}");
        // A second server on the same socket is refused while the first lives.
        assert!(ControlServer::start(&path, Arc::new(|_: &str| Ok(String::new()))).is_err());
        server.stop();
        assert!(!path.exists());
        let e = request(&path, "ping", t).unwrap_err();
        assert!(e.to_string().contains("is `marquee live` running"), "{e}");
    }

    #[test]
    fn a_stale_socket_from_a_crash_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.sock");
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale); // the file stays, nobody listens
        let server = ControlServer::start(&path, Arc::new(|_: &str| Ok("1".into()))).unwrap();
        assert_eq!(request(&path, "ping", Duration::from_secs(5)).unwrap(), "1");
        server.stop();
    }
}
