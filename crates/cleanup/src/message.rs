//! # NAME
//! message — the primary header block of the message being cleaned up
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut h = Headers::new(&settings);
//! if let Some(body_start) = h.push(chunk) { /* header block complete */ }
//! h.complete(&settings, queue_id, &env, add_missing);
//! writer.content(&h.render());
//! ```
//!
//! ## DESCRIPTION
//! Collects content until the header block ends: at the first line that
//! is neither a header (`name:` with a printable name) nor a continuation
//! (starts with a space or tab); that line, usually the empty one, starts
//! the body. A header longer than `header_size_limit` is cut there.
//!
//! [`Headers::complete`] removes `message_drop_headers` and, when asked
//! (local submission, or `always_add_missing_headers`), adds what is
//! missing the way Postfix does: `Received: by HOST (MAIL_NAME, from
//! userid UID) id ID; DATE` before all others, and `Message-Id:`,
//! `Date:` and `From:` after them.
//!
//! ## SEE ALSO
//! cleanup(8), [`mail::address`]

use crate::envelope::Envelope;
use crate::settings::Settings;

/// One (possibly folded) header as it came, LF line ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Lower-case name.
    pub name: String,
    pub raw: Vec<u8>,
}

impl Header {
    /// The value after the colon, unfolded.
    pub fn value(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw);
        let v = text.split_once(':').map(|(_, v)| v).unwrap_or("");
        v.replace("\r\n", "\n").replace('\n', "").trim().to_string()
    }
}

pub struct Headers {
    buf: Vec<u8>,
    done: bool,
    list: Vec<Header>,
    front: Vec<Vec<u8>>,
    back: Vec<Vec<u8>>,
    body: Vec<u8>,
    size_limit: usize,
    /// The header block has been written to the queue file.
    pub written: bool,
    /// The Message-Id cleanup added, if it did.
    added_id: Option<String>,
}

/// Whether `line` (without LF) starts a header.
fn is_header_start(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&c| c == b':')?;
    let name = &line[..colon];
    let ok = !name.is_empty() && name.iter().all(|&c| c > b' ' && c < 127);
    ok.then_some(colon)
}

impl Headers {
    pub fn new(s: &Settings) -> Headers {
        Headers {
            buf: Vec::new(),
            done: false,
            list: Vec::new(),
            front: Vec::new(),
            back: Vec::new(),
            body: Vec::new(),
            size_limit: s.header_size_limit,
            written: false,
            added_id: None,
        }
    }

    /// Adds content. Returns the body bytes that follow once the header
    /// block is complete (possibly empty), and every later chunk as is.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        if self.done {
            return Some(bytes.to_vec());
        }
        self.buf.extend_from_slice(bytes);
        // Find the end of the header block among complete lines.
        let mut pos = 0;
        let mut first = true;
        while let Some(nl) = self.buf[pos..].iter().position(|&c| c == b'\n') {
            let line = &self.buf[pos..pos + nl];
            let cont = !first && matches!(line.first(), Some(b' ' | b'\t'));
            if !cont && is_header_start(line).is_none() {
                break;
            }
            first = false;
            pos += nl + 1;
        }
        let complete_line_end = self
            .buf
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let stopped =
            pos < complete_line_end || (pos < self.buf.len() && self.buf.len() > pos + 4096);
        // Too much without an end: take what we have as the header block.
        let too_big = self.buf.len() > self.size_limit.saturating_mul(8).max(1 << 20);
        if stopped || too_big {
            let end = if stopped {
                pos
            } else {
                complete_line_end.max(pos)
            };
            self.split_at(end);
            return Some(std::mem::take(&mut self.body));
        }
        None
    }

    /// At the end of the message: whatever is buffered is the header block.
    pub fn finish(&mut self) {
        if !self.done {
            let mut end = 0;
            let mut first = true;
            while let Some(nl) = self.buf[end..].iter().position(|&c| c == b'\n') {
                let line = &self.buf[end..end + nl];
                let cont = !first && matches!(line.first(), Some(b' ' | b'\t'));
                if !cont && is_header_start(line).is_none() {
                    break;
                }
                first = false;
                end += nl + 1;
            }
            // A last header without LF.
            if end < self.buf.len()
                && !self.buf[end..].contains(&b'\n')
                && is_header_start(&self.buf[end..]).is_some()
            {
                self.buf.push(b'\n');
                end = self.buf.len();
            }
            self.split_at(end);
        }
    }

    /// The body bytes not yet taken (after [`Headers::finish`]).
    pub fn take_body(&mut self) -> Option<Vec<u8>> {
        let b = std::mem::take(&mut self.body);
        (!b.is_empty()).then_some(b)
    }

    fn split_at(&mut self, end: usize) {
        self.done = true;
        let head = self.buf[..end].to_vec();
        self.body = self.buf[end..].to_vec();
        self.buf = Vec::new();
        let mut cur: Option<Header> = None;
        for line in head.split_inclusive(|&c| c == b'\n') {
            let bare = line.strip_suffix(b"\n").unwrap_or(line);
            match (
                is_header_start(bare),
                matches!(bare.first(), Some(b' ' | b'\t')),
            ) {
                (_, true) if cur.is_some() => {
                    let h = cur.as_mut().expect("invariant: checked");
                    if h.raw.len() + line.len() <= self.size_limit {
                        h.raw.extend_from_slice(line);
                    }
                }
                (Some(colon), _) => {
                    if let Some(h) = cur.take() {
                        self.list.push(h);
                    }
                    let mut raw = line.to_vec();
                    raw.truncate(self.size_limit);
                    if raw.last() != Some(&b'\n') {
                        raw.push(b'\n');
                    }
                    let name = String::from_utf8_lossy(&bare[..colon])
                        .trim()
                        .to_ascii_lowercase();
                    cur = Some(Header { name, raw });
                }
                _ => {}
            }
        }
        if let Some(h) = cur.take() {
            self.list.push(h);
        }
    }

    pub fn count(&self, name: &str) -> usize {
        self.list.iter().filter(|h| h.name == name).count()
    }

    fn has(&self, name: &str) -> bool {
        self.list.iter().any(|h| h.name == name)
    }

    /// Recipients for `sendmail -t`: from the Resent- headers if there are
    /// any, else from To, Cc and Bcc; internal form.
    pub fn recipients(&self) -> Vec<String> {
        let resent = ["resent-to", "resent-cc", "resent-bcc"];
        let plain = ["to", "cc", "bcc"];
        let names: &[&str] = if self.list.iter().any(|h| resent.contains(&h.name.as_str())) {
            &resent
        } else {
            &plain
        };
        let mut out = Vec::new();
        for h in self
            .list
            .iter()
            .filter(|h| names.contains(&h.name.as_str()))
        {
            for a in mail::address::parse_list(h.value().as_bytes()) {
                let addr = mail::address::strip_source_route(&a.addr).to_string();
                if !addr.is_empty() {
                    out.push(addr);
                }
            }
        }
        out
    }

    /// The Message-ID, as it will be logged.
    pub fn message_id(&self) -> String {
        match self.list.iter().find(|h| h.name == "message-id") {
            Some(h) => h.value(),
            None => self.added_id.clone().unwrap_or_default(),
        }
    }

    /// Drops `message_drop_headers` and adds the missing ones.
    pub fn complete(&mut self, s: &Settings, queue_id: &str, env: &Envelope, add_missing: bool) {
        self.list.retain(|h| !s.drop_headers.contains(&h.name));
        if !add_missing {
            return;
        }
        let now = std::time::SystemTime::now();
        let date = rfc2822_date(now);
        let uid = env
            .attrs
            .iter()
            .find(|(n, _)| n == "submit_uid")
            .map(|(_, v)| v.as_str());
        if let Some(uid) = uid {
            self.front.push(
                format!(
                    "Received: by {} ({}, from userid {})\n\tid {}; {}\n",
                    s.myhostname, s.mail_name, uid, queue_id, date
                )
                .into_bytes(),
            );
        }
        if !self.has("message-id") && !self.has("resent-message-id") {
            let tm = sys::time::local(now);
            let id = format!(
                "<{:04}{:02}{:02}{:02}{:02}{:02}.{}@{}>",
                tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec, queue_id, s.myhostname
            );
            self.back.push(format!("Message-Id: {id}\n").into_bytes());
            self.added_id = Some(id);
        }
        if !self.has("date") && !self.has("resent-date") {
            self.back.push(format!("Date: {date}\n").into_bytes());
        }
        if !self.has("from") && !self.has("resent-from") {
            let sender = env.sender();
            let addr = if sender.is_empty() {
                "MAILER-DAEMON".to_string()
            } else {
                mail::address::externalize(sender)
            };
            let line = match env.full_name.as_deref().filter(|n| !n.trim().is_empty()) {
                Some(name) => format!("From: {} <{}>\n", phrase(name), addr),
                None => format!("From: {addr}\n"),
            };
            self.back.push(line.into_bytes());
        }
    }

    /// The header block as it goes into the queue file.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.front {
            out.extend_from_slice(f);
        }
        for h in &self.list {
            out.extend_from_slice(&h.raw);
        }
        for b in &self.back {
            out.extend_from_slice(b);
        }
        out
    }
}

/// A display name, quoted when it holds anything but atoms and spaces.
fn phrase(name: &str) -> String {
    let name = name.trim();
    let atom =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~ ".contains(c) || !c.is_ascii();
    if name.chars().all(atom) {
        name.to_string()
    } else {
        let mut q = String::from("\"");
        for c in name.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    }
}

/// `Mon, 23 Nov 2026 13:12:11 +0000 (UTC)`, as Postfix writes dates (a
/// one-digit day is padded with a space).
pub fn rfc2822_date(t: std::time::SystemTime) -> String {
    let tm = sys::time::local(t);
    let off = tm.gmtoff;
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let mut s = format!(
        "{}, {:2} {} {} {:02}:{:02}:{:02} {}{:02}{:02}",
        tm.weekday_abbrev(),
        tm.day,
        tm.month_abbrev(),
        tm.year,
        tm.hour,
        tm.min,
        tm.sec,
        sign,
        a / 3600,
        (a % 3600) / 60
    );
    if !tm.zone.is_empty() {
        s.push_str(&format!(" ({})", tm.zone));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            message_size_limit: 0,
            hopcount_limit: 50,
            always_add_missing_headers: false,
            duplicate_filter_limit: 1000,
            drop_headers: vec![
                "bcc".into(),
                "content-length".into(),
                "resent-bcc".into(),
                "return-path".into(),
            ],
            myhostname: "host.example".into(),
            mail_name: "Postfix".into(),
            rewrite_service: "rewrite".into(),
            queue_service: "qmgr".into(),
            enable_original_recipient: true,
            header_size_limit: 102400,
        }
    }

    #[test]
    fn split_header_and_body() {
        let s = settings();
        let mut h = Headers::new(&s);
        assert!(h.feed(b"To: a@b,\n c@d\nSubj").is_none());
        let body = h.feed(b"ect: hi\n\nbody\n").unwrap();
        assert_eq!(body, b"\nbody\n");
        assert_eq!(h.count("to"), 1);
        assert_eq!(h.recipients(), ["a@b", "c@d"]);
        // Later chunks are body as they are.
        assert_eq!(h.feed(b"more\n").unwrap(), b"more\n");
    }

    #[test]
    fn headers_only_and_no_blank_line() {
        let s = settings();
        let mut h = Headers::new(&s);
        assert!(h.feed(b"Subject: x\nFrom: a@b").is_none());
        h.finish();
        assert_eq!(h.render(), b"Subject: x\nFrom: a@b\n");
        let mut h = Headers::new(&s);
        let body = h.feed(b"Subject: x\nnot a header\nmore\n").unwrap();
        assert_eq!(body, b"not a header\nmore\n");
    }

    #[test]
    fn drop_and_add() {
        let s = settings();
        let mut h = Headers::new(&s);
        h.feed(b"To: x@y\nBcc: secret@y\nReturn-Path: <z>\n\n");
        assert_eq!(h.recipients(), ["x@y", "secret@y"]);
        let env = Envelope {
            sender: Some("user@host.example".into()),
            full_name: Some("Doe, John".into()),
            attrs: vec![("submit_uid".into(), "1000".into())],
            ..Default::default()
        };
        h.complete(&s, "ABCDEF123", &env, true);
        let out = String::from_utf8(h.render()).unwrap();
        assert!(
            out.starts_with(
                "Received: by host.example (Postfix, from userid 1000)\n\tid ABCDEF123; "
            ),
            "{out}"
        );
        assert!(out.contains("\nTo: x@y\nMessage-Id: <"), "{out}");
        assert!(out.contains(".ABCDEF123@host.example>\nDate: "), "{out}");
        assert!(
            out.ends_with("From: \"Doe, John\" <user@host.example>\n"),
            "{out}"
        );
        assert!(!out.contains("Bcc"));
        assert!(!out.contains("Return-Path"));
    }

    #[test]
    fn resent_headers_win() {
        let s = settings();
        let mut h = Headers::new(&s);
        h.feed(b"To: a@b\nResent-To: c@d\n\n");
        assert_eq!(h.recipients(), ["c@d"]);
    }

    #[test]
    fn date_shape() {
        let d = rfc2822_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000));
        assert!(d.len() >= 31, "{d}");
        assert_eq!(&d[3..5], ", ");
    }
}
