//! # NAME
//! service — running services: listeners, children, status, wakeups, reload
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut m = Master::new(cfg, defs, owner)?;
//! m.run(signals);
//! ```
//!
//! ## DESCRIPTION
//! For each service master keeps its listeners, its status channel and
//! its children. A newly started child counts as available until it says
//! it has taken a client. While a service has no available child, master
//! watches its listeners; when one becomes readable (a client, or a
//! wakeup) and the process limit allows, it starts another child.
//!
//! A child that exits abnormally is logged; one that did so before serving
//! anything throttles its service for `service_throttle_time`, so that a
//! program that cannot start (missing, bad configuration) never runs in a
//! tight loop while the other services go on.
//!
//! Services with a wakeup period get a `W` trigger at start and every
//! period; `N?` services only once they have been used.
//!
//! A reload keeps the listeners of services whose endpoints did not
//! change, gives every service a new status channel (old children finish
//! and exit), stops the children of removed services at once and starts
//! listening for new ones. A configuration that does not load is logged
//! and the old one stays.
//!
//! ## SEE ALSO
//! master(8), [`crate::ent`], [`daemon::master_proto`]

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use daemon::master_proto::{self, Avail};
use daemon::{verbose, warn};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitStatus;
use nix::unistd::{Gid, Pid, Uid};

use crate::ent::{Endpoint, ServiceDef};
use crate::listen;

/// One child process.
struct Child {
    service: u64,
    generation: u32,
    avail: bool,
    uses: u32,
}

/// A service as it runs.
struct Running {
    key: u64,
    def: ServiceDef,
    listeners: Vec<(Endpoint, OwnedFd)>,
    status: UnixStream,
    status_child: OwnedFd,
    pending: Vec<u8>,
    generation: u32,
    avail: u32,
    total: u32,
    throttled_until: Option<Instant>,
    next_wakeup: Option<Instant>,
    used: bool,
    limit_warned: Option<Instant>,
}

impl Running {
    fn watching(&self) -> bool {
        self.avail == 0
            && self.throttled_until.is_none()
            && (self.def.max_proc == 0 || self.total < self.def.max_proc)
    }
}

/// Settings master itself reads from main.cf.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_dir: PathBuf,
    pub owner: Option<(Uid, Gid)>,
    pub throttle: Duration,
    pub env: Vec<String>,
}

/// What the event loop should do next.
pub enum Next {
    Continue,
    Reload,
    Terminate(Signal),
}

pub struct Master {
    settings: Settings,
    services: Vec<Running>,
    children: HashMap<Pid, Child>,
    next_key: u64,
    generation: u32,
}

fn status_channel() -> std::io::Result<(UnixStream, OwnedFd)> {
    let (master_end, child_end) = master_proto::status_pair()?;
    master_end.set_nonblocking(true)?;
    Ok((master_end, OwnedFd::from(child_end)))
}

impl Master {
    pub fn new(settings: Settings) -> Master {
        Master {
            settings,
            services: Vec::new(),
            children: HashMap::new(),
            next_key: 1,
            generation: 1,
        }
    }

    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
    }

    /// Opens the endpoints of `defs`, reusing those of current services
    /// with the same endpoint; on failure nothing changes.
    fn open_endpoints(
        &mut self,
        defs: &[ServiceDef],
    ) -> Result<Vec<Vec<(Endpoint, OwnedFd)>>, String> {
        let mut out = Vec::with_capacity(defs.len());
        for def in defs {
            let mut fds = Vec::new();
            for ep in &def.endpoints {
                let reused = self.services.iter().find_map(|s| {
                    (s.def.kind == def.kind)
                        .then(|| s.listeners.iter().find(|(e, _)| e == ep))
                        .flatten()
                        .and_then(|(_, fd)| fd.try_clone().ok())
                });
                let fd = match reused {
                    Some(fd) => fd,
                    None => listen::open(ep, self.settings.owner)
                        .map_err(|e| format!("{}: bind {}: {}", def.id, listen::describe(ep), e))?,
                };
                fds.push((ep.clone(), fd));
            }
            out.push(fds);
        }
        Ok(out)
    }

    /// Starts serving `defs` (at start-up, or after a reload).
    pub fn install(&mut self, defs: Vec<ServiceDef>) -> Result<(), String> {
        let endpoints = self.open_endpoints(&defs)?;
        self.generation += 1;
        let now = Instant::now();
        let mut new_services = Vec::with_capacity(defs.len());
        for (def, listeners) in defs.into_iter().zip(endpoints) {
            let (status, status_child) =
                status_channel().map_err(|e| format!("status channel: {e}"))?;
            let old = self
                .services
                .iter()
                .find(|s| s.def.name == def.name && s.def.kind == def.kind);
            let used = old.is_some_and(|s| s.used);
            let next_wakeup = def.wakeup.map(|w| {
                if w.conditional {
                    now + Duration::from_secs(w.seconds.into())
                } else {
                    now
                }
            });
            let key = self.next_key;
            self.next_key += 1;
            new_services.push(Running {
                key,
                def,
                listeners,
                status,
                status_child,
                pending: Vec::new(),
                generation: self.generation,
                avail: 0,
                total: 0,
                throttled_until: None,
                next_wakeup,
                used,
                limit_warned: None,
            });
        }
        let old = std::mem::replace(&mut self.services, new_services);
        // Children of removed services stop now; the others finish their
        // client and leave when they see the old status channel close.
        for s in old {
            let kept = self
                .services
                .iter()
                .any(|n| n.def.name == s.def.name && n.def.kind == s.def.kind);
            if !kept {
                for (ep, _) in &s.listeners {
                    if !self
                        .services
                        .iter()
                        .any(|n| n.listeners.iter().any(|(e, _)| e == ep))
                    {
                        listen::remove(ep);
                    }
                }
                for (pid, c) in &self.children {
                    if c.service == s.key {
                        let _ = kill(*pid, Signal::SIGTERM);
                    }
                }
            }
        }
        Ok(())
    }

    fn service_index(&self, key: u64) -> Option<usize> {
        self.services.iter().position(|s| s.key == key)
    }

    /// Starts one child of service `i`.
    fn spawn(&mut self, i: usize) {
        let s = &mut self.services[i];
        let mut fds = vec![(s.status_child.as_raw_fd(), master_proto::STATUS_FD)];
        for (n, (_, fd)) in s.listeners.iter().enumerate() {
            fds.push((fd.as_raw_fd(), master_proto::LISTEN_FD + n as i32));
        }
        let mut env = self.settings.env.clone();
        env.push(format!(
            "MAIL_CONFIG={}",
            self.settings.config_dir.display()
        ));
        env.push(format!("{}={}", master_proto::GENERATION_ENV, s.generation));
        let spec = (|| -> std::io::Result<sys::process::Spawn> {
            Ok(sys::process::Spawn {
                path: sys::process::cstring(&s.def.path.to_string_lossy())?,
                argv: s
                    .def
                    .argv
                    .iter()
                    .map(|a| sys::process::cstring(a))
                    .collect::<Result<_, _>>()?,
                env: env
                    .iter()
                    .map(|a| sys::process::cstring(a))
                    .collect::<Result<_, _>>()?,
                fds,
            })
        })();
        let path = s.def.path.display().to_string();
        let result = spec.and_then(|spec| {
            sys::process::spawn(&spec, |err| {
                daemon::log::log_str(
                    daemon::log::Level::Fatal,
                    &format!("master_spawn: exec {path}: {}", io_text(err)),
                );
            })
        });
        match result {
            Ok(pid) => {
                verbose!("spawn: {} pid {}", s.def.id, pid);
                s.avail += 1;
                s.total += 1;
                s.used = true;
                self.children.insert(
                    pid,
                    Child {
                        service: s.key,
                        generation: s.generation,
                        avail: true,
                        uses: 0,
                    },
                );
            }
            Err(e) => {
                warn!(
                    "master_spawn: fork {}: {} -- throttling",
                    s.def.id,
                    io_text(&e)
                );
                s.throttled_until = Some(Instant::now() + self.settings.throttle);
            }
        }
    }

    /// A listener of service `i` is readable.
    fn listener_ready(&mut self, i: usize) {
        let s = &mut self.services[i];
        if s.throttled_until.is_some() || s.avail > 0 {
            return;
        }
        if s.def.max_proc != 0 && s.total >= s.def.max_proc {
            let now = Instant::now();
            if s.limit_warned
                .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1000))
            {
                s.limit_warned = Some(now);
                warn!(
                    "service \"{}\" ({}) has reached its process limit \"{}\": new clients may experience noticeable delays",
                    s.def.name,
                    s.def
                        .endpoints
                        .first()
                        .map(listen::describe)
                        .unwrap_or_default(),
                    s.def.max_proc
                );
                warn!(
                    "to avoid this condition, increase the process limit of the service, or increase the process limit for all services"
                );
                warn!(
                    "for example: 'postconf -F {}/maxproc=NUMBER' or 'postconf -e default_process_limit=NUMBER', then 'postfix reload'",
                    s.def.id
                );
            }
            return;
        }
        self.spawn(i);
    }

    /// Reads the status channel of service `i`.
    fn status_ready(&mut self, i: usize) {
        let s = &mut self.services[i];
        let msgs = match master_proto::read_status(&mut s.status, &mut s.pending) {
            Ok(m) => m,
            Err(e) => {
                warn!("{}: status channel: {}", s.def.id, e);
                s.pending.clear();
                return;
            }
        };
        for m in msgs {
            let pid = Pid::from_raw(m.pid);
            let Some(c) = self.children.get_mut(&pid) else {
                verbose!("status from unknown process {}", m.pid);
                continue;
            };
            if c.service != s.key || m.generation != s.generation {
                continue;
            }
            match (m.avail, c.avail) {
                (Avail::Taken, true) => {
                    c.avail = false;
                    c.uses += 1;
                    s.avail -= 1;
                }
                (Avail::Avail, false) => {
                    c.avail = true;
                    s.avail += 1;
                }
                _ => {}
            }
        }
    }

    /// Reaps exited children.
    pub fn reap(&mut self) {
        while let Some((pid, status)) = sys::process::reap() {
            let Some(c) = self.children.remove(&pid) else {
                continue;
            };
            let i = self.service_index(c.service);
            let path = i
                .map(|i| self.services[i].def.path.display().to_string())
                .unwrap_or_default();
            let normal = matches!(status, WaitStatus::Exited(_, 0));
            match status {
                WaitStatus::Exited(_, 0) => {}
                WaitStatus::Exited(_, code) => {
                    warn!("process {} pid {} exit status {}", path, pid, code)
                }
                WaitStatus::Signaled(_, sig, _) => {
                    warn!(
                        "process {} pid {} killed by signal {}",
                        path, pid, sig as i32
                    )
                }
                _ => {}
            }
            let Some(i) = i else { continue };
            let s = &mut self.services[i];
            if c.generation != s.generation {
                continue;
            }
            s.total = s.total.saturating_sub(1);
            if c.avail {
                s.avail = s.avail.saturating_sub(1);
            }
            if !normal && c.uses == 0 && s.throttled_until.is_none() {
                warn!("{}: bad command startup -- throttling", path);
                s.throttled_until = Some(Instant::now() + self.settings.throttle);
            }
        }
    }

    /// Sends the `W` wakeup to service `i`.
    fn wakeup(&mut self, i: usize) {
        let s = &mut self.services[i];
        let Some(w) = s.def.wakeup else { return };
        s.next_wakeup = Some(Instant::now() + Duration::from_secs(w.seconds.into()));
        if w.conditional && !s.used {
            return;
        }
        let Some((ep, _)) = s.listeners.first() else {
            return;
        };
        let sent = match ep {
            Endpoint::Unix(p) => UnixStream::connect(p).and_then(|mut c| {
                c.set_nonblocking(true)?;
                c.write_all(b"W")
            }),
            Endpoint::Fifo(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(nix::libc::O_NONBLOCK)
                    .open(p)
                    .and_then(|mut f| f.write_all(b"W"))
            }
            Endpoint::Dgram(p) => std::os::unix::net::UnixDatagram::unbound()
                .and_then(|d| d.send_to(b"W", p).map(drop)),
            Endpoint::Inet(a) => std::net::TcpStream::connect_timeout(a, Duration::from_secs(1))
                .and_then(|mut c| c.write_all(b"W")),
        };
        if let Err(e) = sent {
            verbose!("wakeup {}: {}", s.def.id, e);
        }
    }

    /// The time of the next timer event, if any.
    fn next_deadline(&self) -> Option<Instant> {
        self.services
            .iter()
            .flat_map(|s| [s.throttled_until, s.next_wakeup])
            .flatten()
            .min()
    }

    /// Runs due timers: throttle ends and wakeups.
    fn timers(&mut self) {
        let now = Instant::now();
        for i in 0..self.services.len() {
            if self.services[i].throttled_until.is_some_and(|t| t <= now) {
                self.services[i].throttled_until = None;
            }
            if self.services[i].next_wakeup.is_some_and(|t| t <= now) {
                self.wakeup(i);
            }
        }
    }

    /// Waits for and handles one round of events. `extra` is the signal
    /// descriptor; `on_signal` says what a signal means.
    pub fn poll_once(
        &mut self,
        signals: &sys::signals::Signals,
        deadline: Option<Instant>,
    ) -> Next {
        enum What {
            Signals,
            Status(usize),
            Listener(usize),
        }
        let mut what = vec![What::Signals];
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        for (i, s) in self.services.iter().enumerate() {
            what.push(What::Status(i));
            fds.push(PollFd::new(s.status.as_fd(), PollFlags::POLLIN));
            if s.watching() {
                for (_, fd) in &s.listeners {
                    what.push(What::Listener(i));
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        let now = Instant::now();
        let until = [self.next_deadline(), deadline].into_iter().flatten().min();
        let timeout = match until {
            Some(t) => {
                let ms = t
                    .saturating_duration_since(now)
                    .as_millis()
                    .min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms.max(0)).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let ready: Vec<usize> = match poll(&mut fds, timeout) {
            Ok(0) | Err(_) => Vec::new(),
            Ok(_) => fds
                .iter()
                .enumerate()
                .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(n, _)| n)
                .collect(),
        };
        drop(fds);
        let mut next = Next::Continue;
        let mut listeners_done = Vec::new();
        for n in ready {
            match what[n] {
                What::Signals => {
                    for sig in signals.pending() {
                        match sig {
                            Signal::SIGCHLD => self.reap(),
                            Signal::SIGHUP => next = Next::Reload,
                            Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT => {
                                next = Next::Terminate(sig)
                            }
                            _ => {}
                        }
                    }
                }
                What::Status(i) => self.status_ready(i),
                What::Listener(i) => {
                    if !listeners_done.contains(&i) {
                        listeners_done.push(i);
                        self.listener_ready(i);
                    }
                }
            }
        }
        self.timers();
        next
    }

    /// Stops every child: SIGTERM, a short wait, then SIGKILL.
    pub fn terminate_children(&mut self, grace: Duration) {
        for pid in self.children.keys() {
            let _ = kill(*pid, Signal::SIGTERM);
        }
        let until = Instant::now() + grace;
        while !self.children.is_empty() && Instant::now() < until {
            if let Some((pid, _)) = sys::process::reap() {
                self.children.remove(&pid);
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        for pid in self.children.keys() {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        while !self.children.is_empty() {
            match nix::sys::wait::waitpid(None, None) {
                Ok(s) => {
                    if let Some(p) = s.pid() {
                        self.children.remove(&p);
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// Services and their endpoints, for the start-up log.
    pub fn describe(&self) -> Vec<String> {
        self.services
            .iter()
            .map(|s| {
                let eps: Vec<String> = s
                    .listeners
                    .iter()
                    .map(|(e, _)| listen::describe(e))
                    .collect();
                format!("{} {}", s.def.id, eps.join(" "))
            })
            .collect()
    }

    /// Logs at info level what is being served (with -v).
    pub fn log_services(&self) {
        for d in self.describe() {
            verbose!("service {}", d);
        }
    }
}

/// An I/O error as Postfix prints errno text.
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}
