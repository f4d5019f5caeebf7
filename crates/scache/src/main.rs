//! # scache(8) — Postfix shared connection cache server
//!
//! ## SYNOPSIS
//! `scache` [generic daemon options]
//!
//! ## DESCRIPTION
//! Holds open connections that smtp(8) and lmtp(8) are done with, so that
//! the next delivery to the same destination, usually in another process,
//! skips connect, greeting and EHLO. Connections arrive as descriptors
//! over the socket and leave the same way ([`ipc::scache`]); they are
//! kept at most `connection_cache_ttl_limit`, then closed. Every
//! `connection_cache_status_update_time`, after activity, it logs hit
//! counts as Postfix does (`statistics: domain lookup hits=...`).
//!
//! ## SECURITY
//! Not security sensitive: it holds descriptors for its clients and never
//! reads from them. Runs as `mail_owner` with one process (master.cf
//! `scache unix - - n - 1 scache`).
//!
//! ## SEE ALSO
//! smtp(8), CONNECTION_CACHE_README, [`cache`]

#![forbid(unsafe_code)]

mod cache;
mod server;

fn main() {
    daemon::server::multi_server_main("scache", server::Scache::pre_init)
}
