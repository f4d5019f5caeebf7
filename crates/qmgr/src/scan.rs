//! # NAME
//! scan — list the files of a queue directory
//!
//! ## SYNOPSIS
//! ```ignore
//! for id in scan::list(&layout, "deferred")? { ... }
//! ```
//!
//! ## DESCRIPTION
//! Walks a queue directory and its hash subdirectories and returns the
//! names that are queue IDs, in directory order. Temporary files of a
//! writer (`usec.pid`) and anything else are skipped.
//!
//! ## SEE ALSO
//! [`queue::file::Layout`]

use std::io;
use std::path::Path;

use queue::{Layout, QueueId};

fn walk(dir: &Path, depth: usize, out: &mut Vec<QueueId>) -> io::Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if depth > 0 && name.len() == 1 && e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&e.path(), depth - 1, out)?;
        } else if let Some(id) = QueueId::parse(name) {
            out.push(id);
        }
    }
    Ok(())
}

/// The queue IDs in `queue`.
pub fn list(layout: &Layout, queue: &str) -> io::Result<Vec<QueueId>> {
    let depth = if layout.hashed.iter().any(|q| q == queue) {
        layout.depth
    } else {
        0
    };
    let mut out = Vec::new();
    walk(&layout.queue_dir.join(queue), depth, &mut out)?;
    Ok(out)
}
