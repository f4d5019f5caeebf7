//! # NAME
//! tlspolicy — the TLS policy of a destination (smtp_tls_policy.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! let p = tlspolicy::for_hop(&mut agent, &hop)?;   // level, protocols, match names
//! let peer = p.peer(&hop, &candidate, tlsa);        // what the handshake must show
//! ```
//!
//! ## DESCRIPTION
//! The level comes from `smtp_tls_policy_maps` when the table has the
//! destination (looked up as written, `[host]:port`, `domain`, then
//! each parent domain as `.parent`), else from
//! `smtp_tls_security_level`. A table entry is `level` followed by
//! `name=value` attributes: `match=` (names separated by colons),
//! `protocols=`, `servername=`; the cipher attributes are accepted and
//! ignored (rustls offers only strong suites).
//!
//! Match names: `hostname` is the server's name (the MX host), `nexthop`
//! the next-hop domain, `dot-nexthop` any name below it, anything else a
//! literal name (`.domain` meaning below the domain). The `verify` level
//! uses `smtp_tls_verify_cert_match` (default `hostname`), `secure`
//! `smtp_tls_secure_cert_match` (default `nexthop, dot-nexthop`). SNI is
//! sent as `smtp_tls_servername` says (`hostname`, `nexthop` or a
//! literal; none by default), and always, with the server's name, under
//! DANE.
//!
//! ## SEE ALSO
//! TLS_README "Client-side TLS", postconf(5) `smtp_tls_policy_maps`

use tls::client::PeerPolicy;
use tls::policy::{Level, protocols};

use crate::Agent;
use crate::addr::Candidate;
use crate::nexthop::Hop;

/// The policy of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub level: Level,
    /// Protocol list, Postfix syntax.
    pub protocols: String,
    /// Match names, unexpanded (`hostname`, `nexthop`, ...).
    pub matches: Vec<String>,
    /// `smtp_tls_servername` or the table's `servername=`.
    pub servername: String,
}

/// Parses a policy table value; without `match=` the match names are
/// left empty for the caller to fill in for the level.
pub fn parse_entry(value: &str, agent_default: &Policy) -> Result<Policy, String> {
    let mut words = value.split_whitespace();
    let level_word = words.next().ok_or("empty TLS policy")?;
    let level = Level::parse(level_word)
        .ok_or_else(|| format!("invalid TLS security level \"{level_word}\""))?;
    let mut p = Policy {
        level,
        protocols: agent_default.protocols.clone(),
        matches: Vec::new(),
        servername: agent_default.servername.clone(),
    };
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("malformed attribute \"{w}\""))?;
        match k.to_ascii_lowercase().as_str() {
            "match" => {
                p.matches = v
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect();
            }
            "protocols" => p.protocols = v.replace(':', " "),
            "servername" => p.servername = v.to_string(),
            "ciphers" | "exclude" | "connection_reuse" | "tafile" | "tlsa" => {}
            other => return Err(format!("unknown TLS policy attribute \"{other}\"")),
        }
    }
    Ok(p)
}

impl Policy {
    /// What one server's handshake must show.
    pub fn peer(
        &self,
        hop: &Hop,
        cand: Option<&Candidate>,
        tlsa: Vec<tls::dane::Tlsa>,
    ) -> Result<PeerPolicy, String> {
        let host = cand.map(|c| c.host.as_str()).unwrap_or(hop.name());
        let nexthop = hop.name();
        let mut names = Vec::new();
        let dane = !tlsa.is_empty();
        if dane {
            // DANE-TA: the TLSA base domain and the next hop.
            names.push(host.to_string());
            names.push(nexthop.to_string());
        } else {
            for m in &self.matches {
                match m.as_str() {
                    "hostname" => names.push(host.to_string()),
                    "nexthop" => names.push(nexthop.to_string()),
                    "dot-nexthop" => names.push(format!(".{nexthop}")),
                    lit => names.push(lit.to_string()),
                }
            }
        }
        let sni = if dane {
            Some(host.to_string())
        } else {
            match self.servername.to_ascii_lowercase().as_str() {
                "" => None,
                "hostname" => Some(host.to_string()),
                "nexthop" => Some(nexthop.to_string()),
                _ => Some(self.servername.clone()),
            }
        };
        // SNI never carries an address.
        let sni = sni.filter(|n| n.parse::<std::net::IpAddr>().is_err() && !n.is_empty());
        Ok(PeerPolicy {
            level: self.level,
            protocols: protocols(&self.protocols).map_err(|e| e.to_string())?,
            match_names: names,
            tlsa,
            sni,
        })
    }
}

/// The table keys of a destination: as written, then parent domains.
pub fn keys(hop: &Hop) -> Vec<String> {
    let mut k = vec![hop.text.to_ascii_lowercase()];
    if let crate::nexthop::Target::Inet { host, mx: true, .. } = &hop.target {
        if !k.contains(host) {
            k.push(host.clone());
        }
        let mut rest = host.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            k.push(format!(".{parent}"));
            rest = parent;
        }
    }
    k
}

/// The policy for a destination.
pub fn for_hop(agent: &mut Agent, hop: &Hop) -> Result<Policy, String> {
    let t = &agent.s.tls;
    let level = t.level;
    let default = Policy {
        level,
        protocols: if level.mandatory() {
            t.mandatory_protocols.clone()
        } else {
            t.protocols.clone()
        },
        matches: match level {
            Level::Verify => t.verify_cert_match.clone(),
            Level::Secure => t.secure_cert_match.clone(),
            _ => Vec::new(),
        },
        servername: t.servername.clone(),
    };
    if agent.tls_policy_maps.is_empty() {
        return Ok(default);
    }
    for key in keys(hop) {
        match agent.tls_policy_maps.find(&key) {
            Ok(Some(v)) => {
                let mut p = parse_entry(&v, &default)?;
                if p.matches.is_empty() {
                    p.matches = match p.level {
                        Level::Verify => t.verify_cert_match.clone(),
                        Level::Secure => t.secure_cert_match.clone(),
                        _ => Vec::new(),
                    };
                }
                if p.protocols == default.protocols {
                    p.protocols = if p.level.mandatory() {
                        t.mandatory_protocols.clone()
                    } else {
                        t.protocols.clone()
                    };
                }
                return Ok(p);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "TLS policy lookup for {}: {}",
                    hop.text,
                    e.reason()
                ));
            }
        }
    }
    Ok(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nexthop::parse;
    use crate::settings::Mode;

    fn default() -> Policy {
        Policy {
            level: Level::May,
            protocols: ">=TLSv1".into(),
            matches: Vec::new(),
            servername: String::new(),
        }
    }

    #[test]
    fn entries() {
        let p = parse_entry(
            "secure match=.example.com:mx.other protocols=>=TLSv1.3",
            &default(),
        )
        .unwrap();
        assert_eq!(p.level, Level::Secure);
        assert_eq!(p.matches, vec![".example.com", "mx.other"]);
        assert_eq!(p.protocols, ">=TLSv1.3");
        assert!(parse_entry("bogus", &default()).is_err());
        assert!(parse_entry("may foo=bar", &default()).is_err());
        assert!(parse_entry("encrypt ciphers=high", &default()).is_ok());
    }

    #[test]
    fn table_keys() {
        let h = parse("[smtp.example.com]:587", Mode::Smtp, 25).unwrap();
        assert_eq!(keys(&h), vec!["[smtp.example.com]:587"]);
        let h = parse("a.example.com", Mode::Smtp, 25).unwrap();
        assert_eq!(keys(&h), vec!["a.example.com", ".example.com", ".com"]);
    }

    #[test]
    fn peer_names_and_sni() {
        let hop = parse("example.com", Mode::Smtp, 25).unwrap();
        let cand = Candidate {
            host: "mx1.example.com".into(),
            addr: "192.0.2.1".parse().unwrap(),
            port: 25,
            mx_secure: true,
            addr_secure: true,
            via_mx: true,
        };
        let p = Policy {
            level: Level::Secure,
            protocols: ">=TLSv1".into(),
            matches: vec!["nexthop".into(), "dot-nexthop".into(), "hostname".into()],
            servername: "hostname".into(),
        };
        let peer = p.peer(&hop, Some(&cand), Vec::new()).unwrap();
        assert_eq!(
            peer.match_names,
            vec!["example.com", ".example.com", "mx1.example.com"]
        );
        assert_eq!(peer.sni.as_deref(), Some("mx1.example.com"));
        let lit = parse("[192.0.2.1]", Mode::Smtp, 25).unwrap();
        let peer = p.peer(&lit, None, Vec::new()).unwrap();
        assert_eq!(peer.sni, None);
    }
}
