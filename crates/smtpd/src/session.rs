//! # NAME
//! session — one SMTP session, command by command
//!
//! ## SYNOPSIS
//! ```ignore
//! Session::new(&mut settings, chat, peer, rewrite).run();
//! ```
//!
//! ## DESCRIPTION
//! The state of a session is the HELO name and one [`Txn`] value for the
//! mail transaction in progress; `RSET`, `HELO`/`EHLO` and the end of
//! `DATA` replace the transaction as a whole, so no flag can be left set
//! by an error path. Replies and their texts follow Postfix 3.7; every
//! reply of 4xx or 5xx counts as an error, and past
//! `smtpd_soft_error_limit` errors each error reply waits
//! `smtpd_error_sleep_time`, past `smtpd_hard_error_limit` the session
//! ends with `421`.
//!
//! The queue file is opened (cleanup(8) connected, `ID: client=...`
//! logged) at the first accepted recipient; the message is streamed to
//! cleanup as it arrives and `250 2.0.0 Ok: queued as ID` is sent only
//! when cleanup has made the file durable.
//!
//! ## SEE ALSO
//! smtpd(8), [`crate::check`], [`crate::chat`], [`proto::smtp`]

use std::time::SystemTime;

use daemon::{info, warn};
use ipc::cleanup::{EnvelopeRecord, flags, status};
use proto::data::{BareLf, DataDecoder};
use proto::smtp::{Command, ParseError, PathArg, Reply};

use crate::bdat::Chunks;
use crate::chat::{Chat, Input};
use crate::check::{Role, Stage, Verdict};
use crate::peer::Peer;
use crate::settings::Settings;

/// An envelope address: as the client wrote it (replies and logs show
/// this form) and in canonical form (tables are searched with this one).
#[derive(Debug, Clone, Default)]
pub struct Addr {
    pub given: String,
    pub canonical: String,
}

/// One accepted recipient.
#[derive(Debug, Clone)]
pub struct Rcpt {
    pub address: String,
    pub orig: String,
    pub notify: u32,
    pub orcpt: String,
}

/// The mail transaction in progress.
pub struct Txn {
    /// The sender in canonical form (`@$myorigin` appended).
    pub sender: String,
    /// The sender as the client wrote it.
    pub sender_given: String,
    pub size: Option<u64>,
    pub body: Option<String>,
    pub smtputf8: bool,
    pub ret: u32,
    pub envid: String,
    pub rcpts: Vec<Rcpt>,
    pub rcpt_attempts: usize,
    pub cleanup: Option<ipc::cleanup::Client>,
    /// Actions of access tables: hold, discard, headers to prepend.
    pub hold: bool,
    pub discard: bool,
    pub prepend: Vec<String>,
    /// FILTER, REDIRECT and BCC actions, for cleanup.
    pub routes: Vec<EnvelopeRecord>,
}

impl Txn {
    fn new(sender: String) -> Txn {
        Txn {
            sender_given: sender.clone(),
            sender,
            size: None,
            body: None,
            smtputf8: false,
            ret: 0,
            envid: String::new(),
            rcpts: Vec::new(),
            rcpt_attempts: 0,
            cleanup: None,
            hold: false,
            discard: false,
            prepend: Vec::new(),
            routes: Vec::new(),
        }
    }

    pub fn queue_id(&self) -> &str {
        self.cleanup
            .as_ref()
            .map_or("NOQUEUE", |c| c.queue_id.as_str())
    }
}

/// Per-command counters for the disconnect line.
#[derive(Default)]
struct Counter {
    ok: u32,
    total: u32,
}

const COUNTED: &[&str] = &[
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
    "etrn", "quit", "unknown",
];

pub struct Session<'a> {
    pub s: &'a mut Settings,
    pub chat: Chat,
    pub peer: Peer,
    pub rewrite: ipc::rewrite::Client,
    pub helo: Option<String>,
    pub esmtp: bool,
    pub txn: Option<Txn>,
    errors: u32,
    junk: u32,
    counters: Vec<Counter>,
    /// The command being processed, for "lost connection after X".
    pub last_command: &'static str,
    /// Whether the client is in mynetworks (cached).
    pub mynetworks: Option<bool>,
    /// The client's address is a local interface (local_header_rewrite_clients).
    pub rewrite_local: bool,
    /// smtpd_forbid_bare_newline for this client (exclusions allow).
    pub bare_lf: BareLf,
    /// A message arriving in BDAT chunks.
    pub bdat: Option<Chunks>,
    /// smtpd_end_of_data_restrictions are being evaluated.
    pub end_of_data: bool,
}

/// How to go on after a command.
pub(crate) enum Flow {
    Continue,
    Close,
}

pub(crate) fn r(code: u16, enh: &str, text: &str) -> Reply {
    Reply::new(code, enh, text)
}

impl<'a> Session<'a> {
    pub fn new(
        s: &'a mut Settings,
        chat: Chat,
        peer: Peer,
        rewrite: ipc::rewrite::Client,
    ) -> Session<'a> {
        let rewrite_local = crate::check::local_rewrite(s, &peer);
        let excluded =
            s.bare_lf != BareLf::Allow && s.bare_lf_exclusions.matches(peer.addr).unwrap_or(false);
        let bare_lf = if excluded { BareLf::Allow } else { s.bare_lf };
        Session {
            s,
            chat,
            peer,
            rewrite,
            helo: None,
            esmtp: false,
            txn: None,
            errors: 0,
            junk: 0,
            counters: COUNTED.iter().map(|_| Counter::default()).collect(),
            last_command: "CONNECT",
            mynetworks: None,
            rewrite_local,
            bare_lf,
            bdat: None,
            end_of_data: false,
        }
    }

    pub(crate) fn count(&mut self, name: &str, ok: bool) {
        if let Some(i) = COUNTED.iter().position(|c| *c == name) {
            self.counters[i].total += 1;
            if ok {
                self.counters[i].ok += 1;
            }
        }
    }

    /// Sends a reply, counting and pacing errors. Returns false when the
    /// hard error limit ends the session.
    pub fn reply(&mut self, rep: Reply) -> bool {
        if rep.is_error() {
            self.errors += 1;
            if self.errors > self.s.soft_error_limit && !self.s.error_sleep.is_zero() {
                let _ = self.chat.flush();
                std::thread::sleep(self.s.error_sleep);
            }
        }
        self.chat.reply(&rep);
        if rep.is_error() && self.errors >= self.s.hard_error_limit {
            let host = self.s.myhostname.clone();
            self.chat
                .reply(&r(421, "4.7.0", &format!("{host} Error: too many errors")));
            info!(
                "too many errors after {} from {}",
                self.last_command,
                self.peer.namaddr()
            );
            return false;
        }
        true
    }

    pub fn run(mut self) {
        info!("connect from {}", self.peer.namaddr());
        if !self.wrapper_handshake() {
            self.disconnect_line();
            return;
        }
        self.chat
            .reply(&Reply::plain(220, vec![self.s.banner.clone()]));
        loop {
            let line = match self.chat.read_line(self.s_line_limit()) {
                Input::Line { bytes, crlf } => {
                    if !crlf && self.bare_lf == BareLf::Reject {
                        info!(
                            "disconnect: bare <LF> received from {} after {}",
                            self.peer.namaddr(),
                            self.last_command
                        );
                        let code = self.s.bare_lf_reject_code;
                        let enh = if code >= 500 { "5.5.2" } else { "4.5.2" };
                        let host = self.s.myhostname.clone();
                        self.chat.reply(&r(
                            code,
                            enh,
                            &format!("{host} Error: bare <LF> received"),
                        ));
                        break;
                    }
                    bytes
                }
                Input::TooLong => {
                    if !self.reply(r(500, "5.5.0", "Error: line too long")) {
                        break;
                    }
                    continue;
                }
                Input::Eof => {
                    let bytes = match &self.bdat {
                        Some(c) if self.last_command == "BDAT" => format!(" ({} bytes)", c.dec.raw),
                        _ => String::new(),
                    };
                    info!(
                        "lost connection after {}{} from {}",
                        self.last_command,
                        bytes,
                        self.peer.namaddr()
                    );
                    break;
                }
                Input::Timeout => {
                    info!(
                        "timeout after {} from {}",
                        self.last_command,
                        self.peer.namaddr()
                    );
                    let host = self.s.myhostname.clone();
                    self.chat
                        .reply(&r(421, "4.4.2", &format!("{host} Error: timeout exceeded")));
                    break;
                }
            };
            match self.command(&line) {
                Flow::Continue => {}
                Flow::Close => break,
            }
        }
        let _ = self.chat.flush();
        self.chat.close();
        self.disconnect_line();
    }

    fn s_line_limit(&self) -> usize {
        // Commands are short; allow generous room for long addresses and
        // parameters, as Postfix's line_length_limit does.
        4096
    }

    fn disconnect_line(&self) {
        let mut parts = Vec::new();
        let (mut ok, mut total) = (0, 0);
        for (name, c) in COUNTED.iter().zip(&self.counters) {
            if c.total == 0 {
                continue;
            }
            ok += c.ok;
            total += c.total;
            if c.ok == c.total {
                parts.push(format!("{name}={}", c.ok));
            } else {
                parts.push(format!("{name}={}/{}", c.ok, c.total));
            }
        }
        let commands = if ok == total {
            format!("commands={ok}")
        } else {
            format!("commands={ok}/{total}")
        };
        parts.push(commands);
        info!(
            "disconnect from {} {}",
            self.peer.namaddr(),
            parts.join(" ")
        );
    }

    fn command(&mut self, line: &[u8]) -> Flow {
        let cmd = match proto::smtp::parse_command(line) {
            Ok(c) => c,
            Err(ParseError::Unknown(verb)) => {
                self.last_command = "UNKNOWN";
                let v = verb.to_ascii_uppercase();
                if self.s.forbidden_commands.contains(&v)
                    || (!verb.is_empty() && !verb.as_bytes()[0].is_ascii_alphabetic())
                {
                    warn!(
                        "non-SMTP command from {}: {:.100}",
                        self.peer.namaddr(),
                        daemon::Untrusted(&String::from_utf8_lossy(line))
                    );
                    self.count("unknown", false);
                    self.chat
                        .reply(&r(221, "2.7.0", "Error: I can break rules, too. Goodbye."));
                    return Flow::Close;
                }
                self.count("unknown", false);
                return self.flow(r(500, "5.5.2", "Error: command not recognized"));
            }
            Err(ParseError::Syntax(syntax)) => {
                let verb = String::from_utf8_lossy(line)
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                self.last_command = cmd_name(&verb);
                self.count(&verb, false);
                if verb == "bdat" {
                    // The size of the chunk that may follow is unknown: the
                    // rest of the input cannot be told from commands.
                    warn!(
                        "{}: malformed BDAT command syntax from {}: {:.100}",
                        self.txn.as_ref().map_or("NOQUEUE", |t| t.queue_id()),
                        self.peer.namaddr(),
                        daemon::Untrusted(&String::from_utf8_lossy(line))
                    );
                    self.chat
                        .reply(&r(521, "5.5.4", &format!("Syntax: {syntax}")));
                    return Flow::Close;
                }
                // Postfix gives HELO and EHLO syntax errors no enhanced code.
                let enh = if verb == "helo" || verb == "ehlo" {
                    ""
                } else {
                    "5.5.4"
                };
                return self.flow(r(501, enh, &format!("Syntax: {syntax}")));
            }
            Err(ParseError::BadParameter(p)) => {
                let verb = String::from_utf8_lossy(line)
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                self.last_command = cmd_name(&verb);
                self.count(&verb, false);
                return self.flow(r(
                    501,
                    "5.5.4",
                    &format!("Bad parameter syntax: {:.100}", p),
                ));
            }
            Err(_) => return self.flow(r(500, "5.5.2", "Error: bad syntax")),
        };
        if self.needs_tls_first(&cmd) {
            return self.tls_first(cmd);
        }
        match cmd {
            Command::Helo(h) => self.helo(h, false),
            Command::Ehlo(h) => self.helo(h, true),
            Command::Mail(p) => self.mail(p),
            Command::Rcpt(p) => self.rcpt(p),
            Command::Data => self.data(),
            Command::Rset => {
                self.last_command = "RSET";
                self.txn = None;
                self.bdat = None;
                self.junk_command();
                self.count("rset", true);
                self.flow(r(250, "2.0.0", "Ok"))
            }
            Command::Noop => {
                self.last_command = "NOOP";
                self.junk_command();
                self.count("noop", true);
                self.flow(r(250, "2.0.0", "Ok"))
            }
            Command::Quit => {
                self.last_command = "QUIT";
                self.count("quit", true);
                self.chat.reply(&r(221, "2.0.0", "Bye"));
                Flow::Close
            }
            Command::Vrfy(a) => self.vrfy(a),
            // Postfix has neither HELP nor EXPN.
            Command::Help | Command::Expn(_) => {
                self.last_command = "UNKNOWN";
                self.count("unknown", false);
                self.flow(r(500, "5.5.2", "Error: command not recognized"))
            }
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Etrn(domain) => self.etrn(domain),
            Command::StartTls => self.starttls(),
            Command::Auth { .. } => {
                self.last_command = "AUTH";
                self.count("auth", false);
                self.flow(r(503, "5.5.1", "Error: authentication not enabled"))
            }
            Command::Xclient(_) | Command::Xforward(_) => {
                self.last_command = "UNKNOWN";
                self.count("unknown", false);
                self.flow(r(500, "5.5.2", "Error: command not recognized"))
            }
        }
    }

    pub(crate) fn flow(&mut self, rep: Reply) -> Flow {
        if self.reply(rep) {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    pub(crate) fn junk_command(&mut self) {
        self.junk += 1;
        if self.junk > self.s.junk_command_limit {
            self.errors += 1;
        }
    }

    fn helo(&mut self, name: String, esmtp: bool) -> Flow {
        self.last_command = if esmtp { "EHLO" } else { "HELO" };
        let verb = if esmtp { "ehlo" } else { "helo" };
        if let Err(rep) = self.check_helo_syntax(&name) {
            self.count(verb, false);
            return self.flow(rep);
        }
        self.helo = Some(name);
        self.esmtp = esmtp;
        self.txn = None;
        self.bdat = None;
        if !self.s.delay_reject && !self.s.helo_restrictions.is_empty() {
            let list = self.s.helo_restrictions.clone();
            if let Verdict::Reject(rep) = self.restrict(&list, Stage::Helo, None) {
                self.log_reject(self.last_command, &rep, None, None);
                self.count(verb, false);
                return self.flow(rep);
            }
        }
        self.count(verb, true);
        if !esmtp {
            let host = self.s.myhostname.clone();
            return self.flow(Reply::plain(250, vec![host]));
        }
        let mut lines = vec![self.s.myhostname.clone()];
        let size = if self.s.message_size_limit > 0 {
            format!("SIZE {}", self.s.message_size_limit)
        } else {
            "SIZE".into()
        };
        let mut kw = vec!["PIPELINING".to_string(), size];
        if !self.s.disable_vrfy {
            kw.push("VRFY".into());
        }
        kw.push("ETRN".into());
        if self.offers_starttls() {
            kw.push("STARTTLS".into());
        }
        kw.extend([
            "ENHANCEDSTATUSCODES".into(),
            "8BITMIME".into(),
            "DSN".into(),
        ]);
        if self.s.smtputf8 {
            kw.push("SMTPUTF8".into());
        }
        kw.push("CHUNKING".into());
        let mut discarded = Vec::new();
        for k in kw {
            let first = k.split(' ').next().unwrap_or("").to_string();
            if self
                .s
                .discard_ehlo_keywords
                .contains(&first.to_ascii_lowercase())
            {
                discarded.push(first);
            } else {
                lines.push(k);
            }
        }
        if !discarded.is_empty() {
            info!("discarding EHLO keywords: {}", discarded.join(" "));
        }
        self.flow(Reply::plain(250, lines))
    }

    fn check_helo_syntax(&self, name: &str) -> Result<(), Reply> {
        if name.len() > 255 || name.bytes().any(|c| c.is_ascii_control()) {
            return Err(r(501, "5.5.2", "Syntax: HELO hostname"));
        }
        Ok(())
    }

    /// Internal form of a path's address, or the syntax error.
    fn path_address(&self, p: &PathArg, what: &str) -> Result<String, ()> {
        if self.s.strict_rfc821 && !p.bracketed {
            return Err(());
        }
        let text = p.address.trim();
        if text.is_empty() {
            return Ok(String::new());
        }
        if text.bytes().any(|c| c.is_ascii_control() && c != b'\t') {
            return Err(());
        }
        let list = mail::address::parse_list(format!("<{text}>").as_bytes());
        if list.len() != 1 || !unquoted_clean(text) {
            warn!(
                "Illegal address syntax from {} in {} command: <{:.100}>",
                self.peer.namaddr(),
                what,
                daemon::Untrusted(text)
            );
            return Err(());
        }
        let addr = mail::address::strip_source_route(&list[0].addr).to_string();
        Ok(addr)
    }

    fn mail(&mut self, p: PathArg) -> Flow {
        self.last_command = "MAIL";
        if self.s.helo_required && self.helo.is_none() {
            self.count("mail", false);
            return self.flow(r(503, "5.5.1", "Error: send HELO/EHLO first"));
        }
        if self.txn.is_some() {
            self.count("mail", false);
            return self.flow(r(503, "5.5.1", "Error: nested MAIL command"));
        }
        if self.bdat.is_some() {
            self.count("mail", false);
            return self.flow(r(503, "5.5.1", "Error: MAIL after BDAT"));
        }
        let Ok(sender) = self.path_address(&p, "MAIL") else {
            self.count("mail", false);
            return self.flow(r(501, "5.1.7", "Bad sender address syntax"));
        };
        let mut txn = Txn::new(sender.clone());
        for (k, v) in &p.params {
            let key = k.to_ascii_uppercase();
            let value = v.as_deref().unwrap_or("");
            let bad = match key.as_str() {
                "SIZE" => match value.parse::<u64>() {
                    Ok(n) if value.bytes().all(|c| c.is_ascii_digit()) => {
                        txn.size = Some(n);
                        None
                    }
                    _ => Some(r(501, "5.5.4", "Bad message size syntax")),
                },
                "BODY" => match value.to_ascii_uppercase().as_str() {
                    "7BIT" | "8BITMIME" => {
                        txn.body = Some(value.to_ascii_uppercase());
                        None
                    }
                    _ => Some(r(501, "5.5.4", "Unsupported BODY parameter")),
                },
                "SMTPUTF8" if self.s.smtputf8 && v.is_none() => {
                    txn.smtputf8 = true;
                    None
                }
                "RET" => match value.to_ascii_uppercase().as_str() {
                    "FULL" => {
                        txn.ret = 1;
                        None
                    }
                    "HDRS" => {
                        txn.ret = 2;
                        None
                    }
                    _ => Some(r(501, "5.5.4", "Bad RET parameter syntax")),
                },
                "ENVID" => match mail::dsn::xtext_decode(value) {
                    Ok(e) if !value.is_empty() && e.len() <= 100 => {
                        txn.envid = e;
                        None
                    }
                    _ => Some(r(501, "5.5.4", "Bad ENVID parameter syntax")),
                },
                "AUTH" => None,
                _ => Some(r(
                    555,
                    "5.5.4",
                    &format!("Unsupported option: {}", param_text(k, v)),
                )),
            };
            if let Some(rep) = bad {
                self.count("mail", false);
                return self.flow(rep);
            }
        }
        if self.s.message_size_limit > 0 && txn.size.is_some_and(|n| n > self.s.message_size_limit)
        {
            self.count("mail", false);
            let rep = r(552, "5.3.4", "Message size exceeds fixed limit");
            self.log_reject("MAIL", &rep, Some(&sender), None);
            return self.flow(rep);
        }
        // Canonical form (unqualified senders get @$myorigin).
        if !sender.is_empty() {
            match self.rewrite.rewrite("local", &sender) {
                Ok(a) => txn.sender = a,
                Err(e) => {
                    warn!("address rewriting: {e}");
                    self.count("mail", false);
                    return self.flow(r(451, "4.3.0", "Error: queue file write error"));
                }
            }
        }
        self.txn = Some(txn);
        if !self.s.delay_reject
            && let Verdict::Reject(rep) = self.early_checks(None)
        {
            self.log_reject("MAIL", &rep, Some(&sender), None);
            self.txn = None;
            self.count("mail", false);
            return self.flow(rep);
        }
        self.count("mail", true);
        self.flow(r(250, "2.1.0", "Ok"))
    }

    /// Client, helo and sender restrictions, then the unlisted sender
    /// check of `smtpd_reject_unlisted_sender`.
    pub fn early_checks(&mut self, rcpt: Option<&Addr>) -> Verdict {
        let lists = [
            (self.s.client_restrictions.clone(), Stage::Client),
            (self.s.helo_restrictions.clone(), Stage::Helo),
            (self.s.sender_restrictions.clone(), Stage::Sender),
        ];
        for (list, stage) in lists {
            if list.is_empty() {
                continue;
            }
            let v = self.restrict(&list, stage, rcpt);
            if matches!(v, Verdict::Reject(_)) {
                return v;
            }
        }
        if self.s.reject_unlisted_sender {
            return self.unlisted_sender();
        }
        Verdict::Dunno
    }

    fn rcpt(&mut self, p: PathArg) -> Flow {
        self.last_command = "RCPT";
        if self.txn.is_none() {
            self.count("rcpt", false);
            return self.flow(r(503, "5.5.1", "Error: need MAIL command"));
        }
        if self.bdat.is_some() {
            self.count("rcpt", false);
            return self.flow(r(503, "5.5.1", "Error: RCPT after BDAT"));
        }
        let txn = self.txn.as_mut().expect("invariant: checked above");
        txn.rcpt_attempts += 1;
        if txn.rcpts.len() >= self.s.recipient_limit {
            self.count("rcpt", false);
            return self.flow(r(452, "4.5.3", "Error: too many recipients"));
        }
        let Ok(raw) = self.path_address(&p, "RCPT") else {
            self.count("rcpt", false);
            return self.flow(r(501, "5.1.3", "Bad recipient address syntax"));
        };
        if raw.is_empty() {
            self.count("rcpt", false);
            return self.flow(r(501, "5.1.3", "Bad recipient address syntax"));
        }
        let (mut notify, mut orcpt) = (0u32, String::new());
        for (k, v) in &p.params {
            let value = v.as_deref().unwrap_or("");
            let bad = match k.to_ascii_uppercase().as_str() {
                "NOTIFY" => match mail::dsn::Notify::parse(value) {
                    Ok(n) => {
                        notify = u32::from(n.bits());
                        None
                    }
                    Err(_) => Some(r(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")),
                },
                "ORCPT" => match mail::dsn::Orcpt::parse_esmtp(value) {
                    Ok(o) => {
                        orcpt = o.to_string();
                        None
                    }
                    Err(_) => Some(r(501, "5.5.4", "Error: Bad ORCPT parameter syntax")),
                },
                _ => Some(r(
                    555,
                    "5.5.4",
                    &format!("Unsupported option: {}", param_text(k, v)),
                )),
            };
            if let Some(rep) = bad {
                self.count("rcpt", false);
                return self.flow(rep);
            }
        }
        let address = match self.rewrite.rewrite("local", &raw) {
            Ok(a) => a,
            Err(e) => {
                warn!("address rewriting: {e}");
                self.count("rcpt", false);
                return self.flow(r(451, "4.3.0", "Error: queue file write error"));
            }
        };
        let addr = Addr {
            given: raw,
            canonical: address,
        };
        if let Verdict::Reject(rep) = self.rcpt_checks(&addr) {
            self.count("rcpt", false);
            return self.flow(rep);
        }
        // The queue file is opened at the first accepted recipient.
        if self.txn.as_ref().is_some_and(|t| t.cleanup.is_none()) {
            match ipc::cleanup::Client::open(
                std::path::Path::new("."),
                &self.s.cleanup_service,
                std::time::Duration::from_secs(300),
            ) {
                Ok(c) => {
                    info!("{}: client={}", c.queue_id, self.peer.namaddr());
                    self.txn.as_mut().expect("invariant").cleanup = Some(c);
                }
                Err(e) => {
                    warn!("connect to cleanup service: {e}");
                    self.count("rcpt", false);
                    return self.flow(r(451, "4.3.0", "Error: queue file write error"));
                }
            }
        }
        let txn = self.txn.as_mut().expect("invariant: checked above");
        txn.rcpts.push(Rcpt {
            orig: addr.given,
            address: addr.canonical,
            notify,
            orcpt,
        });
        self.count("rcpt", true);
        self.flow(r(250, "2.1.5", "Ok"))
    }

    fn vrfy(&mut self, a: String) -> Flow {
        self.last_command = "VRFY";
        self.junk_command();
        if self.s.disable_vrfy {
            self.count("vrfy", false);
            return self.flow(r(502, "5.5.1", "VRFY command is disabled"));
        }
        let p = PathArg {
            address: a.trim_start_matches('<').trim_end_matches('>').to_string(),
            bracketed: true,
            params: vec![],
        };
        let Ok(addr) = self.path_address(&p, "VRFY") else {
            self.count("vrfy", false);
            return self.flow(r(501, "5.1.3", "Bad recipient address syntax"));
        };
        let canonical = self
            .rewrite
            .rewrite("local", &addr)
            .unwrap_or_else(|_| addr.clone());
        let addr = Addr {
            given: addr,
            canonical,
        };
        if let Verdict::Reject(rep) = self.unlisted(&addr, Role::Recipient) {
            self.count("vrfy", false);
            return self.flow(rep);
        }
        self.count("vrfy", true);
        self.flow(r(252, "2.0.0", &a))
    }

    fn data(&mut self) -> Flow {
        self.last_command = "DATA";
        if self.bdat.is_some() {
            self.count("data", false);
            return self.flow(r(503, "5.5.1", "Error: DATA after BDAT"));
        }
        let Some(txn) = &self.txn else {
            self.count("data", false);
            return self.flow(r(503, "5.5.1", "Error: need RCPT command"));
        };
        if txn.rcpts.is_empty() {
            let attempted = txn.rcpt_attempts > 0;
            self.count("data", false);
            let rep = if attempted {
                r(554, "5.5.1", "Error: no valid recipients")
            } else {
                r(503, "5.5.1", "Error: need RCPT command")
            };
            return self.flow(rep);
        }
        if let Err(rep) = self.data_checks() {
            self.count("data", false);
            return self.flow(rep);
        }
        let sent = self.begin_cleanup();
        if let Err(e) = sent {
            warn!(
                "{}: send to cleanup: {}",
                self.txn.as_ref().map_or("NOQUEUE", |t| t.queue_id()),
                e
            );
            self.txn = None;
            self.count("data", false);
            return self.flow(r(451, "4.3.0", "Error: queue file write error"));
        }
        self.chat
            .reply(&r(354, "", "End data with <CR><LF>.<CR><LF>"));
        let _ = self.chat.flush();
        let result = match self.receive_data() {
            DataResult::Done => match self.end_of_data_checks() {
                Ok(()) => DataResult::Done,
                Err(rep) => DataResult::Refused(rep),
            },
            other => other,
        };
        let mut txn = self.txn.take().expect("invariant: checked above");
        let id = txn.queue_id().to_string();
        let rep = match result {
            DataResult::Lost => {
                info!(
                    "lost connection after DATA ({} bytes) from {}",
                    self.chat.read_bytes,
                    self.peer.namaddr()
                );
                self.count("data", false);
                return Flow::Close;
            }
            DataResult::Timeout => {
                info!("timeout after DATA from {}", self.peer.namaddr());
                let host = self.s.myhostname.clone();
                self.chat
                    .reply(&r(421, "4.4.2", &format!("{host} Error: timeout exceeded")));
                self.count("data", false);
                return Flow::Close;
            }
            DataResult::TooBig => {
                warn!("{}: queue file size limit exceeded", id);
                r(552, "5.3.4", "Error: message file too big")
            }
            DataResult::BareLf => {
                let code = self.s.bare_lf_reject_code;
                r(
                    code,
                    if code >= 500 { "5.5.2" } else { "4.5.2" },
                    "Error: bare <LF> received",
                )
            }
            DataResult::Failed(e) => {
                warn!("{}: send to cleanup: {}", id, e);
                r(451, "4.3.0", "Error: queue file write error")
            }
            DataResult::Refused(rep) => rep,
            DataResult::Done => match txn.cleanup.take().map(|c| c.finish()) {
                Some(Ok(reply)) if reply.status == status::OK => {
                    r(250, "2.0.0", &format!("Ok: queued as {id}"))
                }
                Some(Ok(reply)) => cleanup_reply(reply.status, &reply.reason),
                Some(Err(e)) => {
                    warn!("{}: cleanup: {}", id, e);
                    r(451, "4.3.0", "Error: queue file write error")
                }
                None => r(451, "4.3.0", "Error: queue file write error"),
            },
        };
        if rep.is_error() {
            self.log_reject_txn("END-OF-MESSAGE", &rep, &txn);
        }
        self.count("data", !rep.is_error());
        self.flow(rep)
    }

    /// smtpd_data_restrictions, at DATA or the first BDAT; a rejection is
    /// logged.
    pub(crate) fn data_checks(&mut self) -> Result<(), Reply> {
        if self.s.data_restrictions.is_empty() {
            return Ok(());
        }
        let list = self.s.data_restrictions.clone();
        match self.restrict(&list, Stage::Data, None) {
            Verdict::Reject(rep) => {
                if let Some(t) = &self.txn {
                    self.log_reject_txn(self.last_command, &rep, t);
                }
                Err(rep)
            }
            _ => Ok(()),
        }
    }

    /// smtpd_end_of_data_restrictions, once the whole message is in: the
    /// rejection (logged by the caller with the other end-of-message
    /// errors), or HOLD and DISCARD passed on to cleanup.
    pub(crate) fn end_of_data_checks(&mut self) -> Result<(), Reply> {
        if self.s.end_of_data_restrictions.is_empty() {
            return Ok(());
        }
        let list = self.s.end_of_data_restrictions.clone();
        let before = self.txn.as_ref().map(|t| (t.hold, t.discard));
        if let Some(t) = self.txn.as_mut() {
            // Sent with the envelope already.
            t.routes.clear();
        }
        self.end_of_data = true;
        let v = self.restrict(&list, Stage::EndOfData, None);
        self.end_of_data = false;
        if let Verdict::Reject(rep) = v {
            return Err(rep);
        }
        let Some(t) = self.txn.as_mut() else {
            return Ok(());
        };
        let mut f = 0;
        if t.hold && before.is_some_and(|b| !b.0) {
            f |= flags::HOLD;
        }
        if t.discard && before.is_some_and(|b| !b.1) {
            f |= flags::DISCARD;
        }
        let routes = std::mem::take(&mut t.routes);
        let Some(c) = t.cleanup.as_mut() else {
            return Ok(());
        };
        let mut sent = Ok(());
        if f != 0 {
            sent = c.add_flags(f);
        }
        if sent.is_ok() && !routes.is_empty() {
            sent = c.envelope(routes);
        }
        sent.map_err(|e| {
            warn!("{}: send to cleanup: {}", c.queue_id, e);
            r(451, "4.3.0", "Error: queue file write error")
        })
    }

    /// Sends the envelope to cleanup.
    pub(crate) fn begin_cleanup(&mut self) -> Result<(), ipc::IpcError> {
        let peer = self.peer.clone();
        let helo = self.helo.clone();
        let esmtp = self.esmtp;
        let rewrite_local = self.rewrite_local;
        let txn = self.txn.as_mut().expect("invariant: checked by caller");
        let c = txn
            .cleanup
            .as_mut()
            .expect("invariant: opened at the first recipient");
        let mut f = flags::BOUNCE | flags::MAP_OK | flags::BCC_OK | flags::FILTER | flags::MILTER;
        if txn.hold {
            f |= flags::HOLD;
        }
        if txn.discard {
            f |= flags::DISCARD;
        }
        if txn.smtputf8 {
            f |= flags::SMTPUTF8;
        }
        c.begin(f)?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut env = vec![
            EnvelopeRecord::Time(now.as_secs(), now.subsec_micros()),
            EnvelopeRecord::Sender(txn.sender.clone()),
            EnvelopeRecord::Attr("client_name".into(), peer.name.clone()),
            EnvelopeRecord::Attr("reverse_client_name".into(), peer.reverse_name.clone()),
            EnvelopeRecord::Attr("client_address".into(), peer.addr.to_string()),
            EnvelopeRecord::Attr("client_port".into(), peer.port.to_string()),
            EnvelopeRecord::Attr(
                "protocol_name".into(),
                if esmtp { "ESMTP".into() } else { "SMTP".into() },
            ),
            EnvelopeRecord::Attr(
                "rewrite_context".into(),
                if rewrite_local {
                    "local".into()
                } else {
                    "remote".into()
                },
            ),
        ];
        if let Some(h) = &helo {
            env.push(EnvelopeRecord::Attr("helo_name".into(), h.clone()));
        }
        if txn.ret != 0 {
            env.push(EnvelopeRecord::Ret(txn.ret));
        }
        if !txn.envid.is_empty() {
            env.push(EnvelopeRecord::Envid(txn.envid.clone()));
        }
        if let Some(b) = &txn.body {
            env.push(EnvelopeRecord::Attr("encoding".into(), b.clone()));
        }
        for rc in &txn.rcpts {
            env.push(EnvelopeRecord::Rcpt {
                address: rc.address.clone(),
                orig: rc.orig.clone(),
                notify: rc.notify,
                orcpt: rc.orcpt.clone(),
            });
        }
        env.append(&mut txn.routes);
        c.envelope(env)?;
        // Headers from access tables, then our Received: header.
        let mut head = String::new();
        for p in &txn.prepend {
            head.push_str(p);
            head.push('\n');
        }
        head.push_str(&self.received_header());
        let txn = self.txn.as_mut().expect("invariant");
        txn.cleanup
            .as_mut()
            .expect("invariant")
            .content(head.as_bytes())
    }

    fn received_header(&self) -> String {
        let txn = self.txn.as_ref().expect("invariant: in a transaction");
        let helo = self.helo.clone().unwrap_or_else(|| self.peer.name.clone());
        // ESMTPS, SMTPS inside TLS.
        let proto = format!(
            "{}{}",
            if self.esmtp { "ESMTP" } else { "SMTP" },
            if self.chat.tls().is_some() { "S" } else { "" }
        );
        let date = now_date();
        let id = txn.queue_id();
        let mut h = format!(
            "Received: from {} ({} [{}])\n\tby {} ({}) with {} id {}",
            helo, self.peer.name, self.peer.addr, self.s.myhostname, self.s.mail_name, proto, id
        );
        if txn.rcpts.len() == 1 {
            h.push_str(&format!(
                "\n\tfor <{}>; {}\n",
                mail::address::externalize(&txn.rcpts[0].address),
                date
            ));
        } else {
            h.push_str(&format!(";\n\t{date}\n"));
        }
        h
    }

    /// Reads the message after 354 and streams it to cleanup.
    fn receive_data(&mut self) -> DataResult {
        let mut dec = DataDecoder::new(self.bare_lf);
        let mut out = Vec::with_capacity(65536);
        let mut too_big = false;
        let mut failed: Option<String> = None;
        loop {
            let pending = self.chat.pending();
            if !pending.is_empty() {
                out.clear();
                let f = dec.feed(pending, &mut out);
                self.chat.consume(f.consumed);
                if self.s.message_size_limit > 0 && dec.size > self.s.message_size_limit {
                    too_big = true;
                }
                if !too_big && failed.is_none() && !out.is_empty() {
                    let txn = self.txn.as_mut().expect("invariant");
                    if let Err(e) = txn.cleanup.as_mut().expect("invariant").content(&out) {
                        failed = Some(e.to_string());
                    }
                }
                if f.done {
                    break;
                }
            }
            match self.chat.fill() {
                Ok(true) => {}
                Ok(false) => return DataResult::Lost,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return DataResult::Timeout;
                }
                Err(_) => return DataResult::Lost,
            }
        }
        if too_big {
            DataResult::TooBig
        } else if dec.bare_lf && self.bare_lf == BareLf::Reject {
            DataResult::BareLf
        } else if let Some(e) = failed {
            DataResult::Failed(e)
        } else {
            DataResult::Done
        }
    }

    /// `NOQUEUE: reject: RCPT from host[addr]: 554 ...; from=<> to=<> proto=ESMTP helo=<>`.
    pub fn log_reject(&self, stage: &str, rep: &Reply, sender: Option<&str>, rcpt: Option<&str>) {
        let id = self
            .txn
            .as_ref()
            .map_or("NOQUEUE", |t| t.queue_id())
            .to_string();
        self.log_action(&id, "reject", stage, rep, sender, rcpt);
    }

    pub(crate) fn log_reject_txn(&self, stage: &str, rep: &Reply, txn: &Txn) {
        let rcpt = txn.rcpts.first().map(|r| r.orig.as_str());
        self.log_action(
            txn.queue_id(),
            "reject",
            stage,
            rep,
            Some(&txn.sender_given),
            rcpt,
        );
    }

    pub fn log_action(
        &self,
        id: &str,
        action: &str,
        stage: &str,
        rep: &Reply,
        sender: Option<&str>,
        rcpt: Option<&str>,
    ) {
        // Actions that send no reply (hold, discard, warn) log only the text.
        let said = match (rep.code, rep.enhanced.as_str()) {
            (0, _) => rep.text(),
            (code, "") => format!("{code} {}", rep.text()),
            (code, enh) => format!("{code} {enh} {}", rep.text()),
        };
        let mut line = format!(
            "{}: {}: {} from {}: {}",
            id,
            action,
            stage,
            self.peer.namaddr(),
            said
        );
        if let Some(s) = sender {
            line.push_str(&format!("; from=<{}>", daemon::Untrusted(s)));
        }
        if let Some(t) = rcpt {
            line.push_str(&format!(" to=<{}>", daemon::Untrusted(t)));
        }
        line.push_str(&format!(
            " proto={}",
            if self.esmtp { "ESMTP" } else { "SMTP" }
        ));
        if let Some(h) = &self.helo {
            line.push_str(&format!(" helo=<{:.100}>", daemon::Untrusted(h)));
        }
        info!("{}", line);
    }
}

enum DataResult {
    Done,
    /// smtpd_end_of_data_restrictions refused the message.
    Refused(Reply),
    Lost,
    Timeout,
    TooBig,
    BareLf,
    Failed(String),
}

/// The reply for a cleanup status, as Postfix words them.
pub(crate) fn cleanup_reply(st: u32, reason: &str) -> Reply {
    if st & status::SIZE != 0 {
        r(552, "5.3.4", "Error: message file too big")
    } else if st & status::HOPS != 0 {
        r(554, "5.4.0", "Error: too many hops")
    } else if st & status::CONT != 0 {
        proto::smtp::reply_from_text(reason)
            .or_else(|| reason_with_dsn(550, reason))
            .unwrap_or_else(|| {
                r(
                    550,
                    "5.7.1",
                    if reason.is_empty() {
                        "Error: content rejected"
                    } else {
                        reason
                    },
                )
            })
    } else if st & status::RCPT != 0 {
        r(554, "5.5.1", "Error: no valid recipients")
    } else if st & status::DEFER != 0 {
        reason_with_dsn(451, reason).unwrap_or_else(|| {
            r(
                451,
                "4.3.0",
                if reason.is_empty() {
                    "Error: try again later"
                } else {
                    reason
                },
            )
        })
    } else {
        r(451, "4.3.0", "Error: queue file write error")
    }
}

/// A reason from cleanup(8) that starts with an enhanced status code, as
/// Postfix's do (`5.7.1 go away` from a header_checks REJECT, `4.6.0
/// Alias expansion error`): the reply has that code, and `code` (550 or
/// 451) follows its class, as Postfix's smtpd(8) answers.
fn reason_with_dsn(code: u16, reason: &str) -> Option<Reply> {
    let (dsn, text) = reason.split_once(' ').unwrap_or((reason, ""));
    if !proto::smtp::is_enhanced(dsn) {
        return None;
    }
    let code = match dsn.as_bytes()[0] {
        b'4' => 451,
        b'5' => 550,
        _ => code,
    };
    Some(r(code, dsn, text))
}

fn param_text(k: &str, v: &Option<String>) -> String {
    match v {
        Some(v) => format!("{k}={v}"),
        None => k.to_string(),
    }
}

/// Whether an address has no whitespace or specials outside quotes.
fn unquoted_clean(text: &str) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' | '<' | '>' | '(' | ')' | ',' | ';' if !quoted => return false,
            _ => {}
        }
    }
    !quoted
}

fn cmd_name(verb: &str) -> &'static str {
    match verb {
        "helo" => "HELO",
        "ehlo" => "EHLO",
        "mail" => "MAIL",
        "rcpt" => "RCPT",
        "data" => "DATA",
        "bdat" => "BDAT",
        "vrfy" => "VRFY",
        "etrn" => "ETRN",
        "auth" => "AUTH",
        "starttls" => "STARTTLS",
        _ => "UNKNOWN",
    }
}

/// The current time as Postfix writes dates in headers.
pub fn now_date() -> String {
    let now = SystemTime::now();
    let tm = sys::time::local(now);
    let unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    mail::date::format_date(
        unix,
        tm.gmtoff as i32,
        (!tm.zone.is_empty()).then_some(tm.zone.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_replies_as_postfix_words_them() {
        let cases = [
            (status::CONT, "5.7.1 go away", "550 5.7.1 go away"),
            (
                status::CONT,
                "5.7.1 message content rejected",
                "550 5.7.1 message content rejected",
            ),
            (status::DEFER, "4.1.1 later", "451 4.1.1 later"),
            (
                status::DEFER,
                "4.6.0 Alias expansion error",
                "451 4.6.0 Alias expansion error",
            ),
            (
                status::DEFER,
                "4.3.0 Error: queue file write error",
                "451 4.3.0 Error: queue file write error",
            ),
            (status::DEFER, "", "451 4.3.0 Error: try again later"),
            (
                status::SIZE,
                "message file too big",
                "552 5.3.4 Error: message file too big",
            ),
        ];
        for (st, reason, want) in cases {
            assert_eq!(
                cleanup_reply(st, reason).to_string().trim_end(),
                want,
                "{reason}"
            );
        }
    }
}
