//! # NAME
//! scan — walk a queue directory, one file at a time
//!
//! ## SYNOPSIS
//! ```ignore
//! for found in queue::scan::Scanner::new(&layout, "deferred") {
//!     let found = found?;            // found.id, found.path
//! }
//! ```
//!
//! ## DESCRIPTION
//! A [`Scanner`] reads a queue directory and, for hashed queues
//! (`hash_queue_names`), its subdirectories `hash_queue_depth` levels
//! deep, in directory order, and yields the files whose names are queue
//! IDs. It holds one open directory per level and nothing per file, so
//! that listing a queue of any size takes the same memory (mailq(1)).
//!
//! Names that are not queue IDs (a writer's temporary `usec.pid`, stray
//! files) are skipped. Symbolic links are never followed: a link in place
//! of a hash directory is not entered, and a link in place of a file is
//! reported like a file, so that the caller's `O_NOFOLLOW` open refuses
//! it. A queue directory that does not exist is empty.
//!
//! ## SEE ALSO
//! [`crate::file::Layout`], showq(8), postsuper(1)

use std::fs::ReadDir;
use std::io;
use std::path::PathBuf;

use crate::file::Layout;
use crate::id::QueueId;

/// A queue file found by a [`Scanner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: QueueId,
    pub path: PathBuf,
}

/// Walks one queue (see the module documentation).
pub struct Scanner {
    /// Open directories, innermost last, with the levels still below each.
    stack: Vec<(ReadDir, usize)>,
    /// An error opening the top directory, reported once.
    pending_error: Option<io::Error>,
}

impl Scanner {
    pub fn new(layout: &Layout, queue: &str) -> Scanner {
        let depth = if layout.hashed.iter().any(|q| q == queue) {
            layout.depth
        } else {
            0
        };
        let dir = layout.queue_dir.join(queue);
        match std::fs::read_dir(&dir) {
            Ok(rd) => Scanner {
                stack: vec![(rd, depth)],
                pending_error: None,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Scanner {
                stack: Vec::new(),
                pending_error: None,
            },
            Err(e) => Scanner {
                stack: Vec::new(),
                pending_error: Some(io::Error::new(
                    e.kind(),
                    format!("open directory {}: {}", dir.display(), e),
                )),
            },
        }
    }
}

impl Iterator for Scanner {
    type Item = io::Result<Found>;

    fn next(&mut self) -> Option<io::Result<Found>> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        loop {
            let (rd, below) = self.stack.last_mut()?;
            let below = *below;
            let entry = match rd.next() {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(e)) => e,
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                if below > 0 && name.len() == 1 {
                    match std::fs::read_dir(entry.path()) {
                        Ok(sub) => self.stack.push((sub, below - 1)),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Some(Err(e)),
                    }
                }
                continue;
            }
            if let Some(id) = QueueId::parse(name) {
                return Some(Ok(Found {
                    id,
                    path: entry.path(),
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_hash_dirs_and_skips_the_rest() {
        let d = std::env::temp_dir().join(format!("queue-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let mut l = Layout::new(&d);
        l.depth = 2;
        for p in [
            "deferred/3/F/3F2A11B9C4",
            "deferred/A/0/A0B2C1D",
            "deferred/A/0/12345.678",
            "deferred/A/x/not-here",
            "incoming/B0B2C1D",
            "incoming/123.456",
        ] {
            let p = d.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        }
        // A link in place of a hash directory is not followed.
        std::os::unix::fs::symlink(d.join("incoming"), d.join("deferred/C")).unwrap();
        let mut ids: Vec<String> = Scanner::new(&l, "deferred")
            .map(|f| f.unwrap().id.to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["3F2A11B9C4", "A0B2C1D"]);
        let ids: Vec<String> = Scanner::new(&l, "incoming")
            .map(|f| f.unwrap().id.to_string())
            .collect();
        assert_eq!(ids, ["B0B2C1D"]);
        assert_eq!(Scanner::new(&l, "hold").count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
