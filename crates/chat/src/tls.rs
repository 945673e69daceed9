//! TLS for `wss://` and `https://` platform endpoints: the operating system's trusted roots,
//! with ring named as the provider (another crate may enable a second one, and then rustls
//! will not pick a default by itself).

use rustls::pki_types::CertificateDer;
use std::sync::{Arc, OnceLock};

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

/// A client config trusting the OS's roots.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let (_, _) = roots.add_parsable_certificates(native_roots().iter().cloned());
    // ring: builds with just a C compiler everywhere (rustls marks it deprecated for lacking
    // post-quantum key exchange).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
