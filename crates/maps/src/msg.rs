//! # NAME
//! msg — where the tables' warnings go
//!
//! ## SYNOPSIS
//! ```ignore
//! maps::msg::set_stderr_program("postmap");   // commands: "postmap: warning: ..."
//! maps::msg::warn("regexp map /etc/x, line 3: ...");
//! ```
//!
//! ## DESCRIPTION
//! Tables report problems in their files (a bad regular expression, a
//! duplicate key) as warnings and go on. In a daemon these go to the
//! daemon's log ([`daemon::warn!`]); a command such as postmap(1) prints
//! them on stderr as `postmap: warning: text`, as Postfix commands do, and
//! also logs them.

use std::io::Write;
use std::sync::OnceLock;

static PROGRAM: OnceLock<String> = OnceLock::new();

/// Prints warnings as `PROGRAM: warning: text` on stderr (commands).
pub fn set_stderr_program(program: &str) {
    let _ = PROGRAM.set(program.to_string());
}

fn emit(level: &str, text: &str) {
    match PROGRAM.get() {
        Some(p) => {
            let _ = writeln!(std::io::stderr(), "{p}: {level}{text}");
        }
        None => match level {
            "warning: " => daemon::warn!("{text}"),
            _ => daemon::info!("{text}"),
        },
    }
}

/// A `warning:` line.
pub fn warn(text: &str) {
    emit("warning: ", text);
}

/// An informational line.
pub fn info(text: &str) {
    emit("", text);
}
