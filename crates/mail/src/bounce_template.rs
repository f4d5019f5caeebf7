//! # NAME
//! bounce_template — the texts of delivery status notifications, bounce(5)
//!
//! ## SYNOPSIS
//! ```
//! use mail::bounce_template::{Kind, Templates};
//! let t = Templates::default();
//! let failure = t.get(Kind::Failure);
//! assert_eq!(failure.subject, "Undelivered Mail Returned to Sender");
//! let lookup = |name: &str| match name {
//!     "myhostname" => Some("mx.example.com".to_string()),
//!     _ => None,
//! };
//! let text = failure.expand(&lookup, &|_: &str| None, &mut |_| {}).unwrap();
//! assert_eq!(text[0], "This is the mail system at host mx.example.com.");
//! ```
//!
//! ## DESCRIPTION
//! A notice has four kinds of text: failure (mail returned to the
//! sender), delay (a warning), success (`NOTIFY=SUCCESS`) and verify
//! (`sendmail -bv`). Each [`Template`] has a `Charset:`, `From:`,
//! `Subject:` and, for failure and delay, `Postmaster-Subject:` header,
//! then the text. [`Templates::default`] holds the texts Postfix 3.7
//! sends; [`Templates::parse`] reads a `bounce_template_file`, where any of
//! the four may be replaced:
//!
//! ```text
//! failure_template = <<EOF
//! Charset: us-ascii
//! From: MAILER-DAEMON (Mail Delivery System)
//! Subject: Undelivered Mail Returned to Sender
//! Postmaster-Subject: Postmaster Copy: Undelivered Mail
//!
//! This is the mail system at host $myhostname.
//! EOF
//! ```
//!
//! [`Template::expand`] replaces `$name` and `${name}` with main.cf
//! values, and `$name_seconds` (`_minutes`, `_hours`, `_days`, `_weeks`)
//! of a time parameter with its value in that unit, warning when a
//! non-zero time rounds to zero, as Postfix does. [`Template::render`] prints a
//! template in the form of `postconf -t`, [`Template::render_expanded`]
//! in that of `postconf -b`.
//!
//! ## SEE ALSO
//! bounce(5), bounce(8), postconf(1) `-b`, `-t`

use std::fmt::Write as _;

/// The four kinds of notice text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Failure,
    Delay,
    Success,
    Verify,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Failure, Kind::Delay, Kind::Success, Kind::Verify];

    /// `failure`, `delay`, `success`, `verify`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Failure => "failure",
            Kind::Delay => "delay",
            Kind::Success => "success",
            Kind::Verify => "verify",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub kind: Kind,
    pub charset: String,
    pub from: String,
    pub subject: String,
    pub postmaster_subject: Option<String>,
    /// The text, one line per element, not expanded.
    pub text: Vec<String>,
}

const SIGNATURE: &str = "                   The mail system";

fn lines(text: &[&str]) -> Vec<String> {
    text.iter().map(|s| s.to_string()).collect()
}

fn default_template(kind: Kind) -> Template {
    let from = "Mail Delivery System <MAILER-DAEMON>".to_string();
    let help = [
        "For further assistance, please send mail to postmaster.",
        "",
        "If you do so, please include this problem report. You can",
        "delete your own text from the attached returned message.",
        "",
        SIGNATURE,
    ];
    let (subject, pm, text) = match kind {
        Kind::Failure => {
            let mut t = vec![
                "This is the mail system at host $myhostname.",
                "",
                "I'm sorry to have to inform you that your message could not",
                "be delivered to one or more recipients. It's attached below.",
                "",
            ];
            t.extend(help);
            (
                "Undelivered Mail Returned to Sender",
                Some("Postmaster Copy: Undelivered Mail"),
                t,
            )
        }
        Kind::Delay => {
            let mut t = vec![
                "This is the mail system at host $myhostname.",
                "",
                "####################################################################",
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
                "####################################################################",
                "",
                "Your message could not be delivered for more than $delay_warning_time_hours hour(s).",
                "It will be retried until it is $maximal_queue_lifetime_days day(s) old.",
                "",
            ];
            t.extend(help);
            (
                "Delayed Mail (still being retried)",
                Some("Postmaster Warning: Delayed Mail"),
                t,
            )
        }
        Kind::Success => (
            "Successful Mail Delivery Report",
            None,
            vec![
                "This is the mail system at host $myhostname.",
                "",
                "Your message was successfully delivered to the destination(s)",
                "listed below. If the message was delivered to mailbox you will",
                "receive no further notifications. Otherwise you may still receive",
                "notifications of mail delivery errors from other systems.",
                "",
                SIGNATURE,
            ],
        ),
        Kind::Verify => (
            "Mail Delivery Status Report",
            None,
            vec![
                "This is the mail system at host $myhostname.",
                "",
                "Enclosed is the mail delivery report that you requested.",
                "",
                SIGNATURE,
            ],
        ),
    };
    Template {
        kind,
        charset: "us-ascii".into(),
        from,
        subject: subject.into(),
        postmaster_subject: pm.map(str::to_string),
        text: lines(&text),
    }
}

/// A set of the four templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    all: [Template; 4],
}

impl Default for Templates {
    fn default() -> Templates {
        Templates {
            all: Kind::ALL.map(default_template),
        }
    }
}

/// Why a template file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `<<` without its end marker, or a line that is not a template.
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// How units convert for `$name_unit`.
const UNITS: &[(&str, u64)] = &[
    ("seconds", 1),
    ("minutes", 60),
    ("hours", 3600),
    ("days", 86400),
    ("weeks", 7 * 86400),
];

impl Templates {
    pub fn get(&self, kind: Kind) -> &Template {
        &self.all[kind.index()]
    }

    /// The defaults, with the templates of `text` (a
    /// `bounce_template_file`) in their place. Templates that cannot be
    /// used are left out with a warning, as Postfix does; a file that is
    /// not in template form is an error.
    pub fn parse(text: &str, warn: &mut dyn FnMut(String)) -> Result<Templates, TemplateError> {
        let mut t = Templates::default();
        let mut it = text.lines().enumerate().peekable();
        while let Some((n, line)) = it.next() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((name, rest)) = trimmed.split_once('=') else {
                return Err(TemplateError::Syntax {
                    line: n + 1,
                    message: format!("missing '=' after template name: \"{trimmed}\""),
                });
            };
            let name = name.trim();
            let rest = rest.trim();
            let Some(marker) = rest.strip_prefix("<<") else {
                return Err(TemplateError::Syntax {
                    line: n + 1,
                    message: "missing end marker after <<".into(),
                });
            };
            let marker = marker.trim();
            if marker.is_empty() || marker.contains(char::is_whitespace) {
                return Err(TemplateError::Syntax {
                    line: n + 1,
                    message: "malformed end marker after <<".into(),
                });
            }
            let mut body = Vec::new();
            let mut ended = false;
            for (_, l) in it.by_ref() {
                if l.trim_end() == marker {
                    ended = true;
                    break;
                }
                body.push(l.trim_end_matches('\r').to_string());
            }
            if !ended {
                return Err(TemplateError::Syntax {
                    line: n + 1,
                    message: format!("missing \"{marker}\" end marker"),
                });
            }
            let kind = Kind::ALL
                .into_iter()
                .find(|k| name == format!("{}_template", k.name()));
            let Some(kind) = kind else {
                warn(format!(
                    "line {}: unknown template name: {} -- ignoring this template",
                    n + 1,
                    name
                ));
                continue;
            };
            match parse_one(kind, &body) {
                Ok(tpl) => t.all[kind.index()] = tpl,
                Err(why) => warn(why),
            }
        }
        Ok(t)
    }
}

/// Parses the headers and text of one template.
fn parse_one(kind: Kind, body: &[String]) -> Result<Template, String> {
    let mut t = default_template(kind);
    let mut i = 0;
    while i < body.len() && !body[i].trim().is_empty() {
        let line = &body[i];
        let Some((label, value)) = line.split_once(':') else {
            break;
        };
        let value = value.trim().to_string();
        let ignoring = |what: &str| {
            format!(
                "{} \"{}\" header label in {} template -- ignoring this template",
                what,
                label.trim(),
                kind.name()
            )
        };
        if value.is_empty() {
            return Err(format!(
                "empty \"{}\" header value in {} template -- ignoring this template",
                label.trim(),
                kind.name()
            ));
        }
        if !value.is_ascii() {
            return Err(format!(
                "non-ASCII \"{}\" header value in {} template -- ignoring this template",
                label.trim(),
                kind.name()
            ));
        }
        match label.trim().to_ascii_lowercase().as_str() {
            "charset" => t.charset = value,
            "from" => t.from = value,
            "subject" => t.subject = value,
            "postmaster-subject" => {
                if matches!(kind, Kind::Success | Kind::Verify) {
                    return Err(ignoring("inapplicable"));
                }
                t.postmaster_subject = Some(value)
            }
            _ => return Err(ignoring("unknown")),
        }
        i += 1;
    }
    while i < body.len() && body[i].trim().is_empty() {
        i += 1;
    }
    if i >= body.len() {
        return Err(format!(
            "missing message text in {} template -- ignoring this template",
            kind.name()
        ));
    }
    t.text = body[i..].to_vec();
    if t.charset.eq_ignore_ascii_case("us-ascii") && t.text.iter().any(|l| !l.is_ascii()) {
        return Err(format!("8-bit message text in {} template", kind.name()));
    }
    Ok(t)
}

impl Template {
    /// The text with `$name` expanded. `value` gives main.cf values;
    /// `seconds` gives time parameters in seconds (for `$name_unit`);
    /// `warn` gets Postfix's warnings about conversions that round to
    /// zero. An unknown name is an error.
    pub fn expand(
        &self,
        value: &dyn Fn(&str) -> Option<String>,
        seconds: &dyn Fn(&str) -> Option<u64>,
        warn: &mut dyn FnMut(String),
    ) -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(self.text.len());
        for line in &self.text {
            out.push(self.expand_line(line, value, seconds, warn)?);
        }
        Ok(out)
    }

    fn expand_line(
        &self,
        line: &str,
        value: &dyn Fn(&str) -> Option<String>,
        seconds: &dyn Fn(&str) -> Option<u64>,
        warn: &mut dyn FnMut(String),
    ) -> Result<String, String> {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(j) => (&inner[..j], j + 2),
                    None => {
                        return Err(format!(
                            "bad $name syntax in {} template: {}",
                            self.kind.name(),
                            line
                        ));
                    }
                }
            } else if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
                continue;
            } else {
                let n = after
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                (&after[..n], n)
            };
            if name.is_empty() {
                return Err(format!(
                    "bad $name syntax in {} template: {}",
                    self.kind.name(),
                    line
                ));
            }
            out.push_str(&self.lookup(name, value, seconds, warn)?);
            rest = &after[consumed..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(
        &self,
        name: &str,
        value: &dyn Fn(&str) -> Option<String>,
        seconds: &dyn Fn(&str) -> Option<u64>,
        warn: &mut dyn FnMut(String),
    ) -> Result<String, String> {
        for (unit, per) in UNITS {
            if let Some(param) = name.strip_suffix(unit).and_then(|p| p.strip_suffix('_'))
                && let Some(secs) = seconds(param)
            {
                let v = secs / per;
                if v == 0 && secs > 0 {
                    warn(format!(
                        "zero result in {} template conversion of parameter \"{}\"",
                        self.kind.name(),
                        name
                    ));
                    warn(format!(
                        "please reduce time unit \"{}\" of \"{}\" in {} template",
                        unit,
                        name,
                        self.kind.name()
                    ));
                    warn("for instructions see the bounce(5) manual".into());
                }
                return Ok(v.to_string());
            }
        }
        value(name)
            .ok_or_else(|| format!("undefined $name in {} template: {}", self.kind.name(), name))
    }

    /// The template as `postconf -t` prints it.
    pub fn render(&self) -> String {
        let mut s = format!("{}_template = <<EOF\n", self.kind.name());
        let _ = writeln!(s, "Charset: {}", self.charset);
        let _ = writeln!(s, "From: {}", self.from);
        let _ = writeln!(s, "Subject: {}", self.subject);
        if let Some(p) = &self.postmaster_subject {
            let _ = writeln!(s, "Postmaster-Subject: {p}");
        }
        s.push('\n');
        for l in &self.text {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str("EOF\n");
        s
    }

    /// The expanded text as `postconf -b` prints it.
    pub fn render_expanded(&self, text: &[String]) -> String {
        let mut s = format!("expanded_{}_text = <<EOF\n", self.kind.name());
        for l in text {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str("EOF\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(n: &str) -> Option<String> {
        match n {
            "myhostname" => Some("test.example".into()),
            "mail_name" => Some("Postfix".into()),
            _ => None,
        }
    }

    fn seconds(n: &str) -> Option<u64> {
        match n {
            "delay_warning_time" => Some(4 * 3600),
            "maximal_queue_lifetime" => Some(5 * 86400),
            _ => None,
        }
    }

    #[test]
    fn defaults_expand_as_postconf_b_shows() {
        let t = Templates::default();
        let mut warnings = Vec::new();
        let d = t.get(Kind::Delay);
        let text = d
            .expand(&value, &seconds, &mut |w| warnings.push(w))
            .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            text[6],
            "Your message could not be delivered for more than 4 hour(s)."
        );
        assert_eq!(text[7], "It will be retried until it is 5 day(s) old.");
        let shown = d.render_expanded(&text);
        assert!(shown.starts_with(
            "expanded_delay_text = <<EOF\nThis is the mail system at host test.example.\n"
        ));
        assert!(shown.ends_with("                   The mail system\nEOF\n"));
        // A delay shorter than an hour: zero, with Postfix's warnings.
        let short = |n: &str| (n == "delay_warning_time").then_some(2).or(seconds(n));
        d.expand(&value, &short, &mut |w| warnings.push(w)).unwrap();
        assert_eq!(
            warnings[0],
            "zero result in delay template conversion of parameter \"delay_warning_time_hours\""
        );
        assert_eq!(warnings.len(), 3);
    }

    #[test]
    fn render_unexpanded() {
        let t = Templates::default();
        let f = t.get(Kind::Failure).render();
        assert!(f.starts_with(
            "failure_template = <<EOF\nCharset: us-ascii\nFrom: Mail Delivery System <MAILER-DAEMON>\nSubject: Undelivered Mail Returned to Sender\nPostmaster-Subject: Postmaster Copy: Undelivered Mail\n\nThis is the mail system at host $myhostname.\n"
        ));
        let s = t.get(Kind::Success).render();
        assert!(!s.contains("Postmaster-Subject"));
    }

    #[test]
    fn file_replaces_and_warns() {
        let file = "# comment\n\
                    failure_template = <<EOF\n\
                    Charset: us-ascii\n\
                    From: Postmaster <postmaster>\n\
                    Subject: Bounced\n\
                    \n\
                    Sorry, ${myhostname} could not deliver it.\n\
                    Costs $$5.\n\
                    EOF\n\
                    bogus_template = <<EOF\n\
                    x\n\
                    EOF\n\
                    success_template = <<END\n\
                    Postmaster-Subject: nope\n\
                    \n\
                    text\n\
                    END\n";
        let mut w = Vec::new();
        let t = Templates::parse(file, &mut |x| w.push(x)).unwrap();
        let f = t.get(Kind::Failure);
        assert_eq!(f.subject, "Bounced");
        // Not given: the default stays.
        assert_eq!(
            f.postmaster_subject.as_deref(),
            Some("Postmaster Copy: Undelivered Mail")
        );
        assert_eq!(
            f.expand(&value, &seconds, &mut |_| {}).unwrap(),
            ["Sorry, test.example could not deliver it.", "Costs $5."]
        );
        assert_eq!(
            t.get(Kind::Success),
            Templates::default().get(Kind::Success)
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("unknown template name: bogus_template"));
        assert!(w[1].contains("inapplicable \"Postmaster-Subject\""));
        assert!(Templates::parse("failure_template = <<EOF\nx\n", &mut |_| {}).is_err());
        assert!(Templates::parse("junk\n", &mut |_| {}).is_err());
        let undefined = Templates::parse(
            "verify_template = <<EOF\nSubject: x\n\n$nosuchparam\nEOF\n",
            &mut |_| {},
        )
        .unwrap();
        assert!(
            undefined
                .get(Kind::Verify)
                .expand(&value, &seconds, &mut |_| {})
                .is_err()
        );
    }
}
