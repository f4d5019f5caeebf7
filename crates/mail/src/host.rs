//! # NAME
//! host — host names and address literals, as Postfix judges them
//!
//! ## SYNOPSIS
//! ```
//! use mail::host;
//! assert!(host::valid_hostname("mail.example.com"));
//! assert!(!host::valid_hostname("1.2.3.4"));
//! assert!(host::valid_site("[192.0.2.1]"));
//! assert!(host::fqdn("mail.example.com") && !host::fqdn("localhost"));
//! ```
//!
//! ## DESCRIPTION
//! [`valid_hostname`] follows Postfix's rules: labels of letters, digits,
//! `-` and `_`, none empty, none starting or ending with `-`, at most 63
//! characters each and 255 in all (a trailing dot allowed), and not all
//! numeric (that is an address, not a name). [`valid_literal`] accepts
//! `[192.0.2.1]` and `[IPv6:2001:db8::1]`; [`valid_site`] either form,
//! as destinations of `postqueue -s` and ETRN may be.
//!
//! ## SEE ALSO
//! RFC 1123 §2.1, RFC 5321 §4.1.3

/// A syntactically valid host name.
pub fn valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut all_numeric = true;
    for label in name.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return false;
        }
        if !label.bytes().all(|c| c.is_ascii_digit()) {
            all_numeric = false;
        }
    }
    !all_numeric
}

/// An address literal: `[IPv4]` or `[IPv6:address]`.
pub fn valid_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    match inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        Some(a) => a.parse::<std::net::Ipv6Addr>().is_ok(),
        None => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// A host name or an address literal.
pub fn valid_site(s: &str) -> bool {
    valid_literal(s) || valid_hostname(s)
}

/// A name with at least two labels (`reject_non_fqdn_*`).
pub fn fqdn(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.contains('.') && !name.starts_with('.') && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_literals() {
        for ok in [
            "example.com",
            "a-b.example",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "x_y.z",
            "host.example.",
        ] {
            assert!(valid_site(ok), "{ok}");
        }
        for bad in [
            "",
            "bad domain",
            "-a.example",
            "a..b",
            "[1.2.3]",
            "1.2.3.4",
            "a/b",
            "[IPv6:1.2.3.4]",
        ] {
            assert!(!valid_site(bad), "{bad}");
        }
        assert!(!valid_hostname(&"a".repeat(64)));
        assert!(valid_hostname(&format!("{}.example", "a".repeat(63))));
        assert!(!fqdn("localhost") && !fqdn(".example") && fqdn("a.b."));
    }
}
