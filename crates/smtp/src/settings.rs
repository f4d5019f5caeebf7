//! # NAME
//! settings — the parameters of smtp(8) and lmtp(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let s = Settings::from_config(&ctx.cfg, Mode::Lmtp)?;
//! s.helo_name   // lmtp_lhlo_name for LMTP, smtp_helo_name for SMTP
//! ```
//!
//! ## DESCRIPTION
//! One program, two parameter families: run as `lmtp` it reads the
//! `lmtp_*` parameters, as `smtp` (or any service name that runs the
//! smtp program, such as `relay`) the `smtp_*` ones, as Postfix does.
//! Per-service `-o` overrides from master.cf are already applied to the
//! configuration. A parameter with a bad value is a fatal configuration
//! error, reported by the caller.
//!
//! ## SEE ALSO
//! postconf(5), smtp(8), lmtp(8)

use std::net::IpAddr;
use std::time::Duration;

use config::params::{self, BoolParam, IntParam, StrParam, TimeParam};
use config::{Config, ConfigError};
use tls::policy::Level;

/// Which protocol the program speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Smtp,
    Lmtp,
}

/// Which address families to use (`inet_protocols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    pub v4: bool,
    pub v6: bool,
}

/// `smtp_address_preference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    Any,
    Ipv4,
    Ipv6,
}

/// `smtp_dns_support_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSupport {
    Disabled,
    Enabled,
    Dnssec,
}

/// The time limits of the protocol stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub helo: Duration,
    pub starttls: Duration,
    pub mail: Duration,
    pub rcpt: Duration,
    pub data_init: Duration,
    pub data_xfer: Duration,
    pub data_done: Duration,
    pub rset: Duration,
    pub quit: Duration,
}

/// The TLS parameters.
#[derive(Debug, Clone)]
pub struct TlsParams {
    pub level: Level,
    pub policy_maps: String,
    pub protocols: String,
    pub mandatory_protocols: String,
    pub servername: String,
    pub wrappermode: bool,
    pub verify_cert_match: Vec<String>,
    pub secure_cert_match: Vec<String>,
    pub ca_file: String,
    pub ca_path: String,
    pub append_default_ca: bool,
    pub cert_file: String,
    pub key_file: String,
    /// `smtp_tls_loglevel`: 1 and up log each session.
    pub loglevel: i64,
}

/// The SASL parameters.
#[derive(Debug, Clone)]
pub struct SaslParams {
    pub enable: bool,
    pub password_maps: String,
    pub security_options: Vec<String>,
    pub tls_security_options: Vec<String>,
    pub sender_dependent: bool,
    pub mechanism_filter: Vec<String>,
    pub soft_bounce: bool,
}

/// Everything the agent reads from main.cf.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// The master.cf service name (`smtp`, `relay`, `lmtp`).
    pub service: String,
    pub myhostname: String,
    pub helo_name: String,
    pub default_port: u16,
    pub dns_lookup: bool,
    pub native_lookup: bool,
    pub disable_dns: bool,
    pub dns_support: DnsSupport,
    pub families: Families,
    pub preference: Preference,
    pub mx_address_limit: usize,
    pub mx_session_limit: usize,
    pub fallback_relay: Vec<String>,
    pub defer_if_no_mx_address_found: bool,
    pub skip_5xx_greeting: bool,
    pub never_send_ehlo: bool,
    pub bind_address: Option<IpAddr>,
    pub bind_address6: Option<IpAddr>,
    pub timeouts: Timeouts,
    pub line_length_limit: usize,
    pub discard_ehlo_keywords: Vec<String>,
    pub disable_mime_output_conversion: bool,
    pub smtputf8_enable: bool,
    pub randomize_addresses: bool,
    pub skip_quit_response: bool,
    pub cache_on_demand: bool,
    pub cache_destinations: String,
    pub cache_time_limit: Duration,
    pub reuse_time_limit: Duration,
    pub reuse_count_limit: u64,
    pub scache_service: String,
    pub scache_timeout: Duration,
    pub tls: TlsParams,
    pub sasl: SaslParams,
}

/// Reads one of a pair of parameters, as the mode says.
struct Pick<'a> {
    cfg: &'a Config,
    lmtp: bool,
}

impl Pick<'_> {
    fn str(&self, s: &StrParam, l: &StrParam) -> Result<String, ConfigError> {
        self.cfg.str(if self.lmtp { l } else { s })
    }
    fn list(&self, s: &StrParam, l: &StrParam) -> Result<Vec<String>, ConfigError> {
        self.cfg.list(if self.lmtp { l } else { s })
    }
    fn bool(&self, s: &BoolParam, l: &BoolParam) -> Result<bool, ConfigError> {
        self.cfg.bool(if self.lmtp { l } else { s })
    }
    fn int(&self, s: &IntParam, l: &IntParam) -> Result<i64, ConfigError> {
        self.cfg.int(if self.lmtp { l } else { s })
    }
    fn time(&self, s: &TimeParam, l: &TimeParam) -> Result<Duration, ConfigError> {
        self.cfg.time(if self.lmtp { l } else { s })
    }
}

fn bad(name: &str, value: &str) -> ConfigError {
    ConfigError::Value {
        where_: String::new(),
        what: "value",
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// A port number or a service name (`smtp`, `submission`, ...).
pub fn port_of(service: &str) -> Option<u16> {
    if let Ok(n) = service.parse::<u16>() {
        return (n != 0).then_some(n);
    }
    let known = [
        ("smtp", 25),
        ("submission", 587),
        ("submissions", 465),
        ("smtps", 465),
        ("lmtp", 24),
    ];
    if let Some((_, p)) = known.iter().find(|(n, _)| n.eq_ignore_ascii_case(service)) {
        return Some(*p);
    }
    let text = std::fs::read_to_string("/etc/services").ok()?;
    text.lines().find_map(|l| {
        let l = l.split('#').next()?;
        let mut w = l.split_whitespace();
        let name = w.next()?;
        let (port, proto) = w.next()?.split_once('/')?;
        let aliases: Vec<&str> = w.collect();
        ((name == service || aliases.contains(&service)) && proto == "tcp")
            .then(|| port.parse().ok())
            .flatten()
    })
}

fn families(value: &str) -> Result<Families, ConfigError> {
    let mut f = Families {
        v4: false,
        v6: false,
    };
    for w in value
        .split([' ', ',', '\t'])
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
    {
        match w.as_str() {
            "all" => {
                f.v4 = true;
                f.v6 = true;
            }
            "ipv4" => f.v4 = true,
            "ipv6" => f.v6 = true,
            _ => return Err(bad(params::INET_PROTOCOLS.name(), value)),
        }
    }
    if !f.v4 && !f.v6 {
        return Err(bad(params::INET_PROTOCOLS.name(), value));
    }
    Ok(f)
}

fn address(name: &str, value: &str) -> Result<Option<IpAddr>, ConfigError> {
    let v = value.trim().trim_start_matches('[').trim_end_matches(']');
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| bad(name, value))
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.to_ascii_lowercase()).collect()
}

impl Settings {
    pub fn from_config(cfg: &Config, mode: Mode, service: &str) -> Result<Settings, ConfigError> {
        let lmtp = mode == Mode::Lmtp;
        let p = Pick { cfg, lmtp };
        use params as P;
        let default_port = if lmtp {
            let n = cfg.int(&P::LMTP_TCP_PORT)?;
            u16::try_from(n)
                .ok()
                .filter(|&n| n != 0)
                .ok_or_else(|| bad(P::LMTP_TCP_PORT.name(), &n.to_string()))?
        } else {
            let v = cfg.str(&P::SMTP_TCP_PORT)?;
            port_of(&v).ok_or_else(|| bad(P::SMTP_TCP_PORT.name(), &v))?
        };
        let lookup = p.list(&P::SMTP_HOST_LOOKUP, &P::LMTP_HOST_LOOKUP)?;
        let mut dns_lookup = false;
        let mut native_lookup = false;
        for w in &lookup {
            match w.to_ascii_lowercase().as_str() {
                "dns" => dns_lookup = true,
                "native" => native_lookup = true,
                _ => return Err(bad(P::SMTP_HOST_LOOKUP.name(), &lookup.join(", "))),
            }
        }
        let disable_dns = cfg.bool(&P::DISABLE_DNS_LOOKUPS)?;
        let support = p.str(&P::SMTP_DNS_SUPPORT_LEVEL, &P::LMTP_DNS_SUPPORT_LEVEL)?;
        let dns_support = match support.trim().to_ascii_lowercase().as_str() {
            "" | "enabled" => DnsSupport::Enabled,
            "disabled" => DnsSupport::Disabled,
            "dnssec" => DnsSupport::Dnssec,
            _ => return Err(bad(P::SMTP_DNS_SUPPORT_LEVEL.name(), &support)),
        };
        let pref = p.str(&P::SMTP_ADDRESS_PREFERENCE, &P::LMTP_ADDRESS_PREFERENCE)?;
        let preference = match pref.trim().to_ascii_lowercase().as_str() {
            "any" => Preference::Any,
            "ipv4" => Preference::Ipv4,
            "ipv6" => Preference::Ipv6,
            _ => return Err(bad(P::SMTP_ADDRESS_PREFERENCE.name(), &pref)),
        };
        let timeouts = Timeouts {
            connect: p.time(&P::SMTP_CONNECT_TIMEOUT, &P::LMTP_CONNECT_TIMEOUT)?,
            helo: p.time(&P::SMTP_HELO_TIMEOUT, &P::LMTP_LHLO_TIMEOUT)?,
            starttls: p.time(&P::SMTP_STARTTLS_TIMEOUT, &P::LMTP_STARTTLS_TIMEOUT)?,
            mail: p.time(&P::SMTP_MAIL_TIMEOUT, &P::LMTP_MAIL_TIMEOUT)?,
            rcpt: p.time(&P::SMTP_RCPT_TIMEOUT, &P::LMTP_RCPT_TIMEOUT)?,
            data_init: p.time(&P::SMTP_DATA_INIT_TIMEOUT, &P::LMTP_DATA_INIT_TIMEOUT)?,
            data_xfer: p.time(&P::SMTP_DATA_XFER_TIMEOUT, &P::LMTP_DATA_XFER_TIMEOUT)?,
            data_done: p.time(&P::SMTP_DATA_DONE_TIMEOUT, &P::LMTP_DATA_DONE_TIMEOUT)?,
            rset: p.time(&P::SMTP_RSET_TIMEOUT, &P::LMTP_RSET_TIMEOUT)?,
            quit: p.time(&P::SMTP_QUIT_TIMEOUT, &P::LMTP_QUIT_TIMEOUT)?,
        };
        let level_text = p.str(&P::SMTP_TLS_SECURITY_LEVEL, &P::LMTP_TLS_SECURITY_LEVEL)?;
        let level = if level_text.trim().is_empty() {
            // The obsolete switches, as Postfix still honours them.
            if p.bool(&P::SMTP_ENFORCE_TLS, &P::LMTP_ENFORCE_TLS)? {
                if p.bool(&P::SMTP_TLS_ENFORCE_PEERNAME, &P::LMTP_TLS_ENFORCE_PEERNAME)? {
                    Level::Verify
                } else {
                    Level::Encrypt
                }
            } else if p.bool(&P::SMTP_USE_TLS, &P::LMTP_USE_TLS)? {
                Level::May
            } else {
                Level::None
            }
        } else {
            Level::parse(&level_text)
                .ok_or_else(|| bad(P::SMTP_TLS_SECURITY_LEVEL.name(), &level_text))?
        };
        let tls = TlsParams {
            level,
            policy_maps: p.str(&P::SMTP_TLS_POLICY_MAPS, &P::LMTP_TLS_POLICY_MAPS)?,
            protocols: p.str(&P::SMTP_TLS_PROTOCOLS, &P::LMTP_TLS_PROTOCOLS)?,
            mandatory_protocols: p.str(
                &P::SMTP_TLS_MANDATORY_PROTOCOLS,
                &P::LMTP_TLS_MANDATORY_PROTOCOLS,
            )?,
            servername: p.str(&P::SMTP_TLS_SERVERNAME, &P::LMTP_TLS_SERVERNAME)?,
            wrappermode: p.bool(&P::SMTP_TLS_WRAPPERMODE, &P::LMTP_TLS_WRAPPERMODE)?,
            verify_cert_match: lower(p.list(
                &P::SMTP_TLS_VERIFY_CERT_MATCH,
                &P::LMTP_TLS_VERIFY_CERT_MATCH,
            )?),
            secure_cert_match: lower(p.list(
                &P::SMTP_TLS_SECURE_CERT_MATCH,
                &P::LMTP_TLS_SECURE_CERT_MATCH,
            )?),
            ca_file: p.str(&P::SMTP_TLS_CAFILE, &P::LMTP_TLS_CAFILE)?,
            ca_path: p.str(&P::SMTP_TLS_CAPATH, &P::LMTP_TLS_CAPATH)?,
            append_default_ca: cfg.bool(&P::TLS_APPEND_DEFAULT_CA)?,
            cert_file: p.str(&P::SMTP_TLS_CERT_FILE, &P::LMTP_TLS_CERT_FILE)?,
            key_file: p.str(&P::SMTP_TLS_KEY_FILE, &P::LMTP_TLS_KEY_FILE)?,
            loglevel: p.int(&P::SMTP_TLS_LOGLEVEL, &P::LMTP_TLS_LOGLEVEL)?,
        };
        let sasl = SaslParams {
            enable: p.bool(&P::SMTP_SASL_AUTH_ENABLE, &P::LMTP_SASL_AUTH_ENABLE)?,
            password_maps: p.str(&P::SMTP_SASL_PASSWORD_MAPS, &P::LMTP_SASL_PASSWORD_MAPS)?,
            security_options: lower(p.list(
                &P::SMTP_SASL_SECURITY_OPTIONS,
                &P::LMTP_SASL_SECURITY_OPTIONS,
            )?),
            tls_security_options: lower(p.list(
                &P::SMTP_SASL_TLS_SECURITY_OPTIONS,
                &P::LMTP_SASL_TLS_SECURITY_OPTIONS,
            )?),
            sender_dependent: p.bool(
                &P::SMTP_SENDER_DEPENDENT_AUTHENTICATION,
                &P::LMTP_SENDER_DEPENDENT_AUTHENTICATION,
            )?,
            mechanism_filter: p
                .list(
                    &P::SMTP_SASL_MECHANISM_FILTER,
                    &P::LMTP_SASL_MECHANISM_FILTER,
                )?
                .into_iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            soft_bounce: p.bool(
                &P::SMTP_SASL_AUTH_SOFT_BOUNCE,
                &P::LMTP_SASL_AUTH_SOFT_BOUNCE,
            )?,
        };
        let count = |v: i64| v.max(0) as usize;
        Ok(Settings {
            mode,
            service: service.to_string(),
            myhostname: cfg.str(&P::MYHOSTNAME)?,
            helo_name: p.str(&P::SMTP_HELO_NAME, &P::LMTP_LHLO_NAME)?,
            default_port,
            dns_lookup,
            native_lookup,
            disable_dns,
            dns_support,
            families: families(&cfg.str(&P::INET_PROTOCOLS)?)?,
            preference,
            mx_address_limit: count(p.int(&P::SMTP_MX_ADDRESS_LIMIT, &P::LMTP_MX_ADDRESS_LIMIT)?),
            mx_session_limit: count(p.int(&P::SMTP_MX_SESSION_LIMIT, &P::LMTP_MX_SESSION_LIMIT)?),
            fallback_relay: p.list(&P::SMTP_FALLBACK_RELAY, &P::LMTP_FALLBACK_RELAY)?,
            defer_if_no_mx_address_found: p.bool(
                &P::SMTP_DEFER_IF_NO_MX_ADDRESS_FOUND,
                &P::LMTP_DEFER_IF_NO_MX_ADDRESS_FOUND,
            )?,
            skip_5xx_greeting: p.bool(&P::SMTP_SKIP_5XX_GREETING, &P::LMTP_SKIP_5XX_GREETING)?,
            never_send_ehlo: !lmtp && cfg.bool(&P::SMTP_NEVER_SEND_EHLO)?,
            bind_address: address(
                P::SMTP_BIND_ADDRESS.name(),
                &p.str(&P::SMTP_BIND_ADDRESS, &P::LMTP_BIND_ADDRESS)?,
            )?,
            bind_address6: address(
                P::SMTP_BIND_ADDRESS6.name(),
                &p.str(&P::SMTP_BIND_ADDRESS6, &P::LMTP_BIND_ADDRESS6)?,
            )?,
            timeouts,
            line_length_limit: count(
                p.int(&P::SMTP_LINE_LENGTH_LIMIT, &P::LMTP_LINE_LENGTH_LIMIT)?,
            ),
            discard_ehlo_keywords: lower(p.list(
                &P::SMTP_DISCARD_EHLO_KEYWORDS,
                &P::LMTP_DISCARD_LHLO_KEYWORDS,
            )?),
            disable_mime_output_conversion: cfg.bool(&P::DISABLE_MIME_OUTPUT_CONVERSION)?,
            smtputf8_enable: cfg.bool(&P::SMTPUTF8_ENABLE)?,
            randomize_addresses: p
                .bool(&P::SMTP_RANDOMIZE_ADDRESSES, &P::LMTP_RANDOMIZE_ADDRESSES)?,
            skip_quit_response: p.bool(&P::SMTP_SKIP_QUIT_RESPONSE, &P::LMTP_SKIP_QUIT_RESPONSE)?,
            cache_on_demand: p.bool(
                &P::SMTP_CONNECTION_CACHE_ON_DEMAND,
                &P::LMTP_CONNECTION_CACHE_ON_DEMAND,
            )?,
            cache_destinations: p.str(
                &P::SMTP_CONNECTION_CACHE_DESTINATIONS,
                &P::LMTP_CONNECTION_CACHE_DESTINATIONS,
            )?,
            cache_time_limit: p.time(
                &P::SMTP_CONNECTION_CACHE_TIME_LIMIT,
                &P::LMTP_CONNECTION_CACHE_TIME_LIMIT,
            )?,
            reuse_time_limit: p.time(
                &P::SMTP_CONNECTION_REUSE_TIME_LIMIT,
                &P::LMTP_CONNECTION_REUSE_TIME_LIMIT,
            )?,
            reuse_count_limit: p
                .int(
                    &P::SMTP_CONNECTION_REUSE_COUNT_LIMIT,
                    &P::LMTP_CONNECTION_REUSE_COUNT_LIMIT,
                )?
                .max(0) as u64,
            scache_service: cfg.str(&P::CONNECTION_CACHE_SERVICE_NAME)?,
            scache_timeout: cfg.time(&P::CONNECTION_CACHE_PROTOCOL_TIMEOUT)?,
            tls,
            sasl,
        })
    }

    /// The protocol's name in log lines and replies (`SMTP`, `LMTP`).
    pub fn proto_name(&self) -> &'static str {
        match self.mode {
            Mode::Smtp => "SMTP",
            Mode::Lmtp => "LMTP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::from_text(std::path::Path::new("/nonexistent"), text).unwrap()
    }

    #[test]
    fn smtp_and_lmtp_read_their_own_parameters() {
        let c = cfg(
            "smtp_helo_name = out.example\nlmtp_lhlo_name = in.example\n\
                     smtp_tls_security_level = encrypt\nlmtp_tcp_port = 2424\n\
                     inet_protocols = ipv4\nsmtp_bind_address = 192.0.2.7\n",
        );
        let s = Settings::from_config(&c, Mode::Smtp, "relay").unwrap();
        assert_eq!(s.helo_name, "out.example");
        assert_eq!(s.default_port, 25);
        assert_eq!(s.tls.level, Level::Encrypt);
        assert_eq!(s.service, "relay");
        assert_eq!(
            s.families,
            Families {
                v4: true,
                v6: false
            }
        );
        assert_eq!(s.bind_address, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(s.timeouts.connect, Duration::from_secs(30));
        assert_eq!(s.line_length_limit, 998);
        assert_eq!(s.sasl.security_options, vec!["noplaintext", "noanonymous"]);
        let l = Settings::from_config(&c, Mode::Lmtp, "lmtp").unwrap();
        assert_eq!(l.helo_name, "in.example");
        assert_eq!(l.default_port, 2424);
        assert_eq!(l.tls.level, Level::None);
        assert_eq!(l.timeouts.connect, Duration::ZERO);
        assert_eq!(l.proto_name(), "LMTP");
    }

    #[test]
    fn legacy_tls_switches_and_errors() {
        let s = Settings::from_config(&cfg("smtp_use_tls = yes\n"), Mode::Smtp, "smtp").unwrap();
        assert_eq!(s.tls.level, Level::May);
        let s =
            Settings::from_config(&cfg("smtp_enforce_tls = yes\n"), Mode::Smtp, "smtp").unwrap();
        assert_eq!(s.tls.level, Level::Verify);
        assert!(
            Settings::from_config(
                &cfg("smtp_tls_security_level = maybe\n"),
                Mode::Smtp,
                "smtp"
            )
            .is_err()
        );
        assert!(Settings::from_config(&cfg("inet_protocols = ipx\n"), Mode::Smtp, "smtp").is_err());
        assert!(
            Settings::from_config(&cfg("smtp_host_lookup = nis\n"), Mode::Smtp, "smtp").is_err()
        );
    }

    #[test]
    fn ports() {
        assert_eq!(port_of("25"), Some(25));
        assert_eq!(port_of("submission"), Some(587));
        assert_eq!(port_of("0"), None);
        assert_eq!(port_of("no-such-service-here"), None);
    }
}
