//! # NAME
//! expand — `$name` expansion of parameter values
//!
//! ## SYNOPSIS
//! ```ignore
//! let v = expand::expand("$myhostname ESMTP", &|name| cfg.raw(name))?;
//! ```
//!
//! ## DESCRIPTION
//! The forms of postconf(5): `$name`, `${name}`, `$(name)`, `${name?value}`,
//! `${name?{value}}`, `${name:value}`, `${name:{value}}`,
//! `${name?{value1}:{value2}}`, `$$` for a single `$`, and the relational
//! form `${{a} OP {b} ? {t} : {f}}` with `==`, `!=`, `<`, `<=`, `>`, `>=`
//! (numeric when both sides are all digits) and the compatibility-level
//! forms `==level` ... `>=level`. The value of a named parameter is expanded
//! in turn; a name that is being expanded already is a loop and an error,
//! as is nesting deeper than [`MAX_DEPTH`]. An unknown name expands to
//! nothing. `${name?...}` and `${name:...}` test the unexpanded value.
//!
//! ## SEE ALSO
//! postconf(5), [`crate::Config::get`]

use std::cmp::Ordering;

/// How deep parameter values may refer to each other.
pub const MAX_DEPTH: usize = 100;

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// A parameter refers to itself, directly or through others.
    #[error("parameter {chain}: recursive parameter expansion")]
    Loop {
        /// The names from the outermost to the repeated one: `a -> b -> a`.
        chain: String,
    },
    /// Values refer to each other more than [`MAX_DEPTH`] levels deep.
    #[error("unreasonable macro call nesting: \"{0}\"")]
    TooDeep(String),
    /// A `${...}` or `$(...)` form is not well-formed.
    #[error("{message} in \"{text}\"")]
    Syntax { text: String, message: String },
}

/// Looks up the raw (unexpanded) value of a parameter.
pub type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Expands `text` with parameter values from `lookup`.
pub fn expand(text: &str, lookup: &Lookup<'_>) -> Result<String, ExpandError> {
    let mut ctx = Ctx {
        lookup,
        stack: Vec::new(),
    };
    ctx.expand(text)
}

/// Expands the value of parameter `name` (given as `raw`), so that a loop
/// back to `name` itself is caught.
pub fn expand_param(name: &str, raw: &str, lookup: &Lookup<'_>) -> Result<String, ExpandError> {
    let mut ctx = Ctx {
        lookup,
        stack: vec![name.to_string()],
    };
    ctx.expand(raw)
}

/// The names `$name` and `${name...}` forms in `text` refer to, in order.
/// Used to tell which user-defined parameters are in use.
pub fn referenced_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        i += 1;
        match b.get(i) {
            Some(b'$') => i += 1,
            Some(b'{') | Some(b'(') => {
                i += 1;
                let s = i;
                while i < b.len() && is_name_byte(b[i]) {
                    i += 1;
                }
                if i > s {
                    names.push(text[s..i].to_string());
                }
            }
            _ => {
                let s = i;
                while i < b.len() && is_name_byte(b[i]) {
                    i += 1;
                }
                if i > s {
                    names.push(text[s..i].to_string());
                }
            }
        }
    }
    names
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

struct Ctx<'a, 'b> {
    lookup: &'b Lookup<'a>,
    stack: Vec<String>,
}

impl Ctx<'_, '_> {
    fn expand(&mut self, text: &str) -> Result<String, ExpandError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            match after.as_bytes().first() {
                Some(b'$') => {
                    out.push('$');
                    rest = &after[1..];
                }
                Some(&open @ (b'{' | b'(')) => {
                    let close = if open == b'{' { b'}' } else { b')' };
                    let end = matching(after, open, close).ok_or_else(|| ExpandError::Syntax {
                        text: text.to_string(),
                        message: format!("missing '{}'", close as char),
                    })?;
                    let inner = &after[1..end];
                    out.push_str(&self.braced(inner, text)?);
                    rest = &after[end + 1..];
                }
                Some(&c) if is_name_byte(c) => {
                    let n = after.bytes().take_while(|&c| is_name_byte(c)).count();
                    out.push_str(&self.param(&after[..n])?);
                    rest = &after[n..];
                }
                _ => {
                    // A lone '$' stays as it is.
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The expanded value of a named parameter.
    fn param(&mut self, name: &str) -> Result<String, ExpandError> {
        let Some(raw) = (self.lookup)(name) else {
            return Ok(String::new());
        };
        if !raw.contains('$') {
            return Ok(raw);
        }
        if self.stack.iter().any(|n| n == name) {
            let mut chain = self.stack.join(" -> ");
            chain.push_str(" -> ");
            chain.push_str(name);
            return Err(ExpandError::Loop { chain });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(ExpandError::TooDeep(name.to_string()));
        }
        self.stack.push(name.to_string());
        let r = self.expand(&raw);
        self.stack.pop();
        r
    }

    /// The inside of `${...}`.
    fn braced(&mut self, inner: &str, text: &str) -> Result<String, ExpandError> {
        let syntax = |message: &str| ExpandError::Syntax {
            text: text.to_string(),
            message: message.to_string(),
        };
        let trimmed = inner.trim_start();
        if trimmed.starts_with('{') {
            return self.relational(trimmed, text);
        }
        let n = inner.bytes().take_while(|&c| is_name_byte(c)).count();
        if n == 0 {
            return Err(syntax("attribute name expected"));
        }
        let name = &inner[..n];
        let rest = &inner[n..];
        let Some(op) = rest.chars().next() else {
            return self.param(name);
        };
        if op != '?' && op != ':' {
            return Err(syntax("'?' or ':' expected after attribute name"));
        }
        let set = (self.lookup)(name).is_some_and(|v| !v.is_empty());
        let (when_set, when_unset) = self.branches(op, &rest[1..], text)?;
        let chosen = if set { when_set } else { when_unset };
        match chosen {
            Some(v) => self.expand(v),
            None => Ok(String::new()),
        }
    }

    /// Splits what follows `?` or `:` into the set and unset branches.
    fn branches<'t>(
        &self,
        op: char,
        rest: &'t str,
        text: &str,
    ) -> Result<(Option<&'t str>, Option<&'t str>), ExpandError> {
        let body = rest.trim_start();
        if op == ':' {
            let v = if body.starts_with('{') {
                group(body, text)?.0
            } else {
                rest
            };
            return Ok((None, Some(v)));
        }
        if !body.starts_with('{') {
            return Ok((Some(rest), None));
        }
        let (v1, after) = group(body, text)?;
        let after = after.trim_start();
        if after.is_empty() {
            return Ok((Some(v1), None));
        }
        let Some(alt) = after.strip_prefix(':') else {
            return Err(ExpandError::Syntax {
                text: text.to_string(),
                message: "':' expected after '{value}'".to_string(),
            });
        };
        let alt_t = alt.trim_start();
        let v2 = if alt_t.starts_with('{') {
            group(alt_t, text)?.0
        } else {
            alt
        };
        Ok((Some(v1), Some(v2)))
    }

    /// `{a} OP {b} ? {t} : {f}`.
    fn relational(&mut self, inner: &str, text: &str) -> Result<String, ExpandError> {
        let syntax = |message: &str| ExpandError::Syntax {
            text: text.to_string(),
            message: message.to_string(),
        };
        let (left, rest) = group(inner, text)?;
        let rest = rest.trim_start();
        let op_len = rest
            .find(|c: char| c.is_whitespace() || c == '{')
            .ok_or_else(|| syntax("relational operator expected"))?;
        let op = &rest[..op_len];
        let rest = rest[op_len..].trim_start();
        if !rest.starts_with('{') {
            return Err(syntax("'{' expected after relational operator"));
        }
        let (right, rest) = group(rest, text)?;
        let left = self.expand(left)?;
        let right = self.expand(right)?;
        let truth = compare(&left, op, &right)
            .ok_or_else(|| syntax(&format!("unknown operator \"{op}\"")))?;
        let rest = rest.trim_start();
        let Some(op2) = rest.chars().next() else {
            return Err(syntax("'?' or ':' expected after relational expression"));
        };
        if op2 != '?' && op2 != ':' {
            return Err(syntax("'?' or ':' expected after relational expression"));
        }
        let (when_true, when_false) = self.branches(op2, &rest[1..], text)?;
        match if truth { when_true } else { when_false } {
            Some(v) => self.expand(v),
            None => Ok(String::new()),
        }
    }
}

/// Finds the index of the bracket that closes the one at `s[0]`.
fn matching(s: &str, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in s.as_bytes().iter().enumerate() {
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

/// Takes `{value}` from the start of `s`: the trimmed inside and the rest.
fn group<'t>(s: &'t str, text: &str) -> Result<(&'t str, &'t str), ExpandError> {
    let end = matching(s, b'{', b'}').ok_or_else(|| ExpandError::Syntax {
        text: text.to_string(),
        message: "missing '}'".to_string(),
    })?;
    Ok((s[1..end].trim(), &s[end + 1..]))
}

fn compare(a: &str, op: &str, b: &str) -> Option<bool> {
    let (base, level) = match op.strip_suffix("level") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let ord = if level {
        compare_levels(a, b)
    } else if !a.is_empty()
        && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
    {
        let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
    } else {
        a.cmp(b)
    };
    Some(match base {
        "==" => ord == Ordering::Equal,
        "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => return None,
    })
}

/// Compares compatibility levels such as `2`, `3.6` and `3.6.1`, field by
/// field; a missing field counts as zero. An empty level is `0`.
pub fn compare_levels(a: &str, b: &str) -> Ordering {
    let fields = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|f| f.trim().parse::<u64>().unwrap_or(0))
            .collect()
    };
    let (x, y) = (fields(a), fields(b));
    for i in 0..x.len().max(y.len()) {
        let o = x
            .get(i)
            .copied()
            .unwrap_or(0)
            .cmp(&y.get(i).copied().unwrap_or(0));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(text: &str, vars: &[(&str, &str)]) -> Result<String, ExpandError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expand(text, &|n| map.get(n).cloned())
    }

    #[test]
    fn plain_forms() {
        let v = [("a", "A"), ("b", "$a-$(a)-${a}"), ("empty", "")];
        assert_eq!(run("x $a y", &v).unwrap(), "x A y");
        assert_eq!(run("$b", &v).unwrap(), "A-A-A");
        assert_eq!(run("$undefined.", &v).unwrap(), ".");
        assert_eq!(run("$$a", &v).unwrap(), "$a");
        assert_eq!(run("cost $ 5", &v).unwrap(), "cost $ 5");
    }

    #[test]
    fn conditional_forms() {
        let v = [("a", "A"), ("empty", ""), ("stress", "")];
        assert_eq!(run("${a?yes}", &v).unwrap(), "yes");
        assert_eq!(run("${empty?yes}", &v).unwrap(), "");
        assert_eq!(run("${a:no}", &v).unwrap(), "");
        assert_eq!(run("${empty:no}", &v).unwrap(), "no");
        assert_eq!(run("${a?{ x $a }}", &v).unwrap(), "x A");
        assert_eq!(run("${stress?{10}:{300}}s", &v).unwrap(), "300s");
        assert_eq!(run("${a?{10}:{300}}s", &v).unwrap(), "10s");
        assert_eq!(run("${empty?{1}:2}", &v).unwrap(), "2");
        assert_eq!(run("${empty:{a, b}}", &v).unwrap(), "a, b");
    }

    #[test]
    fn relational_forms() {
        let v = [("compatibility_level", "3.6"), ("n", "10")];
        let e = "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}";
        assert_eq!(run(e, &v).unwrap(), "sha256");
        let e = "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, defer_unauth_destination}}";
        assert_eq!(
            run(e, &v).unwrap(),
            "permit_mynetworks, defer_unauth_destination"
        );
        assert_eq!(run("${{$n} < {9} ? {lt} : {ge}}", &v).unwrap(), "ge");
        assert_eq!(run("${{$n} == {10} ? {eq}}", &v).unwrap(), "eq");
        assert_eq!(run("${{abc} != {abd} : {same}}", &v).unwrap(), "");
        assert!(run("${{a} ~ {b} ? {x}}", &v).is_err());
        let v = [("compatibility_level", "0")];
        let e = "${{$compatibility_level} <level {2} ? {subnet} : {host}}";
        assert_eq!(run(e, &v).unwrap(), "subnet");
    }

    #[test]
    fn loops_and_syntax() {
        let v = [("a", "$b"), ("b", "x${a}")];
        let err = run("$a", &v).unwrap_err();
        assert_eq!(
            err,
            ExpandError::Loop {
                chain: "a -> b -> a".into()
            }
        );
        let err = expand_param("a", "1 $a", &|_| Some("1 $a".into())).unwrap_err();
        assert!(matches!(err, ExpandError::Loop { .. }));
        assert!(run("${a", &v).is_err());
        assert!(run("${a!x}", &v).is_err());
    }

    #[test]
    fn referenced() {
        assert_eq!(
            referenced_names("$a ${b?x} $(c) $$d ${{$e} == {1} ? {y}}"),
            ["a", "b", "c", "e"]
        );
    }

    #[test]
    fn levels() {
        assert_eq!(compare_levels("3.6", "3.10"), Ordering::Less);
        assert_eq!(compare_levels("2", "2.0"), Ordering::Equal);
        assert_eq!(compare_levels("", "1"), Ordering::Less);
    }
}
