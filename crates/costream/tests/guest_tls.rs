//! The native guest over `https://`: a test server with its own CA (made with the openssl
//! CLI) refuses with the contract's JSON error; the guest trusts the CA only when given it.

#![allow(clippy::unwrap_used)]

use marquee_costream::guest::{self, GuestError, GuestOptions};
use marquee_costream::invite::new_token;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=marquee test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "host.key",
        "-out",
        "host.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "host.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "host.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
}

/// An https server that answers every request 410 `invite_expired`; returns its port.
fn refusing_server(dir: &Path) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("host.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("host.key")).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = Vec::new();
                let mut b = [0u8; 4096];
                // The whole request, body included: closing with unread bytes makes the
                // kernel answer with a reset, which can reach the guest before the answer.
                let complete = |buf: &[u8]| {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        return false;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    buf.len() >= end + 4 + length
                };
                while !complete(&buf) {
                    match tls.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&b[..n]),
                    }
                }
                let body = br#"{"code":"invite_expired","message":"the invite's life is over"}"#;
                let _ = write!(
                    tls,
                    "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(body);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

#[test]
fn an_https_link_reaches_a_host_whose_ca_is_given() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let port = refusing_server(dir.path());
    let mut opts = GuestOptions::new(format!("https://127.0.0.1:{port}/join/{}", new_token()));
    opts.ca_file = Some(dir.path().join("ca.pem"));
    let e = guest::join(&opts, Arc::new(AtomicBool::new(false)), |_| {}).unwrap_err();
    assert_eq!(e.code(), Some("invite_expired"), "{e}");
}

#[test]
fn an_https_host_with_an_unknown_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let port = refusing_server(dir.path());
    let opts = GuestOptions::new(format!("https://127.0.0.1:{port}/join/{}", new_token()));
    let e = guest::join(&opts, Arc::new(AtomicBool::new(false)), |_| {}).unwrap_err();
    assert!(matches!(e, GuestError::Network { .. }), "{e:?}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
}
