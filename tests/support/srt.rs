//! [`SrtListener`]: a real SRT ingest (`srt-live-transmit` from Debian's srt-tools) in
//! listener mode on a free UDP port of 127.0.0.1, writing the MPEG-TS it receives to a file.

use crate::netns::NetLink;
use crate::programs::program;
use crate::util::{free_udp_port, udp_port_bound, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SrtListener {
    child: Option<Child>,
    port: u16,
    out: PathBuf,
    log: PathBuf,
}

impl SrtListener {
    /// Listens (with `passphrase`, if any) and writes what arrives to `dir/srt-PORT.ts`;
    /// returns once the UDP port is bound.
    pub fn start(dir: &Path, passphrase: Option<&str>) -> SrtListener {
        let port = free_udp_port();
        Self::spawn(dir, passphrase, port, |c| c, || udp_port_bound(port))
    }

    /// Like [`SrtListener::start`], inside `link`'s namespace (reach it at
    /// `link.inner_ip()`), behind whatever the link does to packets.
    pub fn start_in(link: &NetLink, dir: &Path, passphrase: Option<&str>) -> SrtListener {
        let port = free_udp_port();
        Self::spawn(
            dir,
            passphrase,
            port,
            |c| link.inside(c),
            || link.udp_port_bound(port),
        )
    }

    fn spawn(
        dir: &Path,
        passphrase: Option<&str>,
        port: u16,
        wrap: impl FnOnce(Command) -> Command,
        bound: impl FnMut() -> bool,
    ) -> SrtListener {
        let mut uri = format!("srt://:{port}?mode=listener");
        if let Some(p) = passphrase {
            uri.push_str(&format!("&passphrase={p}"));
        }
        let out = dir.join(format!("srt-{port}.ts"));
        let log = dir.join(format!("srt-{port}.log"));
        let mut c = Command::new(program("srt-live-transmit"));
        c.args([uri.as_str(), "file://con"]);
        let child = wrap(c)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("create the SRT output file"))
            .stderr(std::fs::File::create(&log).expect("create the SRT log"))
            .spawn()
            .expect("start srt-live-transmit");
        let up = wait_until(Duration::from_secs(10), bound);
        assert!(up, "srt-live-transmit did not bind UDP {port}");
        SrtListener {
            child: Some(child),
            port,
            out,
            log,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The MPEG-TS received so far.
    pub fn output(&self) -> &Path {
        &self.out
    }

    /// What srt-live-transmit printed (its rejections say why).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the listener (its file then holds everything received).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SrtListener {
    fn drop(&mut self) {
        self.stop();
    }
}
