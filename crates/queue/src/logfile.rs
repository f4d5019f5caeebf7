//! # NAME
//! logfile — the per-message bounce, defer and trace logs
//!
//! ## SYNOPSIS
//! ```ignore
//! logfile::append(&layout, "defer", &id, &[LogEntry { .. }])?;   // durable on return
//! let entries = logfile::read(&layout, "defer", &id)?;
//! logfile::remove(&layout, "defer", &id);
//! ```
//!
//! ## DESCRIPTION
//! `bounce/ID` holds the recipients that failed and are owed a
//! non-delivery notice; `defer/ID` the last reason each deferred recipient
//! was delayed (mailq(1) shows it); `trace/ID` delivery reports
//! (`sendmail -v`, DSN SUCCESS). Each entry is one line of tab-separated
//! `name=value` fields, with `%`, tab and newline in values written as
//! `%25`, `%09` and `%0A`. [`append`] writes all its entries with one
//! write and fsyncs before it returns, so that a recipient can be marked
//! done after its bounce entry is durable (DESIGN.md rule 3).
//!
//! ## SEE ALSO
//! bounce(8), qmgr(8), [`crate::file::Layout`]

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;

use crate::file::Layout;
use crate::id::QueueId;

/// One recipient's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEntry {
    pub recipient: String,
    pub orig: String,
    /// Offset of the recipient record in the queue file.
    pub offset: u64,
    pub notify: u32,
    pub orcpt: String,
    /// Enhanced status code.
    pub dsn: String,
    /// `delivered`, `delayed`, `failed`, `relayed`, `expanded`.
    pub action: String,
    pub relay: String,
    pub reason: String,
    /// Seconds since the epoch.
    pub time: u64,
}

fn esc(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\t', "%09")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn unesc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v as char);
            i += 3;
            continue;
        }
        out.push(s[i..].chars().next().unwrap_or_default());
        i += s[i..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

impl LogEntry {
    pub fn to_line(&self) -> String {
        format!(
            "recipient={}\torig={}\toffset={}\tnotify={}\torcpt={}\tdsn={}\taction={}\trelay={}\treason={}\ttime={}\n",
            esc(&self.recipient),
            esc(&self.orig),
            self.offset,
            self.notify,
            esc(&self.orcpt),
            esc(&self.dsn),
            esc(&self.action),
            esc(&self.relay),
            esc(&self.reason),
            self.time
        )
    }

    /// Parses a line; unknown fields are ignored, a line without a
    /// recipient is skipped.
    pub fn from_line(line: &str) -> Option<LogEntry> {
        let mut e = LogEntry::default();
        let mut have_rcpt = false;
        for field in line.trim_end_matches('\n').split('\t') {
            let (n, v) = field.split_once('=')?;
            let v = unesc(v);
            match n {
                "recipient" => {
                    e.recipient = v;
                    have_rcpt = true;
                }
                "orig" => e.orig = v,
                "offset" => e.offset = v.parse().ok()?,
                "notify" => e.notify = v.parse().ok()?,
                "orcpt" => e.orcpt = v,
                "dsn" => e.dsn = v,
                "action" => e.action = v,
                "relay" => e.relay = v,
                "reason" => e.reason = v,
                "time" => e.time = v.parse().ok()?,
                _ => {}
            }
        }
        have_rcpt.then_some(e)
    }
}

/// Appends entries to `log` (`bounce`, `defer`, `trace`) of `id` and
/// fsyncs.
pub fn append(layout: &Layout, log: &str, id: &QueueId, entries: &[LogEntry]) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let path = layout.path_of(log, id);
    let text: String = entries.iter().map(LogEntry::to_line).collect();
    let open = || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
    };
    let mut f = match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(layout.dir_of(log, id))?;
            open()?
        }
        r => r?,
    };
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// Reads every entry of a log; a missing log is empty. A symbolic link
/// in place of a log is not followed (an error).
pub fn read(layout: &Layout, log: &str, id: &QueueId) -> io::Result<Vec<LogEntry>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(layout.path_of(log, id));
    let mut f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut t = String::new();
    f.read_to_string(&mut t)?;
    Ok(t.lines().filter_map(LogEntry::from_line).collect())
}

/// Removes a log if it exists.
pub fn remove(layout: &Layout, log: &str, id: &QueueId) {
    let _ = std::fs::remove_file(layout.path_of(log, id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d = std::env::temp_dir().join(format!("queue-log-{}", std::process::id()));
        let l = Layout::new(&d);
        let id = QueueId::parse("3F2A11B9C4").unwrap();
        let e = LogEntry {
            recipient: "a@b".into(),
            reason: "host x[1.2.3.4] said: 450 try\tlater\n(100%)".into(),
            dsn: "4.0.0".into(),
            action: "delayed".into(),
            offset: 77,
            time: 5,
            ..Default::default()
        };
        append(&l, "defer", &id, &[e.clone(), e.clone()]).unwrap();
        assert!(
            l.path_of("defer", &id)
                .parent()
                .unwrap()
                .ends_with("defer/3")
        );
        let got = read(&l, "defer", &id).unwrap();
        assert_eq!(got, [e.clone(), e.clone()]);
        remove(&l, "defer", &id);
        assert!(read(&l, "defer", &id).unwrap().is_empty());
        // A link in place of a log is neither read nor written through.
        let outside = d.join("outside");
        std::fs::write(&outside, e.to_line()).unwrap();
        std::os::unix::fs::symlink(&outside, l.path_of("defer", &id)).unwrap();
        assert!(read(&l, "defer", &id).is_err());
        assert!(append(&l, "defer", &id, std::slice::from_ref(&e)).is_err());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), e.to_line());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
