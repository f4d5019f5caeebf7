//! # NAME
//! addr — from a next hop to the addresses to try (smtp_addr.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! let list = addr::resolve(&mut agent, &hop)?;   // Vec<Candidate>, best first
//! ```
//!
//! ## DESCRIPTION
//! A domain next hop is looked up as MX records (unless
//! `disable_dns_lookups` or `smtp_host_lookup` without `dns` say
//! otherwise): hosts in order of preference, equal preferences in
//! random order, each host's addresses in the order
//! `smtp_address_preference` asks for, the whole list cut at
//! `smtp_mx_address_limit`. A domain without MX records is its own mail
//! host (its A and AAAA records). A null MX (RFC 7505: one record, host
//! `.`) means the domain takes no mail: the recipients bounce. A name
//! that does not exist bounces; a lookup that cannot be answered now
//! defers. Host names (`[host]`, MX hosts) are looked up with DNS and/or
//! the system resolver, as `smtp_host_lookup` lists them.
//!
//! ## SEE ALSO
//! smtp(8), postconf(5) `smtp_mx_address_limit`, RFC 5321 §5.1, RFC 7505

use std::net::IpAddr;

use crate::Agent;
use crate::dns::{self, Answer, DnsFail};
use crate::nexthop::{Hop, Target};
use crate::settings::Preference;

/// One address to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The host name (MX host, `[host]`, or the address text).
    pub host: String,
    pub addr: IpAddr,
    pub port: u16,
    /// The MX lookup was secure (or there was none to make).
    pub mx_secure: bool,
    /// The address lookup was secure (DNSSEC).
    pub addr_secure: bool,
    /// The address came from an MX lookup.
    pub via_mx: bool,
}

/// Why there is nothing to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveFail {
    /// Permanent: the recipients bounce (dsn, reason).
    Bounce(String, String),
    /// Temporary: the recipients wait (dsn, reason).
    Defer(String, String),
}

/// A small random number source for shuffling (not for secrets).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t ^ (u64::from(std::process::id()) << 32) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

impl Default for Rng {
    fn default() -> Rng {
        Rng::new()
    }
}

fn lookup_error(name: &str, rtype: &str, f: &DnsFail) -> ResolveFail {
    let text = format!(
        "Host or domain name not found. Name service error for name={name} type={rtype}: {}",
        f.text()
    );
    match f {
        DnsFail::Temp(_) => ResolveFail::Defer("4.4.3".into(), text),
        _ => ResolveFail::Bounce("5.4.4".into(), text),
    }
}

/// The addresses of a host by the configured methods.
fn host_addrs(agent: &mut Agent, host: &str) -> Result<Answer<IpAddr>, ResolveFail> {
    let fam = agent.s.families;
    let use_dns = agent.s.dns_lookup && !agent.s.disable_dns;
    let mut last = DnsFail::NotFound;
    if use_dns {
        match agent.dns() {
            Ok(d) => match d.addrs(host, fam) {
                Ok(a) => return Ok(a),
                Err(e) => last = e,
            },
            Err(e) => last = DnsFail::Temp(e),
        }
    }
    if agent.s.native_lookup || !use_dns {
        match dns::native_addrs(host, fam) {
            Ok(a) => return Ok(a),
            Err(e) if !use_dns => last = e,
            Err(_) => {}
        }
    }
    let rtype = if fam.v4 { "A" } else { "AAAA" };
    Err(lookup_error(host, rtype, &last))
}

/// Orders one host's addresses by `smtp_address_preference`.
fn order(addrs: &mut [IpAddr], pref: Preference, rng: &mut Rng, randomize: bool) {
    if randomize {
        rng.shuffle(addrs);
    }
    match pref {
        Preference::Ipv4 => addrs.sort_by_key(|a| !a.is_ipv4()),
        Preference::Ipv6 => addrs.sort_by_key(|a| !a.is_ipv6()),
        Preference::Any => {}
    }
}

/// The candidates for a next hop, best first.
pub fn resolve(agent: &mut Agent, hop: &Hop) -> Result<Vec<Candidate>, ResolveFail> {
    let Target::Inet {
        host,
        port,
        mx,
        literal,
    } = &hop.target
    else {
        return Ok(Vec::new());
    };
    if let Some(ip) = literal {
        let fam = agent.s.families;
        if (ip.is_ipv4() && !fam.v4) || (ip.is_ipv6() && !fam.v6) {
            return Err(ResolveFail::Bounce(
                "5.4.4".into(),
                format!("Address family of {ip} is not enabled by inet_protocols"),
            ));
        }
        return Ok(vec![Candidate {
            host: ip.to_string(),
            addr: *ip,
            port: *port,
            mx_secure: true,
            addr_secure: true,
            via_mx: false,
        }]);
    }
    let use_mx = *mx && agent.s.dns_lookup && !agent.s.disable_dns;
    let mut list = Vec::new();
    if use_mx {
        let answer = match agent.dns() {
            Ok(d) => d.mx(host),
            Err(e) => Err(DnsFail::Temp(e)),
        };
        match answer {
            Ok(a) => {
                if a.records.len() == 1 && a.records[0].1 == "." {
                    return Err(ResolveFail::Bounce(
                        "5.1.0".into(),
                        format!("Domain {host} does not accept mail (nullMX)"),
                    ));
                }
                let mut mxs: Vec<(u16, String)> =
                    a.records.into_iter().filter(|(_, h)| h != ".").collect();
                // Sort by preference; shuffle within equal preferences.
                agent.rng.shuffle(&mut mxs);
                mxs.sort_by_key(|(p, _)| *p);
                let mut last_fail = None;
                for (_, mxhost) in &mxs {
                    match host_addrs(agent, mxhost) {
                        Ok(mut addrs) => {
                            let (pref, randomize) =
                                (agent.s.preference, agent.s.randomize_addresses);
                            order(&mut addrs.records, pref, &mut agent.rng, randomize);
                            for ip in addrs.records {
                                list.push(Candidate {
                                    host: mxhost.clone(),
                                    addr: ip,
                                    port: *port,
                                    mx_secure: a.secure,
                                    addr_secure: addrs.secure,
                                    via_mx: true,
                                });
                            }
                        }
                        Err(f) => last_fail = Some(f),
                    }
                }
                if list.is_empty() {
                    return Err(match last_fail {
                        Some(ResolveFail::Defer(d, r)) => ResolveFail::Defer(d, r),
                        Some(ResolveFail::Bounce(d, r)) => {
                            if agent.s.defer_if_no_mx_address_found {
                                ResolveFail::Defer("4.4.4".into(), r)
                            } else {
                                ResolveFail::Bounce(d, r)
                            }
                        }
                        None => ResolveFail::Bounce(
                            "5.4.4".into(),
                            format!("no MX host for {host} has a valid address record"),
                        ),
                    });
                }
            }
            Err(DnsFail::NoData) => {}
            Err(f) => return Err(lookup_error(host, "MX", &f)),
        }
    }
    if list.is_empty() {
        let mut addrs = host_addrs(agent, host)?;
        let (pref, randomize) = (agent.s.preference, agent.s.randomize_addresses);
        order(&mut addrs.records, pref, &mut agent.rng, randomize);
        for ip in addrs.records {
            list.push(Candidate {
                host: host.clone(),
                addr: ip,
                port: *port,
                mx_secure: true,
                addr_secure: addrs.secure,
                via_mx: false,
            });
        }
    }
    let limit = agent.s.mx_address_limit;
    if limit > 0 && list.len() > limit {
        list.truncate(limit);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_and_orders() {
        let mut rng = Rng::new();
        let mut v: Vec<u32> = (0..20).collect();
        rng.shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..20).collect::<Vec<_>>());
        let mut addrs: Vec<IpAddr> = vec![
            "2001:db8::1".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        ];
        order(&mut addrs, Preference::Ipv4, &mut rng, true);
        assert!(addrs[0].is_ipv4());
        order(&mut addrs, Preference::Ipv6, &mut rng, false);
        assert!(addrs[0].is_ipv6() && addrs[1].is_ipv6() && addrs[2].is_ipv4());
        for _ in 0..100 {
            assert!(rng.below(3) < 3);
        }
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            lookup_error("x.example", "MX", &DnsFail::NotFound),
            ResolveFail::Bounce(
                "5.4.4".into(),
                "Host or domain name not found. Name service error for name=x.example type=MX: Host not found".into()
            )
        );
        assert!(matches!(
            lookup_error("x", "A", &DnsFail::Temp("t".into())),
            ResolveFail::Defer(d, r) if d == "4.4.3" && r.ends_with("Host not found, try again")
        ));
    }
}
