//! # NAME
//! client — the client side of SMTP and LMTP: replies, EHLO keywords,
//! content encoding, SASL PLAIN and LOGIN
//!
//! ## SYNOPSIS
//! ```
//! use proto::client::{parse_reply, Features, DataEncoder};
//! let (r, used) = parse_reply(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 2048)
//!     .unwrap().unwrap();
//! assert_eq!((r.code, used), (250, 47));
//! let f = Features::parse(&r, &[]);
//! assert!(f.pipelining);
//! assert_eq!(f.size, Some(1000));
//! let mut e = DataEncoder::new(998, true);
//! let mut out = Vec::new();
//! e.encode(b"Subject: x\n\n.hidden\n", &mut out);
//! e.finish(&mut out);
//! assert_eq!(out, b"Subject: x\r\n\r\n..hidden\r\n.\r\n");
//! ```
//!
//! ## DESCRIPTION
//! [`parse_reply`] takes one reply, single or multi-line, from the front
//! of a buffer: it returns `None` until the final line (`ddd ` or a bare
//! `ddd`) has arrived. A line that does not start with three digits and
//! `-`, ` ` or its end is kept and marks the reply malformed, as Postfix
//! does; reading goes on until a final line. Lines longer than the limit
//! are cut, so a peer cannot make a client hold an unbounded line.
//!
//! [`Features`] are the ESMTP keywords of an EHLO or LHLO reply, minus
//! those the administrator discards (`smtp_discard_ehlo_keywords`).
//!
//! [`DataEncoder`] turns queue content (lines ending in LF) into the
//! SMTP wire form: CR LF line ends, a dot doubled at the start of a line
//! (for DATA, not for BDAT), lines longer than the limit folded with
//! CR LF SPACE (`smtp_line_length_limit`); [`DataEncoder::finish`] ends
//! the last line and, for DATA, adds the end-of-data line.
//!
//! [`sasl_plain`] and [`base64_encode`]/[`base64_decode`] are what the
//! PLAIN and LOGIN mechanisms need.
//!
//! ## SEE ALSO
//! RFC 5321 §4.2 and §4.5.2, RFC 2920, RFC 3030, RFC 4616, smtp(8)

/// One reply of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    /// The code of the last line.
    pub code: u16,
    /// Every line as received, without its line end.
    pub lines: Vec<String>,
    /// A line did not have the form `ddd-text` or `ddd text`.
    pub malformed: bool,
}

impl ServerReply {
    /// The whole reply on one line, lines separated by a space (the
    /// form Postfix logs: `550-5.1.1 first 550 5.1.1 second`).
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The text after the code of the last line (`Ok: queued as X`),
    /// with its enhanced status code if any.
    pub fn last_text(&self) -> &str {
        self.lines
            .last()
            .map(|l| l.get(4..).unwrap_or(""))
            .unwrap_or("")
    }

    /// The enhanced status code of the first line (`5.1.1`), when the
    /// server sent one whose class matches the reply code.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.lines.first()?.get(4..)?;
        let word = first.split(' ').next()?;
        (crate::smtp::is_enhanced(word) && word.as_bytes()[0] == b'0' + (self.code / 100) as u8)
            .then_some(word)
    }

    /// The class: 2, 3, 4 or 5 (0 for nonsense).
    pub fn class(&self) -> u16 {
        match self.code / 100 {
            c @ 2..=5 => c,
            _ => 0,
        }
    }
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// More lines than a client accepts in one reply.
    TooManyLines,
}

/// The most lines one reply may have.
pub const MAX_REPLY_LINES: usize = 1000;

fn line_code(line: &[u8]) -> Option<(u16, bool)> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code =
        (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
    match line.get(3) {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        Some(_) => None,
    }
}

/// Takes one complete reply from the front of `buf`: the reply and the
/// number of bytes it used, `Ok(None)` when more input is needed.
/// `max_line` cuts each line (the rest of it is skipped).
pub fn parse_reply(
    buf: &[u8],
    max_line: usize,
) -> Result<Option<(ServerReply, usize)>, ReplyError> {
    let mut pos = 0;
    let mut lines = Vec::new();
    let mut malformed = false;
    while pos < buf.len() {
        let Some(nl) = buf[pos..].iter().position(|&c| c == b'\n') else {
            return Ok(None);
        };
        let mut line = &buf[pos..pos + nl];
        pos += nl + 1;
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let shown = &line[..line.len().min(max_line)];
        let text = String::from_utf8_lossy(shown).into_owned();
        if lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        match line_code(line) {
            Some((code, true)) => {
                lines.push(text);
                return Ok(Some((
                    ServerReply {
                        code,
                        lines,
                        malformed,
                    },
                    pos,
                )));
            }
            Some((_, false)) => lines.push(text),
            None => {
                malformed = true;
                lines.push(text);
            }
        }
    }
    Ok(None)
}

/// The ESMTP service extensions a server announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    pub pipelining: bool,
    /// `SIZE`: `Some(0)` when announced without a limit.
    pub size: Option<u64>,
    pub eightbitmime: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub chunking: bool,
    pub starttls: bool,
    pub enhancedstatuscodes: bool,
    /// `AUTH` mechanisms, upper case (also from the old `AUTH=` form).
    pub auth: Vec<String>,
    /// `XFORWARD` attribute names.
    pub xforward: Vec<String>,
}

impl Features {
    /// The keywords of an EHLO/LHLO reply (the first line is the
    /// server's name), without those in `discard` (lower case).
    pub fn parse(reply: &ServerReply, discard: &[String]) -> Features {
        let mut f = Features::default();
        for line in reply.lines.iter().skip(1) {
            let text = line.get(4..).unwrap_or("").trim();
            let mut words = text.split([' ', '=']).filter(|w| !w.is_empty());
            let Some(kw) = words.next() else { continue };
            let lower = kw.to_ascii_lowercase();
            if discard.contains(&lower) {
                continue;
            }
            match lower.as_str() {
                "pipelining" => f.pipelining = true,
                "size" => {
                    f.size = Some(words.next().and_then(|w| w.parse().ok()).unwrap_or(0));
                }
                "8bitmime" => f.eightbitmime = true,
                "smtputf8" => f.smtputf8 = true,
                "dsn" => f.dsn = true,
                "chunking" => f.chunking = true,
                "starttls" => f.starttls = true,
                "enhancedstatuscodes" => f.enhancedstatuscodes = true,
                "auth" => {
                    for m in words {
                        let m = m.to_ascii_uppercase();
                        if !f.auth.contains(&m) {
                            f.auth.push(m);
                        }
                    }
                }
                "xforward" => f.xforward = words.map(|w| w.to_ascii_uppercase()).collect(),
                _ => {}
            }
        }
        f
    }
}

/// Encodes queue content for DATA or BDAT.
#[derive(Debug, Clone)]
pub struct DataEncoder {
    /// Longest output line without CR LF; 0 for no limit.
    limit: usize,
    dot_stuff: bool,
    /// Characters already on the current output line.
    col: usize,
    /// At the start of an input line.
    bol: bool,
    /// A CR of the input waits for the next byte (CR LF in the content
    /// is one line end).
    cr: bool,
}

impl DataEncoder {
    /// `limit` is `smtp_line_length_limit`; `dot_stuff` is on for DATA.
    pub fn new(limit: usize, dot_stuff: bool) -> DataEncoder {
        DataEncoder {
            limit,
            dot_stuff,
            col: 0,
            bol: true,
            cr: false,
        }
    }

    fn newline(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.col = 0;
        self.bol = true;
    }

    /// Appends the wire form of `input` to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 32 + 8);
        let mut i = 0;
        while i < input.len() {
            if self.cr {
                self.cr = false;
                if input[i] == b'\n' {
                    self.newline(out);
                    i += 1;
                    continue;
                }
                self.put(b"\r", out);
            }
            // Copy the run up to the next line end or CR in one go.
            let run_end = input[i..]
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .map_or(input.len(), |p| i + p);
            if run_end > i {
                self.put(&input[i..run_end], out);
                i = run_end;
                continue;
            }
            match input[i] {
                b'\n' => self.newline(out),
                _ => self.cr = true,
            }
            i += 1;
        }
    }

    /// Text inside one line, folded at the limit.
    fn put(&mut self, mut text: &[u8], out: &mut Vec<u8>) {
        if self.bol {
            self.bol = false;
            if self.dot_stuff && text.first() == Some(&b'.') {
                out.push(b'.');
                self.col += 1;
            }
        }
        while !text.is_empty() {
            if self.limit > 0 && self.col >= self.limit {
                out.extend_from_slice(b"\r\n ");
                self.col = 1;
            }
            let room = if self.limit > 0 {
                self.limit - self.col
            } else {
                text.len()
            };
            let n = room.min(text.len());
            out.extend_from_slice(&text[..n]);
            self.col += n;
            text = &text[n..];
        }
    }

    /// Ends the content: a pending CR, the last line's CR LF when it
    /// had none, and for DATA the `.` line.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.cr {
            self.cr = false;
            self.put(b"\r", out);
        }
        if !self.bol || self.col > 0 {
            self.newline(out);
        }
        if self.dot_stuff {
            out.extend_from_slice(b".\r\n");
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 (RFC 4648, with padding).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64; `None` for anything that is not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (i, q) in text.chunks(4).enumerate() {
        let last = i + 1 == text.len() / 4;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// The PLAIN response (RFC 4616): `authzid NUL authcid NUL password`,
/// base64-encoded.
pub fn sasl_plain(authzid: &str, authcid: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(authzid.len() + authcid.len() + password.len() + 2);
    raw.extend_from_slice(authzid.as_bytes());
    raw.push(0);
    raw.extend_from_slice(authcid.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    base64_encode(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> ServerReply {
        parse_reply(text.as_bytes(), 2048).unwrap().unwrap().0
    }

    #[test]
    fn replies_single_multi_partial_and_malformed() {
        let r = reply("220 mx.example ESMTP\r\n");
        assert_eq!((r.code, r.lines.len(), r.malformed), (220, 1, false));
        assert_eq!(r.last_text(), "mx.example ESMTP");
        let buf = b"550-5.1.1 first\r\n550 5.1.1 second\r\n250 next";
        let (r, used) = parse_reply(buf, 2048).unwrap().unwrap();
        assert_eq!(used, 35);
        assert_eq!(r.text(), "550-5.1.1 first 550 5.1.1 second");
        assert_eq!(r.enhanced(), Some("5.1.1"));
        assert_eq!(parse_reply(b"250-a\r\n250 b", 2048).unwrap(), None);
        assert_eq!(parse_reply(b"", 2048).unwrap(), None);
        // A bare code is a final line; LF alone ends a line too.
        assert_eq!(reply("354\n").code, 354);
        let r = reply("garbage\r\n451 4.3.0 later\r\n");
        assert!(r.malformed);
        assert_eq!(r.code, 451);
        // The enhanced code must match the class.
        assert_eq!(reply("250 5.1.1 odd\r\n").enhanced(), None);
        assert_eq!(reply("250 Ok\r\n").enhanced(), None);
        // Long lines are cut.
        let long = format!("250 {}\r\n", "x".repeat(5000));
        let (r, used) = parse_reply(long.as_bytes(), 100).unwrap().unwrap();
        assert_eq!((r.lines[0].len(), used), (100, long.len()));
        let many = "250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        assert_eq!(
            parse_reply(many.as_bytes(), 100),
            Err(ReplyError::TooManyLines)
        );
    }

    #[test]
    fn ehlo_keywords() {
        let r = reply(
            "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n\
             250-AUTH PLAIN LOGIN\r\n250-AUTH=CRAM-MD5 LOGIN\r\n250-STARTTLS\r\n\
             250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        );
        let f = Features::parse(&r, &[]);
        assert!(f.pipelining && f.eightbitmime && f.starttls && f.dsn && f.smtputf8);
        assert!(f.chunking && f.enhancedstatuscodes);
        assert_eq!(f.size, Some(10240000));
        assert_eq!(f.auth, vec!["PLAIN", "LOGIN", "CRAM-MD5"]);
        let f = Features::parse(&r, &["pipelining".into(), "chunking".into()]);
        assert!(!f.pipelining && !f.chunking && f.dsn);
        assert_eq!(
            Features::parse(&reply("250-x\r\n250 SIZE\r\n"), &[]).size,
            Some(0)
        );
        assert_eq!(
            Features::parse(&reply("250 x\r\n"), &[]),
            Features::default()
        );
    }

    fn encode(input: &[u8], limit: usize, dot: bool) -> Vec<u8> {
        let mut e = DataEncoder::new(limit, dot);
        let mut out = Vec::new();
        // Feed byte by byte and at once: same result.
        for b in input {
            e.encode(std::slice::from_ref(b), &mut out);
        }
        e.finish(&mut out);
        let mut e2 = DataEncoder::new(limit, dot);
        let mut out2 = Vec::new();
        e2.encode(input, &mut out2);
        e2.finish(&mut out2);
        assert_eq!(out, out2);
        out
    }

    #[test]
    fn content_encoding() {
        assert_eq!(
            encode(b"a\n.\n..b\nc", 0, true),
            b"a\r\n..\r\n...b\r\nc\r\n.\r\n"
        );
        assert_eq!(encode(b"a\n.\n", 0, false), b"a\r\n.\r\n");
        assert_eq!(encode(b"", 0, true), b".\r\n");
        assert_eq!(encode(b"a\r\nb\rc\n", 0, true), b"a\r\nb\rc\r\n.\r\n");
        assert_eq!(encode(b"x\r", 0, false), b"x\r\r\n");
        // Folding: at most `limit` characters a line, continuation lines
        // start with a space; a folded dot line is not stuffed twice.
        assert_eq!(
            encode(b"abcdefgh\n", 3, true),
            b"abc\r\n de\r\n fg\r\n h\r\n.\r\n"
        );
        assert_eq!(encode(b".abcd\n", 3, true), b"..a\r\n bc\r\n d\r\n.\r\n");
        assert_eq!(encode(b"abc\n", 3, true), b"abc\r\n.\r\n");
    }

    #[test]
    fn base64_and_plain() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(raw.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(base64_decode("VXNlcm5hbWU6").unwrap(), b"Username:");
        assert!(base64_decode("Zm9").is_none());
        assert!(base64_decode("Z=9v").is_none());
        assert!(base64_decode("Zg==Zg==").is_none());
        assert_eq!(
            sasl_plain("", "tim", "tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }
}
