//! # NAME
//! validate — the checks every Postfix program makes of main.cf at start-up
//!
//! ## SYNOPSIS
//! ```ignore
//! validate::check(&values)?;   // before postconf -m
//! ```
//!
//! ## DESCRIPTION
//! Before `postconf -m` (like every Postfix program that opens lookup
//! tables) prints anything, main.cf must be usable: every value must
//! expand, and the global parameters of [`CHECKS`] must have values of
//! their type and within their bounds. They are checked in that order and
//! the first problem ends the program, with Postfix's words:
//! `bad string length 0 < 1: setgid_group = `, `bad numerical
//! configuration: max_use = x`, `invalid max_use parameter value 0 < 1`,
//! `bad boolean configuration: soft_bounce = 1`, `parameter max_idle: bad
//! time value or unit: 5x`, `invalid max_idle: 0 (min 1)`, `malformed
//! compatibility level syntax: "3.x"`.
//!
//! ## BUGS
//! Postfix also checks that `mail_owner` and `setgid_group` exist and that
//! `myhostname` and `mydomain` are valid host names; those checks depend
//! on the host and are not made here.
//!
//! ## SEE ALSO
//! postconf(5), [`crate::print::Values`]

use crate::expand;
use crate::msg::{Result, fatal};
use crate::names::{RAW, READ_ONLY};
use crate::print::Values;

/// What a parameter must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A compatibility level: `N`, `N.N` or `N.N.N`.
    Level,
    /// A string with a length between `min` and `max` (0: no limit).
    Str { min: usize, max: usize },
    /// `yes` or `no`.
    Bool,
    /// An `int` with optional bounds.
    Int { min: Option<i64>, max: Option<i64> },
    /// A `long` with an optional lower bound.
    Long { min: Option<i64> },
    /// A time with a lower bound, in seconds.
    Time { min: u64 },
}

const fn s(min: usize) -> Check {
    Check::Str { min, max: 0 }
}
const fn i(min: i64) -> Check {
    Check::Int {
        min: Some(min),
        max: None,
    }
}
const ANY_INT: Check = Check::Int {
    min: None,
    max: None,
};

/// The parameters checked, in the order Postfix checks them.
pub const CHECKS: &[(&str, Check)] = &[
    ("compatibility_level", Check::Level),
    ("mail_version", s(1)),
    ("syslog_facility", s(1)),
    ("maillog_file_prefixes", s(1)),
    ("maillog_file_compressor", s(1)),
    ("maillog_file_rotate_suffix", s(1)),
    ("postlog_service_name", s(1)),
    ("daemon_table_open_error_is_fatal", Check::Bool),
    ("dns_ncache_ttl_fix_enable", Check::Bool),
    ("smtputf8_enable", Check::Bool),
    ("enable_idna2003_compatibility", Check::Bool),
    ("respectful_logging", Check::Bool),
    ("myhostname", s(1)),
    ("mydomain", s(1)),
    ("mail_name", s(1)),
    ("syslog_name", s(1)),
    ("mail_owner", s(1)),
    ("setgid_group", s(1)),
    ("myorigin", s(1)),
    ("daemon_directory", s(1)),
    ("data_directory", s(1)),
    ("command_directory", s(1)),
    ("meta_directory", s(1)),
    ("queue_directory", s(1)),
    ("shlib_directory", s(1)),
    ("process_id_directory", s(1)),
    ("double_bounce_sender", s(1)),
    ("default_privs", s(1)),
    ("mail_release_date", s(1)),
    ("default_database_type", s(1)),
    ("hash_queue_names", s(1)),
    ("mynetworks_style", s(1)),
    ("default_verp_delimiters", Check::Str { min: 2, max: 2 }),
    ("verp_delimiter_filter", s(1)),
    ("bounce_service_name", s(1)),
    ("cleanup_service_name", s(1)),
    ("defer_service_name", s(1)),
    ("pickup_service_name", s(1)),
    ("queue_service_name", s(1)),
    ("rewrite_service_name", s(1)),
    ("showq_service_name", s(1)),
    ("error_service_name", s(1)),
    ("flush_service_name", s(1)),
    ("address_verify_service_name", s(1)),
    ("trace_service_name", s(1)),
    ("proxymap_service_name", s(1)),
    ("proxywrite_service_name", s(1)),
    ("smtputf8_autodetect_classes", s(1)),
    ("info_log_address_format", s(1)),
    ("default_process_limit", i(1)),
    ("max_use", i(1)),
    ("dont_remove", ANY_INT),
    ("line_length_limit", i(512)),
    ("hash_queue_depth", i(1)),
    ("fork_attempts", i(1)),
    ("deliver_lock_attempts", i(1)),
    ("debug_peer_level", i(1)),
    ("fault_injection_code", ANY_INT),
    ("berkeley_db_create_buffer_size", i(1)),
    ("berkeley_db_read_buffer_size", i(1)),
    ("header_size_limit", i(1)),
    ("header_address_token_limit", i(1)),
    ("mime_nesting_limit", i(1)),
    ("mime_boundary_length_limit", i(1)),
    (
        "delay_logging_resolution_limit",
        Check::Int {
            min: None,
            max: Some(6),
        },
    ),
    ("tcp_windowsize", ANY_INT),
    ("message_size_limit", Check::Long { min: None }),
    ("lmdb_map_size", Check::Long { min: Some(1) }),
    ("disable_dns_lookups", Check::Bool),
    ("soft_bounce", Check::Bool),
    ("owner_request_special", Check::Bool),
    ("strict_8bitmime", Check::Bool),
    ("strict_7bit_headers", Check::Bool),
    ("strict_8bitmime_body", Check::Bool),
    ("strict_mime_encoding_domain", Check::Bool),
    ("disable_mime_input_processing", Check::Bool),
    ("disable_mime_output_conversion", Check::Bool),
    ("address_verify_negative_cache", Check::Bool),
    ("backwards_bounce_logfile_compatibility", Check::Bool),
    ("helpful_warnings", Check::Bool),
    ("send_cyrus_sasl_authzid", Check::Bool),
    ("multi_instance_enable", Check::Bool),
    ("enable_long_queue_ids", Check::Bool),
    ("strict_smtputf8", Check::Bool),
    ("enable_original_recipient", Check::Bool),
    ("application_event_drain_time", Check::Time { min: 1 }),
    ("max_idle", Check::Time { min: 1 }),
    ("ipc_timeout", Check::Time { min: 1 }),
    ("ipc_idle", Check::Time { min: 1 }),
    ("ipc_ttl", Check::Time { min: 1 }),
    ("trigger_timeout", Check::Time { min: 1 }),
    ("fork_delay", Check::Time { min: 1 }),
    ("deliver_lock_delay", Check::Time { min: 1 }),
    ("stale_lock_time", Check::Time { min: 1 }),
    ("daemon_timeout", Check::Time { min: 1 }),
    ("in_flow_delay", Check::Time { min: 0 }),
];

/// A decimal number with an optional sign, as strtol(3) reads it whole.
fn parse_number(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// A time in seconds; `unit` applies to a bare number.
fn parse_time(v: &str, unit: char) -> Option<u64> {
    let n = v.bytes().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let value: u64 = v[..n].parse().ok()?;
    let unit = v[n..].chars().next().unwrap_or(unit);
    let mult = config::value::unit_seconds(unit)?;
    let limit = i32::MAX as u64;
    if (mult == 1 && value > limit) || (mult > 1 && value >= limit / mult) {
        return None;
    }
    Some(value * mult)
}

/// Whether a compatibility level is well-formed.
fn level_ok(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Checks one expanded value.
fn check_one(name: &str, check: Check, v: &str) -> Result<()> {
    match check {
        Check::Level if !level_ok(v) => fatal!("malformed compatibility level syntax: \"{v}\""),
        Check::Str { min, .. } if v.len() < min => {
            fatal!("bad string length {} < {}: {} = {}", v.len(), min, name, v)
        }
        Check::Str { max, .. } if max > 0 && v.len() > max => {
            fatal!("bad string length {} > {}: {} = {}", v.len(), max, name, v)
        }
        Check::Bool if config::value::parse_bool(v).is_none() => {
            fatal!("bad boolean configuration: {name} = {v}")
        }
        Check::Int { min, max } => {
            let Some(n) = parse_number(v).filter(|n| i32::try_from(*n).is_ok()) else {
                return fatal!("bad numerical configuration: {name} = {v}");
            };
            bounds(name, n, min, max)
        }
        Check::Long { min } => {
            let Some(n) = parse_number(v) else {
                return fatal!("bad numerical configuration: {name} = {v}");
            };
            bounds(name, n, min, None)
        }
        Check::Time { min } => {
            let unit = match config::params::lookup(name).map(|d| d.kind) {
                Some(config::params::Kind::Time(u)) => u,
                _ => 's',
            };
            let Some(secs) = parse_time(v, unit) else {
                return fatal!("parameter {name}: bad time value or unit: {v}");
            };
            if secs < min {
                return fatal!("invalid {name}: {secs} (min {min})");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn bounds(name: &str, n: i64, min: Option<i64>, max: Option<i64>) -> Result<()> {
    if let Some(min) = min.filter(|m| n < *m) {
        return fatal!("invalid {name} parameter value {n} < {min}");
    }
    if let Some(max) = max.filter(|m| n > *m) {
        return fatal!("invalid {name} parameter value {n} > {max}");
    }
    Ok(())
}

/// Expands every main.cf value and checks the global parameters.
pub fn check(values: &Values<'_>) -> Result<()> {
    for s in values.settings.entries() {
        if RAW.contains(&s.name.as_str()) || READ_ONLY.contains(&s.name.as_str()) {
            continue;
        }
        if let Err(e) = expand::evaluate(&s.value, &|n| values.raw(n)) {
            crate::msg::warn(format_args!("{e}"));
            return fatal!("dictionary mail_dict: macro processing error");
        }
    }
    for (name, check) in CHECKS {
        let raw = values.raw(name).unwrap_or_default();
        let v = values.expand(&raw)?;
        check_one(name, *check, &v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(name: &str, check: Check, v: &str) -> String {
        check_one(name, check, v).unwrap_err().0
    }

    #[test]
    fn messages_are_postfix_words() {
        assert_eq!(
            err("setgid_group", s(1), ""),
            "bad string length 0 < 1: setgid_group = "
        );
        assert_eq!(
            err(
                "default_verp_delimiters",
                Check::Str { min: 2, max: 2 },
                "abc"
            ),
            "bad string length 3 > 2: default_verp_delimiters = abc"
        );
        assert_eq!(
            err("max_use", i(1), "0x10"),
            "bad numerical configuration: max_use = 0x10"
        );
        assert_eq!(
            err("max_use", i(1), "2147483648"),
            "bad numerical configuration: max_use = 2147483648"
        );
        assert_eq!(
            err("max_use", i(1), "-0"),
            "invalid max_use parameter value 0 < 1"
        );
        assert_eq!(
            err("soft_bounce", Check::Bool, "1"),
            "bad boolean configuration: soft_bounce = 1"
        );
        assert_eq!(
            err("max_idle", Check::Time { min: 1 }, "0m"),
            "invalid max_idle: 0 (min 1)"
        );
        assert_eq!(
            err("max_idle", Check::Time { min: 1 }, "1 m"),
            "parameter max_idle: bad time value or unit: 1 m"
        );
        assert_eq!(
            err("compatibility_level", Check::Level, "3.x"),
            "malformed compatibility level syntax: \"3.x\""
        );
        assert!(check_one("max_use", i(1), "+5").is_ok());
        assert!(check_one("lmdb_map_size", Check::Long { min: Some(1) }, "2147483648").is_ok());
        assert!(check_one("compatibility_level", Check::Level, "0.5").is_ok());
    }

    #[test]
    fn time_limits() {
        assert_eq!(parse_time("2147483647", 's'), Some(2147483647));
        assert_eq!(parse_time("35791393m", 's'), Some(35791393 * 60));
        assert_eq!(parse_time("35791394m", 's'), None);
        assert_eq!(parse_time("596523h", 's'), None);
        assert_eq!(parse_time("1mm", 's'), Some(60));
        assert_eq!(parse_time("1S", 's'), None);
        assert_eq!(parse_time("5", 'd'), Some(5 * 86400));
    }
}
