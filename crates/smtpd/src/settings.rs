//! # NAME
//! settings — what smtpd(8) reads from main.cf
//!
//! ## DESCRIPTION
//! Read once when the process starts (a reload starts new processes).
//! Tables are opened here, before the privilege drop; a table that cannot
//! be opened turns into one that fails every lookup (a temporary error
//! for the client), as Postfix does.

use std::time::Duration;

use config::{Config, params};
use maps::matchlist::AddrList;
use maps::{MapList, OpenFlags};
use proto::data::BareLf;

/// smtpd_tls_security_level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsLevel {
    None,
    May,
    Encrypt,
}

/// TLS as main.cf asks for it.
pub struct TlsSettings {
    pub level: TlsLevel,
    /// The server's certificate and key; `None` when they could not be
    /// loaded (STARTTLS then answers 454, and with `encrypt` no mail is
    /// accepted).
    pub config: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// smtpd_tls_wrappermode: TLS from the first byte (port 465).
    pub wrapper: bool,
    pub loglevel: i64,
    pub handshake_timeout: Duration,
}

pub struct Settings {
    pub tls: TlsSettings,
    pub myhostname: String,
    pub mail_name: String,
    pub banner: String,
    pub message_size_limit: u64,
    pub recipient_limit: usize,
    pub timeout: Duration,
    pub soft_error_limit: u32,
    pub hard_error_limit: u32,
    pub junk_command_limit: u32,
    pub error_sleep: Duration,
    pub helo_required: bool,
    pub disable_vrfy: bool,
    pub discard_ehlo_keywords: Vec<String>,
    pub bare_lf: BareLf,
    pub bare_lf_reject_code: u16,
    pub bare_lf_exclusions: AddrList,
    pub forbidden_commands: Vec<String>,
    pub strict_rfc821: bool,
    pub smtputf8: bool,
    pub delay_reject: bool,
    pub relay_before_recipient: bool,
    pub reject_unlisted_recipient: bool,
    pub reject_unlisted_sender: bool,
    pub client_restrictions: Vec<String>,
    pub helo_restrictions: Vec<String>,
    pub sender_restrictions: Vec<String>,
    pub relay_restrictions: Vec<String>,
    pub recipient_restrictions: Vec<String>,
    pub data_restrictions: Vec<String>,
    pub end_of_data_restrictions: Vec<String>,
    pub etrn_restrictions: Vec<String>,
    pub restriction_classes: Vec<(String, Vec<String>)>,
    pub mynetworks: AddrList,
    pub local_header_rewrite_clients: Vec<String>,
    pub codes: Codes,
    pub local_recipient_maps: MapList,
    pub relay_recipient_maps: MapList,
    pub virtual_mailbox_maps: MapList,
    pub virtual_alias_maps: MapList,
    pub delimiters: String,
    pub access_parent: bool,
    pub null_access_key: String,
    pub rewrite_service: String,
    pub cleanup_service: String,
    pub flush_service: String,
    pub show_table_name: bool,
    /// The tables of every check_*_access in the restriction lists.
    pub access_tables: std::collections::HashMap<String, MapList>,
}

/// Reply codes that main.cf chooses.
pub struct Codes {
    pub reject: u16,
    pub defer: u16,
    pub access_reject: u16,
    pub access_defer: u16,
    pub relay_domains_reject: u16,
    pub non_fqdn: u16,
    pub invalid_hostname: u16,
    pub unknown_local: u16,
    pub unknown_relay: u16,
    pub unknown_virtual_mailbox: u16,
    pub unknown_virtual_alias: u16,
}

fn e(err: config::ConfigError) -> String {
    err.to_string()
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let s = |p: &params::StrParam| cfg.str(p).map_err(e);
        let l = |p: &params::StrParam| cfg.list(p).map_err(e);
        let b = |p: &params::BoolParam| cfg.bool(p).map_err(e);
        let i = |p: &params::IntParam| cfg.int(p).map_err(e);
        let code = |p: &params::IntParam| -> Result<u16, String> {
            let c = i(p)?;
            u16::try_from(c)
                .ok()
                .filter(|c| (400..600).contains(c))
                .ok_or_else(|| format!("{}: bad reply code {}", p.name(), c))
        };
        let maps = |p: &params::StrParam| -> Result<MapList, String> {
            MapList::open(&s(p)?, cfg, OpenFlags::daemon())
                .map_err(|err| format!("{}: {}", p.name(), err))
        };
        let bare = s(&params::SMTPD_FORBID_BARE_NEWLINE)?;
        let bare_lf = BareLf::parse(&bare)
            .ok_or_else(|| format!("bad smtpd_forbid_bare_newline value: {bare}"))?;
        let mut classes = Vec::new();
        for name in l(&params::SMTPD_RESTRICTION_CLASSES)? {
            let value = cfg.get(&name).map_err(e)?;
            classes.push((name, config::value::list(&value)));
        }
        let mynetworks_value = s(&params::MYNETWORKS)?;
        let mynetworks =
            AddrList::open(&mynetworks_value, cfg).map_err(|err| format!("mynetworks: {err}"))?;
        Ok(Settings {
            tls: tls_settings(cfg)?,
            myhostname: s(&params::MYHOSTNAME)?,
            mail_name: s(&params::MAIL_NAME)?,
            banner: s(&params::SMTPD_BANNER)?,
            message_size_limit: cfg.long(&params::MESSAGE_SIZE_LIMIT).map_err(e)?.max(0) as u64,
            recipient_limit: i(&params::SMTPD_RECIPIENT_LIMIT)?.max(1) as usize,
            timeout: cfg.time(&params::SMTPD_TIMEOUT).map_err(e)?,
            soft_error_limit: i(&params::SMTPD_SOFT_ERROR_LIMIT)?.max(0) as u32,
            hard_error_limit: i(&params::SMTPD_HARD_ERROR_LIMIT)?.max(1) as u32,
            junk_command_limit: i(&params::SMTPD_JUNK_COMMAND_LIMIT)?.max(1) as u32,
            error_sleep: cfg.time(&params::SMTPD_ERROR_SLEEP_TIME).map_err(e)?,
            helo_required: b(&params::SMTPD_HELO_REQUIRED)?,
            disable_vrfy: b(&params::DISABLE_VRFY_COMMAND)?,
            discard_ehlo_keywords: l(&params::SMTPD_DISCARD_EHLO_KEYWORDS)?
                .into_iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            bare_lf,
            bare_lf_reject_code: code(&params::SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE)?,
            bare_lf_exclusions: AddrList::open(
                &s(&params::SMTPD_FORBID_BARE_NEWLINE_EXCLUSIONS)?,
                cfg,
            )
            .map_err(|err| format!("smtpd_forbid_bare_newline_exclusions: {err}"))?,
            forbidden_commands: l(&params::SMTPD_FORBIDDEN_COMMANDS)?
                .into_iter()
                .filter(|c| !c.contains(':'))
                .map(|c| c.to_ascii_uppercase())
                .collect(),
            strict_rfc821: b(&params::STRICT_RFC821_ENVELOPES)?,
            smtputf8: b(&params::SMTPUTF8_ENABLE)?,
            delay_reject: b(&params::SMTPD_DELAY_REJECT)?,
            relay_before_recipient: b(&params::SMTPD_RELAY_BEFORE_RECIPIENT_RESTRICTIONS)?,
            reject_unlisted_recipient: b(&params::SMTPD_REJECT_UNLISTED_RECIPIENT)?,
            reject_unlisted_sender: b(&params::SMTPD_REJECT_UNLISTED_SENDER)?,
            client_restrictions: l(&params::SMTPD_CLIENT_RESTRICTIONS)?,
            helo_restrictions: l(&params::SMTPD_HELO_RESTRICTIONS)?,
            sender_restrictions: l(&params::SMTPD_SENDER_RESTRICTIONS)?,
            relay_restrictions: l(&params::SMTPD_RELAY_RESTRICTIONS)?,
            recipient_restrictions: l(&params::SMTPD_RECIPIENT_RESTRICTIONS)?,
            data_restrictions: l(&params::SMTPD_DATA_RESTRICTIONS)?,
            end_of_data_restrictions: l(&params::SMTPD_END_OF_DATA_RESTRICTIONS)?,
            etrn_restrictions: l(&params::SMTPD_ETRN_RESTRICTIONS)?,
            restriction_classes: classes,
            mynetworks,
            local_header_rewrite_clients: l(&params::LOCAL_HEADER_REWRITE_CLIENTS)?,
            codes: Codes {
                reject: code(&params::REJECT_CODE)?,
                defer: code(&params::DEFER_CODE)?,
                access_reject: code(&params::ACCESS_MAP_REJECT_CODE)?,
                access_defer: code(&params::ACCESS_MAP_DEFER_CODE)?,
                relay_domains_reject: code(&params::RELAY_DOMAINS_REJECT_CODE)?,
                non_fqdn: code(&params::NON_FQDN_REJECT_CODE)?,
                invalid_hostname: code(&params::INVALID_HOSTNAME_REJECT_CODE)?,
                unknown_local: code(&params::UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE)?,
                unknown_relay: code(&params::UNKNOWN_RELAY_RECIPIENT_REJECT_CODE)?,
                unknown_virtual_mailbox: code(&params::UNKNOWN_VIRTUAL_MAILBOX_REJECT_CODE)?,
                unknown_virtual_alias: code(&params::UNKNOWN_VIRTUAL_ALIAS_REJECT_CODE)?,
            },
            local_recipient_maps: maps(&params::LOCAL_RECIPIENT_MAPS)?,
            relay_recipient_maps: maps(&params::RELAY_RECIPIENT_MAPS)?,
            virtual_mailbox_maps: maps(&params::VIRTUAL_MAILBOX_MAPS)?,
            virtual_alias_maps: maps(&params::VIRTUAL_ALIAS_MAPS)?,
            delimiters: s(&params::RECIPIENT_DELIMITER)?,
            access_parent: maps::domain::parent_matches(cfg, "smtpd_access_maps")
                .map_err(|err| err.to_string())?,
            null_access_key: s(&params::SMTPD_NULL_ACCESS_LOOKUP_KEY)?,
            rewrite_service: s(&params::REWRITE_SERVICE_NAME)?,
            cleanup_service: s(&params::CLEANUP_SERVICE_NAME)?,
            flush_service: s(&params::FLUSH_SERVICE_NAME)?,
            show_table_name: b(&params::SHOW_USER_UNKNOWN_TABLE_NAME)?,
            access_tables: std::collections::HashMap::new(),
        })
        .and_then(|mut st: Settings| {
            let mut lists: Vec<&Vec<String>> = vec![
                &st.client_restrictions,
                &st.helo_restrictions,
                &st.sender_restrictions,
                &st.relay_restrictions,
                &st.recipient_restrictions,
                &st.data_restrictions,
                &st.end_of_data_restrictions,
                &st.etrn_restrictions,
            ];
            lists.extend(st.restriction_classes.iter().map(|(_, l)| l));
            let mut specs = Vec::new();
            for l in lists {
                for w in l.windows(2) {
                    if w[0].starts_with("check_") && w[0].ends_with("_access") {
                        specs.push(w[1].clone());
                    }
                }
            }
            for spec in specs {
                if let std::collections::hash_map::Entry::Vacant(v) =
                    st.access_tables.entry(spec.clone())
                {
                    let m = MapList::open(&spec, cfg, OpenFlags::daemon())
                        .map_err(|err| format!("{spec}: {err}"))?;
                    v.insert(m);
                }
            }
            Ok(st)
        })
    }
}

/// Reads the TLS parameters and loads the certificate. A certificate that
/// cannot be loaded is a warning, as with Postfix: the server runs on
/// without TLS (and refuses mail if TLS is required).
fn tls_settings(cfg: &Config) -> Result<TlsSettings, String> {
    let e = |err: config::ConfigError| err.to_string();
    let wrapper = cfg.bool(&params::SMTPD_TLS_WRAPPERMODE).map_err(e)?;
    let value = cfg.str(&params::SMTPD_TLS_SECURITY_LEVEL).map_err(e)?;
    let mut level = match value.trim().to_ascii_lowercase().as_str() {
        "" if cfg.bool(&params::SMTPD_ENFORCE_TLS).map_err(e)? => TlsLevel::Encrypt,
        "" if cfg.bool(&params::SMTPD_USE_TLS).map_err(e)? => TlsLevel::May,
        "" | "none" => TlsLevel::None,
        "may" => TlsLevel::May,
        "encrypt" => TlsLevel::Encrypt,
        other => return Err(format!("invalid smtpd_tls_security_level value: {other}")),
    };
    if wrapper {
        level = TlsLevel::Encrypt;
    }
    if cfg.bool(&params::SMTPD_TLS_REQ_CCERT).map_err(e)? && level != TlsLevel::None {
        return Err("smtpd_tls_req_ccert = yes: client certificates are not supported".to_string());
    }
    let mut settings = TlsSettings {
        level,
        config: None,
        wrapper,
        loglevel: cfg.int(&params::SMTPD_TLS_LOGLEVEL).map_err(e)?,
        handshake_timeout: cfg.time(&params::SMTPD_STARTTLS_TIMEOUT).map_err(e)?,
    };
    if level == TlsLevel::None {
        return Ok(settings);
    }
    let protocols_param = if level == TlsLevel::Encrypt {
        &params::SMTPD_TLS_MANDATORY_PROTOCOLS
    } else {
        &params::SMTPD_TLS_PROTOCOLS
    };
    let protocols = tls::policy::protocols(&cfg.str(protocols_param).map_err(e)?)
        .map_err(|err| format!("{}: {}", protocols_param.name(), err))?;
    let chain = cfg.str(&params::SMTPD_TLS_CHAIN_FILES).map_err(e)?;
    let cert = cfg.str(&params::SMTPD_TLS_CERT_FILE).map_err(e)?;
    let loaded = if !chain.trim().is_empty() {
        let files = config::value::list(&chain);
        let paths: Vec<&std::path::Path> = files.iter().map(std::path::Path::new).collect();
        tls::server::config_from_chain_files(&paths, &protocols).map_err(|err| err.to_string())
    } else if !cert.trim().is_empty() {
        let key = cfg.str(&params::SMTPD_TLS_KEY_FILE).map_err(e)?;
        tls::server::config(
            std::path::Path::new(cert.trim()),
            std::path::Path::new(key.trim()),
            &protocols,
        )
        .map_err(|err| err.to_string())
    } else {
        Err("no server certificate: set smtpd_tls_chain_files or smtpd_tls_cert_file".to_string())
    };
    match loaded {
        Ok(c) => settings.config = Some(c),
        Err(err) => daemon::warn!("TLS is not available: {err}"),
    }
    Ok(settings)
}
