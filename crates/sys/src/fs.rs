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
}
