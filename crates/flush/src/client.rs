//! # NAME
//! client — requests to the flush service
//!
//! ## SYNOPSIS
//! ```ignore
//! match client::send_site(queue_dir, "flush", "example.com", timeout)? { FlushStatus::Ok => .. }
//! ```
//!
//! ## DESCRIPTION
//! One connection per request to `public/<service>`, one reply.
//! An error means the service could not be reached or answered nonsense
//! (the mail system is down).
//!
//! ## SEE ALSO
//! [`ipc::flush`], postqueue(1)

use std::io;
use std::path::Path;
use std::time::Duration;

use ipc::flush::{FlushReply, FlushRequest, FlushStatus};

fn request(
    queue_dir: &Path,
    service: &str,
    req: &FlushRequest,
    timeout: Duration,
) -> Result<FlushStatus, ipc::IpcError> {
    let mut c = ipc::connect(queue_dir, ipc::Class::Public, service, timeout)?;
    ipc::write_frame(&mut c, req)?;
    let r: FlushReply = ipc::read_frame(&mut c, 4096)?;
    Ok(r.status)
}

/// Asks for delivery of the mail queued for `site`.
pub fn send_site(
    queue_dir: &Path,
    service: &str,
    site: &str,
    timeout: Duration,
) -> Result<FlushStatus, ipc::IpcError> {
    request(
        queue_dir,
        service,
        &FlushRequest::SendSite {
            site: site.to_string(),
        },
        timeout,
    )
}

/// Asks for delivery of one deferred message.
pub fn send_file(
    queue_dir: &Path,
    service: &str,
    queue_id: &str,
    timeout: Duration,
) -> Result<FlushStatus, ipc::IpcError> {
    request(
        queue_dir,
        service,
        &FlushRequest::SendFile {
            queue_id: queue_id.to_string(),
        },
        timeout,
    )
}

/// Tells the service that `queue_id` waits for `site`; does not wait
/// for the answer (qmgr(8) must not block on it).
pub fn add(queue_dir: &Path, service: &str, site: &str, queue_id: &str) -> io::Result<()> {
    let mut c = ipc::connect(
        queue_dir,
        ipc::Class::Public,
        service,
        Duration::from_secs(5),
    )?;
    ipc::write_frame(
        &mut c,
        &FlushRequest::Add {
            site: site.to_string(),
            queue_id: queue_id.to_string(),
        },
    )
    .map_err(|e| io::Error::other(e.to_string()))
}
