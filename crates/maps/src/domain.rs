//! # NAME
//! domain — domain lookups with parent domains
//!
//! ## SYNOPSIS
//! ```ignore
//! let parent = domain::parent_matches(&cfg, "relay_domains")?;
//! let hit = domain::find_domain(&mut relay_domains_maps, "mail.example.com", parent)?;
//! ```
//!
//! ## DESCRIPTION
//! A domain is looked up as it is, then for each parent domain: as
//! `example.com` when the feature is listed in
//! `parent_domain_matches_subdomains` (so that an entry for `example.com`
//! also covers its subdomains), else as `.example.com` (only an entry
//! written with the leading dot covers subdomains). Pattern tables see the
//! full name only. Keys are folded by the tables.
//!
//! ## SEE ALSO
//! postconf(5) `parent_domain_matches_subdomains`, [`crate::addr`]

use crate::{MapError, MapList};

/// Whether `feature` (`relay_domains`, `smtpd_access_maps`, ...) is listed
/// in `parent_domain_matches_subdomains`.
pub fn parent_matches(cfg: &config::Config, feature: &str) -> Result<bool, MapError> {
    Ok(cfg
        .list(&config::params::PARENT_DOMAIN_MATCHES_SUBDOMAINS)
        .map_err(|e| MapError::config("", e.to_string()))?
        .iter()
        .any(|f| f.eq_ignore_ascii_case(feature)))
}

/// Looks up `domain` and its parents (see the module documentation).
pub fn find_domain(
    maps: &mut MapList,
    domain: &str,
    parent_matches_subdomains: bool,
) -> Result<Option<String>, MapError> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if let Some(v) = maps.find(domain)? {
        return Ok(Some(v));
    }
    let mut rest = domain;
    while let Some(i) = rest.find('.') {
        let parent = &rest[i + 1..];
        if parent.is_empty() {
            break;
        }
        let key = if parent_matches_subdomains {
            parent.to_string()
        } else {
            format!(".{parent}")
        };
        if let Some(v) = maps.find_fixed(&key)? {
            return Ok(Some(v));
        }
        rest = parent;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents() {
        let cfg = config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        let mut m = MapList::open(
            "inline:{example.com=parent, .example.org=dotted}",
            &cfg,
            crate::OpenFlags::default(),
        )
        .unwrap();
        assert_eq!(
            find_domain(&mut m, "a.b.Example.com", true)
                .unwrap()
                .as_deref(),
            Some("parent")
        );
        assert_eq!(find_domain(&mut m, "a.example.com", false).unwrap(), None);
        assert_eq!(
            find_domain(&mut m, "a.example.org", false)
                .unwrap()
                .as_deref(),
            Some("dotted")
        );
        assert_eq!(find_domain(&mut m, "example.org", false).unwrap(), None);
        assert!(parent_matches(&cfg, "relay_domains").unwrap());
        assert!(!parent_matches(&cfg, "transport_maps").unwrap());
    }
}
