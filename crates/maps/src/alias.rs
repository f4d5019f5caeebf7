//! # NAME
//! alias — the aliases(5) file format (postalias, newaliases)
//!
//! ## SYNOPSIS
//! ```ignore
//! let entries = alias::parse(&text, "/etc/aliases", &mut |w| eprintln!("{w}"));
//! build::postalias_file("hash", "/etc/aliases", &BuildOptions::default())?;
//! ```
//!
//! ## DESCRIPTION
//! An entry is `name: value, value, ...` over one logical line (the
//! continuation rules of [`crate::source`]). The name may be quoted
//! (`"Foo Bar": x`) or use backslash escapes; it is stored unquoted and
//! must be local (no `@`). The value is read as RFC 822 tokens and
//! written back in canonical form: one space between words, none around
//! `@`, `.`, `:` and `;`, `, ` after each comma, quoted strings and
//! comments kept, so that `Postmaster:   root ,  other` is stored as
//! `root, other`. Lines without a name and a value are reported as
//! "need name:value pair" and skipped.
//!
//! A built alias table also holds the sentinel `@` (Sendmail's sign that
//! the table is complete) and the NIS keys `YP_LAST_MODIFIED` and
//! `YP_MASTER_NAME`, as Postfix's does.
//!
//! ## SEE ALSO
//! aliases(5), postalias(1), newaliases(1)

use crate::build::Builder;
use crate::source;

/// One alias entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub lineno: usize,
    /// The name, unquoted (not yet folded).
    pub name: String,
    /// The value in canonical form.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom, raw (backslash escapes kept).
    Atom(String),
    /// A quoted string, raw content without the quotes.
    Quoted(String),
    /// A comment, with its parentheses.
    Comment(String),
    /// A domain literal, with its brackets.
    Literal(String),
    Special(char),
}

const SPECIALS: &str = "()<>@,;:\\\".[]";

fn tokenize(s: &str) -> Vec<Tok> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '"' => {
                let mut t = String::new();
                i += 1;
                while i < cs.len() && cs[i] != '"' {
                    if cs[i] == '\\' && i + 1 < cs.len() {
                        t.push(cs[i]);
                        i += 1;
                    }
                    t.push(cs[i]);
                    i += 1;
                }
                i += 1;
                out.push(Tok::Quoted(t));
            }
            '(' => {
                let mut depth = 0;
                let mut t = String::new();
                while i < cs.len() {
                    let ch = cs[i];
                    if ch == '\\' && i + 1 < cs.len() {
                        t.push(ch);
                        t.push(cs[i + 1]);
                        i += 2;
                        continue;
                    }
                    t.push(ch);
                    i += 1;
                    if ch == '(' {
                        depth += 1;
                    } else if ch == ')' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                while depth > 0 {
                    t.push(')');
                    depth -= 1;
                }
                out.push(Tok::Comment(t));
            }
            '[' => {
                let mut t = String::new();
                while i < cs.len() {
                    let ch = cs[i];
                    t.push(ch);
                    i += 1;
                    if ch == ']' {
                        break;
                    }
                }
                out.push(Tok::Literal(t));
            }
            c if SPECIALS.contains(c) && c != '\\' => {
                out.push(Tok::Special(c));
                i += 1;
            }
            _ => {
                let mut t = String::new();
                while i < cs.len() {
                    let ch = cs[i];
                    if ch == '\\' && i + 1 < cs.len() {
                        t.push(ch);
                        t.push(cs[i + 1]);
                        i += 2;
                        continue;
                    }
                    if ch.is_whitespace() || (SPECIALS.contains(ch) && ch != '\\') {
                        break;
                    }
                    t.push(ch);
                    i += 1;
                }
                out.push(Tok::Atom(t));
            }
        }
    }
    out
}

fn is_word(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Atom(_) | Tok::Quoted(_) | Tok::Comment(_) | Tok::Literal(_)
    )
}

/// Writes tokens back in canonical form.
fn externalize(toks: &[Tok]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Tok> = None;
    for t in toks {
        let word_like_start = is_word(t) || *t == Tok::Special('<');
        if let Some(p) = prev {
            let prev_word_like_end = is_word(p) || *p == Tok::Special('>');
            if prev_word_like_end && word_like_start {
                out.push(' ');
            }
        }
        match t {
            Tok::Atom(a) if a.contains('\\') => {
                out.push('"');
                out.push_str(a);
                out.push('"');
            }
            Tok::Atom(a) | Tok::Comment(a) | Tok::Literal(a) => out.push_str(a),
            Tok::Quoted(q) => {
                out.push('"');
                out.push_str(q);
                out.push('"');
            }
            Tok::Special(',') => out.push_str(", "),
            Tok::Special(c) => out.push(*c),
        }
        prev = Some(t);
    }
    out
}

/// The internal form of a name: quotes and escapes removed, words joined
/// by one space.
fn internalize(toks: &[Tok]) -> String {
    let unescape = |s: &str| {
        let mut o = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                if let Some(n) = it.next() {
                    o.push(n);
                }
            } else {
                o.push(c);
            }
        }
        o
    };
    let mut out = String::new();
    let mut prev_word = false;
    for t in toks {
        let word = is_word(t);
        if word && prev_word {
            out.push(' ');
        }
        match t {
            Tok::Atom(a) | Tok::Quoted(a) => out.push_str(&unescape(a)),
            Tok::Comment(_) => {}
            Tok::Literal(l) => out.push_str(l),
            Tok::Special(c) => out.push(*c),
        }
        prev_word = word;
    }
    out
}

/// Where the name ends: the first `:` outside quotes and escapes.
fn name_colon(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses aliases(5) text; `warn` gets each problem with its line.
pub fn parse(text: &str, file: &str, warn: &mut dyn FnMut(usize, String)) -> Vec<Entry> {
    let mut early = Vec::new();
    let lines = source::logical_lines_with(text, file, &mut |w| early.push(w));
    for w in early {
        warn(0, w);
    }
    let mut out = Vec::new();
    for line in lines {
        let need = |warn: &mut dyn FnMut(usize, String)| {
            warn(
                line.lineno,
                format!("{file}, line {}: need name:value pair", line.lineno),
            )
        };
        let Some(colon) = name_colon(&line.text) else {
            need(warn);
            continue;
        };
        let name_toks = tokenize(&line.text[..colon]);
        let value_toks = tokenize(&line.text[colon + 1..]);
        if name_toks.is_empty() || value_toks.is_empty() {
            need(warn);
            continue;
        }
        if name_toks.contains(&Tok::Special('@')) {
            warn(
                line.lineno,
                format!("{file}, line {}: name must be local", line.lineno),
            );
            continue;
        }
        out.push(Entry {
            lineno: line.lineno,
            name: internalize(&name_toks),
            value: externalize(&value_toks),
        });
    }
    out
}

/// Adds the entries of aliases(5) text to a builder.
pub fn add_alias_text(b: &mut Builder, text: &str, file: &str) {
    crate::build::set_alias(b);
    let mut warnings = Vec::new();
    // Lines that are not UTF-8 are dropped first (smtputf8_enable).
    let mut early = Vec::new();
    let kept: Vec<String> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| {
            let line = source::Line {
                lineno: i + 1,
                last: i + 1,
                text: l.to_string(),
            };
            match crate::build::non_utf8(b, file, &line) {
                Some(w) => {
                    early.push((i + 1, w));
                    String::new()
                }
                None => l.to_string(),
            }
        })
        .collect();
    let text = kept.join("\n");
    warnings.extend(early);
    let entries = parse(&text, file, &mut |n, w| warnings.push((n, w)));
    for (n, w) in warnings {
        b.warn(n, w);
    }
    for e in entries {
        b.add(&e.name, &e.value, e.lineno);
    }
}

/// The sentinel and NIS entries of a finished alias table.
pub fn add_sentinels(b: &mut Builder) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    b.add_raw("YP_LAST_MODIFIED", &now.to_string());
    b.add_raw("YP_MASTER_NAME", &config::computed::system_hostname());
    b.add_raw("@", "@");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> (Vec<(String, String)>, Vec<String>) {
        let mut w = Vec::new();
        let e = parse(t, "al", &mut |_, s| w.push(s));
        (e.into_iter().map(|e| (e.name, e.value)).collect(), w)
    }

    #[test]
    fn canonical_values() {
        let cases = [
            ("a1: a b", "a b"),
            ("a2: \"|/usr/bin/cmd arg\"", "\"|/usr/bin/cmd arg\""),
            ("a4: :include:/etc/x", ":include:/etc/x"),
            ("a5: |cmd arg --x", "|cmd arg --x"),
            ("a6: a (comment) b", "a (comment) b"),
            ("a8: Name <x@y>, other@z", "Name <x@y>, other@z"),
            ("a9: x@[1.2.3.4] ,,y", "x@[1.2.3.4], , y"),
            ("b1: \"quoted local\"@dom", "\"quoted local\"@dom"),
            ("b2: a.b . c", "a.b.c"),
            ("b3: \\\\x", "\"\\\\x\""),
            ("b5: x,", "x, "),
            ("p:   root ,  other  ", "root, other"),
            ("e: cont: inued", "cont:inued"),
            ("e3: \"unterminated", "\"unterminated\""),
        ];
        for (line, want) in cases {
            let (e, w) = p(line);
            assert!(w.is_empty(), "{line}: {w:?}");
            assert_eq!(e[0].1, want, "{line}");
        }
    }

    #[test]
    fn names_and_errors() {
        let (e, w) =
            p("\"Foo Bar\": x\nq\\ x: 1\nuser@dom: z\nnocolon\nempty:\n\"a@b\": y\nb c: d\n");
        assert_eq!(
            e,
            [
                ("Foo Bar".into(), "x".into()),
                ("q x".into(), "1".into()),
                ("a@b".into(), "y".into()),
                ("b c".into(), "d".into()),
            ]
        );
        assert_eq!(
            w,
            [
                "al, line 3: name must be local",
                "al, line 4: need name:value pair",
                "al, line 5: need name:value pair",
            ]
        );
    }
}
