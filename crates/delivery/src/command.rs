//! # NAME
//! command — delivery to a command (pipe_command)
//!
//! ## SYNOPSIS
//! ```ignore
//! let spec = CommandSpec { argv, display: "/usr/bin/procmail -a x".into(), env, .. };
//! match command::run(&spec, |w| copy::copy(content, w, sender, &opts, None)) {
//!     Ok(output) => /* sent */,
//!     Err(failure) => /* failure.is_temporary()? defer : bounce */,
//! }
//! ```
//!
//! ## DESCRIPTION
//! Runs the command ([`sys::process::spawn_piped`]: its own session, the
//! given user and group, directory, environment and file size limit),
//! writes the message to its standard input while collecting what it
//! prints (standard output and error, the first [`OUTPUT_LIMIT`] bytes),
//! and waits for it, all within the time limit; a command that outlives
//! the limit is killed with everything it started. A command that exits
//! without reading all of its input is not at fault for that.
//!
//! The result follows Postfix: exit status 0 is success; output that
//! starts with an enhanced status code (`4.2.2 mailbox full`) decides
//! the status and the text; a `<sysexits.h>` status gives its code and
//! text (`temporary failure. Command output: ...`); any other status is
//! `Command died with status N: "command"`, a signal `Command died with
//! signal N: "command"` (temporary), the time limit `Command time limit
//! exceeded: "command"`. Output goes into the text with line ends and
//! tabs as spaces and other control characters as `_`.
//!
//! ## SEE ALSO
//! [`crate::sysexits`], [`sys::process`]

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::WaitStatus;
use nix::unistd::{Gid, Uid};

use crate::Failure;
use crate::copy::CopyError;

/// The most output kept for the reason text.
pub const OUTPUT_LIMIT: usize = 2048;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// Program and arguments; the program is looked up in the `PATH` of
    /// `env` when it has no `/`.
    pub argv: Vec<String>,
    /// The command as the texts show it.
    pub display: String,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Directory to chroot to first (pipe(8) `chroot=`).
    pub root: Option<PathBuf>,
    /// User and group to run as (when the agent is root).
    pub ids: Option<(Uid, Gid)>,
    pub time_limit: Duration,
    /// RLIMIT_FSIZE (mailbox_size_limit).
    pub fsize_limit: Option<u64>,
    /// How the agent names itself in the text of a failed exec
    /// (`local: fatal: execvp /x: No such file or directory`).
    pub agent: String,
}

/// Why a command delivery did not succeed, beyond the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    pub failure: Failure,
    /// The time limit was reached (the caller logs a warning).
    pub timed_out: bool,
}

impl From<Failure> for CommandFailure {
    fn from(failure: Failure) -> CommandFailure {
        CommandFailure {
            failure,
            timed_out: false,
        }
    }
}

/// Looks `program` up in `path` (a `PATH` value) unless it has a `/`.
pub fn find_program(program: &str, path: &str) -> String {
    if program.contains('/') {
        return program.to_string();
    }
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = format!("{dir}/{program}");
        if let Ok(m) = std::fs::metadata(&cand)
            && m.is_file()
        {
            return cand;
        }
    }
    program.to_string()
}

/// The output as it appears in a reason text.
pub fn printable_output(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .chars()
        .map(|c| match c {
            '\n' | '\t' => ' ',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// Whether `code` is an enhanced status code of class 4 or 5.
pub fn is_failure_dsn(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The failure for a command that exited with `status` and printed
/// `output`.
pub fn exit_failure(display: &str, status: i32, output: &[u8]) -> Failure {
    let text = printable_output(output);
    let first = text.split([' ', '\t']).next().unwrap_or("");
    if is_failure_dsn(first) {
        let rest = text[first.len()..].trim_start_matches(' ');
        return Failure::new(first, rest);
    }
    let with_output = |t: String| {
        if text.is_empty() {
            t
        } else {
            format!("{t}. Command output: {text}")
        }
    };
    match crate::sysexits::lookup(status) {
        Some(e) => Failure::new(e.dsn, with_output(e.text.to_string())),
        None => Failure::new(
            "5.3.0",
            with_output(format!("Command died with status {status}: \"{display}\"")),
        ),
    }
}

/// Standard input of a command, written without blocking while the
/// output is collected, against a deadline.
struct Feed<'a> {
    stdin: std::fs::File,
    output: &'a std::fs::File,
    collected: &'a mut Vec<u8>,
    output_open: &'a mut bool,
    deadline: Instant,
}

fn left(deadline: Instant) -> PollTimeout {
    let ms = deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .min(i32::MAX as u128) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "command time limit exceeded")
}

/// Reads what is there; false at end of file.
fn drain(output: &std::fs::File, collected: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 8192];
    match (&*output).read(&mut buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            let keep = n.min(OUTPUT_LIMIT.saturating_sub(collected.len()));
            collected.extend_from_slice(&buf[..keep]);
            Ok(true)
        }
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted =>
        {
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

impl Write for Feed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&self.stdin).write(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if Instant::now() >= self.deadline {
                return Err(timed_out());
            }
            let (w, r) = {
                let mut fds = vec![PollFd::new(self.stdin.as_fd(), PollFlags::POLLOUT)];
                if *self.output_open {
                    fds.push(PollFd::new(self.output.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, left(self.deadline)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
                let hit = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                (hit(&fds[0]), fds.get(1).is_some_and(hit))
            };
            if r && !drain(self.output, self.collected)? {
                *self.output_open = false;
            }
            let _ = w;
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs the command with the message `feed` writes; returns its output
/// (as the success text shows it) or why it failed.
pub fn run(
    spec: &CommandSpec,
    feed: impl FnOnce(&mut dyn Write) -> Result<u64, CopyError>,
) -> Result<String, CommandFailure> {
    let deadline = Instant::now() + spec.time_limit;
    let cstr = |s: &str| {
        sys::process::cstring(s).map_err(|e| Failure::new("5.3.0", format!("bad command: {e}")))
    };
    let path_env = spec
        .env
        .iter()
        .find(|(n, _)| n == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin");
    let program = spec
        .argv
        .first()
        .ok_or_else(|| Failure::new("5.3.0", "empty command"))?;
    let cmd = sys::process::PipedCommand {
        path: cstr(&find_program(program, path_env))?,
        argv: spec
            .argv
            .iter()
            .map(|a| cstr(a))
            .collect::<Result<_, _>>()?,
        env: spec
            .env
            .iter()
            .map(|(n, v)| cstr(&format!("{n}={v}")))
            .collect::<Result<_, _>>()?,
        root: match &spec.root {
            Some(d) => Some(cstr(&d.to_string_lossy())?),
            None => None,
        },
        cwd: match &spec.cwd {
            Some(d) => Some(cstr(&d.to_string_lossy())?),
            None => None,
        },
        ids: spec.ids,
        fsize_limit: spec.fsize_limit,
        setup_failure_status: crate::sysexits::EX_TEMPFAIL,
    };
    let agent = spec.agent.clone();
    let mut child = sys::process::spawn_piped(&cmd, |what, e| {
        // The child's standard error is the output pipe: this becomes
        // command output, as with Postfix.
        let _ = io::stderr().write_all(
            format!(
                "{agent}: fatal: {what} {}: {}\n",
                program,
                crate::strerror(e)
            )
            .as_bytes(),
        );
    })
    .map_err(|e| Failure::new("4.3.0", format!("fork: {}", crate::strerror(&e))))?;
    let stdin = child
        .stdin
        .take()
        .expect("invariant: spawn_piped gives stdin");
    let _ = sys::fd::set_nonblocking(&stdin, true);
    let _ = sys::fd::set_nonblocking(&child.output, true);
    let mut collected = Vec::new();
    let mut output_open = true;
    let fed = {
        let mut w = Feed {
            stdin,
            output: &child.output,
            collected: &mut collected,
            output_open: &mut output_open,
            deadline,
        };
        feed(&mut w)
        // stdin is closed here: the command sees end of file.
    };
    let mut timed = false;
    let mut read_error = None;
    match fed {
        Ok(_) => {}
        Err(CopyError::Write(e)) if e.kind() == io::ErrorKind::TimedOut => timed = true,
        // The command did not read all its input: its exit status decides.
        Err(CopyError::Write(_)) => {}
        Err(CopyError::Read(e)) => read_error = Some(e),
    }
    while output_open && !timed {
        let ready = {
            let mut fds = [PollFd::new(child.output.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, left(deadline)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => true,
                Err(_) => false,
            }
        };
        if !ready && Instant::now() >= deadline {
            timed = true;
            break;
        }
        match drain(&child.output, &mut collected) {
            Ok(true) => {}
            Ok(false) | Err(_) => output_open = false,
        }
    }
    let status = if timed {
        None
    } else {
        sys::process::wait_timeout(
            child.pid,
            deadline.saturating_duration_since(Instant::now()),
        )
        .ok()
        .flatten()
    };
    let status = match status {
        Some(s) => s,
        None => {
            timed = true;
            sys::process::kill_group(child.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = sys::process::wait_timeout(child.pid, Duration::from_secs(10));
            WaitStatus::StillAlive
        }
    };
    if let Some(e) = read_error {
        return Err(Failure::new(
            "4.3.0",
            format!("error reading message: {}", crate::strerror(&e)),
        )
        .into());
    }
    let text = printable_output(&collected);
    if timed {
        let mut t = format!("Command time limit exceeded: \"{}\"", spec.display);
        if !text.is_empty() {
            t.push_str(". Command output: ");
            t.push_str(&text);
        }
        return Err(CommandFailure {
            failure: Failure::new("5.3.0", t),
            timed_out: true,
        });
    }
    match status {
        WaitStatus::Exited(_, 0) => Ok(text),
        WaitStatus::Exited(_, code) => Err(exit_failure(&spec.display, code, &collected).into()),
        WaitStatus::Signaled(_, sig, _) => Err(Failure::new(
            "4.3.0",
            format!(
                "Command died with signal {}: \"{}\"",
                sig as i32, spec.display
            ),
        )
        .into()),
        other => {
            Err(Failure::new("4.3.0", format!("command ended unexpectedly: {other:?}")).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str, limit: Duration) -> CommandSpec {
        CommandSpec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            display: script.into(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: None,
            root: None,
            ids: None,
            time_limit: limit,
            fsize_limit: None,
            agent: "local".into(),
        }
    }

    fn message(w: &mut dyn Write, n: usize) -> Result<u64, CopyError> {
        let line = b"0123456789012345678901234567890123456789\n";
        for _ in 0..n {
            w.write_all(line).map_err(CopyError::Write)?;
        }
        Ok((n * line.len()) as u64)
    }

    #[test]
    fn exit_statuses_as_postfix_reports_them() {
        let out = b"some output from command\nline 2\n";
        assert_eq!(
            exit_failure("/x 75", 75, out),
            Failure::new(
                "4.3.0",
                "temporary failure. Command output: some output from command line 2 "
            )
        );
        assert_eq!(
            exit_failure("/x 1", 1, out),
            Failure::new(
                "5.3.0",
                "Command died with status 1: \"/x 1\". Command output: some output from command line 2 "
            )
        );
        assert_eq!(
            exit_failure("/x", 1, b""),
            Failure::new("5.3.0", "Command died with status 1: \"/x\"")
        );
        assert_eq!(
            exit_failure("/x", 75, b""),
            Failure::new("4.3.0", "temporary failure")
        );
        assert_eq!(
            exit_failure("/x", 1, b"4.2.2 mailbox full\nsecond line\n"),
            Failure::new("4.2.2", "mailbox full second line ")
        );
        assert_eq!(exit_failure("/x", 1, b"5.7.1\n"), Failure::new("5.7.1", ""));
        assert_eq!(
            printable_output(b"a\tb\x01c\xc3\xa9d\r\n  e  \n\n"),
            "a b_c\u{e9}d_   e    "
        );
    }

    #[test]
    fn a_command_gets_the_message_and_its_output_is_kept() {
        let got = run(
            &spec("wc -l; echo done >&2", Duration::from_secs(20)),
            |w| message(w, 5000),
        )
        .unwrap();
        assert_eq!(got, "5000 done ");
    }

    #[test]
    fn a_command_that_does_not_read_is_fine() {
        assert_eq!(
            run(&spec("exit 0", Duration::from_secs(20)), |w| message(
                w, 100_000
            ))
            .unwrap(),
            ""
        );
        let e = run(
            &spec("echo refused; exit 1", Duration::from_secs(20)),
            |w| message(w, 100_000),
        )
        .unwrap_err();
        assert_eq!(
            e.failure,
            Failure::new(
                "5.3.0",
                "Command died with status 1: \"echo refused; exit 1\". Command output: refused "
            )
        );
    }

    #[test]
    fn time_limit_kills() {
        let e = run(
            &spec("echo sleeping; sleep 30", Duration::from_millis(300)),
            |w| message(w, 1),
        )
        .unwrap_err();
        assert!(e.timed_out);
        assert_eq!(
            e.failure,
            Failure::new(
                "5.3.0",
                "Command time limit exceeded: \"echo sleeping; sleep 30\". Command output: sleeping "
            )
        );
        // A command that reads nothing and never exits, with a large message.
        let e = run(&spec("sleep 30", Duration::from_millis(300)), |w| {
            message(w, 100_000)
        })
        .unwrap_err();
        assert!(e.timed_out);
    }

    #[test]
    fn signals_and_exec_failures() {
        let e = run(&spec("kill -9 $$", Duration::from_secs(20)), |w| {
            message(w, 1)
        })
        .unwrap_err();
        assert_eq!(
            e.failure,
            Failure::new("4.3.0", "Command died with signal 9: \"kill -9 $$\"")
        );
        let mut s = spec("", Duration::from_secs(20));
        s.argv = vec!["/nonexistent/prog".into(), "arg".into()];
        let e = run(&s, |w| message(w, 1)).unwrap_err();
        assert_eq!(
            e.failure,
            Failure::new(
                "4.3.0",
                "temporary failure. Command output: local: fatal: execvp /nonexistent/prog: No such file or directory "
            )
        );
    }
}
