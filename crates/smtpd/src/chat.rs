//! # NAME
//! chat — the SMTP conversation's input and output buffers
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut chat = Chat::new(client, timeout);
//! chat.reply(&Reply::new(250, "2.0.0", "Ok"));
//! match chat.read_line(2048)? { Line { bytes, .. } => ... }
//! ```
//!
//! ## DESCRIPTION
//! Replies are collected and written when the client has nothing more
//! waiting to be read: a pipelining client gets all its replies in one
//! write, an interactive one gets each at once. Input is read in large
//! blocks; a command line longer than the limit is read to its end and
//! reported as too long, so that a hostile client cannot make the process
//! hold an unbounded line. Every read and write has the `smtpd_timeout`.
//!
//! ## SEE ALSO
//! smtpd_chat.c in Postfix (the idea), [`crate::session`]

use std::io::{self, Read, Write};
use std::time::Duration;

use daemon::server::Client;
use proto::smtp::Reply;

pub enum Input {
    /// A line without its line ending; `crlf` tells how it ended.
    Line { bytes: Vec<u8>, crlf: bool },
    /// A line longer than the limit (read and dropped).
    TooLong,
    /// The client closed the connection.
    Eof,
    /// Nothing arrived within the timeout.
    Timeout,
}

pub struct Chat {
    pub client: Client,
    inbuf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    /// Bytes read and written, for the log.
    pub read_bytes: u64,
}

impl Chat {
    pub fn new(client: Client, timeout: Duration) -> Chat {
        let _ = client.set_timeout(Some(timeout));
        Chat {
            client,
            inbuf: Vec::with_capacity(16384),
            start: 0,
            out: Vec::with_capacity(4096),
            read_bytes: 0,
        }
    }

    /// Queues a reply.
    pub fn reply(&mut self, r: &Reply) {
        self.out.extend_from_slice(r.to_string().as_bytes());
    }

    /// Writes the queued replies.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let r = self
                .client
                .write_all(&self.out)
                .and_then(|_| self.client.flush());
            self.out.clear();
            r?;
        }
        Ok(())
    }

    /// Bytes received and not yet consumed.
    pub fn pending(&self) -> &[u8] {
        &self.inbuf[self.start..]
    }

    /// Marks `n` pending bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.inbuf.len() {
            self.inbuf.clear();
            self.start = 0;
        }
    }

    /// Reads more input (flushing replies first); `Ok(false)` at end of file.
    pub fn fill(&mut self) -> io::Result<bool> {
        self.flush()?;
        if self.start > 0 && self.start * 2 > self.inbuf.len() {
            self.inbuf.drain(..self.start);
            self.start = 0;
        }
        let old = self.inbuf.len();
        self.inbuf.resize(old + 16384, 0);
        let r = loop {
            match self.client.read(&mut self.inbuf[old..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        match r {
            Ok(n) => {
                self.inbuf.truncate(old + n);
                self.read_bytes += n as u64;
                Ok(n > 0)
            }
            Err(e) => {
                self.inbuf.truncate(old);
                Err(e)
            }
        }
    }

    /// The next command line.
    pub fn read_line(&mut self, limit: usize) -> Input {
        let mut too_long = false;
        loop {
            let pending = &self.inbuf[self.start..];
            if let Some(nl) = pending.iter().position(|&c| c == b'\n') {
                let crlf = nl > 0 && pending[nl - 1] == b'\r';
                let bytes = pending[..nl - usize::from(crlf)].to_vec();
                self.consume(nl + 1);
                if too_long {
                    return Input::TooLong;
                }
                return Input::Line { bytes, crlf };
            }
            if pending.len() > limit {
                // Drop what we have of it and read on to its end.
                too_long = true;
                let n = pending.len();
                self.consume(n);
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return Input::Eof,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Input::Timeout;
                }
                Err(_) => return Input::Eof,
            }
        }
    }
}
