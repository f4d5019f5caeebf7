//! # NAME
//! maildrop — files in `maildrop/`, written by sendmail(1) and postdrop(1)
//!
//! ## SYNOPSIS
//! ```ignore
//! let id = maildrop::write(&layout, &Submission { .. }, &mut content)?;   // durable
//! let sub = maildrop::read(&path, limits)?;                              // pickup(8)
//! ```
//!
//! ## DESCRIPTION
//! A maildrop file uses the queue file format ([`crate::record`]) but may
//! hold only these records: `T` time, `S` sender, `A` with the names in
//! [`ATTRS`], `O`/`n`/`o` before `R` recipients, `<` RET, `i` ENVID, `M`
//! content, `X`, `E`. It is committed like a queue file (mode 0700, file
//! and directory fsynced) before sendmail(1) exits 0.
//!
//! Any local user can put files here through postdrop(1), so [`read`]
//! trusts nothing: it refuses symbolic links and anything but a regular
//! file, checks every record type and length against [`Limits`], and
//! reports the owner's uid for the warning that names who sent a bad file.
//!
//! ## SEE ALSO
//! postdrop(1), pickup(8), [`crate::file`]

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

use crate::file::{Layout, NewRecipient, Writer};
use crate::id::QueueId;
use crate::record::{self, MAGIC, RecordType};

/// The attribute names a maildrop file may carry.
/// `trace_flags=verify` marks an address verification probe (`sendmail -bv`).
pub const ATTRS: &[&str] = &[
    "full_name",
    "extract_recipients",
    "encoding",
    "smtputf8",
    "trace_flags",
];

/// What a local user submits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    pub sender: String,
    pub recipients: Vec<SubmittedRecipient>,
    pub full_name: Option<String>,
    /// `sendmail -t`: recipients come from the headers too.
    pub extract_recipients: bool,
    pub dsn_ret: u32,
    pub dsn_envid: String,
    pub attrs: Vec<(String, String)>,
    /// The message, lines ending in LF (only filled by [`read`]).
    pub content: Vec<u8>,
    /// Owner of the file (only filled by [`read`]).
    pub uid: u32,
    /// Arrival time (only filled by [`read`]).
    pub time: (u64, u32),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmittedRecipient {
    pub address: String,
    pub notify: u32,
    pub orcpt: String,
}

/// Writes a maildrop file from `sub` and the content read from `content`
/// (already in LF form), and commits it. `max_size` bounds the content
/// (`message_size_limit`; 0 = none).
pub fn write(
    layout: &Layout,
    sub: &Submission,
    content: &mut dyn Read,
    max_size: u64,
) -> Result<QueueId, WriteError> {
    write_at(layout, sub, content, max_size, SystemTime::now())
}

/// Like [`write`] with a given arrival time: a message requeued by
/// `postsuper -r` keeps the time it first arrived. (A user's time is
/// never taken: [`write`] stamps the current time.)
pub fn write_at(
    layout: &Layout,
    sub: &Submission,
    content: &mut dyn Read,
    max_size: u64,
    time: SystemTime,
) -> Result<QueueId, WriteError> {
    let mut w = Writer::create_with_mode(layout, "maildrop", 0o644).map_err(WriteError::Io)?;
    w.time(time).map_err(WriteError::Io)?;
    w.record(RecordType::Sender, sub.sender.as_bytes())
        .map_err(WriteError::Io)?;
    if let Some(f) = &sub.full_name {
        w.attr("full_name", f).map_err(WriteError::Io)?;
    }
    if sub.extract_recipients {
        w.attr("extract_recipients", "yes")
            .map_err(WriteError::Io)?;
    }
    for (n, v) in &sub.attrs {
        w.attr(n, v).map_err(WriteError::Io)?;
    }
    if sub.dsn_ret != 0 {
        w.record(RecordType::DsnRet, sub.dsn_ret.to_string().as_bytes())
            .map_err(WriteError::Io)?;
    }
    if !sub.dsn_envid.is_empty() {
        w.record(RecordType::DsnEnvid, sub.dsn_envid.as_bytes())
            .map_err(WriteError::Io)?;
    }
    for r in &sub.recipients {
        w.recipient(&NewRecipient {
            address: &r.address,
            orig: "",
            notify: r.notify,
            orcpt: &r.orcpt,
        })
        .map_err(WriteError::Io)?;
    }
    w.begin_content().map_err(WriteError::Io)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WriteError::Input(e)),
        };
        w.content(&buf[..n]).map_err(WriteError::Io)?;
        if max_size > 0 && w.content_size() > max_size {
            return Err(WriteError::TooBig);
        }
    }
    w.end_content().map_err(WriteError::Io)?;
    w.commit().map_err(WriteError::Io)
}

/// Why a maildrop file was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Writing the file failed (disk full, permissions): try again later.
    #[error("{0}")]
    Io(io::Error),
    /// Reading the message failed.
    #[error("read message: {0}")]
    Input(io::Error),
    /// The message is larger than `message_size_limit`.
    #[error("message file too big")]
    TooBig,
}

/// Bounds for [`read`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file accepted.
    pub max_file: u64,
    /// Longest sender, recipient or attribute.
    pub max_field: usize,
    pub max_recipients: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file: 64 * 1024 * 1024,
            max_field: 4096,
            max_recipients: 100_000,
        }
    }
}

/// Why a maildrop file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Could not read it now (it may be fine later).
    #[error("{0}")]
    Io(io::Error),
    /// Not complete yet.
    #[error("file is not complete")]
    Incomplete,
    /// The file is bad: remove it and warn.
    #[error("{0}")]
    Bad(String),
}

/// Reads and checks a maildrop file.
pub fn read(path: &Path, limits: Limits) -> Result<Submission, ReadError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                ReadError::Bad("symbolic link".into())
            } else {
                ReadError::Io(e)
            }
        })?;
    let meta = f.metadata().map_err(ReadError::Io)?;
    let mut sub = Submission {
        uid: meta.uid(),
        ..Default::default()
    };
    if !meta.is_file() {
        return Err(ReadError::Bad("not a regular file".into()));
    }
    if meta.nlink() > 1 {
        return Err(ReadError::Bad("file has more than one name".into()));
    }
    if meta.mode() & 0o700 != 0o700 {
        return Err(ReadError::Incomplete);
    }
    if meta.len() > limits.max_file {
        return Err(ReadError::Bad(format!(
            "file too big: {} bytes",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&f as &File)
        .take(limits.max_file + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    parse(&bytes, limits, &mut sub)?;
    Ok(sub)
}

/// The maildrop-format bytes of a submission (what sendmail(1) pipes to
/// postdrop(1)).
pub fn encode(sub: &Submission) -> Vec<u8> {
    let mut b = Vec::with_capacity(sub.content.len() + 512);
    b.extend_from_slice(MAGIC);
    let (s, us) = {
        let d = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs(), d.subsec_micros())
    };
    record::put(&mut b, RecordType::Time, format!("{s} {us}").as_bytes());
    record::put(&mut b, RecordType::Sender, sub.sender.as_bytes());
    if let Some(f) = &sub.full_name {
        record::put(
            &mut b,
            RecordType::Attr,
            format!("full_name={f}").as_bytes(),
        );
    }
    if sub.extract_recipients {
        record::put(&mut b, RecordType::Attr, b"extract_recipients=yes");
    }
    for (n, v) in &sub.attrs {
        record::put(&mut b, RecordType::Attr, format!("{n}={v}").as_bytes());
    }
    if sub.dsn_ret != 0 {
        record::put(
            &mut b,
            RecordType::DsnRet,
            sub.dsn_ret.to_string().as_bytes(),
        );
    }
    if !sub.dsn_envid.is_empty() {
        record::put(&mut b, RecordType::DsnEnvid, sub.dsn_envid.as_bytes());
    }
    for r in &sub.recipients {
        if r.notify != 0 {
            record::put(
                &mut b,
                RecordType::DsnNotify,
                r.notify.to_string().as_bytes(),
            );
        }
        if !r.orcpt.is_empty() {
            record::put(&mut b, RecordType::DsnOrcpt, r.orcpt.as_bytes());
        }
        record::put(&mut b, RecordType::Rcpt, r.address.as_bytes());
    }
    record::put_content_header(&mut b, sub.content.len() as u64);
    b.extend_from_slice(&sub.content);
    record::put(&mut b, RecordType::Extracted, b"");
    record::put(&mut b, RecordType::End, b"");
    b
}

/// Checks maildrop-format bytes from an untrusted source (postdrop's
/// standard input).
pub fn parse_bytes(bytes: &[u8], limits: Limits) -> Result<Submission, ReadError> {
    let mut sub = Submission::default();
    parse(bytes, limits, &mut sub)?;
    Ok(sub)
}

fn parse(bytes: &[u8], limits: Limits, sub: &mut Submission) -> Result<(), ReadError> {
    let bad = |m: String| ReadError::Bad(m);
    if !bytes.starts_with(MAGIC) {
        return Err(bad("not a maildrop file".into()));
    }
    let mut pos = MAGIC.len();
    let (mut notify, mut orcpt) = (0u32, String::new());
    let (mut have_time, mut have_sender, mut have_content) = (false, false, false);
    loop {
        let h = match record::header(bytes, pos, 0) {
            Ok(Some(h)) => h,
            Ok(None) => return Err(bad("premature end of file".into())),
            Err(e) => return Err(bad(format!("unexpected or malformed record: {e}"))),
        };
        let end = usize::try_from(h.next()).map_err(|_| bad("bad length".into()))?;
        if end > bytes.len() {
            return Err(bad("premature end of file".into()));
        }
        let data = &bytes[h.data as usize..end];
        let text = || -> Result<String, ReadError> {
            if data.len() > limits.max_field && h.kind != RecordType::Content {
                return Err(bad(format!("record of {} bytes is too long", data.len())));
            }
            if data.contains(&0) || data.contains(&b'\n') {
                return Err(bad("record with NUL or newline".into()));
            }
            String::from_utf8(data.to_vec()).map_err(|_| bad("record is not UTF-8".into()))
        };
        match h.kind {
            RecordType::Time => {
                let t = text()?;
                let mut it = t.split(' ');
                let s = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| bad("bad time record".into()))?;
                sub.time = (s, it.next().and_then(|v| v.parse().ok()).unwrap_or(0));
                have_time = true;
            }
            RecordType::Sender if !have_sender => {
                sub.sender = text()?;
                have_sender = true;
            }
            RecordType::Attr => {
                let t = text()?;
                let (n, v) = t
                    .split_once('=')
                    .ok_or_else(|| bad("attribute without '='".into()))?;
                match n {
                    "full_name" => sub.full_name = Some(v.to_string()),
                    "extract_recipients" => sub.extract_recipients = v == "yes",
                    _ if ATTRS.contains(&n) => sub.attrs.push((n.to_string(), v.to_string())),
                    _ => return Err(bad(format!("unexpected attribute \"{n}\""))),
                }
            }
            RecordType::DsnNotify => {
                notify = text()?
                    .parse()
                    .map_err(|_| bad("bad NOTIFY record".into()))?
            }
            RecordType::DsnOrcpt => orcpt = text()?,
            RecordType::DsnRet => {
                sub.dsn_ret = text()?.parse().map_err(|_| bad("bad RET record".into()))?
            }
            RecordType::DsnEnvid => sub.dsn_envid = text()?,
            RecordType::Rcpt => {
                if sub.recipients.len() >= limits.max_recipients {
                    return Err(bad("too many recipients".into()));
                }
                sub.recipients.push(SubmittedRecipient {
                    address: text()?,
                    notify: std::mem::take(&mut notify),
                    orcpt: std::mem::take(&mut orcpt),
                });
            }
            RecordType::Content if !have_content => {
                sub.content = data.to_vec();
                have_content = true;
            }
            RecordType::Extracted if have_content => {}
            RecordType::End => {
                if !(have_time && have_sender && have_content) {
                    return Err(bad("missing time, sender or content record".into()));
                }
                if end != bytes.len() {
                    return Err(bad("data after the end record".into()));
                }
                return Ok(());
            }
            other => {
                return Err(bad(format!(
                    "unexpected record type '{}'",
                    other as u8 as char
                )));
            }
        }
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn layout() -> Layout {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("queue-maildrop-{}-{}", std::process::id(), n));
        std::fs::create_dir_all(d.join("maildrop")).unwrap();
        Layout::new(&d)
    }

    #[test]
    fn round_trip() {
        let l = layout();
        let sub = Submission {
            sender: "user".into(),
            recipients: vec![SubmittedRecipient {
                address: "a@b".into(),
                notify: 2,
                orcpt: "rfc822;a@b".into(),
            }],
            full_name: Some("A User".into()),
            extract_recipients: true,
            ..Default::default()
        };
        let id = write(&l, &sub, &mut &b"Subject: x\n\nhi\n"[..], 0).unwrap();
        let got = read(&l.path_of("maildrop", &id), Limits::default()).unwrap();
        assert_eq!(got.sender, "user");
        assert_eq!(got.recipients, sub.recipients);
        assert_eq!(got.full_name.as_deref(), Some("A User"));
        assert!(got.extract_recipients);
        assert_eq!(got.content, b"Subject: x\n\nhi\n");
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn encode_parses() {
        let sub = Submission {
            sender: "".into(),
            recipients: vec![SubmittedRecipient {
                address: "x@y".into(),
                notify: 1,
                orcpt: String::new(),
            }],
            content: b"a\n".to_vec(),
            dsn_envid: "E1".into(),
            ..Default::default()
        };
        let got = parse_bytes(&encode(&sub), Limits::default()).unwrap();
        assert_eq!(
            (got.sender, got.recipients, got.content, got.dsn_envid),
            (sub.sender, sub.recipients, sub.content, sub.dsn_envid)
        );
    }

    #[test]
    fn too_big_leaves_nothing() {
        let l = layout();
        let r = write(&l, &Submission::default(), &mut &[b'x'; 1000][..], 100);
        assert!(matches!(r, Err(WriteError::TooBig)));
        assert_eq!(
            std::fs::read_dir(l.queue_dir.join("maildrop"))
                .unwrap()
                .count(),
            0
        );
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn hostile_files() {
        let l = layout();
        let p = l.queue_dir.join("maildrop/ABCDEF12");
        let write_mode = |bytes: &[u8]| {
            let _ = std::fs::remove_file(&p);
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        };
        let good = {
            let id = write(
                &l,
                &Submission {
                    sender: "u".into(),
                    ..Default::default()
                },
                &mut &b"x\n"[..],
                0,
            )
            .unwrap();
            let gp = l.path_of("maildrop", &id);
            let b = std::fs::read(&gp).unwrap();
            std::fs::remove_file(gp).unwrap();
            b
        };
        // Truncated anywhere.
        for cut in 0..good.len() {
            write_mode(&good[..cut]);
            assert!(
                matches!(read(&p, Limits::default()), Err(ReadError::Bad(_))),
                "cut {cut}"
            );
        }
        // A record queue files have but maildrop files must not.
        let mut extra = good[..MAGIC.len()].to_vec();
        record::put(&mut extra, RecordType::Done, b"x@y");
        extra.extend_from_slice(&good[MAGIC.len()..]);
        write_mode(&extra);
        assert!(matches!(
            read(&p, Limits::default()),
            Err(ReadError::Bad(_))
        ));
        // Unknown attribute.
        let mut attr = good[..MAGIC.len()].to_vec();
        record::put(&mut attr, RecordType::Attr, b"client_address=1.2.3.4");
        attr.extend_from_slice(&good[MAGIC.len()..]);
        write_mode(&attr);
        assert!(matches!(
            read(&p, Limits::default()),
            Err(ReadError::Bad(_))
        ));
        // Symbolic link.
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink("/etc/passwd", &p).unwrap();
        assert!(matches!(
            read(&p, Limits::default()),
            Err(ReadError::Bad(_))
        ));
        // Too big.
        let _ = std::fs::remove_file(&p);
        write_mode(&good);
        assert!(matches!(
            read(
                &p,
                Limits {
                    max_file: 10,
                    ..Limits::default()
                }
            ),
            Err(ReadError::Bad(_))
        ));
        // Incomplete.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read(&p, Limits::default()),
            Err(ReadError::Incomplete)
        ));
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }
}
