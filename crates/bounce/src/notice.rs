//! # NAME
//! notice — compose a delivery status notification (RFC 3464)
//!
//! ## SYNOPSIS
//! ```ignore
//! let n = Notice { kind: Kind::Failure, to: "user@example.com", .. };
//! let bytes = n.compose(&original_content)?;
//! ```
//!
//! ## DESCRIPTION
//! A notice is a `multipart/report; report-type=delivery-status` message
//! laid out as Postfix 3.7 writes it:
//!
//! 1. headers: `Received:` (as cleanup(8) adds it to mail the system
//!    makes), `Date:`, `From:` and `Subject:` of the template, `To:`,
//!    `Auto-Submitted: auto-replied` (`auto-generated` for postmaster
//!    copies), `MIME-Version`, `Content-Type` with the boundary
//!    `QUEUEID.TIME/HOST`, `Content-Transfer-Encoding: 8bit`,
//!    `Message-Id:`;
//! 2. `text/plain` "Notification": the expanded template (empty for the
//!    postmaster), then `<recipient>: reason` for each recipient,
//!    wrapped at 79 columns;
//! 3. `message/delivery-status` "Delivery report" ([`mail::dsn`]);
//! 4. the original message as `message/rfc822` ("Undelivered Message"),
//!    or only its header as `text/rfc822-headers` ("Undelivered Message
//!    Headers", "Message Headers" for success and verify reports), with a
//!    `Return-Path:` first.
//!
//! ## SEE ALSO
//! bounce(8), RFC 3462, RFC 3464, [`mail::bounce_template`]

use std::io::{self, BufRead};

use mail::dsn::{self, Action, EnhancedStatus, MessageReport, RecipientReport};
use queue::logfile::LogEntry;

/// Which notice, as the template kinds of [`mail::bounce_template::Kind`].
pub use mail::bounce_template::Kind;

/// What the attachment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// The whole message.
    Full,
    /// The header only.
    Headers,
}

/// Everything a notice needs besides the original content.
pub struct Notice<'a> {
    pub kind: Kind,
    /// For the postmaster (no text, `auto-generated`).
    pub postmaster: bool,
    pub myhostname: &'a str,
    /// The new message's queue ID (for `Received:` and `Message-Id:`).
    pub queue_id: &'a str,
    pub orig_queue_id: &'a str,
    /// The original envelope sender.
    pub orig_sender: &'a str,
    /// Seconds since the epoch.
    pub arrival: u64,
    pub now: u64,
    pub envid: Option<&'a str>,
    /// Header values, already qualified.
    pub from: &'a str,
    pub subject: &'a str,
    pub to: &'a str,
    pub charset: &'a str,
    /// The expanded template text (empty for the postmaster).
    pub text: &'a [String],
    pub recipients: &'a [LogEntry],
    /// `Will-Retry-Until:` (delay notices).
    pub retry_until: Option<u64>,
    pub attach: Attach,
}

/// A date as Postfix writes it in headers, in local time.
pub fn header_date(secs: u64) -> String {
    let tm = sys::time::local(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    mail::date::format_date(secs as i64, tm.gmtoff as i32, Some(&tm.zone))
}

/// `Message-Id:` left part: the local time as `YYYYMMDDhhmmss`.
fn id_stamp(secs: u64) -> String {
    let tm = sys::time::local(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec
    )
}

/// The action a log entry reports.
fn action(e: &LogEntry, kind: Kind) -> Action {
    match e.action.as_str() {
        "delayed" if kind != Kind::Failure => Action::Delayed,
        "delivered" | "deliverable" => Action::Delivered,
        "relayed" => Action::Relayed,
        "expanded" => Action::Expanded,
        // An expired message's delayed recipients have failed.
        _ => Action::Failed,
    }
}

/// Splits an SMTP server's answer out of a reason (`host H[A] said: TEXT
/// (in reply to ...)`): the remote host name and the reply text.
pub fn remote_reply(reason: &str) -> Option<(&str, &str)> {
    let rest = reason.strip_prefix("host ")?;
    let (who, said) = rest.split_once(" said: ")?;
    let host = who.split('[').next()?;
    let text = match said.rfind(" (in reply to ") {
        Some(i) if said.ends_with(')') => &said[..i],
        _ => said,
    };
    Some((host, text))
}

/// The original recipient for `Original-Recipient:`: the ORCPT, or the
/// original address as Postfix's cleanup records it.
fn original_recipient(e: &LogEntry) -> Option<String> {
    if !e.orcpt.is_empty() {
        Some(e.orcpt.clone())
    } else if !e.orig.is_empty() {
        Some(format!("rfc822;{}", e.orig))
    } else if !e.recipient.is_empty() {
        Some(format!("rfc822;{}", e.recipient))
    } else {
        None
    }
}

impl Notice<'_> {
    fn boundary(&self) -> String {
        format!("{}.{}/{}", self.orig_queue_id, self.now, self.myhostname)
    }

    /// The notice: header and body, lines ending in LF. `original` reads
    /// the original message content.
    pub fn compose(&self, original: &mut dyn BufRead) -> io::Result<Vec<u8>> {
        let mut out = String::with_capacity(4096);
        let b = self.boundary();
        let now = header_date(self.now);
        out.push_str(&format!(
            "Received: by {} ({})\n\tid {}; {}\n",
            self.myhostname, "Postfix", self.queue_id, now
        ));
        out.push_str(&format!("Date: {now}\n"));
        out.push_str(&format!("From: {}\n", self.from));
        out.push_str(&format!("Subject: {}\n", self.subject));
        out.push_str(&format!("To: {}\n", self.to));
        out.push_str(&format!(
            "Auto-Submitted: {}\n",
            if self.postmaster {
                "auto-generated"
            } else {
                "auto-replied"
            }
        ));
        out.push_str("MIME-Version: 1.0\n");
        out.push_str("Content-Type: multipart/report; report-type=delivery-status;\n");
        out.push_str(&format!("\tboundary=\"{b}\"\n"));
        out.push_str("Content-Transfer-Encoding: 8bit\n");
        out.push_str(&format!(
            "Message-Id: <{}.{}@{}>\n",
            id_stamp(self.now),
            self.queue_id,
            self.myhostname
        ));
        out.push_str("\nThis is a MIME-encapsulated message.\n\n");
        // The human-readable part.
        out.push_str(&format!("--{b}\n"));
        out.push_str("Content-Description: Notification\n");
        out.push_str(&format!(
            "Content-Type: text/plain; charset={}\n",
            self.charset
        ));
        out.push_str("Content-Transfer-Encoding: 8bit\n\n");
        if !self.postmaster {
            for l in self.text {
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push('\n');
        for e in self.recipients {
            let shown = mail::address::externalize(&e.recipient);
            let line = if !e.orig.is_empty() && !e.orig.eq_ignore_ascii_case(&e.recipient) {
                format!(
                    "<{}> (expanded from <{}>): {}",
                    shown,
                    mail::address::externalize(&e.orig),
                    e.reason
                )
            } else {
                format!("<{}>: {}", shown, e.reason)
            };
            out.push_str(&dsn::wrap_field(&one_line(&line)));
            out.push_str("\n\n");
        }
        // The machine-readable part.
        out.push_str(&format!("--{b}\n"));
        out.push_str("Content-Description: Delivery report\n");
        out.push_str("Content-Type: message/delivery-status\n\n");
        let arrival = header_date(self.arrival);
        let retry = self.retry_until.map(header_date);
        let origs: Vec<Option<String>> = self.recipients.iter().map(original_recipient).collect();
        let reports: Vec<RecipientReport<'_>> = self
            .recipients
            .iter()
            .zip(&origs)
            .map(|(e, orig)| {
                let remote = remote_reply(&e.reason);
                RecipientReport {
                    final_recipient: &e.recipient,
                    original_recipient: orig.as_deref(),
                    action: action(e, self.kind),
                    status: e
                        .dsn
                        .parse::<EnhancedStatus>()
                        .unwrap_or(default_status(self.kind)),
                    remote_mta: remote.map(|(h, _)| h),
                    diagnostic: Some(match remote {
                        Some((_, text)) => ("smtp", text),
                        None => ("X-Postfix", e.reason.as_str()),
                    }),
                    last_attempt_date: None,
                    will_retry_until: retry.as_deref(),
                }
            })
            .collect();
        let report = dsn::format_delivery_status(
            &MessageReport {
                reporting_mta: self.myhostname,
                envid: self.envid,
                queue_id: self.orig_queue_id,
                sender: self.orig_sender,
                arrival_date: &arrival,
            },
            &reports,
        );
        if self.kind == Kind::Verify {
            out.push_str(&verify_actions(&report, self.recipients));
        } else {
            out.push_str(&report);
        }
        // The original.
        let undelivered = matches!(self.kind, Kind::Failure | Kind::Delay);
        out.push_str(&format!("--{b}\n"));
        out.push_str(&format!(
            "Content-Description: {}{}\n",
            if undelivered { "Undelivered " } else { "" },
            match self.attach {
                Attach::Full => "Message",
                Attach::Headers => "Message Headers",
            }
        ));
        out.push_str(match self.attach {
            Attach::Full => "Content-Type: message/rfc822\n",
            Attach::Headers => "Content-Type: text/rfc822-headers\n",
        });
        out.push_str("Content-Transfer-Encoding: 8bit\n\n");
        out.push_str(&format!("Return-Path: <{}>\n", self.orig_sender));
        let mut bytes = out.into_bytes();
        let mut line = Vec::new();
        let mut in_header = true;
        let mut last_nl = true;
        loop {
            line.clear();
            if original.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if in_header && !is_header_line(&line) {
                in_header = false;
                if self.attach == Attach::Headers {
                    break;
                }
            }
            last_nl = line.ends_with(b"\n");
            bytes.extend_from_slice(&line);
        }
        if !last_nl {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(format!("\n--{b}--\n").as_bytes());
        Ok(bytes)
    }
}

/// A verification report says `deliverable` or `undeliverable`, as
/// Postfix's does, where RFC 3464 has `delivered` or `failed`: the
/// recipients' Action lines are rewritten in order.
fn verify_actions(report: &str, entries: &[LogEntry]) -> String {
    let mut it = entries.iter();
    report
        .split_inclusive('\n')
        .map(|l| match l.strip_prefix("Action: ") {
            Some(_) => match it.next() {
                Some(e) if e.action == "deliverable" => "Action: deliverable\n".to_string(),
                Some(_) => "Action: undeliverable\n".to_string(),
                None => l.to_string(),
            },
            None => l.to_string(),
        })
        .collect()
}

fn default_status(kind: Kind) -> EnhancedStatus {
    match kind {
        Kind::Failure => EnhancedStatus::new(5, 0, 0),
        Kind::Delay => EnhancedStatus::new(4, 0, 0),
        Kind::Success | Kind::Verify => EnhancedStatus::new(2, 0, 0),
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Whether a content line starts or continues a header.
fn is_header_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
        return true;
    }
    match line.iter().position(|&c| c == b':') {
        Some(0) | None => false,
        Some(i) => line[..i].iter().all(|&c| (33..=126).contains(&c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_replies() {
        assert_eq!(
            remote_reply(
                "host mx.example.com[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO command)"
            ),
            Some(("mx.example.com", "550 5.1.1 no"))
        );
        assert_eq!(remote_reply("no such user"), None);
    }

    #[test]
    fn layout() {
        let rcpts = [LogEntry {
            recipient: "u@c.example".into(),
            orig: "u@c.example".into(),
            dsn: "5.1.1".into(),
            action: "failed".into(),
            reason: "no such user".into(),
            ..Default::default()
        }];
        let text = vec!["Hello.".to_string()];
        let n = Notice {
            kind: Kind::Failure,
            postmaster: false,
            myhostname: "test.example",
            queue_id: "NEWID",
            orig_queue_id: "OLDID",
            orig_sender: "snd@example.com",
            arrival: 1_700_000_000,
            now: 1_700_000_100,
            envid: None,
            from: "Mail Delivery System <MAILER-DAEMON@test.example>",
            subject: "Undelivered Mail Returned to Sender",
            to: "snd@example.com",
            charset: "utf-8",
            text: &text,
            recipients: &rcpts,
            retry_until: None,
            attach: Attach::Full,
        };
        let orig = b"Subject: hi\nX-A: b\n\nbody\n";
        let out = String::from_utf8(n.compose(&mut &orig[..]).unwrap()).unwrap();
        let b = "OLDID.1700000100/test.example";
        assert!(out.contains(&format!(
            "\tboundary=\"{b}\"\nContent-Transfer-Encoding: 8bit\nMessage-Id: <"
        )));
        assert!(out.contains(&format!(
            "\n\nThis is a MIME-encapsulated message.\n\n--{b}\nContent-Description: Notification\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nHello.\n\n<u@c.example>: no such user\n\n--{b}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; test.example\nX-Postfix-Queue-ID: OLDID\nX-Postfix-Sender: rfc822; snd@example.com\n"
        )), "{out}");
        assert!(out.contains("\nFinal-Recipient: rfc822; u@c.example\nOriginal-Recipient: rfc822;u@c.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Postfix; no such user\n\n"));
        assert!(out.ends_with(&format!(
            "--{b}\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <snd@example.com>\nSubject: hi\nX-A: b\n\nbody\n\n--{b}--\n"
        )), "{out}");
        let h = Notice {
            attach: Attach::Headers,
            kind: Kind::Delay,
            ..n
        };
        let out = String::from_utf8(h.compose(&mut &orig[..]).unwrap()).unwrap();
        assert!(out.ends_with(&format!(
            "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <snd@example.com>\nSubject: hi\nX-A: b\n\n--{b}--\n"
        )), "{out}");
    }
}
