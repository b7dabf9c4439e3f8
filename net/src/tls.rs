//! The client side of TLS (rustls with the webpki roots and the ring provider), shared by the
//! websocket client and the HTTP `GET`.

use std::sync::{Arc, OnceLock};

/// The client TLS configuration (webpki roots, ring provider), built once per process.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CFG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CFG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Arc::new(cfg))
    })
    .clone()
}

/// A client connection to `host` with `cfg` (the default configuration when `None`).
pub(crate) fn tls_client(
    host: &str,
    cfg: Option<Arc<rustls::ClientConfig>>,
) -> Result<rustls::ClientConnection, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("TLS server name `{host}`: {e}"))?;
    let cfg = match cfg {
        Some(c) => c,
        None => tls_config()?,
    };
    rustls::ClientConnection::new(cfg, name).map_err(|e| format!("TLS: {e}"))
}
