//! # NAME
//! flush — per-destination logs of deferred mail, and their clients
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut svc = flush::Service::new(&cfg)?;          // flush(8)
//! svc.handle(FlushRequest::SendSite { site });
//! flush::client::send_site(queue_dir, "flush", "example.com", timeout)?; // postqueue -s
//! ```
//!
//! ## DESCRIPTION
//! The fast flush service keeps, for each destination in
//! `fast_flush_domains`, a log of the queue IDs of mail deferred for it
//! (`flush/` under the queue directory, one file per destination). A
//! request to deliver a destination's mail (`postqueue -s`,
//! `sendmail -qR`, ETRN) reads and empties its log and moves each
//! message still in `deferred` to `incoming`, with its time reset, then
//! wakes qmgr(8); `postqueue -i` does the same for one message.
//!
//! [`domains`] parses the destination lists, [`client`] holds the
//! requests programs send, [`Service`] the server's side.
//!
//! ## SEE ALSO
//! flush(8), postqueue(1), [`ipc::flush`]

#![forbid(unsafe_code)]

pub mod client;
pub mod domains;
mod service;

pub use service::Service;

/// Whether `site` is a destination a flush request may name: a host name
/// or an address literal in brackets.
pub fn valid_site(site: &str) -> bool {
    if let Some(inner) = site.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let addr = inner
            .strip_prefix("IPv6:")
            .or_else(|| inner.strip_prefix("ipv6:"));
        return match addr {
            Some(a) => a.parse::<std::net::Ipv6Addr>().is_ok(),
            None => inner.parse::<std::net::Ipv4Addr>().is_ok(),
        };
    }
    valid_hostname(site)
}

/// Postfix's `valid_hostname()`: labels of letters, digits, `-` and `_`,
/// not starting or ending with `-`, at most 63 characters each and 255 in
/// all, and not all numeric.
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

/// Postfix's `mail_queue_id_ok()`: letters, digits and `_`, 1 to 255 of them.
pub fn queue_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_and_ids() {
        for ok in [
            "example.com",
            "a-b.example",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "x_y.z",
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
        ] {
            assert!(!valid_site(bad), "{bad}");
        }
        assert!(queue_id_ok("3F2A11B9C4") && queue_id_ok("all"));
        assert!(!queue_id_ok("bad/x") && !queue_id_ok(""));
    }
}
