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
    /// Shows an arrival time (`asctime()` form).
    clock: fn(u64) -> String,
}

impl Plain {
    pub fn new(long_ids: bool) -> Plain {
        Plain::with_clock(long_ids, asctime)
    }

    /// With another way to show times (tests use UTC).
    pub fn with_clock(long_ids: bool, clock: fn(u64) -> String) -> Plain {
        Plain {
            long: long_ids,
            count: 0,
            bytes: 0,
            clock,
        }
    }

    pub fn message(&mut self, out: &mut impl Write, m: &ListedMessage) -> io::Result<()> {
        let date = (self.clock)(m.arrival);
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

    /// `asctime()` in UTC.
    fn utc(secs: u64) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let days = (secs / 86400) as i64;
        let rem = secs % 86400;
        // Civil from days (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            DAYS[(days % 7) as usize],
            MONTHS[(m - 1) as usize],
            d,
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            y
        )
    }

    fn golden(name: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/queue/golden/");
        std::fs::read_to_string(format!("{path}{name}")).unwrap()
    }

    /// Postfix's own `postqueue -j` output, read back.
    fn messages(json_lines: &str) -> Vec<ListedMessage> {
        json_lines
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_string();
                ListedMessage {
                    queue: s("queue_name"),
                    queue_id: s("queue_id"),
                    arrival: v["arrival_time"].as_u64().unwrap(),
                    size: v["message_size"].as_u64().unwrap(),
                    forced_expire: v["forced_expire"].as_bool().unwrap(),
                    sender: s("sender"),
                    recipients: v["recipients"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| ListedRecipient {
                            address: r["address"].as_str().unwrap().to_string(),
                            reason: r["delay_reason"].as_str().unwrap_or("").to_string(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// The same queue state as Postfix 3.7 listed it, formatted by us:
    /// both layouts must be byte for byte Postfix's.
    #[test]
    fn postfix_golden_listings() {
        for (j, p, long) in [
            ("formatter-short-j.txt", "formatter-short-p.txt", false),
            ("formatter-long-j.txt", "formatter-long-p.txt", true),
            ("scenario-j.txt", "scenario-p.txt", false),
            ("empty-j.txt", "empty-p.txt", false),
        ] {
            let json_text = golden(j);
            let ms = messages(&json_text);
            let mut plain = Plain::with_clock(long, utc);
            let mut out = Vec::new();
            let mut js = Vec::new();
            for m in &ms {
                plain.message(&mut out, m).unwrap();
                json(&mut js, m).unwrap();
            }
            plain.finish(&mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), golden(p), "{p}");
            assert_eq!(String::from_utf8(js).unwrap(), json_text, "{j}");
        }
        assert_eq!(golden("scenario-mailq.txt"), golden("scenario-p.txt"));
    }

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
