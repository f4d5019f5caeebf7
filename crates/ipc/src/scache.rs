//! # NAME
//! scache — the protocol of the connection cache, scache(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut c = scache::Client::connect(queue_dir, "scache", timeout)?;
//! c.save("smtp:[mx.example]:25", "smtp:192.0.2.1:25", &props, ttl, &tcp)?;
//! if let Some(hit) = c.find_dest("smtp:[mx.example]:25")? { /* hit.fd, hit.props */ }
//! ```
//!
//! ## DESCRIPTION
//! A delivery agent that is done with an open connection hands it to
//! scache(8) with [`Request::Save`]: the frame, then the descriptor
//! (SCM_RIGHTS). The connection is filed under its endpoint (the
//! address it goes to and what was negotiated on it) and under the
//! destination it served (a next hop), each for `ttl` seconds. Another
//! agent, often another process, asks with [`Request::FindDest`] or
//! [`Request::FindEndpoint`] and gets [`Reply::Found`] followed by the
//! descriptor, which scache then forgets: a connection is used by one
//! process at a time. `props` are the agent's own notes about the
//! session (its ESMTP features, how many times it was used); scache does
//! not look at them.
//!
//! ## SEE ALSO
//! scache(8), smtp(8), CONNECTION_CACHE_README

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Class, FRAME_MAX, IpcError, read_frame, write_frame};

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Keep the descriptor that follows this frame.
    Save {
        dest: String,
        endpoint: String,
        props: Vec<u8>,
        ttl_secs: u32,
    },
    /// A connection that served this destination.
    FindDest { dest: String },
    /// A connection to this endpoint.
    FindEndpoint { endpoint: String },
}

/// What scache answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The connection was stored (or refused; the client has let go of
    /// it either way).
    Saved,
    /// A connection: its descriptor follows this frame.
    Found {
        endpoint: String,
        props: Vec<u8>,
    },
    NotFound,
}

/// A connection taken from the cache.
#[derive(Debug)]
pub struct Hit {
    pub endpoint: String,
    pub props: Vec<u8>,
    pub fd: OwnedFd,
}

/// The client side, one connection to scache(8) kept across requests.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
}

impl Client {
    pub fn connect(queue_dir: &Path, service: &str, timeout: Duration) -> io::Result<Client> {
        Ok(Client {
            stream: crate::connect(queue_dir, Class::Private, service, timeout)?,
        })
    }

    /// Hands a connection to the cache.
    pub fn save(
        &mut self,
        dest: &str,
        endpoint: &str,
        props: &[u8],
        ttl: Duration,
        fd: &impl AsFd,
    ) -> Result<(), IpcError> {
        write_frame(
            &mut self.stream,
            &Request::Save {
                dest: dest.to_string(),
                endpoint: endpoint.to_string(),
                props: props.to_vec(),
                ttl_secs: ttl.as_secs().clamp(1, u64::from(u32::MAX)) as u32,
            },
        )?;
        sys::fd::send_fd(&self.stream, fd)?;
        match read_frame(&mut self.stream, FRAME_MAX)? {
            Reply::Saved => Ok(()),
            other => Err(IpcError::Malformed(format!("unexpected reply {other:?}"))),
        }
    }

    pub fn find_dest(&mut self, dest: &str) -> Result<Option<Hit>, IpcError> {
        self.find(&Request::FindDest {
            dest: dest.to_string(),
        })
    }

    pub fn find_endpoint(&mut self, endpoint: &str) -> Result<Option<Hit>, IpcError> {
        self.find(&Request::FindEndpoint {
            endpoint: endpoint.to_string(),
        })
    }

    fn find(&mut self, req: &Request) -> Result<Option<Hit>, IpcError> {
        write_frame(&mut self.stream, req)?;
        match read_frame(&mut self.stream, FRAME_MAX)? {
            Reply::NotFound => Ok(None),
            Reply::Found { endpoint, props } => {
                let fd = sys::fd::recv_fd(&self.stream)?;
                Ok(Some(Hit {
                    endpoint,
                    props,
                    fd,
                }))
            }
            Reply::Saved => Err(IpcError::Malformed("unexpected reply Saved".into())),
        }
    }
}

/// The server side: one request, with its descriptor for a save.
pub fn read_request(stream: &mut UnixStream) -> Result<(Request, Option<OwnedFd>), IpcError> {
    let req: Request = read_frame(stream, FRAME_MAX)?;
    let fd = match req {
        Request::Save { .. } => Some(sys::fd::recv_fd(&*stream)?),
        _ => None,
    };
    Ok((req, fd))
}

/// The server side: a found connection (the caller closes its copy).
pub fn write_found(
    stream: &mut UnixStream,
    endpoint: &str,
    props: &[u8],
    fd: &impl AsFd,
) -> Result<(), IpcError> {
    write_frame(
        stream,
        &Reply::Found {
            endpoint: endpoint.to_string(),
            props: props.to_vec(),
        },
    )?;
    sys::fd::send_fd(&*stream, fd)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn save_and_find_pass_the_descriptor() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut client = Client { stream: a };
        let (mut conn_ours, mut conn_peer) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let (req, fd) = read_request(&mut b).unwrap();
            assert!(matches!(req, Request::Save { ref dest, ttl_secs: 2, .. } if dest == "d"));
            write_frame(&mut b, &Reply::Saved).unwrap();
            let (req, none) = read_request(&mut b).unwrap();
            assert_eq!(req, Request::FindDest { dest: "d".into() });
            assert!(none.is_none());
            let fd = fd.unwrap();
            write_found(&mut b, "e", b"props", &fd).unwrap();
            drop(fd);
            let (req, _) = read_request(&mut b).unwrap();
            assert_eq!(
                req,
                Request::FindEndpoint {
                    endpoint: "x".into()
                }
            );
            write_frame(&mut b, &Reply::NotFound).unwrap();
        });
        client
            .save("d", "e", b"props", Duration::from_secs(2), &conn_ours)
            .unwrap();
        let hit = client.find_dest("d").unwrap().unwrap();
        assert_eq!(
            (hit.endpoint.as_str(), hit.props.as_slice()),
            ("e", &b"props"[..])
        );
        // The descriptor that came back is the same connection.
        let mut back = UnixStream::from(hit.fd);
        back.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        conn_peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        conn_ours.write_all(b"!").unwrap();
        assert!(client.find_endpoint("x").unwrap().is_none());
        server.join().unwrap();
    }
}
