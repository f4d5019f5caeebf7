//! # NAME
//! dane — TLSA records and how a server's certificates match them
//!
//! ## SYNOPSIS
//! ```ignore
//! let t = Tlsa { usage: 3, selector: 1, mtype: 1, data };
//! if t.usable() && t.matches(cert_der) { ... }
//! ```
//!
//! ## DESCRIPTION
//! SMTP uses only the DANE-TA(2) and DANE-EE(3) certificate usages
//! (RFC 7672 §3.1.3); PKIX-TA(0) and PKIX-EE(1) records are unusable and
//! ignored, as are unknown selectors and matching types, and digests of
//! the wrong length. A record matches a certificate when its data equal
//! the full certificate (selector 0) or its SubjectPublicKeyInfo
//! (selector 1), as is (matching type 0) or as a SHA-256 (1) or SHA-512
//! (2) digest.
//!
//! ## SEE ALSO
//! RFC 6698, RFC 7671, RFC 7672, [`crate::verify`]

use ring::digest;

use crate::der::CertInfo;

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub mtype: u8,
    pub data: Vec<u8>,
}

/// DANE-TA: a trust anchor of the server's chain.
pub const DANE_TA: u8 = 2;
/// DANE-EE: the server's own certificate.
pub const DANE_EE: u8 = 3;

impl Tlsa {
    /// Whether SMTP can use the record.
    pub fn usable(&self) -> bool {
        matches!(self.usage, DANE_TA | DANE_EE)
            && self.selector <= 1
            && match self.mtype {
                0 => !self.data.is_empty(),
                1 => self.data.len() == 32,
                2 => self.data.len() == 64,
                _ => false,
            }
    }

    /// Whether the record matches the certificate `der`.
    pub fn matches(&self, der: &[u8]) -> bool {
        let content = match self.selector {
            0 => der,
            1 => match CertInfo::parse(der) {
                Some(c) => c.spki,
                None => return false,
            },
            _ => return false,
        };
        match self.mtype {
            0 => content == self.data.as_slice(),
            1 => digest::digest(&digest::SHA256, content).as_ref() == self.data.as_slice(),
            2 => digest::digest(&digest::SHA512, content).as_ref() == self.data.as_slice(),
            _ => false,
        }
    }

    /// The record that matches certificate `der` (what one publishes
    /// for a server: `3 1 1` is its key's SHA-256); `None` when the
    /// certificate cannot be read.
    pub fn for_cert(usage: u8, selector: u8, mtype: u8, der: &[u8]) -> Option<Tlsa> {
        let content = match selector {
            0 => der.to_vec(),
            1 => CertInfo::parse(der)?.spki.to_vec(),
            _ => return None,
        };
        let data = match mtype {
            0 => content,
            1 => digest::digest(&digest::SHA256, &content).as_ref().to_vec(),
            2 => digest::digest(&digest::SHA512, &content).as_ref().to_vec(),
            _ => return None,
        };
        Some(Tlsa {
            usage,
            selector,
            mtype,
            data,
        })
    }

    /// Presentation form, `3 1 1 ABCD...`.
    pub fn to_text(&self) -> String {
        let hex: String = self.data.iter().map(|b| format!("{b:02X}")).collect();
        format!("{} {} {} {}", self.usage, self.selector, self.mtype, hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::tests::cert_der;

    #[test]
    fn matching() {
        let der = cert_der();
        let spki = CertInfo::parse(&der).unwrap().spki.to_vec();
        let sha256 = |b: &[u8]| digest::digest(&digest::SHA256, b).as_ref().to_vec();
        let sha512 = |b: &[u8]| digest::digest(&digest::SHA512, b).as_ref().to_vec();
        let cases = [
            (3, 1, 1, sha256(&spki), true),
            (3, 0, 1, sha256(&der), true),
            (3, 1, 2, sha512(&spki), true),
            (3, 0, 0, der.clone(), true),
            (2, 1, 0, spki.clone(), true),
            (3, 1, 1, sha256(&der), false),
            (3, 0, 2, sha512(&spki), false),
        ];
        for (usage, selector, mtype, data, want) in cases {
            let t = Tlsa {
                usage,
                selector,
                mtype,
                data,
            };
            assert!(t.usable(), "{}", t.to_text());
            assert_eq!(t.matches(&der), want, "{}", t.to_text());
        }
        for (sel, mt) in [(0, 0), (0, 1), (1, 1), (1, 2)] {
            let t = Tlsa::for_cert(3, sel, mt, &der).unwrap();
            assert!(t.usable() && t.matches(&der));
        }
        assert!(Tlsa::for_cert(3, 2, 1, &der).is_none());
        let unusable = Tlsa {
            usage: 1,
            selector: 1,
            mtype: 1,
            data: sha256(&spki),
        };
        assert!(!unusable.usable());
        let short = Tlsa {
            usage: 3,
            selector: 1,
            mtype: 1,
            data: vec![1, 2],
        };
        assert!(!short.usable());
        assert!(short.to_text().starts_with("3 1 1 0102"));
    }
}
