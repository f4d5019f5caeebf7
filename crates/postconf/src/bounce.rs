//! # NAME
//! bounce — `postconf -b` and `-t`: the texts of notices
//!
//! ## SYNOPSIS
//! ```ignore
//! bounce::show(&dir, opts.args.first().map(String::as_str), expand, &mut out)?;
//! ```
//!
//! ## DESCRIPTION
//! Prints the four bounce(5) templates — failure, delay, success,
//! verify — from the file named on the command line, else from
//! `bounce_template_file`, else the built-in ones (an empty name means
//! the built-in ones too): `-t` as they are written (`failure_template =
//! <<EOF ...`), `-b` with `$name` expanded as bounce(8) would
//! (`expanded_failure_text = <<EOF ...`), separated by empty lines.
//!
//! ## SEE ALSO
//! bounce(5), [`mail::bounce_template`]

use config::params;
use mail::bounce_template::{Kind, Templates};

use crate::msg::{Result, fatal};

pub fn show(dir: &str, file: Option<&str>, expand: bool, out: &mut Vec<u8>) -> Result<()> {
    let cfg = match config::Config::load_optional(std::path::Path::new(dir)) {
        Ok(c) => c,
        Err(e) => return fatal!("{e}"),
    };
    let file = match file {
        Some(f) => f.to_string(),
        None => match cfg.str(&params::BOUNCE_TEMPLATE_FILE) {
            Ok(f) => f,
            Err(e) => return fatal!("{e}"),
        },
    };
    let templates = if file.is_empty() {
        Templates::default()
    } else {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                let why = e.to_string();
                let why = why.split(" (os error").next().unwrap_or(&why);
                return fatal!("open {file}: {why}");
            }
        };
        match Templates::parse(&text, &mut |w| {
            crate::msg::warn(format_args!("{file}: {w}"))
        }) {
            Ok(t) => t,
            Err(e) => return fatal!("{file}, {e}"),
        }
    };
    let value = |name: &str| -> Option<String> {
        (params::lookup(name).is_some() || cfg.main_cf().get(name).is_some())
            .then(|| cfg.get(name).ok())
            .flatten()
    };
    let seconds = |name: &str| -> Option<u64> {
        match params::lookup(name)?.kind {
            params::Kind::Time(unit) => cfg.time_named(name, unit).ok().map(|d| d.as_secs()),
            _ => None,
        }
    };
    let mut blocks = Vec::new();
    for kind in Kind::ALL {
        let t = templates.get(kind);
        if expand {
            let text = match t.expand(&value, &seconds, &mut |w| {
                crate::msg::warn(format_args!("[built-in]: {w}"))
            }) {
                Ok(text) => text,
                Err(e) => return fatal!("{e}"),
            };
            blocks.push(t.render_expanded(&text));
        } else {
            blocks.push(t.render());
        }
    }
    out.extend_from_slice(blocks.join("\n").as_bytes());
    Ok(())
}
