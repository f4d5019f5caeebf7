//! # NAME
//! print — show main.cf parameters (`postconf`, `-d`, `-n`, `-h`, `-H`, `-x`, `-f`)
//!
//! ## SYNOPSIS
//! ```ignore
//! let values = Values::new(&settings, &table, &dir, defaults_only);
//! print::show(&opts, &values, &mut out)?;
//! ```
//!
//! ## DESCRIPTION
//! Without names, every known parameter of the selected classes is shown
//! in name order, as `name = value`: the main.cf (or `-o`) value, else the
//! default. `-d` shows defaults only, `-n` only what main.cf sets. With
//! names, those are shown in the order given; a name postconf does not
//! know is reported as `NAME: unknown parameter`, and with `-n` a name
//! that main.cf does not set is left out.
//!
//! `-h` shows the value alone and `-H` the name alone; `-x` expands
//! `$name` in the values; `-f` folds long lines. Values are shown with
//! their whitespace normalized (see [`crate::fold`]).
//!
//! Defaults that depend on the host (`myhostname`, `mydomain`,
//! `mynetworks`) or on the process come from the config crate;
//! `config_directory` defaults to the compiled-in directory.
//!
//! ## SEE ALSO
//! postconf(1), [`crate::names`], [`crate::fold`]

use std::path::Path;

use crate::args::Options;
use crate::expand::{self, MacroError};
use crate::fold;
use crate::master::{Entry, command_name};
use crate::msg::{Result, warning};
use crate::names::{RAW, Table, macro_error};
use crate::settings::Settings;

/// Values and defaults of the known parameters.
pub struct Values<'a> {
    pub settings: &'a Settings,
    pub table: &'a Table,
    /// For the defaults that are computed (host names, networks).
    computed: config::Config,
    /// Whether main.cf is ignored (`-d`).
    defaults_only: bool,
}

impl<'a> Values<'a> {
    pub fn new(settings: &'a Settings, table: &'a Table, dir: &str, defaults_only: bool) -> Self {
        let mut computed = match config::Config::from_text(Path::new(dir), "") {
            Ok(c) => c,
            Err(e) => unreachable!("invariant: empty main.cf text parses: {e}"),
        };
        if !defaults_only {
            for s in settings.entries() {
                computed.set_override(&s.name, &s.value);
            }
        }
        Values {
            settings,
            table,
            computed,
            defaults_only,
        }
    }

    /// The default of a known parameter; `None` for names without one.
    pub fn default_of(&self, name: &str) -> Option<String> {
        if let Some(d) = config::params::lookup(name) {
            if name == config::params::CONFIG_DIRECTORY.name() {
                return Some(config::DEFAULT_CONFIG_DIR.to_string());
            }
            if d.kind == config::params::Kind::Computed {
                return self.computed.default_raw(name);
            }
            return Some(d.default.to_string());
        }
        self.table.service_default(name).map(str::to_string)
    }

    /// The raw value that a parameter has for this command.
    pub fn raw(&self, name: &str) -> Option<String> {
        if !self.defaults_only
            && let Some(v) = self.settings.get(name)
        {
            return Some(v.to_string());
        }
        self.default_of(name)
    }

    /// The expansion of a master.cf setting: `$service_name`,
    /// `$process_name` and the entry's own settings come first.
    pub fn expand_in(&self, e: &Entry, text: &str) -> Result<String> {
        match self.try_expand_in(e, text) {
            Ok(v) => Ok(v),
            Err(e) => macro_error(&e).map(|()| String::new()),
        }
    }

    /// Like [`Values::expand_in`], returning the error.
    pub fn try_expand_in(&self, e: &Entry, text: &str) -> std::result::Result<String, MacroError> {
        let lookup = |n: &str| -> Option<String> {
            match n {
                "service_name" => Some(e.service().to_string()),
                "process_name" => Some(command_name(e).to_string()),
                _ => e
                    .dict
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .or_else(|| self.raw(n)),
            }
        };
        expand::evaluate(text, &lookup)
    }

    /// The fully expanded value of `text`.
    pub fn expand(&self, text: &str) -> Result<String> {
        match self.try_expand(text) {
            Ok(v) => Ok(v),
            Err(e) => macro_error(&e).map(|()| String::new()),
        }
    }

    /// Like [`Values::expand`], returning the error.
    pub fn try_expand(&self, text: &str) -> std::result::Result<String, MacroError> {
        expand::evaluate(text, &|n| self.raw(n))
    }
}

/// Shows the parameters that the options select.
pub fn show(opts: &Options, values: &Values<'_>, out: &mut Vec<u8>) -> Result<()> {
    let table = values.table;
    let settings = values.settings;
    let names: Vec<String> = if opts.args.is_empty() {
        if opts.non_default {
            let mut v: Vec<String> = settings
                .entries()
                .iter()
                .map(|s| s.name.clone())
                .filter(|n| table.selected(n, opts.classes))
                .collect();
            v.sort();
            v
        } else {
            let listed = if opts.defaults {
                &Settings::default()
            } else {
                settings
            };
            table.listed(listed, opts.classes)
        }
    } else {
        let mut v = Vec::new();
        for n in &opts.args {
            // -C limits the listing, not the names asked for.
            if table.class(n).is_none() {
                warning!("{n}: unknown parameter");
            } else if !opts.non_default || settings.contains(n) {
                v.push(n.clone());
            }
        }
        v
    };
    for name in &names {
        let raw = values.raw(name);
        if raw.is_none() && opts.args.is_empty() {
            continue;
        }
        let raw = raw.unwrap_or_default();
        let value = if opts.expand && !RAW.contains(&name.as_str()) {
            values.expand(&raw)?
        } else {
            raw
        };
        let line = if opts.no_values {
            fold::name_line(name)
        } else if opts.no_names {
            fold::param_line(None, &value, opts.fold)
        } else {
            fold::param_line(Some(name), &value, opts.fold)
        };
        out.extend_from_slice(line.as_bytes());
    }
    Ok(())
}
