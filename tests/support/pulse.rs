//! [`Pulse`]: a private PulseAudio server with a null sink whose monitor is the microphone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::run::{Run, exec};

/// A PulseAudio daemon on its own socket, with null sink `vsink` and default source
/// `vsink.monitor`: whatever is played into the sink is what a microphone client records.
///
/// Children reach it through [`Pulse::env`] (`PULSE_SERVER`, …); ALSA clients such as cpal go
/// through the pulse plugin (libasound2-plugins), which follows `PULSE_SERVER` too.
pub struct Pulse {
    dir: tempfile::TempDir,
    socket: PathBuf,
    run: Option<Run>,
}

impl std::fmt::Debug for Pulse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pulse")
            .field("socket", &self.socket)
            .finish()
    }
}

/// The null sink's name.
pub const SINK: &str = "vsink";
/// Its monitor, the default source.
pub const SOURCE: &str = "vsink.monitor";

impl Pulse {
    /// Starts the daemon and waits until `pactl info` answers.
    pub fn start() -> Pulse {
        let dir = crate::util::tempdir("marquee-pulse-");
        let socket = dir.path().join("native");
        for sub in ["run", "config"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        // Native PulseAudio clients (cpal's pulseaudio host) send a cookie; with
        // auth-anonymous any well-formed one is accepted, so give them one to find.
        std::fs::write(dir.path().join("cookie"), [7u8; 256]).expect("write cookie");
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                dir.path().join("run"),
                std::fs::Permissions::from_mode(0o700),
            );
        }
        let mut c = Command::new(crate::programs::program("pulseaudio"));
        c.args([
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--log-target=stderr",
            "-n",
        ])
        .arg(format!(
            "--load=module-native-protocol-unix socket={} auth-anonymous=1",
            socket.display()
        ))
        .arg(format!(
            "--load=module-null-sink sink_name={SINK} rate=48000"
        ));
        daemon_env(&mut c, dir.path());
        let run = Run::spawn(c);
        let mut p = Pulse {
            dir,
            socket,
            run: Some(run),
        };
        let ok = crate::util::wait_until(Duration::from_secs(10), || {
            if let Some(st) = p.run.as_mut().and_then(Run::try_wait) {
                panic!(
                    "pulseaudio exited ({st}) during start-up:\n{}",
                    p.run.as_ref().map(Run::report).unwrap_or_default()
                );
            }
            p.socket.exists() && p.pactl(&["info"]).success()
        });
        assert!(
            ok,
            "pulseaudio did not answer `pactl info` within 10 s:\n{}",
            p.run.as_ref().map(Run::report).unwrap_or_default()
        );
        for args in [["set-default-sink", SINK], ["set-default-source", SOURCE]] {
            let d = p.pactl(&args);
            assert!(d.success(), "pactl {args:?} failed: {}", d.stderr);
        }
        p
    }

    fn pactl(&self, args: &[&str]) -> crate::run::Done {
        let mut c = Command::new(crate::programs::program("pactl"));
        c.args(args).envs(self.env());
        exec(c, Duration::from_secs(10))
    }

    /// `pactl ARGS…` against this server; panics if it fails. Returns stdout.
    pub fn pactl_ok(&self, args: &[&str]) -> String {
        let d = self.pactl(args);
        assert!(d.success(), "pactl {args:?} failed: {}", d.stderr);
        d.stdout_str()
    }

    /// The environment a child needs to use this server as its sound system.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PULSE_SERVER".into(),
                format!("unix:{}", self.socket.display()),
            ),
            ("PULSE_SOURCE".into(), SOURCE.into()),
            (
                "PULSE_COOKIE".into(),
                self.dir.path().join("cookie").display().to_string(),
            ),
            ("PULSE_SINK".into(), SINK.into()),
        ]
    }

    /// The server's private dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds another null sink (its monitor `NAME.monitor` is another microphone).
    pub fn add_sink(&self, name: &str) {
        self.pactl_ok(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=48000",
        ]);
    }

    /// Plays a continuous sine of `hz` into the sink (sox | pacat --latency-msec=20) until the
    /// returned guard is dropped. Waits until the stream is connected to the sink.
    pub fn play_tone(&self, hz: u32) -> Tone {
        self.play_tone_to(SINK, hz)
    }

    /// [`Pulse::play_tone`] into another sink.
    pub fn play_tone_to(&self, sink: &str, hz: u32) -> Tone {
        let before = self
            .pactl_ok(&["list", "short", "sink-inputs"])
            .lines()
            .count();
        let mut sox = Command::new(crate::programs::program("sox"));
        sox.args([
            "-q", "-n", "-t", "raw", "-r", "48000", "-e", "signed", "-b", "16", "-c", "2",
        ])
        .arg("-")
        .args(["synth", "3600", "sine"])
        .arg(hz.to_string())
        .args(["vol", "0.5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut sox = sox.spawn().unwrap_or_else(|e| {
            panic!(
                "start sox: {e}{}",
                crate::programs::install_hint("sox".as_ref())
            )
        });
        let mut pacat = Command::new(crate::programs::program("pacat"));
        pacat
            .args([
                "--playback",
                "--raw",
                "--latency-msec=20",
                "--format=s16le",
                "--rate=48000",
                "--channels=2",
                "--client-name=marquee-e2e-tone",
            ])
            .arg(format!("--device={sink}"))
            .envs(self.env())
            .stdin(Stdio::from(sox.stdout.take().expect("sox stdout")))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let pacat = pacat.spawn().unwrap_or_else(|e| {
            let _ = sox.kill();
            let _ = sox.wait();
            panic!(
                "start pacat: {e}{}",
                crate::programs::install_hint("pacat".as_ref())
            )
        });
        let tone = Tone { sox, pacat };
        let playing = crate::util::wait_until(Duration::from_secs(5), || {
            self.pactl_ok(&["list", "short", "sink-inputs"])
                .lines()
                .count()
                > before
        });
        assert!(playing, "the tone never reached the null sink");
        tone
    }

    /// Records `seconds` of the monitor with `parec` (mono s16le 48 kHz). The first 300 ms are
    /// skipped (stream start-up).
    pub fn record_monitor(&self, seconds: f64) -> Vec<f32> {
        use std::io::Read;
        let mut c = Command::new(crate::programs::program("parec"));
        c.args([
            "--raw",
            "--latency-msec=20",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ])
        .arg(format!("--device={SOURCE}"))
        .envs(self.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = c.spawn().expect("start parec");
        let skip = (0.3 * 48000.0) as usize * 2;
        let want = skip + (seconds * 48000.0) as usize * 2;
        let mut buf = vec![0u8; want];
        let mut out = child.stdout.take().expect("parec stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = out.read_exact(&mut buf).map(|_| buf);
            let _ = tx.send(r);
        });
        let got = rx.recv_timeout(Duration::from_secs_f64(seconds + 10.0));
        let _ = child.kill();
        let _ = child.wait();
        let bytes = match got {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => panic!("parec: {e}"),
            Err(_) => panic!("parec delivered less than {seconds} s of audio in time"),
        };
        bytes[skip..]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect()
    }
}

fn daemon_env(c: &mut Command, dir: &Path) {
    c.env("HOME", dir)
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("PULSE_SERVER")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
}

impl Drop for Pulse {
    fn drop(&mut self) {
        if let Some(mut r) = self.run.take() {
            r.terminate(Duration::from_secs(3));
        }
    }
}

/// A tone playing into the sink; stops on drop.
pub struct Tone {
    sox: std::process::Child,
    pacat: std::process::Child,
}

impl std::fmt::Debug for Tone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tone")
            .field("sox", &self.sox.id())
            .field("pacat", &self.pacat.id())
            .finish()
    }
}

impl Drop for Tone {
    fn drop(&mut self) {
        let _ = self.pacat.kill();
        let _ = self.pacat.wait();
        let _ = self.sox.kill();
        let _ = self.sox.wait();
    }
}
