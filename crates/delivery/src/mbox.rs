//! # NAME
//! mbox — delivery to a UNIX mailbox file (mbox_open, deliver_mailbox_file)
//!
//! ## SYNOPSIS
//! ```ignore
//! let locks = mbox::parse_locks("fcntl, dotlock")?;
//! let settings = MboxSettings { locks, size_limit: 51_200_000, .. };
//! let mut mbox = mbox::open_locked(path, &settings, Some((uid, gid)), "5.2.0")?;
//! mbox.append(|f, room| copy::copy(content, f, sender, &opts, room))?;
//! drop(mbox);                                  // unlocks, removes the .lock
//! ```
//!
//! ## DESCRIPTION
//! [`open_locked`] takes the dot-lock (`path.lock`), opens the file with
//! [`sys::fs::safe_open_append`] (creating it mode 0600 and giving it to
//! the recipient when it is missing), checks that the recipient owns it
//! when asked (`strict_mailbox_ownership`), and takes the kernel locks,
//! each lock tried `deliver_lock_attempts` times `deliver_lock_delay`
//! apart. [`LockedMbox::append`] writes at the end, at most up to the
//! size limit, and fsyncs; when anything fails the file is truncated back
//! to its old length, so that a reader never sees half a message.
//!
//! A writer that is killed cannot truncate. So that the next one can, a
//! writer records in its dot-lock file who it is and where its message
//! starts (`pid`, offset, device and inode of the mailbox). A writer
//! that finds the dot-lock of a process that no longer exists takes the
//! lock over (under an flock(2) on the lock file, so that only one does),
//! and truncates the mailbox to the recorded offset before it appends.
//! The killed writer's message was never marked delivered, so it is
//! delivered again in full. Lock files of other programs hold no record
//! and are only removed when stale.
//!
//! Failures carry Postfix's texts: `unable to create lock file X: ...`,
//! `cannot open file: ...`, `file is a symbolic link`, `destination X is
//! not owned by recipient`, `unable to lock for exclusive access: ...`,
//! `error writing message: ...`.
//!
//! ## SEE ALSO
//! [`sys::lock`], [`sys::fs::safe_open_append`], [`crate::copy`]

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use nix::unistd::{Gid, Uid};
use sys::fs::SafeOpenError;
use sys::lock::{DotLock, LockMethod};

use crate::Failure;
use crate::copy::CopyError;

/// Which locks to take (`mailbox_delivery_lock`, `virtual_mailbox_lock`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locks {
    pub dotlock: bool,
    pub kernel: Vec<LockMethod>,
}

/// Parses a lock method list (`fcntl, dotlock`).
pub fn parse_locks(value: &str) -> Result<Locks, String> {
    let mut l = Locks::default();
    for m in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|m| !m.is_empty())
    {
        match m.to_ascii_lowercase().as_str() {
            "dotlock" => l.dotlock = true,
            "fcntl" => l.kernel.push(LockMethod::Fcntl),
            "flock" => l.kernel.push(LockMethod::Flock),
            _ => return Err(format!("invalid locking method: {m}")),
        }
    }
    Ok(l)
}

/// How to deliver to a mailbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxSettings {
    pub locks: Locks,
    /// `deliver_lock_attempts`.
    pub lock_attempts: u32,
    /// `deliver_lock_delay`.
    pub lock_delay: Duration,
    /// `stale_lock_time`.
    pub stale_lock_time: Duration,
    /// The most bytes the file may hold; 0: no limit.
    pub size_limit: u64,
    /// The file must belong to the recipient (`strict_mailbox_ownership`).
    pub strict_owner: bool,
}

impl Default for MboxSettings {
    fn default() -> MboxSettings {
        MboxSettings {
            locks: Locks {
                dotlock: true,
                kernel: vec![LockMethod::Fcntl],
            },
            lock_attempts: 20,
            lock_delay: Duration::from_secs(1),
            stale_lock_time: Duration::from_secs(500),
            size_limit: 51_200_000,
            strict_owner: true,
        }
    }
}

/// An open, locked mailbox. Dropping it releases the locks; drop it with
/// the identity that took them (the dot-lock file must be removable).
#[derive(Debug)]
pub struct LockedMbox {
    pub file: File,
    dotlock: Option<DotLock>,
    kernel: Vec<LockMethod>,
    /// Whether the file was created by this delivery.
    pub created: bool,
}

fn fail(def: &str, e: &io::Error, what: impl std::fmt::Display) -> Failure {
    Failure::new(
        &crate::errno_dsn(e, def),
        format!("{what}: {}", crate::strerror(e)),
    )
}

/// Tries `f` until it gets the lock, `settings.lock_attempts` times.
fn attempt<T>(
    settings: &MboxSettings,
    mut f: impl FnMut() -> io::Result<Option<T>>,
) -> io::Result<T> {
    let n = settings.lock_attempts.max(1);
    for i in 0..n {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if i + 1 < n {
            std::thread::sleep(settings.lock_delay);
        }
    }
    Err(io::Error::from_raw_os_error(nix::libc::EAGAIN))
}

/// Locks and opens `path` for appending (see the module documentation).
/// `owner` is the recipient: a new file is given to it, and with
/// `strict_owner` an existing file must belong to it. `def_dsn` is the
/// status code of failures that are not clearly temporary.
pub fn open_locked(
    path: &Path,
    settings: &MboxSettings,
    owner: Option<(Uid, Gid)>,
    def_dsn: &str,
) -> Result<LockedMbox, Failure> {
    let mut undo: Option<Record> = None;
    let dotlock = if settings.locks.dotlock {
        let lock = sys::lock::dotlock_path(path);
        let d = attempt(settings, || {
            if let Some((d, rec)) = take_over(path, &lock) {
                undo = Some(rec);
                return Ok(Some(d));
            }
            sys::lock::dotlock(path, settings.stale_lock_time)
        })
        .map_err(|e| {
            // A lock that stays busy is worth another try later.
            let e = if e.raw_os_error() == Some(nix::libc::EAGAIN) {
                io::Error::from_raw_os_error(nix::libc::EEXIST)
            } else {
                e
            };
            let dsn = if e.raw_os_error() == Some(nix::libc::EEXIST) {
                "4.2.0".to_string()
            } else {
                crate::errno_dsn(&e, def_dsn)
            };
            Failure::new(
                &dsn,
                format!(
                    "unable to create lock file {}: {}",
                    lock.display(),
                    crate::strerror(&e)
                ),
            )
        })?;
        Some(d)
    } else {
        None
    };
    let (file, created) = match sys::fs::safe_open_append(path, 0o600, owner) {
        Ok(v) => v,
        Err(SafeOpenError::Io(e)) => return Err(fail(def_dsn, &e, "cannot open file")),
        Err(SafeOpenError::Create(e)) => {
            return Err(fail(def_dsn, &e, "cannot create file exclusively"));
        }
        Err(e) => return Err(Failure::new(def_dsn, e.to_string())),
    };
    if settings.strict_owner
        && let Some((uid, _)) = owner
        && file.metadata().map(|m| m.uid()).ok() != Some(uid.as_raw())
    {
        return Err(Failure::new(
            "4.2.0",
            format!("destination {} is not owned by recipient", path.display()),
        ));
    }
    for &m in &settings.locks.kernel {
        attempt(settings, || {
            sys::lock::lock(&file, m).map(|got| got.then_some(()))
        })
        .map_err(|e| {
            Failure::new(
                &crate::errno_dsn(&e, "4.2.0"),
                format!(
                    "unable to lock for exclusive access: {}",
                    crate::strerror(&e)
                ),
            )
        })?;
    }
    if let Some(d) = &dotlock {
        let meta = file
            .metadata()
            .map_err(|e| fail(def_dsn, &e, "cannot stat file"))?;
        if let Some(rec) = undo
            && rec.dev == meta.dev()
            && rec.ino == meta.ino()
            && rec.offset < meta.len()
        {
            // The end of the file is what a killed writer left.
            file.set_len(rec.offset)
                .and_then(|_| file.sync_data())
                .map_err(|e| fail(def_dsn, &e, "cannot truncate file"))?;
        }
        let rec = Record {
            pid: std::process::id(),
            offset: meta.len().min(undo.map_or(u64::MAX, |r| r.offset)),
            dev: meta.dev(),
            ino: meta.ino(),
        };
        // Best effort: without the record a killed writer's partial
        // message stays, as with any other mail delivery program.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(d.path())
            .and_then(|mut f| f.write_all(rec.text().as_bytes()));
    }
    Ok(LockedMbox {
        file,
        dotlock,
        kernel: settings.locks.kernel.clone(),
        created,
    })
}

/// What a writer leaves in its dot-lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    pid: u32,
    /// Where the message being written starts.
    offset: u64,
    dev: u64,
    ino: u64,
}

const RECORD_TAG: &str = "mbox-writer";

impl Record {
    fn text(&self) -> String {
        format!(
            "{RECORD_TAG} pid={} offset={} dev={} ino={}\n",
            self.pid, self.offset, self.dev, self.ino
        )
    }

    fn parse(text: &str) -> Option<Record> {
        let mut words = text.trim_end().split(' ');
        if words.next()? != RECORD_TAG {
            return None;
        }
        let mut field = |name: &str| -> Option<u64> {
            words
                .next()?
                .strip_prefix(name)?
                .strip_prefix('=')?
                .parse()
                .ok()
        };
        let r = Record {
            pid: u32::try_from(field("pid")?).ok()?,
            offset: field("offset")?,
            dev: field("dev")?,
            ino: field("ino")?,
        };
        words.next().is_none().then_some(r)
    }
}

/// Takes over the dot-lock of a writer that died: returns the lock, now
/// ours, and the dead writer's record. Only one process can do it: the
/// lock file is flock(2)ed while it is checked and rewritten.
fn take_over(path: &Path, lock: &Path) -> Option<(DotLock, Record)> {
    use std::io::Read;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(lock)
        .ok()?;
    if !f.metadata().ok()?.is_file() || !sys::lock::lock(&f, LockMethod::Flock).ok()? {
        return None;
    }
    let mut text = String::new();
    (&f).take(200).read_to_string(&mut text).ok()?;
    let rec = Record::parse(&text)?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(rec.pid).ok()?);
    if rec.pid == std::process::id() || sys::process::alive(pid) {
        return None;
    }
    // Still the file we opened (not removed and made anew meanwhile)?
    let now = std::fs::symlink_metadata(lock).ok()?;
    let open = f.metadata().ok()?;
    if now.ino() != open.ino() || now.dev() != open.dev() {
        return None;
    }
    let mine = Record {
        pid: std::process::id(),
        ..rec
    };
    f.set_len(0).ok()?;
    f.write_all_at(mine.text().as_bytes(), 0).ok()?;
    Some((sys::lock::DotLock::adopt(path), rec))
}

impl LockedMbox {
    /// Appends one message with `write` (given the file and how many
    /// bytes may still be written), then fsyncs. On failure the file is
    /// truncated to its old length and the failure says why.
    pub fn append(
        &mut self,
        size_limit: u64,
        def_dsn: &str,
        write: impl FnOnce(&mut File, Option<u64>) -> Result<u64, CopyError>,
    ) -> Result<(), Failure> {
        let old = self
            .file
            .seek(SeekFrom::End(0))
            .map_err(|e| fail(def_dsn, &e, "cannot seek to end of file"))?;
        let room = (size_limit > 0).then(|| size_limit.saturating_sub(old));
        let result = write(&mut self.file, room)
            .map_err(|e| Failure::new(&crate::errno_dsn(e.io(), def_dsn), e.to_string()))
            .and_then(|_| {
                self.file.sync_data().map_err(|e| {
                    Failure::new(
                        &crate::errno_dsn(&e, def_dsn),
                        format!("error writing message: {}", crate::strerror(&e)),
                    )
                })
            });
        if result.is_err() {
            // Nothing of a failed delivery stays behind.
            let _ = self.file.set_len(old);
            let _ = self.file.sync_data();
        }
        result
    }
}

impl Drop for LockedMbox {
    fn drop(&mut self) {
        for &m in &self.kernel {
            let _ = sys::lock::unlock(&self.file, m);
        }
        drop(self.dotlock.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mbox-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn quick() -> MboxSettings {
        MboxSettings {
            lock_attempts: 2,
            lock_delay: Duration::from_millis(10),
            ..Default::default()
        }
    }

    #[test]
    fn lock_methods() {
        assert_eq!(
            parse_locks("fcntl, dotlock").unwrap(),
            Locks {
                dotlock: true,
                kernel: vec![LockMethod::Fcntl]
            }
        );
        assert_eq!(
            parse_locks("flock").unwrap().kernel,
            vec![LockMethod::Flock]
        );
        assert!(parse_locks("").unwrap().kernel.is_empty());
        assert_eq!(
            parse_locks("fcntl lockf").unwrap_err(),
            "invalid locking method: lockf"
        );
    }

    #[test]
    fn append_and_truncate_back() {
        let d = dir("append");
        let p = d.join("joe");
        let s = quick();
        {
            let mut m = open_locked(&p, &s, None, "5.2.0").unwrap();
            assert!(m.created);
            assert!(d.join("joe.lock").exists());
            m.append(0, "5.2.0", |f, _| {
                f.write_all(b"first\n").map_err(CopyError::Write)?;
                Ok(6)
            })
            .unwrap();
        }
        assert!(!d.join("joe.lock").exists());
        let mut m = open_locked(&p, &s, None, "5.2.0").unwrap();
        let e = m
            .append(0, "5.2.0", |f, _| {
                f.write_all(b"half a mess").map_err(CopyError::Write)?;
                Err(CopyError::Write(io::Error::from_raw_os_error(
                    nix::libc::ENOSPC,
                )))
            })
            .unwrap_err();
        assert_eq!(
            e,
            Failure::new("4.3.1", "error writing message: No space left on device")
        );
        drop(m);
        assert_eq!(std::fs::read(&p).unwrap(), b"first\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn size_limit_counts_the_old_contents() {
        let d = dir("limit");
        let p = d.join("joe");
        std::fs::write(&p, b"0123456789").unwrap();
        let mut m = open_locked(&p, &quick(), None, "5.2.0").unwrap();
        let e = m
            .append(15, "5.2.0", |f, room| {
                assert_eq!(room, Some(5));
                crate::copy::copy(&b"too long\n"[..], f, "", &Default::default(), room)
            })
            .unwrap_err();
        assert_eq!(
            e,
            Failure::new("5.2.2", "error writing message: File too large")
        );
        drop(m);
        assert_eq!(std::fs::read(&p).unwrap(), b"0123456789");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refusals() {
        let d = dir("refuse");
        let p = d.join("joe");
        std::fs::write(d.join("elsewhere"), b"").unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere"), &p).unwrap();
        let e = open_locked(&p, &quick(), None, "5.2.0").unwrap_err();
        assert_eq!(e, Failure::new("5.2.0", "file is a symbolic link"));
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        let e = open_locked(&p, &quick(), None, "5.2.0").unwrap_err();
        assert_eq!(e, Failure::new("5.2.0", "cannot open file: Is a directory"));
        std::fs::remove_dir(&p).unwrap();
        // Busy lock.
        std::fs::write(d.join("joe.lock"), b"").unwrap();
        let e = open_locked(&p, &quick(), None, "5.2.0").unwrap_err();
        assert_eq!(
            e,
            Failure::new(
                "4.2.0",
                format!(
                    "unable to create lock file {}/joe.lock: File exists",
                    d.display()
                )
            )
        );
        std::fs::remove_file(d.join("joe.lock")).unwrap();
        // Someone else's file.
        std::fs::write(&p, b"").unwrap();
        let other = (
            Uid::from_raw(nix::unistd::geteuid().as_raw() + 1),
            Gid::from_raw(0),
        );
        let e = open_locked(&p, &quick(), Some(other), "5.2.0").unwrap_err();
        assert_eq!(
            e,
            Failure::new(
                "4.2.0",
                format!("destination {} is not owned by recipient", p.display())
            )
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn record_round_trip() {
        let r = Record {
            pid: 42,
            offset: 7,
            dev: 2049,
            ino: 99,
        };
        assert_eq!(r.text(), "mbox-writer pid=42 offset=7 dev=2049 ino=99\n");
        assert_eq!(Record::parse(&r.text()), Some(r));
        assert_eq!(Record::parse(""), None);
        assert_eq!(Record::parse("mbox-writer pid=42 offset=7 dev=1"), None);
        assert_eq!(Record::parse("12345\n"), None);
    }

    #[test]
    fn a_killed_writers_half_message_is_removed_by_the_next() {
        let d = dir("killed");
        let p = d.join("joe");
        std::fs::write(&p, b"From a\n\nwhole\n\n").unwrap();
        // A child takes the locks, starts a message and is killed.
        let (_, st) = sys::process::call_in_child(|| {
            let mut m = open_locked(&p, &quick(), None, "5.2.0").unwrap();
            m.file.write_all(b"From b\n\nhalf a mes").unwrap();
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            Vec::new()
        })
        .unwrap();
        assert!(matches!(st, nix::sys::wait::WaitStatus::Signaled(..)));
        assert!(d.join("joe.lock").exists());
        assert!(std::fs::read_to_string(&p).unwrap().ends_with("half a mes"));
        let mut m = open_locked(&p, &quick(), None, "5.2.0").unwrap();
        m.append(0, "5.2.0", |f, _| {
            f.write_all(b"From c\n\nnext\n\n")
                .map_err(CopyError::Write)?;
            Ok(0)
        })
        .unwrap();
        drop(m);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "From a\n\nwhole\n\nFrom c\n\nnext\n\n"
        );
        assert!(!d.join("joe.lock").exists());
        // A lock of a live process (this one, from another program) is
        // not taken over.
        std::fs::write(
            d.join("joe.lock"),
            format!(
                "mbox-writer pid={} offset=0 dev=0 ino=0\n",
                std::process::id()
            ),
        )
        .unwrap();
        assert!(open_locked(&p, &quick(), None, "5.2.0").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
