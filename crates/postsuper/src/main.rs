//! # postsuper(1) — Postfix superintendent
//!
//! ## SYNOPSIS
//! `postsuper` [`-psSv`] [`-c` *config_dir*] [`-d` *queue_id*] [`-e`
//! *queue_id*] [`-f` *queue_id*] [`-h` *queue_id*] [`-H` *queue_id*]
//! [`-r` *queue_id*] [*queue* ...]
//!
//! ## DESCRIPTION
//! Queue maintenance for the super-user ([`ops`]): `-d` delete, `-h` put
//! on hold, `-H` release from hold, `-r` requeue (through pickup(8) and
//! cleanup(8) again), `-e` force expiration (qmgr(8) returns the message
//! to its sender at its next attempt), `-f` force expiration and release.
//! Each takes a queue ID, `ALL`, or `-` for IDs on standard input, and
//! may be repeated; the operations run in command-line order. Queue names
//! after the options replace each operation's default queues.
//!
//! `-s` checks and repairs the queue structure and `-S` also holds long
//! IDs to their inode ([`structure::check`]); `-p` removes old temporary
//! files ([`structure::purge`]). Both run before the other operations,
//! and without options postsuper does both.
//!
//! ## DIAGNOSTICS
//! As Postfix does, on standard error and in the log: `ID: removed`,
//! `ID: placed on hold`, `ID: released from hold`, `ID: requeued`,
//! `ID: expired` for each message named by ID, then one line per
//! requested operation: `Requeued: N messages`, `Deleted: ...`,
//! `Force-expired: ...`, `Placed on hold: ...`, `Released from hold: ...`;
//! `warning: invalid mail queue id: X` for a bad name (an unknown ID is
//! simply not counted). Exit status 0, or 1 after a fatal error (not
//! the super-user, bad option, unknown queue name).
//!
//! ## SECURITY
//! Only the super-user may run it. It never follows a symbolic link in
//! the queue, and gives requeued mail to pickup(8) as a new maildrop
//! file, so that it is checked like any other submission.
//!
//! ## BUGS
//! A requeued message gets a new queue ID when it is written to
//! `maildrop/` (Postfix keeps the ID until pickup runs), and pickup(8) is
//! woken at once. The rewriting context of a requeued message is
//! `local`.
//!
//! ## SEE ALSO
//! postqueue(1), qmgr(8), pickup(8), postsuper(1) in Postfix's manual

#![forbid(unsafe_code)]

mod ops;
mod structure;

use std::io::BufRead;
use std::path::PathBuf;

use config::{Config, params};
use daemon::log::{self, Level};
use ops::{Action, Super};

const USAGE: &str = "usage: postsuper [-c config_dir] [-d queue_id (delete)] [-e queue_id (expire)] [-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-S (redundant structure fix)][-v (verbose)] [queue...]";

fn die(text: &str) -> ! {
    log::log_str(Level::Fatal, text);
    std::process::exit(1)
}

struct Args {
    dir: Option<PathBuf>,
    ops: Vec<(Action, String)>,
    structure: bool,
    redundant: bool,
    purge: bool,
    verbose: u32,
    queues: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        dir: None,
        ops: Vec::new(),
        structure: false,
        redundant: false,
        purge: false,
        verbose: 0,
        queues: Vec::new(),
    };
    let mut argv = std::env::args().skip(1).peekable();
    while let Some(word) = argv.next_if(|w| w.starts_with('-') && w.len() > 1) {
        if word == "--" {
            break;
        }
        let opts = &word[1..];
        for (i, c) in opts.char_indices() {
            let action = match c {
                'd' => Some(Action::Delete),
                'e' => Some(Action::Expire),
                'f' => Some(Action::ExpireRelease),
                'h' => Some(Action::Hold),
                'H' => Some(Action::Release),
                'r' => Some(Action::Requeue),
                _ => None,
            };
            if action.is_some() || c == 'c' {
                let rest = &opts[i + 1..];
                let value = if rest.is_empty() {
                    argv.next().unwrap_or_else(|| {
                        eprintln!("postsuper: option requires an argument -- '{c}'");
                        die(USAGE)
                    })
                } else {
                    rest.to_string()
                };
                match action {
                    Some(act) => a.ops.push((act, value)),
                    None => a.dir = Some(PathBuf::from(value)),
                }
                break;
            }
            match c {
                's' => a.structure = true,
                'S' => {
                    a.structure = true;
                    a.redundant = true;
                }
                'p' => a.purge = true,
                'v' => a.verbose += 1,
                _ => {
                    eprintln!("postsuper: invalid option -- '{c}'");
                    die(USAGE)
                }
            }
        }
    }
    a.queues = argv.collect();
    a
}

fn main() {
    log::init(None, "postsuper");
    log::set_stderr(true);
    log::set_stderr_name("postsuper");
    let mut args = parse_args();
    if !nix::unistd::getuid().is_root() {
        die("use of this command is reserved for the superuser");
    }
    let dir = args.dir.take().unwrap_or_else(config::config_dir_from_env);
    let cfg = Config::load(&dir).unwrap_or_else(|e| die(&e.to_string()));
    log::init(Some(&cfg), "postsuper");
    log::set_stderr(true);
    log::set_verbose(args.verbose);
    for q in &args.queues {
        if !ops::VALID_QUEUES.contains(&q.as_str()) {
            die(&format!("invalid directory name: {q}"));
        }
    }
    let layout = queue::Layout::from_config(&cfg).unwrap_or_else(|e| die(&e.to_string()));
    if std::env::set_current_dir(&layout.queue_dir).is_err() {
        die(&format!(
            "chdir {}: No such file or directory",
            layout.queue_dir.display()
        ));
    }
    if args.ops.is_empty() && !args.structure && !args.purge {
        args.structure = true;
        args.purge = true;
    }
    if args.structure {
        let long_ids = cfg
            .bool(&params::ENABLE_LONG_QUEUE_IDS)
            .unwrap_or_else(|e| die(&e.to_string()));
        let n = structure::check(&layout, long_ids, args.redundant);
        if n > 0 {
            log::log_str(
                Level::Info,
                &format!(
                    "Renamed to match inode number: {} message{}",
                    n,
                    if n == 1 { "" } else { "s" }
                ),
            );
            log::log_str(
                Level::Warning,
                "QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS",
            );
        }
    }
    if args.purge {
        structure::purge(&layout);
    }
    let mut s = Super::new(layout, std::mem::take(&mut args.queues));
    let mut stdin_used = false;
    for (action, value) in &args.ops {
        match value.as_str() {
            "ALL" => s.all(*action),
            "-" => {
                if stdin_used {
                    continue;
                }
                stdin_used = true;
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    s.one(*action, &line);
                }
            }
            id => s.one(*action, id),
        }
    }
    s.report();
    if s.wake_pickup {
        let pickup = cfg
            .str(&params::PICKUP_SERVICE_NAME)
            .unwrap_or_else(|_| "pickup".into());
        let _ = ipc::trigger(&s.layout.queue_dir, ipc::Class::Public, &pickup, b"W");
    }
}
