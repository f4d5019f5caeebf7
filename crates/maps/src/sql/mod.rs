//! # NAME
//! sql — `mysql:`, `pgsql:` and `sqlite:` tables
//!
//! ## SYNOPSIS
//! ```ignore
//! # /etc/postfix/virtual-mailbox.cf
//! hosts = inet:127.0.0.1:3306 unix:/run/mysqld/mysqld.sock
//! user = postfix
//! password = secret
//! dbname = mail
//! query = SELECT CONCAT('%d', '/', '%u', '/') FROM users WHERE email = '%s'
//! result_format = %s
//! domain = example.com, hash:/etc/postfix/sql-domains
//! expansion_limit = 1
//! ```
//!
//! ## DESCRIPTION
//! The table names a configuration file. For each lookup the `query` is
//! expanded (`%%`, `%s` the key, `%u` its local part, `%d` its domain,
//! `%1`..`%9` the domain's labels from the right; upper case forms are the
//! same), every value is quoted for the server, and the query is sent.
//! When the key lacks what the query needs (no domain for `%d`, an empty
//! local part for `%u`, too few labels) the query is not sent and the
//! key is not found. With `domain`, only `user@domain` keys of a listed
//! domain are looked up at all.
//!
//! Every non-NULL, non-empty column of every row is formatted with
//! `result_format` (`%s` the value, `%u`/`%d` its parts, `%S`/`%U`/`%D`
//! and `%1`..`%9` from the key) and the results are joined with commas.
//! More than `expansion_limit` results is a temporary error.
//!
//! MySQL and PostgreSQL connections are kept open and reused; `hosts` are
//! tried in random order (Unix sockets first); a host that fails is left
//! alone for `retry_interval` seconds (default 60) while another is
//! tried. When no host answers, the lookup fails with a temporary error:
//! mail waits, it never bounces.
//!
//! ## BUGS
//! TLS to the database server (`tls_*` settings) is not supported; a
//! table that asks for it fails to open with a message that says so.
//! MySQL option files (`option_file`, `option_group`) are not read.
//!
//! ## SEE ALSO
//! mysql_table(5), pgsql_table(5), sqlite_table(5)

mod mysql;
mod pgsql;
mod sqlite;

use crate::cfgfile::CfgFile;
use crate::{Dict, Fold, MapError, OpenCtx};

/// One server connection kind.
pub(crate) trait Backend: Send {
    /// Quotes a value for use inside a string literal of the query.
    fn quote(&self, s: &str) -> String;
    /// Runs a query; rows of columns, `None` for NULL. An `Err` is a
    /// temporary failure (no server answered, or the query failed).
    fn query(&mut self, q: &str) -> Result<Vec<Vec<Option<String>>>, String>;
}

/// Which settings a table file must and may have.
pub(crate) struct SqlCfg {
    query: String,
    result_format: String,
    expansion_limit: usize,
    domain: Option<Vec<DomainItem>>,
}

enum DomainItem {
    Name(String),
    Table(Box<dyn Dict>),
}

pub fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let cf = CfgFile::read(ctx.spec, ctx.name)?;
    for tls in [
        "tls_cert_file",
        "tls_key_file",
        "tls_CAfile",
        "tls_CApath",
        "tls_ciphers",
    ] {
        if cf.get(tls).is_some_and(|v| !v.is_empty()) {
            return Err(MapError::config(
                ctx.spec,
                format!(
                    "{}: {tls}: TLS connections to the database server are not supported by this build",
                    ctx.name
                ),
            ));
        }
    }
    let sql = common(ctx, &cf)?;
    let backend: Box<dyn Backend> = match ctx.kind {
        "mysql" => Box::new(mysql::Mysql::new(ctx.spec, &cf)?),
        "pgsql" => Box::new(pgsql::Pgsql::new(ctx.spec, &cf)?),
        _ => Box::new(sqlite::Sqlite::new(ctx.spec, &cf)?),
    };
    Ok(Box::new(SqlDict {
        spec: ctx.spec.to_string(),
        fold: Fold::from_flags(ctx.flags),
        cfg: sql,
        backend,
    }))
}

fn common(ctx: &OpenCtx<'_>, cf: &CfgFile) -> Result<SqlCfg, MapError> {
    let query = match cf.get("query") {
        Some(q) => q,
        None => {
            // The settings before "query" existed.
            let table = cf.get("table");
            let select = cf.get("select_field");
            let where_ = cf.get("where_field");
            match (table, select, where_) {
                (Some(t), Some(s), Some(w)) => format!(
                    "SELECT {s} FROM {t} WHERE {w} = '%s' {}",
                    cf.get_or("additional_conditions", "")
                ),
                _ => {
                    return Err(MapError::config(
                        ctx.spec,
                        format!("{}: missing \"query\" setting", ctx.name),
                    ));
                }
            }
        }
    };
    let result_format = cf
        .get("result_format")
        .or_else(|| cf.get("result_filter"))
        .unwrap_or_else(|| "%s".to_string());
    let limit = cf.int(ctx.spec, "expansion_limit", 0)?;
    let domain = match cf.get("domain") {
        Some(d) if !d.trim().is_empty() => {
            let mut items = Vec::new();
            for item in crate::split_list(&d) {
                if item.starts_with('/') {
                    let text = std::fs::read_to_string(&item).map_err(|e| {
                        MapError::config(
                            ctx.spec,
                            format!("open {item}: {}", crate::db::strerror(&e)),
                        )
                    })?;
                    for l in text.lines() {
                        let l = l.trim();
                        if !l.is_empty() && !l.starts_with('#') {
                            for w in crate::split_list(l) {
                                items.push(DomainItem::Name(w.to_ascii_lowercase()));
                            }
                        }
                    }
                } else if item.contains(':') {
                    items.push(DomainItem::Table(crate::open(&item, ctx.cfg, ctx.flags)?));
                } else {
                    items.push(DomainItem::Name(item.to_ascii_lowercase()));
                }
            }
            Some(items)
        }
        _ => None,
    };
    Ok(SqlCfg {
        query,
        result_format,
        expansion_limit: limit.max(0) as usize,
        domain,
    })
}

pub struct SqlDict {
    spec: String,
    fold: Fold,
    cfg: SqlCfg,
    backend: Box<dyn Backend>,
}

/// The parts of a key.
struct KeyParts<'a> {
    whole: &'a str,
    local: &'a str,
    domain: Option<&'a str>,
}

fn split_key(key: &str) -> KeyParts<'_> {
    match key.rfind('@') {
        Some(i) => KeyParts {
            whole: key,
            local: &key[..i],
            domain: Some(&key[i + 1..]),
        },
        None => KeyParts {
            whole: key,
            local: key,
            domain: None,
        },
    }
}

/// Label `n` (1 = top level) of a domain.
fn label(domain: Option<&str>, n: usize) -> Option<&str> {
    let d = domain?;
    if d.is_empty() {
        return None;
    }
    d.rsplit('.').nth(n - 1).filter(|l| !l.is_empty())
}

/// Expands a query template; `None` when the key cannot fill it.
pub(crate) fn expand_query(
    template: &str,
    key: &str,
    quote: &dyn Fn(&str) -> String,
) -> Option<String> {
    let k = split_key(key);
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'S') => out.push_str(&quote(k.whole)),
            Some('u' | 'U') => {
                if k.local.is_empty() {
                    return None;
                }
                out.push_str(&quote(k.local));
            }
            Some('d' | 'D') => match k.domain {
                Some(d) if !d.is_empty() => out.push_str(&quote(d)),
                _ => return None,
            },
            Some(n @ '1'..='9') => {
                out.push_str(&quote(label(k.domain, n as usize - '0' as usize)?));
            }
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    Some(out)
}

/// Formats one value with result_format; `None` skips the value.
pub(crate) fn expand_result(fmt: &str, value: &str, key: &str) -> Option<String> {
    let v = split_key(value);
    let k = split_key(key);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') => out.push_str(value),
            Some('u') => out.push_str(v.local),
            Some('d') => out.push_str(v.domain.filter(|d| !d.is_empty())?),
            Some('S') => out.push_str(k.whole),
            Some('U') => out.push_str(k.local),
            Some('D') => out.push_str(k.domain.filter(|d| !d.is_empty())?),
            Some(n @ '1'..='9') => out.push_str(label(k.domain, n as usize - '0' as usize)?),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    Some(out)
}

impl SqlDict {
    fn domain_ok(&mut self, key: &str) -> Result<bool, MapError> {
        let Some(items) = &mut self.cfg.domain else {
            return Ok(true);
        };
        let k = split_key(key);
        let Some(d) = k.domain else {
            return Ok(false);
        };
        if k.local.is_empty() || d.is_empty() {
            return Ok(false);
        }
        let d = d.to_ascii_lowercase();
        for item in items.iter_mut() {
            match item {
                DomainItem::Name(n) => {
                    if *n == d {
                        return Ok(true);
                    }
                }
                DomainItem::Table(t) => {
                    if t.lookup(&d)?.is_some() {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }
}

impl Dict for SqlDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.fold.apply(key);
        if !self.domain_ok(&key)? {
            return Ok(None);
        }
        let backend = &self.backend;
        let Some(q) = expand_query(&self.cfg.query, &key, &|s| backend.quote(s)) else {
            return Ok(None);
        };
        let rows = self
            .backend
            .query(&q)
            .map_err(|e| MapError::temp(&self.spec, e))?;
        let mut out: Option<String> = None;
        let mut count = 0usize;
        for row in rows {
            for v in row.into_iter().flatten() {
                if v.is_empty() {
                    continue;
                }
                let Some(r) = expand_result(&self.cfg.result_format, &v, &key) else {
                    continue;
                };
                count += 1;
                if self.cfg.expansion_limit > 0 && count > self.cfg.expansion_limit {
                    let reason =
                        format!("{}: Expansion limit exceeded for key: '{key}'", self.spec);
                    crate::msg::warn(&reason);
                    return Err(MapError::temp(&self.spec, reason));
                }
                match &mut out {
                    Some(o) => {
                        o.push(',');
                        o.push_str(&r);
                    }
                    None => out = Some(r),
                }
            }
        }
        Ok(out)
    }

    fn name(&self) -> &str {
        &self.spec
    }
}

/// Host order: Unix sockets first, each group shuffled.
pub(crate) fn order_hosts(hosts: &[String]) -> Vec<String> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(0)
        ^ std::process::id() as usize;
    let (mut unix, mut inet): (Vec<String>, Vec<String>) =
        hosts.iter().cloned().partition(|h| h.starts_with("unix:"));
    let rot = |v: &mut Vec<String>| {
        if !v.is_empty() {
            let n = seed % v.len();
            v.rotate_left(n);
        }
    };
    rot(&mut unix);
    rot(&mut inet);
    unix.extend(inet);
    unix
}

/// A server address from `hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Unix(String),
    Inet(String, Option<u16>),
}

pub(crate) fn parse_host(h: &str) -> Endpoint {
    if let Some(p) = h.strip_prefix("unix:") {
        return Endpoint::Unix(p.to_string());
    }
    let h = h.strip_prefix("inet:").unwrap_or(h);
    // [v6]:port, host:port, host
    if let Some(rest) = h.strip_prefix('[')
        && let Some((addr, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return Endpoint::Inet(addr.to_string(), port);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Endpoint::Inet(host.to_string(), port.parse().ok())
        }
        _ => Endpoint::Inet(h.to_string(), None),
    }
}

/// A host that failed, and until when it is left alone.
pub(crate) struct HostState {
    pub name: String,
    pub dead_until: Option<std::time::Instant>,
}

pub(crate) fn host_states(cf: &CfgFile, default: &str) -> Vec<HostState> {
    let hosts = crate::split_list(&cf.get_or("hosts", default));
    let hosts = if hosts.is_empty() {
        vec![default.to_string()]
    } else {
        hosts
    };
    order_hosts(&hosts)
        .into_iter()
        .map(|name| HostState {
            name,
            dead_until: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        s.replace('\'', "''")
    }

    #[test]
    fn query_expansion() {
        let t = "SELECT x FROM t WHERE a='%s' AND u='%u' AND d='%d' AND l='%1.%2' AND p='%%'";
        assert_eq!(
            expand_query(t, "o'neil@mail.example.com", &q).unwrap(),
            "SELECT x FROM t WHERE a='o''neil@mail.example.com' AND u='o''neil' AND d='mail.example.com' AND l='com.example' AND p='%'"
        );
        assert_eq!(expand_query("%d", "user", &q), None);
        assert_eq!(expand_query("%u", "@example.com", &q), None);
        assert_eq!(expand_query("%u", "user", &q).unwrap(), "user");
        assert_eq!(expand_query("%4", "u@a.b.c", &q), None);
    }

    #[test]
    fn result_format() {
        assert_eq!(
            expand_result("%d/%u/", "joe@example.com", "k").unwrap(),
            "example.com/joe/"
        );
        assert_eq!(expand_result("%d", "plain", "k"), None);
        assert_eq!(
            expand_result("smtp:[%s] for %U at %D", "relay", "a@b.c").unwrap(),
            "smtp:[relay] for a at b.c"
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("inet:db.example:3307"),
            Endpoint::Inet("db.example".into(), Some(3307))
        );
        assert_eq!(parse_host("db"), Endpoint::Inet("db".into(), None));
        assert_eq!(parse_host("unix:/run/s"), Endpoint::Unix("/run/s".into()));
        assert_eq!(
            parse_host("[::1]:5432"),
            Endpoint::Inet("::1".into(), Some(5432))
        );
        let o = order_hosts(&["a".into(), "unix:/s".into(), "b".into()]);
        assert_eq!(o[0], "unix:/s");
    }
}
