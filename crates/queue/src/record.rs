//! # NAME
//! record — the typed records of a queue file
//!
//! ## SYNOPSIS
//! ```ignore
//! record::put(&mut buf, RecordType::Sender, b"user@example.com");
//! let (rt, data, next) = record::get(&bytes, offset)?;
//! ```
//!
//! ## DESCRIPTION
//! A queue file is a magic line followed by records. A record is one type
//! byte, the length of its data, and the data, which may hold any byte.
//! The length is written in groups of 7 bits, least significant first,
//! with the high bit set on every byte but the last (as Postfix does) —
//! except for [`RecordType::Content`], whose length is always 8 bytes,
//! little-endian, so that it can be filled in after the content has been
//! streamed.
//!
//! The file is laid out in three segments:
//!
//! | segment | records |
//! | --- | --- |
//! | envelope | `T` arrival, `S` sender, `A` attributes, `<` RET, `i` ENVID, for each recipient `O` original recipient, `n` NOTIFY, `o` ORCPT then `R` (to do), `D` (done) or `/` (cancelled), `W` warning time |
//! | content | one `M` record with the message, header and body, lines ending in LF |
//! | extracted | `X`, then records found in the content (`R` from `sendmail -t`, `A`, `L` filter, `>` redirect), `C` message size, then `E` |
//!
//! A recipient is marked done by overwriting the type byte of its `R`
//! record with `D`; nothing else changes size or place after commit. A file
//! without the final `E`, with an unknown record type, or with a length
//! that runs past the end is corrupt.
//!
//! ## SEE ALSO
//! [`crate::file`], `../shared/POSTFIX-NOTES.md` §1

/// The first bytes of every queue file: format name and version.
pub const MAGIC: &[u8] = b"RMQ1\n";

/// Record types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// Arrival time: `seconds microseconds` in decimal.
    Time = b'T',
    /// Envelope sender (empty for the null sender).
    Sender = b'S',
    /// `name=value` attribute (client, protocol, log ident, ...).
    Attr = b'A',
    /// Original recipient of the recipient record that follows.
    Orig = b'O',
    /// DSN NOTIFY bits of the recipient record that follows, decimal.
    DsnNotify = b'n',
    /// DSN ORCPT of the recipient record that follows.
    DsnOrcpt = b'o',
    /// DSN RET: `1` FULL, `2` HDRS.
    DsnRet = b'<',
    /// DSN ENVID.
    DsnEnvid = b'i',
    /// A recipient still to be delivered.
    Rcpt = b'R',
    /// A recipient that is done (delivered, or bounced and reported).
    Done = b'D',
    /// A recipient that was cancelled (a duplicate).
    Cancelled = b'/',
    /// Delay warning state, 8 bytes little-endian seconds, updated in
    /// place by qmgr(8): 0 means a warning is due `delay_warning_time`
    /// after arrival, [`WARN_SENT`] that it was sent, any other value the
    /// time it is due. Queue files (not maildrop files) have one, written
    /// at the end of the envelope.
    WarnTime = b'W',
    /// The size of the message as Postfix counts it (mailq(1), the
    /// `size=` of the log): the bytes of the content in Postfix's record
    /// form, decimal. Queue files (not maildrop files) have one, written
    /// at commit, after the extracted records.
    Size = b'C',
    /// The message content.
    Content = b'M',
    /// Start of the extracted segment.
    Extracted = b'X',
    /// End of file; mandatory.
    End = b'E',
    /// A content filter, `transport:nexthop` (`content_filter`, or a
    /// FILTER action of header or body checks): every recipient goes to
    /// that transport. The last one in the file counts.
    Filter = b'L',
    /// A redirection address (a REDIRECT action): the message goes to
    /// that address instead of its recipients. The last one counts.
    Redirect = b'>',
}

impl RecordType {
    pub fn from_byte(b: u8) -> Option<RecordType> {
        use RecordType::*;
        Some(match b {
            b'T' => Time,
            b'S' => Sender,
            b'A' => Attr,
            b'O' => Orig,
            b'n' => DsnNotify,
            b'o' => DsnOrcpt,
            b'<' => DsnRet,
            b'i' => DsnEnvid,
            b'R' => Rcpt,
            b'D' => Done,
            b'/' => Cancelled,
            b'W' => WarnTime,
            b'C' => Size,
            b'M' => Content,
            b'X' => Extracted,
            b'E' => End,
            b'L' => Filter,
            b'>' => Redirect,
            _ => return None,
        })
    }
}

/// The value of a [`RecordType::WarnTime`] record once the warning was sent.
pub const WARN_SENT: u64 = u64::MAX;

/// The longest line Postfix keeps in one record (`line_length_limit`'s
/// default); longer lines take several.
const POSTFIX_LINE_LIMIT: u64 = 2048;

/// The bytes a line of `len` bytes (without its newline) takes in a
/// Postfix queue file: one record per [`POSTFIX_LINE_LIMIT`] bytes, each
/// with a type byte and a length of one or two bytes. This is what
/// Postfix reports as the message size.
pub fn postfix_line_size(len: u64) -> u64 {
    fn rec(n: u64) -> u64 {
        let len_bytes = if n < 0x80 {
            1
        } else if n < 0x4000 {
            2
        } else {
            3
        };
        1 + len_bytes + n
    }
    let full = len / POSTFIX_LINE_LIMIT;
    full * rec(POSTFIX_LINE_LIMIT) + rec(len % POSTFIX_LINE_LIMIT)
}

/// Appends the length encoding of `n`.
pub fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(b);
            return;
        }
        buf.push(b | 0x80);
    }
}

/// Appends one record.
pub fn put(buf: &mut Vec<u8>, t: RecordType, data: &[u8]) {
    debug_assert!(
        t != RecordType::Content,
        "invariant: content uses put_content_header"
    );
    buf.push(t as u8);
    put_len(buf, data.len());
    buf.extend_from_slice(data);
}

/// Appends the header of a content record of `len` bytes.
pub fn put_content_header(buf: &mut Vec<u8>, len: u64) {
    buf.push(RecordType::Content as u8);
    buf.extend_from_slice(&len.to_le_bytes());
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The file ends inside a record, or before the end record.
    #[error("premature end of file at offset {0}")]
    Truncated(u64),
    /// A type byte that this format does not have.
    #[error("unknown record type 0x{0:02x} at offset {1}")]
    UnknownType(u8, u64),
    /// A length that does not fit.
    #[error("bad record length at offset {0}")]
    BadLength(u64),
    /// The file does not start with the magic line.
    #[error("not a queue file (bad magic)")]
    BadMagic,
    /// A record that does not belong where it is.
    #[error("{0}")]
    Misplaced(String),
}

/// A record header read from a buffer: type, data offset, data length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: RecordType,
    /// Offset of the type byte.
    pub offset: u64,
    /// Offset of the data.
    pub data: u64,
    pub len: u64,
}

impl Header {
    /// Offset just after the record.
    pub fn next(&self) -> u64 {
        self.data + self.len
    }
}

/// Parses a record header at `pos` in `buf` (which starts at file offset
/// `base`). Returns `Ok(None)` when `buf` holds too few bytes to tell.
pub fn header(buf: &[u8], pos: usize, base: u64) -> Result<Option<Header>, RecordError> {
    let at = base + pos as u64;
    let Some(&t) = buf.get(pos) else {
        return Ok(None);
    };
    let kind = RecordType::from_byte(t).ok_or(RecordError::UnknownType(t, at))?;
    if kind == RecordType::Content {
        let Some(b) = buf.get(pos + 1..pos + 9) else {
            return Ok(None);
        };
        let len = u64::from_le_bytes(b.try_into().expect("invariant: 8 bytes"));
        return Ok(Some(Header {
            kind,
            offset: at,
            data: at + 9,
            len,
        }));
    }
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = pos + 1;
    loop {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        if shift > 56 {
            return Err(RecordError::BadLength(at));
        }
        len |= u64::from(b & 0x7f) << shift;
        shift += 7;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok(Some(Header {
        kind,
        offset: at,
        data: base + i as u64,
        len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 1 << 30] {
            let mut b = vec![b'S'];
            put_len(&mut b, n);
            let h = header(&b, 0, 100).unwrap().unwrap();
            assert_eq!(h.len, n as u64);
            assert_eq!(h.data, 100 + b.len() as u64);
        }
    }

    #[test]
    fn postfix_sizes() {
        // "Subject: test", "", "hello": as Postfix 3.7 logs size=24.
        assert_eq!(
            postfix_line_size(13) + postfix_line_size(0) + postfix_line_size(5),
            24
        );
        assert_eq!(postfix_line_size(127), 129);
        assert_eq!(postfix_line_size(128), 131);
        assert_eq!(postfix_line_size(2048), 2051 + 2);
        assert_eq!(postfix_line_size(2049), 2051 + 3);
        assert_eq!(postfix_line_size(5000), 2 * 2051 + 904 + 3);
    }

    #[test]
    fn content_and_errors() {
        let mut b = Vec::new();
        put(&mut b, RecordType::Sender, b"a@b");
        put_content_header(&mut b, 5);
        b.extend_from_slice(b"hello");
        let h1 = header(&b, 0, 0).unwrap().unwrap();
        assert_eq!((h1.kind, h1.len), (RecordType::Sender, 3));
        let h2 = header(&b, h1.next() as usize, 0).unwrap().unwrap();
        assert_eq!(
            (h2.kind, h2.len, h2.next() as usize),
            (RecordType::Content, 5, b.len())
        );
        assert_eq!(
            header(&[b'?', 1], 0, 7),
            Err(RecordError::UnknownType(b'?', 7))
        );
        assert_eq!(header(&[b'S', 0x80], 0, 0), Ok(None));
        assert!(
            header(
                &[
                    b'S', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1
                ],
                0,
                0
            )
            .is_err()
        );
    }
}
