//! # bounce(8) — delivery status notifications
//!
//! ## SYNOPSIS
//! `bounce` [generic daemon options]
//!
//! ## DESCRIPTION
//! Serves the `bounce`, `defer` and `trace` services of master.cf (one
//! program, as with Postfix). qmgr(8) asks it, once a message's
//! deliveries are done, to turn the per-message logs into notices
//! ([`ipc::bounce`]):
//!
//! * failed recipients (`bounce/ID`, and `defer/ID` for a message past
//!   `maximal_queue_lifetime` or forced to expire) into a non-delivery
//!   notice to the sender;
//! * delayed recipients (`defer/ID`) into a delay warning
//!   (`delay_warning_time`);
//! * delivered recipients with `NOTIFY=SUCCESS` and `sendmail -bv`
//!   probes (`trace/ID`) into a delivery report;
//!
//! with postmaster copies as `notify_classes` says ([`service`]), in RFC
//! 3464 form ([`notice`]), with the texts of `bounce_template_file`. The
//! notice is queued through cleanup(8) before the answer, so that qmgr
//! removes a message only once what it owes is safely queued.
//!
//! ## SECURITY
//! Runs as `mail_owner`; reads queue files and logs that only the mail
//! system writes; sends notices from the null sender (or
//! `double_bounce_sender` to the postmaster), so that a notice never
//! causes another one to the sender.
//!
//! ## DIAGNOSTICS
//! `ID: sender non-delivery notification: NEWID`, `ID: postmaster
//! non-delivery notification: NEWID`, `ID: sender delay notification:
//! NEWID`, `ID: sender delivery status notification: NEWID`, as Postfix
//! logs them; a notice that cannot be queued is reported to qmgr, which
//! keeps the message and tries again later.
//!
//! ## BUGS
//! VERP (`sendmail -V` with `-XV`) notices are not implemented.
//! `error_notice_recipient` copies belong to the programs that detect
//! protocol and policy errors.
//!
//! ## SEE ALSO
//! qmgr(8), cleanup(8), bounce(5), [`mail::bounce_template`], [`mail::dsn`]

#![forbid(unsafe_code)]

mod notice;
mod service;

use std::path::Path;

use daemon::server::{Client, Ctx, SingleServer, single_server_main};
use ipc::bounce::BounceRequest;

struct Server(service::Bounce);

impl SingleServer for Server {
    fn serve(&mut self, ctx: &Ctx, mut client: Client) {
        let _ = client.set_timeout(Some(std::time::Duration::from_secs(600)));
        let req: BounceRequest = match ipc::read_frame(&mut client, 64 * 1024) {
            Ok(r) => r,
            Err(ipc::IpcError::Closed) => return,
            Err(e) => {
                daemon::warn!("bounce request: {e}");
                return;
            }
        };
        let reply = self.0.handle(&ctx.cfg, &req);
        if let Err(e) = ipc::write_frame(&mut client, &reply) {
            daemon::warn!("bounce reply: {e}");
        }
    }
}

fn main() {
    single_server_main("bounce", |ctx| {
        Server(
            service::Bounce::new(&ctx.cfg, Path::new("."))
                .unwrap_or_else(|e| daemon::fatal!("{e}")),
        )
    })
}
