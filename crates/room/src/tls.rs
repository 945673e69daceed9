//! TLS for `wss://` room clients: the operating system's trusted roots, plus any CA the caller
//! adds (a private CA of a self-hosted room server, or a test's own).

use crate::error::RoomError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::{Arc, OnceLock};

/// The OS's trusted roots, read once per process (reading them walks the system store).
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "a system root certificate could not be read");
        }
        found.certs
    })
}

/// A client TLS config trusting the OS's roots and the certificates in `extra_ca_pem`.
pub fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, RoomError> {
    let bad =
        |e: &dyn std::fmt::Display| RoomError::InvalidArgument(format!("CA certificates: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    let (_, _) = roots.add_parsable_certificates(native_roots().iter().cloned());
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
    // ring, named here rather than left to the process default (another crate may enable a
    // second provider): it builds with just a C compiler on every platform. rustls marks it
    // deprecated for lacking post-quantum key exchange, which aws-lc-rs would bring.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
