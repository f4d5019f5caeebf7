//! # NAME
//! mailbox — delivery to the user's mailbox
//!
//! ## DESCRIPTION
//! In order: `mailbox_transport_maps` and `mailbox_transport` (for any
//! local name, user or not: the delivery is passed on, [`crate::pass`]),
//! then, for users only, `mailbox_command_maps` and `mailbox_command`
//! (run with the user's rights; root's with `default_privs`), then the
//! mailbox file: `$home/$home_mailbox` when `home_mailbox` is set, else
//! `$mail_spool_directory/user`; a name ending in `/` is a Maildir.
//!
//! A mailbox file gets the `From ` line, `Return-Path:`,
//! `X-Original-To:`, `Delivered-To:` (per `prepend_delivered_header`),
//! `>From ` quoting and an empty line at the end; it is locked per
//! `mailbox_delivery_lock` and written by a child process with the
//! user's rights (so that killing local(8) never cuts a message in
//! half). In a spool directory the user may not write (mode 1777 lets
//! users write, Debian's 2775 `root:mail` does not), the lock file and a
//! missing mailbox are created as root and the mailbox is given to the
//! user. With `strict_mailbox_ownership` a mailbox the user does not own
//! is not written. A Maildir gets the headers without the `From ` line.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use daemon::warn;
use delivery::Failure;
use delivery::copy::{CopyOptions, Segment};
use nix::unistd::{Gid, Uid};

use crate::state::{MsgAttr, Run, UserAttr};

/// Runs `f` with the effective rights of `uid`/`gid`.
pub fn as_user<T>(
    uid: Uid,
    gid: Gid,
    f: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, Failure> {
    let _me = sys::privs::impersonate(uid, gid)
        .map_err(|e| Failure::new("4.3.0", format!("cannot switch user ID: {e}")))?;
    f()
}

/// Postfix's warnings for a Maildir the recipient cannot write.
pub fn maildir_warning(f: &Failure, uid: Uid, gid: Gid) {
    if f.text.starts_with("create maildir file") && f.text.ends_with("Permission denied") {
        warn!(
            "maildir access problem for UID/GID={}/{}: {}",
            uid, gid, f.text
        );
        warn!("perhaps you need to create the maildirs in advance");
    }
}

/// Delivers to the mailbox; false when `usr` is `None` (not a user) and
/// no mailbox transport takes the mail.
pub fn deliver_mailbox(run: &mut Run<'_>, attr: &MsgAttr, usr: Option<&UserAttr>) -> bool {
    if crate::pass::mailbox_transport(run, attr) {
        return true;
    }
    let Some(usr) = usr else {
        return false;
    };
    if !run.first("mailbox", &attr.user) {
        return true;
    }
    // mailbox_command_maps, mailbox_command.
    let cmd = match run.s.mailbox_command_maps.find(&attr.user) {
        Ok(Some(c)) => Some(c),
        Ok(None) => {
            (!run.s.mailbox_command.trim().is_empty()).then(|| run.s.mailbox_command.clone())
        }
        Err(e) => {
            warn!("mailbox_command_maps lookup: {e}");
            run.failed(
                &attr.rcpt,
                Failure::new("4.3.0", "mailbox_command_maps lookup failure"),
            );
            return true;
        }
    };
    if let Some(cmd) = cmd {
        let cmd = cmd.trim().to_string();
        match crate::command::run_command(run, attr, usr, &cmd) {
            Ok(()) => run.sent(&attr.rcpt, &format!("delivered to command: {cmd}")),
            Err(f) => run.failed(&attr.rcpt, f),
        }
        return true;
    }
    let home = usr.home.clone().unwrap_or_default();
    if run.s.require_home_directory {
        let seen = as_user(usr.uid, usr.gid, || {
            std::fs::metadata(&home).map_err(|e| {
                Failure::new(
                    "4.3.0",
                    format!(
                        "cannot access home directory {}: {}",
                        home.display(),
                        delivery::strerror(&e)
                    ),
                )
            })
        });
        if let Err(f) = seen {
            run.failed(&attr.rcpt, f);
            return true;
        }
    }
    let (path, in_spool) = if !run.s.home_mailbox.is_empty() {
        (home.join(&run.s.home_mailbox).display().to_string(), false)
    } else {
        let spool = run.s.mail_spool_directory.trim_end_matches('/');
        let mut p = format!("{spool}/{}", attr.user);
        if run.s.mail_spool_directory.ends_with('/') {
            p.push('/');
        }
        (p, true)
    };
    if path.ends_with('/') {
        deliver_maildir(run, attr, usr, PathBuf::from(path));
    } else {
        deliver_mbox(run, attr, usr, PathBuf::from(path), in_spool);
    }
    true
}

fn deliver_maildir(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, dir: PathBuf) {
    let opts = CopyOptions {
        return_path: true,
        orig_to: Some(attr.orig.clone()),
        delivered_to: run.s.delivered_header.file.then(|| attr.delivered.clone()),
        ..Default::default()
    };
    let sender = run.job.req.sender.clone();
    let file = &run.job.file.file;
    let (off, len) = (run.job.req.content_offset, run.job.req.content_len);
    let md = delivery::maildir::Maildir {
        dir: &dir,
        hostname: &run.s.hostname,
        size_limit: run.s.mbox.size_limit,
        def_dsn: "5.2.0",
    };
    let result = as_user(usr.uid, usr.gid, || {
        delivery::maildir::deliver(&md, |f, room| {
            delivery::copy::copy(Segment::new(file, off, len), f, &sender, &opts, room)
        })
    });
    match result {
        Ok(_) => run.sent(&attr.rcpt, "delivered to maildir"),
        Err(f) => {
            maildir_warning(&f, usr.uid, usr.gid);
            run.failed(&attr.rcpt, f.prefixed("maildir delivery failed: "));
        }
    }
}

fn deliver_mbox(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, path: PathBuf, in_spool: bool) {
    let opts = CopyOptions {
        from_line: true,
        return_path: true,
        orig_to: Some(attr.orig.clone()),
        delivered_to: run.s.delivered_header.file.then(|| attr.delivered.clone()),
        quote_from: true,
        blank_line: true,
        ..Default::default()
    };
    // A spool directory the user may not write: lock and create as root.
    let privileged_open = in_spool
        && sys::privs::is_root()
        && std::fs::metadata(sys::fs::parent_dir(&path))
            .map(|m| m.permissions().mode() & 0o002 == 0)
            .unwrap_or(false);
    let sender = run.job.req.sender.clone();
    let file = &run.job.file.file;
    let (off, len) = (run.job.req.content_offset, run.job.req.content_len);
    let settings = run.s.mbox.clone();
    let (uid, gid) = (usr.uid, usr.gid);
    let result = delivery::isolate(|| {
        let mut mbox = if privileged_open {
            delivery::mbox::open_locked(&path, &settings, Some((uid, gid)), "5.2.0")?
        } else {
            as_user(uid, gid, || {
                delivery::mbox::open_locked(&path, &settings, Some((uid, gid)), "5.2.0")
            })?
        };
        // Written with the user's rights; the locks go as they came.
        as_user(uid, gid, || {
            mbox.append(settings.size_limit, "5.2.0", |f, room| {
                delivery::copy::copy(Segment::new(file, off, len), f, &sender, &opts, room)
            })
        })
    });
    match result {
        Ok(()) => run.sent(&attr.rcpt, "delivered to mailbox"),
        Err(f) => run.failed(
            &attr.rcpt,
            f.prefixed(&format!(
                "cannot update mailbox {} for user {}. ",
                path.display(),
                attr.user
            )),
        ),
    }
}
