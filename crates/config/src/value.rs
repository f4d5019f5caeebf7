//! # NAME
//! value — typed parameter values: booleans, numbers, times and lists
//!
//! ## SYNOPSIS
//! ```ignore
//! value::parse_bool("yes") == Some(true);
//! value::parse_time("5m", 's') == Some(300);
//! value::list("a, b { c d }") == ["a", "b", "c d"];
//! ```
//!
//! ## DESCRIPTION
//! Booleans are `yes` or `no` in any case. Integers are decimal with an
//! optional sign. A time is a non-negative integer with an optional unit
//! `s`, `m`, `h`, `d` or `w`; a bare number takes the parameter's default
//! unit. A list is split on whitespace and commas; `{ text }` groups text
//! with separators into one element, with the braces and the space inside
//! them removed.
//!
//! ## SEE ALSO
//! postconf(5)

pub fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if v.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

pub fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Seconds in one of the time units.
pub fn unit_seconds(unit: char) -> Option<u64> {
    Some(match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 604800,
        _ => return None,
    })
}

/// A time value in seconds.
pub fn parse_time(v: &str, default_unit: char) -> Option<u64> {
    let digits = v.bytes().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = v[..digits].parse().ok()?;
    let unit = match &v[digits..] {
        "" => default_unit,
        u if u.len() == 1 => u.chars().next()?,
        _ => return None,
    };
    n.checked_mul(unit_seconds(unit)?)
}

/// Splits a list value into its elements.
pub fn list(v: &str) -> Vec<String> {
    tokens(v, |c| c.is_whitespace() || c == ',')
}

/// Splits on `sep`, treating `{ ... }` as one element whose braces and
/// surrounding whitespace are removed. An unbalanced `{` takes the rest.
pub fn tokens(v: &str, sep: impl Fn(char) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = v.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if sep(c) {
            chars.next();
            continue;
        }
        // A token runs to the next separator outside braces; braces may
        // open anywhere in it (`inline:{ a, b }`).
        let mut depth = 0usize;
        let mut end = v.len();
        while let Some(&(i, c)) = chars.peek() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                c if depth == 0 && sep(c) => {
                    end = i;
                    break;
                }
                _ => {}
            }
            chars.next();
        }
        let tok = &v[start..end];
        // `{ text }` as a whole token stands for text.
        let unwrapped = match tok.strip_prefix('{') {
            Some(inner) if c == '{' => inner.strip_suffix('}').unwrap_or(inner).trim(),
            _ => tok,
        };
        out.push(unwrapped.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("no"), Some(false));
        assert_eq!(parse_bool("1"), None);
        assert_eq!(parse_int("-12"), Some(-12));
        assert_eq!(parse_int("12k"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_time("300", 's'), Some(300));
        assert_eq!(parse_time("5m", 's'), Some(300));
        assert_eq!(parse_time("2", 'h'), Some(7200));
        assert_eq!(parse_time("1w", 's'), Some(604800));
        assert_eq!(parse_time("5x", 's'), None);
        assert_eq!(parse_time("m", 's'), None);
        assert_eq!(parse_time("5mm", 's'), None);
    }

    #[test]
    fn lists() {
        assert_eq!(list("a, b,,c\n d"), ["a", "b", "c", "d"]);
        assert_eq!(list("check_x { a b }, c"), ["check_x", "a b", "c"]);
        assert_eq!(list("{ a {b} }"), ["a {b}"]);
        assert_eq!(list("  "), Vec::<String>::new());
        assert_eq!(list("{ open"), ["open"]);
        assert_eq!(
            list("check_sender_access inline:{ {a = REJECT go away}, b=OK }, permit"),
            ["check_sender_access", "inline:{ {a = REJECT go away}, b=OK }", "permit"]
        );
    }
}
