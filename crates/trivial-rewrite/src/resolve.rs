//! # NAME
//! resolve — how to deliver a recipient
//!
//! ## SYNOPSIS
//! ```ignore
//! let r = resolve(&settings, sender, "user@example.com", false);
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
//! A `transport:nexthop` value with an empty part keeps the default of
//! that part. The empty address is `empty_address_recipient`.
//!
//! ## BUGS
//! `transport_maps` and the `sender_dependent_*` maps need the maps crate;
//! setting them is refused at start-up until it is wired in.
//!
//! ## SEE ALSO
//! ADDRESS_CLASS_README, trivial-rewrite(8)

use config::{Config, ConfigError, params};
use ipc::rewrite::{ResolveReply, class};

use crate::domains::DomainList;
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
            Some((t, n)) => Route {
                transport: t.to_string(),
                nexthop: n.to_string(),
            },
            None => Route {
                transport: v.to_string(),
                nexthop: String::new(),
            },
        }
    }
}

#[derive(Debug, Clone)]
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
}

fn parent_match(cfg: &Config, name: &str) -> Result<bool, ConfigError> {
    Ok(cfg
        .list(&params::PARENT_DOMAIN_MATCHES_SUBDOMAINS)?
        .iter()
        .any(|n| n == name))
}

fn list(cfg: &Config, p: &params::StrParam) -> Result<DomainList, String> {
    let value = cfg.str(p).map_err(|e| e.to_string())?;
    let pm = parent_match(cfg, p.name()).map_err(|e| e.to_string())?;
    DomainList::new(&value, pm).map_err(|e| format!("{}: {}", p.name(), e))
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let s = |p: &params::StrParam| cfg.str(p).map_err(|e| e.to_string());
        let b = |p: &params::BoolParam| cfg.bool(p).map_err(|e| e.to_string());
        for p in [
            &params::TRANSPORT_MAPS,
            &params::SENDER_DEPENDENT_RELAYHOST_MAPS,
            &params::SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS,
        ] {
            if !s(p)?.is_empty() {
                return Err(format!(
                    "{} is not supported yet: lookup tables are still being built",
                    p.name()
                ));
            }
        }
        let local_addresses = local_addresses(cfg);
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
            local_addresses,
        })
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
                    for a in addrs {
                        if let Some(s) = a.address {
                            if let Some(v4) = s.as_sockaddr_in() {
                                out.push(std::net::IpAddr::V4(v4.ip()));
                            } else if let Some(v6) = s.as_sockaddr_in6() {
                                out.push(std::net::IpAddr::V6(v6.ip()));
                            }
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
    ResolveReply {
        transport: "error".into(),
        nexthop: text.into(),
        recipient: recipient.into(),
        flags: class::ERROR,
    }
}

/// Resolves `address` (internal form) for delivery.
pub fn resolve(s: &Settings, _sender: &str, address: &str, verify: bool) -> ResolveReply {
    let mut flags = 0;
    let mut addr = if address.is_empty() {
        s.empty_address_recipient.clone()
    } else {
        address.to_string()
    };
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
            && is_local(s, domain)
            && let Some(i) = local.rfind('%')
        {
            addr = format!("{}@{}", &local[..i], &local[i + 1..]);
            flags |= class::ROUTED;
            continue;
        }
        break;
    }
    let (local, domain) = split(&addr);
    if local.is_empty() {
        return error_reply(&addr, "5.1.3 bad address syntax");
    }
    let domain = domain.map(|d| d.trim_end_matches('.').to_ascii_lowercase());
    let recipient = match &domain {
        Some(d) => format!("{local}@{d}"),
        None => local.to_string(),
    };
    let [v_local, v_virtual, v_relay, v_default] = &s.verify;
    let (route, class) = match domain.as_deref() {
        None => (
            if verify { v_local } else { &s.local_transport },
            class::LOCAL,
        ),
        Some(d) if d.is_empty() => return error_reply(&recipient, "5.1.3 bad address syntax"),
        Some(d) if is_local(s, d) => (
            if verify { v_local } else { &s.local_transport },
            class::LOCAL,
        ),
        Some(d) if s.virtual_alias_domains.matches(d) => {
            let mut r = error_reply(&recipient, "5.1.1 User unknown in virtual alias table");
            r.flags |= class::ALIAS;
            return r;
        }
        Some(d) if s.virtual_mailbox_domains.matches(d) => (
            if verify {
                v_virtual
            } else {
                &s.virtual_transport
            },
            class::VIRTUAL,
        ),
        Some(d) if s.relay_domains.matches(d) => (
            if verify { v_relay } else { &s.relay_transport },
            class::RELAY,
        ),
        Some(_) => (
            if verify {
                v_default
            } else {
                &s.default_transport
            },
            class::DEFAULT,
        ),
    };
    let relayhost = if verify {
        &s.verify_relayhost
    } else {
        &s.relayhost
    };
    let nexthop = if !route.nexthop.is_empty() {
        route.nexthop.clone()
    } else if class == class::LOCAL {
        s.myhostname.clone()
    } else if class == class::VIRTUAL {
        domain.clone().unwrap_or_default()
    } else if !relayhost.is_empty() {
        relayhost.clone()
    } else {
        domain.clone().unwrap_or_default()
    };
    ResolveReply {
        transport: route.transport.clone(),
        nexthop,
        recipient,
        flags: flags | class,
    }
}

fn is_local(s: &Settings, domain: &str) -> bool {
    if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let lit = lit
            .strip_prefix("ipv6:")
            .or_else(|| lit.strip_prefix("IPv6:"))
            .unwrap_or(lit);
        return lit
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| s.local_addresses.contains(&ip));
    }
    s.mydestination.matches(domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings(main: &str) -> Settings {
        let cfg = Config::from_text(Path::new("/etc/postfix"), &format!("myhostname = mx.example.com\ncompatibility_level = 3.7\ninet_interfaces = 127.0.0.1\n{main}")).unwrap();
        Settings::from_config(&cfg).unwrap()
    }

    #[test]
    fn classes() {
        let s = settings(
            "virtual_mailbox_domains = vm.example\nrelay_domains = relay.example\nvirtual_alias_domains = va.example\n",
        );
        let r = resolve(&s, "", "u@mx.example.com", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str(), r.flags),
            ("local", "mx.example.com", class::LOCAL)
        );
        let r = resolve(&s, "", "u@LOCALHOST.", false);
        assert_eq!(
            (r.transport.as_str(), r.recipient.as_str()),
            ("local", "u@localhost")
        );
        let r = resolve(&s, "", "u@[127.0.0.1]", false);
        assert_eq!(r.flags, class::LOCAL);
        let r = resolve(&s, "", "u@vm.example", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str(), r.flags),
            ("virtual", "vm.example", class::VIRTUAL)
        );
        let r = resolve(&s, "", "u@relay.example", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str()),
            ("relay", "relay.example")
        );
        let r = resolve(&s, "", "u@va.example", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str()),
            ("error", "5.1.1 User unknown in virtual alias table")
        );
        let r = resolve(&s, "", "u@elsewhere.example", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str(), r.flags),
            ("smtp", "elsewhere.example", class::DEFAULT)
        );
        let r = resolve(&s, "", "", false);
        assert_eq!(
            (r.transport.as_str(), r.recipient.as_str()),
            ("local", "MAILER-DAEMON")
        );
    }

    #[test]
    fn relayhost_routes_and_hacks() {
        let s = settings(
            "relayhost = [smart.example]:587\nlocal_transport = local\ndefault_transport = smtp:\n",
        );
        let r = resolve(&s, "", "u@far.example", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str()),
            ("smtp", "[smart.example]:587")
        );
        let r = resolve(&s, "", "u%far.example@mx.example.com", false);
        assert_eq!(
            (r.recipient.as_str(), r.nexthop.as_str()),
            ("u@far.example", "[smart.example]:587")
        );
        assert_ne!(r.flags & class::ROUTED, 0);
        let r = resolve(&s, "", "@a.example,@b.example:u@c.example", false);
        assert_eq!(r.recipient, "u@c.example");
        let r = resolve(&s, "", "@nodomain", false);
        assert_eq!(r.transport, "error");
        let s2 = settings("default_transport = error:mail for other domains is not deliverable\n");
        let r = resolve(&s2, "", "u@far.example", false);
        assert_eq!(
            (r.transport.as_str(), r.nexthop.as_str()),
            ("error", "mail for other domains is not deliverable")
        );
    }
}
