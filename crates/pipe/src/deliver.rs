//! # NAME
//! deliver — one pipe(8) delivery request
//!
//! ## DESCRIPTION
//! Checks the request against the entry (`size=`; `D` and `O` need one
//! recipient per request: `warning: pipe flag 'D' requires
//! SERVICE_destination_recipient_limit = 1` and a 4.3.5 deferral, as
//! Postfix does), expands the arguments (an unknown macro is a
//! configuration error: warning and 4.3.5), runs the command once for
//! all recipients and gives each the result.

use std::path::PathBuf;
use std::time::Duration;

use daemon::agent::Job;
use daemon::server::Ctx;
use daemon::warn;
use delivery::Failure;
use delivery::command::CommandSpec;
use delivery::copy::{CopyOptions, Segment};

use crate::attrs::Attrs;

pub struct Pipe {
    attrs: Attrs,
    service: String,
    config_dir: String,
    time_limit: Duration,
    delimiters: String,
    env: Vec<(String, String)>,
}

/// Names whose values differ per recipient.
const PER_RECIPIENT: &[&str] = &[
    "recipient",
    "original_recipient",
    "user",
    "extension",
    "mailbox",
];

/// Every name pipe(8) knows.
const KNOWN: &[&str] = &[
    "client_address",
    "client_helo",
    "client_hostname",
    "client_port",
    "client_protocol",
    "domain",
    "extension",
    "mailbox",
    "nexthop",
    "original_recipient",
    "queue_id",
    "recipient",
    "sasl_method",
    "sasl_sender",
    "sasl_username",
    "sender",
    "size",
    "user",
];

/// Client and SASL macros and the queue file attributes they come from.
const MESSAGE_ATTRS: &[(&str, &str)] = &[
    ("client_address", "client_address"),
    ("client_helo", "helo_name"),
    ("client_hostname", "client_name"),
    ("client_port", "client_port"),
    ("client_protocol", "protocol_name"),
    ("sasl_method", "sasl_method"),
    ("sasl_sender", "sasl_sender"),
    ("sasl_username", "sasl_username"),
];

/// The macro names `arg` uses.
fn names(arg: &str) -> Vec<String> {
    let seen = std::cell::RefCell::new(Vec::new());
    let _ = delivery::expand::expand(arg, &|n| {
        seen.borrow_mut().push(n.to_string());
        Some("x".into())
    });
    let mut all = seen.into_inner();
    all.sort();
    all.dedup();
    all
}

fn fold_local(addr: &str) -> String {
    match addr.rfind('@') {
        Some(i) => format!("{}{}", addr[..i].to_lowercase(), &addr[i..]),
        None => addr.to_lowercase(),
    }
}

fn fold_domain(addr: &str) -> String {
    match addr.rfind('@') {
        Some(i) => format!("{}{}", &addr[..i], addr[i..].to_lowercase()),
        None => addr.to_string(),
    }
}

impl Pipe {
    pub fn new(ctx: &Ctx, attrs: Attrs) -> Pipe {
        let service = ctx.args.service.clone();
        let limit_name = format!("{service}_time_limit");
        let time_limit = match ctx.cfg.raw(&limit_name) {
            Some(_) => ctx
                .cfg
                .time_named(&limit_name, 's')
                .unwrap_or_else(|e| daemon::fatal!("{e}")),
            None => ctx.time(&config::params::COMMAND_TIME_LIMIT),
        };
        let mut env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        for n in ctx
            .cfg
            .list(&config::params::EXPORT_ENVIRONMENT)
            .unwrap_or_else(|e| daemon::fatal!("{e}"))
        {
            let kv = match n.split_once('=') {
                Some((k, v)) => Some((k.to_string(), v.to_string())),
                None => std::env::var(&n).ok().map(|v| (n, v)),
            };
            if let Some(kv) = kv.filter(|(k, _)| k != "PATH") {
                env.push(kv);
            }
        }
        Pipe {
            attrs,
            service,
            config_dir: ctx.cfg.config_dir().display().to_string(),
            time_limit,
            delimiters: ctx.str(&config::params::RECIPIENT_DELIMITER),
            env,
        }
    }

    fn fail_all(&self, job: &mut Job, f: &Failure) {
        for i in 0..job.req.recipients.len() {
            if f.is_temporary() {
                job.defer(i, &self.service, &f.dsn, &f.text);
            } else {
                job.bounce(i, &self.service, &f.dsn, &f.text);
            }
        }
    }

    /// The value of `name` for recipient `i` (or for the message when
    /// `i` is `None`).
    fn value(&self, job: &Job, size: u64, name: &str, i: Option<usize>) -> Option<String> {
        let f = self.attrs.flags;
        let req = &job.req;
        let quote = |a: String| {
            if f.quote {
                delivery::copy::quote_address(&a)
            } else {
                a
            }
        };
        let rcpt_form = |a: &str| {
            let mut a = a.to_string();
            if f.fold_user {
                a = fold_local(&a);
            }
            if f.fold_host {
                a = fold_domain(&a);
            }
            quote(a)
        };
        let r = i.map(|i| &req.recipients[i]);
        let local = r.map(|r| match r.address.rfind('@') {
            Some(k) => r.address[..k].to_string(),
            None => r.address.clone(),
        });
        let user_case = |s: String| if f.fold_user { s.to_lowercase() } else { s };
        let v = match name {
            "sender" => {
                if req.sender.is_empty() {
                    self.attrs.null_sender.clone()
                } else {
                    quote(req.sender.clone())
                }
            }
            "recipient" => rcpt_form(&r?.address),
            "original_recipient" => {
                let r = r?;
                rcpt_form(if r.orig.is_empty() {
                    &r.address
                } else {
                    &r.orig
                })
            }
            "mailbox" => user_case(local?),
            "user" => {
                let l = local?;
                let (u, _) = mail_split(&l, &self.delimiters);
                user_case(u)
            }
            "extension" => {
                let l = local?;
                let (_, e) = mail_split(&l, &self.delimiters);
                user_case(e.unwrap_or_default())
            }
            "domain" => {
                // The same for every recipient of a request (one next hop).
                let r = r.unwrap_or(req.recipients.first()?);
                let d = r
                    .address
                    .rfind('@')
                    .map(|k| &r.address[k + 1..])
                    .unwrap_or("");
                if f.fold_host {
                    d.to_lowercase()
                } else {
                    d.to_string()
                }
            }
            "nexthop" => {
                if f.fold_host {
                    req.nexthop.to_lowercase()
                } else {
                    req.nexthop.clone()
                }
            }
            "size" => size.to_string(),
            "queue_id" => req.queue_id.clone(),
            other => {
                let (_, attr) = MESSAGE_ATTRS.iter().find(|(m, _)| *m == other)?;
                req.attrs
                    .iter()
                    .rev()
                    .find(|(n, _)| n == attr)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            }
        };
        Some(v)
    }

    /// The argument vector, or the unknown macro name.
    fn expand_argv(&self, job: &Job, size: u64) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for arg in &self.attrs.argv {
            let used = names(arg);
            if let Some(bad) = used.iter().find(|n| !KNOWN.contains(&n.as_str())) {
                return Err(bad.clone());
            }
            let each: Vec<Option<usize>> =
                if used.iter().any(|n| PER_RECIPIENT.contains(&n.as_str())) {
                    (0..job.req.recipients.len()).map(Some).collect()
                } else {
                    vec![None]
                };
            for i in each {
                // Empty values expand to nothing: `undefined` is no error.
                let lookup = |n: &str| self.value(job, size, n, i);
                let e = delivery::expand::expand(arg, &lookup).map_err(|e| e.to_string())?;
                out.push(e.text);
            }
        }
        Ok(out)
    }

    pub fn deliver_request(&mut self, job: &mut Job) {
        let n = job.req.recipients.len();
        let f = self.attrs.flags;
        let size = job
            .file
            .read_envelope()
            .map(|e| e.size())
            .unwrap_or(job.req.content_len);
        if let Some(limit) = self.attrs.size_limit
            && size > limit
        {
            self.fail_all(job, &Failure::new("5.2.3", "message too large"));
            return;
        }
        if n > 1 && (f.delivered_to || f.orig_to) {
            let flag = if f.delivered_to { 'D' } else { 'O' };
            warn!(
                "pipe flag `{}' requires {}_destination_recipient_limit = 1",
                flag, self.service
            );
            self.fail_all(
                job,
                &Failure::new("4.3.5", "mail system configuration error"),
            );
            return;
        }
        let content = || Segment::new(&job.file.file, job.req.content_offset, job.req.content_len);
        if f.delivered_to {
            let seen = delivery::copy::delivered_to(content());
            let rcpt = &job.req.recipients[0].address;
            if seen.contains(&rcpt.to_lowercase()) {
                let text = format!("mail forwarding loop for {rcpt}");
                self.fail_all(job, &Failure::new("5.4.6", text));
                return;
            }
        }
        let argv = match self.expand_argv(job, size) {
            Ok(a) => a,
            Err(name) => {
                warn!(
                    "file {}/master.cf: service {}: unknown macro name: \"{}\"",
                    self.config_dir, self.service, name
                );
                self.fail_all(
                    job,
                    &Failure::new("4.3.5", "mail system configuration error"),
                );
                return;
            }
        };
        let r0 = &job.req.recipients[0];
        let opts = CopyOptions {
            from_line: f.from_line,
            return_path: f.return_path,
            orig_to: f.orig_to.then(|| {
                if r0.orig.is_empty() {
                    r0.address.clone()
                } else {
                    r0.orig.clone()
                }
            }),
            delivered_to: f.delivered_to.then(|| r0.address.clone()),
            quote_from: f.quote_from,
            dot_stuff: f.dot,
            blank_line: f.blank,
            eol: self.attrs.eol.clone(),
            null_sender: Some(self.attrs.null_sender.clone()),
            time: None,
        };
        let spec = CommandSpec {
            display: argv.join(" "),
            argv,
            env: self.env.clone(),
            cwd: self.attrs.directory.as_ref().map(PathBuf::from),
            root: self.attrs.chroot.as_ref().map(PathBuf::from),
            ids: Some((self.attrs.uid, self.attrs.gid)),
            time_limit: self.time_limit,
            fsize_limit: None,
            agent: "pipe".into(),
        };
        let sender = job.req.sender.clone();
        let result = delivery::command::run(&spec, |w| {
            delivery::copy::copy(content(), w, &sender, &opts, None)
        });
        match result {
            Ok(output) => {
                let mut text = format!("delivered via {} service", self.service);
                let output = output.trim_end();
                if !output.is_empty() {
                    text.push_str(&format!(" ({output})"));
                }
                for i in 0..n {
                    job.sent(i, &self.service, "2.0.0", &text);
                }
            }
            Err(e) => {
                if e.timed_out {
                    warn!("pipe_command_read: read time limit exceeded");
                }
                self.fail_all(job, &e.failure);
            }
        }
    }
}

/// Splits a localpart into user and extension.
fn mail_split(local: &str, delimiters: &str) -> (String, Option<String>) {
    let (u, e) = mail::address::strip_extension(local, delimiters);
    (u.to_string(), e.map(|e| e.extension.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_names() {
        assert_eq!(names("-d ${recipient}"), ["recipient"]);
        assert_eq!(names("$$x"), Vec::<String>::new());
        assert_eq!(names("x${recipient}y${user}"), ["recipient", "user"]);
        assert_eq!(fold_local("User+Ext@Pipe.Example"), "user+ext@Pipe.Example");
        assert_eq!(fold_domain("User@Pipe.Example"), "User@pipe.example");
    }
}
