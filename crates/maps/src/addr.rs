//! # NAME
//! addr — address lookups in the order Postfix uses (`mail_addr_find`)
//!
//! ## SYNOPSIS
//! ```ignore
//! let opts = AddrFindOptions::from_config(&cfg, "virtual")?;
//! let hit = addr::find_address(&mut virtual_alias_maps, "User+Ext@Example.com", &opts)?;
//! ```
//!
//! ## DESCRIPTION
//! For `user+ext@domain` the tables are asked, stopping at the first
//! answer:
//!
//! 1. `user+ext@domain` (every table, pattern tables included);
//! 2. `user@domain` (when there is an extension);
//! 3. `user+ext` and then `user`, only when [`AddrFindOptions::localpart`]
//!    says so (the caller decides; Postfix does it for local domains);
//! 4. `@domain`, when [`AddrFindOptions::at_domain`] says so.
//!
//! Forms 2 to 4 are not shown to pattern tables (regexp, pcre, cidr),
//! which see the full address only. The extension starts at the first
//! character of the localpart that is one of `recipient_delimiter`'s
//! characters (never the first character, never in `postmaster` or
//! `mailer-daemon`, nor in `owner-*` and `*-request` when `-` is a
//! delimiter; a localpart that starts with a delimiter has none). With
//! [`AddrFindOptions::propagate_extension`], an answer found without the
//! extension gets it back: each address of the result has `+ext` appended
//! to its localpart, as `propagate_unmatched_extensions` asks for
//! canonical and virtual maps. [`find_address_ext`] returns the answer as
//! it is with the extension it did not match, for callers that parse the
//! answer themselves (cleanup(8) rewrites each address of it first).
//!
//! An error from any table stops the search and is returned: the caller
//! defers the mail.
//!
//! [`find_access`] is the order of access(5) tables: full address,
//! without extension, domain and parent domains, `user@`.
//!
//! ## SEE ALSO
//! virtual(5), canonical(5), access(5), [`crate::domain`]

use crate::{MapError, MapList};

/// How an address is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrFindOptions {
    /// `recipient_delimiter`: each character may start an extension.
    pub delimiters: String,
    /// Also look up the localpart alone (`user+ext`, `user`).
    pub localpart: bool,
    /// Also look up `@domain`.
    pub at_domain: bool,
    /// Append the unmatched extension to what was found without it.
    pub propagate_extension: bool,
}

impl Default for AddrFindOptions {
    fn default() -> AddrFindOptions {
        AddrFindOptions {
            delimiters: String::new(),
            localpart: false,
            at_domain: true,
            propagate_extension: false,
        }
    }
}

impl AddrFindOptions {
    /// Options from main.cf for a feature named in
    /// `propagate_unmatched_extensions` (`canonical`, `virtual`, `alias`,
    /// `forward`, `include`, `generic`).
    pub fn from_config(cfg: &config::Config, feature: &str) -> Result<AddrFindOptions, MapError> {
        let err = |e: config::ConfigError| MapError::config("", e.to_string());
        let delimiters = cfg.str(&config::params::RECIPIENT_DELIMITER).map_err(err)?;
        let propagate = cfg
            .list(&config::params::PROPAGATE_UNMATCHED_EXTENSIONS)
            .map_err(err)?
            .iter()
            .any(|f| f.eq_ignore_ascii_case(feature));
        Ok(AddrFindOptions {
            delimiters,
            propagate_extension: propagate,
            ..AddrFindOptions::default()
        })
    }
}

/// Splits a localpart into base and extension (with its delimiter), at
/// the first delimiter character, as Postfix does: never `postmaster` or
/// `mailer-daemon`, nor `owner-*` and `*-request` when `-` is a delimiter,
/// and not when the first delimiter is the first character.
pub fn split_extension<'a>(local: &'a str, delimiters: &str) -> (&'a str, Option<&'a str>) {
    if delimiters.is_empty()
        || local.eq_ignore_ascii_case("postmaster")
        || local.eq_ignore_ascii_case("mailer-daemon")
    {
        return (local, None);
    }
    if delimiters.contains('-') {
        let lower = local.to_ascii_lowercase();
        if lower.starts_with("owner-") || (lower.len() > 8 && lower.ends_with("-request")) {
            return (local, None);
        }
    }
    match local.char_indices().find(|(_, c)| delimiters.contains(*c)) {
        Some((i, _)) if i > 0 => (&local[..i], Some(&local[i..])),
        _ => (local, None),
    }
}

/// Puts an extension back into each address of a comma-separated result.
fn propagate(result: &str, ext: &str) -> String {
    result
        .split(',')
        .map(|a| {
            let a = a.trim();
            match a.rfind('@') {
                Some(i) => format!("{}{ext}{}", &a[..i], &a[i..]),
                None if a.is_empty() => String::new(),
                None => format!("{a}{ext}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Looks up an address (see the module documentation).
pub fn find_address(
    maps: &mut MapList,
    addr: &str,
    opts: &AddrFindOptions,
) -> Result<Option<String>, MapError> {
    Ok(
        find_address_ext(maps, addr, opts)?.map(|f| match f.extension {
            Some(e) if opts.propagate_extension => propagate(&f.value, &e),
            _ => f.value,
        }),
    )
}

/// What [`find_address_ext`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The table's answer, as it is.
    pub value: String,
    /// The address extension (with its delimiter) when the answer was
    /// found for a form without it: the caller may propagate it.
    pub extension: Option<String>,
}

/// Looks up an address in the order of [`find_address`], and returns the
/// answer unchanged with the extension it did not match
/// ([`AddrFindOptions::propagate_extension`] is not applied).
pub fn find_address_ext(
    maps: &mut MapList,
    addr: &str,
    opts: &AddrFindOptions,
) -> Result<Option<Found>, MapError> {
    let (local, domain) = match addr.rfind('@') {
        Some(i) => (&addr[..i], Some(&addr[i..])),
        None => (addr, None),
    };
    let (base, ext) = split_extension(local, &opts.delimiters);
    let exact = |value: String| Found {
        value,
        extension: None,
    };
    let unmatched = |value: String| Found {
        value,
        extension: ext.map(str::to_string),
    };
    // 1. The full address.
    if let Some(v) = maps.find(addr)? {
        return Ok(Some(exact(v)));
    }
    // 2. Without the extension.
    if ext.is_some()
        && let Some(d) = domain
        && let Some(v) = maps.find_fixed(&format!("{base}{d}"))?
    {
        return Ok(Some(unmatched(v)));
    }
    // 3. The localpart.
    if opts.localpart {
        if domain.is_some()
            && let Some(v) = maps.find_fixed(local)?
        {
            return Ok(Some(exact(v)));
        }
        if ext.is_some()
            && let Some(v) = maps.find_fixed(base)?
        {
            return Ok(Some(unmatched(v)));
        }
    }
    // 4. @domain.
    if opts.at_domain
        && let Some(d) = domain
        && let Some(v) = maps.find_fixed(d)?
    {
        return Ok(Some(unmatched(v)));
    }
    Ok(None)
}

/// Looks up a sender or recipient address in an access(5) table:
/// `user+ext@domain`, `user@domain`, then the domain and its parents (as
/// [`crate::domain::find_domain`] does, `parent` telling whether
/// `smtpd_access_maps` is in `parent_domain_matches_subdomains`), then
/// `user+ext@` and `user@`. Pattern tables see the full address only.
pub fn find_access(
    maps: &mut MapList,
    addr: &str,
    delimiters: &str,
    parent: bool,
) -> Result<Option<String>, MapError> {
    let (local, domain) = match addr.rfind('@') {
        Some(i) => (&addr[..i], Some(&addr[i + 1..])),
        None => (addr, None),
    };
    let (base, ext) = split_extension(local, delimiters);
    if let Some(v) = maps.find(addr)? {
        return Ok(Some(v));
    }
    if let (Some(d), Some(_)) = (domain, ext)
        && let Some(v) = maps.find_fixed(&format!("{base}@{d}"))?
    {
        return Ok(Some(v));
    }
    if let Some(d) = domain.filter(|d| !d.is_empty()) {
        if let Some(v) = maps.find_fixed(d)? {
            return Ok(Some(v));
        }
        let mut rest = d;
        while let Some(i) = rest.find('.') {
            let p = &rest[i + 1..];
            if p.is_empty() {
                break;
            }
            let key = if parent {
                p.to_string()
            } else {
                format!(".{p}")
            };
            if let Some(v) = maps.find_fixed(&key)? {
                return Ok(Some(v));
            }
            rest = p;
        }
    }
    if let Some(v) = maps.find_fixed(&format!("{local}@"))? {
        return Ok(Some(v));
    }
    if ext.is_some()
        && let Some(v) = maps.find_fixed(&format!("{base}@"))?
    {
        return Ok(Some(v));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(spec: &str) -> MapList {
        let cfg = config::Config::from_text(std::path::Path::new("/tmp"), "").unwrap();
        MapList::open(spec, &cfg, crate::OpenFlags::default()).unwrap()
    }

    #[test]
    fn query_order() {
        let mut m = maps(
            "inline:{user@example.com=plain, @example.com=catchall, joe=local, {joe+x = localext}}",
        );
        let o = AddrFindOptions {
            delimiters: "+-".into(),
            localpart: true,
            at_domain: true,
            propagate_extension: true,
        };
        assert_eq!(
            find_address(&mut m, "user+foo@example.com", &o)
                .unwrap()
                .as_deref(),
            Some("plain+foo")
        );
        assert_eq!(
            find_address(&mut m, "User@Example.com", &o)
                .unwrap()
                .as_deref(),
            Some("plain")
        );
        assert_eq!(
            find_address(&mut m, "joe+x@elsewhere", &o)
                .unwrap()
                .as_deref(),
            Some("localext")
        );
        assert_eq!(
            find_address(&mut m, "joe-y@elsewhere", &o)
                .unwrap()
                .as_deref(),
            Some("local-y")
        );
        assert_eq!(
            find_address(&mut m, "other@example.com", &o)
                .unwrap()
                .as_deref(),
            Some("catchall")
        );
        let o2 = AddrFindOptions {
            localpart: false,
            ..o.clone()
        };
        assert_eq!(find_address(&mut m, "joe@elsewhere", &o2).unwrap(), None);
    }

    #[test]
    fn patterns_see_full_address_only() {
        let mut m = maps("regexp:{ {/^user@/ re} } inline:{@example.com=fixed}");
        let o = AddrFindOptions {
            delimiters: "+".into(),
            ..AddrFindOptions::default()
        };
        // The regexp would match "user@example.com" but only sees the full key.
        assert_eq!(
            find_address(&mut m, "user+x@example.com", &o)
                .unwrap()
                .as_deref(),
            Some("fixed")
        );
        let mut f = maps("fail:x");
        assert!(find_address(&mut f, "a@b", &o).is_err());
    }

    #[test]
    fn access_order() {
        let mut m =
            maps("inline:{joe@=user-part, example.com=parent, {bob@mail.example.org = full}}");
        assert_eq!(
            find_access(&mut m, "ann@sub.example.com", "+", true)
                .unwrap()
                .as_deref(),
            Some("parent")
        );
        assert_eq!(
            find_access(&mut m, "ann@sub.example.com", "+", false).unwrap(),
            None
        );
        assert_eq!(
            find_access(&mut m, "joe+x@other.net", "+", true)
                .unwrap()
                .as_deref(),
            Some("user-part")
        );
        assert_eq!(
            find_access(&mut m, "bob+y@mail.example.org", "+", true)
                .unwrap()
                .as_deref(),
            Some("full")
        );
    }

    #[test]
    fn unmatched_extension_is_returned() {
        let mut m =
            maps("inline:{{joe@example.com=Joe <joe@elsewhere>}, {ann+x@example.com=ann-x}}");
        let o = AddrFindOptions {
            delimiters: "+".into(),
            propagate_extension: true,
            ..AddrFindOptions::default()
        };
        assert_eq!(
            find_address_ext(&mut m, "joe+list@example.com", &o).unwrap(),
            Some(Found {
                value: "Joe <joe@elsewhere>".into(),
                extension: Some("+list".into())
            })
        );
        assert_eq!(
            find_address_ext(&mut m, "ann+x@example.com", &o).unwrap(),
            Some(Found {
                value: "ann-x".into(),
                extension: None
            })
        );
    }

    #[test]
    fn extensions() {
        assert_eq!(split_extension("a+b+c", "+"), ("a", Some("+b+c")));
        assert_eq!(split_extension("+a", "+"), ("+a", None));
        assert_eq!(split_extension("+a+b", "+"), ("+a+b", None));
        assert_eq!(split_extension("owner-list", "-"), ("owner-list", None));
        assert_eq!(
            split_extension("list-request", "+-"),
            ("list-request", None)
        );
        assert_eq!(split_extension("list-request", "+"), ("list-request", None));
        assert_eq!(split_extension("a-request", "-"), ("a-request", None));
        assert_eq!(split_extension("a-b", "-"), ("a", Some("-b")));
        assert_eq!(
            split_extension("mailer-daemon", "-"),
            ("mailer-daemon", None)
        );
        assert_eq!(split_extension("a-b", ""), ("a-b", None));
    }
}
