//! # NAME
//! file — create, commit, read and mark queue files
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut w = Writer::create(&layout, "incoming")?;
//! w.record(RecordType::Sender, b"user@example.com")?;
//! w.begin_content()?; w.content(b"Subject: hi\n\nbody\n")?; w.end_content()?;
//! let id = w.commit()?;                      // durable when this returns
//!
//! let mut f = QueueFile::open(&layout, "active", &id)?;
//! let env = f.read_envelope()?;
//! f.mark_done(env.recipients[0].offset)?;
//! ```
//!
//! ## DESCRIPTION
//! **Creation.** A file is created under a temporary name with mode 0600
//! (`O_EXCL`), then renamed, without replacing anything, to its queue ID,
//! made from the time and its inode number ([`crate::id`]).
//!
//! **Commit** (durability rule 1): the end record is written, the content
//! length filled in, the mode set to 0700 — the mark that the file is
//! complete — and the file and then its directory are fsynced. Only then
//! does the caller acknowledge the message. A file in a queue whose owner
//! permissions are not `rwx` is still being written, or was abandoned by a
//! crash, and is not a message.
//!
//! **Reading** takes the envelope and the extracted segment and skips the
//! content with one seek. **Marking** a recipient done (rule 2) overwrites
//! one byte in place, after checking that it is an `R`; it is flushed, not
//! fsynced: a crash may repeat a delivery, never lose one.
//!
//! **Locking**: the queue manager holds an exclusive lock on a file it is
//! working on; delivery agents take a shared one.
//!
//! ## SEE ALSO
//! [`crate::record`], [`crate::id`], DESIGN.md "Durability rules"

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::id::QueueId;
use crate::record::{self, Header, MAGIC, RecordError, RecordType};

/// The queue directory and its hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub queue_dir: PathBuf,
    /// Queues that use hashed subdirectories (`hash_queue_names`).
    pub hashed: Vec<String>,
    /// Levels of subdirectories (`hash_queue_depth`).
    pub depth: usize,
    /// `enable_long_queue_ids`.
    pub long_ids: bool,
}

impl Layout {
    /// A layout with Postfix's defaults (`deferred` and `defer` hashed one
    /// level deep, short IDs).
    pub fn new(queue_dir: &Path) -> Layout {
        Layout {
            queue_dir: queue_dir.to_path_buf(),
            hashed: vec!["deferred".into(), "defer".into()],
            depth: 1,
            long_ids: false,
        }
    }

    /// From main.cf.
    pub fn from_config(cfg: &config::Config) -> Result<Layout, config::ConfigError> {
        use config::params;
        Ok(Layout {
            queue_dir: PathBuf::from(cfg.str(&params::QUEUE_DIRECTORY)?),
            hashed: cfg.list(&params::HASH_QUEUE_NAMES)?,
            depth: cfg.int(&params::HASH_QUEUE_DEPTH)?.clamp(1, 16) as usize,
            long_ids: cfg.bool(&params::ENABLE_LONG_QUEUE_IDS)?,
        })
    }

    /// The directory that holds `id` in `queue`.
    pub fn dir_of(&self, queue: &str, id: &QueueId) -> PathBuf {
        let mut p = self.queue_dir.join(queue);
        if self.hashed.iter().any(|q| q == queue) {
            for d in id.hash_dirs(self.depth) {
                p.push(d);
            }
        }
        p
    }

    /// The path of `id` in `queue`.
    pub fn path_of(&self, queue: &str, id: &QueueId) -> PathBuf {
        self.dir_of(queue, id).join(id.as_str())
    }

    /// Moves a file between queues (creating a hash directory if needed).
    /// The move is not fsynced: after a crash the file is found in one
    /// queue or the other, and either is safe (qmgr(8) requeues what it
    /// finds in `active`); callers that need the move durable (a hold
    /// requested by the administrator) use [`Layout::move_file_durably`].
    pub fn move_file(&self, id: &QueueId, from: &str, to: &str) -> io::Result<()> {
        let src = self.path_of(from, id);
        let dst_dir = self.dir_of(to, id);
        let dst = dst_dir.join(id.as_str());
        match std::fs::rename(&src, &dst) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && !dst_dir.exists() => {
                std::fs::create_dir_all(&dst_dir)?;
                std::fs::rename(&src, &dst)?;
            }
            r => r?,
        }
        Ok(())
    }

    /// Like [`Layout::move_file`], and the new directory entry is durable.
    pub fn move_file_durably(&self, id: &QueueId, from: &str, to: &str) -> io::Result<()> {
        self.move_file(id, from, to)?;
        sys::fs::fsync_dir(&self.dir_of(to, id))
    }
}

/// Why a queue file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A system call failed; the file may be fine.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is damaged and belongs in `corrupt/`.
    #[error("corrupt queue file: {0}")]
    Corrupt(#[from] RecordError),
    /// The file is not complete yet (or was abandoned while being written).
    #[error("queue file is not complete")]
    Incomplete,
}

/// The permission bit that marks a message for forced expiration
/// (`postsuper -e`); mailq(1) shows it as `#`.
pub const MODE_EXPIRE: u32 = 0o010;

/// Whether the permissions `mode` of a queue file mark it for forced
/// expiration.
pub fn mode_is_forced_expire(mode: u32) -> bool {
    mode & MODE_EXPIRE != 0
}

/// Whether the permissions `mode` of a queue file say it is complete.
pub fn mode_is_complete(mode: u32) -> bool {
    mode & 0o700 == 0o700
}

/// A queue file being written.
pub struct Writer {
    file: File,
    id: QueueId,
    path: PathBuf,
    /// Permission bits; commit adds the owner's rwx.
    mode: u32,
    buf: Vec<u8>,
    /// Bytes already in the file.
    flushed: u64,
    /// File offset of the content record, once started.
    content_at: Option<u64>,
    content_len: u64,
    /// Whether this is a queue file (not a maildrop file): it gets the
    /// warning time and size records.
    queue_records: bool,
    /// Whether the envelope already has a warning time record.
    has_warn: bool,
    /// Whether [`Writer::end_content`] was called.
    content_ended: bool,
    /// The message size as Postfix counts it, for complete lines so far.
    postfix_size: u64,
    /// Length of the line being written (no newline seen yet).
    line_len: u64,
    committed: bool,
}

/// Buffer size before a write system call.
const WRITE_CHUNK: usize = 64 * 1024;

fn now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros())
}

impl Writer {
    /// Creates a new file in `queue` (normally `incoming`, or `maildrop`
    /// for postdrop(1)). The caller should write the arrival time first.
    pub fn create(layout: &Layout, queue: &str) -> io::Result<Writer> {
        Self::create_with_mode(layout, queue, 0o600)
    }

    /// Like [`Writer::create`] with other permission bits; commit adds the
    /// owner's execute bit. maildrop files are 0644 (0744 when complete)
    /// so that pickup(8) can read the files of every user.
    pub fn create_with_mode(layout: &Layout, queue: &str, mode: u32) -> io::Result<Writer> {
        let dir = layout.queue_dir.join(queue);
        let (sec, usec) = now();
        let tmp = dir.join(format!("{}.{}", usec, std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask must not take away the read bits others need.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        let inode = file.metadata()?.ino();
        let mut attempt = 0u32;
        loop {
            let (sec2, usec2) = if attempt == 0 { (sec, usec) } else { now() };
            let id = QueueId::new(sec2, usec2, inode, layout.long_ids);
            let path = layout.path_of(queue, &id);
            match nix::fcntl::renameat2(
                nix::fcntl::AT_FDCWD,
                &tmp,
                nix::fcntl::AT_FDCWD,
                &path,
                nix::fcntl::RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => {
                    let mut buf = Vec::with_capacity(WRITE_CHUNK);
                    buf.extend_from_slice(MAGIC);
                    return Ok(Writer {
                        file,
                        id,
                        path,
                        mode,
                        buf,
                        flushed: 0,
                        content_at: None,
                        content_len: 0,
                        queue_records: queue != "maildrop",
                        has_warn: false,
                        content_ended: false,
                        postfix_size: 0,
                        line_len: 0,
                        committed: false,
                    });
                }
                Err(nix::errno::Errno::EEXIST) if attempt < 100 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_micros(1));
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
            }
        }
    }

    pub fn id(&self) -> &QueueId {
        &self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Bytes of content written so far.
    pub fn content_size(&self) -> u64 {
        self.content_len
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= WRITE_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.flushed += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Appends a record.
    pub fn record(&mut self, t: RecordType, data: &[u8]) -> io::Result<()> {
        if t == RecordType::WarnTime {
            self.has_warn = true;
        }
        record::put(&mut self.buf, t, data);
        self.maybe_flush()
    }

    /// Counts content bytes as Postfix would store them, line by line.
    fn count_lines(&mut self, mut bytes: &[u8]) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.postfix_size += record::postfix_line_size(self.line_len + i as u64);
            self.line_len = 0;
            bytes = &bytes[i + 1..];
        }
        self.line_len += bytes.len() as u64;
    }

    /// The message size as Postfix counts it (for the size record).
    pub fn postfix_size(&self) -> u64 {
        if self.line_len > 0 {
            self.postfix_size + record::postfix_line_size(self.line_len)
        } else {
            self.postfix_size
        }
    }

    /// The arrival time record.
    pub fn time(&mut self, t: SystemTime) -> io::Result<()> {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.record(
            RecordType::Time,
            format!("{} {}", d.as_secs(), d.subsec_micros()).as_bytes(),
        )
    }

    /// A `name=value` attribute.
    pub fn attr(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.record(RecordType::Attr, format!("{name}={value}").as_bytes())
    }

    /// A recipient with its original address and DSN settings.
    pub fn recipient(&mut self, r: &NewRecipient<'_>) -> io::Result<()> {
        if !r.orig.is_empty() {
            self.record(RecordType::Orig, r.orig.as_bytes())?;
        }
        if r.notify != 0 {
            self.record(RecordType::DsnNotify, r.notify.to_string().as_bytes())?;
        }
        if !r.orcpt.is_empty() {
            self.record(RecordType::DsnOrcpt, r.orcpt.as_bytes())?;
        }
        self.record(RecordType::Rcpt, r.address.as_bytes())
    }

    pub fn begin_content(&mut self) -> io::Result<()> {
        if self.queue_records && !self.has_warn {
            self.record(RecordType::WarnTime, &0u64.to_le_bytes())?;
        }
        self.content_at = Some(self.size());
        record::put_content_header(&mut self.buf, 0);
        Ok(())
    }

    /// Appends content bytes (lines ending in LF).
    pub fn content(&mut self, bytes: &[u8]) -> io::Result<()> {
        debug_assert!(self.content_at.is_some(), "invariant: begin_content first");
        self.content_len += bytes.len() as u64;
        self.count_lines(bytes);
        if bytes.len() >= WRITE_CHUNK {
            self.flush()?;
            self.file.write_all(bytes)?;
            self.flushed += bytes.len() as u64;
            return Ok(());
        }
        self.buf.extend_from_slice(bytes);
        self.maybe_flush()
    }

    /// Ends the content and starts the extracted segment.
    pub fn end_content(&mut self) -> io::Result<()> {
        let at = self.content_at.expect("invariant: begin_content first");
        self.content_ended = true;
        let len = self.content_len.to_le_bytes();
        if at >= self.flushed {
            let i = (at - self.flushed) as usize + 1;
            self.buf[i..i + 8].copy_from_slice(&len);
        } else {
            self.flush()?;
            self.file.write_all_at(&len, at + 1)?;
        }
        self.record(RecordType::Extracted, b"")
    }

    /// Ends the content if needed and adds the size record.
    fn finish_records(&mut self) -> io::Result<()> {
        if self.content_at.is_none() {
            self.begin_content()?;
        }
        if !self.content_ended {
            self.end_content()?;
        }
        if self.queue_records {
            let size = self.postfix_size().to_string();
            self.record(RecordType::Size, size.as_bytes())?;
        }
        Ok(())
    }

    /// Makes the file complete and durable; returns its ID.
    pub fn commit(mut self) -> io::Result<QueueId> {
        self.finish_records()?;
        self.record(RecordType::End, b"")?;
        self.flush()?;
        self.file
            .set_permissions(std::fs::Permissions::from_mode(self.mode | 0o700))?;
        self.file.sync_all()?;
        sys::fs::fsync_entry(sys::fs::parent_dir(&self.path), &self.file)?;
        self.committed = true;
        Ok(self.id.clone())
    }

    /// Like [`Writer::commit`], and the file ends up in `queue` of
    /// `layout` instead of the queue it was created in (cleanup(8) puts a
    /// message on hold this way): the complete file is fsynced, renamed,
    /// and the directory it moved to is fsynced. A crash before the rename
    /// leaves a complete file in the original queue.
    pub fn commit_to(mut self, layout: &Layout, queue: &str) -> io::Result<QueueId> {
        self.finish_records()?;
        self.record(RecordType::End, b"")?;
        self.flush()?;
        self.file
            .set_permissions(std::fs::Permissions::from_mode(self.mode | 0o700))?;
        self.file.sync_all()?;
        let dir = layout.dir_of(queue, &self.id);
        let dst = dir.join(self.id.as_str());
        match std::fs::rename(&self.path, &dst) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => {
                std::fs::create_dir_all(&dir)?;
                std::fs::rename(&self.path, &dst)?;
            }
            r => r?,
        }
        // From here the file is in its new queue: never remove it.
        self.committed = true;
        self.path = dst;
        sys::fs::fsync_dir(&dir)?;
        Ok(self.id.clone())
    }

    /// Like [`Writer::commit`] but leaves the directory fsync to the caller,
    /// who may cover several files with one ([`sys::fs::fsync_dir`]).
    pub fn commit_file(mut self) -> io::Result<(QueueId, PathBuf)> {
        self.finish_records()?;
        self.record(RecordType::End, b"")?;
        self.flush()?;
        self.file
            .set_permissions(std::fs::Permissions::from_mode(self.mode | 0o700))?;
        self.file.sync_all()?;
        self.committed = true;
        Ok((self.id.clone(), self.path.clone()))
    }

    /// Gives up: removes the file.
    pub fn abort(mut self) {
        self.committed = true;
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A recipient to write.
#[derive(Debug, Clone, Default)]
pub struct NewRecipient<'a> {
    pub address: &'a str,
    pub orig: &'a str,
    pub notify: u32,
    pub orcpt: &'a str,
}

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcptState {
    Todo,
    Done,
    Cancelled,
}

/// A recipient as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    pub orig: String,
    pub notify: u32,
    pub orcpt: String,
    /// File offset of the recipient record (for [`QueueFile::mark_done`]).
    pub offset: u64,
    pub state: RcptState,
}

/// The envelope and extracted records of a queue file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub arrival: (u64, u32),
    pub sender: String,
    pub attrs: Vec<(String, String)>,
    pub recipients: Vec<Recipient>,
    pub dsn_ret: u32,
    pub dsn_envid: String,
    /// (offset, value) of the warning time record, if any.
    pub warn_time: Option<(u64, u64)>,
    /// Offset and length of the message content.
    pub content_offset: u64,
    pub content_len: u64,
    /// The size record, if the file has one.
    pub message_size: Option<u64>,
    /// The content filter (`transport:nexthop`) every recipient goes to,
    /// if the file names one ([`RecordType::Filter`]).
    pub filter: Option<String>,
    /// The address the message goes to instead of its recipients, if
    /// the file names one ([`RecordType::Redirect`]).
    pub redirect: Option<String>,
}

impl Envelope {
    /// The message size as Postfix reports it (mailq(1), `size=` in the
    /// log): the size record, or the content length for a file without one.
    pub fn size(&self) -> u64 {
        self.message_size.unwrap_or(self.content_len)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An open queue file.
pub struct QueueFile {
    pub file: File,
    pub id: QueueId,
    pub path: PathBuf,
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

impl QueueFile {
    /// Opens `id` in `queue` for reading and marking.
    pub fn open(layout: &Layout, queue: &str, id: &QueueId) -> io::Result<QueueFile> {
        let path = layout.path_of(queue, id);
        Self::open_path(&path, id)
    }

    /// Opens a file by path for reading only (showq(8), postcat(1));
    /// refuses symbolic links and anything but a regular file.
    pub fn open_read(path: &Path, id: &QueueId) -> io::Result<QueueFile> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        Ok(QueueFile {
            file,
            id: id.clone(),
            path: path.to_path_buf(),
        })
    }

    /// Whether an administrator asked for the message to expire
    /// (`postsuper -e`, `-f`): the group execute bit, as with Postfix.
    pub fn is_forced_expire(&self) -> io::Result<bool> {
        Ok(self.file.metadata()?.mode() & MODE_EXPIRE != 0)
    }

    /// Opens a file by path; refuses symbolic links.
    pub fn open_path(path: &Path, id: &QueueId) -> io::Result<QueueFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)?;
        Ok(QueueFile {
            file,
            id: id.clone(),
            path: path.to_path_buf(),
        })
    }

    /// Takes a non-blocking lock on the file: exclusive for the queue
    /// manager, shared for delivery agents. `Ok(None)` when another
    /// process holds a conflicting lock. The lock is released when the
    /// returned guard is dropped.
    pub fn lock(&self, exclusive: bool) -> io::Result<Option<nix::fcntl::Flock<File>>> {
        use nix::fcntl::{Flock, FlockArg};
        let arg = if exclusive {
            FlockArg::LockExclusiveNonblock
        } else {
            FlockArg::LockSharedNonblock
        };
        match Flock::lock(self.file.try_clone()?, arg) {
            Ok(l) => Ok(Some(l)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e.into()),
        }
    }

    /// Whether the file has been committed (owner permissions `rwx`).
    pub fn is_complete(&self) -> io::Result<bool> {
        Ok(mode_is_complete(self.file.metadata()?.mode()))
    }

    /// Reads the envelope and the extracted segment, skipping the content.
    pub fn read_envelope(&mut self) -> Result<Envelope, QueueError> {
        if !self.is_complete()? {
            return Err(QueueError::Incomplete);
        }
        let mut reader = Reader::new(&mut self.file)?;
        parse_envelope(&mut reader)
    }

    /// Reads `len` bytes of content from `offset` (delivery agents stream
    /// it instead, through [`QueueFile::content_reader`]).
    pub fn content_reader(&mut self, env: &Envelope) -> io::Result<io::Take<&mut File>> {
        self.file.seek(SeekFrom::Start(env.content_offset))?;
        Ok((&mut self.file).take(env.content_len))
    }

    /// Marks the recipient record at `offset` done (deliver_completed).
    pub fn mark_done(&self, offset: u64) -> io::Result<()> {
        self.mark(offset, RecordType::Done)
    }

    /// Marks the recipient record at `offset` cancelled.
    pub fn mark_cancelled(&self, offset: u64) -> io::Result<()> {
        self.mark(offset, RecordType::Cancelled)
    }

    fn mark(&self, offset: u64, to: RecordType) -> io::Result<()> {
        let mut b = [0u8; 1];
        self.file.read_exact_at(&mut b, offset)?;
        if b[0] != RecordType::Rcpt as u8 && b[0] != to as u8 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: offset {} is not a recipient record", self.id, offset),
            ));
        }
        self.file.write_all_at(&[to as u8], offset)
    }

    /// Updates the warning time record in place.
    pub fn set_warn_time(&self, offset: u64, secs: u64) -> io::Result<()> {
        self.file.write_all_at(&secs.to_le_bytes(), offset)
    }
}

/// A buffered reader that knows file offsets.
struct Reader<'a> {
    file: &'a mut File,
    buf: Vec<u8>,
    /// File offset of buf[0].
    base: u64,
    pos: usize,
    eof: bool,
}

impl<'a> Reader<'a> {
    fn new(file: &'a mut File) -> io::Result<Reader<'a>> {
        file.seek(SeekFrom::Start(0))?;
        let mut r = Reader {
            file,
            buf: Vec::with_capacity(16384),
            base: 0,
            pos: 0,
            eof: false,
        };
        r.fill()?;
        Ok(r)
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.eof {
            return Ok(());
        }
        self.buf.drain(..self.pos);
        self.base += self.pos as u64;
        self.pos = 0;
        let old = self.buf.len();
        self.buf.resize(old + 16384, 0);
        let n = self.file.read(&mut self.buf[old..])?;
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next record and its data (content data is not read).
    fn next(&mut self) -> Result<(Header, Vec<u8>), QueueError> {
        loop {
            match record::header(&self.buf, self.pos, self.base)? {
                Some(h) if h.kind == RecordType::Content => {
                    self.skip_to(h.next())?;
                    return Ok((h, Vec::new()));
                }
                Some(h) if (h.next() - self.base) as usize <= self.buf.len() => {
                    let s = (h.data - self.base) as usize;
                    let data = self.buf[s..s + h.len as usize].to_vec();
                    self.pos = (h.next() - self.base) as usize;
                    return Ok((h, data));
                }
                _ if self.eof => {
                    return Err(RecordError::Truncated(self.base + self.pos as u64).into());
                }
                Some(h) if h.len > 64 * 1024 * 1024 => {
                    return Err(RecordError::BadLength(h.offset).into());
                }
                _ => self.fill()?,
            }
        }
    }

    fn skip_to(&mut self, offset: u64) -> Result<(), QueueError> {
        let size = self.file.metadata()?.len();
        if offset > size {
            return Err(RecordError::Truncated(size).into());
        }
        self.file.seek(SeekFrom::Start(offset))?;
        self.buf.clear();
        self.base = offset;
        self.pos = 0;
        self.eof = false;
        self.fill()?;
        Ok(())
    }

    fn check_magic(&mut self) -> Result<(), QueueError> {
        while self.buf.len() < MAGIC.len() && !self.eof {
            self.fill()?;
        }
        if !self.buf.starts_with(MAGIC) {
            return Err(RecordError::BadMagic.into());
        }
        self.pos = MAGIC.len();
        Ok(())
    }
}

fn parse_envelope(r: &mut Reader<'_>) -> Result<Envelope, QueueError> {
    r.check_magic()?;
    let mut env = Envelope::default();
    let (mut orig, mut notify, mut orcpt) = (String::new(), 0u32, String::new());
    let mut seen_content = false;
    let mut seen_time = false;
    loop {
        let (h, data) = r.next()?;
        let misplaced = |what: &str| {
            QueueError::Corrupt(RecordError::Misplaced(format!(
                "{what} at offset {}",
                h.offset
            )))
        };
        match h.kind {
            RecordType::Time => {
                let t = text(&data);
                let mut it = t.split(' ');
                let secs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| misplaced("bad time record"))?;
                let usec = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                env.arrival = (secs, usec);
                seen_time = true;
            }
            RecordType::Sender => env.sender = text(&data),
            RecordType::Attr => {
                let t = text(&data);
                let (n, v) = t
                    .split_once('=')
                    .ok_or_else(|| misplaced("attribute without '='"))?;
                env.attrs.push((n.to_string(), v.to_string()));
            }
            RecordType::Orig => orig = text(&data),
            RecordType::DsnNotify => {
                notify = text(&data)
                    .parse()
                    .map_err(|_| misplaced("bad NOTIFY record"))?
            }
            RecordType::DsnOrcpt => orcpt = text(&data),
            RecordType::DsnRet => {
                env.dsn_ret = text(&data)
                    .parse()
                    .map_err(|_| misplaced("bad RET record"))?
            }
            RecordType::DsnEnvid => env.dsn_envid = text(&data),
            RecordType::Rcpt | RecordType::Done | RecordType::Cancelled => {
                let state = match h.kind {
                    RecordType::Rcpt => RcptState::Todo,
                    RecordType::Done => RcptState::Done,
                    _ => RcptState::Cancelled,
                };
                env.recipients.push(Recipient {
                    address: text(&data),
                    orig: std::mem::take(&mut orig),
                    notify: std::mem::take(&mut notify),
                    orcpt: std::mem::take(&mut orcpt),
                    offset: h.offset,
                    state,
                });
            }
            RecordType::WarnTime => {
                let v: [u8; 8] = data
                    .as_slice()
                    .try_into()
                    .map_err(|_| misplaced("bad warning time record"))?;
                env.warn_time = Some((h.data, u64::from_le_bytes(v)));
            }
            RecordType::Size => {
                env.message_size = Some(
                    text(&data)
                        .parse()
                        .map_err(|_| misplaced("bad size record"))?,
                );
            }
            RecordType::Content => {
                if seen_content {
                    return Err(misplaced("second content record"));
                }
                seen_content = true;
                env.content_offset = h.data;
                env.content_len = h.len;
            }
            RecordType::Filter => env.filter = Some(text(&data)),
            RecordType::Redirect => env.redirect = Some(text(&data)),
            RecordType::Extracted => {
                if !seen_content {
                    return Err(misplaced("extracted segment before content"));
                }
            }
            RecordType::End => {
                if !seen_content || !seen_time {
                    return Err(misplaced("end record before content and time"));
                }
                return Ok(env);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("queue-file-{}-{}", std::process::id(), n));
        for q in ["incoming", "active", "deferred"] {
            std::fs::create_dir_all(d.join(q)).unwrap();
        }
        Layout::new(&d)
    }

    fn write_one(l: &Layout, body: &[u8]) -> QueueId {
        let mut w = Writer::create(l, "incoming").unwrap();
        w.time(UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
            .unwrap();
        w.record(RecordType::Sender, b"sender@example.com").unwrap();
        w.attr("log_ident", "X").unwrap();
        w.recipient(&NewRecipient {
            address: "a@example.com",
            orig: "A@example.com",
            notify: 6,
            orcpt: "rfc822;A@example.com",
        })
        .unwrap();
        w.recipient(&NewRecipient {
            address: "b@example.com",
            ..Default::default()
        })
        .unwrap();
        w.begin_content().unwrap();
        w.content(body).unwrap();
        w.end_content().unwrap();
        w.recipient(&NewRecipient {
            address: "c@example.com",
            ..Default::default()
        })
        .unwrap();
        w.commit().unwrap()
    }

    #[test]
    fn write_read_mark() {
        let l = layout();
        let id = write_one(&l, b"Subject: hi\n\nbody\n");
        let mut f = QueueFile::open(&l, "incoming", &id).unwrap();
        assert!(f.is_complete().unwrap());
        let env = f.read_envelope().unwrap();
        assert_eq!(env.arrival, (1_700_000_000, 0));
        assert_eq!(env.sender, "sender@example.com");
        assert_eq!(env.attr("log_ident"), Some("X"));
        let addrs: Vec<&str> = env.recipients.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(addrs, ["a@example.com", "b@example.com", "c@example.com"]);
        assert_eq!(env.recipients[0].orig, "A@example.com");
        assert_eq!(env.recipients[0].notify, 6);
        assert_eq!(env.recipients[1].orig, "");
        // Postfix's count: each line as a record of type, length, text.
        assert_eq!(env.message_size, Some(13 + 2 + 6));
        assert_eq!(env.size(), 21);
        let (warn_at, warn) = env.warn_time.unwrap();
        assert_eq!(warn, 0);
        f.set_warn_time(warn_at, record::WARN_SENT).unwrap();
        assert_eq!(
            f.read_envelope().unwrap().warn_time,
            Some((warn_at, record::WARN_SENT))
        );
        assert!(!f.is_forced_expire().unwrap());
        let mut body = String::new();
        f.content_reader(&env)
            .unwrap()
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!(body, "Subject: hi\n\nbody\n");
        f.mark_done(env.recipients[1].offset).unwrap();
        assert!(f.mark_done(env.recipients[1].offset + 1).is_err());
        let env2 = f.read_envelope().unwrap();
        assert_eq!(env2.recipients[1].state, RcptState::Done);
        assert_eq!(env2.recipients[0].state, RcptState::Todo);
        let ex = f.lock(true).unwrap().unwrap();
        let other = QueueFile::open(&l, "incoming", &id).unwrap();
        assert!(other.lock(false).unwrap().is_none());
        drop(ex);
        assert!(other.lock(false).unwrap().is_some());
        l.move_file(&id, "incoming", "deferred").unwrap();
        assert!(l.path_of("deferred", &id).exists());
        assert!(l.path_of("deferred", &id).parent().unwrap() != l.queue_dir.join("deferred"));
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn commit_into_hold_with_filter_and_redirect() {
        let l = layout();
        std::fs::create_dir_all(l.queue_dir.join("hold")).unwrap();
        let mut w = Writer::create(&l, "incoming").unwrap();
        w.time(SystemTime::now()).unwrap();
        w.record(RecordType::Sender, b"s@example.com").unwrap();
        w.recipient(&NewRecipient {
            address: "a@example.com",
            ..Default::default()
        })
        .unwrap();
        w.begin_content().unwrap();
        w.content(b"Subject: held\n\nbody\n").unwrap();
        w.end_content().unwrap();
        w.record(RecordType::Filter, b"smtp:[127.0.0.1]:10025")
            .unwrap();
        w.record(RecordType::Filter, b"scan:").unwrap();
        w.record(RecordType::Redirect, b"other@example.com")
            .unwrap();
        let id = w.commit_to(&l, "hold").unwrap();
        assert!(!l.path_of("incoming", &id).exists());
        let mut f = QueueFile::open(&l, "hold", &id).unwrap();
        assert!(f.is_complete().unwrap());
        let env = f.read_envelope().unwrap();
        // The last filter counts.
        assert_eq!(env.filter.as_deref(), Some("scan:"));
        assert_eq!(env.redirect.as_deref(), Some("other@example.com"));
        assert_eq!(env.recipients.len(), 1);
        // Without those records there is no filter and no redirection.
        let id2 = write_one(&l, b"x\n");
        let env2 = QueueFile::open(&l, "incoming", &id2)
            .unwrap()
            .read_envelope()
            .unwrap();
        assert_eq!((env2.filter, env2.redirect), (None, None));
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn size_counts_unterminated_and_long_lines() {
        let l = layout();
        let mut w = Writer::create(&l, "incoming").unwrap();
        w.time(SystemTime::now()).unwrap();
        w.begin_content().unwrap();
        w.content(b"ab").unwrap();
        w.content(b"c\n").unwrap();
        w.content(&[b'x'; 3000]).unwrap();
        assert_eq!(w.postfix_size(), 5 + record::postfix_line_size(3000));
        let id = w.commit().unwrap();
        let mut f = QueueFile::open(&l, "incoming", &id).unwrap();
        assert_eq!(f.read_envelope().unwrap().size(), 5 + 2051 + 952 + 3);
        // Maildrop files carry neither the size nor the warning record.
        std::fs::create_dir_all(l.queue_dir.join("maildrop")).unwrap();
        let mut w = Writer::create(&l, "maildrop").unwrap();
        w.time(SystemTime::now()).unwrap();
        w.begin_content().unwrap();
        w.content(b"x\n").unwrap();
        w.end_content().unwrap();
        let id = w.commit().unwrap();
        let mut f = QueueFile::open(&l, "maildrop", &id).unwrap();
        let env = f.read_envelope().unwrap();
        assert_eq!((env.message_size, env.warn_time), (None, None));
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn big_content_streams() {
        let l = layout();
        let body: Vec<u8> = (0..300_000u32)
            .map(|i| if i % 80 == 79 { b'\n' } else { b'x' })
            .collect();
        let id = write_one(&l, &body);
        let mut f = QueueFile::open(&l, "incoming", &id).unwrap();
        let env = f.read_envelope().unwrap();
        assert_eq!(env.content_len, body.len() as u64);
        assert_eq!(env.recipients.len(), 3);
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn damaged_files_are_corrupt_or_incomplete() {
        let l = layout();
        let id = write_one(&l, b"x\n");
        let path = l.path_of("incoming", &id);
        let good = std::fs::read(&path).unwrap();
        for cut in [3, 10, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let mut f = QueueFile::open(&l, "incoming", &id).unwrap();
            assert!(
                matches!(f.read_envelope(), Err(QueueError::Corrupt(_))),
                "cut {cut}"
            );
        }
        let mut bad = good.clone();
        bad[MAGIC.len()] = b'?';
        std::fs::write(&path, &bad).unwrap();
        let mut f = QueueFile::open(&l, "incoming", &id).unwrap();
        assert!(matches!(f.read_envelope(), Err(QueueError::Corrupt(_))));
        // Mode 0600: still being written.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(f.read_envelope(), Err(QueueError::Incomplete)));
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let l = layout();
        {
            let mut w = Writer::create(&l, "incoming").unwrap();
            w.record(RecordType::Sender, b"x").unwrap();
        }
        assert_eq!(
            std::fs::read_dir(l.queue_dir.join("incoming"))
                .unwrap()
                .count(),
            0
        );
        std::fs::remove_dir_all(&l.queue_dir).unwrap();
    }
}
