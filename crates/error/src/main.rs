//! # error(8) — Postfix error/retry mail delivery agent
//!
//! ## SYNOPSIS
//! `error` [generic daemon options]
//!
//! ## DESCRIPTION
//! Takes delivery requests from qmgr(8) and fails every recipient with the
//! next hop of the request as the reason (`error:5.1.1 User unknown` in a
//! transport setting; trivial-rewrite(8) uses it for undeliverable
//! classes). Run as the `retry` service (master.cf `retry unix ... error`)
//! it defers instead of bouncing. A leading enhanced status code becomes
//! the DSN; the default is 5.0.0, or 4.0.0 for `retry`.
//!
//! ## SECURITY
//! Runs as `mail_owner`; it reads nothing of the message.
//!
//! ## SEE ALSO
//! qmgr(8), discard(8), [`daemon::agent`]

#![forbid(unsafe_code)]

use daemon::agent;
use daemon::server::{Client, Ctx, SingleServer, single_server_main};

struct ErrorAgent;

impl SingleServer for ErrorAgent {
    fn serve(&mut self, ctx: &Ctx, client: Client) {
        let retry = ctx.args.service == "retry";
        agent::serve(ctx, client, |job| {
            let nexthop = job.req.nexthop.clone();
            let (dsn, text) = agent::split_dsn(&nexthop, if retry { "4.0.0" } else { "5.0.0" });
            let text = if text.is_empty() {
                "delivery failed"
            } else {
                text
            };
            let temporary = retry || dsn.starts_with('4');
            for i in 0..job.req.recipients.len() {
                if temporary {
                    job.defer(i, "none", dsn, text);
                } else {
                    job.bounce(i, "none", dsn, text);
                }
            }
        })
    }
}

fn main() {
    single_server_main("error", |_| ErrorAgent)
}
