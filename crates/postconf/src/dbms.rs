//! # NAME
//! dbms — check the configuration files of database lookup tables
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut checked = Checked::default();
//! dbms::check_value(&expanded_value, &mut checked)?;   // warnings
//! dbms::prefixed_names(&expanded_value);               // corp_server_host, ...
//! ```
//!
//! ## DESCRIPTION
//! The value of a built-in or per-service parameter that names a
//! `mysql:`, `pgsql:`, `ldap:`, `sqlite:` or `memcache:` table, possibly
//! inside `proxy:` or inside the `{ }` of `unionmap:`, `pipemap:` and
//! other tables, names a configuration file when the table name is an
//! absolute path. postconf(1) reads that file as
//! it reads main.cf and reports each setting that the table type does not
//! know, as `mysql:/etc/postfix/x.cf: unused parameter: name=value`; a
//! file that cannot be opened is reported as `open "mysql" configuration
//! "/etc/postfix/x.cf": reason`. Each file is read once.
//!
//! A table name that is not a path, as in `ldap:corp`, refers to main.cf
//! settings named `corp_server_host` and so on; those count as used
//! parameters ([`prefixed_names`]).
//!
//! ## SEE ALSO
//! mysql_table(5), pgsql_table(5), ldap_table(5), sqlite_table(5),
//! memcache_table(5)

use std::collections::HashSet;

use crate::msg::{Result, warning};
use crate::settings::{Settings, read_text, strerror};

/// The table types whose names are configuration files, and the settings
/// each one knows.
pub const TYPES: &[(&str, &[&str])] = &[
    (
        "mysql",
        &[
            "additional_conditions",
            "dbname",
            "domain",
            "expansion_limit",
            "hosts",
            "option_file",
            "option_group",
            "password",
            "query",
            "require_result_set",
            "result_format",
            "select_field",
            "table",
            "tls_CAfile",
            "tls_CApath",
            "tls_cert_file",
            "tls_ciphers",
            "tls_key_file",
            "tls_verify_cert",
            "user",
            "where_field",
        ],
    ),
    (
        "pgsql",
        &[
            "additional_conditions",
            "dbname",
            "domain",
            "expansion_limit",
            "hosts",
            "password",
            "query",
            "result_format",
            "select_field",
            "select_function",
            "table",
            "user",
            "where_field",
        ],
    ),
    (
        "sqlite",
        &[
            "additional_conditions",
            "dbpath",
            "domain",
            "expansion_limit",
            "query",
            "result_format",
            "select_field",
            "table",
            "where_field",
        ],
    ),
    (
        "memcache",
        &[
            "backup",
            "data_size_limit",
            "domain",
            "flags",
            "key_format",
            "line_size_limit",
            "max_try",
            "memcache",
            "retry_pause",
            "timeout",
            "ttl",
        ],
    ),
    (
        "ldap",
        &[
            "bind",
            "bind_dn",
            "bind_pw",
            "cache",
            "cache_expiry",
            "cache_size",
            "chase_referrals",
            "debuglevel",
            "dereference",
            "domain",
            "expansion_limit",
            "leaf_result_attribute",
            "query_filter",
            "recursion_limit",
            "result_attribute",
            "result_filter",
            "result_format",
            "sasl_authz_id",
            "sasl_mechs",
            "sasl_minssf",
            "sasl_realm",
            "scope",
            "search_base",
            "server_host",
            "server_port",
            "size_limit",
            "special_result_attribute",
            "start_tls",
            "terminal_result_attribute",
            "timeout",
            "tls_ca_cert_dir",
            "tls_ca_cert_file",
            "tls_cert",
            "tls_cipher_suite",
            "tls_key",
            "tls_random_file",
            "tls_require_cert",
            "version",
        ],
    ),
];

/// The settings a table type knows.
fn known(kind: &str) -> Option<&'static [&'static str]> {
    TYPES.iter().find(|(t, _)| *t == kind).map(|(_, k)| *k)
}

/// Every `(type, name)` of a database table in a value, in order.
pub fn tables(value: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    collect(value, &mut out);
    out
}

/// Splits a list on whitespace and commas outside `{ }`.
fn elements(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (i, c) in value.char_indices() {
        let sep = depth == 0 && (c.is_whitespace() || c == ',');
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match (sep, start) {
            (true, Some(s)) => {
                out.push(&value[s..i]);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&value[s..]);
    }
    out
}

fn collect(value: &str, out: &mut Vec<(&'static str, String)>) {
    for e in elements(value) {
        table_in(e, out);
    }
}

/// The text inside `{ }` (the closing brace may be missing).
fn inside(group: &str) -> &str {
    let g = &group[1..];
    g.strip_suffix('}').unwrap_or(g)
}

/// One list element: `{ ... }`, `proxy:type:name`, `type:{ ... }` or
/// `type:name`.
fn table_in(element: &str, out: &mut Vec<(&'static str, String)>) {
    if element.starts_with('{') {
        collect(inside(element), out);
        return;
    }
    let Some((kind, name)) = element.split_once(':') else {
        return;
    };
    if kind == "proxy" {
        table_in(name, out);
    } else if name.starts_with('{') {
        collect(inside(name), out);
    } else if let Some((t, _)) = TYPES.iter().find(|(t, _)| *t == kind) {
        out.push((t, name.to_string()));
    }
}

/// The table files already checked.
pub type Checked = HashSet<(String, String)>;

/// Checks the configuration files that a value names.
pub fn check_value(value: &str, checked: &mut Checked) -> Result<()> {
    for (kind, name) in tables(value) {
        if !name.starts_with('/') || !checked.insert((kind.to_string(), name.clone())) {
            continue;
        }
        check_file(kind, &name)?;
    }
    Ok(())
}

/// Reads one configuration file and reports the settings it should not
/// have.
fn check_file(kind: &str, path: &str) -> Result<()> {
    let text = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            warning!("open \"{kind}\" configuration \"{path}\": not a regular file");
            return Ok(());
        }
        _ => match read_text(path) {
            Ok(t) => t,
            Err(e) => {
                warning!("open \"{kind}\" configuration \"{path}\": {}", strerror(&e));
                return Ok(());
            }
        },
    };
    let mut s = Settings::empty("");
    s.path = path.to_string();
    s.parse(&text)?;
    let legal = known(kind).unwrap_or_default();
    for e in s.entries() {
        if !legal.contains(&e.name.as_str()) {
            warning!("{kind}:{path}: unused parameter: {}={}", e.name, e.value);
        }
    }
    Ok(())
}

/// The main.cf names that tables such as `ldap:corp` in a value refer to:
/// `corp_server_host` and the rest of the settings of that type.
pub fn prefixed_names(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, name) in tables(value) {
        if name.starts_with('/') || name.is_empty() {
            continue;
        }
        for k in known(kind).unwrap_or_default() {
            out.push(format!("{name}_{k}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_in_values() {
        let t = tables(
            "unionmap:{mysql:/a.cf, pipemap:{pgsql:/b.cf}} proxy:proxy:ldap:/c.cf, \
             inline:{mysql:/d.cf}, hash:/etc/x, socketmap:inet:h:p, ldap:corp",
        );
        assert_eq!(
            t,
            [
                ("mysql", "/a.cf".to_string()),
                ("pgsql", "/b.cf".to_string()),
                ("ldap", "/c.cf".to_string()),
                ("mysql", "/d.cf".to_string()),
                ("ldap", "corp".to_string()),
            ]
        );
        assert!(tables("check_policy_service { unix:x, default_action=mysql:/z.cf }").is_empty());
    }

    #[test]
    fn prefixes_of_relative_names() {
        let p = prefixed_names("mysql:relname, mysql:/abs.cf");
        assert!(p.contains(&"relname_hosts".to_string()));
        assert!(!p.iter().any(|n| n.starts_with('/')));
    }
}
