//! # NAME
//! dns — MX, A, AAAA and TLSA lookups with a cache, through hickory
//!
//! ## SYNOPSIS
//! ```ignore
//! let dns = Dns::new(dnssec)?;
//! let mx = dns.mx("example.com")?;        // Answer { records, secure }
//! let ips = dns.addrs("mx.example.com", families)?;
//! let tlsa = dns.tlsa(25, "mx.example.com")?;
//! ```
//!
//! ## DESCRIPTION
//! Lookups go to the name servers of `/etc/resolv.conf`, or to those in
//! the environment variable `MTA_DNS_SERVERS` (`ip[:port]`, separated by
//! commas or white space) when it is set: that is how tests point an
//! instance at a private server on loopback (master(8) passes it on
//! when main.cf lists it in `import_environment`). Names are looked up
//! as given, fully qualified (no search list, as Postfix's default
//! `smtp_dns_resolver_options`). Answers are cached by the process for
//! their TTL.
//!
//! With `smtp_dns_support_level = dnssec` queries carry the DO bit and
//! an answer counts as secure when the resolver set the AD bit: like
//! Postfix, this trusts a validating resolver on the path (normally on
//! the same host), and it is what DANE requires. hickory is asynchronous;
//! each process runs it on a small current-thread runtime and waits.
//!
//! ## SEE ALSO
//! resolv.conf(5), postconf(5) `smtp_dns_support_level`, RFC 7672

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::caching_client::CachingClient;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::{DnsRequestOptions, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};

use crate::settings::Families;

/// The environment variable that names the DNS servers to use.
pub const SERVERS_ENV: &str = "MTA_DNS_SERVERS";

/// Why a lookup found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFail {
    /// The name does not exist (NXDOMAIN).
    NotFound,
    /// The name exists, without records of the type.
    NoData,
    /// The answer could not be had now (timeout, SERVFAIL, a bogus
    /// DNSSEC answer): try again later.
    Temp(String),
}

impl DnsFail {
    /// Postfix's words for it (`dns_strerror`).
    pub fn text(&self) -> &str {
        match self {
            DnsFail::NotFound => "Host not found",
            DnsFail::NoData => "Host found but no data record of requested type",
            DnsFail::Temp(_) => "Host not found, try again",
        }
    }
}

/// Records and whether the resolver vouched for them (AD bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub records: Vec<T>,
    pub secure: bool,
}

/// The resolver of one process.
pub struct Dns {
    rt: tokio::runtime::Runtime,
    client: CachingClient<NameServerPool<TokioRuntimeProvider>>,
    options: DnsRequestOptions,
}

fn parse_servers(text: &str) -> Result<Vec<NameServerConfig>, String> {
    let mut out = Vec::new();
    for w in text.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        let sa: SocketAddr = match w.parse::<SocketAddr>() {
            Ok(sa) => sa,
            Err(_) => SocketAddr::new(
                w.trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .map_err(|_| format!("{SERVERS_ENV}: bad server address: {w}"))?,
                53,
            ),
        };
        let mut udp = ConnectionConfig::udp();
        udp.port = sa.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = sa.port();
        let mut ns = NameServerConfig::udp_and_tcp(sa.ip());
        ns.connections = vec![udp, tcp];
        out.push(ns);
    }
    if out.is_empty() {
        return Err(format!("{SERVERS_ENV}: no server addresses"));
    }
    Ok(out)
}

fn fqdn(name: &str) -> Result<Name, DnsFail> {
    let n = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_utf8(&n).map_err(|_| DnsFail::NotFound)
}

impl Dns {
    /// A resolver; `dnssec` sets the DO bit and reads the AD bit.
    pub fn new(dnssec: bool) -> Result<Dns, String> {
        let (servers, mut opts) = match std::env::var(SERVERS_ENV) {
            Ok(v) if !v.trim().is_empty() => (parse_servers(&v)?, ResolverOpts::default()),
            _ => {
                let (c, o) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(|e| format!("read /etc/resolv.conf: {e}"))?;
                (c.name_servers, o)
            }
        };
        opts.cache_size = 1024;
        opts.edns0 = true;
        opts.recursion_desired = true;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("DNS runtime: {e}"))?;
        let tls = TlsConfig::new().map_err(|e| e.to_string())?;
        let mut options = DnsRequestOptions::default();
        options.use_edns = true;
        options.edns_set_dnssec_ok = dnssec;
        options.recursion_desired = true;
        let client = {
            let _guard = rt.enter();
            let cx = Arc::new(PoolContext::new(opts, tls));
            let pool = NameServerPool::from_config(servers, cx, TokioRuntimeProvider::default());
            CachingClient::new(1024, pool, false)
        };
        Ok(Dns {
            rt,
            client,
            options,
        })
    }

    fn query(&self, name: &str, rtype: RecordType) -> Result<Message, DnsFail> {
        let q = Query::query(fqdn(name)?, rtype);
        let fut = self.client.lookup(q, self.options);
        match self.rt.block_on(fut) {
            Ok(lookup) => Ok(lookup.message().clone()),
            Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                if nr.response_code == ResponseCode::NXDomain {
                    Err(DnsFail::NotFound)
                } else {
                    Err(DnsFail::NoData)
                }
            }
            Err(e) => Err(DnsFail::Temp(e.to_string())),
        }
    }

    /// MX records as (preference, host); a null MX is one record with
    /// host `.`.
    pub fn mx(&self, name: &str) -> Result<Answer<(u16, String)>, DnsFail> {
        let m = self.query(name, RecordType::MX)?;
        let records: Vec<(u16, String)> = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => {
                    let host = mx.exchange.to_ascii();
                    let host = if host == "." {
                        host
                    } else {
                        host.trim_end_matches('.').to_ascii_lowercase()
                    };
                    Some((mx.preference, host))
                }
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Err(DnsFail::NoData);
        }
        Ok(Answer {
            records,
            secure: m.metadata.authentic_data,
        })
    }

    /// A and AAAA records of the families in use, A first.
    pub fn addrs(&self, name: &str, fam: Families) -> Result<Answer<IpAddr>, DnsFail> {
        let mut records = Vec::new();
        let mut secure = true;
        let mut fails = Vec::new();
        let types = [(fam.v4, RecordType::A), (fam.v6, RecordType::AAAA)];
        for (_, t) in types.iter().filter(|(on, _)| *on) {
            match self.query(name, *t) {
                Ok(m) => {
                    secure &= m.metadata.authentic_data;
                    records.extend(m.answers.iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    }));
                }
                Err(e) => fails.push(e),
            }
        }
        if !records.is_empty() {
            return Ok(Answer { records, secure });
        }
        // A temporary failure wins over "not found", which wins over
        // "no data".
        if let Some(t) = fails.iter().find(|f| matches!(f, DnsFail::Temp(_))) {
            return Err(t.clone());
        }
        if fails.contains(&DnsFail::NotFound) {
            return Err(DnsFail::NotFound);
        }
        Err(DnsFail::NoData)
    }

    /// The TLSA records of `_port._tcp.host`.
    pub fn tlsa(&self, port: u16, host: &str) -> Result<Answer<tls::dane::Tlsa>, DnsFail> {
        let m = self.query(&format!("_{port}._tcp.{host}"), RecordType::TLSA)?;
        let records: Vec<tls::dane::Tlsa> = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::TLSA(t) => Some(tls::dane::Tlsa {
                    usage: u8::from(t.cert_usage),
                    selector: u8::from(t.selector),
                    mtype: u8::from(t.matching),
                    data: t.cert_data.clone(),
                }),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Err(DnsFail::NoData);
        }
        Ok(Answer {
            records,
            secure: m.metadata.authentic_data,
        })
    }
}

/// Addresses through the system's resolver (`smtp_host_lookup =
/// native`: /etc/hosts, nsswitch.conf).
pub fn native_addrs(name: &str, fam: Families) -> Result<Answer<IpAddr>, DnsFail> {
    let records: Vec<IpAddr> = sys::net::host_addresses(name)
        .into_iter()
        .filter(|a| if a.is_ipv4() { fam.v4 } else { fam.v6 })
        .collect();
    if records.is_empty() {
        return Err(DnsFail::NotFound);
    }
    Ok(Answer {
        records,
        secure: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lists() {
        let s = parse_servers("127.0.0.1:5353, [::1]:53 192.0.2.1").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].connections[0].port, 5353);
        assert_eq!(s[2].connections[1].port, 53);
        assert!(parse_servers("nonsense").is_err());
        assert!(parse_servers(" ").is_err());
    }

    #[test]
    fn native_lookup_of_localhost() {
        let fam = Families {
            v4: true,
            v6: false,
        };
        let a = native_addrs("localhost", fam).unwrap();
        assert!(a.records.iter().all(|a| a.is_loopback()));
        assert_eq!(fqdn("example.com").unwrap().to_ascii(), "example.com.");
    }
}
