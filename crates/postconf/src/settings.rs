//! # NAME
//! settings — main.cf as postconf(1) reads it
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut s = Settings::read(&dir, explicit_dir)?;
//! s.apply_overrides(&opts.overrides);
//! s.get("myorigin");
//! ```
//!
//! ## DESCRIPTION
//! The `name = value` settings of main.cf, in the order in which each name
//! first appears; a later definition replaces the value and, when the
//! value changes, is reported as `DIR/main.cf, line N: overriding earlier
//! entry: name=old`. A logical
//! line that starts with whitespace is skipped with a warning; a line
//! without `=` ends the program with Postfix's message.
//!
//! When the configuration directory was named with `-c` or `MAIL_CONFIG`,
//! `config_directory` is set to it before main.cf is read, so that it
//! shows in `postconf -n` and a main.cf setting of it is reported as
//! overriding. `-o name=value` settings replace main.cf values silently.
//!
//! ## SEE ALSO
//! postconf(5), [`config::main_cf::logical_lines`]

use std::collections::HashMap;

use crate::msg::{Result, fatal, warning};

/// One setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// The settings of main.cf and of `-o` options.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `DIR/main.cf`, as messages name it.
    pub path: String,
    entries: Vec<Setting>,
    index: HashMap<String, usize>,
}

/// The text of an I/O error without Rust's `(os error N)` suffix, as
/// strerror(3) gives it.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `DIR/NAME`, the way Postfix joins them (no normalization).
pub fn file_in(dir: &str, name: &str) -> String {
    format!("{dir}/{name}")
}

/// Reads a whole file as text; invalid UTF-8 is replaced, not refused.
pub fn read_text(path: &str) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

impl Settings {
    /// Settings without a file (`postconf -d`).
    pub fn empty(dir: &str) -> Settings {
        Settings {
            path: file_in(dir, "main.cf"),
            ..Default::default()
        }
    }

    /// Reads `dir/main.cf`, which must exist.
    pub fn read(dir: &str, explicit_dir: bool) -> Result<Settings> {
        let mut s = Settings::empty(dir);
        if explicit_dir {
            s.set(config::params::CONFIG_DIRECTORY.name(), dir);
        }
        let text = match read_text(&s.path) {
            Ok(t) => t,
            Err(e) => return fatal!("open {}: {}", s.path, strerror(&e)),
        };
        s.parse(&text)?;
        Ok(s)
    }

    /// Adds the settings of main.cf text.
    pub fn parse(&mut self, text: &str) -> Result<()> {
        for l in config::main_cf::logical_lines(text) {
            if l.text.starts_with(char::is_whitespace) {
                warning!(
                    "{}: logical line must not start with whitespace: \"{}\"",
                    self.path,
                    l.text
                );
                continue;
            }
            let (name, value) = match config::main_cf::split_nameval(&l.text) {
                Ok(nv) => nv,
                Err(why) => return fatal!("{}, line {}: {}", self.path, l.first + 1, why),
            };
            if let Some(old) = self.get(name).filter(|old| *old != value) {
                warning!(
                    "{}, line {}: overriding earlier entry: {}={}",
                    self.path,
                    l.first + 1,
                    name,
                    old
                );
            }
            self.set(name, value);
        }
        Ok(())
    }

    /// Applies `-o name=value` settings.
    pub fn apply_overrides(&mut self, overrides: &[(String, String)]) {
        for (n, v) in overrides {
            self.set(n, v);
        }
    }

    /// Sets a value, keeping the position of an existing name.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.index.get(name) {
            Some(&i) => self.entries[i].value = value.to_string(),
            None => {
                self.index.insert(name.to_string(), self.entries.len());
                self.entries.push(Setting {
                    name: name.to_string(),
                    value: value.to_string(),
                });
            }
        }
    }

    /// Forgets a setting.
    pub fn remove(&mut self, name: &str) {
        if let Some(i) = self.index.remove(name) {
            self.entries.remove(i);
            for v in self.index.values_mut() {
                if *v > i {
                    *v -= 1;
                }
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.index
            .get(name)
            .map(|&i| self.entries[i].value.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The settings in order of first appearance.
    pub fn entries(&self) -> &[Setting] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_definitions_replace_in_place() {
        let mut s = Settings::empty("/x");
        s.parse("a = 1\nb = 2\n  cont\na = 3\n").unwrap();
        let names: Vec<&str> = s.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(s.get("a"), Some("3"));
        assert_eq!(s.get("b"), Some("2  cont"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let mut s = Settings::empty(".");
        let e = s.parse("# c\nfoo\n").unwrap_err();
        assert_eq!(
            e.0,
            "./main.cf, line 2: missing '=' after attribute name: \"foo\""
        );
    }

    #[test]
    fn strerror_drops_the_os_error_suffix() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&e), "No such file or directory");
    }
}
