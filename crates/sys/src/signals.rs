//! # NAME
//! signals — signals as readable events
//!
//! ## SYNOPSIS
//! ```ignore
//! let sigs = Signals::block(&[Signal::SIGHUP, Signal::SIGTERM, Signal::SIGCHLD])?;
//! // register sigs.as_fd() with the event loop; when readable:
//! for s in sigs.pending() { ... }
//! ```
//!
//! ## DESCRIPTION
//! Blocks the given signals and delivers them through a non-blocking
//! signalfd, so that an event loop handles them between events rather
//! than in a handler. [`crate::process::spawn`] restores the signal mask
//! in children. Several instances of one signal may arrive as one.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

pub use nix::sys::signal::Signal as Sig;

pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    pub fn block(signals: &[Signal]) -> nix::Result<Signals> {
        let mut set = SigSet::empty();
        for &s in signals {
            set.add(s);
        }
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd })
    }

    /// The signals that arrived since the last call, in order.
    pub fn pending(&self) -> Vec<Signal> {
        let mut out = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
                out.push(s);
            }
        }
        out
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Makes `signal` ignored (SIGPIPE for daemons that write to sockets).
pub fn ignore(signal: Signal) {
    // SAFETY: SIG_IGN installs no handler code; it cannot run anything
    // that is not async-signal-safe.
    let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigIgn) };
}
