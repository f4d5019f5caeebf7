//! # NAME
//! listen — create the listening endpoints of master.cf services
//!
//! ## SYNOPSIS
//! ```ignore
//! let fd = listen::open(&endpoint, owner)?;
//! ```
//!
//! ## DESCRIPTION
//! Unix-domain stream and datagram sockets and fifos are created in the
//! queue directory (a stale one from an earlier run is replaced), mode 0666
//! (fifos 0622) and owned by `mail_owner` when master runs as root; access
//! is controlled by the `private` and `public` directories. TCP sockets get
//! `SO_REUSEADDR` and, for IPv6, `IPV6_V6ONLY`. Every endpoint is
//! non-blocking, so that the children of a service can all accept on it,
//! and close-on-exec until master hands it to a child.
//!
//! ## SEE ALSO
//! master(5), [`crate::ent::Endpoint`]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::Path;

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, listen, setsockopt,
    socket, sockopt,
};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::ent::Endpoint;

/// Removes a stale socket or fifo left at `path`; refuses to remove
/// anything else.
fn clear(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() || m.file_type().is_fifo() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn finish_path(path: &Path, mode: u32, owner: Option<(Uid, Gid)>) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    if let Some((uid, gid)) = owner {
        nix::unistd::chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Opens one endpoint.
pub fn open(ep: &Endpoint, owner: Option<(Uid, Gid)>) -> io::Result<OwnedFd> {
    let fd: OwnedFd = match ep {
        Endpoint::Unix(path) => {
            clear(path)?;
            let l = UnixListener::bind(path)?;
            finish_path(path, 0o666, owner)?;
            l.into()
        }
        Endpoint::Dgram(path) => {
            clear(path)?;
            let d = UnixDatagram::bind(path)?;
            finish_path(path, 0o666, owner)?;
            d.into()
        }
        Endpoint::Fifo(path) => {
            clear(path)?;
            nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622))?;
            finish_path(path, 0o622, owner)?;
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)?;
            f.into()
        }
        Endpoint::Inet(addr) => {
            let family = if addr.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            let s = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
            setsockopt(&s, sockopt::ReuseAddr, &true)?;
            match addr {
                std::net::SocketAddr::V4(a) => bind(s.as_raw_fd(), &SockaddrIn::from(*a))?,
                std::net::SocketAddr::V6(a) => {
                    setsockopt(&s, sockopt::Ipv6V6Only, &true)?;
                    bind(s.as_raw_fd(), &SockaddrIn6::from(*a))?
                }
            }
            listen(&s, Backlog::MAXCONN)?;
            s
        }
    };
    sys::fd::set_nonblocking(&fd, true)?;
    sys::fd::set_cloexec(&fd, true)?;
    Ok(fd)
}

/// Removes the file of a unix-domain endpoint of a removed service.
pub fn remove(ep: &Endpoint) {
    if let Endpoint::Unix(p) | Endpoint::Dgram(p) | Endpoint::Fifo(p) = ep {
        let _ = clear(p);
    }
}

/// Describes an endpoint for messages (`127.0.0.1:25`, `private/relay`).
pub fn describe(ep: &Endpoint) -> String {
    match ep {
        Endpoint::Unix(p) | Endpoint::Dgram(p) | Endpoint::Fifo(p) => p.display().to_string(),
        Endpoint::Inet(a) => a.to_string(),
    }
}
