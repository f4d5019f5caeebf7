//! # NAME
//! domains — domain lists with lookup tables (`fast_flush_domains`)
//!
//! ## SYNOPSIS
//! ```ignore
//! let l = DomainList::open(&cfg.str(&params::FAST_FLUSH_DOMAINS)?, &cfg, "fast_flush_domains")?;
//! if l.matches("mail.example.com")? { ... }
//! ```
//!
//! ## DESCRIPTION
//! A list of patterns separated by commas or whitespace, tried in order;
//! the first that matches decides:
//!
//! * `name` matches the domain itself and, when the parameter is listed in
//!   `parent_domain_matches_subdomains` (as `fast_flush_domains` is by
//!   default), its subdomains;
//! * `.name` matches subdomains;
//! * `type:table` matches when the domain (or a parent, as above) is
//!   found in the table;
//! * `/file/name` reads more patterns from a file;
//! * `!pattern` turns a match into a non-match.
//!
//! A table that cannot answer makes the whole lookup an error, which the
//! caller reports as a temporary failure.
//!
//! ## SEE ALSO
//! postconf(5) `fast_flush_domains`, `parent_domain_matches_subdomains`

use maps::{MapError, MapList, OpenFlags};

enum Pattern {
    Name(String),
    Table(MapList),
}

struct Item {
    negate: bool,
    pattern: Pattern,
}

/// A parsed domain list.
pub struct DomainList {
    items: Vec<Item>,
    parent_match: bool,
}

impl DomainList {
    /// Parses `value`, the expanded parameter `feature`.
    pub fn open(value: &str, cfg: &config::Config, feature: &str) -> Result<DomainList, String> {
        let parent_match = maps::domain::parent_matches(cfg, feature).map_err(|e| e.to_string())?;
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
            let hit = match &mut it.pattern {
                Pattern::Name(p) => name_matches(&d, p, self.parent_match),
                Pattern::Table(t) => maps::domain::find_domain(t, &d, self.parent_match)?.is_some(),
            };
            if hit {
                return Ok(!it.negate);
            }
        }
        Ok(false)
    }
}

fn name_matches(d: &str, p: &str, parent_match: bool) -> bool {
    let sub_of = |suffix: &str| {
        d.len() > suffix.len()
            && d.ends_with(suffix)
            && d.as_bytes()[d.len() - suffix.len() - 1] == b'.'
    };
    match p.strip_prefix('.') {
        Some(suffix) => sub_of(suffix),
        None => d == p || (parent_match && sub_of(p)),
    }
}

fn add(items: &mut Vec<Item>, value: &str, cfg: &config::Config, depth: u32) -> Result<(), String> {
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
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect();
            add(items, &lines.join(" "), cfg, depth + 1)?;
            continue;
        }
        let pattern = if p.contains(':') && !p.starts_with('[') {
            Pattern::Table(MapList::open(&p, cfg, OpenFlags::daemon()).map_err(|e| e.to_string())?)
        } else {
            Pattern::Name(p.to_ascii_lowercase())
        };
        items.push(Item { negate, pattern });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> config::Config {
        let d = std::env::temp_dir().join(format!("flush-domains-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("main.cf"), "").unwrap();
        config::Config::load(&d).unwrap()
    }

    #[test]
    fn names_parents_negation_tables() {
        let c = cfg();
        let mut l = DomainList::open(
            "!bad.example.org, example.org, .example.net, inline:{tab.example=x}",
            &c,
            "fast_flush_domains",
        )
        .unwrap();
        assert!(l.matches("example.org").unwrap());
        // fast_flush_domains is in parent_domain_matches_subdomains.
        assert!(l.matches("a.Example.org.").unwrap());
        assert!(!l.matches("bad.example.org").unwrap());
        assert!(!l.matches("example.net").unwrap());
        assert!(l.matches("x.example.net").unwrap());
        assert!(l.matches("tab.example").unwrap());
        assert!(l.matches("sub.tab.example").unwrap());
        assert!(!l.matches("other.example").unwrap());
        let mut strict = DomainList::open("example.org", &c, "mydestination").unwrap();
        assert!(!strict.matches("a.example.org").unwrap());
        assert!(
            DomainList::open("", &c, "fast_flush_domains")
                .unwrap()
                .is_empty()
        );
    }
}
