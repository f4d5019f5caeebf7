//! # NAME
//! peer — who the client is
//!
//! ## SYNOPSIS
//! ```ignore
//! let peer = Peer::of(&client);     // name[addr] for the logs
//! ```
//!
//! ## DESCRIPTION
//! The client's name is the reverse lookup of its address when a forward
//! lookup of that name gives the address back; otherwise it is `unknown`
//! (and `reverse_name` keeps the unconfirmed name, or `unknown`).
//!
//! ## SEE ALSO
//! [`sys::net`], postconf(5) `reject_unknown_client_hostname`

use std::net::{IpAddr, Ipv4Addr};

use daemon::server::Client;

#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: IpAddr,
    pub port: u16,
    pub name: String,
    pub reverse_name: String,
    pub local: Option<std::net::SocketAddr>,
}

impl Peer {
    pub fn of(client: &Client, stdio_peer: Option<IpAddr>) -> Peer {
        let (addr, port) = match client.peer_addr() {
            Some(sa) => (unmap(sa.ip()), sa.port()),
            None => (stdio_peer.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0),
        };
        let reverse = sys::net::reverse_name(addr);
        let name = match &reverse {
            Some(n)
                if sys::net::host_addresses(n)
                    .iter()
                    .any(|a| unmap(*a) == addr) =>
            {
                n.clone()
            }
            _ => "unknown".to_string(),
        };
        Peer {
            addr,
            port,
            name,
            reverse_name: reverse.unwrap_or_else(|| "unknown".into()),
            local: client.local_addr(),
        }
    }

    /// `name[addr]`, as every log line names the client.
    pub fn namaddr(&self) -> String {
        format!("{}[{}]", self.name, self.addr)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}
