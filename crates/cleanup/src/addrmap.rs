//! # NAME
//! addrmap — look up an address in canonical or virtual tables and
//! turn the answer into addresses (Postfix's `mail_addr_map`)
//!
//! ## SYNOPSIS
//! ```ignore
//! match addr_map(&mut table, &mut local, &mut rewrite, "joe+x@example.com", "+", true)? {
//!     Some(list) => { /* internal-form addresses, rewritten */ }
//!     None => { /* no entry */ }
//! }
//! ```
//!
//! ## DESCRIPTION
//! The address (internal form) is quoted as RFC 822 wants it and looked
//! up in canonical(5)/virtual(5) order: `user+ext@domain`,
//! `user@domain`, `user+ext` and `user` when the domain is this host's
//! ([`LocalDomains`]), then `@domain` ([`maps::addr::find_address_ext`]).
//!
//! An answer that starts with `@` names another domain for the same
//! user: the localpart without its extension is put in front of it. The
//! answer is then parsed as a list of addresses; each is rewritten to
//! canonical form in the `local` context of trivial-rewrite(8), and, when
//! the lookup matched a form without the extension and extensions
//! propagate (`propagate_unmatched_extensions`), gets the extension back
//! in front of its `@`. An answer with no address in it is a table error.
//!
//! ## SEE ALSO
//! canonical(5), virtual(5), [`crate::map11`], [`crate::map1n`]

use mail::address;
use maps::addr::{AddrFindOptions, find_address_ext};

use crate::tables::{LocalDomains, Table};

/// Turns an address into its canonical form (trivial-rewrite(8)).
pub trait Rewrite {
    /// The address in `context` (`local`, `remote`), internal form.
    fn rewrite(&mut self, context: &str, addr: &str) -> Result<String, String>;
}

impl Rewrite for ipc::rewrite::Client {
    fn rewrite(&mut self, context: &str, addr: &str) -> Result<String, String> {
        ipc::rewrite::Client::rewrite(self, context, addr)
    }
}

/// Why an address could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    /// A table could not answer, or answered something that is not an
    /// address.
    Table(String),
    /// trivial-rewrite(8) could not be asked.
    Rewrite(String),
}

/// Looks up `addr` (internal form) and returns the addresses it maps
/// to, internal form, or `None` when the tables have no entry.
pub fn addr_map(
    table: &mut Table,
    local: &mut LocalDomains,
    rw: &mut dyn Rewrite,
    addr: &str,
    delimiters: &str,
    propagate: bool,
) -> Result<Option<Vec<String>>, Fail> {
    let key = address::externalize(addr);
    let (localpart, domain) = match key.rfind('@') {
        Some(i) => (&key[..i], Some(&key[i + 1..])),
        None => (key.as_str(), None),
    };
    let is_local = match domain {
        Some(d) => local.is_local(d).map_err(|e| {
            crate::tables::log_lookup_error(&e, addr);
            Fail::Table(e.to_string())
        })?,
        None => true,
    };
    let opts = AddrFindOptions {
        delimiters: delimiters.to_string(),
        localpart: is_local,
        at_domain: true,
        propagate_extension: false,
    };
    let found = match find_address_ext(&mut table.maps, &key, &opts) {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(e) => {
            crate::tables::log_lookup_error(&e, &key);
            return Err(Fail::Table(e.to_string()));
        }
    };
    let mut value = found.value.clone();
    if value.starts_with('@') {
        let base = match &found.extension {
            Some(e) => localpart.strip_suffix(e.as_str()).unwrap_or(localpart),
            None => localpart,
        };
        value = format!("{base}{value}");
    }
    let ext = if propagate { found.extension } else { None };
    let mut out = Vec::new();
    for a in address::parse_list(value.as_bytes()) {
        let a = address::strip_source_route(&a.addr).to_string();
        if a.is_empty() {
            continue;
        }
        let mut canon = rw.rewrite("local", &a).map_err(Fail::Rewrite)?;
        if let Some(e) = &ext {
            match canon.rfind('@') {
                Some(i) => canon.insert_str(i, e),
                None => canon.push_str(e),
            }
        }
        out.push(canon);
    }
    if out.is_empty() {
        daemon::warn!(
            "{} lookup of {} returns non-address result \"{}\"",
            table.title,
            daemon::Untrusted(addr),
            daemon::Untrusted(&found.value)
        );
        return Err(Fail::Table("non-address result".into()));
    }
    Ok(Some(out))
}

#[cfg(test)]
pub mod testing {
    use super::Rewrite;

    /// trivial-rewrite in miniature: `user` becomes `user@host.example`.
    pub struct FakeRewrite {
        pub calls: usize,
        pub fail: bool,
    }

    impl FakeRewrite {
        pub fn new() -> FakeRewrite {
            FakeRewrite {
                calls: 0,
                fail: false,
            }
        }
    }

    impl Rewrite for FakeRewrite {
        fn rewrite(&mut self, context: &str, addr: &str) -> Result<String, String> {
            self.calls += 1;
            if self.fail {
                return Err("connection refused".into());
            }
            if addr.is_empty() || addr.contains('@') {
                Ok(addr.to_string())
            } else if context == "remote" {
                Ok(format!("{addr}@remote.example"))
            } else {
                Ok(format!("{addr}@host.example"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::FakeRewrite;
    use super::*;

    fn run(spec: &str, addr: &str, propagate: bool) -> Result<Option<Vec<String>>, Fail> {
        let mut t = Table::for_tests("virtual_alias_maps", spec);
        let mut l = LocalDomains::for_tests("host.example");
        addr_map(
            &mut t,
            &mut l,
            &mut FakeRewrite::new(),
            addr,
            "+",
            propagate,
        )
    }

    #[test]
    fn answers() {
        let table = "inline:{{list@x.example=a@y.example, b, \"c d\"@y.example}, joe=joe.user, \
                     @old.example=@new.example, @catch.example=all@x.example, \
                     {named@x.example=Joe User <joe@y.example> (home)}}";
        let cases: &[(&str, bool, Option<&[&str]>)] = &[
            (
                "list@x.example",
                true,
                Some(&["a@y.example", "b@host.example", "c d@y.example"]),
            ),
            (
                "list+tag@x.example",
                true,
                Some(&["a+tag@y.example", "b+tag@host.example", "c d+tag@y.example"]),
            ),
            (
                "list+tag@x.example",
                false,
                Some(&["a@y.example", "b@host.example", "c d@y.example"]),
            ),
            // The localpart alone only for this host's domains.
            ("joe@host.example", true, Some(&["joe.user@host.example"])),
            (
                "joe+a@host.example",
                true,
                Some(&["joe.user+a@host.example"]),
            ),
            ("joe@x.example", true, None),
            ("u+v@old.example", true, Some(&["u+v@new.example"])),
            ("u+v@old.example", false, Some(&["u@new.example"])),
            ("any+v@catch.example", true, Some(&["all+v@x.example"])),
            ("named@x.example", true, Some(&["joe@y.example"])),
            ("nobody@x.example", true, None),
        ];
        for (addr, propagate, want) in cases {
            let got = run(table, addr, *propagate).unwrap();
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{addr} propagate={propagate}");
        }
    }

    #[test]
    fn quoted_keys_and_failures() {
        let dir = std::env::temp_dir().join(format!("cleanup-addrmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let re = dir.join("quoted.regexp");
        std::fs::write(&re, "/^\"john doe\"@x\\.example$/ jd@x.example\n").unwrap();
        assert_eq!(
            run(
                &format!("regexp:{}", re.display()),
                "john doe@x.example",
                true
            )
            .unwrap(),
            Some(vec!["jd@x.example".to_string()])
        );
        assert!(matches!(run("fail:x", "a@b", true), Err(Fail::Table(_))));
        assert!(matches!(
            run("inline:{{a@b=(just a comment)}}", "a@b", true),
            Err(Fail::Table(_))
        ));
        let mut t = Table::for_tests("canonical_maps", "inline:{a@b=c}");
        let mut l = LocalDomains::for_tests("host.example");
        let mut rw = FakeRewrite::new();
        rw.fail = true;
        assert!(matches!(
            addr_map(&mut t, &mut l, &mut rw, "a@b", "", true),
            Err(Fail::Rewrite(_))
        ));
    }
}
