//! # proxymap(8) — lookup table proxy server
//!
//! ## SYNOPSIS
//! `proxymap` [generic daemon options]
//!
//! ## DESCRIPTION
//! Serves `proxy:type:name` lookups for other processes, so that tables
//! that cannot be opened inside a chroot, or that should share one
//! database connection, are opened once here. Run under the proxywrite
//! service name, it also updates tables. See [`proxymap::Proxymap`].
//!
//! ## SECURITY
//! Opens only the tables listed in `proxy_read_maps` (or
//! `proxy_write_maps` for proxywrite); requests are checked frames.
//!
//! ## SEE ALSO
//! proxymap(8), [`maps::proxy`]

#![forbid(unsafe_code)]

fn main() {
    daemon::server::multi_server_main("proxymap", proxymap::Proxymap::pre_init)
}
