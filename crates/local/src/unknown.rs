//! # NAME
//! unknown — names that are neither an alias nor a user
//!
//! ## DESCRIPTION
//! `fallback_transport_maps` and `fallback_transport` take the mail
//! ([`crate::pass`]); else `luser_relay` is expanded with the
//! recipient's attributes (`$user`, `$local`, `$extension`, `$domain`,
//! `$recipient`, `$recipient_delimiter`; not filtered) and delivered to
//! as an alias would be; else the mail bounces with `unknown user:
//! "name"` (5.1.1).

use daemon::warn;
use delivery::Failure;

use crate::state::{ExpType, MsgAttr, Run, UserAttr};

pub fn deliver_unknown(run: &mut Run<'_>, attr: &MsgAttr) {
    if crate::pass::fallback_transport(run, attr) {
        return;
    }
    let relay = run.s.luser_relay.trim().to_string();
    if !relay.is_empty() {
        let delimiters = run.s.delimiters.clone();
        let lookup = |name: &str| attr.expansion(name, None, &delimiters);
        match delivery::expand::expand(&relay, &lookup) {
            Ok(e) => {
                let mut child = attr.clone();
                child.exp_type = ExpType::None;
                child.unmatched = None;
                crate::token::deliver_tokens(run, &child, &UserAttr::root(), &e.text);
            }
            Err(e) => {
                warn!("luser_relay: {e}");
                run.failed(
                    &attr.rcpt,
                    Failure::new("4.3.5", "mail system configuration error"),
                );
            }
        }
        return;
    }
    run.failed(
        &attr.rcpt,
        Failure::new("5.1.1", format!("unknown user: \"{}\"", attr.user)),
    );
}
