//! # NAME
//! plugins — the types this mail system supports (`-a`, `-A`, `-l`, `-m`)
//!
//! ## SYNOPSIS
//! ```ignore
//! out.extend(plugins::list(Mode::Maps));
//! ```
//!
//! ## DESCRIPTION
//! `-a` lists the SASL server types (`smtpd_sasl_type`): only `dovecot`,
//! which speaks the Dovecot authentication protocol. `-A` lists the SASL
//! client types (`smtp_sasl_type`): none yet. `-l` lists the mailbox lock
//! methods in the order postconf(1) shows them on Linux. `-m` lists the
//! lookup table types of [`maps::TABLE_TYPES`], sorted.
//!
//! ## BUGS
//! Postfix built with Cyrus SASL also lists `cyrus` for `-a` and `-A`;
//! `-m` lacks `memcache` (and `ldap`, which Debian ships as a plug-in),
//! which this system does not implement.
//!
//! ## SEE ALSO
//! postconf(1) "-a", "-A", "-l", "-m"

use crate::args::Mode;

/// SASL server plug-in types.
pub const SASL_SERVER_TYPES: &[&str] = &["dovecot"];

/// SASL client plug-in types.
pub const SASL_CLIENT_TYPES: &[&str] = &[];

/// Mailbox lock methods.
pub const LOCK_METHODS: &[&str] = &["flock", "fcntl", "dotlock"];

/// The lines that `-a`, `-A`, `-l` or `-m` print.
pub fn list(mode: Mode) -> String {
    let mut names: Vec<&str> = match mode {
        Mode::SaslServer => SASL_SERVER_TYPES.to_vec(),
        Mode::SaslClient => SASL_CLIENT_TYPES.to_vec(),
        Mode::Locks => LOCK_METHODS.to_vec(),
        Mode::Maps => {
            let mut v = maps::TABLE_TYPES.to_vec();
            v.sort_unstable();
            v
        }
        _ => Vec::new(),
    };
    names.dedup();
    names.iter().map(|n| format!("{n}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(list(Mode::SaslServer), "dovecot\n");
        assert_eq!(list(Mode::SaslClient), "");
        assert_eq!(list(Mode::Locks), "flock\nfcntl\ndotlock\n");
        assert_eq!(
            list(Mode::Maps),
            maps::TABLE_TYPES
                .iter()
                .map(|t| format!("{t}\n"))
                .collect::<String>()
        );
    }
}
