//! # NAME
//! delivery_log — the per-recipient delivery log line
//!
//! ## SYNOPSIS
//! ```ignore
//! delivery_log::log(&Line { queue_id, to, orig_to, relay, times, dsn, status, reason });
//! // postfix/local[7]: 3F2A11B9C4: to=<u@example.com>, relay=local, delay=0.12,
//! //   delays=0.05/0.01/0/0.06, dsn=2.0.0, status=sent (delivered to mailbox)
//! ```
//!
//! ## DESCRIPTION
//! The line pflogsumm and every Postfix administrator reads. `orig_to` is
//! shown when it differs from `to`. `delay` is the time from arrival to
//! the end of this attempt; `delays` splits it into before the queue
//! manager, in the queue manager, connection set-up, and transmission.
//! Delays print with two decimals below one second, one below ten, none
//! above, without trailing zeros.
//!
//! ## SEE ALSO
//! [`crate::log`], qmgr(8)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::log::Untrusted;

/// Formats a delay in seconds as Postfix does.
pub fn format_delay(d: Duration) -> String {
    let s = d.as_secs_f64();
    let text = if s >= 10.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.2}")
    };
    if text.contains('.') {
        let t = text.trim_end_matches('0').trim_end_matches('.');
        if t.is_empty() {
            "0".to_string()
        } else {
            t.to_string()
        }
    } else {
        text
    }
}

/// Seconds and microseconds since the epoch as a time.
pub fn at(t: (u64, u32)) -> SystemTime {
    UNIX_EPOCH + Duration::new(t.0, t.1.saturating_mul(1000))
}

/// The four phases of one delivery attempt.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub arrival: SystemTime,
    pub active: SystemTime,
    pub handed_over: SystemTime,
    pub connected: SystemTime,
    pub done: SystemTime,
}

impl Times {
    fn span(a: SystemTime, b: SystemTime) -> Duration {
        b.duration_since(a).unwrap_or_default()
    }

    /// `delay=X, delays=a/b/c/d`.
    pub fn text(&self) -> String {
        format!(
            "delay={}, delays={}/{}/{}/{}",
            format_delay(Self::span(self.arrival, self.done)),
            format_delay(Self::span(self.arrival, self.active)),
            format_delay(Self::span(self.active, self.handed_over)),
            format_delay(Self::span(self.handed_over, self.connected)),
            format_delay(Self::span(self.connected, self.done)),
        )
    }
}

/// One recipient's line.
pub struct Line<'a> {
    pub queue_id: &'a str,
    pub to: &'a str,
    pub orig_to: &'a str,
    pub relay: &'a str,
    pub times: Times,
    pub dsn: &'a str,
    /// `sent`, `deferred`, `bounced`, `expired`, ...
    pub status: &'a str,
    pub reason: &'a str,
}

impl Line<'_> {
    pub fn text(&self) -> String {
        let orig = if !self.orig_to.is_empty() && self.orig_to != self.to {
            format!(", orig_to=<{}>", Untrusted(self.orig_to))
        } else {
            String::new()
        };
        format!(
            "{}: to=<{}>{}, relay={}, {}, dsn={}, status={} ({})",
            self.queue_id,
            Untrusted(self.to),
            orig,
            Untrusted(self.relay),
            self.times.text(),
            self.dsn,
            self.status,
            Untrusted(self.reason),
        )
    }
}

/// Logs the line at info level.
pub fn log(line: &Line<'_>) {
    crate::log::log_str(crate::log::Level::Info, &line.text());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_look_like_postfix() {
        let ms = Duration::from_millis;
        assert_eq!(format_delay(ms(0)), "0");
        assert_eq!(format_delay(ms(4)), "0");
        assert_eq!(format_delay(ms(40)), "0.04");
        assert_eq!(format_delay(ms(100)), "0.1");
        assert_eq!(format_delay(ms(1234)), "1.2");
        assert_eq!(format_delay(ms(2000)), "2");
        assert_eq!(format_delay(ms(31400)), "31");
    }

    #[test]
    fn line_shape() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let ms = Duration::from_millis;
        let times = Times {
            arrival: t0,
            active: t0 + ms(50),
            handed_over: t0 + ms(60),
            connected: t0 + ms(60),
            done: t0 + ms(120),
        };
        let l = Line {
            queue_id: "3F2A11B9C4",
            to: "u@example.com",
            orig_to: "alias@example.com",
            relay: "local",
            times,
            dsn: "2.0.0",
            status: "sent",
            reason: "delivered to mailbox",
        };
        assert_eq!(
            l.text(),
            "3F2A11B9C4: to=<u@example.com>, orig_to=<alias@example.com>, relay=local, delay=0.12, delays=0.05/0.01/0/0.06, dsn=2.0.0, status=sent (delivered to mailbox)"
        );
    }
}
