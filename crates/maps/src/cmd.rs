//! # NAME
//! cmd — the postmap(1) and postalias(1) commands
//!
//! ## SYNOPSIS
//! ```ignore
//! fn main() { std::process::exit(maps::cmd::main(maps::cmd::Tool::Postmap)) }
//! ```
//!
//! ## DESCRIPTION
//! Both commands share options and modes: build each `[type:]file`
//! (default type `default_database_type`), or query (`-q key`, `-q -`),
//! delete (`-d key`, `-d -`), list (`-s`) or update from standard input
//! (`-i`; `-s` lists the first table only, as Postfix does). They differ in the source format (postmap's `key value`,
//! postalias's aliases(5)) and in how `-s` and `-q -` print an entry
//! (`key<TAB>value` and `key:<TAB>value`). Options end at the first
//! operand, as with POSIX getopt. Diagnostics are `PROGRAM: warning: ...` and
//! `PROGRAM: fatal: ...` on stderr; a fatal error exits with status 1, a
//! query or delete that finds nothing with status 1.
//!
//! Run by root on a source file owned by another user, the commands
//! become that user before they write (unless `-o`), so that the table
//! belongs to the owner of its source.
//!
//! ## SEE ALSO
//! postmap(1), postalias(1), [`crate::build`]

use std::io::{BufRead, Write};
use std::path::Path;

use config::params;

use crate::build::{self, BuildOptions};
use crate::{Dict, Dup, MapError, NulMode, OpenFlags};

/// Which command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Postmap,
    Postalias,
}

impl Tool {
    fn usage(self) -> &'static str {
        match self {
            Tool::Postmap => {
                "[-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file..."
            }
            Tool::Postalias => {
                "[-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [map_type:]file..."
            }
        }
    }

    fn flags(self) -> &'static str {
        match self {
            Tool::Postmap => "bfFhimnNoprsuUvw",
            Tool::Postalias => "Nfinoprsuvw",
        }
    }
}

struct Fatal(String);

macro_rules! fatal {
    ($($a:tt)*) => { return Err(Fatal(format!($($a)*))) };
}

#[derive(Default)]
struct Opts {
    config_dir: Option<String>,
    query: Option<String>,
    delete: Option<String>,
    sequence: bool,
    incremental: bool,
    no_fold: bool,
    file_values: bool,
    body: bool,
    header: bool,
    mime: bool,
    nul: NulMode,
    as_root: bool,
    default_mode: bool,
    dup: Dup,
    verbose: u32,
    files: Vec<String>,
}

/// Runs the command with the process's arguments; returns the exit code.
pub fn main(tool: Tool) -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    let program = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| match tool {
            Tool::Postmap => "postmap".into(),
            Tool::Postalias => "postalias".into(),
        });
    crate::msg::set_stderr_program(&program);
    match run(tool, &program, &argv[1.min(argv.len())..]) {
        Ok(code) => code,
        Err(Fatal(m)) => {
            let _ = std::io::stdout().flush();
            let _ = writeln!(std::io::stderr(), "{program}: fatal: {m}");
            1
        }
    }
}

fn parse_args(tool: Tool, program: &str, args: &[String]) -> Result<Opts, Fatal> {
    let mut o = Opts::default();
    let usage = || Fatal(format!("usage: {program} {}", tool.usage()));
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_operands || !a.starts_with('-') || a == "-" {
            // POSIX getopt: the first operand ends the options.
            o.files.push(a.clone());
            only_operands = true;
            continue;
        }
        if a == "--" {
            only_operands = true;
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            if matches!(c, 'c' | 'd' | 'q') {
                let val = if j < chars.len() {
                    let v: String = chars[j..].iter().collect();
                    j = chars.len();
                    v
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    let _ = writeln!(
                        std::io::stderr(),
                        "{program}: option requires an argument -- '{c}'"
                    );
                    return Err(usage());
                };
                match c {
                    'c' => o.config_dir = Some(val),
                    'd' => {
                        if o.query.is_some() || o.sequence {
                            fatal!("specify only one of -s -q or -d");
                        }
                        o.delete = Some(val)
                    }
                    _ => {
                        if o.delete.is_some() || o.sequence {
                            fatal!("specify only one of -s -q or -d");
                        }
                        o.query = Some(val)
                    }
                }
                continue;
            }
            if !tool.flags().contains(c) {
                let _ = writeln!(std::io::stderr(), "{program}: invalid option -- '{c}'");
                return Err(usage());
            }
            match c {
                'b' => o.body = true,
                'h' => o.header = true,
                'm' => o.mime = true,
                'f' => o.no_fold = true,
                'F' => o.file_values = true,
                'i' => o.incremental = true,
                'N' => o.nul = NulMode::With,
                'n' => o.nul = NulMode::Without,
                'o' => o.as_root = true,
                'p' => o.default_mode = true,
                'r' => o.dup = Dup::Replace,
                'w' => o.dup = Dup::Ignore,
                's' => {
                    if o.query.is_some() || o.delete.is_some() {
                        fatal!("specify only one of -s -q or -d");
                    }
                    o.sequence = true
                }
                'v' => o.verbose += 1,
                _ => {} // -u, -U: UTF-8 checks, always on in this implementation.
            }
        }
    }
    if o.files.is_empty() {
        return Err(usage());
    }
    Ok(o)
}

fn run(tool: Tool, program: &str, args: &[String]) -> Result<i32, Fatal> {
    let o = parse_args(tool, program, args)?;
    let dir = match &o.config_dir {
        Some(d) => std::path::PathBuf::from(d),
        None => config::config_dir_from_env(),
    };
    let cfg = match config::Config::load(&dir) {
        Ok(c) => c,
        Err(config::ConfigError::Io { path, error }) => {
            fatal!("open {}: {}", path.display(), crate::db::strerror(&error))
        }
        Err(e) => fatal!("{e}"),
    };
    let default_type = cfg
        .str(&params::DEFAULT_DATABASE_TYPE)
        .map_err(|e| Fatal(e.to_string()))?;
    let flags = OpenFlags {
        fold: !o.no_fold,
        nul: o.nul,
        dup: o.dup,
        utf8: crate::utf8_enabled(&cfg),
        ..OpenFlags::default()
    };
    let specs: Vec<String> = o
        .files
        .iter()
        .map(|f| {
            let (t, n) = crate::split_spec(f, &default_type);
            format!("{t}:{n}")
        })
        .collect();
    if o.mime {
        fatal!("-m (MIME parsing of -b and -h input) is not supported by this implementation");
    }
    if let Some(q) = &o.query {
        if q == "-" {
            let mut maps = open_all(&specs, &cfg, flags)?;
            return query_stdin(tool, &mut maps, &o);
        }
        // One key: each table is opened only when the ones before it did
        // not have the key, as Postfix does.
        for spec in &specs {
            let mut m = open_all(std::slice::from_ref(spec), &cfg, flags)?;
            if query_one(&mut m, q, &o)? == 0 {
                return Ok(0);
            }
        }
        return Ok(1);
    }
    if let Some(d) = &o.delete {
        let write = OpenFlags {
            write: true,
            ..flags
        };
        let mut found = false;
        let keys: Vec<String> = if d == "-" {
            std::io::stdin()
                .lock()
                .lines()
                .map_while(Result::ok)
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        } else {
            vec![d.clone()]
        };
        for spec in &specs {
            become_owner(spec, o.as_root)?;
            let (kind, name) = crate::split_spec(spec, &default_type);
            if build::is_buildable(kind) {
                found |= delete_copy(spec, kind, name, &keys, write)?;
                continue;
            }
            let mut m = crate::open(spec, &cfg, write).map_err(|e| Fatal(e.to_string()))?;
            for k in &keys {
                match m.delete(k) {
                    Ok(true) => found = true,
                    Ok(false) => {}
                    Err(e) => fatal!("table {spec}: delete error: {}", e.reason()),
                }
            }
        }
        return Ok(if found { 0 } else { 1 });
    }
    if o.sequence {
        // Postfix lists the first table only.
        let mut maps = open_all(&specs[..1], &cfg, flags)?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (spec, m) in specs.iter().zip(maps.iter_mut()) {
            let entries = m.sequence().map_err(|e| {
                Fatal(match e {
                    MapError::Config { reason, .. }
                        if reason.contains("operation is not supported") =>
                    {
                        reason
                    }
                    e => format!("table {spec}: sequence error: {}", e.reason()),
                })
            })?;
            for (k, v) in entries {
                let v = decode_value(&v, o.file_values);
                let _ = match tool {
                    Tool::Postmap => writeln!(out, "{k}\t{v}"),
                    Tool::Postalias => writeln!(out, "{k}:\t{v}"),
                };
            }
        }
        let _ = out.flush();
        return Ok(0);
    }
    if o.incremental {
        for spec in &specs {
            become_owner(spec, o.as_root)?;
            incremental(tool, spec, flags)?;
        }
        return Ok(0);
    }
    let bopts = BuildOptions {
        fold: !o.no_fold,
        dup: o.dup,
        nul: o.nul,
        default_mode: o.default_mode,
        file_values: o.file_values,
        utf8: crate::utf8_enabled(&cfg),
    };
    for spec in &specs {
        let (kind, name) = crate::split_spec(spec, &default_type);
        if !build::is_buildable(kind) {
            match kind {
                "proxy" => fatal!("can't create maps via the proxy service"),
                "fail" => {
                    // As Postfix: the source is read, then every write fails.
                    if let Err(e) = crate::source::read_text(Path::new(name)) {
                        fatal!("open {name}: {}", crate::db::strerror(&e));
                    }
                    fatal!("table {spec}: write error: Application error");
                }
                k if crate::TABLE_TYPES.contains(&k) => {
                    fatal!("unsupported dictionary type: {k} does not support bulk-mode creation.")
                }
                k => fatal!(
                    "unsupported dictionary type: {k}. Is the postfix-{k} package installed?"
                ),
            }
        }
        become_owner(spec, o.as_root)?;
        let r = match tool {
            Tool::Postmap => build::postmap_file(kind, name, &bopts),
            Tool::Postalias => build::postalias_file(kind, name, &bopts),
        };
        if let Err(e) = r {
            fatal!("{e}");
        }
    }
    Ok(0)
}

fn open_all(
    specs: &[String],
    cfg: &config::Config,
    flags: OpenFlags,
) -> Result<Vec<Box<dyn Dict>>, Fatal> {
    specs
        .iter()
        .map(|s| crate::open(s, cfg, flags).map_err(|e| Fatal(e.to_string())))
        .collect()
}

fn decode_value(v: &str, base64: bool) -> String {
    if !base64 {
        return v.to_string();
    }
    match build::base64_decode(v) {
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
        None => v.to_string(),
    }
}

/// The first table's answer for `key`.
fn find(maps: &mut [Box<dyn Dict>], key: &str) -> Result<Option<String>, Fatal> {
    for m in maps.iter_mut() {
        match m.lookup(key) {
            Ok(Some(v)) => {
                if v.is_empty() {
                    crate::msg::warn(&format!(
                        "table {}: key {key}: empty string result is not allowed",
                        m.name()
                    ));
                    crate::msg::warn(&format!(
                        "table {} should return NO RESULT in case of NOT FOUND",
                        m.name()
                    ));
                }
                return Ok(Some(v));
            }
            Ok(None) => {}
            Err(MapError::Temp { reason, .. }) => {
                fatal!("table {}: query error: {reason}", m.name())
            }
            Err(e) => fatal!("{e}"),
        }
    }
    Ok(None)
}

fn query_one(maps: &mut [Box<dyn Dict>], key: &str, o: &Opts) -> Result<i32, Fatal> {
    match find(maps, key)? {
        Some(v) => {
            println!("{}", decode_value(&v, o.file_values));
            Ok(0)
        }
        None => Ok(1),
    }
}

/// The lookup keys of `-q -`: lines, or with `-h`/`-b` the logical
/// header lines or the body lines of a message.
fn stdin_keys(o: &Opts) -> Vec<String> {
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .map(|l| l.strip_suffix('\r').map(str::to_string).unwrap_or(l))
        .collect();
    if !o.header && !o.body {
        return lines
            .into_iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
    }
    let mut headers: Vec<String> = Vec::new();
    let mut body = Vec::new();
    let mut in_headers = true;
    for l in lines {
        if in_headers {
            if l.is_empty() {
                in_headers = false;
                continue;
            }
            let cont = l.starts_with([' ', '\t']);
            match headers.last_mut() {
                Some(h) if cont => {
                    h.push('\n');
                    h.push_str(&l);
                }
                _ if !cont && !l.contains(':') => {
                    // Not a header: the body starts here.
                    in_headers = false;
                    body.push(l);
                }
                _ => headers.push(l),
            }
        } else {
            body.push(l);
        }
    }
    let mut keys = Vec::new();
    if o.header {
        keys.extend(headers);
    }
    if o.body {
        keys.extend(body);
    }
    keys
}

fn query_stdin(tool: Tool, maps: &mut [Box<dyn Dict>], o: &Opts) -> Result<i32, Fatal> {
    let mut found = false;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for key in stdin_keys(o) {
        if let Some(v) = find(maps, &key)? {
            found = true;
            let v = decode_value(&v, o.file_values);
            let _ = match tool {
                Tool::Postmap => writeln!(out, "{key}\t{v}"),
                Tool::Postalias => writeln!(out, "{key}:\t{v}"),
            };
        }
    }
    let _ = out.flush();
    Ok(if found { 0 } else { 1 })
}

/// `-i`: entries from stdin added to an existing table (created if
/// missing).
fn incremental(tool: Tool, spec: &str, flags: OpenFlags) -> Result<(), Fatal> {
    let (kind, name) = crate::split_spec(spec, "hash");
    if !build::is_buildable(kind) {
        fatal!("unsupported dictionary type: {kind}");
    }
    if kind == "cdb" {
        fatal!(
            "dict_cdb_open: inappropriate open flags for cdb database - specify O_RDONLY or O_WRONLY|O_CREAT|O_TRUNC"
        );
    }
    let path = crate::db::db_path(kind, name);
    if !path.exists() {
        let b = build::Builder::new(
            kind,
            name,
            &BuildOptions {
                nul: flags.nul,
                ..BuildOptions::default()
            },
        );
        b.finish().map_err(|e| Fatal(e.to_string()))?;
    }
    let mut text = String::new();
    for l in std::io::stdin().lock().lines().map_while(Result::ok) {
        text.push_str(&l);
        text.push('\n');
    }
    let mut b = build::Builder::new(
        kind,
        "stdin",
        &BuildOptions {
            fold: flags.fold,
            utf8: flags.utf8,
            ..BuildOptions::default()
        },
    );
    match tool {
        Tool::Postmap => {
            build::add_postmap_text(&mut b, &text, "stdin").map_err(|e| Fatal(e.to_string()))?
        }
        Tool::Postalias => crate::alias::add_alias_text(&mut b, &text, "stdin"),
    }
    let (entries, warnings) = b.into_parts();
    for w in warnings {
        crate::msg::warn(&w);
    }
    let mut dups = Vec::new();
    crate::db::edit_copy(spec, kind, &path, crate::Fold::from_flags(flags), |d| {
        for (k, v) in &entries {
            if d.contains(k)? {
                match flags.dup {
                    Dup::Warn => {
                        dups.push(k.clone());
                        continue;
                    }
                    Dup::Ignore => continue,
                    Dup::Replace => {}
                }
            }
            d.update(k, v)?;
        }
        Ok(())
    })
    .map_err(|e| Fatal(format!("table {spec}: write error: {}", e.reason())))?;
    for k in dups {
        crate::msg::warn(&format!(
            "{}: duplicate entry: \"{k}\"",
            crate::db::display_name(kind, name)
        ));
    }
    Ok(())
}

/// `-d` on an indexed table: the keys removed from an edited copy.
fn delete_copy(
    spec: &str,
    kind: &str,
    name: &str,
    keys: &[String],
    flags: OpenFlags,
) -> Result<bool, Fatal> {
    if kind == "cdb" {
        fatal!(
            "dict_cdb_open: inappropriate open flags for cdb database - specify O_RDONLY or O_WRONLY|O_CREAT|O_TRUNC"
        );
    }
    let path = crate::db::db_path(kind, name);
    // Opening first gives the usual errors (missing file, wrong format).
    crate::db::IndexedDict::open_path(spec, kind, &path, false)
        .map_err(|e| Fatal(e.to_string()))?;
    let mut found = false;
    crate::db::edit_copy(spec, kind, &path, crate::Fold::from_flags(flags), |d| {
        d.set_nul(flags.nul);
        for k in keys {
            found |= d.delete(k)?;
        }
        Ok(())
    })
    .map_err(|e| Fatal(format!("table {spec}: delete error: {}", e.reason())))?;
    Ok(found)
}

/// Run by root, becomes the owner of the table's source file (unless
/// `-o`), so that the table belongs to the same user.
fn become_owner(spec: &str, as_root: bool) -> Result<(), Fatal> {
    use std::os::unix::fs::MetadataExt;
    if as_root || !sys::privs::is_root() {
        return Ok(());
    }
    let (_, name) = crate::split_spec(spec, "hash");
    let Ok(m) = std::fs::metadata(Path::new(name)) else {
        return Ok(());
    };
    if m.uid() == 0 {
        return Ok(());
    }
    let id = sys::privs::Identity {
        name: String::new(),
        uid: nix::unistd::Uid::from_raw(m.uid()),
        gid: nix::unistd::Gid::from_raw(m.gid()),
        home: std::path::PathBuf::from("/"),
    };
    sys::privs::drop_to(&id, None).map_err(|e| Fatal(format!("set privileges: {e}")))
}
