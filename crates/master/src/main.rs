//! # master(8) — the resident process that runs the daemons of master.cf
//!
//! ## SYNOPSIS
//! `master` [`-Ddistvw`] [`-c` *config_dir*] [`-e` *exit_time*]
//!
//! ## DESCRIPTION
//! Reads main.cf and master.cf, refuses to start on any error in them,
//! takes the exclusive lock on `$queue_directory/pid/master.pid`, creates
//! every listener, and then starts daemons on demand, up to each service's
//! process limit (see [`service`]). SIGHUP reloads both files; SIGTERM
//! (and SIGINT) passes the signal on to the children and ends master.
//!
//! * `-c` *dir*: configuration directory (exported as `MAIL_CONFIG`).
//! * `-D`: not supported: fails with a message.
//! * `-d`: stay in the foreground with stdio and the terminal kept.
//! * `-e` *seconds*: exit after that long; children finish on their own.
//! * `-i`: init mode (PID 1 in a container): no new session, stdout kept.
//! * `-s`: keep stdout, for `maillog_file = /dev/stdout`.
//! * `-t`: test mode: exit 0 when no master holds the lock, else 1.
//! * `-v`: verbose logging, passed on to the daemons.
//! * `-w`: wait in the foreground until the background master has
//!   initialized; exit 0 on success, 1 on failure (`postfix start`).
//!
//! Run by a user other than root, master and every daemon run as that user,
//! with no chroot (unprivileged mode).
//!
//! ## SECURITY
//! The only long-lived root process. It parses only its own configuration
//! files and the fixed-size status messages of its children; it never
//! reads data from clients.
//!
//! ## DIAGNOSTICS
//! `fatal: the Postfix mail system is already running` (lock held);
//! `warning: process PATH pid N exit status S`;
//! `warning: PATH: bad command startup -- throttling`.
//!
//! ## SEE ALSO
//! master(5), postfix(1), [`daemon::master_proto`]

#![forbid(unsafe_code)]

mod ent;
mod listen;
mod pid;
mod service;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use config::{Config, params};
use daemon::{fatal, info, warn};
use nix::sys::signal::Signal;

use service::{Master, Next, Settings};

struct Options {
    config_dir: Option<PathBuf>,
    debug: bool,
    exit_after: Option<Duration>,
    init_mode: bool,
    keep_stdout: bool,
    test: bool,
    verbose: u32,
    wait: bool,
}

fn usage() -> ! {
    fatal!("usage: master [-Ddistvw] [-c config_dir] [-e exit_time]")
}

fn parse_options() -> Options {
    let mut o = Options {
        config_dir: None,
        debug: false,
        exit_after: None,
        init_mode: false,
        keep_stdout: false,
        test: false,
        verbose: 0,
        wait: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            usage()
        };
        for (pos, c) in flags.char_indices() {
            let mut value = || {
                let rest = &flags[pos + 1..];
                if !rest.is_empty() {
                    rest.to_string()
                } else {
                    i += 1;
                    args.get(i).cloned().unwrap_or_else(|| usage())
                }
            };
            match c {
                'c' => {
                    o.config_dir = Some(PathBuf::from(value()));
                    break;
                }
                'e' => {
                    let v = value();
                    let n: u64 = v.parse().unwrap_or_else(|_| fatal!("bad exit time: {v}"));
                    o.exit_after = Some(Duration::from_secs(n));
                    break;
                }
                'D' => fatal!(
                    "-D (run under a debugger) is not supported: use gdb -p on the master or a daemon"
                ),
                'd' => o.debug = true,
                'i' => o.init_mode = true,
                's' => o.keep_stdout = true,
                't' => o.test = true,
                'v' => o.verbose += 1,
                'w' => o.wait = true,
                _ => usage(),
            }
        }
        i += 1;
    }
    o
}

/// Reads and checks main.cf and master.cf; every problem is reported.
fn load(dir: &Path, verbose: u32) -> Result<(Config, Vec<ent::ServiceDef>), Vec<String>> {
    let (mut cfg, services) = config::instance::load_checked(dir)?;
    cfg.set_process_name("master");
    daemon::log::check_maillog_prefix(&cfg).map_err(|e| vec![e])?;
    let defs = ent::load(&cfg, &services, verbose).map_err(|e| vec![e])?;
    Ok((cfg, defs))
}

/// master's own settings from main.cf.
fn settings(cfg: &Config, dir: &Path) -> Settings {
    let owner = if sys::privs::is_root() {
        let name = cfg
            .str(&params::MAIL_OWNER)
            .unwrap_or_else(|e| fatal!("{e}"));
        let id = sys::privs::lookup_user(&name).unwrap_or_else(|_| {
            fatal!(
                "file {}/main.cf: parameter mail_owner: unknown user name value: {}",
                dir.display(),
                name
            )
        });
        if id.uid.is_root() {
            fatal!(
                "file {}/main.cf: parameter mail_owner: user {} has privileged user ID",
                dir.display(),
                name
            );
        }
        Some((id.uid, id.gid))
    } else {
        None
    };
    let throttle = cfg
        .time(&params::SERVICE_THROTTLE_TIME)
        .unwrap_or_else(|e| fatal!("{e}"));
    let mut env = Vec::new();
    for item in cfg
        .list(&params::IMPORT_ENVIRONMENT)
        .unwrap_or_else(|e| fatal!("{e}"))
    {
        match item.split_once('=') {
            Some(_) => env.push(item),
            None => {
                if item == "MAIL_CONFIG" || item == daemon::master_proto::GENERATION_ENV {
                    continue;
                }
                if let Ok(v) = std::env::var(&item) {
                    env.push(format!("{item}={v}"));
                }
            }
        }
    }
    Settings {
        config_dir: dir.to_path_buf(),
        owner,
        throttle,
        env,
    }
}

fn main() {
    let opts = parse_options();
    daemon::log::init(None, "master");
    let dir = opts
        .config_dir
        .clone()
        .unwrap_or_else(config::config_dir_from_env);
    // Absolute, since the daemons run in the queue directory.
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let (cfg, defs) = match load(&dir, opts.verbose) {
        Ok(v) => v,
        Err(errors) => {
            // Log to the configured place if main.cf itself was readable.
            if let Ok(cfg) = Config::load(&dir) {
                daemon::log::init(Some(&cfg), "master");
                daemon::log::set_stderr(true);
            }
            for e in &errors[..errors.len() - 1] {
                daemon::log::log_str(daemon::log::Level::Error, e);
            }
            fatal!("{}", errors[errors.len() - 1]);
        }
    };
    let queue_dir = PathBuf::from(
        cfg.str(&params::QUEUE_DIRECTORY)
            .unwrap_or_else(|e| fatal!("{e}")),
    );
    let pid_file = queue_dir
        .join(
            cfg.str(&params::PROCESS_ID_DIRECTORY)
                .unwrap_or_else(|e| fatal!("{e}")),
        )
        .join("master.pid");
    if opts.test {
        std::process::exit(if pid::is_locked(&pid_file) { 1 } else { 0 });
    }
    daemon::log::init(Some(&cfg), "master");
    daemon::log::set_verbose(opts.verbose);
    daemon::log::set_never_block();
    if opts.init_mode && std::process::id() != 1 {
        fatal!("-i is allowed only for the process with ID 1 (init mode)");
    }
    let handshake = if opts.wait {
        Some(
            sys::process::fork_and_wait(Duration::from_secs(120))
                .unwrap_or_else(|e| fatal!("fork: {e}")),
        )
    } else {
        None
    };
    // Leave the caller's session so that its signals do not reach us.
    if !opts.debug && !opts.init_mode {
        let _ = nix::unistd::setsid();
    }
    if let Err(e) = std::env::set_current_dir(&queue_dir) {
        fatal!("chdir({}): {}", queue_dir.display(), e);
    }
    let _lock = pid::lock(&pid_file).unwrap_or_else(|e| fatal!("{e}"));
    let signals = sys::signals::Signals::block(&[
        Signal::SIGCHLD,
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ])
    .unwrap_or_else(|e| fatal!("signals: {e}"));
    sys::signals::ignore(Signal::SIGPIPE);
    let mut master = Master::new(settings(&cfg, &dir));
    if let Err(e) = master.install(defs) {
        fatal!("{e}");
    }
    master.log_services();
    info!(
        "daemon started -- version {}, configuration {}",
        config::params::MAIL_VERSION.0.default,
        dir.display()
    );
    if !opts.debug {
        let _ = sys::process::stdio_to_null(opts.keep_stdout || opts.init_mode, false);
        daemon::log::set_stderr(false);
    }
    if let Some(h) = handshake {
        h.ready();
    }
    let exit_at = opts.exit_after.map(|d| Instant::now() + d);
    loop {
        if exit_at.is_some_and(|t| Instant::now() >= t) {
            info!("master exit time has arrived");
            std::process::exit(0);
        }
        match master.poll_once(&signals, exit_at) {
            Next::Continue => {}
            Next::Reload => match load(&dir, opts.verbose) {
                Ok((cfg, defs)) => {
                    daemon::log::init(Some(&cfg), "master");
                    daemon::log::set_never_block();
                    info!(
                        "reload -- version {}, configuration {}",
                        config::params::MAIL_VERSION.0.default,
                        dir.display()
                    );
                    master.set_settings(settings(&cfg, &dir));
                    if let Err(e) = master.install(defs) {
                        warn!("{e}; configuration not reloaded");
                    }
                    master.log_services();
                }
                Err(errors) => {
                    for e in errors {
                        warn!("{e}");
                    }
                    warn!("configuration not reloaded: keeping the old configuration");
                }
            },
            Next::Terminate(sig) => {
                // postlogd is about to go too: write this line directly.
                daemon::log::bypass_postlog();
                info!("terminating on signal {}", sig as i32);
                master.terminate_children(Duration::from_secs(2));
                std::process::exit(0);
            }
        }
    }
}
