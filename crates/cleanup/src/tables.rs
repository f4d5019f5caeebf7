//! # NAME
//! tables — the lookup tables cleanup(8) opens at start-up
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut t = Tables::open(&cfg)?;
//! if let Some(v) = t.virtual_alias.as_mut() { ... }
//! if t.changed() { /* finish this message, then exit */ }
//! ```
//!
//! ## DESCRIPTION
//! Every `*_maps` and `*_checks` parameter cleanup(8) uses, opened once
//! before the privilege drop with the flags daemons use (a table that
//! cannot be opened fails at each lookup, so that mail waits instead of
//! passing unchecked). Each [`Table`] keeps the parameter name it came
//! from: it is the name Postfix uses in its warnings
//! (`virtual_alias_maps map lookup problem`).
//!
//! [`LocalDomains`] answers whether an address's domain is this host's
//! (`$myorigin`, `$mydestination`, an address literal of
//! `$inet_interfaces` or `$proxy_interfaces`): only then are the `user`
//! forms of canonical(5) and virtual(5) looked up.
//!
//! [`NameList`] is a list of names, `/file` and `type:table` patterns with
//! `!` exclusions (`masquerade_exceptions`).
//!
//! ## SEE ALSO
//! canonical(5), virtual(5), header_checks(5), [`maps::MapList`]

use std::net::IpAddr;

use config::{Config, params};
use maps::matchlist::DomainList;
use maps::{MapError, MapList, OpenFlags};

/// A list of tables and the parameter that names it.
pub struct Table {
    pub title: &'static str,
    pub maps: MapList,
}

impl Table {
    fn open(cfg: &Config, p: &params::StrParam) -> Result<Option<Table>, String> {
        let value = cfg.str(p).map_err(|e| e.to_string())?;
        if value.trim().is_empty() {
            return Ok(None);
        }
        let maps = MapList::open(&value, cfg, OpenFlags::daemon()).map_err(|e| e.to_string())?;
        Ok(Some(Table {
            title: p.name(),
            maps,
        }))
    }

    /// A table from a `type:name` list, for unit tests.
    #[cfg(test)]
    pub fn for_tests(title: &'static str, spec: &str) -> Table {
        let cfg = Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        Table {
            title,
            maps: MapList::open(spec, &cfg, OpenFlags::default()).unwrap(),
        }
    }
}

/// Logs a table failure the way Postfix's table layer does.
pub fn log_lookup_error(e: &MapError, key: &str) {
    daemon::warn!(
        "{} lookup error for \"{}\"",
        e.map(),
        daemon::Untrusted(key)
    );
}

/// The domains whose `user` forms are looked up.
pub struct LocalDomains {
    pub myorigin: String,
    pub mydestination: Option<DomainList>,
    pub addresses: Vec<IpAddr>,
}

impl LocalDomains {
    pub fn open(cfg: &Config) -> Result<LocalDomains, String> {
        let myorigin = cfg
            .str(&params::MYORIGIN)
            .map_err(|e| e.to_string())?
            .to_ascii_lowercase();
        let dest = cfg.str(&params::MYDESTINATION).map_err(|e| e.to_string())?;
        let mydestination = if dest.trim().is_empty() {
            None
        } else {
            Some(DomainList::open(&dest, cfg, "mydestination").map_err(|e| e.to_string())?)
        };
        Ok(LocalDomains {
            myorigin,
            mydestination,
            addresses: local_addresses(cfg),
        })
    }

    /// Whether `domain` is this host's.
    pub fn is_local(&mut self, domain: &str) -> Result<bool, MapError> {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if domain.eq_ignore_ascii_case(&self.myorigin) {
            return Ok(true);
        }
        if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            let lit = lit
                .strip_prefix("ipv6:")
                .or_else(|| lit.strip_prefix("IPv6:"))
                .unwrap_or(lit);
            return Ok(lit
                .parse::<IpAddr>()
                .is_ok_and(|ip| self.addresses.contains(&ip)));
        }
        match &mut self.mydestination {
            Some(l) => l.matches(domain),
            None => Ok(false),
        }
    }

    /// Only `$myorigin` is local, for unit tests.
    #[cfg(test)]
    pub fn for_tests(myorigin: &str) -> LocalDomains {
        LocalDomains {
            myorigin: myorigin.to_string(),
            mydestination: None,
            addresses: Vec::new(),
        }
    }
}

/// The addresses of `inet_interfaces` and `proxy_interfaces` (`all`:
/// every interface of this host).
fn local_addresses(cfg: &Config) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut names = cfg.list(&params::INET_INTERFACES).unwrap_or_default();
    names.extend(cfg.list(&params::PROXY_INTERFACES).unwrap_or_default());
    for n in names {
        match n.to_ascii_lowercase().as_str() {
            "all" => {
                if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
                    for a in addrs.filter_map(|a| a.address) {
                        if let Some(v4) = a.as_sockaddr_in() {
                            out.push(IpAddr::V4(v4.ip()));
                        } else if let Some(v6) = a.as_sockaddr_in6() {
                            out.push(IpAddr::V6(v6.ip()));
                        }
                    }
                }
            }
            "loopback-only" => {
                out.push(std::net::Ipv4Addr::LOCALHOST.into());
                out.push(std::net::Ipv6Addr::LOCALHOST.into());
            }
            other => {
                if let Ok(ip) = other.trim_start_matches('[').trim_end_matches(']').parse() {
                    out.push(ip);
                }
            }
        }
    }
    out
}

enum NameItem {
    Name { negate: bool, name: String },
    Table { negate: bool, maps: MapList },
}

/// A list of names (`masquerade_exceptions`): the first pattern that
/// matches decides; `!` turns a match into a non-match.
pub struct NameList {
    items: Vec<NameItem>,
}

impl NameList {
    pub fn open(value: &str, cfg: &Config) -> Result<NameList, String> {
        let mut items = Vec::new();
        add_names(&mut items, value, cfg, 0)?;
        Ok(NameList { items })
    }

    /// Whether `name` is in the list (names compare without case).
    pub fn matches(&mut self, name: &str) -> Result<bool, MapError> {
        for it in &mut self.items {
            let (negate, hit) = match it {
                NameItem::Name { negate, name: n } => (*negate, n.eq_ignore_ascii_case(name)),
                NameItem::Table { negate, maps } => (*negate, maps.find(name)?.is_some()),
            };
            if hit {
                return Ok(!negate);
            }
        }
        Ok(false)
    }

    fn changed(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, NameItem::Table { maps, .. } if maps.changed()))
    }
}

fn add_names(
    items: &mut Vec<NameItem>,
    value: &str,
    cfg: &Config,
    depth: u32,
) -> Result<(), String> {
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
            add_names(items, &lines.join(" "), cfg, depth + 1)?;
        } else if p.contains(':') {
            let maps = MapList::open(&p, cfg, OpenFlags::daemon()).map_err(|e| e.to_string())?;
            items.push(NameItem::Table { negate, maps });
        } else {
            items.push(NameItem::Name { negate, name: p });
        }
    }
    Ok(())
}

/// Everything cleanup(8) looks up.
pub struct Tables {
    pub canonical: Option<Table>,
    pub sender_canonical: Option<Table>,
    pub recipient_canonical: Option<Table>,
    pub virtual_alias: Option<Table>,
    pub sender_bcc: Option<Table>,
    pub recipient_bcc: Option<Table>,
    pub header_checks: Option<Table>,
    pub mime_header_checks: Option<Table>,
    pub nested_header_checks: Option<Table>,
    pub body_checks: Option<Table>,
    pub masquerade_exceptions: Option<NameList>,
    pub local: LocalDomains,
}

impl Tables {
    pub fn open(cfg: &Config) -> Result<Tables, String> {
        let exceptions = cfg
            .str(&params::MASQUERADE_EXCEPTIONS)
            .map_err(|e| e.to_string())?;
        Ok(Tables {
            canonical: Table::open(cfg, &params::CANONICAL_MAPS)?,
            sender_canonical: Table::open(cfg, &params::SENDER_CANONICAL_MAPS)?,
            recipient_canonical: Table::open(cfg, &params::RECIPIENT_CANONICAL_MAPS)?,
            virtual_alias: Table::open(cfg, &params::VIRTUAL_ALIAS_MAPS)?,
            sender_bcc: Table::open(cfg, &params::SENDER_BCC_MAPS)?,
            recipient_bcc: Table::open(cfg, &params::RECIPIENT_BCC_MAPS)?,
            header_checks: Table::open(cfg, &params::HEADER_CHECKS)?,
            mime_header_checks: Table::open(cfg, &params::MIME_HEADER_CHECKS)?,
            nested_header_checks: Table::open(cfg, &params::NESTED_HEADER_CHECKS)?,
            body_checks: Table::open(cfg, &params::BODY_CHECKS)?,
            masquerade_exceptions: if exceptions.trim().is_empty() {
                None
            } else {
                Some(NameList::open(&exceptions, cfg)?)
            },
            local: LocalDomains::open(cfg)?,
        })
    }

    /// No tables at all, only `$myorigin` local: for unit tests.
    #[cfg(test)]
    pub fn empty() -> Tables {
        Tables {
            canonical: None,
            sender_canonical: None,
            recipient_canonical: None,
            virtual_alias: None,
            sender_bcc: None,
            recipient_bcc: None,
            header_checks: None,
            mime_header_checks: None,
            nested_header_checks: None,
            body_checks: None,
            masquerade_exceptions: None,
            local: LocalDomains::for_tests("host.example"),
        }
    }

    /// Whether the content after the primary headers must be read line
    /// by line (MIME headers, attached messages and body lines are
    /// inspected).
    pub fn inspect_body(&self) -> bool {
        self.mime_header_checks.is_some()
            || self.nested_header_checks.is_some()
            || self.body_checks.is_some()
    }

    /// Whether a table was rebuilt since it was opened: the process
    /// should finish its message and exit, so that the next one sees the
    /// new contents.
    pub fn changed(&self) -> bool {
        [
            &self.canonical,
            &self.sender_canonical,
            &self.recipient_canonical,
            &self.virtual_alias,
            &self.sender_bcc,
            &self.recipient_bcc,
            &self.header_checks,
            &self.mime_header_checks,
            &self.nested_header_checks,
            &self.body_checks,
        ]
        .iter()
        .any(|t| t.as_ref().is_some_and(|t| t.maps.changed()))
            || self
                .masquerade_exceptions
                .as_ref()
                .is_some_and(|l| l.changed())
            || self
                .local
                .mydestination
                .as_ref()
                .is_some_and(|l| l.changed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tables_and_exclusions() {
        let cfg = Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        let mut l = NameList::open("!bob, Root, inline:{list=x}, bob", &cfg).unwrap();
        for (name, want) in [
            ("root", true),
            ("ROOT", true),
            ("list", true),
            ("bob", false),
            ("joe", false),
        ] {
            assert_eq!(l.matches(name).unwrap(), want, "{name}");
        }
        let mut broken = NameList::open("fail:x", &cfg).unwrap();
        assert!(broken.matches("root").is_err());
    }

    #[test]
    fn local_domains() {
        let cfg = Config::from_text(
            std::path::Path::new("/tmp"),
            "myorigin = Origin.example\nmydestination = localhost, dest.example\ninet_interfaces = 192.0.2.1\n",
        )
        .unwrap();
        let mut l = LocalDomains::open(&cfg).unwrap();
        for (d, want) in [
            ("origin.example", true),
            ("ORIGIN.example.", true),
            ("dest.example", true),
            ("localhost", true),
            ("[192.0.2.1]", true),
            ("[192.0.2.2]", false),
            ("other.example", false),
        ] {
            assert_eq!(l.is_local(d).unwrap(), want, "{d}");
        }
    }
}
