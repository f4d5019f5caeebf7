//! # cleanup(8) — canonicalize and enqueue mail
//!
//! ## SYNOPSIS
//! `cleanup` [generic daemon options]
//!
//! ## DESCRIPTION
//! Takes one message from smtpd(8), pickup(8) or bounce(8) over the
//! protocol of [`ipc::cleanup`]: it creates the queue file in `incoming`
//! when the client connects and says its queue ID, then
//!
//! * rewrites the envelope sender and recipients: canonical form
//!   (trivial-rewrite(8), `local` context), `canonical_maps` and its
//!   sender and recipient forms, `masquerade_domains`, and expands the
//!   recipients with `virtual_alias_maps`; keeps each recipient's
//!   original address and removes duplicates; adds `sender_bcc_maps`,
//!   `recipient_bcc_maps` and `always_bcc` recipients ([`envelope`],
//!   [`addr`], [`map11`], [`map1n`], [`masq`]);
//! * reads the content through the MIME state machine: applies
//!   `header_checks`, `mime_header_checks`, `nested_header_checks` and
//!   `body_checks` ([`act`]), rewrites the addresses of sender and
//!   recipient headers ([`rewrite`]), removes `message_drop_headers`,
//!   takes recipients from `To:`/`Cc:`/`Bcc:` for `sendmail -t`, and adds
//!   what local mail lacks ([`message`]); refuses mail with
//!   `hopcount_limit` or more `Received:` headers;
//! * writes the envelope, the content, and after it the extracted
//!   recipients, the content filter and the redirection address
//!   ([`extracted`]); commits the file (file and directory fsynced) in
//!   `incoming` and wakes qmgr(8), or in `hold` for a message a HOLD
//!   action (or the client) put on hold, and only then tells the client
//!   the message is queued. A discarded message is removed and reported
//!   as queued.
//!
//! The client's flags say what applies: `MAP_OK` (address mapping),
//! `BCC_OK` (automatic BCC), `FILTER` (header and body checks), and
//! `receive_override_options` takes features away from every client.
//!
//! A message larger than `message_size_limit` is refused with "message
//! file too big"; a write error (disk full) is a temporary failure, and
//! so is a lookup table that cannot answer: the message waits, it is
//! never bounced for that. The queue file of a refused or discarded
//! message is removed. After a message, a process whose tables were
//! rebuilt exits, so that the next one sees the new contents.
//!
//! ## SECURITY
//! Takes data from smtpd and pickup, which take it from anyone: header
//! and address handling never trusts it, and every value is bounded.
//! The actions of check tables come from the administrator.
//!
//! ## DIAGNOSTICS
//! `ID: message-id=<...>` for each message (`<>` when it has none);
//! `ID: ACTION: header|body TEXT from ORIGIN; from=<S> to=<R>: TEXT` for
//! header and body check actions; `warning:` lines for table failures,
//! expansion limits, malformed check actions and protocol errors of a
//! client.
//!
//! ## BUGS
//! Milters (`non_smtpd_milters`) are refused at start-up. A rejected
//! local message is not returned to its sender: pickup(8) logs the
//! rejection. The "expanded" success notice for a NOTIFY=SUCCESS
//! recipient that a virtual alias expands is not sent; each expansion
//! keeps the NOTIFY of the original.
//!
//! ## SEE ALSO
//! pickup(8), smtpd(8), qmgr(8), canonical(5), virtual(5),
//! header_checks(5), [`ipc::cleanup`], [`queue::file`]

#![forbid(unsafe_code)]

mod act;
mod addr;
mod addrmap;
mod envelope;
mod extracted;
mod map11;
mod map1n;
mod masq;
mod message;
mod rewrite;
mod settings;
mod state;
mod tables;

use std::time::{Duration, SystemTime};

use daemon::server::{Client, Ctx, SingleServer, single_server_main};
use daemon::{info, warn};
use ipc::cleanup::{CleanupHello, CleanupReply, CleanupRequest, EnvelopeRecord, flags, status};
use queue::{Layout, Writer};

use addr::Ctx as AddrCtx;
use envelope::Envelope;
use message::{HeadInfo, Message};
use settings::Settings;
use state::State;
use tables::Tables;

struct Cleanup {
    settings: Settings,
    tables: Tables,
    layout: Layout,
    rewrite: ipc::rewrite::Client,
}

/// Why a message is not queued: status bits and text.
pub struct Refusal(u32, String);

/// What becomes of a message that was read to its end.
enum Outcome {
    Queued { hold: bool },
    Discarded,
}

impl Cleanup {
    fn pre_init(ctx: &Ctx) -> Cleanup {
        let settings = Settings::from_config(&ctx.cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
        let tables = Tables::open(&ctx.cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
        let layout = Layout::from_config(&ctx.cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
        // Daemons run in the queue directory, chrooted or not.
        let layout = Layout {
            queue_dir: ".".into(),
            ..layout
        };
        let rewrite = ipc::rewrite::Client::new(
            &layout.queue_dir,
            &settings.rewrite_service,
            Duration::from_secs(60),
        );
        Cleanup {
            settings,
            tables,
            layout,
            rewrite,
        }
    }

    /// Receives the rest of the message and writes it; the file is
    /// committed (or removed) by the caller.
    fn receive(&mut self, client: &mut Client, w: &mut Writer) -> Result<Outcome, Refusal> {
        let bad = |e: ipc::IpcError| Refusal(status::BAD, format!("protocol error: {e}"));
        let id = w.id().to_string();
        let created = SystemTime::now();
        let mut st: Option<State> = None;
        let mut env = Envelope::default();
        let mut msg: Option<(Message, HeadInfo)> = None;
        let mut size: u64 = 0;
        let mut out = Vec::new();
        loop {
            let req: CleanupRequest = ipc::read_frame(client, ipc::FRAME_MAX).map_err(bad)?;
            match req {
                CleanupRequest::Begin { flags } if st.is_none() => {
                    let flags = flags & !self.settings.override_mask;
                    st = Some(State::new(&id, flags, self.settings.duplicate_filter_limit));
                }
                CleanupRequest::Envelope(recs) if st.is_some() => {
                    let (routes, recs): (Vec<_>, Vec<_>) =
                        recs.into_iter().partition(EnvelopeRecord::is_route);
                    if !recs.is_empty() {
                        if msg.is_some() {
                            return Err(unexpected("Envelope"));
                        }
                        env.add(recs)?;
                    }
                    let st = st.as_mut().expect("invariant: matched above");
                    for r in routes {
                        envelope::route(st, r)?;
                    }
                }
                CleanupRequest::Content(bytes) => {
                    let Some(st) = st.as_mut() else {
                        return Err(unexpected("Content"));
                    };
                    size += bytes.len() as u64;
                    if self.settings.message_size_limit > 0
                        && size > self.settings.message_size_limit
                    {
                        // Read to the end so that the client gets our answer.
                        drain(client);
                        return Err(Refusal(status::SIZE, "message file too big".into()));
                    }
                    if msg.is_none() {
                        msg = Some(self.start_content(st, &env, w, created)?);
                    }
                    let (m, hi) = msg.as_mut().expect("invariant: set above");
                    if st.out_ok() {
                        let mut cx = self.ctx();
                        m.feed(st, &mut cx, hi, &bytes, &mut out);
                        w.content(&out).map_err(write_error)?;
                        out.clear();
                    }
                }
                CleanupRequest::Flags(f) => {
                    let Some(st) = st.as_mut() else {
                        return Err(unexpected("Flags"));
                    };
                    let f = f & !self.settings.override_mask;
                    st.hold |= f & flags::HOLD != 0;
                    st.discard |= f & flags::DISCARD != 0;
                }
                CleanupRequest::End => {
                    let Some(st) = st.as_mut() else {
                        return Err(unexpected("End"));
                    };
                    if msg.is_none() {
                        msg = Some(self.start_content(st, &env, w, created)?);
                    }
                    let (m, hi) = msg.as_mut().expect("invariant: set above");
                    let mut cx = self.ctx();
                    if st.out_ok() {
                        m.finish(st, &mut cx, hi, &mut out);
                        w.content(&out).map_err(write_error)?;
                    }
                    w.end_content().map_err(write_error)?;
                    if st.out_ok() {
                        extracted::finish(st, &mut cx, m.extracted_recipients(), w)
                            .map_err(write_error)?;
                    }
                    if st.discard {
                        return Ok(Outcome::Discarded);
                    }
                    if let Some(r) = st.refusal() {
                        return Err(r);
                    }
                    if st.rcpt_count == 0 {
                        return Err(Refusal(status::RCPT, "no recipients specified".into()));
                    }
                    return Ok(Outcome::Queued { hold: st.hold });
                }
                other => return Err(unexpected(kind(&other))),
            }
        }
    }

    fn ctx(&mut self) -> AddrCtx<'_> {
        AddrCtx {
            s: &self.settings,
            t: &mut self.tables,
            rw: &mut self.rewrite,
        }
    }

    /// The envelope is complete: rewrites and writes it, and gets ready
    /// for the content.
    fn start_content(
        &mut self,
        st: &mut State,
        env: &Envelope,
        w: &mut Writer,
        created: SystemTime,
    ) -> Result<(Message, HeadInfo), Refusal> {
        st.set_attrs(&env.attrs, &self.settings.remote_header_rewrite_domain);
        let mut cx = self.ctx();
        let sender = env.process(st, &mut cx);
        env.write(w, &sender, st, created).map_err(write_error)?;
        w.begin_content().map_err(write_error)?;
        let hi = HeadInfo {
            submit_uid: env.attr("submit_uid").map(str::to_string),
            arrival: env.arrival(),
            created,
            full_name: env.full_name.clone(),
            long_ids: self.layout.long_ids,
        };
        Ok((Message::new(&self.settings, self.tables.inspect_body()), hi))
    }
}

fn unexpected(what: &str) -> Refusal {
    Refusal(status::BAD, format!("unexpected request {what}"))
}

fn kind(r: &CleanupRequest) -> &'static str {
    match r {
        CleanupRequest::Begin { .. } => "Begin",
        CleanupRequest::Envelope(_) => "Envelope",
        CleanupRequest::Content(_) => "Content",
        CleanupRequest::Flags(_) => "Flags",
        CleanupRequest::End => "End",
    }
}

fn write_error(e: std::io::Error) -> Refusal {
    warn!("queue file write error: {e}");
    Refusal(status::WRITE, "queue file write error".into())
}

/// Reads and discards frames until End.
fn drain(client: &mut Client) {
    while let Ok(req) = ipc::read_frame::<CleanupRequest>(client, ipc::FRAME_MAX) {
        if req == CleanupRequest::End {
            break;
        }
    }
}

impl SingleServer for Cleanup {
    fn serve(&mut self, _ctx: &Ctx, mut client: Client) {
        let _ = client.set_timeout(Some(Duration::from_secs(3600)));
        let mut w = match Writer::create(&self.layout, "incoming") {
            Ok(w) => w,
            Err(e) => {
                warn!("create file incoming/: {e}");
                let _ = ipc::write_frame(
                    &mut client,
                    &CleanupHello {
                        queue_id: String::new(),
                    },
                );
                drain(&mut client);
                let _ = ipc::write_frame(
                    &mut client,
                    &CleanupReply {
                        status: status::WRITE,
                        reason: "queue file write error".into(),
                    },
                );
                return;
            }
        };
        if ipc::write_frame(
            &mut client,
            &CleanupHello {
                queue_id: w.id().to_string(),
            },
        )
        .is_err()
        {
            w.abort();
            return;
        }
        let id = w.id().to_string();
        let ok = CleanupReply {
            status: status::OK,
            reason: String::new(),
        };
        let reply = match self.receive(&mut client, &mut w) {
            Ok(Outcome::Queued { hold: false }) => match w.commit() {
                Ok(_) => {
                    let _ = ipc::trigger(
                        &self.layout.queue_dir,
                        ipc::Class::Public,
                        &self.settings.queue_service,
                        b"I",
                    );
                    ok
                }
                Err(e) => commit_failed(&id, e),
            },
            Ok(Outcome::Queued { hold: true }) => match w.commit_to(&self.layout, "hold") {
                Ok(_) => ok,
                Err(e) => commit_failed(&id, e),
            },
            Ok(Outcome::Discarded) => {
                w.abort();
                ok
            }
            Err(Refusal(st, reason)) => {
                w.abort();
                if st == status::BAD {
                    warn!("{}: {}", id, reason);
                } else if st & (status::CONT | status::DEFER | status::HOPS) == 0 {
                    // Checks, tables and hop counts logged their own lines.
                    info!("{}: reject: {}", id, reason);
                }
                CleanupReply { status: st, reason }
            }
        };
        let _ = ipc::write_frame(&mut client, &reply);
        if self.tables.changed() {
            info!("table has changed -- exiting");
            std::process::exit(0);
        }
    }
}

fn commit_failed(id: &str, e: std::io::Error) -> CleanupReply {
    warn!("{}: commit queue file: {}", id, e);
    CleanupReply {
        status: status::WRITE,
        reason: "queue file write error".into(),
    }
}

fn main() {
    single_server_main("cleanup", Cleanup::pre_init)
}
