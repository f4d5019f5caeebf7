//! # NAME
//! fs — durable file operations
//!
//! ## SYNOPSIS
//! ```ignore
//! fs::fsync_dir(Path::new("/var/spool/postfix/incoming"))?;
//! fs::write_atomic(Path::new("/etc/postfix/main.cf"), text.as_bytes(), 0o644)?;
//! ```
//!
//! ## DESCRIPTION
//! [`write_atomic`] writes a temporary file beside the target, fsyncs it,
//! renames it over the target and fsyncs the directory: a reader sees the
//! old file or the new one, and after return the new one survives a crash.
//! The sync is not optional.
//!
//! [`safe_open_append`] is Postfix's `safe_open()` for delivery to a
//! mailbox or a file: it never follows a symbolic link, accepts only a
//! regular file with one hard link, makes sure the file it opened is the
//! one it looked at, and creates a missing file exclusively (and gives
//! it to its owner).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Makes the directory entries of `dir` durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes the directory entry of `file` (in `dir`) durable: fsync of the
/// directory, or, when this process may not open the directory for
/// reading (postdrop(1) writes `maildrop/`, mode 0730, through its group
/// only), a sync of the whole file system, which covers it too.
pub fn fsync_entry(dir: &Path, file: &File) -> io::Result<()> {
    match fsync_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            nix::unistd::syncfs(file).map_err(io::Error::from)
        }
        r => r,
    }
}

/// The directory that holds `path` ("." for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Why [`safe_open_append`] refused a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SafeOpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A missing file could not be created.
    #[error("cannot create file exclusively: {0}")]
    Create(io::Error),
    /// The path names a symbolic link.
    #[error("file is a symbolic link")]
    Symlink,
    /// The path names a directory, device, fifo or socket.
    #[error("file is not a regular file")]
    NotRegular,
    /// The file has other names (a hard link to someone else's file).
    #[error("file has {0} hard links")]
    HardLinks(u64),
    /// The file changed between the look and the open.
    #[error("file status changed unexpectedly")]
    Replaced,
}

/// Opens `path` for appending. A missing file is created with `mode`
/// (`O_EXCL`) and, when `owner` is given and the process is root, given
/// to that user and group. Returns the file and whether it was created.
pub fn safe_open_append(
    path: &Path,
    mode: u32,
    owner: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
) -> Result<(File, bool), SafeOpenError> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..2 {
        let before = match std::fs::symlink_metadata(path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let Some(before) = before else {
            match OpenOptions::new()
                .append(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
            {
                Ok(f) => {
                    if let Some((uid, gid)) = owner
                        && nix::unistd::geteuid().is_root()
                    {
                        nix::unistd::fchown(&f, Some(uid), Some(gid)).map_err(io::Error::from)?;
                    }
                    return Ok((f, true));
                }
                // Created by someone else meanwhile: look again.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(SafeOpenError::Create(e)),
            }
        };
        if before.file_type().is_symlink() {
            return Err(SafeOpenError::Symlink);
        }
        let f = match OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(SafeOpenError::Symlink),
            Err(e) => return Err(e.into()),
        };
        let now = f.metadata()?;
        if now.dev() != before.dev() || now.ino() != before.ino() {
            return Err(SafeOpenError::Replaced);
        }
        if !now.is_file() {
            return Err(SafeOpenError::NotRegular);
        }
        if now.nlink() != 1 {
            return Err(SafeOpenError::HardLinks(now.nlink()));
        }
        crate::fd::set_nonblocking(&f, false).map_err(io::Error::from)?;
        return Ok((f, false));
    }
    Err(SafeOpenError::Replaced)
}

/// Replaces `path` with `data` atomically and durably, with `mode`; keeps
/// the owner and mode of an existing file where it can.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let existing = std::fs::metadata(path).ok();
    let mode = existing
        .as_ref()
        .map_or(mode, |m| m.permissions().mode() & 0o7777);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some(m) = &existing {
            use std::os::unix::fs::MetadataExt;
            // Best effort: an unprivileged caller cannot give files away.
            let _ = nix::unistd::fchown(&f, Some(m.uid().into()), Some(m.gid().into()));
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_replace_keeps_mode() {
        let dir = std::env::temp_dir().join(format!("sys-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("main.cf");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn safe_open_refuses_links_and_creates_exclusively() {
        let dir = std::env::temp_dir().join(format!("sys-safeopen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("mbox");
        let (_, created) = safe_open_append(&p, 0o600, None).unwrap();
        assert!(created);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (mut f, created) = safe_open_append(&p, 0o600, None).unwrap();
        assert!(!created);
        f.write_all(b"x").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(matches!(
            safe_open_append(&link, 0o600, None),
            Err(SafeOpenError::Symlink)
        ));
        let hard = dir.join("hard");
        std::fs::hard_link(&p, &hard).unwrap();
        assert!(matches!(
            safe_open_append(&hard, 0o600, None),
            Err(SafeOpenError::HardLinks(2))
        ));
        // A directory cannot be opened for writing at all.
        assert!(matches!(
            safe_open_append(&dir, 0o600, None),
            Err(SafeOpenError::Io(e)) if e.raw_os_error() == Some(libc::EISDIR)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
