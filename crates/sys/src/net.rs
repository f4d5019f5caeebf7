//! # NAME
//! net — host name lookups through the system resolver
//!
//! ## SYNOPSIS
//! ```ignore
//! let name = net::reverse_name(ip);         // PTR, /etc/hosts first
//! let addrs = net::host_addresses("mx.example.com");
//! ```
//!
//! ## DESCRIPTION
//! smtpd(8) names its clients as Postfix does: the reverse lookup of the
//! address (`getnameinfo(3)` with `NI_NAMEREQD`, which honours
//! /etc/hosts and nsswitch.conf), confirmed by a forward lookup of that
//! name that returns the address again.
//!
//! ## SEE ALSO
//! getnameinfo(3), getaddrinfo(3)

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The name of `ip`, or `None` when it has none (or the lookup failed).
pub fn reverse_name(ip: IpAddr) -> Option<String> {
    let sa = SocketAddr::new(ip, 0);
    let (storage, len) = socket_addr(&sa);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes for this
    // call; `host` is a writable buffer whose length we pass; no service
    // buffer is requested (null, 0).
    let rc = unsafe {
        libc::getnameinfo(
            (&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo succeeded and wrote a NUL-terminated string into
    // `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    (!name.is_empty()).then_some(name)
}

/// The addresses of `name` (A and AAAA, /etc/hosts first).
pub fn host_addresses(name: &str) -> Vec<IpAddr> {
    (name, 0)
        .to_socket_addrs()
        .map(|it| it.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

fn socket_addr(sa: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid (AF_UNSPEC) value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match sa {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in; we write exactly one sockaddr_in at its start.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                )
            };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolves_forward() {
        assert!(host_addresses("localhost").iter().any(|a| a.is_loopback()));
        // Reverse lookups depend on the host's files; only check they do
        // not fail in a way that panics.
        let _ = reverse_name("127.0.0.1".parse().unwrap());
        assert_eq!(
            reverse_name("192.0.2.254".parse().unwrap()).filter(|n| n.is_empty()),
            None
        );
    }
}
