//! # NAME
//! date — RFC 5322 dates as Postfix writes and reads them
//!
//! ## SYNOPSIS
//! ```
//! use mail::date::{format_date, parse_date};
//! assert_eq!(format_date(1_795_438_910, 3600, Some("CET")), "Mon, 23 Nov 2026 14:01:50 +0100 (CET)");
//! assert_eq!(format_date(1_772_700_000, 0, Some("UTC")), "Thu,  5 Mar 2026 08:40:00 +0000 (UTC)");
//! let d = parse_date("Thu, 5 Mar 2026 09:40:00 +0100 (CET)").unwrap();
//! assert_eq!((d.unix, d.offset), (1_772_700_000, 3600));
//! ```
//!
//! ## DESCRIPTION
//! [`format_date`] writes the date Postfix puts in the `Date:` and
//! `Received:` headers it adds and in `Arrival-Date:` of a delivery
//! report: `%a, %e %b %Y %H:%M:%S %z (%Z)`, the day of the month padded
//! with a space, the zone name in parentheses when the caller knows one.
//! The caller gives the time in seconds since the epoch, its offset from
//! UTC in seconds (east positive) and the zone name from its local time
//! conversion; this module knows no time zone database.
//!
//! [`parse_date`] reads the `Date:` forms seen in mail: RFC 5322 with or
//! without the day name and seconds, obsolete two- and three-digit
//! years, the obsolete zone names (`UT`, `GMT`, `EST` ... `PDT`, military
//! letters as `-0000`), a trailing comment, and the asctime form
//! `Mon Nov 23 12:00:00 2026`.
//!
//! ## SEE ALSO
//! RFC 5322 section 3.3, [`crate::dsn`]

use thiserror::Error;

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1-12, day 1-31) of a day count.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Format a time as Postfix does in headers; `offset` is seconds east
/// of UTC, `zone` the zone name (omitted when `None` or empty).
pub fn format_date(unix: i64, offset: i32, zone: Option<&str>) -> String {
    let local = unix.saturating_add(i64::from(offset));
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wday = (days + 4).rem_euclid(7) as usize;
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs() / 60;
    let mut s = format!(
        "{}, {:2} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        DAYS[wday],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        sign,
        off / 60,
        off % 60
    );
    if let Some(z) = zone.filter(|z| !z.is_empty()) {
        s.push_str(" (");
        s.push_str(z);
        s.push(')');
    }
    s
}

/// A parsed date: the instant and the offset it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since the epoch.
    pub unix: i64,
    /// The written offset from UTC in seconds, east positive.
    pub offset: i32,
}

/// Why a date did not parse.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DateError {
    /// The text does not have the shape of a date.
    #[error("malformed date")]
    Syntax,
    /// An unknown month name.
    #[error("unknown month name")]
    Month,
    /// A field is out of range (day 32, hour 25, ...).
    #[error("date field out of range")]
    Range,
    /// An unknown time zone.
    #[error("unknown time zone")]
    Zone,
}

fn month_number(s: &str) -> Option<u32> {
    let s3 = s.get(..3)?;
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s3))
        .map(|i| i as u32 + 1)
}

fn zone_offset(z: &str) -> Result<i32, DateError> {
    let b = z.as_bytes();
    if (b.len() == 5) && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let hh = i32::from(b[1] - b'0') * 10 + i32::from(b[2] - b'0');
        let mm = i32::from(b[3] - b'0') * 10 + i32::from(b[4] - b'0');
        if mm > 59 {
            return Err(DateError::Range);
        }
        let v = (hh * 60 + mm) * 60;
        return Ok(if b[0] == b'-' { -v } else { v });
    }
    let h = match z.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        // Military zones: RFC 5322 says to take them as -0000.
        m if m.len() == 1 && m.as_bytes()[0].is_ascii_alphabetic() => 0,
        _ => return Err(DateError::Zone),
    };
    Ok(h * 3600)
}

fn num(s: &str) -> Result<i64, DateError> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(DateError::Syntax);
    }
    s.parse().map_err(|_| DateError::Syntax)
}

/// Remove comments (nested parentheses) from a header value.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut esc = false;
    for c in s.chars() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' if depth > 0 => esc = true,
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Parse a `Date:` header value.
pub fn parse_date(value: &str) -> Result<DateTime, DateError> {
    let clean = strip_comments(value).replace(',', " ");
    let mut w: Vec<&str> = clean.split_ascii_whitespace().collect();
    // Drop a leading day name.
    if w.first().is_some_and(|d| {
        d.bytes().all(|c| c.is_ascii_alphabetic())
            && d.get(..3)
                .is_some_and(|p| DAYS.iter().any(|n| n.eq_ignore_ascii_case(p)))
    }) {
        w.remove(0);
    }
    let (day, month, year, time, zone) = match w.as_slice() {
        // RFC 5322: 23 Nov 2026 12:00:00 +0100
        [d, m, y, t, rest @ ..] if d.bytes().all(|c| c.is_ascii_digit()) => {
            (num(d)?, *m, *y, *t, rest.first().copied())
        }
        // asctime: Nov 23 12:00:00 2026 [zone]
        [m, d, t, y, rest @ ..] if t.contains(':') => (num(d)?, *m, *y, *t, rest.first().copied()),
        _ => return Err(DateError::Syntax),
    };
    let month = month_number(month).ok_or(DateError::Month)?;
    // Obsolete years: two digits are 1950-2049, three are since 1900.
    let year = match (num(year)?, year.len()) {
        (y, 1 | 2) if y < 50 => y + 2000,
        (y, 1..=3) => y + 1900,
        (y, _) => y,
    };
    let t: Vec<&str> = time.split(':').collect();
    let (hh, mm, ss) = match t.as_slice() {
        [h, m] => (num(h)?, num(m)?, 0),
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        _ => return Err(DateError::Syntax),
    };
    let dim = days_in_month(year, month);
    if !(1..=i64::from(dim)).contains(&day) || hh > 23 || mm > 59 || ss > 60 || year > 9999 {
        return Err(DateError::Range);
    }
    let offset = match zone {
        Some(z) => zone_offset(z)?,
        None => 0,
    };
    let days = days_from_civil(year, month, day as u32);
    let unix = days * 86_400 + hh * 3600 + mm * 60 + ss - i64::from(offset);
    Ok(DateTime { unix, offset })
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_postfix() {
        // From the Received:/Date: headers Postfix 3.7.11 wrote here.
        assert_eq!(
            format_date(1_795_438_910, 0, Some("UTC")),
            "Mon, 23 Nov 2026 13:01:50 +0000 (UTC)"
        );
        // A single-digit day is padded with a space, as in real headers.
        assert_eq!(
            format_date(1_236_282_218, 3600, Some("CET")),
            "Thu,  5 Mar 2009 20:43:38 +0100 (CET)"
        );
        assert_eq!(
            format_date(0, -(5 * 3600 + 30 * 60), None),
            "Wed, 31 Dec 1969 18:30:00 -0530"
        );
        assert_eq!(
            format_date(0, 0, Some("")),
            "Thu,  1 Jan 1970 00:00:00 +0000"
        );
        assert_eq!(
            format_date(951_782_400, 0, None),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        let _ = format_date(i64::MAX, i32::MAX, Some("X"));
        let _ = format_date(i64::MIN, i32::MIN, Some("X"));
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn parses_common_forms() {
        type Case<'a> = (&'a str, Result<(i64, i32), DateError>);
        let cases: &[Case] = &[
            (
                "Mon, 23 Nov 2026 13:01:50 +0000 (UTC)",
                Ok((1_795_438_910, 0)),
            ),
            ("23 Nov 2026 14:01:50 +0100", Ok((1_795_438_910, 3600))),
            ("Mon,23 Nov 2026 13:01:50 GMT", Ok((1_795_438_910, 0))),
            (
                "Mon, 23 Nov 2026 08:01:50 EST",
                Ok((1_795_438_910, -18_000)),
            ),
            ("Mon, 23 Nov 2026 13:01 +0000", Ok((1_795_438_860, 0))),
            (
                "Monday, 23 November 2026 13:01:50 +0000",
                Ok((1_795_438_910, 0)),
            ),
            ("Mon, 23 Nov 26 13:01:50 +0000", Ok((1_795_438_910, 0))),
            ("Mon, 23 Nov 126 13:01:50 +0000", Ok((1_795_438_910, 0))),
            ("Tue, 26 Sep 2000 23:37:24 +0100", Ok((970_007_844, 3600))),
            ("26 Sep 00 23:37:24 +0100", Ok((970_007_844, 3600))),
            ("26 Sep 99 23:37:24 +0100", Ok((938_385_444, 3600))),
            ("Mon Nov 23 13:01:50 2026", Ok((1_795_438_910, 0))),
            ("Mon, 23 Nov 2026 13:01:50 Z", Ok((1_795_438_910, 0))),
            ("Mon, 23 Nov 2026 13:01:50", Ok((1_795_438_910, 0))),
            (
                "Mon, 23 Nov 2026 13:01:50 +0000 (comment (nested))",
                Ok((1_795_438_910, 0)),
            ),
            ("Mon, 23 Nov 2026 25:01:50 +0000", Err(DateError::Range)),
            ("Mon, 31 Nov 2026 13:01:50 +0000", Err(DateError::Range)),
            ("Mon, 29 Feb 2026 13:01:50 +0000", Err(DateError::Range)),
            ("Mon, 23 Foo 2026 13:01:50 +0000", Err(DateError::Month)),
            ("Mon, 23 Nov 2026 13:01:50 +0099", Err(DateError::Range)),
            ("Mon, 23 Nov 2026 13:01:50 XYZ", Err(DateError::Zone)),
            ("yesterday", Err(DateError::Syntax)),
            ("", Err(DateError::Syntax)),
            ("Mon, 23 Nov 99999999999 1:1:1", Err(DateError::Syntax)),
            ("Mon, 0 Nov 2026 13:01:50 +0000", Err(DateError::Range)),
            ("Mon, 23 Nov 2026 13:-1:50 +0000", Err(DateError::Syntax)),
            ("Mon, 23 Nov 2026 13:01:50:00 +0000", Err(DateError::Syntax)),
            ("(((", Err(DateError::Syntax)),
            // fuzz/artifacts/date/crash-cb2436715aa9b2af4cfcc66ac82da0d068ada6b6
            ("\n/\u{5}\u{780}", Err(DateError::Syntax)),
            (
                "\u{780}\u{780} 1 Jan 2000 00:00 +0000",
                Err(DateError::Syntax),
            ),
            ("1 Jan 0000 00:00:00 +0000", Ok((-62_167_219_200, 0))),
            ("1 Jan 0999 00:00:00 +0000", Ok((-30_641_760_000, 0))),
        ];
        for (s, want) in cases {
            let got = parse_date(s).map(|d| (d.unix, d.offset));
            assert_eq!(got, *want, "{s:?}");
        }
    }

    #[test]
    fn format_then_parse() {
        for (t, off) in [
            (0, 0),
            (1_795_438_910, 3600),
            (1_795_438_910, -34_200),
            (253_402_300_799, 0),
        ] {
            let s = format_date(t, off, Some("X"));
            assert_eq!(
                parse_date(&s),
                Ok(DateTime {
                    unix: t,
                    offset: off
                }),
                "{s}"
            );
        }
    }
}
