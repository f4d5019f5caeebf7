//! # NAME
//! pass — handing a recipient to another transport (deliver_pass)
//!
//! ## DESCRIPTION
//! `mailbox_transport`, `fallback_transport` and their `_maps` name a
//! master.cf transport (`lmtp:unix:private/dovecot-lmtp`, `dovecot`,
//! `discard:text`). The recipient goes to that agent as a delivery
//! request for the same queue file and queue file recipient, with the
//! next hop of the setting (or of this request when it has none) and
//! the [`ipc::deliver::flags::PASSED`] flag: that agent delivers and logs,
//! this one gives the result to qmgr(8) and marks the recipient done
//! when all its destinations are delivered. It logs
//! `ID: passing <address> to transport=NAME`, as Postfix does.

use daemon::{info, warn};
use delivery::Failure;
use ipc::deliver::{DeliveryReply, DeliveryRequest, flags};

use crate::state::{MsgAttr, Run};

/// mailbox_transport_maps, mailbox_transport.
pub fn mailbox_transport(run: &mut Run<'_>, attr: &MsgAttr) -> bool {
    transport(run, attr, Which::Mailbox)
}

/// fallback_transport_maps, fallback_transport.
pub fn fallback_transport(run: &mut Run<'_>, attr: &MsgAttr) -> bool {
    transport(run, attr, Which::Fallback)
}

enum Which {
    Mailbox,
    Fallback,
}

fn transport(run: &mut Run<'_>, attr: &MsgAttr, which: Which) -> bool {
    let (maps, fixed, name) = match which {
        Which::Mailbox => (
            &mut run.s.mailbox_transport_maps,
            run.s.mailbox_transport.clone(),
            "mailbox_transport_maps",
        ),
        Which::Fallback => (
            &mut run.s.fallback_transport_maps,
            run.s.fallback_transport.clone(),
            "fallback_transport_maps",
        ),
    };
    let spec = match maps.find(&attr.rcpt) {
        Ok(Some(v)) => v,
        Ok(None) => fixed,
        Err(e) => {
            warn!("{name} lookup: {e}");
            run.failed(
                &attr.rcpt,
                Failure::new("4.3.0", format!("{name} lookup failure")),
            );
            return true;
        }
    };
    let spec = spec.trim();
    if spec.is_empty() {
        return false;
    }
    if !run.first("pass", &format!("{spec} {}", attr.rcpt.to_lowercase())) {
        return true;
    }
    deliver_pass(run, attr, spec);
    true
}

/// Passes the recipient to `spec` (`transport[:nexthop]`).
fn deliver_pass(run: &mut Run<'_>, attr: &MsgAttr, spec: &str) {
    let (transport, nexthop) = match spec.split_once(':') {
        Some((t, n)) if !n.is_empty() => (t.to_string(), n.to_string()),
        Some((t, _)) => (t.to_string(), run.job.req.nexthop.clone()),
        None => (spec.to_string(), run.job.req.nexthop.clone()),
    };
    info!(
        "{}: passing <{}> to transport={}",
        run.job.req.queue_id,
        daemon::Untrusted(&attr.rcpt),
        daemon::Untrusted(&transport)
    );
    let r = &run.job.req.recipients[run.i];
    let mut req: DeliveryRequest = run.job.req.clone();
    req.transport = transport.clone();
    req.nexthop = nexthop;
    req.flags |= flags::PASSED;
    req.recipients = vec![ipc::deliver::DeliveryRecipient {
        address: attr.rcpt.clone(),
        ..r.clone()
    }];
    let reply = ipc::connect(
        &run.s.queue_dir,
        ipc::Class::Private,
        &transport,
        run.s.ipc_timeout,
    )
    .map_err(|e| e.to_string())
    .and_then(|mut c| {
        ipc::write_frame(&mut c, &req).map_err(|e| e.to_string())?;
        ipc::read_frame::<DeliveryReply>(&mut c, ipc::FRAME_MAX).map_err(|e| e.to_string())
    });
    match reply {
        Ok(rep) if rep.recipients.len() == 1 => {
            let st = &rep.recipients[0];
            run.passed(st.outcome, Failure::new(&st.dsn, st.reason.clone()));
        }
        Ok(_) => {
            warn!("transport {transport}: bad reply");
            run.failed(
                &attr.rcpt,
                Failure::new("4.3.0", "mail transport unavailable"),
            );
        }
        Err(e) => {
            warn!("connect to transport private/{}: {}", transport, e);
            run.failed(
                &attr.rcpt,
                Failure::new("4.3.0", "mail transport unavailable"),
            );
        }
    }
}
