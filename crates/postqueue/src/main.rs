//! # postqueue(1) — Postfix queue control
//!
//! ## SYNOPSIS
//! `postqueue` [`-v`] [`-c` *config_dir*] `-f` | `-i` *queue_id* | `-j` |
//! `-p` | `-s` *site*
//!
//! ## DESCRIPTION
//! The user's side of queue operations, installed set-gid `setgid_group`
//! so that any local user may run it:
//!
//! * `-p` (mailq(1), `sendmail -bp`): the traditional listing, from
//!   showq(8) ([`format::Plain`]);
//! * `-j`: one JSON object per message ([`format::json`]);
//! * `-f` (`sendmail -q`, `postfix flush`): wakes qmgr(8) with `F A D I`
//!   (forget dead destinations, ignore retry times, scan deferred and
//!   incoming) and pickup(8);
//! * `-s` *site* (`sendmail -qR`): asks flush(8) to deliver the mail for a
//!   destination listed in `fast_flush_domains`;
//! * `-i` *queue_id* (`sendmail -qI`): asks flush(8) to deliver one
//!   deferred message.
//!
//! When showq(8) cannot be reached, the super-user gets the listing read
//! from the queue directly, with a warning; others get an error.
//!
//! ## SECURITY
//! Set-gid: the configuration directory from `-c` or `MAIL_CONFIG` is
//! honoured only as postdrop(1) honours it; listing needs
//! `authorized_mailq_users`, flushing `authorized_flush_users` (both
//! checked against the real user). `-v` is for the super-user only.
//!
//! ## DIAGNOSTICS
//! `postqueue: fatal: ...` on standard error and in the log. Exit status
//! 0, `EX_NOPERM` (77) when not authorized, and, as with Postfix,
//! `EX_UNAVAILABLE` (69) for everything else: a bad command line or
//! main.cf, the mail system down, a destination that is not eligible.
//!
//! ## SEE ALSO
//! mailq(1), showq(8), flush(8), qmgr(8), postsuper(1)

#![forbid(unsafe_code)]

mod acl;
mod format;

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use config::{Config, params};
use daemon::log::{self, Level};
use ipc::flush::FlushStatus;
use ipc::showq::{ListedMessage, ShowqItem};

const EX_UNAVAILABLE: i32 = 69;
const EX_SOFTWARE: i32 = 70;
const EX_NOPERM: i32 = 77;

const USAGE: &str =
    "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site";

fn die(code: i32, text: &str) -> ! {
    log::log_str(Level::Fatal, text);
    std::process::exit(code)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Flush,
    FlushId(String),
    Json,
    List,
    FlushSite(String),
}

/// Whether this process has privileges its user does not (set-gid).
fn is_privileged_elevation() -> bool {
    nix::unistd::getegid() != nix::unistd::getgid()
        || nix::unistd::geteuid() != nix::unistd::getuid()
}

/// The configuration directory a set-gid program may use (as postdrop(1)).
fn config_dir(option: Option<PathBuf>) -> PathBuf {
    let default = PathBuf::from(config::DEFAULT_CONFIG_DIR);
    let wanted = option
        .or_else(|| std::env::var_os("MAIL_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| default.clone());
    if wanted == default || !is_privileged_elevation() {
        return wanted;
    }
    let allowed = Config::load_optional(&default)
        .ok()
        .and_then(|c| c.list(&params::ALTERNATE_CONFIG_DIRECTORIES).ok())
        .unwrap_or_default();
    let root_controlled = |dir: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        let safe = |p: &std::path::Path| {
            std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0 && !m.file_type().is_symlink())
        };
        safe(dir) && safe(&dir.join("main.cf"))
    };
    if allowed.iter().any(|d| std::path::Path::new(d) == wanted) || root_controlled(&wanted) {
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

fn parse_args() -> (Option<PathBuf>, Mode, u32) {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut mode = None;
    let mut verbose = 0;
    let set = |m: Mode, mode: &mut Option<Mode>| {
        if mode.is_some() {
            die(EX_UNAVAILABLE, USAGE);
        }
        *mode = Some(m);
    };
    while let Some(a) = args.next() {
        let Some(opts) = a.strip_prefix('-').filter(|o| !o.is_empty()) else {
            die(EX_UNAVAILABLE, USAGE)
        };
        for (i, c) in opts.char_indices() {
            // Options with a value take the rest of the word or the next one.
            let mut value = || {
                let rest = &opts[i + 1..];
                if rest.is_empty() {
                    args.next().unwrap_or_else(|| {
                        eprintln!("postqueue: option requires an argument -- '{c}'");
                        die(EX_UNAVAILABLE, USAGE)
                    })
                } else {
                    rest.to_string()
                }
            };
            match c {
                'c' => {
                    dir = Some(PathBuf::from(value()));
                    break;
                }
                'i' => {
                    let v = value();
                    set(Mode::FlushId(v), &mut mode);
                    break;
                }
                's' => {
                    let v = value();
                    set(Mode::FlushSite(v), &mut mode);
                    break;
                }
                'f' => set(Mode::Flush, &mut mode),
                'j' => set(Mode::Json, &mut mode),
                'p' => set(Mode::List, &mut mode),
                'v' => verbose += 1,
                _ => {
                    eprintln!("postqueue: invalid option -- '{c}'");
                    die(EX_UNAVAILABLE, USAGE)
                }
            }
        }
    }
    (
        dir,
        mode.unwrap_or_else(|| die(EX_UNAVAILABLE, USAGE)),
        verbose,
    )
}

/// Shows `s` as Postfix's `%.100s%s` with `...` when cut.
fn clip(s: &str) -> String {
    if s.len() > 100 {
        let mut end = 100;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

fn main() {
    log::init(None, "postqueue");
    log::set_stderr(true);
    log::set_stderr_name("postqueue");
    let (dir, mode, verbose) = parse_args();
    let cfg =
        Config::load(&config_dir(dir)).unwrap_or_else(|e| die(EX_UNAVAILABLE, &e.to_string()));
    log::init(Some(&cfg), "postqueue");
    log::set_stderr(true);
    let uid = nix::unistd::getuid().as_raw();
    if uid == 0 {
        log::set_verbose(verbose);
    }
    let layout =
        queue::Layout::from_config(&cfg).unwrap_or_else(|e| die(EX_UNAVAILABLE, &e.to_string()));
    let timeout = cfg
        .time(&params::IPC_TIMEOUT)
        .unwrap_or_else(|e| die(EX_UNAVAILABLE, &e.to_string()))
        .min(Duration::from_secs(3600));
    let check = |param: &params::StrParam, what: &str| match acl::allowed(&cfg, param, uid) {
        Ok(true) => {}
        Ok(false) => die(
            EX_NOPERM,
            &format!(
                "User {}({}) is not allowed to {}",
                acl::user_name(uid),
                uid,
                what
            ),
        ),
        Err(e) => die(EX_UNAVAILABLE, &format!("{}: {}", param.name(), e)),
    };
    let code = match mode {
        Mode::List | Mode::Json => {
            check(&params::AUTHORIZED_MAILQ_USERS, "view the mail queue");
            show(&cfg, &layout, mode == Mode::Json, timeout)
        }
        Mode::Flush => {
            check(&params::AUTHORIZED_FLUSH_USERS, "flush the mail queue");
            flush_queue(&cfg, &layout)
        }
        Mode::FlushSite(site) => {
            check(&params::AUTHORIZED_FLUSH_USERS, "flush the mail queue");
            flush_site(&cfg, &layout, &site, timeout)
        }
        Mode::FlushId(id) => {
            check(&params::AUTHORIZED_FLUSH_USERS, "flush the mail queue");
            flush_id(&cfg, &layout, &id, timeout)
        }
    };
    std::process::exit(code)
}

fn service(cfg: &Config, p: &params::StrParam) -> String {
    cfg.str(p)
        .unwrap_or_else(|e| die(EX_UNAVAILABLE, &e.to_string()))
}

/// `-p` and `-j`.
fn show(cfg: &Config, layout: &queue::Layout, json: bool, timeout: Duration) -> i32 {
    let long_ids = cfg.bool(&params::ENABLE_LONG_QUEUE_IDS).unwrap_or(false);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut plain = format::Plain::new(long_ids);
    let mut emit = |m: ListedMessage, out: &mut BufWriter<_>| -> std::io::Result<()> {
        if json {
            format::json(out, &m)
        } else {
            plain.message(out, &m)
        }
    };
    let name = service(cfg, &params::SHOWQ_SERVICE_NAME);
    let mail_name = service(cfg, &params::MAIL_NAME);
    let r = match ipc::connect(&layout.queue_dir, ipc::Class::Public, &name, timeout) {
        Ok(mut conn) => loop {
            match ipc::read_frame::<ShowqItem>(&mut conn, ipc::FRAME_MAX) {
                Ok(ShowqItem::Message(m)) => {
                    if let Err(e) = emit(m, &mut out) {
                        break Err(e);
                    }
                }
                Ok(ShowqItem::End) => break Ok(()),
                Err(e) => {
                    let _ = out.flush();
                    die(EX_SOFTWARE, &format!("read from {name} service: {e}"))
                }
            }
        },
        Err(e) => {
            let why = format!(
                "Connect to the {} {} service: {}",
                mail_name,
                name,
                connect_error(&e)
            );
            if nix::unistd::getuid().is_root() {
                log::log_str(
                    Level::Warning,
                    &format!("Mail system is down -- accessing queue directly ({why})"),
                );
                let empty = service(cfg, &params::EMPTY_ADDRESS_RECIPIENT);
                queue::listing::list(layout, &empty, &mut |m| emit(m, &mut out), &|w| {
                    daemon::warn!("{w}")
                })
            } else {
                die(
                    EX_UNAVAILABLE,
                    &format!("Queue report unavailable - mail system is down ({why})"),
                )
            }
        }
    };
    let r = r
        .and_then(|_| if json { Ok(()) } else { plain.finish(&mut out) })
        .and_then(|_| out.flush());
    match r {
        Ok(()) => 0,
        // The reader went away (mailq | head): stop quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 1,
        Err(e) => die(EX_SOFTWARE, &format!("output write error: {e}")),
    }
}

/// The system error text of a failed connect, without Rust's suffix.
fn connect_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// `-f`: wake qmgr (dead destinations, all retry times, deferred and
/// incoming) and pickup.
fn flush_queue(cfg: &Config, layout: &queue::Layout) -> i32 {
    let qmgr = service(cfg, &params::QUEUE_SERVICE_NAME);
    if ipc::trigger(&layout.queue_dir, ipc::Class::Public, &qmgr, b"FADI").is_err() {
        die(
            EX_UNAVAILABLE,
            "Cannot flush mail queue - mail system is down",
        );
    }
    let pickup = service(cfg, &params::PICKUP_SERVICE_NAME);
    if let Err(e) = ipc::trigger(&layout.queue_dir, ipc::Class::Public, &pickup, b"W") {
        log::log_str(
            Level::Warning,
            &format!("trigger {pickup} service: {}", connect_error(&e)),
        );
    }
    0
}

fn flush_reply(status: Result<FlushStatus, ipc::IpcError>, site: Option<&str>) -> i32 {
    match status {
        Ok(FlushStatus::Ok) => 0,
        Ok(FlushStatus::Deny) => die(
            EX_UNAVAILABLE,
            &format!(
                "Flush service is not configured for destination \"{}\"",
                site.unwrap_or("")
            ),
        ),
        Ok(FlushStatus::Bad) => die(EX_SOFTWARE, "Invalid request to the flush service"),
        Ok(FlushStatus::Fail) | Err(_) => {
            if let Err(e) = status {
                log::log_str(Level::Warning, &format!("flush service: {e}"));
            }
            die(
                EX_UNAVAILABLE,
                "Cannot flush mail queue - mail system is down",
            )
        }
    }
}

/// `-s site`.
fn flush_site(cfg: &Config, layout: &queue::Layout, site: &str, timeout: Duration) -> i32 {
    if !mail::host::valid_site(site) {
        die(
            EX_UNAVAILABLE,
            &format!(
                "Cannot flush mail queue - invalid destination: \"{}\"",
                clip(site)
            ),
        );
    }
    // Postfix's client asks fast_flush_domains itself before bothering
    // the server.
    let value = service(cfg, &params::FAST_FLUSH_DOMAINS);
    let eligible =
        maps::matchlist::DomainList::open(&value, cfg, params::FAST_FLUSH_DOMAINS.name())
            .map_err(|e| e.to_string())
            .and_then(|mut l| l.matches(site).map_err(|e| e.to_string()));
    match eligible {
        Ok(true) => {}
        Ok(false) => {
            flush_reply(Ok(FlushStatus::Deny), Some(site));
        }
        Err(e) => die(EX_UNAVAILABLE, &format!("fast_flush_domains: {e}")),
    };
    let name = service(cfg, &params::FLUSH_SERVICE_NAME);
    flush_reply(
        ipc::flush::send_site(&layout.queue_dir, &name, site, timeout),
        Some(site),
    )
}

/// `-i queue_id`.
fn flush_id(cfg: &Config, layout: &queue::Layout, id: &str, timeout: Duration) -> i32 {
    if !queue::QueueId::name_ok(id) {
        die(
            EX_UNAVAILABLE,
            &format!("Cannot flush queue ID - invalid name: \"{}\"", clip(id)),
        );
    }
    let name = service(cfg, &params::FLUSH_SERVICE_NAME);
    flush_reply(
        ipc::flush::send_file(&layout.queue_dir, &name, id, timeout),
        None,
    )
}
