//! # smtpd(8) — Postfix SMTP server
//!
//! ## SYNOPSIS
//! `smtpd` [generic daemon options] [`peer=`*address*]
//!
//! ## DESCRIPTION
//! Speaks SMTP (RFC 5321) with one client per process: HELO/EHLO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT, VRFY, with PIPELINING, SIZE, 8BITMIME,
//! ENHANCEDSTATUSCODES, DSN and SMTPUTF8 ([`session`]); applies the
//! access restrictions ([`check`]); and streams each message to
//! cleanup(8), answering `250 ... queued as ID` only once the queue file
//! is durable. In stand-alone mode (`-z`) it serves standard input, as
//! the client `peer=`*address* (default 127.0.0.1).
//!
//! ## SECURITY
//! Talks to the network: it runs as `mail_owner`, may be chrooted, and
//! treats every byte from the client as hostile: lines and messages are
//! bounded, addresses are parsed strictly, DATA ends only where
//! `smtpd_forbid_bare_newline` allows (no SMTP smuggling), and a failing
//! table or resolver gives a temporary error, never an open relay.
//!
//! ## DIAGNOSTICS
//! Postfix's log lines: `connect from`, `ID: client=`, `NOQUEUE: reject:
//! RCPT from ...`, `lost connection after`, `timeout after`, `disconnect
//! from ... commands=N`.
//!
//! ## BUGS
//! Not yet: STARTTLS, AUTH, BDAT, ETRN, XCLIENT, XFORWARD, policy
//! services, anvil limits, address verification, DNS-based restrictions
//! (they are refused loudly when configured).
//!
//! ## SEE ALSO
//! cleanup(8), trivial-rewrite(8), SMTPD_ACCESS_README

#![forbid(unsafe_code)]

mod bdat;
mod chat;
mod check;
mod etrn;
mod peer;
mod session;
mod settings;
mod starttls;

use std::net::IpAddr;
use std::time::Duration;

use daemon::server::{Client, Ctx, SingleServer, single_server_main};

struct Smtpd {
    settings: settings::Settings,
    stdio_peer: Option<IpAddr>,
}

impl SingleServer for Smtpd {
    fn serve(&mut self, _ctx: &Ctx, client: Client) {
        let peer = peer::Peer::of(&client, self.stdio_peer);
        let chat = chat::Chat::new(client, self.settings.timeout);
        let rewrite = ipc::rewrite::Client::new(
            std::path::Path::new("."),
            &self.settings.rewrite_service,
            Duration::from_secs(60),
        );
        session::Session::new(&mut self.settings, chat, peer, rewrite).run();
    }
}

fn main() {
    single_server_main("smtpd", |ctx| {
        let settings =
            settings::Settings::from_config(&ctx.cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
        let stdio_peer = ctx
            .args
            .rest
            .iter()
            .find_map(|a| a.strip_prefix("peer="))
            .map(|p| {
                p.parse()
                    .unwrap_or_else(|_| daemon::fatal!("bad peer= address: {p}"))
            });
        Smtpd {
            settings,
            stdio_peer,
        }
    })
}
