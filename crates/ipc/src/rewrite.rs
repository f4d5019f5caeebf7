//! # NAME
//! rewrite — the protocol of trivial-rewrite(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! write_frame(&mut c, &RewriteRequest::Resolve { sender, address })?;
//! let r: ResolveReply = read_frame(&mut c, FRAME_MAX)?;
//! ```
//!
//! ## DESCRIPTION
//! `Rewrite` turns an address into its canonical form in a context
//! (`local`: append `@$myorigin` and `.$mydomain` per `append_at_myorigin`
//! and `append_dot_mydomain`; `remote`: per `remote_header_rewrite_domain`).
//! `Resolve` says how to deliver a recipient: the transport, the next hop,
//! the address to deliver to, and the address class. Clients cache the
//! answers.
//!
//! ## SEE ALSO
//! trivial-rewrite(8)

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RewriteRequest {
    Rewrite {
        context: String,
        address: String,
    },
    Resolve {
        sender: String,
        address: String,
    },
    /// Like Resolve, with the `address_verify_*` settings.
    ResolveVerify {
        sender: String,
        address: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewriteReply {
    pub address: String,
}

/// Address classes.
pub mod class {
    pub const LOCAL: u32 = 1 << 0;
    pub const ALIAS: u32 = 1 << 1;
    pub const VIRTUAL: u32 = 1 << 2;
    pub const RELAY: u32 = 1 << 3;
    pub const DEFAULT: u32 = 1 << 4;
    /// The address is not routable (bad syntax, unknown virtual alias).
    pub const ERROR: u32 = 1 << 8;
    /// A lookup failed: try again later.
    pub const FAIL: u32 = 1 << 9;
    /// Explicit source routing (`@a:b@c`, `%` hack) was seen.
    pub const ROUTED: u32 = 1 << 10;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveReply {
    pub transport: String,
    pub nexthop: String,
    pub recipient: String,
    pub flags: u32,
}
