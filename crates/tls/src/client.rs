//! # NAME
//! client — TLS sessions of the SMTP and LMTP clients
//!
//! ## SYNOPSIS
//! ```ignore
//! let tls = ClientTls::new(&settings)?;              // once per process
//! let (conn, status) = tls.connection(&PeerPolicy { level, .. })?;
//! // ... handshake over the TCP stream ...
//! let st = status.lock().unwrap().clone();
//! if let Err(why) = st.enforce(policy.level) { /* defer with `why` */ }
//! info!("{} TLS connection established to {}: {}", st.trust_word(level), peer, summary(&conn, &st));
//! ```
//!
//! ## DESCRIPTION
//! Each session gets a rustls client configuration for its policy: the
//! protocol versions of the level, the SNI name (`smtp_tls_servername`;
//! none by default, as Postfix), the client certificate when one is
//! configured, and a certificate verifier of ours that never refuses a
//! handshake on its own. It verifies the handshake signatures as rustls
//! does, then records in a [`PeerStatus`] what the server's chain is
//! worth: whether it leads to a trusted root (webpki), whether a name
//! matches the policy's match list, whether a DANE TLSA record matches
//! (DANE-EE: the server certificate or key; DANE-TA: a certificate of the
//! chain, which then must validate to it with a matching name). The
//! caller enforces the level after the handshake ([`PeerStatus::enforce`])
//! so that the delivery is deferred with Postfix's reason ("Server
//! certificate not verified", [`NOT_VERIFIED`]) and the
//! log says what the session was ([`PeerStatus::trust_word`]: Anonymous,
//! Untrusted, Trusted, Verified).
//!
//! Session tickets are kept in memory by the process for resumption.
//!
//! ## SEE ALSO
//! TLS_README, RFC 7672, [`crate::dane`], [`crate::policy`]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme,
    SupportedProtocolVersion,
};

use crate::TlsError;
use crate::certs::Roots;
use crate::dane::{DANE_EE, DANE_TA, Tlsa};
use crate::der::{CertInfo, KeyKind};
use crate::policy::Level;

/// Where trust anchors come from (loaded on first use).
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    /// `smtp_tls_CAfile`.
    pub ca_file: Option<std::path::PathBuf>,
    /// `smtp_tls_CApath`.
    pub ca_path: Option<std::path::PathBuf>,
    /// Also trust the system's store (`tls_append_default_CA`, or no CA
    /// file or path configured at all).
    pub system_roots: bool,
    /// `smtp_tls_cert_file` and `smtp_tls_key_file`.
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
}

/// The reason a delivery is deferred when the certificate does not
/// satisfy the level.
pub const NOT_VERIFIED: &str = "Server certificate not verified";

/// What one session must achieve.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    pub level: Level,
    pub protocols: Vec<&'static SupportedProtocolVersion>,
    /// Names a certificate may carry: `name` matches exactly (with the
    /// usual `*.` wildcard of the certificate), `.domain` matches any
    /// name below the domain.
    pub match_names: Vec<String>,
    /// TLSA records (DANE levels).
    pub tlsa: Vec<Tlsa>,
    /// The SNI name to send, if any.
    pub sni: Option<String>,
}

/// What the server's certificate was worth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerStatus {
    /// The server sent a certificate.
    pub presented: bool,
    /// The chain leads to a trusted root.
    pub trusted: bool,
    /// A name matched the policy's list.
    pub matched: bool,
    /// A usable TLSA record matched (with the chain and name checks
    /// DANE-TA needs).
    pub dane_matched: bool,
    pub subject_cn: String,
    pub issuer_cn: String,
    /// The issuer's name in one-line form (`/CN=Test CA`), for the log.
    pub issuer: String,
    /// The key of the server certificate, for the log.
    pub key: Option<KeyKind>,
    /// The handshake signature, for the log.
    pub signature: Option<SignatureScheme>,
    /// Why the chain did not verify, for the log.
    pub chain_error: String,
}

impl PeerStatus {
    /// Whether the session satisfies its level; otherwise what went
    /// wrong, as Postfix logs it (`untrusted issuer /CN=...`,
    /// `num=62:hostname mismatch`). The delivery is then deferred with
    /// [`NOT_VERIFIED`].
    pub fn enforce(&self, level: Level, have_tlsa: bool) -> Result<(), String> {
        match level {
            Level::Verify | Level::Secure => {
                if !self.trusted {
                    Err(format!("untrusted issuer {}", self.issuer))
                } else if !self.matched {
                    Err("num=62:hostname mismatch".into())
                } else {
                    Ok(())
                }
            }
            Level::Dane | Level::DaneOnly if have_tlsa => {
                if self.dane_matched {
                    Ok(())
                } else {
                    Err("num=65:No matching DANE TLSA records".into())
                }
            }
            _ => Ok(()),
        }
    }

    /// How Postfix names the session in "... TLS connection established".
    pub fn trust_word(&self, level: Level) -> &'static str {
        if !self.presented {
            "Anonymous"
        } else if self.dane_matched
            || (self.trusted && self.matched && level.requires_verification())
        {
            "Verified"
        } else if self.trusted {
            "Trusted"
        } else {
            "Untrusted"
        }
    }
}

/// The process-wide part of the client TLS setup.
pub struct ClientTls {
    settings: ClientSettings,
    provider: Arc<CryptoProvider>,
    roots: OnceLock<Arc<Roots>>,
    resumption: Arc<ClientSessionMemoryCache>,
    client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl ClientTls {
    /// Checks the client certificate files, if configured; roots are
    /// read later, when a session first needs them.
    pub fn new(settings: &ClientSettings) -> Result<ClientTls, TlsError> {
        let client_auth = match (&settings.cert_file, &settings.key_file) {
            (Some(c), k) => {
                let certs = crate::certs::load_certs(c)?;
                let key = crate::certs::load_key(k.as_deref().unwrap_or(c))?;
                Some((certs, key))
            }
            _ => None,
        };
        Ok(ClientTls {
            settings: settings.clone(),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            roots: OnceLock::new(),
            resumption: Arc::new(ClientSessionMemoryCache::new(256)),
            client_auth,
        })
    }

    fn roots(&self) -> Arc<Roots> {
        self.roots
            .get_or_init(|| {
                Arc::new(Roots::load(
                    self.settings.ca_file.as_deref(),
                    self.settings.ca_path.as_deref(),
                    self.settings.system_roots,
                ))
            })
            .clone()
    }

    /// A client connection for one session, and the cell its
    /// verifier fills in during the handshake.
    pub fn connection(
        &self,
        policy: &PeerPolicy,
    ) -> Result<(ClientConnection, Arc<Mutex<PeerStatus>>), TlsError> {
        let status = Arc::new(Mutex::new(PeerStatus::default()));
        let verifier = Arc::new(Verifier {
            algs: self.provider.signature_verification_algorithms,
            roots: self.roots(),
            match_names: policy.match_names.clone(),
            tlsa: policy.tlsa.iter().filter(|t| t.usable()).cloned().collect(),
            status: status.clone(),
        });
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&policy.protocols)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.client_auth {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs.clone(), key.clone_key())
                .map_err(|e| TlsError::Config(e.to_string()))?,
            None => builder.with_no_client_auth(),
        };
        config.resumption = Resumption::store(self.resumption.clone());
        let name = match &policy.sni {
            Some(n) => {
                config.enable_sni = true;
                n.clone()
            }
            None => {
                config.enable_sni = false;
                "unnamed.invalid".to_string()
            }
        };
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| TlsError::Config(format!("bad TLS server name: {name}")))?;
        let conn = ClientConnection::new(Arc::new(config), server_name)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok((conn, status))
    }
}

#[derive(Debug)]
struct Verifier {
    algs: WebPkiSupportedAlgorithms,
    roots: Arc<Roots>,
    match_names: Vec<String>,
    tlsa: Vec<Tlsa>,
    status: Arc<Mutex<PeerStatus>>,
}

/// Whether certificate name `cert_name` (maybe `*.x`) matches policy
/// name `want` (maybe `.domain`).
pub fn name_matches(want: &str, cert_name: &str) -> bool {
    let want = want.trim_end_matches('.').to_ascii_lowercase();
    let cert_name = cert_name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(domain) = want.strip_prefix('.') {
        // Any name below the domain; a wildcard certificate name for
        // a subdomain of it matches too.
        let base = cert_name.strip_prefix("*.").unwrap_or(&cert_name);
        return base.len() > domain.len()
            && base.ends_with(domain)
            && base.as_bytes()[base.len() - domain.len() - 1] == b'.';
    }
    if let Some(rest) = cert_name.strip_prefix("*.") {
        // One label, not the whole name.
        return match want.split_once('.') {
            Some((label, tail)) => !label.is_empty() && tail == rest,
            None => false,
        };
    }
    want == cert_name
}

impl Verifier {
    fn chain_ok(
        &self,
        ee: &webpki::EndEntityCert<'_>,
        anchors: &[rustls::pki_types::TrustAnchor<'_>],
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), String> {
        ee.verify_for_usage(
            self.algs.all,
            anchors,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
    }

    fn names_ok(&self, info: &CertInfo<'_>) -> bool {
        let names = info.names();
        self.match_names
            .iter()
            .any(|w| names.iter().any(|n| name_matches(w, n)))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut st = PeerStatus {
            presented: true,
            ..PeerStatus::default()
        };
        let info = CertInfo::parse(end_entity.as_ref());
        if let Some(i) = &info {
            st.subject_cn = i.subject_cn.clone();
            st.issuer_cn = i.issuer_cn.clone();
            st.issuer = i.issuer.clone();
            st.key = Some(i.key.clone());
            st.matched = self.names_ok(i);
        }
        match webpki::EndEntityCert::try_from(end_entity) {
            Ok(ee) => {
                match self.chain_ok(&ee, &self.roots.anchors, intermediates, now) {
                    Ok(()) => st.trusted = true,
                    Err(e) => st.chain_error = e,
                }
                // DANE-EE: the certificate itself, names and dates aside.
                let ee_match = self
                    .tlsa
                    .iter()
                    .any(|t| t.usage == DANE_EE && t.matches(end_entity.as_ref()));
                // DANE-TA: a certificate of the chain is the trust anchor.
                let ta_match = st.matched
                    && intermediates.iter().enumerate().any(|(k, ca)| {
                        self.tlsa
                            .iter()
                            .any(|t| t.usage == DANE_TA && t.matches(ca.as_ref()))
                            && webpki::anchor_from_trusted_cert(ca).is_ok_and(|a| {
                                self.chain_ok(&ee, &[a], &intermediates[..k], now).is_ok()
                            })
                    });
                st.dane_matched = ee_match || ta_match;
            }
            Err(e) => st.chain_error = format!("{e:?}"),
        }
        *self.status.lock().expect("invariant: status lock") = st;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let r = rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs);
        self.status
            .lock()
            .expect("invariant: status lock")
            .signature = Some(dss.scheme);
        r
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let r = rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs);
        self.status
            .lock()
            .expect("invariant: status lock")
            .signature = Some(dss.scheme);
        r
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// OpenSSL's name for a TLS 1.2 suite (what Postfix logs), and the
/// bits of its cipher.
pub fn suite_name(suite: rustls::CipherSuite) -> (String, u32) {
    use rustls::CipherSuite as C;
    let (name, bits) = match suite {
        C::TLS13_AES_128_GCM_SHA256 => ("TLS_AES_128_GCM_SHA256", 128),
        C::TLS13_AES_256_GCM_SHA384 => ("TLS_AES_256_GCM_SHA384", 256),
        C::TLS13_CHACHA20_POLY1305_SHA256 => ("TLS_CHACHA20_POLY1305_SHA256", 256),
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-RSA-AES128-GCM-SHA256", 128),
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-RSA-AES256-GCM-SHA384", 256),
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => ("ECDHE-RSA-CHACHA20-POLY1305", 256),
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-ECDSA-AES128-GCM-SHA256", 128),
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-ECDSA-AES256-GCM-SHA384", 256),
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => ("ECDHE-ECDSA-CHACHA20-POLY1305", 256),
        other => return (format!("{other:?}"), 0),
    };
    (name.to_string(), bits)
}

/// The session as Postfix describes it after "established to host:":
/// `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
/// key-exchange X25519 server-signature RSA-PSS (2048 bits)
/// server-digest SHA256`.
pub fn summary(conn: &ClientConnection, st: &PeerStatus) -> String {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    };
    let mut s = String::from(version);
    if let Some(cs) = conn.negotiated_cipher_suite() {
        let (name, bits) = suite_name(cs.suite());
        let _ = write!(s, " with cipher {name} ({bits}/{bits} bits)");
    }
    if let Some(g) = conn.negotiated_key_exchange_group() {
        let _ = write!(s, " key-exchange {:?}", g.name());
    }
    if let Some(sig) = st.signature {
        use SignatureScheme as S;
        let (alg, digest) = match sig {
            S::RSA_PSS_SHA256 => ("RSA-PSS", "SHA256"),
            S::RSA_PSS_SHA384 => ("RSA-PSS", "SHA384"),
            S::RSA_PSS_SHA512 => ("RSA-PSS", "SHA512"),
            S::RSA_PKCS1_SHA256 => ("RSA", "SHA256"),
            S::RSA_PKCS1_SHA384 => ("RSA", "SHA384"),
            S::RSA_PKCS1_SHA512 => ("RSA", "SHA512"),
            S::ECDSA_NISTP256_SHA256 => ("ECDSA", "SHA256"),
            S::ECDSA_NISTP384_SHA384 => ("ECDSA", "SHA384"),
            S::ECDSA_NISTP521_SHA512 => ("ECDSA", "SHA512"),
            S::ED25519 => ("ED25519", ""),
            _ => ("unknown", ""),
        };
        let _ = write!(s, " server-signature {alg}");
        match &st.key {
            Some(KeyKind::Rsa(bits)) => {
                let _ = write!(s, " ({bits} bits)");
            }
            Some(KeyKind::Ec(curve)) => {
                let _ = write!(s, " ({curve})");
            }
            _ => {}
        }
        if !digest.is_empty() {
            let _ = write!(s, " server-digest {digest}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_matches("mx.example.test", "MX.example.test"));
        assert!(name_matches("mx.example.test.", "mx.example.test"));
        assert!(!name_matches("mx.example.test", "example.test"));
        assert!(name_matches("a.mail.example.test", "*.mail.example.test"));
        assert!(!name_matches(
            "a.b.mail.example.test",
            "*.mail.example.test"
        ));
        assert!(!name_matches("mail.example.test", "*.mail.example.test"));
        assert!(name_matches(".example.test", "mx.example.test"));
        assert!(name_matches(".example.test", "*.mail.example.test"));
        assert!(!name_matches(".example.test", "example.test"));
        assert!(!name_matches(".example.test", "badexample.test"));
    }

    fn testdata(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    /// A handshake against a server with the test certificate: what the
    /// verifier records for a policy.
    fn handshake(settings: ClientSettings, policy: PeerPolicy) -> (PeerStatus, String) {
        handshake_with(settings, policy, "mx.pem")
    }

    fn handshake_with(
        settings: ClientSettings,
        policy: PeerPolicy,
        cert: &str,
    ) -> (PeerStatus, String) {
        use std::io::{Read, Write};
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let server_cfg = crate::server::config(
            &testdata(cert),
            &testdata("mx.key"),
            &crate::policy::protocols(">=TLSv1.2").unwrap(),
        )
        .unwrap();
        let server = std::thread::spawn(move || {
            let conn = rustls::ServerConnection::new(server_cfg).unwrap();
            let mut s = rustls::StreamOwned::new(conn, b);
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.write_all(b"world").unwrap();
            s.flush().unwrap();
            s.conn.server_name().map(String::from)
        });
        let tls = ClientTls::new(&settings).unwrap();
        let (conn, status) = tls.connection(&policy).unwrap();
        let mut c = rustls::StreamOwned::new(conn, a);
        c.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"world");
        let sni = server.join().unwrap();
        assert_eq!(sni, policy.sni);
        let st = status.lock().unwrap().clone();
        let text = summary(&c.conn, &st);
        (st, text)
    }

    fn policy(level: Level, names: &[&str]) -> PeerPolicy {
        PeerPolicy {
            level,
            protocols: crate::policy::protocols(">=TLSv1").unwrap(),
            match_names: names.iter().map(|n| n.to_string()).collect(),
            tlsa: Vec::new(),
            sni: None,
        }
    }

    #[test]
    fn handshakes_record_what_the_certificate_is_worth() {
        let untrusted = ClientSettings::default();
        let (st, text) = handshake(untrusted.clone(), policy(Level::May, &[]));
        assert!(st.presented && !st.trusted && !st.matched, "{st:?}");
        assert_eq!(st.trust_word(Level::May), "Untrusted");
        assert!(text.starts_with("TLSv1.3 with cipher TLS_"), "{text}");
        assert!(
            text.contains("server-signature RSA-PSS (2048 bits) server-digest SHA"),
            "{text}"
        );
        let trusted = ClientSettings {
            ca_file: Some(testdata("ca.pem")),
            ..ClientSettings::default()
        };
        let mut p = policy(Level::Secure, &["mx.example.test"]);
        p.sni = Some("mx.example.test".into());
        let (st, _) = handshake(trusted.clone(), p);
        assert!(st.trusted && st.matched, "{st:?}");
        assert_eq!(st.enforce(Level::Secure, false), Ok(()));
        assert_eq!(st.subject_cn, "mx.example.test");
        let (st, _) = handshake(trusted.clone(), policy(Level::Secure, &["other.test"]));
        assert!(st.trusted && !st.matched);
        // DANE-EE with the key's digest: verified whatever the roots.
        let der = crate::der::tests::cert_der();
        let spki = CertInfo::parse(&der).unwrap().spki.to_vec();
        let mut p = policy(Level::Dane, &[]);
        p.tlsa = vec![Tlsa {
            usage: 3,
            selector: 1,
            mtype: 1,
            data: ring::digest::digest(&ring::digest::SHA256, &spki)
                .as_ref()
                .to_vec(),
        }];
        let (st, _) = handshake(untrusted.clone(), p.clone());
        assert!(st.dane_matched && !st.trusted, "{st:?}");
        assert_eq!(st.trust_word(Level::Dane), "Verified");
        p.tlsa[0].data[0] ^= 1;
        let (st, _) = handshake(untrusted.clone(), p);
        assert!(!st.dane_matched);
        // DANE-TA: the CA's key in the chain the server sends, and a
        // name that matches.
        let ca = crate::certs::load_certs(&testdata("ca.pem")).unwrap();
        let ca_spki = CertInfo::parse(ca[0].as_ref()).unwrap().spki.to_vec();
        let mut p = policy(Level::Dane, &["mx.example.test"]);
        p.tlsa = vec![Tlsa {
            usage: 2,
            selector: 1,
            mtype: 0,
            data: ca_spki,
        }];
        let (st, _) = handshake_with(untrusted.clone(), p.clone(), "mx-chain.pem");
        assert!(st.dane_matched, "{st:?}");
        p.match_names = vec!["other.test".into()];
        let (st, _) = handshake_with(untrusted.clone(), p.clone(), "mx-chain.pem");
        assert!(!st.dane_matched, "a DANE-TA match needs the name");
        p.match_names = vec!["mx.example.test".into()];
        let (st, _) = handshake_with(untrusted, p, "mx.pem");
        assert!(!st.dane_matched, "the anchor must be in the chain");
        assert!(st.enforce(Level::Dane, true).is_err());
    }

    #[test]
    fn enforcement_and_words() {
        let mut st = PeerStatus::default();
        assert_eq!(st.trust_word(Level::May), "Anonymous");
        st.presented = true;
        assert_eq!(st.trust_word(Level::May), "Untrusted");
        st.issuer = "/CN=Test CA".into();
        assert_eq!(
            st.enforce(Level::Secure, false),
            Err("untrusted issuer /CN=Test CA".into())
        );
        assert_eq!(st.enforce(Level::Encrypt, false), Ok(()));
        st.trusted = true;
        assert_eq!(st.trust_word(Level::May), "Trusted");
        assert_eq!(
            st.enforce(Level::Verify, false),
            Err("num=62:hostname mismatch".into())
        );
        st.matched = true;
        assert_eq!(st.enforce(Level::Verify, false), Ok(()));
        assert_eq!(st.trust_word(Level::Verify), "Verified");
        assert_eq!(st.trust_word(Level::May), "Trusted");
        assert_eq!(
            st.enforce(Level::Dane, true),
            Err("num=65:No matching DANE TLSA records".into())
        );
        st.dane_matched = true;
        assert_eq!(st.enforce(Level::DaneOnly, true), Ok(()));
        assert_eq!(st.trust_word(Level::Dane), "Verified");
    }
}
