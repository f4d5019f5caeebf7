//! # NAME
//! mysql — the MySQL/MariaDB connection of `mysql:` tables
//!
//! ## DESCRIPTION
//! Connections (one per host, opened when first needed) are kept and
//! reused. A host whose connection or query fails is closed and left
//! alone for `retry_interval` seconds while the next one is tried. Values
//! are quoted as mysql_real_escape_string() does.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::{Backend, Endpoint, HostState, host_states, parse_host};
use crate::MapError;
use crate::cfgfile::CfgFile;

pub struct Mysql {
    spec: String,
    hosts: Vec<HostState>,
    conns: Vec<Option<mysql::Conn>>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    retry: Duration,
    timeout: Duration,
}

impl Mysql {
    pub fn new(spec: &str, cf: &CfgFile) -> Result<Mysql, MapError> {
        let hosts = host_states(cf, "localhost");
        let n = hosts.len();
        Ok(Mysql {
            spec: spec.to_string(),
            hosts,
            conns: (0..n).map(|_| None).collect(),
            user: cf.get("user"),
            password: cf.get("password"),
            dbname: cf.get("dbname"),
            retry: Duration::from_secs(cf.int(spec, "retry_interval", 60)?.max(0) as u64),
            timeout: Duration::from_secs(cf.int(spec, "timeout", 10)?.max(1) as u64),
        })
    }

    fn connect(&self, host: &str) -> Result<mysql::Conn, String> {
        let mut b = mysql::OptsBuilder::new()
            .user(self.user.clone())
            .pass(self.password.clone())
            .db_name(self.dbname.clone())
            .prefer_socket(false)
            .tcp_connect_timeout(Some(self.timeout))
            .read_timeout(Some(self.timeout))
            .write_timeout(Some(self.timeout));
        match parse_host(host) {
            Endpoint::Unix(path) => b = b.socket(Some(path)),
            Endpoint::Inet(h, port) => {
                b = b.ip_or_hostname(Some(h)).tcp_port(port.unwrap_or(3306));
            }
        }
        mysql::Conn::new(b).map_err(|e| match e {
            mysql::Error::DriverError(d) => d.to_string(),
            e => e.to_string(),
        })
    }
}

fn text(v: mysql::Value) -> Option<String> {
    use mysql::Value::*;
    Some(match v {
        NULL => return None,
        Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        Int(i) => i.to_string(),
        UInt(u) => u.to_string(),
        Float(f) => f.to_string(),
        Double(d) => d.to_string(),
        other => other.as_sql(true).trim_matches('\'').to_string(),
    })
}

impl Backend for Mysql {
    fn quote(&self, s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\0' => o.push_str("\\0"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\\' => o.push_str("\\\\"),
                '\'' => o.push_str("\\'"),
                '"' => o.push_str("\\\""),
                '\x1a' => o.push_str("\\Z"),
                c => o.push(c),
            }
        }
        o
    }

    fn query(&mut self, q: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        let now = Instant::now();
        let mut last = String::from("no database server is available");
        for i in 0..self.hosts.len() {
            if self.hosts[i].dead_until.is_some_and(|t| now < t) {
                continue;
            }
            // A kept connection may have been closed by the server while
            // idle: one fresh try before the host counts as down.
            for _attempt in 0..2 {
                let reused = self.conns[i].is_some();
                if !reused {
                    match self.connect(&self.hosts[i].name) {
                        Ok(c) => self.conns[i] = Some(c),
                        Err(e) => {
                            last = format!(
                                "{}: cannot connect to MySQL server {}: {e}",
                                self.spec, self.hosts[i].name
                            );
                            crate::msg::warn(&last);
                            self.hosts[i].dead_until = Some(now + self.retry);
                            break;
                        }
                    }
                }
                let Some(conn) = self.conns[i].as_mut() else {
                    break;
                };
                match conn.query::<mysql::Row, _>(q) {
                    Ok(rows) => {
                        self.hosts[i].dead_until = None;
                        return Ok(rows
                            .into_iter()
                            .map(|r| r.unwrap().into_iter().map(text).collect())
                            .collect());
                    }
                    Err(mysql::Error::MySqlError(e)) => {
                        // The server answered: the query is wrong, not the
                        // server. Another server would say the same.
                        let m = format!(
                            "{}: query failed on MySQL server {}: {e}",
                            self.spec, self.hosts[i].name
                        );
                        crate::msg::warn(&m);
                        return Err(m);
                    }
                    Err(e) => {
                        last = format!(
                            "{}: query failed on MySQL server {}: {e}",
                            self.spec, self.hosts[i].name
                        );
                        self.conns[i] = None;
                        if !reused {
                            crate::msg::warn(&last);
                            self.hosts[i].dead_until = Some(now + self.retry);
                            break;
                        }
                    }
                }
            }
        }
        Err(last)
    }
}
