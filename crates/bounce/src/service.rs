//! # NAME
//! service — who gets which notice
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut b = Bounce::new(&ctx.cfg)?;
//! let reply = b.handle(&request);
//! ```
//!
//! ## DESCRIPTION
//! **Flush** (a message with failed recipients, or one that expired):
//! the recipients of `bounce/ID` (and, when expired, of `defer/ID`) are
//! reported to the sender in one failure notice from the null sender,
//! except those whose `NOTIFY` leaves out `FAILURE` (`NEVER`); with
//! `bounce` in `notify_classes` the postmaster (`bounce_notice_recipient`)
//! gets a copy of every failure, with headers only, from
//! `double_bounce_sender`. The original goes along as `RET` says, and only
//! as headers when it is larger than `bounce_size_limit`. When the
//! message was itself a notice (null sender), nothing goes back to it:
//! with `2bounce` in `notify_classes` the failure goes to
//! `2bounce_notice_recipient`, else it is dropped; a failed postmaster
//! notice (sender `double_bounce_sender`) is dropped with a warning. The
//! logs are removed once every notice is queued.
//!
//! **Warn** (`delay_warning_time`): the recipients of `defer/ID` whose
//! `NOTIFY` allows `DELAY` get a delay notice with headers only and
//! `Will-Retry-Until`; with `delay` in `notify_classes` the postmaster
//! (`delay_notice_recipient`) gets a copy. Notices are never warned about.
//!
//! **Trace** (`NOTIFY=SUCCESS`, `sendmail -bv`): the entries of
//! `trace/ID` go to the sender in a success report (verify report for a
//! probe), headers only; never for notices.
//!
//! Notices are queued through cleanup(8) ([`ipc::cleanup::Client`]) with
//! no flags, so that they are not checked, mapped or bounced.
//!
//! ## SEE ALSO
//! bounce(8), [`crate::notice`], [`queue::logfile`]

use std::io::BufReader;
use std::time::{Duration, SystemTime};

use config::params;
use daemon::{info, warn};
use ipc::bounce::{BounceReply, BounceRequest};
use ipc::cleanup::{EnvelopeRecord, status};
use mail::bounce_template::Templates;
use mail::dsn::Notify;
use queue::logfile::{self, LogEntry};
use queue::{Layout, QueueFile, QueueId};

use crate::notice::{Attach, Kind, Notice};

/// Settings read at start-up.
pub struct Bounce {
    layout: Layout,
    myhostname: String,
    myorigin: String,
    double_bounce: String,
    notify_classes: Vec<String>,
    bounce_rcpt: String,
    double_bounce_rcpt: String,
    delay_rcpt: String,
    size_limit: u64,
    max_lifetime: Duration,
    utf8: bool,
    cleanup_service: String,
    timeout: Duration,
    templates: Templates,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Reads `bounce_template_file`, warning about templates it leaves out.
pub fn load_templates(cfg: &config::Config) -> Result<Templates, String> {
    let file = cfg
        .str(&params::BOUNCE_TEMPLATE_FILE)
        .map_err(|e| e.to_string())?;
    if file.is_empty() {
        return Ok(Templates::default());
    }
    let text = std::fs::read_to_string(&file).map_err(|e| format!("open {file}: {e}"))?;
    Templates::parse(&text, &mut |w| warn!("{}: {}", file, w)).map_err(|e| format!("{file}, {e}"))
}

impl Bounce {
    pub fn new(cfg: &config::Config, queue_dir: &std::path::Path) -> Result<Bounce, String> {
        let e = |e: config::ConfigError| e.to_string();
        let layout = Layout::from_config(cfg).map_err(e)?;
        let myorigin = cfg.str(&params::MYORIGIN).map_err(e)?;
        let templates = load_templates(cfg)?;
        Ok(Bounce {
            layout: Layout {
                queue_dir: queue_dir.to_path_buf(),
                ..layout
            },
            myhostname: cfg.str(&params::MYHOSTNAME).map_err(e)?,
            double_bounce: qualify(
                &cfg.str(&params::DOUBLE_BOUNCE_SENDER).map_err(e)?,
                &myorigin,
            ),
            myorigin,
            notify_classes: cfg
                .list(&params::NOTIFY_CLASSES)
                .map_err(e)?
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect(),
            bounce_rcpt: cfg.str(&params::BOUNCE_NOTICE_RECIPIENT).map_err(e)?,
            double_bounce_rcpt: cfg.str(&params::P2BOUNCE_NOTICE_RECIPIENT).map_err(e)?,
            delay_rcpt: cfg.str(&params::DELAY_NOTICE_RECIPIENT).map_err(e)?,
            size_limit: cfg.long(&params::BOUNCE_SIZE_LIMIT).map_err(e)?.max(0) as u64,
            max_lifetime: cfg.time(&params::MAXIMAL_QUEUE_LIFETIME).map_err(e)?,
            utf8: cfg.bool(&params::SMTPUTF8_ENABLE).map_err(e)?,
            cleanup_service: cfg.str(&params::CLEANUP_SERVICE_NAME).map_err(e)?,
            timeout: cfg
                .time(&params::IPC_TIMEOUT)
                .map_err(e)?
                .min(Duration::from_secs(300)),
            templates,
        })
    }

    fn class(&self, c: &str) -> bool {
        self.notify_classes.iter().any(|x| x == c)
    }

    /// Serves one request; `cfg` gives the values of template texts.
    pub fn handle(&mut self, cfg: &config::Config, req: &BounceRequest) -> BounceReply {
        let r = match req {
            BounceRequest::Flush {
                queue,
                queue_id,
                expired,
            } => self.flush(cfg, queue, queue_id, *expired),
            BounceRequest::Warn { queue, queue_id } => self.warn(cfg, queue, queue_id),
            BounceRequest::Trace { queue, queue_id } => self.trace(cfg, queue, queue_id),
        };
        match r {
            Ok(()) => BounceReply {
                ok: true,
                reason: String::new(),
            },
            Err(reason) => {
                warn!("{reason}");
                BounceReply { ok: false, reason }
            }
        }
    }

    fn open(
        &self,
        queue: &str,
        queue_id: &str,
    ) -> Result<(QueueId, QueueFile, queue::Envelope), String> {
        if !matches!(queue, "active" | "deferred" | "incoming" | "hold") {
            return Err(format!("malformed queue name: {queue}"));
        }
        let id =
            QueueId::parse(queue_id).ok_or_else(|| format!("malformed queue id: {queue_id}"))?;
        let mut f = QueueFile::open_read(&self.layout.path_of(queue, &id), &id)
            .map_err(|e| format!("{id}: open queue file: {e}"))?;
        let env = f
            .read_envelope()
            .map_err(|e| format!("{id}: read queue file: {e}"))?;
        Ok((id, f, env))
    }

    fn read_log(&self, log: &str, id: &QueueId) -> Result<Vec<LogEntry>, String> {
        logfile::read(&self.layout, log, id).map_err(|e| format!("{id}: read {log} log: {e}"))
    }

    fn flush(
        &mut self,
        cfg: &config::Config,
        queue: &str,
        queue_id: &str,
        expired: bool,
    ) -> Result<(), String> {
        let (id, mut f, env) = self.open(queue, queue_id)?;
        let mut entries = self.read_log("bounce", &id)?;
        if expired {
            entries.extend(self.read_log("defer", &id)?);
        }
        let entries = last_per_recipient(entries);
        if entries.is_empty() {
            logfile::remove(&self.layout, "bounce", &id);
            return Ok(());
        }
        if env.sender.is_empty() || env.sender.eq_ignore_ascii_case(&self.double_bounce) {
            if env.sender.eq_ignore_ascii_case(&self.double_bounce) {
                warn!("{id}: undeliverable postmaster notification discarded");
            } else if self.class("2bounce") {
                let to = self.double_bounce_rcpt.clone();
                let new = self.send(
                    cfg,
                    &mut f,
                    &env,
                    &id,
                    Kind::Failure,
                    true,
                    &to,
                    &entries,
                    Attach::Full,
                )?;
                info!("{id}: postmaster non-delivery notification: {new}");
            }
            logfile::remove(&self.layout, "bounce", &id);
            return Ok(());
        }
        let wanted: Vec<LogEntry> = entries
            .iter()
            .filter(|e| notify_allows(e.notify, Notify::FAILURE))
            .cloned()
            .collect();
        if !wanted.is_empty() {
            let attach =
                if env.dsn_ret == 2 || (self.size_limit > 0 && env.size() > self.size_limit) {
                    Attach::Headers
                } else {
                    Attach::Full
                };
            let to = env.sender.clone();
            let new = self.send(
                cfg,
                &mut f,
                &env,
                &id,
                Kind::Failure,
                false,
                &to,
                &wanted,
                attach,
            )?;
            info!("{id}: sender non-delivery notification: {new}");
        }
        if self.class("bounce") {
            let to = self.bounce_rcpt.clone();
            match self.send(
                cfg,
                &mut f,
                &env,
                &id,
                Kind::Failure,
                true,
                &to,
                &entries,
                Attach::Headers,
            ) {
                Ok(new) => info!("{id}: postmaster non-delivery notification: {new}"),
                Err(e) => warn!(
                    "{id}: postmaster notice failed while bouncing to {}: {e}",
                    env.sender
                ),
            }
        }
        logfile::remove(&self.layout, "bounce", &id);
        Ok(())
    }

    fn warn(&mut self, cfg: &config::Config, queue: &str, queue_id: &str) -> Result<(), String> {
        let (id, mut f, env) = self.open(queue, queue_id)?;
        if env.sender.is_empty() || env.sender.eq_ignore_ascii_case(&self.double_bounce) {
            return Ok(());
        }
        let entries = last_per_recipient(self.read_log("defer", &id)?);
        let wanted: Vec<LogEntry> = entries
            .iter()
            .filter(|e| notify_allows(e.notify, Notify::DELAY))
            .cloned()
            .collect();
        if !wanted.is_empty() {
            let to = env.sender.clone();
            let new = self.send(
                cfg,
                &mut f,
                &env,
                &id,
                Kind::Delay,
                false,
                &to,
                &wanted,
                Attach::Headers,
            )?;
            info!("{id}: sender delay notification: {new}");
        }
        if self.class("delay") && !entries.is_empty() {
            let to = self.delay_rcpt.clone();
            match self.send(
                cfg,
                &mut f,
                &env,
                &id,
                Kind::Delay,
                true,
                &to,
                &entries,
                Attach::Headers,
            ) {
                Ok(new) => info!("{id}: postmaster delay notification: {new}"),
                Err(e) => warn!(
                    "{id}: postmaster notice failed while warning {}: {e}",
                    env.sender
                ),
            }
        }
        Ok(())
    }

    fn trace(&mut self, cfg: &config::Config, queue: &str, queue_id: &str) -> Result<(), String> {
        let (id, mut f, env) = self.open(queue, queue_id)?;
        let entries = self.read_log("trace", &id)?;
        if entries.is_empty() {
            info!("{id}: no trace file -- not sending a notification");
            return Ok(());
        }
        if env.sender.is_empty() {
            info!("{id}: not sending trace/success notification for single-bounce message");
        } else if env.sender.eq_ignore_ascii_case(&self.double_bounce) {
            info!("{id}: not sending trace/success notification for double-bounce message");
        } else {
            let verify = env
                .attr("trace_flags")
                .is_some_and(|v| v.contains("verify"));
            let kind = if verify { Kind::Verify } else { Kind::Success };
            let to = env.sender.clone();
            let new = self.send(
                cfg,
                &mut f,
                &env,
                &id,
                kind,
                false,
                &to,
                &entries,
                Attach::Headers,
            )?;
            info!("{id}: sender delivery status notification: {new}");
        }
        logfile::remove(&self.layout, "trace", &id);
        Ok(())
    }

    /// Queues one notice; returns its queue ID.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        cfg: &config::Config,
        f: &mut QueueFile,
        env: &queue::Envelope,
        id: &QueueId,
        kind: Kind,
        postmaster: bool,
        to: &str,
        entries: &[LogEntry],
        attach: Attach,
    ) -> Result<String, String> {
        let t = self.templates.get(kind);
        let text = if postmaster {
            Vec::new()
        } else {
            expand(cfg, &self.templates, kind).map_err(|e| format!("{id}: {e}"))?
        };
        let subject = match (&t.postmaster_subject, postmaster) {
            (Some(s), true) => s.clone(),
            _ => t.subject.clone(),
        };
        let charset = if self.utf8 && t.charset.eq_ignore_ascii_case("us-ascii") {
            "utf-8".to_string()
        } else {
            t.charset.clone()
        };
        let sender = if postmaster {
            self.double_bounce.clone()
        } else {
            String::new()
        };
        let to_header = qualify(to, &self.myorigin);
        let from = qualify_header(&t.from, &self.myorigin);
        let mut c =
            ipc::cleanup::Client::open(&self.layout.queue_dir, &self.cleanup_service, self.timeout)
                .map_err(|e| format!("{id}: connect to cleanup: {e}"))?;
        let new_id = c.queue_id.clone();
        let retry_until =
            (kind == Kind::Delay).then(|| env.arrival.0 + self.max_lifetime.as_secs());
        let notice = Notice {
            kind,
            postmaster,
            myhostname: &self.myhostname,
            queue_id: &new_id,
            orig_queue_id: id.as_str(),
            orig_sender: &env.sender,
            arrival: env.arrival.0,
            now: now(),
            envid: (!env.dsn_envid.is_empty()).then_some(env.dsn_envid.as_str()),
            from: &from,
            subject: &subject,
            to: &to_header,
            charset: &charset,
            text: &text,
            recipients: entries,
            retry_until,
            attach,
        };
        let content = f
            .content_reader(env)
            .map_err(|e| format!("{id}: read queue file: {e}"))
            .and_then(|r| {
                notice
                    .compose(&mut BufReader::new(r))
                    .map_err(|e| format!("{id}: read queue file: {e}"))
            })?;
        let n = now();
        let sent = c
            .begin(0)
            .and_then(|_| {
                c.envelope(vec![
                    EnvelopeRecord::Time(n, 0),
                    EnvelopeRecord::Sender(sender),
                    EnvelopeRecord::Attr("rewrite_context".into(), "local".into()),
                    EnvelopeRecord::Rcpt {
                        address: to.to_string(),
                        orig: to.to_string(),
                        notify: 0,
                        orcpt: String::new(),
                    },
                ])
            })
            .and_then(|_| c.content(&content))
            .and_then(|_| c.finish());
        match sent {
            Ok(r) if r.status == status::OK => Ok(new_id),
            Ok(r) => Err(format!("{id}: cleanup refused the notice: {}", r.reason)),
            Err(e) => Err(format!("{id}: send notice to cleanup: {e}")),
        }
    }
}

/// A template's text with main.cf values; Postfix's conversion warnings
/// are logged.
fn expand(cfg: &config::Config, t: &Templates, kind: Kind) -> Result<Vec<String>, String> {
    let value = |name: &str| -> Option<String> {
        (params::lookup(name).is_some() || cfg.main_cf().get(name).is_some())
            .then(|| cfg.get(name).ok())
            .flatten()
    };
    let seconds = |name: &str| -> Option<u64> {
        match params::lookup(name)?.kind {
            params::Kind::Time(unit) => cfg.time_named(name, unit).ok().map(|d| d.as_secs()),
            _ => None,
        }
    };
    t.get(kind)
        .expand(&value, &seconds, &mut |w| warn!("[built-in]: {w}"))
}

/// Whether a recipient's NOTIFY asks for a notice of `what`. Without
/// NOTIFY, failures and delays are reported.
fn notify_allows(bits: u32, what: Notify) -> bool {
    if bits == 0 {
        return what == Notify::FAILURE || what == Notify::DELAY;
    }
    match u8::try_from(bits).ok().and_then(Notify::from_bits) {
        Some(n) => n.contains(what),
        None => false,
    }
}

/// The last entry for each recipient, in order of first appearance.
fn last_per_recipient(entries: Vec<LogEntry>) -> Vec<LogEntry> {
    let mut out: Vec<LogEntry> = Vec::with_capacity(entries.len());
    for e in entries {
        match out
            .iter_mut()
            .find(|o| o.recipient == e.recipient && o.offset == e.offset)
        {
            Some(o) => *o = e,
            None => out.push(e),
        }
    }
    out
}

/// `user` becomes `user@$myorigin`.
fn qualify(addr: &str, myorigin: &str) -> String {
    if addr.is_empty() || addr.contains('@') {
        addr.to_string()
    } else {
        format!("{addr}@{myorigin}")
    }
}

/// Qualifies the address of a `From:` value: `Name <user>` or
/// `user (Name)`.
fn qualify_header(value: &str, myorigin: &str) -> String {
    if let (Some(a), Some(b)) = (value.find('<'), value.rfind('>'))
        && a < b
    {
        let inner = &value[a + 1..b];
        return format!(
            "{}<{}>{}",
            &value[..a],
            qualify(inner, myorigin),
            &value[b + 1..]
        );
    }
    match value.split_once(' ') {
        Some((addr, rest)) => format!("{} {}", qualify(addr, myorigin), rest),
        None => qualify(value, myorigin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_rules() {
        assert!(notify_allows(0, Notify::FAILURE));
        assert!(notify_allows(0, Notify::DELAY));
        assert!(!notify_allows(0, Notify::SUCCESS));
        assert!(!notify_allows(1, Notify::FAILURE));
        assert!(notify_allows(2, Notify::SUCCESS));
        assert!(!notify_allows(2, Notify::FAILURE));
        assert!(notify_allows(12, Notify::DELAY));
    }

    #[test]
    fn addresses() {
        assert_eq!(
            qualify_header("Mail Delivery System <MAILER-DAEMON>", "test.example"),
            "Mail Delivery System <MAILER-DAEMON@test.example>"
        );
        assert_eq!(
            qualify_header("MAILER-DAEMON (Mail Delivery System)", "x.example"),
            "MAILER-DAEMON@x.example (Mail Delivery System)"
        );
        assert_eq!(qualify("postmaster", "h"), "postmaster@h");
        assert_eq!(qualify("a@b", "h"), "a@b");
    }

    #[test]
    fn dedup_keeps_last() {
        let e = |r: &str, why: &str| LogEntry {
            recipient: r.into(),
            reason: why.into(),
            ..Default::default()
        };
        let got = last_per_recipient(vec![e("a", "1"), e("b", "1"), e("a", "2")]);
        let got: Vec<(&str, &str)> = got
            .iter()
            .map(|e| (e.recipient.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(got, [("a", "2"), ("b", "1")]);
    }
}
