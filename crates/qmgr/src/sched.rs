//! # NAME
//! sched — transports, destinations and their concurrency windows
//!
//! ## SYNOPSIS
//! ```ignore
//! sched.add(transport, nexthop, entry);
//! while let Some((t, n, entry)) = sched.next() { start delivery }
//! sched.done(t, n, HopStatus::Alive);
//! ```
//!
//! ## DESCRIPTION
//! Each transport has destinations (next hops) with a queue of entries;
//! an entry is one message's recipients for that next hop. [`Sched::next`]
//! picks round-robin over transports and, within a transport, over its
//! destinations, taking only from a destination whose busy count is below
//! its window and whose transport has a free process.
//!
//! The window follows Postfix's default feedback: +1/window per success
//! (so it grows by one after a window's worth of them) up to the limit,
//! −1/window per failure; when it would fall below one with nothing else
//! in flight, the destination is dead: [`Sched::done`] returns its queued
//! entries so that the caller defers them, and new entries for it are
//! deferred at once until the retry time.
//!
//! ## SEE ALSO
//! SCHEDULER_README, [`crate::qmgr`]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// One delivery's worth of recipients of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub msg: u64,
    /// Indices into the message's recipients, with the resolved address.
    pub rcpts: Vec<(usize, String)>,
}

#[derive(Debug)]
struct Dest {
    entries: VecDeque<Entry>,
    busy: u32,
    window: f64,
    dead_until: Option<Instant>,
    dead_reason: String,
    /// When a delivery last came back.
    last_done: Option<Instant>,
}

/// Limits of a transport.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub dest_concurrency: u32,
    pub initial_concurrency: u32,
    pub recipients: usize,
    pub processes: u32,
}

#[derive(Debug)]
struct Transport {
    limits: Limits,
    dests: HashMap<String, Dest>,
    order: VecDeque<String>,
    busy: u32,
}

#[derive(Debug, Default)]
pub struct Sched {
    transports: HashMap<String, Transport>,
    order: VecDeque<String>,
    dead_retry: Duration,
}

/// What happened to a destination after a delivery.
pub enum Verdict {
    Fine,
    /// The destination is dead; these entries must be deferred.
    Dead(Vec<Entry>),
}

impl Sched {
    pub fn new(dead_retry: Duration) -> Sched {
        Sched {
            transports: HashMap::new(),
            order: VecDeque::new(),
            dead_retry,
        }
    }

    pub fn has_transport(&self, t: &str) -> bool {
        self.transports.contains_key(t)
    }

    pub fn add_transport(&mut self, name: &str, limits: Limits) {
        self.transports
            .entry(name.to_string())
            .or_insert_with(|| Transport {
                limits,
                dests: HashMap::new(),
                order: VecDeque::new(),
                busy: 0,
            });
        if !self.order.iter().any(|t| t == name) {
            self.order.push_back(name.to_string());
        }
    }

    pub fn limits(&self, t: &str) -> Option<Limits> {
        self.transports.get(t).map(|t| t.limits)
    }

    /// The reason a destination is dead right now, if it is.
    pub fn dead(&mut self, transport: &str, nexthop: &str) -> Option<String> {
        let d = self.transports.get_mut(transport)?.dests.get_mut(nexthop)?;
        match d.dead_until {
            Some(t) if Instant::now() < t => Some(d.dead_reason.clone()),
            Some(_) => {
                d.dead_until = None;
                d.window = 1.0;
                None
            }
            None => None,
        }
    }

    /// Queues an entry (the transport must exist).
    pub fn add(&mut self, transport: &str, nexthop: &str, entry: Entry) {
        let t = self
            .transports
            .get_mut(transport)
            .expect("invariant: add_transport first");
        let init = f64::from(t.limits.initial_concurrency.max(1));
        let d = t.dests.entry(nexthop.to_string()).or_insert_with(|| Dest {
            entries: VecDeque::new(),
            busy: 0,
            window: init,
            dead_until: None,
            dead_reason: String::new(),
            last_done: None,
        });
        d.entries.push_back(entry);
        if !t.order.iter().any(|n| n == nexthop) {
            t.order.push_back(nexthop.to_string());
        }
    }

    /// The next entry that may be delivered now.
    pub fn next(&mut self) -> Option<(String, String, Entry)> {
        for _ in 0..self.order.len() {
            let tname = self.order.pop_front()?;
            self.order.push_back(tname.clone());
            let t = self.transports.get_mut(&tname)?;
            if t.limits.processes != 0 && t.busy >= t.limits.processes {
                continue;
            }
            for _ in 0..t.order.len() {
                let Some(dname) = t.order.pop_front() else {
                    break;
                };
                let Some(d) = t.dests.get_mut(&dname) else {
                    continue;
                };
                if d.entries.is_empty() {
                    if d.busy == 0 && d.dead_until.is_none() {
                        t.dests.remove(&dname);
                    }
                    continue;
                }
                t.order.push_back(dname.clone());
                let limit = f64::from(t.limits.dest_concurrency.max(1));
                let window = d.window.min(limit).floor().max(1.0) as u32;
                if d.busy >= window || d.dead_until.is_some() {
                    continue;
                }
                let e = d.entries.pop_front().expect("invariant: not empty");
                d.busy += 1;
                t.busy += 1;
                return Some((tname, dname, e));
            }
        }
        None
    }

    /// Whether deliveries to a destination are up to speed, so that the
    /// agent should look for a cached connection and keep its own
    /// (on-demand connection caching): one came back within the last
    /// second and another is in flight or waiting. A burst that fits in
    /// the initial window does not turn caching on.
    pub fn conn_cache(&self, transport: &str, nexthop: &str) -> bool {
        self.transports
            .get(transport)
            .and_then(|t| t.dests.get(nexthop))
            .is_some_and(|d| {
                d.last_done
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
                    && (d.busy > 1 || !d.entries.is_empty())
            })
    }

    /// A delivery to a destination came back.
    pub fn done(&mut self, transport: &str, nexthop: &str, alive: bool, reason: &str) -> Verdict {
        let retry = self.dead_retry;
        let Some(t) = self.transports.get_mut(transport) else {
            return Verdict::Fine;
        };
        t.busy = t.busy.saturating_sub(1);
        let limit = f64::from(t.limits.dest_concurrency.max(1));
        let Some(d) = t.dests.get_mut(nexthop) else {
            return Verdict::Fine;
        };
        d.busy = d.busy.saturating_sub(1);
        d.last_done = Some(Instant::now());
        if alive {
            d.window = (d.window + 1.0 / d.window.max(1.0)).min(limit);
            return Verdict::Fine;
        }
        d.window -= 1.0 / d.window.max(1.0);
        if d.window < 1.0 && d.busy == 0 {
            d.window = 1.0;
            d.dead_until = Some(Instant::now() + retry);
            d.dead_reason = reason.to_string();
            return Verdict::Dead(d.entries.drain(..).collect());
        }
        d.window = d.window.max(1.0);
        Verdict::Fine
    }

    /// Forgets every dead destination (`postqueue -f`).
    pub fn revive_all(&mut self) {
        for t in self.transports.values_mut() {
            for d in t.dests.values_mut() {
                d.dead_until = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            dest_concurrency: 20,
            initial_concurrency: 2,
            recipients: 50,
            processes: 100,
        }
    }

    fn e(n: u64) -> Entry {
        Entry {
            msg: n,
            rcpts: vec![],
        }
    }

    #[test]
    fn window_limits_and_round_robin() {
        let mut s = Sched::new(Duration::from_secs(60));
        s.add_transport("smtp", limits());
        for i in 0..5 {
            s.add("smtp", "a.example", e(i));
        }
        s.add("smtp", "b.example", e(10));
        let got: Vec<(String, u64)> = std::iter::from_fn(|| s.next())
            .map(|(_, d, e)| (d, e.msg))
            .collect();
        // Two for a (initial window 2), one for b, interleaved.
        assert_eq!(got.len(), 3);
        assert_eq!(got.iter().filter(|(d, _)| d == "a.example").count(), 2);
        // Not before a delivery came back.
        assert!(!s.conn_cache("smtp", "a.example"));
        assert!(matches!(
            s.done("smtp", "a.example", true, ""),
            Verdict::Fine
        ));
        // Back to back, with more in flight and waiting.
        assert!(s.conn_cache("smtp", "a.example"));
        assert!(!s.conn_cache("smtp", "b.example"));
        assert!(!s.conn_cache("relay", "a.example"));
        assert!(s.next().is_some());
    }

    #[test]
    fn failures_kill_a_destination() {
        let mut s = Sched::new(Duration::from_secs(60));
        s.add_transport(
            "smtp",
            Limits {
                initial_concurrency: 1,
                ..limits()
            },
        );
        s.add("smtp", "down.example", e(1));
        s.add("smtp", "down.example", e(2));
        s.add("smtp", "down.example", e(3));
        let (_, d, _) = s.next().unwrap();
        assert!(s.next().is_none(), "window 1");
        match s.done("smtp", &d, false, "connect refused") {
            Verdict::Dead(rest) => assert_eq!(rest.len(), 2),
            Verdict::Fine => panic!("should be dead"),
        }
        assert_eq!(
            s.dead("smtp", "down.example").as_deref(),
            Some("connect refused")
        );
        s.revive_all();
        assert!(s.dead("smtp", "down.example").is_none());
    }

    #[test]
    fn process_limit_per_transport() {
        let mut s = Sched::new(Duration::from_secs(60));
        s.add_transport(
            "local",
            Limits {
                processes: 2,
                ..limits()
            },
        );
        for i in 0..5 {
            s.add("local", &format!("d{i}"), e(i));
        }
        assert!(s.next().is_some());
        assert!(s.next().is_some());
        assert!(s.next().is_none());
    }
}
