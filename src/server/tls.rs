//! The TLS settings of the calls Sahaya makes (the escalation webhook, Chatwoot's API):
//! rustls with the webpki roots, plus the certificates of an optional CA file, for a help
//! desk whose certificate a private CA signed.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;

/// The client TLS settings with the webpki roots and every certificate of the PEM file
/// `ca_file` as extra trust anchors. The error says why the file cannot be used (without
/// its path, which the caller names with its setting).
pub(super) fn client_config(ca_file: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = root_store(ca_file)?;
    // The provider is named rather than taken from the process default: that default is
    // ambiguous when another crate turns on a second rustls backend.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The webpki roots, as ureq trusts by default, and the certificates of `ca_file`.
fn root_store(ca_file: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (n, cert) in read_certificates(ca_file)?.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| format!("certificate {} is not usable as a CA: {e}", n + 1))?;
    }
    Ok(roots)
}

/// The certificates of a PEM file (other sections, such as keys, are skipped); at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    if path.is_dir() {
        return Err("is a directory, not a PEM file".into());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a valid PEM file: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into());
    }
    Ok(certs)
}

/// The reason a `ca_file` setting cannot be used, for the setting `name`
/// (`webhook.ca_file`): `"{name} {path}: {reason}"`.
pub(super) fn ca_file_error(name: &str, path: &Path, reason: &str) -> String {
    format!("{name} {}: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate in PEM.
    fn ca_pem(name: &str) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn the_cas_of_the_file_are_added_to_the_webpki_roots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cas.pem");
        // Two CAs, with a key and some text between them, which are skipped.
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let bundle = format!("# private CAs\n{}{key}{}", ca_pem("One"), ca_pem("Two"));
        std::fs::write(&path, bundle).unwrap();
        let roots = root_store(&path).unwrap();
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len() + 2);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        client_config(&path).unwrap();
    }

    #[test]
    fn unusable_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let err = |name: &str, content: Option<&[u8]>| {
            let path = dir.path().join(name);
            if let Some(c) = content {
                std::fs::write(&path, c).unwrap();
            }
            client_config(&path).unwrap_err()
        };
        assert!(err("missing.pem", None).contains("No such file"));
        assert!(err("empty.pem", Some(b"")).contains("no PEM certificate"));
        assert!(err(
            "key.pem",
            Some(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        )
        .contains("no PEM certificate"));
        assert!(err("cut.pem", Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n"))
            .contains("not a valid PEM file"));
        let garbage = err(
            "garbage.pem",
            Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        );
        assert!(garbage.contains("certificate 1 is not usable"), "{garbage}");
        assert!(client_config(dir.path())
            .unwrap_err()
            .contains("is a directory"));
    }
}
