//! # NAME
//! main_cf — read the main.cf file
//!
//! ## SYNOPSIS
//! ```ignore
//! let (main, warnings) = main_cf::parse(&text, path)?;
//! main.get("myhostname");
//! for line in main_cf::logical_lines(&text) { ... }
//! ```
//!
//! ## DESCRIPTION
//! The syntax of postconf(5): a logical line `name = value` starts in
//! column one; a line that starts with whitespace continues it, and is
//! joined with its leading whitespace kept; blank lines and lines whose first
//! non-blank character is `#` are skipped and do not end a logical line.
//! Whitespace around `=` and at the end is dropped. The last definition of a
//! name wins. A logical line that starts with whitespace (a continuation
//! with nothing to continue) is ignored with a warning, as Postfix does.
//!
//! [`logical_lines`] gives the physical line span of every logical line, for
//! editors that must keep comments and order (`postconf -e`, `-X`, `-#`).
//!
//! ## SEE ALSO
//! postconf(5), [`crate::Config`]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::ConfigError;

/// One logical line of a configuration file and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// Index (0-based) of the first physical line.
    pub first: usize,
    /// Index (0-based) of the last physical line that belongs to it,
    /// including comment lines inside it.
    pub last: usize,
    /// The joined text, trailing whitespace removed.
    pub text: String,
}

/// Splits a file into logical lines, in the way main.cf and master.cf
/// share. Comment and blank lines are not returned; comment lines inside
/// a continued line do not end it.
pub fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out: Vec<LogicalLine> = Vec::new();
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let starts_with_space = raw.len() != trimmed.len();
        match out.last_mut() {
            Some(cur) if starts_with_space && open => {
                cur.text.push_str(raw);
                cur.last = i;
            }
            _ => {
                out.push(LogicalLine {
                    first: i,
                    last: i,
                    text: raw.to_string(),
                });
                open = true;
            }
        }
    }
    for l in &mut out {
        let len = l.text.trim_end().len();
        l.text.truncate(len);
    }
    out
}

/// One `name = value` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: String,
    /// 1-based number of the line where the definition starts.
    pub line: usize,
}

/// A problem that Postfix reports as a warning and skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// The parsed main.cf: definitions in file order, last one wins.
#[derive(Debug, Clone, Default)]
pub struct MainCf {
    pub path: PathBuf,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

/// Splits `name = value`; the error text is Postfix's.
pub fn split_nameval(text: &str) -> Result<(&str, &str), String> {
    let name_end = text
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(text.len());
    let name = &text[..name_end];
    let rest = text[name_end..].trim_start();
    if name.is_empty() {
        return Err(format!("missing attribute name: \"{text}\""));
    }
    match rest.strip_prefix('=') {
        Some(value) => Ok((name, value.trim())),
        None => Err(format!("missing '=' after attribute name: \"{text}\"")),
    }
}

/// Parses main.cf text. `path` is used in messages only.
pub fn parse(text: &str, path: &Path) -> Result<(MainCf, Vec<Warning>), ConfigError> {
    let mut main = MainCf {
        path: path.to_path_buf(),
        ..Default::default()
    };
    let mut warnings = Vec::new();
    for l in logical_lines(text) {
        if l.text.starts_with(char::is_whitespace) {
            warnings.push(Warning {
                line: l.first + 1,
                message: format!(
                    "logical line must not start with whitespace: \"{}\"",
                    l.text
                ),
            });
            continue;
        }
        let (name, value) = split_nameval(&l.text).map_err(|message| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: l.first + 1,
            message,
        })?;
        main.set(name, value, l.first + 1);
    }
    Ok((main, warnings))
}

impl MainCf {
    /// An empty file at `path` (main.cf may be missing in tests and tools).
    pub fn empty(path: &Path) -> MainCf {
        MainCf {
            path: path.to_path_buf(),
            ..Default::default()
        }
    }

    /// Sets (or replaces) a definition in memory.
    pub fn set(&mut self, name: &str, value: &str, line: usize) {
        let entry = Entry {
            name: name.to_string(),
            value: value.to_string(),
            line,
        };
        match self.index.get(name) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.index.insert(name.to_string(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entry(name).map(|e| e.value.as_str())
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// Definitions in the order of their first appearance.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> (MainCf, Vec<Warning>) {
        parse(text, Path::new("main.cf")).unwrap()
    }

    #[test]
    fn continuation_keeps_leading_whitespace_and_skips_comments() {
        let (m, w) = p(
            "a = x  y\n\n   \n  z\n# c\n  w\nb=1\n  # indented comment\n  cont\nc =   \nd = e # not comment\n",
        );
        assert!(w.is_empty());
        assert_eq!(m.get("a"), Some("x  y  z  w"));
        assert_eq!(m.get("b"), Some("1  cont"));
        assert_eq!(m.get("c"), Some(""));
        assert_eq!(m.get("d"), Some("e # not comment"));
        assert_eq!(m.entry("b").unwrap().line, 7);
    }

    #[test]
    fn last_definition_wins_in_first_position() {
        let (m, _) = p("a = 1\nb = 2\na = 3\n");
        assert_eq!(m.get("a"), Some("3"));
        assert_eq!(m.entries()[0].name, "a");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("x = 1\nfoo\n", Path::new("/etc/postfix/main.cf")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/postfix/main.cf, line 2: missing '=' after attribute name: \"foo\""
        );
        let e = parse("= bar\n", Path::new("m")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m, line 1: missing attribute name: \"= bar\""
        );
        let e = parse("a b = bar\n", Path::new("m")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m, line 1: missing '=' after attribute name: \"a b = bar\""
        );
    }

    #[test]
    fn leading_whitespace_line_is_a_warning() {
        let (m, w) = p("  foo = bar\nx = 1\n");
        assert_eq!(m.get("foo"), None);
        assert_eq!(
            w[0].message,
            "logical line must not start with whitespace: \"  foo = bar\""
        );
    }
}
