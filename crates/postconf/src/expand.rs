//! # NAME
//! expand — `$name` expressions, evaluated or scanned, with Postfix's errors
//!
//! ## SYNOPSIS
//! ```ignore
//! let v = expand::evaluate(raw, &|name| settings.raw(name))?;   // -x
//! expand::scan(raw, &mut |name| seen.push(name.to_string()))?; // which names a value uses
//! ```
//!
//! ## DESCRIPTION
//! The forms of postconf(5): `$name`, `${name}`, `$(name)`,
//! `${name?value}`, `${name?{value}}`, `${name:value}`,
//! `${name?{value1}:{value2}}` (the second value with or without braces),
//! the relational form `${{a} OP {b} ? {t} : {f}}` with `==`, `!=`, `<`,
//! `<=`, `>`, `>=` and their `...level` forms for compatibility levels, and
//! `$$` for one `$`. Whitespace may surround the name inside `${ }` and
//! each `{value}`; the text inside `{ }` is taken as it is.
//!
//! [`evaluate`] computes the value: a name is replaced with the expansion
//! of its raw value (an unknown name with nothing), `?` and `:` test
//! whether the raw value is empty, relational operands are expanded and
//! compared as numbers when both are all digits; a comparison without
//! `?` or `:` gives `true` or nothing. Values that refer to
//! each other more than [`MAX_NESTING`] levels deep are an error, which is
//! how a loop such as `a = $b`, `b = $a` ends.
//!
//! [`scan`] visits every name that a value mentions, in every branch,
//! without following the values of those names: it is how postconf(1)
//! tells which parameters are used and which are undefined.
//!
//! The errors print as postconf(1) prints them: `truncated macro
//! reference: "${a"`, `empty macro name: "${}"`, `unreasonable macro call
//! nesting: "a"`, and syntax errors with context, such as `":" expected
//! at: "...x}>>>y"`.
//!
//! ## BUGS
//! The config crate's expander (`config::expand`) accepts a lone `$`
//! and trims `{ value }`; Postfix does neither, and neither does this
//! module.
//!
//! ## SEE ALSO
//! postconf(5), [`config::expand`]

use std::cmp::Ordering;
use std::fmt;

/// How deep values may refer to each other.
pub const MAX_NESTING: usize = 100;

/// Bytes of context shown before and after a syntax error.
const CONTEXT_BEFORE: usize = 32;
const CONTEXT_AFTER: usize = 20;

const REL_OP_EXPECTED: &str =
    "\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\" expected";

/// Why a value cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroError {
    /// A `${` or `$(` without its closing bracket; holds the whole text.
    Truncated(String),
    /// `$` followed by no name; holds the whole text.
    EmptyName(String),
    /// A malformed `${...}`, with the text before and after the error.
    Syntax {
        what: &'static str,
        before: String,
        after: String,
    },
    /// Values nested too deep; holds the names and texts that were met
    /// beyond that depth, each reported on a line of its own.
    Nesting(Vec<String>),
}

impl fmt::Display for MacroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacroError::Truncated(t) => write!(f, "truncated macro reference: \"{t}\""),
            MacroError::EmptyName(t) => write!(f, "empty macro name: \"{t}\""),
            MacroError::Syntax {
                what,
                before,
                after,
            } => write!(f, "{what} at: \"...{before}>>>{after}\""),
            MacroError::Nesting(v) => {
                let lines: Vec<String> = v
                    .iter()
                    .map(|t| format!("unreasonable macro call nesting: \"{t}\""))
                    .collect();
                f.write_str(&lines.join("\n"))
            }
        }
    }
}

/// Looks up the raw value of a parameter; `None` when it has none.
pub type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Expands `text` completely.
pub fn evaluate(text: &str, lookup: &Lookup<'_>) -> Result<String, MacroError> {
    let mut w = Walker {
        action: Action::Evaluate(lookup),
        level: 0,
        nested: Vec::new(),
    };
    let r = w.text(text);
    if w.nested.is_empty() {
        r
    } else {
        Err(MacroError::Nesting(w.nested))
    }
}

/// Calls `visit` for every parameter name in `text`, in every branch.
pub fn scan(text: &str, visit: &mut dyn FnMut(&str)) -> Result<(), MacroError> {
    let mut w = Walker {
        action: Action::Scan(visit),
        level: 0,
        nested: Vec::new(),
    };
    w.text(text).map(drop)
}

enum Action<'a, 'b> {
    Evaluate(&'b Lookup<'a>),
    Scan(&'b mut dyn FnMut(&str)),
}

/// Walks a text. Beyond [`MAX_NESTING`], Postfix reports each literal
/// text it meets and goes on, and stops at the next `$name` (reporting
/// the name) or `${...}` (reporting what is inside the braces, only if
/// nothing was reported yet); the
/// depth is not restored after a reported problem, so everything that
/// follows is beyond the limit too. `level` and `nested` reproduce that.
struct Walker<'a, 'b> {
    action: Action<'a, 'b>,
    level: usize,
    nested: Vec<String>,
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_space(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The index of the bracket that closes the one at `s[open_at]`.
fn matching(s: &str, open_at: usize) -> Option<usize> {
    let b = s.as_bytes();
    let (open, close) = match b[open_at] {
        b'(' => (b'(', b')'),
        _ => (b'{', b'}'),
    };
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open_at) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A syntax error in `inner`: the last token was `inner[mark..token_end]`,
/// the error is at `pos`.
fn syntax(
    what: &'static str,
    inner: &str,
    mark: usize,
    token_end: usize,
    pos: usize,
) -> MacroError {
    let mut from = token_end.saturating_sub(CONTEXT_BEFORE).max(mark);
    while !inner.is_char_boundary(from) {
        from += 1;
    }
    let to = floor_boundary(inner, (pos + CONTEXT_AFTER).min(inner.len()));
    MacroError::Syntax {
        what,
        before: inner[from..token_end].to_string(),
        after: inner[pos..to].to_string(),
    }
}

/// The two values of a conditional: the text for "true" and for "false".
struct Branches<'t> {
    when_true: Option<&'t str>,
    when_false: Option<&'t str>,
}

/// Parses what follows `?` or `:` (at `inner[from..]`).
fn branches<'t>(
    inner: &'t str,
    from: usize,
    op: u8,
    text: &str,
) -> Result<Branches<'t>, MacroError> {
    let b = inner.as_bytes();
    let s = skip_space(inner, from);
    let (first, second) = if s < b.len() && b[s] == b'{' {
        let close = matching(inner, s).ok_or_else(|| MacroError::Truncated(text.to_string()))?;
        let v1 = &inner[s + 1..close];
        let t = skip_space(inner, close + 1);
        if t == b.len() {
            (v1, None)
        } else if op == b'?' && b[t] == b':' {
            let u = skip_space(inner, t + 1);
            if u < b.len() && b[u] == b'{' {
                let close2 =
                    matching(inner, u).ok_or_else(|| MacroError::Truncated(text.to_string()))?;
                let w = skip_space(inner, close2 + 1);
                if w != b.len() {
                    return Err(syntax("unexpected input", inner, u + 1, close2 + 1, w));
                }
                (v1, Some(&inner[u + 1..close2]))
            } else {
                (v1, Some(&inner[t + 1..]))
            }
        } else if op == b'?' {
            return Err(syntax("\":\" expected", inner, s + 1, close + 1, t));
        } else {
            return Err(syntax("unexpected input", inner, s + 1, close + 1, t));
        }
    } else {
        (&inner[from..], None)
    };
    Ok(if op == b'?' {
        Branches {
            when_true: Some(first),
            when_false: second,
        }
    } else {
        Branches {
            when_true: None,
            when_false: Some(first),
        }
    })
}

/// The relational operators, longest first.
const OPERATORS: &[&str] = &[
    "==level", "!=level", "<=level", ">=level", "<level", ">level", "==", "!=", "<=", ">=", "<",
    ">",
];

/// Compares two expanded operands.
fn compare(a: &str, op: &str, b: &str) -> bool {
    let (base, level) = match op.strip_suffix("level") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let ord = if level {
        config::expand::compare_levels(a, b)
    } else if all_digits(a) && all_digits(b) {
        let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
    } else {
        a.cmp(b)
    };
    match base {
        "==" => ord == Ordering::Equal,
        "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }
}

impl Walker<'_, '_> {
    fn scanning(&self) -> bool {
        matches!(self.action, Action::Scan(_))
    }

    /// Whether the walk is deeper than Postfix allows.
    fn too_deep(&self) -> bool {
        self.level > MAX_NESTING
    }

    /// Stops the walk; [`evaluate`] reports what `nested` holds.
    fn stop(&mut self, report: Option<&str>) -> MacroError {
        if let Some(r) = report {
            self.nested.push(r.to_string());
        }
        MacroError::Nesting(Vec::new())
    }

    /// Expands (or scans) `text` at the current depth.
    fn text(&mut self, text: &str) -> Result<String, MacroError> {
        let b = text.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            let Some(off) = text[i..].find('$') else {
                self.literal(&text[i..], &mut out);
                break;
            };
            if off > 0 {
                self.literal(&text[i..i + off], &mut out);
            }
            i += off + 1;
            match b.get(i) {
                Some(b'$') => {
                    self.literal("$", &mut out);
                    i += 1;
                }
                Some(b'{' | b'(') => {
                    let close =
                        matching(text, i).ok_or_else(|| MacroError::Truncated(text.to_string()))?;
                    let inner = &text[i + 1..close];
                    out.push_str(&self.braced(inner, text)?);
                    i = close + 1;
                }
                Some(&c) if is_name_byte(c) => {
                    let n = text[i..].bytes().take_while(|&c| is_name_byte(c)).count();
                    out.push_str(&self.name(&text[i..i + n])?);
                    i += n;
                }
                _ => return Err(MacroError::EmptyName(text.to_string())),
            }
        }
        Ok(out)
    }

    fn literal(&mut self, s: &str, out: &mut String) {
        if self.too_deep() {
            self.nested.push(s.to_string());
        } else {
            out.push_str(s);
        }
    }

    /// `$name`: the expansion of the named value.
    fn name(&mut self, name: &str) -> Result<String, MacroError> {
        if self.too_deep() {
            return Err(self.stop(Some(name)));
        }
        self.value_of(name)
    }

    /// The expansion of the value of `name`, one level deeper.
    fn value_of(&mut self, name: &str) -> Result<String, MacroError> {
        let raw = match &mut self.action {
            Action::Scan(visit) => {
                visit(name);
                return Ok(String::new());
            }
            Action::Evaluate(lookup) => lookup(name),
        };
        let Some(raw) = raw else {
            return Ok(String::new());
        };
        self.level += 1;
        let r = self.text(&raw);
        if self.nested.is_empty() {
            self.level -= 1;
        }
        r
    }

    /// Whether the raw value of `name` is non-empty (and, when scanning,
    /// records the name).
    fn is_set(&mut self, name: &str) -> bool {
        match &mut self.action {
            Action::Scan(visit) => {
                visit(name);
                false
            }
            Action::Evaluate(lookup) => lookup(name).is_some_and(|v| !v.is_empty()),
        }
    }

    /// The inside of `${...}` or `$(...)`.
    fn braced(&mut self, inner: &str, text: &str) -> Result<String, MacroError> {
        let b = inner.as_bytes();
        let p = skip_space(inner, 0);
        if self.too_deep() {
            let report = self.nested.is_empty().then_some(inner);
            return Err(self.stop(report));
        }
        if p < b.len() && b[p] == b'{' {
            return self.relational(inner, p, text);
        }
        let n = inner[p..].bytes().take_while(|&c| is_name_byte(c)).count();
        if n == 0 {
            return Err(MacroError::EmptyName(text.to_string()));
        }
        let name = &inner[p..p + n];
        let q = skip_space(inner, p + n);
        if q == b.len() {
            return self.value_of(name);
        }
        let op = b[q];
        if op != b'?' && op != b':' {
            return Err(syntax("attribute name syntax error", inner, p, p + n, q));
        }
        let set = self.is_set(name);
        let br = branches(inner, q + 1, op, text)?;
        self.choose(br, set)
    }

    /// Expands the branch that `truth` selects; scans both.
    fn choose(&mut self, br: Branches<'_>, truth: bool) -> Result<String, MacroError> {
        if self.scanning() {
            for v in [br.when_true, br.when_false].into_iter().flatten() {
                self.text(v)?;
            }
            return Ok(String::new());
        }
        match if truth { br.when_true } else { br.when_false } {
            Some(v) => self.text(v),
            None => Ok(String::new()),
        }
    }

    /// `{a} OP {b} ? {t} : {f}`, starting at `inner[p] == '{'`.
    fn relational(&mut self, inner: &str, p: usize, text: &str) -> Result<String, MacroError> {
        let b = inner.as_bytes();
        let truncated = || MacroError::Truncated(text.to_string());
        let close = matching(inner, p).ok_or_else(truncated)?;
        let left = &inner[p + 1..close];
        let q = skip_space(inner, close + 1);
        let Some(op) = OPERATORS.iter().find(|op| inner[q..].starts_with(**op)) else {
            return Err(syntax(REL_OP_EXPECTED, inner, p + 1, close + 1, q));
        };
        let r = skip_space(inner, q + op.len());
        if r >= b.len() || b[r] != b'{' {
            return Err(syntax("\"{\" expected", inner, q, q + op.len(), r));
        }
        let close2 = matching(inner, r).ok_or_else(truncated)?;
        let right = &inner[r + 1..close2];
        let left = self.text(left)?;
        let right = self.text(right)?;
        let s = skip_space(inner, close2 + 1);
        if s == b.len() {
            // A bare comparison is "true" or nothing.
            let truth = !self.scanning() && compare(&left, op, &right);
            return Ok(if truth {
                "true".to_string()
            } else {
                String::new()
            });
        }
        let op2 = b[s];
        if op2 != b'?' && op2 != b':' {
            return Err(syntax("unexpected input", inner, r + 1, close2 + 1, s));
        }
        let truth = !self.scanning() && compare(&left, op, &right);
        let br = branches(inner, s + 1, op2, text)?;
        self.choose(br, truth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(text: &str, vars: &[(&str, &str)]) -> Result<String, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        evaluate(text, &|n| map.get(n).cloned()).map_err(|e| e.to_string())
    }

    fn names(text: &str) -> Result<Vec<String>, String> {
        let mut v = Vec::new();
        scan(text, &mut |n| v.push(n.to_string())).map_err(|e| e.to_string())?;
        Ok(v)
    }

    #[test]
    fn plain_and_conditional_forms() {
        let v = [("a", "A"), ("e", ""), ("d", "$$x"), ("n", "$nothing")];
        assert_eq!(run("x $a ${a} $(a) $$ $$a", &v).unwrap(), "x A A A $ $a");
        assert_eq!(run("${d}", &v).unwrap(), "$x");
        assert_eq!(run("A${a?{ x }}B", &v).unwrap(), "A x B");
        assert_eq!(run("A${e:{ x }}B", &v).unwrap(), "A x B");
        assert_eq!(run("${a?x:y}", &v).unwrap(), "x:y");
        assert_eq!(run("${e?{x}:y}", &v).unwrap(), "y");
        assert_eq!(run("${e?{x}: {y} }", &v).unwrap(), "y");
        assert_eq!(run("${ a }", &v).unwrap(), "A");
        assert_eq!(run("${ e ? {a} : {b} }", &v).unwrap(), "b");
        // The test is on the raw value.
        assert_eq!(run("${n?{yes}:{no}}", &v).unwrap(), "yes");
        assert_eq!(run("$(a?(x))", &v).unwrap(), "(x)");
    }

    #[test]
    fn relational_forms() {
        let v = [("compatibility_level", "3.6")];
        assert_eq!(run("${{10} < {9} ? {lt} : {ge}}", &v).unwrap(), "ge");
        assert_eq!(run("${{010} == {10} ? {eq} : {ne}}", &v).unwrap(), "eq");
        assert_eq!(run("${{ a } == {a} ? {eq} : {ne}}", &v).unwrap(), "ne");
        assert_eq!(run("${{a}==   {a}?{eq}}", &v).unwrap(), "eq");
        assert_eq!(run("${{a} == {a} ? eq : ne}", &v).unwrap(), " eq : ne");
        assert_eq!(run("${{a} == {b}}", &v).unwrap(), "");
        assert_eq!(run("${{a} == {a}}", &v).unwrap(), "true");
        assert_eq!(
            run(
                "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}",
                &v
            )
            .unwrap(),
            "sha256"
        );
    }

    #[test]
    fn errors_as_postfix_prints_them() {
        let v = [("a", "$a")];
        assert_eq!(
            run("x ${a", &v).unwrap_err(),
            "truncated macro reference: \"x ${a\""
        );
        assert_eq!(run("${}", &v).unwrap_err(), "empty macro name: \"${}\"");
        assert_eq!(run("a$", &v).unwrap_err(), "empty macro name: \"a$\"");
        assert_eq!(run("$ {a}", &v).unwrap_err(), "empty macro name: \"$ {a}\"");
        assert_eq!(
            run("${abcdef!xyz}", &v).unwrap_err(),
            "attribute name syntax error at: \"...abcdef>>>!xyz\""
        );
        assert_eq!(
            run("${a?{x} y}", &[]).unwrap_err(),
            "\":\" expected at: \"...x}>>>y\""
        );
        assert_eq!(
            run("${a:{x}:{y}}", &[]).unwrap_err(),
            "unexpected input at: \"...x}>>>:{y}\""
        );
        assert_eq!(
            run("${{a} = {a} ? {eq}}", &[]).unwrap_err(),
            "\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\" expected at: \"...a}>>>= {a} ? {eq}\""
        );
        assert_eq!(
            run(
                &format!(
                    "${{{{{}}} ~ {{{}}} ? {{x}}}}",
                    "a".repeat(31),
                    "b".repeat(43)
                ),
                &[]
            )
            .unwrap_err(),
            format!(
                "\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\" expected at: \"...{}}}>>>~ {{{}\"",
                "a".repeat(31),
                "b".repeat(17)
            )
        );
        assert_eq!(
            run("$a", &v).unwrap_err(),
            "unreasonable macro call nesting: \"a\""
        );
    }

    #[test]
    fn nesting_limit_counts_levels() {
        // a chain of 100 values that refer to the next is fine, 101 is not.
        let chain = |n: usize| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = (0..n)
                .map(|i| (format!("p{i}"), format!("$p{}", i + 1)))
                .collect();
            v.push((format!("p{n}"), "end".to_string()));
            v
        };
        for (n, want) in [(99, Ok("end".to_string())), (100, Err("end".to_string()))] {
            let vars = chain(n);
            let map: HashMap<String, String> = vars.into_iter().collect();
            let got = evaluate("$p0", &|k| map.get(k).cloned()).map_err(|e| match e {
                MacroError::Nesting(t) => t.join("|"),
                other => other.to_string(),
            });
            assert_eq!(got, want, "chain of {n}");
        }
    }

    #[test]
    fn nesting_reports_as_postfix_does() {
        let nested = |text: &str, vars: &[(&str, &str)]| -> String {
            let map: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            match evaluate(text, &|n| map.get(n).cloned()) {
                Err(MacroError::Nesting(v)) => v.join("|"),
                other => format!("{other:?}"),
            }
        };
        let v = [("o", "a $o b")];
        assert_eq!(nested("a $o b", &v), "a |o");
        let v = [("o", "a ${o} b")];
        assert_eq!(nested("a ${o} b", &v), "a ");
        let v = [("o", "${o}")];
        assert_eq!(nested("${o}", &v), "o");
        let v = [("o", "x $r y $o z"), ("r", "r")];
        assert_eq!(nested("x $r y $o z", &v), "r| y |o");
        let v = [("o", "$(i) permit $(o)"), ("i", "all")];
        assert_eq!(nested("$(i) permit $(o)", &v), "all| permit ");
        let v = [("o", "$i permit $o tail"), ("i", "all")];
        assert_eq!(nested("$i permit $o tail", &v), "all| permit |o");
    }

    #[test]
    fn scan_visits_every_branch_without_following_values() {
        assert_eq!(
            names("$a ${b?{$c}:{$d}} $(e) $$f ${{$g} == {1} ? {$h}} ${i:x}").unwrap(),
            ["a", "b", "c", "d", "e", "g", "h", "i"]
        );
        assert_eq!(names("$1").unwrap(), ["1"]);
        assert!(names("${a").is_err());
    }
}
