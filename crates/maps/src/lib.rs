//! # NAME
//! maps — `type:name` lookup tables
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut t = maps::open("hash:/etc/postfix/virtual", &cfg, OpenFlags::default())?;
//! match t.lookup("user@example.com")? { Some(v) => .., None => .. }
//! let mut aliases = maps::MapList::open(&cfg.str(&params::ALIAS_MAPS)?, &cfg, flags)?;
//! let hit = maps::addr::find_address(&mut list, "user+ext@example.com", &opts)?;
//! let hit = maps::domain::find_domain(&mut list, "mail.example.com", true)?;
//! ```
//!
//! ## DESCRIPTION
//! Every table a Postfix administrator names in main.cf as `type:name`,
//! behind one [`Dict`] trait: the indexed files that postmap(1) and
//! postalias(1) build (`hash`, `btree`, `lmdb`, `cdb`: one SQLite file of
//! our own format under Postfix's file names), the tables read from a
//! source file at open (`texthash`, `regexp`, `pcre`, `cidr`), tables given
//! in the name (`inline`, `static`, `fail`), the system's (`environ`,
//! `unix:passwd.byname`, `nis`), tables of tables (`unionmap`, `pipemap`,
//! `randmap`), SQL servers (`sqlite`, `mysql`, `pgsql`) and network
//! protocols (`proxy`, `socketmap`, `tcp`).
//!
//! A lookup answers found, not found, or an error. A [`MapError::Temp`]
//! means the table could not answer now (a database server is down): the
//! caller must defer the mail, never bounce it. A [`MapError::Config`]
//! means the table is misconfigured; daemons treat it the same way (the
//! mail waits while the administrator fixes the table).
//!
//! Keys of fixed-string tables are folded to lower case unless
//! [`OpenFlags::fold`] is off (postmap `-f`); pattern tables decide case
//! with their own flags.
//!
//! ## SEE ALSO
//! postmap(1), postalias(1), DATABASE_README, [`addr`], [`domain`],
//! [`source`], [`alias`], [`build`]

#![forbid(unsafe_code)]

pub mod addr;
pub mod alias;
pub mod build;
mod cfgfile;
mod cidr;
pub mod cmd;
mod db;
pub mod domain;
mod fixed;
mod inline;
pub mod matchlist;
pub mod msg;
mod pattern;
pub mod proxy;
mod socketmap;
pub mod source;
mod sql;
mod surrogate;
mod tcp;
mod union;
mod unix;

use std::path::{Path, PathBuf};

pub use db::IndexedDict;
pub use surrogate::Surrogate;

/// What `postconf -m` prints: every type built in, sorted.
pub const TABLE_TYPES: &[&str] = &[
    "btree",
    "cdb",
    "cidr",
    "environ",
    "fail",
    "hash",
    "inline",
    "internal",
    "lmdb",
    "mysql",
    "nis",
    "pcre",
    "pgsql",
    "pipemap",
    "proxy",
    "randmap",
    "regexp",
    "socketmap",
    "sqlite",
    "static",
    "tcp",
    "texthash",
    "unionmap",
    "unix",
];

/// Why a table could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum MapError {
    /// The table could not answer now (a server is down, a file could not
    /// be read): defer, never bounce.
    #[error("{reason}")]
    Temp { map: String, reason: String },
    /// The table is misconfigured (unknown type, missing file, bad
    /// configuration file): the administrator must act.
    #[error("{reason}")]
    Config { map: String, reason: String },
}

impl MapError {
    pub fn temp(map: &str, reason: impl Into<String>) -> MapError {
        MapError::Temp {
            map: map.to_string(),
            reason: reason.into(),
        }
    }

    pub fn config(map: &str, reason: impl Into<String>) -> MapError {
        MapError::Config {
            map: map.to_string(),
            reason: reason.into(),
        }
    }

    /// The table the error is about (`hash:/etc/postfix/virtual`).
    pub fn map(&self) -> &str {
        match self {
            MapError::Temp { map, .. } | MapError::Config { map, .. } => map,
        }
    }

    /// The text without the table name.
    pub fn reason(&self) -> &str {
        match self {
            MapError::Temp { reason, .. } | MapError::Config { reason, .. } => reason,
        }
    }
}

/// How the NUL byte Postfix appends to keys of some files is treated
/// (postmap `-n`/`-N`); our files record the choice made at build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NulMode {
    /// Accept a table built either way (Postfix's default).
    #[default]
    Any,
    /// `-n`: keys and values end in a NUL.
    With,
    /// `-N`: they do not.
    Without,
}

/// What to do with a second entry for a key while building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dup {
    /// Keep the first, warn (postmap's default).
    #[default]
    Warn,
    /// Keep the first silently.
    Ignore,
    /// Keep the last (postmap `-r`).
    Replace,
}

/// Options for [`open`] (Postfix's `DICT_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags {
    /// Fold fixed-string keys to lower case (off with postmap `-f`).
    pub fold: bool,
    /// Open for update (postmap `-i`, `-d`; proxywrite).
    pub write: bool,
    /// NUL handling of indexed files.
    pub nul: NulMode,
    /// Duplicate keys while building.
    pub dup: Dup,
    /// A table that cannot be opened becomes one whose every lookup fails
    /// with [`MapError::Config`] (daemons, unless
    /// `daemon_table_open_error_is_fatal`), as Postfix's surrogate does.
    pub surrogate: bool,
    /// `socketmap`/`proxy`/`tcp` clients may not be used (inside proxymap
    /// for `proxy:` itself).
    pub no_proxy: bool,
    /// Fold as Unicode and require UTF-8 (`smtputf8_enable`); [`open`]
    /// sets it from the configuration.
    pub utf8: bool,
}

impl Default for OpenFlags {
    fn default() -> OpenFlags {
        OpenFlags {
            fold: true,
            write: false,
            nul: NulMode::Any,
            dup: Dup::Warn,
            surrogate: false,
            no_proxy: false,
            utf8: false,
        }
    }
}

impl OpenFlags {
    /// The flags a daemon uses for its `*_maps`.
    pub fn daemon() -> OpenFlags {
        OpenFlags {
            surrogate: true,
            ..OpenFlags::default()
        }
    }

    /// The flags a daemon uses, with a surrogate for a table that cannot
    /// be opened unless `daemon_table_open_error_is_fatal = yes`.
    pub fn for_daemon(cfg: &config::Config) -> OpenFlags {
        OpenFlags {
            surrogate: !cfg
                .bool(&config::params::DAEMON_TABLE_OPEN_ERROR_IS_FATAL)
                .unwrap_or(false),
            ..OpenFlags::default()
        }
    }

    /// Packs the flags for the proxymap protocol.
    pub fn bits(&self) -> u32 {
        (self.fold as u32)
            | (self.write as u32) << 1
            | match self.nul {
                NulMode::Any => 0,
                NulMode::With => 1 << 2,
                NulMode::Without => 2 << 2,
            }
            | match self.dup {
                Dup::Warn => 0,
                Dup::Ignore => 1 << 4,
                Dup::Replace => 2 << 4,
            }
    }

    /// Unpacks [`OpenFlags::bits`].
    pub fn from_bits(b: u32) -> OpenFlags {
        OpenFlags {
            fold: b & 1 != 0,
            write: b & 2 != 0,
            nul: match (b >> 2) & 3 {
                1 => NulMode::With,
                2 => NulMode::Without,
                _ => NulMode::Any,
            },
            dup: match (b >> 4) & 3 {
                1 => Dup::Ignore,
                2 => Dup::Replace,
                _ => Dup::Warn,
            },
            ..OpenFlags::default()
        }
    }
}

/// One open table.
pub trait Dict: Send {
    /// The value for `key`; `None` when the table does not have it.
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError>;
    /// `type:name`, as configured.
    fn name(&self) -> &str;
    /// regexp, pcre, cidr...: address lookups use the full key only.
    fn is_pattern(&self) -> bool {
        false
    }
    /// The file behind the table was rebuilt since it was opened: a daemon
    /// should finish its work and restart.
    fn changed(&self) -> bool {
        false
    }
    /// Adds or replaces an entry (postmap `-i`, proxywrite).
    fn update(&mut self, _key: &str, _value: &str) -> Result<(), MapError> {
        Err(unsupported(self.name(), "update"))
    }
    /// Removes an entry; false when there was none.
    fn delete(&mut self, _key: &str) -> Result<bool, MapError> {
        Err(unsupported(self.name(), "delete"))
    }
    /// Every entry, for postmap `-s`.
    fn sequence(&mut self) -> Result<Vec<(String, String)>, MapError> {
        Err(unsupported(self.name(), "sequence"))
    }
}

pub(crate) fn unsupported(name: &str, op: &str) -> MapError {
    MapError::config(
        name,
        format!("table {name}: {op} operation is not supported"),
    )
}

/// Splits `type:name`; a name without a type has `default_type`.
pub fn split_spec<'a>(spec: &'a str, default_type: &'a str) -> (&'a str, &'a str) {
    match spec.split_once(':') {
        Some((t, n)) if !t.is_empty() && !t.contains('/') && !t.contains('{') => (t, n),
        _ => (default_type, spec),
    }
}

/// Opens a table `type:name`.
pub fn open(spec: &str, cfg: &config::Config, flags: OpenFlags) -> Result<Box<dyn Dict>, MapError> {
    let flags = OpenFlags {
        utf8: utf8_enabled(cfg),
        ..flags
    };
    match open_strict(spec, cfg, flags) {
        Err(e) if flags.surrogate => {
            msg::warn(&e.to_string());
            Ok(Box::new(Surrogate::new(spec, e)))
        }
        r => r,
    }
}

fn open_strict(
    spec: &str,
    cfg: &config::Config,
    flags: OpenFlags,
) -> Result<Box<dyn Dict>, MapError> {
    let Some((kind, name)) = spec.split_once(':') else {
        return Err(MapError::config(
            spec,
            format!("open dictionary: expecting \"type:name\" form instead of \"{spec}\""),
        ));
    };
    let ctx = OpenCtx {
        spec,
        kind,
        name,
        cfg,
        flags,
    };
    match kind {
        "hash" | "btree" | "lmdb" | "cdb" => Ok(Box::new(db::IndexedDict::open(&ctx)?)),
        "texthash" => inline::open_texthash(&ctx),
        "inline" => inline::open_inline(&ctx),
        "internal" => Ok(Box::new(inline::Internal::new(spec, flags))),
        "static" => fixed::open_static(&ctx),
        "fail" => Ok(Box::new(fixed::Fail::new(spec))),
        "environ" => Ok(Box::new(fixed::Environ::new(spec, flags))),
        "nis" => fixed::open_nis(&ctx),
        "regexp" => pattern::open_regexp(&ctx),
        "pcre" => pattern::open_pcre(&ctx),
        "cidr" => cidr::open(&ctx),
        "unix" => unix::open(&ctx),
        "unionmap" | "pipemap" | "randmap" => union::open(&ctx),
        "sqlite" | "mysql" | "pgsql" => sql::open(&ctx),
        "proxy" => {
            if flags.no_proxy {
                return Err(MapError::config(
                    spec,
                    format!("{spec}: proxy map is not allowed here"),
                ));
            }
            proxy::open(&ctx)
        }
        "socketmap" => socketmap::open(&ctx),
        "tcp" => tcp::open(&ctx),
        _ => Err(MapError::config(
            spec,
            format!("unsupported dictionary type: {kind}"),
        )),
    }
}

/// What every opener gets.
pub(crate) struct OpenCtx<'a> {
    pub spec: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub cfg: &'a config::Config,
    pub flags: OpenFlags,
}

/// The file identity used to notice a rebuilt table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    mtime: i64,
    mtime_nsec: i64,
    size: u64,
}

impl FileStamp {
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            size: m.size(),
        })
    }

    /// Whether the file at `path` is no longer the one stamped.
    pub fn changed(stamp: &Option<FileStamp>, path: &Path) -> bool {
        match stamp {
            Some(s) => FileStamp::of(path) != Some(*s),
            None => false,
        }
    }
}

/// A watched source file.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    pub path: PathBuf,
    pub stamp: Option<FileStamp>,
}

impl Watched {
    pub fn new(path: &Path) -> Watched {
        Watched {
            path: path.to_path_buf(),
            stamp: FileStamp::of(path),
        }
    }

    pub fn changed(&self) -> bool {
        FileStamp::changed(&self.stamp, &self.path)
    }
}

/// How keys are folded to lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Not at all (postmap `-f`).
    None,
    /// ASCII letters only (`smtputf8_enable = no`).
    Ascii,
    /// Unicode lower case (`smtputf8_enable = yes`).
    Unicode,
}

impl Fold {
    pub fn from_flags(f: OpenFlags) -> Fold {
        match (f.fold, f.utf8) {
            (false, _) => Fold::None,
            (true, false) => Fold::Ascii,
            (true, true) => Fold::Unicode,
        }
    }

    /// The key as the table stores it.
    pub fn apply<'a>(&self, key: &'a str) -> std::borrow::Cow<'a, str> {
        match self {
            Fold::None => std::borrow::Cow::Borrowed(key),
            Fold::Ascii if key.bytes().any(|b| b.is_ascii_uppercase()) => {
                std::borrow::Cow::Owned(key.to_ascii_lowercase())
            }
            Fold::Ascii => std::borrow::Cow::Borrowed(key),
            Fold::Unicode => fold_key(key),
        }
    }
}

/// Whether `smtputf8_enable` is on: keys are then folded as Unicode and
/// source lines must be UTF-8.
pub fn utf8_enabled(cfg: &config::Config) -> bool {
    cfg.bool(&config::params::SMTPUTF8_ENABLE).unwrap_or(false)
}

/// Lower-cases a key the way Postfix folds keys with SMTPUTF8 on
/// (`casefold`): Unicode lower case, ASCII lower case for ASCII keys.
pub fn fold_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        if key.is_ascii() {
            std::borrow::Cow::Owned(key.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Owned(key.to_lowercase())
        }
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// The value of a `*_maps` parameter: tables searched in order.
pub struct MapList {
    dicts: Vec<Box<dyn Dict>>,
}

impl MapList {
    /// Opens every `type:name` in a list separated by commas and
    /// whitespace (`{ }` groups stay together).
    pub fn open(value: &str, cfg: &config::Config, flags: OpenFlags) -> Result<MapList, MapError> {
        let mut dicts = Vec::new();
        for spec in split_list(value) {
            dicts.push(open(&spec, cfg, flags)?);
        }
        Ok(MapList { dicts })
    }

    /// A list of already open tables.
    pub fn from_dicts(dicts: Vec<Box<dyn Dict>>) -> MapList {
        MapList { dicts }
    }

    pub fn is_empty(&self) -> bool {
        self.dicts.is_empty()
    }

    /// The value from the first table that has `key`; an error from a
    /// table stops the search (the caller defers).
    pub fn find(&mut self, key: &str) -> Result<Option<String>, MapError> {
        for d in &mut self.dicts {
            if let Some(v) = d.lookup(key)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Like [`MapList::find`], skipping pattern tables (for the partial
    /// address forms that only fixed-string tables see).
    pub fn find_fixed(&mut self, key: &str) -> Result<Option<String>, MapError> {
        for d in &mut self.dicts {
            if d.is_pattern() {
                continue;
            }
            if let Some(v) = d.lookup(key)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Whether any table's file was rebuilt since it was opened.
    pub fn changed(&self) -> bool {
        self.dicts.iter().any(|d| d.changed())
    }

    /// The first table whose file was rebuilt since it was opened. A
    /// daemon checks this after each request and, as Postfix does, logs
    /// `table NAME has changed -- restarting` and exits, so that master
    /// starts a process that opens the new table.
    pub fn changed_name(&self) -> Option<&str> {
        self.dicts.iter().find(|d| d.changed()).map(|d| d.name())
    }

    pub fn dicts(&mut self) -> &mut [Box<dyn Dict>] {
        &mut self.dicts
    }

    /// The names, as configured.
    pub fn names(&self) -> Vec<&str> {
        self.dicts.iter().map(|d| d.name()).collect()
    }
}

/// Splits a list of table names on commas and whitespace, keeping
/// `{ ... }` groups (`unionmap:{a, b}`, `inline:{ k=v }`) whole.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            c if depth == 0 && (c == ',' || c.is_whitespace()) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_sorted() {
        assert!(TABLE_TYPES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn list_split() {
        assert_eq!(
            split_list("hash:/a, unionmap:{hash:/b, inline:{a=b}}  regexp:/c"),
            ["hash:/a", "unionmap:{hash:/b, inline:{a=b}}", "regexp:/c"]
        );
    }

    #[test]
    fn flags_round_trip() {
        let f = OpenFlags {
            fold: false,
            nul: NulMode::Without,
            dup: Dup::Replace,
            ..OpenFlags::default()
        };
        assert_eq!(OpenFlags::from_bits(f.bits()), f);
    }

    #[test]
    fn daemons_get_a_surrogate_for_a_broken_table() {
        let cfg = config::Config::from_text(Path::new("/tmp"), "").unwrap();
        assert!(open("hash:/nonexistent/table", &cfg, OpenFlags::default()).is_err());
        let mut d = open("hash:/nonexistent/table", &cfg, OpenFlags::daemon()).unwrap();
        match d.lookup("k") {
            Err(MapError::Config { reason, .. }) => {
                assert!(reason.contains("/nonexistent/table.db"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!d.changed());
        // proxymap not running: the table opens, lookups fail temporarily.
        let qcfg = config::Config::from_text(Path::new("/tmp"), "queue_directory = /nonexistent\n")
            .unwrap();
        let mut p = open("proxy:hash:/etc/x", &qcfg, OpenFlags::default()).unwrap();
        assert!(matches!(p.lookup("k"), Err(MapError::Temp { .. })));
        let e = open("nosuch:x", &cfg, OpenFlags::default()).err().unwrap();
        assert_eq!(e.to_string(), "unsupported dictionary type: nosuch");
        let mut l = MapList::open(
            "inline:{a=1} fail:x inline:{b=2}",
            &cfg,
            OpenFlags::default(),
        )
        .unwrap();
        assert_eq!(l.find("a").unwrap().as_deref(), Some("1"));
        assert!(matches!(l.find("b"), Err(MapError::Temp { .. })));
    }

    #[test]
    fn folding() {
        assert_eq!(fold_key("Foo@Example.COM"), "foo@example.com");
        assert_eq!(fold_key("ÄBC"), "äbc");
    }
}
