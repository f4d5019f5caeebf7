//! # NAME
//! ipc — frames, clients and triggers between our own processes
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut c = ipc::connect(queue_dir, Class::Private, "rewrite", timeout)?;
//! ipc::write_frame(&mut c, &Request::Resolve { .. })?;
//! let reply: Reply = ipc::read_frame(&mut c, ipc::FRAME_MAX)?;
//! ipc::trigger(queue_dir, Class::Public, "qmgr", b"I")?;
//! ```
//!
//! ## DESCRIPTION
//! Internal services talk over Unix-domain stream sockets in
//! `$queue_directory/private` and `$queue_directory/public`. A frame is a
//! 4-byte little-endian length and that many bytes of a postcard-encoded
//! value (serde). A reader rejects a frame longer than its limit, a value
//! that does not decode, and bytes left over after the value: an
//! unexpected message from a peer is an error, never skipped. The formats
//! are ours and may change between versions; Postfix's attribute protocol
//! is not a contract.
//!
//! A trigger is a connection to a service that carries a few bytes (`W`
//! wakeup, `I` incoming, `D` deferred, `A` all, `F` flush) and is closed;
//! it never waits for the service.
//!
//! ## SEE ALSO
//! master(8), [`daemon::server`](../daemon/server/index.html)

pub mod bounce;
pub mod cleanup;
pub mod deliver;
pub mod flush;
pub mod rewrite;
pub mod scache;
pub mod showq;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest frame a reader accepts unless told otherwise.
pub const FRAME_MAX: usize = 1 << 20;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    /// The connection failed, timed out or closed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The peer closed the connection between frames.
    #[error("connection closed by peer")]
    Closed,
    /// The frame is longer than the reader allows.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
    /// The frame does not hold the expected value, or more than it.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Which directory a service socket is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Private,
    Public,
}

impl Class {
    pub fn dir(self) -> &'static str {
        match self {
            Class::Private => "private",
            Class::Public => "public",
        }
    }
}

/// The socket of a service.
pub fn service_path(queue_dir: &Path, class: Class, service: &str) -> PathBuf {
    queue_dir.join(class.dir()).join(service)
}

/// Connects to a service with read and write timeouts.
pub fn connect(
    queue_dir: &Path,
    class: Class,
    service: &str,
    timeout: Duration,
) -> io::Result<UnixStream> {
    let path = service_path(queue_dir, class, service);
    let s = UnixStream::connect(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("connect to {}: {}", path.display(), e)))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// Writes one value as a frame (one write system call).
pub fn write_frame<T: Serialize>(w: &mut impl Write, value: &T) -> Result<(), IpcError> {
    let body = postcard::to_allocvec(value).map_err(|e| IpcError::Malformed(e.to_string()))?;
    let len = u32::try_from(body.len()).map_err(|_| IpcError::TooLong {
        len: body.len(),
        max: u32::MAX as usize,
    })?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf)?;
    Ok(())
}

/// Reads one frame and decodes it; the value must use every byte.
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read, max: usize) -> Result<T, IpcError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(IpcError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(IpcError::TooLong { len, max });
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    decode(&body)
}

/// Decodes a frame body; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, IpcError> {
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| IpcError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(IpcError::Malformed(format!(
            "{} bytes after the value",
            rest.len()
        )));
    }
    Ok(value)
}

/// Sends trigger bytes to a service and closes the connection; fifos are
/// written without waiting.
pub fn trigger(queue_dir: &Path, class: Class, service: &str, bytes: &[u8]) -> io::Result<()> {
    let path = service_path(queue_dir, class, service);
    let meta = std::fs::metadata(&path)?;
    use std::os::unix::fs::FileTypeExt;
    if meta.file_type().is_fifo() {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(&path)?;
        return f.write_all(bytes);
    }
    let mut s = UnixStream::connect(&path)?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Msg {
        Ping(u32),
        Text { s: String },
    }

    #[test]
    fn round_trip_and_strictness() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Msg::Text { s: "héllo".into() }).unwrap();
        write_frame(&mut buf, &Msg::Ping(7)).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame::<Msg>(&mut r, FRAME_MAX).unwrap(),
            Msg::Text { s: "héllo".into() }
        );
        assert_eq!(read_frame::<Msg>(&mut r, FRAME_MAX).unwrap(), Msg::Ping(7));
        assert!(matches!(
            read_frame::<Msg>(&mut r, FRAME_MAX),
            Err(IpcError::Closed)
        ));
        // Too long.
        let mut big = Vec::new();
        write_frame(&mut big, &Msg::Text { s: "x".repeat(100) }).unwrap();
        assert!(matches!(
            read_frame::<Msg>(&mut &big[..], 10),
            Err(IpcError::TooLong { .. })
        ));
        // Trailing bytes.
        let mut t = Vec::new();
        write_frame(&mut t, &Msg::Ping(1)).unwrap();
        t[0] += 1;
        t.push(0);
        assert!(matches!(
            read_frame::<Msg>(&mut &t[..], FRAME_MAX),
            Err(IpcError::Malformed(_))
        ));
        // Unknown variant.
        assert!(matches!(decode::<Msg>(&[9]), Err(IpcError::Malformed(_))));
    }
}
