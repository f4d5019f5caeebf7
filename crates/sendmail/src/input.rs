//! # NAME
//! input — reading the message and the addresses of sendmail(1)
//!
//! ## SYNOPSIS
//! ```ignore
//! let content = input::read_message(stdin, dot_ends_message, limit)?;
//! let rcpts = input::split_addresses("a@b, John <c@d>");
//! ```
//!
//! ## DESCRIPTION
//! The message is read as lines; CRLF and a lone CR before LF become LF,
//! and a last line without LF gets one. Unless `-i` was given, a line
//! holding only `.` ends the message. A command-line argument may hold
//! several addresses separated by commas, each bare or in angle brackets
//! with a phrase; quoted local parts keep their quotes.
//!
//! ## SEE ALSO
//! sendmail(1)

use std::io::{self, BufRead};

pub enum ReadError {
    Io(io::Error),
    TooBig,
}

pub fn read_message(mut r: impl BufRead, dot_ends: bool, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).map_err(ReadError::Io)?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if dot_ends && line == b"." {
            break;
        }
        out.extend_from_slice(&line);
        out.push(b'\n');
        if limit > 0 && out.len() as u64 > limit {
            return Err(ReadError::TooBig);
        }
    }
    Ok(out)
}

/// The sender of `-f`: `<>` is the null sender; angle brackets are removed.
pub fn sender_address(s: &str) -> String {
    let t = s.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(t);
    t.to_string()
}

/// Splits a command-line argument into addresses.
pub fn split_addresses(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut angle) = (false, false);
    let mut inner = String::new();
    let mut saw_angle = false;
    for c in arg.chars() {
        match c {
            '"' if !angle => {
                quoted = !quoted;
                cur.push(c);
            }
            '<' if !quoted => {
                angle = true;
                saw_angle = true;
                inner.clear();
            }
            '>' if angle => angle = false,
            ',' if !quoted && !angle => {
                push(&mut out, &cur, &inner, saw_angle);
                cur.clear();
                inner.clear();
                saw_angle = false;
            }
            _ if angle => inner.push(c),
            _ => cur.push(c),
        }
    }
    push(&mut out, &cur, &inner, saw_angle);
    out
}

fn push(out: &mut Vec<String>, cur: &str, inner: &str, saw_angle: bool) {
    let a = if saw_angle { inner.trim() } else { cur.trim() };
    if !a.is_empty() {
        out.push(a.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lines() {
        let got = read_message(&b"Subject: x\r\n\r\nbody\r\n.\r\nafter\n"[..], true, 0)
            .ok()
            .unwrap();
        assert_eq!(got, b"Subject: x\n\nbody\n");
        let got = read_message(&b"a\n.\nb"[..], false, 0).ok().unwrap();
        assert_eq!(got, b"a\n.\nb\n");
        assert!(matches!(
            read_message(&b"aaaa\nbbbb\n"[..], false, 6),
            Err(ReadError::TooBig)
        ));
    }

    #[test]
    fn addresses() {
        assert_eq!(split_addresses("a@b, c@d"), ["a@b", "c@d"]);
        assert_eq!(split_addresses("John Doe <j@d>"), ["j@d"]);
        assert_eq!(split_addresses("\"x, y\"@z"), ["\"x, y\"@z"]);
        assert_eq!(split_addresses(" , "), Vec::<String>::new());
        assert_eq!(sender_address("<>"), "");
        assert_eq!(sender_address("<a@b>"), "a@b");
    }
}
