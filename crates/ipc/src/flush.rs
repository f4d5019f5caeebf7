//! # NAME
//! flush — the protocol of the fast flush service, flush(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut c = ipc::connect(queue_dir, Class::Public, "flush", timeout)?;
//! write_frame(&mut c, &FlushRequest::SendSite { site: "example.com".into() })?;
//! let reply: FlushReply = read_frame(&mut c, 4096)?;
//! ```
//!
//! ## DESCRIPTION
//! One request per connection, one reply. `Add` is sent by qmgr(8) when
//! it defers mail for a destination (it does not wait for the reply);
//! `SendSite` by `postqueue -s` (and ETRN), `SendFile` by
//! `postqueue -i`; `Refresh` and `Purge` maintain the logs. master(8)'s
//! wakeup arrives as the trigger byte `W` instead of a frame and means
//! `Refresh`.
//!
//! ## SEE ALSO
//! flush(8), postqueue(1)

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlushRequest {
    /// Mail for `site` is queued as `queue_id`.
    Add { site: String, queue_id: String },
    /// Deliver the mail queued for `site`.
    SendSite { site: String },
    /// Deliver the deferred message `queue_id`.
    SendFile { queue_id: String },
    /// Flush logs that were not read for `fast_flush_refresh_time`,
    /// remove empty ones older than `fast_flush_purge_time`.
    Refresh,
    /// Flush every log.
    Purge,
}

/// The outcome, as Postfix's flush clients tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlushStatus {
    /// Done (also for a message that is no longer deferred).
    Ok,
    /// The service could not do it (mail system trouble).
    Fail,
    /// The site is not eligible (`fast_flush_domains`).
    Deny,
    /// The request was malformed.
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushReply {
    pub status: FlushStatus,
}
