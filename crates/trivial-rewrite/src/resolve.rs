//! # NAME
//! resolve — how to deliver a recipient
//!
//! ## SYNOPSIS
//! ```ignore
//! let r = resolve(&mut settings, sender, "user@example.com", false);
//! // r.transport = "smtp", r.nexthop = "example.com", r.flags = class::DEFAULT
//! ```
//!
//! ## DESCRIPTION
//! After removing a source route (`@a,@b:user@c`) and applying the percent
//! hack for local domains (`user%other@local` -> `user@other`), the
//! recipient's domain decides the class, in this order:
//!
//! | class | when the domain | transport | next hop |
//! | --- | --- | --- | --- |
//! | local | is in `mydestination`, or is `[ip]` of this host, or is absent | `local_transport` | its next hop, or `$myhostname` |
//! | alias | is in `virtual_alias_domains` | `error` | "User unknown in virtual alias table" |
//! | virtual | is in `virtual_mailbox_domains` | `virtual_transport` | the domain |
//! | relay | is in `relay_domains` | `relay_transport` | `relayhost`, else the domain |
//! | default | anything else | `default_transport` | `relayhost`, else the domain |
//!
//! For the relay and default classes `sender_dependent_relayhost_maps`
//! (sender, `@domain`, then `<>` for the null sender) may replace
//! `relayhost`, and `sender_dependent_default_transport_maps` the default
//! transport. Then `transport_maps` may override both: looked up as the
//! full address, the address without its extension, the domain and its
//! parents, and `*`. A `transport:nexthop` value with an empty part keeps
//! that part. A table that fails makes the answer a temporary failure
//! (`class::FAIL`), never a wrong route.
//!
//! ## SEE ALSO
//! ADDRESS_CLASS_README, transport(5), trivial-rewrite(8)

use config::{Config, params};
use ipc::rewrite::{ResolveReply, class};
use maps::matchlist::DomainList;
use maps::{MapError, MapList, OpenFlags};

use crate::rewrite::{RewriteSettings, split};

/// A `transport:nexthop` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub transport: String,
    pub nexthop: String,
}

impl Route {
    fn parse(v: &str) -> Route {
        match v.split_once(':') {
            Some((t, n)) => Route { transport: t.to_string(), nexthop: n.to_string() },
            None => Route { transport: v.to_string(), nexthop: String::new() },
        }
    }
}

pub struct Settings {
    pub rewrite: RewriteSettings,
    pub myhostname: String,
    pub mydestination: DomainList,
    pub virtual_alias_domains: DomainList,
    pub virtual_mailbox_domains: DomainList,
    pub relay_domains: DomainList,
    pub local_transport: Route,
    pub virtual_transport: Route,
    pub relay_transport: Route,
    pub default_transport: Route,
    pub relayhost: String,
    pub verify: [Route; 4],
    pub verify_relayhost: String,
    pub empty_address_recipient: String,
    pub allow_percent_hack: bool,
    pub local_addresses: Vec<std::net::IpAddr>,
    pub transport_maps: MapList,
    pub transport_parent_match: bool,
    pub sender_relayhost_maps: MapList,
    pub sender_transport_maps: MapList,
    pub delimiters: String,
}

fn list(cfg: &Config, p: &params::StrParam) -> Result<DomainList, String> {
    let value = cfg.str(p).map_err(|e| e.to_string())?;
    DomainList::open(&value, cfg, p.name()).map_err(|e| format!("{}: {}", p.name(), e))
}

fn maps(cfg: &Config, p: &params::StrParam) -> Result<MapList, String> {
    let value = cfg.str(p).map_err(|e| e.to_string())?;
    MapList::open(&value, cfg, OpenFlags::daemon()).map_err(|e| format!("{}: {}", p.name(), e))
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let s = |p: &params::StrParam| cfg.str(p).map_err(|e| e.to_string());
        let b = |p: &params::BoolParam| cfg.bool(p).map_err(|e| e.to_string());
        Ok(Settings {
            rewrite: RewriteSettings {
                myorigin: s(&params::MYORIGIN)?,
                mydomain: s(&params::MYDOMAIN)?,
                append_at_myorigin: b(&params::APPEND_AT_MYORIGIN)?,
                append_dot_mydomain: b(&params::APPEND_DOT_MYDOMAIN)?,
                swap_bangpath: b(&params::SWAP_BANGPATH)?,
                remote_domain: s(&params::REMOTE_HEADER_REWRITE_DOMAIN)?,
            },
            myhostname: s(&params::MYHOSTNAME)?,
            mydestination: list(cfg, &params::MYDESTINATION)?,
            virtual_alias_domains: list(cfg, &params::VIRTUAL_ALIAS_DOMAINS)?,
            virtual_mailbox_domains: list(cfg, &params::VIRTUAL_MAILBOX_DOMAINS)?,
            relay_domains: list(cfg, &params::RELAY_DOMAINS)?,
            local_transport: Route::parse(&s(&params::LOCAL_TRANSPORT)?),
            virtual_transport: Route::parse(&s(&params::VIRTUAL_TRANSPORT)?),
            relay_transport: Route::parse(&s(&params::RELAY_TRANSPORT)?),
            default_transport: Route::parse(&s(&params::DEFAULT_TRANSPORT)?),
            relayhost: s(&params::RELAYHOST)?,
            verify: [
                Route::parse(&s(&params::ADDRESS_VERIFY_LOCAL_TRANSPORT)?),
                Route::parse(&s(&params::ADDRESS_VERIFY_VIRTUAL_TRANSPORT)?),
                Route::parse(&s(&params::ADDRESS_VERIFY_RELAY_TRANSPORT)?),
                Route::parse(&s(&params::ADDRESS_VERIFY_DEFAULT_TRANSPORT)?),
            ],
            verify_relayhost: s(&params::ADDRESS_VERIFY_RELAYHOST)?,
            empty_address_recipient: s(&params::EMPTY_ADDRESS_RECIPIENT)?,
            allow_percent_hack: b(&params::ALLOW_PERCENT_HACK)?,
            local_addresses: local_addresses(cfg),
            transport_maps: maps(cfg, &params::TRANSPORT_MAPS)?,
            transport_parent_match: maps::domain::parent_matches(cfg, params::TRANSPORT_MAPS.name())
                .map_err(|e| e.to_string())?,
            sender_relayhost_maps: maps(cfg, &params::SENDER_DEPENDENT_RELAYHOST_MAPS)?,
            sender_transport_maps: maps(cfg, &params::SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS)?,
            delimiters: s(&params::RECIPIENT_DELIMITER)?,
        })
    }

    /// Whether a table was rebuilt: the server should restart.
    pub fn changed(&self) -> bool {
        [&self.mydestination, &self.virtual_alias_domains, &self.virtual_mailbox_domains, &self.relay_domains]
            .iter()
            .any(|l| l.changed())
            || self.transport_maps.changed()
            || self.sender_relayhost_maps.changed()
            || self.sender_transport_maps.changed()
    }
}

/// The addresses of `inet_interfaces` and `proxy_interfaces` ("all": every
/// interface of this host), for recognizing `user@[ip]` as local.
fn local_addresses(cfg: &Config) -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut names = cfg.list(&params::INET_INTERFACES).unwrap_or_default();
    names.extend(cfg.list(&params::PROXY_INTERFACES).unwrap_or_default());
    for n in names {
        match n.to_ascii_lowercase().as_str() {
            "all" => {
                if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
                    for a in addrs.filter_map(|a| a.address) {
                        if let Some(v4) = a.as_sockaddr_in() {
                            out.push(std::net::IpAddr::V4(v4.ip()));
                        } else if let Some(v6) = a.as_sockaddr_in6() {
                            out.push(std::net::IpAddr::V6(v6.ip()));
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

fn error_reply(recipient: &str, text: &str) -> ResolveReply {
    ResolveReply { transport: "error".into(), nexthop: text.into(), recipient: recipient.into(), flags: class::ERROR }
}

fn fail_reply(recipient: &str, e: &MapError) -> ResolveReply {
    daemon::warn!("{}: table lookup failed: {}", e.map(), e.reason());
    ResolveReply { transport: String::new(), nexthop: String::new(), recipient: recipient.into(), flags: class::FAIL }
}

/// Resolves `address` (internal form) for delivery.
pub fn resolve(s: &mut Settings, sender: &str, address: &str, verify: bool) -> ResolveReply {
    match try_resolve(s, sender, address, verify) {
        Ok(r) => r,
        Err(e) => fail_reply(address, &e),
    }
}

fn try_resolve(s: &mut Settings, sender: &str, address: &str, verify: bool) -> Result<ResolveReply, MapError> {
    let mut flags = 0;
    let mut addr = if address.is_empty() { s.empty_address_recipient.clone() } else { address.to_string() };
    // Source route: keep the last part.
    if addr.starts_with('@')
        && let Some((_, rest)) = addr.split_once(':')
    {
        addr = rest.to_string();
        flags |= class::ROUTED;
    }
    loop {
        let (local, domain) = split(&addr);
        let Some(domain) = domain else { break };
        if s.allow_percent_hack
            && let Some(i) = local.rfind('%')
            && is_local(s, domain)?
        {
            addr = format!("{}@{}", &local[..i], &local[i + 1..]);
            flags |= class::ROUTED;
            continue;
        }
        break;
    }
    let (local, domain) = split(&addr);
    if local.is_empty() {
        return Ok(error_reply(&addr, "5.1.3 bad address syntax"));
    }
    let domain = domain.map(|d| d.trim_end_matches('.').to_ascii_lowercase());
    let recipient = match &domain {
        Some(d) => format!("{local}@{d}"),
        None => local.to_string(),
    };
    if domain.as_deref() == Some("") {
        return Ok(error_reply(&recipient, "5.1.3 bad address syntax"));
    }
    let [v_local, v_virtual, v_relay, v_default] = s.verify.clone();
    let pick = |normal: &Route, v: Route| if verify { v } else { normal.clone() };
    let (mut route, class) = match domain.as_deref() {
        None => (pick(&s.local_transport, v_local), class::LOCAL),
        Some(d) if is_local(s, d)? => (pick(&s.local_transport, v_local), class::LOCAL),
        Some(d) if s.virtual_alias_domains.matches(d)? => {
            let mut r = error_reply(&recipient, "5.1.1 User unknown in virtual alias table");
            r.flags |= class::ALIAS;
            return Ok(r);
        }
        Some(d) if s.virtual_mailbox_domains.matches(d)? => (pick(&s.virtual_transport, v_virtual), class::VIRTUAL),
        Some(d) if s.relay_domains.matches(d)? => (pick(&s.relay_transport, v_relay), class::RELAY),
        Some(_) => {
            let mut r = pick(&s.default_transport, v_default);
            if !verify && let Some(v) = sender_lookup(&mut s.sender_transport_maps, sender)? {
                r = Route::parse(&v);
            }
            (r, class::DEFAULT)
        }
    };
    let mut relayhost = if verify { s.verify_relayhost.clone() } else { s.relayhost.clone() };
    if (class == class::RELAY || class == class::DEFAULT)
        && let Some(v) = sender_lookup(&mut s.sender_relayhost_maps, sender)?
    {
        relayhost = v;
    }
    let mut nexthop = if !route.nexthop.is_empty() {
        route.nexthop.clone()
    } else if class == class::LOCAL {
        s.myhostname.clone()
    } else if class == class::VIRTUAL {
        domain.clone().unwrap_or_default()
    } else if !relayhost.is_empty() {
        relayhost
    } else {
        domain.clone().unwrap_or_default()
    };
    if let Some(v) = transport_lookup(s, &recipient, domain.as_deref())? {
        let t = Route::parse(&v);
        if !t.transport.is_empty() {
            route.transport = t.transport;
        }
        if !t.nexthop.is_empty() {
            nexthop = t.nexthop;
        }
    }
    Ok(ResolveReply { transport: route.transport, nexthop, recipient, flags: flags | class })
}

/// `sender_dependent_*` lookups: the sender, `@domain`, `<>` for the
/// null sender.
fn sender_lookup(maps: &mut MapList, sender: &str) -> Result<Option<String>, MapError> {
    if maps.is_empty() {
        return Ok(None);
    }
    if sender.is_empty() {
        return maps.find("<>");
    }
    if let Some(v) = maps.find(sender)? {
        return Ok(Some(v));
    }
    match sender.rfind('@') {
        Some(i) => maps.find_fixed(&sender[i..]),
        None => Ok(None),
    }
}

/// transport(5) lookup order.
fn transport_lookup(s: &mut Settings, recipient: &str, domain: Option<&str>) -> Result<Option<String>, MapError> {
    if s.transport_maps.is_empty() {
        return Ok(None);
    }
    let opts = maps::addr::AddrFindOptions {
        delimiters: s.delimiters.clone(),
        localpart: false,
        at_domain: false,
        propagate_extension: false,
    };
    if let Some(v) = maps::addr::find_address(&mut s.transport_maps, recipient, &opts)? {
        return Ok(Some(v));
    }
    if let Some(d) = domain
        && let Some(v) = maps::domain::find_domain(&mut s.transport_maps, d, s.transport_parent_match)?
    {
        return Ok(Some(v));
    }
    s.transport_maps.find_fixed("*")
}

fn is_local(s: &mut Settings, domain: &str) -> Result<bool, MapError> {
    if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let lit = lit.strip_prefix("ipv6:").or_else(|| lit.strip_prefix("IPv6:")).unwrap_or(lit);
        return Ok(lit.parse::<std::net::IpAddr>().is_ok_and(|ip| s.local_addresses.contains(&ip)));
    }
    s.mydestination.matches(domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings(main: &str) -> Settings {
        let cfg = Config::from_text(
            Path::new("/etc/postfix"),
            &format!("myhostname = mx.example.com\ncompatibility_level = 3.7\ninet_interfaces = 127.0.0.1\n{main}"),
        )
        .unwrap();
        Settings::from_config(&cfg).unwrap()
    }

    #[test]
    fn classes() {
        let mut s = settings("virtual_mailbox_domains = vm.example\nrelay_domains = relay.example\nvirtual_alias_domains = va.example\n");
        let s = &mut s;
        let r = resolve(s, "", "u@mx.example.com", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str(), r.flags), ("local", "mx.example.com", class::LOCAL));
        let r = resolve(s, "", "u@LOCALHOST.", false);
        assert_eq!((r.transport.as_str(), r.recipient.as_str()), ("local", "u@localhost"));
        let r = resolve(s, "", "u@[127.0.0.1]", false);
        assert_eq!(r.flags, class::LOCAL);
        let r = resolve(s, "", "u@vm.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str(), r.flags), ("virtual", "vm.example", class::VIRTUAL));
        let r = resolve(s, "", "u@relay.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("relay", "relay.example"));
        let r = resolve(s, "", "u@va.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("error", "5.1.1 User unknown in virtual alias table"));
        let r = resolve(s, "", "u@elsewhere.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str(), r.flags), ("smtp", "elsewhere.example", class::DEFAULT));
        let r = resolve(s, "", "", false);
        assert_eq!((r.transport.as_str(), r.recipient.as_str()), ("local", "MAILER-DAEMON"));
    }

    #[test]
    fn relayhost_routes_and_hacks() {
        let mut s = settings("relayhost = [smart.example]:587\nlocal_transport = local\ndefault_transport = smtp:\n");
        let s = &mut s;
        let r = resolve(s, "", "u@far.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("smtp", "[smart.example]:587"));
        let r = resolve(s, "", "u%far.example@mx.example.com", false);
        assert_eq!((r.recipient.as_str(), r.nexthop.as_str()), ("u@far.example", "[smart.example]:587"));
        assert_ne!(r.flags & class::ROUTED, 0);
        let r = resolve(s, "", "@a.example,@b.example:u@c.example", false);
        assert_eq!(r.recipient, "u@c.example");
        let r = resolve(s, "", "@nodomain", false);
        assert_eq!(r.transport, "error");
        let mut s2 = settings("default_transport = error:mail for other domains is not deliverable\n");
        let r = resolve(&mut s2, "", "u@far.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("error", "mail for other domains is not deliverable"));
    }

    #[test]
    fn tables() {
        let mut s = settings(
            "mydestination = inline:{tabled.example=x}, localhost\n\
             relay_domains = inline:{relayed.example=x}\n\
             recipient_delimiter = +\n\
             transport_maps = inline:{ special@far.example=discard:, far.example=relay:[gw.example], .sub.example=:[sub-gw], *=smtp:[catchall] }\n",
        );
        let s = &mut s;
        assert_eq!(resolve(s, "", "u@tabled.example", false).flags, class::LOCAL);
        assert_eq!(resolve(s, "", "u@relayed.example", false).flags, class::RELAY);
        let r = resolve(s, "", "special+tag@far.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("discard", "far.example"));
        let r = resolve(s, "", "other@far.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("relay", "[gw.example]"));
        let r = resolve(s, "", "x@a.sub.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("smtp", "[sub-gw]"));
        let r = resolve(s, "", "x@nowhere.example", false);
        assert_eq!((r.transport.as_str(), r.nexthop.as_str()), ("smtp", "[catchall]"));
        let mut s2 = settings("sender_dependent_relayhost_maps = inline:{ @sender.example=[sender-relay]:2525, <>=[bounce-relay] }\n");
        let r = resolve(&mut s2, "me@sender.example", "x@far.example", false);
        assert_eq!(r.nexthop, "[sender-relay]:2525");
        let r = resolve(&mut s2, "", "x@far.example", false);
        assert_eq!(r.nexthop, "[bounce-relay]");
        let r = resolve(&mut s2, "other@else.example", "x@far.example", false);
        assert_eq!(r.nexthop, "far.example");
        let mut broken = settings("transport_maps = nosuchtype:/x\n");
        assert_eq!(resolve(&mut broken, "", "x@far.example", false).flags, class::FAIL);
    }
}
