//! TLS for the upstream: rustls, TLS 1.2 minimum (rustls has no 1.0 or 1.1 at all),
//! certificate verification always on, web PKI or system roots plus an optional private CA.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Which trust anchors to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Roots {
    /// Mozilla's roots, compiled in (works in a scratch container).
    Webpki,
    /// The operating system's store.
    Native,
}

/// Builds the client TLS configuration.
pub fn client_config(roots: Roots, extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::Native => {
            let loaded = rustls_native_certs::load_native_certs();
            for cert in loaded.certs {
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(
                    "--tls-roots native: the system has no usable root certificates".into(),
                );
            }
        }
    }
    if let Some(path) = extra_ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("--upstream-ca {}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--upstream-ca {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "--upstream-ca {}: no certificate in the file",
                path.display()
            ));
        }
        for cert in certs {
            store
                .add(cert)
                .map_err(|e| format!("--upstream-ca {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
