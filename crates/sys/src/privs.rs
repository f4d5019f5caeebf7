//! # NAME
//! privs — users, groups, privilege drop and chroot
//!
//! ## SYNOPSIS
//! ```ignore
//! let owner = privs::lookup_user("postfix")?;
//! privs::drop_to(&owner, Some(Path::new("/var/spool/postfix")))?;
//! ```
//!
//! ## DESCRIPTION
//! [`drop_to`] does what Postfix's `chroot_uid()` does, in the same order:
//! chroot (and chdir to the new root) while still privileged, then the
//! supplementary groups, the group and finally the user. Afterwards it
//! checks that root cannot be regained. Without root privileges there is
//! nothing to drop and nothing is changed (unprivileged mode).

use std::path::Path;

use nix::unistd::{Gid, Group, Uid, User};

/// A user to run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: std::path::PathBuf,
}

/// Why privileges could not be changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivError {
    /// The named user does not exist.
    #[error("unknown user: {0}")]
    NoUser(String),
    /// The named group does not exist.
    #[error("unknown group: {0}")]
    NoGroup(String),
    /// A system call failed.
    #[error("{call}: {errno}")]
    Sys {
        call: &'static str,
        errno: nix::Error,
    },
    /// The process could get root back after dropping it.
    #[error("privileges were not dropped: uid 0 is still reachable")]
    NotDropped,
}

fn sys(call: &'static str) -> impl FnOnce(nix::Error) -> PrivError {
    move |errno| PrivError::Sys { call, errno }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The user this process runs as.
pub fn current_user() -> Identity {
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    match User::from_uid(uid) {
        Ok(Some(u)) => Identity {
            name: u.name,
            uid,
            gid,
            home: u.dir,
        },
        _ => Identity {
            name: uid.to_string(),
            uid,
            gid,
            home: "/".into(),
        },
    }
}

pub fn lookup_user(name: &str) -> Result<Identity, PrivError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(Identity {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
            home: u.dir,
        }),
        Ok(None) => Err(PrivError::NoUser(name.to_string())),
        Err(e) => Err(PrivError::Sys {
            call: "getpwnam",
            errno: e,
        }),
    }
}

pub fn lookup_group(name: &str) -> Result<Gid, PrivError> {
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(PrivError::NoGroup(name.to_string())),
        Err(e) => Err(PrivError::Sys {
            call: "getgrnam",
            errno: e,
        }),
    }
}

/// Chroots to `root` (if any) and becomes `id` for good. A no-op for an
/// unprivileged process, which can do neither.
pub fn drop_to(id: &Identity, root: Option<&Path>) -> Result<(), PrivError> {
    if !is_root() {
        return Ok(());
    }
    if let Some(root) = root {
        nix::unistd::chroot(root).map_err(sys("chroot"))?;
        nix::unistd::chdir("/").map_err(sys("chdir"))?;
    }
    nix::unistd::setgroups(&[id.gid]).map_err(sys("setgroups"))?;
    nix::unistd::setgid(id.gid).map_err(sys("setgid"))?;
    nix::unistd::setuid(id.uid).map_err(sys("setuid"))?;
    if !id.uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivError::NotDropped);
    }
    Ok(())
}
