//! # NAME
//! settings — virtual(8) parameters
//!
//! ## DESCRIPTION
//! Tables are opened directly even when named `proxy:`, as Postfix's
//! virtual(8) does. `virtual_mailbox_limit` may not be smaller than
//! `message_size_limit` (fatal, with Postfix's message).

use config::params;
use daemon::fatal;
use daemon::server::Ctx;
use delivery::mbox::MboxSettings;
use maps::addr::AddrFindOptions;
use maps::{MapList, OpenFlags};

pub struct Settings {
    pub base: String,
    pub mailbox_maps: MapList,
    pub uid_maps: MapList,
    pub gid_maps: MapList,
    pub minimum_uid: u32,
    pub mbox: MboxSettings,
    pub find: AddrFindOptions,
    pub hostname: String,
}

/// Table names with any `proxy:` prefix removed.
fn without_proxy(value: &str) -> String {
    maps::split_list(value)
        .into_iter()
        .map(|s| s.strip_prefix("proxy:").map(str::to_string).unwrap_or(s))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn tables(ctx: &Ctx, p: &params::StrParam) -> MapList {
    MapList::open(
        &without_proxy(&ctx.str(p)),
        &ctx.cfg,
        OpenFlags::for_daemon(&ctx.cfg),
    )
    .unwrap_or_else(|e| fatal!("{}: {}", p.name(), e))
}

impl Settings {
    pub fn load(ctx: &Ctx) -> Settings {
        let cfg = &ctx.cfg;
        let limit = cfg
            .long(&params::VIRTUAL_MAILBOX_LIMIT)
            .unwrap_or_else(|e| fatal!("{e}"));
        let message_limit = cfg
            .long(&params::MESSAGE_SIZE_LIMIT)
            .unwrap_or_else(|e| fatal!("{e}"));
        if limit > 0 && limit < message_limit {
            fatal!("configuration error: virtual_mailbox_limit is smaller than message_size_limit");
        }
        let locks = delivery::mbox::parse_locks(&ctx.str(&params::VIRTUAL_MAILBOX_LOCK))
            .unwrap_or_else(|e| fatal!("{}: {}", params::VIRTUAL_MAILBOX_LOCK.name(), e));
        let mut find =
            AddrFindOptions::from_config(cfg, "virtual").unwrap_or_else(|e| fatal!("{e}"));
        // The mailbox tables answer paths and IDs: no extension is ever
        // carried into them.
        find.propagate_extension = false;
        Settings {
            base: ctx.str(&params::VIRTUAL_MAILBOX_BASE),
            mailbox_maps: tables(ctx, &params::VIRTUAL_MAILBOX_MAPS),
            uid_maps: tables(ctx, &params::VIRTUAL_UID_MAPS),
            gid_maps: tables(ctx, &params::VIRTUAL_GID_MAPS),
            minimum_uid: ctx.int(&params::VIRTUAL_MINIMUM_UID).max(0) as u32,
            mbox: MboxSettings {
                locks,
                lock_attempts: ctx.int(&params::DELIVER_LOCK_ATTEMPTS).max(1) as u32,
                lock_delay: ctx.time(&params::DELIVER_LOCK_DELAY),
                stale_lock_time: ctx.time(&params::STALE_LOCK_TIME),
                size_limit: limit.max(0) as u64,
                strict_owner: false,
            },
            find,
            hostname: delivery::maildir::hostname(),
        }
    }
}
