//! # NAME
//! deliver — the protocol between qmgr(8) and delivery agents
//!
//! ## SYNOPSIS
//! ```ignore
//! // qmgr
//! write_frame(&mut agent, &DeliveryRequest { .. })?;
//! let reply: DeliveryReply = read_frame(&mut agent, FRAME_MAX)?;
//! // agent (a single_server daemon)
//! let req: DeliveryRequest = read_frame(&mut client, FRAME_MAX)?;
//! ... deliver, mark delivered recipients done in the queue file ...
//! write_frame(&mut client, &DeliveryReply { .. })?;
//! ```
//!
//! ## DESCRIPTION
//! qmgr(8) connects to the agent's socket (`private/<transport>`) and sends
//! one [`DeliveryRequest`]: one message, one next hop, and the recipients
//! for that hop with the file offsets of their records. The agent opens the
//! queue file (shared lock), delivers, and answers with one
//! [`RecipientStatus`] per recipient, in request order.
//!
//! The agent marks a recipient done in the queue file itself, and only
//! after the delivery is durable (DESIGN.md rule 2). It leaves bounced and
//! deferred recipients alone: qmgr records those in the `bounce` and
//! `defer` logs before it marks a bounced recipient done (rule 3). The
//! agent writes the Postfix log line for each recipient (`to=<...>,
//! relay=..., delay=..., delays=..., dsn=..., status=...`).
//!
//! ## SEE ALSO
//! qmgr(8), [`crate::write_frame`], [`crate::read_frame`]

use serde::{Deserialize, Serialize};

/// Request flags.
pub mod flags {
    /// Address verification probe: do not deliver, only say what would happen.
    pub const VERIFY: u32 = 1 << 0;
    /// Record a delivery report for the sender (`sendmail -v`).
    pub const RECORD: u32 = 1 << 1;
    /// The destination is the last one of the message in this round: the
    /// agent may close cached connections.
    pub const LAST: u32 = 1 << 2;
    /// Deliveries to this destination run back to back: look for a
    /// cached connection and keep this one in the connection cache
    /// (`smtp_connection_cache_on_demand`).
    pub const CONN_STORE: u32 = 1 << 3;
    /// Passed on by another agent (local(8) `mailbox_transport`,
    /// `fallback_transport`): this agent reports, the one that passed the
    /// recipient marks it done once all its destinations are delivered.
    pub const PASSED: u32 = 1 << 4;
}

/// One recipient of a delivery request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecipient {
    /// The address after resolving (what to deliver to).
    pub address: String,
    /// The original recipient, for `X-Original-To:` and DSN.
    pub orig: String,
    /// Offset of the recipient record in the queue file.
    pub offset: u64,
    /// DSN NOTIFY bits.
    pub notify: u32,
    /// DSN ORCPT.
    pub orcpt: String,
}

/// What qmgr asks an agent to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRequest {
    /// Queue (`active`) and ID of the message.
    pub queue: String,
    pub queue_id: String,
    /// The master.cf service name of the transport (`smtp`, `relay`, `local`).
    pub transport: String,
    /// Next hop, as trivial-rewrite resolved it (`example.com`, `[10.0.0.1]:587`).
    pub nexthop: String,
    pub sender: String,
    pub flags: u32,
    /// Offset and length of the content in the queue file.
    pub content_offset: u64,
    pub content_len: u64,
    /// Arrival time, seconds and microseconds since the epoch.
    pub arrival: (u64, u32),
    /// When qmgr took the message into the active queue, and when it
    /// handed it to the agent (for `delays=a/b/c/d`).
    pub active_since: (u64, u32),
    pub handed_over: (u64, u32),
    pub dsn_envid: String,
    pub dsn_ret: u32,
    /// Message attributes from the queue file (client, protocol, ...).
    pub attrs: Vec<(String, String)>,
    pub recipients: Vec<DeliveryRecipient>,
}

/// The outcome for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Delivered, and marked done by the agent.
    Sent,
    /// Try again later.
    Deferred,
    /// Permanent failure: qmgr records it for the bounce and marks it done.
    Bounced,
}

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientStatus {
    pub outcome: Outcome,
    /// Enhanced status code (`2.0.0`, `4.4.1`, `5.1.1`).
    pub dsn: String,
    /// Where it went (`mx.example.com[192.0.2.1]:25`, `local`, `none`).
    pub relay: String,
    /// The text of the log line's parentheses and of a bounce.
    pub reason: String,
}

/// What the destination did, for the scheduler's concurrency feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HopStatus {
    /// The next hop answered (whatever it said about recipients).
    Alive,
    /// The next hop could not be reached or failed before any recipient
    /// (connection refused, timeout, 4xx greeting): counts against it.
    Dead,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReply {
    pub hop: HopStatus,
    /// One per recipient of the request, in the same order.
    pub recipients: Vec<RecipientStatus>,
}
