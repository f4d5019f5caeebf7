//! # NAME
//! db — the indexed files behind `hash:`, `btree:`, `lmdb:` and `cdb:`
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut d = IndexedDict::open(&ctx)?;          // hash:/etc/postfix/virtual
//! d.lookup("user@example.com")?;
//! ```
//!
//! ## DESCRIPTION
//! The four indexed types share one file format of our own: an SQLite
//! database under Postfix's file name (`name.db` for `hash` and `btree`,
//! `name.lmdb`, `name.cdb`) holding
//!
//! * `postfix_map(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID`;
//! * `postfix_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL)` with
//!   `format` = [`FORMAT`], `type`, and `nul` (`with` or `without`: whether
//!   Postfix would have stored the terminating NUL, which `-N`/`-n`
//!   lookups distinguish).
//!
//! The bytes are not a contract (DESIGN.md): postmap(1) rebuilds them from
//! the source. A file of another format (a Berkeley DB file left by
//! Postfix) is refused with a hint to rebuild it.
//!
//! Builds ([`crate::build`]) write a new file beside the old one and
//! rename it into place, so that readers see the old table or the new one,
//! never half of one; a reader notices the rename ([`Dict::changed`]).
//! `postmap -i` and `-d` do the same with an edited copy. A table made
//! that way is marked `static`: nothing changes it in place, so readers
//! open it immutable (no lock or journal check per lookup, which would
//! otherwise cost seven system calls a lookup). A table that a daemon
//! updates ([`Dict::update`], proxywrite, caches) is first replaced by a
//! copy without the mark and then changed in place in SQLite
//! transactions, with SQLite's locking.
//!
//! ## SEE ALSO
//! postmap(1), [`crate::build`]

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags as SqlFlags, OptionalExtension};

use crate::{Dict, FileStamp, Fold, MapError, NulMode, OpenCtx};

/// The `format` value in `postfix_meta`.
pub const FORMAT: &str = "mta-map-1";

/// The database file of an indexed table `kind:name`.
pub fn db_path(kind: &str, name: &str) -> PathBuf {
    let suffix = match kind {
        "lmdb" => ".lmdb",
        "cdb" => ".cdb",
        _ => ".db",
    };
    PathBuf::from(format!("{name}{suffix}"))
}

/// How Postfix names the table in duplicate-entry and similar messages.
pub fn display_name(kind: &str, name: &str) -> String {
    match kind {
        "lmdb" => format!("lmdb:{name}"),
        "cdb" => name.to_string(),
        _ => format!("{name}.db"),
    }
}

/// Whether a new table of this type stores the NUL by default.
pub fn default_nul(kind: &str, alias: bool) -> bool {
    alias || kind != "cdb"
}

/// `strerror` text of an I/O error, without Rust's " (os error N)".
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// An open indexed table.
pub struct IndexedDict {
    spec: String,
    kind: String,
    path: PathBuf,
    conn: Connection,
    fold: Fold,
    nul: NulMode,
    built_with_nul: bool,
    stamp: Option<FileStamp>,
    writable: bool,
}

impl IndexedDict {
    pub(crate) fn open(ctx: &OpenCtx<'_>) -> Result<IndexedDict, MapError> {
        let path = db_path(ctx.kind, ctx.name);
        if ctx.flags.write && ctx.kind == "cdb" {
            return Err(MapError::config(
                ctx.spec,
                "dict_cdb_open: inappropriate open flags for cdb database - specify O_RDONLY or O_WRONLY|O_CREAT|O_TRUNC",
            ));
        }
        if ctx.flags.write && !path.exists() {
            // A table opened for update (a cache) starts empty.
            create_empty(&path, ctx.kind, ctx.kind != "cdb").map_err(|e| {
                MapError::config(ctx.spec, format!("create database {}: {e}", path.display()))
            })?;
        }
        let d = IndexedDict::open_path(ctx.spec, ctx.kind, &path, ctx.flags.write)?;
        let mut d = d;
        d.fold = Fold::from_flags(ctx.flags);
        d.nul = ctx.flags.nul;
        if ctx.flags.surrogate {
            let src = Path::new(ctx.name);
            if let (Ok(s), Ok(m)) = (std::fs::metadata(src), std::fs::metadata(&path))
                && let (Ok(st), Ok(mt)) = (s.modified(), m.modified())
                && st > mt
            {
                crate::msg::warn(&format!(
                    "database {} is older than source file {}",
                    path.display(),
                    src.display()
                ));
            }
        }
        Ok(d)
    }

    /// Opens the file of a table at `path`.
    pub fn open_path(
        spec: &str,
        kind: &str,
        path: &Path,
        write: bool,
    ) -> Result<IndexedDict, MapError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            let mut reason = format!("open database {}: {}", path.display(), strerror(&e));
            if e.kind() == std::io::ErrorKind::NotFound
                && let Some(src) = source_of(path)
                && src.exists()
            {
                let cmd = if src.to_string_lossy().ends_with("aliases") {
                    "postalias"
                } else {
                    "postmap"
                };
                reason.push_str(&format!(
                    " (the source file {} exists: run \"{cmd} {kind}:{}\" to build it)",
                    src.display(),
                    src.display()
                ));
            }
            MapError::config(spec, reason)
        })?;
        let _ = meta;
        // SQLite says "unable to open database file" for every reason;
        // the system's reason is what the administrator needs.
        if let Err(e) = std::fs::File::open(path) {
            return Err(MapError::config(
                spec,
                format!("open database {}: {}", path.display(), strerror(&e)),
            ));
        }
        let mut stamp = FileStamp::of(path);
        let flags = if write {
            SqlFlags::SQLITE_OPEN_READ_WRITE | SqlFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            SqlFlags::SQLITE_OPEN_READ_ONLY | SqlFlags::SQLITE_OPEN_NO_MUTEX
        };
        let bad = |e: &dyn std::fmt::Display| {
            MapError::config(spec, format!("open database {}: {}", path.display(), e))
        };
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| bad(&e))?;
        let _ = conn.busy_timeout(Duration::from_secs(10));
        let format: Option<String> = conn
            .query_row(
                "SELECT value FROM postfix_meta WHERE name = 'format'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap_or(None);
        if format.as_deref() != Some(FORMAT) {
            let src = source_of(path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| path.display().to_string());
            return Err(bad(&format!(
                "not a table in this system's format (a file built by another program?): rebuild it with \"postmap {kind}:{src}\""
            )));
        }
        let nul: Option<String> = conn
            .query_row(
                "SELECT value FROM postfix_meta WHERE name = 'nul'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| bad(&e))?;
        let is_static = meta_value(&conn, "static").as_deref() == Some("yes");
        if is_static && !write {
            // Nobody changes a built table in place (see the module
            // documentation): read it without locks or journal checks.
            drop(conn);
            conn = Connection::open_with_flags(
                format!("file:{}?immutable=1", uri_path(path)),
                SqlFlags::SQLITE_OPEN_READ_ONLY
                    | SqlFlags::SQLITE_OPEN_URI
                    | SqlFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| bad(&e))?;
        } else if is_static {
            // A built table is about to be updated in place: replace it
            // with a copy marked as such first, so that readers that
            // mapped the old one keep a consistent file (and notice).
            drop(conn);
            replace_copy(path, |c| {
                c.execute(
                    "UPDATE postfix_meta SET value = 'no' WHERE name = 'static'",
                    [],
                )
                .map(drop)
            })
            .map_err(|e| bad(&e))?;
            conn = Connection::open_with_flags(path, flags).map_err(|e| bad(&e))?;
            let _ = conn.busy_timeout(Duration::from_secs(10));
            stamp = FileStamp::of(path);
        }
        // Map the file instead of reading it page by page: lookups then
        // cost page faults on first touch instead of a read per page.
        let _ = conn.pragma_update(None, "mmap_size", 1i64 << 30);
        let _ = conn.pragma_update(None, "cache_size", -16384i64);
        Ok(IndexedDict {
            spec: spec.to_string(),
            kind: kind.to_string(),
            path: path.to_path_buf(),
            conn,
            fold: Fold::Unicode,
            nul: NulMode::Any,
            built_with_nul: nul.as_deref() != Some("without"),
            stamp,
            writable: write,
        })
    }

    fn nul_ok(&self) -> bool {
        match self.nul {
            NulMode::Any => true,
            NulMode::With => self.built_with_nul,
            NulMode::Without => !self.built_with_nul,
        }
    }

    fn sql_err(&self, e: rusqlite::Error) -> MapError {
        MapError::temp(
            &self.spec,
            format!("{}: {}", display_name(&self.kind, &self.name_only()), e),
        )
    }

    fn name_only(&self) -> String {
        self.spec
            .split_once(':')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default()
    }

    /// Starts a transaction for many updates.
    pub fn begin(&mut self) -> Result<(), MapError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sql_err(e))
    }

    /// Commits what [`IndexedDict::begin`] started.
    pub fn commit(&mut self) -> Result<(), MapError> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| self.sql_err(e))
    }

    /// Whether the key is present (for duplicate checks when updating).
    pub fn contains(&mut self, key: &str) -> Result<bool, MapError> {
        Ok(self.get(key)?.is_some())
    }

    fn get(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.fold.apply(key);
        let r = self
            .conn
            .prepare_cached("SELECT v FROM postfix_map WHERE k = ?1")
            .and_then(|mut st| st.query_row([&*key], |r| r.get::<_, String>(0)).optional());
        r.map_err(|e| self.sql_err(e))
    }

    /// How `-N`/`-n` lookups and deletes treat the table.
    pub fn set_nul(&mut self, nul: NulMode) {
        self.nul = nul;
    }

    /// Folds keys (the default) or not (`-f`).
    pub fn set_fold(&mut self, fold: Fold) {
        self.fold = fold;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn meta_value(conn: &Connection, name: &str) -> Option<String> {
    conn.query_row(
        "SELECT value FROM postfix_meta WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .ok()
    .flatten()
}

/// A path for an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `postmap -i`/`-d`: `edit` changes a copy of the table at `path`
/// through an [`IndexedDict`] (in one transaction), and the copy replaces
/// the table.
pub fn edit_copy(
    spec: &str,
    kind: &str,
    path: &Path,
    fold: Fold,
    edit: impl FnOnce(&mut IndexedDict) -> Result<(), MapError>,
) -> Result<(), MapError> {
    // Editors take turns: each holds a lock on the file it copies, and
    // makes sure that file is still the table once it has the lock.
    let _lock = lock_current(path).map_err(|e| MapError::temp(spec, e))?;
    let tmp = copy_to_temp(path).map_err(|e| MapError::temp(spec, e))?;
    let result = (|| {
        let conn = Connection::open(&tmp).map_err(|e| MapError::temp(spec, e.to_string()))?;
        let nul = meta_value(&conn, "nul");
        let mut d = IndexedDict {
            spec: spec.to_string(),
            kind: kind.to_string(),
            path: tmp.clone(),
            conn,
            fold,
            nul: NulMode::Any,
            built_with_nul: nul.as_deref() != Some("without"),
            stamp: None,
            writable: true,
        };
        d.begin()?;
        edit(&mut d)?;
        d.commit()?;
        d.conn
            .close()
            .map_err(|(_, e)| MapError::temp(spec, e.to_string()))?;
        install_copy(&tmp, path).map_err(|e| MapError::temp(spec, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// An exclusive lock on the file that is the table at `path` now.
fn lock_current(path: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, String> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let f = std::fs::File::open(path)
            .map_err(|e| format!("open {}: {}", path.display(), strerror(&e)))?;
        let locked = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| format!("lock {}: {e}", path.display()))?;
        let held = locked.metadata().map_err(|e| strerror(&e))?;
        match std::fs::metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => return Ok(locked),
            Ok(_) => continue,
            Err(e) => return Err(format!("stat {}: {}", path.display(), strerror(&e))),
        }
    }
}

/// Copies the table at `path`, lets `edit` change the copy in one
/// transaction, and renames the copy into place durably: readers see the
/// old table or the new one.
pub(crate) fn replace_copy(
    path: &Path,
    edit: impl FnOnce(&Connection) -> rusqlite::Result<()>,
) -> Result<(), String> {
    let _lock = lock_current(path)?;
    let tmp = copy_to_temp(path)?;
    let result = (|| -> Result<(), String> {
        let mut conn = Connection::open(&tmp).map_err(|e| e.to_string())?;
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        edit(&tx).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        conn.close().map_err(|(_, e)| e.to_string())?;
        install_copy(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A private copy of `path` beside it.
fn copy_to_temp(path: &Path) -> Result<PathBuf, String> {
    let dir = sys::fs::parent_dir(path);
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::fs::copy(path, &tmp).map_err(|e| format!("copy {}: {}", path.display(), strerror(&e)))?;
    Ok(tmp)
}

/// Gives `tmp` the owner of `path`, syncs it, renames it over `path` and
/// syncs the directory.
fn install_copy(tmp: &Path, path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(tmp).map_err(|e| strerror(&e))?;
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        let _ = nix::unistd::fchown(&f, Some(m.uid().into()), Some(m.gid().into()));
    }
    f.sync_all().map_err(|e| strerror(&e))?;
    std::fs::rename(tmp, path).map_err(|e| strerror(&e))?;
    sys::fs::fsync_dir(sys::fs::parent_dir(path)).map_err(|e| strerror(&e))
}

/// The source file of a database file (`virtual.db` -> `virtual`).
fn source_of(path: &Path) -> Option<PathBuf> {
    let s = path.to_str()?;
    for suf in [".db", ".lmdb", ".cdb"] {
        if let Some(b) = s.strip_suffix(suf) {
            return Some(PathBuf::from(b));
        }
    }
    None
}

impl Dict for IndexedDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        if !self.nul_ok() {
            return Ok(None);
        }
        self.get(key)
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn changed(&self) -> bool {
        FileStamp::changed(&self.stamp, &self.path)
    }

    fn update(&mut self, key: &str, value: &str) -> Result<(), MapError> {
        if !self.writable {
            return Err(crate::unsupported(&self.spec, "update"));
        }
        let key = self.fold.apply(key);
        let r = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO postfix_map(k, v) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute([&*key, value]));
        r.map(drop).map_err(|e| self.sql_err(e))
    }

    fn delete(&mut self, key: &str) -> Result<bool, MapError> {
        if !self.writable {
            return Err(crate::unsupported(&self.spec, "delete"));
        }
        if !self.nul_ok() {
            return Ok(false);
        }
        let key = self.fold.apply(key);
        let r = self
            .conn
            .prepare_cached("DELETE FROM postfix_map WHERE k = ?1")
            .and_then(|mut st| st.execute([&*key]));
        r.map(|n| n > 0).map_err(|e| self.sql_err(e))
    }

    fn sequence(&mut self) -> Result<Vec<(String, String)>, MapError> {
        if self.kind == "cdb" {
            // As Postfix's cdb: the table cannot be listed.
            return Err(MapError::config(
                &self.spec,
                format!(
                    "table cdb:{}: sequence operation is not supported",
                    self.path.display()
                ),
            ));
        }
        if !self.nul_ok() {
            return Ok(Vec::new());
        }
        let r = self
            .conn
            .prepare("SELECT k, v FROM postfix_map ORDER BY k")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            });
        r.map_err(|e| self.sql_err(e))
    }
}

/// Creates an empty table that is updated in place (not `static`).
fn create_empty(path: &Path, kind: &str, with_nul: bool) -> Result<(), String> {
    let dir = sys::fs::parent_dir(path);
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        write_table(&tmp, kind, with_nul, false, &mut std::iter::empty())
            .map_err(|e| e.to_string())?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| strerror(&e))?;
        std::fs::rename(&tmp, path).map_err(|e| strerror(&e))?;
        sys::fs::fsync_dir(dir).map_err(|e| strerror(&e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes a new table file at `tmp` from sorted, unique entries.
pub(crate) fn write_new(
    tmp: &Path,
    kind: &str,
    with_nul: bool,
    entries: &mut dyn Iterator<Item = (&str, &str)>,
) -> rusqlite::Result<()> {
    write_table(tmp, kind, with_nul, true, entries)
}

fn write_table(
    tmp: &Path,
    kind: &str,
    with_nul: bool,
    is_static: bool,
    entries: &mut dyn Iterator<Item = (&str, &str)>,
) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(tmp);
    let mut conn = Connection::open(tmp)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA page_size = 8192;
         PRAGMA cache_size = -65536;
         CREATE TABLE postfix_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE postfix_map(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;",
    )?;
    let tx = conn.transaction()?;
    {
        let mut meta = tx.prepare("INSERT INTO postfix_meta(name, value) VALUES (?1, ?2)")?;
        meta.execute(["format", FORMAT])?;
        meta.execute(["type", kind])?;
        meta.execute(["nul", if with_nul { "with" } else { "without" }])?;
        meta.execute(["static", if is_static { "yes" } else { "no" }])?;
        let mut ins = tx.prepare("INSERT INTO postfix_map(k, v) VALUES (?1, ?2)")?;
        for (k, v) in entries {
            ins.execute([k, v])?;
        }
    }
    tx.commit()?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}
