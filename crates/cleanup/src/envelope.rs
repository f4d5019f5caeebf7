//! # NAME
//! envelope — the envelope of the message being cleaned up
//!
//! ## SYNOPSIS
//! ```ignore
//! env.add(records)?;                       // as the client sends them
//! let sender = env.process(&mut st, &mut cx);
//! env.write(&mut writer, &sender, &mut st, created)?;
//! ```
//!
//! ## DESCRIPTION
//! Collects what the client sent before the content, with every field
//! bounded. When the content starts, [`Envelope::process`] rewrites the
//! sender and each recipient ([`crate::addr`]: canonical form, canonical
//! maps, masquerading, virtual aliases, automatic BCC), and
//! [`Envelope::write`] writes the envelope segment of the queue file:
//! arrival time, creation time, sender, full name, the client's
//! attributes, DSN RET and ENVID, and the recipients (with their original
//! address, NOTIFY and ORCPT).
//!
//! ## SEE ALSO
//! [`ipc::cleanup::EnvelopeRecord`], [`queue::file::Writer`]

use std::time::SystemTime;

use ipc::cleanup::{EnvelopeRecord, status};
use queue::{NewRecipient, RecordType, Writer};

use crate::Refusal;
use crate::addr::{self, Ctx};
use crate::state::{Rcpt, State};

#[derive(Debug, Default)]
pub struct Envelope {
    pub time: Option<(u64, u32)>,
    pub sender: Option<String>,
    pub full_name: Option<String>,
    pub attrs: Vec<(String, String)>,
    pub recipients: Vec<Rcpt>,
    pub ret: u32,
    pub envid: String,
}

/// Longest address or attribute accepted from a client.
const FIELD_MAX: usize = 4096;

/// Applies a FILTER, REDIRECT or BCC action the client decided (smtpd(8)
/// access tables); written at the end of the message, as those of
/// header checks are, and a later one replaces an earlier one.
pub fn route(st: &mut State, r: EnvelopeRecord) -> Result<(), Refusal> {
    let too_long = || Refusal(status::BAD, "routing record too long".into());
    match r {
        EnvelopeRecord::Filter(f) if f.len() <= FIELD_MAX => st.filter = Some(f),
        EnvelopeRecord::Redirect(a) if a.len() <= FIELD_MAX => st.redirect = Some(a),
        EnvelopeRecord::Bcc(a) if a.len() <= FIELD_MAX => st.check_bcc.push(a),
        _ => return Err(too_long()),
    }
    Ok(())
}

impl Envelope {
    pub fn add(&mut self, records: Vec<EnvelopeRecord>) -> Result<(), Refusal> {
        let too_long = |what: &str| Refusal(status::BAD, format!("{what} too long"));
        for r in records {
            match r {
                EnvelopeRecord::Time(s, us) => self.time = Some((s, us)),
                EnvelopeRecord::Sender(s) if s.len() <= FIELD_MAX => self.sender = Some(s),
                EnvelopeRecord::FullName(n) if n.len() <= FIELD_MAX => self.full_name = Some(n),
                EnvelopeRecord::Attr(n, v)
                    if n.len() + v.len() <= FIELD_MAX && !n.contains('=') =>
                {
                    self.attrs.push((n, v))
                }
                EnvelopeRecord::Rcpt {
                    address,
                    orig,
                    notify,
                    orcpt,
                } if address.len() + orig.len() + orcpt.len() <= FIELD_MAX => {
                    self.recipients.push(Rcpt {
                        address,
                        orig,
                        notify,
                        orcpt,
                    })
                }
                EnvelopeRecord::Ret(r) => self.ret = r,
                EnvelopeRecord::Envid(e) if e.len() <= FIELD_MAX => self.envid = e,
                _ => return Err(too_long("envelope field")),
            }
        }
        Ok(())
    }

    /// The sender as the client gave it ("" for the null sender).
    pub fn sender(&self) -> &str {
        self.sender.as_deref().unwrap_or("")
    }

    /// The last value of a client attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// When the message arrived (the client's time, or now).
    pub fn arrival(&self) -> SystemTime {
        match self.time {
            Some((s, us)) => {
                std::time::UNIX_EPOCH + std::time::Duration::new(s, us.saturating_mul(1000))
            }
            None => SystemTime::now(),
        }
    }

    /// Rewrites the sender and the recipients; the recipients to write
    /// collect in `st`. Returns the sender to write.
    pub fn process(&self, st: &mut State, cx: &mut Ctx<'_>) -> String {
        let sender = addr::sender(st, cx, self.sender());
        for r in &self.recipients {
            addr::recipient(st, cx, &r.address, &r.orig, r.notify, &r.orcpt);
        }
        sender
    }

    /// Writes the envelope segment with the recipients collected so far.
    /// `created` is when the queue file was made (Postfix's
    /// `create_time`). The submitter's uid, which only serves the
    /// `Received:` header of local mail, is not kept.
    pub fn write(
        &self,
        w: &mut Writer,
        sender: &str,
        st: &mut State,
        created: SystemTime,
    ) -> std::io::Result<()> {
        w.time(self.arrival())?;
        let secs = created
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        w.attr("create_time", &secs.to_string())?;
        w.record(RecordType::Sender, sender.as_bytes())?;
        if let Some(n) = &self.full_name {
            w.attr("sender_fullname", n)?;
        }
        for (n, v) in self.attrs.iter().filter(|(n, _)| n != "submit_uid") {
            w.attr(n, v)?;
        }
        if self.ret != 0 {
            w.record(RecordType::DsnRet, self.ret.to_string().as_bytes())?;
        }
        if !self.envid.is_empty() {
            w.record(RecordType::DsnEnvid, self.envid.as_bytes())?;
        }
        write_recipients(w, st)
    }
}

/// Writes the recipients collected in `st`, and forgets them.
pub fn write_recipients(w: &mut Writer, st: &mut State) -> std::io::Result<()> {
    for r in std::mem::take(&mut st.out) {
        w.recipient(&NewRecipient {
            address: &r.address,
            orig: &r.orig,
            notify: r.notify,
            orcpt: &r.orcpt,
        })?;
    }
    Ok(())
}
