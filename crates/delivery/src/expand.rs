//! # NAME
//! expand — `$name` expansion of per-delivery attributes (local_expand)
//!
//! ## SYNOPSIS
//! ```ignore
//! let e = expand::expand("$home/.forward${extension?+$extension}", &|n| attrs.get(n))?;
//! if !e.undefined { try_path(&e.text) }
//! let safe = expand::filter(value, &cfg.str(&params::FORWARD_EXPANSION_FILTER)?);
//! ```
//!
//! ## DESCRIPTION
//! The forms that forward_path, luser_relay, command_execution_directory
//! and pipe(8) arguments accept: `$name`, `${name}`, `$(name)`, `$$`,
//! `${name?value}`, `${name?{value}}`, `${name:value}`, `${name:{value}}`
//! and `${name?{value1}:{value2}}`. A name is defined when the lookup
//! gives a non-empty value; the conditional values are expanded in
//! turn, attribute values never are (an address with a `$` in it stays
//! as it is). A plain reference to a name without a value expands to
//! nothing and sets [`Expanded::undefined`]: forward_path skips such an
//! element. [`filter`] replaces the characters that a value may not
//! carry into a file name or command.
//!
//! ## SEE ALSO
//! postconf(5) forward_path, luser_relay

/// An expansion result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// A plain `$name` named an attribute without a value.
    pub undefined: bool,
}

/// Replaces every character of `value` that is not in `allowed` with `_`.
pub fn filter(value: &str, allowed: &str) -> String {
    value
        .chars()
        .map(|c| if allowed.contains(c) { c } else { '_' })
        .collect()
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The text up to the brace that closes the one before `s`; returns it
/// and the rest after the closing brace.
fn braced(s: &str, close: char) -> Result<(&str, &str), String> {
    let open = if close == '}' { '{' } else { '(' };
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Ok((&s[..i], &s[i + 1..]));
            }
            depth -= 1;
        }
    }
    Err(format!("unmatched '{open}' in \"{s}\""))
}

/// `{value}` or a bare value.
fn unbrace(v: &str) -> &str {
    let t = v.trim();
    if t.starts_with('{') && t.ends_with('}') {
        &t[1..t.len() - 1]
    } else {
        v
    }
}

/// Expands `template` (see the module documentation).
pub fn expand(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, String> {
    let mut out = Expanded {
        text: String::new(),
        undefined: false,
    };
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.text.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let Some(c) = rest.chars().next() else {
            out.text.push('$');
            break;
        };
        if c == '$' {
            out.text.push('$');
            rest = &rest[1..];
            continue;
        }
        let (inner, after) = if c == '{' {
            braced(&rest[1..], '}')?
        } else if c == '(' {
            braced(&rest[1..], ')')?
        } else if is_name(c) {
            let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        } else {
            return Err(format!("bad macro syntax in \"{template}\""));
        };
        rest = after;
        let name_end = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
        let name = &inner[..name_end];
        if name.is_empty() {
            return Err(format!("empty macro name in \"{template}\""));
        }
        let value = lookup(name).filter(|v| !v.is_empty());
        let op = &inner[name_end..];
        if op.is_empty() {
            match value {
                Some(v) => out.text.push_str(&v),
                None => out.undefined = true,
            }
            continue;
        }
        let (kind, arg) = op.split_at(1);
        let (if_set, if_unset) = match kind {
            "?" => {
                // ${name?{a}:{b}} or ${name?value}
                let t = arg.trim_start();
                if let Some(inner) = t.strip_prefix('{') {
                    let (a, tail) = braced(inner, '}')?;
                    let tail = tail.trim_start();
                    match tail.strip_prefix(':') {
                        Some(b) => (Some(a), Some(unbrace(b))),
                        None if tail.is_empty() => (Some(a), None),
                        None => return Err(format!("bad conditional in \"{template}\"")),
                    }
                } else {
                    (Some(arg), None)
                }
            }
            ":" => (None, Some(unbrace(arg))),
            _ => return Err(format!("bad macro syntax in \"{template}\"")),
        };
        let chosen = if value.is_some() { if_set } else { if_unset };
        if let Some(t) = chosen {
            let e = expand(t, lookup)?;
            out.text.push_str(&e.text);
            out.undefined |= e.undefined;
        }
    }
    out.text.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(n: &str) -> Option<String> {
        match n {
            "home" => Some("/home/joe".into()),
            "user" => Some("joe".into()),
            "extension" => Some("ext".into()),
            "recipient_delimiter" => Some("+".into()),
            "domain" => Some("$weird".into()),
            "empty" => Some(String::new()),
            _ => None,
        }
    }

    fn x(t: &str) -> (String, bool) {
        let e = expand(t, &attrs).unwrap();
        (e.text, e.undefined)
    }

    #[test]
    fn forms() {
        assert_eq!(x("$home/.forward"), ("/home/joe/.forward".into(), false));
        assert_eq!(
            x("$home/.forward${recipient_delimiter}${extension}"),
            ("/home/joe/.forward+ext".into(), false)
        );
        assert_eq!(x("$(user)@x $$ $"), ("joe@x $ $".into(), false));
        assert_eq!(x("${extension?+$extension}"), ("+ext".into(), false));
        assert_eq!(x("${nothing?+$extension}"), ("".into(), false));
        assert_eq!(x("${nothing:none}"), ("none".into(), false));
        assert_eq!(x("${user:{none}}"), ("".into(), false));
        assert_eq!(x("${user?{a $user}:{b}}"), ("a joe".into(), false));
        assert_eq!(x("${empty?{a}:{b}}"), ("b".into(), false));
        // Values are not expanded again.
        assert_eq!(x("$domain"), ("$weird".into(), false));
    }

    #[test]
    fn undefined_names_are_noticed() {
        assert_eq!(
            x("$home/.forward+$nothing"),
            ("/home/joe/.forward+".into(), true)
        );
        assert_eq!(x("$empty"), ("".into(), true));
        assert!(expand("${user", &attrs).is_err());
        assert!(expand("$!", &attrs).is_err());
    }

    #[test]
    fn filtering() {
        assert_eq!(filter("a b;c|d$e", "abcde"), "a_b_c_d_e");
    }
}
