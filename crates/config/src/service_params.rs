//! # NAME
//! service_params — per-transport parameters that master.cf implies
//!
//! ## SYNOPSIS
//! ```ignore
//! for (name, default) in service_params::derived(&services) { ... }
//! ```
//!
//! ## DESCRIPTION
//! A master.cf service run by a delivery agent that qmgr(8) schedules
//! (`smtp`, `lmtp`, `local`, `virtual`, `error`, `pipe`) gets the
//! parameters `<service>_destination_concurrency_limit` and the rest of
//! [`SCHEDULER_SUFFIXES`], each defaulting to its `default_` or global
//! counterpart; `pipe` and `spawn` services also get `<service>_time_limit`.
//! A name that the built-in table has already keeps its built-in default
//! (`local_destination_recipient_limit`). This is the set `postconf -d`
//! adds for the services of master.cf.
//!
//! ## SEE ALSO
//! postconf(5) "transport_destination_concurrency_limit", [`crate::params`]

use crate::master_cf::Service;
use crate::params;

/// Per-transport scheduler parameters and their defaults.
pub const SCHEDULER_SUFFIXES: &[(&str, &str)] = &[
    ("delivery_slot_cost", "$default_delivery_slot_cost"),
    ("delivery_slot_discount", "$default_delivery_slot_discount"),
    ("delivery_slot_loan", "$default_delivery_slot_loan"),
    (
        "destination_concurrency_failed_cohort_limit",
        "$default_destination_concurrency_failed_cohort_limit",
    ),
    (
        "destination_concurrency_limit",
        "$default_destination_concurrency_limit",
    ),
    (
        "destination_concurrency_negative_feedback",
        "$default_destination_concurrency_negative_feedback",
    ),
    (
        "destination_concurrency_positive_feedback",
        "$default_destination_concurrency_positive_feedback",
    ),
    ("destination_rate_delay", "$default_destination_rate_delay"),
    (
        "destination_recipient_limit",
        "$default_destination_recipient_limit",
    ),
    ("extra_recipient_limit", "$default_extra_recipient_limit"),
    (
        "initial_destination_concurrency",
        "$initial_destination_concurrency",
    ),
    ("minimum_delivery_slots", "$default_minimum_delivery_slots"),
    ("recipient_limit", "$default_recipient_limit"),
    ("recipient_refill_delay", "$default_recipient_refill_delay"),
    ("recipient_refill_limit", "$default_recipient_refill_limit"),
    ("transport_rate_delay", "$default_transport_rate_delay"),
];

const TIME_LIMIT: (&str, &str) = ("time_limit", "$command_time_limit");

/// Delivery agents whose services qmgr(8) schedules per transport.
const SCHEDULED_AGENTS: &[&str] = &["smtp", "lmtp", "local", "virtual", "error", "pipe"];

/// The parameters master.cf adds, as (name, default), not sorted; built-in
/// names and repeats are left out.
pub fn derived(services: &[Service]) -> Vec<(String, &'static str)> {
    let pairs: Vec<(&str, &str)> = services
        .iter()
        .map(|s| (s.name.as_str(), s.command.as_str()))
        .collect();
    derived_from(&pairs)
        .into_iter()
        .filter(|(n, _)| params::lookup(n).is_none())
        .collect()
}

/// Every per-transport name that `(service name, command)` pairs imply,
/// built-in ones included (`local_destination_recipient_limit`), with the
/// derived defaults; repeats are left out. For tools that read master.cf
/// their own way: postconf(1) counts these names as service-defined.
pub fn derived_from(services: &[(&str, &str)]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for &(service, command) in services {
        let mut suffixes: Vec<(&str, &'static str)> = Vec::new();
        if SCHEDULED_AGENTS.contains(&command) {
            suffixes.extend_from_slice(SCHEDULER_SUFFIXES);
        }
        if command == "pipe" || command == "spawn" {
            suffixes.push(TIME_LIMIT);
        }
        for (suffix, default) in suffixes {
            let name = format!("{service}_{suffix}");
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, default));
            }
        }
    }
    out
}

/// The value type of a derived parameter, from its suffix.
pub fn kind(name: &str) -> params::Kind {
    let default = SCHEDULER_SUFFIXES
        .iter()
        .chain(std::iter::once(&TIME_LIMIT))
        .find(|(suffix, _)| name.ends_with(suffix) && name.len() > suffix.len() + 1)
        .map(|(_, d)| d.trim_start_matches('$'));
    default
        .and_then(params::lookup)
        .map_or(params::Kind::Str, |d| d.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master_cf;
    use std::path::Path;

    #[test]
    fn stock_services() {
        let m = master_cf::parse(
            "relay unix - - n - - smtp\nlocal unix - n n - - local\ndiscard unix - - n - - discard\n\
             bsmtp unix - n n - - pipe\ny inet - - n - - spawn\n",
            Path::new("m"),
        )
        .unwrap();
        let d = derived(&m);
        assert_eq!(
            d.iter().filter(|(n, _)| n.starts_with("relay_")).count(),
            16
        );
        assert_eq!(
            d.iter().filter(|(n, _)| n.starts_with("local_")).count(),
            14
        );
        assert_eq!(
            d.iter().filter(|(n, _)| n.starts_with("discard_")).count(),
            0
        );
        assert_eq!(
            d.iter().filter(|(n, _)| n.starts_with("bsmtp_")).count(),
            17
        );
        assert_eq!(
            d.iter()
                .filter(|(n, _)| n.starts_with("y_"))
                .collect::<Vec<_>>(),
            [&("y_time_limit".to_string(), "$command_time_limit")]
        );
        assert_eq!(
            kind("relay_destination_concurrency_limit"),
            params::Kind::Int
        );
        assert_eq!(kind("bsmtp_time_limit"), params::Kind::Time('s'));
    }

    #[test]
    fn derived_from_pairs() {
        let d = derived_from(&[("relay", "smtp"), ("relay", "smtp"), ("x", "spawn")]);
        assert_eq!(d.len(), 17);
        assert!(d.contains(&("x_time_limit".to_string(), "$command_time_limit")));
        let d = derived_from(&[("local", "local")]);
        assert_eq!(d.len(), 16);
        assert!(
            d.iter()
                .any(|(n, _)| n == "local_destination_recipient_limit")
        );
        assert!(derived_from(&[("discard", "discard")]).is_empty());
    }
}
