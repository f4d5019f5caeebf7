//! # postdrop(1) — Postfix mail posting utility
//!
//! ## SYNOPSIS
//! `postdrop` [`-rv`] [`-c` *config_dir*]
//!
//! ## DESCRIPTION
//! Installed set-gid `setgid_group`, so that users who may not write the
//! queue can still submit mail. It reads one message in maildrop format
//! from standard input (what sendmail(1) writes), checks it like any
//! untrusted input ([`queue::maildrop::parse_bytes`]), writes it to
//! `maildrop/` with the commit protocol, wakes pickup(8), and exits 0
//! only once the file is durable. `-r` (the internal record format) is the
//! only format and is accepted for compatibility.
//!
//! ## SECURITY
//! Set-gid: it ignores the environment except `MAIL_CONFIG`, which it
//! honours only for the default configuration directory, for directories
//! listed in `alternate_config_directories` of the default main.cf (as
//! Postfix does for set-gid programs), or for a directory that only root
//! can change (it and its main.cf owned by root and not writable by group
//! or others), so that a user cannot substitute a main.cf of their own.
//! It writes nothing but one file in `maildrop/`.
//!
//! ## DIAGNOSTICS
//! Exit 0 on success; `EX_DATAERR` (65) for malformed input, `EX_NOPERM`
//! (77) when not authorized, `EX_TEMPFAIL` (75) when the file could not be
//! written (disk full).
//!
//! ## SEE ALSO
//! sendmail(1), pickup(8), [`queue::maildrop`]

#![forbid(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;

use config::{Config, params};
use daemon::log::{self, Level};
use queue::Layout;
use queue::maildrop::{self, Limits, WriteError};

const EX_USAGE: i32 = 64;
const EX_DATAERR: i32 = 65;
const EX_NOPERM: i32 = 77;
const EX_TEMPFAIL: i32 = 75;
const EX_CONFIG: i32 = 78;

fn die(code: i32, text: &str) -> ! {
    log::log_str(Level::Fatal, text);
    std::process::exit(code)
}

/// The configuration directory a set-gid program may use.
fn config_dir(option: Option<PathBuf>) -> PathBuf {
    let default = PathBuf::from(config::DEFAULT_CONFIG_DIR);
    let wanted = option
        .or_else(|| std::env::var_os("MAIL_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| default.clone());
    if wanted == default || !is_privileged_elevation() {
        return wanted;
    }
    // Only directories the default main.cf allows.
    let allowed = Config::load_optional(&default)
        .ok()
        .and_then(|c| c.list(&params::ALTERNATE_CONFIG_DIRECTORIES).ok())
        .unwrap_or_default();
    if allowed.iter().any(|d| PathBuf::from(d) == wanted) || root_controlled(&wanted) {
        wanted
    } else {
        die(
            EX_NOPERM,
            &format!(
                "{}: is not listed in alternate_config_directories",
                wanted.display()
            ),
        )
    }
}

/// Whether a directory and its main.cf can be changed only by root.
fn root_controlled(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let safe = |p: &std::path::Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0 && !m.file_type().is_symlink())
    };
    safe(dir) && safe(&dir.join("main.cf"))
}

/// Whether this process has privileges its user does not (set-gid).
fn is_privileged_elevation() -> bool {
    nix::unistd::getegid() != nix::unistd::getgid()
        || nix::unistd::geteuid() != nix::unistd::getuid()
}

fn main() {
    log::init(None, "postdrop");
    log::set_stderr(true);
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-r" => {}
            "-v" => log::set_verbose(1),
            "-c" => {
                dir = Some(PathBuf::from(args.next().unwrap_or_else(|| {
                    die(EX_USAGE, "usage: postdrop [-rv] [-c config_dir]")
                })))
            }
            _ => die(EX_USAGE, "usage: postdrop [-rv] [-c config_dir]"),
        }
    }
    let cfg = Config::load(&config_dir(dir)).unwrap_or_else(|e| die(EX_CONFIG, &e.to_string()));
    log::init(Some(&cfg), "postdrop");
    log::set_stderr(true);
    let authorized = cfg
        .str(&params::AUTHORIZED_SUBMIT_USERS)
        .unwrap_or_else(|e| die(EX_CONFIG, &e.to_string()));
    if authorized != "static:anyone" {
        die(
            EX_CONFIG,
            "authorized_submit_users other than static:anyone is not supported yet",
        );
    }
    let layout = Layout::from_config(&cfg).unwrap_or_else(|e| die(EX_CONFIG, &e.to_string()));
    let limit = cfg
        .long(&params::MESSAGE_SIZE_LIMIT)
        .unwrap_or_else(|e| die(EX_CONFIG, &e.to_string()))
        .max(0) as u64;
    let cap = if limit == 0 {
        Limits::default().max_file
    } else {
        limit + 1024 * 1024
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin()
        .lock()
        .take(cap + 1)
        .read_to_end(&mut bytes)
    {
        die(EX_DATAERR, &format!("read input: {e}"));
    }
    if bytes.len() as u64 > cap {
        die(EX_DATAERR, "message file too big");
    }
    let sub = match maildrop::parse_bytes(
        &bytes,
        Limits {
            max_file: cap,
            ..Limits::default()
        },
    ) {
        Ok(s) => s,
        Err(e) => die(EX_DATAERR, &format!("malformed input: {e}")),
    };
    match maildrop::write(&layout, &sub, &mut &sub.content[..], limit) {
        Ok(_) => {}
        Err(WriteError::TooBig) => die(EX_DATAERR, "message file too big"),
        Err(e) => die(EX_TEMPFAIL, &format!("queue file write error: {e}")),
    }
    let _ = ipc::trigger(&layout.queue_dir, ipc::Class::Public, "pickup", b"W");
}
