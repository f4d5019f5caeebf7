//! # NAME
//! masq — address masquerading (`masquerade_domains`)
//!
//! ## SYNOPSIS
//! ```ignore
//! let changed = masquerade(&mut st, &settings.masquerade_domains, exceptions, &mut addr);
//! ```
//!
//! ## DESCRIPTION
//! Strips the subdomain structure of an address's domain: the first
//! entry of `masquerade_domains`, in order, that is the domain itself or
//! one of its parents decides. A parent replaces the domain; the domain
//! itself, or an entry written `!domain` (an exclusion for that domain
//! and its subdomains), leaves the address alone. Localparts listed in
//! `masquerade_exceptions` are never masqueraded; a table there that
//! fails makes the message wait.
//!
//! ## SEE ALSO
//! postconf(5) `masquerade_domains`, ADDRESS_REWRITING_README

use daemon::warn;

use crate::state::State;
use crate::tables::NameList;

/// Masquerades `addr` (internal form) in place; true when it changed.
pub fn masquerade(
    st: &mut State,
    domains: &[(bool, String)],
    exceptions: Option<&mut NameList>,
    addr: &mut String,
) -> bool {
    let Some(at) = addr.rfind('@') else {
        return false;
    };
    if let Some(list) = exceptions {
        match list.matches(&addr[..at]) {
            Ok(true) => return false,
            Ok(false) => {}
            Err(e) => {
                crate::tables::log_lookup_error(&e, &addr[..at]);
                warn!(
                    "{}: masquerade_exceptions map lookup problem -- message not accepted, try again later",
                    st.id
                );
                st.table_failed();
                return false;
            }
        }
    }
    let domain = addr[at + 1..].to_lowercase();
    for (exclude, masq) in domains {
        if domain == *masq {
            return false;
        }
        if domain.len() > masq.len()
            && domain.ends_with(masq.as_str())
            && domain.as_bytes()[domain.len() - masq.len() - 1] == b'.'
        {
            if *exclude {
                return false;
            }
            addr.truncate(at + 1);
            addr.push_str(masq);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_in_order() {
        let cfg = config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        let domains = vec![
            (true, "keep.example.com".to_string()),
            (false, "foo.example.com".to_string()),
            (false, "example.com".to_string()),
        ];
        let cases = [
            ("u@any.thing.foo.example.com", "u@foo.example.com", true),
            ("u@any.thing.else.example.com", "u@example.com", true),
            ("u@foo.example.com", "u@foo.example.com", false),
            ("u@example.com", "u@example.com", false),
            ("u@a.keep.example.com", "u@a.keep.example.com", false),
            ("u@keep.example.com", "u@keep.example.com", false),
            ("u@notexample.com", "u@notexample.com", false),
            ("root@a.example.com", "root@a.example.com", false),
            ("Root@a.example.com", "Root@a.example.com", false),
            ("nodomain", "nodomain", false),
        ];
        let mut exc = NameList::open("root", &cfg).unwrap();
        for (addr, want, changed) in cases {
            let mut st = State::new("ID", 0, 10);
            let mut a = addr.to_string();
            assert_eq!(
                masquerade(&mut st, &domains, Some(&mut exc), &mut a),
                changed,
                "{addr}"
            );
            assert_eq!(a, want);
        }
        let mut broken = NameList::open("fail:x", &cfg).unwrap();
        let mut st = State::new("ID", 0, 10);
        let mut a = "u@a.example.com".to_string();
        assert!(!masquerade(&mut st, &domains, Some(&mut broken), &mut a));
        assert!(st.refusal().is_some());
    }
}
