//! # NAME
//! state — what one delivery carries along (Postfix's LOCAL_STATE)
//!
//! ## DESCRIPTION
//! [`MsgAttr`] is the recipient being delivered, as aliases and
//! `.forward` files rewrite it: its address split for decisions (the
//! localpart folded to lower case, without and with the extension), the
//! original recipient (`X-Original-To:`), the `Delivered-To:` address,
//! how it was found (alias, `.forward`, `:include:`), the aliases being
//! expanded (for loop detection) and the owner alias in effect (the
//! sender of forwarded mail). [`UserAttr`] is whose rights file and
//! command destinations run with. [`Run`] collects the results of all
//! destinations of one queue file recipient.

use std::collections::HashSet;
use std::path::PathBuf;

use daemon::agent::Job;
use delivery::Failure;
use ipc::deliver::Outcome;
use nix::unistd::{Gid, Uid};

use crate::settings::Settings;

/// How a destination was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpType {
    /// The recipient itself, or `luser_relay`.
    None,
    Alias,
    Forward,
    Include,
}

/// The recipient being delivered.
#[derive(Debug, Clone)]
pub struct MsgAttr {
    /// Recursion depth.
    pub level: u32,
    /// The address (as logged: `to=<...>`).
    pub rcpt: String,
    /// The original recipient (`X-Original-To:`, forwarded mail).
    pub orig: String,
    /// The `Delivered-To:` address.
    pub delivered: String,
    /// The localpart folded to lower case, with the extension.
    pub local: String,
    /// The localpart without the extension.
    pub user: String,
    /// The extension, without its delimiter.
    pub extension: Option<String>,
    /// The delimiter that started the extension.
    pub delimiter: Option<char>,
    pub domain: String,
    /// The owner alias whose address is the sender of forwarded mail.
    pub owner: Option<String>,
    pub exp_type: ExpType,
    /// The aliases being expanded, outermost first: (name, address).
    pub aliases: Vec<(String, String)>,
    /// An extension to append to expanded addresses
    /// (`propagate_unmatched_extensions`), with its delimiter.
    pub unmatched: Option<String>,
}

impl MsgAttr {
    /// The attributes of the queue file recipient `address`.
    pub fn top(address: &str, orig: &str, delimiters: &str) -> MsgAttr {
        let mut a = MsgAttr {
            level: 0,
            rcpt: String::new(),
            orig: if orig.is_empty() {
                address.to_string()
            } else {
                orig.to_string()
            },
            delivered: address.to_string(),
            local: String::new(),
            user: String::new(),
            extension: None,
            delimiter: None,
            domain: String::new(),
            owner: None,
            exp_type: ExpType::None,
            aliases: Vec::new(),
            unmatched: None,
        };
        a.set_address(address, delimiters);
        a
    }

    /// Makes `address` the recipient: splits it again.
    pub fn set_address(&mut self, address: &str, delimiters: &str) {
        self.rcpt = address.to_string();
        let (local, domain) = match address.rfind('@') {
            Some(i) => (&address[..i], &address[i + 1..]),
            None => (address, ""),
        };
        self.local = local.to_lowercase();
        self.domain = domain.to_string();
        let (user, ext) = mail::address::strip_extension(&self.local, delimiters);
        self.user = user.to_string();
        self.extension = ext.map(|e| e.extension.to_string());
        self.delimiter = ext.map(|e| e.delimiter);
    }

    /// The value of a `$name` in forward_path, luser_relay and
    /// command_execution_directory (before filtering).
    pub fn expansion(
        &self,
        name: &str,
        user: Option<&UserAttr>,
        delimiters: &str,
    ) -> Option<String> {
        match name {
            "user" => Some(self.user.clone()),
            "home" => user.and_then(|u| u.home.as_ref().map(|h| h.display().to_string())),
            "shell" => user.and_then(|u| u.shell.clone()),
            "recipient" => Some(self.rcpt.clone()),
            "extension" => self.extension.clone(),
            "domain" => Some(self.domain.clone()),
            "local" => Some(self.local.clone()),
            "recipient_delimiter" => self
                .delimiter
                .map(|c| c.to_string())
                .or_else(|| delimiters.chars().next().map(|c| c.to_string())),
            _ => None,
        }
    }
}

/// Whose rights a file or command destination runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAttr {
    pub uid: Uid,
    pub gid: Gid,
    /// Set for a user's own deliveries (mailbox, `.forward`).
    pub home: Option<PathBuf>,
    pub shell: Option<String>,
}

impl UserAttr {
    pub fn root() -> UserAttr {
        UserAttr {
            uid: Uid::from_raw(0),
            gid: Gid::from_raw(0),
            home: None,
            shell: None,
        }
    }

    /// The IDs a file or command runs with: root's destinations run
    /// with `default_privs`.
    pub fn run_as(&self, s: &Settings) -> (Uid, Gid) {
        if self.uid.is_root() {
            s.default_privs
        } else {
            (self.uid, self.gid)
        }
    }
}

/// The results of the destinations of one queue file recipient.
pub struct Run<'a> {
    pub job: &'a mut Job,
    /// The queue file recipient.
    pub i: usize,
    pub s: &'a mut Settings,
    pub rewrite: &'a mut ipc::rewrite::Client,
    /// Destinations delivered already (`duplicate_filter_limit`).
    pub dup: &'a mut HashSet<String>,
    pub forwards: Vec<crate::forward::Batch>,
    pub sent: usize,
    pub deferred: Option<Failure>,
    pub bounced: Option<Failure>,
}

impl Run<'_> {
    /// Whether `key` is new; remembers it.
    pub fn first(&mut self, kind: &str, key: &str) -> bool {
        let k = format!("{kind}:{key}");
        if self.dup.contains(&k) {
            return false;
        }
        if self.dup.len() < self.s.duplicate_filter_limit.max(1) {
            self.dup.insert(k);
        }
        true
    }

    /// A destination was delivered.
    pub fn sent(&mut self, to: &str, text: &str) {
        self.job
            .log_as(self.i, to, Outcome::Sent, "local", "2.0.0", text);
        self.sent += 1;
    }

    /// A destination failed.
    pub fn failed(&mut self, to: &str, f: Failure) {
        if f.is_temporary() {
            self.job
                .log_as(self.i, to, Outcome::Deferred, "local", &f.dsn, &f.text);
            self.deferred.get_or_insert(f);
        } else {
            self.job
                .log_as(self.i, to, Outcome::Bounced, "local", &f.dsn, &f.text);
            self.bounced.get_or_insert(f);
        }
    }

    /// Another agent reported a destination (and logged it).
    pub fn passed(&mut self, outcome: Outcome, f: Failure) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Deferred => {
                self.deferred.get_or_insert(f);
            }
            Outcome::Bounced => {
                self.bounced.get_or_insert(f);
            }
        }
    }

    /// The queue file recipient's result: deferred if any destination
    /// must be tried again, bounced if any failed, sent otherwise.
    pub fn finish(self) {
        let (outcome, f) = match (self.deferred, self.bounced) {
            (Some(f), _) => (Outcome::Deferred, f),
            (None, Some(f)) => (Outcome::Bounced, f),
            (None, None) => (Outcome::Sent, Failure::new("2.0.0", "delivered")),
        };
        self.job
            .set_result(self.i, outcome, "local", &f.dsn, &f.text);
    }

    pub fn sender(&self) -> String {
        self.job.req.sender.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_split_for_decisions() {
        let a = MsgAttr::top("Joe+Foo@Example.COM", "", "+");
        assert_eq!(a.local, "joe+foo");
        assert_eq!(a.user, "joe");
        assert_eq!(a.extension.as_deref(), Some("foo"));
        assert_eq!(a.delimiter, Some('+'));
        assert_eq!(a.domain, "Example.COM");
        assert_eq!(a.orig, "Joe+Foo@Example.COM");
        assert_eq!(
            a.expansion("recipient_delimiter", None, "+-").as_deref(),
            Some("+")
        );
        let b = MsgAttr::top("owner-list@x", "list", "-");
        assert_eq!(b.user, "owner-list");
        assert_eq!(b.extension, None);
        assert_eq!(b.orig, "list");
        assert_eq!(
            b.expansion("recipient_delimiter", None, "-+").as_deref(),
            Some("-")
        );
        assert_eq!(b.expansion("home", None, "-"), None);
    }
}
