//! # pipe(8) — Postfix delivery to external command
//!
//! ## SYNOPSIS
//! `pipe` [generic daemon options] `flags=... user=... argv=...`
//!
//! ## DESCRIPTION
//! Delivers each request by running the command of the master.cf entry
//! ([`attrs`]) with the message on its standard input: as the `user=`
//! user and group (never root, never `mail_owner`), in
//! `$queue_directory` or `directory=` (after `chroot=`), with `PATH` and
//! the `export_environment` variables only, for at most
//! `$SERVICE_time_limit` (default `command_time_limit`). `${sender}`,
//! `${recipient}`, `${nexthop}`, `${user}`, `${extension}`,
//! `${domain}`, `${mailbox}`, `${original_recipient}`, `${size}`,
//! `${queue_id}` and the client and SASL attributes are expanded in the
//! arguments; an argument with a recipient attribute is repeated for
//! each recipient. The flags add the `From ` line (`F`), `Return-Path:`
//! (`R`), `X-Original-To:` (`O`) and `Delivered-To:` (`D`, which also
//! bounces a message that already has one for the recipient), quote
//! (`>`, `.`), add an empty line (`B`), fold case (`h`, `u`) and quote
//! localparts (`q`).
//!
//! Exit status 0 is `delivered via SERVICE service`; otherwise the
//! command's output or its `<sysexits.h>` status decides: `EX_TEMPFAIL`
//! defers, other failures bounce, as [`delivery::command`] says. A
//! message larger than `size=` bounces (5.2.3 message too large).
//!
//! ## SECURITY
//! Runs as root (master.cf unprivileged column `n`) to run commands as
//! `user=`. Arguments are an argument vector; no shell sees them unless
//! the command is a shell.
//!
//! ## SEE ALSO
//! pipe(8), local(8), [`delivery::command`]

#![forbid(unsafe_code)]

mod attrs;
mod deliver;

use daemon::fatal;
use daemon::server::{Client, Ctx, SingleServer, single_server_main};

fn main() {
    single_server_main("pipe", |ctx| {
        let owner = ctx.str(&config::params::MAIL_OWNER);
        let attrs = attrs::Attrs::parse(&ctx.args.rest, &owner).unwrap_or_else(|e| fatal!("{e}"));
        deliver::Pipe::new(ctx, attrs)
    })
}

impl SingleServer for deliver::Pipe {
    fn serve(&mut self, ctx: &Ctx, client: Client) {
        daemon::agent::serve(ctx, client, |job| self.deliver_request(job));
    }
}
