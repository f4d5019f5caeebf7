//! # NAME
//! check — configuration and queue directory checks, set-permissions
//!
//! ## SYNOPSIS
//! ```ignore
//! let inst = Instance::load(dir)?;
//! check::fatal_checks(&inst)?;        // errors stop `postfix start`
//! for w in check::warnings(&inst) { warn!("{w}") }
//! check::set_permissions(&inst)?;
//! ```
//!
//! ## DESCRIPTION
//! `postfix check` (and every `postfix start`) reads main.cf and master.cf
//! and checks every value they set, makes sure `mail_owner` and
//! `setgid_group` exist and are not privileged, finds `master` in
//! `daemon_directory`, and creates what is missing of the queue directory,
//! its subdirectories and `data_directory` with Postfix's owners and modes
//! ([`queue::dirs`]). It then warns about directories that belong to the
//! wrong user and configuration files that others may write.
//!
//! In unprivileged mode (not run by root) everything belongs to the caller
//! and no ownership is checked.
//!
//! ## SEE ALSO
//! postfix(1), [`queue::dirs`]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use config::{Config, params};
use nix::unistd::{Gid, Uid};
use queue::dirs::{Owner, QUEUE_DIRS};
use sys::privs::Identity;

/// An instance as its configuration describes it.
pub struct Instance {
    pub cfg: Config,
    pub config_dir: PathBuf,
    pub queue_dir: PathBuf,
    pub data_dir: PathBuf,
    pub daemon_dir: PathBuf,
    pub command_dir: PathBuf,
    /// mail_owner and setgid_group when running as root.
    pub owner: Option<(Identity, Gid)>,
}

fn param(cfg: &Config, p: &params::StrParam) -> Result<String, String> {
    cfg.str(p).map_err(|e| e.to_string())
}

impl Instance {
    /// Reads main.cf and master.cf and checks every setting; all problems
    /// are returned together.
    pub fn load(dir: &Path) -> Result<Instance, Vec<String>> {
        let (cfg, _services) = config::instance::load_checked(dir)?;
        let mut errors = Vec::new();
        if let Err(e) = daemon::log::check_maillog_prefix(&cfg) {
            errors.push(e);
        }
        let get = |p| param(&cfg, p);
        let queue_dir = get(&params::QUEUE_DIRECTORY).map_err(|e| vec![e])?;
        let data_dir = get(&params::DATA_DIRECTORY).map_err(|e| vec![e])?;
        let daemon_dir = get(&params::DAEMON_DIRECTORY).map_err(|e| vec![e])?;
        let command_dir = get(&params::COMMAND_DIRECTORY).map_err(|e| vec![e])?;
        for (name, v) in [
            ("queue_directory", &queue_dir),
            ("data_directory", &data_dir),
            ("daemon_directory", &daemon_dir),
        ] {
            if !v.starts_with('/') {
                errors.push(format!("{name} must be an absolute path: \"{v}\""));
            }
        }
        let owner = if sys::privs::is_root() {
            match owner_and_group(&cfg, dir) {
                Ok(o) => Some(o),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        } else {
            None
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Instance {
            cfg,
            config_dir: dir.to_path_buf(),
            queue_dir: queue_dir.into(),
            data_dir: data_dir.into(),
            daemon_dir: daemon_dir.into(),
            command_dir: command_dir.into(),
            owner,
        })
    }

    pub fn pid_file(&self) -> PathBuf {
        let piddir = self
            .cfg
            .str(&params::PROCESS_ID_DIRECTORY)
            .unwrap_or_else(|_| "pid".into());
        self.queue_dir.join(piddir).join("master.pid")
    }

    /// The uid and gid a queue directory should have.
    fn ids(&self, owner: Owner) -> Option<(Uid, Gid)> {
        let (id, setgid) = self.owner.as_ref()?;
        Some(match owner {
            Owner::Root => (Uid::from_raw(0), Gid::from_raw(0)),
            Owner::MailOwner => (id.uid, Gid::from_raw(0)),
            Owner::MailOwnerSetgid => (id.uid, *setgid),
        })
    }
}

fn owner_and_group(cfg: &Config, dir: &Path) -> Result<(Identity, Gid), String> {
    let main_cf = dir.join("main.cf");
    let name = param(cfg, &params::MAIL_OWNER)?;
    let id = sys::privs::lookup_user(&name).map_err(|_| {
        format!(
            "file {}: parameter mail_owner: unknown user name value: {}",
            main_cf.display(),
            name
        )
    })?;
    if id.uid.is_root() {
        return Err(format!(
            "file {}: parameter mail_owner: user {} has privileged user ID",
            main_cf.display(),
            name
        ));
    }
    let group = param(cfg, &params::SETGID_GROUP)?;
    let gid = sys::privs::lookup_group(&group).map_err(|_| {
        format!(
            "file {}: parameter setgid_group: unknown group name: {}",
            main_cf.display(),
            group
        )
    })?;
    if gid.as_raw() == 0 {
        return Err(format!(
            "file {}: parameter setgid_group: group {} has privileged group ID",
            main_cf.display(),
            group
        ));
    }
    Ok((id, gid))
}

/// Creates `path` with `mode` and owner if it is missing.
fn ensure_dir(path: &Path, mode: u32, ids: Option<(Uid, Gid)>) -> Result<(), String> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path)
        .map_err(|e| format!("create directory {}: {}", path.display(), e))?;
    set_mode_owner(path, mode, ids)
}

fn set_mode_owner(path: &Path, mode: u32, ids: Option<(Uid, Gid)>) -> Result<(), String> {
    if let Some((uid, gid)) = ids {
        nix::unistd::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {}", path.display(), e))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {}", path.display(), e))
}

/// The checks whose failure stops `postfix start`; creates missing
/// directories.
pub fn fatal_checks(inst: &Instance) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let master = inst.daemon_dir.join("master");
    if !master.is_file() {
        errors.push(format!(
            "{} is missing or not a file: check daemon_directory",
            master.display()
        ));
    }
    let root_ids = inst
        .owner
        .is_some()
        .then(|| (Uid::from_raw(0), Gid::from_raw(0)));
    if let Err(e) = ensure_dir(&inst.queue_dir, 0o755, root_ids) {
        errors.push(e);
    } else {
        for d in QUEUE_DIRS {
            if let Err(e) = ensure_dir(&inst.queue_dir.join(d.name), d.mode, inst.ids(d.owner)) {
                errors.push(e);
            }
        }
    }
    if let Err(e) = ensure_dir(&inst.data_dir, 0o700, inst.ids(Owner::MailOwner)) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What `postfix check` warns about after the fatal checks passed.
pub fn warnings(inst: &Instance) -> Vec<String> {
    let mut out = Vec::new();
    for f in ["main.cf", "master.cf"] {
        let p = inst.config_dir.join(f);
        if let Ok(m) = std::fs::metadata(&p) {
            if m.mode() & 0o022 != 0 {
                out.push(format!("group or other writable: {}", p.display()));
            }
            if inst.owner.is_some() && m.uid() != 0 {
                out.push(format!("not owned by root: {}", p.display()));
            }
        }
    }
    let Some((id, _)) = &inst.owner else {
        return out;
    };
    for d in QUEUE_DIRS {
        let p = inst.queue_dir.join(d.name);
        let Ok(m) = std::fs::metadata(&p) else {
            continue;
        };
        let want = inst.ids(d.owner).map(|(u, _)| u.as_raw()).unwrap_or(0);
        if m.uid() != want {
            let who = if want == 0 { "root" } else { id.name.as_str() };
            out.push(format!("not owned by {}: {}", who, p.display()));
        }
    }
    if let Ok(m) = std::fs::metadata(&inst.data_dir)
        && m.uid() != id.uid.as_raw() {
            out.push(format!(
                "not owned by {}: {}",
                id.name,
                inst.data_dir.display()
            ));
        }
    out
}

/// Gives the queue, the data directory and the set-gid commands
/// Postfix's owners and modes.
pub fn set_permissions(inst: &Instance) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(e) = fatal_checks(inst) {
        errors.extend(e);
    }
    let Some((_, setgid)) = &inst.owner else {
        return errors;
    };
    let root_ids = Some((Uid::from_raw(0), Gid::from_raw(0)));
    let mut fix = |p: &Path, mode: u32, ids| {
        if let Err(e) = set_mode_owner(p, mode, ids) {
            errors.push(e);
        }
    };
    fix(&inst.queue_dir, 0o755, root_ids);
    for d in QUEUE_DIRS {
        fix(&inst.queue_dir.join(d.name), d.mode, inst.ids(d.owner));
    }
    fix(&inst.data_dir, 0o700, inst.ids(Owner::MailOwner));
    for cmd in ["postdrop", "postqueue"] {
        let p = inst.command_dir.join(cmd);
        if p.is_file() {
            fix(&p, 0o2755, Some((Uid::from_raw(0), *setgid)));
        }
    }
    errors
}
