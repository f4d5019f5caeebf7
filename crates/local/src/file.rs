//! # NAME
//! file — delivery to `/file` destinations
//!
//! ## DESCRIPTION
//! A path that ends in `/` is a Maildir; any other is a file in mailbox
//! format (`From ` line, headers, `>From ` quoting, an empty line at the
//! end), locked and appended to as a mailbox is, and truncated back when
//! the write fails. Both are written with the rights of the user the
//! destination is delivered for (`default_privs` instead of root); a
//! file with execute permission is refused. `/dev/null` takes the
//! message and keeps nothing.

use std::os::unix::fs::MetadataExt;

use delivery::Failure;
use delivery::copy::{CopyOptions, Segment};

use crate::state::{MsgAttr, Run, UserAttr};

pub fn deliver_file(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, path: &str) {
    if !run.first("file", path) {
        return;
    }
    if path == "/dev/null" {
        run.sent(&attr.rcpt, "delivered to file: /dev/null");
        return;
    }
    let (uid, gid) = usr.run_as(run.s);
    let sender = run.job.req.sender.clone();
    let file = &run.job.file.file;
    let (off, len) = (run.job.req.content_offset, run.job.req.content_len);
    let limit = run.s.mbox.size_limit;
    let delivered = run.s.delivered_header.file.then(|| attr.delivered.clone());
    if path.ends_with('/') {
        let opts = CopyOptions {
            return_path: true,
            orig_to: Some(attr.orig.clone()),
            delivered_to: delivered,
            ..Default::default()
        };
        let hostname = run.s.hostname.clone();
        let result = crate::mailbox::as_user(uid, gid, || {
            delivery::maildir::deliver(
                &delivery::maildir::Maildir {
                    dir: std::path::Path::new(path),
                    hostname: &hostname,
                    size_limit: limit,
                    def_dsn: "5.2.0",
                },
                |f, room| {
                    delivery::copy::copy(Segment::new(file, off, len), f, &sender, &opts, room)
                },
            )
        });
        match result {
            Ok(_) => run.sent(&attr.rcpt, "delivered to maildir"),
            Err(f) => {
                crate::mailbox::maildir_warning(&f, uid, gid);
                run.failed(&attr.rcpt, f.prefixed("maildir delivery failed: "));
            }
        }
        return;
    }
    let opts = CopyOptions {
        from_line: true,
        return_path: true,
        orig_to: Some(attr.orig.clone()),
        delivered_to: delivered,
        quote_from: true,
        blank_line: true,
        ..Default::default()
    };
    // Files get the kernel locks, not a dot-lock (which would need a
    // lock file beside any file an alias names).
    let mut settings = run.s.mbox.clone();
    settings.locks.dotlock = false;
    let result = delivery::isolate(|| {
        let _me = sys::privs::impersonate(uid, gid)
            .map_err(|e| Failure::new("4.3.0", format!("cannot switch user ID: {e}")))?;
        let mut mbox =
            delivery::mbox::open_locked(std::path::Path::new(path), &settings, None, "5.2.0")?;
        if mbox
            .file
            .metadata()
            .map(|m| m.mode() & 0o100 != 0)
            .unwrap_or(false)
        {
            return Err(Failure::new("5.7.1", "file is executable"));
        }
        mbox.append(limit, "5.2.0", |f, room| {
            delivery::copy::copy(Segment::new(file, off, len), f, &sender, &opts, room)
        })
    });
    match result {
        Ok(()) => run.sent(&attr.rcpt, &format!("delivered to file: {path}")),
        Err(f) => run.failed(
            &attr.rcpt,
            f.prefixed(&format!("cannot append message to file {path}: ")),
        ),
    }
}
