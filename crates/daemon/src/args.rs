//! # NAME
//! args — the generic daemon options that master(8) passes
//!
//! ## SYNOPSIS
//! `daemon` [`-cdluvz`] [`-n` *service*] [`-o` *name=value*]... [`-s` *count*]
//! [`-t` *type*] [*daemon arguments*...]
//!
//! ## DESCRIPTION
//! * `-c`: chroot to `queue_directory` (the master.cf chroot column).
//! * `-d`: debug: also log to stderr; may run without master(8).
//! * `-l`: the service has a process limit of 1.
//! * `-n` *service*: the master.cf service name (default: the program name);
//!   sets `$service_name`.
//! * `-o` *name=value* (also `-oname=value`): override a main.cf parameter.
//! * `-s` *count*: the number of listeners, from descriptor 6 up (default 1).
//! * `-t` *type*: `inet`, `unix`, `unix-dgram`, `fifo` or `pass`.
//! * `-u`: drop privileges to `mail_owner` (the master.cf unpriv column).
//! * `-v`: more verbose logging; repeat for more.
//! * `-z`: stand-alone: serve the one client on stdin and stdout, then exit
//!   (for tests and for debugging by hand).
//!
//! Options end at the first argument that is not one; the rest belong to
//! the daemon (pipe(8) `flags=... argv=...`).
//!
//! ## SEE ALSO
//! master(5) "Command name + arguments", [`crate::server`]

use config::ServiceType;

/// Parsed generic options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonArgs {
    pub chroot: bool,
    pub debug: bool,
    pub solitary: bool,
    pub service: String,
    pub overrides: Vec<(String, String)>,
    pub sockets: usize,
    pub kind: Option<ServiceType>,
    pub unprivileged: bool,
    pub verbose: u32,
    pub stdio: bool,
    pub rest: Vec<String>,
}

/// Parses the options after argv[0].
pub fn parse(program: &str, args: &[String]) -> Result<DaemonArgs, String> {
    let mut a = DaemonArgs {
        chroot: false,
        debug: false,
        solitary: false,
        service: program.to_string(),
        overrides: Vec::new(),
        sockets: 1,
        kind: None,
        unprivileged: false,
        verbose: 0,
        stdio: false,
        rest: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            break;
        };
        let chars = flags.char_indices();
        for (pos, c) in chars {
            let mut value = || -> Result<String, String> {
                let attached = &flags[pos + 1..];
                if !attached.is_empty() {
                    Ok(attached.to_string())
                } else {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("option requires an argument -- '{c}'"))
                }
            };
            match c {
                'c' => a.chroot = true,
                'd' => a.debug = true,
                'l' => a.solitary = true,
                'u' => a.unprivileged = true,
                'v' => a.verbose += 1,
                'z' => a.stdio = true,
                'n' | 'o' | 's' | 't' => {
                    let v = value()?;
                    match c {
                        'n' => a.service = v,
                        'o' => {
                            let (name, value) = config::master_cf::split_override(&v)
                                .ok_or_else(|| format!("bad parameter override: \"{v}\""))?;
                            a.overrides.push((name, value));
                        }
                        's' => {
                            a.sockets = v
                                .parse()
                                .map_err(|_| format!("bad socket count: \"{v}\""))?;
                        }
                        _ => {
                            a.kind = Some(
                                ServiceType::parse(&v)
                                    .ok_or_else(|| format!("bad service type: \"{v}\""))?,
                            );
                        }
                    }
                    break;
                }
                _ => return Err(format!("invalid option -- '{c}'")),
            }
        }
        i += 1;
    }
    a.rest = args[i.min(args.len())..].to_vec();
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<DaemonArgs, String> {
        parse(
            "pickup",
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn master_style_arguments() {
        let a = p(&["-l", "-t", "unix", "-u", "-c"]).unwrap();
        assert!(a.solitary && a.unprivileged && a.chroot);
        assert_eq!(a.kind, Some(ServiceType::Unix));
        assert_eq!(a.service, "pickup");
        let a = p(&[
            "-n",
            "relay",
            "-t",
            "unix",
            "-o",
            "syslog_name=postfix/relay",
            "-ofoo=bar baz",
            "-vv",
        ])
        .unwrap();
        assert_eq!(a.service, "relay");
        assert_eq!(a.verbose, 2);
        assert_eq!(
            a.overrides,
            [
                ("syslog_name".into(), "postfix/relay".into()),
                ("foo".into(), "bar baz".into())
            ]
        );
    }

    #[test]
    fn daemon_arguments_follow() {
        let a = p(&[
            "-t",
            "unix",
            "flags=DRXhu",
            "user=vmail",
            "argv=/usr/bin/maildrop",
            "-d",
        ])
        .unwrap();
        assert_eq!(
            a.rest,
            ["flags=DRXhu", "user=vmail", "argv=/usr/bin/maildrop", "-d"]
        );
    }

    #[test]
    fn errors() {
        assert!(p(&["-x"]).is_err());
        assert!(p(&["-t"]).is_err());
        assert!(p(&["-t", "tcp"]).is_err());
        assert!(p(&["-o", "novalue"]).is_err());
    }
}
