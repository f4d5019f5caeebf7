//! # NAME
//! log — Postfix-format logging to syslog, to postlogd(8) or to a file
//!
//! ## SYNOPSIS
//! ```ignore
//! daemon::log::init(Some(&cfg), "smtpd");
//! info!("connect from {}", peer);
//! warn!("non-SMTP command from {}: {:.100}", peer, Untrusted(&line));
//! fatal!("open {}: {}", path.display(), err);     // logs, exits 1
//! ```
//!
//! ## DESCRIPTION
//! A line is `TAG[PID]: [level: ]text`, where TAG is
//! `$syslog_name/process` (`postfix/smtpd`, or `postfix/submission/smtpd`
//! with `-o syslog_name=postfix/submission`). Where it goes:
//!
//! * with `maillog_file` set, to the postlogd(8) service as one datagram
//!   (`$queue_directory/public/$postlog_service_name`); when that service
//!   cannot be reached, straight to the file if this process can open it
//!   (postfix(1) and the master before postlogd is up), else to stderr;
//! * otherwise to syslog(3) through `/dev/log`, with `syslog_facility`;
//! * also to stderr when stderr is a terminal or [`set_stderr`] asked for
//!   it, as `TAG: text` (Postfix's form for a terminal).
//!
//! [`Untrusted`] makes a string of outside origin printable (`?` for
//! anything else) and honours a precision (`{:.100}`) as a length bound.
//! `fatal!` exits with status 1; a panic is logged as `panic: ...` by the
//! hook that [`init`] installs.
//!
//! ## SEE ALSO
//! postlogd(8), postlog(1), MAILLOG_README

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use config::{Config, params};

/// Severity, as Postfix writes it before the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warning,
    Error,
    Fatal,
    Panic,
}

impl Level {
    fn prefix(self) -> &'static str {
        match self {
            Level::Info => "",
            Level::Warning => "warning: ",
            Level::Error => "error: ",
            Level::Fatal => "fatal: ",
            Level::Panic => "panic: ",
        }
    }

    fn syslog_severity(self) -> u8 {
        match self {
            Level::Info => 6,
            Level::Warning => 4,
            Level::Error => 3,
            Level::Fatal => 2,
            Level::Panic => 0,
        }
    }
}

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sink {
    /// postlogd socket, and the file to write when it is down.
    Postlog { socket: PathBuf, file: PathBuf },
    /// syslog(3) via /dev/log with this facility code.
    Syslog { facility: u8 },
    /// stderr only (before configuration is known).
    Stderr,
}

struct Logger {
    never_block: bool,
    tag: String,
    /// What stderr lines start with instead of the tag, if set.
    stderr_name: Option<String>,
    host: String,
    sink: Sink,
    stderr: bool,
    verbose: u32,
    socket: Option<UnixDatagram>,
}

static LOGGER: OnceLock<Mutex<Logger>> = OnceLock::new();

fn logger() -> &'static Mutex<Logger> {
    LOGGER.get_or_init(|| {
        let name = std::env::args()
            .next()
            .map(|a| a.rsplit('/').next().unwrap_or("").to_string())
            .unwrap_or_default();
        Mutex::new(Logger {
            never_block: false,
            tag: format!("postfix/{name}"),
            stderr_name: None,
            host: short_host(&config::computed::system_hostname()),
            sink: Sink::Stderr,
            stderr: true,
            verbose: 0,
            socket: None,
        })
    })
}

fn short_host(h: &str) -> String {
    h.split('.').next().unwrap_or(h).to_string()
}

/// Facility names of syslog_facility.
fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// Why `maillog_file` may not be used.
pub fn check_maillog_prefix(cfg: &Config) -> Result<(), String> {
    let file = cfg.str(&params::MAILLOG_FILE).map_err(|e| e.to_string())?;
    if file.is_empty() {
        return Ok(());
    }
    let prefixes = cfg
        .list(&params::MAILLOG_FILE_PREFIXES)
        .map_err(|e| e.to_string())?;
    if prefixes.iter().any(|p| file.starts_with(p.as_str())) {
        Ok(())
    } else {
        Err(format!(
            "maillog_file value '{file}' does not match any prefix in maillog_file_prefixes"
        ))
    }
}

/// Sets up logging for `process` (`smtpd`, `postfix-script`) from `cfg`.
/// Without a configuration, logs to stderr only. Installs the panic hook.
pub fn init(cfg: Option<&Config>, process: &str) {
    let mut l = logger().lock().unwrap_or_else(|e| e.into_inner());
    let mut syslog_name = "postfix".to_string();
    if let Some(cfg) = cfg {
        if let Ok(n) = cfg.str(&params::SYSLOG_NAME)
            && !n.is_empty()
        {
            syslog_name = n;
        }
        if let Ok(h) = cfg.str(&params::MYHOSTNAME) {
            l.host = short_host(&h);
        }
        if let Ok(h) = std::env::var("POSTLOG_HOSTNAME")
            && !h.is_empty()
        {
            l.host = short_host(&h);
        }
        let file = cfg.str(&params::MAILLOG_FILE).unwrap_or_default();
        l.sink = if !file.is_empty() {
            let queue = cfg.str(&params::QUEUE_DIRECTORY).unwrap_or_default();
            let service = cfg
                .str(&params::POSTLOG_SERVICE_NAME)
                .unwrap_or_else(|_| "postlog".into());
            let socket = match std::env::var("POSTLOG_SERVICE") {
                Ok(s) if !s.is_empty() => PathBuf::from(s),
                _ => Path::new(&queue).join("public").join(service),
            };
            Sink::Postlog {
                socket,
                file: PathBuf::from(file),
            }
        } else {
            let fac = cfg.str(&params::SYSLOG_FACILITY).unwrap_or_default();
            Sink::Syslog {
                facility: facility_code(&fac).unwrap_or(2),
            }
        };
        l.stderr = std::io::IsTerminal::is_terminal(&std::io::stderr());
    }
    l.tag = if process.is_empty() {
        syslog_name
    } else {
        format!("{syslog_name}/{process}")
    };
    drop(l);
    install_panic_hook();
}

/// Also (or no longer) copies every line to stderr.
pub fn set_stderr(on: bool) {
    logger().lock().unwrap_or_else(|e| e.into_inner()).stderr = on;
}

/// Writes lines straight to `maillog_file`, never through the postlogd
/// socket: for postlogd(8) itself, which must not talk to itself.
pub fn bypass_postlog() {
    let mut l = logger().lock().unwrap_or_else(|e| e.into_inner());
    if let Sink::Postlog { file, .. } = &l.sink {
        l.sink = Sink::Postlog {
            socket: PathBuf::new(),
            file: file.clone(),
        };
    }
}

/// Never waits for postlogd(8): when its queue is full, the line goes
/// straight to the file. For master(8), which must not block.
pub fn set_never_block() {
    let mut l = logger().lock().unwrap_or_else(|e| e.into_inner());
    l.never_block = true;
    l.socket = None;
}

/// Increases the verbosity (`-v`).
pub fn set_verbose(level: u32) {
    logger().lock().unwrap_or_else(|e| e.into_inner()).verbose = level;
}

pub fn verbose() -> u32 {
    logger().lock().unwrap_or_else(|e| e.into_inner()).verbose
}

/// Makes relative socket paths work after chdir/chroot: daemons call this
/// once they are in the queue directory.
pub fn use_relative_socket(queue_directory: &Path) {
    let mut l = logger().lock().unwrap_or_else(|e| e.into_inner());
    if let Sink::Postlog { socket, .. } = &mut l.sink
        && let Ok(rel) = socket.strip_prefix(queue_directory)
    {
        *socket = rel.to_path_buf();
    }
}

/// Starts stderr lines with `name` instead of the tag, as Postfix's
/// commands do (`postsuper: Deleted: 3 messages`, while the log says
/// `postfix/postsuper[PID]: Deleted: 3 messages`).
pub fn set_stderr_name(name: &str) {
    logger()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .stderr_name = Some(name.to_string());
}

/// Replaces the tag (postlog(1) `-t`).
pub fn set_tag(tag: &str) {
    logger().lock().unwrap_or_else(|e| e.into_inner()).tag = tag.to_string();
}

/// The tag lines start with (`postfix/smtpd`).
pub fn tag() -> String {
    logger()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tag
        .clone()
}

/// Logs one line; the macros call this.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    let mut text = String::new();
    let _ = text.write_fmt(args);
    log_str(level, &text);
}

/// Logs a pre-formatted line.
pub fn log_str(level: Level, text: &str) {
    let mut l = logger().lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    // One line per record: a newline inside would forge a second one.
    let text: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let body = format!("{}[{}]: {}{}", l.tag, pid, level.prefix(), text);
    let name = l.stderr_name.clone().unwrap_or_else(|| l.tag.clone());
    if l.stderr || l.sink == Sink::Stderr {
        let _ = writeln!(std::io::stderr(), "{}: {}{}", name, level.prefix(), text);
    }
    match l.sink.clone() {
        Sink::Stderr => {}
        Sink::Postlog { socket, file } => {
            if !send_postlog(&mut l, &socket, &body) {
                let line = format_file_line(&l.host, &body);
                if append(&file, &line).is_err() && !l.stderr {
                    let _ = writeln!(std::io::stderr(), "{}: {}{}", name, level.prefix(), text);
                }
            }
        }
        Sink::Syslog { facility } => {
            let pri = facility * 8 + level.syslog_severity();
            let tm = sys::time::local(std::time::SystemTime::now());
            let msg = format!(
                "<{}>{} {:2} {:02}:{:02}:{:02} {}",
                pri,
                tm.month_abbrev(),
                tm.day,
                tm.hour,
                tm.min,
                tm.sec,
                body
            );
            let sent = UnixDatagram::unbound().and_then(|s| s.send_to(msg.as_bytes(), "/dev/log"));
            if sent.is_err() && !l.stderr {
                let _ = writeln!(std::io::stderr(), "{}: {}{}", name, level.prefix(), text);
            }
        }
    }
}

fn send_postlog(l: &mut Logger, socket: &Path, body: &str) -> bool {
    if socket.as_os_str().is_empty() {
        return false;
    }
    if l.socket.is_none() {
        l.socket = UnixDatagram::unbound().ok();
        if let Some(s) = &l.socket {
            // A full postlogd queue must not stall a daemon for long, nor
            // master(8) at all: master is the one that starts postlogd.
            if l.never_block {
                let _ = s.set_nonblocking(true);
            } else {
                let _ = s.set_write_timeout(Some(std::time::Duration::from_secs(1)));
            }
        }
    }
    match &l.socket {
        Some(s) => s.send_to(body.as_bytes(), socket).is_ok(),
        None => false,
    }
}

/// A line of the log file: `Mon dd hh:mm:ss host TAG[PID]: text`.
pub fn format_file_line(host: &str, body: &str) -> String {
    let tm = sys::time::local(std::time::SystemTime::now());
    format!(
        "{} {:2} {:02}:{:02}:{:02} {} {}\n",
        tm.month_abbrev(),
        tm.day,
        tm.hour,
        tm.min,
        tm.sec,
        host,
        body
    )
}

/// Appends one line to a log file (or writes it to /dev/stdout).
pub fn append(file: &Path, line: &str) -> std::io::Result<()> {
    if file == Path::new("/dev/stdout") {
        return std::io::stdout().write_all(line.as_bytes());
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)?;
    f.write_all(line.as_bytes())
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            log_str(Level::Panic, &format!("{msg}{at}"));
        }));
    });
}

/// A string of outside origin: printed with non-printable characters as
/// `?`, cut at the precision if one is given (`{:.100}`).
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = f.precision().unwrap_or(usize::MAX);
        for c in self.0.chars().take(limit) {
            let printable = !c.is_control() && (c.is_ascii_graphic() || c == ' ' || !c.is_ascii());
            f.write_char(if printable { c } else { '?' })?;
        }
        Ok(())
    }
}

/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// Logs a `warning:` line.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warning, format_args!($($arg)*)) };
}

/// Logs an `error:` line.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// Logs a `fatal:` line and exits with status 1.
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)*) => {{
        $crate::log::log($crate::log::Level::Fatal, format_args!($($arg)*));
        ::std::process::exit(1)
    }};
}

/// Logs at info level when `-v` was given at least `$level` times.
#[macro_export]
macro_rules! verbose {
    ($($arg:tt)*) => {
        if $crate::log::verbose() > 0 {
            $crate::log::log($crate::log::Level::Info, format_args!($($arg)*))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_is_printable_and_bounded() {
        assert_eq!(
            format!("{}", Untrusted("GET / HTTP/1.0\r\n")),
            "GET / HTTP/1.0??"
        );
        assert_eq!(format!("{:.3}", Untrusted("abcdef")), "abc");
        assert_eq!(format!("{}", Untrusted("rööt\x1b[31m")), "rööt?[31m");
    }

    #[test]
    fn file_line_shape() {
        let l = format_file_line("mx", "postfix/smtpd[7]: connect from x");
        assert!(l.ends_with(" mx postfix/smtpd[7]: connect from x\n"));
        assert_eq!(&l[3..4], " ");
    }
}
