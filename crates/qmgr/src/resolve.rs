//! # NAME
//! resolve — the trivial-rewrite client of qmgr, with a cache
//!
//! ## SYNOPSIS
//! ```ignore
//! let r = resolver.resolve(sender, rcpt)?;   // Err: try again later
//! ```
//!
//! ## DESCRIPTION
//! Keeps one connection to the `rewrite` service and remembers answers
//! per recipient address; the cache is dropped when it grows past
//! [`CACHE_MAX`] entries, and on every reload (qmgr is restarted then).
//! A failed request closes the connection; the next one reconnects.
//!
//! ## SEE ALSO
//! trivial-rewrite(8), [`ipc::rewrite`]

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use ipc::rewrite::{ResolveReply, RewriteRequest};

pub const CACHE_MAX: usize = 50_000;

pub struct Resolver {
    queue_dir: PathBuf,
    service: String,
    timeout: Duration,
    conn: Option<UnixStream>,
    cache: HashMap<String, ResolveReply>,
}

impl Resolver {
    pub fn new(queue_dir: PathBuf, service: String, timeout: Duration) -> Resolver {
        Resolver {
            queue_dir,
            service,
            timeout,
            conn: None,
            cache: HashMap::new(),
        }
    }

    pub fn resolve(&mut self, sender: &str, address: &str) -> Result<ResolveReply, String> {
        if let Some(r) = self.cache.get(address) {
            return Ok(r.clone());
        }
        let r = self.ask(sender, address);
        if r.is_err() {
            self.conn = None;
            // One retry on a fresh connection: the server may have exited
            // after max_idle or max_use.
            let r2 = self.ask(sender, address);
            if r2.is_err() {
                self.conn = None;
            }
            return r2.map(|r| self.remember(address, r));
        }
        r.map(|r| self.remember(address, r))
    }

    fn remember(&mut self, address: &str, r: ResolveReply) -> ResolveReply {
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(address.to_string(), r.clone());
        r
    }

    fn ask(&mut self, sender: &str, address: &str) -> Result<ResolveReply, String> {
        if self.conn.is_none() {
            let c = ipc::connect(
                &self.queue_dir,
                ipc::Class::Private,
                &self.service,
                self.timeout,
            )
            .map_err(|e| e.to_string())?;
            self.conn = Some(c);
        }
        let c = self.conn.as_mut().expect("invariant: connected above");
        let req = RewriteRequest::Resolve {
            sender: sender.to_string(),
            address: address.to_string(),
        };
        ipc::write_frame(c, &req).map_err(|e| e.to_string())?;
        ipc::read_frame(c, ipc::FRAME_MAX).map_err(|e| e.to_string())
    }
}
