//! # NAME
//! include — `:include:/file` lists
//!
//! ## DESCRIPTION
//! The file is read with the rights of whoever named it (root for a
//! root-owned alias table); its lines are destinations like those of an
//! alias. A file that cannot be read, is not a regular file or that
//! others may write is a configuration error (5.3.5, with a warning).
//! Its addresses are always forwarded; its files and commands run with
//! the rights of the file's owner (`default_privs` when root owns it),
//! where `allow_mail_to_files` and `allow_mail_to_commands` name
//! `include`.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use daemon::warn;
use delivery::Failure;
use nix::unistd::{Gid, Uid};

use crate::state::{ExpType, MsgAttr, Run, UserAttr};

const INCLUDE_LIMIT: u64 = 16 << 20;

pub fn deliver_include(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, path: &str) {
    if !run.first("include", path) {
        return;
    }
    let config_error = || Failure::new("5.3.5", "mail system configuration error");
    let read = {
        let guard = sys::privs::impersonate(usr.uid, usr.gid);
        if guard.is_err() {
            warn!("cannot switch to user ID {}", usr.uid);
            run.failed(&attr.rcpt, Failure::new("4.3.0", "cannot switch user ID"));
            return;
        }
        read_include(path)
    };
    let (text, owner) = match read {
        Ok(v) => v,
        Err(warning) => {
            warn!("{warning}");
            run.failed(&attr.rcpt, config_error());
            return;
        }
    };
    let mut child = attr.clone();
    child.exp_type = ExpType::Include;
    child.unmatched = None;
    if run.s.include_find.propagate_extension {
        child.unmatched = attr
            .extension
            .as_ref()
            .map(|e| format!("{}{}", attr.delimiter.unwrap_or('+'), e));
    }
    let usr = if owner.0.is_root() {
        UserAttr::root()
    } else {
        UserAttr {
            uid: owner.0,
            gid: owner.1,
            home: None,
            shell: None,
        }
    };
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        crate::token::deliver_tokens(run, &child, &usr, l);
    }
}

/// The file's text and owner, or the warning to log.
fn read_include(path: &str) -> Result<(String, (Uid, Gid)), String> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            format!(
                "unable to lookup :include: file {}: {}",
                path,
                delivery::strerror(&e)
            )
        })?;
    let m = f
        .metadata()
        .map_err(|e| format!("unable to lookup :include: file {}: {}", path, e))?;
    if !m.is_file() {
        return Err(format!(":include: file {path} is not a regular file"));
    }
    if m.mode() & 0o002 != 0 {
        return Err(format!(":include: file {path} is world writable"));
    }
    let mut text = String::new();
    (&mut f)
        .take(INCLUDE_LIMIT)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read :include: file {}: {}", path, e))?;
    Ok((text, (Uid::from_raw(m.uid()), Gid::from_raw(m.gid()))))
}
