//! # NAME
//! policy — TLS security levels and protocol lists as main.cf writes them
//!
//! ## SYNOPSIS
//! ```
//! use tls::policy::{Level, protocols};
//! assert_eq!(Level::parse("dane-only"), Some(Level::DaneOnly));
//! assert!(Level::Secure.requires_verification());
//! let v = protocols(">=TLSv1.2").unwrap();
//! assert_eq!(v.len(), 2);
//! assert!(protocols("!TLSv1.2, !TLSv1.3").is_err());
//! ```
//!
//! ## DESCRIPTION
//! [`Level`] is `smtp_tls_security_level` (and the level of a
//! `smtp_tls_policy_maps` entry): `none`, `may`, `encrypt`, `dane`,
//! `dane-only`, `fingerprint`, `verify`, `secure`. [`protocols`] reads a
//! protocol list in either Postfix syntax, `>=TLSv1.2` / `<=TLSv1.3` /
//! `TLSv1.2 TLSv1.3` or the older exclusions `!SSLv2, !SSLv3`, and gives
//! the versions rustls can speak out of it (TLS 1.2 and 1.3: SSL and
//! TLS 1.0/1.1 are not implemented, which is why the defaults `>=TLSv1`
//! mean TLS 1.2 and later here).
//!
//! ## SEE ALSO
//! TLS_README, postconf(5) `smtp_tls_security_level`, `smtp_tls_protocols`

use rustls::SupportedProtocolVersion;

/// A TLS security level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    None,
    May,
    Encrypt,
    Fingerprint,
    Dane,
    DaneOnly,
    Verify,
    Secure,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "none" => Level::None,
            "may" => Level::May,
            "encrypt" => Level::Encrypt,
            "fingerprint" => Level::Fingerprint,
            "dane" => Level::Dane,
            "dane-only" => Level::DaneOnly,
            "verify" => Level::Verify,
            "secure" => Level::Secure,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::May => "may",
            Level::Encrypt => "encrypt",
            Level::Fingerprint => "fingerprint",
            Level::Dane => "dane",
            Level::DaneOnly => "dane-only",
            Level::Verify => "verify",
            Level::Secure => "secure",
        }
    }

    /// Whether the session must be encrypted (no plaintext fallback).
    pub fn requires_tls(self) -> bool {
        !matches!(self, Level::None | Level::May | Level::Dane)
    }

    /// Whether the server certificate must be verified (a trusted chain
    /// and a matching name).
    pub fn requires_verification(self) -> bool {
        matches!(self, Level::Verify | Level::Secure)
    }

    /// Whether the mandatory protocol list applies (otherwise the
    /// opportunistic one).
    pub fn mandatory(self) -> bool {
        self.requires_tls()
    }
}

/// Why a protocol list is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A word that names no protocol.
    #[error("invalid TLS protocol name: \"{0}\"")]
    Unknown(String),
    /// Nothing rustls implements is left.
    #[error("no supported TLS protocol version (TLSv1.2 and TLSv1.3 are supported) in \"{0}\"")]
    NoneLeft(String),
}

const NAMES: [&str; 6] = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

fn index(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| n.eq_ignore_ascii_case(name))
}

/// The protocol versions a list allows, out of those rustls speaks.
pub fn protocols(list: &str) -> Result<Vec<&'static SupportedProtocolVersion>, ProtocolError> {
    let mut allowed = [true; 6];
    let mut included: Option<[bool; 6]> = None;
    for w in list.split([' ', '\t', ',', ':']).filter(|w| !w.is_empty()) {
        if let Some(n) = w.strip_prefix(">=") {
            let i = index(n).ok_or_else(|| ProtocolError::Unknown(w.into()))?;
            allowed.iter_mut().take(i).for_each(|a| *a = false);
        } else if let Some(n) = w.strip_prefix("<=") {
            let i = index(n).ok_or_else(|| ProtocolError::Unknown(w.into()))?;
            allowed.iter_mut().skip(i + 1).for_each(|a| *a = false);
        } else if let Some(n) = w.strip_prefix('!') {
            let i = index(n).ok_or_else(|| ProtocolError::Unknown(w.into()))?;
            allowed[i] = false;
        } else {
            let i = index(w).ok_or_else(|| ProtocolError::Unknown(w.into()))?;
            included.get_or_insert([false; 6])[i] = true;
        }
    }
    if let Some(inc) = included {
        for (a, i) in allowed.iter_mut().zip(inc) {
            *a &= i;
        }
    }
    let mut out = Vec::new();
    if allowed[5] {
        out.push(&rustls::version::TLS13);
    }
    if allowed[4] {
        out.push(&rustls::version::TLS12);
    }
    if out.is_empty() {
        return Err(ProtocolError::NoneLeft(list.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &str) -> Vec<&'static str> {
        protocols(list)
            .unwrap()
            .iter()
            .map(|v| {
                if v.version == rustls::ProtocolVersion::TLSv1_3 {
                    "1.3"
                } else {
                    "1.2"
                }
            })
            .collect()
    }

    #[test]
    fn protocol_lists() {
        assert_eq!(names(">=TLSv1"), vec!["1.3", "1.2"]);
        assert_eq!(names(""), vec!["1.3", "1.2"]);
        assert_eq!(names("!SSLv2, !SSLv3"), vec!["1.3", "1.2"]);
        assert_eq!(names(">=TLSv1.3"), vec!["1.3"]);
        assert_eq!(names("<=TLSv1.2"), vec!["1.2"]);
        assert_eq!(names("TLSv1.2"), vec!["1.2"]);
        assert_eq!(names("TLSv1 TLSv1.1 TLSv1.2"), vec!["1.2"]);
        assert_eq!(names("!TLSv1.3"), vec!["1.2"]);
        assert!(matches!(
            protocols("<=TLSv1.1"),
            Err(ProtocolError::NoneLeft(_))
        ));
        assert!(matches!(protocols("TLSv9"), Err(ProtocolError::Unknown(_))));
    }

    #[test]
    fn levels() {
        for l in [
            "none",
            "may",
            "encrypt",
            "fingerprint",
            "dane",
            "dane-only",
            "verify",
            "secure",
        ] {
            assert_eq!(Level::parse(l).unwrap().name(), l);
        }
        assert_eq!(Level::parse("MAY"), Some(Level::May));
        assert_eq!(Level::parse("maybe"), None);
        assert!(!Level::May.requires_tls() && !Level::Dane.requires_tls());
        assert!(Level::Encrypt.requires_tls() && Level::DaneOnly.requires_tls());
        assert!(!Level::Encrypt.requires_verification());
    }
}
