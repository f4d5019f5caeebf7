//! # NAME
//! qmgr — the queue manager's state and event handlers
//!
//! ## SYNOPSIS
//! ```ignore
//! daemon::server::event_server_main("qmgr", Qmgr::pre_init)
//! ```
//!
//! ## DESCRIPTION
//! See qmgr(8) in `main.rs` for what it does; this module holds the
//! active messages, the scheduler and the deliveries in flight, and
//! implements the [`EventServer`] hooks: triggers, replies from agents,
//! and the timer for deferred queue runs and retries.
//!
//! ## SEE ALSO
//! [`crate::sched`], [`crate::agent`], [`crate::message`]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use config::params;
use daemon::delivery_log::{self, Line, Times, at};
use daemon::server::{Ctx, EventServer, FIRST_APP_TOKEN};
use daemon::{info, warn};
use ipc::bounce::{BounceReply, BounceRequest};
use ipc::deliver::{DeliveryRecipient, DeliveryReply, DeliveryRequest, HopStatus, Outcome};
use ipc::rewrite::class;
use mio::{Interest, Registry, Token};
use queue::logfile::{self, LogEntry};
use queue::record::WARN_SENT;
use queue::{Layout, QueueId, RcptState};

use crate::agent::{Conn, Poll};
use crate::message::{Load, Message, now_pair};
use crate::sched::{Entry, Limits, Sched, Verdict};

/// What a connection in flight is for.
enum Job {
    Deliver {
        transport: String,
        nexthop: String,
        entry: Entry,
    },
    Bounce {
        msg: u64,
        notice: Notice,
    },
}

/// Transport and next hop.
type Destination = (String, String);

/// What a message owes before it leaves the active queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    /// Non-delivery notice (bounce/ID, and defer/ID when expired).
    Flush { expired: bool },
    /// Delay warning (defer/ID).
    Warn,
    /// Success report (trace/ID).
    Trace,
}

struct InFlight {
    conn: Conn,
    job: Job,
}

struct Settings {
    active_limit: usize,
    rcpt_limit: usize,
    queue_run_delay: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    max_lifetime: Duration,
    bounce_lifetime: Duration,
    ipc_timeout: Duration,
    defer_transports: Vec<String>,
    /// The next hop of a content filter written without one
    /// (`default_filter_nexthop`); empty: the recipient's.
    default_filter_nexthop: String,
    bounce_service: String,
    defer_service: String,
    trace_service: String,
    /// `delay_warning_time`; zero: no warnings.
    delay_warning: Duration,
    /// Whether `fast_flush_domains` is set: deferred mail is reported to
    /// flush(8).
    fast_flush: bool,
    flush_service: String,
}

pub struct Qmgr {
    layout: Layout,
    settings: Settings,
    resolver: ipc::rewrite::Client,
    sched: Sched,
    messages: HashMap<u64, Message>,
    rcpts_in_memory: usize,
    next_msg: u64,
    inflight: HashMap<Token, InFlight>,
    next_token: usize,
    /// Files found by the last scans, waiting for room in the active queue.
    waiting: VecDeque<(&'static str, QueueId)>,
    next_deferred_scan: Instant,
    scan_incoming: bool,
    scan_deferred: bool,
    /// Ignore retry times on the next deferred scan (`postqueue -f`).
    flush_all: bool,
    /// Files that could not be loaded now; retried at the next scan.
    skipped: Vec<QueueId>,
    /// Connections opened outside an event handler, to register.
    pending_registration: Vec<(Token, InFlight)>,
}

fn secs(cfg: &config::Config, p: &params::TimeParam) -> Duration {
    cfg.time(p).unwrap_or_else(|e| daemon::fatal!("{e}"))
}

impl Qmgr {
    pub fn pre_init(ctx: &Ctx) -> Qmgr {
        let cfg = &ctx.cfg;
        let layout = Layout::from_config(cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
        let int = |p: &params::IntParam| {
            cfg.int(p).unwrap_or_else(|e| daemon::fatal!("{e}")).max(1) as usize
        };
        let settings = Settings {
            active_limit: int(&params::QMGR_MESSAGE_ACTIVE_LIMIT),
            rcpt_limit: int(&params::QMGR_MESSAGE_RECIPIENT_LIMIT),
            queue_run_delay: secs(cfg, &params::QUEUE_RUN_DELAY),
            min_backoff: secs(cfg, &params::MINIMAL_BACKOFF_TIME),
            max_backoff: secs(cfg, &params::MAXIMAL_BACKOFF_TIME),
            max_lifetime: secs(cfg, &params::MAXIMAL_QUEUE_LIFETIME),
            bounce_lifetime: secs(cfg, &params::BOUNCE_QUEUE_LIFETIME),
            ipc_timeout: secs(cfg, &params::IPC_TIMEOUT).min(Duration::from_secs(60)),
            defer_transports: cfg
                .list(&params::DEFER_TRANSPORTS)
                .unwrap_or_else(|e| daemon::fatal!("{e}")),
            default_filter_nexthop: ctx.str(&params::DEFAULT_FILTER_NEXTHOP),
            bounce_service: ctx.str(&params::BOUNCE_SERVICE_NAME),
            defer_service: ctx.str(&params::DEFER_SERVICE_NAME),
            trace_service: ctx.str(&params::TRACE_SERVICE_NAME),
            delay_warning: secs(cfg, &params::DELAY_WARNING_TIME),
            fast_flush: !ctx.str(&params::FAST_FLUSH_DOMAINS).trim().is_empty(),
            flush_service: ctx.str(&params::FLUSH_SERVICE_NAME),
        };
        let resolver = ipc::rewrite::Client::new(
            &layout.queue_dir,
            &ctx.str(&params::REWRITE_SERVICE_NAME),
            settings.ipc_timeout,
        );
        let retry =
            secs(cfg, &params::TRANSPORT_RETRY_TIME).max(secs(cfg, &params::MINIMAL_BACKOFF_TIME));
        Qmgr {
            layout,
            settings,
            resolver,
            sched: Sched::new(retry),
            messages: HashMap::new(),
            rcpts_in_memory: 0,
            next_msg: 1,
            inflight: HashMap::new(),
            next_token: FIRST_APP_TOKEN,
            waiting: VecDeque::new(),
            next_deferred_scan: Instant::now(),
            scan_incoming: true,
            scan_deferred: true,
            flush_all: false,
            skipped: Vec::new(),
            pending_registration: Vec::new(),
        }
    }

    /// Limits of a transport from main.cf and master.cf.
    fn limits(&self, ctx: &Ctx, transport: &str) -> Limits {
        let cfg = &ctx.cfg;
        let int = |name: &str, fallback: &params::IntParam| -> i64 {
            match cfg.main_cf().get(name) {
                Some(_) => cfg
                    .int_named(name)
                    .unwrap_or_else(|_| cfg.int(fallback).unwrap_or(1)),
                None => cfg.int(fallback).unwrap_or(1),
            }
        };
        let dest_concurrency = int(
            &format!("{transport}_destination_concurrency_limit"),
            &params::DEFAULT_DESTINATION_CONCURRENCY_LIMIT,
        );
        let dest_concurrency = if transport == "local"
            && cfg
                .main_cf()
                .get("local_destination_concurrency_limit")
                .is_none()
        {
            cfg.int(&params::LOCAL_DESTINATION_CONCURRENCY_LIMIT)
                .unwrap_or(2)
        } else {
            dest_concurrency
        };
        let recipients = int(
            &format!("{transport}_destination_recipient_limit"),
            &params::DEFAULT_DESTINATION_RECIPIENT_LIMIT,
        );
        let recipients = if transport == "local"
            && cfg
                .main_cf()
                .get("local_destination_recipient_limit")
                .is_none()
        {
            cfg.int(&params::LOCAL_DESTINATION_RECIPIENT_LIMIT)
                .unwrap_or(1)
        } else {
            recipients
        };
        let initial = int(
            &format!("{transport}_initial_destination_concurrency"),
            &params::INITIAL_DESTINATION_CONCURRENCY,
        );
        Limits {
            dest_concurrency: dest_concurrency.max(1) as u32,
            initial_concurrency: initial.max(1) as u32,
            recipients: recipients.max(1) as usize,
            processes: process_limit(ctx, transport),
        }
    }

    /// Moves leftovers of an earlier run from active back to incoming.
    fn recover_active(&mut self) {
        match crate::scan::list(&self.layout, "active") {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = self.layout.move_file(&id, "active", "incoming") {
                        warn!("{}: move from active to incoming: {}", id, e);
                    }
                }
            }
            Err(e) => warn!("scan active queue: {e}"),
        }
    }

    fn scan(&mut self) {
        if self.scan_incoming {
            self.scan_incoming = false;
            match crate::scan::list(&self.layout, "incoming") {
                Ok(ids) => self.queue_for_loading("incoming", ids),
                Err(e) => warn!("scan incoming queue: {e}"),
            }
        }
        if self.scan_deferred || Instant::now() >= self.next_deferred_scan {
            self.scan_deferred = false;
            self.next_deferred_scan = Instant::now() + self.settings.queue_run_delay;
            match crate::scan::list(&self.layout, "deferred") {
                Ok(ids) => {
                    let now = SystemTime::now();
                    let all = std::mem::take(&mut self.flush_all);
                    let due: Vec<QueueId> = ids
                        .into_iter()
                        .filter(|id| {
                            all || std::fs::metadata(self.layout.path_of("deferred", id))
                                .and_then(|m| m.modified())
                                .is_ok_and(|t| t <= now)
                        })
                        .collect();
                    self.queue_for_loading("deferred", due);
                }
                Err(e) => warn!("scan deferred queue: {e}"),
            }
        }
    }

    fn queue_for_loading(&mut self, queue: &'static str, ids: Vec<QueueId>) {
        for id in ids {
            if !self.waiting.iter().any(|(_, w)| *w == id)
                && !self.messages.values().any(|m| m.id == id)
            {
                self.waiting.push_back((queue, id));
            }
        }
    }

    /// Loads waiting files while the active queue has room.
    fn fill_active(&mut self, ctx: &Ctx) {
        while self.messages.len() < self.settings.active_limit
            && self.rcpts_in_memory < self.settings.rcpt_limit
        {
            let Some((queue, id)) = self.waiting.pop_front() else {
                break;
            };
            let path = self.layout.path_of(queue, &id);
            // Incoming files must be complete before they move.
            if queue == "incoming" {
                match std::fs::metadata(&path) {
                    Ok(m)
                        if std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o700
                            == 0o700 => {}
                    _ => continue,
                }
            }
            if let Err(e) = self.layout.move_file(&id, queue, "active") {
                if e.kind() != std::io::ErrorKind::NotFound {
                    warn!("{}: move to active: {}", id, e);
                }
                continue;
            }
            match Message::load(&self.layout, &id) {
                Load::Loaded(m) => {
                    // The reasons of the last attempt make way for this
                    // one's, as with Postfix (mailq shows the latest); a
                    // message forced to expire keeps them for its notice.
                    if !m.forced_expire {
                        logfile::remove(&self.layout, "defer", &id);
                    }
                    self.activate(ctx, *m)
                }
                Load::Skip(why) => {
                    info!("{}: {}", id, why);
                    let _ = self.layout.move_file(&id, "active", queue);
                    self.skipped.push(id);
                }
                Load::Corrupt(why) => {
                    warn!("{}: corrupt queue file: {} -- moved to corrupt", id, why);
                    if let Err(e) = self.layout.move_file(&id, "active", "corrupt") {
                        warn!("{}: move to corrupt: {}", id, e);
                    }
                }
                Load::Gone => {}
            }
        }
    }

    /// Puts a loaded message's recipients on the transport queues.
    fn activate(&mut self, ctx: &Ctx, mut m: Message) {
        let key = self.next_msg;
        self.next_msg += 1;
        let todo: Vec<usize> = (0..m.env.recipients.len())
            .filter(|&i| m.env.recipients[i].state == RcptState::Todo)
            .collect();
        info!(
            "{}: from=<{}>, size={}, nrcpt={} (queue active)",
            m.id,
            daemon::Untrusted(&m.env.sender),
            m.env.size(),
            todo.len()
        );
        self.rcpts_in_memory += todo.len();
        if m.forced_expire {
            self.force_expire(key, m, &todo);
            return;
        }
        // Group by (transport, nexthop) in recipient order.
        let mut groups: Vec<(Destination, Vec<(usize, String)>)> = Vec::new();
        let mut now_deferred: Vec<(usize, &'static str, String)> = Vec::new();
        let sender = m.env.sender.clone();
        let redirect = m.env.redirect.clone();
        let filter = m.env.filter.as_deref().map(split_filter);
        for (n, i) in todo.into_iter().enumerate() {
            // A redirected message goes once, to the redirection address,
            // instead of to its recipients (cleanup's REDIRECT action).
            let addr = match &redirect {
                Some(_) if n > 0 => continue,
                Some(r) => r.clone(),
                None => m.env.recipients[i].address.clone(),
            };
            // A content filter with a next hop takes every recipient as it
            // is; without one, the recipient's own next hop is kept.
            if let Some((transport, Some(nexthop))) = &filter {
                let k = (transport.clone(), nexthop.clone());
                match groups.iter_mut().find(|(g, _)| *g == k) {
                    Some((_, v)) => v.push((i, addr)),
                    None => groups.push((k, vec![(i, addr)])),
                }
                continue;
            }
            match self.resolver.resolve(&sender, &addr) {
                Err(e) => {
                    warn!("{}: address resolver failure: {}", m.id, e);
                    now_deferred.push((i, "4.3.0", "address resolver failure".into()));
                }
                Ok(r) if r.flags & class::FAIL != 0 => {
                    now_deferred.push((i, "4.3.0", "address resolver failure".into()));
                }
                Ok(r) if self.settings.defer_transports.contains(&r.transport) => {
                    now_deferred.push((i, "4.3.2", "deferred transport".into()));
                }
                Ok(r) => {
                    let k = match &filter {
                        Some((transport, _)) => (
                            transport.clone(),
                            if self.settings.default_filter_nexthop.is_empty() {
                                r.nexthop
                            } else {
                                self.settings.default_filter_nexthop.clone()
                            },
                        ),
                        None => (r.transport, r.nexthop),
                    };
                    match groups.iter_mut().find(|(g, _)| *g == k) {
                        Some((_, v)) => v.push((i, r.recipient)),
                        None => groups.push((k, vec![(i, r.recipient)])),
                    }
                }
            }
        }
        for ((transport, nexthop), rcpts) in groups {
            if !self.sched.has_transport(&transport) {
                let l = self.limits(ctx, &transport);
                self.sched.add_transport(&transport, l);
            }
            if let Some(reason) = self.sched.dead(&transport, &nexthop) {
                for (i, _) in rcpts {
                    now_deferred.push((
                        i,
                        "4.4.1",
                        format!("delivery temporarily suspended: {reason}"),
                    ));
                }
                continue;
            }
            let limit = self.sched.limits(&transport).map_or(50, |l| l.recipients);
            for chunk in rcpts.chunks(limit) {
                self.sched.add(
                    &transport,
                    &nexthop,
                    Entry {
                        msg: key,
                        rcpts: chunk.to_vec(),
                    },
                );
                m.pending += 1;
            }
        }
        self.messages.insert(key, m);
        if !now_deferred.is_empty() {
            let items: Vec<(usize, String, String, String)> = now_deferred
                .into_iter()
                .map(|(i, dsn, reason)| (i, dsn.to_string(), "none".to_string(), reason))
                .collect();
            self.record_outcomes(key, &items, Outcome::Deferred, true);
        }
        self.maybe_finish(key);
    }

    /// Returns a message forced to expire (`postsuper -e`) to its sender
    /// without trying it: recipients that the defer log does not explain
    /// get "message is administratively expired".
    fn force_expire(&mut self, key: u64, mut m: Message, todo: &[usize]) {
        let logged: Vec<u64> = logfile::read(&self.layout, "defer", &m.id)
            .unwrap_or_default()
            .iter()
            .map(|e| e.offset)
            .collect();
        let items: Vec<(usize, String, String, String)> = todo
            .iter()
            .filter(|&&i| !logged.contains(&m.env.recipients[i].offset))
            .map(|&i| {
                (
                    i,
                    "4.7.0".to_string(),
                    "none".to_string(),
                    "message is administratively expired".to_string(),
                )
            })
            .collect();
        m.deferred = true;
        let (id, sender) = (m.id.clone(), m.env.sender.clone());
        self.messages.insert(key, m);
        self.record_outcomes(key, &items, Outcome::Deferred, true);
        info!(
            "{}: from=<{}>, status=force-expired, returned to sender",
            id,
            daemon::Untrusted(&sender)
        );
        self.request_notice(key, Notice::Flush { expired: true });
    }

    /// Logs (when qmgr decided it) and records the outcome of recipients:
    /// (index, dsn, relay, reason). Deferred ones go to `defer/ID` (and,
    /// with `fast_flush_domains`, to flush(8)), bounced ones to
    /// `bounce/ID` before they are marked done, delivered ones that asked
    /// for `NOTIFY=SUCCESS` to `trace/ID`.
    fn record_outcomes(
        &mut self,
        key: u64,
        items: &[(usize, String, String, String)],
        outcome: Outcome,
        decided_here: bool,
    ) {
        if items.is_empty() {
            return;
        }
        let Some(m) = self.messages.get_mut(&key) else {
            return;
        };
        let now = SystemTime::now();
        let secs_now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut entries = Vec::with_capacity(items.len());
        for (i, dsn, relay, reason) in items {
            let r = &m.env.recipients[*i];
            let (status, action) = match outcome {
                // A probe (sendmail -bv) reports what would happen.
                Outcome::Sent if m.verify => ("deliverable", "deliverable"),
                _ if m.verify => ("undeliverable", "undeliverable"),
                Outcome::Deferred => ("deferred", "delayed"),
                Outcome::Bounced => ("bounced", "failed"),
                // Handed to another MTA, or delivered here.
                Outcome::Sent if relay.contains('[') => ("sent", "relayed"),
                Outcome::Sent => ("sent", "delivered"),
            };
            if outcome == Outcome::Sent && r.notify & SUCCESS == 0 && !m.verify {
                continue;
            }
            if decided_here {
                delivery_log::log(&Line {
                    queue_id: m.id.as_str(),
                    to: &r.address,
                    orig_to: &r.orig,
                    relay,
                    times: Times {
                        arrival: at(m.env.arrival),
                        active: at(m.active_since),
                        handed_over: now,
                        connected: now,
                        done: now,
                    },
                    dsn,
                    status,
                    reason,
                });
            }
            entries.push(LogEntry {
                recipient: r.address.clone(),
                orig: r.orig.clone(),
                offset: r.offset,
                notify: r.notify,
                orcpt: r.orcpt.clone(),
                dsn: dsn.clone(),
                action: action.into(),
                relay: relay.clone(),
                reason: reason.clone(),
                time: secs_now,
            });
        }
        if m.verify {
            // Every result goes into the report; nothing is retried.
            match logfile::append(&self.layout, "trace", &m.id, &entries) {
                Ok(()) => {
                    m.traced = true;
                    if outcome != Outcome::Sent {
                        for (i, ..) in items {
                            if let Err(e) = m.file.mark_done(m.env.recipients[*i].offset) {
                                warn!("{}: mark recipient done: {}", m.id, e);
                            }
                        }
                    }
                }
                Err(e) => {
                    warn!("{}: update trace log: {} -- deferring", m.id, e);
                    m.deferred = true;
                }
            }
            return;
        }
        match outcome {
            Outcome::Deferred => {
                m.deferred = true;
                if let Err(e) = logfile::append(&self.layout, "defer", &m.id, &entries) {
                    warn!("{}: update defer log: {}", m.id, e);
                }
            }
            Outcome::Bounced => match logfile::append(&self.layout, "bounce", &m.id, &entries) {
                Ok(()) => {
                    m.bounced = true;
                    for (i, ..) in items {
                        if let Err(e) = m.file.mark_done(m.env.recipients[*i].offset) {
                            warn!("{}: mark recipient done: {}", m.id, e);
                        }
                    }
                }
                Err(e) => {
                    // Not recorded: keep the recipient, try again later.
                    warn!("{}: update bounce log: {} -- deferring", m.id, e);
                    m.deferred = true;
                }
            },
            Outcome::Sent => match logfile::append(&self.layout, "trace", &m.id, &entries) {
                Ok(()) => m.traced = !entries.is_empty() || m.traced,
                Err(e) => warn!("{}: update trace log: {}", m.id, e),
            },
        }
        if outcome == Outcome::Deferred && self.settings.fast_flush {
            let mut sites: Vec<String> = entries
                .iter()
                .filter_map(|e| {
                    e.recipient
                        .rsplit_once('@')
                        .map(|(_, d)| d.to_ascii_lowercase())
                })
                .filter(|d| !d.is_empty())
                .collect();
            sites.sort();
            sites.dedup();
            for site in sites {
                flush_add(
                    &self.layout.queue_dir,
                    &self.settings.flush_service,
                    &site,
                    &m.id,
                );
            }
        }
    }

    /// Starts as many deliveries as the scheduler allows.
    fn dispatch(&mut self, registry: &Registry) {
        while let Some((transport, nexthop, entry)) = self.sched.next() {
            let Some(m) = self.messages.get(&entry.msg) else {
                self.sched.done(&transport, &nexthop, true, "");
                continue;
            };
            let req = DeliveryRequest {
                queue: "active".into(),
                queue_id: m.id.to_string(),
                transport: transport.clone(),
                nexthop: nexthop.clone(),
                sender: m.env.sender.clone(),
                flags: if m.verify {
                    ipc::deliver::flags::VERIFY
                } else {
                    0
                } | if self.sched.conn_cache(&transport, &nexthop) {
                    ipc::deliver::flags::CONN_STORE
                } else {
                    0
                },
                content_offset: m.env.content_offset,
                content_len: m.env.content_len,
                arrival: m.env.arrival,
                active_since: m.active_since,
                handed_over: now_pair(),
                dsn_envid: m.env.dsn_envid.clone(),
                dsn_ret: m.env.dsn_ret,
                attrs: m.env.attrs.clone(),
                recipients: entry
                    .rcpts
                    .iter()
                    .map(|(i, addr)| {
                        let r = &m.env.recipients[*i];
                        DeliveryRecipient {
                            address: addr.clone(),
                            orig: if r.orig.is_empty() {
                                r.address.clone()
                            } else {
                                r.orig.clone()
                            },
                            offset: r.offset,
                            notify: r.notify,
                            orcpt: r.orcpt.clone(),
                        }
                    })
                    .collect(),
            };
            match Conn::start(
                &self.layout.queue_dir,
                &transport,
                &req,
                self.settings.ipc_timeout,
            ) {
                Ok(mut conn) => {
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    if let Err(e) = registry.register(&mut conn.stream, token, Interest::READABLE) {
                        warn!("watch delivery connection: {e}");
                    }
                    self.inflight.insert(
                        token,
                        InFlight {
                            conn,
                            job: Job::Deliver {
                                transport,
                                nexthop,
                                entry,
                            },
                        },
                    );
                }
                Err(e) => {
                    warn!("connect to transport private/{}: {}", transport, e);
                    let reason = format!("mail transport unavailable: {transport}");
                    self.finish_entry(&transport, &nexthop, entry, None, &reason);
                }
            }
        }
    }

    /// An entry came back (or failed to go out): `reply` is None when the
    /// agent could not be reached or broke the protocol.
    fn finish_entry(
        &mut self,
        transport: &str,
        nexthop: &str,
        entry: Entry,
        reply: Option<DeliveryReply>,
        failure: &str,
    ) {
        let key = entry.msg;
        let (alive, statuses) = match &reply {
            Some(r) if r.recipients.len() == entry.rcpts.len() => {
                (r.hop == HopStatus::Alive, Some(&r.recipients))
            }
            Some(_) => {
                warn!(
                    "transport {}: wrong number of recipient results -- deferring",
                    transport
                );
                (false, None)
            }
            None => (false, None),
        };
        let reason_for_dead = statuses
            .and_then(|s| {
                s.iter()
                    .find(|r| r.outcome == Outcome::Deferred)
                    .map(|r| r.reason.clone())
            })
            .unwrap_or_else(|| failure.to_string());
        let mut deferred = Vec::new();
        let mut bounced = Vec::new();
        let mut sent = Vec::new();
        let agent_said = statuses.is_some();
        match statuses {
            Some(st) => {
                for ((i, _), s) in entry.rcpts.iter().zip(st) {
                    match s.outcome {
                        Outcome::Sent => {
                            sent.push((*i, s.dsn.clone(), s.relay.clone(), s.reason.clone()))
                        }
                        Outcome::Deferred => {
                            deferred.push((*i, s.dsn.clone(), s.relay.clone(), s.reason.clone()))
                        }
                        Outcome::Bounced => {
                            bounced.push((*i, s.dsn.clone(), s.relay.clone(), s.reason.clone()))
                        }
                    }
                }
            }
            None => {
                for (i, _) in &entry.rcpts {
                    deferred.push((
                        *i,
                        "4.3.0".to_string(),
                        "none".to_string(),
                        failure.to_string(),
                    ));
                }
            }
        }
        self.record_outcomes(key, &deferred, Outcome::Deferred, !agent_said);
        self.record_outcomes(key, &bounced, Outcome::Bounced, !agent_said);
        self.record_outcomes(key, &sent, Outcome::Sent, false);
        if let Some(m) = self.messages.get_mut(&key) {
            m.pending = m.pending.saturating_sub(1);
        }
        if let Verdict::Dead(rest) = self.sched.done(transport, nexthop, alive, &reason_for_dead) {
            let why = format!("delivery temporarily suspended: {reason_for_dead}");
            for e in rest {
                let items: Vec<(usize, String, String, String)> = e
                    .rcpts
                    .iter()
                    .map(|(i, _)| (*i, "4.4.1".to_string(), "none".to_string(), why.clone()))
                    .collect();
                self.record_outcomes(e.msg, &items, Outcome::Deferred, true);
                if let Some(m) = self.messages.get_mut(&e.msg) {
                    m.pending = m.pending.saturating_sub(1);
                }
                self.maybe_finish(e.msg);
            }
        }
        self.maybe_finish(key);
    }

    fn expired(&self, m: &Message) -> bool {
        let life = if m.env.sender.is_empty() {
            self.settings.bounce_lifetime
        } else {
            self.settings.max_lifetime
        };
        let age = SystemTime::now()
            .duration_since(at(m.env.arrival))
            .unwrap_or_default();
        age >= life
    }

    /// Ends a message whose entries are all back.
    fn maybe_finish(&mut self, key: u64) {
        let Some(m) = self.messages.get(&key) else {
            return;
        };
        if m.pending > 0 {
            return;
        }
        self.proceed(key);
    }

    /// The end of a message: the notices it owes, one at a time (each
    /// queued before the next step), then removal, or back to deferred.
    fn proceed(&mut self, key: u64) {
        let Some(m) = self.messages.get(&key) else {
            return;
        };
        let expired = m.forced_expire || (m.deferred && self.expired(m));
        if (m.bounced || expired) && !m.bounce_sent {
            if expired && !m.forced_expire {
                info!(
                    "{}: from=<{}>, status=expired, returned to sender",
                    m.id,
                    daemon::Untrusted(&m.env.sender)
                );
            }
            self.request_notice(key, Notice::Flush { expired });
            return;
        }
        if m.deferred && !expired {
            if !m.warn_done && self.warning_due(m) {
                self.request_notice(key, Notice::Warn);
            } else {
                self.defer_message(key);
            }
            return;
        }
        if m.traced && !m.trace_sent {
            self.request_notice(key, Notice::Trace);
            return;
        }
        self.remove_message(key);
    }

    /// Whether a delay warning is due now (`delay_warning_time`, the
    /// file's warning record).
    fn warning_due(&self, m: &Message) -> bool {
        if self.settings.delay_warning.is_zero() {
            return false;
        }
        let Some((_, w)) = m.env.warn_time else {
            return false;
        };
        if w == WARN_SENT {
            return false;
        }
        let due = if w == 0 {
            m.env.arrival.0 + self.settings.delay_warning.as_secs()
        } else {
            w
        };
        now_pair().0 >= due
    }

    fn request_notice(&mut self, key: u64, notice: Notice) {
        let Some(m) = self.messages.get_mut(&key) else {
            return;
        };
        // A request is out: do not finish twice.
        m.pending = 1;
        let (queue, queue_id) = ("active".to_string(), m.id.to_string());
        let (req, service) = match notice {
            Notice::Flush { expired } => (
                BounceRequest::Flush {
                    queue,
                    queue_id,
                    expired,
                },
                &self.settings.bounce_service,
            ),
            Notice::Warn => (
                BounceRequest::Warn { queue, queue_id },
                &self.settings.defer_service,
            ),
            Notice::Trace => (
                BounceRequest::Trace { queue, queue_id },
                &self.settings.trace_service,
            ),
        };
        match Conn::start(
            &self.layout.queue_dir,
            service,
            &req,
            self.settings.ipc_timeout,
        ) {
            Ok(conn) => {
                let token = Token(self.next_token);
                self.next_token += 1;
                self.pending_registration.push((
                    token,
                    InFlight {
                        conn,
                        job: Job::Bounce { msg: key, notice },
                    },
                ));
            }
            Err(e) => {
                warn!(
                    "{}: {} service unavailable: {} -- deferring",
                    m.id, service, e
                );
                m.pending = 0;
                self.notice_done(key, notice, None);
            }
        }
    }

    fn notice_done(&mut self, key: u64, notice: Notice, reply: Option<BounceReply>) {
        let Some(m) = self.messages.get_mut(&key) else {
            return;
        };
        m.pending = 0;
        let ok = match &reply {
            Some(r) if r.ok => true,
            Some(r) => {
                warn!("{}: bounce service: {} -- deferring", m.id, r.reason);
                false
            }
            None => {
                warn!("{}: bounce service failed -- deferring", m.id);
                false
            }
        };
        match notice {
            Notice::Flush { .. } if ok => {
                m.bounce_sent = true;
                m.bounced = false;
                self.proceed(key);
            }
            Notice::Warn => {
                m.warn_done = true;
                if ok
                    && let Some((offset, _)) = m.env.warn_time
                    && let Err(e) = m.file.set_warn_time(offset, WARN_SENT)
                {
                    warn!("{}: update warning time: {}", m.id, e);
                }
                self.proceed(key);
            }
            Notice::Trace if ok => {
                m.trace_sent = true;
                self.proceed(key);
            }
            // The notice is still owed: keep the message and its log.
            _ => self.defer_message(key),
        }
    }

    fn forget(&mut self, key: u64) -> Option<Message> {
        let m = self.messages.remove(&key)?;
        let todo = m
            .env
            .recipients
            .iter()
            .filter(|r| r.state == RcptState::Todo)
            .count();
        self.rcpts_in_memory = self.rcpts_in_memory.saturating_sub(todo);
        Some(m)
    }

    fn remove_message(&mut self, key: u64) {
        let Some(m) = self.forget(key) else { return };
        logfile::remove(&self.layout, "defer", &m.id);
        match std::fs::remove_file(&m.file.path) {
            Ok(()) => info!("{}: removed", m.id),
            Err(e) => warn!("{}: remove {}: {}", m.id, m.file.path.display(), e),
        }
    }

    fn defer_message(&mut self, key: u64) {
        let Some(m) = self.forget(key) else { return };
        let age = SystemTime::now()
            .duration_since(at(m.env.arrival))
            .unwrap_or_default();
        let delay = age.clamp(self.settings.min_backoff, self.settings.max_backoff);
        if let Err(e) = m.file.file.set_modified(SystemTime::now() + delay) {
            warn!("{}: set retry time: {}", m.id, e);
        }
        if let Err(e) = self.layout.move_file(&m.id, "active", "deferred") {
            warn!("{}: move to deferred: {}", m.id, e);
        }
    }
}

impl Qmgr {
    fn flush_registrations(&mut self, registry: &Registry) {
        for (token, mut f) in std::mem::take(&mut self.pending_registration) {
            if let Err(e) = registry.register(&mut f.conn.stream, token, Interest::READABLE) {
                warn!("watch connection: {e}");
            }
            self.inflight.insert(token, f);
        }
    }
}

/// The NOTIFY bit of SUCCESS (RFC 3461; [`mail::dsn::Notify`]).
const SUCCESS: u32 = 2;

/// Tells flush(8) that `id` waits for `site`, without waiting for it.
fn flush_add(queue_dir: &std::path::Path, service: &str, site: &str, id: &QueueId) {
    if let Err(e) = ipc::flush::add(queue_dir, service, site, id.as_str()) {
        warn!("{}: flush service: {}", id, e);
    }
}

/// Splits a content filter, `transport:nexthop`, into the transport and
/// the next hop (`None` when empty: the recipient's own next hop).
fn split_filter(filter: &str) -> (String, Option<String>) {
    match filter.split_once(':') {
        Some((t, h)) if !h.is_empty() => (t.to_string(), Some(h.to_string())),
        Some((t, _)) => (t.to_string(), None),
        None => (filter.to_string(), None),
    }
}

/// The process limit of a transport's master.cf entry (0: none).
fn process_limit(ctx: &Ctx, transport: &str) -> u32 {
    let default = ctx
        .cfg
        .int(&params::DEFAULT_PROCESS_LIMIT)
        .unwrap_or(100)
        .max(0) as u32;
    let path = ctx.cfg.config_dir().join("master.cf");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return default;
    };
    let Ok(services) = config::master_cf::parse(&text, &path) else {
        return default;
    };
    services
        .iter()
        .find(|s| s.name == transport && s.kind == config::ServiceType::Unix)
        .map_or(default, |s| s.maxproc.unwrap_or(default))
}

impl EventServer for Qmgr {
    fn post_init(&mut self, ctx: &Ctx, registry: &Registry) {
        self.recover_active();
        self.scan();
        self.fill_active(ctx);
        self.flush_registrations(registry);
        self.dispatch(registry);
        self.flush_registrations(registry);
    }

    fn trigger(&mut self, ctx: &Ctx, data: &[u8], registry: &Registry) {
        for &b in data {
            match b {
                b'I' | b'W' => self.scan_incoming = true,
                b'D' => self.scan_deferred = true,
                b'A' => {
                    self.scan_deferred = true;
                    self.flush_all = true;
                }
                b'F' => self.sched.revive_all(),
                _ => {}
            }
        }
        if !self.skipped.is_empty() {
            self.skipped.clear();
            self.scan_incoming = true;
        }
        self.scan();
        self.fill_active(ctx);
        self.dispatch(registry);
        self.flush_registrations(registry);
    }

    fn event(&mut self, ctx: &Ctx, event: &mio::event::Event, registry: &Registry) {
        let token = event.token();
        let Some(f) = self.inflight.get_mut(&token) else {
            return;
        };
        let done = match &f.job {
            Job::Deliver { .. } => match f.conn.poll_reply::<DeliveryReply>() {
                Poll::Pending => return,
                Poll::Ready(r) => Ok(Some(r)),
                Poll::Failed(e) => Err(e),
            }
            .map(|r| (r, None)),
            Job::Bounce { .. } => match f.conn.poll_reply::<BounceReply>() {
                Poll::Pending => return,
                Poll::Ready(r) => Ok((None, Some(r))),
                Poll::Failed(e) => Err(e),
            },
        };
        let mut f = self
            .inflight
            .remove(&token)
            .expect("invariant: present above");
        let _ = registry.deregister(&mut f.conn.stream);
        match (f.job, done) {
            (
                Job::Deliver {
                    transport,
                    nexthop,
                    entry,
                },
                Ok((reply, _)),
            ) => self.finish_entry(
                &transport,
                &nexthop,
                entry,
                reply,
                "unknown mail transport error",
            ),
            (
                Job::Deliver {
                    transport,
                    nexthop,
                    entry,
                },
                Err(e),
            ) => {
                warn!("transport {}: {}", transport, e);
                self.finish_entry(
                    &transport,
                    &nexthop,
                    entry,
                    None,
                    "unknown mail transport error",
                )
            }
            (Job::Bounce { msg, notice }, Ok((_, reply))) => self.notice_done(msg, notice, reply),
            (Job::Bounce { msg, notice }, Err(e)) => {
                warn!("bounce service: {e}");
                self.notice_done(msg, notice, None)
            }
        }
        self.fill_active(ctx);
        self.dispatch(registry);
        self.flush_registrations(registry);
    }

    fn next_timer(&self) -> Option<Duration> {
        Some(
            self.next_deferred_scan
                .saturating_duration_since(Instant::now()),
        )
    }

    fn timer(&mut self, ctx: &Ctx, registry: &Registry) {
        self.scan_incoming = true;
        self.scan();
        self.fill_active(ctx);
        self.dispatch(registry);
        self.flush_registrations(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::split_filter;

    #[test]
    fn content_filters() {
        let cases = [
            (
                "smtp:[127.0.0.1]:10025",
                ("smtp", Some("[127.0.0.1]:10025")),
            ),
            ("scan:", ("scan", None)),
            ("scan", ("scan", None)),
            (
                "lmtp:unix:private/filter",
                ("lmtp", Some("unix:private/filter")),
            ),
        ];
        for (f, (t, h)) in cases {
            assert_eq!(
                split_filter(f),
                (t.to_string(), h.map(str::to_string)),
                "{f}"
            );
        }
    }
}
