//! # qmgr(8) — the queue manager
//!
//! ## SYNOPSIS
//! `qmgr` [generic daemon options]
//!
//! ## DESCRIPTION
//! The resident process that moves mail through the queue. Woken by
//! cleanup(8) (`I`), by master(8) (`W`, every `$wakeup` seconds), by
//! postqueue(1) (`F A D I`) or by its own timer, it:
//!
//! 1. moves complete files from `incoming` to `active` and reads their
//!    envelopes ([`message`]), up to `qmgr_message_active_limit`
//!    messages and `qmgr_message_recipient_limit` recipients;
//! 2. resolves each recipient with trivial-rewrite(8), caching the answers
//!    ([`ipc::rewrite::Client`]), and groups recipients per transport and next hop, at
//!    most `$transport_destination_recipient_limit` per delivery; a
//!    message that cleanup(8) gave a content filter (`content_filter`, a
//!    FILTER action) goes to that transport and next hop for every
//!    recipient (the recipient's own next hop when the filter names none,
//!    or `default_filter_nexthop`), and a redirected one (a REDIRECT
//!    action) goes once to the redirection address instead of its
//!    recipients;
//! 3. hands deliveries to the agents over their `private/` sockets
//!    ([`agent`]), round-robin over transports and destinations, within
//!    each destination's concurrency window: it starts at
//!    `initial_destination_concurrency`, grows by one over a window's
//!    worth of successes up to `$transport_destination_concurrency_limit`,
//!    shrinks on failures, and a destination whose window falls below one
//!    is dead for a while: its mail is deferred without trying
//!    ([`sched`]);
//! 4. records deferred recipients in `defer/ID` and failed ones in
//!    `bounce/ID` (fsynced) before marking them done; when a message is
//!    finished it is removed, or moved to `deferred` with its time set to
//!    the next retry (`minimal_backoff_time` to `maximal_backoff_time`,
//!    growing with the message's age), or, with failures, given to
//!    bounce(8) first;
//! 5. scans `deferred` every `queue_run_delay` for files whose retry time
//!    has come, and gives up on messages older than
//!    `maximal_queue_lifetime` (`bounce_queue_lifetime` for bounces);
//! 6. before a message leaves the active queue, has bounce(8) queue the
//!    notices it owes, one at a time: the non-delivery notice for failed
//!    (or expired) recipients, a delay warning once it has waited
//!    `delay_warning_time` (then the file's warning record says it was
//!    sent), the success report for `NOTIFY=SUCCESS` recipients
//!    (`trace/ID`); a notice that could not be queued keeps the message
//!    for the next round.
//!
//! A message forced to expire (`postsuper -e`) is returned to its sender
//! without a delivery attempt, with the reasons of its last attempt or
//! "message is administratively expired". A deferred message starts each
//! attempt with an empty `defer/ID`, so that mailq(1) shows the reasons of
//! the last one; with `fast_flush_domains` set, flush(8) learns which
//! destinations deferred mail waits for.
//!
//! At start-up it moves whatever an earlier qmgr left in `active` back
//! to `incoming`.
//!
//! ## SECURITY
//! Runs as `mail_owner`; it reads queue files, which only the mail system
//! writes, and treats a damaged one by moving it to `corrupt`.
//!
//! ## DIAGNOSTICS
//! `ID: from=<sender>, size=N, nrcpt=N (queue active)`, `ID: removed`,
//! `ID: from=<sender>, status=expired, returned to sender` (and
//! `status=force-expired`),
//! `warning: ID: corrupt queue file: ...`, and the delivery lines of
//! recipients it defers or bounces itself (`relay=none`).
//!
//! ## BUGS
//! No preemption between jobs of one transport (Postfix's delivery slots):
//! destinations and transports are served round-robin.
//!
//! ## SEE ALSO
//! trivial-rewrite(8), bounce(8), master(8), SCHEDULER_README

#![forbid(unsafe_code)]

mod agent;
mod message;
mod qmgr;
mod scan;
mod sched;

fn main() {
    daemon::server::event_server_main("qmgr", qmgr::Qmgr::pre_init)
}
