//! # NAME
//! rewrite — the protocol of trivial-rewrite(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! write_frame(&mut c, &RewriteRequest::Resolve { sender, address })?;
//! let r: ResolveReply = read_frame(&mut c, FRAME_MAX)?;
//! ```
//!
//! ## DESCRIPTION
//! `Rewrite` turns an address into its canonical form in a context
//! (`local`: append `@$myorigin` and `.$mydomain` per `append_at_myorigin`
//! and `append_dot_mydomain`; `remote`: per `remote_header_rewrite_domain`).
//! `Resolve` says how to deliver a recipient: the transport, the next hop,
//! the address to deliver to, and the address class. Clients cache the
//! answers.
//!
//! ## SEE ALSO
//! trivial-rewrite(8)

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RewriteRequest {
    Rewrite {
        context: String,
        address: String,
    },
    Resolve {
        sender: String,
        address: String,
    },
    /// Like Resolve, with the `address_verify_*` settings.
    ResolveVerify {
        sender: String,
        address: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewriteReply {
    pub address: String,
}

/// Address classes.
pub mod class {
    pub const LOCAL: u32 = 1 << 0;
    pub const ALIAS: u32 = 1 << 1;
    pub const VIRTUAL: u32 = 1 << 2;
    pub const RELAY: u32 = 1 << 3;
    pub const DEFAULT: u32 = 1 << 4;
    /// The address is not routable (bad syntax, unknown virtual alias).
    pub const ERROR: u32 = 1 << 8;
    /// A lookup failed: try again later.
    pub const FAIL: u32 = 1 << 9;
    /// Explicit source routing (`@a:b@c`, `%` hack) was seen.
    pub const ROUTED: u32 = 1 << 10;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveReply {
    pub transport: String,
    pub nexthop: String,
    pub recipient: String,
    pub flags: u32,
}

/// The client side, with caches: qmgr(8), cleanup(8) and smtpd(8) use it.
///
/// One connection is kept; a failed request is retried once on a fresh
/// connection (the server may have exited after `max_idle`). Answers are
/// remembered per address until [`CACHE_MAX`] entries, then forgotten.
pub struct Client {
    queue_dir: std::path::PathBuf,
    service: String,
    timeout: std::time::Duration,
    conn: Option<std::os::unix::net::UnixStream>,
    resolved: std::collections::HashMap<String, ResolveReply>,
    rewritten: std::collections::HashMap<(String, String), String>,
}

pub const CACHE_MAX: usize = 50_000;

impl Client {
    pub fn new(queue_dir: &std::path::Path, service: &str, timeout: std::time::Duration) -> Client {
        Client {
            queue_dir: queue_dir.to_path_buf(),
            service: service.to_string(),
            timeout,
            conn: None,
            resolved: std::collections::HashMap::new(),
            rewritten: std::collections::HashMap::new(),
        }
    }

    fn ask<T: serde::de::DeserializeOwned>(&mut self, req: &RewriteRequest) -> Result<T, String> {
        for attempt in 0..2 {
            if self.conn.is_none() {
                match crate::connect(
                    &self.queue_dir,
                    crate::Class::Private,
                    &self.service,
                    self.timeout,
                ) {
                    Ok(c) => self.conn = Some(c),
                    Err(e) if attempt == 1 => return Err(e.to_string()),
                    Err(_) => continue,
                }
            }
            let c = self.conn.as_mut().expect("invariant: connected above");
            let r = crate::write_frame(c, req).and_then(|_| crate::read_frame(c, crate::FRAME_MAX));
            match r {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.conn = None;
                    if attempt == 1 {
                        return Err(e.to_string());
                    }
                }
            }
        }
        Err("address resolver failure".into())
    }

    /// How to deliver `address`.
    pub fn resolve(&mut self, sender: &str, address: &str) -> Result<ResolveReply, String> {
        if let Some(r) = self.resolved.get(address) {
            return Ok(r.clone());
        }
        let r: ResolveReply = self.ask(&RewriteRequest::Resolve {
            sender: sender.to_string(),
            address: address.to_string(),
        })?;
        if self.resolved.len() >= CACHE_MAX {
            self.resolved.clear();
        }
        self.resolved.insert(address.to_string(), r.clone());
        Ok(r)
    }

    /// The canonical form of `address` in `context` (`local`, `remote`).
    pub fn rewrite(&mut self, context: &str, address: &str) -> Result<String, String> {
        let key = (context.to_string(), address.to_string());
        if let Some(r) = self.rewritten.get(&key) {
            return Ok(r.clone());
        }
        let r: RewriteReply = self.ask(&RewriteRequest::Rewrite {
            context: context.to_string(),
            address: address.to_string(),
        })?;
        if self.rewritten.len() >= CACHE_MAX {
            self.rewritten.clear();
        }
        self.rewritten.insert(key, r.address.clone());
        Ok(r.address)
    }
}
