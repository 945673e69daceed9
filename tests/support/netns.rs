//! [`NetLink`]: a network namespace joined to this one by a veth pair, for tests of
//! what crosses a real (if local) network: loss with nftables, rate limits with tbf (this
//! kernel has no netem). Needs root, iproute2 and nftables.

use crate::run::exec;
use std::process::Command;
use std::time::Duration;

/// A network namespace with one end of a veth pair (`10.X.Y.2`), the other end here
/// (`10.X.Y.1`); removed (with the pair) on drop.
pub struct NetLink {
    ns: String,
    /// This end's address, `10.X.Y.1` (the guest's is `.2`).
    pub host_ip: String,
    /// The veth ends: here (towards the guest) and inside the namespace (towards the host).
    here: String,
    there: String,
}

fn run_ok(mut c: Command, what: &str) -> String {
    let d = exec(
        {
            c.stdin(std::process::Stdio::null());
            c
        },
        Duration::from_secs(10),
    );
    assert!(
        d.success(),
        "{what}: {} (needs root, iproute2 and nftables: apt-get install -y iproute2 nftables)",
        d.stderr
    );
    d.stdout_str()
}

fn ip(args: &[&str]) {
    let mut c = Command::new("ip");
    c.args(args);
    run_ok(c, &format!("ip {}", args.join(" ")));
}

impl NetLink {
    /// Creates the namespace and the pair (a name of this process's own; removed on drop).
    pub fn start() -> NetLink {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10;
        let id = format!("{}{n}", std::process::id());
        let pid = std::process::id();
        let ns = format!("mqice{id}");
        let (here, there) = (format!("mqi{id}h"), format!("mqi{id}v"));
        let net = format!("10.{}.{}", 214 + n, pid % 250 + 1);
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", &ns]);
        let link = NetLink {
            ns: ns.clone(),
            host_ip: format!("{net}.1"),
            here: here.clone(),
            there: there.clone(),
        };
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        ip(&["link", "set", &there, "netns", &ns]);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &here]);
        ip(&["link", "set", &here, "up"]);
        let inner = format!("{net}.2/24");
        for args in [
            ["addr", "add", inner.as_str(), "dev", there.as_str()],
            ["link", "set", there.as_str(), "up", ""],
            ["link", "set", "lo", "up", ""],
        ] {
            let mut a = vec!["netns", "exec", &ns, "ip"];
            a.extend(args.iter().filter(|s| !s.is_empty()));
            ip(&a);
        }
        link
    }

    /// `nft` inside the namespace.
    fn nft(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "nft"]).args(args);
        run_ok(c, &format!("nft {}", args.join(" ")))
    }

    /// Drops `pct` % of the UDP packets coming into and going out of the namespace, counted.
    pub fn lose_udp(&self, pct: u32) {
        self.lose("udp", pct);
    }

    /// Drops `pct` % of the TCP segments coming into and going out of the namespace, counted.
    pub fn lose_tcp(&self, pct: u32) {
        self.lose("tcp", pct);
    }

    fn lose(&self, proto: &str, pct: u32) {
        self.nft(&["add", "table", "inet", "mqloss"]);
        for (chain, hook) in [("in", "input"), ("out", "output")] {
            self.nft(&[
                "add",
                "chain",
                "inet",
                "mqloss",
                chain,
                &format!("{{ type filter hook {hook} priority 0; }}"),
            ]);
            self.nft(&[
                "add",
                "rule",
                "inet",
                "mqloss",
                chain,
                "meta",
                "l4proto",
                proto,
                "counter",
                "numgen",
                "random",
                "mod",
                "100",
                "<",
                &pct.to_string(),
                "counter",
                "drop",
            ]);
        }
    }

    /// A firewall in the namespace: no UDP leaves for `ip` except to `port` (a network that
    /// lets only its TURN relay through). Returns nothing; [`NetLink::blocked`] counts.
    pub fn block_udp_to(&self, ip: &str, port: u16) {
        self.nft(&["add", "table", "inet", "mqfw"]);
        self.nft(&[
            "add",
            "chain",
            "inet",
            "mqfw",
            "out",
            "{ type filter hook output priority 0; }",
        ]);
        self.nft(&[
            "add",
            "rule",
            "inet",
            "mqfw",
            "out",
            "ip",
            "daddr",
            ip,
            "udp",
            "dport",
            "!=",
            &port.to_string(),
            "counter",
            "drop",
        ]);
    }

    /// UDP packets the firewall of [`NetLink::block_udp_to`] dropped.
    pub fn blocked(&self) -> u64 {
        let text = self.nft(&["list", "table", "inet", "mqfw"]);
        text.split("counter packets ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Limits the link to `kbit` kbit/s each way (tbf on both veth ends: the guest's uplink
    /// and its return feed), with a 400 ms queue before packets are dropped.
    pub fn shape(&self, kbit: u32) {
        let args = |dev: &str| {
            [
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                "32kbit",
                "latency",
                "400ms",
            ]
            .map(str::to_string)
        };
        let mut c = Command::new("tc");
        c.args(args(&self.here));
        run_ok(c, "tc qdisc … tbf (here)");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "tc"])
            .args(args(&self.there));
        run_ok(c, "tc qdisc … tbf (in the namespace)");
    }

    /// `(seen, dropped)` packets per loss rule and direction (`in`, `out`) from its counters.
    pub fn loss_counts(&self) -> Vec<(String, u64, u64)> {
        let text = self.nft(&["list", "table", "inet", "mqloss"]);
        let mut out = Vec::new();
        let mut chain = String::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(c) = l.strip_prefix("chain ") {
                chain = c.trim_end_matches(" {").to_string();
            }
            let packets: Vec<u64> = l
                .split("counter packets ")
                .skip(1)
                .filter_map(|s| s.split_whitespace().next()?.parse().ok())
                .collect();
            if let [seen, dropped] = packets[..] {
                out.push((chain.clone(), seen, dropped));
            }
        }
        out
    }

    /// The namespace's own address (`10.X.Y.2`).
    pub fn inner_ip(&self) -> String {
        let net = self.host_ip.rsplit_once('.').map_or("", |(n, _)| n);
        format!("{net}.2")
    }

    /// Whether a socket inside the namespace has bound UDP `port` (an SRT listener that is up).
    pub fn udp_port_bound(&self, port: u16) -> bool {
        let mut cat = Command::new("cat");
        cat.arg("/proc/net/udp");
        let d = exec(self.inside(cat), Duration::from_secs(5));
        let needle = format!(":{port:04X}");
        d.stdout_str().lines().skip(1).any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&needle))
        })
    }

    /// `c` run inside the namespace (same program, arguments and environment).
    pub fn inside(&self, c: Command) -> Command {
        let mut n = Command::new("ip");
        n.args(["netns", "exec", &self.ns])
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                n.env(k, v);
            }
        }
        n
    }
}

impl Drop for NetLink {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair (and its nftables) with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}
