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
//! * rewrites the envelope sender and recipients to canonical form
//!   (trivial-rewrite(8), `local` context) and removes duplicate
//!   recipients (`duplicate_filter_limit`) ([`envelope`]);
//! * reads the primary header block, removes `message_drop_headers`,
//!   takes recipients from `To:`/`Cc:`/`Bcc:` (or their `Resent-` forms)
//!   for `sendmail -t`, and adds what a local submission lacks: a
//!   `Received:` header first, `Message-Id:`, `Date:` and `From:` last
//!   ([`message`]); it refuses mail with more than `hopcount_limit`
//!   `Received:` headers;
//! * writes the envelope, the content and the end record, commits the
//!   file (file and directory fsynced), wakes qmgr(8) with `I`, and only
//!   then tells the client the message is queued.
//!
//! A message larger than `message_size_limit` is refused with "message
//! file too big"; a write error (disk full) is a temporary failure. The
//! queue file of a refused or abandoned message is removed.
//!
//! ## SECURITY
//! Takes data from smtpd and pickup, which take it from anyone: header
//! and address handling never trusts it, and every value is bounded.
//!
//! ## DIAGNOSTICS
//! `ID: message-id=<...>` for each message; `warning:` lines for
//! protocol errors of a client.
//!
//! ## BUGS
//! Canonical and virtual alias maps, masquerading, bcc maps, and header
//! and body checks need the lookup tables and are refused at start-up
//! when set, until they are wired in.
//!
//! ## SEE ALSO
//! pickup(8), smtpd(8), qmgr(8), [`ipc::cleanup`], [`queue::file`]

#![forbid(unsafe_code)]

mod envelope;
mod message;
mod settings;

use std::time::Duration;

use daemon::server::{Client, Ctx, SingleServer, single_server_main};
use daemon::{info, warn};
use ipc::cleanup::{CleanupHello, CleanupReply, CleanupRequest, status};
use queue::{Layout, Writer};

use envelope::Envelope;
use message::Headers;
use settings::Settings;

struct Cleanup {
    settings: Settings,
    layout: Layout,
    rewrite: ipc::rewrite::Client,
}

/// Why a message is not queued: status bits and text.
struct Refusal(u32, String);

impl Cleanup {
    fn pre_init(ctx: &Ctx) -> Cleanup {
        let settings = Settings::from_config(&ctx.cfg).unwrap_or_else(|e| daemon::fatal!("{e}"));
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
            layout,
            rewrite,
        }
    }

    /// Receives the rest of the message and writes it; the file is
    /// committed by the caller.
    fn receive(&mut self, client: &mut Client, w: &mut Writer) -> Result<(), Refusal> {
        let bad = |e: ipc::IpcError| Refusal(status::BAD, format!("protocol error: {e}"));
        let mut flags = None;
        let mut env = Envelope::default();
        let mut headers = Headers::new(&self.settings);
        let mut content_started = false;
        let mut size: u64 = 0;
        loop {
            let req: CleanupRequest = ipc::read_frame(client, ipc::FRAME_MAX).map_err(bad)?;
            match req {
                CleanupRequest::Begin { flags: f } if flags.is_none() => flags = Some(f),
                CleanupRequest::Envelope(recs) if flags.is_some() && !content_started => {
                    env.add(recs)?
                }
                CleanupRequest::Content(bytes) if flags.is_some() => {
                    content_started = true;
                    size += bytes.len() as u64;
                    if self.settings.message_size_limit > 0
                        && size > self.settings.message_size_limit
                    {
                        // Read to the end so that the client gets our answer.
                        drain(client);
                        return Err(Refusal(status::SIZE, "message file too big".into()));
                    }
                    if let Some(body) = headers.feed(&bytes) {
                        if !headers.written {
                            self.write_head(w, flags.unwrap_or(0), &mut env, &mut headers)?;
                        }
                        w.content(&body).map_err(write_error)?;
                    }
                }
                CleanupRequest::End if flags.is_some() => {
                    if !headers.written {
                        headers.finish();
                        self.write_head(w, flags.unwrap_or(0), &mut env, &mut headers)?;
                    }
                    if let Some(rest) = headers.take_body() {
                        w.content(&rest).map_err(write_error)?;
                    }
                    w.end_content().map_err(write_error)?;
                    return Ok(());
                }
                other => {
                    return Err(Refusal(
                        status::BAD,
                        format!("unexpected request {}", kind(&other)),
                    ));
                }
            }
        }
    }

    /// Writes the envelope and the processed header block, once the
    /// header block is complete.
    fn write_head(
        &mut self,
        w: &mut Writer,
        flags: u32,
        env: &mut Envelope,
        headers: &mut Headers,
    ) -> Result<(), Refusal> {
        headers.written = true;
        let id = w.id().to_string();
        let hops = headers.count("received");
        if hops > self.settings.hopcount_limit {
            return Err(Refusal(status::HOPS, format!("too many hops ({hops})")));
        }
        if flags & ipc::cleanup::flags::EXTRACT_RCPT != 0 {
            for a in headers.recipients() {
                env.add_extracted(a);
            }
        }
        env.canonicalize(&mut self.rewrite, &self.settings)
            .map_err(|e| Refusal(status::DEFER, e))?;
        if env.recipients.is_empty() {
            return Err(Refusal(status::RCPT, "no recipients specified".into()));
        }
        let local = flags & ipc::cleanup::flags::LOCAL != 0;
        headers.complete(
            &self.settings,
            &id,
            env,
            local || self.settings.always_add_missing_headers,
        );
        info!(
            "{}: message-id={}",
            id,
            daemon::Untrusted(&headers.message_id())
        );
        env.write(w).map_err(write_error)?;
        w.begin_content().map_err(write_error)?;
        w.content(&headers.render()).map_err(write_error)?;
        Ok(())
    }
}

fn kind(r: &CleanupRequest) -> &'static str {
    match r {
        CleanupRequest::Begin { .. } => "Begin",
        CleanupRequest::Envelope(_) => "Envelope",
        CleanupRequest::Content(_) => "Content",
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
        let reply = match self.receive(&mut client, &mut w) {
            Ok(()) => match w.commit() {
                Ok(_) => {
                    let _ = ipc::trigger(
                        &self.layout.queue_dir,
                        ipc::Class::Public,
                        &self.settings.queue_service,
                        b"I",
                    );
                    CleanupReply {
                        status: status::OK,
                        reason: String::new(),
                    }
                }
                Err(e) => {
                    warn!("{}: commit queue file: {}", id, e);
                    CleanupReply {
                        status: status::WRITE,
                        reason: "queue file write error".into(),
                    }
                }
            },
            Err(Refusal(st, reason)) => {
                w.abort();
                if st == status::BAD {
                    warn!("{}: {}", id, reason);
                } else {
                    info!("{}: reject: {}", id, reason);
                }
                CleanupReply { status: st, reason }
            }
        };
        let _ = ipc::write_frame(&mut client, &reply);
    }
}

fn main() {
    single_server_main("cleanup", Cleanup::pre_init)
}
