//! # NAME
//! etrn — the ETRN command (RFC 1985)
//!
//! ## DESCRIPTION
//! `ETRN domain` asks for delivery of the mail queued for a destination
//! that is listed in `fast_flush_domains`: after `smtpd_etrn_restrictions`
//! the request goes to the flush(8) service, which says whether the
//! destination is eligible. A leading `@` or `#` (RFC 1985's subdomain
//! and queue forms) is dropped from the name. ETRN is refused inside a
//! mail transaction; like NOOP and VRFY it counts towards
//! `smtpd_junk_command_limit`. The replies are Postfix 3.7's, which carry
//! no enhanced status codes.
//!
//! ## SEE ALSO
//! smtpd(8), flush(8), RFC 1985

use std::time::Duration;

use daemon::warn;
use ipc::flush::FlushStatus;

use crate::check::{Stage, Verdict};
use crate::session::{Addr, Flow, Session, r};

impl Session<'_> {
    pub(crate) fn etrn(&mut self, arg: String) -> Flow {
        self.last_command = "ETRN";
        self.junk_command();
        if self.txn.is_some() {
            self.count("etrn", false);
            return self.flow(r(503, "", "Error: MAIL transaction in progress"));
        }
        let mut words = arg.split_whitespace();
        let (Some(word), None) = (words.next(), words.next()) else {
            self.count("etrn", false);
            return self.flow(r(500, "", "Syntax: ETRN domain"));
        };
        let domain = word
            .strip_prefix('@')
            .or_else(|| word.strip_prefix('#'))
            .unwrap_or(word)
            .to_string();
        if !mail::host::valid_site(&domain) {
            self.count("etrn", false);
            return self.flow(r(501, "", "Error: invalid parameter syntax"));
        }
        if !self.s.etrn_restrictions.is_empty() {
            let list = self.s.etrn_restrictions.clone();
            let subject = Addr {
                given: domain.clone(),
                canonical: domain.clone(),
            };
            if let Verdict::Reject(rep) = self.restrict(&list, Stage::Etrn, Some(&subject)) {
                self.log_reject("ETRN", &rep, None, None);
                self.count("etrn", false);
                return self.flow(rep);
            }
        }
        let answer = ipc::flush::send_site(
            std::path::Path::new("."),
            &self.s.flush_service,
            &domain,
            Duration::from_secs(60),
        );
        let (ok, rep) = match answer {
            Ok(FlushStatus::Ok) => (true, r(250, "", "Queuing started")),
            Ok(FlushStatus::Deny) => {
                warn!(
                    "reject: ETRN {:.100}... from {}",
                    daemon::Untrusted(&domain),
                    self.peer.namaddr()
                );
                (
                    false,
                    r(459, "", &format!("<{domain}>: service unavailable")),
                )
            }
            Ok(FlushStatus::Bad) => (false, r(501, "", "Error: invalid parameter syntax")),
            Ok(FlushStatus::Fail) => (false, r(458, "", "Unable to queue messages")),
            Err(e) => {
                warn!("{} service: {e}", self.s.flush_service);
                (false, r(458, "", "Unable to queue messages"))
            }
        };
        self.count("etrn", ok);
        self.flow(rep)
    }
}
