//! # NAME
//! proto — the SMTP and LMTP dialog (smtp_proto.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! proto::greet(&mut sess, &settings, loop_name)?;          // 220, EHLO/LHLO (HELO)
//! proto::start_tls(&mut sess, &client_tls, &peer, &settings)?;
//! let end = proto::transaction(&mut sess, &settings, &mut msg, &mut delivery, last);
//! proto::quit(sess, &settings);
//! ```
//!
//! ## DESCRIPTION
//! [`greet`] reads the greeting and introduces the client with EHLO (LHLO
//! for LMTP), falling back to HELO when the server refuses EHLO with a
//! 5xx reply. [`start_tls`] sends STARTTLS and runs the handshake, then
//! EHLO again. [`transaction`] sends one message: with PIPELINING, MAIL,
//! every RCPT and DATA go out in one write and their replies are read
//! afterwards (RFC 2920); the content follows the 354 reply. When the
//! server offers CHUNKING (and `chunking` is not in
//! `smtp_discard_ehlo_keywords`) the content goes as one `BDAT n LAST`
//! chunk, pipelined with the envelope when the recipients are few, so
//! that a message costs one round trip and no dot-stuffing. Postfix's
//! client never uses BDAT; this one does because it is cheaper.
//!
//! MAIL carries SIZE, BODY=8BITMIME, SMTPUTF8, RET and ENVID as the
//! server's extensions allow; RCPT carries NOTIFY and ORCPT when the
//! server speaks DSN. 8-bit content for a server without 8BITMIME is
//! converted to quoted-printable unless `disable_mime_output_conversion`
//! is set. A message larger than the server's SIZE bounces, as does one
//! that needs SMTPUTF8 when the server lacks it.
//!
//! Results: each RCPT reply decides its recipient (4xx temporary, 5xx
//! permanent); a MAIL or DATA refusal decides them all; the reply to the
//! end of the data decides every accepted recipient (SMTP) or, one reply
//! each, every accepted recipient in order (LMTP). A connection lost or
//! timed out before the end of the data leaves the recipients for the
//! next server or a later attempt; lost after the data was sent, the
//! message "may be sent more than once", as RFC 5321 §4.1.1.4 allows.
//!
//! ## SEE ALSO
//! RFC 5321, RFC 2033 (LMTP), RFC 2920, RFC 3030, RFC 1652, RFC 6531,
//! RFC 3461, [`crate::session`], [`crate::trouble`]

use std::time::Duration;

use proto::client::{DataEncoder, Features, ServerReply};

use crate::session::{IoFail, Session};
use crate::settings::{Mode, Settings};
use crate::trouble::{Class, Delivery, Why, reply_dsn};

/// The message as it goes out, encoded once per form.
pub struct Message {
    pub sender: String,
    /// Queue content: lines ending in LF.
    pub content: Vec<u8>,
    pub body_8bit: bool,
    pub declared_8bit: bool,
    pub smtputf8: bool,
    pub dsn_ret: u32,
    pub envid: String,
    /// (dot_stuff, downgraded) -> wire form.
    encoded: Vec<((bool, bool), Vec<u8>)>,
    downgraded: Option<Option<Vec<u8>>>,
}

impl Message {
    pub fn new(
        sender: &str,
        content: Vec<u8>,
        declared_8bit: bool,
        smtputf8: bool,
        dsn_ret: u32,
        envid: &str,
    ) -> Message {
        let body_8bit = mail::mime::has_8bit(&content);
        Message {
            sender: sender.to_string(),
            content,
            body_8bit,
            declared_8bit,
            smtputf8,
            dsn_ret,
            envid: envid.to_string(),
            encoded: Vec::new(),
            downgraded: None,
        }
    }

    /// The wire form: for DATA (dot-stuffed, with the end line) or BDAT;
    /// converted to 7 bits or not.
    pub fn wire(&mut self, dot_stuff: bool, downgrade: bool, limit: usize) -> &[u8] {
        let key = (dot_stuff, downgrade);
        if let Some(pos) = self.encoded.iter().position(|(k, _)| *k == key) {
            return &self.encoded[pos].1;
        }
        if downgrade && self.downgraded.is_none() {
            self.downgraded = Some(mail::mime::downgrade(
                &self.content,
                mail::mime::MimeOptions::default(),
            ));
        }
        let src: &[u8] = match (&self.downgraded, downgrade) {
            (Some(Some(d)), true) => d,
            _ => &self.content,
        };
        let mut out = Vec::with_capacity(src.len() + src.len() / 30 + 8);
        let mut e = DataEncoder::new(limit, dot_stuff);
        e.encode(src, &mut out);
        e.finish(&mut out);
        self.encoded.push((key, out));
        &self.encoded.last().expect("invariant: just pushed").1
    }
}

/// How a session stands after a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The server is ready for the next MAIL.
    Clean,
    /// A transaction was left open (RSET before reuse).
    Aborted,
    /// The connection is unusable.
    Broken,
}

/// What an I/O failure means, for the log.
pub fn io_why(sess: &Session, f: &IoFail, stage: &str) -> Why {
    let text = match f {
        IoFail::Timeout => format!(
            "conversation with {} timed out while {}",
            sess.name(),
            stage
        ),
        IoFail::Lost => format!("lost connection with {} while {}", sess.name(), stage),
        IoFail::Garbage => format!("malformed reply from {} while {}", sess.name(), stage),
    };
    Why::soft(
        if *f == IoFail::Garbage {
            "4.5.0"
        } else {
            "4.4.2"
        },
        text,
    )
}

/// Greeting and EHLO/LHLO (or HELO). `loop_name` is the next hop when
/// it was found through MX records: a server that greets with our own
/// name means that mail would loop.
pub fn greet(sess: &mut Session, s: &Settings, loop_name: Option<&str>) -> Result<(), Why> {
    let t = s.timeouts.helo;
    let r = sess
        .reply(t)
        .map_err(|f| io_why(sess, &f, "receiving the initial server greeting"))?;
    if r.class() != 2 {
        let mut why = Why::reply(&sess.name(), &r, "");
        why.text = format!("host {} refused to talk to me: {}", sess.name(), r.text());
        if r.class() == 5 && !s.skip_5xx_greeting {
            why.class = Class::Hard;
        } else {
            why.class = Class::Soft;
            why.dsn = format!("4{}", why.dsn.get(1..).unwrap_or(".0.0"));
        }
        return Err(why);
    }
    helo(sess, s, loop_name)
}

/// EHLO/LHLO, or HELO; also after STARTTLS.
pub fn helo(sess: &mut Session, s: &Settings, loop_name: Option<&str>) -> Result<(), Why> {
    let t = s.timeouts.helo;
    let lmtp = s.mode == Mode::Lmtp;
    let verb = if lmtp { "LHLO" } else { "EHLO" };
    let stage = if lmtp {
        "performing the LHLO handshake"
    } else {
        "performing the EHLO handshake"
    };
    if !s.never_send_ehlo || lmtp {
        sess.write(format!("{verb} {}\r\n", s.helo_name).as_bytes(), t)
            .map_err(|f| io_why(sess, &f, stage))?;
        let r = sess.reply(t).map_err(|f| io_why(sess, &f, stage))?;
        if r.class() == 2 {
            if let Some(me) = loop_name
                && let Some(first) = r.lines.first()
                && let Some(name) = first.get(4..).and_then(|t| t.split_whitespace().next())
                && name.eq_ignore_ascii_case(&s.myhostname)
            {
                return Err(Why::hard(
                    "5.4.6",
                    format!("mail for {me} loops back to myself"),
                ));
            }
            sess.features = Features::parse(&r, &s.discard_ehlo_keywords);
            sess.esmtp = true;
            return Ok(());
        }
        if lmtp || r.class() != 5 {
            return Err(Why::reply(&sess.name(), &r, verb));
        }
    }
    let stage = "performing the HELO handshake";
    sess.write(format!("HELO {}\r\n", s.helo_name).as_bytes(), t)
        .map_err(|f| io_why(sess, &f, stage))?;
    let r = sess.reply(t).map_err(|f| io_why(sess, &f, stage))?;
    if r.class() != 2 {
        return Err(Why::reply(&sess.name(), &r, "HELO"));
    }
    sess.features = Features::default();
    sess.esmtp = false;
    Ok(())
}

/// How STARTTLS failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFail {
    /// The server refused or does not offer it (the reply, if any).
    Refused(Option<ServerReply>),
    /// The handshake failed: the connection is gone.
    Handshake(String),
    /// The connection broke before the handshake.
    Io(Why),
}

/// STARTTLS and the handshake.
pub fn start_tls(
    sess: &mut Session,
    client: &tls::client::ClientTls,
    peer: &tls::client::PeerPolicy,
    s: &Settings,
) -> Result<std::sync::Arc<std::sync::Mutex<tls::client::PeerStatus>>, TlsFail> {
    let t = s.timeouts.starttls;
    if !sess.features.starttls {
        return Err(TlsFail::Refused(None));
    }
    sess.write(b"STARTTLS\r\n", t)
        .map_err(|f| TlsFail::Io(io_why(sess, &f, "sending STARTTLS")))?;
    let r = sess
        .reply(t)
        .map_err(|f| TlsFail::Io(io_why(sess, &f, "receiving the STARTTLS response")))?;
    if r.class() != 2 {
        return Err(TlsFail::Refused(Some(r)));
    }
    handshake(sess, client, peer, t)
}

/// The TLS handshake on a connected session (STARTTLS done, or wrapper
/// mode).
pub fn handshake(
    sess: &mut Session,
    client: &tls::client::ClientTls,
    peer: &tls::client::PeerPolicy,
    t: Duration,
) -> Result<std::sync::Arc<std::sync::Mutex<tls::client::PeerStatus>>, TlsFail> {
    let (conn, status) = client
        .connection(peer)
        .map_err(|e| TlsFail::Handshake(e.to_string()))?;
    sess.start_tls(conn, t).map_err(TlsFail::Handshake)?;
    Ok(status)
}

/// An ESMTP parameter value as xtext.
fn xtext(s: &str) -> String {
    mail::dsn::xtext_encode(s)
}

fn mail_command(sess: &Session, msg: &Message, size: usize, body8: bool) -> String {
    let f = &sess.features;
    let sender = if msg.sender.is_empty() {
        String::new()
    } else {
        mail::address::externalize(&msg.sender)
    };
    let mut cmd = format!("MAIL FROM:<{sender}>");
    if f.size.is_some() {
        cmd.push_str(&format!(" SIZE={size}"));
    }
    if body8 {
        cmd.push_str(" BODY=8BITMIME");
    }
    if msg.smtputf8 && f.smtputf8 {
        cmd.push_str(" SMTPUTF8");
    }
    if f.dsn {
        match msg.dsn_ret {
            1 => cmd.push_str(" RET=FULL"),
            2 => cmd.push_str(" RET=HDRS"),
            _ => {}
        }
        if !msg.envid.is_empty() {
            cmd.push_str(&format!(" ENVID={}", xtext(&msg.envid)));
        }
    }
    cmd.push_str("\r\n");
    cmd
}

fn rcpt_command(sess: &Session, r: &ipc::deliver::DeliveryRecipient) -> String {
    let mut cmd = format!("RCPT TO:<{}>", mail::address::externalize(&r.address));
    if sess.features.dsn {
        if let Some(n) = mail::dsn::Notify::from_bits(r.notify as u8)
            && !n.is_empty()
        {
            cmd.push_str(&format!(" NOTIFY={n}"));
        }
        if !r.orcpt.is_empty()
            && let Ok(o) = mail::dsn::Orcpt::parse(&r.orcpt)
        {
            cmd.push_str(&format!(" ORCPT={}", o.to_esmtp()));
        }
    }
    cmd.push_str("\r\n");
    cmd
}

/// Sends one message to the pending recipients of `d`.
pub fn transaction(
    sess: &mut Session,
    s: &Settings,
    msg: &mut Message,
    d: &mut Delivery<'_>,
    last_server: bool,
) -> End {
    let relay = sess.relay();
    let name = sess.name();
    let f = sess.features.clone();
    let lmtp = s.mode == Mode::Lmtp;
    let eight = msg.declared_8bit || msg.body_8bit;
    let body8 = f.eightbitmime && eight;
    let downgrade = !f.eightbitmime && msg.body_8bit && !s.disable_mime_output_conversion;
    if msg.smtputf8 && !(f.smtputf8 && s.smtputf8_enable) {
        d.fail_all(
            &relay,
            &Why::hard(
                "5.6.7",
                format!("SMTPUTF8 is required, but was not offered by host {name}"),
            ),
            last_server,
        );
        return End::Clean;
    }
    let bdat = f.chunking;
    let pipelining = f.pipelining;
    let limit = s.line_length_limit;
    let size = msg.wire(!bdat, downgrade, limit).len();
    if let Some(max) = f.size
        && max > 0
        && size as u64 > max
    {
        d.fail_all(
            &relay,
            &Why::hard(
                "5.3.4",
                format!("message size {size} exceeds size limit {max} of server {name}"),
            ),
            last_server,
        );
        return End::Clean;
    }
    let t = &s.timeouts;
    let rcpts: Vec<usize> = d.pending.clone();
    let mut head = mail_command(sess, msg, size, body8);
    let mut rcpt_cmds = Vec::with_capacity(rcpts.len());
    for &i in &rcpts {
        rcpt_cmds.push(rcpt_command(sess, &d.job.req.recipients[i]));
    }
    // What goes out before the first reply is read.
    let pipeline_all = pipelining;
    let bdat_inline = bdat && pipelining && rcpts.len() <= 100;
    let stage_fail = |sess: &Session, d: &mut Delivery<'_>, f: IoFail, stage: &str| {
        let why = io_why(sess, &f, stage);
        d.fail_all(&sess.relay(), &why, last_server);
        End::Broken
    };
    if pipeline_all {
        for c in &rcpt_cmds {
            head.push_str(c);
        }
        let mut out = head.into_bytes();
        if bdat {
            if bdat_inline {
                out.extend_from_slice(format!("BDAT {size} LAST\r\n").as_bytes());
                out.extend_from_slice(msg.wire(false, downgrade, limit));
            }
        } else {
            out.extend_from_slice(b"DATA\r\n");
        }
        if let Err(e) = sess.write(&out, t.mail) {
            return stage_fail(sess, d, e, "sending MAIL FROM");
        }
    } else if let Err(e) = sess.write(head.as_bytes(), t.mail) {
        return stage_fail(sess, d, e, "sending MAIL FROM");
    }
    // MAIL FROM.
    let r = match sess.reply(t.mail) {
        Ok(r) => r,
        Err(e) => return stage_fail(sess, d, e, "sending MAIL FROM"),
    };
    let mail_refused = (r.class() != 2).then(|| Why::reply(&name, &r, "MAIL FROM"));
    if let Some(why) = &mail_refused
        && !pipeline_all
    {
        d.fail_all(&relay, why, last_server);
        return End::Aborted;
    }
    // RCPT TO, in order.
    let mut accepted = Vec::new();
    for (k, &i) in rcpts.iter().enumerate() {
        if !pipeline_all && let Err(e) = sess.write(rcpt_cmds[k].as_bytes(), t.rcpt) {
            return stage_fail(sess, d, e, "sending RCPT TO");
        }
        let r = match sess.reply(t.rcpt) {
            Ok(r) => r,
            Err(e) => return stage_fail(sess, d, e, "sending RCPT TO"),
        };
        if mail_refused.is_some() {
            continue;
        }
        if r.class() == 2 {
            accepted.push(i);
        } else {
            d.fail(i, &relay, &Why::reply(&name, &r, "RCPT TO"), last_server);
        }
    }
    if let Some(why) = &mail_refused {
        d.fail_all(&relay, why, last_server);
    }
    // The content.
    if bdat {
        if !bdat_inline {
            if accepted.is_empty() {
                return End::Aborted;
            }
            let mut out = format!("BDAT {size} LAST\r\n").into_bytes();
            out.extend_from_slice(msg.wire(false, downgrade, limit));
            if let Err(e) = sess.write(&out, t.data_xfer) {
                return stage_fail(sess, d, e, "sending message body");
            }
        }
    } else {
        if !pipeline_all {
            if accepted.is_empty() {
                return End::Aborted;
            }
            if let Err(e) = sess.write(b"DATA\r\n", t.data_init) {
                return stage_fail(sess, d, e, "sending DATA command");
            }
        }
        let r = match sess.reply(t.data_init) {
            Ok(r) => r,
            Err(e) => return stage_fail(sess, d, e, "sending DATA command"),
        };
        if r.code != 354 {
            let why = Why::reply(&name, &r, "DATA");
            for &i in &accepted {
                d.fail(i, &relay, &why, last_server);
            }
            return End::Aborted;
        }
        if accepted.is_empty() {
            // A server that said 354 with no recipient: end it empty.
            if sess.write(b".\r\n", t.data_xfer).is_err() || sess.reply(t.data_done).is_err() {
                return End::Broken;
            }
            return End::Clean;
        }
        let body = msg.wire(true, downgrade, limit);
        if let Err(e) = sess.write(body, t.data_xfer) {
            return stage_fail(sess, d, e, "sending message body");
        }
    }
    // The verdicts.
    let command = "end of DATA";
    let may_repeat = "sending end of data -- message may be sent more than once";
    if accepted.is_empty() {
        // BDAT sent inline with no recipient: its refusal.
        return match sess.reply(t.data_done) {
            Ok(_) => End::Clean,
            Err(_) => End::Broken,
        };
    }
    let replies = if lmtp { accepted.len() } else { 1 };
    for k in 0..replies {
        let r = match sess.reply(t.data_done) {
            Ok(r) => r,
            Err(e) => {
                let why = io_why(sess, &e, may_repeat);
                let left = if lmtp { &accepted[k..] } else { &accepted[..] };
                for &i in left {
                    d.fail(i, &relay, &why, last_server);
                }
                return End::Broken;
            }
        };
        let targets = if lmtp {
            &accepted[k..k + 1]
        } else {
            &accepted[..]
        };
        if r.class() == 2 {
            let dsn = reply_dsn(&r);
            let text = r.text();
            for &i in targets {
                d.sent(i, &relay, &dsn, &text);
            }
        } else {
            let why = Why::reply(&name, &r, command);
            for &i in targets {
                d.fail(i, &relay, &why, last_server);
            }
        }
    }
    sess.uses += 1;
    End::Clean
}

/// RSET, to make an aborted session reusable; false when it failed.
pub fn rset(sess: &mut Session, s: &Settings) -> bool {
    sess.write(b"RSET\r\n", s.timeouts.rset).is_ok()
        && matches!(sess.reply(s.timeouts.rset), Ok(r) if r.class() == 2)
}

/// Ends a session politely.
pub fn quit(mut sess: Session, s: &Settings) {
    if sess.write(b"QUIT\r\n", s.timeouts.quit).is_ok() && !s.skip_quit_response {
        let _ = sess.reply(s.timeouts.quit);
    }
}
