//! # NAME
//! server — TLS for servers: a certificate and key from files
//!
//! ## SYNOPSIS
//! ```ignore
//! let config = tls::server::config(&cert_file, &key_file, &protocols)?;
//! let conn = rustls::ServerConnection::new(config)?;
//! ```
//!
//! ## DESCRIPTION
//! The server side smtpd(8) and the test peers use: the chain from
//! the certificate file (`smtpd_tls_cert_file`, the key file may hold it
//! too), the private key, and the protocol versions allowed.
//!
//! ## SEE ALSO
//! TLS_README, [`crate::certs`], [`crate::policy::protocols`]

use std::path::Path;
use std::sync::Arc;

use rustls::{ServerConfig, SupportedProtocolVersion};

use crate::TlsError;

/// A server configuration without client certificates.
pub fn config(
    cert_file: &Path,
    key_file: &Path,
    protocols: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = crate::certs::load_certs(cert_file)?;
    let key = crate::certs::load_key(key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let c = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(protocols)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(c))
}
