//! # postlog(1) — Postfix-compatible logging utility
//!
//! ## SYNOPSIS
//! `postlog` [`-iv`] [`-c` *config_dir*] [`-p` *priority*] [`-t` *tag*] [*text*...]
//!
//! ## DESCRIPTION
//! Logs the text of the command line as one record, or each line of
//! standard input as one record, where the instance logs (postlogd(8) or
//! syslog), and to stderr when that is a terminal. `-p` is `info`
//! (default), `warn`, `error`, `fatal` or `panic`; after `fatal` and
//! `panic` it pauses one second, as Postfix programs do. `-t` sets the tag
//! (default `$syslog_name/postlog`). `-i` is accepted and ignored: the
//! process ID is always logged.
//!
//! ## SECURITY
//! Every record is made printable and bounded like any other log text.
//!
//! ## SEE ALSO
//! postlogd(8), [`daemon::log`]

#![forbid(unsafe_code)]

use std::io::BufRead;
use std::path::PathBuf;

use daemon::log::{self, Level};

fn usage() -> ! {
    log::log_str(
        Level::Fatal,
        "usage: postlog [-iv] [-c config_dir] [-p priority] [-t tag] [text]",
    );
    std::process::exit(1)
}

fn main() {
    log::init(None, "postlog");
    let mut args = std::env::args().skip(1).peekable();
    let (mut dir, mut level, mut tag, mut verbose) = (None, Level::Info, None, 0);
    while let Some(a) = args.next_if(|a| a.starts_with('-') && a.len() > 1) {
        if a == "--" {
            break;
        }
        let mut flags = a[1..].chars();
        while let Some(c) = flags.next() {
            let mut value = |flags: &mut std::str::Chars| {
                let rest: String = flags.by_ref().collect();
                if rest.is_empty() {
                    args.next().unwrap_or_else(|| usage())
                } else {
                    rest
                }
            };
            match c {
                'c' => dir = Some(PathBuf::from(value(&mut flags))),
                'p' => {
                    let p = value(&mut flags);
                    level = match p.as_str() {
                        "info" => Level::Info,
                        "warn" | "warning" => Level::Warning,
                        "error" => Level::Error,
                        "fatal" => Level::Fatal,
                        "panic" => Level::Panic,
                        _ => {
                            log::log_str(Level::Fatal, &format!("unknown priority value: {p}"));
                            std::process::exit(1);
                        }
                    }
                }
                't' => tag = Some(value(&mut flags)),
                'i' => {}
                'v' => verbose += 1,
                _ => usage(),
            }
        }
    }
    let dir = dir.unwrap_or_else(config::config_dir_from_env);
    match config::Config::load(&dir) {
        Ok(cfg) => log::init(Some(&cfg), "postlog"),
        Err(e) => log::log_str(Level::Warning, &e.to_string()),
    }
    log::set_verbose(verbose);
    if let Some(t) = tag {
        log::set_tag(&t);
    }
    let text: Vec<String> = args.collect();
    if text.is_empty() {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            log::log_str(level, &format!("{}", daemon::Untrusted(&line)));
        }
    } else {
        log::log_str(level, &format!("{}", daemon::Untrusted(&text.join(" "))));
    }
    if level >= Level::Fatal {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
