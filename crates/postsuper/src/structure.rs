//! # NAME
//! structure — `postsuper -s` (structure check and repair) and `-p`
//!
//! ## SYNOPSIS
//! ```ignore
//! let renamed = structure::check(&layout, long_ids, redundant)?;
//! structure::purge(&layout);
//! ```
//!
//! ## DESCRIPTION
//! [`check`] walks every queue and log directory to any depth, without
//! following symbolic links, and for each file:
//!
//! * warns `bogus file name: queue/name` when the name is neither a
//!   queue ID nor a writer's temporary file;
//! * renames a short queue ID that does not end in the file's inode
//!   number (a queue restored from elsewhere), and a long ID to a short
//!   one when `enable_long_queue_ids = no` (with `-S`, long IDs must
//!   match their inode too), together with its logs;
//! * moves a file that is not where `hash_queue_names` and
//!   `hash_queue_depth` put it, and removes subdirectories that the
//!   hashing no longer uses once they are empty;
//! * reads the envelope of each complete message file and moves a
//!   damaged one to `corrupt/` with a warning.
//!
//! [`purge`] removes temporary files (`usec.pid`) left by a crash once
//! they are a day old, and warns about other names as `-s` does.
//!
//! ## SEE ALSO
//! postsuper(1), [`queue::id`], [`queue::file::Layout`]

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use daemon::log::{self, Level};
use queue::file::mode_is_complete;
use queue::{Layout, QueueError, QueueFile, QueueId};

use crate::ops::LOG_QUEUES;

/// Every directory that -s and -p look at, and whether it holds messages.
const DIRS: &[(&str, bool)] = &[
    ("maildrop", false),
    ("incoming", true),
    ("active", true),
    ("deferred", true),
    ("hold", true),
    ("bounce", false),
    ("defer", false),
    ("trace", false),
];

/// How old a temporary file must be before -p removes it.
const MAX_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

fn warn(text: &str) {
    log::log_str(Level::Warning, text);
}

/// A file found under a queue directory.
struct Entry {
    path: PathBuf,
    name: String,
    meta: std::fs::Metadata,
}

/// All files under `dir`, to any depth (symbolic links are reported as
/// files, never followed); also returns the subdirectories, deepest first.
fn walk(dir: &Path) -> (Vec<Entry>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            let path = e.path();
            if meta.is_dir() {
                stack.push(path.clone());
                dirs.push(path);
            } else {
                files.push(Entry {
                    name: e.file_name().to_string_lossy().into_owned(),
                    path,
                    meta,
                });
            }
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    (files, dirs)
}

/// Whether `name` is a writer's temporary file name (`usec.pid`).
fn is_temp_name(name: &str) -> bool {
    match name.split_once('.') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The name a file should have: the same ID, or one that matches its
/// inode (and the configured ID form).
fn proper_id(id: &QueueId, inode: u64, long_ids: bool, redundant: bool) -> QueueId {
    let s = id.as_str();
    if id.is_long() {
        if long_ids && !redundant {
            return id.clone();
        }
        let (sec, usec) = long_time(s);
        let want = QueueId::new(sec, usec, inode, long_ids);
        return if want.as_str() == s { id.clone() } else { want };
    }
    let usec = u32::from_str_radix(&s[..5], 16).unwrap_or(0);
    let want = QueueId::new(0, usec, inode, false);
    if want.as_str() == s { id.clone() } else { want }
}

/// Seconds and microseconds of a long ID (its first part).
fn long_time(s: &str) -> (u64, u32) {
    const ALPHABET: &[u8] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
    let Some((time, _)) = s.split_once('z') else {
        return (0, 0);
    };
    let decode = |p: &str| {
        p.bytes().fold(0u64, |n, c| {
            n.saturating_mul(52)
                .saturating_add(ALPHABET.iter().position(|&a| a == c).unwrap_or(0) as u64)
        })
    };
    if time.len() < 4 {
        return (0, 0);
    }
    let (sec, usec) = time.split_at(time.len() - 4);
    (decode(sec), decode(usec).min(999_999) as u32)
}

/// `-s`/`-S`; returns how many files were renamed to match their inode.
pub fn check(layout: &Layout, long_ids: bool, redundant: bool) -> usize {
    let mut renamed = 0;
    for (queue, messages) in DIRS {
        let top = layout.queue_dir.join(queue);
        let (files, dirs) = walk(&top);
        for e in files {
            let rel = format!("{}/{}", queue, e.name);
            let Some(mut id) = QueueId::parse(&e.name) else {
                if !is_temp_name(&e.name) {
                    warn(&format!("bogus file name: {rel}"));
                }
                continue;
            };
            let mut path = e.path.clone();
            if *messages && e.meta.is_file() {
                let want = proper_id(&id, e.meta.ino(), long_ids, redundant);
                if want != id {
                    let dst = layout.path_of(queue, &want);
                    if rename_into(&path, &dst).is_ok() {
                        log::log_str(
                            Level::Info,
                            &format!("renamed file {} as {}", path.display(), dst.display()),
                        );
                        for log in LOG_QUEUES {
                            let _ =
                                rename_into(&layout.path_of(log, &id), &layout.path_of(log, &want));
                        }
                        renamed += 1;
                        id = want;
                        path = dst;
                    }
                }
            }
            let dst = layout.path_of(queue, &id);
            if path != dst {
                if let Err(err) = rename_into(&path, &dst) {
                    warn(&format!(
                        "rename file {} as {}: {}",
                        path.display(),
                        dst.display(),
                        err
                    ));
                    continue;
                }
                path = dst;
            }
            if *messages && e.meta.is_file() && mode_is_complete(e.meta.mode()) {
                check_content(layout, queue, &id, &path);
            }
        }
        // Remove subdirectories the hashing does not use, once empty.
        let depth = if layout.hashed.iter().any(|q| q == queue) {
            layout.depth
        } else {
            0
        };
        for d in dirs {
            let Ok(rel) = d.strip_prefix(&top) else {
                continue;
            };
            let levels = rel.components().count();
            let used = levels <= depth && rel.components().all(|c| c.as_os_str().len() == 1);
            if !used && std::fs::remove_dir(&d).is_ok() {
                daemon::verbose!("remove subdirectory {}", d.display());
            }
        }
    }
    renamed
}

/// Moves a damaged message to `corrupt/`.
fn check_content(layout: &Layout, queue: &str, id: &QueueId, path: &Path) {
    let mut f = match QueueFile::open_read(path, id) {
        Ok(f) => f,
        Err(_) => return,
    };
    if let Err(QueueError::Corrupt(why)) = f.read_envelope() {
        drop(f);
        match layout.move_file(id, queue, "corrupt") {
            Ok(()) => warn(&format!(
                "{queue}/{id}: corrupt queue file: {why} -- moved to corrupt"
            )),
            Err(e) => warn(&format!("{queue}/{id}: move to corrupt: {e}")),
        }
    }
}

/// Renames without replacing an existing file, creating directories.
fn rename_into(src: &Path, dst: &Path) -> io::Result<()> {
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir)?;
    }
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        src,
        nix::fcntl::AT_FDCWD,
        dst,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(io::Error::from)
}

/// `-p`: removes old temporary files.
pub fn purge(layout: &Layout) {
    let now = SystemTime::now();
    for (queue, _) in DIRS {
        let (files, _) = walk(&layout.queue_dir.join(queue));
        for e in files {
            if QueueId::parse(&e.name).is_some() {
                continue;
            }
            let rel = format!("{}/{}", queue, e.name);
            if !is_temp_name(&e.name) {
                warn(&format!("bogus file name: {rel}"));
                continue;
            }
            let old = e
                .meta
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= MAX_TEMP_AGE);
            if old {
                match std::fs::remove_file(&e.path) {
                    Ok(()) => log::log_str(Level::Info, &format!("removed file {rel}")),
                    Err(err) => warn(&format!("remove file {rel}: {err}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_temp_name("123456.789"));
        assert!(!is_temp_name("junk") && !is_temp_name("1.") && !is_temp_name("a.1"));
        let id = QueueId::parse("3F2A11B9C4").unwrap();
        assert_eq!(proper_id(&id, 0x1B9C4, false, false), id);
        assert_eq!(proper_id(&id, 0xABC, false, false).as_str(), "3F2A1ABC");
        let long = QueueId::new(1_700_000_000, 123_456, 987, true);
        assert_eq!(proper_id(&long, 987, true, false), long);
        assert_eq!(proper_id(&long, 5, true, false), long);
        assert_eq!(
            proper_id(&long, 5, true, true),
            QueueId::new(1_700_000_000, 123_456, 5, true)
        );
        assert_eq!(
            proper_id(&long, 987, false, false).as_str(),
            format!("{:05X}3DB", 123_456)
        );
    }
}
