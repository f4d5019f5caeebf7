//! # showq(8) — list the mail queue
//!
//! ## SYNOPSIS
//! `showq` [generic daemon options]
//!
//! ## DESCRIPTION
//! Serves `public/showq`: for each client (postqueue(1) for `mailq`,
//! `postqueue -p` and `-j`, `sendmail -bp`) it walks the `maildrop`,
//! `incoming`, `active`, `deferred` and `hold` queues and streams one
//! record per message ([`ipc::showq`]): queue, ID, arrival time, size,
//! sender, the recipients still to be delivered and, from `defer/ID`, why
//! each was delayed. It reads only the envelope of each file and never
//! holds more than one message in memory ([`queue::listing::list`]).
//!
//! ## SECURITY
//! Runs as `mail_owner`, may be chrooted; reads queue files and defer
//! logs, writes nothing. Any local user may connect through the set-gid
//! postqueue(1), which enforces `authorized_mailq_users`. Files are opened
//! without following symbolic links.
//!
//! ## DIAGNOSTICS
//! `warning: ID: ...` for a file it cannot read; the file is left alone
//! (postsuper -s moves damaged files to `corrupt`).
//!
//! ## SEE ALSO
//! postqueue(1), mailq(1), [`queue::listing::list`]

#![forbid(unsafe_code)]

use std::io::{BufWriter, Write};
use std::time::Duration;

use config::params;
use daemon::server::{Client, Ctx, SingleServer, single_server_main};
use ipc::showq::ShowqItem;

struct Showq {
    layout: queue::Layout,
    empty_address: String,
    timeout: Duration,
}

impl SingleServer for Showq {
    fn serve(&mut self, _ctx: &Ctx, client: Client) {
        let _ = client.set_timeout(Some(self.timeout));
        let mut out = BufWriter::with_capacity(64 * 1024, client);
        let r = queue::listing::list(
            &self.layout,
            &self.empty_address,
            &mut |m| ipc::write_frame(&mut out, &ShowqItem::Message(m)).map_err(io_error),
            &|w| daemon::warn!("{w}"),
        )
        .and_then(|_| ipc::write_frame(&mut out, &ShowqItem::End).map_err(io_error))
        .and_then(|_| out.flush());
        if let Err(e) = r {
            daemon::verbose!("send queue listing: {e}");
        }
    }
}

fn main() {
    single_server_main("showq", |ctx| {
        let layout = queue::Layout::from_config(&ctx.cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
        Showq {
            // Daemons run in the queue directory, chrooted or not.
            layout: queue::Layout {
                queue_dir: ".".into(),
                ..layout
            },
            empty_address: ctx.str(&params::EMPTY_ADDRESS_RECIPIENT),
            timeout: ctx.time(&params::IPC_TIMEOUT).min(Duration::from_secs(600)),
        }
    })
}

/// Turns a frame error into an I/O error.
fn io_error(e: ipc::IpcError) -> std::io::Error {
    match e {
        ipc::IpcError::Io(e) => e,
        e => std::io::Error::other(e.to_string()),
    }
}
