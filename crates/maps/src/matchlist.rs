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

/// An IP network (`192.0.2.0/24`, `[2001:db8::]/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// Parses `addr[/prefix]`, IPv6 with or without brackets; host bits
    /// outside the prefix are an error, as with Postfix.
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let (a, p) = match text.rsplit_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let a = a
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(a);
        let addr: std::net::IpAddr = a
            .parse()
            .map_err(|_| format!("bad address pattern: \"{text}\""))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max && p.bytes().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| format!("bad net/mask pattern: \"{text}\""))?,
        };
        let net = IpNet { addr, prefix };
        if net.network() != addr {
            return Err(format!(
                "non-null host address bits in \"{text}\", perhaps you should use \"{}/{}\" instead",
                net.network(),
                prefix
            ));
        }
        Ok(net)
    }

    fn network(&self) -> std::net::IpAddr {
        match self.addr {
            std::net::IpAddr::V4(a) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                std::net::IpAddr::V4((u32::from(a) & m).into())
            }
            std::net::IpAddr::V6(a) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                std::net::IpAddr::V6((u128::from(a) & m).into())
            }
        }
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        // An IPv4-mapped IPv6 client matches IPv4 networks.
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        ip.is_ipv4() == self.addr.is_ipv4()
            && IpNet {
                addr: ip,
                prefix: self.prefix,
            }
            .network()
                == self.addr
    }
}

enum AddrItem {
    Net { negate: bool, net: IpNet },
    Table { negate: bool, maps: MapList },
}

/// A list of networks (`mynetworks`, `smtpd_client_event_limit_exceptions`).
pub struct AddrList {
    items: Vec<AddrItem>,
}

impl AddrList {
    /// Opens the list `value` (already expanded). Networks, `!` negation,
    /// `/file/name` and `type:table` (looked up with the address) as
    /// Postfix allows them.
    pub fn open(value: &str, cfg: &config::Config) -> Result<AddrList, MapError> {
        let mut items = Vec::new();
        add_addr(&mut items, value, cfg, 0)?;
        Ok(AddrList { items })
    }

    pub fn matches(&mut self, ip: std::net::IpAddr) -> Result<bool, MapError> {
        for it in &mut self.items {
            let (negate, hit) = match it {
                AddrItem::Net { negate, net } => (*negate, net.contains(ip)),
                AddrItem::Table { negate, maps } => {
                    (*negate, maps.find(&ip.to_string())?.is_some())
                }
            };
            if hit {
                return Ok(!negate);
            }
        }
        Ok(false)
    }
}

fn add_addr(
    items: &mut Vec<AddrItem>,
    value: &str,
    cfg: &config::Config,
    depth: u32,
) -> Result<(), MapError> {
    for raw in config::value::list(value) {
        let (negate, p) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest.to_string()),
            None => (false, raw),
        };
        if p.starts_with('/') && !p.contains(':') {
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
            add_addr(items, &lines.join(" "), cfg, depth + 1)?;
            continue;
        }
        let looks_like_table = p.split_once(':').is_some_and(|(t, _)| {
            t.bytes().all(|c| c.is_ascii_lowercase()) && !t.is_empty() && t.parse::<u16>().is_err()
        });
        if looks_like_table
            && !p.starts_with('[')
            && p.parse::<std::net::IpAddr>().is_err()
            && !p.contains("::")
        {
            let maps = MapList::open(&p, cfg, OpenFlags::daemon())?;
            items.push(AddrItem::Table { negate, maps });
            continue;
        }
        let net = IpNet::parse(&p).map_err(|e| MapError::config(&p, e))?;
        items.push(AddrItem::Net { negate, net });
    }
    Ok(())
}

#[cfg(test)]
mod addr_tests {
    use super::*;

    #[test]
    fn networks() {
        let c = config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        let mut l = AddrList::open(
            "127.0.0.0/8, [::1]/128, !192.0.2.9, 192.0.2.0/24, 2001:db8::/32",
            &c,
        )
        .unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(l.matches(ip("127.1.2.3")).unwrap());
        assert!(l.matches(ip("::1")).unwrap());
        assert!(l.matches(ip("::ffff:127.0.0.1")).unwrap());
        assert!(!l.matches(ip("192.0.2.9")).unwrap());
        assert!(l.matches(ip("192.0.2.10")).unwrap());
        assert!(l.matches(ip("2001:db8:1::5")).unwrap());
        assert!(!l.matches(ip("10.0.0.1")).unwrap());
        let e = AddrList::open("127.0.0.1/8", &c).err().unwrap();
        assert!(e.to_string().contains("non-null host address bits"), "{e}");
        assert!(AddrList::open("bogus", &c).is_err());
        let mut t = AddrList::open("inline:{10.1.1.1=x}", &c).unwrap();
        assert!(t.matches(ip("10.1.1.1")).unwrap());
    }
}
