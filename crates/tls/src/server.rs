//! # NAME
//! server — TLS for servers: a certificate and key from files
//!
//! ## SYNOPSIS
//! ```ignore
//! let config = tls::server::config(&cert_file, &key_file, &protocols)?;
//! let config = tls::server::config_from_chain_files(&files, &protocols)?;
//! let conn = rustls::ServerConnection::new(config)?;
//! info!("... established from {}: {}", client, tls::server::summary(&conn));
//! ```
//!
//! ## DESCRIPTION
//! The server side smtpd(8) and the test peers use: the chain from
//! the certificate file (`smtpd_tls_cert_file`, the key file may hold it
//! too), the private key, and the protocol versions allowed; or, as
//! `smtpd_tls_chain_files` gives them, files that hold a key followed by
//! the certificates of its chain. [`summary`] describes a session as
//! Postfix logs it.
//!
//! ## SEE ALSO
//! TLS_README, [`crate::certs`], [`crate::policy::protocols`]

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::{ServerConfig, ServerConnection, SupportedProtocolVersion};

use crate::TlsError;

/// A server configuration without client certificates.
pub fn config(
    cert_file: &Path,
    key_file: &Path,
    protocols: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = crate::certs::load_certs(cert_file)?;
    let key = crate::certs::load_key(key_file)?;
    build(certs, key, protocols)
}

/// A server configuration from `smtpd_tls_chain_files`: the first key in
/// the files, and every certificate in them, in order (the server's own
/// first).
pub fn config_from_chain_files(
    files: &[&Path],
    protocols: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut key: Option<PrivateKeyDer<'static>> = None;
    let mut certs = Vec::new();
    for f in files {
        let name = || f.display().to_string();
        if key.is_none() {
            key = PrivateKeyDer::from_pem_file(f).ok();
        }
        for c in
            CertificateDer::pem_file_iter(f).map_err(|e| TlsError::File(name(), e.to_string()))?
        {
            certs.push(c.map_err(|e| TlsError::File(name(), e.to_string()))?);
        }
    }
    let list = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(key) = key else {
        return Err(TlsError::File(list, "no private key found".into()));
    };
    if certs.is_empty() {
        return Err(TlsError::File(list, "no certificate found".into()));
    }
    build(certs, key, protocols)
}

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    protocols: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let c = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(protocols)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(c))
}

/// The session as Postfix logs it after "established from host[addr]:":
/// `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
/// key-exchange X25519`.
pub fn summary(conn: &ServerConnection) -> String {
    let mut s = String::from(match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    });
    if let Some(cs) = conn.negotiated_cipher_suite() {
        let (name, bits) = crate::client::suite_name(cs.suite());
        s.push_str(&format!(" with cipher {name} ({bits}/{bits} bits)"));
    }
    if let Some(g) = conn.negotiated_key_exchange_group() {
        s.push_str(&format!(" key-exchange {:?}", g.name()));
    }
    s
}
