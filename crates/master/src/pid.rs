//! # NAME
//! pid — the master.pid lock file
//!
//! ## SYNOPSIS
//! ```ignore
//! let _lock = pid::lock(Path::new("pid/master.pid"))?;   // held until exit
//! pid::is_locked(path)                                    // master -t
//! ```
//!
//! ## DESCRIPTION
//! master(8) holds an exclusive lock on `$queue_directory/pid/master.pid`
//! for its whole life and writes its process ID into it, right-aligned in
//! 32 columns and a newline as Postfix does. The lock, not the file's
//! presence, says that a master runs: a stale file from a crash is simply
//! locked and rewritten. Two masters can never serve one queue.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

/// Takes the lock and writes this process's ID.
pub fn lock(path: &Path) -> Result<Flock<File>, String> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {}", dir.display(), e))?;
        }
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| format!("open lock file {}: {}", path.display(), e))?;
    let mut locked = match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            return Err("the Postfix mail system is already running".into());
        }
        Err((_, e)) => {
            return Err(format!(
                "open lock file {}: unable to set exclusive lock: {}",
                path.display(),
                e.desc()
            ));
        }
    };
    let text = format!("{:>32}\n", std::process::id());
    locked
        .set_len(0)
        .and_then(|_| locked.seek(SeekFrom::Start(0)))
        .and_then(|_| locked.write_all(text.as_bytes()))
        .and_then(|_| locked.sync_all())
        .map_err(|e| format!("write lock file {}: {}", path.display(), e))?;
    Ok(locked)
}

/// Whether some process holds the lock (a master is running).
pub fn is_locked(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(_) => false,
        Err((_, e)) => e == nix::errno::Errno::EWOULDBLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive() {
        let dir = std::env::temp_dir().join(format!("master-pid-{}", std::process::id()));
        let p = dir.join("pid/master.pid");
        assert!(!is_locked(&p));
        let l = lock(&p).unwrap();
        assert!(is_locked(&p));
        assert_eq!(
            lock(&p).unwrap_err(),
            "the Postfix mail system is already running"
        );
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.len(), 33);
        assert_eq!(text.trim().parse::<u32>().unwrap(), std::process::id());
        drop(l);
        assert!(!is_locked(&p));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
