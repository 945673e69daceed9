//! Where a phone or a second PC pushes a remote camera to: the listener's address with this
//! computer's LAN addresses in it (never 127.0.0.1 unless it listens on nothing else).

use crate::netif;
use marquee_capture::remote::ListenUrl;
use std::net::IpAddr;

/// The addresses to type into the sender, best first (the default route's), safe to show.
/// A listener on every address (`0.0.0.0`, `::`) is reachable at each LAN address; one on a
/// single address, at that one.
pub fn push_addresses(url: &ListenUrl) -> Vec<String> {
    push_addresses_with(url, &netif::interfaces())
}

fn push_addresses_with(url: &ListenUrl, lan: &[netif::NetInterface]) -> Vec<String> {
    let host = url.listen_host();
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => lan
            .iter()
            .filter(|i| i.address.is_ipv4() || ip.is_ipv6())
            .map(|i| url.push_url(&i.address.to_string()))
            .collect(),
        _ => vec![url.push_url(host)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netif::NetInterface;

    fn lan() -> Vec<NetInterface> {
        vec![
            NetInterface {
                name: "wlan0".into(),
                address: "192.168.1.23".parse().unwrap(),
            },
            NetInterface {
                name: "wlan0".into(),
                address: "fd00::23".parse().unwrap(),
            },
        ]
    }

    #[test]
    fn a_listener_on_every_address_is_pushed_to_at_the_lan_addresses() {
        let u = ListenUrl::parse("srt://0.0.0.0:9000?mode=listener").unwrap();
        assert_eq!(
            push_addresses_with(&u, &lan()),
            vec!["srt://192.168.1.23:9000"]
        );
        let u = ListenUrl::parse("rtmp://[::]:1935/live/secretkey").unwrap();
        assert_eq!(
            push_addresses_with(&u, &lan()),
            vec![
                "rtmp://192.168.1.23:1935/live/****",
                "rtmp://[fd00::23]:1935/live/****"
            ]
        );
        let u = ListenUrl::parse("srt://10.0.0.7:9000").unwrap();
        assert_eq!(push_addresses_with(&u, &lan()), vec!["srt://10.0.0.7:9000"]);
    }
}
