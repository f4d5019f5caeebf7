//! # NAME
//! attrs — the command attributes of a pipe(8) master.cf entry
//!
//! ## SYNOPSIS
//! ```ignore
//! let a = Attrs::parse(&ctx.args.rest)?;   // flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
//! ```
//!
//! ## DESCRIPTION
//! `flags=` (`BDFORXhqu.>`), `user=name` or `user=name:group` (never
//! root, never `mail_owner`), `eol=` (with C escapes), `size=`,
//! `null_sender=`, `directory=`, `chroot=` and, last, `argv=` with the
//! command and its arguments (a `{ }` group, unwrapped by master(8), is
//! one argument). A bad attribute is fatal: master(8) throttles the
//! service and the mail waits.

use nix::unistd::{Gid, Uid};

/// `flags=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `B`: an empty line after the message.
    pub blank: bool,
    /// `D`: `Delivered-To:` (and loop detection).
    pub delivered_to: bool,
    /// `F`: the `From ` line.
    pub from_line: bool,
    /// `O`: `X-Original-To:`.
    pub orig_to: bool,
    /// `R`: `Return-Path:`.
    pub return_path: bool,
    /// `X`: final delivery (success DSNs say "delivered").
    pub final_delivery: bool,
    /// `h`: fold domains and the next hop to lower case.
    pub fold_host: bool,
    /// `q`: quote address localparts in arguments.
    pub quote: bool,
    /// `u`: fold recipient localparts to lower case.
    pub fold_user: bool,
    /// `.`: dot stuffing.
    pub dot: bool,
    /// `>`: `>From ` quoting.
    pub quote_from: bool,
}

impl Flags {
    pub fn parse(v: &str) -> Result<Flags, String> {
        let mut f = Flags::default();
        for c in v.chars() {
            match c {
                'B' => f.blank = true,
                'D' => f.delivered_to = true,
                'F' => f.from_line = true,
                'O' => f.orig_to = true,
                'R' => f.return_path = true,
                'X' => f.final_delivery = true,
                'h' => f.fold_host = true,
                'q' => f.quote = true,
                'u' => f.fold_user = true,
                '.' => f.dot = true,
                '>' => f.quote_from = true,
                _ => return Err(format!("unknown flag: {c} (ignored)")),
            }
        }
        Ok(f)
    }
}

/// Everything a pipe(8) entry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attrs {
    pub flags: Flags,
    pub user: String,
    pub uid: Uid,
    pub gid: Gid,
    pub eol: Vec<u8>,
    /// `size=`: larger messages bounce.
    pub size_limit: Option<u64>,
    pub null_sender: String,
    pub directory: Option<String>,
    pub chroot: Option<String>,
    pub argv: Vec<String>,
}

/// Decodes C escapes (`\r\n`, `\t`, `\012`, `\\`).
pub fn unescape(v: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = b[i];
        i += 1;
        out.push(match c {
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'0'..=b'7' => {
                let mut n = u32::from(c - b'0');
                let mut k = 1;
                while k < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    n = n * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    k += 1;
                }
                n as u8
            }
            other => other,
        });
    }
    out
}

impl Attrs {
    /// Parses the daemon arguments; `mail_owner` may not be the user.
    pub fn parse(args: &[String], mail_owner: &str) -> Result<Attrs, String> {
        let mut flags = Flags::default();
        let mut user = None;
        let mut eol = b"\n".to_vec();
        let mut size_limit = None;
        let mut null_sender = "MAILER-DAEMON".to_string();
        let mut directory = None;
        let mut chroot = None;
        let mut argv = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (name, value) = a
                .split_once('=')
                .ok_or_else(|| format!("missing '=' after attribute name: {a}"))?;
            match name {
                "flags" => flags = Flags::parse(value)?,
                "user" => user = Some(value.to_string()),
                "eol" => eol = unescape(value),
                "size" => {
                    size_limit = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| format!("bad size= value: {value}"))?,
                    )
                }
                "null_sender" => null_sender = value.to_string(),
                "directory" => directory = Some(value.to_string()),
                "chroot" => chroot = Some(value.to_string()),
                "argv" => {
                    if !value.is_empty() {
                        argv.push(value.to_string());
                    }
                    argv.extend(it.by_ref().cloned());
                }
                _ => return Err(format!("unknown attribute name: {name}")),
            }
        }
        let user = user.ok_or("missing user= command-line attribute")?;
        if argv.is_empty() {
            return Err("missing argv= command-line attribute".into());
        }
        let (uname, gname) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let id =
            sys::privs::lookup_user(uname).map_err(|_| format!("unknown user name: {uname}"))?;
        let gid = match gname {
            Some(g) => {
                sys::privs::lookup_group(g).map_err(|_| format!("unknown group name: {g}"))?
            }
            None => id.gid,
        };
        if id.uid.is_root() {
            return Err("user= command-line attribute specifies root privileges".into());
        }
        if gid.as_raw() == 0 {
            return Err("user= command-line attribute specifies privileged group id 0".into());
        }
        if uname == mail_owner {
            return Err("user= command-line attribute specifies mail system owner".into());
        }
        Ok(Attrs {
            flags,
            user,
            uid: id.uid,
            gid,
            eol,
            size_limit,
            null_sender,
            directory,
            chroot,
            argv,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn stock_maildrop_entry() {
        let a = Attrs::parse(
            &v(&[
                "flags=DRXhu",
                "user=nobody",
                "argv=/usr/bin/maildrop",
                "-d",
                "${recipient}",
            ]),
            "postfix",
        )
        .unwrap();
        assert!(a.flags.delivered_to && a.flags.return_path && a.flags.final_delivery);
        assert!(a.flags.fold_host && a.flags.fold_user && !a.flags.quote);
        assert_eq!(a.argv, ["/usr/bin/maildrop", "-d", "${recipient}"]);
        assert_eq!(a.eol, b"\n");
        assert_eq!(a.null_sender, "MAILER-DAEMON");
    }

    #[test]
    fn refusals_and_escapes() {
        assert!(Attrs::parse(&v(&["user=root", "argv=/bin/true"]), "postfix").is_err());
        assert!(Attrs::parse(&v(&["user=nobody", "argv=/bin/true"]), "nobody").is_err());
        assert!(Attrs::parse(&v(&["argv=/bin/true"]), "postfix").is_err());
        assert!(Attrs::parse(&v(&["user=nobody"]), "postfix").is_err());
        assert!(Attrs::parse(&v(&["flags=Z", "user=nobody", "argv=/x"]), "postfix").is_err());
        assert_eq!(unescape("\\r\\n"), b"\r\n");
        assert_eq!(unescape("a\\012\\\\"), b"a\n\\");
    }
}
