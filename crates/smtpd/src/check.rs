//! # NAME
//! check — SMTP access restrictions (Postfix's smtpd_check.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! match session.rcpt_checks(&addr) { Verdict::Reject(reply) => .., _ => .. }
//! ```
//!
//! ## DESCRIPTION
//! A restriction list is evaluated in order until a restriction gives a
//! definite answer: `permit` ends the list with acceptance, `reject`
//! (and every `reject_*` that applies) with an error reply, anything else
//! goes on to the next. With `smtpd_delay_reject` (the default) the
//! client, HELO and sender restrictions are applied at RCPT time, so that
//! the rejection can name the recipient. For each recipient,
//! `smtpd_relay_restrictions` come before `smtpd_recipient_restrictions`
//! (`smtpd_relay_before_recipient_restrictions`), and finally
//! `smtpd_reject_unlisted_recipient` checks the recipient against the
//! table of its address class.
//!
//! Implemented: `permit`, `reject`, `defer`, `warn_if_reject`,
//! `permit_mynetworks`, `permit_sasl_authenticated` (never, until AUTH),
//! `reject_unauth_destination`, `defer_unauth_destination`,
//! `permit_auth_destination`, `reject_unlisted_recipient`,
//! `reject_unlisted_sender`, `reject_non_fqdn_helo_hostname`,
//! `reject_invalid_helo_hostname`, `reject_non_fqdn_sender`,
//! `reject_non_fqdn_recipient`, `reject_unauth_pipelining`, `sleep`,
//! `check_client_access`, `check_helo_access`, `check_sender_access`,
//! `check_recipient_access` with the access(5) actions OK, REJECT, DEFER,
//! DUNNO, `4NN`/`5NN text`, HOLD, DISCARD, PREPEND, WARN, INFO and
//! restriction class names (`smtpd_restriction_classes`). Anything else
//! is refused with `451 4.3.5 Server configuration error` and a warning
//! that names it: never silently skipped.
//!
//! ## SEE ALSO
//! SMTPD_ACCESS_README, access(5), [`crate::session`]

use daemon::warn;
use ipc::cleanup::EnvelopeRecord;
use ipc::rewrite::class;
use proto::smtp::Reply;

use crate::peer::Peer;
use crate::session::{Addr, Session};
use crate::settings::Settings;

/// Where in the session a list is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Client,
    Helo,
    Sender,
    Relay,
    Recipient,
    Data,
    EndOfData,
    Etrn,
}

impl Stage {
    fn rejected(self) -> &'static str {
        match self {
            Stage::Client => "Client host rejected",
            Stage::Helo => "Helo command rejected",
            Stage::Sender => "Sender address rejected",
            Stage::Relay | Stage::Recipient => "Recipient address rejected",
            Stage::Data => "Data command rejected",
            Stage::EndOfData => "End-of-data rejected",
            Stage::Etrn => "Etrn command rejected",
        }
    }
}

/// The outcome of a restriction or list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Permit,
    Dunno,
    Reject(Reply),
}

/// Whether the client gets local header rewriting
/// (`local_header_rewrite_clients`).
pub fn local_rewrite(s: &mut Settings, peer: &Peer) -> bool {
    for item in s.local_header_rewrite_clients.clone() {
        let hit = match item.as_str() {
            "permit_inet_interfaces" => {
                peer.local.is_some_and(|l| l.ip() == peer.addr) || peer.addr.is_loopback()
            }
            "permit_mynetworks" => s.mynetworks.matches(peer.addr).unwrap_or(false),
            "static:all" => true,
            _ => false,
        };
        if hit {
            return true;
        }
    }
    false
}

/// Why a HELO name is invalid (reject_invalid_helo_hostname): an
/// address literal must hold an address, a bare address is accepted as
/// it is, anything else must be a valid host name.
fn invalid_helo(name: &str) -> Option<&'static str> {
    if name.starts_with('[') {
        (!mail::host::valid_literal(name)).then_some("invalid ip address")
    } else if name.parse::<std::net::IpAddr>().is_ok() || mail::host::valid_hostname(name) {
        None
    } else {
        Some("Invalid name")
    }
}

/// Whether a HELO name fails reject_non_fqdn_helo_hostname: literals
/// pass, bare addresses do not.
fn non_fqdn_helo(name: &str) -> bool {
    !name.starts_with('[') && (name.parse::<std::net::IpAddr>().is_ok() || !mail::host::fqdn(name))
}

impl Session<'_> {
    fn rep(&self, code: u16, subject: &str, stage: Stage, text: &str) -> Reply {
        let enh = if code >= 500 { "5.7.1" } else { "4.7.1" };
        Reply::new(
            code,
            enh,
            &format!("<{subject}>: {}: {text}", stage.rejected()),
        )
    }

    fn config_error(&self, what: &str, stage: Stage, rcpt: Option<&Addr>) -> Verdict {
        warn!(
            "unsupported smtpd restriction \"{}\" -- deferring the client",
            what
        );
        Verdict::Reject(Reply::new(
            451,
            "4.3.5",
            &format!(
                "<{}>: {}: Server configuration error",
                self.subject(stage, rcpt),
                stage.rejected()
            ),
        ))
    }

    fn in_mynetworks(&mut self) -> Result<bool, Reply> {
        if let Some(v) = self.mynetworks {
            return Ok(v);
        }
        match self.s.mynetworks.matches(self.peer.addr) {
            Ok(v) => {
                self.mynetworks = Some(v);
                Ok(v)
            }
            Err(e) => {
                warn!("mynetworks lookup: {e}");
                Err(Reply::new(451, "4.3.0", "Temporary lookup failure"))
            }
        }
    }

    /// The subject of a reply at `stage`.
    fn subject(&self, stage: Stage, rcpt: Option<&Addr>) -> String {
        match stage {
            Stage::Client => self.peer.namaddr(),
            Stage::Helo => self.helo.clone().unwrap_or_default(),
            Stage::Sender => self
                .txn
                .as_ref()
                .map(|t| t.sender_given.clone())
                .unwrap_or_default(),
            Stage::Relay | Stage::Recipient => rcpt.map(|a| a.given.clone()).unwrap_or_default(),
            Stage::Data => "DATA".into(),
            Stage::EndOfData => "END-OF-MESSAGE".into(),
            Stage::Etrn => rcpt.map(|a| a.given.clone()).unwrap_or_default(),
        }
    }

    /// The command a log line of the restrictions names: the one being
    /// answered, or END-OF-MESSAGE for smtpd_end_of_data_restrictions.
    pub fn log_command(&self) -> &'static str {
        if self.end_of_data {
            "END-OF-MESSAGE"
        } else {
            self.last_command
        }
    }

    /// Logs what a restriction did (`ID: hold: RCPT from ...; from=<>
    /// to=<> ...`) in the transaction in progress, if any.
    fn log_txn_action(&self, action: &str, rep: &Reply, rcpt: Option<&Addr>) {
        let id = self.txn.as_ref().map_or("NOQUEUE", |t| t.queue_id());
        let sender = self.txn.as_ref().map(|t| t.sender_given.as_str());
        self.log_action(
            id,
            action,
            self.log_command(),
            rep,
            sender,
            rcpt.map(|a| a.given.as_str()),
        );
    }

    /// Evaluates a restriction list.
    pub fn restrict(&mut self, list: &[String], stage: Stage, rcpt: Option<&Addr>) -> Verdict {
        self.restrict_depth(list, stage, rcpt, 0)
    }

    fn restrict_depth(
        &mut self,
        list: &[String],
        stage: Stage,
        rcpt: Option<&Addr>,
        depth: u32,
    ) -> Verdict {
        if depth > 20 {
            warn!("restriction classes nested too deeply");
            return Verdict::Reject(Reply::new(451, "4.3.5", "Server configuration error"));
        }
        let mut warn_only = false;
        let mut i = 0;
        while i < list.len() {
            let name = list[i].as_str();
            let arg = list.get(i + 1).cloned();
            let mut takes_arg = false;
            let v = match name {
                "permit" => Verdict::Permit,
                "reject" => {
                    let code = self.s.codes.reject;
                    Verdict::Reject(self.rep(
                        code,
                        &self.subject(stage, rcpt),
                        stage,
                        "Access denied",
                    ))
                }
                "defer" => {
                    let code = self.s.codes.defer;
                    Verdict::Reject(self.rep(
                        code,
                        &self.subject(stage, rcpt),
                        stage,
                        "Access denied",
                    ))
                }
                "warn_if_reject" => {
                    warn_only = true;
                    i += 1;
                    continue;
                }
                "permit_mynetworks" => match self.in_mynetworks() {
                    Ok(true) => Verdict::Permit,
                    Ok(false) => Verdict::Dunno,
                    Err(r) => Verdict::Reject(r),
                },
                "permit_sasl_authenticated" | "reject_unauth_pipelining" => Verdict::Dunno,
                "reject_unauth_destination"
                | "defer_unauth_destination"
                | "permit_auth_destination" => match rcpt {
                    None => Verdict::Dunno,
                    Some(r) => self.auth_destination(name, r),
                },
                "reject_unlisted_recipient" => match rcpt {
                    Some(r) => self.unlisted(r, Role::Recipient),
                    None => Verdict::Dunno,
                },
                "reject_unlisted_sender" => self.unlisted_sender(),
                "reject_non_fqdn_helo_hostname" | "reject_non_fqdn_hostname" => match &self.helo {
                    Some(h) if non_fqdn_helo(h) => {
                        let code = self.s.codes.non_fqdn;
                        Verdict::Reject(Reply::new(
                            code,
                            "5.5.2",
                            &format!("<{h}>: Helo command rejected: need fully-qualified hostname"),
                        ))
                    }
                    _ => Verdict::Dunno,
                },
                "reject_invalid_helo_hostname" | "reject_invalid_hostname" => {
                    match self.helo.as_deref().map(|h| (h, invalid_helo(h))) {
                        Some((h, Some(why))) => {
                            let code = self.s.codes.invalid_hostname;
                            Verdict::Reject(Reply::new(
                                code,
                                "5.5.2",
                                &format!("<{h}>: Helo command rejected: {why}"),
                            ))
                        }
                        _ => Verdict::Dunno,
                    }
                }
                "reject_non_fqdn_sender" => {
                    let sender = self
                        .txn
                        .as_ref()
                        .map(|t| t.sender_given.clone())
                        .unwrap_or_default();
                    match sender.rsplit_once('@') {
                        Some((_, d)) if !d.starts_with('[') && !mail::host::fqdn(d) => {
                            let code = self.s.codes.non_fqdn;
                            Verdict::Reject(Reply::new(
                                code,
                                "5.5.2",
                                &format!(
                                    "<{sender}>: Sender address rejected: need fully-qualified address"
                                ),
                            ))
                        }
                        None if !sender.is_empty() => {
                            let code = self.s.codes.non_fqdn;
                            Verdict::Reject(Reply::new(
                                code,
                                "5.5.2",
                                &format!(
                                    "<{sender}>: Sender address rejected: need fully-qualified address"
                                ),
                            ))
                        }
                        _ => Verdict::Dunno,
                    }
                }
                "reject_non_fqdn_recipient" => match rcpt.map(|a| a.given.as_str()) {
                    Some(r)
                        if r.rsplit_once('@')
                            .is_none_or(|(_, d)| !d.starts_with('[') && !mail::host::fqdn(d)) =>
                    {
                        let code = self.s.codes.non_fqdn;
                        Verdict::Reject(Reply::new(
                            code,
                            "5.5.2",
                            &format!(
                                "<{r}>: Recipient address rejected: need fully-qualified address"
                            ),
                        ))
                    }
                    _ => Verdict::Dunno,
                },
                "sleep" => {
                    takes_arg = true;
                    if let Some(secs) = arg
                        .as_deref()
                        .and_then(|a| config::value::parse_time(a, 's'))
                    {
                        let _ = self.chat.flush();
                        std::thread::sleep(std::time::Duration::from_secs(secs.min(600)));
                    }
                    Verdict::Dunno
                }
                "check_client_access"
                | "check_helo_access"
                | "check_sender_access"
                | "check_recipient_access"
                | "check_etrn_access" => {
                    takes_arg = true;
                    match arg.as_deref() {
                        Some(table) => self.access(name, table, stage, rcpt, depth),
                        None => self.config_error(&format!("{name} without a table"), stage, rcpt),
                    }
                }
                other => match self.s.restriction_classes.iter().find(|(n, _)| n == other) {
                    Some((_, members)) => {
                        let members = members.clone();
                        self.restrict_depth(&members, stage, rcpt, depth + 1)
                    }
                    None => self.config_error(other, stage, rcpt),
                },
            };
            i += if takes_arg { 2 } else { 1 };
            match v {
                Verdict::Dunno => {}
                Verdict::Reject(rep) if warn_only => {
                    self.log_txn_action("reject_warning", &rep, rcpt);
                    warn_only = false;
                }
                other => return other,
            }
        }
        Verdict::Dunno
    }

    /// reject_unauth_destination and friends.
    fn auth_destination(&mut self, name: &str, addr: &Addr) -> Verdict {
        let sender = self
            .txn
            .as_ref()
            .map(|t| t.sender.clone())
            .unwrap_or_default();
        let rcpt = addr.given.as_str();
        let r = match self.rewrite.resolve(&sender, &addr.canonical) {
            Ok(r) => r,
            Err(e) => {
                warn!("address resolver: {e}");
                return Verdict::Reject(Reply::new(
                    451,
                    "4.3.0",
                    &format!("<{rcpt}>: Temporary lookup failure"),
                ));
            }
        };
        if r.flags & class::FAIL != 0 {
            return Verdict::Reject(Reply::new(
                451,
                "4.3.0",
                &format!("<{rcpt}>: Temporary lookup failure"),
            ));
        }
        let authorized = r.flags & (class::LOCAL | class::ALIAS | class::VIRTUAL | class::RELAY)
            != 0
            && r.flags & class::ROUTED == 0;
        match (name, authorized) {
            ("permit_auth_destination", true) => Verdict::Permit,
            (_, true) | ("permit_auth_destination", false) => Verdict::Dunno,
            ("defer_unauth_destination", false) => Verdict::Reject(Reply::new(
                454,
                "4.7.1",
                &format!("<{rcpt}>: Relay access denied"),
            )),
            _ => {
                let code = self.s.codes.relay_domains_reject;
                Verdict::Reject(Reply::new(
                    code,
                    "5.7.1",
                    &format!("<{rcpt}>: Relay access denied"),
                ))
            }
        }
    }

    /// check_*_access.
    fn access(
        &mut self,
        name: &str,
        table: &str,
        stage: Stage,
        rcpt: Option<&Addr>,
        depth: u32,
    ) -> Verdict {
        let maps = match self.s.access_tables.get_mut(table) {
            Some(m) => m,
            None => {
                return self.config_error(
                    &format!("{name} {table} (table not opened)"),
                    stage,
                    rcpt,
                );
            }
        };
        let parent = self.s.access_parent;
        let delimiters = self.s.delimiters.clone();
        let (key_subject, found) = match name {
            "check_client_access" => {
                let peer = self.peer.clone();
                (peer.namaddr(), client_lookup(maps, &peer, parent))
            }
            "check_helo_access" => {
                let Some(h) = self.helo.clone() else {
                    return Verdict::Dunno;
                };
                (
                    h.clone(),
                    maps::domain::find_domain(maps, &h.to_ascii_lowercase(), parent),
                )
            }
            "check_sender_access" => {
                let (sender, given) = self
                    .txn
                    .as_ref()
                    .map(|t| (t.sender.clone(), t.sender_given.clone()))
                    .unwrap_or_default();
                let key = if sender.is_empty() {
                    self.s.null_access_key.clone()
                } else {
                    sender
                };
                (
                    given,
                    maps::addr::find_access(maps, &key, &delimiters, parent),
                )
            }
            "check_etrn_access" => {
                let Some(d) = rcpt.filter(|_| stage == Stage::Etrn) else {
                    return Verdict::Dunno;
                };
                (
                    d.given.clone(),
                    maps::domain::find_domain(maps, &d.canonical.to_ascii_lowercase(), parent),
                )
            }
            _ => {
                let Some(r) = rcpt.filter(|_| stage != Stage::Etrn) else {
                    return Verdict::Dunno;
                };
                (
                    r.given.clone(),
                    maps::addr::find_access(maps, &r.canonical, &delimiters, parent),
                )
            }
        };
        let value = match found {
            Ok(Some(v)) => v,
            Ok(None) => return Verdict::Dunno,
            Err(e) => {
                warn!("{}: table lookup problem: {}", table, e.reason());
                return Verdict::Reject(Reply::new(
                    451,
                    "4.3.0",
                    &format!("<{key_subject}>: Temporary lookup failure"),
                ));
            }
        };
        // The reply names what the table was searched for, whichever
        // list the check is in, and so do restrictions the answer names.
        let class = match name {
            "check_client_access" => Stage::Client,
            "check_helo_access" => Stage::Helo,
            "check_sender_access" => Stage::Sender,
            "check_etrn_access" => Stage::Etrn,
            _ => Stage::Recipient,
        };
        self.access_action(table, &value, &key_subject, class, rcpt, depth)
    }

    fn access_action(
        &mut self,
        table: &str,
        value: &str,
        subject: &str,
        stage: Stage,
        rcpt: Option<&Addr>,
        depth: u32,
    ) -> Verdict {
        let value = value.trim();
        let (word, text) = match value.split_once([' ', '\t']) {
            Some((w, t)) => (w, t.trim()),
            None => (value, ""),
        };
        let text_or = |d: &str| {
            if text.is_empty() {
                d.to_string()
            } else {
                text.to_string()
            }
        };
        match word.to_ascii_uppercase().as_str() {
            "OK" | "PERMIT" => Verdict::Permit,
            w if w.bytes().all(|c| c.is_ascii_digit())
                && !w.is_empty()
                && proto::smtp::reply_from_text(value).is_none() =>
            {
                Verdict::Permit
            }
            "DUNNO" => Verdict::Dunno,
            "REJECT" => {
                let code = self.s.codes.access_reject;
                Verdict::Reject(self.rep(code, subject, stage, &text_or("Access denied")))
            }
            "DEFER" | "DEFER_IF_PERMIT" | "DEFER_IF_REJECT" => {
                let code = self.s.codes.access_defer;
                Verdict::Reject(self.rep(code, subject, stage, &text_or("Access denied")))
            }
            "HOLD" | "DISCARD" => {
                let hold = word.eq_ignore_ascii_case("HOLD");
                if let Some(t) = self.txn.as_mut() {
                    if hold {
                        t.hold = true;
                    } else {
                        t.discard = true;
                    }
                }
                let action = if hold { "hold" } else { "discard" };
                let trig = format!(
                    "<{subject}>: {} triggers {} action",
                    stage_noun(stage),
                    word.to_ascii_uppercase()
                );
                let rep = Reply::new(0, "", &text_or(&trig));
                self.log_txn_action(action, &rep, rcpt);
                Verdict::Dunno
            }
            "PREPEND" => {
                if !text.is_empty()
                    && let Some(t) = self.txn.as_mut()
                {
                    t.prepend.push(text.to_string());
                }
                Verdict::Dunno
            }
            "WARN" | "INFO" => {
                let rep = Reply::new(0, "", &format!("<{subject}>: {}", text));
                self.log_txn_action(&word.to_ascii_lowercase(), &rep, rcpt);
                Verdict::Dunno
            }
            "FILTER" | "REDIRECT" | "BCC" => {
                let word = word.to_ascii_uppercase();
                let (ok, need) = if word == "FILTER" {
                    (text.contains(':'), "transport:destination")
                } else {
                    (text.contains('@'), "user@domain")
                };
                if !ok {
                    warn!(
                        "access table {} entry \"{}\" requires {}",
                        table,
                        daemon::Untrusted(subject),
                        need
                    );
                    return Verdict::Dunno;
                }
                let record = match word.as_str() {
                    "FILTER" => EnvelopeRecord::Filter(text.to_string()),
                    "REDIRECT" => EnvelopeRecord::Redirect(text.to_string()),
                    _ => EnvelopeRecord::Bcc(text.to_string()),
                };
                if let Some(t) = self.txn.as_mut() {
                    t.routes.push(record);
                }
                let rep = Reply::new(
                    0,
                    "",
                    &format!("<{subject}>: {} triggers {word} {text}", stage_noun(stage)),
                );
                self.log_txn_action(&word.to_ascii_lowercase(), &rep, rcpt);
                Verdict::Dunno
            }
            _ => {
                if let Some(rep) = proto::smtp::reply_from_text(value) {
                    let msg = rep.text();
                    let enh = rep.enhanced.clone();
                    return Verdict::Reject(Reply::new(
                        rep.code,
                        &enh,
                        &format!("<{subject}>: {}: {}", stage.rejected(), msg),
                    ));
                }
                // A restriction (class) name or list.
                let list = config::value::list(value);
                self.restrict_depth(&list, stage, rcpt, depth + 1)
            }
        }
    }

    /// Client, helo and sender restrictions at RCPT time (delayed), then
    /// relay and recipient restrictions, then the unlisted check.
    pub fn rcpt_checks(&mut self, rcpt: &Addr) -> Verdict {
        let v = self.rcpt_verdict(rcpt);
        if let Verdict::Reject(rep) = &v {
            let sender = self.txn.as_ref().map(|t| t.sender_given.clone());
            self.log_reject("RCPT", rep, sender.as_deref(), Some(&rcpt.given));
        }
        v
    }

    fn rcpt_verdict(&mut self, rcpt: &Addr) -> Verdict {
        if self.s.delay_reject {
            // Evaluated for each recipient, so that check_recipient_access
            // works inside them, as with Postfix.
            let v = self.early_checks(Some(rcpt));
            if let Verdict::Reject(_) = v {
                return v;
            }
        }
        let relay = self.s.relay_restrictions.clone();
        let recip = self.s.recipient_restrictions.clone();
        let order: Vec<(Vec<String>, Stage)> = if self.s.relay_before_recipient {
            vec![(relay, Stage::Relay), (recip, Stage::Recipient)]
        } else {
            vec![(recip, Stage::Recipient), (relay, Stage::Relay)]
        };
        for (list, stage) in order {
            if list.is_empty() {
                continue;
            }
            if let v @ Verdict::Reject(_) = self.restrict(&list, stage, Some(rcpt)) {
                return v;
            }
        }
        if self.s.reject_unlisted_recipient {
            return self.unlisted(rcpt, Role::Recipient);
        }
        Verdict::Dunno
    }

    /// reject_unlisted_sender: the sender of the transaction, if any.
    pub fn unlisted_sender(&mut self) -> Verdict {
        match &self.txn {
            Some(t) if !t.sender.is_empty() => {
                let addr = Addr {
                    given: t.sender_given.clone(),
                    canonical: t.sender.clone(),
                };
                self.unlisted(&addr, Role::Sender)
            }
            _ => Verdict::Dunno,
        }
    }

    /// Whether an address exists in the table of its address class
    /// (reject_unlisted_recipient, reject_unlisted_sender, VRFY).
    pub fn unlisted(&mut self, addr: &Addr, role: Role) -> Verdict {
        let sender = self
            .txn
            .as_ref()
            .map(|t| t.sender.clone())
            .unwrap_or_default();
        let shown = addr.given.as_str();
        let rejected = match role {
            Role::Sender => "Sender address rejected",
            Role::Recipient => "Recipient address rejected",
        };
        let r = match self.rewrite.resolve(&sender, &addr.canonical) {
            Ok(r) => r,
            Err(e) => {
                warn!("address resolver: {e}");
                return Verdict::Reject(Reply::new(
                    451,
                    "4.3.0",
                    &format!("<{shown}>: Temporary lookup failure"),
                ));
            }
        };
        if r.flags & class::FAIL != 0 {
            return Verdict::Reject(Reply::new(
                451,
                "4.3.0",
                &format!("<{shown}>: Temporary lookup failure"),
            ));
        }
        // Addresses in a virtual alias domain resolve to the error
        // transport; virtual_alias_maps tells which of them exist.
        let alias = r.flags & class::ALIAS != 0;
        if r.flags & class::ERROR != 0 && !alias {
            let (dsn, text) = daemon::agent::split_dsn(&r.nexthop, role.unknown_dsn(false));
            let code = if dsn.starts_with('4') { 450 } else { 550 };
            return Verdict::Reject(Reply::new(
                code,
                dsn,
                &format!("<{shown}>: {rejected}: {text}"),
            ));
        }
        let (maps_name, code) = if r.flags & class::LOCAL != 0 {
            ("local recipient table", self.s.codes.unknown_local)
        } else if r.flags & class::VIRTUAL != 0 {
            (
                "virtual mailbox table",
                self.s.codes.unknown_virtual_mailbox,
            )
        } else if r.flags & class::ALIAS != 0 {
            ("virtual alias table", self.s.codes.unknown_virtual_alias)
        } else if r.flags & class::RELAY != 0 {
            ("relay recipient table", self.s.codes.unknown_relay)
        } else {
            return Verdict::Dunno;
        };
        let delimiters = self.s.delimiters.clone();
        let maps = if r.flags & class::LOCAL != 0 {
            &mut self.s.local_recipient_maps
        } else if r.flags & class::VIRTUAL != 0 {
            &mut self.s.virtual_mailbox_maps
        } else if r.flags & class::ALIAS != 0 {
            &mut self.s.virtual_alias_maps
        } else {
            &mut self.s.relay_recipient_maps
        };
        if maps.is_empty() {
            return Verdict::Dunno;
        }
        let opts = maps::addr::AddrFindOptions {
            delimiters: delimiters.clone(),
            localpart: r.flags & class::LOCAL != 0,
            at_domain: true,
            propagate_extension: false,
        };
        let mut found = maps::addr::find_address(maps, &r.recipient, &opts);
        if matches!(found, Ok(None)) && r.flags & (class::LOCAL | class::VIRTUAL) != 0 {
            // A virtual alias may also accept the address.
            let valias = &mut self.s.virtual_alias_maps;
            if !valias.is_empty() {
                found = maps::addr::find_address(
                    valias,
                    &r.recipient,
                    &maps::addr::AddrFindOptions {
                        delimiters,
                        localpart: false,
                        at_domain: true,
                        propagate_extension: false,
                    },
                );
            }
        }
        match found {
            Ok(Some(_)) => Verdict::Dunno,
            Ok(None) => {
                let what = if self.s.show_table_name {
                    format!("User unknown in {maps_name}")
                } else {
                    "User unknown".to_string()
                };
                let dsn = role.unknown_dsn(alias);
                let enh = if code >= 500 {
                    dsn.to_string()
                } else {
                    format!("4{}", &dsn[1..])
                };
                Verdict::Reject(Reply::new(
                    code,
                    &enh,
                    &format!("<{shown}>: {rejected}: {what}"),
                ))
            }
            Err(e) => {
                warn!("{}: table lookup problem: {}", e.map(), e.reason());
                Verdict::Reject(Reply::new(
                    451,
                    "4.3.0",
                    &format!("<{shown}>: Temporary lookup failure"),
                ))
            }
        }
    }
}

/// Whose address an unlisted check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sender,
    Recipient,
}

impl Role {
    /// The enhanced status code for an unknown address; Postfix 3.7
    /// answers 5.1.7 for a sender unknown in a virtual alias domain.
    fn unknown_dsn(self, alias: bool) -> &'static str {
        match self {
            Role::Sender if alias => "5.1.7",
            Role::Sender => "5.1.0",
            Role::Recipient => "5.1.1",
        }
    }
}

fn stage_noun(stage: Stage) -> &'static str {
    match stage {
        Stage::Client => "Client host",
        Stage::Helo => "Helo command",
        Stage::Sender => "Sender address",
        Stage::Relay | Stage::Recipient => "Recipient address",
        Stage::Data => "Data command",
        Stage::EndOfData => "End-of-data",
        Stage::Etrn => "Etrn command",
    }
}

/// check_client_access keys: the name, its parent domains, the address
/// and its leading parts (1.2.3.4, 1.2.3, 1.2, 1), IPv6 likewise.
fn client_lookup(
    maps: &mut maps::MapList,
    peer: &Peer,
    parent: bool,
) -> Result<Option<String>, maps::MapError> {
    if peer.name != "unknown"
        && let Some(v) = maps::domain::find_domain(maps, &peer.name.to_ascii_lowercase(), parent)?
    {
        return Ok(Some(v));
    }
    let addr = peer.addr.to_string();
    if let Some(v) = maps.find(&addr)? {
        return Ok(Some(v));
    }
    let sep = if peer.addr.is_ipv4() { '.' } else { ':' };
    let mut cur = addr.as_str();
    while let Some(i) = cur.rfind(sep) {
        cur = &cur[..i];
        if cur.is_empty() {
            break;
        }
        if let Some(v) = maps.find_fixed(cur)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}
