//! # NAME
//! msg — warnings and fatal errors on the standard error stream
//!
//! ## SYNOPSIS
//! ```ignore
//! msg::set_program(&argv0);
//! msg::warn(format_args!("{name}: unknown parameter"));
//! return Err(Fatal::new("specify one of -d -n"));
//! ```
//!
//! ## DESCRIPTION
//! Every diagnostic is one line `PROGRAM: warning: text` or
//! `PROGRAM: fatal: text`, where PROGRAM is the command name as invoked
//! (argv[0]), as Postfix prints it. A fatal error travels up as a
//! [`Fatal`] value; `main` prints it and exits with status 1. Control
//! characters in the text are shown as `?`, since the text often quotes
//! configuration files.
//!
//! ## SEE ALSO
//! postconf(1) "DIAGNOSTICS"

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

static PROGRAM: OnceLock<String> = OnceLock::new();

/// Remembers the program name for the message prefix.
pub fn set_program(name: &str) {
    let _ = PROGRAM.set(name.to_string());
}

/// The program name as invoked.
pub fn program() -> &'static str {
    PROGRAM.get().map_or("postconf", String::as_str)
}

/// A fatal error: printed as `PROGRAM: fatal: text`, exit status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub String);

impl Fatal {
    pub fn new(text: impl Into<String>) -> Fatal {
        Fatal(text.into())
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shorthand for building an `Err(Fatal)` with `format!` arguments.
macro_rules! fatal {
    ($($arg:tt)*) => {
        Err($crate::msg::Fatal::new(format!($($arg)*)))
    };
}
pub(crate) use fatal;

/// The result type of everything that may end the program.
pub type Result<T> = std::result::Result<T, Fatal>;

/// Replaces control characters with `?`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Prints `PROGRAM: warning: text`; each line of a text with several
/// lines is a warning of its own.
pub fn warn(args: fmt::Arguments<'_>) {
    let text = args.to_string();
    let mut out = String::new();
    for line in text.split('\n') {
        out.push_str(&format!("{}: warning: {}\n", program(), printable(line)));
    }
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// Prints `PROGRAM: text` (getopt's complaints have no severity).
pub fn plain(args: fmt::Arguments<'_>) {
    let line = format!("{}: {}\n", program(), printable(&args.to_string()));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Prints `PROGRAM: fatal: text`.
pub fn print_fatal(f: &Fatal) {
    let line = format!("{}: fatal: {}\n", program(), printable(&f.0));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `warn(format_args!(...))` with `format!` syntax.
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::msg::warn(format_args!($($arg)*))
    };
}
pub(crate) use warning;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_question_marks() {
        assert_eq!(printable("x=1\tcont"), "x=1?cont");
        assert_eq!(printable("plain ü"), "plain ü");
    }
}
