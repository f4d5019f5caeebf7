//! # NAME
//! copy — the message as a mailbox, file or command receives it (mail_copy)
//!
//! ## SYNOPSIS
//! ```ignore
//! let opts = CopyOptions { from_line: true, return_path: true, quote_from: true,
//!                          blank_line: true, orig_to: Some(..), delivered_to: Some(..), ..Default::default() };
//! let n = copy::copy(content, &mut out, "sender@example.com", &opts, None)?;
//! ```
//!
//! ## DESCRIPTION
//! Writes, in this order: the envelope line `From sender  Mon Nov 23
//! 14:00:44 2026` (asctime in local time; the null sender is
//! `MAILER-DAEMON`), `Return-Path: <sender>`, `X-Original-To:` and
//! `Delivered-To:`, then the queued content (LF line ends), with each
//! line that starts with `From ` given a `>` (mboxo quoting: `>From`
//! lines are left alone) and each line that starts with `.` given another
//! (dot stuffing) when asked, every line end written as `eol`, and one
//! empty line at the end when asked. Content that does not end in a line
//! end gets one.
//!
//! With a limit, a write that would take the output past it fails with
//! `EFBIG` ("File too large"), as a file size limit would.
//!
//! Errors say which side failed: reading the queue file (the mail system
//! is at fault) or writing the destination.
//!
//! ## SEE ALSO
//! [`crate::mbox`], [`crate::maildir`], [`crate::command`]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::SystemTime;

/// What to add and change while copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    /// `From sender  date` first.
    pub from_line: bool,
    /// `Return-Path: <sender>`.
    pub return_path: bool,
    /// `X-Original-To: value`.
    pub orig_to: Option<String>,
    /// `Delivered-To: value`.
    pub delivered_to: Option<String>,
    /// `>` before lines that start with `From `.
    pub quote_from: bool,
    /// `.` before lines that start with `.`.
    pub dot_stuff: bool,
    /// An empty line after the message.
    pub blank_line: bool,
    /// The line end to write.
    pub eol: Vec<u8>,
    /// What the null sender is called in the `From ` line and
    /// `Return-Path:` (`None`: `MAILER-DAEMON` and `<>`).
    pub null_sender: Option<String>,
    /// The time of the `From ` line (now, when `None`).
    pub time: Option<SystemTime>,
}

impl Default for CopyOptions {
    fn default() -> CopyOptions {
        CopyOptions {
            from_line: false,
            return_path: false,
            orig_to: None,
            delivered_to: None,
            quote_from: false,
            dot_stuff: false,
            blank_line: false,
            eol: b"\n".to_vec(),
            null_sender: None,
            time: None,
        }
    }
}

/// Which side of a copy failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// The queue file could not be read.
    #[error("error reading message: {}", crate::strerror(.0))]
    Read(io::Error),
    /// The destination could not be written.
    #[error("error writing message: {}", crate::strerror(.0))]
    Write(io::Error),
}

impl CopyError {
    pub fn io(&self) -> &io::Error {
        match self {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// `Mon Nov 23 14:00:44 2026`, as asctime(3) writes it (local time).
pub fn asctime(t: SystemTime) -> String {
    let tm = sys::time::local(t);
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

/// An address as it appears in a header or the `From ` line: the
/// localpart quoted where RFC 5322 needs it.
pub fn quote_address(addr: &str) -> String {
    mail::address::externalize(addr)
}

/// A writer that refuses to go past a limit (`EFBIG`) and counts.
pub struct Limited<W> {
    pub inner: W,
    pub written: u64,
    /// Bytes that may still be written; `None`: no limit.
    pub room: Option<u64>,
}

impl<W: Write> Limited<W> {
    pub fn new(inner: W, room: Option<u64>) -> Limited<W> {
        Limited {
            inner,
            written: 0,
            room,
        }
    }
}

impl<W: Write> Write for Limited<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(room) = self.room
            && self.written + buf.len() as u64 > room
        {
            return Err(io::Error::from_raw_os_error(nix::libc::EFBIG));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The header block a copy starts with (`From ` line and the three
/// headers), as bytes.
pub fn prologue(sender: &str, opts: &CopyOptions) -> Vec<u8> {
    let mut head = Vec::new();
    let eol = opts.eol.as_slice();
    let null = opts.null_sender.as_deref();
    if opts.from_line {
        let who = if sender.is_empty() {
            null.unwrap_or("MAILER-DAEMON").to_string()
        } else {
            quote_address(sender)
        };
        head.extend_from_slice(
            format!(
                "From {}  {}",
                who,
                asctime(opts.time.unwrap_or_else(SystemTime::now))
            )
            .as_bytes(),
        );
        head.extend_from_slice(eol);
    }
    if opts.return_path {
        let who = if sender.is_empty() {
            null.unwrap_or("").to_string()
        } else {
            quote_address(sender)
        };
        head.extend_from_slice(format!("Return-Path: <{who}>").as_bytes());
        head.extend_from_slice(eol);
    }
    if let Some(v) = &opts.orig_to {
        head.extend_from_slice(format!("X-Original-To: {}", quote_address(v)).as_bytes());
        head.extend_from_slice(eol);
    }
    if let Some(v) = &opts.delivered_to {
        head.extend_from_slice(format!("Delivered-To: {}", quote_address(v)).as_bytes());
        head.extend_from_slice(eol);
    }
    head
}

const CHUNK: usize = 64 * 1024;

/// A piece of a file read with pread(2): the content of a queue file,
/// read once per delivery without moving the file's offset. A file that
/// ends early is an error, never a short message.
pub struct Segment<'a> {
    file: &'a std::fs::File,
    pos: u64,
    end: u64,
}

impl<'a> Segment<'a> {
    pub fn new(file: &'a std::fs::File, offset: u64, len: u64) -> Segment<'a> {
        Segment {
            file,
            pos: offset,
            end: offset + len,
        }
    }
}

impl Read for Segment<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = (buf.len() as u64).min(self.end - self.pos) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "queue file is shorter than its content length",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The `Delivered-To:` values of a message's primary header block,
/// folded to lower case (for mail forwarding loop detection).
pub fn delivered_to(content: impl Read) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    let mut lines = BufReader::new(content);
    let mut line = Vec::new();
    let mut current: Option<String> = None;
    let mut finish = |cur: &mut Option<String>| {
        if let Some(v) = cur.take() {
            out.insert(v.trim().to_lowercase());
        }
    };
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            break;
        }
        if text.starts_with([' ', '\t']) {
            if let Some(v) = current.as_mut() {
                v.push_str(text);
            }
            continue;
        }
        finish(&mut current);
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("delivered-to") => {
                current = Some(value.to_string());
            }
            Some(_) => {}
            // Not a header: the body starts here.
            None => break,
        }
    }
    finish(&mut current);
    out
}

/// Copies the message; returns the number of bytes written.
pub fn copy<R: Read, W: Write>(
    content: R,
    out: W,
    sender: &str,
    opts: &CopyOptions,
    limit: Option<u64>,
) -> Result<u64, CopyError> {
    let mut out = Limited::new(out, limit);
    out.write_all(&prologue(sender, opts))
        .map_err(CopyError::Write)?;
    let mut input = BufReader::with_capacity(CHUNK, content);
    let eol = opts.eol.as_slice();
    let mut ended_in_newline = true;
    if !opts.quote_from && !opts.dot_stuff && eol == b"\n" {
        // Nothing changes inside lines: copy in large pieces.
        loop {
            let buf = input.fill_buf().map_err(CopyError::Read)?;
            if buf.is_empty() {
                break;
            }
            out.write_all(buf).map_err(CopyError::Write)?;
            ended_in_newline = buf.last() == Some(&b'\n');
            let n = buf.len();
            input.consume(n);
        }
        if !ended_in_newline {
            out.write_all(eol).map_err(CopyError::Write)?;
        }
    } else {
        let mut w = io::BufWriter::with_capacity(CHUNK, &mut out);
        let mut line = Vec::with_capacity(1024);
        loop {
            line.clear();
            let n = input
                .read_until(b'\n', &mut line)
                .map_err(CopyError::Read)?;
            if n == 0 {
                break;
            }
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            if opts.quote_from && body.starts_with(b"From ") {
                w.write_all(b">").map_err(CopyError::Write)?;
            }
            if opts.dot_stuff && body.starts_with(b".") {
                w.write_all(b".").map_err(CopyError::Write)?;
            }
            w.write_all(body).map_err(CopyError::Write)?;
            w.write_all(eol).map_err(CopyError::Write)?;
        }
        w.flush().map_err(CopyError::Write)?;
    }
    if opts.blank_line {
        out.write_all(eol).map_err(CopyError::Write)?;
    }
    out.flush().map_err(CopyError::Write)?;
    Ok(out.written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn run(content: &[u8], sender: &str, opts: &CopyOptions) -> String {
        let mut out = Vec::new();
        copy(content, &mut out, sender, opts, None).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_442_450)
    }

    #[test]
    fn mailbox_form_as_postfix_writes_it() {
        let opts = CopyOptions {
            from_line: true,
            return_path: true,
            orig_to: Some("mtrefa".into()),
            delivered_to: Some("mtrefa@ref.example".into()),
            quote_from: true,
            blank_line: true,
            time: Some(at()),
            ..Default::default()
        };
        let got = run(
            b"Subject: t1\n\nFrom the start\nline two\n>From quoted\n",
            "sender@far.example",
            &opts,
        );
        let date = asctime(at());
        assert_eq!(
            got,
            format!(
                "From sender@far.example  {date}\nReturn-Path: <sender@far.example>\n\
                 X-Original-To: mtrefa\nDelivered-To: mtrefa@ref.example\n\
                 Subject: t1\n\n>From the start\nline two\n>From quoted\n\n"
            )
        );
    }

    #[test]
    fn null_sender() {
        let opts = CopyOptions {
            from_line: true,
            return_path: true,
            time: Some(at()),
            ..Default::default()
        };
        let got = run(b"x\n", "", &opts);
        assert!(got.starts_with("From MAILER-DAEMON  "), "{got}");
        assert!(got.contains("\nReturn-Path: <>\n"), "{got}");
        let opts = CopyOptions {
            null_sender: Some("nobody".into()),
            ..opts
        };
        let got = run(b"x\n", "", &opts);
        assert!(got.starts_with("From nobody  "), "{got}");
        assert!(got.contains("\nReturn-Path: <nobody>\n"), "{got}");
    }

    #[test]
    fn maildir_form_copies_verbatim() {
        let opts = CopyOptions {
            return_path: true,
            delivered_to: Some("u@x".into()),
            ..Default::default()
        };
        assert_eq!(
            run(b"From x\nbody", "s@x", &opts),
            "Return-Path: <s@x>\nDelivered-To: u@x\nFrom x\nbody\n"
        );
    }

    #[test]
    fn crlf_and_dots_for_commands() {
        let opts = CopyOptions {
            dot_stuff: true,
            eol: b"\r\n".to_vec(),
            ..Default::default()
        };
        assert_eq!(run(b".\n..x\nok\n", "s@x", &opts), "..\r\n...x\r\nok\r\n");
    }

    #[test]
    fn quoted_localparts() {
        let opts = CopyOptions {
            return_path: true,
            ..Default::default()
        };
        assert_eq!(
            run(b"", "a b@x.example", &opts),
            "Return-Path: <\"a b\"@x.example>\n"
        );
    }

    #[test]
    fn limit_is_file_too_large() {
        let mut out = Vec::new();
        let e = copy(
            &b"0123456789\n"[..],
            &mut out,
            "s@x",
            &CopyOptions::default(),
            Some(5),
        )
        .unwrap_err();
        assert!(matches!(e, CopyError::Write(_)));
        assert_eq!(e.to_string(), "error writing message: File too large");
    }

    #[test]
    fn delivered_to_headers() {
        let d = delivered_to(
            &b"Received: x\nDelivered-To: A@Example.com\nDelivered-To:\n b@x\nSubject: s\n\nDelivered-To: body@x\n"[..],
        );
        let mut v: Vec<_> = d.into_iter().collect();
        v.sort();
        assert_eq!(v, ["a@example.com", "b@x"]);
    }

    #[test]
    fn segments_of_a_file() {
        let p = std::env::temp_dir().join(format!("copy-seg-{}", std::process::id()));
        std::fs::write(&p, b"headXYZ\nbody\ntail").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let mut out = String::new();
        Segment::new(&f, 4, 9).read_to_string(&mut out).unwrap();
        assert_eq!(out, "XYZ\nbody\n");
        let mut out = Vec::new();
        let e = Segment::new(&f, 4, 100).read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn long_content_in_pieces() {
        let mut content = Vec::new();
        for i in 0..20000 {
            content.extend_from_slice(format!("From line {i}\n").as_bytes());
        }
        let opts = CopyOptions {
            quote_from: true,
            ..Default::default()
        };
        let got = run(&content, "s@x", &opts);
        assert_eq!(got.matches(">From line").count(), 20000);
        let plain = run(&content, "s@x", &CopyOptions::default());
        assert_eq!(plain.as_bytes(), &content[..]);
    }
}
