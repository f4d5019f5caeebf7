//! # NAME
//! tcp — `tcp:host:port` tables (Postfix's simple TCP lookup protocol)
//!
//! ## DESCRIPTION
//! Each lookup sends `get KEY` and a newline and reads one line back:
//! `200 VALUE` (found), `500 text` (not found), `400 text` (temporary
//! failure). Keys and values are %XX-encoded where they hold whitespace,
//! control characters, `%` or bytes above 126. The connection is kept and
//! opened again once when it broke.
//!
//! ## SEE ALSO
//! tcp_table(5)

use std::io::BufRead;

use crate::socketmap::{Endpoint, Stream};
use crate::{Dict, MapError, OpenCtx};

const LINE_MAX: u64 = 100_000;

pub struct TcpDict {
    spec: String,
    endpoint: Endpoint,
    conn: Option<Stream>,
}

pub fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let endpoint = if let Some(p) = ctx.name.strip_prefix("unix:") {
        Endpoint::Unix(p.to_string())
    } else {
        let a = ctx.name.strip_prefix("inet:").unwrap_or(ctx.name);
        if !a.contains(':') {
            return Err(MapError::config(
                ctx.spec,
                format!("{}: expected \"tcp:host:port\"", ctx.spec),
            ));
        }
        Endpoint::Inet(a.to_string())
    };
    Ok(Box::new(TcpDict {
        spec: ctx.spec.to_string(),
        endpoint,
        conn: None,
    }))
}

/// %XX-encodes what may not appear raw on the wire.
pub fn encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b <= 32 || b > 126 || b == b'%' {
            o.push_str(&format!("%{b:02X}"));
        } else {
            o.push(b as char);
        }
    }
    o
}

/// Decodes %XX.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut o = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            o.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
            i += 3;
            continue;
        }
        o.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&o).into_owned()
}

impl TcpDict {
    fn ask(&mut self, key: &str) -> std::io::Result<String> {
        if self.conn.is_none() {
            self.conn = Some(Stream::connect(&self.endpoint)?);
        }
        let Some(c) = self.conn.as_mut() else {
            return Err(std::io::Error::other("not connected"));
        };
        c.write_all(format!("get {}\n", encode(key)).as_bytes())?;
        let mut line = Vec::new();
        std::io::Read::take(c.reader(), LINE_MAX).read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let line = String::from_utf8_lossy(&line);
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

impl Dict for TcpDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let mut last = None;
        for _ in 0..2 {
            match self.ask(key) {
                Ok(reply) => {
                    let (code, text) = reply.split_once(' ').unwrap_or((&reply, ""));
                    return match code {
                        "200" => Ok(Some(decode(text))),
                        "500" => Ok(None),
                        "400" => Err(MapError::temp(
                            &self.spec,
                            format!("{}: {}", self.spec, decode(text)),
                        )),
                        _ => Err(MapError::temp(
                            &self.spec,
                            format!("{}: malformed server reply: {reply}", self.spec),
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
                "{}: {}",
                self.spec,
                last.map(|e| crate::db::strerror(&e)).unwrap_or_default()
            ),
        ))
    }

    fn name(&self) -> &str {
        &self.spec
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn coding() {
        assert_eq!(super::encode("a b%c"), "a%20b%25c");
        assert_eq!(super::decode("a%20b%25c"), "a b%c");
        assert_eq!(super::decode("100%"), "100%");
    }
}
