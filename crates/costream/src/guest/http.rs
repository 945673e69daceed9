//! A small, bounded HTTP/1.1 client for WHIP: one request per connection (`Connection:
//! close`), `http://` or `https://` (rustls on ring, the OS's roots plus any CA the caller
//! adds), every read limited in size and time. Nothing in a response can make it panic or
//! allocate without bound.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Header block and body limits: a WHIP answer is a few KiB.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// An `http(s)://host[:port]/path` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `https://`.
    pub tls: bool,
    /// As written (without brackets for IPv6).
    pub host: String,
    pub port: u16,
    /// Starts with `/`; includes any query.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let s = s.trim();
        if s.len() > 2048 {
            return Err("the link is too long".into());
        }
        let (tls, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else {
            return Err("the link must start with http:// or https://".into());
        };
        let default_port = if tls { 443 } else { 80 };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        if authority.contains('@') {
            return Err("the link must not carry a user name or password".into());
        }
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or("an IPv6 address without its ]")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
                None if after.is_empty() => default_port,
                None => return Err("garbage after the IPv6 address".into()),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("bad port {p:?}"))?,
                ),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the link has no host".into());
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the link's path has spaces or control characters".into());
        }
        Ok(Url {
            tls,
            host,
            port,
            path,
        })
    }

    /// `host:port` for the Host header (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> Url {
        Url {
            tls: self.tls,
            host: self.host.clone(),
            port: self.port,
            path: path.to_string(),
        }
    }

    /// Resolves a `Location` header against this URL (absolute http://, absolute path, or
    /// relative to this URL's directory).
    pub fn join(&self, location: &str) -> Result<Url, String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Url::parse(&self.with_path(location).to_string_url())
        } else {
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            Url::parse(&self.with_path(&format!("{dir}{location}")).to_string_url())
        }
    }

    pub fn to_string_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }

    /// The server's addresses.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{} has no address", self.host));
        }
        Ok(addrs)
    }
}

/// One HTTP response, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// TLS settings for `https://` links: the OS's trusted roots plus any extra CA.
#[derive(Clone, Default)]
pub struct Tls {
    config: Option<Arc<rustls::ClientConfig>>,
}

impl Tls {
    /// Trusts the OS's roots and the certificates in `extra_ca_pem` (a host's private CA).
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<Tls, String> {
        let bad = |e: &dyn std::fmt::Display| format!("CA certificates: {e}");
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (_, _) = roots.add_parsable_certificates(found.certs);
        if let Some(pem) = extra_ca_pem {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
                added += 1;
            }
            if added == 0 {
                return Err(bad(&"no PEM certificate found"));
            }
        }
        // ring, named rather than left to the process default (another crate may enable a
        // second provider).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(&e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            config: Some(Arc::new(cfg)),
        })
    }

    /// A client connection to `host` (a name or an IP address, checked against its
    /// certificate).
    pub fn client(&self, host: &str) -> Result<rustls::ClientConnection, String> {
        let config = match &self.config {
            Some(c) => c.clone(),
            None => match Tls::new(None)?.config {
                Some(c) => c,
                None => return Err("no TLS configuration".into()),
            },
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host} is not a valid TLS server name"))?;
        rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS with {host}: {e}"))
    }
}

/// Sends one request and reads the whole response.
pub fn request(
    tls: &Tls,
    method: &str,
    url: &Url,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Response, String> {
    request_as(tls, method, url, content_type, None, body)
}

/// [`request`] with `Authorization: Bearer {bearer}` (how OBS's WHIP output sends its token).
pub fn request_as(
    tls: &Tls,
    method: &str,
    url: &Url,
    content_type: Option<&str>,
    bearer: Option<&str>,
    body: &[u8],
) -> Result<Response, String> {
    let addrs = url.resolve()?;
    let mut last = String::new();
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let stream = stream.ok_or(last)?;
    let io = |e: std::io::Error| format!("talking to {}: {e}", url.authority());
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let head = Head {
        method,
        url,
        content_type,
        bearer,
    };
    if !url.tls {
        return exchange(stream, &head, body);
    }
    let conn = tls.client(&url.host)?;
    exchange(rustls::StreamOwned::new(conn, stream), &head, body)
}

/// What goes in a request's header besides the fixed lines.
struct Head<'a> {
    method: &'a str,
    url: &'a Url,
    content_type: Option<&'a str>,
    bearer: Option<&'a str>,
}

fn exchange(mut stream: impl Read + Write, h: &Head, body: &[u8]) -> Result<Response, String> {
    let Head {
        method,
        url,
        content_type,
        bearer,
    } = *h;
    let io = |e: std::io::Error| format!("talking to {}: {e}", url.authority());
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: marquee-guest\r\nConnection: close\r\nContent-Length: {}\r\n",
        url.path,
        url.authority(),
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body).map_err(io)?;
    stream.flush().map_err(io)?;
    let mut raw = Vec::new();
    let read = stream
        .take((MAX_HEAD + MAX_BODY + 1) as u64)
        .read_to_end(&mut raw);
    match read {
        Ok(_) => {}
        // Servers that close without TLS's close_notify: what arrived is the whole answer
        // when it parses (its length is checked against Content-Length).
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(io(e)),
    }
    parse_response(&raw)
}

/// Parses a whole HTTP/1.x response (Content-Length, chunked, or up to the close).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .take(MAX_HEAD)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the host's answer has no complete HTTP header")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the HTTP header is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1 answer: {:?}", truncate(status_line)));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| format!("no status in {:?}", truncate(status_line)))?;
    let mut headers = Vec::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| format!("a bad header line {:?}", truncate(line)))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        if headers.len() > 100 {
            return Err("too many headers".into());
        }
    }
    let rest = &raw[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(|_| "a bad Content-Length")?;
        if len > MAX_BODY {
            return Err(format!("an answer of {len} bytes is too large"));
        }
        rest.get(..len)
            .ok_or("the answer ended before its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > MAX_BODY {
        return Err("the answer is too large".into());
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let nl = b
            .windows(2)
            .take(64)
            .position(|w| w == b"\r\n")
            .ok_or("a bad chunk size line")?;
        let line = std::str::from_utf8(&b[..nl]).map_err(|_| "a bad chunk size")?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "a bad chunk size")?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_BODY || out.len() + size > MAX_BODY {
            return Err("the answer is too large".into());
        }
        let chunk = b.get(..size).ok_or("the answer ended inside a chunk")?;
        out.extend_from_slice(chunk);
        b = b.get(size + 2..).ok_or("the answer ended after a chunk")?;
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_split_into_host_port_and_path() {
        let u = Url::parse("http://10.0.0.1:8080/join/abc?x=1#f").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("10.0.0.1", 8080, "/join/abc?x=1")
        );
        let u = Url::parse("http://[::1]/join/t").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 80));
        assert_eq!(u.authority(), "[::1]:80");
        let u = Url::parse("https://x/join/t").unwrap();
        assert_eq!((u.tls, u.port), (true, 443));
        assert_eq!(u.join("/a").unwrap().to_string_url(), "https://x:443/a");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert!(Url::parse("http://a b/").is_err());
        assert!(Url::parse("http://h:99999/").is_err());
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let u = Url::parse("http://h:1/join/t/whip?name=a").unwrap();
        assert_eq!(u.join("/join/t/whip/s1").unwrap().path, "/join/t/whip/s1");
        assert_eq!(u.join("whip/s1").unwrap().path, "/join/t/whip/s1");
        assert_eq!(u.join("http://o:2/x").unwrap().authority(), "o:2");
    }

    #[test]
    fn responses_parse_with_length_chunks_or_close() {
        let r = parse_response(
            b"HTTP/1.1 201 Created\r\nLocation: /a\r\nContent-Length: 3\r\n\r\nabcdef",
        )
        .unwrap();
        assert_eq!(
            (r.status, r.header("location"), r.body.as_slice()),
            (201, Some("/a"), &b"abc"[..])
        );
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, b"abcde");
        let r = parse_response(b"HTTP/1.0 410 Gone\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (410, &b"{}"[..]));
    }

    #[test]
    fn bad_responses_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"SIP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        ] {
            assert!(
                parse_response(raw).is_err(),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let mut x = 7u32;
        for len in 0..400 {
            let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push(b"\r\n:0aT-"[(x >> 16) as usize % 7]);
            }
            let _ = parse_response(&v);
        }
    }
}
