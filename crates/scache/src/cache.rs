//! # NAME
//! cache — the connections scache(8) holds, by endpoint and destination
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut c = Store::new(ttl_limit);
//! c.save("smtp:[mx]:25:", "smtp:192.0.2.1:25:me:", props, fd, ttl, now);
//! let hit = c.find_dest("smtp:[mx]:25:", now);   // Some((endpoint, props, fd))
//! c.expire(now);
//! ```
//!
//! ## DESCRIPTION
//! Connections are filed under their endpoint, newest last; a
//! destination names the endpoints that served it. A lookup by
//! destination takes the newest live connection of the newest endpoint
//! that has one. Each connection and each destination entry lives for
//! the time its saver asked, at most `connection_cache_ttl_limit`; what
//! expires is closed. A connection handed out is forgotten here.
//!
//! ## SEE ALSO
//! scache(8), [`ipc::scache`]

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

struct Conn {
    fd: OwnedFd,
    props: Vec<u8>,
    expires: Instant,
}

/// Counters for the statistics lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub dest_hits: u64,
    pub dest_misses: u64,
    pub endp_hits: u64,
    pub endp_misses: u64,
    pub max_dests: usize,
    pub max_endps: usize,
    pub max_conns: usize,
}

/// The cache.
pub struct Store {
    ttl_limit: Duration,
    endpoints: HashMap<String, Vec<Conn>>,
    dests: HashMap<String, Vec<(String, Instant)>>,
    pub stats: Stats,
}

impl Store {
    pub fn new(ttl_limit: Duration) -> Store {
        Store {
            ttl_limit,
            endpoints: HashMap::new(),
            dests: HashMap::new(),
            stats: Stats::default(),
        }
    }

    /// How many connections are held.
    pub fn connections(&self) -> usize {
        self.endpoints.values().map(Vec::len).sum()
    }

    pub fn save(
        &mut self,
        dest: &str,
        endpoint: &str,
        props: Vec<u8>,
        fd: OwnedFd,
        ttl: Duration,
        now: Instant,
    ) {
        let expires = now + ttl.min(self.ttl_limit);
        self.endpoints
            .entry(endpoint.to_string())
            .or_default()
            .push(Conn { fd, props, expires });
        if !dest.is_empty() {
            let eps = self.dests.entry(dest.to_string()).or_default();
            eps.retain(|(e, _)| e != endpoint);
            eps.push((endpoint.to_string(), expires));
        }
        self.stats.max_dests = self.stats.max_dests.max(self.dests.len());
        self.stats.max_endps = self.stats.max_endps.max(self.endpoints.len());
        self.stats.max_conns = self.stats.max_conns.max(self.connections());
    }

    fn take(&mut self, endpoint: &str, now: Instant) -> Option<(Vec<u8>, OwnedFd)> {
        let conns = self.endpoints.get_mut(endpoint)?;
        conns.retain(|c| c.expires > now);
        let c = conns.pop();
        if conns.is_empty() {
            self.endpoints.remove(endpoint);
        }
        c.map(|c| (c.props, c.fd))
    }

    /// A connection that served `dest`: (endpoint, props, fd).
    pub fn find_dest(&mut self, dest: &str, now: Instant) -> Option<(String, Vec<u8>, OwnedFd)> {
        let eps: Vec<String> = match self.dests.get_mut(dest) {
            Some(eps) => {
                eps.retain(|(_, t)| *t > now);
                eps.iter().rev().map(|(e, _)| e.clone()).collect()
            }
            None => Vec::new(),
        };
        for e in eps {
            if let Some((props, fd)) = self.take(&e, now) {
                self.stats.dest_hits += 1;
                return Some((e, props, fd));
            }
        }
        self.stats.dest_misses += 1;
        None
    }

    /// A connection to `endpoint`: (props, fd).
    pub fn find_endpoint(&mut self, endpoint: &str, now: Instant) -> Option<(Vec<u8>, OwnedFd)> {
        let hit = self.take(endpoint, now);
        if hit.is_some() {
            self.stats.endp_hits += 1;
        } else {
            self.stats.endp_misses += 1;
        }
        hit
    }

    /// Closes what has expired.
    pub fn expire(&mut self, now: Instant) {
        self.endpoints.retain(|_, conns| {
            conns.retain(|c| c.expires > now);
            !conns.is_empty()
        });
        self.dests.retain(|_, eps| {
            eps.retain(|(_, t)| *t > now);
            !eps.is_empty()
        });
    }

    /// When the next entry expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        let c = self
            .endpoints
            .values()
            .flat_map(|v| v.iter().map(|c| c.expires))
            .min();
        let d = self
            .dests
            .values()
            .flat_map(|v| v.iter().map(|(_, t)| *t))
            .min();
        match (c, d) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        OwnedFd::from(std::fs::File::open("/dev/null").unwrap())
    }

    #[test]
    fn save_find_expire() {
        let t0 = Instant::now();
        let s2 = Duration::from_secs(2);
        let mut c = Store::new(s2);
        c.save("d1", "e1", b"a".to_vec(), fd(), Duration::from_secs(60), t0);
        c.save("d1", "e1", b"b".to_vec(), fd(), s2, t0);
        c.save("d2", "e2", b"c".to_vec(), fd(), s2, t0);
        assert_eq!(c.connections(), 3);
        // Newest first.
        let (e, p, _) = c.find_dest("d1", t0).unwrap();
        assert_eq!((e.as_str(), p.as_slice()), ("e1", &b"b"[..]));
        let (p, _) = c.find_endpoint("e1", t0).unwrap();
        assert_eq!(p, b"a");
        assert!(c.find_dest("d1", t0).is_none());
        assert!(c.find_endpoint("e1", t0).is_none());
        assert_eq!(c.stats.dest_hits, 1);
        assert_eq!(c.stats.dest_misses, 1);
        // The TTL is capped at the limit.
        assert!(c.next_expiry().unwrap() <= t0 + s2);
        c.expire(t0 + Duration::from_secs(3));
        assert_eq!(c.connections(), 0);
        assert!(c.find_dest("d2", t0 + Duration::from_secs(3)).is_none());
        assert!(c.next_expiry().is_none());
        assert_eq!(c.stats.max_conns, 3);
    }
}
