//! # NAME
//! domains — domain lists (`mydestination`, `relay_domains`, ...)
//!
//! ## SYNOPSIS
//! ```ignore
//! let l = DomainList::new("$myhostname, localhost, .example.com", false)?;
//! l.matches("mail.example.com")
//! ```
//!
//! ## DESCRIPTION
//! A list of patterns, separated by commas or whitespace, tried in order;
//! the first that matches decides. `name` matches the domain itself and,
//! when the parameter is in `parent_domain_matches_subdomains`, its
//! subdomains; `.name` matches subdomains; `!pattern` turns a match into a
//! non-match; `/file` reads patterns from a file.
//!
//! ## BUGS
//! `type:table` patterns need the lookup tables of the maps crate and are
//! refused with a clear error until it is wired in.
//!
//! ## SEE ALSO
//! postconf(5) `mydestination`, `parent_domain_matches_subdomains`

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    negate: bool,
    pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DomainList {
    items: Vec<Item>,
    parent_match: bool,
}

impl DomainList {
    pub fn new(value: &str, parent_match: bool) -> Result<DomainList, String> {
        let mut items = Vec::new();
        Self::add(&mut items, value, 0)?;
        Ok(DomainList {
            items,
            parent_match,
        })
    }

    fn add(items: &mut Vec<Item>, value: &str, depth: u32) -> Result<(), String> {
        for raw in config::value::list(value) {
            let (negate, p) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest.to_string()),
                None => (false, raw),
            };
            if p.starts_with('/') {
                if depth > 5 {
                    return Err(format!("{p}: files included too deeply"));
                }
                let text = std::fs::read_to_string(&p).map_err(|e| format!("open {p}: {e}"))?;
                let lines: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .collect::<Vec<_>>()
                    .join(" ");
                Self::add(items, &lines, depth + 1)?;
                continue;
            }
            if p.contains(':') && !p.starts_with('[') {
                return Err(format!(
                    "{p}: lookup tables in domain lists are not supported yet"
                ));
            }
            items.push(Item {
                negate,
                pattern: p.to_ascii_lowercase(),
            });
        }
        Ok(())
    }

    pub fn matches(&self, domain: &str) -> bool {
        let d = domain.to_ascii_lowercase();
        let d = d.trim_end_matches('.');
        for it in &self.items {
            let hit = if let Some(suffix) = it.pattern.strip_prefix('.') {
                d.len() > suffix.len()
                    && d.ends_with(suffix)
                    && d.as_bytes()[d.len() - suffix.len() - 1] == b'.'
            } else {
                d == it.pattern
                    || (self.parent_match
                        && d.len() > it.pattern.len()
                        && d.ends_with(&it.pattern)
                        && d.as_bytes()[d.len() - it.pattern.len() - 1] == b'.')
            };
            if hit {
                return !it.negate;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_dots_negation() {
        let l = DomainList::new(
            "host.example.com, localhost, !bad.example.org, .example.org",
            false,
        )
        .unwrap();
        assert!(l.matches("HOST.example.com."));
        assert!(!l.matches("sub.host.example.com"));
        assert!(l.matches("a.example.org"));
        assert!(!l.matches("example.org"));
        assert!(!l.matches("bad.example.org"));
        let p = DomainList::new("example.com", true).unwrap();
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("badexample.com"));
        assert!(DomainList::new("hash:/etc/postfix/x", false).is_err());
    }
}
