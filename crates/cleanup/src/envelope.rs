//! # NAME
//! envelope — the envelope of the message being cleaned up
//!
//! ## SYNOPSIS
//! ```ignore
//! env.add(records)?; env.add_extracted(addr);
//! env.canonicalize(&mut rewrite, &settings)?;
//! env.write(&mut writer)?;
//! ```
//!
//! ## DESCRIPTION
//! Collects what the client sent, rewrites the sender and recipients to
//! canonical form in the `local` context (trivial-rewrite(8)), keeps the
//! original recipient (`enable_original_recipient`), and drops a
//! recipient that repeats an earlier one with the same original address,
//! remembering up to `duplicate_filter_limit` of them.
//!
//! ## SEE ALSO
//! [`ipc::cleanup::EnvelopeRecord`], [`queue::file::Writer`]

use std::collections::HashSet;

use ipc::cleanup::{EnvelopeRecord, status};
use queue::{NewRecipient, RecordType, Writer};

use crate::Refusal;
use crate::settings::Settings;

#[derive(Debug, Clone, Default)]
pub struct Rcpt {
    pub address: String,
    pub orig: String,
    pub notify: u32,
    pub orcpt: String,
}

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

    /// A recipient found in a header (`sendmail -t`).
    pub fn add_extracted(&mut self, address: String) {
        self.recipients.push(Rcpt {
            orig: address.clone(),
            address,
            notify: 0,
            orcpt: String::new(),
        });
    }

    /// Canonical addresses, original recipients, no duplicates.
    pub fn canonicalize(
        &mut self,
        rw: &mut ipc::rewrite::Client,
        s: &Settings,
    ) -> Result<(), String> {
        let mut fix = |a: &str| -> Result<String, String> {
            if a.is_empty() {
                Ok(String::new())
            } else {
                rw.rewrite("local", a)
                    .map_err(|e| format!("address rewriting: {e}"))
            }
        };
        if let Some(sender) = &self.sender {
            self.sender = Some(fix(sender)?);
        }
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut out = Vec::with_capacity(self.recipients.len());
        for r in std::mem::take(&mut self.recipients) {
            let address = fix(&r.address)?;
            let orig = if !s.enable_original_recipient {
                String::new()
            } else if r.orig.is_empty() {
                address.clone()
            } else {
                fix(&r.orig)?
            };
            let key = (address.to_ascii_lowercase(), orig.to_ascii_lowercase());
            if seen.contains(&key) {
                continue;
            }
            if seen.len() < s.duplicate_filter_limit {
                seen.insert(key);
            }
            out.push(Rcpt { address, orig, ..r });
        }
        self.recipients = out;
        Ok(())
    }

    /// The sender after canonicalization ("" for the null sender).
    pub fn sender(&self) -> &str {
        self.sender.as_deref().unwrap_or("")
    }

    pub fn write(&self, w: &mut Writer) -> std::io::Result<()> {
        let t = match self.time {
            Some((s, us)) => {
                std::time::UNIX_EPOCH + std::time::Duration::new(s, us.saturating_mul(1000))
            }
            None => std::time::SystemTime::now(),
        };
        w.time(t)?;
        w.record(RecordType::Sender, self.sender().as_bytes())?;
        if let Some(n) = &self.full_name {
            w.attr("sender_fullname", n)?;
        }
        for (n, v) in &self.attrs {
            w.attr(n, v)?;
        }
        if self.ret != 0 {
            w.record(RecordType::DsnRet, self.ret.to_string().as_bytes())?;
        }
        if !self.envid.is_empty() {
            w.record(RecordType::DsnEnvid, self.envid.as_bytes())?;
        }
        for r in &self.recipients {
            w.recipient(&NewRecipient {
                address: &r.address,
                orig: &r.orig,
                notify: r.notify,
                orcpt: &r.orcpt,
            })?;
        }
        Ok(())
    }
}
