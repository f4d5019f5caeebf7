//! # NAME
//! smtp — SMTP command lines and replies
//!
//! ## SYNOPSIS
//! ```
//! use proto::smtp::{Command, parse_command, Reply};
//! let Ok(Command::Mail(p)) = parse_command(b"MAIL FROM:<a@example.com> SIZE=1000 BODY=8BITMIME") else { panic!() };
//! assert_eq!(p.address, "a@example.com");
//! assert_eq!(p.param("size"), Some(Some("1000")));
//! assert_eq!(Reply::new(250, "2.1.0", "Ok").to_string(), "250 2.1.0 Ok\r\n");
//! ```
//!
//! ## DESCRIPTION
//! [`parse_command`] splits a command line (without its line ending) into
//! a [`Command`]. Verbs are case-insensitive. `MAIL FROM:` and `RCPT TO:`
//! take a path in angle brackets (a quoted local part may hold `>` and
//! spaces) or, as Postfix allows unless `strict_rfc821_envelopes` is set,
//! a bare address; ESMTP parameters follow as `KEYWORD[=VALUE]`. The
//! address is returned as written between the brackets; its syntax is the
//! caller's business.
//!
//! [`Reply`] formats single- and multi-line replies with their enhanced
//! status code.
//!
//! ## SEE ALSO
//! RFC 5321 §4.1, RFC 1869, [`crate::data`]

use std::fmt;

/// A path argument of MAIL or RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg {
    /// The text between `<` and `>` (or the bare address).
    pub address: String,
    /// Whether the address was in angle brackets.
    pub bracketed: bool,
    /// ESMTP parameters, keywords as written.
    pub params: Vec<(String, Option<String>)>,
}

impl PathArg {
    /// A parameter by keyword, case-insensitive: `Some(value)`.
    pub fn param(&self, key: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_deref())
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Mail(PathArg),
    Rcpt(PathArg),
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Etrn(String),
    Help,
    StartTls,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    Xclient(Vec<(String, String)>),
    Xforward(Vec<(String, String)>),
}

/// Why a command line was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Not a command this server knows (`502 5.5.2`).
    Unknown(String),
    /// A known verb with bad arguments; the text is the syntax to show
    /// (`501 5.5.4 Syntax: MAIL FROM:<address>`).
    Syntax(&'static str),
    /// A parameter that is not KEYWORD[=VALUE].
    BadParameter(String),
}

fn split_verb(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    }
}

/// Parses `KEY=VALUE` words.
fn params(text: &str) -> Result<Vec<(String, Option<String>)>, ParseError> {
    let mut out = Vec::new();
    for w in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (w, None),
        };
        if k.is_empty() || !k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            return Err(ParseError::BadParameter(w.to_string()));
        }
        out.push((k.to_string(), v));
    }
    Ok(out)
}

/// The path after `FROM:`/`TO:` and the parameters after it.
fn path(rest: &str, syntax: &'static str) -> Result<PathArg, ParseError> {
    let rest = rest.trim_start_matches([' ', '\t']);
    if let Some(inner) = rest.strip_prefix('<') {
        // Find the closing bracket outside quotes and backslash escapes.
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    let after = &inner[i + 1..];
                    if !after.is_empty() && !after.starts_with([' ', '\t']) {
                        return Err(ParseError::Syntax(syntax));
                    }
                    return Ok(PathArg {
                        address: inner[..i].to_string(),
                        bracketed: true,
                        params: params(after)?,
                    });
                }
                _ => {}
            }
        }
        return Err(ParseError::Syntax(syntax));
    }
    let (addr, after) = split_verb(rest);
    if addr.is_empty() {
        return Err(ParseError::Syntax(syntax));
    }
    Ok(PathArg {
        address: addr.to_string(),
        bracketed: false,
        params: params(after)?,
    })
}

/// `name=value` attributes of XCLIENT and XFORWARD.
fn attrs(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for w in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| ParseError::BadParameter(w.to_string()))?;
        out.push((k.to_ascii_uppercase(), v.to_string()));
    }
    Ok(out)
}

/// Parses one command line (no CR LF).
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let text = String::from_utf8_lossy(line);
    let (verb, rest) = split_verb(&text);
    let rest = rest.trim_end();
    let v = verb.to_ascii_uppercase();
    Ok(match v.as_str() {
        "HELO" if !rest.is_empty() => Command::Helo(rest.to_string()),
        "HELO" => return Err(ParseError::Syntax("HELO hostname")),
        "EHLO" if !rest.is_empty() => Command::Ehlo(rest.to_string()),
        "EHLO" => return Err(ParseError::Syntax("EHLO hostname")),
        "MAIL" => {
            let arg = rest
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("FROM:"))
                .map(|_| &rest[5..]);
            Command::Mail(path(
                arg.ok_or(ParseError::Syntax("MAIL FROM:<address>"))?,
                "MAIL FROM:<address>",
            )?)
        }
        "RCPT" => {
            let arg = rest
                .get(..3)
                .filter(|p| p.eq_ignore_ascii_case("TO:"))
                .map(|_| &rest[3..]);
            Command::Rcpt(path(
                arg.ok_or(ParseError::Syntax("RCPT TO:<address>"))?,
                "RCPT TO:<address>",
            )?)
        }
        "DATA" if rest.is_empty() => Command::Data,
        "DATA" => return Err(ParseError::Syntax("DATA")),
        "BDAT" => {
            let mut w = rest.split_whitespace();
            let size = w.next().and_then(|s| {
                s.parse::<u64>()
                    .ok()
                    .filter(|_| s.bytes().all(|c| c.is_ascii_digit()))
            });
            let last = match w.next() {
                None => false,
                Some(l) if l.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(ParseError::Syntax("BDAT count [LAST]")),
            };
            match (size, w.next()) {
                (Some(size), None) => Command::Bdat { size, last },
                _ => return Err(ParseError::Syntax("BDAT count [LAST]")),
            }
        }
        "RSET" if rest.is_empty() => Command::Rset,
        "RSET" => return Err(ParseError::Syntax("RSET")),
        "NOOP" => Command::Noop,
        "QUIT" => Command::Quit,
        "VRFY" if !rest.is_empty() => Command::Vrfy(rest.to_string()),
        "VRFY" => return Err(ParseError::Syntax("VRFY address")),
        "EXPN" if !rest.is_empty() => Command::Expn(rest.to_string()),
        "EXPN" => return Err(ParseError::Syntax("EXPN address")),
        // The server words its own syntax error (no enhanced code).
        "ETRN" => Command::Etrn(rest.to_string()),
        "HELP" => Command::Help,
        "STARTTLS" if rest.is_empty() => Command::StartTls,
        "STARTTLS" => return Err(ParseError::Syntax("STARTTLS")),
        "AUTH" => {
            let mut w = rest.split_whitespace();
            let mechanism = w
                .next()
                .ok_or(ParseError::Syntax("AUTH mechanism"))?
                .to_ascii_uppercase();
            let initial = w.next().map(String::from);
            if w.next().is_some() {
                return Err(ParseError::Syntax("AUTH mechanism"));
            }
            Command::Auth { mechanism, initial }
        }
        "XCLIENT" if !rest.is_empty() => Command::Xclient(attrs(rest)?),
        "XCLIENT" => return Err(ParseError::Syntax("XCLIENT attribute=value...")),
        "XFORWARD" if !rest.is_empty() => Command::Xforward(attrs(rest)?),
        "XFORWARD" => return Err(ParseError::Syntax("XFORWARD attribute=value...")),
        _ => return Err(ParseError::Unknown(verb.to_string())),
    })
}

/// A server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code (`2.1.0`), empty for none.
    pub enhanced: String,
    /// One element per line.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, enhanced: &str, text: &str) -> Reply {
        Reply {
            code,
            enhanced: enhanced.to_string(),
            lines: vec![text.to_string()],
        }
    }

    /// A reply without an enhanced status code (the greeting, EHLO).
    pub fn plain(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            enhanced: String::new(),
            lines,
        }
    }

    /// Whether the code is 4xx or 5xx.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The first line's text after code and enhanced code.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 < n { '-' } else { ' ' };
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            if self.enhanced.is_empty() {
                write!(f, "{}{}{}\r\n", self.code, sep, text)?;
            } else {
                write!(f, "{}{}{} {}\r\n", self.code, sep, self.enhanced, text)?;
            }
        }
        Ok(())
    }
}

/// Splits a reply text that starts with its own codes (`550 5.1.1 text`,
/// from an access table or a policy server) into a reply; `None` when it
/// does not start with a 4xx or 5xx code.
pub fn reply_from_text(text: &str) -> Option<Reply> {
    let (code, rest) = text.split_at_checked(3)?;
    let code: u16 = code.parse().ok().filter(|c| (400..600).contains(c))?;
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let rest = rest.trim_start();
    let (enh, msg) = match rest.split_once(' ') {
        Some((e, m)) if is_enhanced(e) => (e.to_string(), m.to_string()),
        _ if is_enhanced(rest) => (rest.to_string(), String::new()),
        _ => (format!("{}.7.1", code / 100), rest.to_string()),
    };
    Some(Reply::new(code, &enh, &msg))
}

/// Whether `s` is an enhanced status code (`4.7.1`).
pub fn is_enhanced(s: &str) -> bool {
    let p: Vec<&str> = s.split('.').collect();
    p.len() == 3
        && matches!(p[0], "2" | "4" | "5")
        && p[1..]
            .iter()
            .all(|x| !x.is_empty() && x.len() <= 3 && x.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(line: &str) -> PathArg {
        match parse_command(line.as_bytes()) {
            Ok(Command::Mail(p)) | Ok(Command::Rcpt(p)) => p,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let p = mail("MAIL FROM:<a@example.com>");
        assert_eq!((p.address.as_str(), p.bracketed), ("a@example.com", true));
        let p = mail("mail from: <> BODY=8BITMIME SMTPUTF8");
        assert_eq!(p.address, "");
        assert_eq!(p.param("body"), Some(Some("8BITMIME")));
        assert_eq!(p.param("SMTPUTF8"), Some(None));
        let p = mail("RCPT TO:<\"a > b\"@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y");
        assert_eq!(p.address, "\"a > b\"@example.com");
        assert_eq!(p.param("orcpt"), Some(Some("rfc822;x@y")));
        let p = mail("MAIL FROM:bare@example.com SIZE=10");
        assert_eq!(
            (p.address.as_str(), p.bracketed),
            ("bare@example.com", false)
        );
        let p = mail("RCPT TO:<@a,@b:u@c>");
        assert_eq!(p.address, "@a,@b:u@c");
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            parse_command(b"MAIL TO:<a@b>"),
            Err(ParseError::Syntax("MAIL FROM:<address>"))
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b"),
            Err(ParseError::Syntax("MAIL FROM:<address>"))
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b>x"),
            Err(ParseError::Syntax("MAIL FROM:<address>"))
        );
        assert_eq!(
            parse_command(b"RCPT TO:"),
            Err(ParseError::Syntax("RCPT TO:<address>"))
        );
        assert!(matches!(
            parse_command(b"MAIL FROM:<a@b> =x"),
            Err(ParseError::BadParameter(_))
        ));
        assert_eq!(
            parse_command(b"EHLO"),
            Err(ParseError::Syntax("EHLO hostname"))
        );
        assert_eq!(
            parse_command(b"GET / HTTP/1.0"),
            Err(ParseError::Unknown("GET".into()))
        );
        assert_eq!(parse_command(b""), Err(ParseError::Unknown("".into())));
        assert_eq!(
            parse_command(b"BDAT 10 LAST"),
            Ok(Command::Bdat {
                size: 10,
                last: true
            })
        );
        assert!(parse_command(b"BDAT -1").is_err());
        assert!(parse_command(b"BDAT 1 2").is_err());
        assert!(parse_command(b"DATA x").is_err());
        assert_eq!(parse_command(b"noop whatever"), Ok(Command::Noop));
    }

    #[test]
    fn replies() {
        assert_eq!(
            Reply::new(250, "2.0.0", "Ok").to_string(),
            "250 2.0.0 Ok\r\n"
        );
        let r = Reply::plain(
            250,
            vec!["host".into(), "PIPELINING".into(), "8BITMIME".into()],
        );
        assert_eq!(
            r.to_string(),
            "250-host\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        );
        assert_eq!(
            reply_from_text("550 5.1.1 no such user"),
            Some(Reply::new(550, "5.1.1", "no such user"))
        );
        assert_eq!(
            reply_from_text("450 try later"),
            Some(Reply::new(450, "4.7.1", "try later"))
        );
        assert_eq!(reply_from_text("250 ok"), None);
        assert_eq!(reply_from_text("55x"), None);
    }
}
