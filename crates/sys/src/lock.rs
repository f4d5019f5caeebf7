//! # NAME
//! lock — mailbox locks: fcntl, flock and dot-lock files
//!
//! ## SYNOPSIS
//! ```ignore
//! if !lock::lock(&file, LockMethod::Fcntl)? { /* held by another process */ }
//! let dot = lock::dotlock(Path::new("/var/mail/joe"), Duration::from_secs(500))?;
//! ... write ...
//! lock::unlock(&file, LockMethod::Fcntl)?;
//! drop(dot);                              // removes /var/mail/joe.lock
//! ```
//!
//! ## DESCRIPTION
//! The three methods of `mailbox_delivery_lock` (`postconf -l`), as
//! mail readers expect them: [`lock`] takes an exclusive non-blocking
//! `fcntl(2)` (POSIX record) or `flock(2)` lock on an open file and says
//! whether it got it; [`dotlock`] creates `path.lock` exclusively and
//! removes it when the guard is dropped. A `.lock` file older than the
//! stale time is taken to be left over by a crashed process and removed
//! (Postfix's `stale_lock_time`). Callers retry as
//! `deliver_lock_attempts` and `deliver_lock_delay` say.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A kernel lock on an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMethod {
    /// POSIX record lock on the whole file (`fcntl(F_SETLK)`).
    Fcntl,
    /// BSD lock (`flock(LOCK_EX | LOCK_NB)`).
    Flock,
}

fn fcntl_lock(file: &File, kind: libc::c_short) -> io::Result<bool> {
    // SAFETY: an all-zero `struct flock` is a valid value; the fields that
    // matter are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    match nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_SETLK(&fl)) {
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EACCES) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    // SAFETY: flock(2) on a descriptor this function borrows; it changes
    // only the lock state of the open file.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Takes an exclusive lock without waiting; false when another process
/// holds one.
pub fn lock(file: &File, method: LockMethod) -> io::Result<bool> {
    match method {
        LockMethod::Fcntl => fcntl_lock(file, libc::F_WRLCK as libc::c_short),
        LockMethod::Flock => flock(file, libc::LOCK_EX | libc::LOCK_NB),
    }
}

/// Releases a lock taken with [`lock`] (closing the file does too).
pub fn unlock(file: &File, method: LockMethod) -> io::Result<()> {
    match method {
        LockMethod::Fcntl => fcntl_lock(file, libc::F_UNLCK as libc::c_short).map(drop),
        LockMethod::Flock => flock(file, libc::LOCK_UN).map(drop),
    }
}

/// A `.lock` file; removed when dropped.
#[derive(Debug)]
pub struct DotLock {
    path: PathBuf,
}

impl DotLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The guard of `path.lock` that this process took over from a dead
    /// holder (it removes the file when dropped, like one it created).
    pub fn adopt(path: &Path) -> DotLock {
        DotLock {
            path: dotlock_path(path),
        }
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The lock file name for `path`: `path.lock`.
pub fn dotlock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Creates `path.lock`; `Ok(None)` when another process holds it. A lock
/// file last changed more than `stale` ago is removed first.
pub fn dotlock(path: &Path, stale: Duration) -> io::Result<Option<DotLock>> {
    let lock = dotlock_path(path);
    match std::fs::symlink_metadata(&lock) {
        Ok(m) => {
            let age = m
                .modified()
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            if age.is_some_and(|a| a > stale) {
                let _ = std::fs::remove_file(&lock);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&lock)
    {
        Ok(_) => Ok(Some(DotLock { path: lock })),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sys-lock-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn dotlock_is_exclusive_and_removed() {
        let d = dir("dot");
        let mbox = d.join("joe");
        let a = dotlock(&mbox, Duration::from_secs(500)).unwrap().unwrap();
        assert_eq!(a.path(), d.join("joe.lock"));
        assert!(dotlock(&mbox, Duration::from_secs(500)).unwrap().is_none());
        drop(a);
        assert!(!d.join("joe.lock").exists());
        assert!(dotlock(&mbox, Duration::from_secs(500)).unwrap().is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_dotlock_is_broken() {
        let d = dir("stale");
        let mbox = d.join("joe");
        std::fs::write(d.join("joe.lock"), "").unwrap();
        assert!(dotlock(&mbox, Duration::from_secs(500)).unwrap().is_none());
        std::thread::sleep(Duration::from_millis(20));
        assert!(dotlock(&mbox, Duration::from_millis(1)).unwrap().is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn kernel_locks_conflict_between_processes() {
        let d = dir("kernel");
        let p = d.join("mbox");
        std::fs::write(&p, "").unwrap();
        for method in [LockMethod::Fcntl, LockMethod::Flock] {
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            assert!(lock(&f, method).unwrap());
            // Another process must not get it: ask flock(1)-style from a child.
            let held = std::process::Command::new("sh")
                .arg("-c")
                .arg(match method {
                    LockMethod::Flock => format!("flock -n -x {} true", p.display()),
                    // fcntl locks: python's fcntl.lockf is a POSIX lock.
                    LockMethod::Fcntl => format!(
                        "python3 -c 'import fcntl,sys; f=open(\"{}\",\"a\"); fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)'",
                        p.display()
                    ),
                })
                .status()
                .map(|s| !s.success())
                .unwrap_or(true);
            assert!(held, "{method:?} lock not seen by another process");
            unlock(&f, method).unwrap();
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
