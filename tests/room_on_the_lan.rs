//! The app's room on the local network, reached from another machine: a second network
//! namespace joined to this one by a veth pair stands for a phone on the Wi-Fi. The room is
//! started as the app starts it ("Local network" on the veth's address, a fixed port); from the
//! other namespace the viewer link (the LAN address, never 127.0.0.1) serves the viewer page,
//! a real client (`marquee room watch`) joins through it and sees what the host says, so does
//! the viewer page in headless Chromium (driven over DevTools until the message shows), and
//! 127.0.0.1 on that port reaches nothing there.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_e2e::{Chromium, Run, exec, free_port, marquee_path, program, tempdir};
use marquee_profile::RoomHomePrefs;
use marquee_room::client::ClientEvent;
use marquee_room::protocol::{ClientMsg, DanmakuMode, Role};
use marquee_room::token::{self, Claims};
use marquee_show::room_home::{self, HomeChoice};
use std::process::Command;
use std::time::Duration;

/// A network namespace with one end of a veth pair (`10.X.Y.2`), the other end here
/// (`10.X.Y.1`); removed (with the pair) on drop.
struct Lan {
    ns: String,
    host_ip: String,
}

fn ip(args: &[&str]) {
    let mut c = Command::new("ip");
    c.args(args);
    let d = exec(c, Duration::from_secs(10));
    assert!(
        d.success(),
        "ip {}: {} (needs root and iproute2: apt-get install -y iproute2)",
        args.join(" "),
        d.stderr
    );
}

impl Lan {
    fn new() -> Lan {
        let id = std::process::id();
        let ns = format!("mqlan{id}");
        let (here, there) = (format!("mql{id}h"), format!("mql{id}v"));
        let net = format!("10.213.{}", id % 250 + 1);
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", &ns]);
        let lan = Lan {
            ns: ns.clone(),
            host_ip: format!("{net}.1"),
        };
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        ip(&["link", "set", &there, "netns", &ns]);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &here]);
        ip(&["link", "set", &here, "up"]);
        let inside = |args: &[&str]| {
            let mut a = vec!["netns", "exec", &ns, "ip"];
            a.extend(args);
            ip(&a);
        };
        inside(&["addr", "add", &format!("{net}.2/24"), "dev", &there]);
        inside(&["link", "set", &there, "up"]);
        inside(&["link", "set", "lo", "up"]);
        lan
    }

    /// A command run inside the namespace.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    /// HTTP status of `url` fetched from inside the namespace (`000`: not reached).
    fn http_status(&self, url: &str) -> String {
        let mut c = self.cmd("curl");
        c.args([
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "5",
            "-w",
            "%{http_code}",
            url,
        ]);
        exec(c, Duration::from_secs(15)).stdout_str()
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[test]
fn a_local_network_room_is_reached_from_another_network_through_its_lan_address_only() {
    let lan = Lan::new();
    let dir = tempdir("marquee-room-lan-");
    let port = free_port();
    let choice = HomeChoice::from_prefs(&RoomHomePrefs {
        mode: "local_network".into(),
        lan_address: Some(lan.host_ip.clone()),
        port: Some(port),
        ..RoomHomePrefs::default()
    })
    .unwrap();
    let plan = room_home::plan(&choice, Some(0), &room_home::host_keychain()).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (joined_tx, joined_rx) = std::sync::mpsc::channel();
    let room = rt
        .block_on(marquee_show::room::start(
            dir.path(),
            plan,
            |_| {},
            |ev| {
                matches!(ev, ClientEvent::Joined { .. })
                    .then_some(())
                    .into_iter()
                    .collect()
            },
            move |(), _| {
                let _ = joined_tx.send(());
            },
        ))
        .unwrap();
    let viewer_url = room.address.viewer_url.clone();
    assert_eq!(
        viewer_url,
        format!("http://{}:{port}/room/main", lan.host_ip),
        "the link carries the LAN address and the fixed port"
    );
    joined_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the host joined its room on the LAN address");

    // From the other network: the page through the LAN address; nothing on 127.0.0.1.
    assert_eq!(lan.http_status(&viewer_url), "200");
    assert_eq!(
        lan.http_status(&format!("http://127.0.0.1:{port}/room/main")),
        "000",
        "127.0.0.1 is the other machine's own loopback: the room is not there"
    );

    // A real client from the other network joins through the link and hears the host.
    let mut watch = lan.cmd(marquee_path().to_str().unwrap());
    watch.args([
        "room",
        "watch",
        "--url",
        &viewer_url,
        "--nickname",
        "lanfan",
    ]);
    let watcher = Run::spawn(watch);
    assert!(
        watcher.wait_for_stdout("* joined as lanfan", Duration::from_secs(20)),
        "the viewer did not join through the LAN address: {}",
        watcher.report()
    );
    rt.block_on(room.send(ClientMsg::Danmaku {
        text: "欢迎局域网观众".into(),
        color: None,
        mode: DanmakuMode::default(),
    }))
    .unwrap();
    assert!(
        watcher.wait_for_stdout("欢迎局域网观众", Duration::from_secs(10)),
        "the viewer never saw the host's message: {}",
        watcher.report()
    );

    // Headless Chromium on the other network opens the link as a viewer (a viewer token in
    // the page's `#token=`, minted with the room's secret) and shows the host's message.
    let secret =
        marquee_room::secret::load_or_create_secret(&dir.path().join("room.secret")).unwrap();
    let viewer = token::sign(
        &secret,
        &Claims {
            room: "main".into(),
            user: "phone".into(),
            name: "phone".into(),
            role: Role::Viewer,
            exp_ms: marquee_room::now_ms() + 600_000,
        },
    );
    let chromium = program("chromium");
    let mut chromium = Chromium::start_with(lan.cmd(chromium.to_str().unwrap()), &[]);
    let shown = chromium.text_until(
        &format!("{viewer_url}#token={viewer}"),
        "欢迎局域网观众",
        Duration::from_secs(30),
    );
    assert!(
        shown.is_ok(),
        "the viewer page in Chromium joined through the LAN address and shows the host's \
         message: {shown:?}"
    );
    drop(chromium);
    drop(watcher);
    rt.block_on(room.stop());
}
