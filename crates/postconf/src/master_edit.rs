//! # NAME
//! master_edit — change master.cf in place (`-M -e`, `-MX`, `-M#`, `-F -e`, `-P -e`, `-PX`)
//!
//! ## SYNOPSIS
//! ```ignore
//! master_edit::edit(&dir, Mode::Params, Edit::Set, &["relay/unix/syslog_name=x".into()])?;
//! ```
//!
//! ## DESCRIPTION
//! An entry owns the physical lines of its logical line and the comment
//! and blank lines that follow it, up to the next entry. Lines of entries
//! that do not change are written back byte for byte.
//!
//! - `-M -e service/type=text` replaces the first entry that
//!   `service/type` or the service of `text` selects with the entry that
//!   `text` describes, laid out as `postconf -Mf` shows it and followed by
//!   the comment lines the old entry owned; other entries so selected are
//!   removed. When none is, the new entry is appended at the end.
//! - `-MX service/type` removes the entries and keeps their comments;
//!   `-M# service/type` puts `#` in front of each of their lines.
//! - `-F -e service/type/field=value` sets one field (`command` takes the
//!   command and its arguments); `-P -e service/type/name=value` sets an
//!   `-o` parameter, in place or after the last `-o`; `-PX
//!   service/type/name` removes it. The entry is written back as `-Mf`
//!   shows it, after the comment lines it owned. In all of these,
//!   `service` and `type` may be `*`.
//!
//! The file is replaced as in [`crate::edit`].
//!
//! ## DIAGNOSTICS
//! `unmatched service_name/type: "arg"` when `-F -e` or `-P -e` matches
//! no entry; `-Pe does not accept whitespace in parameter value`.
//!
//! ## SEE ALSO
//! postconf(1), master(5), [`crate::master`]

use crate::args::{Edit, Mode};
use crate::edit::{is_own_line, read_for_edit, write_file};
use crate::master::{
    Arg, Entry, FIELD_NAMES, MasterFile, Pattern, parse_args, parse_entry, tokenize,
};
use crate::msg::{Fatal, Result, fatal, warning};
use crate::settings::file_in;

/// What happens to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Keep,
    /// Put this text in place of the entry, before its comments.
    Replace(String),
    Remove,
    Comment,
    /// Put this text after the entry's comments.
    Rewrite(String),
}

/// A `-M` request: `service/type` (`*` allowed) and, for `-e`, the new
/// entry.
struct ServiceRequest {
    pattern: Pattern,
    entry: Option<Entry>,
    done: bool,
}

impl ServiceRequest {
    /// Whether the request applies to `e`: the pattern matches it, or,
    /// for `-e`, the new entry names the same service.
    fn matches(&self, e: &Entry) -> bool {
        self.pattern.matches_entry(e) || self.entry.as_ref().is_some_and(|n| n.id() == e.id())
    }
}

fn service_requests(path: &str, edit: Edit, args: &[String]) -> Result<Vec<ServiceRequest>> {
    let mut out = Vec::new();
    for a in args {
        let (key, value) = match (edit, a.split_once('=')) {
            (Edit::Set, Some((k, v))) => (k, Some(v)),
            (Edit::Set, None) => return fatal!("missing '=' after attribute name: \"{a}\""),
            (_, _) => (a.as_str(), None),
        };
        let pattern = match Pattern::parse(key, 2) {
            Some(p) if p.parts.len() == 2 => p,
            _ => return fatal!("-Me, -MX or -M# requires service_name/type"),
        };
        let entry = match value {
            Some(v) => match parse_entry(v.trim(), path, 0) {
                Ok(e) => Some(e),
                Err(f) if f.0.ends_with("bad field count") => {
                    return fatal!("bad field count: \"{a}\"");
                }
                Err(f) => return Err(f),
            },
            None => None,
        };
        out.push(ServiceRequest {
            pattern,
            entry,
            done: false,
        });
    }
    Ok(out)
}

/// A `-F` or `-P` request: `service/type/name[=value]`.
struct ItemRequest {
    arg: String,
    pattern: Pattern,
    name: String,
    value: Option<String>,
    done: bool,
}

fn item_requests(mode: Mode, edit: Edit, args: &[String]) -> Result<Vec<ItemRequest>> {
    let mut out = Vec::new();
    for a in args {
        let (key, value) = match (edit, a.split_once('=')) {
            (Edit::Set, Some((k, v))) => (k, Some(v.trim().to_string())),
            (Edit::Set, None) => return fatal!("missing '=' after attribute name: \"{a}\""),
            (_, _) => (a.as_str(), None),
        };
        let usage = if mode == Mode::Fields {
            "-Fe or -FX requires service_name/type/field_name"
        } else {
            "-Pe or -PX requires service_name/type/parameter"
        };
        let parts: Vec<&str> = key.split('/').collect();
        let Some(pattern) = Pattern::parse(key, 3).filter(|_| parts.len() == 3) else {
            return fatal!("{usage}");
        };
        if parts[2] == "*" {
            return if mode == Mode::Fields {
                fatal!("-Fe does not accept wild-card field name")
            } else {
                fatal!("-Pe does not accept wild-card parameter name")
            };
        }
        let name = parts[2].trim().to_string();
        if mode == Mode::Fields && !FIELD_NAMES.contains(&name.as_str()) {
            return fatal!("invalid service attribute name: \"{name}\"");
        }
        if mode == Mode::Params
            && let Some(v) = &value
            && v.contains(|c: char| c.is_ascii_whitespace())
        {
            return fatal!("-Pe does not accept whitespace in parameter value");
        }
        out.push(ItemRequest {
            arg: a.clone(),
            pattern,
            name,
            value,
            done: false,
        });
    }
    Ok(out)
}

/// Sets one field of an entry (`-F -e`).
fn set_field(e: &mut Entry, field: &str, value: &str, path: &str) -> Result<()> {
    let i = FIELD_NAMES
        .iter()
        .position(|f| *f == field)
        .expect("invariant: field names are checked");
    if i == 7 {
        let t = tokenize(value);
        if t.is_empty() {
            return fatal!("missing command field value");
        }
        e.args = parse_args(&t);
        return Ok(());
    }
    let mut fields: Vec<String> = e.fields.to_vec();
    fields[i] = value.to_string();
    let mut text = fields.join(" ");
    text.push(' ');
    text.push_str(&e.command_text());
    match parse_entry(&text, path, e.first + 1) {
        Ok(checked) => e.fields = checked.fields,
        // The complaint quotes the new value, not the whole entry.
        Err(f) => {
            return Err(match f.0.rfind(" in \"") {
                Some(at) => Fatal(format!("{} in \"{}\"", &f.0[..at], value)),
                None => f,
            });
        }
    }
    Ok(())
}

/// Sets (`Some`) or removes (`None`) an `-o` parameter (`-P`).
fn set_param(e: &mut Entry, name: &str, value: Option<&str>) {
    let is_it = |a: &Arg| matches!(a, Arg::Override { setting: Some((n, _)), .. } if n == name);
    match value {
        None => e.args.retain(|a| !is_it(a)),
        Some(v) => {
            let mut replaced = false;
            for a in &mut e.args {
                if is_it(a) {
                    *a = Arg::setting(name, v);
                    replaced = true;
                }
            }
            if !replaced {
                // After the last option, before the first other argument.
                let at = 1 + e.args[1..]
                    .iter()
                    .take_while(|a| match a {
                        Arg::Override { .. } => true,
                        Arg::Word(w) => w.starts_with('-') && w != "--" && w != "-",
                    })
                    .count();
                e.args.insert(at, Arg::setting(name, v));
            }
        }
    }
}

/// The new text of master.cf.
fn apply(m: &MasterFile, actions: &[Action], appended: &[String]) -> String {
    let mut out = String::new();
    let start = m.entries.first().map_or(m.lines.len(), |e| e.first);
    for line in &m.lines[..start] {
        out.push_str(line);
    }
    for (e, action) in m.entries.iter().zip(actions) {
        let lines = &m.lines[e.first..e.end];
        let others = || {
            lines
                .iter()
                .enumerate()
                .filter(|(i, l)| e.first + i > e.last || !is_own_line(l))
                .map(|(_, l)| l.as_str())
                .collect::<String>()
        };
        match action {
            Action::Keep => lines.iter().for_each(|l| out.push_str(l)),
            Action::Replace(text) => {
                out.push_str(text);
                out.push_str(&others());
            }
            Action::Remove => out.push_str(&others()),
            Action::Comment => {
                for (i, l) in lines.iter().enumerate() {
                    if e.first + i <= e.last && is_own_line(l) {
                        out.push('#');
                    }
                    out.push_str(l);
                }
            }
            Action::Rewrite(text) => {
                out.push_str(&others());
                out.push_str(text);
            }
        }
    }
    for text in appended {
        out.push_str(text);
    }
    out
}

/// Edits `dir/master.cf`.
pub fn edit(dir: &str, mode: Mode, edit: Edit, args: &[String]) -> Result<()> {
    let path = file_in(dir, "master.cf");
    let mut actions: Vec<Action>;
    let mut appended = Vec::new();
    let m;
    if mode == Mode::Master {
        let mut reqs = service_requests(&path, edit, args)?;
        let text = read_for_edit(&path)?;
        m = MasterFile::parse_quietly(&path, &text)?;
        actions = vec![Action::Keep; m.entries.len()];
        for (e, action) in m.entries.iter().zip(actions.iter_mut()) {
            for r in reqs.iter_mut() {
                if !r.matches(e) {
                    continue;
                }
                *action = match (&r.entry, edit) {
                    // The first match takes the new entry, others go.
                    (Some(new), _) if !r.done => Action::Replace(new.render(true)),
                    (Some(_), _) | (None, Edit::Remove) => Action::Remove,
                    (None, _) => Action::Comment,
                };
                r.done = true;
            }
        }
        for r in reqs.iter().filter(|r| !r.done) {
            if let Some(new) = &r.entry {
                appended.push(new.render(true));
            }
        }
    } else {
        let mut reqs = item_requests(mode, edit, args)?;
        let text = read_for_edit(&path)?;
        m = MasterFile::parse_quietly(&path, &text)?;
        actions = vec![Action::Keep; m.entries.len()];
        for (e, action) in m.entries.iter().zip(actions.iter_mut()) {
            let mut new = e.clone();
            let mut touched = false;
            for r in reqs.iter_mut() {
                if !r.pattern.matches_entry(e) {
                    continue;
                }
                r.done = true;
                touched = true;
                match mode {
                    Mode::Fields => {
                        set_field(&mut new, &r.name, r.value.as_deref().unwrap_or(""), &path)?
                    }
                    _ => set_param(&mut new, &r.name, r.value.as_deref()),
                }
            }
            if touched {
                *action = Action::Rewrite(new.render(true));
            }
        }
        for r in reqs.iter().filter(|r| !r.done) {
            warning!("unmatched service_name/type: \"{}\"", r.arg);
        }
    }
    let new = apply(&m, &actions, &appended);
    write_file(&path, &new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# head\nsmtp inet n - y - - smtpd\n  -o x=1\n# mid\n\
                        pickup unix n - y 60 1 pickup\n\
                        relay unix - - n - - smtp -o a=1 -o { b = 2 3 } foo\n#tail\n";

    fn run(mode: Mode, edit: Edit, args: &[&str]) -> String {
        let m = MasterFile::parse("./master.cf", FILE).unwrap();
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut actions = vec![Action::Keep; m.entries.len()];
        let mut appended = Vec::new();
        if mode == Mode::Master {
            let reqs = service_requests("./master.cf", edit, &v).unwrap();
            for r in reqs {
                match m.entries.iter().position(|e| r.matches(e)) {
                    Some(i) => {
                        actions[i] = match (&r.entry, edit) {
                            (Some(n), _) => Action::Replace(n.render(true)),
                            (None, Edit::Remove) => Action::Remove,
                            _ => Action::Comment,
                        }
                    }
                    None => appended.extend(r.entry.map(|e| e.render(true))),
                }
            }
        } else {
            let reqs = item_requests(mode, edit, &v).unwrap();
            for (i, e) in m.entries.iter().enumerate() {
                let mut new = e.clone();
                let mut touched = false;
                for r in &reqs {
                    if r.pattern.matches_entry(e) {
                        touched = true;
                        if mode == Mode::Fields {
                            set_field(&mut new, &r.name, r.value.as_deref().unwrap(), "m").unwrap();
                        } else {
                            set_param(&mut new, &r.name, r.value.as_deref());
                        }
                    }
                }
                if touched {
                    actions[i] = Action::Rewrite(new.render(true));
                }
            }
        }
        apply(&m, &actions, &appended)
    }

    #[test]
    fn entries_replaced_removed_commented() {
        assert_eq!(
            run(
                Mode::Master,
                Edit::Set,
                &["smtp/inet=smtp  inet n - n - - smtpd -o y=2"]
            ),
            "# head\nsmtp       inet  n       -       n       -       -       smtpd\n    -o y=2\n\
             # mid\npickup unix n - y 60 1 pickup\n\
             relay unix - - n - - smtp -o a=1 -o { b = 2 3 } foo\n#tail\n"
        );
        assert_eq!(
            run(Mode::Master, Edit::Remove, &["smtp/inet"]),
            "# head\n# mid\npickup unix n - y 60 1 pickup\n\
             relay unix - - n - - smtp -o a=1 -o { b = 2 3 } foo\n#tail\n"
        );
        assert_eq!(
            run(Mode::Master, Edit::Comment, &["smtp/inet"]),
            "# head\n#smtp inet n - y - - smtpd\n#  -o x=1\n# mid\npickup unix n - y 60 1 pickup\n\
             relay unix - - n - - smtp -o a=1 -o { b = 2 3 } foo\n#tail\n"
        );
        assert!(
            run(Mode::Master, Edit::Set, &["new/unix=new unix - - n - - x"])
                .ends_with("#tail\nnew        unix  -       -       n       -       -       x\n")
        );
    }

    #[test]
    fn fields_and_params_rewrite_after_comments() {
        assert_eq!(
            run(Mode::Fields, Edit::Set, &["smtp/inet/chroot=n"]),
            "# head\n# mid\nsmtp       inet  n       -       n       -       -       smtpd\n    -o x=1\n\
             pickup unix n - y 60 1 pickup\n\
             relay unix - - n - - smtp -o a=1 -o { b = 2 3 } foo\n#tail\n"
        );
        assert_eq!(
            run(Mode::Params, Edit::Set, &["smtp/inet/y=5"]),
            "# head\n# mid\nsmtp       inet  n       -       y       -       -       smtpd\n    \
             -o x=1\n    -o y=5\npickup unix n - y 60 1 pickup\n\
             relay unix - - n - - smtp -o a=1 -o { b = 2 3 } foo\n#tail\n"
        );
        assert!(run(Mode::Params, Edit::Set, &["relay/unix/b=4"]).ends_with(
            "#tail\nrelay      unix  -       -       n       -       -       smtp\n    \
                 -o a=1\n    -o b=4\n    foo\n"
        ));
        assert!(
            run(Mode::Params, Edit::Remove, &["relay/unix/a"]).ends_with(
                "#tail\nrelay      unix  -       -       n       -       -       smtp\n    \
                 -o {b=2 3}\n    foo\n"
            )
        );
        assert!(run(Mode::Params, Edit::Set, &["pickup/unix/x=1"]).contains(
            "pickup     unix  n       -       y       60      1       pickup\n    -o x=1\n"
        ));
    }
}
