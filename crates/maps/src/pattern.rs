//! # NAME
//! pattern — `regexp:` and `pcre:` tables
//!
//! ## SYNOPSIS
//! ```ignore
//! /^(.*)@example\.com$/    relay:[$1.example.net]
//! !/^owner-/               OK
//! if /@example\.org$/
//! /^postmaster@/           postmaster@example.net
//! endif
//! ```
//!
//! ## DESCRIPTION
//! Rules are tried in file order against the whole key; the first that
//! matches (or, with `!`, does not match) gives the result, with `$1`,
//! `${1}`, `$(1)` replaced by the text of that subexpression (empty when
//! it took no part) and `$$` by `$`. `if /re/` ... `endif` (also `if !`)
//! nest. The delimiter is the first character of the pattern; flags after
//! it toggle options: `regexp:` has `i` (case-insensitive, on), `x`
//! (extended syntax, on), `m` (multi-line, off) and uses the C library's
//! POSIX expressions, as Postfix does; `pcre:` has `i` (on), `m`, `s`
//! (dot matches newline, on), `x`, `A` (anchored), `E` (dollar at end
//! only), `U` (ungreedy) and uses PCRE2.
//!
//! A rule with an error (bad expression, unknown flag, `$2` with one
//! subexpression, `$1` in a negated rule) is reported with the file and
//! line and skipped; the table still opens. Tables may also be given
//! inline: `regexp:{ {/a/ b}, {/c/ d} }`.
//!
//! ## SEE ALSO
//! regexp_table(5), pcre_table(5), [`sys::regex`]

use std::path::Path;

use sys::regex::{PosixRegex, REG_EXTENDED, REG_ICASE, REG_NEWLINE};

use crate::db::strerror;
use crate::{Dict, MapError, OpenCtx, Watched, source};

/// Byte ranges of the whole match and of each subexpression.
type Groups = Vec<Option<(usize, usize)>>;

enum Engine {
    Posix(PosixRegex),
    Pcre(pcre2::bytes::Regex),
}

impl Engine {
    fn groups(&self) -> usize {
        match self {
            Engine::Posix(r) => r.groups(),
            Engine::Pcre(r) => r.captures_len().saturating_sub(1),
        }
    }

    fn exec(&self, s: &str) -> Result<Option<Groups>, String> {
        match self {
            Engine::Posix(r) => Ok(r.exec(s)),
            Engine::Pcre(r) => {
                let mut locs = r.capture_locations();
                match r.captures_read(&mut locs, s.as_bytes()) {
                    Ok(Some(_)) => Ok(Some((0..locs.len()).map(|i| locs.get(i)).collect())),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Group(usize),
}

enum RuleKind {
    Match {
        re: Engine,
        negate: bool,
        result: Vec<Piece>,
    },
    If {
        re: Engine,
        negate: bool,
        /// Index of the rule after the matching ENDIF.
        end: usize,
    },
    Endif,
}

pub struct PatternDict {
    spec: String,
    rules: Vec<RuleKind>,
    watched: Option<Watched>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Regexp,
    Pcre,
}

impl Flavor {
    fn label(self) -> &'static str {
        match self {
            Flavor::Regexp => "regexp",
            Flavor::Pcre => "pcre",
        }
    }
}

pub fn open_regexp(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    open(ctx, Flavor::Regexp)
}

pub fn open_pcre(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    open(ctx, Flavor::Pcre)
}

/// The rules of an inline table `{ {rule}, {rule} }` as text lines.
pub(crate) fn inline_rules(spec: &str, name: &str) -> Result<String, MapError> {
    let bad = || {
        MapError::config(
            spec,
            format!(
                "bad syntax: \"{spec}\"; need \"{}:{{{{rule}}...}}\"",
                spec.split(':').next().unwrap_or("")
            ),
        )
    };
    let body = name
        .trim()
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut text = String::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in body.chars() {
        match c {
            '{' => {
                if depth > 0 {
                    cur.push(c);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    text.push_str(cur.trim());
                    text.push('\n');
                    cur.clear();
                } else {
                    cur.push(c);
                }
            }
            c if depth > 0 => cur.push(c),
            c if c == ',' || c.is_whitespace() => {}
            _ => return Err(bad()),
        }
    }
    if depth != 0 || text.is_empty() {
        return Err(bad());
    }
    Ok(text)
}

fn open(ctx: &OpenCtx<'_>, flavor: Flavor) -> Result<Box<dyn Dict>, MapError> {
    let (text, watched) = if ctx.name.starts_with('{') {
        (inline_rules(ctx.spec, ctx.name)?, None)
    } else {
        let path = Path::new(ctx.name);
        let text = source::read_text(path).map_err(|e| {
            MapError::config(ctx.spec, format!("open {}: {}", ctx.name, strerror(&e)))
        })?;
        (text, Some(Watched::new(path)))
    };
    let rules = parse(&text, ctx.name, flavor, &mut |w| crate::msg::warn(&w));
    Ok(Box::new(PatternDict {
        spec: ctx.spec.to_string(),
        rules,
        watched,
    }))
}

/// A parsed `/pattern/flags` and what follows it.
struct Pat<'a> {
    negate: bool,
    re: Engine,
    rest: &'a str,
}

/// Why a pattern was not parsed; the warning was given.
struct Skip;

fn parse_pattern<'a>(
    mut p: &'a str,
    flavor: Flavor,
    warn: &mut dyn FnMut(String),
    at: &str,
) -> Result<Pat<'a>, Skip> {
    let mut negate = false;
    p = p.trim_start();
    while let Some(r) = p.strip_prefix('!') {
        negate = !negate;
        p = r.trim_start();
    }
    let Some(delim) = p.chars().next() else {
        warn(format!("{at}: no regexp: skipping this rule"));
        return Err(Skip);
    };
    let body = &p[delim.len_utf8()..];
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut close = None;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if body[i..].starts_with(delim) {
            close = Some(i);
            break;
        }
        i += 1;
    }
    let Some(close) = close else {
        let how = match flavor {
            Flavor::Regexp => "skipping",
            Flavor::Pcre => "ignoring",
        };
        warn(format!(
            "{at}: no closing regexp delimiter \"{delim}\": {how} this rule"
        ));
        return Err(Skip);
    };
    let pattern = &body[..close];
    let after = &body[close + delim.len_utf8()..];
    let flag_end = after
        .find(|c: char| c.is_whitespace())
        .unwrap_or(after.len());
    let flags = &after[..flag_end];
    let rest = &after[flag_end..];
    let re = match flavor {
        Flavor::Regexp => {
            let mut f = REG_EXTENDED | REG_ICASE;
            for c in flags.chars() {
                match c {
                    'i' => f ^= REG_ICASE,
                    'x' => f ^= REG_EXTENDED,
                    'm' => f ^= REG_NEWLINE,
                    _ => {
                        warn(format!(
                            "{at}: unknown regexp option \"{c}\": skipping this rule"
                        ));
                        return Err(Skip);
                    }
                }
            }
            match PosixRegex::new(pattern, f) {
                Ok(r) => Engine::Posix(r),
                Err(e) => {
                    warn(format!("{at}: {e}"));
                    return Err(Skip);
                }
            }
        }
        Flavor::Pcre => {
            let (mut icase, mut multi, mut dotall, mut ext, mut anch, mut dollar, mut ungreedy) =
                (true, false, true, false, false, false, false);
            for c in flags.chars() {
                match c {
                    'i' => icase = !icase,
                    'm' => multi = !multi,
                    's' => dotall = !dotall,
                    'x' => ext = !ext,
                    'A' => anch = !anch,
                    'E' => dollar = !dollar,
                    'U' => ungreedy = !ungreedy,
                    'X' => warn(format!("{at}: ignoring obsolete regexp option \"{c}\"")),
                    _ => {
                        warn(format!(
                            "{at}: unknown regexp option \"{c}\": skipping this rule"
                        ));
                        return Err(Skip);
                    }
                }
            }
            let mut pat = String::new();
            let mut shift = 0;
            if ungreedy {
                pat.push_str("(?U)");
                shift += 4;
            }
            if anch {
                pat.push_str("\\A(?:");
                shift += 5;
            }
            if dollar && !multi {
                pat.push_str(&dollar_end_only(pattern));
            } else {
                pat.push_str(pattern);
            }
            if anch {
                pat.push(')');
            }
            let built = pcre2::bytes::RegexBuilder::new()
                .caseless(icase)
                .multi_line(multi)
                .dotall(dotall)
                .extended(ext)
                .jit_if_available(true)
                .build(&pat);
            match built {
                Ok(r) => Engine::Pcre(r),
                Err(e) => {
                    let text = e.to_string();
                    let msg = text.split_once(": ").map(|(_, m)| m).unwrap_or(&text);
                    let msg = msg.split_once(": ").map(|(_, m)| m).unwrap_or(msg);
                    let off = e.offset().unwrap_or(0).saturating_sub(shift);
                    warn(format!("{at}: error in regex at offset {off}: {msg}"));
                    return Err(Skip);
                }
            }
        }
    };
    Ok(Pat { negate, re, rest })
}

/// `$` outside classes and escapes becomes `\z` (PCRE2's DOLLAR_ENDONLY).
fn dollar_end_only(p: &str) -> String {
    let mut out = String::new();
    let mut chars = p.chars().peekable();
    let mut class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !class => {
                class = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap_or(']'));
                }
            }
            ']' if class => {
                class = false;
                out.push(c);
            }
            '$' if !class => out.push_str("\\z"),
            c => out.push(c),
        }
    }
    out
}

/// Parses the result text: `$n`, `${n}`, `$(n)`, `$$`.
fn parse_result(
    text: &str,
    groups: usize,
    negate: bool,
    warn: &mut dyn FnMut(String),
    at: &str,
) -> Result<Vec<Piece>, Skip> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut numbers = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let c = text[i..].chars().next().unwrap_or('\0');
            lit.push(c);
            i += c.len_utf8().max(1);
            continue;
        }
        let (name, next) = match b.get(i + 1) {
            Some(b'$') => {
                lit.push('$');
                i += 2;
                continue;
            }
            Some(&open @ (b'{' | b'(')) => {
                let close = if open == b'{' { '}' } else { ')' };
                match text[i + 2..].find(close) {
                    Some(j) => (&text[i + 2..i + 2 + j], i + 3 + j),
                    None => {
                        warn(format!("truncated macro reference: \"{}\"", &text[i..]));
                        warn(format!("{at}: bad replacement syntax: skipping this rule"));
                        return Err(Skip);
                    }
                }
            }
            Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => {
                let end = text[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(text.len(), |j| i + 1 + j);
                (&text[i + 1..end], end)
            }
            _ => {
                warn(format!("empty macro name: \"{text}\""));
                warn(format!("{at}: bad replacement syntax: skipping this rule"));
                return Err(Skip);
            }
        };
        if name.is_empty() {
            warn(format!("empty macro name: \"{text}\""));
            warn(format!("{at}: bad replacement syntax: skipping this rule"));
            return Err(Skip);
        }
        match name.parse::<usize>() {
            Ok(n) if name.bytes().all(|c| c.is_ascii_digit()) => {
                numbers.push((n, name.to_string()));
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Group(n));
            }
            _ => {
                warn(format!("{at}: non-numeric replacement index \"{name}\""));
                warn(format!("{at}: bad replacement syntax: skipping this rule"));
                return Err(Skip);
            }
        }
        i = next;
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    if negate && !numbers.is_empty() {
        warn(format!(
            "{at}: $number found in negative match replacement text: skipping this rule"
        ));
        return Err(Skip);
    }
    if let Some((_, name)) = numbers.iter().find(|(n, _)| *n > groups) {
        warn(format!(
            "{at}: out of range replacement index \"{name}\": skipping this rule"
        ));
        return Err(Skip);
    }
    Ok(out)
}

fn parse(text: &str, file: &str, flavor: Flavor, warn: &mut dyn FnMut(String)) -> Vec<RuleKind> {
    let label = flavor.label();
    let mut rules: Vec<RuleKind> = Vec::new();
    let mut open_ifs: Vec<(usize, usize)> = Vec::new(); // (rule index, line)
    for line in source::logical_lines_with(text, file, warn) {
        let at = format!("{label} map {file}, line {}", line.lineno);
        let depth_warning = |open: usize, warn: &mut dyn FnMut(String)| {
            if open > 0 && line.last > line.lineno {
                warn(format!(
                    "{at}: do not prepend whitespace to statements between IF and ENDIF"
                ));
            }
        };
        let p = line.text.as_str();
        let first = p.chars().next().unwrap_or(' ');
        let word_end = p
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(p.len());
        let word = &p[..word_end];
        if first.is_ascii_alphanumeric() {
            if word.eq_ignore_ascii_case("if") {
                let Ok(pat) = parse_pattern(&p[2..], flavor, warn, &at) else {
                    // A bad IF still opens a block, so that its ENDIF pairs.
                    open_ifs.push((usize::MAX, line.lineno));
                    continue;
                };
                let extra = pat.rest.trim();
                if !extra.is_empty() {
                    warn(format!(
                        "{at}: ignoring extra text after IF statement: \"{extra}\""
                    ));
                }
                open_ifs.push((rules.len(), line.lineno));
                rules.push(RuleKind::If {
                    re: pat.re,
                    negate: pat.negate,
                    end: 0,
                });
                depth_warning(open_ifs.len(), warn);
            } else if word.eq_ignore_ascii_case("endif") {
                let Some((idx, _)) = open_ifs.pop() else {
                    warn(format!("{at}: ignoring ENDIF without matching IF"));
                    continue;
                };
                if !p[word_end..].trim().is_empty() {
                    warn(format!("{at}: ignoring extra text after ENDIF"));
                }
                if idx == usize::MAX {
                    continue;
                }
                let end = rules.len() + 1;
                if let Some(RuleKind::If { end: e, .. }) = rules.get_mut(idx) {
                    *e = end;
                }
                rules.push(RuleKind::Endif);
            } else {
                warn(format!("{at}: ignoring unrecognized request"));
            }
            continue;
        }
        let Ok(pat) = parse_pattern(p, flavor, warn, &at) else {
            depth_warning(open_ifs.len(), warn);
            continue;
        };
        depth_warning(open_ifs.len(), warn);
        let result_text = pat.rest.trim();
        if result_text.is_empty() {
            warn(format!("{at}: no replacement text: using empty string"));
        }
        let Ok(result) = parse_result(result_text, pat.re.groups(), pat.negate, warn, &at) else {
            continue;
        };
        rules.push(RuleKind::Match {
            re: pat.re,
            negate: pat.negate,
            result,
        });
    }
    let n = rules.len();
    for (idx, lineno) in open_ifs {
        warn(format!(
            "{label} map {file}, line {lineno}: IF has no matching ENDIF"
        ));
        if let Some(RuleKind::If { end, .. }) = rules.get_mut(idx) {
            *end = n;
        }
    }
    rules
}

impl Dict for PatternDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let mut i = 0;
        while i < self.rules.len() {
            match &self.rules[i] {
                RuleKind::Match { re, negate, result } => {
                    let m = re
                        .exec(key)
                        .map_err(|e| MapError::temp(&self.spec, format!("{}: {e}", self.spec)))?;
                    match (m, negate) {
                        (Some(groups), false) => {
                            let mut out = String::new();
                            for p in result {
                                match p {
                                    Piece::Lit(s) => out.push_str(s),
                                    Piece::Group(n) => {
                                        if let Some(Some((a, b))) = groups.get(*n) {
                                            out.push_str(&key[*a..*b]);
                                        }
                                    }
                                }
                            }
                            return Ok(Some(out));
                        }
                        (None, true) => {
                            let mut out = String::new();
                            for p in result {
                                if let Piece::Lit(s) = p {
                                    out.push_str(s);
                                }
                            }
                            return Ok(Some(out));
                        }
                        _ => {}
                    }
                }
                RuleKind::If { re, negate, end } => {
                    let m = re
                        .exec(key)
                        .map_err(|e| MapError::temp(&self.spec, format!("{}: {e}", self.spec)))?;
                    if m.is_some() == *negate {
                        i = *end;
                        continue;
                    }
                }
                RuleKind::Endif => {}
            }
            i += 1;
        }
        Ok(None)
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn is_pattern(&self) -> bool {
        true
    }

    fn changed(&self) -> bool {
        self.watched.as_ref().is_some_and(Watched::changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str, flavor: Flavor) -> (PatternDict, Vec<String>) {
        let mut w = Vec::new();
        let rules = parse(text, "t", flavor, &mut |s| w.push(s));
        (
            PatternDict {
                spec: "regexp:t".into(),
                rules,
                watched: None,
            },
            w,
        )
    }

    #[test]
    fn regexp_rules_and_warnings() {
        let (mut d, w) = table(
            "/^(.*)@example\\.com$/\tuser=$1 ${1} $(1) $$ $2\n/^x(a)$/ $foo\n/^y(a)$/ ${1\n!/^z/ $1\n/unclosed\n/a/q res\n/(b)/ val-$1\nif /^ifx/\n/^ifx(.*)$/ in-if-$1\nendif\nendif\n/(/ bad\n/^CASE$/i exact\n",
            Flavor::Regexp,
        );
        assert_eq!(
            w,
            [
                "regexp map t, line 1: out of range replacement index \"2\": skipping this rule",
                "regexp map t, line 2: non-numeric replacement index \"foo\"",
                "regexp map t, line 2: bad replacement syntax: skipping this rule",
                "truncated macro reference: \"${1\"",
                "regexp map t, line 3: bad replacement syntax: skipping this rule",
                "regexp map t, line 4: $number found in negative match replacement text: skipping this rule",
                "regexp map t, line 5: no closing regexp delimiter \"/\": skipping this rule",
                "regexp map t, line 6: unknown regexp option \"q\": skipping this rule",
                "regexp map t, line 11: ignoring ENDIF without matching IF",
                "regexp map t, line 12: Unmatched ( or \\(",
            ]
        );
        assert_eq!(d.lookup("ab").unwrap().as_deref(), Some("val-b"));
        assert_eq!(d.lookup("ifxyz").unwrap().as_deref(), Some("in-if-yz"));
        assert_eq!(d.lookup("case").unwrap(), None);
        assert_eq!(d.lookup("CASE").unwrap().as_deref(), Some("exact"));
    }

    #[test]
    fn pcre_flags() {
        let (mut d, w) = table(
            "/^a(b)?c$/ x${1}y\n/^UP$/i up\n/^(x+?)/U lazy$1\n/end$/E endonly\n/^[/ bad\n",
            Flavor::Pcre,
        );
        assert_eq!(d.lookup("AC").unwrap().as_deref(), Some("xy"));
        assert_eq!(d.lookup("up").unwrap(), None);
        assert_eq!(d.lookup("xxx").unwrap().as_deref(), Some("lazyxxx"));
        assert_eq!(d.lookup("the end\n").unwrap(), None);
        assert_eq!(d.lookup("the end").unwrap().as_deref(), Some("endonly"));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("pcre map t, line 5: error in regex at offset"),
            "{w:?}"
        );
    }

    #[test]
    fn inline_rules_text() {
        assert_eq!(
            inline_rules("regexp:{ {/a/ b}, { /c/ d } }", "{ {/a/ b}, { /c/ d } }").unwrap(),
            "/a/ b\n/c/ d\n"
        );
    }
}
