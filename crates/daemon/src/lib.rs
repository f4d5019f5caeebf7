//! # NAME
//! daemon — server skeletons, the master status protocol and logging
//!
//! ## SYNOPSIS
//! ```ignore
//! use daemon::{info, warn, fatal, server::{Ctx, Client, SingleServer}};
//! fn main() { daemon::server::single_server_main("smtpd", Smtpd::pre_init) }
//! ```
//!
//! ## DESCRIPTION
//! What every daemon shares, so that program crates hold only what their
//! program does: [`args`] (the generic options master(8) passes),
//! [`server`] (start-up, privilege drop, the single/multi/trigger/datagram
//! loops, `max_use` and `max_idle`), [`master_proto`] (the status channel;
//! the only place that knows it besides master itself) and [`log`]
//! (Postfix-format logging).
//!
//! ## SEE ALSO
//! master(8), [`server`], [`log`]

pub mod agent;
pub mod args;
pub mod delivery_log;
pub mod log;
pub mod master_proto;
pub mod server;

pub use log::Untrusted;
