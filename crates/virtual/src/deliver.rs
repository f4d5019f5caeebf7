//! # NAME
//! deliver — one delivery request of virtual(8)
//!
//! ## DESCRIPTION
//! For each recipient: a message that already has `Delivered-To:` the
//! recipient bounces (5.4.6 mail forwarding loop); the mailbox path, the
//! user ID and the group ID come from the three tables; then the Maildir
//! or the mailbox file is written with those IDs. Texts and status
//! codes are Postfix's: `unknown user: "a@b"` (5.1.1), `recipient a@b:
//! bad uid N in virtual_uid_maps` (warning; 4.3.5 mail system
//! configuration error), `delivery failed to mailbox PATH: ...`,
//! `maildir delivery failed: ...`, `delivered to mailbox`, `delivered to
//! maildir`.

use std::collections::HashSet;
use std::path::PathBuf;

use daemon::agent::Job;
use daemon::{info, warn};
use delivery::Failure;
use delivery::copy::{CopyOptions, Segment};
use maps::MapList;
use nix::unistd::{Gid, Uid};

use crate::settings::Settings;

pub struct Virtual {
    s: Settings,
}

impl Virtual {
    pub fn new(s: Settings) -> Virtual {
        Virtual { s }
    }

    /// Opens again the tables rebuilt while this process waited.
    pub fn reopen_changed_tables(&mut self, ctx: &daemon::server::Ctx) {
        use config::params;
        let s = &mut self.s;
        for (list, p) in [
            (&mut s.mailbox_maps, &params::VIRTUAL_MAILBOX_MAPS),
            (&mut s.uid_maps, &params::VIRTUAL_UID_MAPS),
            (&mut s.gid_maps, &params::VIRTUAL_GID_MAPS),
        ] {
            if list.changed() {
                *list = crate::settings::tables(ctx, p);
            }
        }
    }

    /// Postfix's restart when a table was rebuilt.
    pub fn exit_if_tables_changed(&self) {
        let s = &self.s;
        for list in [&s.mailbox_maps, &s.uid_maps, &s.gid_maps] {
            if let Some(name) = list.changed_name() {
                info!("table {} has changed -- restarting", name);
                std::process::exit(0);
            }
        }
    }

    pub fn deliver_request(&mut self, job: &mut Job) {
        let delivered = delivery::copy::delivered_to(Segment::new(
            &job.file.file,
            job.req.content_offset,
            job.req.content_len,
        ));
        let mut seen = HashSet::new();
        for i in 0..job.req.recipients.len() {
            let rcpt = job.req.recipients[i].address.clone();
            if !seen.insert(rcpt.to_lowercase()) {
                // The same mailbox twice in one request: once is enough.
                job.sent(i, "virtual", "2.0.0", "delivered (duplicate)");
                continue;
            }
            let result = if delivered.contains(&rcpt.to_lowercase()) {
                Err(Failure::new(
                    "5.4.6",
                    format!("mail forwarding loop for {rcpt}"),
                ))
            } else {
                self.deliver_one(job, i)
            };
            match result {
                Ok(text) => job.sent(i, "virtual", "2.0.0", text),
                Err(f) if f.is_temporary() => job.defer(i, "virtual", &f.dsn, &f.text),
                Err(f) => job.bounce(i, "virtual", &f.dsn, &f.text),
            }
        }
    }

    fn deliver_one(&mut self, job: &Job, i: usize) -> Result<&'static str, Failure> {
        let r = &job.req.recipients[i];
        let key = r.address.to_lowercase();
        let s = &mut self.s;
        let config_error = || Failure::new("4.3.5", "mail system configuration error");
        let lookup = |maps: &mut MapList, name: &str| -> Result<Option<String>, Failure> {
            maps::addr::find_address(maps, &key, &s.find).map_err(|e| {
                warn!(
                    "recipient {}: {} lookup: {}",
                    daemon::Untrusted(&key),
                    name,
                    e
                );
                Failure::new("4.3.0", format!("{name} lookup failure"))
            })
        };
        let Some(mailbox) = lookup(&mut s.mailbox_maps, "virtual_mailbox_maps")? else {
            return Err(Failure::new(
                "5.1.1",
                format!("unknown user: \"{}\"", r.address),
            ));
        };
        let mailbox = mailbox.trim().to_string();
        let id = |maps: &mut MapList, name: &str, what: &str| -> Result<u32, Failure> {
            match lookup(maps, name)? {
                None => {
                    warn!(
                        "recipient {}: {} not found in {}",
                        daemon::Untrusted(&key),
                        what,
                        name
                    );
                    Err(config_error())
                }
                Some(v) => v.trim().parse::<u32>().map_err(|_| {
                    warn!(
                        "recipient {}: bad {} {} in {}",
                        daemon::Untrusted(&key),
                        what,
                        daemon::Untrusted(v.trim()),
                        name
                    );
                    config_error()
                }),
            }
        };
        let uid = id(&mut s.uid_maps, "virtual_uid_maps", "uid")?;
        if uid < s.minimum_uid {
            warn!(
                "recipient {}: bad uid {} in virtual_uid_maps",
                daemon::Untrusted(&key),
                uid
            );
            return Err(config_error());
        }
        let gid = id(&mut s.gid_maps, "virtual_gid_maps", "gid")?;
        if gid == 0 {
            warn!(
                "recipient {}: bad gid {} in virtual_gid_maps",
                daemon::Untrusted(&key),
                gid
            );
            return Err(config_error());
        }
        if mailbox.split('/').any(|c| c == "..") || mailbox.is_empty() {
            warn!(
                "recipient {}: bad mailbox path {} in virtual_mailbox_maps",
                daemon::Untrusted(&key),
                daemon::Untrusted(&mailbox)
            );
            return Err(config_error());
        }
        let path = PathBuf::from(format!(
            "{}/{}",
            s.base.trim_end_matches('/'),
            mailbox.trim_start_matches('/')
        ));
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        let content = || Segment::new(&job.file.file, job.req.content_offset, job.req.content_len);
        let sender = job.req.sender.as_str();
        let orig = if r.orig.is_empty() {
            &r.address
        } else {
            &r.orig
        };
        if mailbox.ends_with('/') {
            let opts = CopyOptions {
                return_path: true,
                orig_to: Some(orig.clone()),
                delivered_to: Some(r.address.clone()),
                ..Default::default()
            };
            let md = delivery::maildir::Maildir {
                dir: &path,
                hostname: &s.hostname,
                size_limit: s.mbox.size_limit,
                def_dsn: "4.2.0",
            };
            let result = {
                let _me = sys::privs::impersonate(uid, gid)
                    .map_err(|e| Failure::new("4.3.0", format!("cannot switch user ID: {e}")))?;
                delivery::maildir::deliver(&md, |f, room| {
                    delivery::copy::copy(content(), f, sender, &opts, room)
                })
            };
            return match result {
                Ok(_) => Ok("delivered to maildir"),
                Err(f) => {
                    if f.text.starts_with("create maildir file")
                        && f.text.ends_with("Permission denied")
                    {
                        warn!(
                            "maildir access problem for UID/GID={}/{}: {}",
                            uid, gid, f.text
                        );
                        warn!("perhaps you need to create the maildirs in advance");
                    }
                    Err(f.prefixed("maildir delivery failed: "))
                }
            };
        }
        let opts = CopyOptions {
            from_line: true,
            return_path: true,
            orig_to: Some(orig.clone()),
            delivered_to: Some(r.address.clone()),
            quote_from: true,
            blank_line: true,
            ..Default::default()
        };
        let settings = s.mbox.clone();
        delivery::isolate(|| {
            let _me = sys::privs::impersonate(uid, gid)
                .map_err(|e| Failure::new("4.3.0", format!("cannot switch user ID: {e}")))?;
            let mut mbox =
                delivery::mbox::open_locked(&path, &settings, Some((uid, gid)), "4.2.0")?;
            mbox.append(settings.size_limit, "4.2.0", |f, room| {
                delivery::copy::copy(content(), f, sender, &opts, room)
            })
        })
        .map(|_| "delivered to mailbox")
        .map_err(|f| f.prefixed(&format!("delivery failed to mailbox {}: ", path.display())))
    }
}
