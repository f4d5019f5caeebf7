//! # postfix(1) — mail system control program
//!
//! ## SYNOPSIS
//! `postfix` [`-v`] [`-c` *config_dir*] *command*
//!
//! ## DESCRIPTION
//! Starts, stops and checks an instance:
//!
//! * `check`: check main.cf and master.cf, create missing queue
//!   directories, warn about wrong ownership ([`check`]);
//! * `start`: check, then start master(8) and wait until it has
//!   initialized (`master -w`);
//! * `start-fg`: check, then run master(8) in the foreground (`-s`; `-i`
//!   when this is process 1, as in a container);
//! * `stop`: SIGTERM to master, then wait up to five seconds for it to go,
//!   and kill the process group after that;
//! * `abort`: SIGTERM to master, without waiting;
//! * `reload`: SIGHUP to master: re-read main.cf and master.cf;
//! * `status`: exit 0 when master runs (and say so), 1 when it does not;
//! * `flush`: `postqueue -f`;
//! * `set-permissions` [*name=value* ...]: set Postfix's owners and modes
//!   on the queue and the set-gid commands, after `postconf -e` of the
//!   given settings;
//! * `logrotate`: rename `maillog_file` with `maillog_file_rotate_suffix`,
//!   reload, and compress it with `maillog_file_compressor`.
//!
//! Messages are logged as `postfix/postfix-script` and copied to stderr
//! when that is a terminal, as Postfix does.
//!
//! ## DIAGNOSTICS
//! Exit 0 on success, 1 on failure; `status` exits 1 when the mail system
//! is not running.
//!
//! ## SEE ALSO
//! master(8), postconf(1), [`check`]

#![forbid(unsafe_code)]

mod check;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use check::Instance;
use config::params;
use daemon::log::{self, Level};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Logs as `postfix/postfix-script`, the name Postfix's scripts use.
fn say(level: Level, text: &str) {
    log::log_str(level, text);
}

fn fail(text: &str) -> ! {
    say(Level::Fatal, text);
    std::process::exit(1)
}

fn usage() -> ! {
    log::init(None, "");
    fail("usage: postfix [-c config_dir] [-Dv] command")
}

struct Options {
    config_dir: Option<PathBuf>,
    verbose: u32,
    command: String,
    args: Vec<String>,
}

fn parse_options() -> Options {
    let mut args = std::env::args().skip(1).peekable();
    let mut o = Options {
        config_dir: None,
        verbose: 0,
        command: String::new(),
        args: Vec::new(),
    };
    while let Some(a) = args.next_if(|a| a.starts_with('-') && a.len() > 1) {
        let mut flags = a[1..].chars();
        while let Some(c) = flags.next() {
            match c {
                'c' => {
                    let rest: String = flags.by_ref().collect();
                    let dir = if rest.is_empty() {
                        args.next().unwrap_or_else(|| usage())
                    } else {
                        rest
                    };
                    o.config_dir = Some(PathBuf::from(dir));
                }
                'v' => o.verbose += 1,
                'D' => {
                    log::init(None, "");
                    fail("-D (run daemons under a debugger) is not supported");
                }
                _ => usage(),
            }
        }
    }
    o.command = args.next().unwrap_or_else(|| usage());
    o.args = args.collect();
    o
}

fn master_running(inst: &Instance) -> Option<Pid> {
    let pid_file = inst.pid_file();
    if !is_locked(&pid_file) {
        return None;
    }
    std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .map(Pid::from_raw)
}

fn is_locked(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    matches!(
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock),
        Err((_, nix::errno::Errno::EWOULDBLOCK))
    )
}

/// A command of the instance, with MAIL_CONFIG set.
fn instance_command(inst: &Instance, program: &Path) -> Command {
    let mut c = Command::new(program);
    c.env("MAIL_CONFIG", &inst.config_dir);
    c
}

/// check-fatal and check-warn.
fn run_checks(inst: &Instance) -> bool {
    if let Err(errors) = check::fatal_checks(inst) {
        for e in errors {
            say(Level::Error, &e);
        }
        return false;
    }
    for w in check::warnings(inst) {
        say(Level::Warning, &w);
    }
    true
}

fn start(inst: &Instance, foreground: bool, verbose: u32) -> i32 {
    if master_running(inst).is_some() {
        fail("the Postfix mail system is already running");
    }
    if !run_checks(inst) {
        fail("Postfix integrity check failed!");
    }
    say(Level::Info, "starting the Postfix mail system");
    let master = inst.daemon_dir.join("master");
    let mut cmd = instance_command(inst, &master);
    cmd.arg("-c").arg(&inst.config_dir);
    for _ in 0..verbose {
        cmd.arg("-v");
    }
    if foreground {
        cmd.arg(if std::process::id() == 1 { "-i" } else { "-s" });
        match cmd.status() {
            Ok(s) if s.success() => 0,
            Ok(_) => 1,
            Err(e) => fail(&format!(
                "cannot start-fg the master daemon: {}: {}",
                master.display(),
                e
            )),
        }
    } else {
        cmd.arg("-w");
        match cmd.status() {
            Ok(s) if s.success() => 0,
            _ => fail("mail system startup failed"),
        }
    }
}

fn stop(inst: &Instance, abort: bool) -> i32 {
    let Some(pid) = master_running(inst) else {
        fail("the Postfix mail system is not running");
    };
    // postlogd stops with master: write these lines to the file directly.
    log::bypass_postlog();
    say(
        Level::Info,
        if abort {
            "aborting the Postfix mail system"
        } else {
            "stopping the Postfix mail system"
        },
    );
    let _ = kill(pid, Signal::SIGTERM);
    if abort {
        return 0;
    }
    let pid_file = inst.pid_file();
    for _ in 0..5 {
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            if !is_locked(&pid_file) {
                return 0;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        say(
            Level::Info,
            "waiting for the Postfix mail system to terminate",
        );
    }
    say(
        Level::Warning,
        "stopping the Postfix mail system with force",
    );
    let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
    0
}

fn reload(inst: &Instance) -> i32 {
    let Some(pid) = master_running(inst) else {
        fail("the Postfix mail system is not running");
    };
    say(Level::Info, "refreshing the Postfix mail system");
    let _ = kill(pid, Signal::SIGHUP);
    0
}

fn status(inst: &Instance) -> i32 {
    match master_running(inst) {
        Some(pid) => {
            say(
                Level::Info,
                &format!("the Postfix mail system is running: PID: {pid}"),
            );
            0
        }
        None => {
            say(Level::Info, "the Postfix mail system is not running");
            1
        }
    }
}

fn run_program(inst: &Instance, program: &Path, args: &[&str]) -> i32 {
    match instance_command(inst, program).args(args).status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => fail(&format!("{}: {}", program.display(), e)),
    }
}

fn set_permissions(inst: &Instance, settings: &[String]) -> i32 {
    if !settings.is_empty() {
        let postconf = inst.command_dir.join("postconf");
        let mut args = vec!["-e"];
        args.extend(settings.iter().map(String::as_str));
        if run_program(inst, &postconf, &args) != 0 {
            fail("cannot update main.cf");
        }
    }
    let inst = load_instance(&inst.config_dir);
    let errors = check::set_permissions(&inst);
    for e in &errors {
        say(Level::Error, e);
    }
    i32::from(!errors.is_empty())
}

fn logrotate(inst: &Instance) -> i32 {
    let file = inst.cfg.str(&params::MAILLOG_FILE).unwrap_or_default();
    if file.is_empty() {
        fail("logrotate: maillog_file is empty: there is no log file to rotate");
    }
    if file.starts_with("/dev/") {
        fail(&format!("logrotate: will not rotate {file}"));
    }
    let suffix_fmt = inst
        .cfg
        .str(&params::MAILLOG_FILE_ROTATE_SUFFIX)
        .unwrap_or_default();
    let tm = sys::time::local(std::time::SystemTime::now());
    let suffix = suffix_fmt
        .replace("%Y", &format!("{:04}", tm.year))
        .replace("%m", &format!("{:02}", tm.month))
        .replace("%d", &format!("{:02}", tm.day))
        .replace("%H", &format!("{:02}", tm.hour))
        .replace("%M", &format!("{:02}", tm.min))
        .replace("%S", &format!("{:02}", tm.sec));
    let rotated = format!("{file}.{suffix}");
    if let Err(e) = std::fs::rename(&file, &rotated) {
        fail(&format!("logrotate: rename {file} to {rotated}: {e}"));
    }
    if master_running(inst).is_some() {
        reload(inst);
    }
    std::thread::sleep(Duration::from_secs(1));
    let compressor = inst
        .cfg
        .str(&params::MAILLOG_FILE_COMPRESSOR)
        .unwrap_or_default();
    if !compressor.is_empty() {
        match Command::new(&compressor).arg(&rotated).status() {
            Ok(s) if s.success() => {}
            _ => fail(&format!("logrotate: {compressor} {rotated} failed")),
        }
    }
    0
}

fn load_instance(dir: &Path) -> Instance {
    match Instance::load(dir) {
        Ok(i) => i,
        Err(errors) => {
            for e in &errors[..errors.len() - 1] {
                say(Level::Error, e);
            }
            fail(&errors[errors.len() - 1]);
        }
    }
}

fn main() {
    let opts = parse_options();
    let dir = opts
        .config_dir
        .clone()
        .unwrap_or_else(config::config_dir_from_env);
    // Absolute, since the daemons run in the queue directory.
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    // Before main.cf is read, problems go to stderr only.
    log::init(None, "");
    match config::Config::load(&dir) {
        Ok(cfg) => {
            if let Err(e) = log::check_maillog_prefix(&cfg) {
                fail(&e);
            }
            log::init(Some(&cfg), "");
        }
        Err(e) => fail(&e.to_string()),
    }
    log::set_verbose(opts.verbose);
    let inst = load_instance(&dir);
    // From here on, speak as Postfix's control script does.
    log::init(Some(&inst.cfg), "postfix-script");
    let code = match opts.command.as_str() {
        "check" => {
            if !run_checks(&inst) {
                std::process::exit(1);
            }
            0
        }
        "start" => start(&inst, false, opts.verbose),
        "start-fg" => start(&inst, true, opts.verbose),
        "stop" => stop(&inst, false),
        "abort" => stop(&inst, true),
        "reload" => reload(&inst),
        "status" => status(&inst),
        "flush" => run_program(&inst, &inst.command_dir.join("postqueue"), &["-f"]),
        "set-permissions" => set_permissions(&inst, &opts.args),
        "logrotate" => logrotate(&inst),
        "upgrade-configuration" | "tls" | "drain" | "quick-stop" | "post-install" => {
            fail(&format!(
                "the '{}' command is not supported by this implementation",
                opts.command
            ))
        }
        other => fail(&format!("unknown command: '{other}'")),
    };
    std::process::exit(code);
}
