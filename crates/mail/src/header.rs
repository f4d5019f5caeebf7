//! # NAME
//! header — message headers: recognition, classes, folding, limits
//!
//! ## SYNOPSIS
//! ```
//! use mail::header::{split_message, lookup, HeaderClass, HeaderKind};
//! let msg = split_message(b"Subject: hi\nTo: a@b,\n\tc@d\n\nbody\n", &Default::default());
//! assert_eq!(msg.headers[1].name, "To");
//! assert_eq!(msg.headers[1].value, b"a@b,\n\tc@d");
//! assert_eq!(&msg.body, b"body\n");
//! let info = lookup("to").unwrap();
//! assert_eq!((info.kind, info.class), (HeaderKind::To, HeaderClass::Recipient));
//! ```
//!
//! ## DESCRIPTION
//! [`header_name_len`] tells whether a line starts a header the way
//! Postfix decides it: a non-empty name of printable ASCII other than
//! `:`, optional blanks, then `:`. A line that starts with a blank
//! continues the previous header.
//!
//! [`split_message`] cuts message content (lines ending in LF) into the
//! primary header block and the body. The headers end at an empty line,
//! which is dropped, or at the first line that neither starts nor
//! continues a header; that line is the first body line and
//! [`Message::separator_missing`] says so (Postfix then writes an empty
//! line before it). A logical header longer than `header_size_limit` is
//! cut to that many bytes and the rest of it is discarded
//! ([`Limits`], [`cut_header`]).
//!
//! [`lookup`] finds a header name (case-insensitive) in the table of the
//! headers Postfix treats specially, with its class: sender headers,
//! recipient headers, MIME headers, headers cleanup(8) removes.
//!
//! [`fold`] folds a long header at white space; [`unfold`] removes the
//! line breaks of a folded header; [`split_long_line`] cuts a body line
//! into `line_length_limit` pieces as Postfix's record layer does.
//!
//! ## SEE ALSO
//! RFC 5322 section 2.2, [`crate::mime`], [`crate::address`]

/// The default `header_size_limit`.
pub const DEFAULT_HEADER_SIZE_LIMIT: usize = 102_400;
/// The default `line_length_limit`.
pub const DEFAULT_LINE_LENGTH_LIMIT: usize = 2048;

/// The length limits the caller configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `header_size_limit`: the most bytes kept of one logical header.
    pub header_size_limit: usize,
    /// `line_length_limit`: body lines are handled in pieces this long.
    pub line_length_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_size_limit: DEFAULT_HEADER_SIZE_LIMIT,
            line_length_limit: DEFAULT_LINE_LENGTH_LIMIT,
        }
    }
}

/// If `line` starts a header, the length of its name (without the
/// blanks before the colon).
pub fn header_name_len(line: &[u8]) -> Option<usize> {
    let mut len = 0;
    let mut blanks = false;
    for &c in line {
        match c {
            b':' => return (len > 0).then_some(len),
            b' ' | b'\t' => {
                if len == 0 {
                    return None;
                }
                blanks = true;
            }
            33..=126 if !blanks => len += 1,
            _ => return None,
        }
    }
    None
}

/// Whether a line continues the previous header.
pub fn is_continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

/// One logical header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderLine {
    /// The name as written, without the blanks before the colon.
    pub name: String,
    /// The text after the colon and the blanks that follow it, folding
    /// line breaks included, without the final newline.
    pub value: Vec<u8>,
    /// The whole logical header as received, without the final newline.
    pub raw: Vec<u8>,
}

impl HeaderLine {
    /// Parse one logical header (its lines joined with `\n`).
    pub fn parse(raw: &[u8]) -> Option<HeaderLine> {
        let n = header_name_len(raw)?;
        let colon = raw.iter().position(|&c| c == b':')?;
        let mut v = colon + 1;
        while matches!(raw.get(v), Some(b' ' | b'\t')) {
            v += 1;
        }
        Some(HeaderLine {
            name: String::from_utf8_lossy(&raw[..n]).into_owned(),
            value: raw[v..].to_vec(),
            raw: raw.to_vec(),
        })
    }

    /// What Postfix knows about this header, if anything.
    pub fn info(&self) -> Option<&'static HeaderInfo> {
        lookup(&self.name)
    }

    /// The value with the folding line breaks removed.
    pub fn unfolded_value(&self) -> Vec<u8> {
        unfold(&self.value)
    }

    /// The header written as `Name: value`, without blanks before the
    /// colon (Postfix writes `Subject : x` as `Subject: x`).
    pub fn normalized(&self) -> Vec<u8> {
        let colon = self.raw.iter().position(|&c| c == b':').unwrap_or(0);
        let mut out = Vec::with_capacity(self.raw.len());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(self.raw.get(colon..).unwrap_or(&[]));
        out
    }
}

/// Remove folding: a line break (LF or CRLF) followed by a blank is
/// replaced by that blank; other line breaks are removed.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &c in value {
        if c != b'\n' && c != b'\r' {
            out.push(c);
        }
    }
    out
}

/// Fold a header line at blanks so that lines stay within `width`
/// bytes where a blank allows it; continuation lines start with a TAB
/// that replaces the blank the line was broken at. Existing line breaks
/// are kept.
pub fn fold(line: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + 8);
    for (k, physical) in line.split(|&c| c == b'\n').enumerate() {
        if k > 0 {
            out.push(b'\n');
        }
        let mut rest = physical;
        // The TAB of a continuation line counts as one byte.
        let mut room = width;
        while rest.len() > room {
            // The last blank within the room, not at position 0; else
            // the first blank after it.
            let cut = rest[1..=room]
                .iter()
                .rposition(|&c| c == b' ' || c == b'\t')
                .map(|p| p + 1)
                .or_else(|| {
                    rest[1..]
                        .iter()
                        .position(|&c| c == b' ' || c == b'\t')
                        .map(|p| p + 1)
                });
            let Some(cut) = cut else { break };
            out.extend_from_slice(&rest[..cut]);
            out.extend_from_slice(b"\n\t");
            rest = &rest[cut + 1..];
            room = width.saturating_sub(1);
        }
        out.extend_from_slice(rest);
    }
    out
}

/// Cut a logical header to `header_size_limit` bytes; `true` when
/// something was cut.
pub fn cut_header(raw: &[u8], header_size_limit: usize) -> (&[u8], bool) {
    if raw.len() > header_size_limit {
        (&raw[..header_size_limit], true)
    } else {
        (raw, false)
    }
}

/// Cut a line into pieces of at most `line_length_limit` bytes (at least
/// one piece, empty for an empty line). A limit of 0 is taken as 1.
pub fn split_long_line(line: &[u8], line_length_limit: usize) -> impl Iterator<Item = &[u8]> {
    let limit = line_length_limit.max(1);
    let empty: &[u8] = &[];
    let first = line.is_empty().then_some(empty);
    first.into_iter().chain(line.chunks(limit))
}

/// The primary header block and the body of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The logical headers, in order, cut to `header_size_limit`.
    pub headers: Vec<HeaderLine>,
    /// Everything after the header block (after the empty line).
    pub body: Vec<u8>,
    /// Offset of the body in the content.
    pub body_offset: usize,
    /// The header ended at a line that is not a header, not at an empty
    /// line.
    pub separator_missing: bool,
    /// At least one header was cut to `header_size_limit`.
    pub truncated: bool,
}

/// Split message content into the primary header block and the body.
pub fn split_message(content: &[u8], limits: &Limits) -> Message {
    let mut headers = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut truncated = false;
    let mut pos = 0;
    let mut separator_missing = false;
    let mut body_offset = content.len();
    let flush = |cur: &mut Option<Vec<u8>>, headers: &mut Vec<HeaderLine>| {
        if let Some(raw) = cur.take()
            && let Some(h) = HeaderLine::parse(&raw)
        {
            headers.push(h);
        }
    };
    while pos < content.len() {
        let end = content[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(content.len(), |p| pos + p);
        let next = (end + 1).min(content.len());
        let line = &content[pos..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            flush(&mut current, &mut headers);
            body_offset = next;
            break;
        }
        if let Some(cur) = current.as_mut().filter(|_| is_continuation(line)) {
            if cur.len() < limits.header_size_limit {
                cur.push(b'\n');
                cur.extend_from_slice(line);
            }
            if cur.len() > limits.header_size_limit {
                cur.truncate(limits.header_size_limit);
                truncated = true;
            }
        } else if header_name_len(line).is_some() {
            flush(&mut current, &mut headers);
            let (kept, cut) = cut_header(line, limits.header_size_limit);
            truncated |= cut;
            current = Some(kept.to_vec());
        } else {
            flush(&mut current, &mut headers);
            separator_missing = true;
            body_offset = pos;
            break;
        }
        pos = next;
    }
    flush(&mut current, &mut headers);
    Message {
        headers,
        body: content.get(body_offset..).unwrap_or(&[]).to_vec(),
        body_offset,
        separator_missing,
        truncated,
    }
}

/// Which headers a header belongs to for address processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderClass {
    /// Holds sender addresses (From, Sender, Reply-To, Return-Path,
    /// Errors-To, Resent-From, ...): rewritten with the sender maps.
    Sender,
    /// Holds recipient addresses (To, Cc, Bcc, Resent-*, Apparently-To):
    /// rewritten with the recipient maps, extracted by `sendmail -t`.
    Recipient,
    /// Everything else.
    Other,
}

/// The headers Postfix treats specially.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderKind {
    ApparentlyTo,
    AutoSubmitted,
    Bcc,
    Cc,
    ContentDescription,
    ContentDisposition,
    ContentId,
    ContentLength,
    ContentTransferEncoding,
    ContentType,
    Date,
    DeliveredTo,
    DispositionNotificationTo,
    ErrorsTo,
    From,
    MessageId,
    MimeVersion,
    Received,
    ReplyTo,
    ResentBcc,
    ResentCc,
    ResentDate,
    ResentFrom,
    ResentMessageId,
    ResentReplyTo,
    ResentSender,
    ResentTo,
    ReturnPath,
    ReturnReceiptTo,
    Sender,
    Subject,
    To,
    XOriginalTo,
}

/// What Postfix knows about a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// The canonical spelling.
    pub name: &'static str,
    pub kind: HeaderKind,
    pub class: HeaderClass,
    /// A `Resent-` header: when one is present, cleanup(8) adds the
    /// missing `Resent-` headers instead of the plain ones.
    pub resent: bool,
    /// A MIME header (`Content-*`, `MIME-Version`): inspected with
    /// `mime_header_checks`.
    pub mime: bool,
    /// Removed by cleanup(8) (`Bcc`, `Resent-Bcc`, `Content-Length`,
    /// `Return-Path`) after inspection, unless configured otherwise.
    pub dropped: bool,
}

const fn info(
    name: &'static str,
    kind: HeaderKind,
    class: HeaderClass,
    resent: bool,
    mime: bool,
    dropped: bool,
) -> HeaderInfo {
    HeaderInfo {
        name,
        kind,
        class,
        resent,
        mime,
        dropped,
    }
}

use HeaderClass::{Other, Recipient, Sender};

/// The table of known headers.
pub const HEADERS: &[HeaderInfo] = &[
    info(
        "Apparently-To",
        HeaderKind::ApparentlyTo,
        Recipient,
        false,
        false,
        false,
    ),
    info(
        "Auto-Submitted",
        HeaderKind::AutoSubmitted,
        Other,
        false,
        false,
        false,
    ),
    info("Bcc", HeaderKind::Bcc, Recipient, false, false, true),
    info("Cc", HeaderKind::Cc, Recipient, false, false, false),
    info(
        "Content-Description",
        HeaderKind::ContentDescription,
        Other,
        false,
        true,
        false,
    ),
    info(
        "Content-Disposition",
        HeaderKind::ContentDisposition,
        Other,
        false,
        true,
        false,
    ),
    info(
        "Content-ID",
        HeaderKind::ContentId,
        Other,
        false,
        true,
        false,
    ),
    info(
        "Content-Length",
        HeaderKind::ContentLength,
        Other,
        false,
        false,
        true,
    ),
    info(
        "Content-Transfer-Encoding",
        HeaderKind::ContentTransferEncoding,
        Other,
        false,
        true,
        false,
    ),
    info(
        "Content-Type",
        HeaderKind::ContentType,
        Other,
        false,
        true,
        false,
    ),
    info("Date", HeaderKind::Date, Other, false, false, false),
    info(
        "Delivered-To",
        HeaderKind::DeliveredTo,
        Other,
        false,
        false,
        false,
    ),
    info(
        "Disposition-Notification-To",
        HeaderKind::DispositionNotificationTo,
        Sender,
        false,
        false,
        false,
    ),
    info(
        "Errors-To",
        HeaderKind::ErrorsTo,
        Sender,
        false,
        false,
        false,
    ),
    info("From", HeaderKind::From, Sender, false, false, false),
    info(
        "Message-ID",
        HeaderKind::MessageId,
        Other,
        false,
        false,
        false,
    ),
    info(
        "MIME-Version",
        HeaderKind::MimeVersion,
        Other,
        false,
        true,
        false,
    ),
    info("Received", HeaderKind::Received, Other, false, false, false),
    info("Reply-To", HeaderKind::ReplyTo, Sender, false, false, false),
    info(
        "Resent-Bcc",
        HeaderKind::ResentBcc,
        Recipient,
        true,
        false,
        true,
    ),
    info(
        "Resent-Cc",
        HeaderKind::ResentCc,
        Recipient,
        true,
        false,
        false,
    ),
    info(
        "Resent-Date",
        HeaderKind::ResentDate,
        Other,
        true,
        false,
        false,
    ),
    info(
        "Resent-From",
        HeaderKind::ResentFrom,
        Sender,
        true,
        false,
        false,
    ),
    info(
        "Resent-Message-ID",
        HeaderKind::ResentMessageId,
        Other,
        true,
        false,
        false,
    ),
    info(
        "Resent-Reply-To",
        HeaderKind::ResentReplyTo,
        Sender,
        true,
        false,
        false,
    ),
    info(
        "Resent-Sender",
        HeaderKind::ResentSender,
        Sender,
        true,
        false,
        false,
    ),
    info(
        "Resent-To",
        HeaderKind::ResentTo,
        Recipient,
        true,
        false,
        false,
    ),
    info(
        "Return-Path",
        HeaderKind::ReturnPath,
        Sender,
        false,
        false,
        true,
    ),
    info(
        "Return-Receipt-To",
        HeaderKind::ReturnReceiptTo,
        Sender,
        false,
        false,
        false,
    ),
    info("Sender", HeaderKind::Sender, Sender, false, false, false),
    info("Subject", HeaderKind::Subject, Other, false, false, false),
    info("To", HeaderKind::To, Recipient, false, false, false),
    info(
        "X-Original-To",
        HeaderKind::XOriginalTo,
        Other,
        false,
        false,
        false,
    ),
];

/// Find a header name in [`HEADERS`], ignoring case and trailing blanks.
pub fn lookup(name: &str) -> Option<&'static HeaderInfo> {
    let name = name.trim_end_matches([' ', '\t']);
    HEADERS.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// The [`HeaderInfo`] of a header of this kind.
pub fn info_of(kind: HeaderKind) -> &'static HeaderInfo {
    HEADERS
        .iter()
        .find(|h| h.kind == kind)
        .expect("invariant: every HeaderKind is in HEADERS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_recognition() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"Subject: x", Some(7)),
            (b"Subject : x", Some(7)),
            (b"Subject\t:x", Some(7)),
            (b"X-Bad\x01: z", None),
            (b": nohdr", None),
            (b" leading: x", None),
            (b"Sub ject: x", None),
            (b"Subject", None),
            (b"Subject x", None),
            (b"", None),
            (b"\xc3\xa9t\xc3\xa9: x", None),
            (b"a:", Some(1)),
            (b"From nobody Mon Jan 1", None),
            (b">From: x", Some(5)),
        ];
        for (line, want) in cases {
            assert_eq!(
                header_name_len(line),
                *want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn split_like_postfix() {
        let m = split_message(
            b"Subject: x\nnot a header\nX-Foo: y\n\nbody\n",
            &Limits::default(),
        );
        assert_eq!(m.headers.len(), 1);
        assert!(m.separator_missing);
        assert_eq!(m.body, b"not a header\nX-Foo: y\n\nbody\n");

        let m = split_message(
            b"Subject : spaced\n\tcont\nX-Bad\x01: z\n\nbody\n",
            &Limits::default(),
        );
        assert_eq!(m.headers.len(), 1);
        assert_eq!(m.headers[0].name, "Subject");
        assert_eq!(m.headers[0].value, b"spaced\n\tcont");
        assert_eq!(m.headers[0].normalized(), b"Subject: spaced\n\tcont");
        assert_eq!(m.body, b"X-Bad\x01: z\n\nbody\n");

        let m = split_message(b" leading\nSubject: x\n\nbody\n", &Limits::default());
        assert!(m.headers.is_empty());
        assert!(m.separator_missing);
        assert_eq!(m.body_offset, 0);

        let m = split_message(b"A: 1\r\nB: 2\r\n\r\nbody\r\n", &Limits::default());
        assert_eq!(m.headers.len(), 2);
        assert_eq!(m.headers[1].value, b"2");
        assert_eq!(m.body, b"body\r\n");
        assert!(!m.separator_missing);

        let m = split_message(b"A: 1", &Limits::default());
        assert_eq!(m.headers[0].value, b"1");
        assert!(m.body.is_empty());
        let m = split_message(b"", &Limits::default());
        assert!(m.headers.is_empty() && m.body.is_empty());
        let m = split_message(b"\n", &Limits::default());
        assert!(m.headers.is_empty() && m.body.is_empty() && m.body_offset == 1);
    }

    #[test]
    fn header_size_limit_cuts_like_postfix() {
        // Postfix 3.7.11 with header_size_limit = 300 kept exactly 300
        // bytes of a 409-byte Subject: header and the next header whole.
        let subject = format!("Subject: {}", "x".repeat(400));
        let msg = format!("{subject}\nX: y\n\nbody\n");
        let limits = Limits {
            header_size_limit: 300,
            ..Limits::default()
        };
        let m = split_message(msg.as_bytes(), &limits);
        assert!(m.truncated);
        assert_eq!(m.headers[0].raw.len(), 300);
        assert_eq!(m.headers[1].raw, b"X: y");
        // Continuation lines past the limit are dropped.
        let zs = "z".repeat(400);
        let msg = format!("Subject: a\n\t{zs}\n\tmore\nX: y\n\n");
        let m = split_message(msg.as_bytes(), &limits);
        assert_eq!(m.headers[0].raw.len(), 300);
        assert!(!m.headers[0].raw.ends_with(b"more"));
        assert_eq!(m.headers.len(), 2);
        assert_eq!(cut_header(b"abc", 2), (&b"ab"[..], true));
        assert_eq!(cut_header(b"abc", 3), (&b"abc"[..], false));
    }

    #[test]
    fn long_lines() {
        let pieces: Vec<&[u8]> = split_long_line(b"abcdefg", 3).collect();
        assert_eq!(pieces, [&b"abc"[..], b"def", b"g"]);
        let pieces: Vec<&[u8]> = split_long_line(b"", 3).collect();
        assert_eq!(pieces, [&b""[..]]);
        let pieces: Vec<&[u8]> = split_long_line(b"ab", 0).collect();
        assert_eq!(pieces.len(), 2);
    }

    #[test]
    fn folding() {
        assert_eq!(fold(b"Subject: short", 78), b"Subject: short");
        let long = b"Subject: aaaa bbbb cccc dddd";
        assert_eq!(fold(long, 14), b"Subject: aaaa\n\tbbbb cccc\n\tdddd");
        assert_eq!(
            fold(b"X: nospaceatallxxxxxxxxxxxxxxxxxxx", 10),
            b"X:\n\tnospaceatallxxxxxxxxxxxxxxxxxxx"
        );
        assert_eq!(fold(b"Xnospaceatall", 3), b"Xnospaceatall");
        assert_eq!(fold(b"", 0), b"");
        assert_eq!(fold(b"a b", 0), b"a\n\tb");
        assert_eq!(unfold(b"a,\n\tb,\r\n c"), b"a,\tb, c");
    }

    #[test]
    fn table() {
        for (name, class, mime) in [
            ("from", HeaderClass::Sender, false),
            ("RESENT-SENDER", HeaderClass::Sender, false),
            ("errors-to", HeaderClass::Sender, false),
            ("Return-Path", HeaderClass::Sender, false),
            ("apparently-to", HeaderClass::Recipient, false),
            ("Resent-Bcc", HeaderClass::Recipient, false),
            ("content-type", HeaderClass::Other, true),
            ("Mime-Version", HeaderClass::Other, true),
            ("Received ", HeaderClass::Other, false),
        ] {
            let i = lookup(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((i.class, i.mime), (class, mime), "{name}");
        }
        assert!(lookup("X-Unknown").is_none());
        assert!(lookup("").is_none());
        assert!(info_of(HeaderKind::Bcc).dropped);
        for h in HEADERS {
            assert_eq!(info_of(h.kind).name, h.name);
        }
    }
}
