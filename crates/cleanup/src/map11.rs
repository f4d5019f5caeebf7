//! # NAME
//! map11 — one-to-one address mapping (canonical(5))
//!
//! ## SYNOPSIS
//! ```ignore
//! let changed = map11(&mut st, &mut table, &mut local, &mut rewrite, "+", true, &mut addr);
//! ```
//!
//! ## DESCRIPTION
//! Replaces an address (internal form) by the first address its
//! canonical entry names ([`crate::addrmap`]), and looks the result up
//! again, until it has no entry or maps to itself, at most ten times. A
//! multi-valued entry is a mistake: the first address is used and a
//! warning names the table. A table that fails leaves the address as it
//! is and makes the message wait ([`State::table_failed`]), so that the
//! rest of the message can be processed and the error reported once.
//!
//! ## DIAGNOSTICS
//! `warning: ID: multi-valued canonical_maps entry for ADDR`,
//! `warning: ID: canonical_maps map lookup problem for ADDR -- message
//! not accepted, try again later`, `warning: ID: unreasonable
//! canonical_maps map nesting for ADDR -- message not accepted, try again
//! later`.
//!
//! ## SEE ALSO
//! canonical(5), [`crate::addrmap`]

use daemon::{Untrusted, warn};
use ipc::cleanup::status;

use crate::addrmap::{Fail, Rewrite, addr_map};
use crate::state::State;
use crate::tables::{LocalDomains, Table};

/// How deep a chain of canonical entries may go.
const MAX_RECURSION: usize = 10;

/// Maps `addr` in place; true when it changed.
pub fn map11(
    st: &mut State,
    table: &mut Table,
    local: &mut LocalDomains,
    rw: &mut dyn Rewrite,
    delimiters: &str,
    propagate: bool,
    addr: &mut String,
) -> bool {
    let mut changed = false;
    for _ in 0..MAX_RECURSION {
        match addr_map(table, local, rw, addr, delimiters, propagate) {
            Ok(Some(list)) => {
                if list.len() > 1 {
                    warn!(
                        "{}: multi-valued {} entry for {}",
                        st.id,
                        table.title,
                        Untrusted(addr)
                    );
                }
                let new = list.into_iter().next().unwrap_or_default();
                changed |= new != *addr;
                let to_self = new.to_lowercase() == addr.to_lowercase();
                *addr = new;
                if to_self {
                    return changed;
                }
            }
            Ok(None) => return changed,
            Err(Fail::Table(_)) => {
                warn!(
                    "{}: {} map lookup problem for {} -- message not accepted, try again later",
                    st.id,
                    table.title,
                    Untrusted(addr)
                );
                st.table_failed();
                return changed;
            }
            Err(Fail::Rewrite(e)) => {
                warn!("{}: address rewriting: {}", st.id, Untrusted(&e));
                st.fail(status::DEFER, "4.3.0 Error: address rewriting failure");
                return changed;
            }
        }
    }
    warn!(
        "{}: unreasonable {} map nesting for {} -- message not accepted, try again later",
        st.id,
        table.title,
        Untrusted(addr)
    );
    st.table_failed();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrmap::testing::FakeRewrite;

    fn run(spec: &str, addr: &str) -> (String, bool, u32) {
        let mut st = State::new("QID", 0, 100);
        let mut t = Table::for_tests("canonical_maps", spec);
        let mut l = LocalDomains::for_tests("host.example");
        let mut a = addr.to_string();
        let changed = map11(
            &mut st,
            &mut t,
            &mut l,
            &mut FakeRewrite::new(),
            "+",
            true,
            &mut a,
        );
        (a, changed, st.errs)
    }

    #[test]
    fn table() {
        let spec = "inline:{joe=joe.user, {joe.user@host.example=Joe.User@host.example}, \
                    {multi@x.example=first@x.example, second@x.example}, \
                    {self@x.example=self@x.example}, loop1@x.example=loop2@x.example, \
                    loop2@x.example=loop1@x.example}";
        let cases = [
            ("joe@host.example", "Joe.User@host.example", true, 0),
            // The result is looked up again: the extension goes along.
            ("joe+tag@host.example", "Joe.User+tag@host.example", true, 0),
            ("multi@x.example", "first@x.example", true, 0),
            ("self@x.example", "self@x.example", false, 0),
            ("other@x.example", "other@x.example", false, 0),
            ("loop1@x.example", "loop1@x.example", true, status::DEFER),
        ];
        for (addr, want, changed, errs) in cases {
            assert_eq!(run(spec, addr), (want.to_string(), changed, errs), "{addr}");
        }
        let (a, changed, errs) = run("fail:broken", "a@x.example");
        assert_eq!(
            (a.as_str(), changed, errs),
            ("a@x.example", false, status::DEFER)
        );
    }
}
