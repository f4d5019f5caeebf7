//! # NAME
//! master_cf — read the master.cf file
//!
//! ## SYNOPSIS
//! ```ignore
//! let services = master_cf::parse(&text, path)?;
//! for s in &services { println!("{}/{} {}", s.name, s.kind, s.command); }
//! ```
//!
//! ## DESCRIPTION
//! The syntax of master(5). Logical lines continue as in main.cf. Each has
//! the fields `service type private unpriv chroot wakeup maxproc command
//! [args...]`; `-` in a field selects the built-in default. Arguments are
//! separated by whitespace; `{ text }` makes one argument of text with
//! whitespace in it. `-o name=value`, `-o { name = value }` and
//! `-oname=value` set a parameter for that service only.
//!
//! A field that is not valid is an error that names the file and line; so
//! is a service defined twice.
//!
//! ## SEE ALSO
//! master(5), [`crate::main_cf::logical_lines`]

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ConfigError;
use crate::main_cf::logical_lines;

/// The transport type column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    Inet,
    Unix,
    UnixDgram,
    Fifo,
    Pass,
}

impl ServiceType {
    pub fn parse(s: &str) -> Option<ServiceType> {
        Some(match s {
            "inet" => ServiceType::Inet,
            "unix" => ServiceType::Unix,
            "unix-dgram" => ServiceType::UnixDgram,
            "fifo" => ServiceType::Fifo,
            "pass" => ServiceType::Pass,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Inet => "inet",
            ServiceType::Unix => "unix",
            ServiceType::UnixDgram => "unix-dgram",
            ServiceType::Fifo => "fifo",
            ServiceType::Pass => "pass",
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wakeup column: a period in seconds; `conditional` for the `N?` form
/// (wake only a service that has been used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wakeup {
    pub seconds: u32,
    pub conditional: bool,
}

/// One master.cf entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service column as written (`smtp`, `127.0.0.1:smtp`, `[::1]:25`).
    pub name: String,
    pub kind: ServiceType,
    /// The columns as written, for tools that print them back.
    pub fields: [String; 7],
    /// `None` when the column is `-`.
    pub private: Option<bool>,
    pub unpriv: Option<bool>,
    pub chroot: Option<bool>,
    /// `None` for `-` or `0`: never woken.
    pub wakeup: Option<Wakeup>,
    /// `None` for `-` (use `default_process_limit`); `Some(0)` is no limit.
    pub maxproc: Option<u32>,
    pub command: String,
    /// Arguments after the command; a `{ }` group is one argument with its
    /// braces kept, as written.
    pub args: Vec<String>,
    /// The `-o` settings, in order, with `{ }` and the space around `=`
    /// removed.
    pub overrides: Vec<(String, String)>,
    /// 1-based line number of the entry.
    pub line: usize,
}

impl Service {
    /// `name/type`, the way postconf(1) and the logs name a service.
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.kind)
    }

    /// The arguments with `-o` settings taken out, `{ }` groups unwrapped:
    /// what the daemon itself interprets (the pipe(8) `flags=` etc.).
    pub fn plain_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == "-o" {
                it.next();
            } else if a.starts_with("-o") {
                continue;
            } else {
                out.push(unwrap_group(a).to_string());
            }
        }
        out
    }
}

/// `{ text }` -> `text`; anything else as it is.
pub fn unwrap_group(a: &str) -> &str {
    match a.strip_prefix('{') {
        Some(inner) => inner.strip_suffix('}').unwrap_or(inner).trim(),
        None => a,
    }
}

/// Splits `name = value` as found in a `-o` argument.
pub fn split_override(arg: &str) -> Option<(String, String)> {
    let (name, value) = unwrap_group(arg).split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    Some((name.to_string(), value.trim().to_string()))
}

/// Splits the arguments of a master.cf line, keeping `{ ... }` groups
/// whole. Returns a warning text for an unclosed group.
pub fn split_args(text: &str) -> (Vec<String>, Option<String>) {
    let mut out = Vec::new();
    let mut warning = None;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if b[i] == b'{' {
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            if i >= b.len() {
                warning = Some(format!("missing '}}' in \"{}\"", &text[start..]));
                out.push(format!("{}}}", &text[start..]));
            } else {
                i += 1;
                out.push(text[start..i].to_string());
            }
            continue;
        }
        // "-o{ name = value }" is "-o" and a group.
        if text[i..].starts_with("-o{") {
            out.push("-o".to_string());
            i += 2;
            continue;
        }
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        out.push(text[start..i].to_string());
    }
    (out, warning)
}

/// Parses master.cf text. `path` is used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Service>, ConfigError> {
    parse_with_warnings(text, path).map(|(s, _)| s)
}

/// Like [`parse`], also returning the warnings (unclosed `{`) that
/// Postfix reports and tolerates.
pub fn parse_with_warnings(
    text: &str,
    path: &Path,
) -> Result<(Vec<Service>, Vec<String>), ConfigError> {
    let mut services: Vec<Service> = Vec::new();
    let mut warnings = Vec::new();
    for l in logical_lines(text) {
        let err = |message: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: l.first + 1,
            message,
        };
        let (args, warning) = split_args(&l.text);
        warnings.extend(warning);
        if args.len() < 8 {
            return Err(err("bad field count".to_string()));
        }
        let line_text = l.text.trim();
        let invalid =
            |what: &str, v: &str| err(format!("invalid {what} field \"{v}\" in \"{line_text}\""));
        let kind = ServiceType::parse(&args[1]).ok_or_else(|| invalid("type", &args[1]))?;
        let yes_no = |what: &str, v: &str| -> Result<Option<bool>, ConfigError> {
            match v {
                "-" => Ok(None),
                "y" => Ok(Some(true)),
                "n" => Ok(Some(false)),
                _ => Err(invalid(what, v)),
            }
        };
        let private = yes_no("private", &args[2])?;
        let unpriv = yes_no("unprivileged", &args[3])?;
        let chroot = yes_no("chroot", &args[4])?;
        let wakeup = match args[5].as_str() {
            "-" => None,
            w => {
                let (digits, conditional) = match w.strip_suffix('?') {
                    Some(d) => (d, true),
                    None => (w, false),
                };
                let seconds: u32 = digits
                    .parse()
                    .ok()
                    .filter(|_| digits.bytes().all(|c| c.is_ascii_digit()))
                    .ok_or_else(|| invalid("wakeup", w))?;
                (seconds > 0).then_some(Wakeup {
                    seconds,
                    conditional,
                })
            }
        };
        let maxproc = match args[6].as_str() {
            "-" => None,
            m => Some(
                m.parse::<u32>()
                    .ok()
                    .filter(|_| m.bytes().all(|c| c.is_ascii_digit()))
                    .ok_or_else(|| invalid("process_limit", m))?,
            ),
        };
        if kind == ServiceType::Inet && private == Some(true) {
            return Err(err(format!(
                "inet service cannot be private: \"{line_text}\""
            )));
        }
        let rest: Vec<String> = args[8..].to_vec();
        let mut overrides = Vec::new();
        let mut it = rest.iter();
        while let Some(a) = it.next() {
            let setting = if a == "-o" {
                it.next().map(String::as_str)
            } else {
                a.strip_prefix("-o")
            };
            if let Some(s) = setting {
                if let Some(kv) = split_override(s) {
                    overrides.push(kv);
                }
            }
        }
        let fields: [String; 7] = std::array::from_fn(|i| args[i].clone());
        let svc = Service {
            name: args[0].clone(),
            kind,
            fields,
            private,
            unpriv,
            chroot,
            wakeup,
            maxproc,
            command: args[7].clone(),
            args: rest,
            overrides,
            line: l.first + 1,
        };
        if let Some(prev) = services
            .iter()
            .find(|s| s.name == svc.name && s.kind == svc.kind)
        {
            return Err(err(format!(
                "duplicate service definition \"{}\" (first at line {})",
                svc.id(),
                prev.line
            )));
        }
        services.push(svc);
    }
    Ok((services, warnings))
}

/// Where a master.cf came from, for messages.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join("master.cf")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Service>, ConfigError> {
        parse(text, Path::new("master.cf"))
    }

    #[test]
    fn stock_lines() {
        let s = p("smtp inet n - n - - smtpd\npickup unix n - n 60 1 pickup\n\
                   tlsmgr unix - - n 1000? 1 tlsmgr\nrelay unix - - n - - smtp\n  -o syslog_name=postfix/$service_name\n\
                   postlog unix-dgram n - n - 1 postlogd\n")
        .unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].kind, ServiceType::Inet);
        assert_eq!(s[0].private, Some(false));
        assert_eq!(
            s[1].wakeup,
            Some(Wakeup {
                seconds: 60,
                conditional: false
            })
        );
        assert_eq!(s[1].maxproc, Some(1));
        assert_eq!(
            s[2].wakeup,
            Some(Wakeup {
                seconds: 1000,
                conditional: true
            })
        );
        assert_eq!(
            s[3].overrides,
            [(
                "syslog_name".to_string(),
                "postfix/$service_name".to_string()
            )]
        );
        assert_eq!(s[3].line, 4);
        assert_eq!(s[4].kind, ServiceType::UnixDgram);
        assert_eq!(s[4].id(), "postlog/unix-dgram");
    }

    #[test]
    fn grouped_overrides_and_args() {
        let s = p("smtp inet n - n - - smtpd -o { smtpd_banner = a b } -o{ x = 1 } -oy=2\n\
                   maildrop unix - n n - - pipe\n  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}\n")
        .unwrap();
        assert_eq!(
            s[0].overrides,
            [
                ("smtpd_banner".into(), "a b".into()),
                ("x".into(), "1".into()),
                ("y".into(), "2".into())
            ]
        );
        assert_eq!(
            s[1].plain_args(),
            [
                "flags=DRXhu",
                "user=vmail",
                "argv=/usr/bin/maildrop",
                "-d",
                "${recipient}"
            ]
        );
    }

    #[test]
    fn errors() {
        let e = p("smtp inet n - n - -\n").unwrap_err();
        assert_eq!(e.to_string(), "master.cf, line 1: bad field count");
        let e = p("# c\nsmtp foo n - n - - smtpd\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "master.cf, line 2: invalid type field \"foo\" in \"smtp foo n - n - - smtpd\""
        );
        assert!(p("smtp inet n - n abc - smtpd\n").is_err());
        assert!(p("smtp inet n - n - x smtpd\n").is_err());
        assert!(p("smtp inet n - n 5?? - smtpd\n").is_err());
        assert!(p("a unix - - n - - x\na unix - - n - - y\n").is_err());
        assert!(p("a unix - - n - - x\na inet n - n - - y\n").is_ok());
    }

    #[test]
    fn unclosed_group_is_a_warning() {
        let (s, w) = parse_with_warnings(
            "smtp inet n - n - - smtpd -o { smtpd_banner = a b\n",
            Path::new("m"),
        )
        .unwrap();
        assert_eq!(w, ["missing '}' in \"{ smtpd_banner = a b\""]);
        assert_eq!(s[0].overrides, [("smtpd_banner".into(), "a b".into())]);
    }
}
