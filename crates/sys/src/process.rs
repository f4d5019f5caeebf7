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
//! [`spawn_piped`] runs a command for a delivery agent (local(8),
//! pipe(8)): its standard input and its standard output and error are
//! pipes to the caller, it runs in a session of its own (so that a time
//! limit can kill everything it started), with the user and group given,
//! in the directory given, with a limit on the size of the files it
//! writes, and with exactly `argv` and `env` (no shell unless the caller
//! names one).
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

/// A command with its input and output on pipes ([`spawn_piped`]).
#[derive(Debug, Clone)]
pub struct PipedCommand {
    /// The program: a path, used as it is.
    pub path: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// Directory to chroot to (as root, before the user switch).
    pub root: Option<CString>,
    /// Working directory (after any chroot); the caller's when `None`.
    pub cwd: Option<CString>,
    /// User and group to run as (group list: that group only). Applied
    /// only when the caller is root; an unprivileged caller runs the
    /// command as itself.
    pub ids: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    /// RLIMIT_FSIZE for the command, in bytes.
    pub fsize_limit: Option<u64>,
    /// The exit status of the child when it cannot set up or exec.
    pub setup_failure_status: i32,
}

/// A running [`PipedCommand`].
#[derive(Debug)]
pub struct PipedChild {
    pub pid: Pid,
    /// The command's standard input.
    pub stdin: Option<std::fs::File>,
    /// The command's standard output and standard error, merged.
    pub output: std::fs::File,
}

/// Starts `cmd`. When the child cannot switch identity, change
/// directory or exec, it calls `on_error` (with its standard error being
/// the output pipe, so that what it writes becomes command output) and
/// exits with `cmd.setup_failure_status`. Call it while single-threaded
/// (see BUGS).
pub fn spawn_piped(
    cmd: &PipedCommand,
    on_error: impl FnOnce(&str, &io::Error),
) -> io::Result<PipedChild> {
    use std::os::fd::AsRawFd;
    let argv: Vec<&std::ffi::CStr> = cmd.argv.iter().map(|a| a.as_c_str()).collect();
    let env: Vec<&std::ffi::CStr> = cmd.env.iter().map(|a| a.as_c_str()).collect();
    let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let (out_r, out_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let root = nix::unistd::geteuid().is_root();
    // SAFETY: the child makes only the calls listed in child_setup before
    // exec, in a process that was single-threaded at fork (documented).
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { child } => {
            drop(in_r);
            drop(out_w);
            Ok(PipedChild {
                pid: child,
                stdin: Some(std::fs::File::from(in_w)),
                output: std::fs::File::from(out_r),
            })
        }
        ForkResult::Child => {
            let (what, err) = child_setup(cmd, root, in_r.as_raw_fd(), out_w.as_raw_fd())
                .err()
                .unwrap_or_else(|| match nix::unistd::execve(&cmd.path, &argv, &env) {
                    Err(e) => ("execvp", io::Error::from(e)),
                    Ok(never) => match never {},
                });
            on_error(what, &err);
            // SAFETY: _exit ends the child without running the parent's
            // atexit handlers or flushing its copied stdio buffers.
            unsafe { libc::_exit(cmd.setup_failure_status) }
        }
    }
}

/// The child's part of [`spawn_piped`] before exec.
fn child_setup(
    cmd: &PipedCommand,
    root: bool,
    stdin: RawFd,
    output: RawFd,
) -> Result<(), (&'static str, io::Error)> {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: restoring default signal dispositions is async-signal-safe;
    // an ignored SIGPIPE or SIGXFSZ would stay ignored in the command.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
    }
    // SAFETY: dup2 onto the standard descriptors, which this child owns;
    // the new descriptors do not have CLOEXEC.
    let dups = unsafe {
        libc::dup2(stdin, 0) < 0 || libc::dup2(output, 1) < 0 || libc::dup2(output, 2) < 0
    };
    if dups {
        return Err(("dup2", io::Error::last_os_error()));
    }
    // SAFETY: closes every descriptor above standard error; the pipes were
    // duplicated onto 0, 1 and 2 and nothing else is needed before exec.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    let _ = nix::unistd::setsid();
    if let Some(limit) = cmd.fsize_limit {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE, limit, limit)
            .map_err(|e| ("setrlimit", io::Error::from(e)))?;
    }
    if root && let Some(dir) = &cmd.root {
        nix::unistd::chroot(dir.as_c_str()).map_err(|e| ("chroot", io::Error::from(e)))?;
        nix::unistd::chdir("/").map_err(|e| ("chdir", io::Error::from(e)))?;
    }
    if root && let Some((uid, gid)) = cmd.ids {
        nix::unistd::setgroups(&[gid]).map_err(|e| ("setgroups", io::Error::from(e)))?;
        nix::unistd::setgid(gid).map_err(|e| ("setgid", io::Error::from(e)))?;
        nix::unistd::setuid(uid).map_err(|e| ("setuid", io::Error::from(e)))?;
        if !uid.is_root() && nix::unistd::setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
            return Err((
                "setuid",
                io::Error::other("root privileges were not dropped"),
            ));
        }
    }
    if let Some(dir) = &cmd.cwd {
        nix::unistd::chdir(dir.as_c_str()).map_err(|e| ("chdir", io::Error::from(e)))?;
    }
    Ok(())
}

/// Runs `f` in a forked child and returns what it produced, with how
/// the child ended; `None` when it ended without producing anything (it
/// was killed). The child exits with `_exit` right after `f`: it runs no
/// destructors of the state it shares with the parent. A child that
/// outlives a killed parent still finishes `f`: delivery agents write
/// mailboxes this way, so that killing the agent does not cut a message
/// in half. Call it while single-threaded.
pub fn call_in_child(
    f: impl FnOnce() -> Vec<u8>,
) -> io::Result<(Option<Vec<u8>>, nix::sys::wait::WaitStatus)> {
    use std::io::{Read, Write};
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    // SAFETY: the child runs `f` in a copy of a single-threaded process
    // (documented), writes to its pipe and leaves with _exit.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            drop(r);
            let out = f();
            let mut w = std::fs::File::from(w);
            let mut frame = (out.len() as u64).to_le_bytes().to_vec();
            frame.extend_from_slice(&out);
            let status = if w.write_all(&frame).is_ok() { 0 } else { 1 };
            drop(w);
            // SAFETY: _exit ends the child without running the parent's
            // atexit handlers or destructors of shared state.
            unsafe { libc::_exit(status) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut buf = Vec::new();
            let mut r = std::fs::File::from(r);
            let read = r.read_to_end(&mut buf);
            let status = loop {
                match nix::sys::wait::waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other.map_err(io::Error::from)?,
                }
            };
            read?;
            let out = (buf.len() >= 8)
                .then(|| {
                    let n = u64::from_le_bytes(buf[..8].try_into().expect("invariant: 8 bytes"));
                    (buf.len() as u64 - 8 == n).then(|| buf[8..].to_vec())
                })
                .flatten();
            Ok((out, status))
        }
    }
}

/// Sends `signal` to the process group led by `pid` (a child started by
/// [`spawn_piped`], which leads its own session).
pub fn kill_group(pid: Pid, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(pid, signal);
    let _ = nix::sys::signal::kill(pid, signal);
}

/// Waits for `pid` to end, for at most `timeout`; `None` when it is
/// still running then.
pub fn wait_timeout(
    pid: Pid,
    timeout: std::time::Duration,
) -> io::Result<Option<nix::sys::wait::WaitStatus>> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let until = std::time::Instant::now() + timeout;
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(s) => return Ok(Some(s)),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let now = std::time::Instant::now();
        if now >= until {
            return Ok(None);
        }
        std::thread::sleep(pause.min(until - now));
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn cmd(argv: &[&str]) -> PipedCommand {
        PipedCommand {
            path: cstring(argv[0]).unwrap(),
            argv: argv.iter().map(|a| cstring(a).unwrap()).collect(),
            env: vec![
                cstring("PATH=/usr/bin:/bin").unwrap(),
                cstring("X=y").unwrap(),
            ],
            root: None,
            cwd: Some(cstring("/").unwrap()),
            ids: None,
            fsize_limit: None,
            setup_failure_status: 75,
        }
    }

    #[test]
    fn piped_command_gets_input_env_and_directory() {
        let mut c = spawn_piped(
            &cmd(&["/bin/sh", "-c", "cat; echo \"$X $PWD $HOME\" >&2"]),
            |_, _| {},
        )
        .unwrap();
        let mut stdin = c.stdin.take().unwrap();
        stdin.write_all(b"hello\n").unwrap();
        drop(stdin);
        let mut out = String::new();
        c.output.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello\ny / \n");
        let st = wait_timeout(c.pid, std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(st, Some(nix::sys::wait::WaitStatus::Exited(c.pid, 0)));
    }

    #[test]
    fn exec_failure_reports_and_exits_with_the_status() {
        let mut c = spawn_piped(&cmd(&["/nonexistent/program"]), |what, e| {
            let _ = std::io::stderr().write_all(format!("{what} failed: {e}").as_bytes());
        })
        .unwrap();
        drop(c.stdin.take());
        let mut out = String::new();
        c.output.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("execvp failed: No such file"), "{out}");
        let st = wait_timeout(c.pid, std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(st, Some(nix::sys::wait::WaitStatus::Exited(c.pid, 75)));
    }

    #[test]
    fn work_in_a_child() {
        let (out, st) = call_in_child(|| b"result".to_vec()).unwrap();
        assert_eq!(out.as_deref(), Some(&b"result"[..]));
        assert!(matches!(st, nix::sys::wait::WaitStatus::Exited(_, 0)));
        let (out, st) = call_in_child(|| {
            // SAFETY (test): the child ends itself with a signal.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            Vec::new()
        })
        .unwrap();
        assert_eq!(out, None);
        assert!(matches!(st, nix::sys::wait::WaitStatus::Signaled(..)));
    }

    #[test]
    fn a_hung_command_is_killed_with_its_group() {
        let mut c =
            spawn_piped(&cmd(&["/bin/sh", "-c", "sleep 30 & sleep 30"]), |_, _| {}).unwrap();
        drop(c.stdin.take());
        assert_eq!(
            wait_timeout(c.pid, std::time::Duration::from_millis(50)).unwrap(),
            None
        );
        kill_group(c.pid, nix::sys::signal::Signal::SIGKILL);
        let st = wait_timeout(c.pid, std::time::Duration::from_secs(10)).unwrap();
        assert!(matches!(st, Some(nix::sys::wait::WaitStatus::Signaled(..))));
        // The background sleep was in the group too: the pipe closes.
        let mut out = Vec::new();
        c.output.read_to_end(&mut out).unwrap();
    }
}
