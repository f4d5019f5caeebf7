//! # NAME
//! bdat — the BDAT command (RFC 3030 CHUNKING)
//!
//! ## DESCRIPTION
//! `BDAT size [LAST]` is followed by exactly `size` bytes of message
//! content, with no dot rules and no end line. The first chunk sends the
//! envelope to cleanup(8) (after `smtpd_data_restrictions`); each chunk
//! is streamed on as it arrives, answered `250 2.0.0 Ok: N bytes`, and
//! the `LAST` chunk gets `250 2.0.0 Ok: N bytes queued as ID` once cleanup
//! has made the file durable.
//!
//! The size of a chunk is known before its bytes arrive, so a chunk is
//! always read in full, whatever is wrong with it; otherwise its bytes
//! would be taken for commands. After one chunk fails, the rest of the
//! message is read and discarded (`551 5.0.0 Discarded N bytes after
//! earlier error`) up to the `LAST` chunk. While chunks are being
//! received, `MAIL`, `RCPT` and `DATA` are refused; `RSET`, `HELO` and
//! `EHLO` end the transaction. A `BDAT` command that cannot be parsed
//! ends the session (`521`): the client and server can no longer agree
//! where the next command starts. The replies and log lines are
//! Postfix 3.7's.
//!
//! ## SEE ALSO
//! smtpd(8), RFC 3030, [`proto::data::BdatDecoder`]

use daemon::{info, warn};
use ipc::cleanup::status;
use proto::data::{BareLf, BdatDecoder};
use proto::smtp::Reply;

use crate::session::{Flow, Session, cleanup_reply, r};

/// The state of a message being received in chunks.
#[derive(Default)]
pub struct Chunks {
    pub dec: BdatDecoder,
    /// The envelope went to cleanup (at the first good chunk).
    begun: bool,
    /// An earlier chunk failed: chunks are discarded up to LAST.
    failed: bool,
}

/// How reading one chunk ended.
enum Read {
    /// All of it was read; with the error of writing it to cleanup, if any.
    Done(Option<String>),
    /// The content passed message_size_limit.
    TooBig,
    Lost,
    Timeout,
}

impl Session<'_> {
    pub(crate) fn bdat(&mut self, size: u64, last: bool) -> Flow {
        self.last_command = "BDAT";
        if !self.chunking_offered() {
            self.count("bdat", false);
            self.chat
                .reply(&r(521, "5.5.1", "Error: command not implemented"));
            return Flow::Close;
        }
        let state = self.bdat.get_or_insert_with(Chunks::default);
        if state.failed {
            return self.discard(size, last, None);
        }
        if size == 0 && !last {
            warn!(
                "{}: null BDAT request from {}",
                self.queue_id(),
                self.peer.namaddr()
            );
            return self.discard(size, last, Some(r(551, "5.7.1", "Null BDAT request")));
        }
        let refusal = match &self.txn {
            None => Some(r(503, "5.5.1", "Error: need RCPT command")),
            Some(t) if t.rcpts.is_empty() && t.rcpt_attempts > 0 => {
                Some(r(554, "5.5.1", "Error: no valid recipients"))
            }
            Some(t) if t.rcpts.is_empty() => Some(r(503, "5.5.1", "Error: need RCPT command")),
            Some(_) => None,
        };
        if refusal.is_some() {
            return self.discard(size, last, refusal);
        }
        let limit = self.s.message_size_limit;
        if limit > 0 && size > limit {
            warn!(
                "{}: BDAT request from {} exceeds message size limit",
                self.queue_id(),
                self.peer.namaddr()
            );
            let rep = r(552, "5.3.4", "Chunk exceeds message size limit");
            return self.discard(size, last, Some(rep));
        }
        if !self.bdat.as_ref().is_some_and(|c| c.begun)
            && let Err(rep) = self.begin_chunks()
        {
            return self.discard(size, last, Some(rep));
        }
        match self.read_chunk(size, true) {
            Read::Lost => self.lost(),
            Read::Timeout => self.timed_out(),
            Read::TooBig => {
                warn!("{}: queue file size limit exceeded", self.queue_id());
                self.failed(last, r(552, "5.3.4", "Error: message file too big"))
            }
            Read::Done(Some(e)) => {
                warn!("{}: send to cleanup: {}", self.queue_id(), e);
                self.failed(last, r(451, "4.3.0", "Error: queue file write error"))
            }
            Read::Done(None) if !last => {
                self.count("bdat", true);
                self.flow(r(250, "2.0.0", &format!("Ok: {size} bytes")))
            }
            Read::Done(None) => self.last_chunk(),
        }
    }

    /// Reads and drops a chunk that is refused before BDAT is looked at;
    /// false when the connection was lost.
    pub(crate) fn skip_chunk(&mut self, size: u64) -> bool {
        matches!(self.read_chunk(size, false), Read::Done(_) | Read::TooBig)
    }

    /// Whether CHUNKING is offered (and BDAT therefore allowed).
    fn chunking_offered(&self) -> bool {
        !self.s.discard_ehlo_keywords.iter().any(|k| k == "chunking")
    }

    fn queue_id(&self) -> String {
        self.txn
            .as_ref()
            .map_or("NOQUEUE", |t| t.queue_id())
            .to_string()
    }

    /// DATA restrictions, then the envelope and our headers to cleanup.
    fn begin_chunks(&mut self) -> Result<(), Reply> {
        self.data_checks()?;
        if let Err(e) = self.begin_cleanup() {
            warn!("{}: send to cleanup: {}", self.queue_id(), e);
            return Err(r(451, "4.3.0", "Error: queue file write error"));
        }
        if let Some(c) = self.bdat.as_mut() {
            c.begun = true;
        }
        Ok(())
    }

    /// Reads a chunk that is refused, or any chunk after a failed one.
    fn discard(&mut self, size: u64, last: bool, refusal: Option<Reply>) -> Flow {
        match self.read_chunk(size, false) {
            Read::Lost => return self.lost(),
            Read::Timeout => return self.timed_out(),
            _ => {}
        }
        let rep = refusal.unwrap_or_else(|| {
            r(
                551,
                "5.0.0",
                &format!("Discarded {size} bytes after earlier error"),
            )
        });
        self.failed(last, rep)
    }

    /// A chunk failed: later chunks are discarded, up to LAST.
    fn failed(&mut self, last: bool, rep: Reply) -> Flow {
        if last {
            self.bdat = None;
            self.txn = None;
        } else if let Some(c) = self.bdat.as_mut() {
            c.failed = true;
            // The cleanup(8) connection stays open until the transaction
            // ends; closed without the end of the message, cleanup
            // removes the file.
        }
        self.count("bdat", false);
        self.flow(rep)
    }

    /// The LAST chunk arrived whole: cleanup makes the file durable.
    fn last_chunk(&mut self) -> Flow {
        let eod = self.end_of_data_checks();
        let chunks = self.bdat.take().expect("invariant: chunks in progress");
        let mut txn = self.txn.take().expect("invariant: checked at the chunk");
        let id = txn.queue_id().to_string();
        let mut dec = chunks.dec;
        let mut tail = Vec::new();
        dec.finish(&mut tail);
        let limit = self.s.message_size_limit;
        let rep = if limit > 0 && dec.size > limit {
            warn!("{}: queue file size limit exceeded", id);
            r(552, "5.3.4", "Error: message file too big")
        } else if let Err(rep) = eod {
            rep
        } else if dec.bare_lf && self.bare_lf == BareLf::Reject {
            let code = self.s.bare_lf_reject_code;
            r(
                code,
                if code >= 500 { "5.5.2" } else { "4.5.2" },
                "Error: bare <LF> received",
            )
        } else {
            let sent = match txn.cleanup.as_mut() {
                Some(c) if !tail.is_empty() => c.content(&tail).map_err(|e| e.to_string()),
                Some(_) => Ok(()),
                None => Err("no cleanup connection".to_string()),
            };
            match sent.and_then(|()| {
                txn.cleanup
                    .take()
                    .expect("invariant: checked above")
                    .finish()
                    .map_err(|e| e.to_string())
            }) {
                Ok(reply) if reply.status == status::OK => r(
                    250,
                    "2.0.0",
                    &format!("Ok: {} bytes queued as {id}", dec.smtp_size()),
                ),
                Ok(reply) => cleanup_reply(reply.status, &reply.reason),
                Err(e) => {
                    warn!("{}: cleanup: {}", id, e);
                    r(451, "4.3.0", "Error: queue file write error")
                }
            }
        };
        if rep.is_error() {
            self.log_reject_txn("END-OF-MESSAGE", &rep, &txn);
        }
        self.count("bdat", !rep.is_error());
        self.flow(rep)
    }

    /// Reads `size` bytes of chunk content; when `keep`, decodes them and
    /// streams them to cleanup.
    fn read_chunk(&mut self, size: u64, keep: bool) -> Read {
        let limit = self.s.message_size_limit;
        let mut left = size;
        let mut out = Vec::new();
        let mut failed: Option<String> = None;
        let mut too_big = false;
        while left > 0 {
            if self.chat.pending().is_empty() {
                match self.chat.fill() {
                    Ok(true) => {}
                    Ok(false) => return Read::Lost,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return Read::Timeout;
                    }
                    Err(_) => return Read::Lost,
                }
            }
            let pending = self.chat.pending();
            let n = pending
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            if keep && !too_big {
                let chunks = self.bdat.as_mut().expect("invariant: chunks in progress");
                out.clear();
                chunks.dec.feed(&pending[..n], &mut out);
                if limit > 0 && chunks.dec.size > limit {
                    too_big = true;
                } else if failed.is_none() && !out.is_empty() {
                    let txn = self.txn.as_mut().expect("invariant: checked at the chunk");
                    if let Some(c) = txn.cleanup.as_mut()
                        && let Err(e) = c.content(&out)
                    {
                        failed = Some(e.to_string());
                    }
                }
            }
            self.chat.consume(n);
            left -= n as u64;
        }
        if too_big {
            Read::TooBig
        } else {
            Read::Done(failed)
        }
    }

    fn received(&self) -> u64 {
        self.bdat.as_ref().map_or(0, |c| c.dec.raw)
    }

    fn lost(&mut self) -> Flow {
        info!(
            "lost connection after BDAT ({} bytes) from {}",
            self.received(),
            self.peer.namaddr()
        );
        self.count("bdat", false);
        Flow::Close
    }

    fn timed_out(&mut self) -> Flow {
        info!(
            "timeout after BDAT ({} bytes) from {}",
            self.received(),
            self.peer.namaddr()
        );
        let host = self.s.myhostname.clone();
        self.chat
            .reply(&r(421, "4.4.2", &format!("{host} Error: timeout exceeded")));
        self.count("bdat", false);
        Flow::Close
    }
}
