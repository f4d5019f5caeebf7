//! # NAME
//! certs — certificates, keys and trust anchors from files
//!
//! ## SYNOPSIS
//! ```ignore
//! let chain = certs::load_certs(Path::new("/etc/postfix/cert.pem"))?;
//! let key = certs::load_key(Path::new("/etc/postfix/key.pem"))?;
//! let roots = certs::Roots::load(ca_file, ca_path, system)?;
//! ```
//!
//! ## DESCRIPTION
//! PEM files as Postfix reads them (`smtp_tls_cert_file`,
//! `smtp_tls_key_file`, `smtp_tls_CAfile`, every file in
//! `smtp_tls_CApath`), through rustls' PEM reader. A key file may also
//! hold the certificate chain, as Postfix allows. [`Roots`] are the
//! trust anchors a verifying level checks a chain against: the CA file,
//! the CA directory and, when asked, the system's store.
//!
//! ## SEE ALSO
//! TLS_README, [`crate::client`]

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

use crate::TlsError;

/// Every certificate in a PEM file, in order.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::File(path.display().to_string(), e.to_string()))?
        .collect();
    let certs = certs.map_err(|e| TlsError::File(path.display().to_string(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::File(
            path.display().to_string(),
            "no certificate found".into(),
        ));
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| TlsError::File(path.display().to_string(), e.to_string()))
}

/// Trust anchors for chain verification.
#[derive(Debug, Default)]
pub struct Roots {
    pub anchors: Vec<TrustAnchor<'static>>,
}

impl Roots {
    /// Loads the CA file, every regular file of the CA directory (files
    /// that hold no certificate are skipped, as c_rehash links are) and,
    /// when `system` is set, the system's trust store.
    pub fn load(ca_file: Option<&Path>, ca_path: Option<&Path>, system: bool) -> Roots {
        let mut r = Roots::default();
        let mut add = |der: CertificateDer<'static>| {
            if let Ok(a) = webpki::anchor_from_trusted_cert(&der) {
                r.anchors.push(a.to_owned());
            }
        };
        if let Some(f) = ca_file
            && let Ok(certs) = load_certs(f)
        {
            certs.into_iter().for_each(&mut add);
        }
        if let Some(dir) = ca_path
            && let Ok(rd) = std::fs::read_dir(dir)
        {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in files {
                if f.is_file()
                    && let Ok(certs) = load_certs(&f)
                {
                    certs.into_iter().for_each(&mut add);
                }
            }
        }
        if system {
            let native = rustls_native_certs::load_native_certs();
            native.certs.into_iter().for_each(&mut add);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    #[test]
    fn files() {
        assert_eq!(load_certs(&testdata("mx.pem")).unwrap().len(), 1);
        assert!(load_key(&testdata("mx.key")).is_ok());
        assert!(load_certs(&testdata("mx.key")).is_err());
        assert!(matches!(
            load_certs(Path::new("/nonexistent/x.pem")),
            Err(TlsError::File(..))
        ));
        let r = Roots::load(Some(&testdata("ca.pem")), None, false);
        assert_eq!(r.anchors.len(), 1);
        let d = Roots::load(None, Some(&testdata("")), false);
        assert_eq!(
            d.anchors.len(),
            4,
            "mx, ca, mx-chain (2); key files and README hold none"
        );
    }
}
