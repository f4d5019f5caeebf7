//! # NAME
//! bounce — the protocol between qmgr(8) and bounce(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! write_frame(&mut c, &BounceRequest::Flush { .. })?;
//! let r: BounceReply = read_frame(&mut c, FRAME_MAX)?;
//! ```
//!
//! ## DESCRIPTION
//! When every recipient of a message is done and some failed, qmgr asks
//! the bounce service to turn `bounce/ID` into a non-delivery notice for
//! the sender (or, for an expired message, `defer/ID`), to queue it
//! through cleanup(8), and to remove the log. Only after a successful
//! reply may qmgr remove the queue file (DESIGN.md rule 3). `Warn` asks for
//! a delay warning from `defer/ID` without removing anything. `Trace`
//! asks for the delivery report of `trace/ID` (`NOTIFY=SUCCESS`
//! recipients, `sendmail -bv`) and removes that log.
//!
//! ## SEE ALSO
//! bounce(8), qmgr(8)

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BounceRequest {
    Flush {
        queue: String,
        queue_id: String,
        expired: bool,
    },
    Warn {
        queue: String,
        queue_id: String,
    },
    Trace {
        queue: String,
        queue_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceReply {
    /// The notice is queued (or none was owed).
    pub ok: bool,
    pub reason: String,
}
