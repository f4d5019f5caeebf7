//! # NAME
//! cleanup — the protocol between message sources and cleanup(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut c = ipc::connect(queue_dir, Class::Public, "cleanup", timeout)?;
//! let hello: CleanupHello = read_frame(&mut c, FRAME_MAX)?;   // queue ID
//! write_frame(&mut c, &CleanupRequest::Begin { flags })?;
//! write_frame(&mut c, &CleanupRequest::Envelope(records))?;
//! write_frame(&mut c, &CleanupRequest::Content(chunk))?;   // repeated
//! write_frame(&mut c, &CleanupRequest::End)?;
//! let reply: CleanupReply = read_frame(&mut c, FRAME_MAX)?;
//! ```
//!
//! ## DESCRIPTION
//! smtpd(8), pickup(8) and bounce(8) hand messages to cleanup(8) this way.
//! cleanup creates the queue file when the client connects and says its ID
//! first (smtpd logs it before DATA). The client sends the flags, the
//! envelope, the content in chunks of whole lines (LF line ends, no dot
//! stuffing), and `End`. cleanup answers once, after the queue file is
//! durable, or with the reason it was not queued; the client may only
//! acknowledge the message (250, exit 0) on [`status::OK`].
//!
//! ## SEE ALSO
//! cleanup(8), [`crate::deliver`]

use serde::{Deserialize, Serialize};

/// Flags of a cleanup request.
pub mod flags {
    /// The sender may get a bounce for content problems (not for
    /// bounces themselves).
    pub const BOUNCE: u32 = 1 << 0;
    /// Apply header and body checks (`header_checks`, `body_checks`, ...).
    /// `content_filter` applies to all mail, as with Postfix.
    pub const FILTER: u32 = 1 << 1;
    /// Put the message on hold.
    pub const HOLD: u32 = 1 << 2;
    /// Discard the message (after the checks).
    pub const DISCARD: u32 = 1 << 3;
    /// Apply `always_bcc` and the bcc maps.
    pub const BCC_OK: u32 = 1 << 4;
    /// Apply canonical, masquerade and virtual alias mapping, and remove
    /// duplicate recipients.
    pub const MAP_OK: u32 = 1 << 5;
    /// Apply milters.
    pub const MILTER: u32 = 1 << 6;
    /// Take recipients from To/Cc/Bcc (`sendmail -t`) and remove Bcc.
    pub const EXTRACT_RCPT: u32 = 1 << 7;
    /// The message is from the local submission path (add Received:,
    /// From:, full name from `sendmail -F`).
    pub const LOCAL: u32 = 1 << 8;
    /// SMTPUTF8 was requested.
    pub const SMTPUTF8: u32 = 1 << 9;
}

/// Status bits, as Postfix's cleanup reports them.
pub mod status {
    pub const OK: u32 = 0;
    /// The client broke the protocol.
    pub const BAD: u32 = 1 << 0;
    /// The queue file could not be written (disk full, I/O error).
    pub const WRITE: u32 = 1 << 1;
    /// The message exceeds `message_size_limit`.
    pub const SIZE: u32 = 1 << 2;
    /// Rejected by content checks.
    pub const CONT: u32 = 1 << 3;
    /// Too many hops.
    pub const HOPS: u32 = 1 << 4;
    /// No recipients.
    pub const RCPT: u32 = 1 << 5;
    /// Temporary problem: try again later.
    pub const DEFER: u32 = 1 << 6;
}

/// What cleanup says first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupHello {
    pub queue_id: String,
}

/// One envelope item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvelopeRecord {
    /// Arrival time, seconds and microseconds.
    Time(u64, u32),
    /// Envelope sender, internal form ("" for the null sender).
    Sender(String),
    /// Full name (`sendmail -F`).
    FullName(String),
    /// A recipient: address, original address, DSN NOTIFY bits, ORCPT.
    Rcpt {
        address: String,
        orig: String,
        notify: u32,
        orcpt: String,
    },
    /// A message attribute (client name, protocol, ...).
    Attr(String, String),
    /// DSN RET (1 FULL, 2 HDRS).
    Ret(u32),
    /// DSN ENVID.
    Envid(String),
    /// Send the message through this content filter (`transport:nexthop`),
    /// from an access table's FILTER action. May also come after the
    /// content, as may the two below.
    Filter(String),
    /// Send the message to this address only (REDIRECT action).
    Redirect(String),
    /// Add this recipient, with NOTIFY=NEVER (BCC action).
    Bcc(String),
}

impl EnvelopeRecord {
    /// Whether the record routes the message (FILTER, REDIRECT, BCC
    /// actions) rather than describe it: these may follow the content.
    pub fn is_route(&self) -> bool {
        matches!(
            self,
            EnvelopeRecord::Filter(_) | EnvelopeRecord::Redirect(_) | EnvelopeRecord::Bcc(_)
        )
    }
}

/// A client's request frames, in order: Begin, Envelope..., Content..., End.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CleanupRequest {
    Begin {
        flags: u32,
    },
    Envelope(Vec<EnvelopeRecord>),
    /// Whole lines, each ending in LF.
    Content(Vec<u8>),
    /// Flags decided once the content is in (HOLD or DISCARD from
    /// smtpd_end_of_data_restrictions), added to those of Begin.
    Flags(u32),
    End,
}

/// cleanup's one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReply {
    pub status: u32,
    /// Why it was not queued, as text for the client's reply.
    pub reason: String,
}

/// The client side: smtpd(8), pickup(8) and bounce(8) use it.
pub struct Client {
    stream: std::os::unix::net::UnixStream,
    pub queue_id: String,
    /// Content bytes waiting to be sent in one frame.
    pending: Vec<u8>,
}

/// How much content to collect before sending a frame.
const CHUNK: usize = 64 * 1024;

impl Client {
    /// Connects to cleanup and learns the queue ID.
    pub fn open(
        queue_dir: &std::path::Path,
        service: &str,
        timeout: std::time::Duration,
    ) -> Result<Client, crate::IpcError> {
        let mut stream = crate::connect(queue_dir, crate::Class::Public, service, timeout)?;
        let hello: CleanupHello = crate::read_frame(&mut stream, 4096)?;
        Ok(Client {
            stream,
            queue_id: hello.queue_id,
            pending: Vec::with_capacity(CHUNK),
        })
    }

    pub fn begin(&mut self, flags: u32) -> Result<(), crate::IpcError> {
        crate::write_frame(&mut self.stream, &CleanupRequest::Begin { flags })
    }

    pub fn envelope(&mut self, records: Vec<EnvelopeRecord>) -> Result<(), crate::IpcError> {
        crate::write_frame(&mut self.stream, &CleanupRequest::Envelope(records))
    }

    /// Adds content (whole lines, LF); sent in large frames.
    pub fn content(&mut self, bytes: &[u8]) -> Result<(), crate::IpcError> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= CHUNK {
            let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
            crate::write_frame(&mut self.stream, &CleanupRequest::Content(chunk))?;
        }
        Ok(())
    }

    /// Adds flags (HOLD, DISCARD) decided after the content was sent.
    pub fn add_flags(&mut self, flags: u32) -> Result<(), crate::IpcError> {
        crate::write_frame(&mut self.stream, &CleanupRequest::Flags(flags))
    }

    /// Ends the message and waits until it is queued or refused.
    pub fn finish(mut self) -> Result<CleanupReply, crate::IpcError> {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            crate::write_frame(&mut self.stream, &CleanupRequest::Content(chunk))?;
        }
        crate::write_frame(&mut self.stream, &CleanupRequest::End)?;
        crate::read_frame(&mut self.stream, crate::FRAME_MAX)
    }
}
