//! # NAME
//! dirs — the directories under `queue_directory`
//!
//! ## SYNOPSIS
//! ```ignore
//! for d in dirs::QUEUE_DIRS { ... d.name, d.owner, d.mode ... }
//! ```
//!
//! ## DESCRIPTION
//! The subdirectories of `queue_directory`, with the owner class and mode
//! Postfix gives them: queue and log directories belong to `mail_owner`
//! with mode 0700; `maildrop` (0730) and `public` (0710) also to the
//! `setgid_group`, so that postdrop(1) and postqueue(1) can reach them;
//! `pid` belongs to root (0755). The queue directory itself belongs to
//! root with mode 0755. In unprivileged mode everything belongs to the
//! user who runs the instance.
//!
//! ## SEE ALSO
//! postfix(1) `check` and `set-permissions`

/// Who owns a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// root (group root).
    Root,
    /// `mail_owner` (group root, as Postfix leaves it).
    MailOwner,
    /// `mail_owner` with group `setgid_group`.
    MailOwnerSetgid,
}

/// One directory of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDir {
    pub name: &'static str,
    pub owner: Owner,
    pub mode: u32,
}

const fn dir(name: &'static str, owner: Owner, mode: u32) -> QueueDir {
    QueueDir { name, owner, mode }
}

/// The directories `postfix check` creates, in alphabetical order.
pub const QUEUE_DIRS: &[QueueDir] = &[
    dir("active", Owner::MailOwner, 0o700),
    dir("bounce", Owner::MailOwner, 0o700),
    dir("corrupt", Owner::MailOwner, 0o700),
    dir("defer", Owner::MailOwner, 0o700),
    dir("deferred", Owner::MailOwner, 0o700),
    dir("flush", Owner::MailOwner, 0o700),
    dir("hold", Owner::MailOwner, 0o700),
    dir("incoming", Owner::MailOwner, 0o700),
    dir("maildrop", Owner::MailOwnerSetgid, 0o730),
    dir("pid", Owner::Root, 0o755),
    dir("private", Owner::MailOwner, 0o700),
    dir("public", Owner::MailOwnerSetgid, 0o710),
    dir("saved", Owner::MailOwner, 0o700),
    dir("trace", Owner::MailOwner, 0o700),
];

/// The queue directories that hold messages (as opposed to logs, sockets
/// and the pid file).
pub const MESSAGE_QUEUES: &[&str] = &[
    "maildrop", "incoming", "active", "deferred", "hold", "corrupt",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique() {
        assert!(QUEUE_DIRS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(
            MESSAGE_QUEUES
                .iter()
                .all(|q| QUEUE_DIRS.iter().any(|d| d.name == *q))
        );
    }
}
