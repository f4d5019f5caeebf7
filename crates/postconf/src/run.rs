//! # NAME
//! run — the steps of each postconf(1) command
//!
//! ## SYNOPSIS
//! ```ignore
//! run::run(&opts, &mut out)?;
//! ```
//!
//! ## DESCRIPTION
//! Chooses the configuration directory (`-c`, else `$MAIL_CONFIG`, else
//! /etc/postfix) and does what the options ask, reading only what that
//! needs, as Postfix does:
//!
//! - `-a`, `-A`, `-l` read nothing; `-m`, `-b` and `-t` read main.cf and
//!   check it first ([`crate::validate`]).
//! - Edits read and rewrite one file and check nothing else.
//! - `-d` reads master.cf only (for the per-service names).
//! - Otherwise main.cf and master.cf are read, the names in use are found
//!   ([`crate::names`]), the output is made, and the settings that nothing
//!   uses are reported: those of main.cf when main.cf parameters were
//!   shown, those of master.cf always.
//!
//! ## SEE ALSO
//! postconf(1)

use crate::args::{Mode, Options};
use crate::master::{self, MasterFile, Show};
use crate::msg::{Result, fatal};
use crate::names::{self, Table};
use crate::print::{self, Values};
use crate::settings::Settings;
use crate::{edit, master_edit, plugins, validate};

/// The configuration directory and whether it was named explicitly.
fn config_dir(opts: &Options) -> (String, bool) {
    if let Some(d) = &opts.config_dir {
        return (d.clone(), true);
    }
    match std::env::var("MAIL_CONFIG") {
        Ok(d) if !d.is_empty() => (d, true),
        _ => (config::DEFAULT_CONFIG_DIR.to_string(), false),
    }
}

/// Runs the command; the output goes to `out`.
pub fn run(opts: &Options, out: &mut Vec<u8>) -> Result<()> {
    let (dir, explicit) = config_dir(opts);
    match opts.mode {
        Mode::SaslServer | Mode::SaslClient | Mode::Locks => {
            out.extend_from_slice(plugins::list(opts.mode).as_bytes());
            return Ok(());
        }
        Mode::Bounce { expand } => {
            // Like -m, the start-up checks of main.cf come first.
            let settings = Settings::read(&dir, explicit)?;
            let table = Table::new(&MasterFile::default());
            validate::check(&Values::new(&settings, &table, &dir, false))?;
            return crate::bounce::show(&dir, opts.args.first().map(String::as_str), expand, out);
        }
        Mode::Tls => return fatal!("-T is not supported yet"),
        _ => {}
    }
    if let Some(how) = opts.edit {
        return match opts.mode {
            Mode::Main => edit::edit_main(&dir, how, &opts.args),
            _ => master_edit::edit(&dir, opts.mode, how, &opts.args),
        };
    }
    if opts.mode == Mode::Maps {
        let settings = Settings::read(&dir, explicit)?;
        let table = Table::new(&MasterFile::default());
        validate::check(&Values::new(&settings, &table, &dir, false))?;
        out.extend_from_slice(plugins::list(opts.mode).as_bytes());
        return Ok(());
    }
    let mut settings = if opts.defaults {
        Settings::empty(&dir)
    } else {
        let mut s = Settings::read(&dir, explicit)?;
        s.apply_overrides(&opts.overrides);
        s
    };
    let master = MasterFile::read(&dir, opts.mode != Mode::Main)?;
    let mut table = Table::new(&master);
    if !opts.defaults {
        let used = {
            let values = Values::new(&settings, &table, &dir, false);
            table.analyze(&settings, &master, &values)?
        };
        table.set_used(used, &settings);
        // Read-only settings were reported and do not count.
        for n in names::READ_ONLY {
            settings.remove(n);
        }
    }
    let values = Values::new(&settings, &table, &dir, opts.defaults);
    let expand = |e: &master::Entry, text: &str| -> Result<String> {
        if opts.expand {
            values.expand_in(e, text)
        } else {
            Ok(text.to_string())
        }
    };
    let how = Show {
        fold: opts.fold,
        no_names: opts.no_names,
        no_values: opts.no_values,
    };
    match opts.mode {
        Mode::Master => master::show_entries(&master, &opts.args, opts.fold, &expand, out)?,
        Mode::Fields => master::show_fields(&master, &opts.args, how, &expand, out)?,
        Mode::Params => master::show_params(&master, &opts.args, how, &expand, out)?,
        _ => {
            print::show(opts, &values, out)?;
            if !opts.defaults {
                table.warn_unused_main(&settings);
            }
        }
    }
    if !opts.defaults {
        table.warn_unused_master(&master);
    }
    Ok(())
}
