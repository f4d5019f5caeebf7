//! # discard(8) — Postfix discard mail delivery agent
//!
//! ## SYNOPSIS
//! `discard` [generic daemon options]
//!
//! ## DESCRIPTION
//! Takes delivery requests from qmgr(8) and throws the mail away: each
//! recipient is marked done and logged as `status=sent`, with the next hop
//! of the request as the reason (`discard:reason` in a transport
//! setting). A leading enhanced status code in the reason becomes the DSN
//! (default 2.0.0).
//!
//! ## SECURITY
//! Runs as `mail_owner`; it reads nothing of the message.
//!
//! ## SEE ALSO
//! qmgr(8), error(8), [`daemon::agent`]

#![forbid(unsafe_code)]

use daemon::agent;
use daemon::server::{Client, Ctx, SingleServer, single_server_main};

struct Discard;

impl SingleServer for Discard {
    fn serve(&mut self, ctx: &Ctx, client: Client) {
        agent::serve(ctx, client, |job| {
            let nexthop = job.req.nexthop.clone();
            let (dsn, text) = agent::split_dsn(&nexthop, "2.0.0");
            let text = if text.is_empty() { "discarded" } else { text };
            for i in 0..job.req.recipients.len() {
                job.sent(i, "none", dsn, text);
            }
        })
    }
}

fn main() {
    single_server_main("discard", |_| Discard)
}
