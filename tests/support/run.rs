//! [`Run`]: a child process whose stdout and stderr are captured while it runs.
//!
//! Reader threads copy both pipes into shared buffers, so a test can wait for a line to appear
//! (with a timeout), signal the process, and read everything it printed. Waiting uses `wait4`,
//! which also yields the child's own resource usage (CPU time, peak RSS) for the benchmarks.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Captured {
    out: Vec<u8>,
    err: Vec<u8>,
    out_done: bool,
    err_done: bool,
}

type Shared = Arc<(Mutex<Captured>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Captured> {
    shared.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// CPU and memory a finished child used (from `wait4`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Peak resident set size in bytes.
    pub max_rss_bytes: u64,
}

impl Usage {
    /// User + system CPU seconds.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    fn from_rusage(ru: &libc::rusage) -> Usage {
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Usage {
            user_s: tv(ru.ru_utime),
            sys_s: tv(ru.ru_stime),
            // Linux reports ru_maxrss in KiB.
            max_rss_bytes: (ru.ru_maxrss.max(0) as u64) * 1024,
        }
    }
}

/// A running (or finished) child process with captured output.
pub struct Run {
    name: String,
    pid: libc::pid_t,
    shared: Shared,
    status: Option<ExitStatus>,
    usage: Option<Usage>,
    started: Instant,
    ended: Option<Instant>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("status", &self.status)
            .finish()
    }
}

fn describe_command(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

impl Run {
    /// Spawns `cmd` with stdin closed and stdout/stderr captured.
    pub fn spawn(cmd: Command) -> Run {
        Run::spawn_inner(cmd, None)
    }

    /// Spawns `cmd`, writes `input` to its stdin, then closes stdin.
    pub fn spawn_with_input(cmd: Command, input: &[u8]) -> Run {
        Run::spawn_inner(cmd, Some(input.to_vec()))
    }

    fn spawn_inner(mut cmd: Command, input: Option<Vec<u8>>) -> Run {
        let name = describe_command(&cmd);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!(
                "could not start `{name}`: {e}{}",
                crate::programs::install_hint(cmd.get_program())
            ),
        };
        let shared: Shared = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
                // dropping stdin closes it
            });
        }
        let out = child.stdout.take().expect("stdout piped");
        let err = child.stderr.take().expect("stderr piped");
        spawn_reader(out, shared.clone(), false);
        spawn_reader(err, shared.clone(), true);
        Run {
            name,
            pid: child.id() as libc::pid_t,
            shared,
            status: None,
            usage: None,
            started: Instant::now(),
            ended: None,
        }
        // `child` is dropped here without waiting: std does not reap on drop; we reap with wait4.
    }

    /// The command line this was started with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Time since the process was spawned (or until it ended).
    pub fn elapsed(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    /// When the process was spawned.
    pub fn started_at(&self) -> Instant {
        self.started
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.shared).out).into_owned()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.shared).err).into_owned()
    }

    /// Raw stdout bytes so far.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        lock(&self.shared).out.clone()
    }

    /// Raw stderr bytes so far.
    pub fn stderr_bytes(&self) -> Vec<u8> {
        lock(&self.shared).err.clone()
    }

    /// Waits until `pred(stdout, stderr)` holds, the output ends, or `timeout` passes.
    /// Returns whether the predicate held.
    pub fn wait_output(&self, timeout: Duration, pred: impl Fn(&str, &str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = lock(&self.shared);
        loop {
            let out = String::from_utf8_lossy(&g.out);
            let err = String::from_utf8_lossy(&g.err);
            if pred(&out, &err) {
                return true;
            }
            if g.out_done && g.err_done {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            g = self
                .shared
                .1
                .wait_timeout(g, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits until stderr contains `needle` (case-sensitive).
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_output(timeout, |_, e| e.contains(needle))
    }

    /// Waits until stdout contains `needle` (case-sensitive).
    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_output(timeout, |o, _| o.contains(needle))
    }

    /// Non-blocking: the exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        self.reap(libc::WNOHANG);
        self.status
    }

    fn reap(&mut self, flags: libc::c_int) {
        let mut st: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value for this plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: plain syscall on our own child's pid with valid out-pointers.
            let r = unsafe { libc::wait4(self.pid, &mut st, flags, &mut ru) };
            if r == self.pid {
                self.status = Some(ExitStatus::from_raw(st));
                self.usage = Some(Usage::from_rusage(&ru));
                self.ended = Some(Instant::now());
                return;
            }
            if r == 0 {
                return;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            panic!("wait4 on `{}` (pid {}): {e}", self.name, self.pid);
        }
    }

    /// Waits up to `timeout` for the process to end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                self.drain_readers(Duration::from_secs(2));
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `timeout`; if it is still running then, kills it and panics with its output.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        match self.wait_timeout(timeout) {
            Some(s) => s,
            None => {
                self.kill9();
                panic!(
                    "`{}` did not exit within {:?}; killed it.\n{}",
                    self.name,
                    timeout,
                    self.report()
                );
            }
        }
    }

    /// Sends `sig` if the process has not been reaped yet.
    pub fn signal(&mut self, sig: libc::c_int) {
        if self.try_wait().is_none() {
            // SAFETY: the pid is our un-reaped child, so it cannot have been reused.
            unsafe {
                libc::kill(self.pid, sig);
            }
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status.
    pub fn terminate(&mut self, grace: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        if let Some(s) = self.wait_timeout(grace) {
            return s;
        }
        self.kill9()
    }

    /// SIGINT (Ctrl-C), wait up to `grace`, then SIGKILL.
    pub fn interrupt(&mut self, grace: Duration) -> ExitStatus {
        self.signal(libc::SIGINT);
        if let Some(s) = self.wait_timeout(grace) {
            return s;
        }
        self.kill9()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) -> ExitStatus {
        self.signal(libc::SIGKILL);
        if self.status.is_none() {
            self.reap(0);
        }
        self.drain_readers(Duration::from_secs(2));
        self.status.expect("reaped")
    }

    /// Exit status, if ended.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// CPU time and peak RSS, once the process has been reaped.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn drain_readers(&self, timeout: Duration) {
        // Output may still be in the pipes after exit; wait for EOF (bounded: a grandchild
        // holding the pipe open must not hang the test).
        let deadline = Instant::now() + timeout;
        let mut g = lock(&self.shared);
        while !(g.out_done && g.err_done) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            g = self
                .shared
                .1
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// A human-readable account for failure messages: command, status, and output tails.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nstatus: {:?} after {:.1}s\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.name,
            self.status,
            self.elapsed().as_secs_f64(),
            tail(&self.stdout(), 3000),
            tail(&self.stderr(), 6000)
        )
    }
}

/// The last `max` bytes of `s` (on a char boundary).
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn spawn_reader(mut pipe: impl Read + Send + 'static, shared: Shared, is_err: bool) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut g = lock(&shared);
                    if is_err {
                        g.err.extend_from_slice(&buf[..n]);
                    } else {
                        g.out.extend_from_slice(&buf[..n]);
                    }
                    drop(g);
                    shared.1.notify_all();
                }
            }
        }
        let mut g = lock(&shared);
        if is_err {
            g.err_done = true;
        } else {
            g.out_done = true;
        }
        drop(g);
        shared.1.notify_all();
    });
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SAFETY: un-reaped child; see `signal`.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
            let mut st = 0;
            // SAFETY: reaping our own child.
            unsafe {
                libc::waitpid(self.pid, &mut st, 0);
            }
        }
    }
}

/// The result of [`exec`].
#[derive(Debug, Clone)]
pub struct Done {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Done {
    pub fn success(&self) -> bool {
        self.status.success()
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// stdout and stderr together, for "the message says …" checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout_str(), self.stderr)
    }
}

/// Runs `cmd` to completion (stdin closed), killing it and panicking after `timeout`.
pub fn exec(cmd: Command, timeout: Duration) -> Done {
    finish(Run::spawn(cmd), timeout)
}

/// Like [`exec`], feeding `input` on stdin.
pub fn exec_with_input(cmd: Command, input: &[u8], timeout: Duration) -> Done {
    finish(Run::spawn_with_input(cmd, input), timeout)
}

fn finish(mut run: Run, timeout: Duration) -> Done {
    let status = run.wait(timeout);
    Done {
        status,
        stdout: run.stdout_bytes(),
        stderr: run.stderr(),
        elapsed: run.elapsed(),
    }
}

/// Convenience: a [`Command`] from a program and arguments.
pub fn cmd<S: AsRef<OsStr>>(program: &str, args: impl IntoIterator<Item = S>) -> Command {
    let mut c = Command::new(crate::programs::program(program));
    c.args(args);
    c
}
