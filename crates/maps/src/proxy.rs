//! # NAME
//! proxy — `proxy:type:name`: tables read through proxymap(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut t = maps::open("proxy:mysql:/etc/postfix/users.cf", &cfg, flags)?;
//! t.lookup("user@example.com")?;   // one frame to private/proxymap and back
//! ```
//!
//! ## DESCRIPTION
//! A `proxy:` table sends each request to the proxymap(8) service
//! (`$queue_directory/private/$proxymap_service_name`, or proxywrite for
//! updates) as one [`Request`] frame and reads one [`Reply`] frame. The
//! connection is kept open and opened again once when it broke. A table
//! that proxymap is not configured to serve (`proxy_read_maps`,
//! `proxy_write_maps`) is a configuration error; a proxymap that cannot
//! be reached is a temporary failure (the table still opens, and is
//! checked when proxymap answers).
//!
//! ## SEE ALSO
//! proxymap(8), [`ipc`]

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use config::params;
use serde::{Deserialize, Serialize};

use crate::{Dict, MapError, OpenCtx};

/// A request to proxymap(8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Checks that the table may be used and can be opened.
    Open {
        table: String,
        flags: u32,
    },
    Lookup {
        table: String,
        flags: u32,
        key: String,
    },
    Update {
        table: String,
        flags: u32,
        key: String,
        value: String,
    },
    Delete {
        table: String,
        flags: u32,
        key: String,
    },
    Sequence {
        table: String,
        flags: u32,
    },
}

/// proxymap's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Open succeeded; whether the table is a pattern table.
    Opened {
        pattern: bool,
    },
    Found(String),
    NotFound,
    /// Update or delete done (delete: whether the key was there).
    Done(bool),
    Entries(Vec<(String, String)>),
    /// The table failed.
    Failed(MapError),
    /// proxymap may not serve this table.
    Denied(String),
}

/// The largest reply a client accepts.
pub const REPLY_MAX: usize = 16 << 20;

pub struct ProxyDict {
    spec: String,
    table: String,
    flags: u32,
    socket: PathBuf,
    service: String,
    timeout: Duration,
    conn: Option<UnixStream>,
    pattern: bool,
    /// Whether proxymap accepted the table.
    opened: bool,
}

pub(crate) fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let cfg = ctx.cfg;
    let get = |p: &params::StrParam| {
        cfg.str(p)
            .map_err(|e| MapError::config(ctx.spec, e.to_string()))
    };
    let queue = get(&params::QUEUE_DIRECTORY)?;
    let service = if ctx.flags.write {
        get(&params::PROXYWRITE_SERVICE_NAME)?
    } else {
        get(&params::PROXYMAP_SERVICE_NAME)?
    };
    let timeout = cfg
        .time(&params::IPC_TIMEOUT)
        .unwrap_or(Duration::from_secs(3600));
    let mut d = ProxyDict {
        spec: ctx.spec.to_string(),
        table: ctx.name.to_string(),
        flags: ctx.flags.bits(),
        socket: ipc::service_path(std::path::Path::new(&queue), ipc::Class::Private, &service),
        service,
        timeout,
        conn: None,
        pattern: false,
        opened: false,
    };
    match d.ensure_open() {
        // proxymap is not up (yet): the table is checked at the first
        // lookup, which fails temporarily until then.
        Ok(()) | Err(MapError::Temp { .. }) => Ok(Box::new(d)),
        Err(e) => Err(e),
    }
}

impl ProxyDict {
    /// Asks proxymap to open the table, once.
    fn ensure_open(&mut self) -> Result<(), MapError> {
        if self.opened {
            return Ok(());
        }
        let req = Request::Open {
            table: self.table.clone(),
            flags: self.flags,
        };
        match self.call(&req)? {
            Reply::Opened { pattern } => {
                self.pattern = pattern;
                self.opened = true;
                Ok(())
            }
            other => Err(self.unexpected(other)),
        }
    }

    fn call(&mut self, req: &Request) -> Result<Reply, MapError> {
        let mut last = String::new();
        for _attempt in 0..2 {
            if self.conn.is_none() {
                // Inside a chroot the queue directory is the root and the
                // working directory: fall back to the relative path.
                let relative = std::path::Path::new(ipc::Class::Private.dir()).join(&self.service);
                let conn = UnixStream::connect(&self.socket).or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        UnixStream::connect(&relative).map_err(|_| e)
                    } else {
                        Err(e)
                    }
                });
                match conn {
                    Ok(s) => {
                        let _ = s.set_read_timeout(Some(self.timeout));
                        let _ = s.set_write_timeout(Some(self.timeout));
                        self.conn = Some(s);
                    }
                    Err(e) => {
                        return Err(MapError::temp(
                            &self.spec,
                            format!(
                                "{}: connect to {} service {}: {}",
                                self.spec,
                                self.service,
                                self.socket.display(),
                                crate::db::strerror(&e)
                            ),
                        ));
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let r = ipc::write_frame(conn, req)
                .and_then(|()| ipc::read_frame::<Reply>(conn, REPLY_MAX));
            match r {
                Ok(Reply::Denied(t)) => {
                    return Err(MapError::config(
                        &self.spec,
                        format!(
                            "{} service is not configured for table \"{t}\"",
                            self.service
                        ),
                    ));
                }
                Ok(Reply::Failed(e)) => {
                    return Err(match e {
                        MapError::Temp { reason, .. } => MapError::temp(&self.spec, reason),
                        MapError::Config { reason, .. } => MapError::config(&self.spec, reason),
                    });
                }
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    last = e.to_string();
                    self.conn = None;
                }
            }
        }
        Err(MapError::temp(
            &self.spec,
            format!("{}: {} service: {last}", self.spec, self.service),
        ))
    }

    fn unexpected(&self, r: Reply) -> MapError {
        MapError::temp(
            &self.spec,
            format!(
                "{}: unexpected reply from {}: {r:?}",
                self.spec, self.service
            ),
        )
    }
}

impl Dict for ProxyDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        self.ensure_open()?;
        let req = Request::Lookup {
            table: self.table.clone(),
            flags: self.flags,
            key: key.to_string(),
        };
        match self.call(&req)? {
            Reply::Found(v) => Ok(Some(v)),
            Reply::NotFound => Ok(None),
            other => Err(self.unexpected(other)),
        }
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn is_pattern(&self) -> bool {
        self.pattern
    }

    fn update(&mut self, key: &str, value: &str) -> Result<(), MapError> {
        self.ensure_open()?;
        let req = Request::Update {
            table: self.table.clone(),
            flags: self.flags,
            key: key.to_string(),
            value: value.to_string(),
        };
        match self.call(&req)? {
            Reply::Done(_) => Ok(()),
            other => Err(self.unexpected(other)),
        }
    }

    fn delete(&mut self, key: &str) -> Result<bool, MapError> {
        self.ensure_open()?;
        let req = Request::Delete {
            table: self.table.clone(),
            flags: self.flags,
            key: key.to_string(),
        };
        match self.call(&req)? {
            Reply::Done(found) => Ok(found),
            other => Err(self.unexpected(other)),
        }
    }

    fn sequence(&mut self) -> Result<Vec<(String, String)>, MapError> {
        self.ensure_open()?;
        let req = Request::Sequence {
            table: self.table.clone(),
            flags: self.flags,
        };
        match self.call(&req)? {
            Reply::Entries(e) => Ok(e),
            other => Err(self.unexpected(other)),
        }
    }
}
