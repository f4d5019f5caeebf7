//! # NAME
//! token — the destinations an alias, `.forward` or `:include:` names
//!
//! ## DESCRIPTION
//! The right-hand side of an alias, a `.forward` line and an `:include:`
//! line are lists separated by commas; whitespace outside quotes also
//! separates (`|/bin/prog arg` is two destinations, as with Postfix:
//! quote a command with arguments). `(comments)` and `phrase <...>` are
//! dropped, `\x` outside quotes is `x`. A destination that starts,
//! after unquoting, with `|` is a command, with `/` a file (a directory
//! when it ends in `/`: Maildir), with `:include:` a list file; anything
//! else is an address. Files and commands are delivered only where
//! `allow_mail_to_files` and `allow_mail_to_commands` allow them.

use delivery::Failure;

use crate::settings::Classes;
use crate::state::{ExpType, MsgAttr, Run, UserAttr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Command(String),
    File(String),
    Include(String),
    Address(String),
}

/// Splits on commas outside quotes, comments and angle brackets.
fn items(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut comment, mut angle, mut escaped) = (false, 0usize, false, false);
    for c in text.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                cur.push(c);
                continue;
            }
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            ',' if !quoted && comment == 0 && !angle => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// Removes comments; keeps the inside of `<...>` when there is one.
fn strip(item: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut comment, mut escaped) = (false, 0usize, false);
    let mut angle: Option<String> = None;
    for c in item.chars() {
        if escaped {
            escaped = false;
            match angle.as_mut() {
                Some(a) => a.push(c),
                None => out.push(c),
            }
            continue;
        }
        if comment > 0 {
            match c {
                '(' => comment += 1,
                ')' => comment -= 1,
                '\\' => escaped = true,
                _ => {}
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                let target = angle.as_mut().unwrap_or(&mut out);
                target.push(c);
                continue;
            }
            '"' => quoted = !quoted,
            '(' if !quoted => {
                comment = 1;
                continue;
            }
            '<' if !quoted && angle.is_none() => {
                angle = Some(String::new());
                continue;
            }
            '>' if !quoted && angle.is_some() => {
                return angle.unwrap_or_default();
            }
            _ => {}
        }
        match angle.as_mut() {
            Some(a) => a.push(c),
            None => out.push(c),
        }
    }
    angle.unwrap_or(out)
}

/// Words separated by whitespace outside quotes.
fn words(item: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in item.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The word without quotes and backslashes.
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in word.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c != '"' {
            out.push(c);
        }
    }
    out
}

/// Parses a list of destinations.
pub fn parse(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for item in items(text) {
        // `:include: /file` is one destination.
        let mut ws: Vec<String> = Vec::new();
        for w in words(&strip(&item)) {
            match ws.last_mut() {
                Some(prev) if prev.eq_ignore_ascii_case(":include:") => prev.push_str(&w),
                _ => ws.push(w),
            }
        }
        for word in ws {
            let plain = unquote(&word);
            let tok = if let Some(cmd) = plain.strip_prefix('|') {
                Token::Command(cmd.trim().to_string())
            } else if plain.starts_with('/') {
                Token::File(plain)
            } else if plain.len() >= 9 && plain[..9].eq_ignore_ascii_case(":include:") {
                Token::Include(plain[9..].trim().to_string())
            } else {
                // Addresses keep their quotes: the localpart is unquoted
                // when it is taken to internal form. A backslash outside
                // quotes (`\user`) only stops alias expansion in
                // Sendmail; here it is dropped.
                let mut a = String::new();
                let mut quoted = false;
                let mut escaped = false;
                for c in word.chars() {
                    if escaped {
                        a.push(c);
                        escaped = false;
                    } else if c == '\\' && !quoted {
                        escaped = true;
                    } else {
                        if c == '"' {
                            quoted = !quoted;
                        }
                        a.push(c);
                    }
                }
                Token::Address(a)
            };
            out.push(tok);
        }
    }
    out
}

fn allowed(c: Classes, t: ExpType) -> bool {
    match t {
        ExpType::Alias => c.alias,
        ExpType::Forward => c.forward,
        ExpType::Include => c.include,
        ExpType::None => false,
    }
}

/// Delivers every destination of `text`.
pub fn deliver_tokens(run: &mut Run<'_>, attr: &MsgAttr, usr: &UserAttr, text: &str) {
    for tok in parse(text) {
        match tok {
            Token::Command(cmd) => {
                if allowed(run.s.allow_commands, attr.exp_type) {
                    crate::command::deliver_command(run, attr, usr, &cmd);
                } else {
                    run.failed(
                        &attr.rcpt,
                        Failure::new("5.7.1", "mail to command is restricted"),
                    );
                }
            }
            Token::File(path) => {
                if allowed(run.s.allow_files, attr.exp_type) {
                    crate::file::deliver_file(run, attr, usr, &path);
                } else {
                    run.failed(
                        &attr.rcpt,
                        Failure::new("5.7.1", "mail to file is restricted"),
                    );
                }
            }
            Token::Include(path) => crate::include::deliver_include(run, attr, usr, &path),
            Token::Address(a) => crate::recipient::deliver_address(run, attr, usr, &a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    fn p(t: &str) -> Vec<Token> {
        parse(t)
    }

    #[test]
    fn alias_values() {
        assert_eq!(
            p("mtrefa, mtrefb"),
            vec![Address("mtrefa".into()), Address("mtrefb".into())]
        );
        assert_eq!(
            p("\"|/tmp/pfref/dump.sh arg1 'arg two'\""),
            vec![Command("/tmp/pfref/dump.sh arg1 'arg two'".into())]
        );
        // Unquoted, the argument is a second destination.
        assert_eq!(
            p("|/tmp/pfref/nonexist arg"),
            vec![Command("/tmp/pfref/nonexist".into()), Address("arg".into())]
        );
        assert_eq!(
            p("/tmp/x/out.mbox, /tmp/x/maildir/"),
            vec![
                File("/tmp/x/out.mbox".into()),
                File("/tmp/x/maildir/".into())
            ]
        );
        assert_eq!(
            p(":include:/etc/lists/x, :INCLUDE: /y"),
            vec![Include("/etc/lists/x".into()), Include("/y".into())]
        );
        assert_eq!(
            p("Joe User <joe@example.com> (the boss), \\root"),
            vec![Address("joe@example.com".into()), Address("root".into())]
        );
        assert_eq!(
            p("\"a b\"@example.com"),
            vec![Address("\"a b\"@example.com".into())]
        );
        assert_eq!(p(" , "), vec![]);
        assert_eq!(
            p("\"|cmd a, b\", x"),
            vec![Command("cmd a, b".into()), Address("x".into())]
        );
    }
}
