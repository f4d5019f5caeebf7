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
//! [`Chat::start_tls`] turns the connection into a TLS one (STARTTLS, or
//! at once in wrapper mode). Input that arrived before the handshake
//! (plaintext pipelined after STARTTLS) is handed to TLS as handshake
//! data, where it fails the handshake: it is never taken for commands
//! sent inside TLS.
//!
//! ## SEE ALSO
//! smtpd_chat.c in Postfix (the idea), [`crate::session`]

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

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

/// The connection, in the clear or inside TLS.
enum Transport {
    Plain(Client),
    Tls(Box<StreamOwned<ServerConnection, Client>>),
    /// After a failed handshake.
    Closed,
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(c) => c.read(buf),
            Transport::Tls(t) => t.read(buf),
            Transport::Closed => Ok(0),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(c) => c.write(buf),
            Transport::Tls(t) => t.write(buf),
            Transport::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(c) => c.flush(),
            Transport::Tls(t) => t.flush(),
            Transport::Closed => Ok(()),
        }
    }
}

pub struct Chat {
    client: Transport,
    timeout: Duration,
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
            client: Transport::Plain(client),
            timeout,
            inbuf: Vec::with_capacity(16384),
            start: 0,
            out: Vec::with_capacity(4096),
            read_bytes: 0,
        }
    }

    /// Whether the connection is inside TLS.
    pub fn tls(&self) -> Option<&ServerConnection> {
        match &self.client {
            Transport::Tls(t) => Some(&t.conn),
            _ => None,
        }
    }

    /// Runs the TLS handshake (within `timeout`), after the queued
    /// replies are written. On failure the connection is unusable.
    pub fn start_tls(
        &mut self,
        config: Arc<ServerConfig>,
        timeout: Duration,
    ) -> Result<(), String> {
        self.flush().map_err(|e| e.to_string())?;
        let Transport::Plain(mut client) = std::mem::replace(&mut self.client, Transport::Closed)
        else {
            return Err("TLS already active".into());
        };
        let mut conn = ServerConnection::new(config).map_err(|e| e.to_string())?;
        // Whatever came after the STARTTLS line is handshake data now.
        let mut early = &self.inbuf[self.start..];
        while !early.is_empty() {
            conn.read_tls(&mut early).map_err(|e| e.to_string())?;
            conn.process_new_packets().map_err(|e| e.to_string())?;
        }
        self.inbuf.clear();
        self.start = 0;
        let _ = client.set_timeout(Some(timeout));
        while conn.is_handshaking() {
            match conn.complete_io(&mut client) {
                Ok((0, 0)) if conn.is_handshaking() => {
                    return Err("lost connection".into());
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let _ = client.set_timeout(Some(self.timeout));
        self.client = Transport::Tls(Box::new(StreamOwned::new(conn, client)));
        Ok(())
    }

    /// Ends TLS politely (close_notify), if it is active.
    pub fn close(&mut self) {
        if let Transport::Tls(t) = &mut self.client {
            t.conn.send_close_notify();
            let _ = t.flush();
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
