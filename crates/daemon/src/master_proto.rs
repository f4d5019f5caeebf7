//! # NAME
//! master_proto — the protocol between master(8) and its children
//!
//! ## SYNOPSIS
//! ```ignore
//! // child
//! let status = StatusChannel::inherited();
//! status.notify(Avail::Taken);
//! // master
//! let (master_end, child_end) = status_pair()?;
//! while let Some(s) = read_status(&master_end)? { ... }
//! ```
//!
//! ## DESCRIPTION
//! master(8) starts a daemon with these descriptors:
//!
//! | descriptor | what |
//! | --- | --- |
//! | [`STATUS_FD`] (5) | this service's status channel, a stream socket |
//! | [`LISTEN_FD`] (6) and up | the service's listeners, `-s` of them |
//!
//! and `MAIL_CONFIG` and [`GENERATION_ENV`] in the environment. A child
//! writes a [`Status`] (12 bytes: pid, generation, state, native byte order)
//! each time it becomes available for a new client or takes one; master
//! starts another process when none is available. When master closes its
//! end (reload, stop, or its death) the channel reaches end of file and an
//! idle child exits: old children finish their client and go away.
//!
//! ## SEE ALSO
//! master(8), [`crate::server`]

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// The status channel's descriptor in a child.
pub const STATUS_FD: i32 = 5;
/// The first listener's descriptor in a child.
pub const LISTEN_FD: i32 = 6;
/// The environment variable with master's configuration generation.
pub const GENERATION_ENV: &str = "GENERATION";

/// What a child tells master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Avail {
    /// Busy with a client; master may need another process.
    Taken = 0,
    /// Waiting for a client.
    Avail = 1,
}

/// One status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub pid: i32,
    pub generation: u32,
    pub avail: Avail,
}

pub const STATUS_LEN: usize = 12;

impl Status {
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        b[0..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.generation.to_ne_bytes());
        b[8..12].copy_from_slice(&(self.avail as i32).to_ne_bytes());
        b
    }

    /// Decodes a message; an unknown state is an error (a broken child).
    pub fn decode(b: &[u8; STATUS_LEN]) -> Option<Status> {
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let avail = match i32::from_ne_bytes(word(8)) {
            0 => Avail::Taken,
            1 => Avail::Avail,
            _ => return None,
        };
        Some(Status {
            pid: i32::from_ne_bytes(word(0)),
            generation: u32::from_ne_bytes(word(4)),
            avail,
        })
    }
}

/// A new status channel: (master's end, the child's end).
pub fn status_pair() -> io::Result<(UnixStream, UnixStream)> {
    UnixStream::pair()
}

/// The child's side of the status channel.
pub struct StatusChannel {
    stream: Option<UnixStream>,
    generation: u32,
}

impl StatusChannel {
    /// The channel master passed, or a dummy one when run by hand.
    pub fn inherited() -> StatusChannel {
        let generation = std::env::var(GENERATION_ENV)
            .ok()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        let stream = sys::fd::inherited(STATUS_FD).map(UnixStream::from);
        StatusChannel { stream, generation }
    }

    /// Whether master is on the other end.
    pub fn connected(&self) -> bool {
        self.stream.is_some()
    }

    /// The descriptor to watch for end of file.
    pub fn as_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.stream.as_ref().map(|s| s.as_fd())
    }

    pub fn notify(&mut self, avail: Avail) {
        let status = Status {
            pid: std::process::id() as i32,
            generation: self.generation,
            avail,
        };
        if let Some(s) = &mut self.stream
            && s.write_all(&status.encode()).is_err()
        {
            // master is gone: nothing to tell.
            self.stream = None;
        }
    }

    /// After the channel became readable: true when master has gone away
    /// (end of file or error). master never writes to it.
    pub fn master_gone(&mut self) -> bool {
        let Some(s) = &mut self.stream else {
            return false;
        };
        let mut b = [0u8; 16];
        let _ = s.set_nonblocking(true);
        let r = s.read(&mut b);
        let _ = s.set_nonblocking(false);
        match r {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted
            }
        }
    }
}

/// Reads every complete status message that is waiting on master's end;
/// `Ok(None)`-terminated by end of file is reported as `Err(UnexpectedEof)`
/// only when no child holds the channel any more, which master ignores.
pub fn read_status(stream: &mut UnixStream, pending: &mut Vec<u8>) -> io::Result<Vec<Status>> {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let mut out = Vec::new();
    let whole = pending.len() / STATUS_LEN * STATUS_LEN;
    for chunk in pending[..whole].chunks_exact(STATUS_LEN) {
        let arr: &[u8; STATUS_LEN] = chunk.try_into().expect("invariant: chunks_exact");
        match Status::decode(arr) {
            Some(s) => out.push(s),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad status message",
                ));
            }
        }
    }
    pending.drain(..whole);
    Ok(out)
}

/// Converts a descriptor for the child map.
pub fn owned(stream: UnixStream) -> OwnedFd {
    OwnedFd::from(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = Status {
            pid: 42,
            generation: 7,
            avail: Avail::Taken,
        };
        assert_eq!(Status::decode(&s.encode()), Some(s));
        let mut bad = s.encode();
        bad[8] = 9;
        assert_eq!(Status::decode(&bad), None);
    }

    #[test]
    fn partial_messages_wait() {
        let (mut m, mut c) = status_pair().unwrap();
        m.set_nonblocking(true).unwrap();
        let s = Status {
            pid: 1,
            generation: 2,
            avail: Avail::Avail,
        };
        c.write_all(&s.encode()).unwrap();
        c.write_all(&s.encode()[..5]).unwrap();
        let mut pending = Vec::new();
        assert_eq!(read_status(&mut m, &mut pending).unwrap(), [s]);
        c.write_all(&s.encode()[5..]).unwrap();
        assert_eq!(read_status(&mut m, &mut pending).unwrap(), [s]);
    }
}
