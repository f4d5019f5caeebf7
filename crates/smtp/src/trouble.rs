//! # NAME
//! trouble — what happens to each recipient (smtp_trouble.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut d = Delivery::new(job);
//! d.sent(i, &relay, "2.0.0", "250 2.0.0 Ok: queued as 4F2A");
//! d.fail(i, &relay, &reply_dsn, &text, Class::Soft);
//! d.finish();                       // the rest is deferred
//! ```
//!
//! ## DESCRIPTION
//! A [`Delivery`] keeps the recipients of a request that still need a
//! result. A final result goes to the delivery agent framework at once
//! (which writes the log line and, for `sent`, marks the recipient done
//! in the queue file). A temporary failure defers the recipient only at
//! the last server that could be tried; before that the recipient stays
//! for the next MX host or fallback relay, with its reason kept for the
//! log line in case nothing better happens. Whatever is left at the end
//! is deferred with the last reason there was.
//!
//! The enhanced status code of a server reply is the server's own when
//! it gave one, else the reply class with `.0.0` (`450` gives `4.0.0`).
//!
//! ## SEE ALSO
//! [`daemon::agent::Job`], [`crate::deliver`]

use daemon::agent::Job;
use proto::client::ServerReply;

/// Permanent or temporary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Soft,
    Hard,
}

/// A result for recipients: status code, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub dsn: String,
    pub text: String,
    pub class: Class,
}

impl Why {
    pub fn soft(dsn: &str, text: impl Into<String>) -> Why {
        Why {
            dsn: dsn.to_string(),
            text: text.into(),
            class: Class::Soft,
        }
    }

    pub fn hard(dsn: &str, text: impl Into<String>) -> Why {
        Why {
            dsn: dsn.to_string(),
            text: text.into(),
            class: Class::Hard,
        }
    }

    /// A server's reply: `host X said: 550 5.1.1 ... (in reply to RCPT
    /// TO command)`.
    pub fn reply(server: &str, r: &ServerReply, command: &str) -> Why {
        Why {
            dsn: reply_dsn(r),
            text: format!(
                "host {server} said: {} (in reply to {command} command)",
                r.text()
            ),
            class: if r.class() == 5 {
                Class::Hard
            } else {
                Class::Soft
            },
        }
    }
}

/// The enhanced status code of a reply.
pub fn reply_dsn(r: &ServerReply) -> String {
    match r.enhanced() {
        Some(e) => e.to_string(),
        None => format!(
            "{}.0.0",
            match r.class() {
                0 => 4,
                c => c,
            }
        ),
    }
}

/// The recipients of one request and their fate.
pub struct Delivery<'j> {
    pub job: &'j mut Job,
    /// Indices of recipients without a final result, in request order.
    pub pending: Vec<usize>,
    /// A temporary failure each pending recipient had: (relay, why).
    soft: Vec<Option<(String, Why)>>,
    /// The last failure that concerned every pending recipient.
    last: Option<(String, Why)>,
    /// Some server answered (the next hop is alive).
    pub reached: bool,
}

impl<'j> Delivery<'j> {
    pub fn new(job: &'j mut Job) -> Delivery<'j> {
        let n = job.req.recipients.len();
        Delivery {
            job,
            pending: (0..n).collect(),
            soft: vec![None; n],
            last: None,
            reached: false,
        }
    }

    fn done(&mut self, i: usize) {
        self.pending.retain(|&p| p != i);
    }

    pub fn sent(&mut self, i: usize, relay: &str, dsn: &str, text: &str) {
        self.job.sent(i, relay, dsn, text);
        self.done(i);
    }

    /// A failure for one recipient; a temporary one is final only at
    /// the last server.
    pub fn fail(&mut self, i: usize, relay: &str, why: &Why, last_server: bool) {
        match why.class {
            Class::Hard => {
                self.job.bounce(i, relay, &why.dsn, &why.text);
                self.done(i);
            }
            Class::Soft if last_server => {
                self.job.defer(i, relay, &why.dsn, &why.text);
                self.done(i);
            }
            Class::Soft => self.soft[i] = Some((relay.to_string(), why.clone())),
        }
    }

    /// A failure for every pending recipient.
    pub fn fail_all(&mut self, relay: &str, why: &Why, last_server: bool) {
        for i in self.pending.clone() {
            self.fail(i, relay, why, last_server);
        }
        if why.class == Class::Soft {
            self.last = Some((relay.to_string(), why.clone()));
        }
    }

    /// A temporary problem with a server or a lookup that concerns all
    /// pending recipients, decided later.
    pub fn note(&mut self, relay: &str, why: &Why) {
        self.last = Some((relay.to_string(), why.clone()));
        for i in self.pending.clone() {
            self.soft[i] = Some((relay.to_string(), why.clone()));
        }
    }

    /// Defers whatever is left.
    pub fn finish(mut self) {
        for i in self.pending.clone() {
            let (relay, why) = self.soft[i]
                .take()
                .or_else(|| self.last.clone())
                .unwrap_or((
                    "none".to_string(),
                    Why::soft("4.3.0", "delivery temporarily suspended"),
                ));
            if why.class == Class::Hard {
                self.job.bounce(i, &relay, &why.dsn, &why.text);
            } else {
                self.job.defer(i, &relay, &why.dsn, &why.text);
            }
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> ServerReply {
        proto::client::parse_reply(text.as_bytes(), 4096)
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn codes_and_texts() {
        assert_eq!(reply_dsn(&reply("550 5.1.1 nope\r\n")), "5.1.1");
        assert_eq!(reply_dsn(&reply("450 busy\r\n")), "4.0.0");
        assert_eq!(reply_dsn(&reply("250 ok\r\n")), "2.0.0");
        let w = Why::reply(
            "mx.example[192.0.2.1]",
            &reply("550-5.1.1 a\r\n550 5.1.1 b\r\n"),
            "RCPT TO",
        );
        assert_eq!(w.class, Class::Hard);
        assert_eq!(
            w.text,
            "host mx.example[192.0.2.1] said: 550-5.1.1 a 550 5.1.1 b (in reply to RCPT TO command)"
        );
        assert_eq!(
            Why::reply("x", &reply("421 4.3.2 bye\r\n"), "MAIL FROM").class,
            Class::Soft
        );
    }
}
