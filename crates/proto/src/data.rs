//! # NAME
//! data — the SMTP DATA and BDAT content streams
//!
//! ## SYNOPSIS
//! ```
//! use proto::data::{BareLf, DataDecoder};
//! let mut d = DataDecoder::new(BareLf::Normalize);
//! let mut out = Vec::new();
//! let r = d.feed(b"Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n", &mut out);
//! assert!(r.done);
//! assert_eq!(out, b"Subject: x\n\n.dot\n");
//! assert_eq!(r.consumed, 24);
//! ```
//!
//! ## DESCRIPTION
//! [`DataDecoder`] turns the DATA stream into message content: lines end
//! in LF, a leading dot of a line is removed, and the stream ends at a
//! line holding only a dot. What counts as that end follows
//! `smtpd_forbid_bare_newline` ([`BareLf`]):
//!
//! * [`BareLf::Allow`] (`no`): a dot line ends the data whatever its line
//!   endings, as Postfix 3.7 does by default;
//! * [`BareLf::Normalize`] (`normalize`, `yes`): only `<CR><LF>.<CR><LF>`
//!   ends the data; lines ending in a bare LF are accepted as content;
//! * [`BareLf::Reject`] (`reject`): like normalize, and a bare LF anywhere
//!   is reported so that the message can be refused.
//!
//! A CR that does not precede LF is content, never a line end, so that
//! `<CR>.<CR>` and `<LF>.<LF>` never end the data when the standard end is
//! required (SMTP smuggling). The bytes after the end (pipelined
//! commands) are left to the caller. Memory stays bounded: a long line is
//! passed on in pieces.
//!
//! [`BdatDecoder`] normalizes the content of BDAT chunks the same way,
//! without dot processing, across chunk boundaries.
//!
//! ## SEE ALSO
//! RFC 5321 §4.5.2, RFC 3030, postconf(5) `smtpd_forbid_bare_newline`

/// How bare LF line endings are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareLf {
    Allow,
    Normalize,
    Reject,
}

impl BareLf {
    /// From the `smtpd_forbid_bare_newline` value.
    pub fn parse(v: &str) -> Option<BareLf> {
        match v.to_ascii_lowercase().as_str() {
            "no" => Some(BareLf::Allow),
            "normalize" | "yes" => Some(BareLf::Normalize),
            "reject" => Some(BareLf::Reject),
            _ => None,
        }
    }
}

/// What one call of [`DataDecoder::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    /// Input bytes used; the rest belongs to the next command.
    pub consumed: usize,
    /// The end-of-data line was seen.
    pub done: bool,
}

/// The longest partial line kept back before it is passed on.
const HOLD_MAX: usize = 4096;

/// Decoder for one DATA transaction.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    mode: BareLf,
    /// Bytes of the current line not yet passed on.
    partial: Vec<u8>,
    /// Part of the current line was passed on already (it cannot be the
    /// end line, and its leading dot is gone).
    line_started: bool,
    /// The previous line ended in CR LF (the DATA command did).
    prev_crlf: bool,
    /// A bare LF was seen.
    pub bare_lf: bool,
    /// Content bytes produced so far.
    pub size: u64,
}

impl DataDecoder {
    pub fn new(mode: BareLf) -> DataDecoder {
        DataDecoder {
            mode,
            partial: Vec::new(),
            line_started: false,
            prev_crlf: true,
            bare_lf: false,
            size: 0,
        }
    }

    /// Decodes `input`, appending content to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Feed {
        let mut pos = 0;
        let before = out.len();
        while pos < input.len() {
            let Some(nl) = input[pos..].iter().position(|&c| c == b'\n') else {
                // No line end in what is left: hold it, or pass most of it on.
                self.partial.extend_from_slice(&input[pos..]);
                pos = input.len();
                if self.partial.len() > HOLD_MAX {
                    self.pass_partial(out);
                }
                break;
            };
            let end = pos + nl + 1;
            self.partial.extend_from_slice(&input[pos..end]);
            pos = end;
            if self.line(out) {
                self.size += (out.len() - before) as u64;
                return Feed {
                    consumed: pos,
                    done: true,
                };
            }
        }
        self.size += (out.len() - before) as u64;
        Feed {
            consumed: pos,
            done: false,
        }
    }

    /// Passes on all but the last byte of a long partial line (a CR
    /// there may still pair with an LF).
    fn pass_partial(&mut self, out: &mut Vec<u8>) {
        let keep = usize::from(self.partial.last() == Some(&b'\r'));
        let n = self.partial.len() - keep;
        let mut start = 0;
        if !self.line_started && self.partial.first() == Some(&b'.') {
            start = 1;
        }
        out.extend_from_slice(&self.partial[start..n]);
        self.partial.drain(..n);
        self.line_started = true;
    }

    /// Handles the complete line in `partial` (ending in LF). Returns true
    /// at the end of the data.
    fn line(&mut self, out: &mut Vec<u8>) -> bool {
        let line = std::mem::take(&mut self.partial);
        let crlf = line.len() >= 2 && line[line.len() - 2] == b'\r';
        let body = &line[..line.len() - if crlf { 2 } else { 1 }];
        if !crlf {
            self.bare_lf = true;
        }
        if !self.line_started && body == b"." {
            let ends = match self.mode {
                BareLf::Allow => true,
                BareLf::Normalize | BareLf::Reject => crlf && self.prev_crlf,
            };
            if ends {
                return true;
            }
        }
        let body = if !self.line_started && body.first() == Some(&b'.') {
            &body[1..]
        } else {
            body
        };
        out.extend_from_slice(body);
        out.push(b'\n');
        self.prev_crlf = crlf;
        self.line_started = false;
        false
    }
}

/// Decoder for the content of BDAT chunks.
#[derive(Debug, Clone)]
pub struct BdatDecoder {
    /// A CR at the end of the previous chunk.
    pending_cr: bool,
    /// The content so far is empty or ends in a line end.
    line_end: bool,
    /// The raw stream so far is empty or ends in CR LF.
    raw_crlf: bool,
    pub bare_lf: bool,
    /// Content bytes produced so far.
    pub size: u64,
    /// Raw bytes received so far.
    pub raw: u64,
}

impl Default for BdatDecoder {
    fn default() -> BdatDecoder {
        BdatDecoder {
            pending_cr: false,
            line_end: true,
            raw_crlf: true,
            bare_lf: false,
            size: 0,
            raw: 0,
        }
    }
}

impl BdatDecoder {
    pub fn new() -> BdatDecoder {
        BdatDecoder::default()
    }

    /// Normalizes one chunk (or part of one): CR LF becomes LF; a bare LF
    /// is kept (and noted); a bare CR is kept.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        let before = out.len();
        self.raw += chunk.len() as u64;
        self.raw_crlf = match chunk {
            [.., b'\r', b'\n'] => true,
            [b'\n'] => self.pending_cr,
            _ => false,
        };
        let mut i = 0;
        if self.pending_cr {
            self.pending_cr = false;
            if chunk.first() == Some(&b'\n') {
                out.push(b'\n');
                i = 1;
            } else {
                out.push(b'\r');
            }
        }
        while i < chunk.len() {
            match chunk[i] {
                b'\r' if i + 1 == chunk.len() => self.pending_cr = true,
                b'\r' if chunk[i + 1] == b'\n' => {
                    out.push(b'\n');
                    i += 1;
                }
                b'\n' => {
                    self.bare_lf = true;
                    out.push(b'\n');
                }
                c => out.push(c),
            }
            i += 1;
        }
        if out.len() > before {
            self.line_end = out.last() == Some(&b'\n');
        }
        self.size += (out.len() - before) as u64;
    }

    /// After the last chunk: a final CR, and a missing last line end.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let before = out.len();
        if self.pending_cr {
            self.pending_cr = false;
            out.push(b'\r');
            self.line_end = false;
        }
        if !self.line_end {
            out.push(b'\n');
            self.line_end = true;
        }
        self.size += (out.len() - before) as u64;
    }

    /// The message size as SMTP counts it: the bytes received, and a CR LF
    /// for a last line that lacks one.
    pub fn smtp_size(&self) -> u64 {
        if self.raw_crlf {
            self.raw
        } else {
            self.raw + 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(mode: BareLf, input: &[u8]) -> (Vec<u8>, Feed, bool) {
        let mut d = DataDecoder::new(mode);
        let mut out = Vec::new();
        let f = d.feed(input, &mut out);
        (out, f, d.bare_lf)
    }

    #[test]
    fn standard_end_and_unstuffing() {
        let (out, f, _) = decode(BareLf::Normalize, b"a\r\n..b\r\n.\r\nNEXT");
        assert_eq!(out, b"a\n.b\n");
        assert!(f.done);
        assert_eq!(f.consumed, 11);
    }

    #[test]
    fn smuggling_variants_do_not_end_data_when_forbidden() {
        for input in [
            &b"a\n.\nMAIL FROM:<x>\r\n"[..],
            b"a\r\n.\nMAIL FROM:<x>\r\n",
            b"a\n.\r\nMAIL FROM:<x>\r\n",
            b"a\r.\r\nMAIL FROM:<x>\r\n",
            b"a\r\n.\r",
        ] {
            for mode in [BareLf::Normalize, BareLf::Reject] {
                let (_, f, _) = decode(mode, input);
                assert!(!f.done, "{mode:?} ended at {input:?}");
            }
        }
        // The default of Postfix 3.7 accepts a bare-LF end.
        let (_, f, bare) = decode(BareLf::Allow, b"a\n.\nQUIT\r\n");
        assert!(f.done && bare);
        // <CR>.<CR> is never a line end.
        let (_, f, _) = decode(BareLf::Allow, b"a\r.\r\nQUIT\r\n");
        assert!(!f.done);
    }

    #[test]
    fn split_across_feeds() {
        let mut d = DataDecoder::new(BareLf::Normalize);
        let mut out = Vec::new();
        let input = b"line one\r\n.stuffed\r\n.\r\n";
        for (i, b) in input.iter().enumerate() {
            let f = d.feed(&[*b], &mut out);
            assert_eq!(f.done, i == input.len() - 1, "at {i}");
        }
        assert_eq!(out, b"line one\nstuffed\n");
    }

    #[test]
    fn long_lines_are_passed_on() {
        let mut d = DataDecoder::new(BareLf::Normalize);
        let mut out = Vec::new();
        let mut long = vec![b'.'];
        long.extend(std::iter::repeat_n(b'x', 100_000));
        let f = d.feed(&long, &mut out);
        assert!(!f.done);
        assert!(out.len() > 90_000);
        assert!(d.partial.len() <= HOLD_MAX);
        let f = d.feed(b"\r\n.\r\n", &mut out);
        assert!(f.done);
        assert_eq!(out.len(), 100_001);
        assert_eq!(out[0], b'x');
    }

    #[test]
    fn bdat_normalization() {
        let mut d = BdatDecoder::default();
        let mut out = Vec::new();
        d.feed(b"a\r", &mut out);
        d.feed(b"\nb\nc\rd", &mut out);
        d.finish(&mut out);
        assert_eq!(out, b"a\nb\nc\rd\n");
        assert!(d.bare_lf);
    }

    #[test]
    fn bdat_finish_knows_the_last_chunk_across_buffers() {
        // The caller clears its buffer after each chunk.
        let mut d = BdatDecoder::new();
        let mut out = Vec::new();
        d.feed(b"abc\r\n", &mut out);
        out.clear();
        d.finish(&mut out);
        assert!(out.is_empty());
        assert_eq!(d.smtp_size(), 5);

        let mut d = BdatDecoder::new();
        d.feed(b"ab", &mut out);
        out.clear();
        d.feed(b"xyz", &mut out);
        out.clear();
        d.finish(&mut out);
        assert_eq!(out, b"\n");
        assert_eq!(d.smtp_size(), 7);

        let mut d = BdatDecoder::new();
        d.feed(b"x\r", &mut out);
        out.clear();
        d.feed(b"\n", &mut out);
        assert_eq!(out, b"\n");
        assert_eq!(d.smtp_size(), 3);

        let d = BdatDecoder::new();
        assert_eq!(d.smtp_size(), 0);
    }
}
