//! # NAME
//! agent — deliveries out at delivery agents, and requests to bounce(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let conn = Conn::start(queue_dir, "smtp", &request, timeout)?;
//! registry.register(&mut conn.stream, token, Interest::READABLE)?;
//! // when readable:
//! match conn.poll_reply::<DeliveryReply>() { Ready(r) | Pending | Failed(e) }
//! ```
//!
//! ## DESCRIPTION
//! A request is written on a fresh connection to the agent's socket while
//! the socket still blocks (requests are small and the agent's process
//! will read it when master has one for it); the connection then joins
//! qmgr's event loop until the whole reply frame has arrived.
//!
//! ## SEE ALSO
//! [`ipc::deliver`], [`ipc::bounce`]

use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A connection waiting for its reply.
pub struct Conn {
    pub stream: mio::net::UnixStream,
    buf: Vec<u8>,
}

pub enum Poll<T> {
    Ready(T),
    Pending,
    Failed(String),
}

impl Conn {
    pub fn start<T: Serialize>(
        queue_dir: &Path,
        service: &str,
        request: &T,
        timeout: Duration,
    ) -> Result<Conn, String> {
        let mut s = ipc::connect(queue_dir, ipc::Class::Private, service, timeout)
            .map_err(|e| e.to_string())?;
        ipc::write_frame(&mut s, request).map_err(|e| format!("send request to {service}: {e}"))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Conn {
            stream: mio::net::UnixStream::from_std(s),
            buf: Vec::new(),
        })
    }

    /// Reads what has arrived; decodes the reply once it is complete.
    pub fn poll_reply<T: DeserializeOwned>(&mut self) -> Poll<T> {
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return match self.complete() {
                        Some(r) => r,
                        None => Poll::Failed(
                            "connection closed by the delivery agent before its reply".into(),
                        ),
                    };
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Failed(e.to_string()),
            }
        }
        self.complete().unwrap_or(Poll::Pending)
    }

    fn complete<T: DeserializeOwned>(&self) -> Option<Poll<T>> {
        if self.buf.len() < 4 {
            return None;
        }
        let len =
            u32::from_le_bytes(self.buf[..4].try_into().expect("invariant: 4 bytes")) as usize;
        if len > ipc::FRAME_MAX {
            return Some(Poll::Failed(format!("reply of {len} bytes is too long")));
        }
        if self.buf.len() < 4 + len {
            return None;
        }
        if self.buf.len() > 4 + len {
            return Some(Poll::Failed("extra data after the reply".into()));
        }
        Some(match ipc::decode(&self.buf[4..]) {
            Ok(v) => Poll::Ready(v),
            Err(e) => Poll::Failed(e.to_string()),
        })
    }
}
