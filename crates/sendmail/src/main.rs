//! # sendmail(1) — Postfix to Sendmail compatibility interface
//!
//! ## SYNOPSIS
//! `sendmail` [*option ...*] [*recipient ...*]
//!
//! `mailq`, `sendmail -bp`; `newaliases`, `sendmail -I`, `sendmail -bi`
//!
//! ## DESCRIPTION
//! Reads a message from standard input and queues it: into `maildrop/`
//! directly when this process may write there (root, `mail_owner`, the
//! `setgid_group`, or the owner of an unprivileged instance), otherwise
//! through the set-gid postdrop(1). It exits 0 only once the file is
//! durable; pickup(8) is then woken to take it. Input lines may end in
//! CRLF or LF (`sendmail_fix_line_endings`); a line with only `.` ends the
//! message unless `-i` or `-oi` is given.
//!
//! Options ([`options`]): `-t` (take recipients from To/Cc/Bcc as well;
//! Bcc is removed), `-i`/`-oi`, `-f`/`-r` *sender*, `-F` *full name*,
//! `-N` *dsn*, `-R` *ret*, `-V` *envid*, `-B` *type*, `-C` *config*,
//! `-v`; `-bm` (default), `-bp` (mailq), `-bi`/`-I` (newaliases), `-bd`
//! (start the mail system), `-bs` and `-bv` (see BUGS), `-q` (flush the
//! queue), `-qR`*site*, `-qI`*id*. Other Sendmail options (`-G`, `-L`,
//! `-O`, `-U`, `-X`, `-h`, `-m`, `-n`, `-o`*x*) are accepted and ignored,
//! as with Postfix.
//!
//! ## DIAGNOSTICS
//! Exit status per sysexits.h: 0, `EX_USAGE` (64) for bad options or no
//! recipients, `EX_DATAERR` (65) for a bad address, `EX_NOPERM` (77) when
//! not authorized, `EX_TEMPFAIL` (75) when the message could not be
//! queued now (disk full), `EX_SOFTWARE` (70) otherwise.
//!
//! `-bv` queues an address verification probe instead of a message: the
//! delivery agents only say what they would do with each recipient, and
//! bounce(8) mails the report to the sender.
//!
//! ## BUGS
//! `-bs` runs smtpd(8) on standard input; it needs that program and fails
//! with a message until it is installed.
//!
//! ## SEE ALSO
//! postdrop(1), pickup(8), postqueue(1), [`queue::maildrop`]

#![forbid(unsafe_code)]

mod input;
mod options;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use config::{Config, params};
use daemon::log::{self, Level};
use options::{Mode, Options};
use queue::Layout;
use queue::maildrop::{self, Submission, SubmittedRecipient, WriteError};

/// sysexits.h
pub mod ex {
    pub const USAGE: i32 = 64;
    pub const DATAERR: i32 = 65;
    pub const NOINPUT: i32 = 66;
    pub const NOUSER: i32 = 67;
    pub const UNAVAILABLE: i32 = 69;
    pub const SOFTWARE: i32 = 70;
    pub const TEMPFAIL: i32 = 75;
    pub const NOPERM: i32 = 77;
    pub const CONFIG: i32 = 78;
}

fn die(code: i32, text: &str) -> ! {
    log::log_str(Level::Fatal, text);
    std::process::exit(code)
}

fn program(cfg: &Config, name: &str) -> PathBuf {
    let dir = cfg
        .str(&params::COMMAND_DIRECTORY)
        .unwrap_or_else(|e| die(ex::CONFIG, &e.to_string()));
    Path::new(&dir).join(name)
}

/// Runs another command of the suite and exits with its status.
fn exec(cfg: &Config, name: &str, args: &[String]) -> ! {
    let path = program(cfg, name);
    match Command::new(&path)
        .args(args)
        .env("MAIL_CONFIG", cfg.config_dir())
        .status()
    {
        Ok(s) => std::process::exit(s.code().unwrap_or(ex::SOFTWARE)),
        Err(e) => die(
            ex::UNAVAILABLE,
            &format!("execute {}: {}", path.display(), e),
        ),
    }
}

/// Whether this process can create files in `maildrop/` itself.
fn can_write_maildrop(layout: &Layout) -> bool {
    nix::unistd::access(
        &layout.queue_dir.join("maildrop"),
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .is_ok()
}

/// The login name of the user running sendmail, for the default sender.
fn login_name() -> String {
    let u = sys::privs::current_user();
    if u.name.chars().all(|c| c.is_ascii_digit()) {
        die(
            ex::NOUSER,
            &format!("no login name found for user ID {}", u.uid),
        );
    }
    u.name
}

/// Queues the message of standard input, or for `-bv` (`probe`) an
/// address verification probe whose report goes to the sender.
fn submit(cfg: &Config, opts: &Options, probe: bool) -> i32 {
    let layout = Layout::from_config(cfg).unwrap_or_else(|e| die(ex::CONFIG, &e.to_string()));
    let limit = cfg
        .long(&params::MESSAGE_SIZE_LIMIT)
        .unwrap_or_else(|e| die(ex::CONFIG, &e.to_string()))
        .max(0) as u64;
    let mut recipients = Vec::new();
    for arg in &opts.recipients {
        for a in input::split_addresses(arg) {
            recipients.push(SubmittedRecipient {
                address: a,
                notify: opts.notify,
                orcpt: String::new(),
            });
        }
    }
    if recipients.is_empty() && !opts.extract {
        die(
            ex::USAGE,
            "Recipient addresses must be specified on the command line or via the -t option",
        );
    }
    let sender = match &opts.sender {
        Some(s) => input::sender_address(s),
        None => login_name(),
    };
    let content = if probe {
        // Nothing is read: the probe is a message of its own.
        let to: Vec<&str> = recipients.iter().map(|r| r.address.as_str()).collect();
        format!(
            "From: {}\nSubject: probe\nTo: {}\n\n",
            sender,
            to.join(", ")
        )
        .into_bytes()
    } else {
        match input::read_message(std::io::stdin().lock(), !opts.dot_is_data, limit) {
            Ok(c) => c,
            Err(input::ReadError::TooBig) => die(ex::DATAERR, "message file too big"),
            Err(input::ReadError::Io(e)) => die(ex::NOINPUT, &format!("read message: {e}")),
        }
    };
    let mut attrs = Vec::new();
    if probe {
        attrs.push(("trace_flags".to_string(), "verify".to_string()));
    }
    if let Some(b) = &opts.body_type {
        attrs.push(("encoding".to_string(), b.clone()));
    }
    // Like Postfix: the full name of -F, else from the password file.
    let full_name = opts.full_name.clone().or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .and_then(|u| {
                u.gecos
                    .to_str()
                    .ok()
                    .map(|g| g.split(',').next().unwrap_or("").trim().to_string())
            })
            .filter(|g| !g.is_empty())
    });
    let sub = Submission {
        sender,
        recipients,
        full_name,
        extract_recipients: opts.extract,
        dsn_ret: opts.ret,
        dsn_envid: opts.envid.clone().unwrap_or_default(),
        attrs,
        content,
        ..Default::default()
    };
    if can_write_maildrop(&layout) {
        match maildrop::write(&layout, &sub, &mut &sub.content[..], limit) {
            Ok(_) => {}
            Err(WriteError::TooBig) => die(ex::DATAERR, "message file too big"),
            Err(e) => die(ex::TEMPFAIL, &format!("queue file write error: {e}")),
        }
        let _ = ipc::trigger(&layout.queue_dir, ipc::Class::Public, "pickup", b"W");
        if probe {
            report_promise(&sub.sender);
        }
        return 0;
    }
    // Through the set-gid postdrop.
    let path = program(cfg, "postdrop");
    let mut child = Command::new(&path)
        .arg("-r")
        .env("MAIL_CONFIG", cfg.config_dir())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            die(
                ex::UNAVAILABLE,
                &format!("execute {}: {}", path.display(), e),
            )
        });
    let bytes = maildrop::encode(&sub);
    let wrote = child.stdin.take().map(|mut s| s.write_all(&bytes));
    let status = child
        .wait()
        .unwrap_or_else(|e| die(ex::SOFTWARE, &format!("wait for postdrop: {e}")));
    match (wrote, status.code()) {
        (_, Some(0)) => {
            if probe {
                report_promise(&sub.sender);
            }
            0
        }
        (_, Some(code)) => code,
        _ => ex::SOFTWARE,
    }
}

/// What `sendmail -bv` says once the probe is queued.
fn report_promise(sender: &str) {
    println!("Mail Delivery Status Report will be mailed to <{sender}>.");
}

fn main() {
    log::init(None, "sendmail");
    log::set_stderr(true);
    let argv0 = std::env::args().next().unwrap_or_default();
    let name = argv0.rsplit('/').next().unwrap_or("sendmail").to_string();
    let opts = options::parse(&name, std::env::args().skip(1).collect())
        .unwrap_or_else(|e| die(ex::USAGE, &e));
    let dir = opts
        .config_dir
        .clone()
        .unwrap_or_else(config::config_dir_from_env);
    let cfg = Config::load(&dir).unwrap_or_else(|e| die(ex::CONFIG, &e.to_string()));
    log::init(Some(&cfg), "sendmail");
    log::set_stderr(true);
    log::set_verbose(opts.verbose);
    let code = match &opts.mode {
        Mode::Deliver => submit(&cfg, &opts, false),
        Mode::Mailq => exec(&cfg, "postqueue", &["-p".to_string()]),
        Mode::Newaliases => {
            let dbs = cfg
                .list(&params::ALIAS_DATABASE)
                .unwrap_or_else(|e| die(ex::CONFIG, &e.to_string()));
            if dbs.is_empty() {
                0
            } else {
                exec(&cfg, "postalias", &dbs)
            }
        }
        Mode::Daemon => exec(&cfg, "postfix", &["start".to_string()]),
        Mode::Flush => exec(&cfg, "postqueue", &["-f".to_string()]),
        Mode::FlushSite(site) => exec(&cfg, "postqueue", &["-s".to_string(), site.clone()]),
        Mode::FlushId(id) => exec(&cfg, "postqueue", &["-i".to_string(), id.clone()]),
        Mode::Nothing => 0,
        Mode::Smtp => die(
            ex::UNAVAILABLE,
            "-bs needs smtpd(8), which is not installed yet",
        ),
        Mode::Verify => submit(&cfg, &opts, true),
        Mode::Unsupported(m) => die(ex::USAGE, &format!("unsupported: -b{m}")),
    };
    std::process::exit(code);
}
