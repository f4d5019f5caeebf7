//! # trivial-rewrite(8) — address rewriting and resolving
//!
//! ## SYNOPSIS
//! `trivial-rewrite` [generic daemon options]
//!
//! ## DESCRIPTION
//! A multi-client server on the `rewrite` service. `Rewrite` requests put
//! an address in canonical form ([`rewrite`]); `Resolve` requests say how
//! to deliver a recipient: transport, next hop, recipient and address
//! class ([`resolve`]). qmgr(8), cleanup(8) and smtpd(8) ask it and cache
//! the answers.
//!
//! ## SECURITY
//! Not security sensitive: it answers requests from the mail system's own
//! processes, runs as `mail_owner`, and may be chrooted.
//!
//! ## DIAGNOSTICS
//! A request that does not decode closes the connection with a warning.
//!
//! ## SEE ALSO
//! qmgr(8), cleanup(8), [`ipc::rewrite`]

#![forbid(unsafe_code)]

mod resolve;
mod rewrite;

use daemon::server::{Client, Ctx, MultiServer, multi_server_main};
use daemon::warn;
use ipc::rewrite::{ResolveReply, RewriteReply, RewriteRequest};

struct TrivialRewrite {
    settings: resolve::Settings,
}

impl MultiServer for TrivialRewrite {
    fn request(&mut self, _ctx: &Ctx, client: &mut Client) -> bool {
        let req: RewriteRequest = match ipc::read_frame(client, 64 * 1024) {
            Ok(r) => r,
            Err(ipc::IpcError::Closed) => return false,
            Err(e) => {
                warn!("rewrite request: {e}");
                return false;
            }
        };
        let sent = match req {
            RewriteRequest::Rewrite { context, address } => {
                let address = rewrite::rewrite(&self.settings.rewrite, &context, &address);
                ipc::write_frame(client, &RewriteReply { address })
            }
            RewriteRequest::Resolve { sender, address } => {
                let r: ResolveReply = resolve::resolve(&mut self.settings, &sender, &address, false);
                ipc::write_frame(client, &r)
            }
            RewriteRequest::ResolveVerify { sender, address } => {
                let r: ResolveReply = resolve::resolve(&mut self.settings, &sender, &address, true);
                ipc::write_frame(client, &r)
            }
        };
        if self.settings.changed() {
            daemon::info!("table has changed -- exiting");
            std::process::exit(0);
        }
        sent.is_ok()
    }
}

fn main() {
    multi_server_main("trivial-rewrite", |ctx| TrivialRewrite {
        settings: resolve::Settings::from_config(&ctx.cfg)
            .unwrap_or_else(|e| daemon::fatal!("{e}")),
    })
}
