//! # NAME
//! mime — the MIME state machine behind header and body checks
//!
//! ## SYNOPSIS
//! ```
//! use mail::mime::{MimeState, MimeOptions, Event, Checks};
//! let mut m = MimeState::new(MimeOptions::default());
//! let mut seen = Vec::new();
//! for line in ["Content-Type: multipart/mixed; boundary=b", "", "--b", "X: 1", "", "text", "--b--"] {
//!     m.update(line.as_bytes(), &mut |e| {
//!         if let Event::Header { checks, .. } = e { seen.push(checks) }
//!     });
//! }
//! m.finish(&mut |_| {});
//! assert_eq!(seen, [Checks::Mime, Checks::Mime]);
//! ```
//!
//! ## DESCRIPTION
//! [`MimeState`] reads a message one line at a time (without the line
//! end) and reports every line once, as part of a logical header
//! ([`Event::Header`]) or as a body line ([`Event::Body`]), with where
//! it belongs:
//!
//! * headers of the message itself, of the parts of a multipart, and of
//!   a message attached as `message/rfc822`; [`Checks`] says which of
//!   `header_checks`, `mime_header_checks`, `nested_header_checks`
//!   applies, as Postfix decides it: MIME headers (`Content-*`,
//!   `MIME-Version`) and every header of a multipart part go to
//!   `mime_header_checks`, the other headers of an attached message to
//!   `nested_header_checks`, the rest of the primary headers to
//!   `header_checks`;
//! * body lines, boundary lines included (both go to `body_checks`),
//!   cut into `line_length_limit` pieces as Postfix's queue records do.
//!
//! Boundaries are compared on their first `mime_boundary_length_limit`
//! bytes, as a prefix of the line after `--`. A multipart nested more
//! than `mime_nesting_limit` levels deep is not entered and raises
//! [`MimeError::Nesting`]. Every kind of [`MimeError`] is reported once,
//! with the text that caused it, and collected in
//! [`MimeState::errors`]; the caller acts on those its configuration
//! asks for (`strict_7bit_headers`, `strict_8bitmime_body`,
//! `strict_mime_encoding_domain`; nesting always).
//!
//! [`has_8bit`] and [`downgrade`] serve the SMTP client: a message with
//! 8-bit parts sent to a server without 8BITMIME gets its `8bit` and
//! `binary` leaf parts re-encoded as quoted-printable and the
//! `Content-Transfer-Encoding` of the containers set to `7bit`; as in
//! Postfix, the new header replaces the old one at the end of its header
//! block, and soft line breaks fall where Postfix puts them.
//!
//! ## SEE ALSO
//! RFC 2045, RFC 2046, header_checks(5), [`crate::header`]

use crate::header::{self, HeaderInfo, HeaderKind};

/// The default `mime_nesting_limit`.
pub const DEFAULT_NESTING_LIMIT: usize = 100;
/// The default `mime_boundary_length_limit`.
pub const DEFAULT_BOUNDARY_LENGTH_LIMIT: usize = 2048;

/// What the caller configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MimeOptions {
    /// `mime_nesting_limit`.
    pub nesting_limit: usize,
    /// `mime_boundary_length_limit`.
    pub boundary_length_limit: usize,
    /// `header_size_limit`: a longer logical header is cut.
    pub header_size_limit: usize,
    /// `line_length_limit`: body lines are reported in pieces this long.
    pub line_length_limit: usize,
    /// `disable_mime_input_processing`: everything after the primary
    /// headers is body text.
    pub disable_mime: bool,
}

impl Default for MimeOptions {
    fn default() -> Self {
        MimeOptions {
            nesting_limit: DEFAULT_NESTING_LIMIT,
            boundary_length_limit: DEFAULT_BOUNDARY_LENGTH_LIMIT,
            header_size_limit: header::DEFAULT_HEADER_SIZE_LIMIT,
            line_length_limit: header::DEFAULT_LINE_LENGTH_LIMIT,
            disable_mime: false,
        }
    }
}

/// Which header block a header is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderBlock {
    /// The message's own headers.
    Primary,
    /// The headers of a part of a multipart.
    Multipart,
    /// The headers of a message attached as `message/rfc822`.
    Nested,
}

/// Which table of checks applies to a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// `header_checks`.
    Header,
    /// `mime_header_checks`.
    Mime,
    /// `nested_header_checks`.
    Nested,
}

/// Which checks apply to a header in a block.
pub fn checks_for(block: HeaderBlock, info: Option<&HeaderInfo>) -> Checks {
    if info.is_some_and(|i| i.mime) {
        return Checks::Mime;
    }
    match block {
        HeaderBlock::Primary => Checks::Header,
        HeaderBlock::Multipart => Checks::Mime,
        HeaderBlock::Nested => Checks::Nested,
    }
}

/// What a body line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// The empty line that ends a header block.
    Separator,
    /// A `--boundary` or `--boundary--` line of an enclosing multipart.
    Boundary,
    /// Anything else.
    Text,
}

/// A problem Postfix's MIME processor reports.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MimeError {
    /// A multipart nested deeper than `mime_nesting_limit`.
    Nesting,
    /// A header longer than `header_size_limit` was cut.
    TruncatedHeader,
    /// A header holds bytes above 127 (`strict_7bit_headers`).
    EightBitInHeader,
    /// 8-bit text in a part declared (or defaulting to) 7bit
    /// (`strict_8bitmime_body`).
    EightBitIn7BitBody,
    /// A `message/*` or `multipart/*` with an encoding other than 7bit,
    /// 8bit, binary (`strict_mime_encoding_domain`).
    EncodingDomain,
}

impl MimeError {
    /// The text Postfix logs and returns with the rejection.
    pub fn text(self) -> &'static str {
        match self {
            MimeError::Nesting => "MIME nesting exceeds safety limit",
            MimeError::TruncatedHeader => "message header length exceeds safety limit",
            MimeError::EightBitInHeader => "improper use of 8-bit data in message header",
            MimeError::EightBitIn7BitBody => "improper use of 8-bit data in message body",
            MimeError::EncodingDomain => "invalid message/* or multipart/* encoding domain",
        }
    }

    /// The enhanced status code of the rejection.
    pub fn dsn(self) -> &'static str {
        "5.6.0"
    }

    fn bit(self) -> u8 {
        match self {
            MimeError::Nesting => 1,
            MimeError::TruncatedHeader => 2,
            MimeError::EightBitInHeader => 4,
            MimeError::EightBitIn7BitBody => 8,
            MimeError::EncodingDomain => 16,
        }
    }
}

impl std::fmt::Display for MimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// The set of errors seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MimeErrors(u8);

impl MimeErrors {
    pub fn contains(self, e: MimeError) -> bool {
        self.0 & e.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    fn insert(&mut self, e: MimeError) -> bool {
        let new = !self.contains(e);
        self.0 |= e.bit();
        new
    }
}

/// A Content-Transfer-Encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    SevenBit,
    EightBit,
    Binary,
    QuotedPrintable,
    Base64,
    /// Anything else (x-token or garbage).
    Other,
}

impl Encoding {
    pub fn parse(value: &[u8]) -> Encoding {
        let tok = first_token(value);
        match tok.to_ascii_lowercase().as_slice() {
            b"7bit" => Encoding::SevenBit,
            b"8bit" => Encoding::EightBit,
            b"binary" => Encoding::Binary,
            b"quoted-printable" => Encoding::QuotedPrintable,
            b"base64" => Encoding::Base64,
            _ => Encoding::Other,
        }
    }

    /// Whether the encoding is allowed for `message/*` and `multipart/*`.
    pub fn is_identity(self) -> bool {
        matches!(
            self,
            Encoding::SevenBit | Encoding::EightBit | Encoding::Binary
        )
    }
}

/// The top-level media type of a part, as far as MIME processing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Text,
    /// `multipart/*`; `digest` makes parts default to message/rfc822.
    Multipart {
        digest: bool,
    },
    /// `message/rfc822` or `message/global`: an attached message.
    Message,
    /// Another `message/*` subtype (`partial`, `external-body`, ...).
    OtherMessage,
    Other,
}

/// Content-Type parsed: media type and boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType {
    pub media: MediaType,
    /// The boundary parameter of a multipart.
    pub boundary: Option<Vec<u8>>,
}

/// The first RFC 2045 token of a value (comments and blanks skipped).
fn first_token(value: &[u8]) -> &[u8] {
    let v = skip_cfws(value);
    let end = v
        .iter()
        .position(|&c| is_tspecial(c) || c <= b' ' || c >= 127)
        .unwrap_or(v.len());
    &v[..end]
}

fn is_tspecial(c: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// Skip blanks, line breaks and (nested) comments.
fn skip_cfws(mut v: &[u8]) -> &[u8] {
    loop {
        match v.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n') => v = &v[1..],
            Some(b'(') => {
                let mut depth = 0usize;
                let mut i = 0;
                while i < v.len() {
                    match v[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                v = v.get(i + 1..).unwrap_or(&[]);
            }
            _ => return v,
        }
    }
}

impl ContentType {
    /// Parse a Content-Type value: `type/subtype; name=value; ...`.
    pub fn parse(value: &[u8]) -> ContentType {
        let ty = first_token(value).to_ascii_lowercase();
        let rest = skip_cfws(value);
        let rest = &rest[first_token(rest).len()..];
        let rest = skip_cfws(rest);
        let (sub, mut rest) = match rest.strip_prefix(b"/") {
            Some(r) => {
                let s = first_token(r);
                let r = skip_cfws(r);
                (s.to_ascii_lowercase(), &r[s.len()..])
            }
            None => (Vec::new(), rest),
        };
        let media = match ty.as_slice() {
            b"text" => MediaType::Text,
            b"multipart" => MediaType::Multipart {
                digest: sub == b"digest",
            },
            b"message" if sub == b"rfc822" || sub == b"global" => MediaType::Message,
            b"message" => MediaType::OtherMessage,
            _ => MediaType::Other,
        };
        let mut boundary = None;
        // Parameters: ; name = value, where value is a token or quoted.
        while let Some(p) = rest.iter().position(|&c| c == b';') {
            let r = skip_cfws(&rest[p + 1..]);
            let name = first_token(r);
            let r = skip_cfws(&r[name.len()..]);
            let Some(r) = r.strip_prefix(b"=") else {
                rest = r;
                continue;
            };
            let r = skip_cfws(r);
            let (val, after) = if let Some(q) = r.strip_prefix(b"\"") {
                let mut val = Vec::new();
                let mut i = 0;
                while i < q.len() && q[i] != b'"' {
                    if q[i] == b'\\' && i + 1 < q.len() {
                        i += 1;
                    }
                    val.push(q[i]);
                    i += 1;
                }
                (val, q.get(i + 1..).unwrap_or(&[]))
            } else {
                let end = r
                    .iter()
                    .position(|&c| c == b';' || c <= b' ')
                    .unwrap_or(r.len());
                (r[..end].to_vec(), &r[end..])
            };
            if name.eq_ignore_ascii_case(b"boundary") && boundary.is_none() {
                boundary = Some(val);
            }
            rest = after;
        }
        ContentType { media, boundary }
    }
}

/// An event of [`MimeState::update`]; borrowed data lives until the
/// callback returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete logical header (lines joined with `\n`), cut to
    /// `header_size_limit`.
    Header {
        block: HeaderBlock,
        checks: Checks,
        info: Option<&'static HeaderInfo>,
        header: &'a [u8],
    },
    /// The end of a header block; `separator_missing` when it ended at a
    /// line that is not a header rather than at an empty line.
    HeaderEnd {
        block: HeaderBlock,
        separator_missing: bool,
    },
    /// A body line, or one piece of a line longer than
    /// `line_length_limit`; `continues` when more of the line follows.
    Body {
        kind: BodyKind,
        line: &'a [u8],
        continues: bool,
    },
    /// The first occurrence of an error, with the text that caused it.
    Error { error: MimeError, context: &'a [u8] },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Headers(HeaderBlock),
    Body,
}

/// The part being read: what its headers declared.
#[derive(Clone, Debug)]
struct Part {
    media: MediaType,
    boundary: Option<Vec<u8>>,
    encoding: Encoding,
    /// The encoding as written, for the encoding domain error's context.
    encoding_token: Vec<u8>,
    /// The Content-Type header, for the nesting error's context.
    ctype_header: Vec<u8>,
}

impl Part {
    fn new(digest_parent: bool) -> Part {
        Part {
            media: if digest_parent {
                MediaType::Message
            } else {
                MediaType::Text
            },
            boundary: None,
            encoding: Encoding::SevenBit,
            encoding_token: Vec::new(),
            ctype_header: Vec::new(),
        }
    }
}

/// One enclosing multipart.
#[derive(Clone, Debug)]
struct Level {
    boundary: Vec<u8>,
    digest: bool,
    encoding: Encoding,
}

/// The MIME state machine; see the module documentation.
#[derive(Clone, Debug)]
pub struct MimeState {
    opts: MimeOptions,
    state: State,
    header: Vec<u8>,
    header_open: bool,
    part: Part,
    stack: Vec<Level>,
    /// Encoding of the body being read.
    body_encoding: Encoding,
    errors: MimeErrors,
    declared_8bit: bool,
    body_8bit: bool,
}

impl MimeState {
    pub fn new(opts: MimeOptions) -> MimeState {
        MimeState {
            opts,
            state: State::Headers(HeaderBlock::Primary),
            header: Vec::new(),
            header_open: false,
            part: Part::new(false),
            stack: Vec::new(),
            body_encoding: Encoding::SevenBit,
            errors: MimeErrors::default(),
            declared_8bit: false,
            body_8bit: false,
        }
    }

    /// The errors reported so far.
    pub fn errors(&self) -> MimeErrors {
        self.errors
    }

    /// Whether some part declared `Content-Transfer-Encoding: 8bit` or
    /// `binary` (what cleanup records as the message's 8-bit encoding).
    pub fn declared_8bit(&self) -> bool {
        self.declared_8bit
    }

    /// Whether some body line held bytes above 127.
    pub fn body_8bit(&self) -> bool {
        self.body_8bit
    }

    /// How many multiparts enclose the current line.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    fn error(&mut self, error: MimeError, context: &[u8], out: &mut dyn FnMut(Event<'_>)) {
        if self.errors.insert(error) {
            out(Event::Error { error, context });
        }
    }

    /// Feed one line, without its line end.
    pub fn update(&mut self, line: &[u8], out: &mut dyn FnMut(Event<'_>)) {
        if let State::Headers(block) = self.state {
            if self.header_open && header::is_continuation(line) {
                if self.header.len() < self.opts.header_size_limit {
                    self.header.push(b'\n');
                }
                self.push_header_text(line, out);
                return;
            }
            self.flush_header(block, out);
            if line.is_empty() {
                self.end_headers(block, false, out);
                out(Event::Body {
                    kind: BodyKind::Separator,
                    line,
                    continues: false,
                });
                return;
            }
            if header::header_name_len(line).is_some() {
                self.header.clear();
                self.header_open = true;
                self.push_header_text(line, out);
                return;
            }
            self.end_headers(block, true, out);
        }
        self.body_line(line, out);
    }

    fn push_header_text(&mut self, text: &[u8], out: &mut dyn FnMut(Event<'_>)) {
        let room = self
            .opts
            .header_size_limit
            .saturating_sub(self.header.len());
        if text.len() > room || (room == 0 && !text.is_empty()) {
            self.header.extend_from_slice(&text[..room.min(text.len())]);
            let h = std::mem::take(&mut self.header);
            self.error(MimeError::TruncatedHeader, &h, out);
            self.header = h;
        } else {
            self.header.extend_from_slice(text);
        }
    }

    /// Report the pending header, if any, and learn from it.
    fn flush_header(&mut self, block: HeaderBlock, out: &mut dyn FnMut(Event<'_>)) {
        if !self.header_open {
            return;
        }
        self.header_open = false;
        let h = std::mem::take(&mut self.header);
        let info = header::header_name_len(&h)
            .and_then(|n| std::str::from_utf8(&h[..n]).ok())
            .and_then(header::lookup);
        if h.iter().any(|&c| c >= 0x80) {
            self.error(MimeError::EightBitInHeader, &h, out);
        }
        out(Event::Header {
            block,
            checks: checks_for(block, info),
            info,
            header: &h,
        });
        if !self.opts.disable_mime || block != HeaderBlock::Primary {
            let value = h
                .iter()
                .position(|&c| c == b':')
                .map_or(&h[..0], |p| &h[p + 1..]);
            match info.map(|i| i.kind) {
                Some(HeaderKind::ContentType) => {
                    let ct = ContentType::parse(value);
                    self.part.media = ct.media;
                    self.part.boundary = ct.boundary;
                    self.part.ctype_header.clone_from(&h);
                }
                Some(HeaderKind::ContentTransferEncoding) => {
                    self.part.encoding = Encoding::parse(value);
                    self.declared_8bit |=
                        matches!(self.part.encoding, Encoding::EightBit | Encoding::Binary);
                    self.part.encoding_token = first_token(value).to_vec();
                }
                _ => {}
            }
        }
        self.header = h;
        self.header.clear();
    }

    fn end_headers(
        &mut self,
        block: HeaderBlock,
        separator_missing: bool,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        out(Event::HeaderEnd {
            block,
            separator_missing,
        });
        self.state = State::Body;
        if self.opts.disable_mime {
            self.body_encoding = Encoding::Binary;
            return;
        }
        let part = std::mem::replace(&mut self.part, Part::new(false));
        let container = matches!(
            part.media,
            MediaType::Multipart { .. } | MediaType::Message | MediaType::OtherMessage
        );
        if container && !part.encoding.is_identity() {
            self.error(MimeError::EncodingDomain, &part.encoding_token, out);
        }
        self.body_encoding = part.encoding;
        match part.media {
            MediaType::Message if part.encoding.is_identity() => {
                self.state = State::Headers(HeaderBlock::Nested);
            }
            MediaType::Multipart { digest } => {
                let Some(mut boundary) = part.boundary else {
                    return;
                };
                if self.stack.len() > self.opts.nesting_limit.saturating_add(1) {
                    self.error(MimeError::Nesting, &part.ctype_header, out);
                    return;
                }
                boundary.truncate(self.opts.boundary_length_limit);
                self.stack.push(Level {
                    boundary,
                    digest,
                    encoding: part.encoding,
                });
            }
            _ => {}
        }
    }

    fn body_line(&mut self, line: &[u8], out: &mut dyn FnMut(Event<'_>)) {
        if line.len() >= 2 && line.starts_with(b"--") && !self.stack.is_empty() {
            let rest = &line[2..];
            if let Some(k) = self
                .stack
                .iter()
                .rposition(|l| rest.starts_with(&l.boundary))
            {
                let close = rest[self.stack[k].boundary.len()..].starts_with(b"--");
                self.stack.truncate(k + 1);
                if close {
                    let level = self.stack.pop().expect("invariant: k < len");
                    self.body_encoding = level.encoding;
                    self.state = State::Body;
                } else {
                    let digest = self.stack[k].digest;
                    self.part = Part::new(digest);
                    self.state = State::Headers(HeaderBlock::Multipart);
                }
                self.emit_body(BodyKind::Boundary, line, out);
                return;
            }
        }
        let eight = line.iter().any(|&c| c >= 0x80);
        self.body_8bit |= eight;
        if eight
            && !matches!(self.body_encoding, Encoding::EightBit | Encoding::Binary)
            && !self.opts.disable_mime
        {
            self.error(MimeError::EightBitIn7BitBody, line, out);
        }
        self.emit_body(BodyKind::Text, line, out);
    }

    fn emit_body(&self, kind: BodyKind, line: &[u8], out: &mut dyn FnMut(Event<'_>)) {
        let mut pieces = header::split_long_line(line, self.opts.line_length_limit).peekable();
        while let Some(p) = pieces.next() {
            out(Event::Body {
                kind,
                line: p,
                continues: pieces.peek().is_some(),
            });
        }
    }

    /// The input has ended: report a pending header.
    pub fn finish(&mut self, out: &mut dyn FnMut(Event<'_>)) {
        if let State::Headers(block) = self.state {
            self.flush_header(block, out);
            self.end_headers(block, false, out);
        }
    }
}

/// Whether content (header or body) holds bytes above 127.
pub fn has_8bit(content: &[u8]) -> bool {
    content.iter().any(|&c| c >= 0x80)
}

/// Quoted-printable encoding of one line (RFC 2045 section 6.7) as
/// Postfix's downgrade writes it: before each character, a line that
/// is already longer than 72 characters gets a soft break (`=` and
/// `\n`), so output lines stay within 76; a blank is encoded only as
/// the last character of the input line.
pub fn qp_encode_line(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + line.len() / 8 + 4);
    let mut col = 0;
    for (i, &c) in line.iter().enumerate() {
        let last = i + 1 == line.len();
        let literal =
            ((c == b' ' || c == b'\t') && !last) || ((33..=126).contains(&c) && c != b'=');
        if col > 72 {
            out.extend_from_slice(b"=\n");
            col = 0;
        }
        if literal {
            out.push(c);
            col += 1;
        } else {
            out.extend_from_slice(format!("={c:02X}").as_bytes());
            col += 3;
        }
    }
    out
}

/// Downgrade 8-bit content to 7 bits for a server without 8BITMIME:
/// each leaf part declared `8bit` or `binary` is re-encoded as
/// quoted-printable, and containers declared so get `7bit`. Returns
/// `None` when nothing needed changing. Content is LF-terminated lines.
pub fn downgrade(content: &[u8], opts: MimeOptions) -> Option<Vec<u8>> {
    let mut m = MimeState::new(opts);
    let mut out = Vec::with_capacity(content.len() + content.len() / 4);
    // Header block buffered until its end: (header, is CTE).
    let mut block: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut block_media = MediaType::Text;
    let mut block_enc = Encoding::SevenBit;
    let mut digest_stack: Vec<bool> = Vec::new();
    let mut qp = false;
    let mut changed = false;
    let mut pending_body: Vec<u8> = Vec::new();
    let mut lines = content.split(|&c| c == b'\n').peekable();
    let mut handle = |e: Event<'_>| match e {
        Event::Header { header, info, .. } => {
            let kind = info.map(|i| i.kind);
            let value = header
                .iter()
                .position(|&c| c == b':')
                .map_or(&header[..0], |p| &header[p + 1..]);
            match kind {
                Some(HeaderKind::ContentType) => block_media = ContentType::parse(value).media,
                Some(HeaderKind::ContentTransferEncoding) => block_enc = Encoding::parse(value),
                _ => {}
            }
            block.push((
                header.to_vec(),
                kind == Some(HeaderKind::ContentTransferEncoding),
            ));
        }
        Event::HeaderEnd { .. } => {
            let eight = matches!(block_enc, Encoding::EightBit | Encoding::Binary);
            let leaf = !matches!(
                block_media,
                MediaType::Multipart { .. } | MediaType::Message
            );
            let new_cte: Option<&[u8]> = match (eight, leaf) {
                (true, true) => Some(b"Content-Transfer-Encoding: quoted-printable"),
                (true, false) => Some(b"Content-Transfer-Encoding: 7bit"),
                _ => None,
            };
            qp = eight && leaf;
            // Postfix drops the old header and appends the new one at
            // the end of the header block.
            for (h, is_cte) in block.drain(..) {
                if !(is_cte && new_cte.is_some()) {
                    out.extend_from_slice(&h);
                    out.push(b'\n');
                }
            }
            if let Some(n) = new_cte {
                out.extend_from_slice(n);
                out.push(b'\n');
                changed = true;
            }
            if let MediaType::Multipart { digest } = block_media {
                digest_stack.push(digest);
            }
            block_media = MediaType::Text;
            block_enc = Encoding::SevenBit;
        }
        Event::Body {
            kind,
            line,
            continues,
        } => {
            if kind == BodyKind::Boundary {
                qp = false;
                block_media = if digest_stack.last() == Some(&true) {
                    MediaType::Message
                } else {
                    MediaType::Text
                };
            }
            pending_body.extend_from_slice(line);
            if !continues {
                if qp && kind == BodyKind::Text {
                    out.extend_from_slice(&qp_encode_line(&pending_body));
                } else {
                    out.extend_from_slice(&pending_body);
                }
                pending_body.clear();
                out.push(b'\n');
            }
        }
        Event::Error { .. } => {}
    };
    while let Some(line) = lines.next() {
        if lines.peek().is_none() && line.is_empty() {
            break;
        }
        m.update(line, &mut handle);
    }
    m.finish(&mut handle);
    if !content.ends_with(b"\n") && out.ends_with(b"\n") {
        out.pop();
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A readable trace: one line per event.
    fn trace(msg: &str, opts: MimeOptions) -> Vec<String> {
        let mut m = MimeState::new(opts);
        let mut t = Vec::new();
        let mut f = |e: Event<'_>| {
            t.push(match e {
                Event::Header { checks, header, .. } => {
                    format!("{checks:?} {}", String::from_utf8_lossy(header))
                }
                Event::HeaderEnd {
                    block,
                    separator_missing,
                } => format!(
                    "end {block:?}{}",
                    if separator_missing { " missing" } else { "" }
                ),
                Event::Body {
                    kind,
                    line,
                    continues,
                } => format!(
                    "{kind:?} {}{}",
                    String::from_utf8_lossy(line),
                    if continues { " +" } else { "" }
                ),
                Event::Error { error, context } => {
                    format!("error {error:?}: {}", String::from_utf8_lossy(context))
                }
            })
        };
        let body = msg.strip_suffix('\n').unwrap_or(msg);
        for line in body.split('\n') {
            m.update(line.as_bytes(), &mut f);
        }
        m.finish(&mut f);
        t
    }

    /// The classes Postfix 3.7.11 gave each line of this message with
    /// WARN rules in header_checks, mime_header_checks,
    /// nested_header_checks and body_checks (empty lines never match).
    #[test]
    fn classes_like_postfix() {
        let msg = "X-Probe: primary\nContent-Type: multipart/mixed; boundary=\"b1\"\nMIME-Version: 1.0\n\npreamble\n--b1\nX-Probe: part1\nContent-Type: text/plain\n\ntext1\n--b1\nContent-Type: message/rfc822\nX-Probe: part2\n\nX-Probe: nested\nContent-Type: text/plain\nSubject: inner\n\ninner body\n--b1--\nepilogue\n";
        let want = [
            "Header X-Probe: primary",
            "Mime Content-Type: multipart/mixed; boundary=\"b1\"",
            "Mime MIME-Version: 1.0",
            "end Primary",
            "Separator ",
            "Text preamble",
            "Boundary --b1",
            "Mime X-Probe: part1",
            "Mime Content-Type: text/plain",
            "end Multipart",
            "Separator ",
            "Text text1",
            "Boundary --b1",
            "Mime Content-Type: message/rfc822",
            "Mime X-Probe: part2",
            "end Multipart",
            "Separator ",
            "Nested X-Probe: nested",
            "Mime Content-Type: text/plain",
            "Nested Subject: inner",
            "end Nested",
            "Separator ",
            "Text inner body",
            "Boundary --b1--",
            "Text epilogue",
        ];
        assert_eq!(trace(msg, MimeOptions::default()), want);
    }

    fn nested_multiparts(n: usize) -> String {
        let mut s = String::from("Subject: deep\n");
        for i in 0..n {
            s += &format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n");
        }
        s += "\nx\n";
        for i in (0..n).rev() {
            s += &format!("--b{i}--\n");
        }
        s
    }

    /// Postfix 3.7.11 rejected the 4th nested multipart with
    /// mime_nesting_limit = 1, the 5th with 2, the 6th with 3.
    #[test]
    fn nesting_limit_like_postfix() {
        for (limit, first_bad) in [(1, 3), (2, 4), (3, 5)] {
            let opts = MimeOptions {
                nesting_limit: limit,
                ..MimeOptions::default()
            };
            let t = trace(&nested_multiparts(first_bad), opts);
            assert!(!t.iter().any(|l| l.starts_with("error")), "{limit}: {t:?}");
            let t = trace(&nested_multiparts(first_bad + 1), opts);
            let want =
                format!("error Nesting: Content-Type: multipart/mixed; boundary=b{first_bad}");
            assert!(t.contains(&want), "{limit}: {t:?}");
        }
        // message/rfc822 does not nest in this sense, and costs no memory.
        let mut s = String::new();
        for i in 0..10_000 {
            s += &format!("Content-Type: message/rfc822\n\nSubject: {i}\n");
        }
        let t = trace(&s, MimeOptions::default());
        assert!(!t.iter().any(|l| l.starts_with("error")));
        assert_eq!(
            t.iter().filter(|l| l.starts_with("Nested Subject")).count(),
            10_000
        );
    }

    #[test]
    fn errors_like_postfix() {
        let t = trace("Subject: caf\u{e9}\n\nbody\n", MimeOptions::default());
        assert!(t.contains(&"error EightBitInHeader: Subject: caf\u{e9}".to_string()));
        let t = trace("Subject: x\n\ncaf\u{e9}\n", MimeOptions::default());
        assert!(t.contains(&"error EightBitIn7BitBody: caf\u{e9}".to_string()));
        let t = trace(
            "Content-Transfer-Encoding: 8bit\n\ncaf\u{e9}\n",
            MimeOptions::default(),
        );
        assert!(!t.iter().any(|l| l.starts_with("error")));
        let t = trace(
            "Subject: x\nContent-Type: multipart/mixed; boundary=b1\nContent-Transfer-Encoding: base64\n\n--b1\n\nx\n--b1--\n",
            MimeOptions::default(),
        );
        assert!(
            t.contains(&"error EncodingDomain: base64".to_string()),
            "{t:?}"
        );
        // Each kind is reported once.
        let t = trace("A: \u{e9}\nB: \u{e9}\n\n", MimeOptions::default());
        assert_eq!(t.iter().filter(|l| l.starts_with("error")).count(), 1);
        assert_eq!(
            MimeError::Nesting.text(),
            "MIME nesting exceeds safety limit"
        );
        assert_eq!(MimeError::EncodingDomain.dsn(), "5.6.0");
    }

    #[test]
    fn header_size_limit_and_long_lines() {
        let opts = MimeOptions {
            header_size_limit: 20,
            line_length_limit: 4,
            ..MimeOptions::default()
        };
        let t = trace(
            "Subject: 0123456789abcdefghij\n\tmore\nX: y\n\nabcdefghij\n",
            opts,
        );
        assert_eq!(
            t,
            [
                "error TruncatedHeader: Subject: 0123456789a",
                "Header Subject: 0123456789a",
                "Header X: y",
                "end Primary",
                "Separator ",
                "Text abcd +",
                "Text efgh +",
                "Text ij",
            ]
        );
    }

    #[test]
    fn separators_and_boundaries() {
        // A non-header line ends the headers: Postfix inserts an empty line.
        let t = trace("Subject: x\nnot a header\n", MimeOptions::default());
        assert_eq!(
            t,
            [
                "Header Subject: x",
                "end Primary missing",
                "Text not a header"
            ]
        );
        // Boundaries are prefixes; an inner close pops to the outer level.
        let msg = "Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\n\na\n--outerjunk\n\nb\n--outer--\nafter\n";
        let t = trace(msg, MimeOptions::default());
        assert!(t.contains(&"Boundary --outerjunk".to_string()), "{t:?}");
        assert_eq!(t.last().map(String::as_str), Some("Text after"));
        // Boundary length limit: only the prefix is compared.
        let opts = MimeOptions {
            boundary_length_limit: 3,
            ..MimeOptions::default()
        };
        let t = trace(
            "Content-Type: multipart/mixed; boundary=abcdef\n\n--abcXYZ\n\nx\n",
            opts,
        );
        assert!(t.contains(&"Boundary --abcXYZ".to_string()));
        // No boundary: the multipart is body text.
        let t = trace(
            "Content-Type: multipart/mixed\n\n--x\n",
            MimeOptions::default(),
        );
        assert_eq!(t.last().map(String::as_str), Some("Text --x"));
        // Digest parts default to message/rfc822.
        let t = trace(
            "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in digest\n\nx\n--d--\n",
            MimeOptions::default(),
        );
        assert!(
            t.contains(&"Nested Subject: in digest".to_string()),
            "{t:?}"
        );
        // MIME processing disabled: everything after the headers is text.
        let opts = MimeOptions {
            disable_mime: true,
            ..MimeOptions::default()
        };
        let t = trace(
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nX: y\n",
            opts,
        );
        assert_eq!(t[3..], ["Text --b", "Text X: y"]);
    }

    #[test]
    fn content_type_parsing() {
        let cases: &[(&str, MediaType, Option<&str>)] = &[
            ("text/plain", MediaType::Text, None),
            (
                "Multipart/Mixed; Boundary=\"a b\\\"c\"",
                MediaType::Multipart { digest: false },
                Some("a b\"c"),
            ),
            (
                "multipart/digest;boundary=x;charset=y",
                MediaType::Multipart { digest: true },
                Some("x"),
            ),
            (
                " (comment) multipart / mixed ; boundary = x",
                MediaType::Multipart { digest: false },
                Some("x"),
            ),
            ("message/rfc822", MediaType::Message, None),
            ("message/partial; id=1", MediaType::OtherMessage, None),
            ("application/octet-stream", MediaType::Other, None),
            ("", MediaType::Other, None),
            (
                "multipart/mixed; boundary=\"unterminated",
                MediaType::Multipart { digest: false },
                Some("unterminated"),
            ),
            (
                "multipart/mixed; boundary=",
                MediaType::Multipart { digest: false },
                Some(""),
            ),
            (
                "multipart/mixed; ;;; =; boundary",
                MediaType::Multipart { digest: false },
                None,
            ),
            ("(((", MediaType::Other, None),
        ];
        for (v, media, b) in cases {
            let ct = ContentType::parse(v.as_bytes());
            assert_eq!(ct.media, *media, "{v}");
            assert_eq!(ct.boundary.as_deref(), b.map(str::as_bytes), "{v}");
        }
        assert_eq!(Encoding::parse(b" 8BIT (x)"), Encoding::EightBit);
        assert_eq!(Encoding::parse(b"x-uuencode"), Encoding::Other);
    }

    /// Lines Postfix 3.7.11's SMTP client wrote when it downgraded an
    /// 8bit part for a relay without 8BITMIME.
    #[test]
    fn qp_like_postfix() {
        let x = |n| "x".repeat(n);
        let cases: Vec<(Vec<u8>, String)> = vec![
            (x(73).into_bytes(), x(73)),
            (
                [x(71).as_bytes(), b"\xc3\xa9\xc3\xa9"].concat(),
                format!("{}=C3=\n=A9=C3=A9", x(71)),
            ),
            (format!("{} ", x(72)).into_bytes(), format!("{}=20", x(72))),
            (
                format!("{} y", x(72)).into_bytes(),
                format!("{} =\ny", x(72)),
            ),
            (
                [x(70).as_bytes(), b"\xc3\xa9y"].concat(),
                format!("{}=C3=\n=A9y", x(70)),
            ),
            (x(74).into_bytes(), format!("{}=\nx", x(73))),
            (b"trailing space ".to_vec(), "trailing space=20".to_string()),
            (b"caf\xc3\xa9 = ok".to_vec(), "caf=C3=A9 =3D ok".to_string()),
            (b"".to_vec(), String::new()),
            (b"\t".to_vec(), "=09".to_string()),
        ];
        for (input, want) in cases {
            assert_eq!(String::from_utf8_lossy(&qp_encode_line(&input)), want);
        }
        let long = vec![b'a'; 200];
        let enc = qp_encode_line(&long);
        let dec: Vec<u8> = enc
            .split(|&c| c == b'\n')
            .flat_map(|l| l.strip_suffix(b"=").unwrap_or(l).to_vec())
            .collect();
        assert_eq!(dec, long);
        let enc = qp_encode_line(&[0xff; 100]);
        assert!(enc.split(|&c| c == b'\n').all(|l| l.len() <= 76));
    }

    #[test]
    fn downgrade_8bit_parts() {
        assert!(has_8bit(b"caf\xc3\xa9"));
        assert!(!has_8bit(b"cafe"));
        let msg = b"Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: 8bit\n\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n--b\nContent-Type: text/plain\n\nplain\n--b--\n";
        let out = downgrade(msg, MimeOptions::default()).expect("changed");
        // As Postfix 3.7.11 sent it: the new Content-Transfer-Encoding
        // goes to the end of each header block.
        let want = "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: 7bit\n\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9\n--b\nContent-Type: text/plain\n\nplain\n--b--\n";
        assert_eq!(String::from_utf8_lossy(&out), want);
        let msg = b"Subject: dg2\nContent-Transfer-Encoding: 8bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nX-After: 1\n\n\xc3\xa9\n";
        let out = downgrade(msg, MimeOptions::default()).expect("changed");
        let want = "Subject: dg2\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nX-After: 1\nContent-Transfer-Encoding: quoted-printable\n\n=C3=A9\n";
        assert_eq!(String::from_utf8_lossy(&out), want);
        assert!(!has_8bit(&out));
        assert_eq!(
            downgrade(b"Subject: x\n\nplain\n", MimeOptions::default()),
            None
        );
        let out = downgrade(
            b"Content-Transfer-Encoding: 8bit\n\n\xe9",
            MimeOptions::default(),
        )
        .unwrap();
        assert_eq!(out, b"Content-Transfer-Encoding: quoted-printable\n\n=E9");
    }

    /// Every line comes back exactly once, in order: headers whole,
    /// body lines in pieces.
    #[test]
    fn every_line_reported_once() {
        let opts = MimeOptions {
            line_length_limit: 3,
            boundary_length_limit: 2,
            nesting_limit: 1,
            ..MimeOptions::default()
        };
        let msgs = [
            "Content-Type: multipart/mixed; boundary=ab\n\n--ab\nX: 1\n cont\nnot header\n--ab\nContent-Type: message/rfc822\n\nSubject: s\n\nbody\n--ab--\nepi\n",
            "A: 1\n\n\n\n",
            "\n",
            " x\ny",
        ];
        for msg in msgs {
            let mut m = MimeState::new(opts);
            let mut rebuilt = Vec::new();
            let mut f = |e: Event<'_>| match e {
                Event::Header { header, .. } => {
                    rebuilt.extend_from_slice(header);
                    rebuilt.push(b'\n');
                }
                Event::Body {
                    line, continues, ..
                } => {
                    rebuilt.extend_from_slice(line);
                    if !continues {
                        rebuilt.push(b'\n');
                    }
                }
                _ => {}
            };
            let body = msg.strip_suffix('\n').unwrap_or(msg);
            for line in body.split('\n') {
                m.update(line.as_bytes(), &mut f);
            }
            m.finish(&mut f);
            assert_eq!(String::from_utf8_lossy(&rebuilt), format!("{body}\n"));
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let opts = MimeOptions {
            header_size_limit: 0,
            line_length_limit: 0,
            boundary_length_limit: 0,
            nesting_limit: 0,
            disable_mime: false,
        };
        for msg in [
            "",
            "\n\n\n",
            "Content-Type: multipart/mixed; boundary=\n\n--\n----\n--\n",
            "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\n--\n",
            "Content-Transfer-Encoding:\n\n",
            " continuation first\n",
            "Content-Type: message/rfc822\n",
        ] {
            let _ = trace(msg, opts);
            let _ = trace(msg, MimeOptions::default());
            let _ = downgrade(msg.as_bytes(), opts);
        }
        // Many levels: bounded by the nesting limit.
        let t = trace(&nested_multiparts(5000), MimeOptions::default());
        assert!(t.iter().any(|l| l.starts_with("error Nesting")));
    }
}
