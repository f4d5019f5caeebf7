//! # NAME
//! maildir — delivery to a qmail-style Maildir
//!
//! ## SYNOPSIS
//! ```ignore
//! let md = Maildir { dir, hostname: &maildir::hostname(), size_limit: 51_200_000, def_dsn: "4.2.0" };
//! let new_path = maildir::deliver(&md, |f, room| copy::copy(content, f, sender, &opts, room))?;
//! ```
//!
//! ## DESCRIPTION
//! The message is written to `tmp/SECONDS.PpidQn.HOST` (created
//! exclusively, mode 0600), fsynced, and renamed to
//! `new/SECONDS.VdevIinodeMusec.HOST` — the device and inode of the new
//! file and the microseconds of the start make the name unique, as with
//! Postfix — and then `new/` itself is fsynced, so that the delivery
//! survives a crash once [`deliver`] returns. A missing Maildir (and its
//! parents) is created mode 0700 by whoever runs the delivery (the
//! recipient). A failure removes the file from `tmp/`.
//!
//! `HOST` is the system's host name (not `myhostname`), with `/` and `:`
//! written as `\057` and `\072` as the Maildir convention asks.
//!
//! ## SEE ALSO
//! maildir(5) of qmail, [`crate::copy`]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Failure;
use crate::copy::CopyError;

/// Where and how to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir<'a> {
    /// The Maildir (with or without the trailing `/`).
    pub dir: &'a Path,
    /// The host name part of file names ([`hostname`]).
    pub hostname: &'a str,
    /// The most bytes one message file may hold; 0: no limit.
    pub size_limit: u64,
    /// The status code of failures that are not clearly temporary.
    pub def_dsn: &'a str,
}

/// The system host name, made safe for Maildir file names.
pub fn hostname() -> String {
    let h = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into());
    h.replace('/', "\\057").replace(':', "\\072")
}

static COUNT: AtomicU64 = AtomicU64::new(0);

fn make_dirs(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    for sub in ["tmp", "new", "cur"] {
        match std::fs::DirBuilder::new().mode(0o700).create(dir.join(sub)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn create_tmp(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Delivers one message with `write` (given the file and how many bytes
/// it may hold); returns the file's name in `new/`.
pub fn deliver(
    md: &Maildir<'_>,
    write: impl FnOnce(&mut File, Option<u64>) -> Result<u64, CopyError>,
) -> Result<PathBuf, Failure> {
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let tmp = md.dir.join("tmp").join(format!(
        "{}.P{}Q{}.{}",
        start.as_secs(),
        std::process::id(),
        n,
        md.hostname
    ));
    let create_fail = |e: &io::Error| {
        Failure::new(
            &crate::errno_dsn(e, md.def_dsn),
            format!(
                "create maildir file {}: {}",
                tmp.display(),
                crate::strerror(e)
            ),
        )
    };
    let mut file = match create_tmp(&tmp) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => make_dirs(md.dir)
            .and_then(|_| create_tmp(&tmp))
            .map_err(|e| create_fail(&e))?,
        Err(e) => return Err(create_fail(&e)),
    };
    let room = (md.size_limit > 0).then_some(md.size_limit);
    let result = (|| {
        write(&mut file, room)
            .map_err(|e| Failure::new(&crate::errno_dsn(e.io(), md.def_dsn), e.to_string()))?;
        let io_fail = |e: io::Error| {
            Failure::new(
                &crate::errno_dsn(&e, md.def_dsn),
                format!("error writing message: {}", crate::strerror(&e)),
            )
        };
        file.sync_data().map_err(io_fail)?;
        let meta = file.metadata().map_err(io_fail)?;
        let new = md.dir.join("new").join(format!(
            "{}.V{:x}I{:x}M{}.{}",
            start.as_secs(),
            meta.dev(),
            meta.ino(),
            start.subsec_micros(),
            md.hostname
        ));
        std::fs::rename(&tmp, &new).map_err(|e| {
            Failure::new(
                &crate::errno_dsn(&e, md.def_dsn),
                format!(
                    "rename maildir file {} to {}: {}",
                    tmp.display(),
                    new.display(),
                    crate::strerror(&e)
                ),
            )
        })?;
        // The name in new/ must survive a crash too (DESIGN.md rule 2).
        sys::fs::fsync_dir(&md.dir.join("new")).map_err(|e| {
            Failure::new(
                &crate::errno_dsn(&e, md.def_dsn),
                format!(
                    "sync maildir directory {}: {}",
                    md.dir.join("new").display(),
                    crate::strerror(&e)
                ),
            )
        })?;
        Ok(new)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("maildir-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn creates_the_maildir_and_a_unique_file() {
        let d = dir("new");
        let md = d.join("a/b/Maildir/");
        let m = Maildir {
            dir: &md,
            hostname: "host\\057x",
            size_limit: 0,
            def_dsn: "4.2.0",
        };
        let mut names = Vec::new();
        for i in 0..3 {
            let p = deliver(&m, |f, _| {
                f.write_all(format!("message {i}\n").as_bytes())
                    .map_err(CopyError::Write)?;
                Ok(10)
            })
            .unwrap();
            names.push(p);
        }
        for (i, p) in names.iter().enumerate() {
            assert_eq!(p.parent().unwrap(), md.join("new"));
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(name.ends_with(".host\\057x"), "{name}");
            assert!(name.contains(".V") && name.contains('I') && name.contains('M'));
            assert_eq!(
                std::fs::read_to_string(p).unwrap(),
                format!("message {i}\n")
            );
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(std::fs::read_dir(md.join("tmp")).unwrap().count(), 0);
        for sub in ["", "tmp", "new", "cur"] {
            let mode = std::fs::metadata(md.join(sub))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700, "{sub}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failure_leaves_nothing() {
        let d = dir("fail");
        let m = Maildir {
            dir: &d,
            hostname: "h",
            size_limit: 4,
            def_dsn: "4.2.0",
        };
        let e = deliver(&m, |f, room| {
            crate::copy::copy(&b"too long\n"[..], f, "", &Default::default(), room)
        })
        .unwrap_err();
        assert_eq!(
            e,
            Failure::new("5.2.2", "error writing message: File too large")
        );
        assert_eq!(std::fs::read_dir(d.join("tmp")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(d.join("new")).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
