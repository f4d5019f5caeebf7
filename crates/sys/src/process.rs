//! # NAME
//! process — fork and exec with a descriptor map and a clean environment
//!
//! ## SYNOPSIS
//! ```ignore
//! let spec = Spawn { path, argv, env, fds: vec![(status, 5), (listener, 6)] };
//! let pid = process::spawn(&spec, |err| log_fatal(err))?;
//! ```
//!
//! ## DESCRIPTION
//! [`spawn`] forks; the child restores the default signal mask and
//! `SIGPIPE` disposition, places each descriptor of the map at its target
//! number (first moving all of them out of the way, so that a target never
//! clobbers a source), closes every other descriptor above the highest
//! target, and executes `path` with exactly `argv` and `env`: no shell, no
//! inherited environment. If exec fails the child calls the error callback
//! (to log the failure under its own process ID) and exits with status 1.
//!
//! ## BUGS
//! The callback runs in the forked child. The caller must be
//! single-threaded (master(8) is) or give a callback that only makes
//! async-signal-safe calls.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::unistd::{ForkResult, Pid};

/// What to run.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub path: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// (descriptor in the parent, number in the child).
    pub fds: Vec<(RawFd, RawFd)>,
}

/// Converts text for exec; interior NUL bytes are an error.
pub fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("NUL byte in {s:?}")))
}

/// Forks and executes `spec`; returns the child's process ID.
pub fn spawn(spec: &Spawn, on_exec_error: impl FnOnce(&io::Error)) -> io::Result<Pid> {
    // Everything the child needs is prepared before fork.
    let argv: Vec<&std::ffi::CStr> = spec.argv.iter().map(|a| a.as_c_str()).collect();
    let env: Vec<&std::ffi::CStr> = spec.env.iter().map(|a| a.as_c_str()).collect();
    let top = spec
        .fds
        .iter()
        .map(|&(_, dst)| dst)
        .max()
        .unwrap_or(2)
        .max(2);
    // SAFETY: the child only makes async-signal-safe calls (sigprocmask,
    // signal, fcntl, dup2, close_range, execve, _exit) before exec, apart
    // from the caller's error callback, whose constraints are documented.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let err = child_exec(spec, &argv, &env, top);
            on_exec_error(&err);
            // SAFETY: _exit ends the child without running the parent's
            // atexit handlers or flushing its copied stdio buffers.
            unsafe { libc::_exit(1) }
        }
    }
}

/// Runs in the child; returns only on failure.
fn child_exec(
    spec: &Spawn,
    argv: &[&std::ffi::CStr],
    env: &[&std::ffi::CStr],
    top: RawFd,
) -> io::Error {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: restoring the default disposition of SIGPIPE is
    // async-signal-safe; Rust programs ignore SIGPIPE, and an ignored signal
    // would stay ignored in the program we run.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Move every source above the highest target first.
    let mut moved = Vec::with_capacity(spec.fds.len());
    for &(src, dst) in &spec.fds {
        // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor number.
        let m = unsafe { libc::fcntl(src, libc::F_DUPFD_CLOEXEC, top + 1) };
        if m < 0 {
            return io::Error::last_os_error();
        }
        moved.push((m, dst));
    }
    for &(m, dst) in &moved {
        // SAFETY: dup2 onto a number we own by construction (targets are
        // reserved for the child); the new descriptor has no CLOEXEC.
        if unsafe { libc::dup2(m, dst) } < 0 {
            return io::Error::last_os_error();
        }
    }
    // SAFETY: closes descriptors above the map, including the moved copies;
    // nothing in this child uses them after this point.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            (top + 1) as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    match nix::unistd::execve(&spec.path, argv, env) {
        Err(e) => io::Error::from(e),
        Ok(never) => match never {},
    }
}

/// Whether process `pid` exists (signal 0).
pub fn alive(pid: Pid) -> bool {
    nix::sys::signal::kill(pid, None).is_ok()
}

/// The child's side of [`fork_and_wait`]: tell the waiting parent that
/// start-up succeeded.
#[derive(Debug)]
pub struct Handshake(std::os::unix::net::UnixStream);

impl Handshake {
    pub fn ready(mut self) {
        use std::io::Write;
        let _ = self.0.write_all(b"R");
    }
}

/// Forks. The parent waits until the child calls [`Handshake::ready`]
/// and exits with status 0, or exits with status 1 when the child dies
/// first or `timeout` passes. Returns only in the child. Call it while the
/// process is single-threaded.
pub fn fork_and_wait(timeout: std::time::Duration) -> io::Result<Handshake> {
    use std::io::Read;
    let (mut parent_end, child_end) = std::os::unix::net::UnixStream::pair()?;
    // SAFETY: called while single-threaded (documented); the child
    // continues as a normal process and the parent only reads and exits.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            drop(parent_end);
            Ok(Handshake(child_end))
        }
        ForkResult::Parent { .. } => {
            drop(child_end);
            let _ = parent_end.set_read_timeout(Some(timeout));
            let mut b = [0u8; 1];
            let ok = matches!(parent_end.read(&mut b), Ok(1));
            std::process::exit(if ok { 0 } else { 1 })
        }
    }
}

/// Reaps one exited child without waiting.
pub fn reap() -> Option<(Pid, nix::sys::wait::WaitStatus)> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) | Err(_) => None,
        Ok(s) => s.pid().map(|p| (p, s)),
    }
}

/// Points stdin, stdout and (unless `keep_stderr`) stderr at /dev/null.
pub fn stdio_to_null(keep_stdout: bool, keep_stderr: bool) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    if !keep_stdout {
        nix::unistd::dup2_stdout(&null)?;
    }
    if !keep_stderr {
        nix::unistd::dup2_stderr(&null)?;
    }
    Ok(())
}
