//! # NAME
//! server — scache(8) requests on the multi-server skeleton
//!
//! ## DESCRIPTION
//! Each readable client gets one request: save (with the descriptor
//! that follows the frame), find by destination, or find by endpoint.
//! A malformed request ends that client's connection, never the server.
//! The timer closes expired connections and writes the statistics.
//!
//! ## SEE ALSO
//! [`crate::cache`], [`ipc::scache`]

use std::time::{Duration, Instant, SystemTime};

use config::params;
use daemon::info;
use daemon::server::{Client, Ctx, MultiServer};
use ipc::scache::{Reply, Request};

use crate::cache::Store;

pub struct Scache {
    store: Store,
    status_every: Duration,
    next_status: Instant,
    started: SystemTime,
    active: bool,
}

impl Scache {
    pub fn pre_init(ctx: &Ctx) -> Scache {
        Scache {
            store: Store::new(ctx.time(&params::CONNECTION_CACHE_TTL_LIMIT)),
            status_every: ctx.time(&params::CONNECTION_CACHE_STATUS_UPDATE_TIME),
            next_status: Instant::now() + ctx.time(&params::CONNECTION_CACHE_STATUS_UPDATE_TIME),
            started: SystemTime::now(),
            active: false,
        }
    }

    fn log_stats(&mut self) {
        let s = self.store.stats;
        let pct = |h: u64, m: u64| (h * 100).checked_div(h + m).unwrap_or(0);
        let tm = sys::time::local(self.started);
        info!(
            "statistics: start interval {} {:2} {:02}:{:02}:{:02}",
            tm.month_abbrev(),
            tm.day,
            tm.hour,
            tm.min,
            tm.sec
        );
        info!(
            "statistics: domain lookup hits={} miss={} success={}%",
            s.dest_hits,
            s.dest_misses,
            pct(s.dest_hits, s.dest_misses)
        );
        info!(
            "statistics: address lookup hits={} miss={} success={}%",
            s.endp_hits,
            s.endp_misses,
            pct(s.endp_hits, s.endp_misses)
        );
        info!(
            "statistics: max simultaneous domains={} addresses={} connection={}",
            s.max_dests, s.max_endps, s.max_conns
        );
        self.store.stats = Default::default();
        self.started = SystemTime::now();
        self.active = false;
    }
}

impl MultiServer for Scache {
    fn request(&mut self, _ctx: &Ctx, client: &mut Client) -> bool {
        let Client::Unix(stream) = client else {
            return false;
        };
        let now = Instant::now();
        let (req, fd) = match ipc::scache::read_request(stream) {
            Ok(r) => r,
            Err(ipc::IpcError::Closed) => return false,
            Err(e) => {
                daemon::warn!("scache request: {e}");
                return false;
            }
        };
        self.active = true;
        let sent = match req {
            Request::Save {
                dest,
                endpoint,
                props,
                ttl_secs,
            } => {
                if let Some(fd) = fd {
                    let ttl = Duration::from_secs(u64::from(ttl_secs));
                    self.store.save(&dest, &endpoint, props, fd, ttl, now);
                }
                ipc::write_frame(stream, &Reply::Saved)
            }
            Request::FindDest { dest } => match self.store.find_dest(&dest, now) {
                Some((endpoint, props, fd)) => {
                    ipc::scache::write_found(stream, &endpoint, &props, &fd)
                }
                None => ipc::write_frame(stream, &Reply::NotFound),
            },
            Request::FindEndpoint { endpoint } => match self.store.find_endpoint(&endpoint, now) {
                Some((props, fd)) => ipc::scache::write_found(stream, &endpoint, &props, &fd),
                None => ipc::write_frame(stream, &Reply::NotFound),
            },
        };
        sent.is_ok()
    }

    fn next_timer(&self) -> Option<Duration> {
        let now = Instant::now();
        let expiry = self.store.next_expiry();
        let status = self.active.then_some(self.next_status);
        let at = match (expiry, status) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(at.saturating_duration_since(now))
    }

    fn timer(&mut self, _ctx: &Ctx) {
        let now = Instant::now();
        self.store.expire(now);
        if self.active && now >= self.next_status {
            self.log_stats();
            self.next_status = now + self.status_every;
        }
    }
}
