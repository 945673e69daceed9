//! Headless Chromium driven over the DevTools protocol: open a page (with a script of the
//! test's run first), read from it, and wait until it holds what the test expects.
//! `--dump-dom` with a virtual-time budget is not enough for a page that joins over a
//! WebSocket: its frames do not hold virtual time back, so the DOM can be read before the page
//! has joined.
//!
//! DevTools runs over `--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-terminated JSON), not
//! a TCP port: the pipes are inherited, so a Chromium started in another network namespace
//! (`ip netns exec NS chromium`) is driven the same way — its DevTools port would live on
//! that namespace's loopback, and Chromium ignores `--remote-debugging-address`.

use crate::programs::program;
use crate::util::tempdir;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, PipeWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one DevTools call may take before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium with its DevTools pipe, killed on drop.
pub struct Chromium {
    child: Child,
    to: PipeWriter,
    from: mpsc::Receiver<Value>,
    id: u64,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts Chromium (`apt-get install -y chromium`) with `extra` flags.
    pub fn start(extra: &[&str]) -> Chromium {
        Chromium::start_with(Command::new(program("chromium")), extra)
    }

    /// Starts Chromium through `launcher` — `chromium` itself, or a command that execs it
    /// (`ip netns exec NS chromium`) — with `extra` flags.
    pub fn start_with(mut launcher: Command, extra: &[&str]) -> Chromium {
        let profile = tempdir("marquee-chromium-");
        let (commands_in, commands) = std::io::pipe().expect("pipe");
        let (events, events_out) = std::io::pipe().expect("pipe");
        let (r, w) = (commands_in.as_raw_fd(), events_out.as_raw_fd());
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2) on
        // descriptors this process owns. Copies go above 9 first so that placing one on 3 or 4
        // cannot overwrite the other.
        unsafe {
            launcher.pre_exec(move || {
                let a = libc::fcntl(r, libc::F_DUPFD, 10);
                let b = libc::fcntl(w, libc::F_DUPFD, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(a);
                libc::close(b);
                Ok(())
            });
        }
        let child = launcher
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts (apt-get install -y chromium)");
        // Only Chromium holds these ends now: its exit is an end of file here.
        drop(commands_in);
        drop(events_out);
        let (tx, from) = mpsc::sync_channel(256);
        std::thread::spawn(move || {
            let mut events = BufReader::new(events);
            let mut frame = Vec::new();
            loop {
                frame.clear();
                match events.read_until(0, &mut frame) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if frame.last() == Some(&0) {
                    frame.pop();
                }
                // Events are not needed: only answers (with an id) go through.
                let Ok(v) = serde_json::from_slice::<Value>(&frame) else {
                    continue;
                };
                if v.get("id").is_some() && tx.send(v).is_err() {
                    return;
                }
            }
        });
        Chromium {
            child,
            to: commands,
            from,
            id: 0,
            _profile: profile,
        }
    }

    /// Opens `url` in a new tab and waits until the page's text contains `needle`: `Ok` with
    /// the text then, `Err` with the last text read at `timeout`.
    pub fn text_until(
        &mut self,
        url: &str,
        needle: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let tab = self.open(url, None)?;
        let deadline = Instant::now() + timeout;
        let mut text = String::new();
        while Instant::now() < deadline {
            let v = self.eval(&tab, "document.body ? document.body.innerText : ''")?;
            text = v.as_str().unwrap_or_default().to_string();
            if text.contains(needle) {
                return Ok(text);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(text)
    }

    /// Opens `url` in a new tab, with `script` run in every document of it before the page's
    /// own scripts (to stand in for a browser API); the tab's session, for [`Chromium::eval`].
    pub fn open(&mut self, url: &str, script: Option<&str>) -> Result<String, String> {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }))?;
        let target = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        )?;
        let tab = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(source) = script {
            self.call(Some(&tab), "Page.enable", json!({}))?;
            self.call(
                Some(&tab),
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": source }),
            )?;
        }
        self.call(Some(&tab), "Page.navigate", json!({ "url": url }))?;
        Ok(tab)
    }

    /// The value of `expression` in `tab` (a promise is awaited); a thrown error is `Err`.
    pub fn eval(&mut self, tab: &str, expression: &str) -> Result<Value, String> {
        let r = self.call(
            Some(tab),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `expression` is true in `tab`: `Err` with what `report` says then, at
    /// `timeout`.
    pub fn wait_for(
        &mut self,
        tab: &str,
        expression: &str,
        report: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            // A page between two documents cannot be read: that is not yet true.
            if self.eval(tab, expression).ok() == Some(Value::Bool(true)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let said = self.eval(tab, report).unwrap_or_else(|e| json!(e));
                return Err(format!("{expression} not true in {timeout:?}: {said}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One DevTools call: its answer is matched by id (answers to earlier calls that timed
    /// out are skipped).
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.id += 1;
        let mut msg = json!({ "id": self.id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .map_err(|e| format!("DevTools {method}: {e} (did Chromium exit?)"))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.from.recv_timeout(left).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => format!("DevTools {method}: no answer in 30 s"),
                mpsc::RecvTimeoutError::Disconnected => {
                    format!("DevTools {method}: Chromium exited")
                }
            })?;
            if v["id"].as_u64() != Some(self.id) {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(format!("DevTools {method}: {e}"));
            }
            return Ok(v["result"].clone());
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
