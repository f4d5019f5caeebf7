//! # NAME
//! matchlist — domain lists with names and tables (`mydestination`, ...)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut l = DomainList::open("$myhostname, .example.com, hash:/etc/postfix/relay", &cfg, "relay_domains")?;
//! if l.matches("mail.example.com")? { ... }
//! ```
//!
//! ## DESCRIPTION
//! A list of patterns separated by commas or whitespace, tried in order;
//! the first that matches decides:
//!
//! * `name` matches the domain itself and, when the feature is listed in
//!   `parent_domain_matches_subdomains`, its subdomains;
//! * `.name` matches subdomains;
//! * `type:table` matches when the domain, or a parent domain in the same
//!   way, is a key of the table ([`crate::domain::find_domain`]);
//! * `/file/name` reads patterns from a file, `#` comments skipped;
//! * `!pattern` turns a match into a non-match.
//!
//! A table that fails is an error (the caller defers), never a non-match.
//!
//! ## SEE ALSO
//! postconf(5) `mydestination`, `relay_domains`, [`crate::domain`]

use crate::{MapError, MapList, OpenFlags};

enum Item {
    Name { negate: bool, pattern: String },
    Table { negate: bool, maps: MapList },
}

/// An open domain list.
pub struct DomainList {
    items: Vec<Item>,
    parent_match: bool,
}

impl DomainList {
    /// Opens the list `value` (already `$name`-expanded) of parameter
    /// `feature`.
    pub fn open(value: &str, cfg: &config::Config, feature: &str) -> Result<DomainList, MapError> {
        let parent_match = crate::domain::parent_matches(cfg, feature)?;
        let mut items = Vec::new();
        add(&mut items, value, cfg, 0)?;
        Ok(DomainList {
            items,
            parent_match,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `domain` is in the list.
    pub fn matches(&mut self, domain: &str) -> Result<bool, MapError> {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        for it in &mut self.items {
            let (negate, hit) = match it {
                Item::Name { negate, pattern } => {
                    let hit = if let Some(suffix) = pattern.strip_prefix('.') {
                        is_subdomain(&d, suffix)
                    } else {
                        d == *pattern || (self.parent_match && is_subdomain(&d, pattern))
                    };
                    (*negate, hit)
                }
                Item::Table { negate, maps } => (
                    *negate,
                    crate::domain::find_domain(maps, &d, self.parent_match)?.is_some(),
                ),
            };
            if hit {
                return Ok(!negate);
            }
        }
        Ok(false)
    }

    /// Whether a table of the list was rebuilt since it was opened.
    pub fn changed(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, Item::Table { maps, .. } if maps.changed()))
    }
}

fn is_subdomain(d: &str, parent: &str) -> bool {
    d.len() > parent.len()
        && d.ends_with(parent)
        && d.as_bytes()[d.len() - parent.len() - 1] == b'.'
}

fn add(
    items: &mut Vec<Item>,
    value: &str,
    cfg: &config::Config,
    depth: u32,
) -> Result<(), MapError> {
    for raw in config::value::list(value) {
        let (negate, p) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest.to_string()),
            None => (false, raw),
        };
        if p.starts_with('/') {
            if depth > 5 {
                return Err(MapError::config(
                    &p,
                    format!("{p}: files included too deeply"),
                ));
            }
            let text = std::fs::read_to_string(&p)
                .map_err(|e| MapError::config(&p, format!("open {p}: {e}")))?;
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect();
            add(items, &lines.join(" "), cfg, depth + 1)?;
            continue;
        }
        if p.contains(':') && !p.starts_with('[') {
            let maps = MapList::open(&p, cfg, OpenFlags::daemon())?;
            items.push(Item::Table { negate, maps });
            continue;
        }
        items.push(Item::Name {
            negate,
            pattern: p.to_ascii_lowercase(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> config::Config {
        config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap()
    }

    #[test]
    fn names_dots_negation_tables() {
        let c = cfg();
        let mut l = DomainList::open(
            "host.example.com, localhost, !bad.example.org, .example.org, inline:{tabled.example=x}",
            &c,
            "mydestination",
        )
        .unwrap();
        assert!(l.matches("HOST.example.com.").unwrap());
        assert!(!l.matches("sub.host.example.com").unwrap());
        assert!(l.matches("a.example.org").unwrap());
        assert!(!l.matches("example.org").unwrap());
        assert!(!l.matches("bad.example.org").unwrap());
        assert!(l.matches("tabled.example").unwrap());
        assert!(!l.matches("sub.tabled.example").unwrap());
        let mut p = DomainList::open(
            "example.com, inline:{tabled.example=x}",
            &c,
            "relay_domains",
        )
        .unwrap();
        assert!(p.matches("a.b.example.com").unwrap());
        assert!(!p.matches("badexample.com").unwrap());
        assert!(p.matches("sub.tabled.example").unwrap());
        // A table that cannot be opened fails at lookup: defer, never "no".
        let mut broken = DomainList::open("nosuchtype:/x", &c, "relay_domains").unwrap();
        assert!(broken.matches("example.com").is_err());
    }
}
