//! # NAME
//! flush — the protocol of the fast flush service, flush(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! match ipc::flush::send_site(queue_dir, "flush", "example.com", timeout)? {
//!     FlushStatus::Ok => .., FlushStatus::Deny => .., _ => ..
//! }
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

use std::path::Path;
use std::time::Duration;

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

/// One request on its own connection to `public/<service>`, one reply.
/// An error means the service could not be reached or answered nonsense
/// (the mail system is down).
fn request(
    queue_dir: &Path,
    service: &str,
    req: &FlushRequest,
    timeout: Duration,
) -> Result<FlushStatus, crate::IpcError> {
    let mut c = crate::connect(queue_dir, crate::Class::Public, service, timeout)?;
    crate::write_frame(&mut c, req)?;
    let r: FlushReply = crate::read_frame(&mut c, 4096)?;
    Ok(r.status)
}

/// Asks for delivery of the mail queued for `site` (`postqueue -s`, ETRN).
pub fn send_site(
    queue_dir: &Path,
    service: &str,
    site: &str,
    timeout: Duration,
) -> Result<FlushStatus, crate::IpcError> {
    let req = FlushRequest::SendSite {
        site: site.to_string(),
    };
    request(queue_dir, service, &req, timeout)
}

/// Asks for delivery of one deferred message (`postqueue -i`).
pub fn send_file(
    queue_dir: &Path,
    service: &str,
    queue_id: &str,
    timeout: Duration,
) -> Result<FlushStatus, crate::IpcError> {
    let req = FlushRequest::SendFile {
        queue_id: queue_id.to_string(),
    };
    request(queue_dir, service, &req, timeout)
}

/// Tells the service that `queue_id` waits for `site`; does not wait
/// for the answer (qmgr(8) must not block on it).
pub fn add(
    queue_dir: &Path,
    service: &str,
    site: &str,
    queue_id: &str,
) -> Result<(), crate::IpcError> {
    let timeout = Duration::from_secs(5);
    let mut c = crate::connect(queue_dir, crate::Class::Public, service, timeout)?;
    let req = FlushRequest::Add {
        site: site.to_string(),
        queue_id: queue_id.to_string(),
    };
    crate::write_frame(&mut c, &req)
}
