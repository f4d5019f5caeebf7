//! # NAME
//! acl — who may list and flush the queue
//!
//! ## SYNOPSIS
//! ```ignore
//! if !acl::allowed(&cfg, &params::AUTHORIZED_MAILQ_USERS, uid)? { ... }
//! ```
//!
//! ## DESCRIPTION
//! `authorized_mailq_users` and `authorized_flush_users` are lists of
//! user names and lookup tables (`static:anyone`, the default, lets
//! everyone in), tried in order; `!pattern` excludes. A table matches when
//! it has the user's login name. The super-user is always allowed.
//!
//! ## SEE ALSO
//! postconf(5) `authorized_mailq_users`, `authorized_flush_users`

use config::params::StrParam;
use maps::OpenFlags;

/// The login name of `uid`, or the number when it has none.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// Whether `uid` is in the list `param`; `Err` for a table that failed.
pub fn allowed(cfg: &config::Config, param: &StrParam, uid: u32) -> Result<bool, String> {
    if uid == 0 {
        return Ok(true);
    }
    let value = cfg.str(param).map_err(|e| e.to_string())?;
    let name = user_name(uid);
    matches(&value, &name, cfg)
}

fn matches(value: &str, name: &str, cfg: &config::Config) -> Result<bool, String> {
    for raw in config::value::list(value) {
        let (negate, p) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw.as_str()),
        };
        let hit = if p.contains(':') {
            let mut t = maps::open(p, cfg, OpenFlags::default()).map_err(|e| e.to_string())?;
            t.lookup(name).map_err(|e| e.to_string())?.is_some()
        } else {
            p.eq_ignore_ascii_case(name)
        };
        if hit {
            return Ok(!negate);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let d = std::env::temp_dir().join(format!("postqueue-acl-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("main.cf"), "").unwrap();
        let cfg = config::Config::load(&d).unwrap();
        assert!(matches("static:anyone", "joe", &cfg).unwrap());
        assert!(matches("root, joe", "JOE", &cfg).unwrap());
        assert!(!matches("root, ann", "joe", &cfg).unwrap());
        assert!(!matches("!joe, static:anyone", "joe", &cfg).unwrap());
        assert!(matches("inline:{joe=yes}", "joe", &cfg).unwrap());
        assert!(!matches("", "joe", &cfg).unwrap());
    }
}
