//! # NAME
//! session — one connection to a server: the stream, its buffers, what
//! was negotiated (smtp_session.c, smtp_chat.c)
//!
//! ## SYNOPSIS
//! ```ignore
//! let tcp = session::connect_tcp(sockaddr, bind, timeout)?;
//! let mut s = Session::new(Stream::Tcp(tcp), host, addr_text, Some(port));
//! s.write(b"EHLO me\r\n", timeout)?;
//! let reply = s.reply(timeout)?;
//! ```
//!
//! ## DESCRIPTION
//! A [`Session`] owns the stream (TCP, unix-domain, or TLS over TCP
//! after STARTTLS or in wrapper mode), a read buffer from which replies
//! are taken whole ([`proto::client::parse_reply`]), and the facts of
//! the session: the server's name and address as the log shows them
//! (`relay=host[addr]:port`), its ESMTP features, whether TLS and
//! authentication are in effect, how often it has been used and since
//! when (for connection reuse limits). Writes go out whole, one system
//! call per pipelined group. Every read and write has the time limit of
//! its protocol stage.
//!
//! ## SEE ALSO
//! [`crate::proto`], [`crate::reuse`]

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use proto::client::{Features, ServerReply, parse_reply};
use rustls::{ClientConnection, StreamOwned};

/// The longest reply line kept.
const REPLY_LINE_MAX: usize = 4096;

/// The transport under the protocol.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Taken away (during a TLS upgrade, or closed).
    Gone,
}

impl Stream {
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        let t = (!t.is_zero()).then_some(t);
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t).and_then(|_| s.set_write_timeout(t)),
            Stream::Unix(s) => s.set_read_timeout(t).and_then(|_| s.set_write_timeout(t)),
            Stream::Tls(s) => s
                .sock
                .set_read_timeout(t)
                .and_then(|_| s.sock.set_write_timeout(t)),
            Stream::Gone => Ok(()),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Ok(()),
        }
    }
}

/// How an exchange with the server failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoFail {
    /// The connection broke or the server closed it.
    Lost,
    /// The server did not answer within the time limit.
    Timeout,
    /// The server's reply made no sense.
    Garbage,
}

/// One connection and what was negotiated on it.
pub struct Session {
    stream: Stream,
    rbuf: Vec<u8>,
    /// The time limit the socket has now (set only when it changes).
    timeout: Option<Duration>,
    /// The server's name as the log shows it.
    pub host: String,
    /// Its address (or socket path).
    pub addr: String,
    pub port: Option<u16>,
    pub features: Features,
    /// EHLO/LHLO succeeded (else HELO).
    pub esmtp: bool,
    /// TLS is in effect.
    pub tls: bool,
    pub authenticated: bool,
    /// Transactions completed on this connection.
    pub uses: u32,
    /// When the connection was made (seconds since the epoch).
    pub born: u64,
    /// Taken from the connection cache.
    pub reused: bool,
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Session {
    pub fn new(stream: Stream, host: &str, addr: &str, port: Option<u16>) -> Session {
        Session {
            stream,
            rbuf: Vec::new(),
            timeout: None,
            host: host.to_string(),
            addr: addr.to_string(),
            port,
            features: Features::default(),
            esmtp: false,
            tls: false,
            authenticated: false,
            uses: 0,
            born: now_secs(),
            reused: false,
        }
    }

    /// `host[addr]:port` (or `host[path]`), for `relay=` and messages.
    pub fn relay(&self) -> String {
        match self.port {
            Some(p) => format!("{}[{}]:{}", self.host, self.addr, p),
            None => format!("{}[{}]", self.host, self.addr),
        }
    }

    /// `host[addr]`, as messages name the server.
    pub fn name(&self) -> String {
        format!("{}[{}]", self.host, self.addr)
    }

    fn set_timeout(&mut self, t: Duration) -> Result<(), IoFail> {
        if self.timeout != Some(t) {
            self.stream.set_timeout(t).map_err(|_| IoFail::Lost)?;
            self.timeout = Some(t);
        }
        Ok(())
    }

    /// Sends bytes, whole.
    pub fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), IoFail> {
        self.set_timeout(timeout)?;
        match self
            .stream
            .write_all(data)
            .and_then(|_| self.stream.flush())
        {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(IoFail::Timeout),
            Err(_) => Err(IoFail::Lost),
        }
    }

    /// Reads one whole reply.
    pub fn reply(&mut self, timeout: Duration) -> Result<ServerReply, IoFail> {
        self.set_timeout(timeout)?;
        let mut chunk = [0u8; 8192];
        loop {
            match parse_reply(&self.rbuf, REPLY_LINE_MAX) {
                Ok(Some((r, used))) => {
                    self.rbuf.drain(..used);
                    return Ok(r);
                }
                Ok(None) => {}
                Err(_) => return Err(IoFail::Garbage),
            }
            // A line that never ends is not a reply.
            if self.rbuf.len() > 1 << 20 {
                return Err(IoFail::Garbage);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(IoFail::Lost),
                Ok(n) => self.rbuf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Err(IoFail::Timeout),
                Err(_) => return Err(IoFail::Lost),
            }
        }
    }

    /// Whether the server sent something nobody asked for (a cached
    /// connection that the server is closing, or pipelining abuse).
    pub fn has_unread(&self) -> bool {
        !self.rbuf.is_empty()
    }

    /// Runs a TLS handshake over the TCP stream.
    pub fn start_tls(&mut self, conn: ClientConnection, timeout: Duration) -> Result<(), String> {
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Tcp(t) => t,
            other => {
                self.stream = other;
                return Err("TLS over a connection that is not TCP".into());
            }
        };
        if !self.rbuf.is_empty() {
            // Plaintext after the STARTTLS reply would be taken as
            // protected data: a command injection attempt.
            return Err("unexpected data after the STARTTLS reply".into());
        }
        let t = (!timeout.is_zero()).then_some(timeout);
        let _ = tcp.set_read_timeout(t);
        let _ = tcp.set_write_timeout(t);
        self.timeout = Some(timeout);
        let mut s = StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            if let Err(e) = s.conn.complete_io(&mut s.sock) {
                return Err(if is_timeout(&e) {
                    "timed out".to_string()
                } else {
                    e.to_string()
                });
            }
        }
        self.stream = Stream::Tls(Box::new(s));
        self.tls = true;
        Ok(())
    }

    /// The TLS connection, once established.
    pub fn tls_conn(&self) -> Option<&ClientConnection> {
        match &self.stream {
            Stream::Tls(s) => Some(&s.conn),
            _ => None,
        }
    }

    /// The descriptor, for the connection cache (plaintext only).
    pub fn into_fd(self) -> Option<OwnedFd> {
        match self.stream {
            Stream::Tcp(s) => Some(OwnedFd::from(s)),
            Stream::Unix(s) => Some(OwnedFd::from(s)),
            _ => None,
        }
    }

    /// Whether the connection can be passed to another process.
    pub fn passable(&self) -> bool {
        matches!(self.stream, Stream::Tcp(_) | Stream::Unix(_)) && self.rbuf.is_empty()
    }

    /// The descriptor, to check it.
    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.stream {
            Stream::Tcp(s) => Some(s.as_fd()),
            Stream::Unix(s) => Some(s.as_fd()),
            Stream::Tls(s) => Some(s.sock.as_fd()),
            Stream::Gone => None,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Connects to `addr` from `bind` (if set) within `timeout` (zero: the
/// system's limit). The error text is what Postfix logs after
/// "connect to host[addr]:port: ".
pub fn connect_tcp(
    addr: SocketAddr,
    bind: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, String> {
    let stream = match bind {
        None if timeout.is_zero() => TcpStream::connect(addr).map_err(|e| os_text(&e))?,
        None => TcpStream::connect_timeout(&addr, timeout).map_err(|e| os_text(&e))?,
        Some(local) => connect_from(addr, local, timeout)?,
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The system's text for an error, without Rust's "(os error N)".
pub fn os_text(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock {
        return "Connection timed out".into();
    }
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

fn connect_from(addr: SocketAddr, local: IpAddr, timeout: Duration) -> Result<TcpStream, String> {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrStorage, bind, connect, getsockopt, socket,
        sockopt,
    };
    let fam = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let errtext = |e: nix::errno::Errno| e.desc().to_string();
    let fd = socket(
        fam,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(errtext)?;
    let local = SockaddrStorage::from(SocketAddr::new(local, 0));
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &local)
        .map_err(|e| format!("bind {local}: {}", e.desc()))?;
    let remote = SockaddrStorage::from(addr);
    match connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &remote) {
        Ok(()) => {}
        Err(nix::errno::Errno::EINPROGRESS) => {
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            let ms = if timeout.is_zero() {
                PollTimeout::NONE
            } else {
                PollTimeout::try_from(timeout.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            };
            let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
            match poll(&mut p, ms) {
                Ok(0) => return Err("Connection timed out".into()),
                Ok(_) => {}
                Err(e) => return Err(errtext(e)),
            }
            let err = getsockopt(&fd, sockopt::SocketError).map_err(errtext)?;
            if err != 0 {
                return Err(errtext(nix::errno::Errno::from_raw(err)));
            }
        }
        Err(e) => return Err(errtext(e)),
    }
    sys::fd::set_nonblocking(&fd, false).map_err(errtext)?;
    Ok(TcpStream::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn replies_over_a_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            c.write_all(b"220 hi\r\n250-one\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(50));
            c.write_all(b"250 two\r\n").unwrap();
            let mut b = [0u8; 6];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"QUIT\r\n");
        });
        let tcp = connect_tcp(
            a,
            Some("127.0.0.1".parse().unwrap()),
            Duration::from_secs(5),
        )
        .unwrap();
        let mut s = Session::new(Stream::Tcp(tcp), "localhost", "127.0.0.1", Some(a.port()));
        let t5 = Duration::from_secs(5);
        assert_eq!(s.reply(t5).unwrap().code, 220);
        let r = s.reply(t5).unwrap();
        assert_eq!(r.text(), "250-one 250 two");
        s.write(b"QUIT\r\n", t5).unwrap();
        t.join().unwrap();
        assert_eq!(s.reply(t5), Err(IoFail::Lost));
        assert_eq!(s.relay(), format!("localhost[127.0.0.1]:{}", a.port()));
    }

    #[test]
    fn refused_and_timeout_texts() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        assert_eq!(
            connect_tcp(a, None, Duration::from_secs(2)).unwrap_err(),
            "Connection refused"
        );
        assert_eq!(
            connect_tcp(
                a,
                Some("127.0.0.1".parse().unwrap()),
                Duration::from_secs(2)
            )
            .unwrap_err(),
            "Connection refused"
        );
        // A server that never answers.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let tcp = connect_tcp(a, None, Duration::from_secs(2)).unwrap();
        let mut s = Session::new(Stream::Tcp(tcp), "h", "127.0.0.1", Some(a.port()));
        assert_eq!(s.reply(Duration::from_millis(100)), Err(IoFail::Timeout));
    }
}
