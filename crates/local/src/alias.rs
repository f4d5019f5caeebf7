//! # NAME
//! alias — delivery through `alias_maps`
//!
//! ## DESCRIPTION
//! The localpart (folded to lower case) is looked up with its extension,
//! then without. A name that is being expanded already is a loop: its
//! own expansion naming it means its user (`root: root, backup`),
//! anything longer fails with "alias database loop". `postmaster` and
//! `mailer-daemon` without an alias are discarded with a warning, as
//! Postfix does.
//!
//! When `owner-NAME` is also an alias, mail for NAME is forwarded with
//! `owner-NAME@$myorigin` as the sender (or, with `expand_owner_alias`,
//! what `owner-NAME` expands to), so that bounces go to the list owner;
//! the forwarded recipients are their own original recipients.
//!
//! Files and commands of an alias run with the rights of the owner of
//! the table's file: `default_privs` for a table root owns or one that is
//! not a file.

use std::os::unix::fs::MetadataExt;

use daemon::warn;
use delivery::Failure;
use maps::Dict;
use nix::unistd::{Gid, Uid};

use crate::state::{ExpType, MsgAttr, Run, UserAttr};

/// The file behind a table, for its owner.
fn table_file(spec: &str) -> Option<String> {
    let (kind, name) = spec.split_once(':')?;
    let name = name.to_string();
    Some(match kind {
        "hash" | "btree" => format!("{name}.db"),
        "lmdb" => format!("{name}.lmdb"),
        "cdb" => format!("{name}.cdb"),
        "texthash" | "regexp" | "pcre" | "cidr" => name,
        _ => return None,
    })
}

/// Whose rights the destinations of an alias from `dict` get.
fn table_owner(dict: &dyn Dict) -> UserAttr {
    match table_file(dict.name()).and_then(|p| std::fs::metadata(p).ok()) {
        Some(m) => UserAttr {
            uid: Uid::from_raw(m.uid()),
            gid: Gid::from_raw(m.gid()),
            home: None,
            shell: None,
        },
        None => UserAttr::root(),
    }
}

/// Looks `key` up in the alias tables: the value and its table's owner.
fn lookup(run: &mut Run<'_>, key: &str) -> Result<Option<(String, UserAttr)>, maps::MapError> {
    for d in run.s.alias_maps.dicts() {
        if let Some(v) = d.lookup(key)? {
            return Ok(Some((v, table_owner(d.as_ref()))));
        }
    }
    Ok(None)
}

/// Delivers through an alias; false when the name is not an alias.
pub fn deliver_alias(run: &mut Run<'_>, attr: &MsgAttr) -> bool {
    // Loops.
    for key in [&attr.local, &attr.user] {
        if let Some(pos) = attr.aliases.iter().position(|(n, _)| n == key) {
            if pos + 1 == attr.aliases.len() {
                // The alias names itself: its user.
                return false;
            }
            let (name, addr) = attr.aliases.last().expect("invariant: not empty").clone();
            warn!("alias database loop for {}", daemon::Untrusted(&name));
            run.failed(
                &addr,
                Failure::new("5.4.6", format!("alias database loop for {name}")),
            );
            return true;
        }
    }
    let mut found = None;
    let mut keys = vec![attr.local.clone()];
    if attr.extension.is_some() {
        keys.push(attr.user.clone());
    }
    for (n, key) in keys.iter().enumerate() {
        match lookup(run, key) {
            Ok(Some(v)) => {
                found = Some((key.clone(), v, n > 0));
                break;
            }
            Ok(None) => {}
            Err(e) => {
                warn!("{}: alias_maps lookup: {}", run.job.req.queue_id, e);
                run.failed(
                    &attr.rcpt,
                    Failure::new("4.3.0", "alias database unavailable"),
                );
                return true;
            }
        }
    }
    let Some((name, (value, usr), without_ext)) = found else {
        if attr.user == "postmaster" || attr.user == "mailer-daemon" {
            warn!("required alias not found: {}", attr.user);
            run.sent(&attr.rcpt, "discarded");
            return true;
        }
        return false;
    };
    let mut child = attr.clone();
    child.exp_type = ExpType::Alias;
    child.aliases.push((name.clone(), attr.rcpt.clone()));
    child.unmatched = None;
    if without_ext && run.s.alias_find.propagate_extension {
        child.unmatched = attr
            .extension
            .as_ref()
            .map(|e| format!("{}{}", attr.delimiter.unwrap_or('+'), e));
    }
    if !name.starts_with("owner-") {
        match owner(run, &name) {
            Ok(Some(o)) => child.owner = Some(o),
            Ok(None) if run.s.reset_owner_alias => child.owner = None,
            Ok(None) => {}
            Err(f) => {
                run.failed(&attr.rcpt, f);
                return true;
            }
        }
    }
    crate::token::deliver_tokens(run, &child, &usr, &value);
    true
}

/// The sender for mail to alias `name` when `owner-name` exists.
fn owner(run: &mut Run<'_>, name: &str) -> Result<Option<String>, Failure> {
    let key = format!("owner-{name}");
    let value = match lookup(run, &key) {
        Ok(Some((v, _))) => v,
        Ok(None) => return Ok(None),
        Err(e) => {
            warn!("{}: alias_maps lookup: {}", run.job.req.queue_id, e);
            return Err(Failure::new("4.3.0", "alias database unavailable"));
        }
    };
    let addr = if run.s.expand_owner_alias {
        match crate::token::parse(&value).into_iter().next() {
            Some(crate::token::Token::Address(a)) => mail::address::internalize(&a),
            _ => key,
        }
    } else {
        key
    };
    run.rewrite.rewrite("local", &addr).map(Some).map_err(|e| {
        warn!("address resolver: {e}");
        Failure::new("4.3.0", "address resolver failure")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_files() {
        assert_eq!(
            table_file("hash:/etc/aliases").as_deref(),
            Some("/etc/aliases.db")
        );
        assert_eq!(table_file("cdb:/x").as_deref(), Some("/x.cdb"));
        assert_eq!(table_file("regexp:/etc/a.re").as_deref(), Some("/etc/a.re"));
        assert_eq!(table_file("inline:{a=b}"), None);
    }
}
