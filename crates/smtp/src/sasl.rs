//! # NAME
//! sasl — SMTP AUTH as a client, PLAIN and LOGIN (smtp_sasl_glue.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! if let Some(creds) = sasl::credentials(&mut agent, sender, &hop, &session.host)? {
//!     sasl::authenticate(&mut session, &creds, &settings)?;
//! }
//! ```
//!
//! ## DESCRIPTION
//! With `smtp_sasl_auth_enable = yes` the client looks up a
//! `username:password` in `smtp_sasl_password_maps`: with
//! `smtp_sender_dependent_authentication` first by the sender address
//! and by `@domain` of the sender; then by the next hop as written
//! (`[mail.isp.example]:587`, `example.com`), then by the server's host
//! name. A server that does not offer AUTH gets none.
//!
//! The mechanism is the first of PLAIN and LOGIN that the server offers,
//! `smtp_sasl_mechanism_filter` allows, and the security options allow:
//! both send the password in the clear, so `noplaintext` in
//! `smtp_sasl_security_options` (or `smtp_sasl_tls_security_options`
//! once TLS is in effect) rules them out, and then authentication fails
//! for want of a mechanism, as with Postfix and Cyrus SASL. A refusal by
//! the server defers the mail (`smtp_sasl_auth_soft_bounce`) with the
//! server's reply in the reason.
//!
//! ## SEE ALSO
//! SASL_README "Enabling SASL authentication in the Postfix SMTP client",
//! RFC 4954, RFC 4616

use proto::client::{base64_decode, base64_encode, sasl_plain};

use crate::Agent;
use crate::nexthop::Hop;
use crate::session::{IoFail, Session};
use crate::settings::Settings;
use crate::trouble::{Why, reply_dsn};

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ user: {:?} }}", self.user)
    }
}

/// The table keys, in order.
pub fn keys(sender: &str, hop: &Hop, host: &str, sender_dependent: bool) -> Vec<String> {
    let mut k = Vec::new();
    if sender_dependent && !sender.is_empty() {
        k.push(sender.to_string());
        if let Some((_, d)) = sender.rsplit_once('@') {
            k.push(format!("@{d}"));
        }
    }
    k.push(hop.text.clone());
    if !host.is_empty() && host != hop.text {
        k.push(host.to_string());
    }
    k
}

/// The credentials for a server, if any.
pub fn credentials(
    agent: &mut Agent,
    sender: &str,
    hop: &Hop,
    host: &str,
) -> Result<Option<Credentials>, Why> {
    if !agent.s.sasl.enable || agent.sasl_maps.is_empty() {
        return Ok(None);
    }
    for key in keys(sender, hop, host, agent.s.sasl.sender_dependent) {
        match agent.sasl_maps.find(&key) {
            Ok(Some(v)) => {
                let (user, password) = v.split_once(':').unwrap_or((v.as_str(), ""));
                return Ok(Some(Credentials {
                    user: user.to_string(),
                    password: password.to_string(),
                }));
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Why::soft(
                    "4.3.0",
                    format!("SASL password lookup for {key}: {}", e.reason()),
                ));
            }
        }
    }
    Ok(None)
}

/// The mechanism to use, if any is allowed.
pub fn choose(offered: &[String], s: &Settings, tls: bool) -> Option<&'static str> {
    let opts = if tls {
        &s.sasl.tls_security_options
    } else {
        &s.sasl.security_options
    };
    if opts.iter().any(|o| o == "noplaintext") {
        return None;
    }
    ["PLAIN", "LOGIN"].into_iter().find(|m| {
        offered.iter().any(|o| o == m)
            && (s.sasl.mechanism_filter.is_empty()
                || s.sasl.mechanism_filter.iter().any(|f| f == m))
    })
}

fn io_why(sess: &Session, f: IoFail) -> Why {
    match f {
        IoFail::Timeout => Why::soft(
            "4.4.2",
            format!(
                "conversation with {} timed out while performing the SASL authentication",
                sess.name()
            ),
        ),
        _ => Why::soft(
            "4.4.2",
            format!(
                "lost connection with {} while performing the SASL authentication",
                sess.name()
            ),
        ),
    }
}

/// Authenticates; a refusal is a reason to defer.
pub fn authenticate(sess: &mut Session, creds: &Credentials, s: &Settings) -> Result<(), Why> {
    let Some(mech) = choose(&sess.features.auth, s, sess.tls) else {
        return Err(Why::soft(
            "4.7.0",
            format!(
                "SASL authentication failed; cannot authenticate to server {}: no mechanism available",
                sess.name()
            ),
        ));
    };
    let t = s.timeouts.helo;
    let cmd = match mech {
        "PLAIN" => format!(
            "AUTH PLAIN {}\r\n",
            sasl_plain("", &creds.user, &creds.password)
        ),
        _ => "AUTH LOGIN\r\n".to_string(),
    };
    sess.write(cmd.as_bytes(), t).map_err(|f| io_why(sess, f))?;
    let mut r = sess.reply(t).map_err(|f| io_why(sess, f))?;
    if mech == "LOGIN" {
        // Username, then password, each after a 334 challenge.
        for answer in [&creds.user, &creds.password] {
            if r.code != 334 {
                break;
            }
            let _challenge = base64_decode(r.last_text()).unwrap_or_default();
            let line = format!("{}\r\n", base64_encode(answer.as_bytes()));
            sess.write(line.as_bytes(), t)
                .map_err(|f| io_why(sess, f))?;
            r = sess.reply(t).map_err(|f| io_why(sess, f))?;
        }
        if r.code == 334 {
            // The server wants more than LOGIN has: give up.
            let _ = sess.write(b"*\r\n", t);
            let _ = sess.reply(t);
        }
    }
    if r.code == 235 {
        sess.authenticated = true;
        return Ok(());
    }
    let dsn = reply_dsn(&r);
    let text = format!(
        "SASL authentication failed; server {} said: {}",
        sess.name(),
        r.text()
    );
    if r.class() == 5 && !s.sasl.soft_bounce {
        Err(Why::hard(&dsn, text))
    } else {
        let soft = format!("4{}", dsn.get(1..).unwrap_or(".7.0"));
        Err(Why::soft(&soft, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nexthop::parse;
    use crate::settings::Mode;

    fn settings(extra: &str) -> Settings {
        let c = config::Config::from_text(std::path::Path::new("/nonexistent"), extra).unwrap();
        Settings::from_config(&c, Mode::Smtp, "smtp").unwrap()
    }

    #[test]
    fn lookup_keys() {
        let hop = parse("[mail.isp.example]:587", Mode::Smtp, 25).unwrap();
        assert_eq!(
            keys("u@corp.example", &hop, "mail.isp.example", true),
            vec![
                "u@corp.example",
                "@corp.example",
                "[mail.isp.example]:587",
                "mail.isp.example"
            ]
        );
        assert_eq!(
            keys("u@corp.example", &hop, "mail.isp.example", false),
            vec!["[mail.isp.example]:587", "mail.isp.example"]
        );
        assert_eq!(keys("", &hop, "", true), vec!["[mail.isp.example]:587"]);
    }

    #[test]
    fn mechanisms() {
        let offered = vec!["CRAM-MD5".to_string(), "LOGIN".into(), "PLAIN".into()];
        // Postfix's default forbids plaintext mechanisms.
        assert_eq!(choose(&offered, &settings(""), true), None);
        let s = settings("smtp_sasl_security_options = noanonymous\n");
        assert_eq!(choose(&offered, &s, false), Some("PLAIN"));
        assert_eq!(choose(&offered, &s, true), Some("PLAIN"));
        let s = settings(
            "smtp_sasl_security_options = noanonymous\nsmtp_sasl_mechanism_filter = login\n",
        );
        assert_eq!(choose(&offered, &s, false), Some("LOGIN"));
        let s = settings(
            "smtp_sasl_security_options = noanonymous\nsmtp_sasl_tls_security_options = noplaintext\n",
        );
        assert_eq!(choose(&offered, &s, true), None);
        assert_eq!(
            choose(
                &["CRAM-MD5".to_string()],
                &settings("smtp_sasl_security_options =\n"),
                false
            ),
            None
        );
    }
}
