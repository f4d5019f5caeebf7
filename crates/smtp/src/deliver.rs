//! # NAME
//! deliver — one delivery request: destinations, servers, sessions
//! (smtp_connect.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! agent::serve(ctx, client, |job| deliver::deliver(&mut agent, job));
//! ```
//!
//! ## DESCRIPTION
//! The request's next hop (a list, since Postfix 3.5) and then
//! `smtp_fallback_relay` are tried in order; each gives a list of
//! addresses ([`crate::addr`]). For each address: connect (from
//! `smtp_bind_address`), TLS in wrapper mode if configured, greeting and
//! EHLO, STARTTLS as the TLS policy asks (DANE: TLSA records through
//! DNSSEC), AUTH if there are credentials, then the transaction. A
//! connection that fails is logged (`connect to host[addr]:port: ...`)
//! and the next address is tried; so is a server that refuses to talk,
//! or that fails temporarily for some recipients, until the last server:
//! there a temporary failure defers. At most `smtp_mx_session_limit`
//! sessions (that got past the greeting) are made per request.
//!
//! Before looking up anything, a cached connection for the destination
//! is asked of scache(8); after the delivery, a clean plaintext session
//! goes back to it when the queue manager has more mail for the
//! destination or the destination is in
//! `smtp_connection_cache_destinations`; otherwise the session ends
//! with QUIT.
//!
//! The queue manager learns that the destination is dead when no server
//! could be reached at all.
//!
//! ## SEE ALSO
//! smtp(8), [`crate::proto`], [`crate::reuse`], [`crate::trouble`]

use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::time::SystemTime;

use daemon::agent::Job;
use daemon::{info, warn};
use ipc::deliver::{HopStatus, flags};
use tls::policy::Level;

use crate::Agent;
use crate::addr::{self, Candidate, ResolveFail};
use crate::dns::DnsFail;
use crate::nexthop::{self, Hop, Target};
use crate::proto::{self, End, Message, TlsFail};
use crate::reuse;
use crate::session::{self, Session, Stream};
use crate::settings::DnsSupport;
use crate::tlspolicy;
use crate::trouble::{Delivery, Why};

/// Reads the message and what the envelope says about it.
fn load_message(job: &mut Job) -> Result<Message, Why> {
    let mut content = vec![0u8; job.req.content_len as usize];
    let f = &mut job.file.file;
    f.seek(SeekFrom::Start(job.req.content_offset))
        .and_then(|_| f.read_exact(&mut content))
        .map_err(|e| Why::soft("4.3.0", format!("error reading message file: {e}")))?;
    let attr = |name: &str| {
        job.req
            .attrs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let declared_8bit = attr("encoding").is_some_and(|e| e.eq_ignore_ascii_case("8BITMIME"));
    let smtputf8 = attr("smtputf8").is_some_and(|v| !v.is_empty() && v != "0")
        || !job.req.sender.is_ascii()
        || job.req.recipients.iter().any(|r| !r.address.is_ascii());
    Ok(Message::new(
        &job.req.sender,
        content,
        declared_8bit,
        smtputf8,
        job.req.dsn_ret,
        &job.req.dsn_envid,
    ))
}

/// What an attempt on one server came to.
enum Attempt {
    /// No connection.
    NoConnect,
    /// A session was made (it counts toward the session limit).
    Session,
}

/// Per-request state shared by the attempts.
struct Run<'a> {
    msg: Message,
    dest_label: String,
    store: bool,
    sessions: usize,
    hop: Option<&'a Hop>,
}

/// Whether the destination is listed in
/// `smtp_connection_cache_destinations`.
fn listed(agent: &Agent, hop_text: &str) -> bool {
    let t = hop_text.to_ascii_lowercase();
    let name = hop_name(&t);
    agent
        .cache_destinations
        .iter()
        .any(|d| *d == t || *d == name)
}

/// The host or domain of a next hop, without brackets and port.
fn hop_name(text: &str) -> String {
    text.trim_start_matches('[')
        .split([']', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Runs one delivery request.
pub fn deliver(agent: &mut Agent, job: &mut Job) {
    agent.cache.reset();
    let mut d = Delivery::new(job);
    let msg = match load_message(d.job) {
        Ok(m) => m,
        Err(why) => {
            d.fail_all("none", &why, true);
            return d.finish();
        }
    };
    let nexthop = d.job.req.nexthop.clone();
    let mode = agent.s.mode;
    let mut hops = match nexthop::parse_list(&nexthop, mode, agent.s.default_port) {
        Ok(h) => h,
        Err(e) => {
            warn!("{}: {}", d.job.req.queue_id, e.0);
            d.fail_all("none", &Why::soft("4.3.5", e.0), true);
            return d.finish();
        }
    };
    let main_hops = hops.len();
    for f in agent.s.fallback_relay.clone() {
        match nexthop::parse(&f, mode, agent.s.default_port) {
            Ok(h) if !hops.iter().any(|x| x.text == h.text) => hops.push(h),
            Ok(_) => {}
            Err(e) => warn!("smtp_fallback_relay: {}", e.0),
        }
    }
    let sasl_sender = if agent.s.sasl.enable && agent.s.sasl.sender_dependent {
        d.job.req.sender.clone()
    } else {
        String::new()
    };
    let on_demand = agent.s.cache_on_demand && d.job.req.flags & flags::CONN_STORE != 0;
    let is_listed = listed(agent, &nexthop);
    let mut run = Run {
        msg,
        dest_label: format!("{}:{}:{}", agent.s.service, nexthop, sasl_sender),
        store: on_demand || is_listed,
        sessions: 0,
        hop: None,
    };
    // A connection that served this destination before.
    if run.store {
        while !d.pending.is_empty() {
            let Some(sess) = agent.cache.find_dest(&run.dest_label) else {
                break;
            };
            if !reuse::within_limits(&sess, &agent.s) || sess_unusable(&sess) {
                proto::quit(sess, &agent.s);
                continue;
            }
            run.hop = hops.first();
            use_session(agent, &mut d, &mut run, sess, false, None);
        }
    }
    let n_hops = hops.len();
    'hops: for (h, hop) in hops.iter().enumerate() {
        if d.pending.is_empty() {
            break;
        }
        run.hop = Some(hop);
        let more_hops = h + 1 < n_hops;
        let candidates = match &hop.target {
            Target::Unix(_) => vec![None],
            Target::Inet { .. } => match addr::resolve(agent, hop) {
                Ok(c) => c.into_iter().map(Some).collect(),
                Err(ResolveFail::Bounce(dsn, text)) if h < main_hops => {
                    d.fail_all("none", &Why::hard(&dsn, text), true);
                    break 'hops;
                }
                Err(ResolveFail::Bounce(dsn, text) | ResolveFail::Defer(dsn, text)) => {
                    d.note("none", &Why::soft(&format!("4{}", &dsn[1..]), text));
                    continue;
                }
            },
        };
        let n = candidates.len();
        for (k, cand) in candidates.iter().enumerate() {
            if d.pending.is_empty() {
                break 'hops;
            }
            let last = !more_hops && k + 1 == n;
            match attempt(agent, &mut d, &mut run, hop, cand.as_ref(), last, false) {
                Attempt::NoConnect => {}
                Attempt::Session => {
                    run.sessions += 1;
                    let limit = agent.s.mx_session_limit;
                    if limit > 0 && run.sessions >= limit && !d.pending.is_empty() {
                        break 'hops;
                    }
                }
            }
        }
    }
    d.job.hop = if d.reached {
        HopStatus::Alive
    } else {
        HopStatus::Dead
    };
    d.finish();
}

/// Whether a cached connection has been closed or spoken on by the
/// server while it waited (EOF, a 421): then it is not worth a try.
fn sess_unusable(sess: &Session) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let Some(fd) = sess.fd() else { return true };
    let mut p = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0) || sess.has_unread()
}

fn endpoint_label(agent: &Agent, addr: &str, port: Option<u16>, user: &str) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        agent.s.service,
        addr,
        port.map(|p| p.to_string()).unwrap_or_default(),
        agent.s.helo_name,
        user
    )
}

/// Connects to one server, sets the session up and delivers.
fn attempt(
    agent: &mut Agent,
    d: &mut Delivery<'_>,
    run: &mut Run<'_>,
    hop: &Hop,
    cand: Option<&Candidate>,
    last: bool,
    no_tls: bool,
) -> Attempt {
    let s = &agent.s;
    // The connection.
    let mut sess = match (&hop.target, cand) {
        (Target::Unix(path), _) => match UnixStream::connect(path) {
            Ok(u) => Session::new(
                Stream::Unix(u),
                &s.myhostname,
                &path.display().to_string(),
                None,
            ),
            Err(e) => {
                let text = format!(
                    "connect to {}[{}]: {}",
                    s.myhostname,
                    path.display(),
                    session::os_text(&e)
                );
                info!("{text}");
                d.note("none", &Why::soft("4.4.1", text));
                return Attempt::NoConnect;
            }
        },
        (_, Some(c)) => {
            if run.store
                && let Some(sess) = agent.cache.find_endpoint(&endpoint_label(
                    agent,
                    &c.addr.to_string(),
                    Some(c.port),
                    "",
                ))
                && reuse::within_limits(&sess, &agent.s)
                && !sess_unusable(&sess)
            {
                use_session(agent, d, run, sess, false, None);
                if d.pending.is_empty() {
                    return Attempt::Session;
                }
            }
            let s = &agent.s;
            let bind = if c.addr.is_ipv4() {
                s.bind_address
            } else {
                s.bind_address6
            };
            match session::connect_tcp(SocketAddr::new(c.addr, c.port), bind, s.timeouts.connect) {
                Ok(tcp) => {
                    Session::new(Stream::Tcp(tcp), &c.host, &c.addr.to_string(), Some(c.port))
                }
                Err(e) => {
                    let text = format!("connect to {}[{}]:{}: {}", c.host, c.addr, c.port, e);
                    info!("{text}");
                    d.note("none", &Why::soft("4.4.1", text));
                    return Attempt::NoConnect;
                }
            }
        }
        (Target::Inet { .. }, None) => return Attempt::NoConnect,
    };
    // The TLS policy of this server.
    let tls = if no_tls {
        None
    } else {
        match tls_plan(agent, hop, cand) {
            Ok(p) => p,
            Err(why) => {
                d.reached = true;
                d.fail_all(&sess.relay(), &why, last);
                return Attempt::Session;
            }
        }
    };
    let s = &agent.s;
    if let Some(plan) = &tls
        && s.tls.wrappermode
    {
        let client = match agent.client_tls() {
            Ok(c) => c,
            Err(e) => {
                d.fail_all("none", &Why::soft("4.7.5", e), last);
                return Attempt::Session;
            }
        };
        match proto::handshake(&mut sess, &client, &plan.peer, agent.s.timeouts.starttls) {
            Ok(status) => {
                if let Err(why) = tls_verdict(&sess, plan, &status, agent.s.tls.loglevel) {
                    d.reached = true;
                    d.fail_all(&sess.relay(), &why, last);
                    return Attempt::Session;
                }
            }
            Err(TlsFail::Handshake(e)) | Err(TlsFail::Io(Why { text: e, .. })) => {
                let why = Why::soft(
                    "4.7.5",
                    format!(
                        "Cannot start TLS: handshake failure with {}: {e}",
                        sess.name()
                    ),
                );
                d.fail_all(&sess.relay(), &why, last);
                return Attempt::NoConnect;
            }
            Err(TlsFail::Refused(_)) => return Attempt::NoConnect,
        }
    }
    let s = &agent.s;
    let loop_name = cand.filter(|c| c.via_mx).map(|_| hop.name());
    if let Err(why) = proto::greet(&mut sess, s, loop_name) {
        if !why.text.starts_with("lost connection") && !why.text.starts_with("conversation") {
            d.reached = true;
        }
        d.fail_all(&sess.relay(), &why, last);
        proto::quit(sess, s);
        return Attempt::Session;
    }
    d.reached = true;
    // STARTTLS.
    if let Some(plan) = &tls
        && !agent.s.tls.wrappermode
    {
        let required = plan.peer.level.requires_tls() || !plan.peer.tlsa.is_empty();
        if !sess.features.starttls {
            if required {
                let why = Why::soft(
                    "4.7.4",
                    format!(
                        "TLS is required, but was not offered by host {}",
                        sess.name()
                    ),
                );
                d.fail_all(&sess.relay(), &why, last);
                proto::quit(sess, &agent.s);
                return Attempt::Session;
            }
        } else {
            let client = match agent.client_tls() {
                Ok(c) => c,
                Err(e) => {
                    let why = Why::soft("4.7.5", e);
                    d.fail_all(&sess.relay(), &why, last);
                    return Attempt::Session;
                }
            };
            match proto::start_tls(&mut sess, &client, &plan.peer, &agent.s) {
                Ok(status) => {
                    if let Err(why) = tls_verdict(&sess, plan, &status, agent.s.tls.loglevel) {
                        d.fail_all(&sess.relay(), &why, last);
                        proto::quit(sess, &agent.s);
                        return Attempt::Session;
                    }
                    if let Err(why) = proto::helo(&mut sess, &agent.s, None) {
                        d.fail_all(&sess.relay(), &why, last);
                        proto::quit(sess, &agent.s);
                        return Attempt::Session;
                    }
                }
                Err(TlsFail::Refused(r)) => {
                    if required {
                        let text = match r {
                            Some(r) => format!(
                                "TLS is required, but host {} refused to start TLS: {}",
                                sess.name(),
                                r.text()
                            ),
                            None => format!(
                                "TLS is required, but was not offered by host {}",
                                sess.name()
                            ),
                        };
                        d.fail_all(&sess.relay(), &Why::soft("4.7.4", text), last);
                        proto::quit(sess, &agent.s);
                        return Attempt::Session;
                    }
                }
                Err(TlsFail::Io(why)) => {
                    d.fail_all(&sess.relay(), &why, last);
                    return Attempt::Session;
                }
                Err(TlsFail::Handshake(e)) => {
                    info!(
                        "SSL_connect error to {}: {}",
                        sess.relay(),
                        daemon::Untrusted(&e)
                    );
                    if required {
                        let why = Why::soft(
                            "4.7.5",
                            format!("Cannot start TLS: handshake failure with {}", sess.name()),
                        );
                        d.fail_all(&sess.relay(), &why, last);
                        return Attempt::Session;
                    }
                    // Opportunistic TLS: the same server again, in plaintext.
                    drop(sess);
                    return attempt(agent, d, run, hop, cand, last, true);
                }
            }
        }
    }
    // AUTH.
    let mut user = String::new();
    if agent.s.sasl.enable && !sess.features.auth.is_empty() {
        let host = sess.host.clone();
        match crate::sasl::credentials(agent, &run.msg.sender, hop, &host) {
            Ok(Some(creds)) => {
                if let Err(why) = crate::sasl::authenticate(&mut sess, &creds, &agent.s) {
                    d.fail_all(&sess.relay(), &why, last);
                    proto::quit(sess, &agent.s);
                    return Attempt::Session;
                }
                user = creds.user;
            }
            Ok(None) => {}
            Err(why) => {
                d.fail_all(&sess.relay(), &why, last);
                proto::quit(sess, &agent.s);
                return Attempt::Session;
            }
        }
    }
    let endpoint = endpoint_label(agent, &sess.addr.clone(), sess.port, &user);
    use_session(agent, d, run, sess, last, Some(endpoint));
    Attempt::Session
}

/// Runs the transaction on a ready session, then keeps or ends it.
fn use_session(
    agent: &mut Agent,
    d: &mut Delivery<'_>,
    run: &mut Run<'_>,
    mut sess: Session,
    last: bool,
    endpoint: Option<String>,
) {
    d.reached = true;
    d.job.connected = Some(SystemTime::now());
    let reused = sess.reused;
    // A reused connection is never the last chance.
    let end = proto::transaction(&mut sess, &agent.s, &mut run.msg, d, last && !reused);
    let keep = match end {
        End::Clean => true,
        End::Aborted => proto::rset(&mut sess, &agent.s),
        End::Broken => false,
    };
    if end == End::Broken {
        return;
    }
    if keep && run.store && !sess.tls && reuse::within_limits(&sess, &agent.s) {
        let endpoint =
            endpoint.unwrap_or_else(|| endpoint_label(agent, &sess.addr.clone(), sess.port, ""));
        let ttl = agent.s.cache_time_limit;
        match agent.cache.save(&run.dest_label, &endpoint, sess, ttl) {
            Ok(()) => return,
            Err(sess) => proto::quit(sess, &agent.s),
        }
        return;
    }
    proto::quit(sess, &agent.s);
}

/// The TLS plan for one server: its policy with DANE worked out.
struct TlsPlan {
    peer: tls::client::PeerPolicy,
}

fn tls_plan(
    agent: &mut Agent,
    hop: &Hop,
    cand: Option<&Candidate>,
) -> Result<Option<TlsPlan>, Why> {
    let policy = tlspolicy::for_hop(agent, hop).map_err(|e| Why::soft("4.7.5", e))?;
    let mut level = policy.level;
    let mut tlsa = Vec::new();
    if matches!(level, Level::Dane | Level::DaneOnly) {
        let dane_only = level == Level::DaneOnly;
        let fallback = |dane_only: bool, text: String| -> Result<Level, Why> {
            if dane_only {
                Err(Why::soft("4.7.5", text))
            } else {
                Ok(Level::May)
            }
        };
        if agent.s.dns_support != DnsSupport::Dnssec {
            if !agent.warned_dane {
                warn!(
                    "TLS policy \"{}\" requires smtp_dns_support_level = dnssec",
                    level.name()
                );
                agent.warned_dane = true;
            }
            level = fallback(
                dane_only,
                "dane-only TLS requires smtp_dns_support_level = dnssec".into(),
            )?;
        } else if let Some(c) = cand {
            if !(c.mx_secure && c.addr_secure) {
                level = fallback(
                    dane_only,
                    format!("no DNSSEC-validated address for {}", c.host),
                )?;
            } else {
                let host = c.host.clone();
                let answer = match agent.dns() {
                    Ok(dns) => dns.tlsa(c.port, &host),
                    Err(e) => Err(DnsFail::Temp(e)),
                };
                match answer {
                    Ok(a) if a.secure => {
                        tlsa = a.records.into_iter().filter(|t| t.usable()).collect();
                        if tlsa.is_empty() {
                            // Only unusable records: mandatory TLS.
                            level = Level::Encrypt;
                        }
                    }
                    Ok(_) | Err(DnsFail::NoData) | Err(DnsFail::NotFound) => {
                        level = fallback(
                            dane_only,
                            format!("no TLSA records found for {}:{}", host, c.port),
                        )?;
                    }
                    Err(DnsFail::Temp(_)) => {
                        return Err(Why::soft(
                            "4.7.5",
                            format!("TLSA lookup error for {}:{}", host, c.port),
                        ));
                    }
                }
            }
        } else {
            level = fallback(dane_only, "DANE needs a TCP destination".into())?;
        }
    }
    if level == Level::None {
        return Ok(None);
    }
    let mut p = policy.clone();
    p.level = level;
    if level.mandatory() && p.protocols == agent.s.tls.protocols {
        p.protocols = agent.s.tls.mandatory_protocols.clone();
    }
    let peer = p.peer(hop, cand, tlsa).map_err(|e| Why::soft("4.7.5", e))?;
    if level == Level::Fingerprint {
        return Err(Why::soft(
            "4.7.5",
            "TLS security level \"fingerprint\" is not supported by this smtp(8)".to_string(),
        ));
    }
    Ok(Some(TlsPlan { peer }))
}

/// Checks the TLS session against the level and logs it as Postfix
/// does: a verification failure always, the session itself with
/// `smtp_tls_loglevel` 1 and up.
fn tls_verdict(
    sess: &Session,
    plan: &TlsPlan,
    status: &std::sync::Arc<std::sync::Mutex<tls::client::PeerStatus>>,
    loglevel: i64,
) -> Result<(), Why> {
    let st = status.lock().map(|s| s.clone()).unwrap_or_default();
    let level = plan.peer.level;
    let verdict = st.enforce(level, !plan.peer.tlsa.is_empty());
    if let Err(what) = &verdict {
        let prefix = if what.starts_with("num=") {
            "server certificate verification failed"
        } else {
            "certificate verification failed"
        };
        info!("{prefix} for {}: {}", sess.relay(), daemon::Untrusted(what));
    }
    if loglevel >= 1 {
        let summary = sess
            .tls_conn()
            .map(|c| tls::client::summary(c, &st))
            .unwrap_or_default();
        info!(
            "{} TLS connection established to {}: {}",
            st.trust_word(level),
            sess.relay(),
            summary
        );
    }
    verdict.map_err(|_| Why::soft("4.7.5", tls::client::NOT_VERIFIED))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_destination_names() {
        assert_eq!(
            super::hop_name("[SMTP.example.com]:587"),
            "smtp.example.com"
        );
        assert_eq!(super::hop_name("example.com"), "example.com");
    }
}
