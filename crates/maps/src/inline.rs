//! # NAME
//! inline — in-memory tables: `inline:`, `texthash:` and `internal:`
//!
//! ## DESCRIPTION
//! `inline:{ key=value, { key = text with spaces }, ... }` holds its
//! entries in its name. `texthash:/file` reads a postmap source file when
//! it is opened (no postmap run needed); duplicate keys keep the first
//! entry with a warning that names the file and line. `internal:name` is
//! an empty table that accepts updates, for use inside one process.
//!
//! ## SEE ALSO
//! postmap(1), DATABASE_README

use std::collections::HashMap;
use std::path::Path;

use crate::db::strerror;
use crate::{Dict, Fold, MapError, OpenCtx, OpenFlags, Watched, source};

/// A table in memory, in insertion order for `-s`.
pub struct MemDict {
    spec: String,
    fold: Fold,
    index: HashMap<String, usize>,
    entries: Vec<(String, String)>,
    watched: Option<Watched>,
    writable: bool,
}

impl MemDict {
    fn new(spec: &str, flags: OpenFlags) -> MemDict {
        MemDict {
            spec: spec.to_string(),
            fold: Fold::from_flags(flags),
            index: HashMap::new(),
            entries: Vec::new(),
            watched: None,
            writable: false,
        }
    }

    /// Adds an entry; false when the key is already there.
    fn insert(&mut self, key: &str, value: &str) -> bool {
        let key = self.fold.apply(key).into_owned();
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value.to_string()));
        true
    }
}

impl Dict for MemDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.fold.apply(key);
        Ok(self.index.get(&*key).map(|&i| self.entries[i].1.clone()))
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn changed(&self) -> bool {
        self.watched.as_ref().is_some_and(Watched::changed)
    }

    fn update(&mut self, key: &str, value: &str) -> Result<(), MapError> {
        if !self.writable {
            return Err(crate::unsupported(&self.spec, "update"));
        }
        let k = self.fold.apply(key).into_owned();
        match self.index.get(&k) {
            Some(&i) => self.entries[i].1 = value.to_string(),
            None => {
                self.insert(&k, value);
            }
        }
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<bool, MapError> {
        if !self.writable {
            return Err(crate::unsupported(&self.spec, "delete"));
        }
        let k = self.fold.apply(key);
        let Some(i) = self.index.remove(&*k) else {
            return Ok(false);
        };
        self.entries.remove(i);
        for v in self.index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        Ok(true)
    }

    fn sequence(&mut self) -> Result<Vec<(String, String)>, MapError> {
        Ok(self.entries.clone())
    }
}

/// `internal:name`: an empty, writable table.
pub struct Internal;

impl Internal {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(spec: &str, flags: OpenFlags) -> MemDict {
        let mut d = MemDict::new(spec, flags);
        d.writable = true;
        d
    }
}

/// Splits `{ a=b, { c = d e } }` into its elements.
fn inline_elements(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in body.chars() {
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

/// `name = value` with a name that has no whitespace.
fn split_nameval(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(s.len());
    let name = &s[..end];
    let rest = s[end..].trim_start();
    let value = rest.strip_prefix('=')?;
    if name.is_empty() {
        return None;
    }
    Some((name, value.trim()))
}

pub fn open_inline(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let need = "need \"inline:{name=value...}\"";
    let bad = || MapError::config(ctx.spec, format!("bad syntax: \"{}\"; {need}", ctx.spec));
    let body = ctx
        .name
        .trim()
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(bad)?;
    let elements = inline_elements(body);
    if elements.is_empty() {
        return Err(bad());
    }
    let mut d = MemDict::new(ctx.spec, ctx.flags);
    for e in elements {
        let inner = match e.strip_prefix('{') {
            Some(x) => x.strip_suffix('}').ok_or_else(bad)?.trim().to_string(),
            None => e,
        };
        let Some((k, v)) = split_nameval(&inner) else {
            return Err(MapError::config(
                ctx.spec,
                format!("missing '=' after attribute name: \"{}\"; {need}", ctx.spec),
            ));
        };
        d.insert(k, v);
    }
    Ok(Box::new(d))
}

pub fn open_texthash(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let path = Path::new(ctx.name);
    let text = source::read_text(path).map_err(|e| {
        MapError::config(
            ctx.spec,
            format!("open database {}: {}", ctx.name, strerror(&e)),
        )
    })?;
    let mut d = MemDict::new(ctx.spec, ctx.flags);
    d.watched = Some(Watched::new(path));
    for line in source::logical_lines(&text, ctx.name) {
        match source::parse_entry(&line.text) {
            Ok((k, v)) => {
                if !d.insert(k, v) {
                    crate::msg::warn(&format!(
                        "{}, line {}: duplicate entry: \"{k}\"",
                        ctx.name, line.lineno
                    ));
                }
            }
            Err(source::EntryError::NoValue) => crate::msg::warn(&format!(
                "{}, line {}: expected format: key whitespace value -- ignoring this line",
                ctx.name, line.lineno
            )),
            Err(e) => crate::msg::warn(&source::entry_warning(ctx.name, &line, e)),
        }
    }
    Ok(Box::new(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(spec: &str) -> Result<Box<dyn Dict>, MapError> {
        let (kind, name) = spec.split_once(':').unwrap();
        let cfg = config::Config::from_text(Path::new("/tmp"), "").unwrap();
        open_inline(&OpenCtx {
            spec,
            kind,
            name,
            cfg: &cfg,
            flags: OpenFlags::default(),
        })
    }

    #[test]
    fn inline_syntax() {
        let mut d = open("inline:{k=v,{ x = y z }}").unwrap();
        assert_eq!(d.lookup("X").unwrap().as_deref(), Some("y z"));
        assert_eq!(d.lookup("k").unwrap().as_deref(), Some("v"));
        assert!(open("inline:{ k = v w , K2=v2}").is_err());
        assert!(open("inline:{{k 2=v}}").is_err());
        assert_eq!(
            open("inline:{}").err().unwrap().to_string(),
            "bad syntax: \"inline:{}\"; need \"inline:{name=value...}\""
        );
    }
}
