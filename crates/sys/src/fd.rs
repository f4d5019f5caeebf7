//! # NAME
//! fd — descriptors inherited across exec, and descriptor flags
//!
//! ## SYNOPSIS
//! ```ignore
//! let status: Option<OwnedFd> = fd::inherited(5);
//! fd::set_nonblocking(&sock, true)?;
//! ```
//!
//! ## DESCRIPTION
//! A daemon finds its status channel and listeners at fixed descriptor
//! numbers set up by master(8). [`inherited`] takes ownership of such a
//! number once, after checking that it is open, and marks it close-on-exec
//! so that it does not leak into programs the daemon runs.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};

static TAKEN: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// Takes ownership of descriptor `fd` inherited from the parent. Returns
/// `None` if it is not open or was taken before.
pub fn inherited(fd: RawFd) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    let mut taken = TAKEN
        .lock()
        .expect("invariant: no panic while holding TAKEN");
    if taken.contains(&fd) {
        return None;
    }
    // SAFETY: F_GETFD only reads the flags of a descriptor number; on a
    // closed number it fails with EBADF and changes nothing.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return None;
    }
    taken.push(fd);
    // SAFETY: fd is open (F_GETFD succeeded), it was inherited across exec
    // so nothing else in this process owns it, and TAKEN guarantees that it
    // is turned into an OwnedFd only once.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let _ = set_cloexec(&owned, true);
    Some(owned)
}

pub fn set_cloexec(fd: &impl AsFd, on: bool) -> nix::Result<()> {
    let cur = FdFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFD)?);
    let new = if on {
        cur | FdFlag::FD_CLOEXEC
    } else {
        cur - FdFlag::FD_CLOEXEC
    };
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(new)).map(drop)
}

pub fn set_nonblocking(fd: &impl AsFd, on: bool) -> nix::Result<()> {
    let cur = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
    let new = if on {
        cur | OFlag::O_NONBLOCK
    } else {
        cur - OFlag::O_NONBLOCK
    };
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(new)).map(drop)
}

/// The number of a descriptor, for messages and descriptor maps.
pub fn raw(fd: &impl AsFd) -> RawFd {
    fd.as_fd().as_raw_fd()
}

/// Receives one descriptor sent with SCM_RIGHTS over a unix stream socket
/// (the master.cf `pass` service type). Extra descriptors are closed.
pub fn recv_fd(sock: &impl AsFd) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut received: Vec<RawFd> = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            received.extend(fds);
        }
    }
    let mut owned: Vec<OwnedFd> = received
        .into_iter()
        // SAFETY: the kernel just created these descriptors in this process
        // for this message; nothing else refers to them.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    if owned.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no descriptor received",
        ));
    }
    Ok(owned.swap_remove(0))
}

/// Sends one descriptor over a unix stream socket.
pub fn send_fd(sock: &impl AsFd, fd: &impl AsFd) -> std::io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let raw = [fd.as_fd().as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"P")];
    sendmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&raw)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_a_descriptor() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        send_fd(&a, &f).unwrap();
        let got = recv_fd(&b).unwrap();
        assert_ne!(raw(&got), raw(&f));
        let flags = fcntl(got.as_fd(), FcntlArg::F_GETFD).unwrap();
        assert!(FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC));
    }

    #[test]
    fn inherited_only_once_and_only_open() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let n = std::os::fd::IntoRawFd::into_raw_fd(f);
        let a = inherited(n);
        assert!(a.is_some());
        assert!(inherited(n).is_none());
        assert!(inherited(100_000).is_none());
    }
}
