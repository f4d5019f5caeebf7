//! # NAME
//! time — local calendar time for log lines and headers
//!
//! ## SYNOPSIS
//! ```ignore
//! let tm = time::local(SystemTime::now());
//! format!("{} {:2} {:02}:{:02}:{:02}", tm.month_abbrev(), tm.day, tm.hour, tm.min, tm.sec)
//! ```
//!
//! ## DESCRIPTION
//! Converts a time to the local time zone with `localtime_r(3)`, which
//! reads `TZ` and `/etc/localtime`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Broken-down local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tm {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// 0 = Sunday
    pub weekday: u32,
    /// Seconds east of UTC.
    pub gmtoff: i64,
    /// The zone's abbreviation (`UTC`, `CET`), possibly empty.
    pub zone: String,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl Tm {
    pub fn month_abbrev(&self) -> &'static str {
        MONTHS[(self.month as usize).clamp(1, 12) - 1]
    }

    pub fn weekday_abbrev(&self) -> &'static str {
        DAYS[(self.weekday as usize) % 7]
    }
}

/// `t` in the local time zone.
pub fn local(t: SystemTime) -> Tm {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(e) => -(e.duration().as_secs() as libc::time_t),
    };
    // SAFETY: an all-zero `struct tm` is a valid value (integers and a null
    // tm_zone pointer), and localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call;
    // localtime_r is the thread-safe variant.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return Tm {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            min: 0,
            sec: 0,
            weekday: 4,
            gmtoff: 0,
            zone: String::new(),
        };
    }
    Tm {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        min: tm.tm_min as u32,
        sec: tm.tm_sec as u32,
        weekday: tm.tm_wday as u32,
        gmtoff: tm.tm_gmtoff,
        zone: if tm.tm_zone.is_null() {
            String::new()
        } else {
            // SAFETY: localtime_r set tm_zone to a NUL-terminated string
            // owned by the C library's time zone data, valid for reading
            // here; it is copied at once.
            unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
                .to_string_lossy()
                .into_owned()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_sane() {
        let tm = local(UNIX_EPOCH + std::time::Duration::from_secs(86400 * 365));
        assert!(tm.year == 1970 || tm.year == 1971);
        assert!((1..=12).contains(&tm.month));
        assert_eq!(local(SystemTime::now()).month_abbrev().len(), 3);
    }
}
