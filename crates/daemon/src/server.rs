//! # NAME
//! server — the daemon skeletons: single, multi, trigger and datagram servers
//!
//! ## SYNOPSIS
//! ```ignore
//! fn main() {
//!     daemon::single_server_main("smtpd", |ctx| Smtpd::pre_init(ctx));
//! }
//! impl SingleServer for Smtpd {
//!     fn serve(&mut self, ctx: &Ctx, client: Client) { ... }
//! }
//! ```
//!
//! ## DESCRIPTION
//! Every daemon starts the same way: parse the generic options
//! ([`crate::args`]), read main.cf from `MAIL_CONFIG` and apply the `-o`
//! overrides, set up logging, chdir to `queue_directory`, take the
//! listeners and the status channel from master(8), run the program's
//! `pre_init` (still privileged: open what needs root), then chroot
//! (`-c`) and drop to `mail_owner` (`-u`) before the first byte from a
//! client is read, run `post_init`, and serve:
//!
//! * **single server**: one client at a time; reports "taken" to master
//!   while serving so that master starts another process when needed
//!   (smtpd, cleanup, local, smtp, ...);
//! * **multi server**: many clients on one event loop; each readable client
//!   gets one request/reply turn (trivial-rewrite, proxymap, anvil,
//!   scache);
//! * **trigger server**: reads wakeup bytes from a fifo or unix socket
//!   (pickup, qmgr, flush), with an optional timer;
//! * **datagram server**: one datagram per call (postlogd).
//!
//! A process exits after `max_use` clients, after `max_idle` without one
//! (unless the program asks otherwise), and, while idle, as soon as master
//! closes the status channel (reload, stop): old processes finish what they
//! do and go away.
//!
//! ## SEE ALSO
//! master(8), [`crate::master_proto`], [`crate::args`]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use config::{Config, ServiceType, params};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::args::DaemonArgs;
use crate::master_proto::{Avail, LISTEN_FD, StatusChannel};
use crate::{fatal, verbose};

/// What every hook gets: the configuration and the options.
pub struct Ctx {
    pub cfg: Config,
    pub args: DaemonArgs,
    pub program: String,
    pub queue_directory: PathBuf,
}

impl Ctx {
    /// A time parameter, fatal when it is bad.
    pub fn time(&self, p: &params::TimeParam) -> Duration {
        self.cfg.time(p).unwrap_or_else(|e| fatal!("{e}"))
    }

    /// An integer parameter, fatal when it is bad.
    pub fn int(&self, p: &params::IntParam) -> i64 {
        self.cfg.int(p).unwrap_or_else(|e| fatal!("{e}"))
    }

    /// A boolean parameter, fatal when it is bad.
    pub fn bool(&self, p: &params::BoolParam) -> bool {
        self.cfg.bool(p).unwrap_or_else(|e| fatal!("{e}"))
    }

    /// A string parameter, expanded; fatal when it cannot be.
    pub fn str(&self, p: &params::StrParam) -> String {
        self.cfg.str(p).unwrap_or_else(|e| fatal!("{e}"))
    }
}

/// A listening descriptor of one of the master.cf types.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
    /// A `pass` service: each connection carries one passed descriptor,
    /// a TCP connection handed over by another process.
    Pass(UnixListener),
    Fifo(File),
    Dgram(UnixDatagram),
}

impl Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) | Listener::Pass(l) => l.as_fd(),
            Listener::Fifo(f) => f.as_fd(),
            Listener::Dgram(d) => d.as_fd(),
        }
    }

    fn raw(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) | Listener::Pass(l) => l.as_raw_fd(),
            Listener::Fifo(f) => f.as_raw_fd(),
            Listener::Dgram(d) => d.as_raw_fd(),
        }
    }

    /// Takes descriptor `fd` as a listener of `kind`.
    fn from_fd(fd: OwnedFd, kind: ServiceType) -> Listener {
        match kind {
            ServiceType::Inet => Listener::Tcp(TcpListener::from(fd)),
            ServiceType::Unix => Listener::Unix(UnixListener::from(fd)),
            ServiceType::Pass => Listener::Pass(UnixListener::from(fd)),
            ServiceType::UnixDgram => Listener::Dgram(UnixDatagram::from(fd)),
            ServiceType::Fifo => Listener::Fifo(File::from(fd)),
        }
    }

    /// Accepts a client; `None` when another process was faster.
    fn accept(&self) -> io::Result<Option<Client>> {
        let r = match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Client::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Client::Unix(s)),
            Listener::Pass(l) => l.accept().and_then(|(s, _)| {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                let fd = sys::fd::recv_fd(&s)?;
                Ok(Client::Tcp(TcpStream::from(fd)))
            }),
            Listener::Fifo(_) | Listener::Dgram(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "not a stream listener",
                ));
            }
        };
        match r {
            Ok(c) => {
                c.set_nonblocking(false)?;
                Ok(Some(c))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) if e.raw_os_error() == Some(libc_econnaborted()) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn libc_econnaborted() -> i32 {
    nix::errno::Errno::ECONNABORTED as i32
}

/// A connected client.
#[derive(Debug)]
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Stand-alone mode (`-z`): stdin and stdout.
    Stdio,
}

impl Client {
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.set_nonblocking(on),
            Client::Unix(s) => s.set_nonblocking(on),
            Client::Stdio => Ok(()),
        }
    }

    /// Read and write timeouts (a stalled peer must not hold a process).
    pub fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.set_read_timeout(t).and_then(|_| s.set_write_timeout(t)),
            Client::Unix(s) => s.set_read_timeout(t).and_then(|_| s.set_write_timeout(t)),
            Client::Stdio => Ok(()),
        }
    }

    /// The TCP peer, for inet services.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Client::Tcp(s) => s.peer_addr().ok(),
            _ => None,
        }
    }

    /// The local TCP address, for inet services.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Client::Tcp(s) => s.local_addr().ok(),
            _ => None,
        }
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Client::Tcp(s) => s.as_fd(),
            Client::Unix(s) => s.as_fd(),
            Client::Stdio => {
                static STDIN: std::sync::OnceLock<io::Stdin> = std::sync::OnceLock::new();
                STDIN.get_or_init(io::stdin).as_fd()
            }
        }
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
            Client::Stdio => io::stdin().read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
            Client::Stdio => io::stdout().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.flush(),
            Client::Unix(s) => s.flush(),
            Client::Stdio => io::stdout().flush(),
        }
    }
}

/// Everything set up before the program's own code runs.
struct Runtime {
    ctx: Ctx,
    listeners: Vec<Listener>,
    status: StatusChannel,
    max_use: u64,
    max_idle: Duration,
}

/// Common start-up, up to (not including) pre_init.
fn startup(program: &str) -> Runtime {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // Log to stderr until the configuration says where.
    crate::log::init(None, program);
    let args = crate::args::parse(program, &argv).unwrap_or_else(|e| fatal!("{e}"));
    let dir = config::config_dir_from_env();
    let mut cfg = Config::load(&dir).unwrap_or_else(|e| fatal!("{e}"));
    cfg.set_process_name(program);
    cfg.set_override("service_name", &args.service);
    for (n, v) in &args.overrides {
        cfg.set_override(n, v);
    }
    crate::log::init(Some(&cfg), program);
    crate::log::set_verbose(args.verbose);
    if args.debug || args.stdio {
        crate::log::set_stderr(true);
    }
    let queue_directory = PathBuf::from(
        cfg.str(&params::QUEUE_DIRECTORY)
            .unwrap_or_else(|e| fatal!("{e}")),
    );
    if let Err(e) = std::env::set_current_dir(&queue_directory) {
        fatal!("chdir({}): {}", queue_directory.display(), e);
    }
    crate::log::use_relative_socket(&queue_directory);
    let max_use = cfg
        .int(&params::MAX_USE)
        .unwrap_or_else(|e| fatal!("{e}"))
        .max(0) as u64;
    let max_idle = cfg
        .time(&params::MAX_IDLE)
        .unwrap_or_else(|e| fatal!("{e}"));
    let status = StatusChannel::inherited();
    let mut listeners = Vec::new();
    if !args.stdio {
        let kind = args
            .kind
            .unwrap_or_else(|| fatal!("no transport type specified (-t)"));
        for i in 0..args.sockets {
            let fd = LISTEN_FD + i as RawFd;
            let owned = sys::fd::inherited(fd).unwrap_or_else(|| {
                fatal!("no listener on descriptor {fd}: run from master(8), or use -z")
            });
            let _ = sys::fd::set_nonblocking(&owned, true);
            listeners.push(Listener::from_fd(owned, kind));
        }
        if !status.connected() && !args.debug {
            fatal!(
                "no master status channel on descriptor {}: run from master(8)",
                crate::master_proto::STATUS_FD
            );
        }
    }
    let ctx = Ctx {
        cfg,
        args,
        program: program.to_string(),
        queue_directory,
    };
    Runtime {
        ctx,
        listeners,
        status,
        max_use,
        max_idle,
    }
}

/// chroot (`-c`) and drop to mail_owner (`-u`), when running as root.
fn drop_privileges(ctx: &Ctx) {
    if !sys::privs::is_root() {
        return;
    }
    let root = ctx.args.chroot.then_some(ctx.queue_directory.as_path());
    if !ctx.args.unprivileged {
        if let Some(root) = root
            && let Err(e) = nix::unistd::chroot(root).and_then(|_| nix::unistd::chdir("/"))
        {
            fatal!("chroot({}): {}", root.display(), e);
        }
        return;
    }
    let owner = ctx.str(&params::MAIL_OWNER);
    let id = sys::privs::lookup_user(&owner).unwrap_or_else(|_| {
        fatal!(
            "file {}/main.cf: parameter mail_owner: unknown user name value: {}",
            ctx.cfg.config_dir().display(),
            owner
        )
    });
    if id.uid.is_root() {
        fatal!(
            "file {}/main.cf: parameter mail_owner: user {} has privileged user ID",
            ctx.cfg.config_dir().display(),
            owner
        );
    }
    if let Err(e) = sys::privs::drop_to(&id, root) {
        fatal!("drop privileges to {}: {}", owner, e);
    }
}

const STATUS: Token = Token(usize::MAX - 1);

/// The event loop shared by the skeletons.
struct Loop {
    uses: u64,
    idle_since: Instant,
}

/// What became ready in [`Loop::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Listener(usize),
    Client(usize),
}

impl Loop {
    fn new() -> Loop {
        Loop {
            uses: 0,
            idle_since: Instant::now(),
        }
    }

    /// Waits (level-triggered, so that nothing queued is ever missed while
    /// other processes compete for the same listeners) for a listener or
    /// one of `clients` to become readable; exits the process when idle
    /// too long or when master goes away. Returns nothing when `timer` has
    /// run out.
    fn wait(
        &mut self,
        rt: &mut Runtime,
        clients: &[BorrowedFd<'_>],
        idle_exit: bool,
        timer: Option<Duration>,
    ) -> Vec<Ready> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            let idle_deadline =
                (idle_exit && !rt.max_idle.is_zero()).then(|| self.idle_since + rt.max_idle);
            let idle_left = idle_deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let timeout = match (idle_left, timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let t = match timeout {
                None => PollTimeout::NONE,
                Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX),
            };
            let n_l = rt.listeners.len();
            let n_c = clients.len();
            let hits: Vec<bool> = {
                let mut fds: Vec<PollFd> = rt
                    .listeners
                    .iter()
                    .map(|l| l.as_fd())
                    .chain(clients.iter().copied())
                    .chain(rt.status.as_fd())
                    .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                    .collect();
                match poll(&mut fds, t) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => fatal!("event loop: {e}"),
                }
                fds.iter()
                    .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                    .collect()
            };
            if hits.len() > n_l + n_c && hits[n_l + n_c] && rt.status.master_gone() {
                verbose!("master disconnect -- exiting");
                std::process::exit(0);
            }
            let ready: Vec<Ready> = (0..n_l)
                .filter(|&i| hits[i])
                .map(Ready::Listener)
                .chain((0..n_c).filter(|&i| hits[n_l + i]).map(Ready::Client))
                .collect();
            if !ready.is_empty() {
                return ready;
            }
            if idle_deadline.is_some_and(|d| Instant::now() >= d) {
                verbose!("idle timeout -- exiting");
                std::process::exit(0);
            }
            if timer.is_some_and(|t| timeout == Some(t)) {
                return ready;
            }
        }
    }

    /// Counts one client; exits after max_use.
    fn used(&mut self, rt: &Runtime) {
        self.uses += 1;
        self.idle_since = Instant::now();
        if rt.max_use > 0 && self.uses >= rt.max_use {
            verbose!("use limit -- exiting");
            std::process::exit(0);
        }
    }
}

/// A daemon that serves one client at a time.
pub trait SingleServer {
    /// After the privilege drop, before the first client.
    fn post_init(&mut self, _ctx: &Ctx) {}
    /// Serves one client from start to end.
    fn serve(&mut self, ctx: &Ctx, client: Client);
}

/// Runs a single-client server; `pre_init` runs with privileges.
pub fn single_server_main<S: SingleServer>(program: &str, pre_init: impl FnOnce(&Ctx) -> S) -> ! {
    let mut rt = startup(program);
    let mut server = pre_init(&rt.ctx);
    drop_privileges(&rt.ctx);
    server.post_init(&rt.ctx);
    if rt.ctx.args.stdio {
        server.serve(&rt.ctx, Client::Stdio);
        std::process::exit(0);
    }
    let mut ev = Loop::new();
    rt.status.notify(Avail::Avail);
    loop {
        for ready in ev.wait(&mut rt, &[], true, None) {
            let Ready::Listener(i) = ready else { continue };
            let client = match rt.listeners[i].accept() {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => fatal!("accept connection: {e}"),
            };
            rt.status.notify(Avail::Taken);
            server.serve(&rt.ctx, client);
            rt.status.notify(Avail::Avail);
            ev.used(&rt);
        }
    }
}

/// A daemon that serves many clients, one request at a time each.
pub trait MultiServer {
    fn post_init(&mut self, _ctx: &Ctx) {}
    /// A client connected.
    fn connect(&mut self, _ctx: &Ctx, _client: &mut Client) {}
    /// The client is readable: read one request and reply. Return false to
    /// disconnect it (end of file, protocol error).
    fn request(&mut self, ctx: &Ctx, client: &mut Client) -> bool;
    /// A client went away.
    fn disconnect(&mut self, _ctx: &Ctx, _client: &Client) {}
    /// How long until [`MultiServer::timer`] should run, if at all
    /// (scache expires what it holds).
    fn next_timer(&self) -> Option<Duration> {
        None
    }
    fn timer(&mut self, _ctx: &Ctx) {}
}

/// Runs a multi-client server; `pre_init` runs with privileges.
pub fn multi_server_main<S: MultiServer>(program: &str, pre_init: impl FnOnce(&Ctx) -> S) -> ! {
    let mut rt = startup(program);
    let mut server = pre_init(&rt.ctx);
    drop_privileges(&rt.ctx);
    server.post_init(&rt.ctx);
    if rt.ctx.args.stdio {
        let mut c = Client::Stdio;
        server.connect(&rt.ctx, &mut c);
        while server.request(&rt.ctx, &mut c) {}
        std::process::exit(0);
    }
    let mut ev = Loop::new();
    rt.status.notify(Avail::Avail);
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let idle = clients.is_empty();
        if !idle {
            ev.idle_since = Instant::now();
        }
        let borrowed: Vec<BorrowedFd<'_>> = clients.iter().map(Client::as_fd).collect();
        let timer = server.next_timer();
        let ready = ev.wait(&mut rt, &borrowed, idle, timer);
        drop(borrowed);
        if ready.is_empty() && timer.is_some() {
            server.timer(&rt.ctx);
            continue;
        }
        let mut gone = Vec::new();
        for r in ready {
            match r {
                Ready::Listener(i) => {
                    while let Some(mut c) = rt.listeners[i]
                        .accept()
                        .unwrap_or_else(|e| fatal!("accept connection: {e}"))
                    {
                        server.connect(&rt.ctx, &mut c);
                        clients.push(c);
                        ev.used(&rt);
                    }
                }
                Ready::Client(i) => {
                    if !server.request(&rt.ctx, &mut clients[i]) {
                        gone.push(i);
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            let c = clients.remove(i);
            server.disconnect(&rt.ctx, &c);
        }
    }
}

/// A daemon woken by trigger bytes (a fifo or a unix socket).
pub trait TriggerServer {
    fn post_init(&mut self, _ctx: &Ctx) {}
    /// Handles the bytes of one trigger request (`W` for master's wakeup).
    fn trigger(&mut self, ctx: &Ctx, data: &[u8]);
    /// How long until [`TriggerServer::timer`] should run, if at all.
    fn next_timer(&self) -> Option<Duration> {
        None
    }
    fn timer(&mut self, _ctx: &Ctx) {}
    /// Whether to exit after `max_idle` without a trigger.
    fn idle_exit(&self) -> bool {
        true
    }
}

/// The most bytes one trigger request may carry.
const TRIGGER_MAX: usize = 1024;

/// Runs a trigger server; `pre_init` runs with privileges.
pub fn trigger_server_main<S: TriggerServer>(program: &str, pre_init: impl FnOnce(&Ctx) -> S) -> ! {
    let mut rt = startup(program);
    let mut server = pre_init(&rt.ctx);
    drop_privileges(&rt.ctx);
    server.post_init(&rt.ctx);
    if rt.ctx.args.stdio {
        let mut data = Vec::new();
        let _ = io::stdin().take(TRIGGER_MAX as u64).read_to_end(&mut data);
        server.trigger(&rt.ctx, &data);
        std::process::exit(0);
    }
    let mut ev = Loop::new();
    rt.status.notify(Avail::Avail);
    loop {
        let timer = server.next_timer();
        let ready = ev.wait(&mut rt, &[], server.idle_exit(), timer);
        if ready.is_empty() {
            if timer.is_some() {
                server.timer(&rt.ctx);
            }
            continue;
        }
        for r in ready {
            let Ready::Listener(i) = r else { continue };
            while let Some(data) = read_trigger(&rt.listeners[i]) {
                rt.status.notify(Avail::Taken);
                server.trigger(&rt.ctx, &data);
                rt.status.notify(Avail::Avail);
                ev.used(&rt);
            }
        }
    }
}

/// Reads one trigger request from a readable listener; `None` when there
/// was nothing (another process took it, or an empty connection).
fn read_trigger(listener: &Listener) -> Option<Vec<u8>> {
    let data = match listener {
        Listener::Fifo(f) => {
            let mut buf = [0u8; TRIGGER_MAX];
            match (&*f).read(&mut buf) {
                Ok(n) => buf[..n].to_vec(),
                Err(_) => return None,
            }
        }
        l => {
            let mut c = l
                .accept()
                .unwrap_or_else(|e| fatal!("accept connection: {e}"))?;
            let _ = c.set_timeout(Some(Duration::from_secs(10)));
            let mut data = Vec::new();
            let _ = (&mut c).take(TRIGGER_MAX as u64).read_to_end(&mut data);
            data
        }
    };
    (!data.is_empty()).then_some(data)
}

/// The first token an [`EventServer`] may use for its own descriptors.
pub const FIRST_APP_TOKEN: usize = 1 << 20;

/// A resident daemon with its own descriptors and timers on the event
/// loop, woken by triggers (qmgr).
pub trait EventServer {
    /// After the privilege drop; register descriptors here or later.
    fn post_init(&mut self, _ctx: &Ctx, _registry: &mio::Registry) {}
    /// Trigger bytes arrived on a listener.
    fn trigger(&mut self, ctx: &Ctx, data: &[u8], registry: &mio::Registry);
    /// An event on one of the program's own tokens (>= [`FIRST_APP_TOKEN`]).
    fn event(&mut self, ctx: &Ctx, event: &mio::event::Event, registry: &mio::Registry);
    /// How long until [`EventServer::timer`] should run.
    fn next_timer(&self) -> Option<Duration>;
    fn timer(&mut self, ctx: &Ctx, registry: &mio::Registry);
}

/// Runs an event server; it does not exit when idle (qmgr).
pub fn event_server_main<S: EventServer>(program: &str, pre_init: impl FnOnce(&Ctx) -> S) -> ! {
    let mut rt = startup(program);
    let mut server = pre_init(&rt.ctx);
    drop_privileges(&rt.ctx);
    let mut poll = Poll::new().unwrap_or_else(|e| fatal!("event loop: {e}"));
    let mut events = Events::with_capacity(256);
    for (i, l) in rt.listeners.iter().enumerate() {
        let fd = l.raw();
        poll.registry()
            .register(&mut SourceFd(&fd), Token(i), Interest::READABLE)
            .unwrap_or_else(|e| fatal!("watch listener: {e}"));
    }
    if let Some(fd) = rt.status.as_fd() {
        let raw = fd.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&raw), STATUS, Interest::READABLE)
            .unwrap_or_else(|e| fatal!("watch status channel: {e}"));
    }
    server.post_init(&rt.ctx, poll.registry());
    // Initialized: from now on an exit is not a start-up failure.
    rt.status.notify(Avail::Taken);
    rt.status.notify(Avail::Avail);
    loop {
        let timeout = server.next_timer();
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            fatal!("event loop: {e}");
        }
        let ready: Vec<mio::event::Event> = events.iter().cloned().collect();
        for e in &ready {
            let t = e.token();
            if t == STATUS {
                if rt.status.master_gone() {
                    verbose!("master disconnect -- exiting");
                    std::process::exit(0);
                }
            } else if t.0 >= FIRST_APP_TOKEN {
                server.event(&rt.ctx, e, poll.registry());
            } else if let Some(l) = rt.listeners.get(t.0) {
                // Drain every trigger that is waiting.
                while let Some(data) = read_trigger(l) {
                    server.trigger(&rt.ctx, &data, poll.registry());
                }
            }
        }
        if server.next_timer().is_some_and(|t| t.is_zero()) {
            server.timer(&rt.ctx, poll.registry());
        }
    }
}

/// A daemon that handles datagrams (postlogd).
pub trait DgramServer {
    fn post_init(&mut self, _ctx: &Ctx) {}
    fn datagram(&mut self, ctx: &Ctx, data: &[u8]);
    /// After the datagrams that were waiting have been handled.
    fn flush(&mut self, _ctx: &Ctx) {}
}

/// Runs a datagram server; `pre_init` runs with privileges.
pub fn dgram_server_main<S: DgramServer>(program: &str, pre_init: impl FnOnce(&Ctx) -> S) -> ! {
    let mut rt = startup(program);
    let mut server = pre_init(&rt.ctx);
    drop_privileges(&rt.ctx);
    server.post_init(&rt.ctx);
    if rt.ctx.args.stdio {
        for line in io::stdin().lines().map_while(Result::ok) {
            server.datagram(&rt.ctx, line.as_bytes());
        }
        server.flush(&rt.ctx);
        std::process::exit(0);
    }
    let mut ev = Loop::new();
    rt.status.notify(Avail::Avail);
    let mut buf = vec![0u8; 65536];
    loop {
        for ready in ev.wait(&mut rt, &[], true, None) {
            let Ready::Listener(i) = ready else { continue };
            let Listener::Dgram(sock) = &rt.listeners[i] else {
                fatal!("{}: service type must be unix-dgram", rt.ctx.program);
            };
            // Drain everything queued, then count it as one use.
            rt.status.notify(Avail::Taken);
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => server.datagram(&rt.ctx, &buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => fatal!("receive datagram: {e}"),
                }
            }
            server.flush(&rt.ctx);
            rt.status.notify(Avail::Avail);
            ev.used(&rt);
        }
    }
}

/// Whether a path is a fifo (for tools that wake services).
pub fn is_fifo(path: &std::path::Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}
