//! Whether the OS firewall is likely to stop viewers on the local network from reaching the
//! room, and what allows the port. The reading ([`assess`]) is pure over what the machine said
//! ([`Probe`]); [`probe`] asks the machine, using only what an unprivileged user may read (a
//! command that needs root just tells nothing).

/// What the machine said, each `None` when it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub os: Os,
    /// `/etc/ufw/ufw.conf`.
    pub ufw_conf: Option<String>,
    /// `systemctl is-active firewalld`.
    pub firewalld_active: Option<String>,
    /// `nft list ruleset` (root only on most systems).
    pub nft_ruleset: Option<String>,
    /// `iptables -S INPUT` (root only on most systems).
    pub iptables_input: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Os {
    #[default]
    Linux,
    Windows,
    MacOs,
    Other,
}

/// What to tell the streamer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirewallHint {
    /// Nothing readable says the port is blocked.
    Clear,
    /// `by` (ufw, firewalld, nftables, iptables) may block the port; `allow` opens it.
    MayBlock { by: String, allow: String },
    /// Windows and macOS ask the user the first time the app listens on the network.
    PromptMayAppear,
}

/// Reads `p` for the room's TCP `port`.
pub fn assess(p: &Probe, port: u16) -> FirewallHint {
    match p.os {
        Os::Windows | Os::MacOs => return FirewallHint::PromptMayAppear,
        Os::Other => return FirewallHint::Clear,
        Os::Linux => {}
    }
    let may = |by: &str, allow: String| FirewallHint::MayBlock {
        by: by.into(),
        allow,
    };
    if p.ufw_conf.as_deref().is_some_and(ufw_enabled) {
        return may("ufw", format!("sudo ufw allow {port}/tcp"));
    }
    if p.firewalld_active.as_deref().map(str::trim) == Some("active") {
        return may(
            "firewalld",
            format!("sudo firewall-cmd --add-port={port}/tcp"),
        );
    }
    if let Some((family, table, chain)) = p.nft_ruleset.as_deref().and_then(nft_dropping_input) {
        return may(
            "nftables",
            format!("sudo nft insert rule {family} {table} {chain} tcp dport {port} accept"),
        );
    }
    if p.iptables_input.as_deref().is_some_and(iptables_drops) {
        return may(
            "iptables",
            format!("sudo iptables -I INPUT -p tcp --dport {port} -j ACCEPT"),
        );
    }
    FirewallHint::Clear
}

fn ufw_enabled(conf: &str) -> bool {
    conf.lines().any(|l| {
        let l = l.trim();
        !l.starts_with('#')
            && l.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "ENABLED"
                    && v.trim()
                        .trim_matches(['"', '\''])
                        .eq_ignore_ascii_case("yes")
            })
    })
}

/// A rule that drops or rejects whatever reaches it (`drop`, `counter packets 3 bytes 180
/// reject with icmpx admin-prohibited`…): nothing before the verdict matches on anything.
fn catch_all(rule: &str) -> bool {
    let mut words = rule.split_whitespace();
    for w in words.by_ref() {
        match w {
            "counter" | "packets" | "bytes" => {}
            w if w.chars().all(|c| c.is_ascii_digit()) => {}
            "drop" | "reject" => return true,
            _ => return false,
        }
    }
    false
}

/// The first input chain (family, table, chain) of `nft list ruleset` whose policy is drop or
/// that ends in a catch-all drop/reject.
fn nft_dropping_input(ruleset: &str) -> Option<(String, String, String)> {
    let (mut family, mut table, mut chain) = (String::new(), String::new(), String::new());
    let mut input = false;
    for line in ruleset.lines() {
        let l = line.trim();
        let words: Vec<&str> = l.split_whitespace().collect();
        match words.as_slice() {
            ["table", f, t, "{"] => {
                family = (*f).to_string();
                table = (*t).to_string();
            }
            ["chain", c, "{"] => {
                chain = (*c).to_string();
                input = false;
            }
            _ if l.starts_with("type filter hook input") => {
                input = true;
                if l.contains("policy drop") {
                    return Some((family, table, chain));
                }
            }
            _ if input && catch_all(l) => return Some((family, table, chain)),
            _ => {}
        }
    }
    None
}

fn iptables_drops(rules: &str) -> bool {
    rules.lines().any(|l| {
        let l = l.trim();
        l == "-P INPUT DROP" || l == "-A INPUT -j DROP" || l.starts_with("-A INPUT -j REJECT")
    })
}

/// Asks this machine (Linux: the files and commands [`Probe`] names; elsewhere only the OS).
pub fn probe() -> Probe {
    let os = if cfg!(target_os = "linux") {
        Os::Linux
    } else if cfg!(windows) {
        Os::Windows
    } else if cfg!(target_os = "macos") {
        Os::MacOs
    } else {
        Os::Other
    };
    if os != Os::Linux {
        return Probe {
            os,
            ..Probe::default()
        };
    }
    let run = |cmd: &str, args: &[&str]| -> Option<String> {
        let out = std::process::Command::new(cmd)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        // `systemctl is-active` says "inactive" with a failure status: its words count.
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() || cmd == "systemctl").then_some(text)
    };
    Probe {
        os,
        ufw_conf: std::fs::read_to_string("/etc/ufw/ufw.conf").ok(),
        firewalld_active: run("systemctl", &["is-active", "firewalld"]),
        nft_ruleset: run("nft", &["list", "ruleset"]),
        iptables_input: run("iptables", &["-S", "INPUT"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> Probe {
        Probe::default()
    }

    /// `nft list ruleset` of a Debian host with a default-drop input chain (captured).
    const NFT_DROP: &str = "table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif \"lo\" accept
		tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
";

    /// Debian's stock /etc/nftables.conf as loaded: everything accepted (captured).
    const NFT_ACCEPT: &str = "table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
";

    /// firewalld-style: accept policy, a final reject (captured, trimmed).
    const NFT_REJECT_LAST: &str = "table inet fw {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state { established, related } accept
		tcp dport 22 accept
		counter packets 12 bytes 720 reject with icmpx admin-prohibited
	}
}
";

    #[test]
    fn an_active_ufw_may_block_and_says_how_to_allow_the_port() {
        let p = Probe {
            ufw_conf: Some("# /etc/ufw/ufw.conf\n#\nENABLED=yes\nLOGLEVEL=low\n".into()),
            ..linux()
        };
        assert_eq!(
            assess(&p, 7717),
            FirewallHint::MayBlock {
                by: "ufw".into(),
                allow: "sudo ufw allow 7717/tcp".into()
            }
        );
        let off = Probe {
            ufw_conf: Some("ENABLED=no\n#ENABLED=yes\n".into()),
            ..linux()
        };
        assert_eq!(assess(&off, 7717), FirewallHint::Clear);
    }

    #[test]
    fn an_active_firewalld_may_block() {
        let p = Probe {
            firewalld_active: Some("active\n".into()),
            ..linux()
        };
        assert!(matches!(
            assess(&p, 8800),
            FirewallHint::MayBlock { by, allow } if by == "firewalld" && allow.contains("--add-port=8800/tcp")
        ));
        let inactive = Probe {
            firewalld_active: Some("inactive\n".into()),
            ..linux()
        };
        assert_eq!(assess(&inactive, 8800), FirewallHint::Clear);
    }

    #[test]
    fn an_nftables_input_chain_that_drops_by_policy_or_by_a_last_rule_may_block() {
        let p = |r: &str| Probe {
            nft_ruleset: Some(r.into()),
            ..linux()
        };
        assert_eq!(
            assess(&p(NFT_DROP), 7717),
            FirewallHint::MayBlock {
                by: "nftables".into(),
                allow: "sudo nft insert rule inet filter input tcp dport 7717 accept".into()
            }
        );
        assert!(matches!(
            assess(&p(NFT_REJECT_LAST), 7717),
            FirewallHint::MayBlock { allow, .. } if allow.contains("inet fw filter_INPUT")
        ));
        assert_eq!(assess(&p(NFT_ACCEPT), 7717), FirewallHint::Clear);
        assert_eq!(assess(&p(""), 7717), FirewallHint::Clear);
    }

    #[test]
    fn an_iptables_input_policy_drop_may_block() {
        let p = |r: &str| Probe {
            iptables_input: Some(r.into()),
            ..linux()
        };
        assert!(matches!(
            assess(&p("-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n"), 7717),
            FirewallHint::MayBlock { by, allow } if by == "iptables" && allow.contains("--dport 7717")
        ));
        assert_eq!(assess(&p("-P INPUT ACCEPT\n"), 7717), FirewallHint::Clear);
    }

    #[test]
    fn windows_and_macos_ask_the_user_and_unreadable_linux_rules_say_nothing() {
        for os in [Os::Windows, Os::MacOs] {
            let p = Probe {
                os,
                ..Probe::default()
            };
            assert_eq!(assess(&p, 7717), FirewallHint::PromptMayAppear);
        }
        assert_eq!(assess(&linux(), 7717), FirewallHint::Clear);
    }
}
