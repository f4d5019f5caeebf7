//! # NAME
//! args — the postconf(1) command line
//!
//! ## SYNOPSIS
//! ```ignore
//! let opts = args::parse(&argv)?;
//! match opts.mode { Mode::Main => ..., Mode::Master => ..., ... }
//! ```
//!
//! ## DESCRIPTION
//! Options are parsed the way getopt(3) does without permutation: option
//! letters may be grouped (`-nf`, `-MX`), `-c`, `-C`, `-o` and `-T` take
//! an argument in the same word or the next, and the first word that is
//! not an option ends the options. An unknown option or a missing
//! argument prints getopt's complaint and the usage line.
//!
//! When the first remaining argument contains `=`, `-e` is implied (as
//! Postfix 2.8 and later do). Then the combinations are checked, in this
//! order: at most one of the commands `-a -A -b -F -l -m -M -p -P -t -T`;
//! at most one of each group of display and edit flags that exclude each
//! other (`-d -e -n -X -#`, `-d -e -o -X -#`, `-e -f -X -#`,
//! `-e -h -H -X -#`, `-e -x -X -#`); and the flags each command accepts.
//! The complaints name the flags as `specify one of -d -n` or `with option
//! -M, do not specify -d`, listed in the order of the usage line.
//!
//! ## SEE ALSO
//! postconf(1), getopt(3)

use crate::msg::{self, Fatal, Result, fatal};
use crate::names::Classes;

/// What the command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// main.cf parameters (the default, or `-p`).
    Main,
    /// master.cf entries (`-M`).
    Master,
    /// master.cf fields (`-F`).
    Fields,
    /// master.cf `-o` parameters (`-P`).
    Params,
    /// SASL server plug-in types (`-a`).
    SaslServer,
    /// SASL client plug-in types (`-A`).
    SaslClient,
    /// Mailbox lock methods (`-l`).
    Locks,
    /// Lookup table types (`-m`).
    Maps,
    /// Bounce templates, expanded (`-b`) or not (`-t`).
    Bounce { expand: bool },
    /// TLS library information (`-T`).
    Tls,
}

/// How a configuration file is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// `-e`: set (or add) `name=value`.
    Set,
    /// `-X`: remove.
    Remove,
    /// `-#`: comment out.
    Comment,
}

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    pub edit: Option<Edit>,
    /// `-c`.
    pub config_dir: Option<String>,
    /// `-C`.
    pub classes: Classes,
    /// `-o name=value`, in order.
    pub overrides: Vec<(String, String)>,
    /// `-d`.
    pub defaults: bool,
    /// `-n`.
    pub non_default: bool,
    /// `-f`.
    pub fold: bool,
    /// `-h`.
    pub no_names: bool,
    /// `-H`.
    pub no_values: bool,
    /// `-x`.
    pub expand: bool,
    /// `-T` argument.
    pub tls_mode: Option<String>,
    /// The words after the options.
    pub args: Vec<String>,
}

/// Option letters in the order the usage line lists them; messages that
/// name several options use this order.
const ORDER: &str = "aAbcCdefFhHlmMnopPtTvxX#";

/// Options that take an argument.
const WITH_ARGUMENT: &str = "cCoT";

/// The commands, of which at most one may be given.
const COMMANDS: &str = "aAbFlmMpPtT";

/// Flags that exclude each other, checked in this order.
const EXCLUSIVE: &[&str] = &["denX#", "deoX#", "efX#", "ehHX#", "exX#"];

/// The flags that each command does not accept.
const REJECTED: &[(char, &str)] = &[
    ('a', "defhHnoxX#"),
    ('A', "defhHnoxX#"),
    ('b', "defhHnoxX#"),
    ('l', "defhHnoxX#"),
    ('m', "defhHnoxX#"),
    ('t', "defhHnoxX#"),
    ('T', "defhHnoxX#"),
    ('M', "dhHn"),
    ('F', "dnX#"),
    ('P', "dn#"),
];

/// The usage line, as Postfix prints it (including its `-c param_class`).
pub fn usage() -> Fatal {
    Fatal(format!(
        "usage: {} [-a (server SASL types)] [-A (client SASL types)] \
         [-b (bounce templates)] [-c config_dir] [-c param_class] \
         [-d (parameter defaults)] [-e (edit configuration)] [-f (fold lines)] \
         [-F (master.cf fields)] [-h (no names)] [-H (no values)] [-l (lock types)] \
         [-m (map types)] [-M (master.cf)] [-n (non-default parameters)] \
         [-o name=value (override parameter value)] [-p (main.cf, default)] \
         [-P (master.cf parameters)] [-t (bounce templates)] \
         [-T compile-version|run-version|public-key-algorithms] [-v (verbose)] \
         [-x (expand parameter values)] [-X (exclude)] [-# (comment-out)] [name...]",
        msg::program()
    ))
}

fn sorted(flags: impl Iterator<Item = char>) -> Vec<char> {
    let mut v: Vec<char> = flags.collect();
    v.sort_by_key(|c| ORDER.find(*c));
    v.dedup();
    v
}

fn list(flags: &[char]) -> String {
    flags
        .iter()
        .map(|c| format!("-{c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a `-o` setting; the reason matches the main.cf parser's.
fn split_override(text: &str) -> std::result::Result<(String, String), &'static str> {
    let (name, value) = match config::main_cf::split_nameval(text) {
        Ok(nv) => nv,
        Err(e) if e.starts_with("missing attribute name") => {
            return Err("missing attribute name");
        }
        Err(_) => return Err("missing '=' after attribute name"),
    };
    Ok((name.to_string(), value.to_string()))
}

/// Parses the command line (without argv[0]).
pub fn parse(argv: &[String]) -> Result<Options> {
    let mut seen: Vec<char> = Vec::new();
    let mut opts = Options {
        mode: Mode::Main,
        edit: None,
        config_dir: None,
        classes: Classes::ALL,
        overrides: Vec::new(),
        defaults: false,
        non_default: false,
        fold: false,
        no_names: false,
        no_values: false,
        expand: false,
        tls_mode: None,
        args: Vec::new(),
    };
    let mut i = 0;
    'words: while i < argv.len() {
        let word = &argv[i];
        if word == "--" {
            i += 1;
            break;
        }
        if !word.starts_with('-') || word == "-" {
            break;
        }
        let letters: Vec<char> = word[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let c = letters[k];
            k += 1;
            if !ORDER.contains(c) {
                msg::plain(format_args!("invalid option -- '{c}'"));
                return Err(usage());
            }
            if WITH_ARGUMENT.contains(c) {
                let value: String = if k < letters.len() {
                    letters[k..].iter().collect()
                } else if i + 1 < argv.len() {
                    i += 1;
                    argv[i].clone()
                } else {
                    msg::plain(format_args!("option requires an argument -- '{c}'"));
                    return Err(usage());
                };
                match c {
                    'c' => opts.config_dir = Some(value),
                    'C' => opts.classes = Classes::parse(&value)?,
                    'o' => match split_override(&value) {
                        Ok(nv) => opts.overrides.push(nv),
                        Err(why) => return fatal!("invalid parameter override: {value}: {why}"),
                    },
                    _ => opts.tls_mode = Some(value),
                }
                seen.push(c);
                i += 1;
                continue 'words;
            }
            seen.push(c);
        }
        i += 1;
    }
    opts.args = argv[i..].to_vec();
    if opts.args.first().is_some_and(|a| a.contains('=')) {
        seen.push('e');
    }
    check_combinations(&seen)?;
    let has = |c: char| seen.contains(&c);
    opts.mode = match COMMANDS.chars().find(|&c| has(c)) {
        Some('a') => Mode::SaslServer,
        Some('A') => Mode::SaslClient,
        Some('b') => Mode::Bounce { expand: true },
        Some('t') => Mode::Bounce { expand: false },
        Some('F') => Mode::Fields,
        Some('l') => Mode::Locks,
        Some('m') => Mode::Maps,
        Some('M') => Mode::Master,
        Some('P') => Mode::Params,
        Some('T') => Mode::Tls,
        _ => Mode::Main,
    };
    opts.edit = if has('e') {
        Some(Edit::Set)
    } else if has('X') {
        Some(Edit::Remove)
    } else if has('#') {
        Some(Edit::Comment)
    } else {
        None
    };
    opts.defaults = has('d');
    opts.non_default = has('n');
    opts.fold = has('f');
    opts.no_names = has('h');
    opts.no_values = has('H');
    opts.expand = has('x');
    match opts.edit {
        Some(Edit::Set) if opts.args.is_empty() => {
            return fatal!("-e requires name=value argument");
        }
        Some(Edit::Remove | Edit::Comment) if opts.args.is_empty() => {
            return fatal!("missing service argument");
        }
        _ => {}
    }
    Ok(opts)
}

/// Rejects option combinations that Postfix rejects, with its words.
fn check_combinations(seen: &[char]) -> Result<()> {
    let present = sorted(seen.iter().copied());
    let commands: Vec<char> = present
        .iter()
        .copied()
        .filter(|c| COMMANDS.contains(*c))
        .collect();
    if commands.len() > 1 {
        if commands.contains(&'b') && commands.contains(&'t') {
            return fatal!("specify one of -b and -t");
        }
        return fatal!("specify one of {}", list(&commands));
    }
    for group in EXCLUSIVE {
        let hit: Vec<char> = present
            .iter()
            .copied()
            .filter(|c| group.contains(*c))
            .collect();
        if hit.len() > 1 {
            return fatal!("specify one of {}", list(&hit));
        }
    }
    if let Some(&cmd) = commands.first()
        && let Some((_, rejected)) = REJECTED.iter().find(|(c, _)| *c == cmd)
        && let Some(bad) = present.iter().find(|c| rejected.contains(**c))
    {
        return fatal!("with option -{cmd}, do not specify -{bad}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &[&str]) -> Result<Options> {
        let v: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        parse(&v)
    }

    fn err(words: &[&str]) -> String {
        p(words).unwrap_err().0
    }

    #[test]
    fn grouped_flags_and_arguments() {
        let o = p(&["-nf", "-c/tmp/x", "-o", "a=b", "myorigin", "-n"]).unwrap();
        assert!(o.non_default && o.fold);
        assert_eq!(o.config_dir.as_deref(), Some("/tmp/x"));
        assert_eq!(o.overrides, [("a".to_string(), "b".to_string())]);
        assert_eq!(o.args, ["myorigin", "-n"]);
        let o = p(&["-MX", "relay/unix"]).unwrap();
        assert_eq!((o.mode, o.edit), (Mode::Master, Some(Edit::Remove)));
    }

    #[test]
    fn implied_edit() {
        let o = p(&["myorigin=x", "relayhost"]).unwrap();
        assert_eq!(o.edit, Some(Edit::Set));
        assert_eq!(err(&["-n", "a=5"]), "specify one of -e -n");
        assert!(p(&["myorigin", "a=5"]).unwrap().edit.is_none());
    }

    #[test]
    fn conflicts_in_postfix_words() {
        assert_eq!(err(&["-d", "-n"]), "specify one of -d -n");
        assert_eq!(err(&["-d", "-n", "-e"]), "specify one of -d -e -n");
        assert_eq!(err(&["-M", "-F", "-P"]), "specify one of -F -M -P");
        assert_eq!(err(&["-a", "-A"]), "specify one of -a -A");
        assert_eq!(err(&["-t", "-b"]), "specify one of -b and -t");
        assert_eq!(err(&["-M", "-d"]), "with option -M, do not specify -d");
        assert_eq!(err(&["-F", "-X"]), "with option -F, do not specify -X");
        assert_eq!(err(&["-e"]), "-e requires name=value argument");
        assert_eq!(err(&["-X"]), "missing service argument");
        assert_eq!(
            err(&["-o", "x"]),
            "invalid parameter override: x: missing '=' after attribute name"
        );
        assert_eq!(
            err(&["-o", "=x"]),
            "invalid parameter override: =x: missing attribute name"
        );
        assert!(err(&["-z"]).starts_with("usage: "));
    }
}
