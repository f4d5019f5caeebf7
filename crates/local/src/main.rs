//! # local(8) — Postfix local mail delivery
//!
//! ## SYNOPSIS
//! `local` [generic daemon options]
//!
//! ## DESCRIPTION
//! Takes delivery requests from qmgr(8) for recipients in
//! `$mydestination` and delivers each one, in this order of precedence:
//! `alias_maps` ([`alias`]), the user's `.forward` file
//! ([`dotforward`]), `mailbox_transport_maps`/`mailbox_transport`
//! ([`pass`]), `mailbox_command_maps`/`mailbox_command`,
//! `home_mailbox`, `mail_spool_directory` ([`mailbox`]), and for names
//! that are neither an alias nor a user `fallback_transport_maps`,
//! `fallback_transport` and `luser_relay` ([`unknown`]). Alias and
//! `.forward` expansions may name addresses, `/files`, `|commands` and
//! `:include:` files ([`token`], [`file`], [`command`], [`include`]);
//! addresses that are delivered elsewhere are forwarded as a new message
//! through cleanup(8) ([`forward`]).
//!
//! Every destination is logged (`to=<user@host>, orig_to=<alias>, ...,
//! status=sent (delivered to mailbox)`); the recipient is marked done in
//! the queue file only when all its destinations are delivered durably,
//! deferred when any of them must be tried again, bounced otherwise.
//!
//! ## SECURITY
//! Runs as root (master.cf unprivileged column `n`): it must deliver as
//! every user. Files are opened and written with the recipient's user
//! and group IDs (mailbox writes in a child process), commands run with
//! them for good; destinations from a root-owned alias table or
//! `:include:` file run with `default_privs`. Commands get an argument
//! vector and a clean environment whose values pass
//! `command_expansion_filter`; a shell runs only command text from a
//! configuration, alias or `.forward` file that asks for one. `.forward`
//! files that others may write or that belong to someone else, and
//! world-writable `:include:` files, are refused; mailboxes are never
//! opened through a symbolic link.
//!
//! ## BUGS
//! The results of deliveries to files and commands are not remembered
//! between attempts: when one destination of an alias must be retried,
//! the others may get the message again.
//!
//! ## SEE ALSO
//! local(8), aliases(5), qmgr(8), [`delivery`], [`daemon::agent`]

#![forbid(unsafe_code)]

mod alias;
mod command;
mod dotforward;
mod file;
mod forward;
mod include;
mod mailbox;
mod pass;
mod recipient;
mod settings;
mod state;
mod token;
mod unknown;

use daemon::server::{Client, Ctx, SingleServer, single_server_main};

fn main() {
    single_server_main("local", |ctx| {
        recipient::Local::new(settings::Settings::load(ctx))
    })
}

impl SingleServer for recipient::Local {
    fn serve(&mut self, ctx: &Ctx, client: Client) {
        self.reopen_changed_tables(ctx);
        daemon::agent::serve(ctx, client, |job| self.deliver_request(job));
        self.exit_if_tables_changed();
    }
}
