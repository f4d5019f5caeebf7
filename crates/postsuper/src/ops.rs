//! # NAME
//! ops — what postsuper does to one message
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut s = Super::new(layout, queues);
//! s.one(Action::Hold, &id);        // "ID: placed on hold"
//! s.all(Action::Delete);           // silent; counted
//! s.report();                      // "Deleted: 3 messages"
//! ```
//!
//! ## DESCRIPTION
//! Each action looks for the message in the queues it applies to, in
//! order — the queues named on the command line, or its defaults:
//!
//! | action | default queues | effect |
//! | --- | --- | --- |
//! | delete (`-d`) | hold incoming active deferred | removes the file and its bounce, defer and trace logs |
//! | hold (`-h`) | incoming active deferred | moves it to `hold` |
//! | release (`-H`) | hold | moves it to `deferred`, time reset so that it is due now |
//! | requeue (`-r`) | hold incoming active deferred | writes its envelope and content as a new `maildrop` file (arrival time kept, delivered recipients left out) for pickup(8) and cleanup(8), then removes it |
//! | expire (`-e`) | hold incoming active deferred | sets the forced-expiration mark |
//! | expire and release (`-f`) | hold incoming active deferred | both |
//!
//! A message named by its ID is reported (`ID: removed`); `ALL` works
//! silently. Every file is reached without following a symbolic link:
//! a link in a queue is treated as a damaged entry and only removed.
//!
//! ## SEE ALSO
//! postsuper(1), [`queue::file`], [`queue::maildrop`]

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon::log::{self, Level};
use queue::file::{MODE_EXPIRE, mode_is_forced_expire};
use queue::maildrop::{self, Submission, SubmittedRecipient};
use queue::scan::Scanner;
use queue::{Layout, QueueFile, QueueId, RcptState};

/// The message queues.
pub const MESSAGE_QUEUES: &[&str] = &["hold", "incoming", "active", "deferred"];
/// The per-message logs.
pub const LOG_QUEUES: &[&str] = &["bounce", "defer", "trace"];
/// The queue names the command line may give.
pub const VALID_QUEUES: &[&str] = &[
    "maildrop", "incoming", "active", "deferred", "hold", "bounce", "defer", "trace", "flush",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delete,
    Hold,
    Release,
    Requeue,
    Expire,
    ExpireRelease,
}

impl Action {
    fn default_queues(self) -> &'static [&'static str] {
        match self {
            Action::Hold => &["incoming", "active", "deferred"],
            Action::Release => &["hold"],
            _ => MESSAGE_QUEUES,
        }
    }

    /// Whether the action applies to a file in `queue`.
    fn applies_to(self, queue: &str) -> bool {
        match self {
            Action::Delete => true,
            Action::Hold => MESSAGE_QUEUES.contains(&queue) && queue != "hold",
            Action::Release => queue == "hold",
            Action::Requeue | Action::Expire | Action::ExpireRelease => {
                MESSAGE_QUEUES.contains(&queue)
            }
        }
    }
}

/// Counters, in the order postsuper reports them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub requeued: u64,
    pub deleted: u64,
    pub expired: u64,
    pub held: u64,
    pub released: u64,
}

/// The state of one postsuper run.
pub struct Super {
    pub layout: Layout,
    /// Queues named on the command line (empty: each action's defaults).
    pub queues: Vec<String>,
    pub counts: Counts,
    /// Which counters to report.
    requested: [bool; 5],
    /// Wake pickup(8) at the end (something was requeued).
    pub wake_pickup: bool,
}

fn say(text: &str) {
    log::log_str(Level::Info, text);
}

fn warn(text: &str) {
    log::log_str(Level::Warning, text);
}

impl Super {
    pub fn new(layout: Layout, queues: Vec<String>) -> Super {
        Super {
            layout,
            queues,
            counts: Counts::default(),
            requested: [false; 5],
            wake_pickup: false,
        }
    }

    fn queues_for(&self, a: Action) -> Vec<String> {
        if self.queues.is_empty() {
            a.default_queues().iter().map(|q| q.to_string()).collect()
        } else {
            self.queues.clone()
        }
    }

    fn request(&mut self, a: Action) {
        match a {
            Action::Requeue => self.requested[0] = true,
            Action::Delete => self.requested[1] = true,
            Action::Expire => self.requested[2] = true,
            Action::ExpireRelease => {
                self.requested[2] = true;
                self.requested[4] = true;
            }
            Action::Hold => self.requested[3] = true,
            Action::Release => self.requested[4] = true,
        }
    }

    /// Applies `a` to the message `name` (from the command line or
    /// standard input), reporting what it did.
    pub fn one(&mut self, a: Action, name: &str) {
        self.request(a);
        if !QueueId::name_ok(name) {
            warn(&format!("invalid mail queue id: {name}"));
            return;
        }
        // A name of the right characters that is not one of our IDs
        // cannot be in the queue.
        let Some(id) = QueueId::parse(name) else {
            return;
        };
        for q in self.queues_for(a) {
            if !a.applies_to(&q) {
                continue;
            }
            let path = self.layout.path_of(&q, &id);
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            self.apply(a, &q, &id, true);
            break;
        }
    }

    /// Applies `a` to every message in its queues, silently.
    pub fn all(&mut self, a: Action) {
        self.request(a);
        for q in self.queues_for(a) {
            if !a.applies_to(&q) {
                continue;
            }
            for found in Scanner::new(&self.layout, &q) {
                match found {
                    Ok(f) => self.apply(a, &q, &f.id, false),
                    Err(e) => {
                        warn(&format!("scan {q}: {e}"));
                        break;
                    }
                }
            }
        }
    }

    fn apply(&mut self, a: Action, queue: &str, id: &QueueId, verbose: bool) {
        let report = |what: &str| {
            if verbose {
                say(&format!("{id}: {what}"));
            }
        };
        match a {
            Action::Delete => {
                if self.delete(queue, id) {
                    self.counts.deleted += 1;
                    report("removed");
                }
            }
            Action::Hold => {
                if self.rename(id, queue, "hold", false) {
                    self.counts.held += 1;
                    report("placed on hold");
                }
            }
            Action::Release => {
                if self.rename(id, queue, "deferred", true) {
                    self.counts.released += 1;
                    report("released from hold");
                }
            }
            Action::Requeue => {
                if self.requeue(queue, id) {
                    self.counts.requeued += 1;
                    self.wake_pickup = true;
                    report("requeued");
                }
            }
            Action::Expire | Action::ExpireRelease => {
                if self.expire(queue, id) {
                    self.counts.expired += 1;
                    report("expired");
                }
                if a == Action::ExpireRelease
                    && queue == "hold"
                    && self.rename(id, "hold", "deferred", true)
                {
                    self.counts.released += 1;
                    report("released from hold");
                }
            }
        }
    }

    fn delete(&self, queue: &str, id: &QueueId) -> bool {
        let path = self.layout.path_of(queue, id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
            Err(e) => {
                warn(&format!("remove file {}: {}", path.display(), e));
                return false;
            }
        }
        if !LOG_QUEUES.contains(&queue) {
            for log in LOG_QUEUES {
                let p = self.layout.path_of(log, id);
                if let Err(e) = std::fs::remove_file(&p)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    warn(&format!("remove file {}: {}", p.display(), e));
                }
            }
        }
        true
    }

    /// Moves a message; `now` resets its time so that it is due at once.
    fn rename(&self, id: &QueueId, from: &str, to: &str, now: bool) -> bool {
        let path = self.layout.path_of(from, id);
        if now {
            let t = SystemTime::now();
            let r = OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
                .open(&path)
                .and_then(|f| {
                    f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
                });
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
                Err(e) => warn(&format!("{id}: reset time stamps: {e}")),
            }
        }
        match self.layout.move_file(id, from, to) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                warn(&format!(
                    "rename file {} as {}: {}",
                    path.display(),
                    self.layout.path_of(to, id).display(),
                    e
                ));
                false
            }
        }
    }

    /// Sets the forced-expiration mark; false if it was already set.
    fn expire(&self, queue: &str, id: &QueueId) -> bool {
        let path = self.layout.path_of(queue, id);
        let f = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
            Err(e) => {
                warn(&format!("expire file {}: {}", path.display(), e));
                return false;
            }
        };
        let mode = match f.metadata() {
            Ok(m) if m.is_file() => m.mode() & 0o7777,
            _ => return false,
        };
        if mode_is_forced_expire(mode) {
            return false;
        }
        match f.set_permissions(std::fs::Permissions::from_mode(mode | MODE_EXPIRE)) {
            Ok(()) => true,
            Err(e) => {
                warn(&format!(
                    "expire file {}: cannot set permission: {}",
                    path.display(),
                    e
                ));
                false
            }
        }
    }

    /// Copies a message into maildrop for pickup and cleanup, then
    /// removes it.
    fn requeue(&self, queue: &str, id: &QueueId) -> bool {
        let path = self.layout.path_of(queue, id);
        let mut f = match QueueFile::open_read(&path, id) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
            Err(e) => {
                warn(&format!("{id}: {e}"));
                return false;
            }
        };
        let env = match f.read_envelope() {
            Ok(env) => env,
            Err(e) => {
                warn(&format!("{id}: {e}"));
                return false;
            }
        };
        let mut attrs = Vec::new();
        for name in ["encoding", "smtputf8"] {
            if let Some(v) = env.attr(name) {
                attrs.push((name.to_string(), v.to_string()));
            }
        }
        let sub = Submission {
            sender: env.sender.clone(),
            recipients: env
                .recipients
                .iter()
                .filter(|r| r.state == RcptState::Todo)
                .map(|r| SubmittedRecipient {
                    address: r.address.clone(),
                    notify: r.notify,
                    orcpt: r.orcpt.clone(),
                })
                .collect(),
            full_name: env.attr("sender_fullname").map(str::to_string),
            dsn_ret: env.dsn_ret,
            dsn_envid: env.dsn_envid.clone(),
            attrs,
            ..Default::default()
        };
        let arrival = UNIX_EPOCH + Duration::new(env.arrival.0, env.arrival.1.min(999_999) * 1000);
        let written = f
            .content_reader(&env)
            .map_err(|e| e.to_string())
            .and_then(|mut content| {
                maildrop::write_at(&self.layout, &sub, &mut content, 0, arrival)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            warn(&format!("{id}: requeue: {e}"));
            return false;
        }
        self.delete(queue, id)
    }

    /// The summary lines, for the actions that were asked for.
    pub fn report(&self) {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        let c = self.counts;
        let lines = [
            ("Requeued", c.requeued),
            ("Deleted", c.deleted),
            ("Force-expired", c.expired),
            ("Placed on hold", c.held),
            ("Released from hold", c.released),
        ];
        for (i, (what, n)) in lines.iter().enumerate() {
            if self.requested[i] {
                say(&format!("{what}: {n} message{}", plural(*n)));
            }
        }
    }
}
