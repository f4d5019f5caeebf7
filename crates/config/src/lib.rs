//! # NAME
//! config — main.cf, master.cf and the one parameter table
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut cfg = Config::load(&config::config_dir_from_env())?;
//! cfg.set_override("syslog_name", "postfix/submission");
//! let limit = cfg.int(&params::DEFAULT_PROCESS_LIMIT)?;
//! let banner = cfg.str(&params::SMTPD_BANNER)?;   // expanded
//! ```
//!
//! ## DESCRIPTION
//! A [`Config`] is one program's view of the configuration: the built-in
//! defaults of [`params`], the parameters that master.cf implies
//! ([`service_params`]), main.cf ([`main_cf`]) and the `-o` overrides of the
//! service, each later source hiding the earlier. Values are kept as
//! written and expanded on request ([`expand`]); typed getters check the
//! expanded value and name the file and line of a bad one.
//!
//! ## SEE ALSO
//! postconf(5), master(5), [`params`], [`main_cf`], [`master_cf`]

#![forbid(unsafe_code)]

pub mod computed;
pub mod expand;
pub mod instance;
pub mod main_cf;
pub mod master_cf;
pub mod params;
pub mod service_params;
pub mod value;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub use expand::ExpandError;
pub use main_cf::MainCf;
pub use master_cf::{Service, ServiceType};
use params::{BoolParam, IntParam, Kind, LongParam, StrParam, TimeParam};

/// Where Postfix keeps its configuration when nothing else is said.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/postfix";

/// The configuration directory: `MAIL_CONFIG` from the environment, else
/// [`DEFAULT_CONFIG_DIR`].
pub fn config_dir_from_env() -> PathBuf {
    match std::env::var_os("MAIL_CONFIG") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_CONFIG_DIR),
    }
}

/// A configuration problem, with the place it comes from where known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("open {}: {error}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// A line of main.cf or master.cf is not well-formed.
    #[error("{}, line {line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A value does not have its parameter's type.
    #[error("{where_}bad {what} configuration: {name} = {value}")]
    Value {
        /// `"/etc/postfix/main.cf, line 3: "` or empty.
        where_: String,
        what: &'static str,
        name: String,
        value: String,
    },
    /// A value could not be expanded.
    #[error("{where_}{error}")]
    Expand { where_: String, error: ExpandError },
}

/// Where a raw value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `-o` override (command line or master.cf).
    Override,
    /// main.cf, at this line.
    MainCf(usize),
    /// A default implied by a master.cf service.
    Service,
    /// A built-in (or computed) default.
    Default,
}

/// One program's view of the configuration.
#[derive(Debug)]
pub struct Config {
    dir: PathBuf,
    main: MainCf,
    warnings: Vec<main_cf::Warning>,
    derived: HashMap<String, &'static str>,
    overrides: HashMap<String, String>,
    process_name: String,
    computed: OnceLock<HashMap<&'static str, String>>,
}

impl Config {
    /// Reads `dir/main.cf`, which must exist.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let path = dir.join("main.cf");
        let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Io {
            path: path.clone(),
            error,
        })?;
        Config::from_text(dir, &text)
    }

    /// Reads `dir/main.cf`; a missing file counts as empty.
    pub fn load_optional(dir: &Path) -> Result<Config, ConfigError> {
        match Config::load(dir) {
            Err(ConfigError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::with_main(
                    dir,
                    MainCf::empty(&dir.join("main.cf")),
                    Vec::new(),
                ))
            }
            r => r,
        }
    }

    /// A configuration from main.cf text, for tools and tests.
    pub fn from_text(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        let (main, warnings) = main_cf::parse(text, &dir.join("main.cf"))?;
        Ok(Config::with_main(dir, main, warnings))
    }

    fn with_main(dir: &Path, main: MainCf, warnings: Vec<main_cf::Warning>) -> Config {
        let process_name = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_default();
        Config {
            dir: dir.to_path_buf(),
            main,
            warnings,
            derived: HashMap::new(),
            overrides: HashMap::new(),
            process_name,
            computed: OnceLock::new(),
        }
    }

    pub fn config_dir(&self) -> &Path {
        &self.dir
    }

    pub fn main_cf(&self) -> &MainCf {
        &self.main
    }

    /// Lines of main.cf that Postfix would skip with a warning.
    pub fn warnings(&self) -> &[main_cf::Warning] {
        &self.warnings
    }

    /// Makes the per-transport parameters of these master.cf services known.
    pub fn set_services(&mut self, services: &[Service]) {
        self.derived = service_params::derived(services).into_iter().collect();
        self.computed = OnceLock::new();
    }

    /// Sets a `-o name=value` override.
    pub fn set_override(&mut self, name: &str, value: &str) {
        self.overrides.insert(name.to_string(), value.to_string());
        self.computed = OnceLock::new();
    }

    /// Names the program for `$process_name` (default: the basename of argv[0]).
    pub fn set_process_name(&mut self, name: &str) {
        self.process_name = name.to_string();
    }

    /// Whether `name` is built in or implied by master.cf.
    pub fn is_known(&self, name: &str) -> bool {
        params::lookup(name).is_some() || self.derived.contains_key(name)
    }

    /// The per-transport parameters that master.cf implies, with defaults.
    pub fn derived_params(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.derived.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The unexpanded value and where it comes from.
    pub fn raw_with_source(&self, name: &str) -> Option<(String, Source)> {
        if let Some(v) = self.overrides.get(name) {
            return Some((v.clone(), Source::Override));
        }
        if let Some(e) = self.main.entry(name) {
            return Some((e.value.clone(), Source::MainCf(e.line)));
        }
        if let Some(d) = self.derived.get(name) {
            return Some((d.to_string(), Source::Service));
        }
        self.default_raw(name).map(|v| (v, Source::Default))
    }

    /// The unexpanded value, or `None` for an unknown, unset name.
    pub fn raw(&self, name: &str) -> Option<String> {
        self.raw_with_source(name).map(|(v, _)| v)
    }

    /// The default, computed where it depends on the host or on settings.
    pub fn default_raw(&self, name: &str) -> Option<String> {
        if let Some(d) = self.derived.get(name) {
            return Some(d.to_string());
        }
        let def = params::lookup(name)?;
        if def.kind != Kind::Computed {
            return Some(def.default.to_string());
        }
        self.computed().get(def.name).cloned()
    }

    fn computed(&self) -> &HashMap<&'static str, String> {
        self.computed.get_or_init(|| {
            let configured = |name: &str| {
                self.overrides
                    .get(name)
                    .or_else(|| self.main.entry(name).map(|e| &e.value))
                    .cloned()
            };
            let mut m = HashMap::new();
            // mydomain's default needs myhostname and the reverse, so each
            // uses only the other's configured value.
            let mydomain_set = configured("mydomain").map(|v| self.expand_quiet(&v));
            let myhostname = match configured("myhostname") {
                Some(v) => self.expand_quiet(&v),
                None => computed::myhostname(mydomain_set.as_deref()),
            };
            let plain = |name: &str| {
                let raw = configured(name)
                    .or_else(|| params::lookup(name).map(|d| d.default.to_string()))
                    .unwrap_or_default();
                self.expand_quiet(&raw)
            };
            m.insert(
                "mynetworks",
                computed::mynetworks_for(
                    &plain("mynetworks_style"),
                    &plain("inet_protocols"),
                    &plain("inet_interfaces"),
                ),
            );
            m.insert("mydomain", computed::mydomain(&myhostname));
            m.insert("myhostname", computed::myhostname(mydomain_set.as_deref()));
            m.insert("process_id", std::process::id().to_string());
            m.insert("process_name", self.process_name.clone());
            m.insert("config_directory", self.dir.display().to_string());
            m
        })
    }

    /// Expansion for computed defaults, where an error yields the text as
    /// is. Only configured values are visible, as when Postfix computes
    /// these defaults at start-up: `myhostname = h.${compatibility_level:x}`
    /// gives `mydomain = x` unless main.cf sets compatibility_level.
    fn expand_quiet(&self, text: &str) -> String {
        let configured = |name: &str| {
            self.overrides
                .get(name)
                .or_else(|| self.main.entry(name).map(|e| &e.value))
                .cloned()
        };
        expand::expand(text, &configured).unwrap_or_else(|_| text.to_string())
    }

    fn where_(&self, name: &str) -> String {
        match self.raw_with_source(name) {
            Some((_, Source::MainCf(line))) => {
                format!("{}, line {}: ", self.main.path.display(), line)
            }
            Some((_, Source::Override)) => format!("-o {name}: "),
            _ => String::new(),
        }
    }

    /// The expanded value of any parameter; unknown and unset is empty.
    pub fn get(&self, name: &str) -> Result<String, ConfigError> {
        let Some(raw) = self.raw(name) else {
            return Ok(String::new());
        };
        expand::expand_param(name, &raw, &|n| self.raw(n)).map_err(|error| ConfigError::Expand {
            where_: self.where_(name),
            error,
        })
    }

    /// Expands arbitrary text with this configuration's values.
    pub fn expand(&self, text: &str) -> Result<String, ExpandError> {
        expand::expand(text, &|n| self.raw(n))
    }

    fn bad(&self, name: &str, what: &'static str, value: String) -> ConfigError {
        ConfigError::Value {
            where_: self.where_(name),
            what,
            name: name.to_string(),
            value,
        }
    }

    pub fn str(&self, p: &StrParam) -> Result<String, ConfigError> {
        self.get(p.name())
    }

    /// A list parameter, split on whitespace and commas.
    pub fn list(&self, p: &StrParam) -> Result<Vec<String>, ConfigError> {
        Ok(value::list(&self.get(p.name())?))
    }

    pub fn bool(&self, p: &BoolParam) -> Result<bool, ConfigError> {
        let v = self.get(p.name())?;
        value::parse_bool(&v).ok_or_else(|| self.bad(p.name(), "boolean", v))
    }

    pub fn int(&self, p: &IntParam) -> Result<i64, ConfigError> {
        self.int_named(p.name())
    }

    pub fn long(&self, p: &LongParam) -> Result<i64, ConfigError> {
        self.int_named(p.name())
    }

    /// An integer parameter by name (per-transport parameters have no
    /// constant).
    pub fn int_named(&self, name: &str) -> Result<i64, ConfigError> {
        let v = self.get(name)?;
        value::parse_int(&v).ok_or_else(|| self.bad(name, "numerical", v))
    }

    pub fn time(&self, p: &TimeParam) -> Result<Duration, ConfigError> {
        let Kind::Time(unit) = p.0.kind else {
            unreachable!("invariant: TimeParam has Kind::Time")
        };
        self.time_named(p.name(), unit)
    }

    /// A time parameter by name, with its default unit.
    pub fn time_named(&self, name: &str, unit: char) -> Result<Duration, ConfigError> {
        let v = self.get(name)?;
        value::parse_time(&v, unit)
            .map(Duration::from_secs)
            .ok_or_else(|| self.bad(name, "time", v))
    }

    /// Checks only the `-o` overrides (those main.cf does not explain).
    pub fn check_overrides(&self) -> Vec<ConfigError> {
        let mut names: Vec<&str> = self
            .overrides
            .keys()
            .map(String::as_str)
            .filter(|n| *n != "service_name")
            .collect();
        names.sort_unstable();
        names
            .into_iter()
            .filter_map(|n| self.check_one(n).err())
            .collect()
    }

    /// Checks every parameter that main.cf or an override sets: it must
    /// expand, and a typed one must have a value of its type. Unknown names
    /// are not errors (postconf(1) warns about them).
    pub fn check(&self) -> Vec<ConfigError> {
        let mut names: Vec<&str> = self
            .main
            .entries()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let mut extra: Vec<&str> = self
            .overrides
            .keys()
            .map(String::as_str)
            .filter(|n| self.main.entry(n).is_none())
            .collect();
        extra.sort_unstable();
        names.extend(extra);
        names
            .into_iter()
            .filter_map(|n| self.check_one(n).err())
            .collect()
    }

    /// Checks one parameter's expanded value against its type.
    fn check_one(&self, name: &str) -> Result<(), ConfigError> {
        let kind = match params::lookup(name) {
            Some(d) => d.kind,
            None if self.derived.contains_key(name) => service_params::kind(name),
            None => Kind::Str,
        };
        match kind {
            Kind::Bool => {
                let v = self.get(name)?;
                value::parse_bool(&v)
                    .map(drop)
                    .ok_or_else(|| self.bad(name, "boolean", v))
            }
            Kind::Int | Kind::Long => self.int_named(name).map(drop),
            Kind::Time(u) => self.time_named(name, u).map(drop),
            Kind::Str | Kind::Computed => self.get(name).map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::from_text(Path::new("/etc/postfix"), text).unwrap()
    }

    #[test]
    fn precedence_and_expansion() {
        let mut c =
            cfg("myhostname = mx.example.com\nsmtpd_banner = $myhostname ESMTP\nmax_use = 7\n");
        assert_eq!(
            c.str(&params::SMTPD_BANNER).unwrap(),
            "mx.example.com ESMTP"
        );
        assert_eq!(c.int(&params::MAX_USE).unwrap(), 7);
        c.set_override("max_use", "9");
        assert_eq!(c.int(&params::MAX_USE).unwrap(), 9);
        assert_eq!(c.get("mydomain").unwrap(), "example.com");
        assert_eq!(c.time(&params::MAX_IDLE).unwrap(), Duration::from_secs(100));
        assert!(c.bool(&params::SMTPUTF8_ENABLE).is_ok());
    }

    #[test]
    fn computed_defaults_see_only_configured_values() {
        let c = cfg("myhostname = h.${compatibility_level:x}\n");
        assert_eq!(c.get("mydomain").unwrap(), "x");
        let c = cfg("myhostname = h.${compatibility_level:x}\ncompatibility_level = 2\n");
        assert_eq!(c.get("mydomain").unwrap(), "");
        let c = cfg("compatibility_level = 3.6\n");
        assert_eq!(c.get("mynetworks_style").unwrap(), "host");
    }

    #[test]
    fn compatibility_level_defaults() {
        let c = cfg("compatibility_level = 3.6\n");
        assert_eq!(c.get("mynetworks_style").unwrap(), "host");
        assert_eq!(
            c.get("smtpd_relay_restrictions").unwrap(),
            "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"
        );
        let c = cfg("");
        assert_eq!(c.get("mynetworks_style").unwrap(), "subnet");
        assert_eq!(c.get("smtp_tls_fingerprint_digest").unwrap(), "md5");
    }

    #[test]
    fn bad_values_name_file_and_line() {
        let c = cfg(
            "# x\nmax_use = abc\nmax_idle = 5x\ndisable_vrfy_command = maybe\nfoo = $bar\nbar = $foo\nunknown = 1\n",
        );
        let errs: Vec<String> = c.check().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "/etc/postfix/main.cf, line 2: bad numerical configuration: max_use = abc",
                "/etc/postfix/main.cf, line 3: bad time configuration: max_idle = 5x",
                "/etc/postfix/main.cf, line 4: bad boolean configuration: disable_vrfy_command = maybe",
                "/etc/postfix/main.cf, line 5: parameter foo -> bar -> foo: recursive parameter expansion",
                "/etc/postfix/main.cf, line 6: parameter bar -> foo -> bar: recursive parameter expansion",
            ]
        );
    }

    #[test]
    fn derived_parameters() {
        let mut c = cfg("relay_destination_concurrency_limit = 2\n");
        let services = master_cf::parse("relay unix - - n - - smtp\n", Path::new("m")).unwrap();
        assert!(!c.is_known("relay_destination_concurrency_limit"));
        c.set_services(&services);
        assert!(c.is_known("relay_destination_concurrency_limit"));
        assert_eq!(
            c.int_named("relay_destination_concurrency_limit").unwrap(),
            2
        );
        assert_eq!(
            c.int_named("relay_destination_recipient_limit").unwrap(),
            50
        );
        assert_eq!(
            c.raw("relay_destination_recipient_limit").unwrap(),
            "$default_destination_recipient_limit"
        );
    }
}
