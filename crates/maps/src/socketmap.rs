//! # NAME
//! socketmap — `socketmap:` tables (the Sendmail socketmap protocol)
//!
//! ## SYNOPSIS
//! `socketmap:inet:host:port:name`, `socketmap:unix:/path:name`
//!
//! ## DESCRIPTION
//! Each lookup sends the netstring `name key` and reads one netstring
//! reply: `OK value` (found), `NOTFOUND ` (not found), `TEMP reason` or
//! `TIMEOUT reason` (temporary failure), `PERM reason` (configuration
//! error). The connection is kept and opened again once when it broke.
//! Replies longer than 100000 bytes are refused.
//!
//! ## SEE ALSO
//! socketmap_table(5)

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::{Dict, MapError, OpenCtx};

const TIMEOUT: Duration = Duration::from_secs(100);
const REPLY_MAX: usize = 100_000;

pub(crate) enum Stream {
    Tcp(BufReader<TcpStream>),
    Unix(BufReader<UnixStream>),
}

impl Stream {
    pub(crate) fn connect(endpoint: &Endpoint) -> std::io::Result<Stream> {
        match endpoint {
            Endpoint::Inet(addr) => {
                let mut last = std::io::Error::other("no address");
                for a in std::net::ToSocketAddrs::to_socket_addrs(addr.as_str())? {
                    match TcpStream::connect_timeout(&a, TIMEOUT) {
                        Ok(s) => {
                            s.set_read_timeout(Some(TIMEOUT))?;
                            s.set_write_timeout(Some(TIMEOUT))?;
                            return Ok(Stream::Tcp(BufReader::new(s)));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Endpoint::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_read_timeout(Some(TIMEOUT))?;
                s.set_write_timeout(Some(TIMEOUT))?;
                Ok(Stream::Unix(BufReader::new(s)))
            }
        }
    }

    pub(crate) fn reader(&mut self) -> &mut dyn BufRead {
        match self {
            Stream::Tcp(r) => r,
            Stream::Unix(r) => r,
        }
    }

    pub(crate) fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(r) => r.get_mut().write_all(b),
            Stream::Unix(r) => r.get_mut().write_all(b),
        }
    }
}

/// Where a network table's server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Inet(String),
    Unix(String),
}

pub struct SocketMap {
    spec: String,
    endpoint: Endpoint,
    map: String,
    conn: Option<Stream>,
}

pub fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let bad = || {
        MapError::config(
            ctx.spec,
            format!(
                "{}: expected \"socketmap:inet:host:port:name\" or \"socketmap:unix:pathname:name\"",
                ctx.spec
            ),
        )
    };
    let (endpoint, map) = if let Some(rest) = ctx.name.strip_prefix("inet:") {
        let (addr, map) = rest.rsplit_once(':').ok_or_else(bad)?;
        if !addr.contains(':') {
            return Err(bad());
        }
        (Endpoint::Inet(addr.to_string()), map)
    } else if let Some(rest) = ctx.name.strip_prefix("unix:") {
        let (path, map) = rest.rsplit_once(':').ok_or_else(bad)?;
        (Endpoint::Unix(path.to_string()), map)
    } else {
        return Err(bad());
    };
    if map.is_empty() {
        return Err(bad());
    }
    Ok(Box::new(SocketMap {
        spec: ctx.spec.to_string(),
        endpoint,
        map: map.to_string(),
        conn: None,
    }))
}

/// Reads one netstring.
pub(crate) fn read_netstring(r: &mut dyn BufRead, max: usize) -> std::io::Result<Vec<u8>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut len = Vec::new();
    r.read_until(b':', &mut len)?;
    if len.pop() != Some(b':') || len.is_empty() || !len.iter().all(u8::is_ascii_digit) {
        return Err(bad("netstring format error"));
    }
    let n: usize = std::str::from_utf8(&len)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("netstring format error"))?;
    if n > max {
        return Err(bad("netstring too long"));
    }
    let mut body = vec![0u8; n + 1];
    r.read_exact(&mut body)?;
    if body.pop() != Some(b',') {
        return Err(bad("netstring format error"));
    }
    Ok(body)
}

impl SocketMap {
    fn ask(&mut self, key: &str) -> std::io::Result<Vec<u8>> {
        if self.conn.is_none() {
            self.conn = Some(Stream::connect(&self.endpoint)?);
        }
        let Some(c) = self.conn.as_mut() else {
            return Err(std::io::Error::other("not connected"));
        };
        let q = format!("{} {}", self.map, key);
        c.write_all(format!("{}:{},", q.len(), q).as_bytes())?;
        read_netstring(c.reader(), REPLY_MAX)
    }
}

impl Dict for SocketMap {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let mut last = None;
        for _ in 0..2 {
            match self.ask(key) {
                Ok(reply) => {
                    let reply = String::from_utf8_lossy(&reply).into_owned();
                    let (status, rest) = reply.split_once(' ').unwrap_or((&reply, ""));
                    return match status {
                        "OK" => Ok(Some(rest.to_string())),
                        "NOTFOUND" => Ok(None),
                        "TEMP" | "TIMEOUT" => Err(MapError::temp(
                            &self.spec,
                            format!("{}: socketmap server {status} error: {rest}", self.spec),
                        )),
                        "PERM" => Err(MapError::config(
                            &self.spec,
                            format!("{}: socketmap server PERM error: {rest}", self.spec),
                        )),
                        _ => Err(MapError::temp(
                            &self.spec,
                            format!("{}: malformed socketmap server reply: {reply}", self.spec),
                        )),
                    };
                }
                Err(e) => {
                    self.conn = None;
                    last = Some(e);
                }
            }
        }
        Err(MapError::temp(
            &self.spec,
            format!(
                "{}: socketmap server: {}",
                self.spec,
                last.map(|e| crate::db::strerror(&e)).unwrap_or_default()
            ),
        ))
    }

    fn name(&self) -> &str {
        &self.spec
    }
}
