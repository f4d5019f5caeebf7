//! # NAME
//! computed — defaults that depend on the host and on other settings
//!
//! ## SYNOPSIS
//! ```ignore
//! computed::myhostname(configured_mydomain);
//! computed::mydomain(&myhostname);
//! computed::mynetworks("host", "all");
//! ```
//!
//! ## DESCRIPTION
//! `myhostname` defaults to the system host name; a name without a dot gets
//! `.$mydomain` when mydomain is set (even to nothing), else
//! `.localdomain`. `mydomain` defaults to `myhostname` without its first
//! label, or `localdomain` when it has only one. `mynetworks` defaults to the networks of the local
//! interfaces per `mynetworks_style`: `host` lists each address (/32,
//! /128), `subnet` each interface's network, `class` the class A/B/C
//! network of each IPv4 address (IPv6 as `subnet`); `inet_interfaces`
//! selects the addresses and `inet_protocols` the address families.
//!
//! ## SEE ALSO
//! postconf(5) "myhostname", "mydomain", "mynetworks"

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host name as the system knows it.
pub fn system_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The default for `myhostname`; `mydomain` is the configured (expanded)
/// value, if any.
pub fn myhostname(mydomain: Option<&str>) -> String {
    let host = system_hostname();
    if host.contains('.') {
        return host;
    }
    // A configured mydomain is used even when it expands to nothing, as
    // Postfix does ("host.").
    match mydomain {
        Some(d) => format!("{host}.{d}"),
        None => format!("{host}.localdomain"),
    }
}

/// The default for `mydomain`, from the (expanded) `myhostname`.
pub fn mydomain(myhostname: &str) -> String {
    match myhostname.split_once('.') {
        Some((_, rest)) => rest.to_string(),
        None => "localdomain".to_string(),
    }
}

/// Which address families `inet_protocols` selects.
pub fn protocols(inet_protocols: &str) -> (bool, bool) {
    let mut v4 = false;
    let mut v6 = false;
    for p in crate::value::list(inet_protocols) {
        match p.to_ascii_lowercase().as_str() {
            "all" => {
                v4 = true;
                v6 = true;
            }
            "ipv4" => v4 = true,
            "ipv6" => v6 = true,
            _ => {}
        }
    }
    (v4, v6)
}

/// The default for `mynetworks`, for `inet_interfaces = all`.
pub fn mynetworks(style: &str, inet_protocols: &str) -> String {
    mynetworks_for(style, inet_protocols, "all")
}

/// The local addresses that `inet_interfaces` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Interfaces {
    All,
    /// Loopback addresses (`loopback-only`) and these addresses.
    Some {
        loopback: bool,
        addrs: Vec<IpAddr>,
    },
}

impl Interfaces {
    fn parse(inet_interfaces: &str) -> Interfaces {
        let mut loopback = false;
        let mut addrs = Vec::new();
        for item in crate::value::list(inet_interfaces) {
            let lower = item.to_ascii_lowercase();
            if lower == "all" {
                return Interfaces::All;
            }
            if lower == "loopback-only" {
                loopback = true;
                continue;
            }
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(a) => addrs.push(a),
                Err(_) => {
                    use std::net::ToSocketAddrs;
                    if let Ok(found) = (bare, 0).to_socket_addrs() {
                        addrs.extend(found.map(|sa| sa.ip()));
                    }
                }
            }
        }
        Interfaces::Some { loopback, addrs }
    }

    fn selects(&self, a: IpAddr) -> bool {
        match self {
            Interfaces::All => true,
            Interfaces::Some { loopback, addrs } => {
                (*loopback && a.is_loopback()) || addrs.contains(&a)
            }
        }
    }
}

/// The default for `mynetworks`: the networks of the local addresses that
/// `inet_interfaces` selects (`all`, `loopback-only`, addresses or host
/// names), in the families that `inet_protocols` selects.
pub fn mynetworks_for(style: &str, inet_protocols: &str, inet_interfaces: &str) -> String {
    let wanted = Interfaces::parse(inet_interfaces);
    let (v4, v6) = protocols(inet_protocols);
    let mut out: Vec<String> = Vec::new();
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return String::new();
    };
    for ifa in addrs {
        let (Some(addr), Some(mask)) = (ifa.address, ifa.netmask) else {
            continue;
        };
        let item = if let (Some(a), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            if !v4 || !wanted.selects(IpAddr::V4(a.ip())) {
                continue;
            }
            network_v4(a.ip(), m.ip(), style)
        } else if let (Some(a), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            if !v6 || !wanted.selects(IpAddr::V6(a.ip())) {
                continue;
            }
            network_v6(a.ip(), m.ip(), style)
        } else {
            continue;
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out.join(" ")
}

fn network_v4(addr: Ipv4Addr, mask: Ipv4Addr, style: &str) -> String {
    let a = u32::from(addr);
    let bits = match style {
        "host" => 32,
        "class" => match a >> 24 {
            0..=127 => 8,
            128..=191 => 16,
            192..=223 => 24,
            _ => u32::from(mask).count_ones(),
        },
        _ => u32::from(mask).count_ones(),
    };
    let net = if bits == 0 {
        0
    } else {
        a & (u32::MAX << (32 - bits))
    };
    format!("{}/{}", IpAddr::V4(Ipv4Addr::from(net)), bits)
}

fn network_v6(addr: Ipv6Addr, mask: Ipv6Addr, style: &str) -> String {
    let a = u128::from(addr);
    let bits = if style == "host" {
        128
    } else {
        u128::from(mask).count_ones()
    };
    let net = if bits == 0 {
        0
    } else {
        a & (u128::MAX << (128 - bits))
    };
    format!("[{}]/{}", Ipv6Addr::from(net), bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_from_host() {
        assert_eq!(mydomain("a.b.c"), "b.c");
        assert_eq!(mydomain("a.b"), "b");
        assert_eq!(mydomain("a"), "localdomain");
        // Postfix takes what follows the first dot, even nothing.
        assert_eq!(mydomain("a."), "");
    }

    #[test]
    fn network_styles() {
        let (a, m) = (Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(network_v4(a, m, "host"), "192.0.2.2/32");
        assert_eq!(network_v4(a, m, "subnet"), "192.0.2.0/24");
        assert_eq!(
            network_v4(
                Ipv4Addr::new(127, 0, 0, 1),
                Ipv4Addr::new(255, 0, 0, 0),
                "subnet"
            ),
            "127.0.0.0/8"
        );
        assert_eq!(
            network_v4(
                Ipv4Addr::new(10, 1, 2, 3),
                Ipv4Addr::new(255, 255, 255, 0),
                "class"
            ),
            "10.0.0.0/8"
        );
        let a6: Ipv6Addr = "fe80::fc:ff:fe00:1".parse().unwrap();
        let m6: Ipv6Addr = "ffff:ffff:ffff:ffff::".parse().unwrap();
        assert_eq!(network_v6(a6, m6, "subnet"), "[fe80::]/64");
        assert_eq!(network_v6(a6, m6, "host"), "[fe80::fc:ff:fe00:1]/128");
        assert_eq!(protocols("ipv4"), (true, false));
        assert_eq!(protocols("all"), (true, true));
    }

    #[test]
    fn interfaces_select_addresses() {
        let lo = Interfaces::parse("loopback-only");
        assert!(lo.selects("127.0.0.1".parse().unwrap()));
        assert!(lo.selects("::1".parse().unwrap()));
        assert!(!lo.selects("192.0.2.2".parse().unwrap()));
        let some = Interfaces::parse("192.0.2.2, [::1]");
        assert!(some.selects("::1".parse().unwrap()));
        assert!(!some.selects("127.0.0.1".parse().unwrap()));
        assert_eq!(Interfaces::parse("ALL"), Interfaces::All);
        assert_eq!(
            mynetworks_for("host", "ipv4", "loopback-only"),
            "127.0.0.1/32"
        );
    }

    #[test]
    fn loopback_is_in_mynetworks() {
        assert!(
            mynetworks("host", "ipv4")
                .split(' ')
                .any(|n| n == "127.0.0.1/32")
        );
    }
}
