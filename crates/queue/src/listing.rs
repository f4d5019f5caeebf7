//! # NAME
//! listing — read the queue for a listing (showq(8), mailq(1))
//!
//! ## SYNOPSIS
//! ```ignore
//! queue::listing::list(&layout, "MAILER-DAEMON", &mut |m: ListedMessage| send(m), &|w| warn!("{w}"))?;
//! ```
//!
//! ## DESCRIPTION
//! [`list`] walks the queues in the order mailq(1) shows them
//! ([`QUEUES`]) and calls the sink once per message, as it goes: memory
//! does not grow with the queue. For each file it reads only the envelope
//! (the content is skipped with a seek), and the defer log if there is
//! one. Files that are not complete (still being written) are left out.
//!
//! The recipients come in Postfix's order: first those in `defer/ID`,
//! in log order, with the reason of the last delivery attempt, then the
//! recipients of the queue file that are still to be delivered and were
//! not in the log, with no reason. The size is the message size as
//! Postfix counts it, except in `maildrop`, where it is the file size.
//! Addresses are in external form and pass through [`printable`].
//!
//! showq(8) sends the messages to postqueue(1); postqueue(1) run by root
//! calls [`list`] itself when the mail system is down.
//!
//! ## SEE ALSO
//! showq(8), [`ipc::showq`], [`crate::scan`]

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;

use crate::file::{mode_is_complete, mode_is_forced_expire};
use crate::logfile;
use crate::scan::Scanner;
use crate::{Layout, QueueError, QueueFile, RcptState};
use ipc::showq::{ListedMessage, ListedRecipient};

/// The queues a listing shows, in order.
pub const QUEUES: &[&str] = &["maildrop", "incoming", "active", "deferred", "hold"];

/// Replaces characters that must not reach a terminal (controls,
/// DEL) with `?`, as Postfix's `printable()` does; UTF-8 text stays.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Lists every queue; `sink` gets each message as it is read and may stop
/// the walk with an error (the client went away). A queue or file that
/// cannot be read is left out, and `warn` told why.
pub fn list(
    layout: &Layout,
    empty_address: &str,
    sink: &mut dyn FnMut(ListedMessage) -> io::Result<()>,
    warn: &dyn Fn(&str),
) -> io::Result<()> {
    for queue in QUEUES {
        for found in Scanner::new(layout, queue) {
            let found = match found {
                Ok(f) => f,
                Err(e) => {
                    warn(&format!("scan {queue} queue: {e}"));
                    break;
                }
            };
            match read_one(layout, queue, &found, empty_address, warn) {
                Ok(Some(m)) => sink(m)?,
                Ok(None) => {}
                Err(why) => warn(&format!("{}: {}", found.id, why)),
            }
        }
    }
    Ok(())
}

/// One message, or `None` when it is gone or not complete.
fn read_one(
    layout: &Layout,
    queue: &str,
    found: &crate::scan::Found,
    empty_address: &str,
    warn: &dyn Fn(&str),
) -> Result<Option<ListedMessage>, String> {
    let mut f = match QueueFile::open_read(&found.path, &found.id) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("open: {e}")),
    };
    let meta = f.file.metadata().map_err(|e| format!("stat: {e}"))?;
    if !mode_is_complete(meta.mode()) {
        return Ok(None);
    }
    let env = match f.read_envelope() {
        Ok(env) => env,
        Err(QueueError::Incomplete) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let size = if queue == "maildrop" {
        meta.len()
    } else {
        env.size()
    };
    let arrival = if env.arrival.0 > 0 {
        env.arrival.0
    } else {
        meta.mtime().max(0) as u64
    };
    let sender = if env.sender.is_empty() {
        empty_address.to_string()
    } else {
        printable(&mail::address::externalize(&env.sender))
    };
    let mut recipients = Vec::new();
    let mut seen = HashSet::new();
    match logfile::read(layout, "defer", &found.id) {
        Ok(entries) => {
            for e in entries {
                let address = printable(&mail::address::externalize(&e.recipient));
                seen.insert(address.clone());
                recipients.push(ListedRecipient {
                    address,
                    reason: printable(&e.reason),
                });
            }
        }
        Err(e) => warn(&format!("{}: read defer log: {}", found.id, e)),
    }
    for r in env.recipients.iter().filter(|r| r.state == RcptState::Todo) {
        let address = printable(&mail::address::externalize(&r.address));
        if !seen.contains(&address) {
            recipients.push(ListedRecipient {
                address,
                reason: String::new(),
            });
        }
    }
    Ok(Some(ListedMessage {
        queue: queue.to_string(),
        queue_id: found.id.to_string(),
        arrival,
        size,
        forced_expire: mode_is_forced_expire(meta.mode()),
        sender,
        recipients,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRecipient, RecordType, Writer};
    use std::time::{Duration, UNIX_EPOCH};

    fn layout(name: &str) -> Layout {
        let d = std::env::temp_dir().join(format!("showq-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for q in QUEUES {
            std::fs::create_dir_all(d.join(q)).unwrap();
        }
        Layout::new(&d)
    }

    fn enqueue(l: &Layout, queue: &str, sender: &str, rcpts: &[&str]) -> crate::QueueId {
        let mut w = Writer::create(l, "incoming").unwrap();
        w.time(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .unwrap();
        w.record(RecordType::Sender, sender.as_bytes()).unwrap();
        for r in rcpts {
            w.recipient(&NewRecipient {
                address: r,
                ..Default::default()
            })
            .unwrap();
        }
        w.begin_content().unwrap();
        w.content(b"Subject: test\n\nhello\n").unwrap();
        w.end_content().unwrap();
        let id = w.commit().unwrap();
        l.move_file(&id, "incoming", queue).unwrap();
        id
    }

    fn listing(l: &Layout) -> Vec<ListedMessage> {
        let mut out = Vec::new();
        list(
            l,
            "MAILER-DAEMON",
            &mut |m| {
                out.push(m);
                Ok(())
            },
            &|_| {},
        )
        .unwrap();
        out
    }

    #[test]
    fn reasons_first_then_the_rest_in_queue_order() {
        let l = layout("order");
        let held = enqueue(&l, "hold", "", &["h@x.example"]);
        let id = enqueue(
            &l,
            "deferred",
            "john doe@example.com",
            &[
                "a@x.example",
                "b@y.example",
                "c@x.example",
                "done@x.example",
            ],
        );
        let mut f = QueueFile::open(&l, "deferred", &id).unwrap();
        let env = f.read_envelope().unwrap();
        f.mark_done(env.recipients[3].offset).unwrap();
        let entry = |r: &str, why: &str| logfile::LogEntry {
            recipient: r.into(),
            reason: why.into(),
            ..Default::default()
        };
        logfile::append(
            &l,
            "defer",
            &id,
            &[
                entry("b@y.example", "y is down"),
                entry("a@x.example", "bad\x07bell"),
            ],
        )
        .unwrap();
        // An incomplete file is not listed.
        let mut w = Writer::create(&l, "incoming").unwrap();
        w.time(UNIX_EPOCH).unwrap();
        let got = listing(&l);
        drop(w);
        assert_eq!(got.len(), 2);
        let m = &got[0];
        assert_eq!(
            (m.queue.as_str(), m.queue_id.as_str(), m.arrival, m.size),
            ("deferred", id.as_str(), 1_700_000_000, 24)
        );
        assert_eq!(m.sender, "\"john doe\"@example.com");
        let r: Vec<(&str, &str)> = m
            .recipients
            .iter()
            .map(|r| (r.address.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(
            r,
            [
                ("b@y.example", "y is down"),
                ("a@x.example", "bad?bell"),
                ("c@x.example", "")
            ]
        );
        assert_eq!(
            (got[1].queue.as_str(), got[1].queue_id.as_str()),
            ("hold", held.as_str())
        );
        assert_eq!(got[1].sender, "MAILER-DAEMON");
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn forced_expire_and_maildrop_size() {
        use std::os::unix::fs::PermissionsExt;
        let l = layout("expire");
        let id = enqueue(&l, "deferred", "s@example.com", &["a@x.example"]);
        let path = l.path_of("deferred", &id);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o710)).unwrap();
        let mut w = Writer::create_with_mode(&l, "maildrop", 0o644).unwrap();
        w.time(UNIX_EPOCH + Duration::from_secs(5)).unwrap();
        w.record(RecordType::Sender, b"u@example.com").unwrap();
        w.begin_content().unwrap();
        w.content(b"x\n").unwrap();
        w.end_content().unwrap();
        let md_path = w.path().to_path_buf();
        w.commit().unwrap();
        // Not followed: a link in place of a queue file.
        std::os::unix::fs::symlink(&path, l.queue_dir.join("incoming/ABCDEF123")).unwrap();
        let got = listing(&l);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].queue, "maildrop");
        assert_eq!(got[0].size, std::fs::metadata(&md_path).unwrap().len());
        assert!(got[1].forced_expire);
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }
}
