//! # NAME
//! agent — the delivery agent side of the qmgr(8) protocol
//!
//! ## SYNOPSIS
//! ```ignore
//! impl SingleServer for Discard {
//!     fn serve(&mut self, ctx: &Ctx, client: Client) {
//!         agent::serve(ctx, client, |job| { for r in job.recipients() { job.sent(i, "none", "2.0.0", text) } })
//!     }
//! }
//! ```
//!
//! ## DESCRIPTION
//! [`serve`] reads one [`DeliveryRequest`], opens the queue file in its
//! queue with a shared lock (so that a restarted qmgr does not take it
//! while it is being delivered), and hands a [`Job`] to the agent. For
//! each recipient the agent reports [`Job::sent`], [`Job::defer`] or
//! [`Job::bounce`]; `sent` marks the recipient done in the queue file —
//! the agent must call it only once the delivery is durable — and every
//! report writes the Postfix delivery log line. Recipients the agent did
//! not report are deferred. The reply goes back to qmgr in request order.
//!
//! A request with [`ipc::deliver::flags::VERIFY`] (a `sendmail -bv`
//! probe) asks what would happen: the agent must not deliver, only
//! report; the log says `status=deliverable` or `status=undeliverable`.
//!
//! ## SEE ALSO
//! [`ipc::deliver`], [`crate::delivery_log`]

use std::time::SystemTime;

use ipc::deliver::{DeliveryReply, DeliveryRequest, HopStatus, Outcome, RecipientStatus};
use queue::{Layout, QueueFile, QueueId};

use crate::delivery_log::{self, Line, Times, at};
use crate::server::{Client, Ctx};
use crate::warn;

/// One delivery request being worked on.
pub struct Job {
    pub req: DeliveryRequest,
    pub file: QueueFile,
    results: Vec<Option<RecipientStatus>>,
    /// When the agent connected to the next hop (for `delays=`).
    pub connected: Option<SystemTime>,
    pub hop: HopStatus,
}

impl Job {
    fn report(&mut self, i: usize, outcome: Outcome, relay: &str, dsn: &str, reason: &str) {
        let to = self.req.recipients[i].address.clone();
        self.log_as(i, &to, outcome, relay, dsn, reason);
        self.record(i, outcome, relay, dsn, reason);
    }

    /// Logs the delivery line of recipient `i` as if its address were
    /// `to`, without giving a result: local(8) logs each destination an
    /// alias or `.forward` file expands to (`to=<user@host>,
    /// orig_to=<alias>`) and gives one result for the recipient with
    /// [`Job::set_result`].
    pub fn log_as(
        &self,
        i: usize,
        to: &str,
        outcome: Outcome,
        relay: &str,
        dsn: &str,
        reason: &str,
    ) {
        let now = SystemTime::now();
        let r = &self.req.recipients[i];
        let verify = self.req.flags & ipc::deliver::flags::VERIFY != 0;
        let status = match (outcome, verify) {
            (Outcome::Sent, false) => "sent",
            (Outcome::Deferred, false) => "deferred",
            (Outcome::Bounced, false) => "bounced",
            (Outcome::Sent, true) => "deliverable",
            (_, true) => "undeliverable",
        };
        delivery_log::log(&Line {
            queue_id: &self.req.queue_id,
            to,
            orig_to: &r.orig,
            relay,
            times: Times {
                arrival: at(self.req.arrival),
                active: at(self.req.active_since),
                handed_over: at(self.req.handed_over),
                connected: self.connected.unwrap_or(at(self.req.handed_over)),
                done: now,
            },
            dsn,
            status,
            reason,
        });
    }

    fn record(&mut self, i: usize, outcome: Outcome, relay: &str, dsn: &str, reason: &str) {
        self.results[i] = Some(RecipientStatus {
            outcome,
            dsn: dsn.to_string(),
            relay: relay.to_string(),
            reason: reason.to_string(),
        });
    }

    /// The recipient is delivered durably: mark it done and log it.
    pub fn sent(&mut self, i: usize, relay: &str, dsn: &str, reason: &str) {
        if self.req.flags & ipc::deliver::flags::PASSED == 0
            && let Err(e) = self.file.mark_done(self.req.recipients[i].offset)
        {
            // Delivered but not marked: it may be delivered again, which
            // is the lesser evil (at-least-once).
            warn!("{}: mark recipient done: {}", self.req.queue_id, e);
        }
        self.report(i, Outcome::Sent, relay, dsn, reason);
    }

    /// Gives recipient `i`'s result without logging it: its lines were
    /// logged with [`Job::log_as`], or by the agent the delivery was
    /// passed to. `Sent` marks the recipient done, as [`Job::sent`] does
    /// (only once the delivery is durable).
    pub fn set_result(&mut self, i: usize, outcome: Outcome, relay: &str, dsn: &str, reason: &str) {
        if outcome == Outcome::Sent
            && self.req.flags & ipc::deliver::flags::PASSED == 0
            && let Err(e) = self.file.mark_done(self.req.recipients[i].offset)
        {
            warn!("{}: mark recipient done: {}", self.req.queue_id, e);
        }
        self.record(i, outcome, relay, dsn, reason);
    }

    pub fn defer(&mut self, i: usize, relay: &str, dsn: &str, reason: &str) {
        self.report(i, Outcome::Deferred, relay, dsn, reason);
    }

    pub fn bounce(&mut self, i: usize, relay: &str, dsn: &str, reason: &str) {
        self.report(i, Outcome::Bounced, relay, dsn, reason);
    }

    /// Whether a result was given for recipient `i`.
    pub fn reported(&self, i: usize) -> bool {
        self.results[i].is_some()
    }
}

/// Splits an optional leading enhanced status code from a text
/// (`5.1.1 User unknown` -> ("5.1.1", "User unknown")).
pub fn split_dsn<'a>(text: &'a str, default: &'a str) -> (&'a str, &'a str) {
    let mut it = text.splitn(2, ' ');
    let first = it.next().unwrap_or("");
    let parts: Vec<&str> = first.split('.').collect();
    let valid = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()));
    if valid {
        (first, it.next().unwrap_or("").trim_start())
    } else {
        (default, text)
    }
}

/// Serves one qmgr connection with `deliver`.
pub fn serve(ctx: &Ctx, mut client: Client, deliver: impl FnOnce(&mut Job)) {
    let _ = client.set_timeout(Some(std::time::Duration::from_secs(3600)));
    let req: DeliveryRequest = match ipc::read_frame(&mut client, ipc::FRAME_MAX) {
        Ok(r) => r,
        Err(ipc::IpcError::Closed) => return,
        Err(e) => {
            warn!("delivery request: {e}");
            return;
        }
    };
    // Daemons run in the queue directory (chrooted or not): use it relatively.
    let layout = match Layout::from_config(&ctx.cfg) {
        Ok(l) => Layout {
            queue_dir: ".".into(),
            ..l
        },
        Err(e) => crate::fatal!("{e}"),
    };
    let n = req.recipients.len();
    let reply = match QueueId::parse(&req.queue_id)
        .ok_or_else(|| "bad queue ID".to_string())
        .and_then(|id| QueueFile::open(&layout, &req.queue, &id).map_err(|e| e.to_string()))
    {
        Ok(file) => {
            let _lock = file.lock(false);
            let mut job = Job {
                req,
                file,
                results: vec![None; n],
                connected: None,
                hop: HopStatus::Alive,
            };
            deliver(&mut job);
            for i in 0..n {
                if !job.reported(i) {
                    job.defer(i, "none", "4.3.0", "delivery agent gave no result");
                }
            }
            DeliveryReply {
                hop: job.hop,
                recipients: job.results.into_iter().flatten().collect(),
            }
        }
        Err(e) => {
            warn!("{}: open queue file: {}", req.queue_id, e);
            let status = RecipientStatus {
                outcome: Outcome::Deferred,
                dsn: "4.3.0".into(),
                relay: "none".into(),
                reason: format!("queue file: {e}"),
            };
            DeliveryReply {
                hop: HopStatus::Alive,
                recipients: vec![status; n],
            }
        }
    };
    if let Err(e) = ipc::write_frame(&mut client, &reply) {
        warn!("send delivery status: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_prefix() {
        assert_eq!(
            split_dsn("5.1.1 User unknown", "5.0.0"),
            ("5.1.1", "User unknown")
        );
        assert_eq!(
            split_dsn("User unknown", "5.0.0"),
            ("5.0.0", "User unknown")
        );
        assert_eq!(split_dsn("4.4.1", "5.0.0"), ("4.4.1", ""));
        assert_eq!(split_dsn("1.2.3 x", "5.0.0"), ("5.0.0", "1.2.3 x"));
    }
}
