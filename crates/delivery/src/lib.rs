//! # NAME
//! delivery — what local(8), virtual(8) and pipe(8) share
//!
//! ## SYNOPSIS
//! ```ignore
//! let opts = CopyOptions { from_line: true, quote_from: true, blank_line: true, .. };
//! let mut mbox = mbox::open_locked(path, &settings)?;        // locks, safe open
//! mbox.append(|f| copy::copy(content, f, sender, &opts))?;  // fsync, truncate on error
//! maildir::deliver(dir, &md, |f| copy::copy(content, f, sender, &opts))?;
//! let done = command::run(&spec, |w| copy::copy(content, w, sender, &opts));
//! ```
//!
//! ## DESCRIPTION
//! The parts of final delivery that do not depend on who the agent is
//! (Postfix keeps them in `global/`: `mail_copy.c`, `mbox_open.c`,
//! `dot_lockfile.c`, `pipe_command.c`, `sys_exits.c`, `maildir` naming):
//!
//! * [`copy`]: the message as written to a mailbox, file or command: the
//!   optional `From ` line, `Return-Path:`, `X-Original-To:` and
//!   `Delivered-To:`, `>From ` quoting, dot stuffing, the line ending, the
//!   trailing empty line, and a size limit;
//! * [`mbox`]: UNIX mailbox files: locks, safe open, append, fsync, and
//!   truncation back to the old size when anything fails;
//! * [`maildir`]: a new file in `tmp/`, fsync, rename into `new/` under a
//!   unique name, fsync of `new/`;
//! * [`command`]: a command fed the message, its output kept for the
//!   reason text, a time limit, and the exit status mapped to a DSN
//!   ([`sysexits`]);
//! * [`expand`]: `$name` expansion of per-recipient attributes with a
//!   character filter.
//!
//! Every failure is a [`Failure`]: an enhanced status code and the text
//! Postfix logs; a `4.x.x` code means try again later.
//!
//! ## SEE ALSO
//! local(8), virtual(8), pipe(8)

#![forbid(unsafe_code)]

pub mod command;
pub mod copy;
pub mod expand;
pub mod maildir;
pub mod mbox;
pub mod sysexits;

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Enhanced status code (`4.2.0`, `5.2.2`).
    pub dsn: String,
    /// The reason, as the log line and the bounce show it.
    pub text: String,
}

impl Failure {
    pub fn new(dsn: &str, text: impl Into<String>) -> Failure {
        Failure {
            dsn: dsn.to_string(),
            text: text.into(),
        }
    }

    /// Whether the failure is temporary (defer rather than bounce).
    pub fn is_temporary(&self) -> bool {
        self.dsn.starts_with('4')
    }

    /// The same failure with `prefix` put before the text.
    pub fn prefixed(mut self, prefix: &str) -> Failure {
        self.text.insert_str(0, prefix);
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.dsn, self.text)
    }
}

/// The enhanced status code for a failed file operation (`mbox_dsn`):
/// resources that may come back are temporary, a full quota or file is
/// the recipient's mailbox being full, anything else `default`.
pub fn errno_dsn(e: &std::io::Error, default: &str) -> String {
    match e.raw_os_error() {
        Some(nix::libc::EAGAIN) | Some(nix::libc::ESTALE) => "4.2.0".into(),
        Some(nix::libc::ENOSPC) => "4.3.1".into(),
        Some(nix::libc::EDQUOT) | Some(nix::libc::EFBIG) => "5.2.2".into(),
        _ => default.into(),
    }
}

/// Runs `work` in a forked child (see [`sys::process::call_in_child`])
/// and returns its result. Mailbox writes run this way: an agent that is
/// killed does not cut the message its child is writing, and whatever
/// identity the child takes on ends with it. A child that dies without a
/// result is a temporary failure.
pub fn isolate(work: impl FnOnce() -> Result<(), Failure>) -> Result<(), Failure> {
    let (out, status) = sys::process::call_in_child(|| match work() {
        Ok(()) => b"ok".to_vec(),
        Err(f) => format!("{}\n{}", f.dsn, f.text).into_bytes(),
    })
    .map_err(|e| Failure::new("4.3.0", format!("fork: {}", strerror(&e))))?;
    match out.as_deref() {
        Some(b"ok") => Ok(()),
        Some(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            match text.split_once('\n') {
                Some((dsn, t)) => Err(Failure::new(dsn, t)),
                None => Err(Failure::new("4.3.0", "delivery process: bad result")),
            }
        }
        None => Err(Failure::new(
            "4.3.0",
            format!("delivery process ended without a result: {status:?}"),
        )),
    }
}

/// The text of an I/O error without Rust's "(os error N)" suffix, as
/// strerror(3) says it.
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_work() {
        assert_eq!(isolate(|| Ok(())), Ok(()));
        assert_eq!(
            isolate(|| Err(Failure::new("5.2.0", "no\nway"))),
            Err(Failure::new("5.2.0", "no\nway"))
        );
        let e = isolate(|| {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            Ok(())
        })
        .unwrap_err();
        assert!(e.is_temporary(), "{e}");
    }

    #[test]
    fn errno_texts_and_codes() {
        let e = std::io::Error::from_raw_os_error(nix::libc::EFBIG);
        assert_eq!(strerror(&e), "File too large");
        assert_eq!(errno_dsn(&e, "5.2.0"), "5.2.2");
        let e = std::io::Error::from_raw_os_error(nix::libc::EACCES);
        assert_eq!(strerror(&e), "Permission denied");
        assert_eq!(errno_dsn(&e, "5.2.0"), "5.2.0");
        assert!(Failure::new("4.2.0", "x").is_temporary());
        assert_eq!(Failure::new("5.2.0", "b").prefixed("a. ").text, "a. b");
    }
}
