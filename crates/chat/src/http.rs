//! One bounded HTTP/1.1 request (hyper's client connection) over TCP or TLS: what YouTube
//! polling and Twitch's moderation API need, without a connection pool. Errors never repeat
//! the URL or the headers (they carry API keys and tokens).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Escapes a query value (ids and logins are plain, but never trust them): RFC 3986's
/// unreserved characters as they are, every other byte percent-encoded.
pub fn query_escape(s: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A request beyond a plain GET: its method, extra headers and body.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: hyper::Method,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// GETs `url`; the status and at most `max_body` bytes of body, within `timeout`.
pub async fn get(
    url: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    max_body: usize,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    send(url, Request::default(), tls, max_body, timeout).await
}

/// Sends `req` to `url`; the status and at most `max_body` bytes of body, within `timeout`.
pub async fn send(
    url: &str,
    req: Request,
    tls: Option<&Arc<rustls::ClientConfig>>,
    max_body: usize,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    match tokio::time::timeout(timeout, send_inner(url, req, tls, max_body)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

async fn send_inner(
    url: &str,
    req: Request,
    tls: Option<&Arc<rustls::ClientConfig>>,
    max_body: usize,
) -> Result<(u16, Vec<u8>), String> {
    let t = Target::parse(url)?;
    let (io, _) = t.connect(tls, false).await?;
    exchange(io, &t.authority, &t.path, req, max_body).await
}

/// A byte stream to a server: TCP, or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Where a URL points.
pub(crate) struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: hyper::Uri = url.parse().map_err(|_| "not a valid URL".to_string())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the URL must start with http:// or https://".into()),
        };
        let host = uri.host().ok_or("the URL has no host")?.to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| host.clone());
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        Ok(Self {
            https,
            host,
            port,
            authority,
            path,
        })
    }

    /// Connects; with `h2`, TLS offers only HTTP/2 by ALPN. The bool: HTTP/2 was agreed
    /// (always true without TLS, where HTTP/2 is spoken with prior knowledge).
    pub async fn connect(
        &self,
        tls: Option<&Arc<rustls::ClientConfig>>,
        h2: bool,
    ) -> Result<(Box<dyn Io>, bool), String> {
        let (host, port) = (&self.host, self.port);
        let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        if !self.https {
            return Ok((Box::new(tcp), h2));
        }
        let mut cfg = tls.ok_or("no TLS configuration")?.clone();
        if h2 {
            let mut c = (*cfg).clone();
            c.alpn_protocols = vec![b"h2".to_vec()];
            cfg = Arc::new(c);
        }
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|_| format!("'{host}' is not a valid server name"))?;
        let io = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        let agreed = io.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((Box::new(io), agreed))
    }
}

async fn exchange<I>(
    io: I,
    authority: &str,
    path: &str,
    req: Request,
    max_body: usize,
) -> Result<(u16, Vec<u8>), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(conn);
    let mut builder = hyper::Request::builder()
        .method(req.method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "marquee-chat")
        .header(hyper::header::ACCEPT, "application/json");
    for (name, value) in &req.headers {
        builder = builder.header(*name, value);
    }
    let req = builder
        .body(Full::new(Bytes::from(req.body)))
        .map_err(|_| "HTTP request: a header is not valid".to_string())?;
    let result = async {
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = res.status().as_u16();
        let body = Limited::new(res.into_body(), max_body)
            .collect()
            .await
            .map_err(|e| format!("HTTP body: {e}"))?
            .to_bytes();
        Ok((status, body.to_vec()))
    }
    .await;
    driver.abort();
    result
}
