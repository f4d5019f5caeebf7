//! # postlogd(8) — Postfix internal log server
//!
//! ## SYNOPSIS
//! `postlogd` [generic daemon options]
//!
//! ## DESCRIPTION
//! Receives log records as datagrams on the `postlog` service
//! (`$queue_directory/public/postlog`) and appends each to `maillog_file`
//! as `Mon dd hh:mm:ss host TAG[PID]: text`, so that lines from many
//! processes never interleave. `maillog_file = /dev/stdout` writes to the
//! standard output that master(8) was started with (`postfix start-fg`).
//! The records waiting at one time are written with one system call.
//!
//! ## SECURITY
//! Opens the log file as root before dropping privileges; anyone who can
//! reach the public socket can add lines, so every record is made printable
//! and bounded before it is written.
//!
//! ## DIAGNOSTICS
//! `fatal: maillog_file value 'X' does not match any prefix in
//! maillog_file_prefixes`: the file is refused (a safety net against a
//! typo that would overwrite a system file).
//!
//! ## BUGS
//! The file is reopened only when the process restarts (`postfix reload`,
//! `max_idle`, `max_use`), as with Postfix.
//!
//! ## SEE ALSO
//! postlog(1), master(8), MAILLOG_README

use std::fs::File;
use std::io::Write;

use config::params;
use daemon::fatal;
use daemon::server::{Ctx, DgramServer, dgram_server_main};

/// Longest record kept; the rest is cut.
const RECORD_MAX: usize = 8192;

struct Postlogd {
    out: Option<File>,
    host: String,
    buffer: Vec<u8>,
}

impl Postlogd {
    fn pre_init(ctx: &Ctx) -> Postlogd {
        daemon::log::bypass_postlog();
        if let Err(e) = daemon::log::check_maillog_prefix(&ctx.cfg) {
            fatal!("{e}");
        }
        let file = ctx.str(&params::MAILLOG_FILE);
        if file.is_empty() {
            fatal!("maillog_file is empty: nothing to log to");
        }
        let out = if file == "/dev/stdout" {
            None
        } else {
            Some(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&file)
                    .unwrap_or_else(|e| fatal!("open logfile '{}': {}", file, e)),
            )
        };
        let host = std::env::var("POSTLOG_HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| ctx.str(&params::MYHOSTNAME));
        let host = host.split('.').next().unwrap_or_default().to_string();
        Postlogd {
            out,
            host,
            buffer: Vec::with_capacity(65536),
        }
    }
}

impl DgramServer for Postlogd {
    fn datagram(&mut self, _ctx: &Ctx, data: &[u8]) {
        let text = String::from_utf8_lossy(&data[..data.len().min(RECORD_MAX)]);
        let text = text.trim_end_matches(['\n', '\0']);
        if text.is_empty() {
            return;
        }
        let clean = format!("{}", daemon::Untrusted(text));
        self.buffer
            .extend_from_slice(daemon::log::format_file_line(&self.host, &clean).as_bytes());
    }

    fn flush(&mut self, _ctx: &Ctx) {
        if self.buffer.is_empty() {
            return;
        }
        let r = match &mut self.out {
            Some(f) => f.write_all(&self.buffer),
            None => std::io::stdout()
                .write_all(&self.buffer)
                .and_then(|_| std::io::stdout().flush()),
        };
        self.buffer.clear();
        if let Err(e) = r {
            fatal!("write logfile: {e}");
        }
    }
}

fn main() {
    dgram_server_main("postlogd", Postlogd::pre_init)
}
