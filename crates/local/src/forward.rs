//! # NAME
//! forward — mail forwarding through cleanup(8)
//!
//! ## DESCRIPTION
//! Addresses that are not delivered here (remote addresses, the
//! addresses of `.forward` and `:include:` files, everything an alias
//! with an owner expands to) are collected per sender and queued at the
//! end of the recipient as one new message each, so that every one of
//! them has its own delivery status in the queue. The sender is the
//! original sender, or the owner alias; the recipients keep the
//! original recipient (an owner alias starts afresh: each recipient is
//! its own) and their DSN attributes. The message gets `Received: by
//! $myhostname ($mail_name)` and, per `prepend_delivered_header`,
//! `Delivered-To:` on top of the original content, as Postfix's
//! forwarded mail does. Each recipient whose expansion contributed is
//! logged `status=sent (forwarded as NEWID)` once cleanup(8) has the new
//! message safely queued; a failure defers it.

use std::time::SystemTime;

use daemon::warn;
use delivery::Failure;
use delivery::copy::Segment;
use ipc::cleanup::{EnvelopeRecord, flags, status};

use crate::state::{MsgAttr, Run};

/// One forwarded message being collected.
pub struct Batch {
    sender: String,
    delivered: String,
    /// (address, original recipient).
    recipients: Vec<(String, String)>,
    /// The addresses the log lines name.
    log_to: Vec<String>,
}

/// Adds `addr` to the forwarded message of `attr`'s sender.
pub fn append(run: &mut Run<'_>, attr: &MsgAttr, addr: &str) {
    let sender = attr.owner.clone().unwrap_or_else(|| run.sender());
    let key = format!("{} {}", sender.to_lowercase(), addr.to_lowercase());
    if !run.first("forward", &key) {
        return;
    }
    let orig = if attr.owner.is_some() {
        addr.to_string()
    } else {
        attr.orig.clone()
    };
    let idx = match run
        .forwards
        .iter()
        .position(|b| b.sender == sender && b.delivered == attr.delivered)
    {
        Some(i) => i,
        None => {
            run.forwards.push(Batch {
                sender,
                delivered: attr.delivered.clone(),
                recipients: Vec::new(),
                log_to: Vec::new(),
            });
            run.forwards.len() - 1
        }
    };
    let b = &mut run.forwards[idx];
    b.recipients.push((addr.to_string(), orig));
    if !b.log_to.contains(&attr.rcpt) {
        b.log_to.push(attr.rcpt.clone());
    }
}

/// Queues the collected messages and logs the outcome.
pub fn flush(run: &mut Run<'_>) {
    for b in std::mem::take(&mut run.forwards) {
        let result = send(run, &b);
        for to in &b.log_to {
            match &result {
                Ok(id) => run.sent(to, &format!("forwarded as {id}")),
                Err(f) => run.failed(to, f.clone()),
            }
        }
    }
}

fn send(run: &mut Run<'_>, b: &Batch) -> Result<String, Failure> {
    let unavailable = |e: ipc::IpcError| {
        warn!("forward: cleanup service: {e}");
        Failure::new(
            "4.3.0",
            "mail forwarding transaction failed: cleanup service unavailable",
        )
    };
    let mut c = ipc::cleanup::Client::open(&run.s.queue_dir, "cleanup", run.s.ipc_timeout)
        .map_err(unavailable)?;
    let id = c.queue_id.clone();
    c.begin(flags::BOUNCE | flags::MAP_OK)
        .map_err(unavailable)?;
    let r = &run.job.req.recipients[run.i];
    let mut env = vec![
        EnvelopeRecord::Sender(b.sender.clone()),
        EnvelopeRecord::Attr("rewrite_context".into(), "local".into()),
    ];
    if !run.job.req.dsn_envid.is_empty() {
        env.push(EnvelopeRecord::Envid(run.job.req.dsn_envid.clone()));
    }
    if run.job.req.dsn_ret != 0 {
        env.push(EnvelopeRecord::Ret(run.job.req.dsn_ret));
    }
    for (addr, orig) in &b.recipients {
        env.push(EnvelopeRecord::Rcpt {
            address: addr.clone(),
            orig: orig.clone(),
            notify: r.notify,
            orcpt: r.orcpt.clone(),
        });
    }
    c.envelope(env).map_err(unavailable)?;
    let now = SystemTime::now();
    let tm = sys::time::local(now);
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut head = format!(
        "Received: by {} ({})\n\tid {}; {}\n",
        run.s.myhostname,
        run.s.mail_name,
        id,
        mail::date::format_date(secs, tm.gmtoff as i32, Some(&tm.zone))
    );
    if run.s.delivered_header.forward {
        head.push_str(&format!(
            "Delivered-To: {}\n",
            mail::address::externalize(&b.delivered)
        ));
    }
    c.content(head.as_bytes()).map_err(unavailable)?;
    let mut content = Segment::new(
        &run.job.file.file,
        run.job.req.content_offset,
        run.job.req.content_len,
    );
    let mut buf = vec![0u8; 64 * 1024];
    let mut last = b'\n';
    loop {
        let n = std::io::Read::read(&mut content, &mut buf).map_err(|e| {
            warn!("{}: read queue file: {}", run.job.req.queue_id, e);
            Failure::new("4.3.0", "error reading message")
        })?;
        if n == 0 {
            break;
        }
        last = buf[n - 1];
        c.content(&buf[..n]).map_err(unavailable)?;
    }
    if last != b'\n' {
        c.content(b"\n").map_err(unavailable)?;
    }
    let reply = c.finish().map_err(unavailable)?;
    if reply.status != status::OK {
        let dsn = if reply.status & (status::BAD | status::WRITE | status::DEFER) != 0 {
            "4.3.0"
        } else {
            "5.3.0"
        };
        return Err(Failure::new(
            dsn,
            format!("mail forwarding transaction failed: {}", reply.reason),
        ));
    }
    Ok(id)
}
