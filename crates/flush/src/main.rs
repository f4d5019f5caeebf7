//! # flush(8) — the fast flush service
//!
//! ## SYNOPSIS
//! `flush` [generic daemon options]
//!
//! ## DESCRIPTION
//! Keeps a log of deferred mail per destination in `fast_flush_domains`
//! and delivers a destination's mail, or one message, on request
//! (`postqueue -s`, `postqueue -i`, `sendmail -qR`, ETRN).
//!
//! For each destination in `fast_flush_domains` it keeps a log of the
//! queue IDs of mail deferred for it (`flush/` under the queue directory,
//! one file per destination). A request to deliver a destination's mail
//! reads and empties its log and moves each message still in `deferred`
//! to `incoming`, with its time reset, then wakes qmgr(8); `postqueue -i`
//! does the same for one message. Requests are one
//! [`ipc::flush::FlushRequest`] per connection; master(8)'s wakeup (`W`,
//! every `$wakeup` seconds as the stock master.cf says `1000?`)
//! refreshes old logs.
//!
//! ## SECURITY
//! Not security sensitive: it talks to no network and to local users
//! only through postqueue(1). Runs as `mail_owner`, may be chrooted.
//!
//! ## DIAGNOSTICS
//! `flush SITE: N messages` for each destination flushed; warnings for
//! logs it cannot update.
//!
//! ## SEE ALSO
//! postqueue(1), qmgr(8), [`ipc::flush`]

#![forbid(unsafe_code)]

mod service;

use std::io::Read;
use std::path::Path;

use daemon::server::{Client, Ctx, SingleServer, single_server_main};
use ipc::flush::{FlushReply, FlushRequest, FlushStatus};

struct Flush(service::Service);

impl SingleServer for Flush {
    fn serve(&mut self, _ctx: &Ctx, mut client: Client) {
        let _ = client.set_timeout(Some(std::time::Duration::from_secs(60)));
        // A frame starts with a 4-byte length; a wakeup is a byte or two.
        let mut head = Vec::with_capacity(4);
        if (&mut client).take(4).read_to_end(&mut head).is_err() || head.is_empty() {
            return;
        }
        let req = if head.len() < 4 {
            FlushRequest::Refresh
        } else {
            let mut rest = (&head[..]).chain(&mut client);
            match ipc::read_frame::<FlushRequest>(&mut rest, 4096) {
                Ok(r) => r,
                Err(e) => {
                    daemon::warn!("flush request: {e}");
                    let _ = ipc::write_frame(
                        &mut client,
                        &FlushReply {
                            status: FlushStatus::Bad,
                        },
                    );
                    return;
                }
            }
        };
        let status = self.0.handle(&req);
        let _ = ipc::write_frame(&mut client, &FlushReply { status });
    }
}

fn main() {
    single_server_main("flush", |ctx| {
        Flush(
            service::Service::new(&ctx.cfg, Path::new("."))
                .unwrap_or_else(|e| daemon::fatal!("{e}")),
        )
    })
}
