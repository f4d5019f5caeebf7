//! # NAME
//! master — master.cf entries: read, show (-M, -F, -P) and lay out
//!
//! ## SYNOPSIS
//! ```ignore
//! let m = MasterFile::read(&dir, true)?;
//! master::show_entries(&m, &patterns, fold, &mut out)?;   // -M
//! master::show_fields(&m, &patterns, how, &mut out)?;     // -F
//! master::show_params(&m, &patterns, how, &mut out)?;     // -P
//! ```
//!
//! ## DESCRIPTION
//! A master.cf entry is a logical line of at least eight fields: service,
//! type, private, unprivileged, chroot, wakeup, process limit and command,
//! followed by the command's arguments. Fields are separated by
//! whitespace; text inside `{ }` may contain whitespace. The command is
//! kept as written. An argument in braces loses them, and the whitespace
//! just inside them (`{ a b }` is the argument `a b`); braces are put back
//! when such an argument is shown, except around the first argument after
//! the options, which Postfix shows bare.
//!
//! The command's options come first, as getopt(3) reads them: `-o
//! name=value`, `-oname=value`, `-o { name = value }` set a parameter for
//! this service; other option letters are kept; `--` or the first word
//! that is not an option ends the options, and a later `-o` is an
//! ordinary argument. A setting in braces that is not `name=value` is
//! reported and kept as a word.
//!
//! Entries are shown with the first seven fields in columns (a field that
//! does not fit pushes the rest right). With folding, each `-o` setting
//! gets a line of its own and the argument after it starts a new line.
//!
//! A service may be defined twice; both entries are kept and shown, as
//! postconf(1) does.
//!
//! ## DIAGNOSTICS
//! `file DIR/master.cf: line N: bad field count` and `invalid type field
//! "x" in "line"` (and likewise for the other fields) are fatal; brace
//! problems are warnings that name `master.cf`.
//!
//! ## SEE ALSO
//! master(5), postconf(1) "-M", "-F", "-P"

use std::io::Write;

use crate::fold::{self, Folder};
use crate::msg::{Result, fatal, warning};
use crate::settings::{file_in, read_text, strerror};

/// The names of the fields, as `-F` shows them.
pub const FIELD_NAMES: [&str; 8] = [
    "service",
    "type",
    "private",
    "unprivileged",
    "chroot",
    "wakeup",
    "process_limit",
    "command",
];

/// Where each of the first seven fields starts when shown.
const COLUMNS: [usize; 7] = [11, 17, 25, 33, 41, 49, 57];

/// The service types.
pub const TYPES: [&str; 5] = ["inet", "unix", "unix-dgram", "fifo", "pass"];

/// The command name or one of its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A word, as it is shown (braces put back where needed).
    Word(String),
    /// `-o text`; `setting` when the text is `name=value`.
    Override {
        text: String,
        setting: Option<(String, String)>,
    },
}

impl Arg {
    /// An `-o name=value` argument.
    pub fn setting(name: &str, value: &str) -> Arg {
        Arg::Override {
            text: render_setting(name, value),
            setting: Some((name.to_string(), value.to_string())),
        }
    }
}

/// One entry and where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index of the first physical line.
    pub first: usize,
    /// Index of the last physical line of the logical line.
    pub last: usize,
    /// Index of the line after the comments that follow the entry.
    pub end: usize,
    /// The first seven fields, as written.
    pub fields: [String; 7],
    /// The command and its arguments; never empty.
    pub args: Vec<Arg>,
    /// The `-o` settings of this service, sorted by name, the last value
    /// of each name. Postfix keeps one set per `service/type`, made by the
    /// first entry that has settings: that entry and later ones for the
    /// same service share the settings of all of them.
    pub dict: Vec<(String, String)>,
}

impl Entry {
    pub fn service(&self) -> &str {
        &self.fields[0]
    }

    pub fn kind(&self) -> &str {
        &self.fields[1]
    }

    /// `service/type`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.fields[0], self.fields[1])
    }

    /// The `-o` settings in order, repeats included.
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.args.iter().filter_map(|a| match a {
            Arg::Override {
                setting: Some((n, v)),
                ..
            } => Some((n.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// The `-o` settings by name, the last of each name, sorted by name.
    pub fn own_dict(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        for (n, val) in self.settings() {
            match v.iter_mut().find(|(k, _)| k == n) {
                Some(e) => e.1 = val.to_string(),
                None => v.push((n.to_string(), val.to_string())),
            }
        }
        v.sort();
        v
    }

    /// The settings Postfix associates with this entry's `service/type`.
    pub fn settings_sorted(&self) -> Vec<(&str, &str)> {
        self.dict
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// The command field: the command and its arguments, one line.
    pub fn command_text(&self) -> String {
        let mut f = Folder::new("", false);
        lay_out_args(&mut f, &self.args, Folder::glue);
        let mut s = f.finish();
        s.pop();
        s.trim_start().to_string()
    }

    /// The entry as `-M` shows it, with a final newline.
    pub fn render(&self, fold: bool) -> String {
        let mut head = String::new();
        for (f, col) in self.fields.iter().zip(COLUMNS) {
            head.push_str(f);
            if head.len() < col {
                head.extend(std::iter::repeat_n(' ', col - head.len()));
            } else {
                head.push(' ');
            }
        }
        head.pop();
        let mut f = Folder::with_limit(&head, fold, fold::ENTRY_LIMIT);
        lay_out_args(&mut f, &self.args, Folder::glue);
        f.finish()
    }
}

/// Adds the command and its arguments to a line: each `-o` on a line of
/// its own when folding. `first` places the command.
pub fn lay_out_args(f: &mut Folder, args: &[Arg], first: fn(&mut Folder, &str)) {
    let mut options = true;
    let mut i = 0;
    while i < args.len() {
        if i > 0
            && let Arg::Word(w) = &args[i]
        {
            let option = w.len() > 1 && w.starts_with('-') && w != "--";
            if !option && w != "-" {
                options = false;
            }
        }
        match &args[i] {
            Arg::Word(w) if i == 0 => first(f, w),
            // Postfix lays out a lone "-" among the options, when an
            // argument follows, like "-o": on a new line, with that
            // argument.
            Arg::Word(w) if w == "-" && options && i + 1 < args.len() => {
                options = false;
                f.break_line();
                f.spaced_word(w);
                f.glue(&arg_text(&args[i + 1]));
                i += 1;
                f.break_line();
            }
            Arg::Word(w) => f.word(w),
            Arg::Override { text, .. } => {
                f.break_line();
                f.spaced_word("-o");
                f.glue(text);
                f.break_line();
            }
        }
        i += 1;
    }
}

/// An argument as it is printed.
fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Word(w) => w.clone(),
        Arg::Override { text, .. } => format!("-o {text}"),
    }
}

/// `name=value`, in braces when the value has whitespace.
pub fn render_setting(name: &str, value: &str) -> String {
    if value.contains(|c: char| c.is_ascii_whitespace()) {
        format!("{{{name}={value}}}")
    } else {
        format!("{name}={value}")
    }
}

/// A word, in braces when it has whitespace.
fn render_word(w: &str) -> String {
    if w.contains(|c: char| c.is_ascii_whitespace()) {
        format!("{{{w}}}")
    } else {
        w.to_string()
    }
}

/// Splits a logical line into fields: whitespace separates them except
/// inside `{ }`; an unclosed `{` takes the rest of the line.
pub fn tokenize(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                c if c.is_ascii_whitespace() && depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        out.push(&line[start..i]);
    }
    out
}

/// The text inside a token that starts with `{`, trimmed; reports a
/// missing `}` or text after it, as Postfix does, and goes on with the
/// text inside.
pub fn unbrace(token: &str) -> String {
    let b = token.as_bytes();
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    if i + 1 != b.len() {
                        warning!("master.cf: syntax error after '}}' in \"{token}\"");
                    }
                    return token[1..i].trim().to_string();
                }
            }
            _ => {}
        }
    }
    warning!("master.cf: missing '}}' in \"{token}\"");
    token[1..].trim().to_string()
}

/// A plain argument as it is shown: a group loses its braces, which are
/// put back when the text has whitespace, except for the first argument
/// after the options (Postfix shows that one bare).
fn plain_arg(token: &str, first: bool) -> Arg {
    if !token.starts_with('{') {
        return Arg::Word(token.to_string());
    }
    let inner = unbrace(token);
    if first {
        Arg::Word(inner)
    } else {
        Arg::Word(render_word(&inner))
    }
}

/// The value of `-o`.
fn override_arg(token: &str) -> Arg {
    if token.starts_with('{') {
        let inner = unbrace(token);
        match config::main_cf::split_nameval(&inner) {
            Ok((n, v)) => Arg::setting(n, v),
            Err(why) => {
                warning!("master.cf: {why}");
                Arg::Override {
                    text: render_word(&inner),
                    setting: None,
                }
            }
        }
    } else {
        let setting = token
            .split_once('=')
            .filter(|(n, _)| !n.is_empty())
            .map(|(n, v)| (n.to_string(), v.to_string()));
        Arg::Override {
            text: token.to_string(),
            setting,
        }
    }
}

/// The command and its arguments, with the options read as getopt does.
pub fn parse_args(tokens: &[&str]) -> Vec<Arg> {
    let mut out = Vec::with_capacity(tokens.len());
    let Some((command, rest)) = tokens.split_first() else {
        return out;
    };
    out.push(Arg::Word(command.to_string()));
    let mut options = true;
    let mut want_value = false;
    for tok in rest {
        if want_value {
            out.push(override_arg(tok));
            want_value = false;
            continue;
        }
        if !options || !tok.starts_with('-') || *tok == "-" {
            out.push(plain_arg(tok, options));
            options = false;
            continue;
        }
        if *tok == "--" {
            options = false;
            out.push(Arg::Word(tok.to_string()));
            continue;
        }
        match tok[1..].find('o') {
            None => out.push(Arg::Word(tok.to_string())),
            Some(at) => {
                let flags = &tok[1..1 + at];
                if !flags.is_empty() {
                    out.push(Arg::Word(format!("-{flags}")));
                }
                let value = &tok[2 + at..];
                if value.is_empty() {
                    want_value = true;
                } else {
                    out.push(override_arg(value));
                }
            }
        }
    }
    if want_value {
        out.push(Arg::Word("-o".to_string()));
    }
    out
}

/// Checks the fields of an entry; the error is Postfix's.
fn check_fields(t: &[&str], line: &str) -> Result<()> {
    let invalid = |what: &str, v: &str| fatal!("invalid {what} field \"{v}\" in \"{line}\"");
    if !TYPES.contains(&t[1]) {
        return invalid("type", t[1]);
    }
    for (what, v) in [("private", t[2]), ("unprivileged", t[3]), ("chroot", t[4])] {
        if !matches!(v, "y" | "n" | "-") {
            return invalid(what, v);
        }
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let wakeup = t[5].strip_suffix('?').unwrap_or(t[5]);
    if t[5] != "-" && !digits(wakeup) {
        return invalid("wakeup", t[5]);
    }
    if t[6] != "-" && !digits(t[6]) {
        return invalid("process_limit", t[6]);
    }
    Ok(())
}

/// Parses one entry from its logical line text (for `-M -e` too).
pub fn parse_entry(text: &str, path: &str, line: usize) -> Result<Entry> {
    let t = tokenize(text);
    if t.len() < 8 {
        return fatal!("file {path}: line {line}: bad field count");
    }
    check_fields(&t, text)?;
    let mut e = Entry {
        first: line.saturating_sub(1),
        last: line.saturating_sub(1),
        end: line,
        fields: std::array::from_fn(|i| t[i].to_string()),
        args: parse_args(&t[7..]),
        dict: Vec::new(),
    };
    e.dict = e.own_dict();
    Ok(e)
}

/// master.cf, its lines and its entries.
#[derive(Debug, Clone, Default)]
pub struct MasterFile {
    /// `DIR/master.cf`, as messages name it.
    pub path: String,
    /// The physical lines, each with its line terminator.
    pub lines: Vec<String>,
    pub entries: Vec<Entry>,
}

impl MasterFile {
    /// Reads `dir/master.cf`; unless `must_exist`, a missing file is a
    /// warning and no entries.
    pub fn read(dir: &str, must_exist: bool) -> Result<MasterFile> {
        let path = file_in(dir, "master.cf");
        match read_text(&path) {
            Ok(text) => MasterFile::parse(&path, &text),
            Err(e) if must_exist => fatal!("open {}: {}", path, strerror(&e)),
            Err(e) => {
                warning!("open {}: {}", path, strerror(&e));
                Ok(MasterFile {
                    path,
                    ..Default::default()
                })
            }
        }
    }

    /// Parses master.cf text; `path` names it in messages.
    pub fn parse(path: &str, text: &str) -> Result<MasterFile> {
        MasterFile::parse_with(path, text, true)
    }

    /// Like [`MasterFile::parse`], for editing: a logical line that
    /// starts with whitespace is kept without a warning.
    pub fn parse_quietly(path: &str, text: &str) -> Result<MasterFile> {
        MasterFile::parse_with(path, text, false)
    }

    fn parse_with(path: &str, text: &str, warn: bool) -> Result<MasterFile> {
        let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        let mut entries: Vec<Entry> = Vec::new();
        for l in config::main_cf::logical_lines(text) {
            if l.text.starts_with(char::is_whitespace) {
                if warn {
                    warning!(
                        "{path}: logical line must not start with whitespace: \"{}\"",
                        l.text
                    );
                }
                continue;
            }
            let mut e = parse_entry(&l.text, path, l.first + 1)?;
            e.first = l.first;
            e.last = l.last;
            e.end = lines.len();
            if let Some(prev) = entries.last_mut() {
                prev.end = l.first;
            }
            entries.push(e);
        }
        // One set of settings per service/type, which exists from the
        // first entry that has settings of its own.
        for i in 0..entries.len() {
            let mut dict: Vec<(String, String)> = Vec::new();
            let id = entries[i].id();
            if !entries[..=i]
                .iter()
                .any(|o| o.id() == id && o.settings().next().is_some())
            {
                continue;
            }
            for other in entries.iter().filter(|o| o.id() == id) {
                for (n, v) in other.settings() {
                    match dict.iter_mut().find(|(k, _)| k == n) {
                        Some(e) => e.1 = v.to_string(),
                        None => dict.push((n.to_string(), v.to_string())),
                    }
                }
            }
            dict.sort();
            entries[i].dict = dict;
        }
        // A program sets these itself; Postfix drops them (and
        // names::Table::analyze reports them).
        for e in &mut entries {
            e.dict
                .retain(|(n, _)| !crate::names::READ_ONLY.contains(&n.as_str()));
        }
        Ok(MasterFile {
            path: path.to_string(),
            lines,
            entries,
        })
    }
}

/// A `service[/type[/name]]` selection; `None` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub parts: Vec<Option<String>>,
}

impl Pattern {
    /// Parses a selection of at most `max` parts; `*` alone is a wildcard.
    /// Returns `None` when it is malformed.
    pub fn parse(text: &str, max: usize) -> Option<Pattern> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() > max || parts.iter().any(|p| p.contains('*') && *p != "*") {
            return None;
        }
        Some(Pattern {
            text: text.to_string(),
            parts: parts
                .iter()
                .map(|p| (*p != "*").then(|| p.to_string()))
                .collect(),
        })
    }

    fn part(&self, i: usize, value: &str) -> bool {
        match self.parts.get(i) {
            None | Some(None) => true,
            Some(Some(p)) => p == value,
        }
    }

    pub fn matches_entry(&self, e: &Entry) -> bool {
        self.part(0, e.service()) && self.part(1, e.kind())
    }

    pub fn matches_name(&self, name: &str) -> bool {
        self.part(2, name)
    }
}

/// Parses the selections of `-M`, `-F` or `-P`.
fn patterns(args: &[String], max: usize, usage: &str) -> Result<Vec<Pattern>> {
    let mut v = Vec::new();
    for a in args {
        match Pattern::parse(a, max) {
            Some(p) => v.push(p),
            None => return fatal!("{usage}"),
        }
    }
    Ok(v)
}

/// How `-F` and `-P` print each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Show {
    pub fold: bool,
    pub no_names: bool,
    pub no_values: bool,
}

fn show_line(out: &mut Vec<u8>, how: Show, name: &str, value: &str) {
    let text = if how.no_values {
        fold::name_line(name)
    } else if how.no_names {
        fold::param_line(None, value, how.fold)
    } else {
        fold::param_line(Some(name), value, how.fold)
    };
    out.extend_from_slice(text.as_bytes());
}

fn warn_unmatched(pats: &[Pattern], matched: &[bool]) {
    for (p, hit) in pats.iter().zip(matched) {
        if !hit {
            warning!("unmatched request: \"{}\"", p.text);
        }
    }
}

/// The patterns that select an entry, in order; each one that matches
/// shows the entry again, as Postfix does. No patterns select all.
fn selections<'p>(
    pats: &'p [Pattern],
    matched: &mut [bool],
    e: &Entry,
) -> Vec<Option<&'p Pattern>> {
    if pats.is_empty() {
        return vec![None];
    }
    let mut v = Vec::new();
    for (p, hit) in pats.iter().zip(matched.iter_mut()) {
        if p.matches_entry(e) {
            *hit = true;
            v.push(Some(p));
        }
    }
    v
}

/// `-M`: the entries, all or those selected.
pub fn show_entries(
    m: &MasterFile,
    args: &[String],
    fold: bool,
    expand: &ExpandIn<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let pats = patterns(args, 2, "-M option requires service_name[/type]")?;
    let mut matched = vec![false; pats.len()];
    for e in &m.entries {
        for _ in selections(&pats, &mut matched, e) {
            let e = expand_entry(e, expand)?;
            out.extend_from_slice(e.render(fold).as_bytes());
        }
    }
    warn_unmatched(&pats, &matched);
    Ok(())
}

/// Expands the value of a setting of an entry (`-x`).
pub type ExpandIn<'a> = dyn Fn(&Entry, &str) -> Result<String> + 'a;

/// The entry with `$name` expanded in the values of its `-o` settings
/// (`-x`); other arguments are the daemon's business and stay as they are.
fn expand_entry(e: &Entry, expand: &ExpandIn<'_>) -> Result<Entry> {
    let mut new = e.clone();
    for a in &mut new.args {
        if let Arg::Override {
            setting: Some((n, v)),
            ..
        } = a
        {
            *a = Arg::setting(n, &expand(e, v)?);
        }
    }
    Ok(new)
}

/// The command of an entry (for `$process_name`).
pub fn command_name(e: &Entry) -> &str {
    match e.args.first() {
        Some(Arg::Word(w)) => w,
        _ => "",
    }
}

/// The command field, as `-F` shows it.
fn command_line(e: &Entry, name: &str, how: Show) -> String {
    if how.no_values {
        return fold::name_line(name);
    }
    if how.no_names {
        let mut f = Folder::new("", how.fold).space_after(fold::INDENT.len());
        lay_out_args(&mut f, &e.args, Folder::glue_first);
        f.finish()
    } else {
        let mut f = Folder::new(name, how.fold);
        f.word("=");
        lay_out_args(&mut f, &e.args, Folder::word);
        f.finish()
    }
}

/// `-F`: the fields, as `service/type/field = value`.
pub fn show_fields(
    m: &MasterFile,
    args: &[String],
    how: Show,
    expand: &ExpandIn<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let pats = patterns(args, 3, "-F option requires service_name[/type[/field]]")?;
    for p in &pats {
        if let Some(Some(f)) = p.parts.get(2)
            && !FIELD_NAMES.contains(&f.as_str())
        {
            return fatal!("invalid service attribute name: \"{f}\"");
        }
    }
    let mut matched = vec![false; pats.len()];
    for e in &m.entries {
        for p in selections(&pats, &mut matched, e) {
            let e = expand_entry(e, expand)?;
            for (i, field) in FIELD_NAMES.iter().enumerate() {
                if p.is_some_and(|p| !p.matches_name(field)) {
                    continue;
                }
                let name = format!("{}/{}", e.id(), field);
                if i < 7 {
                    show_line(out, how, &name, &e.fields[i]);
                } else {
                    out.extend_from_slice(command_line(&e, &name, how).as_bytes());
                }
            }
        }
    }
    warn_unmatched(&pats, &matched);
    Ok(())
}

/// `-P`: the `-o` settings, as `service/type/name = value`.
pub fn show_params(
    m: &MasterFile,
    args: &[String],
    how: Show,
    expand: &ExpandIn<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let pats = patterns(
        args,
        3,
        "-P option requires service_name[/type[/parameter]]",
    )?;
    let mut matched = vec![false; pats.len()];
    for e in &m.entries {
        for p in selections(&pats, &mut matched, e) {
            for (n, v) in e.settings_sorted() {
                if p.is_some_and(|p| !p.matches_name(n)) {
                    continue;
                }
                let value = expand(e, v)?;
                show_line(out, how, &format!("{}/{}", e.id(), n), &value);
            }
        }
    }
    warn_unmatched(&pats, &matched);
    Ok(())
}

/// Writes the output, mapping errors to a fatal message.
pub fn flush(out: &[u8]) -> Result<()> {
    let mut so = std::io::stdout().lock();
    match so.write_all(out).and_then(|_| so.flush()) {
        Ok(()) => Ok(()),
        Err(e) => fatal!("write error: {}", strerror(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Entry {
        parse_entry(text, "./master.cf", 1).unwrap()
    }

    #[test]
    fn columns_and_overflow() {
        assert_eq!(
            entry("smtp inet n - y - - smtpd").render(false),
            "smtp       inet  n       -       y       -       -       smtpd\n"
        );
        assert_eq!(
            entry("postlog   unix-dgram n  -   n - 1 postlogd").render(false),
            "postlog    unix-dgram n  -       n       -       1       postlogd\n"
        );
        assert_eq!(
            entry("scalemail-backend unix - n n - 2 pipe flags=R").render(false),
            "scalemail-backend unix - n       n       -       2       pipe flags=R\n"
        );
    }

    #[test]
    fn overrides_are_normalized() {
        let e = entry(
            "submission inet n - y - - smtpd -o syslog_name=postfix/submission \
             -o { smtpd_client_restrictions = permit_sasl_authenticated, reject } \
             -osmtpd_banner=x -vo y=1 -o x={ a b } foo { a b } {c} -o z=1",
        );
        assert_eq!(
            e.command_text(),
            "smtpd -o syslog_name=postfix/submission \
             -o {smtpd_client_restrictions=permit_sasl_authenticated, reject} \
             -o smtpd_banner=x -v -o y=1 -o x={ a b } foo {a b} c -o z=1"
        );
        assert_eq!(
            e.settings_sorted(),
            [
                ("smtpd_banner", "x"),
                (
                    "smtpd_client_restrictions",
                    "permit_sasl_authenticated, reject"
                ),
                ("syslog_name", "postfix/submission"),
                ("x", "{ a b }"),
                ("y", "1"),
            ]
        );
        assert_eq!(
            e.render(true),
            "submission inet  n       -       y       -       -       smtpd\n    \
             -o syslog_name=postfix/submission\n    \
             -o {smtpd_client_restrictions=permit_sasl_authenticated, reject}\n    \
             -o smtpd_banner=x\n    -v\n    -o y=1\n    -o x={ a b }\n    \
             foo {a b} c -o z=1\n"
        );
    }

    #[test]
    fn options_end_at_the_first_plain_word() {
        let e = entry("a unix - - n - - smtpd -n foo -o x=1");
        assert_eq!(e.settings().count(), 0);
        let e = entry("b unix - - n - - smtpd -- -o x=1");
        assert_eq!(e.settings().count(), 0);
        let e = entry("c unix - - n - - smtpd -o x -o y=1 -o");
        assert_eq!(e.settings().collect::<Vec<_>>(), [("y", "1")]);
        assert_eq!(e.command_text(), "smtpd -o x -o y=1 -o");
    }

    #[test]
    fn tokens_keep_braces_together() {
        assert_eq!(
            tokenize("a b{a c} {x {y} z}  {open to end"),
            ["a", "b{a c}", "{x {y} z}", "{open to end"]
        );
    }

    #[test]
    fn field_errors_are_postfix_messages() {
        let e = parse_entry("a foo - - n - - x", "./master.cf", 3).unwrap_err();
        assert_eq!(e.0, "invalid type field \"foo\" in \"a foo - - n - - x\"");
        let e = parse_entry("a unix - - n - -", "./master.cf", 3).unwrap_err();
        assert_eq!(e.0, "file ./master.cf: line 3: bad field count");
        for bad in ["-1", "5??", "x"] {
            assert!(parse_entry(&format!("a unix - - n {bad} - x"), "m", 1).is_err());
        }
        assert!(parse_entry("a unix - - n 1000? 0 x", "m", 1).is_ok());
        assert!(parse_entry("a inet y - n - - x", "m", 1).is_ok());
    }

    #[test]
    fn patterns_and_wildcards() {
        let e = entry("smtp inet n - y - - smtpd");
        assert!(Pattern::parse("smtp", 2).unwrap().matches_entry(&e));
        assert!(Pattern::parse("*/inet", 2).unwrap().matches_entry(&e));
        assert!(!Pattern::parse("smtp/unix", 2).unwrap().matches_entry(&e));
        assert!(Pattern::parse("s*", 2).is_none());
        assert!(Pattern::parse("a/b/c", 2).is_none());
    }
}
