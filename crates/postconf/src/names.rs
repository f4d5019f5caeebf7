//! # NAME
//! names — which parameter names postconf(1) knows, and which are used
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut t = Table::new(&master);                    // built-in + per-service
//! let used = t.analyze(&settings, &master, &values)?; // warnings
//! t.set_used(used, &settings);                        // user-defined names
//! let names = t.listed(&settings, Classes::ALL);      // what postconf lists
//! t.warn_unused_main(&settings); t.warn_unused_master(&master);
//! ```
//!
//! ## DESCRIPTION
//! Names come in classes (`-C`):
//!
//! - `builtin`: the parameter table of the config crate.
//! - `service`: per-transport names that master.cf implies
//!   (`relay_destination_concurrency_limit`), built-in ones included
//!   (`local_destination_recipient_limit` when master.cf runs `local`).
//! - `user`: names set in main.cf (or with `-o`) that are in use: some
//!   main.cf value or master.cf `-o` value refers to them as `$name`, or
//!   they are listed in `smtpd_restriction_classes`. The names that the
//!   built-in defaults refer to without defining them (`$virtual_maps`,
//!   `$smtp_per_record_deadline`) are always known, with an empty
//!   default, and listed only when main.cf sets them.
//!
//! [`Table::analyze`] finds the user names. It scans every main.cf value
//! (except those of the parameters that are never expanded, such as
//! `mailbox_command`, and the read-only ones, such as `process_id`, whose
//! setting is reported) and every master.cf `-o` value, and reports each
//! `$name` that nothing defines as `undefined parameter`, and expands the
//! value of every built-in and per-service parameter, which ends the
//! program on a loop or a syntax error, as `macro processing error`. The
//! classes that `smtpd_restriction_classes` lists are in use too, and
//! reported when nothing defines them; a master.cf setting of it is
//! expanded with the entry's own settings only, as Postfix does.
//!
//! A main.cf setting or master.cf `-o` setting whose name is in no class
//! is reported as `unused parameter: name=value` after the output.
//!
//! ## BUGS
//! Postfix reports these warnings in the order of its hash table, which
//! varies from run to run; they come here in file order.
//!
//! ## SEE ALSO
//! postconf(1) "-C", [`config::params`], [`config::service_params`]

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::master::{Entry, MasterFile};
use crate::msg::{self, Result, fatal, warning};
use crate::print::Values;
use crate::settings::Settings;
use crate::{dbms, expand};

/// Parameters whose values are never expanded.
pub const RAW: &[&str] = &[
    "command_execution_directory",
    "default_rbl_reply",
    "forward_path",
    "luser_relay",
    "mailbox_command",
    "postscreen_expansion_filter",
    "postscreen_reject_footer",
    "smtpd_expansion_filter",
    "smtpd_reject_footer",
];

/// Parameters that a program sets for itself; main.cf cannot.
pub const READ_ONLY: &[&str] = &["process_id", "process_name", "service_name"];

/// The parameter that names restriction classes.
const RESTRICTION_CLASSES: &str = "smtpd_restriction_classes";

/// The `-C` selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes {
    pub builtin: bool,
    pub service: bool,
    pub user: bool,
}

impl Classes {
    pub const ALL: Classes = Classes {
        builtin: true,
        service: true,
        user: true,
    };

    /// Parses `builtin,service,user,all`.
    pub fn parse(text: &str) -> Result<Classes> {
        let mut c = Classes {
            builtin: false,
            service: false,
            user: false,
        };
        for w in text
            .split([',', ' ', '\t', '\r', '\n'])
            .filter(|w| !w.is_empty())
        {
            match w {
                "builtin" => c.builtin = true,
                "service" => c.service = true,
                "user" => c.user = true,
                "all" => c = Classes::ALL,
                _ => return fatal!("unknown -C option value \"{w}\" in \"{text}\""),
            }
        }
        Ok(c)
    }
}

/// The class of a known name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Builtin,
    /// Named by a built-in default; no default of its own.
    Legacy,
    Service,
    User,
}

/// The names postconf(1) knows.
#[derive(Debug, Clone)]
pub struct Table {
    /// Per-service names and their defaults.
    service: BTreeMap<String, &'static str>,
    legacy: BTreeSet<String>,
    /// Names in use (referenced or restriction classes).
    used: HashSet<String>,
    /// `(entry, name)`: master.cf settings that other settings of the same
    /// entry refer to.
    used_locally: HashSet<(usize, String)>,
    /// Used names that main.cf sets and no other class has.
    user: BTreeSet<String>,
}

/// The names the built-in defaults refer to without defining them.
fn legacy_names() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in config::params::ALL {
        if RAW.contains(&d.name) {
            continue;
        }
        let _ = expand::scan(d.default, &mut |n| {
            if config::params::lookup(n).is_none() {
                out.insert(n.to_string());
            }
        });
    }
    out
}

impl Table {
    /// The built-in names and those that the services of master.cf imply.
    pub fn new(master: &MasterFile) -> Table {
        let pairs: Vec<(&str, &str)> = master
            .entries
            .iter()
            .filter_map(|e| match e.args.first() {
                Some(crate::master::Arg::Word(cmd)) => Some((e.service(), cmd.as_str())),
                _ => None,
            })
            .collect();
        let service = config::service_params::derived_from(&pairs)
            .into_iter()
            .collect();
        Table {
            service,
            legacy: legacy_names(),
            used: HashSet::new(),
            used_locally: HashSet::new(),
            user: BTreeSet::new(),
        }
    }

    /// The class of `name`, if it is known.
    pub fn class(&self, name: &str) -> Option<Class> {
        if self.service.contains_key(name) {
            Some(Class::Service)
        } else if config::params::lookup(name).is_some() {
            Some(Class::Builtin)
        } else if self.legacy.contains(name) {
            Some(Class::Legacy)
        } else if self.user.contains(name) {
            Some(Class::User)
        } else {
            None
        }
    }

    /// Whether the class of `name` is selected.
    pub fn selected(&self, name: &str, classes: Classes) -> bool {
        match self.class(name) {
            Some(Class::Builtin) => classes.builtin,
            Some(Class::Service) => classes.service,
            Some(Class::User | Class::Legacy) => classes.user,
            None => false,
        }
    }

    /// The default of a per-service name (a built-in name keeps its
    /// built-in default).
    pub fn service_default(&self, name: &str) -> Option<&'static str> {
        match config::params::lookup(name) {
            Some(d) if self.service.contains_key(name) => Some(d.default),
            _ => self.service.get(name).copied(),
        }
    }

    /// Every name that is listed without being asked for, sorted: those
    /// with a default, and the others when `settings` sets them.
    pub fn listed(&self, settings: &Settings, classes: Classes) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if classes.builtin {
            names.extend(
                config::params::ALL
                    .iter()
                    .filter(|d| !self.service.contains_key(d.name))
                    .map(|d| d.name.to_string()),
            );
        }
        if classes.service {
            names.extend(self.service.keys().cloned());
        }
        if classes.user {
            names.extend(self.legacy.iter().filter(|n| settings.contains(n)).cloned());
            names.extend(self.user.iter().cloned());
        }
        names.into_iter().collect()
    }

    /// Whether a name counts as defined for `undefined parameter`, in
    /// main.cf (where master.cf settings count) or in a master.cf entry
    /// (where only the entry's own settings do).
    fn defined(&self, name: &str, settings: &Settings, scope: Scope<'_>) -> bool {
        self.class(name).is_some()
            || settings.contains(name)
            || match scope {
                Scope::Main(master_names) => master_names.contains(name),
                Scope::Entry(e) => e.dict.iter().any(|(k, _)| k == name),
            }
    }

    /// Finds the names in use, silently.
    fn find_used(&self, settings: &Settings, master: &MasterFile, values: &Values<'_>) -> Used {
        let names_in = |text: &str| {
            let mut v = Vec::new();
            let _ = expand::scan(text, &mut |n| v.push(n.to_string()));
            v
        };
        let mut used = Used::default();
        for (i, e) in master.entries.iter().enumerate() {
            let own = e.settings_sorted();
            for (_, v) in own.iter().filter(|(n, _)| !RAW.contains(n)) {
                for n in names_in(v) {
                    if own.iter().any(|(k, _)| *k == n) {
                        used.locally.insert((i, n));
                    } else {
                        used.by_master.push(n);
                    }
                }
            }
        }
        for s in settings.entries() {
            let n = s.name.as_str();
            if !READ_ONLY.contains(&n) && !RAW.contains(&n) {
                used.names.extend(names_in(&s.value));
            }
        }
        if let Some(v) = main_classes(settings) {
            used.names.extend(class_names(&v).map(str::to_string));
        }
        for e in &master.entries {
            for (n, v) in e.settings_sorted() {
                if n == RESTRICTION_CLASSES {
                    used.by_master.extend(master_classes(e, v));
                }
            }
        }
        // Settings of database tables named as in `ldap:corp`.
        let mut prefixed = Vec::new();
        for s in settings.entries() {
            if matches!(self.class(&s.name), Some(Class::Builtin | Class::Service))
                && let Ok(v) = values.try_expand(&s.value)
            {
                prefixed.extend(
                    dbms::prefixed_names(&v)
                        .into_iter()
                        .filter(|p| settings.contains(p)),
                );
            }
        }
        used.names.extend(prefixed);
        used
    }

    /// Finds the user-defined names and reports undefined references,
    /// read-only settings, database configuration files with unknown
    /// settings, and values that cannot be expanded, setting by setting:
    /// master.cf first, then main.cf.
    pub fn analyze(
        &self,
        settings: &Settings,
        master: &MasterFile,
        values: &Values<'_>,
    ) -> Result<Used> {
        let used = self.find_used(settings, master, values);
        let master_names: HashSet<&str> = master
            .entries
            .iter()
            .flat_map(|e| e.settings().map(|(n, _)| n))
            .collect();
        // Only built-in and per-service parameters must expand, and only
        // their values name database tables that are checked.
        let must_expand = |n: &str| matches!(self.class(n), Some(Class::Builtin | Class::Service));
        let warn_undefined = |text: &str, file: &str, scope: Scope<'_>| {
            let mut names = Vec::new();
            let result = expand::scan(text, &mut |n| names.push(n.to_string()));
            for n in &names {
                if !self.defined(n, settings, scope) {
                    warning!("{file}: undefined parameter: {n}");
                }
            }
            if let Err(e) = result {
                warning!("{e}");
            }
        };
        let mut checked = dbms::Checked::new();
        for e in &master.entries {
            let mut own_read_only: Vec<(&str, &str)> = Vec::new();
            for (n, v) in e.settings().filter(|(n, _)| READ_ONLY.contains(n)) {
                match own_read_only.iter_mut().find(|(k, _)| *k == n) {
                    Some(x) => x.1 = v,
                    None => own_read_only.push((n, v)),
                }
            }
            for (n, v) in own_read_only {
                warning!("{}: read-only parameter assignment: {n}={v}", master.path);
            }
            for (n, v) in e.settings_sorted() {
                if RAW.contains(&n) {
                    continue;
                }
                warn_undefined(v, &master.path, Scope::Entry(e));
                if n == RESTRICTION_CLASSES {
                    for c in master_classes(e, v) {
                        if !self.defined(&c, settings, Scope::Entry(e)) {
                            warning!("{}: undefined parameter: {c}", master.path);
                        }
                    }
                }
                if must_expand(n)
                    && let Ok(x) = values.try_expand_in(e, v)
                {
                    dbms::check_value(&x, &mut checked)?;
                }
                if must_expand(n)
                    && let Err(err) = values.try_expand_in(e, v)
                {
                    macro_error(&err)?;
                }
            }
        }
        for s in settings.entries() {
            let n = s.name.as_str();
            if READ_ONLY.contains(&n) {
                warning!(
                    "{}: read-only parameter assignment: {}={}",
                    settings.path,
                    s.name,
                    s.value
                );
                continue;
            }
            if RAW.contains(&n) {
                continue;
            }
            warn_undefined(&s.value, &settings.path, Scope::Main(&master_names));
            if must_expand(n)
                && let Ok(x) = values.try_expand(&s.value)
            {
                dbms::check_value(&x, &mut checked)?;
            }
            if must_expand(n)
                && let Err(e) = values.try_expand(&s.value)
            {
                macro_error(&e)?;
            }
        }
        // Postfix stores the computed myhostname or mydomain among the
        // main.cf settings, so a `$` that the computation produced (from
        // `$$` in the other one) counts as a reference.
        for n in ["myhostname", "mydomain"] {
            if !settings.contains(n)
                && let Some(v) = values.default_of(n).filter(|v| v.contains('$'))
            {
                warn_undefined(&v, &settings.path, Scope::Main(&master_names));
            }
        }
        if let Some(value) = main_classes(settings) {
            for n in class_names(&value) {
                if !self.defined(n, settings, Scope::Main(&master_names)) {
                    warning!("{}: undefined parameter: {n}", settings.path);
                }
            }
        }
        Ok(used)
    }

    /// Records the names that [`Table::analyze`] found in use.
    pub fn set_used(&mut self, used: Used, settings: &Settings) {
        for s in settings.entries() {
            if self.class(&s.name).is_none()
                && (used.names.contains(&s.name) || used.by_master.contains(&s.name))
            {
                self.user.insert(s.name.clone());
            }
        }
        self.used.extend(used.names);
        self.used_locally.extend(used.locally);
    }

    /// Reports main.cf settings that nothing uses.
    pub fn warn_unused_main(&self, settings: &Settings) {
        for s in settings.entries() {
            if self.class(&s.name).is_none() {
                warning!(
                    "{}: unused parameter: {}={}",
                    settings.path,
                    s.name,
                    s.value
                );
            }
        }
    }

    /// Reports master.cf `-o` settings that nothing uses.
    pub fn warn_unused_master(&self, master: &MasterFile) {
        for (i, e) in master.entries.iter().enumerate() {
            for (n, v) in e.settings_sorted() {
                if self.class(n).is_none()
                    && !self.used.contains(n)
                    && !self.used_locally.contains(&(i, n.to_string()))
                {
                    warning!("{}: unused parameter: {}={}", master.path, n, v);
                }
            }
        }
    }
}

/// Where a reference is made.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Main(&'a HashSet<&'a str>),
    Entry(&'a Entry),
}

/// The names that main.cf and master.cf use.
#[derive(Debug, Clone, Default)]
pub struct Used {
    /// Names that main.cf uses, and the settings of database tables that
    /// values name as `type:name`.
    names: Vec<String>,
    /// Names that master.cf settings use, other than the entry's own: they
    /// make main.cf settings used, not other entries' settings.
    by_master: Vec<String>,
    /// `(entry, name)`: settings of a master.cf entry that the entry's
    /// other settings refer to.
    locally: HashSet<(usize, String)>,
}

/// The class names in an expanded `smtpd_restriction_classes` value.
fn class_names(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
}

/// The main.cf `smtpd_restriction_classes` value, expanded with main.cf
/// settings only (defaults are not visible there in Postfix).
fn main_classes(settings: &Settings) -> Option<String> {
    let raw = settings.get(RESTRICTION_CLASSES)?;
    let lookup = |n: &str| settings.get(n).map(str::to_string);
    Some(expand::evaluate(raw, &lookup).unwrap_or_default())
}

/// The classes that a master.cf `smtpd_restriction_classes` setting
/// lists: Postfix expands it with the entry's own settings only.
fn master_classes(e: &Entry, value: &str) -> Vec<String> {
    let lookup = |n: &str| e.dict.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let expanded = expand::evaluate(value, &lookup).unwrap_or_default();
    class_names(&expanded).map(str::to_string).collect()
}

/// Reports a value that cannot be expanded, and ends the program.
pub fn macro_error(e: &expand::MacroError) -> Result<()> {
    msg::warn(format_args!("{e}"));
    fatal!("macro processing error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_come_from_defaults() {
        let l = legacy_names();
        for n in [
            "virtual_maps",
            "smtp_per_record_deadline",
            "tlsproxy_client_policy",
            "fallback_relay",
        ] {
            assert!(l.contains(n), "{n}");
        }
        // forward_path and default_rbl_reply are never expanded.
        assert!(!l.contains("extension") && !l.contains("rbl_code"));
        assert_eq!(l.len(), 13);
    }

    #[test]
    fn classes_option() {
        assert_eq!(Classes::parse("all").unwrap(), Classes::ALL);
        let c = Classes::parse("builtin,user").unwrap();
        assert!(c.builtin && c.user && !c.service);
        assert_eq!(
            Classes::parse("bogus").unwrap_err().0,
            "unknown -C option value \"bogus\" in \"bogus\""
        );
    }
}
