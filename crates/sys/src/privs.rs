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
//!
//! [`impersonate`] is Postfix's `set_eugid()`: a root process that must
//! open, create and write files as a mail recipient (local(8),
//! virtual(8)) switches its effective user and group, and its
//! supplementary groups to the one group, and gets root back when the
//! returned guard is dropped. Call it only from a single-threaded
//! process: the switch applies to the whole process.

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

/// The user with number `uid`, if there is one.
pub fn lookup_uid(uid: Uid) -> Result<Option<Identity>, PrivError> {
    match User::from_uid(uid) {
        Ok(u) => Ok(u.map(|u| Identity {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
            home: u.dir,
        })),
        Err(e) => Err(PrivError::Sys {
            call: "getpwuid",
            errno: e,
        }),
    }
}

/// Effective user and group switched by [`impersonate`]; dropping it
/// restores root and the groups the process had.
#[derive(Debug)]
#[must_use = "the identity is restored when the guard is dropped"]
pub struct Impersonation {
    /// What to restore; `None` when nothing was switched (not root).
    saved: Option<(Gid, Vec<Gid>)>,
}

/// Becomes `uid`/`gid` for file access (effective IDs and the one
/// supplementary group `gid`) until the guard is dropped. A process
/// that is not root cannot switch and keeps its own identity (the
/// unprivileged mode of DESIGN.md); the guard then restores nothing.
pub fn impersonate(uid: Uid, gid: Gid) -> Result<Impersonation, PrivError> {
    if !is_root() {
        return Ok(Impersonation { saved: None });
    }
    let saved_gid = nix::unistd::getegid();
    let saved_groups = nix::unistd::getgroups().map_err(sys("getgroups"))?;
    let guard = Impersonation {
        saved: Some((saved_gid, saved_groups)),
    };
    // On any failure the guard's Drop puts back what was changed.
    nix::unistd::setgroups(&[gid]).map_err(sys("setgroups"))?;
    nix::unistd::setegid(gid).map_err(sys("setegid"))?;
    nix::unistd::seteuid(uid).map_err(sys("seteuid"))?;
    Ok(guard)
}

impl Drop for Impersonation {
    fn drop(&mut self) {
        let Some((gid, groups)) = self.saved.take() else {
            return;
        };
        // Root first: the other calls need it. Failing to get root back
        // would leave a delivery agent running as a mail recipient, which
        // must not go on serving other recipients.
        if nix::unistd::seteuid(Uid::from_raw(0)).is_err()
            || nix::unistd::setegid(gid).is_err()
            || nix::unistd::setgroups(&groups).is_err()
        {
            panic!("cannot restore root privileges after impersonation");
        }
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
