//! # NAME
//! message — the content of the message being cleaned up
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut m = Message::new(&settings, inspect_body);
//! m.feed(&mut st, &mut cx, &head_info, chunk, &mut out);   // repeated
//! m.finish(&mut st, &mut cx, &head_info, &mut out);
//! writer.content(&out);
//! ```
//!
//! ## DESCRIPTION
//! Reads the content line by line through the MIME state machine
//! ([`mail::mime::MimeState`]) and writes what goes into the queue file.
//! Mail from sendmail(1) starts with a `Received: by HOST (MAIL_NAME, from
//! userid UID)` header, as Postfix's pickup(8) writes it: it is inspected
//! and counted like any header of the message.
//!
//! **Primary headers.** Each logical header is first inspected with
//! `header_checks`, or `mime_header_checks` for a MIME header
//! (`Content-*`, `MIME-Version`), when the client allows it (the `FILTER`
//! flag) and no `PASS`, `REJECT` or `DISCARD` turned checks off
//! ([`crate::act`]). Then, for the headers Postfix knows: the `Received:`
//! headers are counted (`hopcount_limit` or more refuse the message), the
//! `Message-ID:` is logged, the addresses of `To:`, `Cc:`, `Bcc:` (or
//! their `Resent-` forms) are kept for `sendmail -t`, the addresses of
//! sender and recipient headers are rewritten ([`crate::rewrite`]), and
//! the headers named in `message_drop_headers` are removed.
//!
//! At the end of the primary headers, when the mail is local (the
//! `local` header rewriting context, or `always_add_missing_headers`),
//! what is missing is added as Postfix adds it, after all others:
//! `Message-Id:` (the queue file's
//! creation time in UTC, the queue ID, `$myhostname`), `Date:` (the
//! arrival time) and `From:` (the sender, with the `sendmail -F` full
//! name); `Resent-` forms when the message has `Resent-` headers, and
//! `undisclosed_recipients_header` when there is no `To:` or `Cc:`. An
//! empty line is put between the headers and a body that started without
//! one. Every message gets a `message-id=` log line (`<>` when it has
//! none).
//!
//! **Body.** When `mime_header_checks`, `nested_header_checks` or
//! `body_checks` are set, the rest is read line by line: the headers of
//! MIME parts and of attached messages get their checks, and each body
//! line (boundaries included, cut at `line_length_limit`) its
//! `body_checks`, up to `body_checks_size_limit` bytes into each body
//! part. Otherwise the body is copied as it came. A last line without a
//! line end gets one.
//!
//! ## SEE ALSO
//! cleanup(8), header_checks(5), [`crate::act`], [`crate::rewrite`]

use std::collections::HashSet;
use std::time::SystemTime;

use daemon::{Untrusted, info, warn};
use ipc::cleanup::{flags, status};
use mail::header::{HeaderClass, HeaderInfo, HeaderKind};
use mail::mime::{BodyKind, Checks, Event, HeaderBlock, MimeOptions, MimeState};

use crate::act::{self, Context, Verdict};
use crate::addr::{Class, Ctx};
use crate::settings::{FromFormat, Settings};
use crate::state::{State, printable};

/// What the end of the primary headers needs to know about the envelope.
#[derive(Debug, Clone)]
pub struct HeadInfo {
    /// The uid of a local submission (`sendmail`), for `Received:`.
    pub submit_uid: Option<String>,
    pub arrival: SystemTime,
    /// When the queue file was created, for `Message-Id:`.
    pub created: SystemTime,
    pub full_name: Option<String>,
    /// `enable_long_queue_ids`: the queue ID alone makes a unique
    /// `Message-Id:`.
    pub long_ids: bool,
}

/// An event of the MIME state machine, owned.
enum Ev {
    Header {
        block: HeaderBlock,
        checks: Checks,
        text: Vec<u8>,
    },
    HeaderEnd {
        block: HeaderBlock,
        separator_missing: bool,
    },
    Body {
        kind: BodyKind,
        line: Vec<u8>,
        continues: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the primary headers.
    Primary,
    /// After them, line by line.
    Inspect,
    /// After them, copying.
    Copy,
}

pub struct Message {
    mime: MimeState,
    phase: Phase,
    inspect_body: bool,
    partial: Vec<u8>,
    /// The primary header block as it will be written.
    head: Vec<u8>,
    seen: HashSet<HeaderKind>,
    resent: bool,
    hops: usize,
    /// `To:`, `Cc:`, `Bcc:` addresses, internal form, and the `Resent-` ones.
    plain_rcpt: Vec<String>,
    resent_rcpt: Vec<String>,
    /// Bytes of the current body part seen by the body checks.
    body_offset: u64,
    /// The last byte written.
    last: Option<u8>,
    /// Whether the content has started (the `Received:` header of a
    /// local submission goes first).
    started: bool,
}

impl Message {
    pub fn new(s: &Settings, inspect_body: bool) -> Message {
        Message {
            mime: MimeState::new(MimeOptions {
                nesting_limit: s.mime_nesting_limit,
                boundary_length_limit: s.mime_boundary_length_limit,
                header_size_limit: s.header_size_limit,
                line_length_limit: s.line_length_limit,
                disable_mime: s.disable_mime_input_processing,
            }),
            phase: Phase::Primary,
            inspect_body,
            partial: Vec::new(),
            head: Vec::new(),
            seen: HashSet::new(),
            resent: false,
            hops: 0,
            plain_rcpt: Vec::new(),
            resent_rcpt: Vec::new(),
            body_offset: 0,
            last: None,
            started: false,
        }
    }

    /// Before the first line: a local submission (sendmail(1), with the
    /// submitter's uid) starts with `Received: by HOST (MAIL_NAME, from
    /// userid UID) id ID; DATE`, which Postfix's pickup(8) puts there: it
    /// is part of the message as cleanup reads it, so header checks see
    /// it and it counts as a hop.
    fn start(&mut self, st: &mut State, cx: &mut Ctx<'_>, hi: &HeadInfo, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        if let Some(uid) = &hi.submit_uid {
            let s = cx.s;
            let received = format!(
                "Received: by {} ({}, from userid {})\n\tid {}; {}",
                s.myhostname,
                s.mail_name,
                uid,
                st.id,
                rfc2822_date(hi.arrival)
            );
            for line in received.split('\n') {
                self.line(st, cx, hi, line.as_bytes(), out);
            }
        }
    }

    /// Whether the primary header block has been written.
    pub fn head_done(&self) -> bool {
        self.phase != Phase::Primary
    }

    /// The recipients for `sendmail -t`: from `Resent-To:`, `Resent-Cc:`
    /// and `Resent-Bcc:` when the message has any `Resent-` header, else
    /// from `To:`, `Cc:` and `Bcc:`.
    pub fn extracted_recipients(&self) -> &[String] {
        if self.resent {
            &self.resent_rcpt
        } else {
            &self.plain_rcpt
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
        out.extend_from_slice(bytes);
    }

    /// Takes more content; appends what goes into the queue file to `out`.
    pub fn feed(
        &mut self,
        st: &mut State,
        cx: &mut Ctx<'_>,
        hi: &HeadInfo,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) {
        if self.phase == Phase::Copy {
            self.emit(out, bytes);
            return;
        }
        self.start(st, cx, hi, out);
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(bytes);
        let mut pos = 0;
        while let Some(nl) = buf[pos..].iter().position(|&c| c == b'\n') {
            let line = &buf[pos..pos + nl];
            pos += nl + 1;
            self.line(st, cx, hi, line, out);
            if self.phase == Phase::Copy {
                let rest = buf[pos..].to_vec();
                self.emit(out, &rest);
                return;
            }
        }
        self.partial = buf[pos..].to_vec();
    }

    /// The content has ended.
    pub fn finish(&mut self, st: &mut State, cx: &mut Ctx<'_>, hi: &HeadInfo, out: &mut Vec<u8>) {
        self.start(st, cx, hi, out);
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(st, cx, hi, &last, out);
        }
        let mut evs = Vec::new();
        self.mime.finish(&mut |e| collect(&mut evs, e));
        for e in evs {
            self.event(st, cx, hi, e, out);
        }
        if !self.head_done() {
            self.end_primary(st, cx, hi, false, out);
        }
        if self.last.is_some_and(|b| b != b'\n') {
            self.emit(out, b"\n");
        }
    }

    fn line(
        &mut self,
        st: &mut State,
        cx: &mut Ctx<'_>,
        hi: &HeadInfo,
        line: &[u8],
        out: &mut Vec<u8>,
    ) {
        if self.phase == Phase::Copy {
            self.emit(out, line);
            self.emit(out, b"\n");
            return;
        }
        let mut evs = Vec::new();
        self.mime.update(line, &mut |e| collect(&mut evs, e));
        for e in evs {
            self.event(st, cx, hi, e, out);
        }
    }

    fn event(&mut self, st: &mut State, cx: &mut Ctx<'_>, hi: &HeadInfo, e: Ev, out: &mut Vec<u8>) {
        match e {
            Ev::Header {
                block: HeaderBlock::Primary,
                checks,
                text,
            } if self.phase == Phase::Primary => self.primary_header(st, cx, checks, text),
            Ev::HeaderEnd {
                block: HeaderBlock::Primary,
                separator_missing,
            } if self.phase == Phase::Primary => {
                self.end_primary(st, cx, hi, separator_missing, out)
            }
            Ev::Header { checks, text, .. } => {
                let (prepend, verdict) = self.check(st, cx, checks, Context::Header, &text);
                if let Some(p) = prepend {
                    self.emit(out, &p);
                    self.emit(out, b"\n");
                }
                match verdict {
                    Verdict::Keep => {
                        self.emit(out, &text);
                        self.emit(out, b"\n");
                    }
                    Verdict::Replace(new) => {
                        self.emit(out, &new);
                        self.emit(out, b"\n");
                    }
                    Verdict::Drop => {}
                }
            }
            Ev::HeaderEnd { .. } => self.body_offset = 0,
            Ev::Body {
                kind,
                line,
                continues,
            } => self.body_line(st, cx, kind, &line, continues, out),
        }
    }

    /// Runs the checks of `which` kind on a header or body line.
    fn check(
        &mut self,
        st: &mut State,
        cx: &mut Ctx<'_>,
        which: Checks,
        ctx: Context,
        line: &[u8],
    ) -> (Option<Vec<u8>>, Verdict) {
        if !st.has(flags::FILTER) || st.checks_off {
            return (None, Verdict::Keep);
        }
        let table = match (ctx, which) {
            (Context::Body, _) => &mut cx.t.body_checks,
            (_, Checks::Header) => &mut cx.t.header_checks,
            (_, Checks::Mime) => &mut cx.t.mime_header_checks,
            (_, Checks::Nested) => &mut cx.t.nested_header_checks,
        };
        match table {
            Some(t) => act::check(st, t, ctx, line),
            None => (None, Verdict::Keep),
        }
    }

    fn body_line(
        &mut self,
        st: &mut State,
        cx: &mut Ctx<'_>,
        kind: BodyKind,
        line: &[u8],
        continues: bool,
        out: &mut Vec<u8>,
    ) {
        let mut text = line.to_vec();
        let limit = cx.s.body_checks_size_limit;
        if self.phase == Phase::Inspect
            && kind != BodyKind::Separator
            && (limit == 0 || self.body_offset < limit)
        {
            let (prepend, verdict) = self.check(st, cx, Checks::Header, Context::Body, line);
            if let Some(p) = prepend {
                self.emit(out, &p);
                self.emit(out, b"\n");
            }
            match verdict {
                Verdict::Keep => {}
                Verdict::Replace(new) => text = new,
                Verdict::Drop => {
                    self.body_offset += line.len() as u64 + u64::from(!continues);
                    return;
                }
            }
        }
        self.body_offset += line.len() as u64 + u64::from(!continues);
        self.emit(out, &text);
        if !continues {
            self.emit(out, b"\n");
        }
    }

    /// One logical header of the primary block (see the module
    /// documentation).
    fn primary_header(&mut self, st: &mut State, cx: &mut Ctx<'_>, checks: Checks, text: Vec<u8>) {
        let mut text = text;
        let (prepend, verdict) = self.check(st, cx, checks, Context::Header, &text);
        if let Some(p) = prepend {
            self.head.extend_from_slice(&p);
            self.head.push(b'\n');
        }
        match verdict {
            Verdict::Keep => {}
            Verdict::Drop => return,
            Verdict::Replace(new) => text = new,
        }
        let name_len = mail::header::header_name_len(&text).unwrap_or(0);
        let name = String::from_utf8_lossy(&text[..name_len]).to_ascii_lowercase();
        let info = mail::header::lookup(&name);
        let Some(info) = info.filter(|i| !i.mime) else {
            self.out_header(cx.s, &name, &text);
            return;
        };
        self.seen.insert(info.kind);
        let value = header_value(&text);
        match info.kind {
            HeaderKind::MessageId => {
                info!("{}: message-id={}", st.id, Untrusted(&printable(value)))
            }
            HeaderKind::ResentMessageId => {
                info!(
                    "{}: resent-message-id={}",
                    st.id,
                    Untrusted(&printable(value))
                )
            }
            HeaderKind::Received => {
                self.hops += 1;
                if self.hops >= cx.s.hopcount_limit && st.errs & status::HOPS == 0 {
                    warn!("{}: message rejected: hopcount exceeded", st.id);
                    st.fail(status::HOPS, "too many hops");
                }
            }
            _ => {}
        }
        if !st.out_ok() || st.errs & status::HOPS != 0 {
            return;
        }
        if info.resent {
            self.resent = true;
        }
        if extracts(info) {
            let list = if info.resent {
                &mut self.resent_rcpt
            } else {
                &mut self.plain_rcpt
            };
            for a in mail::address::parse_list(value) {
                let a = mail::address::strip_source_route(&a.addr).to_string();
                if !a.is_empty() {
                    list.push(a);
                }
            }
        }
        let class = match info.class {
            HeaderClass::Sender => Some(Class::HeaderSender),
            HeaderClass::Recipient => Some(Class::HeaderRecipient),
            HeaderClass::Other => None,
        };
        if let (Some(class), Some(context)) = (class, st.header_context.clone())
            && let Some(new) = crate::rewrite::rewrite_header(st, cx, &context, class, &text)
        {
            text = new;
        }
        self.out_header(cx.s, &name, &text);
    }

    /// Keeps a primary header unless `message_drop_headers` names it.
    fn out_header(&mut self, s: &Settings, name: &str, text: &[u8]) {
        if s.drop_headers.iter().any(|d| d == name) {
            return;
        }
        self.head.extend_from_slice(text);
        self.head.push(b'\n');
    }

    fn seen_either(&self, plain: HeaderKind, resent: HeaderKind) -> bool {
        self.seen
            .contains(if self.resent { &resent } else { &plain })
    }

    /// The end of the primary headers: adds what is missing and writes
    /// the header block.
    fn end_primary(
        &mut self,
        st: &mut State,
        cx: &mut Ctx<'_>,
        hi: &HeadInfo,
        separator_missing: bool,
        out: &mut Vec<u8>,
    ) {
        self.phase = if self.inspect_body {
            Phase::Inspect
        } else {
            Phase::Copy
        };
        if !st.out_ok() {
            return;
        }
        let s = cx.s;
        let add = st.header_context.is_some() || s.always_add_missing_headers;
        let resent = if self.resent { "Resent-" } else { "" };
        let mut back = String::new();
        if add && !self.seen_either(HeaderKind::MessageId, HeaderKind::ResentMessageId) {
            let id = message_id(&st.id, hi.created, &s.myhostname, hi.long_ids);
            back.push_str(&format!("{resent}Message-Id: {id}\n"));
            info!(
                "{}: {}message-id={}",
                st.id,
                resent.to_ascii_lowercase(),
                Untrusted(&id)
            );
            self.seen.insert(if self.resent {
                HeaderKind::ResentMessageId
            } else {
                HeaderKind::MessageId
            });
        }
        if !self.seen.contains(&HeaderKind::MessageId) {
            info!("{}: message-id=<>", st.id);
        }
        if add && !self.seen_either(HeaderKind::Date, HeaderKind::ResentDate) {
            back.push_str(&format!("{resent}Date: {}\n", rfc2822_date(hi.arrival)));
        }
        if add && !self.seen_either(HeaderKind::From, HeaderKind::ResentFrom) {
            let sender = st.sender.clone().unwrap_or_default();
            back.push_str(&format!(
                "{resent}{}\n",
                from_header(&sender, hi.full_name.as_deref(), s.header_from_format)
            ));
        }
        if add
            && !s.undisclosed_recipients_header.is_empty()
            && !self.seen_either(HeaderKind::To, HeaderKind::ResentTo)
            && !self.seen_either(HeaderKind::Cc, HeaderKind::ResentCc)
        {
            if mail::header::header_name_len(s.undisclosed_recipients_header.as_bytes()).is_some() {
                back.push_str(&format!("{}\n", s.undisclosed_recipients_header));
            } else {
                warn!(
                    "bad undisclosed_recipients_header header text \"{}\" -- need \"headername: headervalue\"",
                    s.undisclosed_recipients_header
                );
            }
        }
        let head = std::mem::take(&mut self.head);
        self.emit(out, &head);
        self.emit(out, back.as_bytes());
        if separator_missing {
            self.emit(out, b"\n");
        }
    }
}

/// Whether `sendmail -t` takes recipients from this header.
fn extracts(info: &HeaderInfo) -> bool {
    matches!(
        info.kind,
        HeaderKind::To
            | HeaderKind::Cc
            | HeaderKind::Bcc
            | HeaderKind::ResentTo
            | HeaderKind::ResentCc
            | HeaderKind::ResentBcc
    )
}

fn collect(evs: &mut Vec<Ev>, e: Event<'_>) {
    match e {
        Event::Header {
            block,
            checks,
            header,
            ..
        } => evs.push(Ev::Header {
            block,
            checks,
            text: header.to_vec(),
        }),
        Event::HeaderEnd {
            block,
            separator_missing,
        } => evs.push(Ev::HeaderEnd {
            block,
            separator_missing,
        }),
        Event::Body {
            kind,
            line,
            continues,
        } => evs.push(Ev::Body {
            kind,
            line: line.to_vec(),
            continues,
        }),
        Event::Error { .. } => {}
    }
}

/// The value of a header: after the colon and the blanks that follow.
fn header_value(text: &[u8]) -> &[u8] {
    let colon = text
        .iter()
        .position(|&c| c == b':')
        .map_or(text.len(), |c| c + 1);
    let mut v = &text[colon.min(text.len())..];
    while let Some((&c, rest)) = v.split_first() {
        if c == b' ' || c == b'\t' {
            v = rest;
        } else {
            break;
        }
    }
    v
}

/// `<YYYYMMDDHHMMSS.ID@HOST>` with the time in UTC; with long queue IDs,
/// which are unique by themselves, `<ID@HOST>`.
pub fn message_id(id: &str, created: SystemTime, host: &str, long_ids: bool) -> String {
    if long_ids {
        return format!("<{id}@{host}>");
    }
    let secs = created
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = mail::date::civil_from_days(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!(
        "<{:04}{:02}{:02}{:02}{:02}{:02}.{}@{}>",
        y,
        m,
        d,
        t / 3600,
        (t % 3600) / 60,
        t % 60,
        id,
        host
    )
}

/// The `From:` header cleanup adds: the sender (`MAILER-DAEMON` for the
/// null sender) with the full name, if any.
fn from_header(sender: &str, full_name: Option<&str>, format: FromFormat) -> String {
    let addr = if sender.is_empty() {
        "MAILER-DAEMON".to_string()
    } else {
        mail::address::externalize(sender)
    };
    match full_name.filter(|n| !n.trim().is_empty() && !sender.is_empty()) {
        Some(name) => match format {
            FromFormat::Standard => format!("From: {} <{}>", phrase(name), addr),
            FromFormat::Obsolete => format!("From: {} ({})", addr, comment(name)),
        },
        None => format!("From: {addr}"),
    }
}

/// A display name: words joined by single spaces when it has nothing
/// but atoms, else quoted.
fn phrase(name: &str) -> String {
    let atom =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    let words: Vec<&str> = name.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    if words.iter().all(|w| w.chars().all(atom)) {
        words.join(" ")
    } else {
        let mut q = String::from("\"");
        for c in name.trim().chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    }
}

/// A full name inside a comment, parentheses and backslashes escaped.
fn comment(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `Mon, 23 Nov 2026 13:12:11 +0000 (UTC)`, as Postfix writes dates (a
/// one-digit day is padded with a space).
pub fn rfc2822_date(t: SystemTime) -> String {
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
    use crate::addrmap::testing::FakeRewrite;
    use crate::tables::{Table, Tables};
    use std::time::{Duration, UNIX_EPOCH};

    /// Runs `input` through a message in chunks of `chunk` bytes.
    fn run_with(
        s: &Settings,
        t: &mut Tables,
        st: &mut State,
        hi: &HeadInfo,
        input: &[u8],
        chunk: usize,
    ) -> (String, Message) {
        let mut rw = FakeRewrite::new();
        let inspect = t.inspect_body();
        let mut cx = Ctx { s, t, rw: &mut rw };
        let mut m = Message::new(s, inspect);
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            m.feed(st, &mut cx, hi, c, &mut out);
        }
        m.finish(st, &mut cx, hi, &mut out);
        (String::from_utf8(out).unwrap(), m)
    }

    fn local_info() -> HeadInfo {
        HeadInfo {
            submit_uid: None,
            arrival: UNIX_EPOCH + Duration::from_secs(1_780_000_000),
            created: UNIX_EPOCH + Duration::from_secs(1_780_000_001),
            full_name: Some("Doe, John".into()),
            long_ids: false,
        }
    }

    fn state(flags: u32) -> State {
        let mut st = State::new("ABCDEF123", flags, 100);
        st.sender = Some("user@host.example".into());
        st.header_context = Some("local".into());
        st
    }

    #[test]
    fn local_mail_gets_missing_headers() {
        let s = Settings::for_tests();
        let mut hi = local_info();
        hi.submit_uid = Some("1000".into());
        let date = rfc2822_date(hi.arrival);
        for chunk in [1, 7, 4096] {
            let mut t = Tables::empty();
            let mut st = state(flags::MAP_OK);
            let (out, m) = run_with(
                &s,
                &mut t,
                &mut st,
                &hi,
                b"To: x@y, joe\nBcc: secret@y\nReturn-Path: <z>\nSubject: hi\n\nbody",
                chunk,
            );
            assert_eq!(
                out,
                format!(
                    "Received: by host.example (Postfix, from userid 1000)\n\tid ABCDEF123; {date}\n\
                     To: x@y, joe@host.example\nSubject: hi\n\
                     Message-Id: <20260528202641.ABCDEF123@host.example>\nDate: {date}\n\
                     From: \"Doe, John\" <user@host.example>\n\nbody\n"
                ),
                "chunk {chunk}"
            );
            assert_eq!(m.extracted_recipients(), ["x@y", "joe", "secret@y"]);
        }
    }

    #[test]
    fn resent_headers_and_separator() {
        let s = Settings::for_tests();
        let mut hi = local_info();
        hi.full_name = None;
        let date = rfc2822_date(hi.arrival);
        let mut t = Tables::empty();
        let mut st = state(0);
        let (out, m) = run_with(
            &s,
            &mut t,
            &mut st,
            &hi,
            b"To: a@b\nResent-To: c@d\nnot a header\nmore\n",
            4096,
        );
        assert_eq!(
            out,
            format!(
                "To: a@b\nResent-To: c@d\nResent-Message-Id: <20260528202641.ABCDEF123@host.example>\n\
                 Resent-Date: {date}\nResent-From: user@host.example\n\nnot a header\nmore\n"
            )
        );
        assert_eq!(m.extracted_recipients(), ["c@d"]);
    }

    #[test]
    fn remote_mail_is_left_alone() {
        let s = Settings::for_tests();
        let hi = local_info();
        let mut t = Tables::empty();
        let mut st = state(0);
        st.header_context = None;
        let (out, _) = run_with(&s, &mut t, &mut st, &hi, b"To: joe\nSubject: x", 3);
        assert_eq!(out, "To: joe\nSubject: x\n");
    }

    fn checks_file(name: &str, rules: &str) -> String {
        let dir = std::env::temp_dir().join(format!("cleanup-msg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, rules).unwrap();
        format!("regexp:{}", p.display())
    }

    #[test]
    fn header_and_body_checks() {
        let s = Settings::for_tests();
        let hi = local_info();
        let mut t = Tables::empty();
        let hc = checks_file(
            "hc",
            "/^X-Ignore:/ IGNORE\n/^X-Prepend:/ PREPEND X-Added: yes\n/^X-Replace: (.*)/ REPLACE X-Replaced: $1\n\
             /^Content-Type: text/ WARN mime\n/^X-Nested:/ REPLACE X-Nested: replaced\n",
        );
        t.header_checks = Some(Table::for_tests("header_checks", &hc));
        t.mime_header_checks = Some(Table::for_tests("mime_header_checks", &hc));
        t.nested_header_checks = Some(Table::for_tests("nested_header_checks", &hc));
        t.body_checks = Some(Table::for_tests(
            "body_checks",
            &checks_file(
                "bc",
                "/^secret/ REPLACE [removed]\n/^drop/ IGNORE\n/^--b1$/ PREPEND -- boundary follows\n",
            ),
        ));
        let input = b"X-Ignore: 1\nX-Prepend: 2\nX-Replace: three\nContent-Type: multipart/mixed; boundary=b1\n\n\
preamble\n--b1\nContent-Type: message/rfc822\n\nX-Nested: 1\nSubject: inner\n\nsecret inner\ndrop me\n--b1--\nsecret epilogue\n";
        let mut st = state(flags::FILTER);
        st.header_context = None;
        let (out, _) = run_with(&s, &mut t, &mut st, &hi, input, 5);
        assert_eq!(
            out,
            "X-Added: yes\nX-Prepend: 2\nX-Replaced: three\nContent-Type: multipart/mixed; boundary=b1\n\n\
preamble\n-- boundary follows\n--b1\nContent-Type: message/rfc822\n\nX-Nested: replaced\nSubject: inner\n\n[removed]\n--b1--\n[removed]\n"
        );
        // Without the FILTER flag nothing is checked.
        let mut st = state(0);
        st.header_context = None;
        let (out, _) = run_with(&s, &mut t, &mut st, &hi, input, 4096);
        assert_eq!(out.as_bytes(), input);
    }

    #[test]
    fn body_checks_size_limit() {
        let mut s = Settings::for_tests();
        s.body_checks_size_limit = 10;
        let hi = local_info();
        let mut t = Tables::empty();
        t.body_checks = Some(Table::for_tests(
            "body_checks",
            &checks_file("bl", "/^x/ IGNORE\n"),
        ));
        let mut st = state(flags::FILTER);
        st.header_context = None;
        let (out, _) = run_with(
            &s,
            &mut t,
            &mut st,
            &hi,
            b"S: 1\n\nx1234\nx1234\nx1234\n",
            4096,
        );
        // The second line starts at offset 6, the third at 12: checked, not.
        assert_eq!(out, "S: 1\n\nx1234\n");
    }

    #[test]
    fn hop_count() {
        let mut s = Settings::for_tests();
        s.hopcount_limit = 3;
        let hi = local_info();
        let mut t = Tables::empty();
        let mut st = state(0);
        run_with(
            &s,
            &mut t,
            &mut st,
            &hi,
            b"Received: a\nReceived: b\n\nx\n",
            4096,
        );
        assert!(st.refusal().is_none());
        run_with(
            &s,
            &mut t,
            &mut st,
            &hi,
            b"Received: a\nReceived: b\nReceived: c\n\nx\n",
            4096,
        );
        assert_eq!(st.errs, status::HOPS);
        // The Received: header of a local submission counts too.
        let mut hi = local_info();
        hi.submit_uid = Some("0".into());
        let mut st = state(0);
        run_with(
            &s,
            &mut t,
            &mut st,
            &hi,
            b"Received: a\nReceived: b\n\nx\n",
            4096,
        );
        assert_eq!(st.errs, status::HOPS);
    }

    #[test]
    fn header_checks_see_the_received_header_of_local_mail() {
        let s = Settings::for_tests();
        let mut hi = local_info();
        hi.submit_uid = Some("0".into());
        let mut t = Tables::empty();
        t.header_checks = Some(Table::for_tests(
            "header_checks",
            &checks_file(
                "rcvd",
                "/^Received: by host.example .*userid 0/ REPLACE X-Was: received\n",
            ),
        ));
        let mut st = state(flags::FILTER);
        st.header_context = None;
        let (out, _) = run_with(&s, &mut t, &mut st, &hi, b"Subject: x\n\nbody\n", 4096);
        assert_eq!(out, "X-Was: received\nSubject: x\n\nbody\n");
    }

    #[test]
    fn from_headers() {
        let cases = [
            ("s@x", Some("Cron Daemon"), "From: Cron Daemon <s@x>"),
            ("s@x", Some("J. Doe"), "From: \"J. Doe\" <s@x>"),
            (
                "s@x",
                Some("A \"quoted\" name"),
                "From: \"A \\\"quoted\\\" name\" <s@x>",
            ),
            ("s@x", Some("tab\tname"), "From: tab name <s@x>"),
            ("s@x", Some("Ünïcode Name"), "From: Ünïcode Name <s@x>"),
            ("s@x", Some(""), "From: s@x"),
            ("", Some("Name"), "From: MAILER-DAEMON"),
            ("john doe@x", None, "From: \"john doe\"@x"),
        ];
        for (sender, name, want) in cases {
            assert_eq!(from_header(sender, name, FromFormat::Standard), want);
        }
        assert_eq!(
            from_header("s@x", Some("A (b)"), FromFormat::Obsolete),
            "From: s@x (A \\(b\\))"
        );
    }

    #[test]
    fn message_ids() {
        let t = UNIX_EPOCH + Duration::from_secs(1_780_000_001);
        assert_eq!(
            message_id("ABCDEF123", t, "h.example", false),
            "<20260528202641.ABCDEF123@h.example>"
        );
        assert_eq!(
            message_id("4bZyQm0k2Rz1Cqs", t, "h.example", true),
            "<4bZyQm0k2Rz1Cqs@h.example>"
        );
    }
}
