//! # NAME
//! recipient — one delivery request, recipient by recipient
//!
//! ## DESCRIPTION
//! For each queue file recipient: refuse a message that already has
//! `Delivered-To:` the recipient (a forwarding loop: 5.4.6), then
//! [`deliver_recipient`]: aliases, the `.forward` file, the mailbox
//! transport, the user's mailbox, or the unknown-user features, in
//! Postfix's order. Addresses an expansion yields are delivered in this
//! process when they are local and came from an alias (or luser_relay)
//! without an owner; everything else is forwarded ([`crate::token`]).
//! The forwarded messages of a recipient are queued at its end
//! ([`crate::forward`]), then its result goes to qmgr(8).

use std::collections::HashSet;

use daemon::agent::Job;
use daemon::{info, warn};
use delivery::Failure;

use crate::settings::Settings;
use crate::state::{ExpType, MsgAttr, Run, UserAttr};

/// How deep aliases, `.forward` files and `:include:` files may nest.
pub const MAX_LEVEL: u32 = 100;

/// The agent's state between requests.
pub struct Local {
    pub s: Settings,
    rewrite: ipc::rewrite::Client,
}

impl Local {
    pub fn new(s: Settings) -> Local {
        let rewrite = ipc::rewrite::Client::new(&s.queue_dir, "rewrite", s.ipc_timeout);
        Local { s, rewrite }
    }

    /// Opens again the tables rebuilt while this process waited for a
    /// request, so that the request sees the new ones.
    pub fn reopen_changed_tables(&mut self, ctx: &daemon::server::Ctx) {
        use config::params;
        let s = &mut self.s;
        for (list, p) in [
            (&mut s.alias_maps, &params::ALIAS_MAPS),
            (
                &mut s.mailbox_transport_maps,
                &params::MAILBOX_TRANSPORT_MAPS,
            ),
            (
                &mut s.fallback_transport_maps,
                &params::FALLBACK_TRANSPORT_MAPS,
            ),
            (&mut s.mailbox_command_maps, &params::MAILBOX_COMMAND_MAPS),
        ] {
            if list.changed() {
                *list = crate::settings::tables(ctx, p);
            }
        }
    }

    /// Postfix's restart when a table was rebuilt.
    pub fn exit_if_tables_changed(&self) {
        let s = &self.s;
        for list in [
            &s.alias_maps,
            &s.mailbox_transport_maps,
            &s.fallback_transport_maps,
            &s.mailbox_command_maps,
        ] {
            if let Some(name) = list.changed_name() {
                info!("table {} has changed -- restarting", name);
                std::process::exit(0);
            }
        }
    }

    pub fn deliver_request(&mut self, job: &mut Job) {
        let delivered = delivered_to_headers(job);
        let mut dup = HashSet::new();
        for i in 0..job.req.recipients.len() {
            let r = &job.req.recipients[i];
            let orig = if self.s.enable_original_recipient {
                r.orig.clone()
            } else {
                String::new()
            };
            let attr = MsgAttr::top(&r.address, &orig, &self.s.delimiters);
            let mut run = Run {
                job,
                i,
                s: &mut self.s,
                rewrite: &mut self.rewrite,
                dup: &mut dup,
                forwards: Vec::new(),
                sent: 0,
                deferred: None,
                bounced: None,
            };
            if delivered.contains(&attr.delivered.to_lowercase()) {
                run.failed(
                    &attr.rcpt,
                    Failure::new(
                        "5.4.6",
                        format!("mail forwarding loop for {}", attr.delivered),
                    ),
                );
            } else {
                deliver_recipient(&mut run, &attr);
                crate::forward::flush(&mut run);
            }
            run.finish();
        }
    }
}

/// The `Delivered-To:` values of the message's header, folded to lower
/// case.
fn delivered_to_headers(job: &Job) -> HashSet<String> {
    delivery::copy::delivered_to(delivery::copy::Segment::new(
        &job.file.file,
        job.req.content_offset,
        job.req.content_len,
    ))
}

/// Delivers to one address (the queue file recipient, or a local address
/// an alias expanded to).
pub fn deliver_recipient(run: &mut Run<'_>, attr: &MsgAttr) {
    if attr.level > MAX_LEVEL {
        warn!(
            "{}: recursion limit exceeded for {}",
            run.job.req.queue_id,
            daemon::Untrusted(&attr.rcpt)
        );
        run.failed(
            &attr.rcpt,
            Failure::new("4.3.0", "mail system configuration error"),
        );
        return;
    }
    if attr.local.is_empty() {
        run.failed(
            &attr.rcpt,
            Failure::new("5.1.1", "null username in local address"),
        );
        return;
    }
    // 1. Aliases.
    if crate::alias::deliver_alias(run, attr) {
        return;
    }
    // 2. The user's .forward file, 3. the mailbox.
    let user = match sys::privs::lookup_user(&attr.user) {
        Ok(id) => Some(id),
        Err(sys::privs::PrivError::NoUser(_)) => None,
        Err(e) => {
            warn!("user lookup for {}: {}", daemon::Untrusted(&attr.user), e);
            run.failed(&attr.rcpt, Failure::new("4.3.0", "user lookup failure"));
            return;
        }
    };
    let usr = user.as_ref().map(|u| UserAttr {
        uid: u.uid,
        gid: u.gid,
        home: Some(u.home.clone()),
        shell: nix::unistd::User::from_uid(u.uid)
            .ok()
            .flatten()
            .map(|p| p.shell.display().to_string()),
    });
    if let Some(usr) = &usr
        && crate::dotforward::deliver_dotforward(run, attr, usr)
    {
        return;
    }
    if !crate::mailbox::deliver_mailbox(run, attr, usr.as_ref()) {
        crate::unknown::deliver_unknown(run, attr);
    }
}

/// An address an expansion yields: delivered here, or forwarded.
pub fn deliver_address(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, addr: &str) {
    let mut addr = mail::address::internalize(addr);
    if let Some(ext) = &attr.unmatched {
        addr = match addr.rfind('@') {
            Some(i) => format!("{}{}{}", &addr[..i], ext, &addr[i..]),
            None => format!("{addr}{ext}"),
        };
    }
    let sender = run.sender();
    let resolved = run
        .rewrite
        .rewrite("local", &addr)
        .and_then(|full| run.rewrite.resolve(&sender, &full));
    let resolved = match resolved {
        Ok(r) => r,
        Err(e) => {
            warn!("address resolver: {e}");
            run.failed(
                &attr.rcpt,
                Failure::new("4.3.0", "address resolver failure"),
            );
            return;
        }
    };
    let here = resolved.transport == run.s.service;
    // A user's own address in the user's .forward: the mailbox.
    if here && attr.exp_type == ExpType::Forward {
        let mut me = attr.clone();
        me.set_address(&resolved.recipient, &run.s.delimiters);
        if me.user == attr.user {
            crate::mailbox::deliver_mailbox(run, attr, Some(usr));
            return;
        }
    }
    if here && matches!(attr.exp_type, ExpType::None | ExpType::Alias) && attr.owner.is_none() {
        let mut child = attr.clone();
        child.level += 1;
        child.unmatched = None;
        child.set_address(&resolved.recipient, &run.s.delimiters);
        if !run.s.frozen_delivered_to {
            child.delivered = child.rcpt.clone();
        }
        deliver_recipient(run, &child);
        return;
    }
    crate::forward::append(run, attr, &resolved.recipient);
}
