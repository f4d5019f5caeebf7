//! # NAME
//! union — `unionmap:`, `pipemap:` and `randmap:`
//!
//! ## DESCRIPTION
//! `unionmap:{type:name, ...}` asks every table and joins the values it
//! finds with commas; `pipemap:{type:name, ...}` feeds the value from each
//! table to the next as its key and answers with the last one (not found
//! when any table does not find); `randmap:{value, ...}` answers every key
//! with one of its values at random. An error from any table is the
//! error of the whole.

use crate::{Dict, MapError, OpenCtx, split_list};

enum Kind {
    Union,
    Pipe,
}

pub struct Composite {
    spec: String,
    kind: Kind,
    parts: Vec<Box<dyn Dict>>,
}

pub struct Rand {
    spec: String,
    values: Vec<String>,
    state: u64,
}

pub fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let what = if ctx.kind == "randmap" {
        "value"
    } else {
        "type:name"
    };
    let bad = || {
        MapError::config(
            ctx.spec,
            format!(
                "bad syntax: \"{}\"; need \"{}:{{{what}...}}\"",
                ctx.spec, ctx.kind
            ),
        )
    };
    let body = ctx
        .name
        .trim()
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(bad)?;
    let items = split_list(body);
    if items.is_empty() {
        return Err(bad());
    }
    if ctx.kind == "randmap" {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ u64::from(std::process::id());
        return Ok(Box::new(Rand {
            spec: ctx.spec.to_string(),
            values: items,
            state: seed | 1,
        }));
    }
    let mut parts = Vec::new();
    for item in items {
        parts.push(crate::open(&item, ctx.cfg, ctx.flags)?);
    }
    Ok(Box::new(Composite {
        spec: ctx.spec.to_string(),
        kind: if ctx.kind == "unionmap" {
            Kind::Union
        } else {
            Kind::Pipe
        },
        parts,
    }))
}

/// Restates an error of a part as an error of the whole table.
fn as_whole(spec: &str, e: MapError) -> MapError {
    match e {
        MapError::Temp { reason, .. } => MapError::temp(spec, reason),
        MapError::Config { reason, .. } => MapError::config(spec, reason),
    }
}

impl Dict for Composite {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        match self.kind {
            Kind::Union => {
                let mut found: Option<String> = None;
                for p in &mut self.parts {
                    if let Some(v) = p.lookup(key).map_err(|e| as_whole(&self.spec, e))? {
                        match &mut found {
                            Some(f) => {
                                f.push(',');
                                f.push_str(&v);
                            }
                            None => found = Some(v),
                        }
                    }
                }
                Ok(found)
            }
            Kind::Pipe => {
                let mut cur = key.to_string();
                for p in &mut self.parts {
                    match p.lookup(&cur).map_err(|e| as_whole(&self.spec, e))? {
                        Some(v) => cur = v,
                        None => return Ok(None),
                    }
                }
                Ok(Some(cur))
            }
        }
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn is_pattern(&self) -> bool {
        self.parts.iter().any(|p| p.is_pattern())
    }

    fn changed(&self) -> bool {
        self.parts.iter().any(|p| p.changed())
    }
}

impl Dict for Rand {
    fn lookup(&mut self, _key: &str) -> Result<Option<String>, MapError> {
        // xorshift64: no need for a cryptographic choice.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let i = (self.state % self.values.len() as u64) as usize;
        Ok(Some(self.values[i].clone()))
    }

    fn name(&self) -> &str {
        &self.spec
    }
}
