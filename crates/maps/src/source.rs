//! # NAME
//! source — logical lines and `key value` entries of table source files
//!
//! ## SYNOPSIS
//! ```ignore
//! for line in source::logical_lines(&text, "/etc/postfix/virtual") {
//!     match source::parse_entry(&line.text) { .. }
//! }
//! ```
//!
//! ## DESCRIPTION
//! The syntax every Postfix table source shares: a logical line starts
//! with non-whitespace text and goes on over the following lines that
//! start with whitespace; empty lines, whitespace-only lines and lines
//! whose first non-whitespace character is `#` are skipped, also in the
//! middle of a logical line. Physical lines are joined as they are (the
//! newline goes, the leading whitespace stays) and the logical line loses
//! its trailing whitespace. A line is numbered by its first physical line.
//! A continuation line with nothing to continue is reported and dropped.
//!
//! An entry is `key whitespace value`. A key may be enclosed in double
//! quotes to hold whitespace, with `\"` and `\\` inside; the quotes stay
//! part of the key, as in Postfix.
//!
//! ## SEE ALSO
//! postmap(1) "INPUT FILE FORMAT", [`crate::alias`]

/// One logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The number of its first physical line (from 1).
    pub lineno: usize,
    /// The number of its last physical line.
    pub last: usize,
    pub text: String,
}

/// Splits source text into logical lines; `warn` hears about
/// continuation lines with nothing to continue.
pub fn logical_lines_with(text: &str, file: &str, warn: &mut dyn FnMut(String)) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut cur: Option<Line> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim_start_matches([' ', '\t', '\r', '\x0b', '\x0c']);
        if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let starts_ws = trimmed.len() != raw.len();
        if starts_ws {
            match &mut cur {
                Some(l) => {
                    l.text.push_str(raw);
                    l.last = i + 1;
                }
                None => {
                    let t = raw.trim_end();
                    let (head, more) = if t.chars().count() > 30 {
                        (t.chars().take(30).collect::<String>(), "...")
                    } else {
                        (t.to_string(), "")
                    };
                    warn(format!(
                        "{file}: logical line must not start with whitespace: \"{head}{more}\""
                    ));
                }
            }
            continue;
        }
        if let Some(mut l) = cur.take() {
            trim_end_in_place(&mut l.text);
            out.push(l);
        }
        cur = Some(Line {
            lineno: i + 1,
            last: i + 1,
            text: raw.to_string(),
        });
    }
    if let Some(mut l) = cur.take() {
        trim_end_in_place(&mut l.text);
        out.push(l);
    }
    out
}

/// [`logical_lines_with`], warnings to the log.
pub fn logical_lines(text: &str, file: &str) -> Vec<Line> {
    logical_lines_with(text, file, &mut |w| crate::msg::warn(&w))
}

fn trim_end_in_place(s: &mut String) {
    let n = s.trim_end().len();
    s.truncate(n);
}

/// Why a line is not a `key value` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryError {
    /// An opening `"` without its closing one.
    Unbalanced,
    /// A key without a value.
    NoValue,
}

/// Splits a logical line into key and value (both trimmed; the key keeps
/// its quotes).
pub fn parse_entry(line: &str) -> Result<(&str, &str), EntryError> {
    let line = line.trim_start();
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted {
            if b == b'\\' && i + 1 < bytes.len() {
                i += 2;
                continue;
            }
            if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b' ' || b == b'\t' {
            break;
        }
        i += 1;
    }
    if quoted {
        return Err(EntryError::Unbalanced);
    }
    let key = &line[..i];
    let value = line[i..].trim();
    if value.is_empty() {
        return Err(EntryError::NoValue);
    }
    Ok((key, value))
}

/// The warning Postfix gives for a line that is not an entry.
pub fn entry_warning(file: &str, line: &Line, e: EntryError) -> String {
    match e {
        EntryError::Unbalanced => format!(
            "{file}, line {}: unbalanced '\"' in '{}' -- ignoring this line",
            line.lineno, line.text
        ),
        EntryError::NoValue => format!(
            "{file}, line {}: expected format: key whitespace value",
            line.lineno
        ),
    }
}

/// Reads a source file as text (bytes that are not UTF-8 are replaced).
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &str) -> (Vec<(usize, String)>, Vec<String>) {
        let mut w = Vec::new();
        let l = logical_lines_with(t, "f", &mut |s| w.push(s));
        (l.into_iter().map(|l| (l.lineno, l.text)).collect(), w)
    }

    #[test]
    fn continuation_comments_and_blank_lines() {
        let (l, w) = lines("  leading x\na 1\n# c\n  2\nb 3\n\n  4\nc 5   \n\t6\t \nd\t 7 \n");
        assert_eq!(
            l,
            [
                (2, "a 1  2".to_string()),
                (5, "b 3  4".to_string()),
                (8, "c 5   \t6".to_string()),
                (10, "d\t 7".to_string()),
            ]
        );
        assert_eq!(
            w,
            ["f: logical line must not start with whitespace: \"  leading x\""]
        );
    }

    #[test]
    fn entries() {
        assert_eq!(parse_entry("a\t b c "), Ok(("a", "b c")));
        assert_eq!(parse_entry("\"q\\\"k\" v"), Ok(("\"q\\\"k\"", "v")));
        assert_eq!(parse_entry("\"a b\" v"), Ok(("\"a b\"", "v")));
        assert_eq!(parse_entry("k\"x y"), Err(EntryError::Unbalanced));
        assert_eq!(parse_entry("novalue"), Err(EntryError::NoValue));
    }
}
