//! This machine's network interfaces and their addresses, for serving the room on the local
//! network: every non-loopback IPv4 and IPv6 address with its interface's name, and which one
//! the default route uses.

use std::net::IpAddr;

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetInterface {
    /// `eth0`, `wlp2s0`, `en0`…
    pub name: String,
    pub address: IpAddr,
}

/// Whether a phone or laptop on the local network may reach `ip` (not loopback, not
/// unspecified, not an IPv6 link-local address, which needs a zone to be dialled).
pub fn reachable_from_lan(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified() && !v4.is_link_local(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

/// The address the default route sends from (IPv4 first), if there is one.
pub fn default_route_address() -> Option<IpAddr> {
    marquee_room::server::outward_address(false)
        .or_else(|| marquee_room::server::outward_address(true))
}

/// Every interface address a LAN viewer could reach, IPv4 first, the default route's first of
/// all. Where interfaces cannot be listed, the default route's address alone.
pub fn interfaces() -> Vec<NetInterface> {
    let mut list: Vec<NetInterface> = os_interfaces()
        .into_iter()
        .filter(|i| reachable_from_lan(i.address))
        .collect();
    let route = default_route_address();
    if let Some(ip) = route
        && !list.iter().any(|i| i.address == ip)
    {
        list.push(NetInterface {
            name: "default".into(),
            address: ip,
        });
    }
    list.sort_by_key(|i| {
        (
            Some(i.address) != route,
            i.address.is_ipv6(),
            i.name.clone(),
        )
    });
    list.dedup();
    list
}

#[cfg(unix)]
fn os_interfaces() -> Vec<NetInterface> {
    use std::ffi::CStr;
    use std::net::{Ipv4Addr, Ipv6Addr};
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free once below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a NUL-terminated name owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: `ifa_addr` is non-null; its family says which sockaddr it is.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let address = if family == libc::AF_INET {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        } else if family == libc::AF_INET6 {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        } else {
            continue;
        };
        out.push(NetInterface { name, address });
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(not(unix))]
fn os_interfaces() -> Vec<NetInterface> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_link_local_and_unspecified_addresses_are_not_offered() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "169.254.3.4",
        ] {
            assert!(!reachable_from_lan(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.168.1.5", "10.1.2.3", "2001:db8::5", "fd00::1"] {
            assert!(reachable_from_lan(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_listed_interfaces_have_names_and_no_loopback() {
        let list = interfaces();
        for i in &list {
            assert!(!i.name.is_empty());
            assert!(reachable_from_lan(i.address), "{i:?}");
        }
        if let Some(route) = default_route_address() {
            assert_eq!(
                list.first().map(|i| i.address),
                Some(route),
                "the default first"
            );
        }
    }
}
