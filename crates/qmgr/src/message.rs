//! # NAME
//! message — a message in the active queue
//!
//! ## SYNOPSIS
//! ```ignore
//! match Message::load(&layout, &id) { Loaded(m) => .., Skip(why) => .., Corrupt(e) => .. }
//! ```
//!
//! ## DESCRIPTION
//! Loading opens the file in `active`, checks with an exclusive lock that
//! no delivery agent of an earlier qmgr still works on it, reads the
//! envelope and releases the lock. The message then lives in memory
//! until all its deliveries have come back. Notices an earlier round
//! owed (a `bounce/ID` or `trace/ID` log that is still there) and the
//! forced-expiration mark (`postsuper -e`) are noted at load.
//!
//! ## SEE ALSO
//! [`queue::file`], [`crate::qmgr`]

use std::time::{SystemTime, UNIX_EPOCH};

use queue::{Envelope, Layout, QueueError, QueueFile, QueueId};

/// A message being delivered.
pub struct Message {
    pub id: QueueId,
    pub file: QueueFile,
    pub env: Envelope,
    pub active_since: (u64, u32),
    /// Entries queued or out for delivery.
    pub pending: usize,
    pub deferred: bool,
    /// Failed recipients are in `bounce/ID`, waiting for a notice.
    pub bounced: bool,
    /// Delivered recipients are in `trace/ID` (NOTIFY=SUCCESS).
    pub traced: bool,
    /// `postsuper -e`/`-f`: return to the sender without trying.
    pub forced_expire: bool,
    /// An address verification probe (`sendmail -bv`): agents only say
    /// what they would do, and every result goes into the report.
    pub verify: bool,
    /// Steps of the end of the message already done this round.
    pub bounce_sent: bool,
    pub warn_done: bool,
    pub trace_sent: bool,
}

pub enum Load {
    Loaded(Box<Message>),
    /// Not now: being written, locked by an agent, or an I/O error.
    Skip(String),
    /// Damaged: belongs in `corrupt`.
    Corrupt(String),
    Gone,
}

pub fn now_pair() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros())
}

impl Message {
    pub fn load(layout: &Layout, id: &QueueId) -> Load {
        let mut file = match QueueFile::open(layout, "active", id) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Load::Gone,
            Err(e) => return Load::Skip(format!("open: {e}")),
        };
        let lock = match file.lock(true) {
            Ok(Some(l)) => l,
            Ok(None) => return Load::Skip("skipped, still being delivered".into()),
            Err(e) => return Load::Skip(format!("lock: {e}")),
        };
        let env = match file.read_envelope() {
            Ok(env) => env,
            Err(QueueError::Incomplete) => return Load::Skip("skipped, not complete".into()),
            Err(QueueError::Corrupt(e)) => return Load::Corrupt(e.to_string()),
            Err(e) => return Load::Skip(e.to_string()),
        };
        drop(lock);
        let has_log =
            |log: &str| std::fs::metadata(layout.path_of(log, id)).is_ok_and(|m| m.len() > 0);
        let forced_expire = file.is_forced_expire().unwrap_or(false);
        let verify = env
            .attr("trace_flags")
            .is_some_and(|v| v.split(',').any(|f| f.trim() == "verify"));
        Load::Loaded(Box::new(Message {
            id: id.clone(),
            file,
            env,
            active_since: now_pair(),
            pending: 0,
            deferred: false,
            // A notice an earlier round could not send is still owed.
            bounced: has_log("bounce"),
            traced: has_log("trace"),
            forced_expire,
            verify,
            bounce_sent: false,
            warn_done: false,
            trace_sent: false,
        }))
    }
}
