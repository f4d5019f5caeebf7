//! # NAME
//! command — delivery to `|command` destinations and `mailbox_command`
//!
//! ## DESCRIPTION
//! The command runs with the rights of the user it is delivered for
//! (`default_privs` instead of root), in the queue directory or
//! `command_execution_directory`, with a clean environment: `PATH`, the
//! `export_environment` variables, and `SHELL`, `HOME` (with a user),
//! `USER`, `LOGNAME`, `EXTENSION`, `DOMAIN`, `LOCAL`, `RECIPIENT`,
//! `ORIGINAL_RECIPIENT`, `SENDER` and the client and SASL attributes of
//! the message, each value through `command_expansion_filter`. A command
//! without shell syntax runs as its words; one with shell syntax, or any
//! command when `local_command_shell` is set, runs through the shell.
//! The text is always configuration (main.cf, an alias, a `.forward`
//! file): an address reaches the command only in the environment.
//!
//! The message starts with the `From ` line, `Return-Path:`,
//! `X-Original-To:` and (per `prepend_delivered_header`)
//! `Delivered-To:`; it is not quoted.

use std::path::PathBuf;

use daemon::warn;
use delivery::Failure;
use delivery::command::CommandSpec;
use delivery::copy::{CopyOptions, Segment};

use crate::state::{MsgAttr, Run, UserAttr};

/// Characters that make a command shell syntax.
const SHELL_META: &str = "!\"#$%&'()*;<>?[\\]`{|}~\n";

/// Words a shell would treat as its own.
const SHELL_BUILTINS: &[&str] = &[
    ".", ":", "alias", "break", "cd", "continue", "eval", "exec", "exit", "export", "read",
    "readonly", "return", "set", "shift", "source", "test", "trap", "ulimit", "umask", "unset",
    "wait",
];

/// The argument vector for command text.
pub fn argv(cmd: &str, shell: Option<&str>) -> Vec<String> {
    if let Some(sh) = shell {
        let mut v: Vec<String> = sh.split_whitespace().map(str::to_string).collect();
        v.push(cmd.to_string());
        return v;
    }
    let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    let needs_shell = cmd.contains(|c| SHELL_META.contains(c))
        || words
            .first()
            .is_some_and(|w| SHELL_BUILTINS.contains(&w.as_str()));
    if needs_shell || words.is_empty() {
        vec!["/bin/sh".into(), "-c".into(), cmd.to_string()]
    } else {
        words
    }
}

/// The environment of a command delivered for `attr`.
fn environment(run: &Run<'_>, attr: &MsgAttr, usr: &UserAttr) -> Vec<(String, String)> {
    let filter = |v: &str| delivery::expand::filter(v, &run.s.command_filter);
    let mut env: Vec<(String, String)> = vec![("PATH".into(), "/usr/bin:/bin".into())];
    for (n, v) in &run.s.export_environment {
        if n != "PATH" {
            env.push((n.clone(), v.clone()));
        }
    }
    let mut put = |n: &str, v: &str| env.push((n.to_string(), filter(v)));
    if let Some(sh) = &usr.shell {
        put("SHELL", sh);
    }
    if let Some(h) = &usr.home {
        put("HOME", &h.display().to_string());
    }
    put("USER", &attr.user);
    if let Some(e) = &attr.extension {
        put("EXTENSION", e);
    }
    put("DOMAIN", &attr.domain);
    put("LOGNAME", &attr.user);
    put("LOCAL", &attr.local);
    put("ORIGINAL_RECIPIENT", &attr.orig);
    put("RECIPIENT", &attr.rcpt);
    put("SENDER", &run.job.req.sender);
    for (attr_name, var) in [
        ("client_address", "CLIENT_ADDRESS"),
        ("helo_name", "CLIENT_HELO"),
        ("client_name", "CLIENT_HOSTNAME"),
        ("protocol_name", "CLIENT_PROTOCOL"),
        ("sasl_method", "SASL_METHOD"),
        ("sasl_sender", "SASL_SENDER"),
        ("sasl_username", "SASL_USERNAME"),
    ] {
        if let Some((_, v)) = run.job.req.attrs.iter().rev().find(|(n, _)| n == attr_name)
            && !v.is_empty()
        {
            put(var, v);
        }
    }
    env
}

/// Runs `cmd` for `attr` with `usr`'s rights and reports the result.
pub fn deliver_command(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, cmd: &str) {
    if !run.first("command", cmd) {
        return;
    }
    match run_command(run, attr, usr, cmd) {
        Ok(()) => run.sent(&attr.rcpt, &format!("delivered to command: {cmd}")),
        Err(f) => run.failed(&attr.rcpt, f),
    }
}

/// Runs a command delivery; the failure when it did not succeed.
pub fn run_command(
    run: &mut Run<'_>,
    attr: &MsgAttr,
    usr: &UserAttr,
    cmd: &str,
) -> Result<(), Failure> {
    let cwd = if run.s.command_execution_directory.is_empty() {
        None
    } else {
        let filter = run.s.exec_dir_filter.clone();
        let delimiters = run.s.delimiters.clone();
        let lookup = |name: &str| {
            attr.expansion(name, Some(usr), &delimiters)
                .map(|v| delivery::expand::filter(&v, &filter))
        };
        match delivery::expand::expand(&run.s.command_execution_directory, &lookup) {
            Ok(e) => Some(PathBuf::from(e.text)),
            Err(e) => {
                warn!("command_execution_directory: {e}");
                return Err(Failure::new("4.3.5", "mail system configuration error"));
            }
        }
    };
    let spec = CommandSpec {
        argv: argv(cmd, run.s.command_shell.as_deref()),
        display: cmd.to_string(),
        env: environment(run, attr, usr),
        cwd,
        root: None,
        ids: Some(usr.run_as(run.s)),
        time_limit: run.s.command_time_limit,
        fsize_limit: (run.s.mbox.size_limit > 0).then_some(run.s.mbox.size_limit),
        agent: "local".into(),
    };
    let opts = CopyOptions {
        from_line: true,
        return_path: true,
        orig_to: Some(attr.orig.clone()),
        delivered_to: run
            .s
            .delivered_header
            .command
            .then(|| attr.delivered.clone()),
        ..Default::default()
    };
    let sender = run.job.req.sender.clone();
    let content = Segment::new(
        &run.job.file.file,
        run.job.req.content_offset,
        run.job.req.content_len,
    );
    match delivery::command::run(&spec, |w| {
        delivery::copy::copy(content, w, &sender, &opts, None)
    }) {
        Ok(_) => Ok(()),
        Err(e) => {
            if e.timed_out {
                warn!("pipe_command_read: read time limit exceeded");
            }
            Err(e.failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_only_when_asked_for() {
        assert_eq!(
            argv("/usr/bin/procmail -a x", None),
            ["/usr/bin/procmail", "-a", "x"]
        );
        assert_eq!(
            argv("/x/dump.sh arg1 'arg two'", None),
            ["/bin/sh", "-c", "/x/dump.sh arg1 'arg two'"]
        );
        assert_eq!(
            argv("/x -a \"$EXTENSION\"", None),
            ["/bin/sh", "-c", "/x -a \"$EXTENSION\""]
        );
        assert_eq!(argv("exec /x", None), ["/bin/sh", "-c", "exec /x"]);
        assert_eq!(
            argv("/x y", Some("/usr/sbin/smrsh -c")),
            ["/usr/sbin/smrsh", "-c", "/x y"]
        );
    }
}
