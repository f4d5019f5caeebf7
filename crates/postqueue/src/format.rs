//! # NAME
//! format — the mailq(1) and `postqueue -j` layouts
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut p = Plain::new(long_ids);
//! for m in messages { p.message(&mut out, &m)?; }
//! p.finish(&mut out)?;
//! json(&mut out, &m)?;
//! ```
//!
//! ## DESCRIPTION
//! [`Plain`] writes Postfix 3.7's traditional listing: a heading, then for
//! each message a line with the queue ID and its status marks (`*` active
//! or `!` on hold, then `#` if forced to expire), the size, the arrival time in local
//! time and the sender; then the recipients, each group that shares a
//! delay reason preceded by the reason in parentheses, right-aligned at
//! column 78; an empty line; and at the end `-- N Kbytes in M Requests.`
//! or `Mail queue is empty`. Column widths follow `enable_long_queue_ids`.
//!
//! [`json`] writes one object per message on one line, with Postfix's
//! member names and order; strings escape `"`, `\` and control
//! characters (`\uXXXX`) and keep UTF-8.
//!
//! ## SEE ALSO
//! postqueue(1), [`ipc::showq`]

use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use ipc::showq::ListedMessage;

/// `asctime()` without the newline: `Mon Nov 23 13:24:43 2026`.
pub fn asctime(secs: u64) -> String {
    let tm = sys::time::local(UNIX_EPOCH + Duration::from_secs(secs));
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        tm.weekday_abbrev(),
        tm.month_abbrev(),
        tm.day,
        tm.hour,
        tm.min,
        tm.sec,
        tm.year
    )
}

/// The status marks after the queue ID: `*` active or `!` on hold, then
/// `#` when forced to expire (`!#` for both).
fn marks(m: &ListedMessage) -> &'static str {
    match (m.queue.as_str(), m.forced_expire) {
        ("active", false) => "*",
        ("active", true) => "*#",
        ("hold", false) => "!",
        ("hold", true) => "!#",
        (_, true) => "#",
        _ => "",
    }
}

/// The traditional listing, written as messages arrive.
pub struct Plain {
    long: bool,
    count: u64,
    bytes: u64,
}

impl Plain {
    pub fn new(long_ids: bool) -> Plain {
        Plain {
            long: long_ids,
            count: 0,
            bytes: 0,
        }
    }

    pub fn message(&mut self, out: &mut impl Write, m: &ListedMessage) -> io::Result<()> {
        let date = asctime(m.arrival);
        let id = format!("{}{}", m.queue_id, marks(m));
        if self.count == 0 {
            if self.long {
                writeln!(
                    out,
                    "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------"
                )?;
            } else {
                writeln!(
                    out,
                    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
                )?;
            }
        }
        let indent = if self.long {
            writeln!(out, "{:<17} {:>8} {:.19} {}", id, m.size, date, m.sender)?;
            47
        } else {
            writeln!(out, "{:<11} {:>7} {:.20} {}", id, m.size, date, m.sender)?;
            41
        };
        let mut last_reason = "";
        for r in &m.recipients {
            if r.reason != last_reason {
                if !r.reason.is_empty() {
                    let pad = 76usize.saturating_sub(r.reason.len());
                    writeln!(out, "{:pad$}({})", "", r.reason)?;
                }
                last_reason = &r.reason;
            }
            writeln!(out, "{:indent$}{}", "", r.address)?;
        }
        writeln!(out)?;
        self.count += 1;
        self.bytes += m.size;
        Ok(())
    }

    pub fn finish(&self, out: &mut impl Write) -> io::Result<()> {
        if self.count == 0 {
            writeln!(out, "Mail queue is empty")
        } else {
            writeln!(
                out,
                "-- {} Kbytes in {} Request{}.",
                self.bytes / 1024,
                self.count,
                if self.count == 1 { "" } else { "s" }
            )
        }
    }
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One message as a JSON object on one line.
pub fn json(out: &mut impl Write, m: &ListedMessage) -> io::Result<()> {
    let mut line = format!(
        "{{\"queue_name\": {}, \"queue_id\": {}, \"arrival_time\": {}, \"message_size\": {}, \"forced_expire\": {}, \"sender\": {}, \"recipients\": [",
        quote(&m.queue),
        quote(&m.queue_id),
        m.arrival,
        m.size,
        m.forced_expire,
        quote(&m.sender)
    );
    for (i, r) in m.recipients.iter().enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        line.push_str("{\"address\": ");
        line.push_str(&quote(&r.address));
        if !r.reason.is_empty() {
            line.push_str(", \"delay_reason\": ");
            line.push_str(&quote(&r.reason));
        }
        line.push('}');
    }
    line.push_str("]}\n");
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::showq::ListedRecipient;

    #[test]
    fn json_escapes() {
        assert_eq!(quote("a\"b\\c\u{1}é"), "\"a\\\"b\\\\c\\u0001é\"");
    }

    #[test]
    fn reasons_group_and_reset() {
        let r = |a: &str, w: &str| ListedRecipient {
            address: a.into(),
            reason: w.into(),
        };
        let m = ListedMessage {
            queue: "deferred".into(),
            queue_id: "ABC1234".into(),
            arrival: 0,
            size: 2048,
            forced_expire: false,
            sender: "s@x".into(),
            recipients: vec![
                r("a@x", "down"),
                r("b@x", "down"),
                r("c@x", ""),
                r("d@x", "down"),
            ],
        };
        let mut out = Vec::new();
        let mut p = Plain::new(false);
        p.message(&mut out, &m).unwrap();
        p.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], format!("{}(down)", " ".repeat(72)));
        assert_eq!(lines[3].trim(), "a@x");
        assert_eq!(lines[4].trim(), "b@x");
        assert_eq!(lines[5].trim(), "c@x");
        assert_eq!(lines[6], lines[2]);
        assert_eq!(lines[9], "-- 2 Kbytes in 1 Request.");
    }
}
