//! # NAME
//! build — building indexed tables from source files (postmap, postalias)
//!
//! ## SYNOPSIS
//! ```ignore
//! let opts = BuildOptions { fold: true, ..BuildOptions::default() };
//! let n = build::postmap_file("hash", "/etc/postfix/virtual", &opts)?;
//! let n = build::postalias_file("hash", "/etc/aliases", &opts)?;
//! let mut b = Builder::new("hash", "/etc/postfix/x", &opts); b.add("k", "v", 1); b.finish()?;
//! ```
//!
//! ## DESCRIPTION
//! A [`Builder`] collects entries with the line they come from, sorts
//! them, resolves duplicate keys (the first wins with a warning that names
//! the file and line; `-w` keeps the first silently, `-r` the last), writes
//! the new table beside the old one, fsyncs it, gives it the old file's
//! owner and mode (or the source file's read permissions), renames it into
//! place and fsyncs the directory. Readers see the old table or the new
//! one; a daemon that has the old one open notices the rename.
//!
//! ## SEE ALSO
//! postmap(1), postalias(1), [`crate::source`], [`crate::alias`]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::db::{self, display_name, strerror};
use crate::{Dup, Fold, NulMode, source};

/// How a table is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// Fold keys to lower case (off with `-f`).
    pub fold: bool,
    pub dup: Dup,
    /// `-N`/`-n`; `Any` takes the type's default.
    pub nul: NulMode,
    /// `-p`: mode 0644 for a new file instead of the source's permissions.
    pub default_mode: bool,
    /// `-F`: values are file names whose content is stored base64-encoded.
    pub file_values: bool,
    /// `smtputf8_enable`: fold keys as Unicode, skip lines that are not
    /// UTF-8.
    pub utf8: bool,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            fold: true,
            dup: Dup::Warn,
            nul: NulMode::Any,
            default_mode: false,
            file_values: false,
            utf8: false,
        }
    }
}

/// Why a table could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The source file could not be read.
    #[error("open {path}: {reason}")]
    Source { path: String, reason: String },
    /// The type cannot be built by postmap.
    #[error("unsupported dictionary type: {0}")]
    Type(String),
    /// Writing the new file failed.
    #[error("{0}")]
    Write(String),
}

/// The types postmap(1) and postalias(1) can build.
pub fn is_buildable(kind: &str) -> bool {
    matches!(kind, "hash" | "btree" | "lmdb" | "cdb")
}

/// Collects entries and writes a table.
pub struct Builder {
    kind: String,
    name: String,
    opts: BuildOptions,
    alias: bool,
    entries: Vec<(String, String, usize)>,
    warnings: Vec<(usize, String)>,
}

impl Builder {
    pub fn new(kind: &str, name: &str, opts: &BuildOptions) -> Builder {
        Builder {
            kind: kind.to_string(),
            name: name.to_string(),
            opts: *opts,
            alias: false,
            entries: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Adds an entry from source line `lineno` (0: not from a file).
    pub fn add(&mut self, key: &str, value: &str, lineno: usize) {
        let fold = match (self.opts.fold, self.opts.utf8) {
            (false, _) => Fold::None,
            (true, false) => Fold::Ascii,
            (true, true) => Fold::Unicode,
        };
        let key = fold.apply(key).into_owned();
        self.entries.push((key, value.to_string(), lineno));
    }

    /// Adds an entry as it is, never folded (postalias's `YP_*` keys).
    pub fn add_raw(&mut self, key: &str, value: &str) {
        self.entries.push((key.to_string(), value.to_string(), 0));
    }

    /// A warning about source line `lineno`, printed in line order.
    pub fn warn(&mut self, lineno: usize, text: String) {
        self.warnings.push((lineno, text));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in source order and the warnings in line order, for
    /// updates of an existing table (`-i`).
    pub fn into_parts(mut self) -> (Vec<(String, String)>, Vec<String>) {
        self.warnings.sort_by_key(|w| w.0);
        (
            self.entries.into_iter().map(|(k, v, _)| (k, v)).collect(),
            self.warnings.into_iter().map(|(_, w)| w).collect(),
        )
    }

    /// Sorts, resolves duplicates, writes and installs the table; returns
    /// the number of entries written.
    pub fn finish(mut self) -> Result<usize, BuildError> {
        if !is_buildable(&self.kind) {
            return Err(BuildError::Type(self.kind.clone()));
        }
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut keep: Vec<(String, String)> = Vec::with_capacity(self.entries.len());
        let mut warnings = std::mem::take(&mut self.warnings);
        let mut prev_key: Option<usize> = None;
        for (k, v, line) in std::mem::take(&mut self.entries) {
            if let Some(i) = prev_key
                && keep[i].0 == k
            {
                match self.opts.dup {
                    Dup::Warn => warnings.push((
                        line,
                        if line > 0 {
                            format!("{}, line {line}: duplicate entry: \"{k}\"", self.name)
                        } else {
                            format!(
                                "{}: duplicate entry: \"{k}\"",
                                display_name(&self.kind, &self.name)
                            )
                        },
                    )),
                    Dup::Ignore => {}
                    Dup::Replace => keep[i].1 = v,
                }
                continue;
            }
            keep.push((k, v));
            prev_key = Some(keep.len() - 1);
        }
        warnings.sort_by_key(|w| w.0);
        for (_, w) in &warnings {
            crate::msg::warn(w);
        }
        let with_nul = match self.opts.nul {
            NulMode::With => true,
            NulMode::Without => false,
            NulMode::Any => db::default_nul(&self.kind, self.alias),
        };
        install(
            &self.kind,
            &self.name,
            with_nul,
            self.opts.default_mode,
            &keep,
        )?;
        Ok(keep.len())
    }
}

fn install(
    kind: &str,
    name: &str,
    with_nul: bool,
    default_mode: bool,
    entries: &[(String, String)],
) -> Result<(), BuildError> {
    let target = db::db_path(kind, name);
    let dir = sys::fs::parent_dir(&target).to_path_buf();
    let file_name = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let err = |what: &str, e: &dyn std::fmt::Display| {
        BuildError::Write(format!("{what} {}: {e}", target.display()))
    };
    let existing = std::fs::metadata(&target).ok();
    let mode = match &existing {
        Some(m) => m.permissions().mode() & 0o7777,
        None if default_mode => 0o644,
        None => match std::fs::metadata(name) {
            Ok(m) => 0o600 | (m.permissions().mode() & 0o044),
            Err(_) => 0o644,
        },
    };
    let result = (|| {
        db::write_new(
            &tmp,
            kind,
            with_nul,
            &mut entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .map_err(|e| err("create database", &e))?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| err("open", &strerror(&e)))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| err("chmod", &strerror(&e)))?;
        if let Some(m) = &existing {
            let _ = nix::unistd::fchown(&f, Some(m.uid().into()), Some(m.gid().into()));
        }
        f.sync_all().map_err(|e| err("fsync", &strerror(&e)))?;
        std::fs::rename(&tmp, &target).map_err(|e| err("rename to", &strerror(&e)))?;
        sys::fs::fsync_dir(&dir).map_err(|e| err("fsync directory of", &strerror(&e)))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn read_source(name: &str) -> Result<String, BuildError> {
    source::read_text(Path::new(name)).map_err(|e| BuildError::Source {
        path: name.to_string(),
        reason: strerror(&e),
    })
}

/// Builds `kind:name` from the postmap source file `name`.
pub fn postmap_file(kind: &str, name: &str, opts: &BuildOptions) -> Result<usize, BuildError> {
    if !is_buildable(kind) {
        return Err(BuildError::Type(kind.to_string()));
    }
    let text = read_source(name)?;
    let mut b = Builder::new(kind, name, opts);
    add_postmap_text(&mut b, &text, name)?;
    b.finish()
}

/// Adds the entries of postmap source text.
pub fn add_postmap_text(b: &mut Builder, text: &str, file: &str) -> Result<(), BuildError> {
    let mut early = Vec::new();
    let lines = source::logical_lines_with(text, file, &mut |w| early.push(w));
    for w in early {
        b.warn(0, w);
    }
    for line in lines {
        if let Some(w) = non_utf8(b, file, &line) {
            b.warn(line.lineno, w);
            continue;
        }
        match source::parse_entry(&line.text) {
            Ok((k, v)) => {
                if b.opts.file_values {
                    match file_value(v) {
                        Ok(enc) => b.add(k, &enc, line.lineno),
                        Err(e) => b.warn(
                            line.lineno,
                            format!("{file}, line {}: {e}: skipping this entry", line.lineno),
                        ),
                    }
                } else {
                    b.add(k, v, line.lineno);
                }
            }
            Err(e) => {
                let w = source::entry_warning(file, &line, e);
                b.warn(line.lineno, w);
            }
        }
    }
    Ok(())
}

/// With `smtputf8_enable`, the warning for a line that is not UTF-8 (its
/// bad bytes were decoded as U+FFFD).
pub(crate) fn non_utf8(b: &Builder, file: &str, line: &source::Line) -> Option<String> {
    if !b.opts.utf8 || !line.text.contains('\u{FFFD}') {
        return None;
    }
    let shown: String = line
        .text
        .chars()
        .map(|c| {
            if c == '\u{FFFD}' || c.is_control() {
                '?'
            } else {
                c
            }
        })
        .collect();
    Some(format!(
        "{file}, line {}: non-UTF-8 input \"{shown}\" -- ignoring this line",
        line.lineno
    ))
}

/// `-F`: the base64 of the concatenated files a value names.
fn file_value(v: &str) -> Result<String, String> {
    let mut data = Vec::new();
    for (i, f) in v
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        if i > 0 {
            data.push(b'\n');
        }
        let bytes = std::fs::read(f).map_err(|e| format!("open {f}: {}", strerror(&e)))?;
        data.extend_from_slice(&bytes);
    }
    Ok(base64_encode(&data))
}

/// Builds `kind:name` from the aliases(5) file `name`.
pub fn postalias_file(kind: &str, name: &str, opts: &BuildOptions) -> Result<usize, BuildError> {
    if !is_buildable(kind) {
        return Err(BuildError::Type(kind.to_string()));
    }
    let text = read_source(name)?;
    let mut b = Builder::new(kind, name, opts);
    b.alias = true;
    crate::alias::add_alias_text(&mut b, &text, name);
    crate::alias::add_sentinels(&mut b);
    b.finish()
}

/// newaliases (`sendmail -bi`): rebuilds every table of
/// `alias_database` that is of a buildable type; others are skipped, as
/// Postfix does. Returns the tables built.
pub fn rebuild_alias_database(cfg: &config::Config) -> Result<Vec<String>, BuildError> {
    let list = cfg
        .str(&config::params::ALIAS_DATABASE)
        .map_err(|e| BuildError::Write(e.to_string()))?;
    let default_type = cfg
        .str(&config::params::DEFAULT_DATABASE_TYPE)
        .map_err(|e| BuildError::Write(e.to_string()))?;
    let mut built = Vec::new();
    for spec in crate::split_list(&list) {
        let (kind, name) = crate::split_spec(&spec, &default_type);
        if !is_buildable(kind) {
            continue;
        }
        let opts = BuildOptions {
            utf8: crate::utf8_enabled(cfg),
            ..BuildOptions::default()
        };
        postalias_file(kind, name, &opts)?;
        built.push(format!("{kind}:{name}"));
    }
    Ok(built)
}

pub(crate) fn set_alias(b: &mut Builder) {
    b.alias = true;
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 with padding (postmap `-F`).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Decodes base64 (postmap `-F` queries); `None` when malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    let mut pad = 0;
    for c in s.bytes() {
        if c == b'=' {
            pad += 1;
            continue;
        }
        if pad > 0 {
            return None;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if !s.len().is_multiple_of(4) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_never_see_a_half_built_table() {
        let dir = std::env::temp_dir().join(format!("maps-race-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("t");
        let big: String = (0..5000).map(|i| format!("k{i} v{i}\n")).collect();
        std::fs::write(&src, format!("{big}probe old\n")).unwrap();
        let name = src.to_str().unwrap().to_string();
        postmap_file("hash", &name, &BuildOptions::default()).unwrap();
        let spec = format!("hash:{name}");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (spec, stop, dir) = (spec.clone(), stop.clone(), dir.clone());
            std::thread::spawn(move || {
                let cfg = config::Config::from_text(&dir, "").unwrap();
                let mut seen = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Open afresh each time, as a new process would.
                    let mut d = crate::open(&spec, &cfg, crate::OpenFlags::default())
                        .expect("the table is always there");
                    let v = d.lookup("probe").expect("the table is always whole");
                    assert!(matches!(v.as_deref(), Some("old") | Some("new")), "{v:?}");
                    assert!(d.lookup("k4999").unwrap().is_some());
                    seen += 1;
                }
                seen
            })
        };
        for i in 0..20 {
            let v = if i % 2 == 0 { "new" } else { "old" };
            std::fs::write(&src, format!("{big}probe {v}\n")).unwrap();
            postmap_file("hash", &name, &BuildOptions::default()).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world\n"] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&e).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }

    #[test]
    fn build_and_rebuild_atomically() {
        let dir = std::env::temp_dir().join(format!("maps-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("t");
        std::fs::write(&src, "A 1\nb 2\na 3\n").unwrap();
        let name = src.to_str().unwrap();
        assert_eq!(
            postmap_file("hash", name, &BuildOptions::default()).unwrap(),
            2
        );
        let cfg = config::Config::from_text(&dir, "").unwrap();
        let spec = format!("hash:{name}");
        let mut d = crate::open(&spec, &cfg, crate::OpenFlags::default()).unwrap();
        assert_eq!(d.lookup("A").unwrap().as_deref(), Some("1"));
        assert!(!d.changed());
        std::fs::write(&src, "a 9\n").unwrap();
        postmap_file("hash", name, &BuildOptions::default()).unwrap();
        assert!(d.changed());
        // The old table stays readable until the reader reopens.
        assert_eq!(d.lookup("a").unwrap().as_deref(), Some("1"));
        let mut d = crate::open(&spec, &cfg, crate::OpenFlags::default()).unwrap();
        assert_eq!(d.lookup("a").unwrap().as_deref(), Some("9"));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
