//! # smtp(8), lmtp(8) — Postfix SMTP and LMTP clients
//!
//! ## SYNOPSIS
//! `smtp` [generic daemon options] [-o name=value] ...
//! `lmtp` [generic daemon options] [-o name=value] ...
//!
//! ## DESCRIPTION
//! Delivery agents for mail that leaves the host: qmgr(8) hands them a
//! message, a next hop and recipients; they find the servers of the next
//! hop ([`addr`], [`dns`]), connect, speak SMTP or LMTP with PIPELINING,
//! SIZE, 8BITMIME, SMTPUTF8, DSN and CHUNKING ([`proto`]), STARTTLS with
//! the configured security level and DANE ([`tlspolicy`], the `tls`
//! crate), SMTP AUTH with PLAIN or LOGIN ([`sasl`]), and report each
//! recipient: `sent` (marked done in the queue file once the server has
//! taken responsibility), deferred or bounced, with Postfix's log line
//! ([`trouble`]). Connections are kept for reuse through scache(8)
//! ([`reuse`]).
//!
//! One program serves both protocols: run as `lmtp` (master.cf
//! `lmtp unix - - n - - lmtp`) it speaks LMTP and reads the `lmtp_*`
//! parameters; as `smtp` it speaks SMTP with the `smtp_*` ones, whatever
//! the service is called (`relay` in the stock master.cf).
//!
//! ## SECURITY
//! Talks to servers on the network and reads their replies as untrusted
//! data: replies are bounded in line length and count, logged through
//! the sanitizer, and never interpreted beyond codes and ESMTP keywords.
//! Runs as `mail_owner`, chrooted when master.cf says so; opens its
//! lookup tables before dropping privileges. Opens queue files for
//! reading and marks delivered recipients in place (shared lock).
//!
//! ## DIAGNOSTICS
//! `connect to host[addr]:port: reason` for each address that fails;
//! `Trusted TLS connection established to host[addr]:port: ...` for TLS
//! sessions; the per-recipient `to=<...>, relay=..., delay=...,
//! delays=..., dsn=..., status=...` line.
//!
//! ## BUGS
//! TLS sessions are not cached across processes (Postfix needs
//! tlsproxy(8) for that). SASL mechanisms are PLAIN and LOGIN only.
//! `smtp_generic_maps`, `smtp_header_checks` and the other content
//! filters of the client, XFORWARD, and the `fingerprint` TLS level are
//! not implemented; the level fails loudly.
//!
//! ## SEE ALSO
//! qmgr(8), scache(8), smtpd(8), [`daemon::agent`], man/man8/smtp.8

#![forbid(unsafe_code)]

pub mod addr;
pub mod deliver;
pub mod dns;
pub mod nexthop;
pub mod proto;
pub mod reuse;
pub mod sasl;
pub mod session;
pub mod settings;
pub mod tlspolicy;
pub mod trouble;

use daemon::agent;
use daemon::server::{Client, Ctx, SingleServer, single_server_main};
use daemon::{fatal, info};
use maps::{MapList, OpenFlags};

use crate::settings::{DnsSupport, Mode, Settings};

/// The agent of one process: settings, tables, and what is built on
/// first use (the resolver, the TLS setup).
pub struct Agent {
    pub s: Settings,
    dns: Option<Result<dns::Dns, String>>,
    tls: Option<Result<std::sync::Arc<tls::client::ClientTls>, String>>,
    pub sasl_maps: MapList,
    pub tls_policy_maps: MapList,
    pub cache: reuse::Cache,
    pub rng: addr::Rng,
    pub cache_destinations: Vec<String>,
    pub warned_dane: bool,
}

fn open_maps(ctx: &Ctx, value: &str) -> MapList {
    let mut flags = OpenFlags::for_daemon(&ctx.cfg);
    flags.surrogate = true;
    MapList::open(value, &ctx.cfg, flags).unwrap_or_else(|e| fatal!("{e}"))
}

impl Agent {
    pub fn pre_init(ctx: &Ctx, mode: Mode) -> Agent {
        let s = Settings::from_config(&ctx.cfg, mode, &ctx.args.service)
            .unwrap_or_else(|e| fatal!("{e}"));
        let sasl_maps = if s.sasl.enable {
            open_maps(ctx, &s.sasl.password_maps)
        } else {
            MapList::from_dicts(Vec::new())
        };
        let tls_policy_maps = open_maps(ctx, &s.tls.policy_maps);
        let cache = reuse::Cache::new(
            std::path::PathBuf::from("."),
            &s.scache_service,
            s.scache_timeout,
        );
        let cache_destinations = s
            .cache_destinations
            .split([',', ' ', '\t'])
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        Agent {
            s,
            dns: None,
            tls: None,
            sasl_maps,
            tls_policy_maps,
            cache,
            rng: addr::Rng::new(),
            cache_destinations,
            warned_dane: false,
        }
    }

    /// The resolver, made on first use.
    pub fn dns(&mut self) -> Result<&dns::Dns, String> {
        let dnssec = self.s.dns_support == DnsSupport::Dnssec;
        if self.s.dns_support == DnsSupport::Disabled {
            return Err("DNS lookups are disabled (smtp_dns_support_level = disabled)".into());
        }
        self.dns
            .get_or_insert_with(|| dns::Dns::new(dnssec))
            .as_ref()
            .map_err(|e| e.clone())
    }

    /// The TLS setup, made on first use.
    pub fn client_tls(&mut self) -> Result<std::sync::Arc<tls::client::ClientTls>, String> {
        let t = &self.s.tls;
        let path = |v: &str| (!v.is_empty()).then(|| std::path::PathBuf::from(v));
        let settings = tls::client::ClientSettings {
            ca_file: path(&t.ca_file),
            ca_path: path(&t.ca_path),
            system_roots: t.append_default_ca || (t.ca_file.is_empty() && t.ca_path.is_empty()),
            cert_file: path(&t.cert_file),
            key_file: path(&t.key_file),
        };
        self.tls
            .get_or_insert_with(|| {
                tls::client::ClientTls::new(&settings)
                    .map(std::sync::Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

impl SingleServer for Agent {
    fn serve(&mut self, ctx: &Ctx, client: Client) {
        agent::serve(ctx, client, |job| deliver::deliver(self, job));
        for m in [&self.sasl_maps, &self.tls_policy_maps] {
            if let Some(name) = m.changed_name() {
                info!("table {name} has changed -- restarting");
                std::process::exit(0);
            }
        }
    }
}

/// The program: `smtp` or `lmtp`.
pub fn main(mode: Mode) -> ! {
    let name = match mode {
        Mode::Smtp => "smtp",
        Mode::Lmtp => "lmtp",
    };
    single_server_main(name, |ctx| Agent::pre_init(ctx, mode))
}
