//! # NAME
//! edit — change main.cf in place (`-e`, `-X`, `-#`)
//!
//! ## SYNOPSIS
//! ```ignore
//! edit::edit_main(&dir, Edit::Set, &["myorigin = example.com".into()])?;
//! edit::write_file(&path, &text)?;
//! ```
//!
//! ## DESCRIPTION
//! main.cf is read as lines; everything that is not changed is written
//! back byte for byte, comments and order included.
//!
//! `-e name=value` replaces the logical line that sets `name` with
//! `name = value`; comment and blank lines inside the old logical line
//! stay after it. Every logical line that sets the name is changed, with
//! a warning (`multiple entries for "name"`) when there are several. A name that main.cf does not set is appended at the end
//! of the file, in the order of the command line. When a name is given
//! twice, the last one wins, with a warning. `-X name` removes the logical
//! line (its inner comments stay); `-# name` puts `#` in front of each of
//! its lines. A line without `=` is named by its first word, as Postfix
//! does.
//!
//! The new file is written beside the old one, flushed to disk and
//! renamed over it, and the directory is synced ([`sys::fs::write_atomic`]);
//! a reader sees the old file or the new one, never a mix.
//!
//! ## BUGS
//! As in Postfix, a value is appended right after the last byte of the
//! file, so a file whose last line has no newline gets the new setting
//! joined to that line.
//!
//! ## SEE ALSO
//! postconf(1) "-e", "-X", "-#", [`crate::master_edit`]

use crate::args::Edit;
use crate::msg::{Result, fatal, warning};
use crate::settings::{file_in, read_text, strerror};

/// Whether a physical line belongs to the text of a logical line (and is
/// not a comment or blank line inside it).
pub fn is_own_line(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Reads a file that is about to be edited.
pub fn read_for_edit(path: &str) -> Result<String> {
    match read_text(path) {
        Ok(t) => Ok(t),
        Err(e) => fatal!("open {} for reading: {}", path, strerror(&e)),
    }
}

/// Replaces a configuration file atomically and durably.
pub fn write_file(path: &str, text: &str) -> Result<()> {
    match sys::fs::write_atomic(std::path::Path::new(path), text.as_bytes(), 0o644) {
        Ok(()) => Ok(()),
        Err(e) => fatal!("write {}: {}", path, strerror(&e)),
    }
}

/// One requested change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    name: String,
    /// The new value (`-e` only).
    value: String,
    /// How many logical lines set it.
    found: usize,
}

/// Parses the command-line words of an edit.
fn changes(edit: Edit, args: &[String]) -> Result<Vec<Change>> {
    let mut out: Vec<(Change, &str)> = Vec::new();
    for a in args {
        let (name, value) = if edit == Edit::Set {
            match config::main_cf::split_nameval(a) {
                Ok((n, v)) => (n.to_string(), v.to_string()),
                Err(why) => return fatal!("{why}"),
            }
        } else {
            (a.trim().to_string(), String::new())
        };
        if let Some(i) = out.iter().position(|(c, _)| c.name == name) {
            let (_, earlier) = out.remove(i);
            if edit == Edit::Set {
                warning!("ignoring earlier request: '{earlier}'");
            }
        }
        out.push((
            Change {
                name,
                value,
                found: 0,
            },
            a,
        ));
    }
    Ok(out.into_iter().map(|(c, _)| c).collect())
}

/// The new text of main.cf.
#[cfg(test)]
fn edit_text(text: &str, edit: Edit, args: &[String]) -> Result<String> {
    Ok(apply(text, "./main.cf", edit, changes(edit, args)?))
}

/// Applies the changes; `path` names the file in warnings.
fn apply(text: &str, path: &str, edit: Edit, mut changes: Vec<Change>) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + 64);
    let mut next = 0;
    for l in config::main_cf::logical_lines(text) {
        for line in &lines[next..l.first] {
            out.push_str(line);
        }
        next = l.last + 1;
        let span = &lines[l.first..=l.last];
        // The name is what precedes whitespace or "=", even on a line
        // that has no "=".
        let name = if l.text.starts_with(char::is_whitespace) {
            None
        } else {
            l.text
                .split(|c: char| c == '=' || c.is_whitespace())
                .next()
                .filter(|n| !n.is_empty())
        };
        let Some(change) = name.and_then(|n| changes.iter_mut().find(|c| c.name == n)) else {
            span.iter().for_each(|line| out.push_str(line));
            continue;
        };
        change.found += 1;
        if change.found == 2 {
            warning!("{path}: multiple entries for \"{}\"", change.name);
        }
        match edit {
            Edit::Set => {
                out.push_str(&format!("{} = {}\n", change.name, change.value));
                for line in span.iter().filter(|line| !is_own_line(line)) {
                    out.push_str(line);
                }
            }
            Edit::Remove => {
                for line in span.iter().filter(|line| !is_own_line(line)) {
                    out.push_str(line);
                }
            }
            Edit::Comment => {
                for line in span {
                    if is_own_line(line) {
                        out.push('#');
                    }
                    out.push_str(line);
                }
            }
        }
    }
    for line in &lines[next.min(lines.len())..] {
        out.push_str(line);
    }
    if edit == Edit::Set {
        for c in changes.iter().filter(|c| c.found == 0) {
            out.push_str(&format!("{} = {}\n", c.name, c.value));
        }
    }
    out
}

/// `postconf -e`, `-X`, `-#` on `dir/main.cf`.
pub fn edit_main(dir: &str, edit: Edit, args: &[String]) -> Result<()> {
    let path = file_in(dir, "main.cf");
    // Check the request before touching the file.
    let changes = changes(edit, args)?;
    let text = read_for_edit(&path)?;
    write_file(&path, &apply(&text, &path, edit, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, edit: Edit, args: &[&str]) -> String {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        edit_text(text, edit, &v).unwrap()
    }

    const FILE: &str = "# comment\nmyorigin = a\n  continued\n# inner\nrelayhost = [mx]\nfoo\n\
                        mydestination = x,\n\ty\n\n#myhostname = old\n";

    #[test]
    fn set_replaces_in_place_and_appends() {
        assert_eq!(
            run(
                FILE,
                Edit::Set,
                &["myorigin = b", "relayhost=", "myhostname=h  x", "newp=1"]
            ),
            "# comment\nmyorigin = b\n# inner\nrelayhost = \nfoo\nmydestination = x,\n\ty\n\n\
             #myhostname = old\nmyhostname = h  x\nnewp = 1\n"
        );
    }

    #[test]
    fn inner_comments_stay() {
        let text = "a = 1\n# c\n  2\n\n  3\nb = 4";
        assert_eq!(run(text, Edit::Set, &["a=9"]), "a = 9\n# c\n\nb = 4");
        assert_eq!(run(text, Edit::Remove, &["a"]), "# c\n\nb = 4");
        assert_eq!(
            run(text, Edit::Comment, &["a"]),
            "#a = 1\n# c\n#  2\n\n#  3\nb = 4"
        );
        assert_eq!(
            run(text, Edit::Set, &["b=5"]),
            "a = 1\n# c\n  2\n\n  3\nb = 5\n"
        );
        assert_eq!(
            run(text, Edit::Comment, &["b"]),
            "a = 1\n# c\n  2\n\n  3\n#b = 4"
        );
        // Postfix appends right after the last byte.
        assert_eq!(
            run(text, Edit::Set, &["c=1"]),
            "a = 1\n# c\n  2\n\n  3\nb = 4c = 1\n"
        );
    }

    #[test]
    fn remove_and_comment_out() {
        assert_eq!(
            run(
                FILE,
                Edit::Remove,
                &["mydestination", "relayhost", "nosuch"]
            ),
            "# comment\nmyorigin = a\n  continued\n# inner\nfoo\n\n#myhostname = old\n"
        );
        assert_eq!(
            run(FILE, Edit::Comment, &["myorigin", "mydestination"]),
            "# comment\n#myorigin = a\n#  continued\n# inner\nrelayhost = [mx]\nfoo\n\
             #mydestination = x,\n#\ty\n\n#myhostname = old\n"
        );
    }

    #[test]
    fn lines_without_equals_are_matched_by_name() {
        assert_eq!(
            run("a = 1\nrelayhost\nb = 2\n", Edit::Set, &["relayhost=[mx]"]),
            "a = 1\nrelayhost = [mx]\nb = 2\n"
        );
    }

    #[test]
    fn bad_requests() {
        let v = vec!["=x".to_string()];
        assert_eq!(
            edit_text("", Edit::Set, &v).unwrap_err().0,
            "missing attribute name: \"=x\""
        );
        let v = vec!["b c=1".to_string()];
        assert_eq!(
            edit_text("", Edit::Set, &v).unwrap_err().0,
            "missing '=' after attribute name: \"b c=1\""
        );
    }
}
