//! # NAME
//! map1n — one-to-many address mapping (virtual(5) aliases)
//!
//! ## SYNOPSIS
//! ```ignore
//! let list = map1n(&mut st, &mut table, &mut local, &mut rewrite, &settings, "list@example.com");
//! ```
//!
//! ## DESCRIPTION
//! Expands an address (internal form) recursively: each address of the
//! list is looked up ([`crate::addrmap`]); an entry replaces it by the
//! first address of the answer and appends the others to the list, and
//! the replacement is looked up again. An address that an entry maps to
//! itself (`list` → `a, b, list`) is kept and not expanded again. The
//! result has every address that has no entry, in order.
//!
//! The expansion of one recipient may produce at most
//! `virtual_alias_expansion_limit` addresses, each at most
//! `virtual_alias_address_length_limit` bytes long, and follow a chain of
//! entries at most `virtual_alias_recursion_limit` deep (a loop between
//! two entries ends there). Past a limit, or when a table fails, the
//! message waits: the recipient is left unexpanded and the failure is
//! recorded in the [`State`] (`4.6.0 Alias expansion error` for the
//! limits, a queue file write error for a table failure, as Postfix
//! answers).
//!
//! ## SEE ALSO
//! virtual(5), postconf(5) `virtual_alias_recursion_limit`

use std::collections::HashSet;

use daemon::{Untrusted, warn};
use ipc::cleanup::status;

use crate::addrmap::{Fail, Rewrite, addr_map};
use crate::settings::Settings;
use crate::state::State;
use crate::tables::{LocalDomains, Table};

const EXPANSION_ERROR: &str = "4.6.0 Alias expansion error";

/// Expands `addr`; see the module documentation.
pub fn map1n(
    st: &mut State,
    table: &mut Table,
    local: &mut LocalDomains,
    rw: &mut dyn Rewrite,
    s: &Settings,
    addr: &str,
) -> Vec<String> {
    let unexpanded = || vec![addr.to_string()];
    let mut list = vec![addr.to_string()];
    let mut to_self: HashSet<String> = HashSet::new();
    let mut arg = 0;
    while arg < list.len() {
        if list.len() > s.virtual_alias_expansion_limit {
            warn!(
                "{}: unreasonable {} map expansion size for {} -- message not accepted, try again later",
                st.id,
                table.title,
                Untrusted(addr)
            );
            st.fail(status::DEFER, EXPANSION_ERROR);
            return unexpanded();
        }
        let mut count = 0;
        loop {
            if to_self.contains(&list[arg].to_lowercase()) {
                break;
            }
            if count >= s.virtual_alias_recursion_limit {
                warn!(
                    "{}: unreasonable {} map nesting for {} -- message not accepted, try again later",
                    st.id,
                    table.title,
                    Untrusted(addr)
                );
                st.fail(status::DEFER, EXPANSION_ERROR);
                return unexpanded();
            }
            let current = list[arg].clone();
            match addr_map(
                table,
                local,
                rw,
                &current,
                &s.recipient_delimiter,
                s.propagate_virtual,
            ) {
                Ok(Some(found)) => {
                    for (i, a) in found.into_iter().enumerate() {
                        if a.len() > s.virtual_alias_address_length_limit {
                            warn!(
                                "{}: unreasonable {} result {:.300}... -- message not accepted, try again later",
                                st.id,
                                table.title,
                                Untrusted(&a)
                            );
                            st.fail(status::DEFER, EXPANSION_ERROR);
                            return unexpanded();
                        }
                        if a.to_lowercase() == current.to_lowercase() {
                            to_self.insert(current.to_lowercase());
                        }
                        if i == 0 {
                            list[arg] = a;
                        } else {
                            list.push(a);
                        }
                    }
                }
                Ok(None) => break,
                Err(Fail::Table(_)) => {
                    warn!(
                        "{}: {} map lookup problem for {} -- message not accepted, try again later",
                        st.id,
                        table.title,
                        Untrusted(&mail::address::externalize(&current))
                    );
                    st.table_failed();
                    return unexpanded();
                }
                Err(Fail::Rewrite(e)) => {
                    warn!("{}: address rewriting: {}", st.id, Untrusted(&e));
                    st.fail(status::DEFER, "4.3.0 Error: address rewriting failure");
                    return unexpanded();
                }
            }
            count += 1;
        }
        arg += 1;
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrmap::testing::FakeRewrite;

    const TABLE: &str = "inline:{{list@x.example=a@x.example, b@x.example, list@x.example}, \
                         a@x.example=a2@x.example, loop1@x.example=loop2@x.example, \
                         loop2@x.example=loop1@x.example, \
                         {big@x.example=m1@x.example, m2@x.example, m3@x.example, m4@x.example}, \
                         ext@x.example=extuser@x.example, {nest@x.example=list@x.example, big@x.example}}";

    fn run(addr: &str, limits: (usize, usize)) -> (Vec<String>, Option<String>) {
        let mut s = Settings::for_tests();
        s.virtual_alias_expansion_limit = limits.0;
        s.virtual_alias_recursion_limit = limits.1;
        let mut st = State::new("QID", 0, 100);
        let mut t = Table::for_tests("virtual_alias_maps", TABLE);
        let mut l = LocalDomains::for_tests("host.example");
        let out = map1n(&mut st, &mut t, &mut l, &mut FakeRewrite::new(), &s, addr);
        (out, st.refusal().map(|r| r.1))
    }

    #[test]
    fn expansions() {
        let ok: &[(&str, &[&str])] = &[
            (
                "list@x.example",
                &["a2@x.example", "b@x.example", "list@x.example"],
            ),
            ("ext+tag@x.example", &["extuser+tag@x.example"]),
            ("none@x.example", &["none@x.example"]),
            (
                "nest@x.example",
                &[
                    "a2@x.example",
                    "m1@x.example",
                    "b@x.example",
                    "list@x.example",
                    "m2@x.example",
                    "m3@x.example",
                    "m4@x.example",
                ],
            ),
        ];
        for (addr, want) in ok {
            let (out, err) = run(addr, (1000, 1000));
            assert_eq!(out, *want, "{addr}");
            assert_eq!(err, None, "{addr}");
        }
    }

    #[test]
    fn limits_and_failures() {
        for (addr, limits) in [
            ("loop1@x.example", (1000, 1000)),
            ("big@x.example", (3, 1000)),
            ("list@x.example", (1000, 1)),
        ] {
            let (out, err) = run(addr, limits);
            assert_eq!(out, [addr.to_string()], "{addr}");
            assert_eq!(
                err.as_deref(),
                Some("4.6.0 Alias expansion error"),
                "{addr}"
            );
        }
        let s = Settings::for_tests();
        let mut st = State::new("QID", 0, 100);
        let mut t = Table::for_tests("virtual_alias_maps", "inline:{a@x=b@x}, fail:broken");
        let mut l = LocalDomains::for_tests("host.example");
        let out = map1n(&mut st, &mut t, &mut l, &mut FakeRewrite::new(), &s, "a@x");
        assert_eq!(out, ["a@x"]);
        assert_eq!(
            st.refusal().map(|r| r.1).as_deref(),
            Some("4.3.0 Error: queue file write error")
        );
    }
}
