//! # NAME
//! options — the sendmail(1) command line
//!
//! ## SYNOPSIS
//! ```ignore
//! let opts = options::parse("sendmail", args)?;
//! ```
//!
//! ## DESCRIPTION
//! Sendmail-style options: one letter, the value attached or in the next
//! argument; `-o` and `-b` and `-q` take their letter attached. The names
//! `mailq` and `newaliases` select `-bp` and `-bi`. Options Postfix
//! ignores are accepted and ignored.
//!
//! ## SEE ALSO
//! sendmail(1)

use std::path::PathBuf;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Deliver,
    Mailq,
    Newaliases,
    Daemon,
    Smtp,
    Verify,
    Flush,
    FlushSite(String),
    FlushId(String),
    /// `-q30m`: a daemon queue interval; nothing to do.
    Nothing,
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub config_dir: Option<PathBuf>,
    pub sender: Option<String>,
    pub full_name: Option<String>,
    pub extract: bool,
    pub dot_is_data: bool,
    /// DSN NOTIFY bits (queue's encoding: 1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY).
    pub notify: u32,
    /// DSN RET: 1 FULL, 2 HDRS.
    pub ret: u32,
    pub envid: Option<String>,
    pub body_type: Option<String>,
    pub verbose: u32,
    pub recipients: Vec<String>,
}

pub const NOTIFY_NEVER: u32 = 1;
pub const NOTIFY_SUCCESS: u32 = 2;
pub const NOTIFY_FAILURE: u32 = 4;
pub const NOTIFY_DELAY: u32 = 8;

fn notify(v: &str) -> Result<u32, String> {
    let mut bits = 0;
    for w in v.split(',') {
        bits |= match w.trim().to_ascii_lowercase().as_str() {
            "never" => NOTIFY_NEVER,
            "success" => NOTIFY_SUCCESS,
            "failure" => NOTIFY_FAILURE,
            "delay" => NOTIFY_DELAY,
            _ => return Err(format!("bad -N option value: {v}")),
        };
    }
    if bits & NOTIFY_NEVER != 0 && bits != NOTIFY_NEVER {
        return Err(format!("bad -N option value: {v}"));
    }
    Ok(bits)
}

pub fn parse(name: &str, args: Vec<String>) -> Result<Options, String> {
    let mut o = Options {
        mode: match name {
            "mailq" => Mode::Mailq,
            "newaliases" => Mode::Newaliases,
            _ => Mode::Deliver,
        },
        config_dir: None,
        sender: None,
        full_name: None,
        extract: false,
        dot_is_data: false,
        notify: 0,
        ret: 0,
        envid: None,
        body_type: None,
        verbose: 0,
        recipients: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a.len() < 2 {
            break;
        }
        let letter = a.as_bytes()[1] as char;
        let attached = &a[2..];
        let value = |i: &mut usize| -> Result<String, String> {
            if !attached.is_empty() {
                return Ok(attached.to_string());
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("option requires an argument -- '{letter}'"))
        };
        match letter {
            'B' => o.body_type = Some(value(&mut i)?),
            'C' => {
                let v = PathBuf::from(value(&mut i)?);
                // A main.cf path or its directory.
                o.config_dir = Some(if v.is_dir() {
                    v
                } else {
                    v.parent().map(PathBuf::from).unwrap_or(v)
                });
            }
            'F' => o.full_name = Some(value(&mut i)?),
            'N' => o.notify = notify(&value(&mut i)?)?,
            'R' => {
                o.ret = match value(&mut i)?.to_ascii_lowercase().as_str() {
                    "full" => 1,
                    "hdrs" => 2,
                    v => return Err(format!("bad -R option value: {v}")),
                }
            }
            'V' => o.envid = Some(value(&mut i)?),
            'f' | 'r' => o.sender = Some(value(&mut i)?),
            'L' | 'O' | 'X' | 'e' | 'h' | 'p' => {
                value(&mut i)?;
            }
            'G' | 'U' | 'c' | 'm' | 'n' | 'x' => {}
            'I' => o.mode = Mode::Newaliases,
            'i' => o.dot_is_data = true,
            't' => o.extract = true,
            'v' => o.verbose += 1,
            'o' => match attached {
                "i" => o.dot_is_data = true,
                "" => return Err("option requires an argument -- 'o'".into()),
                _ => {}
            },
            'b' => {
                o.mode = match attached {
                    "m" => Mode::Deliver,
                    "p" => Mode::Mailq,
                    "i" => Mode::Newaliases,
                    "d" | "D" | "l" => Mode::Daemon,
                    "s" => Mode::Smtp,
                    "v" => Mode::Verify,
                    "" => return Err("option requires an argument -- 'b'".into()),
                    m => Mode::Unsupported(m.to_string()),
                }
            }
            'q' => {
                o.mode = match attached.chars().next() {
                    None => Mode::Flush,
                    Some('R') => Mode::FlushSite(attached[1..].to_string()),
                    Some('I') => Mode::FlushId(attached[1..].to_string()),
                    Some(c) if c.is_ascii_digit() => Mode::Nothing,
                    Some(_) => return Err(format!("bad -q option: {a}")),
                };
            }
            _ => return Err(format!("invalid option -- '{letter}'")),
        }
        i += 1;
    }
    o.recipients = args[i.min(args.len())..].to_vec();
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Options {
        parse("sendmail", args.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn common_invocations() {
        let o = p(&["-t", "-i", "-f", "root@example.com", "-F", "Cron Daemon"]);
        assert!(o.extract && o.dot_is_data);
        assert_eq!(o.sender.as_deref(), Some("root@example.com"));
        assert_eq!(o.full_name.as_deref(), Some("Cron Daemon"));
        let o = p(&["-oi", "-oem", "-fsender", "--", "a@b", "c@d"]);
        assert!(o.dot_is_data);
        assert_eq!(o.sender.as_deref(), Some("sender"));
        assert_eq!(o.recipients, ["a@b", "c@d"]);
        assert_eq!(p(&["-bp"]).mode, Mode::Mailq);
        assert_eq!(
            p(&["-qRexample.com"]).mode,
            Mode::FlushSite("example.com".into())
        );
        assert_eq!(p(&["-q"]).mode, Mode::Flush);
        let o = p(&["-N", "success,delay", "-R", "hdrs", "-V", "ENV1", "x@y"]);
        assert_eq!(o.notify, NOTIFY_SUCCESS | NOTIFY_DELAY);
        assert_eq!(o.ret, 2);
        assert_eq!(parse("mailq", vec![]).unwrap().mode, Mode::Mailq);
        assert_eq!(parse("newaliases", vec![]).unwrap().mode, Mode::Newaliases);
    }

    #[test]
    fn bad_options() {
        assert!(parse("sendmail", vec!["-f".into()]).is_err());
        assert!(parse("sendmail", vec!["-N".into(), "never,success".into()]).is_err());
        assert!(parse("sendmail", vec!["-Z".into()]).is_err());
    }
}
