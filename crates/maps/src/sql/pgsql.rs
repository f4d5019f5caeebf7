//! # NAME
//! pgsql — the PostgreSQL connection of `pgsql:` tables
//!
//! ## DESCRIPTION
//! Connections (one per host) are kept and reused, through the simple
//! query protocol (text results). A host whose connection or query fails
//! is closed and left alone for `retry_interval` seconds while the next
//! one is tried. `hosts` entries are `inet:host[:port]`, `host[:port]`,
//! `unix:/socket/directory` or a `postgresql://` URI. Values are quoted
//! for standard-conforming strings (quotes doubled).

use std::time::{Duration, Instant};

use super::{Backend, Endpoint, HostState, host_states, parse_host};
use crate::MapError;
use crate::cfgfile::CfgFile;

pub struct Pgsql {
    spec: String,
    hosts: Vec<HostState>,
    conns: Vec<Option<postgres::Client>>,
    user: String,
    password: Option<String>,
    dbname: Option<String>,
    retry: Duration,
    timeout: Duration,
}

impl Pgsql {
    pub fn new(spec: &str, cf: &CfgFile) -> Result<Pgsql, MapError> {
        let hosts = host_states(cf, "localhost");
        let n = hosts.len();
        let user = cf.get("user").unwrap_or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| "postfix".to_string())
        });
        Ok(Pgsql {
            spec: spec.to_string(),
            hosts,
            conns: (0..n).map(|_| None).collect(),
            user,
            password: cf.get("password"),
            dbname: cf.get("dbname"),
            retry: Duration::from_secs(cf.int(spec, "retry_interval", 60)?.max(0) as u64),
            timeout: Duration::from_secs(cf.int(spec, "timeout", 10)?.max(1) as u64),
        })
    }

    fn connect(&self, host: &str) -> Result<postgres::Client, String> {
        let mut c = if host.starts_with("postgresql://") || host.starts_with("postgres://") {
            host.parse::<postgres::Config>()
                .map_err(|e| e.to_string())?
        } else {
            let mut c = postgres::Config::new();
            match parse_host(host) {
                Endpoint::Unix(dir) => {
                    c.host_path(dir);
                }
                Endpoint::Inet(h, port) => {
                    c.host(&h).port(port.unwrap_or(5432));
                }
            }
            c.user(&self.user);
            if let Some(p) = &self.password {
                c.password(p);
            }
            if let Some(d) = &self.dbname {
                c.dbname(d);
            }
            c
        };
        c.connect_timeout(self.timeout);
        c.connect(postgres::NoTls)
            .map_err(|e| match std::error::Error::source(&e) {
                Some(s) => format!("{e}: {s}"),
                None => e.to_string(),
            })
    }
}

impl Backend for Pgsql {
    fn quote(&self, s: &str) -> String {
        s.replace('\0', "").replace('\'', "''")
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
                                "{}: cannot connect to PostgreSQL server {}: {e}",
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
                match conn.simple_query(q) {
                    Ok(msgs) => {
                        self.hosts[i].dead_until = None;
                        let mut rows = Vec::new();
                        for m in msgs {
                            if let postgres::SimpleQueryMessage::Row(r) = m {
                                rows.push(
                                    (0..r.len()).map(|j| r.get(j).map(str::to_string)).collect(),
                                );
                            }
                        }
                        return Ok(rows);
                    }
                    Err(e) => {
                        let m = format!(
                            "{}: query failed on PostgreSQL server {}: {e}",
                            self.spec, self.hosts[i].name
                        );
                        if e.as_db_error().is_some() && !conn.is_closed() {
                            // The server answered: the query is wrong.
                            crate::msg::warn(&m);
                            return Err(m);
                        }
                        last = m;
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
