//! # virtual(8) — Postfix virtual domain mail delivery agent
//!
//! ## SYNOPSIS
//! `virtual` [generic daemon options]
//!
//! ## DESCRIPTION
//! Delivers mail for `virtual_mailbox_domains`: each recipient (folded
//! to lower case) is looked up in `virtual_mailbox_maps` as
//! `user+ext@domain`, `user@domain`, then `@domain`; the mailbox is
//! `$virtual_mailbox_base/RESULT`, a Maildir when RESULT ends in `/`, a
//! UNIX mailbox file otherwise. The mailbox belongs to the user and group
//! IDs `virtual_uid_maps` and `virtual_gid_maps` give for the recipient
//! (`static:5000` or per user), at least `virtual_minimum_uid`, and is
//! written with those IDs: a mailbox file from a child process, locked
//! per `virtual_mailbox_lock`, at most `virtual_mailbox_limit` bytes and
//! truncated back on failure; a Maildir file fsynced and renamed into
//! `new/`, and `new/` fsynced, before the recipient is marked done.
//!
//! A recipient without a mailbox bounces (`unknown user:
//! "user@domain"`), as does one over its size limit; every other problem
//! defers the mail with a warning, as Postfix does.
//!
//! ## SECURITY
//! Runs as root (master.cf unprivileged column `n`) and writes each
//! mailbox with the IDs of its tables, never as root: the tables that
//! give user and group IDs must be writable by root only. Symbolic links
//! to mailbox files are refused; RESULT may not climb out of the base
//! directory with `..`.
//!
//! ## SEE ALSO
//! virtual(8), local(8), [`delivery`]

#![forbid(unsafe_code)]

mod deliver;
mod settings;

use daemon::server::{Client, Ctx, SingleServer, single_server_main};

fn main() {
    single_server_main("virtual", |ctx| {
        deliver::Virtual::new(settings::Settings::load(ctx))
    })
}

impl SingleServer for deliver::Virtual {
    fn serve(&mut self, ctx: &Ctx, client: Client) {
        self.reopen_changed_tables(ctx);
        daemon::agent::serve(ctx, client, |job| self.deliver_request(job));
        self.exit_if_tables_changed();
    }
}
