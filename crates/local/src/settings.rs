//! # NAME
//! settings — local(8) parameters, read once per process
//!
//! ## DESCRIPTION
//! `forward_path`, `luser_relay`, `mailbox_command` and
//! `command_execution_directory` are read raw: their `$name` forms are
//! per-recipient attributes ([`delivery::expand`]), not main.cf
//! parameters (`mailbox_command` is not expanded at all: a shell sees its
//! `$USER`). Tables are opened directly even when named as `proxy:`, as
//! Postfix's local(8) does. A configuration error is fatal: master(8)
//! throttles the service and the mail waits.

use std::path::PathBuf;
use std::time::Duration;

use config::params;
use daemon::fatal;
use daemon::server::Ctx;
use delivery::mbox::MboxSettings;
use maps::addr::AddrFindOptions;
use maps::{MapList, OpenFlags};
use nix::unistd::{Gid, Uid};

/// Where the file, command and forward features may be used from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Classes {
    pub alias: bool,
    pub forward: bool,
    pub include: bool,
}

/// `prepend_delivered_header`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveredHeader {
    pub command: bool,
    pub file: bool,
    pub forward: bool,
}

pub struct Settings {
    pub queue_dir: PathBuf,
    pub service: String,
    pub myhostname: String,
    pub mail_name: String,
    pub delimiters: String,
    pub alias_maps: MapList,
    pub alias_find: AddrFindOptions,
    pub forward_find: AddrFindOptions,
    pub include_find: AddrFindOptions,
    pub forward_path: String,
    pub luser_relay: String,
    pub mailbox_transport: String,
    pub mailbox_transport_maps: MapList,
    pub fallback_transport: String,
    pub fallback_transport_maps: MapList,
    pub mailbox_command: String,
    pub mailbox_command_maps: MapList,
    pub home_mailbox: String,
    pub mail_spool_directory: String,
    pub mbox: MboxSettings,
    pub allow_files: Classes,
    pub allow_commands: Classes,
    pub delivered_header: DeliveredHeader,
    pub command_filter: String,
    pub forward_filter: String,
    pub exec_dir_filter: String,
    pub command_execution_directory: String,
    pub command_time_limit: Duration,
    pub default_privs: (Uid, Gid),
    pub export_environment: Vec<(String, String)>,
    /// `local_command_shell`: every command runs through it when set.
    pub command_shell: Option<String>,
    pub require_home_directory: bool,
    pub expand_owner_alias: bool,
    pub reset_owner_alias: bool,
    pub frozen_delivered_to: bool,
    pub enable_original_recipient: bool,
    pub duplicate_filter_limit: usize,
    pub ipc_timeout: Duration,
    pub hostname: String,
}

fn classes(ctx: &Ctx, p: &params::StrParam) -> Classes {
    let mut c = Classes::default();
    for w in ctx.cfg.list(p).unwrap_or_else(|e| fatal!("{e}")) {
        match w.to_ascii_lowercase().as_str() {
            "alias" => c.alias = true,
            "forward" => c.forward = true,
            "include" => c.include = true,
            other => fatal!("unknown {} value \"{}\"", p.name(), other),
        }
    }
    c
}

/// Table names with any `proxy:` prefix removed.
pub fn without_proxy(value: &str) -> String {
    maps::split_list(value)
        .into_iter()
        .map(|s| s.strip_prefix("proxy:").map(str::to_string).unwrap_or(s))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn tables(ctx: &Ctx, p: &params::StrParam) -> MapList {
    let v = without_proxy(&ctx.str(p));
    MapList::open(&v, &ctx.cfg, OpenFlags::for_daemon(&ctx.cfg))
        .unwrap_or_else(|e| fatal!("{}: {}", p.name(), e))
}

fn raw(ctx: &Ctx, p: &params::StrParam) -> String {
    ctx.cfg.raw(p.name()).unwrap_or_default()
}

impl Settings {
    pub fn load(ctx: &Ctx) -> Settings {
        let cfg = &ctx.cfg;
        let mailbox_size_limit = cfg
            .long(&params::MAILBOX_SIZE_LIMIT)
            .unwrap_or_else(|e| fatal!("{e}"));
        let message_size_limit = cfg
            .long(&params::MESSAGE_SIZE_LIMIT)
            .unwrap_or_else(|e| fatal!("{e}"));
        if mailbox_size_limit > 0 && mailbox_size_limit < message_size_limit {
            fatal!("configuration error: mailbox_size_limit is smaller than message_size_limit");
        }
        let locks = delivery::mbox::parse_locks(&ctx.str(&params::MAILBOX_DELIVERY_LOCK))
            .unwrap_or_else(|e| fatal!("{}: {}", params::MAILBOX_DELIVERY_LOCK.name(), e));
        let privs = ctx.str(&params::DEFAULT_PRIVS);
        let default_privs = match sys::privs::lookup_user(&privs) {
            Ok(id) if id.uid.is_root() => {
                fatal!("default_privs: privileged user id: {}", privs)
            }
            Ok(id) => (id.uid, id.gid),
            Err(_) => fatal!("unknown default_privs user: {}", privs),
        };
        let mut delivered_header = DeliveredHeader::default();
        for w in cfg
            .list(&params::PREPEND_DELIVERED_HEADER)
            .unwrap_or_else(|e| fatal!("{e}"))
        {
            match w.to_ascii_lowercase().as_str() {
                "command" => delivered_header.command = true,
                "file" => delivered_header.file = true,
                "forward" => delivered_header.forward = true,
                other => fatal!("unknown prepend_delivered_header value \"{}\"", other),
            }
        }
        let export_environment = cfg
            .list(&params::EXPORT_ENVIRONMENT)
            .unwrap_or_else(|e| fatal!("{e}"))
            .into_iter()
            .filter_map(|n| match n.split_once('=') {
                Some((k, v)) => Some((k.to_string(), v.to_string())),
                None => std::env::var(&n).ok().map(|v| (n, v)),
            })
            .collect();
        let find = |feature: &str| {
            AddrFindOptions::from_config(cfg, feature).unwrap_or_else(|e| fatal!("{e}"))
        };
        let shell = ctx.str(&params::LOCAL_COMMAND_SHELL);
        Settings {
            queue_dir: PathBuf::from("."),
            service: ctx.args.service.clone(),
            myhostname: ctx.str(&params::MYHOSTNAME),
            mail_name: ctx.str(&params::MAIL_NAME),
            delimiters: ctx.str(&params::RECIPIENT_DELIMITER),
            alias_maps: tables(ctx, &params::ALIAS_MAPS),
            alias_find: find("alias"),
            forward_find: find("forward"),
            include_find: find("include"),
            forward_path: raw(ctx, &params::FORWARD_PATH),
            luser_relay: raw(ctx, &params::LUSER_RELAY),
            mailbox_transport: ctx.str(&params::MAILBOX_TRANSPORT),
            mailbox_transport_maps: tables(ctx, &params::MAILBOX_TRANSPORT_MAPS),
            fallback_transport: ctx.str(&params::FALLBACK_TRANSPORT),
            fallback_transport_maps: tables(ctx, &params::FALLBACK_TRANSPORT_MAPS),
            mailbox_command: raw(ctx, &params::MAILBOX_COMMAND),
            mailbox_command_maps: tables(ctx, &params::MAILBOX_COMMAND_MAPS),
            home_mailbox: ctx.str(&params::HOME_MAILBOX),
            mail_spool_directory: ctx.str(&params::MAIL_SPOOL_DIRECTORY),
            mbox: MboxSettings {
                locks,
                lock_attempts: ctx.int(&params::DELIVER_LOCK_ATTEMPTS).max(1) as u32,
                lock_delay: ctx.time(&params::DELIVER_LOCK_DELAY),
                stale_lock_time: ctx.time(&params::STALE_LOCK_TIME),
                size_limit: mailbox_size_limit.max(0) as u64,
                strict_owner: ctx.bool(&params::STRICT_MAILBOX_OWNERSHIP),
            },
            allow_files: classes(ctx, &params::ALLOW_MAIL_TO_FILES),
            allow_commands: classes(ctx, &params::ALLOW_MAIL_TO_COMMANDS),
            delivered_header,
            command_filter: ctx.str(&params::COMMAND_EXPANSION_FILTER),
            forward_filter: ctx.str(&params::FORWARD_EXPANSION_FILTER),
            exec_dir_filter: ctx.str(&params::EXECUTION_DIRECTORY_EXPANSION_FILTER),
            command_execution_directory: raw(ctx, &params::COMMAND_EXECUTION_DIRECTORY),
            command_time_limit: ctx.time(&params::COMMAND_TIME_LIMIT),
            default_privs,
            export_environment,
            command_shell: (!shell.trim().is_empty()).then_some(shell),
            require_home_directory: ctx.bool(&params::REQUIRE_HOME_DIRECTORY),
            expand_owner_alias: ctx.bool(&params::EXPAND_OWNER_ALIAS),
            reset_owner_alias: ctx.bool(&params::RESET_OWNER_ALIAS),
            frozen_delivered_to: ctx.bool(&params::FROZEN_DELIVERED_TO),
            enable_original_recipient: ctx.bool(&params::ENABLE_ORIGINAL_RECIPIENT),
            duplicate_filter_limit: ctx.int(&params::DUPLICATE_FILTER_LIMIT).max(0) as usize,
            ipc_timeout: ctx.time(&params::IPC_TIMEOUT),
            hostname: delivery::maildir::hostname(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_is_stripped() {
        assert_eq!(
            without_proxy("proxy:unix:passwd.byname hash:/etc/aliases"),
            "unix:passwd.byname, hash:/etc/aliases"
        );
        assert_eq!(without_proxy(""), "");
    }
}
