//! # NAME
//! nexthop — where a delivery request goes, in every form Postfix allows
//!
//! ## SYNOPSIS
//! ```ignore
//! let hops = nexthop::parse_list("[smtp.example]:587", Mode::Smtp, 25)?;
//! ```
//!
//! ## DESCRIPTION
//! A next hop comes from `relayhost`, a transport table, or the
//! recipient's domain (trivial-rewrite(8) decides). The forms:
//!
//! | form | means |
//! | --- | --- |
//! | `domain`, `domain:port` | look up the MX hosts of the domain (SMTP only), else its addresses |
//! | `[host]`, `[host]:port` | the host's addresses, no MX lookup |
//! | `[192.0.2.1]`, `[ipv6:2001:db8::1]`, `[2001:db8::1]` | that address |
//! | `inet:host`, `inet:host:port`, `inet:[host]:port` | LMTP over TCP (the `inet:` is optional) |
//! | `unix:/path`, `unix:private/dovecot-lmtp` | LMTP over a unix-domain socket (relative to the queue directory) |
//!
//! A port is a number or a service name. Since Postfix 3.5 a next hop
//! may be a list separated by commas or white space: the destinations
//! are tried in order. LMTP never looks up MX records.
//!
//! ## SEE ALSO
//! smtp(8) "SMTP DESTINATION SYNTAX", lmtp(8), trivial-rewrite(8)

use std::net::IpAddr;
use std::path::PathBuf;

use crate::settings::{Mode, port_of};

/// One destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// As written (for logs, labels and table lookups).
    pub text: String,
    pub target: Target,
}

/// What to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Inet {
        /// Host or domain name, or the address text of a literal.
        host: String,
        port: u16,
        /// Look up MX records (a bare domain over SMTP).
        mx: bool,
        /// `[192.0.2.1]`: connect to this address.
        literal: Option<IpAddr>,
    },
    Unix(PathBuf),
}

impl Hop {
    /// The domain or host name, without brackets and port.
    pub fn name(&self) -> &str {
        match &self.target {
            Target::Inet { host, .. } => host,
            Target::Unix(_) => "",
        }
    }
}

/// Why a next hop cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHop(pub String);

fn split_port<'a>(text: &'a str, s: &'a str) -> Result<(&'a str, Option<u16>), BadHop> {
    match s.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !h.contains(':') || h.ends_with(']') => {
            let port = port_of(p).ok_or_else(|| BadHop(format!("bad port in {text}")))?;
            Ok((h, Some(port)))
        }
        _ => Ok((s, None)),
    }
}

/// Parses one destination.
pub fn parse(text: &str, mode: Mode, default_port: u16) -> Result<Hop, BadHop> {
    let bad = || BadHop(format!("bad destination syntax: {text}"));
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Some(path) = t.strip_prefix("unix:") {
        if mode != Mode::Lmtp || path.is_empty() {
            return Err(bad());
        }
        return Ok(Hop {
            text: t.to_string(),
            target: Target::Unix(PathBuf::from(path)),
        });
    }
    let rest = match t.strip_prefix("inet:") {
        Some(r) if mode == Mode::Lmtp => r,
        Some(_) => return Err(bad()),
        None => t,
    };
    let (host, port, bracketed) = if let Some(inner) = rest.strip_prefix('[') {
        let close = inner.find(']').ok_or_else(bad)?;
        let host = &inner[..close];
        let after = &inner[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(port_of(p).ok_or_else(|| BadHop(format!("bad port in {text}")))?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (host, port, true)
    } else {
        let (h, p) = split_port(text, rest)?;
        (h, p, false)
    };
    if host.is_empty() {
        return Err(bad());
    }
    let addr_text = host
        .strip_prefix("ipv6:")
        .or_else(|| host.strip_prefix("IPv6:"))
        .unwrap_or(host);
    // An address is an address, with or without brackets
    // (`inet:127.0.0.1:24`).
    let literal = addr_text.parse::<IpAddr>().ok();
    if host.len() > 255 || host.contains(['[', ']', '/', ' ']) {
        return Err(bad());
    }
    Ok(Hop {
        text: t.to_string(),
        target: Target::Inet {
            host: if literal.is_some() {
                addr_text.to_string()
            } else {
                host.trim_end_matches('.').to_ascii_lowercase()
            },
            port: port.unwrap_or(default_port),
            mx: mode == Mode::Smtp && !bracketed && literal.is_none(),
            literal,
        },
    })
}

/// Parses a list of destinations separated by commas or white space.
pub fn parse_list(text: &str, mode: Mode, default_port: u16) -> Result<Vec<Hop>, BadHop> {
    let hops: Result<Vec<Hop>, BadHop> = text
        .split([',', ' ', '\t'])
        .filter(|w| !w.is_empty())
        .map(|w| parse(w, mode, default_port))
        .collect();
    let hops = hops?;
    if hops.is_empty() {
        return Err(BadHop("empty destination".into()));
    }
    Ok(hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(text: &str, mode: Mode) -> (String, u16, bool, Option<IpAddr>) {
        match parse(text, mode, if mode == Mode::Smtp { 25 } else { 24 })
            .unwrap()
            .target
        {
            Target::Inet {
                host,
                port,
                mx,
                literal,
            } => (host, port, mx, literal),
            Target::Unix(p) => panic!("unix {p:?}"),
        }
    }

    #[test]
    fn smtp_forms() {
        let s = Mode::Smtp;
        assert_eq!(
            inet("Example.COM", s),
            ("example.com".into(), 25, true, None)
        );
        assert_eq!(
            inet("example.com:587", s),
            ("example.com".into(), 587, true, None)
        );
        assert_eq!(inet("example.com:submission", s).1, 587);
        assert_eq!(
            inet("[mx.example]", s),
            ("mx.example".into(), 25, false, None)
        );
        assert_eq!(inet("[mx.example]:2525", s).1, 2525);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            inet("[192.0.2.1]:26", s),
            ("192.0.2.1".into(), 26, false, Some(ip))
        );
        let ip6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(inet("[ipv6:2001:db8::1]", s).3, Some(ip6));
        assert_eq!(inet("[ipv6:2001:db8::1]:587", s).1, 587);
        assert_eq!(inet("[2001:db8::1]", s).3, Some(ip6));
        for badhop in [
            "",
            "[mx.example",
            "[x]y",
            "inet:x",
            "unix:/x",
            "example.com:nosuchport",
            "[a]:0",
        ] {
            assert!(parse(badhop, s, 25).is_err(), "{badhop}");
        }
    }

    #[test]
    fn lmtp_forms_and_lists() {
        let l = Mode::Lmtp;
        assert_eq!(
            inet("inet:localhost", l),
            ("localhost".into(), 24, false, None)
        );
        assert_eq!(inet("inet:localhost:2424", l).1, 2424);
        assert_eq!(inet("localhost:2424", l).1, 2424);
        assert_eq!(
            inet("inet:[127.0.0.1]:2424", l).3,
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse("unix:private/dovecot-lmtp", l, 24).unwrap().target,
            Target::Unix("private/dovecot-lmtp".into())
        );
        assert!(parse("unix:", l, 24).is_err());
        let hops = parse_list("[a.example]:587, [b.example]", Mode::Smtp, 25).unwrap();
        assert_eq!(hops.len(), 2);
        assert_eq!(hops[1].text, "[b.example]");
        assert_eq!(hops[0].name(), "a.example");
        assert!(parse_list(" , ", Mode::Smtp, 25).is_err());
    }
}
