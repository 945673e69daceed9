//! [`Keychain`]: a private D-Bus session bus with an unlocked gnome-keyring (Secret Service).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::run::{Run, exec};

/// `dbus-daemon --session` on a socket in a temp dir, plus
/// `gnome-keyring-daemon --foreground --unlock --components=secrets` fed a password on stdin,
/// with its keyrings under the same temp dir. Children reach it through [`Keychain::env`].
pub struct Keychain {
    dir: tempfile::TempDir,
    address: String,
    bus: Option<Run>,
    keyring: Option<Run>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("address", &self.address)
            .finish()
    }
}

impl Keychain {
    /// Starts the bus and the keyring and waits until the Secret Service has a `default`
    /// collection (unlocked).
    pub fn start() -> Keychain {
        let dir = crate::util::tempdir("marquee-keychain-");
        let home = dir.path().join("home");
        let runtime = dir.path().join("run");
        std::fs::create_dir_all(&home).expect("mkdir home");
        std::fs::create_dir_all(&runtime).expect("mkdir run");
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700));
        }
        let socket = dir.path().join("bus");
        // Our own bus config: the stock session config would D-Bus-activate a second, locked
        // gnome-keyring from /usr/share/dbus-1/services when a client asks for the Secret
        // Service before ours has registered. No service dirs here, so no activation.
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write bus config");
        let mut c = Command::new(crate::programs::program("dbus-daemon"));
        c.arg(format!("--config-file={}", config.display())).args([
            "--nofork",
            "--nopidfile",
            "--print-address=1",
        ]);
        let mut bus = Run::spawn(c);
        let printed = bus.wait_output(Duration::from_secs(10), |o, _| o.contains('\n'));
        if !printed {
            let report = bus.report();
            bus.kill9();
            panic!("dbus-daemon did not print its address within 10 s:\n{report}");
        }
        let address = bus
            .stdout()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(
            address.starts_with("unix:"),
            "unexpected dbus address {address:?}"
        );

        let mut c = Command::new(crate::programs::program("gnome-keyring-daemon"));
        c.args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env_remove("GNOME_KEYRING_CONTROL")
            .env_remove("DISPLAY");
        // The password only unlocks this throw-away keyring.
        let keyring = Run::spawn_with_input(c, b"marquee-e2e-keyring-password");
        let mut k = Keychain {
            dir,
            address,
            bus: Some(bus),
            keyring: Some(keyring),
        };
        let mut last = String::new();
        let ready = crate::util::wait_until(Duration::from_secs(10), || {
            if let Some(st) = k.keyring.as_mut().and_then(Run::try_wait) {
                panic!(
                    "gnome-keyring-daemon exited ({st}) during start-up:\n{}",
                    k.keyring.as_ref().map(Run::report).unwrap_or_default()
                );
            }
            let d = k.dbus_send(&[
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.ReadAlias",
                "string:default",
            ]);
            last = format!("{}{}", d.stdout_str(), d.stderr);
            d.success() && last.contains("/org/freedesktop/secrets/collection/")
        });
        assert!(
            ready,
            "the Secret Service did not offer an unlocked default collection within 10 s \
             (last answer: {last}):\n{}",
            k.keyring.as_ref().map(Run::report).unwrap_or_default()
        );
        k
    }

    /// `dbus-send --session --print-reply --dest=org.freedesktop.secrets ARGS…` on this bus.
    pub fn dbus_send(&self, args: &[&str]) -> crate::run::Done {
        let mut c = Command::new(crate::programs::program("dbus-send"));
        c.args([
            "--session",
            "--print-reply",
            "--reply-timeout=3000",
            "--dest=org.freedesktop.secrets",
        ])
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        exec(c, Duration::from_secs(10))
    }

    /// The environment a child needs to reach this keychain.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone())]
    }

    /// The bus address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The temp dir holding the bus socket and the (encrypted) keyrings.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Keychain {
    fn drop(&mut self) {
        if let Some(mut r) = self.keyring.take() {
            r.terminate(Duration::from_secs(3));
        }
        if let Some(mut r) = self.bus.take() {
            r.terminate(Duration::from_secs(3));
        }
    }
}
