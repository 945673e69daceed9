//! What the kernel knows about a destination's TCP connection: bytes the peer has
//! acknowledged, bytes still in the socket, and the round trip.
//!
//! FFmpeg opens the RTMP socket itself and does not hand it out, so the socket is found by
//! its address among the process's descriptors right after the muxer connects. Bytes written
//! into the socket are not bytes sent: the kernel's send buffer swallows seconds of a narrow
//! link, so the adaptive bitrate controller reads what was *acknowledged*, and counts what
//! waits in the buffer as queue. Linux only; elsewhere [`LinkProbe::sample`] gives `None` and
//! the controller falls back to what was written.

use std::net::SocketAddr;
use std::sync::Mutex;

/// One reading of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSample {
    /// Bytes the peer has acknowledged since the connection opened (the SYN counts one).
    pub bytes_acked: u64,
    /// Bytes written into the socket and not yet acknowledged (sent or not).
    pub in_socket: u64,
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
}

/// The socket of the live connection, while there is one. Reading it holds the lock, and the
/// writer clears it under the same lock before the socket closes, so a reading never lands
/// on a descriptor number that was reused.
#[derive(Debug, Default)]
pub struct LinkProbe {
    fd: Mutex<Option<i32>>,
}

impl LinkProbe {
    /// Watches `fd` (None: nothing to watch).
    pub fn watch(&self, fd: Option<i32>) {
        *self.fd.lock().expect("link probe") = fd;
    }

    pub fn sample(&self) -> Option<LinkSample> {
        let fd = self.fd.lock().expect("link probe");
        read(fd.as_ref().copied()?)
    }
}

/// The socket descriptors of this process connected to one of `remotes`.
pub fn sockets_to(remotes: &[SocketAddr]) -> Vec<i32> {
    imp::sockets_to(remotes)
}

fn read(fd: i32) -> Option<LinkSample> {
    let (bytes_acked, in_socket, rtt_us) = imp::read(fd)?;
    Some(LinkSample {
        bytes_acked,
        in_socket,
        rtt_us,
    })
}

/// Keeps at most `bytes` not yet sent in the socket (`TCP_NOTSENT_LOWAT`): a blocked write
/// waits in our queue, where it counts and can be dropped, instead of the kernel's buffer,
/// while the bytes in flight still grow with the link. Best effort.
pub fn limit_unsent(fd: i32, bytes: u32) {
    imp::limit_unsent(fd, bytes)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    /// `struct tcp_info` up to `tcpi_bytes_acked` (linux/tcp.h; stable since 4.1).
    #[repr(C)]
    #[derive(Default)]
    struct TcpInfo {
        bytes8: [u8; 8],
        rto: u32,
        ato: u32,
        snd_mss: u32,
        rcv_mss: u32,
        unacked: u32,
        sacked: u32,
        lost: u32,
        retrans: u32,
        fackets: u32,
        last_data_sent: u32,
        last_ack_sent: u32,
        last_data_recv: u32,
        last_ack_recv: u32,
        pmtu: u32,
        rcv_ssthresh: u32,
        rtt: u32,
        rttvar: u32,
        snd_ssthresh: u32,
        snd_cwnd: u32,
        advmss: u32,
        reordering: u32,
        rcv_rtt: u32,
        rcv_space: u32,
        total_retrans: u32,
        pacing_rate: u64,
        max_pacing_rate: u64,
        bytes_acked: u64,
    }

    /// (bytes acknowledged, bytes in the socket, round trip in µs).
    pub(super) fn read(fd: i32) -> Option<(u64, u64, u32)> {
        let mut info = TcpInfo::default();
        let mut len = std::mem::size_of::<TcpInfo>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `info`, a plain C struct.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut TcpInfo).cast(),
                &mut len,
            )
        };
        if r != 0 || (len as usize) < std::mem::size_of::<TcpInfo>() {
            return None;
        }
        let mut outq: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int.
        if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut outq) } != 0 {
            return None;
        }
        Some((info.bytes_acked, outq.max(0) as u64, info.rtt))
    }

    pub(super) fn limit_unsent(fd: i32, bytes: u32) {
        let v = bytes as libc::c_int;
        // SAFETY: setsockopt reads one int.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NOTSENT_LOWAT,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    pub(super) fn sockets_to(remotes: &[SocketAddr]) -> Vec<i32> {
        let mut by_inode: HashMap<u64, SocketAddr> = HashMap::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            if let Ok(text) = std::fs::read_to_string(table) {
                by_inode.extend(text.lines().skip(1).filter_map(parse_line));
            }
        }
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| {
                let fd: i32 = e.file_name().to_str()?.parse().ok()?;
                let target = std::fs::read_link(e.path()).ok()?;
                let inode: u64 = target
                    .to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()?;
                let remote = by_inode.get(&inode)?;
                remotes.iter().any(|r| same(r, remote)).then_some(fd)
            })
            .collect()
    }

    /// An IPv4 peer may show as an IPv4-mapped IPv6 address in tcp6.
    fn same(a: &SocketAddr, b: &SocketAddr) -> bool {
        let canon = |ip: IpAddr| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        a.port() == b.port() && canon(a.ip()) == canon(b.ip())
    }

    /// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode`: (inode, remote) of an
    /// established connection.
    fn parse_line(line: &str) -> Option<(u64, SocketAddr)> {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(3) != Some(&"01") {
            return None;
        }
        let remote = parse_addr(f.get(2)?)?;
        let inode = f.get(9)?.parse().ok()?;
        Some((inode, remote))
    }

    /// The kernel prints each 32-bit word of the address in host order (little-endian here)
    /// and the port big-endian.
    fn parse_addr(s: &str) -> Option<SocketAddr> {
        let (ip, port) = s.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let word = |i: usize| -> Option<[u8; 4]> {
            let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
            Some(w.to_le_bytes())
        };
        let ip = match ip.len() {
            8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
            32 => {
                let mut b = [0u8; 16];
                for i in 0..4 {
                    b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
                }
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn proc_net_tcp_addresses_parse_in_the_kernels_byte_order() {
            assert_eq!(
                parse_addr("0100007F:0050"),
                Some("127.0.0.1:80".parse().unwrap())
            );
            assert_eq!(
                parse_addr("0000000000000000FFFF00000100007F:1F90"),
                Some("[::ffff:127.0.0.1]:8080".parse().unwrap())
            );
            assert_eq!(parse_addr("zz:1"), None);
            assert_eq!(
                parse_line("  0: 0100007F:0050 0100007F:9C40 0A 0 0 0 0 0 1 0"),
                None
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::net::SocketAddr;

    pub(super) fn read(_fd: i32) -> Option<(u64, u64, u32)> {
        None
    }

    pub(super) fn sockets_to(_remotes: &[SocketAddr]) -> Vec<i32> {
        Vec::new()
    }

    pub(super) fn limit_unsent(_fd: i32, _bytes: u32) {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn a_connection_is_found_by_its_peer_and_counts_what_the_peer_acknowledged() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (mut accepted, _) = server.accept().unwrap();
        assert_eq!(sockets_to(&[addr]), vec![client.as_raw_fd()]);

        let probe = LinkProbe::default();
        assert_eq!(probe.sample(), None);
        probe.watch(Some(client.as_raw_fd()));
        client.write_all(&[7u8; 10_000]).unwrap();
        let mut got = vec![0u8; 10_000];
        accepted.read_exact(&mut got).unwrap();
        // The peer's kernel acknowledges what it received; wait for the ack, not for time.
        let s = loop {
            let s = probe.sample().expect("a TCP socket");
            if s.in_socket == 0 {
                break s;
            }
            std::thread::yield_now();
        };
        assert_eq!(s.bytes_acked, 10_000 + 1, "the payload and the SYN");
        probe.watch(None);
        assert_eq!(probe.sample(), None);
    }
}
