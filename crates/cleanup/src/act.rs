//! # NAME
//! act — the actions of header_checks(5) and body_checks
//!
//! ## SYNOPSIS
//! ```ignore
//! let (prepend, verdict) = check(&mut st, &mut table, Context::Header, b"Subject: hi");
//! ```
//!
//! ## DESCRIPTION
//! [`check`] looks one logical header or one body line up in a table of
//! checks (an empty line is never looked up) and carries out the action
//! the table answers, case-insensitive, with its optional text:
//!
//! | action | effect |
//! | --- | --- |
//! | `REJECT [text]` | refuse the message (`5.7.1 message content rejected`, or the text with `5.7.1` put in front unless it starts with an enhanced status code; a `4.x.x` code makes the message wait instead); no more checks |
//! | `WARN`, `INFO [text]` | log a `warning:` or `info:` line |
//! | `HOLD [text]` | put the message in the `hold` queue |
//! | `DISCARD [text]` | claim delivery and throw the message away; no more checks |
//! | `PASS [text]` | no more checks for this message |
//! | `FILTER transport:destination` | send the message through that content filter (the last one counts) |
//! | `REDIRECT user@domain` | send the message to that address instead of its recipients (the last one counts) |
//! | `BCC user@domain` | add a recipient (NOTIFY=NEVER) |
//! | `PREPEND text` | put a line before this one (a header before a header) |
//! | `REPLACE text` | put this text in place of the line (a header for a header) |
//! | `IGNORE` | remove the line |
//! | `STRIP [text]` | remove the line and log it |
//! | `DUNNO`, `OK` | nothing |
//!
//! Every action but `DUNNO`, `OK` and `IGNORE` logs a line in Postfix's
//! format ([`State::act_log`]). An action with a missing or malformed
//! argument, or an unknown action, is logged as a warning and ignored, as
//! Postfix does: Postfix 3.7 has no `DEFER` action in these tables (use
//! `REJECT 4.x.x text`). A table that fails makes the message wait.
//!
//! ## SEE ALSO
//! header_checks(5), [`crate::message`]

use daemon::{Untrusted, warn};
use ipc::cleanup::status;

use crate::state::State;
use crate::tables::Table;

/// Whether a header or a body line is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Header,
    Body,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Header => "header",
            Context::Body => "body",
        }
    }
}

/// What becomes of the line that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Replace(Vec<u8>),
    Drop,
}

/// Checks `line` against `table` and acts; returns a line to put before
/// it, if any, and what becomes of it.
pub fn check(
    st: &mut State,
    table: &mut Table,
    ctx: Context,
    line: &[u8],
) -> (Option<Vec<u8>>, Verdict) {
    if line.is_empty() {
        return (None, Verdict::Keep);
    }
    let key = String::from_utf8_lossy(line);
    match table.maps.find(&key) {
        Ok(Some(value)) => act(st, table.title, ctx, line, &value),
        Ok(None) => (None, Verdict::Keep),
        Err(e) => {
            crate::tables::log_lookup_error(&e, &key);
            warn!(
                "{}: {} map lookup problem -- message not accepted, try again later",
                st.id, table.title
            );
            st.table_failed();
            (None, Verdict::Keep)
        }
    }
}

/// Whether `text` is a header: a name of printable characters and a colon.
fn is_header(text: &str) -> bool {
    mail::header::header_name_len(text.as_bytes()).is_some()
}

/// Whether `text` starts with an enhanced status code followed by a
/// space or its end.
fn has_dsn(text: &str) -> bool {
    let code = text.split(' ').next().unwrap_or("");
    let parts: Vec<&str> = code.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Carries out `value` (`ACTION text`) for `line`.
fn act(
    st: &mut State,
    title: &str,
    ctx: Context,
    line: &[u8],
    value: &str,
) -> (Option<Vec<u8>>, Verdict) {
    let value = value.trim_start();
    let (command, text) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], value[i..].trim_start()),
        None => (value, ""),
    };
    let class = ctx.name();
    let keep = (None, Verdict::Keep);
    match command.to_ascii_uppercase().as_str() {
        "REJECT" => {
            let mut reason = if text.is_empty() {
                "5.7.1 message content rejected".to_string()
            } else if has_dsn(text) {
                text.to_string()
            } else {
                format!("5.7.1 {text}")
            };
            if !reason.starts_with(['4', '5']) {
                warn!(
                    "bad DSN action in {} -- need 4.x.x or 5.x.x",
                    Untrusted(text)
                );
                reason.replace_range(..1, "4");
            }
            let code = if reason.starts_with('4') {
                status::DEFER
            } else {
                status::CONT
            };
            st.act_log("reject", class, line, &reason);
            st.fail(code, reason);
            st.checks_off = true;
            keep
        }
        "WARN" => {
            st.act_log("warning", class, line, text);
            keep
        }
        "INFO" => {
            st.act_log("info", class, line, text);
            keep
        }
        "FILTER" => {
            if text.is_empty() {
                warn!("missing FILTER command argument in {} map", title);
            } else if !text.contains(':') {
                warn!(
                    "bad FILTER command {} in {} -- need transport:destination",
                    Untrusted(text),
                    title
                );
            } else {
                st.act_log("filter", class, line, text);
                st.filter = Some(text.to_string());
            }
            keep
        }
        "HOLD" => {
            if !st.hold {
                st.act_log("hold", class, line, text);
                st.hold = true;
            }
            keep
        }
        "DISCARD" => {
            st.act_log("discard", class, line, text);
            st.discard = true;
            st.checks_off = true;
            keep
        }
        "PASS" => {
            st.act_log("pass", class, line, text);
            st.checks_off = true;
            keep
        }
        "REDIRECT" => {
            if !text.contains('@') {
                warn!(
                    "bad REDIRECT target \"{}\" in {} map -- need user@domain",
                    Untrusted(text),
                    title
                );
            } else {
                st.act_log("redirect", class, line, text);
                st.redirect = Some(text.to_string());
            }
            keep
        }
        "BCC" => {
            if !text.contains('@') {
                warn!(
                    "bad BCC address \"{}\" in {} map -- need user@domain",
                    Untrusted(text),
                    title
                );
            } else {
                st.act_log("bcc", class, line, text);
                st.check_bcc.push(text.to_string());
            }
            keep
        }
        "DUNNO" | "OK" => keep,
        "IGNORE" => (None, Verdict::Drop),
        "STRIP" => {
            st.act_log("strip", class, line, text);
            (None, Verdict::Drop)
        }
        "PREPEND" | "REPLACE" => {
            let replace = command.eq_ignore_ascii_case("REPLACE");
            let what = if replace { "REPLACE" } else { "PREPEND" };
            if text.is_empty() {
                warn!("{} action without text in {} map", what, title);
                return keep;
            }
            if ctx == Context::Header && !is_header(text) {
                warn!(
                    "bad {} header text \"{}\" in {} map -- need \"headername: headervalue\"",
                    what,
                    Untrusted(text),
                    title
                );
                return keep;
            }
            if replace {
                st.act_log("replace", class, line, text);
                (None, Verdict::Replace(text.as_bytes().to_vec()))
            } else {
                st.act_log("prepend", class, line, text);
                (Some(text.as_bytes().to_vec()), Verdict::Keep)
            }
        }
        _ => {
            warn!("unknown command in {} map: {}", title, Untrusted(value));
            keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rules: &str) -> Table {
        let dir = std::env::temp_dir().join(format!("cleanup-act-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.regexp", rules.len()));
        std::fs::write(&path, rules).unwrap();
        Table::for_tests("header_checks", &format!("regexp:{}", path.display()))
    }

    const RULES: &str = "\
/^X-Reject:/ REJECT
/^X-Reject3:/ REJECT go away
/^X-Reject2:/ REJECT 4.1.1 later
/^X-Reject4:/ REJECT 2.0.0 fine
/^X-Warn:/ WARN warn text
/^X-Info:/ info
/^X-Hold:/ HOLD held for review
/^X-Discard:/ DISCARD
/^X-Pass:/ PASS
/^X-Filter:/ FILTER smtp:[127.0.0.1]:10025
/^X-Filter3:/ FILTER
/^X-Filter4:/ FILTER nocolon
/^X-Redirect:/ REDIRECT other@far.example
/^X-Redirect2:/ REDIRECT
/^X-Bcc:/ BCC copy@far.example
/^X-Badbcc:/ BCC nodomain
/^X-Dunno:/ DUNNO
/^X-Ok:/ OK
/^X-Ignore:/ IGNORE
/^X-Strip:/ STRIP strip text
/^X-Prepend:/ PREPEND X-Added: yes
/^X-Badprepend:/ PREPEND not a header
/^X-Replace: (.*)/ REPLACE X-Replaced: $1
/^X-Badreplace:/ REPLACE not a header
/^X-Defer:/ DEFER
/^body line/ REPLACE new body line
/^prepend body/ PREPEND > quoted
";

    struct Outcome {
        prepend: Option<&'static str>,
        verdict: Verdict,
        errs: u32,
        reason: Option<&'static str>,
        hold: bool,
        discard: bool,
        checks_off: bool,
        filter: Option<&'static str>,
        redirect: Option<&'static str>,
        bcc: &'static [&'static str],
    }

    const KEEP: Outcome = Outcome {
        prepend: None,
        verdict: Verdict::Keep,
        errs: 0,
        reason: None,
        hold: false,
        discard: false,
        checks_off: false,
        filter: None,
        redirect: None,
        bcc: &[],
    };

    #[test]
    fn every_action() {
        let mut t = table(RULES);
        let cases: Vec<(&str, Context, Outcome)> = vec![
            (
                "X-Reject: 1",
                Context::Header,
                Outcome {
                    errs: status::CONT,
                    reason: Some("5.7.1 message content rejected"),
                    checks_off: true,
                    ..KEEP
                },
            ),
            (
                "X-Reject3: 1",
                Context::Header,
                Outcome {
                    errs: status::CONT,
                    reason: Some("5.7.1 go away"),
                    checks_off: true,
                    ..KEEP
                },
            ),
            (
                "X-Reject2: 1",
                Context::Header,
                Outcome {
                    errs: status::DEFER,
                    reason: Some("4.1.1 later"),
                    checks_off: true,
                    ..KEEP
                },
            ),
            (
                "X-Reject4: 1",
                Context::Header,
                Outcome {
                    errs: status::DEFER,
                    reason: Some("4.0.0 fine"),
                    checks_off: true,
                    ..KEEP
                },
            ),
            ("X-Warn: 1", Context::Header, KEEP),
            ("X-Info: 1", Context::Header, KEEP),
            ("X-Hold: 1", Context::Header, Outcome { hold: true, ..KEEP }),
            (
                "X-Discard: 1",
                Context::Header,
                Outcome {
                    discard: true,
                    checks_off: true,
                    ..KEEP
                },
            ),
            (
                "X-Pass: 1",
                Context::Header,
                Outcome {
                    checks_off: true,
                    ..KEEP
                },
            ),
            (
                "X-Filter: 1",
                Context::Header,
                Outcome {
                    filter: Some("smtp:[127.0.0.1]:10025"),
                    ..KEEP
                },
            ),
            ("X-Filter3: 1", Context::Header, KEEP),
            ("X-Filter4: 1", Context::Header, KEEP),
            (
                "X-Redirect: 1",
                Context::Header,
                Outcome {
                    redirect: Some("other@far.example"),
                    ..KEEP
                },
            ),
            ("X-Redirect2: 1", Context::Header, KEEP),
            (
                "X-Bcc: 1",
                Context::Header,
                Outcome {
                    bcc: &["copy@far.example"],
                    ..KEEP
                },
            ),
            ("X-Badbcc: 1", Context::Header, KEEP),
            ("X-Dunno: 1", Context::Header, KEEP),
            ("X-Ok: 1", Context::Header, KEEP),
            (
                "X-Ignore: 1",
                Context::Header,
                Outcome {
                    verdict: Verdict::Drop,
                    ..KEEP
                },
            ),
            (
                "X-Strip: 1",
                Context::Header,
                Outcome {
                    verdict: Verdict::Drop,
                    ..KEEP
                },
            ),
            (
                "X-Prepend: 1",
                Context::Header,
                Outcome {
                    prepend: Some("X-Added: yes"),
                    ..KEEP
                },
            ),
            ("X-Badprepend: 1", Context::Header, KEEP),
            (
                "X-Replace: old",
                Context::Header,
                Outcome {
                    verdict: Verdict::Replace(b"X-Replaced: old".to_vec()),
                    ..KEEP
                },
            ),
            ("X-Badreplace: 1", Context::Header, KEEP),
            // Postfix 3.7 has no DEFER action in these tables.
            ("X-Defer: 1", Context::Header, KEEP),
            ("Subject: nothing", Context::Header, KEEP),
            ("", Context::Body, KEEP),
            (
                "body line",
                Context::Body,
                Outcome {
                    verdict: Verdict::Replace(b"new body line".to_vec()),
                    ..KEEP
                },
            ),
            (
                "prepend body",
                Context::Body,
                Outcome {
                    prepend: Some("> quoted"),
                    ..KEEP
                },
            ),
        ];
        for (line, ctx, want) in cases {
            let mut st = State::new("QID", 0, 10);
            let (prepend, verdict) = check(&mut st, &mut t, ctx, line.as_bytes());
            assert_eq!(
                prepend.as_deref(),
                want.prepend.map(str::as_bytes),
                "{line}"
            );
            assert_eq!(verdict, want.verdict, "{line}");
            assert_eq!(st.errs, want.errs, "{line}");
            assert_eq!(st.reason.as_deref(), want.reason, "{line}");
            assert_eq!(
                (st.hold, st.discard, st.checks_off),
                (want.hold, want.discard, want.checks_off),
                "{line}"
            );
            assert_eq!(st.filter.as_deref(), want.filter, "{line}");
            assert_eq!(st.redirect.as_deref(), want.redirect, "{line}");
            assert_eq!(st.check_bcc, want.bcc, "{line}");
        }
    }

    #[test]
    fn failing_table_defers() {
        let mut t = Table::for_tests("body_checks", "fail:broken");
        let mut st = State::new("QID", 0, 10);
        assert_eq!(
            check(&mut st, &mut t, Context::Body, b"x"),
            (None, Verdict::Keep)
        );
        assert_eq!(st.refusal().map(|r| r.0), Some(status::DEFER));
    }
}
