//! # NAME
//! ent — service definitions from master.cf and main.cf
//!
//! ## SYNOPSIS
//! ```ignore
//! let defs = ent::load(&cfg, &services)?;
//! ```
//!
//! ## DESCRIPTION
//! Turns each master.cf entry into what master(8) acts on: the program to
//! run (relative to `daemon_directory`), its argument vector with the
//! generic daemon options, the process limit (`-` is
//! `default_process_limit`, 0 is no limit), the wakeup period, and the
//! listening endpoints. A `unix`, `unix-dgram`, `fifo` or `pass` service
//! listens on `private/NAME` or `public/NAME` in the queue directory; an
//! `inet` service on `[host:]port`, where a missing host means every
//! address of `inet_interfaces` in the families of `inet_protocols`.
//!
//! ## SEE ALSO
//! master(5), [`crate::listen`]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use config::master_cf::{Service, Wakeup};
use config::{Config, ServiceType, params};

/// Where a service listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A stream socket (unix and pass services), relative to the queue
    /// directory.
    Unix(PathBuf),
    Dgram(PathBuf),
    Fifo(PathBuf),
    Inet(SocketAddr),
}

/// What master needs to run one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDef {
    pub name: String,
    pub kind: ServiceType,
    /// `name/type`, for messages.
    pub id: String,
    pub path: PathBuf,
    pub argv: Vec<String>,
    /// 0 = no limit.
    pub max_proc: u32,
    pub wakeup: Option<Wakeup>,
    pub endpoints: Vec<Endpoint>,
    /// The `-o` settings, checked with the rest of the configuration.
    pub overrides: Vec<(String, String)>,
}

/// Builds the definitions; errors name the master.cf line.
pub fn load(cfg: &Config, services: &[Service], verbose: u32) -> Result<Vec<ServiceDef>, String> {
    let daemon_dir = PathBuf::from(
        cfg.str(&params::DAEMON_DIRECTORY)
            .map_err(|e| e.to_string())?,
    );
    let default_limit = cfg
        .int(&params::DEFAULT_PROCESS_LIMIT)
        .map_err(|e| e.to_string())?;
    let master_cf = cfg.config_dir().join("master.cf");
    let mut defs = Vec::with_capacity(services.len());
    for s in services {
        let at = |msg: String| format!("{}, line {}: {}", master_cf.display(), s.line, msg);
        let private = match s.kind {
            ServiceType::Inet => false,
            _ => s.private.unwrap_or(true),
        };
        let endpoints = match s.kind {
            ServiceType::Inet => inet_endpoints(cfg, &s.name).map_err(at)?,
            kind => {
                let dir = if private { "private" } else { "public" };
                if s.name.contains('/') || s.name.is_empty() || s.name.starts_with('.') {
                    return Err(at(format!("bad service name \"{}\"", s.name)));
                }
                let path = PathBuf::from(dir).join(&s.name);
                vec![match kind {
                    ServiceType::UnixDgram => Endpoint::Dgram(path),
                    ServiceType::Fifo => Endpoint::Fifo(path),
                    _ => Endpoint::Unix(path),
                }]
            }
        };
        let max_proc = match s.maxproc {
            Some(n) => n,
            None => u32::try_from(default_limit.max(0)).unwrap_or(u32::MAX),
        };
        let mut argv = vec![s.command.clone()];
        if max_proc == 1 {
            argv.push("-l".into());
        }
        if s.name != s.command {
            argv.extend(["-n".into(), s.name.clone()]);
        }
        argv.extend(["-t".into(), s.kind.to_string()]);
        if s.unpriv.unwrap_or(true) {
            argv.push("-u".into());
        }
        if s.chroot == Some(true) {
            argv.push("-c".into());
        }
        if endpoints.len() > 1 {
            argv.extend(["-s".into(), endpoints.len().to_string()]);
        }
        for _ in 0..verbose {
            argv.push("-v".into());
        }
        for (n, v) in &s.overrides {
            argv.extend(["-o".into(), format!("{n}={v}")]);
        }
        argv.extend(s.plain_args());
        defs.push(ServiceDef {
            name: s.name.clone(),
            kind: s.kind,
            id: s.id(),
            path: daemon_dir.join(&s.command),
            argv,
            max_proc,
            wakeup: s.wakeup,
            endpoints,
            overrides: s.overrides.clone(),
        });
    }
    Ok(defs)
}

/// Splits `[host:]port`; an IPv6 host is written in brackets.
pub fn split_host_port(name: &str) -> (Option<&str>, &str) {
    if let Some(rest) = name.strip_prefix('[')
        && let Some((host, port)) = rest.split_once("]:") {
            return (Some(host), port);
        }
    match name.rsplit_once(':') {
        Some((host, port)) => (Some(host), port),
        None => (None, name),
    }
}

/// A port number or a name from /etc/services (tcp).
pub fn resolve_port(port: &str) -> Option<u16> {
    if let Ok(n) = port.parse::<u16>() {
        return (n != 0).then_some(n);
    }
    let services = std::fs::read_to_string("/etc/services").ok()?;
    for line in services.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_whitespace();
        let (Some(name), Some(pp)) = (f.next(), f.next()) else {
            continue;
        };
        let Some((num, proto)) = pp.split_once('/') else {
            continue;
        };
        if proto == "tcp" && (name == port || f.any(|alias| alias == port)) {
            return num.parse().ok();
        }
    }
    None
}

fn inet_endpoints(cfg: &Config, name: &str) -> Result<Vec<Endpoint>, String> {
    let (host, port) = split_host_port(name);
    let port = resolve_port(port).ok_or_else(|| format!("unknown service: {port}/tcp"))?;
    let protocols = cfg
        .str(&params::INET_PROTOCOLS)
        .map_err(|e| e.to_string())?;
    let (v4, v6) = config::computed::protocols(&protocols);
    let wanted = |ip: &IpAddr| (ip.is_ipv4() && v4) || (ip.is_ipv6() && v6);
    let hosts: Vec<String> = match host {
        Some(h) if !h.is_empty() && h != "*" => vec![h.to_string()],
        _ => cfg
            .list(&params::INET_INTERFACES)
            .map_err(|e| e.to_string())?,
    };
    let mut out = Vec::new();
    for h in hosts {
        let ips: Vec<IpAddr> = match h.to_ascii_lowercase().as_str() {
            "all" => vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ],
            "loopback-only" => vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            _ => {
                let bare = h.trim_start_matches('[').trim_end_matches(']');
                match bare.parse::<IpAddr>() {
                    Ok(ip) => vec![ip],
                    Err(_) => (bare, 0)
                        .to_socket_addrs()
                        .map_err(|e| format!("host or service {h} not found: {e}"))?
                        .map(|a| a.ip())
                        .collect(),
                }
            }
        };
        for ip in ips.into_iter().filter(wanted) {
            let ep = Endpoint::Inet(SocketAddr::new(ip, port));
            if !out.contains(&ep) {
                out.push(ep);
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no local interface found for {name} with inet_protocols = {protocols}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn defs(main: &str, master: &str) -> Result<Vec<ServiceDef>, String> {
        let cfg = Config::from_text(Path::new("/etc/postfix"), main).unwrap();
        let services = config::master_cf::parse(master, Path::new("master.cf")).unwrap();
        load(&cfg, &services, 0)
    }

    #[test]
    fn argv_like_postfix() {
        let d = defs(
            "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n",
            "127.0.0.1:2525 inet n - n - - smtpd\npickup unix n - y 60 1 pickup\n\
             postlog unix-dgram n - n - 1 postlogd\nrelay unix - - n - - smtp -o syslog_name=postfix/$service_name\n",
        )
        .unwrap();
        assert_eq!(
            d[0].argv,
            ["smtpd", "-n", "127.0.0.1:2525", "-t", "inet", "-u"]
        );
        assert_eq!(
            d[0].endpoints,
            [Endpoint::Inet("127.0.0.1:2525".parse().unwrap())]
        );
        assert_eq!(d[0].max_proc, 100);
        assert_eq!(d[1].argv, ["pickup", "-l", "-t", "unix", "-u", "-c"]);
        assert_eq!(d[1].endpoints, [Endpoint::Unix("public/pickup".into())]);
        assert_eq!(d[1].path, Path::new("/usr/libexec/postfix/pickup"));
        assert_eq!(
            d[2].argv,
            ["postlogd", "-l", "-n", "postlog", "-t", "unix-dgram", "-u"]
        );
        assert_eq!(d[2].endpoints, [Endpoint::Dgram("public/postlog".into())]);
        assert_eq!(
            d[3].argv,
            [
                "smtp",
                "-n",
                "relay",
                "-t",
                "unix",
                "-u",
                "-o",
                "syslog_name=postfix/$service_name"
            ]
        );
        assert_eq!(d[3].endpoints, [Endpoint::Unix("private/relay".into())]);
    }

    #[test]
    fn inet_interfaces_and_protocols() {
        let d = defs(
            "inet_interfaces = loopback-only\ninet_protocols = all\n",
            "smtp inet n - n - - smtpd\n",
        )
        .unwrap();
        assert_eq!(
            d[0].endpoints,
            [
                Endpoint::Inet("127.0.0.1:25".parse().unwrap()),
                Endpoint::Inet("[::1]:25".parse().unwrap())
            ]
        );
        assert!(d[0].argv.contains(&"-s".to_string()));
        let d = defs("inet_protocols = ipv4\n", "[::1]:25 inet n - n - - smtpd\n");
        assert!(d.is_err());
        let d = defs("", "smtp inet n - n - - smtpd\n").unwrap();
        assert_eq!(d[0].endpoints.len(), 2);
        assert!(defs("", "nosuch inet n - n - - smtpd\n").is_err());
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("smtp"), (None, "smtp"));
        assert_eq!(
            split_host_port("127.0.0.1:2525"),
            (Some("127.0.0.1"), "2525")
        );
        assert_eq!(split_host_port("[::1]:25"), (Some("::1"), "25"));
        assert_eq!(resolve_port("2525"), Some(2525));
        assert_eq!(resolve_port("smtp"), Some(25));
        assert_eq!(resolve_port("0"), None);
    }
}
