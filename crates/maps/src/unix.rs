//! # NAME
//! unix — `unix:passwd.byname` and `unix:group.byname`
//!
//! ## DESCRIPTION
//! Looks a user or group up through the C library (getpwnam, getgrnam;
//! NSS applies) and answers with the passwd(5) or group(5) line:
//! `name:passwd:uid:gid:gecos:home:shell` and `name:passwd:gid:members`.
//! Keys are folded to lower case unless folding is off.

use crate::{Dict, Fold, MapError, OpenCtx};

#[derive(Clone, Copy)]
enum Which {
    Passwd,
    Group,
}

pub struct UnixDict {
    spec: String,
    which: Which,
    fold: Fold,
}

pub fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let which = match ctx.name {
        "passwd.byname" => Which::Passwd,
        "group.byname" => Which::Group,
        _ => {
            return Err(MapError::config(
                ctx.spec,
                format!("unknown table: {}", ctx.spec),
            ));
        }
    };
    Ok(Box::new(UnixDict {
        spec: ctx.spec.to_string(),
        which,
        fold: Fold::from_flags(ctx.flags),
    }))
}

impl Dict for UnixDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.fold.apply(key);
        if key.contains('\0') {
            return Ok(None);
        }
        let err = |e: nix::Error| MapError::temp(&self.spec, format!("{}: {e}", self.spec));
        match self.which {
            Which::Passwd => Ok(nix::unistd::User::from_name(&key).map_err(err)?.map(|u| {
                format!(
                    "{}:{}:{}:{}:{}:{}:{}",
                    u.name,
                    u.passwd.to_string_lossy(),
                    u.uid,
                    u.gid,
                    u.gecos.to_string_lossy(),
                    u.dir.display(),
                    u.shell.display()
                )
            })),
            Which::Group => Ok(nix::unistd::Group::from_name(&key).map_err(err)?.map(|g| {
                format!(
                    "{}:{}:{}:{}",
                    g.name,
                    g.passwd.to_string_lossy(),
                    g.gid,
                    g.mem.join(",")
                )
            })),
        }
    }

    fn name(&self) -> &str {
        &self.spec
    }
}
