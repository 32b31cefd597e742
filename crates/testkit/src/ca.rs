//! A throwaway certificate authority, made at test time with rcgen.
//!
//! [`TestCa::new`] makes a CA whose certificate the proxy is told to trust
//! (`--upstream-ca FILE`, see [`TestCa::write_pem`]). [`TestCa::issue`] signs a server
//! certificate for the capture upstream; [`TestCa::issue_expired`] signs one whose validity
//! ended in 2001; [`untrusted`] makes a self-signed one that no CA vouches for.
//!
//! ```
//! let ca = testkit::ca::TestCa::new();
//! let server = ca.issue(&["127.0.0.1", "localhost"]);
//! assert!(server.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! ```

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The file name [`TestCa::write_pem`] writes.
pub const CA_FILE_NAME: &str = "testkit-ca.pem";

/// A certificate authority that lives as long as the test.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its private key, in PEM and in rustls form.
#[derive(Debug)]
pub struct ServerCert {
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// The leaf's PKCS#8 private key, PEM.
    pub key_pem: String,
    /// The leaf certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// The leaf's PKCS#8 private key, DER.
    key_der: Vec<u8>,
}

// === impl TestCa ===

impl TestCa {
    /// Makes a new CA with a fresh P-256 key, valid from 1975 to 4096.
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("testkit: generating the CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name = name("testkit test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .expect("testkit: self-signing the CA");
        Self { cert, key }
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// Writes the CA certificate to `dir/testkit-ca.pem` and returns that path.
    pub fn write_pem(&self, dir: &Path) -> io::Result<PathBuf> {
        let path = dir.join(CA_FILE_NAME);
        std::fs::write(&path, self.cert_pem())?;
        Ok(path)
    }

    /// Signs a server certificate for `names`: each one that parses as an IP address becomes
    /// an IP SAN, any other a DNS SAN. The first name is also the subject's common name.
    pub fn issue(&self, names: &[&str]) -> ServerCert {
        self.sign(leaf_params(names))
    }

    /// Like [`TestCa::issue`], but the certificate was valid only during the year 2000.
    pub fn issue_expired(&self, names: &[&str]) -> ServerCert {
        let mut params = leaf_params(names);
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        self.sign(params)
    }

    /// A root store holding only this CA.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.cert_der())
            .expect("testkit: adding the CA to a root store");
        roots
    }

    /// A rustls client configuration (ring, TLS 1.2 and 1.3, HTTP/1.1 ALPN) that trusts only
    /// this CA, as the proxy's egress does with `--upstream-ca`.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut config = ClientConfig::builder_with_provider(crate::crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("testkit: ring supports the default TLS versions")
            .with_root_certificates(self.root_store())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    fn sign(&self, params: CertificateParams) -> ServerCert {
        let key = KeyPair::generate().expect("testkit: generating a server key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("testkit: signing a server certificate");
        ServerCert::new(&cert, &key)
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // rcgen's types are not Debug; the key must not be printed anyway.
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A self-signed server certificate for `names`, from no CA: clients must refuse it.
pub fn untrusted(names: &[&str]) -> ServerCert {
    let key = KeyPair::generate().expect("testkit: generating a server key");
    let cert = leaf_params(names)
        .self_signed(&key)
        .expect("testkit: self-signing a server certificate");
    ServerCert::new(&cert, &key)
}

// === impl ServerCert ===

impl ServerCert {
    fn new(cert: &rcgen::Certificate, key: &KeyPair) -> Self {
        Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// The chain to present: the leaf only (clients hold the CA).
    pub fn cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert_der.clone()]
    }

    /// The private key, in rustls form.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `dir/{stem}.crt` and `dir/{stem}.key` (PEM) and returns their paths.
    pub fn write_pem(&self, dir: &Path, stem: &str) -> io::Result<(PathBuf, PathBuf)> {
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem)?;
        std::fs::write(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(names.first().copied().unwrap_or("testkit server"));
    params.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                (*n).try_into()
                    .expect("testkit: a SAN that is neither an IP nor a DNS name"),
            ),
        })
        .collect();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "testkit");
    dn
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{ServerName, UnixTime};

    fn verify(ca: &TestCa, cert: &ServerCert, name: &str) -> Result<(), rustls::Error> {
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(ca.root_store()),
            crate::crypto_provider(),
        )
        .build()
        .expect("verifier");
        let name = ServerName::try_from(name.to_owned()).expect("server name");
        verifier
            .verify_server_cert(&cert.cert_der, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn issued_cert_verifies_for_ip_and_dns_sans() {
        let ca = TestCa::new();
        let cert = ca.issue(&["127.0.0.1", "localhost"]);
        verify(&ca, &cert, "127.0.0.1").expect("IP SAN");
        verify(&ca, &cert, "localhost").expect("DNS SAN");
        let err = verify(&ca, &cert, "example.com").expect_err("name not in the SANs");
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
    }

    #[test]
    fn expired_cert_is_refused_as_expired() {
        let ca = TestCa::new();
        let cert = ca.issue_expired(&["127.0.0.1"]);
        let err = verify(&ca, &cert, "127.0.0.1").expect_err("expired");
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)
                    | rustls::Error::InvalidCertificate(
                        rustls::CertificateError::ExpiredContext { .. }
                    )
            ),
            "{err:?}"
        );
    }

    #[test]
    fn self_signed_cert_and_other_ca_are_refused() {
        let ca = TestCa::new();
        let err = verify(&ca, &untrusted(&["127.0.0.1"]), "127.0.0.1").expect_err("self-signed");
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            ),
            "{err:?}"
        );
        let other = TestCa::new().issue(&["127.0.0.1"]);
        verify(&ca, &other, "127.0.0.1").expect_err("another CA's certificate");
    }

    #[test]
    fn write_pem_writes_the_ca_and_server_files() {
        let tmp = crate::TempDir::new("ca");
        let dir = tmp.path();
        let ca = TestCa::new();
        let path = ca.write_pem(dir).expect("write CA");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), ca.cert_pem());
        let (crt, key) = ca
            .issue(&["localhost"])
            .write_pem(dir, "server")
            .expect("write server");
        assert!(std::fs::read_to_string(crt)
            .expect("crt")
            .contains("BEGIN CERTIFICATE"));
        assert!(std::fs::read_to_string(key)
            .expect("key")
            .contains("BEGIN PRIVATE KEY"));
    }
}
