//! # NAME
//! stream — read the records of a queue file in order
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut s = RecordStream::new(file);
//! s.magic()?;
//! while let Some((h, data)) = s.next_record()? {
//!     if h.kind == RecordType::Content { std::io::copy(&mut s.content(h.len), &mut out)?; }
//! }
//! ```
//!
//! ## DESCRIPTION
//! Where [`crate::file::QueueFile::read_envelope`] collects what the
//! queue manager needs, a [`RecordStream`] hands out every record with its
//! file offset, in file order, for programs that show a file as it is
//! (postcat(1)). The content record's data is not read by [`RecordStream::next_record`]:
//! the caller reads it through [`RecordStream::content`] (or skips it, which
//! the next call to `next_record` does). A record longer than [`MAX_RECORD`], an
//! unknown type or a premature end of file is an error.
//!
//! ## SEE ALSO
//! [`crate::record`], postcat(1)

use std::io::{self, BufRead, BufReader, Read};

use crate::file::QueueError;
use crate::record::{Header, MAGIC, RecordError, RecordType};

/// The longest non-content record a reader accepts.
pub const MAX_RECORD: u64 = 64 * 1024 * 1024;

/// Sequential reader of records.
pub struct RecordStream<R: Read> {
    r: BufReader<R>,
    /// File offset of the next unread byte.
    pos: u64,
    /// Content bytes the caller has not read yet (skipped on `next_record`).
    unread_content: u64,
}

impl<R: Read> RecordStream<R> {
    pub fn new(r: R) -> RecordStream<R> {
        RecordStream {
            r: BufReader::with_capacity(64 * 1024, r),
            pos: 0,
            unread_content: 0,
        }
    }

    /// A stream over a reader already `offset` bytes into the file (the
    /// offsets it reports count from the start of the file).
    pub fn starting_at(r: R, offset: u64) -> RecordStream<R> {
        RecordStream {
            pos: offset,
            ..RecordStream::new(r)
        }
    }

    /// File offset of the next record.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    fn truncated(&self) -> QueueError {
        RecordError::Truncated(self.pos).into()
    }

    fn byte(&mut self) -> Result<Option<u8>, QueueError> {
        let mut b = [0u8; 1];
        match self.r.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.pos += 1;
                Ok(Some(b[0]))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.byte(),
            Err(e) => Err(e.into()),
        }
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), QueueError> {
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.truncated()),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks the magic line at the start of the file.
    pub fn magic(&mut self) -> Result<(), QueueError> {
        let mut m = vec![0u8; MAGIC.len()];
        match self.r.read_exact(&mut m) {
            Ok(()) if m == MAGIC => {
                self.pos += m.len() as u64;
                Ok(())
            }
            Ok(()) => Err(RecordError::BadMagic.into()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(RecordError::BadMagic.into()),
            Err(e) => Err(e.into()),
        }
    }

    fn skip(&mut self, mut n: u64) -> Result<(), QueueError> {
        while n > 0 {
            let avail = match self.r.fill_buf() {
                Ok(b) => b.len() as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if avail == 0 {
                return Err(self.truncated());
            }
            let k = avail.min(n);
            self.r.consume(k as usize);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }

    /// The next record: its header and data (empty for the content
    /// record, whose bytes follow through [`RecordStream::content`]).
    /// `Ok(None)` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<(Header, Vec<u8>)>, QueueError> {
        let rest = std::mem::take(&mut self.unread_content);
        self.skip(rest)?;
        let offset = self.pos;
        let Some(t) = self.byte()? else {
            return Ok(None);
        };
        let kind = RecordType::from_byte(t).ok_or(RecordError::UnknownType(t, offset))?;
        if kind == RecordType::Content {
            let mut b = [0u8; 8];
            self.exact(&mut b)?;
            let len = u64::from_le_bytes(b);
            self.unread_content = len;
            let h = Header {
                kind,
                offset,
                data: self.pos,
                len,
            };
            return Ok(Some((h, Vec::new())));
        }
        let mut len: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?.ok_or_else(|| self.truncated())?;
            if shift > 56 {
                return Err(RecordError::BadLength(offset).into());
            }
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if len > MAX_RECORD {
            return Err(RecordError::BadLength(offset).into());
        }
        let data_at = self.pos;
        let mut data = vec![0u8; len as usize];
        self.exact(&mut data)?;
        Ok(Some((
            Header {
                kind,
                offset,
                data: data_at,
                len,
            },
            data,
        )))
    }

    /// The bytes of the content record just returned by `next_record`.
    pub fn content(&mut self) -> ContentReader<'_, R> {
        ContentReader { s: self }
    }
}

/// Reads the content of the current content record (see [`RecordStream::content`]).
pub struct ContentReader<'a, R: Read> {
    s: &'a mut RecordStream<R>,
}

impl<R: Read> Read for ContentReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(self.s.unread_content.min(usize::MAX as u64) as usize);
        if n == 0 {
            return Ok(0);
        }
        let got = self.s.r.read(&mut buf[..n])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "premature end of file in the content",
            ));
        }
        self.s.unread_content -= got as u64;
        self.s.pos += got as u64;
        Ok(got)
    }
}

impl<R: Read> BufRead for ContentReader<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let left = self.s.unread_content;
        let buf = self.s.r.fill_buf()?;
        let n = buf.len().min(left.min(usize::MAX as u64) as usize);
        Ok(&buf[..n])
    }

    fn consume(&mut self, amt: usize) {
        self.s.r.consume(amt);
        self.s.unread_content -= amt as u64;
        self.s.pos += amt as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record;

    fn sample() -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        record::put(&mut b, RecordType::Time, b"1 2");
        record::put(&mut b, RecordType::Sender, b"s@x");
        record::put_content_header(&mut b, 6);
        b.extend_from_slice(b"a\nbcd\n");
        record::put(&mut b, RecordType::Extracted, b"");
        record::put(&mut b, RecordType::End, b"");
        b
    }

    #[test]
    fn records_in_order_with_offsets() {
        let b = sample();
        let mut s = RecordStream::new(&b[..]);
        s.magic().unwrap();
        let mut kinds = Vec::new();
        while let Some((h, d)) = s.next_record().unwrap() {
            if h.kind == RecordType::Content {
                let mut text = String::new();
                let mut lines = 0;
                let mut c = s.content();
                while c.read_line(&mut text).unwrap() > 0 {
                    lines += 1;
                }
                assert_eq!((text.as_str(), lines), ("a\nbcd\n", 2));
            }
            assert_eq!(b[h.offset as usize], h.kind as u8);
            assert_eq!(
                &b[h.data as usize..(h.data + d.len() as u64) as usize],
                &d[..]
            );
            kinds.push(h.kind);
        }
        assert_eq!(
            kinds,
            [
                RecordType::Time,
                RecordType::Sender,
                RecordType::Content,
                RecordType::Extracted,
                RecordType::End
            ]
        );
        // Skipping the content works too.
        let mut s = RecordStream::new(&b[..]);
        s.magic().unwrap();
        let mut n = 0;
        while s.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn damage_is_an_error() {
        let b = sample();
        // Where records end: a cut there ends cleanly (the caller notices
        // the missing end record); anywhere else is an error.
        let mut ends = vec![MAGIC.len()];
        let mut s = RecordStream::new(&b[..]);
        s.magic().unwrap();
        while let Some((h, _)) = s.next_record().unwrap() {
            ends.push((h.data + h.len) as usize);
        }
        for cut in MAGIC.len()..b.len() {
            let mut s = RecordStream::new(&b[..cut]);
            s.magic().unwrap();
            let mut err = false;
            loop {
                match s.next_record() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        err = true;
                        break;
                    }
                }
            }
            assert_eq!(err, !ends.contains(&cut), "cut {cut}");
        }
        assert!(RecordStream::new(&b"RMQ0\n"[..]).magic().is_err());
        let mut bad = b.clone();
        bad[MAGIC.len()] = b'?';
        let mut s = RecordStream::new(&bad[..]);
        s.magic().unwrap();
        assert!(s.next_record().is_err());
    }
}
