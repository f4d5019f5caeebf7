//! # NAME
//! der — the few fields of an X.509 certificate that SMTP TLS needs
//!
//! ## SYNOPSIS
//! ```ignore
//! let c = der::CertInfo::parse(cert_der)?;
//! c.spki          // SubjectPublicKeyInfo, for DANE selector 1
//! c.dns_names     // subjectAltName dNSName entries
//! c.subject_cn    // the subject's common name
//! ```
//!
//! ## DESCRIPTION
//! A small, strict reader of DER as X.509 uses it (RFC 5280): it walks
//! `tbsCertificate` to the subject, the public key and the
//! subjectAltName extension, and returns `None` for anything that is not
//! well-formed. Chain and signature checks are webpki's; this only gives
//! the names a security level matches against, the key DANE hashes, and
//! the key size the log shows.
//!
//! ## SEE ALSO
//! RFC 5280, RFC 6698 §1.1.3, [`crate::dane`]

/// One element: its tag, its content, and the whole encoding.
struct Elem<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn next(&mut self) -> Option<Elem<'a>> {
        let d = self.data;
        let tag = *d.first()?;
        if tag & 0x1f == 0x1f {
            return None; // multi-byte tags do not occur in certificates
        }
        let first = *d.get(1)?;
        let (len, hdr) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for &b in d.get(2..2 + n)? {
                len = (len << 8) | b as usize;
            }
            (len, 2 + n)
        };
        let end = hdr.checked_add(len)?;
        let whole = d.get(..end)?;
        self.data = &d[end..];
        Some(Elem {
            tag,
            content: &whole[hdr..],
            whole,
        })
    }

    fn expect(&mut self, tag: u8) -> Option<Elem<'a>> {
        let e = self.next()?;
        (e.tag == tag).then_some(e)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The kind and size of a public key, as the log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Rsa(usize),
    Ec(&'static str),
    Ed25519,
    Other,
}

/// What SMTP TLS reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo<'a> {
    /// The DER of SubjectPublicKeyInfo.
    pub spki: &'a [u8],
    pub subject_cn: String,
    pub issuer_cn: String,
    /// The issuer's whole name, one-line form.
    pub issuer: String,
    /// subjectAltName dNSName entries, lower case.
    pub dns_names: Vec<String>,
    pub key: KeyKind,
}

/// A distinguished name in OpenSSL's one-line form, as Postfix logs
/// it: `/C=US/O=Example/CN=Example CA`.
fn oneline(name: &[u8]) -> String {
    const SHORT: [(&[u8], &str); 8] = [
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
    ];
    let mut out = String::new();
    let mut rdns = Reader::new(name);
    while let Some(rdn) = rdns.next() {
        let mut atvs = Reader::new(rdn.content);
        while let Some(atv) = atvs.next() {
            let mut r = Reader::new(atv.content);
            if let (Some(oid), Some(val)) = (r.expect(OID), r.next()) {
                let key = SHORT
                    .iter()
                    .find(|(o, _)| *o == oid.content)
                    .map(|(_, k)| (*k).to_string())
                    .unwrap_or_else(|| "UNDEF".to_string());
                out.push('/');
                out.push_str(&key);
                out.push('=');
                out.push_str(&String::from_utf8_lossy(val.content));
            }
        }
    }
    out
}

fn common_name(name: &[u8]) -> String {
    let mut rdns = Reader::new(name);
    let mut cn = String::new();
    while let Some(rdn) = rdns.next() {
        if rdn.tag != SET {
            continue;
        }
        let mut atvs = Reader::new(rdn.content);
        while let Some(atv) = atvs.next() {
            let mut r = Reader::new(atv.content);
            if let (Some(oid), Some(val)) = (r.expect(OID), r.next())
                && oid.content == OID_CN
            {
                cn = String::from_utf8_lossy(val.content).into_owned();
            }
        }
    }
    cn
}

fn key_kind(spki: &[u8]) -> KeyKind {
    let Some(outer) = Reader::new(spki).expect(SEQUENCE) else {
        return KeyKind::Other;
    };
    let mut r = Reader::new(outer.content);
    let Some(alg) = r.expect(SEQUENCE) else {
        return KeyKind::Other;
    };
    let mut a = Reader::new(alg.content);
    let Some(oid) = a.expect(OID) else {
        return KeyKind::Other;
    };
    match oid.content {
        OID_RSA => {
            let bits = r
                .expect(BIT_STRING)
                .and_then(|b| b.content.get(1..))
                .and_then(|k| Reader::new(k).expect(SEQUENCE))
                .and_then(|s| Reader::new(s.content).expect(INTEGER))
                .map(|m| {
                    let n = m.content;
                    let skip = n.iter().take_while(|&&b| b == 0).count();
                    match n.get(skip) {
                        Some(&top) => (n.len() - skip) * 8 - top.leading_zeros() as usize,
                        None => 0,
                    }
                })
                .unwrap_or(0);
            KeyKind::Rsa(bits)
        }
        OID_EC => match a.expect(OID).map(|c| c.content) {
            Some(OID_P256) => KeyKind::Ec("P-256"),
            Some(OID_P384) => KeyKind::Ec("P-384"),
            Some(OID_P521) => KeyKind::Ec("P-521"),
            _ => KeyKind::Ec("unknown curve"),
        },
        OID_ED25519 => KeyKind::Ed25519,
        _ => KeyKind::Other,
    }
}

fn san_dns_names(ext_value: &[u8], out: &mut Vec<String>) {
    let Some(names) = Reader::new(ext_value).expect(SEQUENCE) else {
        return;
    };
    let mut r = Reader::new(names.content);
    while let Some(gn) = r.next() {
        // dNSName [2] IMPLICIT IA5String
        if gn.tag == 0x82 {
            out.push(String::from_utf8_lossy(gn.content).to_ascii_lowercase());
        }
    }
}

impl<'a> CertInfo<'a> {
    /// Reads a certificate; `None` when it is not well-formed DER.
    pub fn parse(der: &'a [u8]) -> Option<CertInfo<'a>> {
        let mut top = Reader::new(der);
        let cert = top.expect(SEQUENCE)?;
        if !top.is_empty() {
            return None;
        }
        let mut c = Reader::new(cert.content);
        let tbs = c.expect(SEQUENCE)?;
        let mut t = Reader::new(tbs.content);
        let mut e = t.next()?;
        if e.tag == 0xa0 {
            e = t.next()?; // version
        }
        if e.tag != INTEGER {
            return None; // serial
        }
        t.expect(SEQUENCE)?; // signature algorithm
        let issuer = t.expect(SEQUENCE)?;
        t.expect(SEQUENCE)?; // validity
        let subject = t.expect(SEQUENCE)?;
        let spki = t.expect(SEQUENCE)?;
        let mut dns_names = Vec::new();
        while let Some(e) = t.next() {
            if e.tag != 0xa3 {
                continue;
            }
            let exts = Reader::new(e.content).expect(SEQUENCE)?;
            let mut x = Reader::new(exts.content);
            while let Some(ext) = x.next() {
                let mut f = Reader::new(ext.content);
                let oid = f.expect(OID)?;
                let mut v = f.next()?;
                if v.tag == BOOLEAN {
                    v = f.next()?;
                }
                if v.tag == OCTET_STRING && oid.content == OID_SAN {
                    san_dns_names(v.content, &mut dns_names);
                }
            }
        }
        if !t.is_empty() {
            return None;
        }
        Some(CertInfo {
            spki: spki.whole,
            subject_cn: common_name(subject.content),
            issuer_cn: common_name(issuer.content),
            issuer: oneline(issuer.content),
            dns_names,
            key: key_kind(spki.whole),
        })
    }

    /// The names a certificate is for: its subjectAltName dNSNames, or,
    /// without any, its common name (RFC 6125 §6.4.4).
    pub fn names(&self) -> Vec<String> {
        if !self.dns_names.is_empty() {
            self.dns_names.clone()
        } else if !self.subject_cn.is_empty() {
            vec![self.subject_cn.to_ascii_lowercase()]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A certificate for `mx.example.test` (and a wildcard
    /// `*.mail.example.test`), RSA 2048, issued by the test CA
    /// (testdata/README).
    pub const CERT_PEM: &str = include_str!("../testdata/mx.pem");

    pub fn cert_der() -> Vec<u8> {
        let b64: String = CERT_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64(&b64)
    }

    fn base64(s: &str) -> Vec<u8> {
        let val = |c: u8| {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                .iter()
                .position(|&x| x == c)
                .unwrap() as u32
        };
        let s: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
        let mut out = Vec::new();
        for q in s.chunks(4) {
            let mut n = 0u32;
            for &c in q {
                n = (n << 6) | val(c);
            }
            n <<= 6 * (4 - q.len() as u32);
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..q.len() - 1]);
        }
        out
    }

    #[test]
    fn reads_names_and_key() {
        let der = cert_der();
        let c = CertInfo::parse(&der).expect("parses");
        assert_eq!(c.subject_cn, "mx.example.test");
        assert_eq!(c.issuer_cn, "Test CA");
        assert_eq!(c.issuer, "/CN=Test CA");
        assert_eq!(
            c.dns_names,
            vec![
                "mx.example.test".to_string(),
                "*.mail.example.test".to_string()
            ]
        );
        assert_eq!(c.key, KeyKind::Rsa(2048));
        assert_eq!(c.spki[0], 0x30);
        // Truncated or padded input is refused.
        assert!(CertInfo::parse(&der[..der.len() - 1]).is_none());
        assert!(CertInfo::parse(&der[1..]).is_none());
        assert!(CertInfo::parse(b"").is_none());
    }
}
