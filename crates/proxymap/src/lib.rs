//! # NAME
//! proxymap — the lookup table proxy server (proxymap.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! daemon::server::multi_server_main("proxymap", proxymap::Proxymap::pre_init)
//! ```
//!
//! ## DESCRIPTION
//! Each client request is one [`maps::proxy::Request`] frame naming a
//! table (`type:name`, without `proxy:`), the client's open flags and the
//! key; the reply is one [`maps::proxy::Reply`] frame. A table is opened
//! the first time it is asked for (per flags) and kept open; a table that
//! fails to open answers with its error each time, and the error is
//! logged once.
//!
//! Only the tables listed in `proxy_read_maps` are served, or, when the
//! service name is `$proxywrite_service_name`, those in
//! `proxy_write_maps`, which may also be updated; any other gets
//! `Denied` and a warning `request for unapproved table: "type:name"`.
//! Tables may not be `proxy:` themselves.
//!
//! When a table's file changes, the server finishes the request, logs
//! `table TYPE:NAME has changed -- restarting` and exits, so that master
//! starts a fresh process that reads the new table (as Postfix does).
//!
//! ## DIAGNOSTICS
//! A malformed request frame disconnects that client with a warning.
//!
//! ## SEE ALSO
//! proxymap(8), [`maps::proxy`]

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};

use config::params;
use daemon::server::{Client, Ctx, MultiServer};
use daemon::{Untrusted, info, warn};
use maps::proxy::{Reply, Request};
use maps::{Dict, MapError, OpenFlags};

/// The largest request frame accepted.
const REQUEST_MAX: usize = 1 << 20;

pub struct Proxymap {
    write: bool,
    allowed: HashSet<String>,
    open: HashMap<(String, u32), Result<Box<dyn Dict>, MapError>>,
}

/// The `type:name` items of a list of table names, without `proxy:`.
fn table_names(list: &str) -> HashSet<String> {
    maps::split_list(list)
        .into_iter()
        .map(|t| t.strip_prefix("proxy:").map(str::to_string).unwrap_or(t))
        .filter(|t| t.contains(':'))
        .collect()
}

impl Proxymap {
    pub fn pre_init(ctx: &Ctx) -> Proxymap {
        let write_service = ctx.str(&params::PROXYWRITE_SERVICE_NAME);
        let write = ctx.args.service == write_service;
        let list = if write {
            ctx.str(&params::PROXY_WRITE_MAPS)
        } else {
            ctx.str(&params::PROXY_READ_MAPS)
        };
        Proxymap {
            write,
            allowed: table_names(&list),
            open: HashMap::new(),
        }
    }

    /// A server for tests and tools: `allowed` tables, read or write.
    pub fn new(allowed: &str, write: bool) -> Proxymap {
        Proxymap {
            write,
            allowed: table_names(allowed),
            open: HashMap::new(),
        }
    }

    fn dict(
        &mut self,
        cfg: &config::Config,
        table: &str,
        bits: u32,
    ) -> Result<&mut Box<dyn Dict>, Reply> {
        if !self.allowed.contains(table) || table.starts_with("proxy:") {
            warn!(
                "request for unapproved table: \"{:.100}\"",
                Untrusted(table)
            );
            return Err(Reply::Denied(table.to_string()));
        }
        let mut flags = OpenFlags::from_bits(bits);
        flags.write = self.write && flags.write;
        flags.no_proxy = true;
        let entry = self
            .open
            .entry((table.to_string(), flags.bits()))
            .or_insert_with(|| {
                let r = maps::open(table, cfg, flags);
                if let Err(e) = &r {
                    warn!("{e}");
                }
                r
            });
        match entry {
            Ok(d) => Ok(d),
            Err(e) => Err(Reply::Failed(e.clone())),
        }
    }

    /// Answers one request.
    pub fn handle(&mut self, cfg: &config::Config, req: Request) -> Reply {
        let write = self.write;
        let result = match req {
            Request::Open { table, flags } => {
                self.dict(cfg, &table, flags).map(|d| Reply::Opened {
                    pattern: d.is_pattern(),
                })
            }
            Request::Lookup { table, flags, key } => {
                self.dict(cfg, &table, flags).map(|d| match d.lookup(&key) {
                    Ok(Some(v)) => Reply::Found(v),
                    Ok(None) => Reply::NotFound,
                    Err(e) => Reply::Failed(e),
                })
            }
            Request::Sequence { table, flags } => {
                self.dict(cfg, &table, flags).map(|d| match d.sequence() {
                    Ok(e) => Reply::Entries(e),
                    Err(e) => Reply::Failed(e),
                })
            }
            Request::Update { table, .. } | Request::Delete { table, .. } if !write => {
                warn!(
                    "update request for table \"{:.100}\" on the read-only proxymap service",
                    Untrusted(&table)
                );
                Err(Reply::Denied(table))
            }
            Request::Update {
                table,
                flags,
                key,
                value,
            } => self
                .dict(cfg, &table, flags)
                .map(|d| match d.update(&key, &value) {
                    Ok(()) => Reply::Done(true),
                    Err(e) => Reply::Failed(e),
                }),
            Request::Delete { table, flags, key } => {
                self.dict(cfg, &table, flags).map(|d| match d.delete(&key) {
                    Ok(found) => Reply::Done(found),
                    Err(e) => Reply::Failed(e),
                })
            }
        };
        result.unwrap_or_else(|r| r)
    }

    /// The name of an open table whose file changed, if any.
    pub fn changed_table(&self) -> Option<&str> {
        self.open
            .values()
            .filter_map(|r| r.as_ref().ok())
            .find(|d| d.changed())
            .map(|d| d.name())
    }
}

impl MultiServer for Proxymap {
    fn request(&mut self, ctx: &Ctx, client: &mut Client) -> bool {
        let req: Request = match ipc::read_frame(client, REQUEST_MAX) {
            Ok(r) => r,
            Err(ipc::IpcError::Closed) => return false,
            Err(e) => {
                warn!("malformed request: {e}");
                return false;
            }
        };
        let reply = self.handle(&ctx.cfg, req);
        if let Err(e) = ipc::write_frame(client, &reply) {
            warn!("write reply: {e}");
            return false;
        }
        if let Some(t) = self.changed_table() {
            info!("table {t} has changed -- restarting");
            std::process::exit(0);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_approved_tables() {
        let cfg = config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        let mut p = Proxymap::new(
            "proxy:inline:{a=b} $x static:s, unionmap:{inline:{c=d}}",
            false,
        );
        let q = |t: &str, k: &str| Request::Lookup {
            table: t.into(),
            flags: OpenFlags::default().bits(),
            key: k.into(),
        };
        assert_eq!(
            p.handle(&cfg, q("inline:{a=b}", "A")),
            Reply::Found("b".into())
        );
        assert_eq!(p.handle(&cfg, q("inline:{a=b}", "x")), Reply::NotFound);
        assert_eq!(
            p.handle(&cfg, q("unionmap:{inline:{c=d}}", "c")),
            Reply::Found("d".into())
        );
        assert_eq!(
            p.handle(&cfg, q("inline:{x=y}", "x")),
            Reply::Denied("inline:{x=y}".into())
        );
        let upd = Request::Update {
            table: "static:s".into(),
            flags: 0,
            key: "k".into(),
            value: "v".into(),
        };
        assert_eq!(p.handle(&cfg, upd), Reply::Denied("static:s".into()));
    }

    #[test]
    fn write_service_updates() {
        let cfg = config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        let mut p = Proxymap::new("internal:cache", true);
        let flags = OpenFlags {
            write: true,
            ..OpenFlags::default()
        }
        .bits();
        let r = p.handle(
            &cfg,
            Request::Update {
                table: "internal:cache".into(),
                flags,
                key: "k".into(),
                value: "v".into(),
            },
        );
        assert_eq!(r, Reply::Done(true));
        let r = p.handle(
            &cfg,
            Request::Lookup {
                table: "internal:cache".into(),
                flags,
                key: "k".into(),
            },
        );
        assert_eq!(r, Reply::Found("v".into()));
    }
}
