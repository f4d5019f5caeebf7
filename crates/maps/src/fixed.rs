//! # NAME
//! fixed — `static:`, `fail:`, `environ:` and `nis:`
//!
//! ## DESCRIPTION
//! `static:value` answers every key with `value` (`static:{text with
//! spaces}`); `fail:name` fails every lookup with a temporary error;
//! `environ:name` looks keys up in the process environment; `nis:map`
//! works as Postfix's does on a host without an NIS domain: it warns once
//! and finds nothing. NIS itself is not supported: on a host with an NIS
//! domain, opening a `nis:` table fails with a message that says so.

use crate::{Dict, Fold, MapError, OpenCtx, OpenFlags};

pub struct Static {
    spec: String,
    value: String,
}

impl Static {
    pub fn new(spec: &str, name: &str) -> Static {
        Static {
            spec: spec.to_string(),
            value: name.to_string(),
        }
    }
}

/// Checks `static:` syntax and strips `{ }`.
pub fn static_value(spec: &str, name: &str) -> Result<String, MapError> {
    if name.is_empty() {
        return Err(MapError::config(
            spec,
            format!("open dictionary: expecting \"type:name\" form instead of \"{spec}\""),
        ));
    }
    if let Some(inner) = name.strip_prefix('{') {
        let Some(inner) = inner.strip_suffix('}') else {
            return Err(MapError::config(
                spec,
                format!("bad static:name syntax: missing '}}' in \"{name}\""),
            ));
        };
        return Ok(inner.trim().to_string());
    }
    Ok(name.to_string())
}

impl Dict for Static {
    fn lookup(&mut self, _key: &str) -> Result<Option<String>, MapError> {
        Ok(Some(self.value.clone()))
    }

    fn name(&self) -> &str {
        &self.spec
    }
}

pub fn open_static(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let v = static_value(ctx.spec, ctx.name)?;
    Ok(Box::new(Static::new(ctx.spec, &v)))
}

pub struct Fail {
    spec: String,
}

impl Fail {
    pub fn new(spec: &str) -> Fail {
        Fail {
            spec: spec.to_string(),
        }
    }
}

impl Dict for Fail {
    fn lookup(&mut self, _key: &str) -> Result<Option<String>, MapError> {
        Err(MapError::temp(&self.spec, "Application error"))
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn update(&mut self, _key: &str, _value: &str) -> Result<(), MapError> {
        Err(MapError::temp(&self.spec, "Application error"))
    }

    fn delete(&mut self, _key: &str) -> Result<bool, MapError> {
        Err(MapError::temp(&self.spec, "Application error"))
    }

    fn sequence(&mut self) -> Result<Vec<(String, String)>, MapError> {
        Err(MapError::temp(&self.spec, "Application error"))
    }
}

pub struct Environ {
    spec: String,
    fold: Fold,
}

impl Environ {
    pub fn new(spec: &str, flags: OpenFlags) -> Environ {
        Environ {
            spec: spec.to_string(),
            fold: Fold::from_flags(flags),
        }
    }
}

impl Dict for Environ {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.fold.apply(key);
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Ok(None);
        }
        Ok(std::env::var_os(&*key).map(|v| v.to_string_lossy().into_owned()))
    }

    fn name(&self) -> &str {
        &self.spec
    }
}

pub struct NoNis {
    spec: String,
}

impl Dict for NoNis {
    fn lookup(&mut self, _key: &str) -> Result<Option<String>, MapError> {
        Ok(None)
    }

    fn name(&self) -> &str {
        &self.spec
    }
}

/// The NIS domain of this host, if one is set.
fn nis_domain() -> Option<String> {
    let d = std::fs::read_to_string("/proc/sys/kernel/domainname").ok()?;
    let d = d.trim();
    (!d.is_empty() && d != "(none)").then(|| d.to_string())
}

pub fn open_nis(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    match nis_domain() {
        None => {
            crate::msg::warn(&format!(
                "{}: NIS domain name not set - NIS lookups disabled",
                ctx.spec
            ));
            Ok(Box::new(NoNis {
                spec: ctx.spec.to_string(),
            }))
        }
        Some(d) => Err(MapError::config(
            ctx.spec,
            format!(
                "{}: NIS domain {d}: NIS lookups are not supported by this build",
                ctx.spec
            ),
        )),
    }
}
