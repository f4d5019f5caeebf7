//! # NAME
//! state — what cleanup(8) knows about the message it is working on
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut st = State::new(queue_id, flags, &settings);
//! st.fail(status::DEFER, "4.6.0 Alias expansion error");
//! if let Some(r) = st.refusal() { /* stop, remove the file, answer r */ }
//! st.act_log("reject", "header", header, "5.7.1 message content rejected");
//! ```
//!
//! ## DESCRIPTION
//! One [`State`] per message (Postfix's `CLEANUP_STATE`), replaced as a
//! whole for the next message. Address processing produces sensible
//! output even when a table fails; the failure is recorded here
//! ([`State::fail`]) and checked where the message can still be refused.
//! The first status sets the reason the client gets unless a later one
//! names a better one; content rejections and temporary failures carry
//! the enhanced status code in their reason, as Postfix's do.
//!
//! The recipients cleanup writes ([`Rcpt`]) are collected here with their
//! duplicate filter: the same recipient with the same original address
//! and DSN settings is written once, remembering up to
//! `duplicate_filter_limit` of them, as with Postfix (only for mail whose
//! addresses may be mapped: mail from other Postfix programs is kept as
//! it is).
//!
//! [`State::act_log`] writes the log line of a header or body check
//! action in Postfix's format: `ID: ACTION: CLASS TEXT from ORIGIN;
//! from=<SENDER> to=<RECIPIENT> [proto=P helo=<H>]: OPTIONAL TEXT`.
//!
//! ## SEE ALSO
//! [`ipc::cleanup::status`], [`crate::addr`], [`crate::act`]

use std::collections::HashSet;

use daemon::{Untrusted, info};
use ipc::cleanup::{flags, status};

use crate::Refusal;

/// A recipient to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rcpt {
    pub address: String,
    pub orig: String,
    pub notify: u32,
    pub orcpt: String,
}

/// Status bits that end the message.
const FATAL: u32 =
    status::BAD | status::WRITE | status::SIZE | status::DEFER | status::CONT | status::HOPS;

pub struct State {
    pub id: String,
    pub flags: u32,
    /// Status bits of what went wrong so far.
    pub errs: u32,
    /// The text for the client, when it is not the status's default.
    pub reason: Option<String>,
    /// The envelope sender after rewriting (for logging and `From:`).
    pub sender: Option<String>,
    /// The first recipient after rewriting (for logging).
    pub recip: Option<String>,
    /// Where the mail came from: `host[addr]` or `local`.
    pub origin: String,
    pub proto: Option<String>,
    pub helo: Option<String>,
    /// The context header addresses are rewritten in (`local`, or
    /// `remote` with `remote_header_rewrite_domain`); `None`: they are
    /// not rewritten, and missing headers are not added.
    pub header_context: Option<String>,
    /// Header/body check actions.
    pub hold: bool,
    pub discard: bool,
    pub filter: Option<String>,
    pub redirect: Option<String>,
    /// Header and body checks are off for the rest of the message (PASS).
    pub checks_off: bool,
    /// BCC recipients of check actions, added at the end.
    pub check_bcc: Vec<String>,
    /// Recipients written so far.
    pub rcpt_count: usize,
    /// Recipients ready to be written.
    pub out: Vec<Rcpt>,
    dups: HashSet<String>,
    dup_limit: usize,
}

impl State {
    pub fn new(id: &str, flags: u32, dup_limit: usize) -> State {
        State {
            id: id.to_string(),
            flags,
            errs: 0,
            reason: None,
            sender: None,
            recip: None,
            origin: "local".into(),
            proto: None,
            helo: None,
            header_context: Some("local".into()),
            hold: flags & flags::HOLD != 0,
            discard: flags & flags::DISCARD != 0,
            filter: None,
            redirect: None,
            checks_off: false,
            check_bcc: Vec::new(),
            rcpt_count: 0,
            out: Vec::new(),
            dups: HashSet::new(),
            dup_limit,
        }
    }

    /// Takes what the client's attributes say: where the mail came from
    /// for logging (smtpd(8)'s `client_name`, `client_address`,
    /// `protocol_name`, `helo_name`), and how its headers are rewritten
    /// (`rewrite_context`: `local`, the default, or `remote`, which
    /// rewrites only when `remote_header_rewrite_domain` is set).
    pub fn set_attrs(&mut self, attrs: &[(String, String)], remote_domain: &str) {
        let get = |n: &str| {
            attrs
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        if let (Some(name), Some(addr)) = (get("client_name"), get("client_address")) {
            self.origin = format!("{name}[{addr}]");
        }
        self.proto = get("protocol_name");
        self.helo = get("helo_name");
        self.header_context = match get("rewrite_context").as_deref() {
            Some("remote") if remote_domain.trim().is_empty() => None,
            Some("remote") => Some("remote".into()),
            _ => Some("local".into()),
        };
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Records a failure; `reason` replaces an earlier one.
    pub fn fail(&mut self, st: u32, reason: impl Into<String>) {
        self.errs |= st;
        let r = reason.into();
        if !r.is_empty() {
            self.reason = Some(r);
        }
    }

    /// Whether output still matters: nothing fatal happened and the
    /// message is not being discarded.
    pub fn out_ok(&self) -> bool {
        self.errs & FATAL == 0 && !self.discard
    }

    /// The refusal the client gets, once something fatal happened.
    pub fn refusal(&self) -> Option<Refusal> {
        if self.errs & FATAL == 0 {
            return None;
        }
        let default = if self.errs & status::CONT != 0 {
            "5.7.1 message content rejected"
        } else if self.errs & status::SIZE != 0 {
            "message file too big"
        } else if self.errs & status::HOPS != 0 {
            "too many hops"
        } else if self.errs & status::DEFER != 0 {
            "4.7.1 service unavailable"
        } else {
            "queue file write error"
        };
        let reason = self.reason.clone().unwrap_or_else(|| default.into());
        Some(Refusal(self.errs & FATAL, reason))
    }

    /// A table could not answer: the message waits (Postfix's
    /// `CLEANUP_STAT_WRITE`; the client sees a temporary error).
    pub fn table_failed(&mut self) {
        self.fail(status::DEFER, "4.3.0 Error: queue file write error");
    }

    /// Queues a recipient, unless the same one was queued already (with
    /// the same original address and DSN settings) and this message may
    /// have its addresses mapped.
    pub fn out_recipient(&mut self, r: Rcpt) {
        if self.has(flags::MAP_OK) {
            let key = format!(
                "{}\n{}\n{}\n{}",
                r.orcpt,
                r.notify,
                r.orig.to_lowercase(),
                r.address.to_lowercase()
            );
            if self.dups.contains(&key) {
                return;
            }
            if self.dups.len() < self.dup_limit {
                self.dups.insert(key);
            }
        }
        self.rcpt_count += 1;
        self.out.push(r);
    }

    /// Logs a check action the way Postfix does.
    pub fn act_log(&self, action: &str, class: &str, content: &[u8], text: &str) {
        let mut line = format!(
            "{}: {}: {} {:.200} from {};",
            self.id,
            action,
            class,
            Untrusted(&printable(content)),
            Untrusted(&self.origin)
        );
        if let Some(s) = &self.sender {
            line.push_str(&format!(" from=<{}>", Untrusted(s)));
        }
        if let Some(r) = &self.recip {
            line.push_str(&format!(" to=<{}>", Untrusted(r)));
        }
        if let Some(p) = &self.proto {
            line.push_str(&format!(" proto={}", Untrusted(p)));
        }
        if let Some(h) = &self.helo {
            line.push_str(&format!(" helo=<{}>", Untrusted(h)));
        }
        if !text.is_empty() {
            line.push_str(&format!(": {}", Untrusted(text)));
        }
        info!("{line}");
    }
}

/// Bytes as text for the log: invalid UTF-8 becomes `?`.
pub fn printable(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('\u{FFFD}', "?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_only_with_map_ok() {
        let r = |a: &str, o: &str| Rcpt {
            address: a.into(),
            orig: o.into(),
            ..Rcpt::default()
        };
        let mut st = State::new("ID", flags::MAP_OK, 1000);
        st.out_recipient(r("a@x", "a"));
        st.out_recipient(r("A@X", "A"));
        st.out_recipient(r("a@x", "b"));
        assert_eq!(st.out.len(), 2);
        let mut st = State::new("ID", 0, 1000);
        st.out_recipient(r("a@x", "a"));
        st.out_recipient(r("a@x", "a"));
        assert_eq!(st.out.len(), 2);
        // The filter remembers at most its limit.
        let mut st = State::new("ID", flags::MAP_OK, 1);
        for a in ["a@x", "b@x", "b@x", "a@x"] {
            st.out_recipient(r(a, a));
        }
        assert_eq!(st.out.len(), 3);
    }

    #[test]
    fn refusals() {
        let mut st = State::new("ID", 0, 10);
        assert!(st.refusal().is_none() && st.out_ok());
        st.fail(status::CONT, "");
        let Refusal(code, reason) = st.refusal().unwrap();
        assert_eq!(
            (code, reason.as_str()),
            (status::CONT, "5.7.1 message content rejected")
        );
        st.table_failed();
        let Refusal(code, reason) = st.refusal().unwrap();
        assert_eq!(code, status::CONT | status::DEFER);
        assert_eq!(reason, "4.3.0 Error: queue file write error");
    }
}
