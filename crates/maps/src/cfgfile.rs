//! # NAME
//! cfgfile — the `name = value` files of SQL, socketmap-less database tables
//!
//! ## DESCRIPTION
//! `mysql:/etc/postfix/virtual.cf` and its kin name a file in main.cf
//! syntax (comments, continuation lines, `name = value`). Values may use
//! `$name` of other settings in the same file. Unknown names are kept and
//! ignored, as Postfix does.

use std::path::Path;

use crate::MapError;
use crate::db::strerror;

pub struct CfgFile {
    pub path: String,
    main: config::MainCf,
}

impl CfgFile {
    pub fn read(spec: &str, path: &str) -> Result<CfgFile, MapError> {
        if !path.starts_with('/') && !path.starts_with('.') && !Path::new(path).exists() {
            return Err(MapError::config(
                spec,
                format!(
                    "{spec}: the table must name a configuration file (main.cf-style settings in main.cf are not supported)"
                ),
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| MapError::config(spec, format!("open {path}: {}", strerror(&e))))?;
        let (main, _warnings) = config::main_cf::parse(&text, Path::new(path))
            .map_err(|e| MapError::config(spec, e.to_string()))?;
        Ok(CfgFile {
            path: path.to_string(),
            main,
        })
    }

    /// A setting, `$name` expanded from the same file; `None` if unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let raw = self.main.get(name)?;
        let lookup = |n: &str| self.main.get(n).map(str::to_string);
        Some(config::expand::expand(raw, &lookup).unwrap_or_else(|_| raw.to_string()))
    }

    pub fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_string())
    }

    /// An integer setting; a bad one is a configuration error.
    pub fn int(&self, spec: &str, name: &str, default: i64) -> Result<i64, MapError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                MapError::config(
                    spec,
                    format!("{}: bad numerical configuration: {name} = {v}", self.path),
                )
            }),
        }
    }
}
