//! # NAME
//! show — print one queue file the way Postfix's postcat does
//!
//! ## SYNOPSIS
//! ```ignore
//! show::file(&mut reader, "deferred/3/3F2A11B9C4", &opts, &mut out)?;
//! ```
//!
//! ## DESCRIPTION
//! The queue file format is ours, the output is Postfix's: each record is
//! shown under the name Postfix gives the same information, so that what
//! an administrator reads (and greps) does not change.
//!
//! | record | shown as |
//! | --- | --- |
//! | `C` size | `message_size:` first, six fields as Postfix: size, content offset, recipients, 0, size, 0 |
//! | `T` | `message_arrival_time:` in `asctime()` form |
//! | `S` | `sender:` |
//! | `A` | `named_attribute: name=value`; `sender_fullname:` and `create_time:` for those names |
//! | `<` `i` `n` `o` | `named_attribute:` `ret_flags`, `envelope_id`, `notify_flags`, `dsn_orig_rcpt` |
//! | `O` `R` `D` `/` | `original_recipient:`, `recipient:`, `done_recipient:`, `canceled_recipient:` |
//! | `W` | `warning_message_time:` when a warning is scheduled |
//! | `M` | `*** MESSAGE CONTENTS name ***`, then the lines (`regular_text:` with `-v`) |
//! | `X` | `*** HEADER EXTRACTED name ***` |
//! | `E` | `*** MESSAGE FILE END name ***` |
//!
//! `-o` puts the file offset (`%9lu `) and `-d` the decimal record type
//! (`%3d `, Postfix's numbers) before each line. `-e`, `-h` and `-b`
//! select the envelope (with the section markers), the header and the
//! body (from the first line that is not a header line); the default is
//! all three.
//!
//! ## SEE ALSO
//! postcat(1), [`queue::stream`]

use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, UNIX_EPOCH};

use queue::QueueError;
use queue::record::{Header, RecordType, WARN_SENT};
use queue::stream::RecordStream;

/// What to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub envelope: bool,
    pub header: bool,
    pub body: bool,
    pub offsets: bool,
    pub types: bool,
    pub verbose: bool,
    /// `-s`: start at this offset.
    pub skip: Option<u64>,
}

/// `asctime()` without the newline.
fn asctime(secs: u64) -> String {
    let tm = sys::time::local(UNIX_EPOCH + Duration::from_secs(secs));
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

/// Why a file could not be shown.
#[derive(Debug)]
pub enum ShowError {
    /// Not a queue file at all (a warning; the next file is shown).
    NotQueueFile,
    /// Damaged in the middle, or an I/O error (fatal).
    Read(String),
    /// Writing the output failed.
    Output(io::Error),
}

impl From<io::Error> for ShowError {
    fn from(e: io::Error) -> ShowError {
        ShowError::Output(e)
    }
}

struct Printer<'a, W: Write> {
    out: &'a mut W,
    opts: &'a Options,
}

impl<W: Write> Printer<'_, W> {
    fn line(&mut self, offset: u64, kind: u8, text: &str) -> io::Result<()> {
        if self.opts.offsets {
            write!(self.out, "{offset:9} ")?;
        }
        if self.opts.types {
            write!(self.out, "{kind:3} ")?;
        }
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")
    }
}

/// Whether a content line continues or starts a header.
fn is_header_line(line: &[u8]) -> bool {
    if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
        return true;
    }
    match line.iter().position(|&c| c == b':') {
        Some(0) | None => false,
        Some(i) => line[..i].iter().all(|&c| (33..=126).contains(&c)),
    }
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Prints one file read from `r`; `name` is how the markers name it.
pub fn file<R: Read, W: Write>(
    r: R,
    name: &str,
    opts: &Options,
    out: &mut W,
    size_line: Option<(u64, String)>,
) -> Result<(), ShowError> {
    let mut r = r;
    let mut p = Printer { out, opts };
    let read_err = |e: QueueError| ShowError::Read(e.to_string());
    let mut s = match opts.skip {
        Some(n) if n > 0 => {
            let skipped = io::copy(&mut (&mut r).take(n), &mut io::sink())
                .map_err(|e| ShowError::Read(e.to_string()))?;
            RecordStream::starting_at(r, skipped)
        }
        _ => {
            let mut s = RecordStream::new(r);
            s.magic().map_err(|_| ShowError::NotQueueFile)?;
            if opts.envelope {
                writeln!(p.out, "*** ENVELOPE RECORDS {name} ***")?;
                if let Some((offset, line)) = &size_line {
                    p.line(*offset, b'C', line)?;
                }
            }
            s
        }
    };
    let mut in_header = true;
    // Envelope records wait for the content so that they can be shown in
    // Postfix's order.
    let mut envelope: Option<Vec<(Header, Vec<u8>)>> = Some(Vec::new());
    while let Some((h, data)) = s.next_record().map_err(read_err)? {
        if let Some(env) = envelope.as_mut() {
            if h.kind != RecordType::Content && h.kind != RecordType::End {
                env.push((h, data));
                continue;
            }
            let records = envelope.take().unwrap_or_default();
            if opts.envelope {
                for (h, data) in postfix_order(records) {
                    show_record(&mut p, &h, &data)?;
                }
            }
        }
        let kind = h.kind as u8;
        let env = opts.envelope;
        match h.kind {
            RecordType::Content => {
                if env {
                    p.line(h.offset, kind, &format!("*** MESSAGE CONTENTS {name} ***"))?;
                }
                let mut pos = h.data;
                let mut content = s.content();
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let n = content
                        .read_until(b'\n', &mut line)
                        .map_err(|e| ShowError::Read(e.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    let at = pos;
                    pos += n as u64;
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if in_header && !is_header_line(&line) {
                        in_header = false;
                    }
                    let wanted = if in_header { opts.header } else { opts.body };
                    if !wanted {
                        continue;
                    }
                    let shown = text(&line);
                    if opts.verbose {
                        p.line(at, b'N', &format!("regular_text: {shown}"))?;
                    } else {
                        p.line(at, b'N', &shown)?;
                    }
                }
            }
            RecordType::Extracted if env => {
                p.line(h.offset, kind, &format!("*** HEADER EXTRACTED {name} ***"))?
            }
            RecordType::End => {
                if env {
                    p.line(h.offset, kind, &format!("*** MESSAGE FILE END {name} ***"))?;
                }
                return Ok(());
            }
            _ if env => show_record(&mut p, &h, &data)?,
            _ => {}
        }
    }
    Err(ShowError::Read("premature end of file".into()))
}

/// Envelope records in the order Postfix's cleanup writes them: arrival
/// time, ENVID, RET, attributes, full name, sender, then each recipient
/// with its NOTIFY, ORCPT and original address; the warning time last.
fn postfix_order(records: Vec<(Header, Vec<u8>)>) -> Vec<(Header, Vec<u8>)> {
    let rank = |h: &Header, data: &[u8]| -> u8 {
        match h.kind {
            RecordType::Time => 0,
            RecordType::Attr if data.starts_with(b"create_time=") => 1,
            RecordType::DsnEnvid => 2,
            RecordType::DsnRet => 3,
            RecordType::Attr if data.starts_with(b"sender_fullname=") => 5,
            RecordType::Attr => 4,
            RecordType::Sender => 6,
            RecordType::WarnTime => 9,
            _ => 7,
        }
    };
    let mut head = Vec::new();
    let mut rcpts = Vec::new();
    let mut tail = Vec::new();
    // A recipient group: NOTIFY, ORCPT, original, then the recipient.
    let mut group: Vec<(Header, Vec<u8>)> = Vec::new();
    for (h, data) in records {
        match rank(&h, &data) {
            7 => {
                let end = matches!(
                    h.kind,
                    RecordType::Rcpt | RecordType::Done | RecordType::Cancelled
                );
                group.push((h, data));
                if end {
                    let sub = |k: RecordType| match k {
                        RecordType::DsnNotify => 0,
                        RecordType::DsnOrcpt => 1,
                        RecordType::Orig => 2,
                        _ => 3,
                    };
                    group.sort_by_key(|(h, _)| sub(h.kind));
                    rcpts.append(&mut group);
                }
            }
            9 => tail.push((h, data)),
            r => head.push((r, h, data)),
        }
    }
    head.sort_by_key(|(r, _, _)| *r);
    let mut out: Vec<(Header, Vec<u8>)> = head.into_iter().map(|(_, h, d)| (h, d)).collect();
    out.append(&mut rcpts);
    out.append(&mut group);
    out.append(&mut tail);
    out
}

/// Shows one envelope or extracted record.
fn show_record<W: Write>(p: &mut Printer<'_, W>, h: &Header, data: &[u8]) -> io::Result<()> {
    let kind = h.kind as u8;
    match h.kind {
        RecordType::Time => {
            let secs = text(data)
                .split(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            p.line(
                h.offset,
                kind,
                &format!("message_arrival_time: {}", asctime(secs)),
            )?;
        }
        RecordType::Sender => p.line(h.offset, kind, &format!("sender: {}", text(data)))?,
        RecordType::Attr => {
            let t = text(data);
            match t.split_once('=') {
                Some(("sender_fullname", v)) => {
                    p.line(h.offset, b'F', &format!("sender_fullname: {v}"))?
                }
                Some(("create_time", v)) => {
                    let secs = v.parse().unwrap_or(0);
                    p.line(h.offset, kind, &format!("create_time: {}", asctime(secs)))?
                }
                _ => p.line(h.offset, kind, &format!("named_attribute: {t}"))?,
            }
        }
        RecordType::DsnRet
        | RecordType::DsnEnvid
        | RecordType::DsnNotify
        | RecordType::DsnOrcpt => {
            let attr = match h.kind {
                RecordType::DsnRet => "ret_flags",
                RecordType::DsnEnvid => "envelope_id",
                RecordType::DsnNotify => "notify_flags",
                _ => "dsn_orig_rcpt",
            };
            p.line(
                h.offset,
                b'A',
                &format!("named_attribute: {}={}", attr, text(data)),
            )?
        }
        RecordType::Orig | RecordType::Rcpt | RecordType::Done | RecordType::Cancelled => {
            let what = match h.kind {
                RecordType::Orig => "original_recipient",
                RecordType::Rcpt => "recipient",
                RecordType::Done => "done_recipient",
                _ => "canceled_recipient",
            };
            p.line(h.offset, kind, &format!("{}: {}", what, text(data)))?
        }
        RecordType::Filter => p.line(h.offset, kind, &format!("content_filter: {}", text(data)))?,
        RecordType::Redirect => p.line(h.offset, kind, &format!("redirect_to: {}", text(data)))?,
        RecordType::WarnTime => {
            let v = <[u8; 8]>::try_from(data).map_or(0, u64::from_le_bytes);
            if v != 0 && v != WARN_SENT {
                p.line(
                    h.offset,
                    kind,
                    &format!("warning_message_time: {}", asctime(v)),
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        use queue::{Layout, NewRecipient, Writer};
        let d = std::env::temp_dir().join(format!("postcat-{}", std::process::id()));
        std::fs::create_dir_all(d.join("incoming")).unwrap();
        let l = Layout::new(&d);
        let mut w = Writer::create(&l, "incoming").unwrap();
        w.time(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .unwrap();
        w.record(RecordType::Sender, b"s@example.com").unwrap();
        w.attr("sender_fullname", "Joe").unwrap();
        w.attr("rewrite_context", "local").unwrap();
        w.record(RecordType::DsnRet, b"2").unwrap();
        w.recipient(&NewRecipient {
            address: "r@example.com",
            orig: "R@example.com",
            notify: 2,
            orcpt: "rfc822;R@example.com",
        })
        .unwrap();
        w.begin_content().unwrap();
        w.content(b"Subject: x\n\tmore\n\nbody\n").unwrap();
        w.end_content().unwrap();
        let path = w.path().to_path_buf();
        w.commit().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        bytes
    }

    fn run(opts: Options) -> String {
        let bytes = sample();
        let size = size_from(&bytes);
        let mut out = Vec::new();
        file(&bytes[..], "incoming/X", &opts, &mut out, size).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn size_from(bytes: &[u8]) -> Option<(u64, String)> {
        let mut s = RecordStream::new(bytes);
        s.magic().ok()?;
        while let Ok(Some((h, d))) = s.next_record() {
            if h.kind == RecordType::Size {
                return Some((
                    h.offset,
                    format!("message_size: {}", String::from_utf8_lossy(&d)),
                ));
            }
        }
        None
    }

    #[test]
    fn postfix_layout_and_order() {
        let all = Options {
            envelope: true,
            header: true,
            body: true,
            ..Options::default()
        };
        let expect = format!(
            "*** ENVELOPE RECORDS incoming/X ***\n\
             message_size: 27\n\
             message_arrival_time: {}\n\
             named_attribute: ret_flags=2\n\
             named_attribute: rewrite_context=local\n\
             sender_fullname: Joe\n\
             sender: s@example.com\n\
             named_attribute: notify_flags=2\n\
             named_attribute: dsn_orig_rcpt=rfc822;R@example.com\n\
             original_recipient: R@example.com\n\
             recipient: r@example.com\n\
             *** MESSAGE CONTENTS incoming/X ***\n\
             Subject: x\n\
             \tmore\n\
             \n\
             body\n\
             *** HEADER EXTRACTED incoming/X ***\n\
             *** MESSAGE FILE END incoming/X ***\n",
            asctime(1_700_000_000)
        );
        assert_eq!(run(all), expect);
        let body = run(Options {
            body: true,
            ..Options::default()
        });
        assert_eq!(body, "\nbody\n");
        let header = run(Options {
            header: true,
            ..Options::default()
        });
        assert_eq!(header, "Subject: x\n\tmore\n");
        let typed = run(Options {
            envelope: true,
            types: true,
            offsets: true,
            ..Options::default()
        });
        let lines: Vec<&str> = typed.lines().collect();
        assert_eq!(lines[0], "*** ENVELOPE RECORDS incoming/X ***");
        assert!(lines[2].contains(" 84 message_arrival_time: "), "{typed}");
        assert!(lines[5].contains(" 70 sender_fullname: Joe"), "{typed}");
        assert!(lines.last().unwrap().contains(" 69 *** MESSAGE FILE END"));
        let mut out = Vec::new();
        assert!(matches!(
            file(
                &b"not a queue file"[..],
                "x",
                &Options::default(),
                &mut out,
                None
            ),
            Err(ShowError::NotQueueFile)
        ));
    }

    #[test]
    fn header_lines() {
        assert!(is_header_line(b"Subject: x"));
        assert!(is_header_line(b"\tcontinued"));
        assert!(!is_header_line(b""));
        assert!(!is_header_line(b"body text"));
        assert!(!is_header_line(b": x"));
        assert!(!is_header_line(b"a b: c"));
    }
}
