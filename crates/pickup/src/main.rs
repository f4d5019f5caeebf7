//! # pickup(8) — local mail pickup
//!
//! ## SYNOPSIS
//! `pickup` [generic daemon options]
//!
//! ## DESCRIPTION
//! Woken by postdrop(1) and sendmail(1), and by master(8) every
//! `$wakeup` seconds, it scans `maildrop/`, checks each complete file
//! ([`queue::maildrop::read`]), copies it to cleanup(8) and removes it
//! once cleanup has queued it. It logs `ID: uid=N from=<sender>` with the
//! queue ID cleanup gave.
//!
//! ## SECURITY
//! Moderately security sensitive: it reads files written by any local
//! user. It runs as `mail_owner`, may be chrooted, never follows a
//! symbolic link, accepts only the records that sendmail(1) writes, and
//! gives cleanup only what it parsed, never the raw file.
//!
//! ## DIAGNOSTICS
//! `warning: uid=N: ...` for a file it removes because it is malformed;
//! a file that cleanup could not queue for a temporary reason is kept and
//! tried again at the next wakeup.
//!
//! ## SEE ALSO
//! postdrop(1), sendmail(1), cleanup(8), [`ipc::cleanup`]

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use config::params;
use daemon::server::{Ctx, TriggerServer, trigger_server_main};
use daemon::{info, warn};
use ipc::cleanup::{Client, EnvelopeRecord, flags, status};
use queue::QueueId;
use queue::maildrop::{self, Limits, ReadError, Submission};

struct Pickup {
    cleanup_service: String,
    limits: Limits,
    timeout: Duration,
}

enum Outcome {
    Queued,
    Retry(String),
    Rejected(String),
}

impl Pickup {
    fn pre_init(ctx: &Ctx) -> Pickup {
        let size = ctx
            .cfg
            .long(&params::MESSAGE_SIZE_LIMIT)
            .unwrap_or_else(|e| daemon::fatal!("{e}"))
            .max(0) as u64;
        let max_file = if size == 0 {
            Limits::default().max_file
        } else {
            size + 1024 * 1024
        };
        Pickup {
            cleanup_service: ctx.str(&params::CLEANUP_SERVICE_NAME),
            limits: Limits {
                max_file,
                ..Limits::default()
            },
            timeout: ctx.time(&params::IPC_TIMEOUT).min(Duration::from_secs(300)),
        }
    }

    fn send(&self, sub: &Submission) -> Outcome {
        let dir = PathBuf::from(".");
        let mut c = match Client::open(&dir, &self.cleanup_service, self.timeout) {
            Ok(c) => c,
            Err(e) => return Outcome::Retry(format!("connect to cleanup: {e}")),
        };
        let id = c.queue_id.clone();
        let mut f = flags::BOUNCE
            | flags::MAP_OK
            | flags::BCC_OK
            | flags::FILTER
            | flags::MILTER
            | flags::LOCAL;
        if sub.extract_recipients {
            f |= flags::EXTRACT_RCPT;
        }
        let mut env = vec![
            EnvelopeRecord::Time(sub.time.0, sub.time.1),
            EnvelopeRecord::Sender(sub.sender.clone()),
            EnvelopeRecord::Attr("rewrite_context".into(), "local".into()),
            EnvelopeRecord::Attr("submit_uid".into(), sub.uid.to_string()),
        ];
        if let Some(n) = &sub.full_name {
            env.push(EnvelopeRecord::FullName(n.clone()));
        }
        for (n, v) in &sub.attrs {
            env.push(EnvelopeRecord::Attr(n.clone(), v.clone()));
        }
        if sub.dsn_ret != 0 {
            env.push(EnvelopeRecord::Ret(sub.dsn_ret));
        }
        if !sub.dsn_envid.is_empty() {
            env.push(EnvelopeRecord::Envid(sub.dsn_envid.clone()));
        }
        for r in &sub.recipients {
            env.push(EnvelopeRecord::Rcpt {
                address: r.address.clone(),
                orig: r.address.clone(),
                notify: r.notify,
                orcpt: r.orcpt.clone(),
            });
        }
        let sent = c
            .begin(f)
            .and_then(|_| c.envelope(env))
            .and_then(|_| c.content(&sub.content));
        if let Err(e) = sent {
            return Outcome::Retry(format!("send to cleanup: {e}"));
        }
        info!(
            "{}: uid={} from=<{}>",
            id,
            sub.uid,
            daemon::Untrusted(&sub.sender)
        );
        match c.finish() {
            Ok(r) if r.status == status::OK => Outcome::Queued,
            Ok(r) if r.status & (status::DEFER | status::WRITE) != 0 => Outcome::Retry(r.reason),
            Ok(r) => Outcome::Rejected(r.reason),
            Err(e) => Outcome::Retry(format!("cleanup: {e}")),
        }
    }

    fn scan(&self) {
        let rd = match std::fs::read_dir("maildrop") {
            Ok(rd) => rd,
            Err(e) => {
                warn!("scan maildrop: {e}");
                return;
            }
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            // Writers' temporary names are "usec.pid"; skip them.
            if QueueId::parse(name).is_none() {
                continue;
            }
            let path = e.path();
            match maildrop::read(&path, self.limits) {
                Ok(sub) => match self.send(&sub) {
                    Outcome::Queued => {
                        if let Err(e) = std::fs::remove_file(&path) {
                            warn!("remove {}: {}", path.display(), e);
                        }
                    }
                    Outcome::Retry(why) => {
                        warn!("{}: {} -- will try again", name, why);
                        return;
                    }
                    Outcome::Rejected(why) => {
                        warn!(
                            "uid={}: message rejected by cleanup: {}",
                            sub.uid,
                            daemon::Untrusted(&why)
                        );
                        let _ = std::fs::remove_file(&path);
                    }
                },
                Err(ReadError::Incomplete) => {}
                Err(ReadError::Bad(why)) => {
                    let uid = std::fs::symlink_metadata(&path)
                        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
                        .unwrap_or(0);
                    warn!(
                        "uid={}: {}: {} -- removed",
                        uid,
                        name,
                        daemon::Untrusted(&why)
                    );
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => warn!("{}: {}", path.display(), e),
            }
        }
    }
}

impl TriggerServer for Pickup {
    fn trigger(&mut self, _ctx: &Ctx, _data: &[u8]) {
        self.scan();
    }
}

fn main() {
    trigger_server_main("pickup", Pickup::pre_init)
}
