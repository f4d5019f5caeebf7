//! # NAME
//! tls — TLS for the mail system: rustls set up from main.cf parameters
//!
//! ## SYNOPSIS
//! ```ignore
//! use tls::{client::{ClientTls, PeerPolicy}, policy::{Level, protocols}};
//! let tls = ClientTls::new(&settings)?;
//! let (conn, status) = tls.connection(&PeerPolicy { level: Level::May, .. })?;
//! ```
//!
//! ## DESCRIPTION
//! What the SMTP client and server share about TLS: the security levels
//! and protocol lists of main.cf ([`policy`]), certificates, keys and
//! trust anchors from files ([`certs`]), the client side with the
//! verification each level needs ([`client`]), DANE TLSA matching
//! ([`dane`]), the server side ([`server`]), and the few certificate
//! fields that matching needs ([`der`]). All of it on rustls with the
//! *ring* provider: TLS 1.2 and 1.3 only.
//!
//! ## SEE ALSO
//! TLS_README, smtp(8), smtpd(8)

pub mod certs;
pub mod client;
pub mod dane;
pub mod der;
pub mod policy;
pub mod server;

/// Why TLS could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate, key or CA file could not be read (name, reason).
    #[error("cannot load {0}: {1}")]
    File(String, String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}
