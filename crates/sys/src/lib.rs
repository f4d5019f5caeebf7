//! # NAME
//! sys — the operating-system layer: the one crate with `unsafe`
//!
//! ## SYNOPSIS
//! ```ignore
//! sys::fs::fsync_dir(dir)?;
//! sys::fs::write_atomic(path, bytes, 0o644)?;
//! let pid = sys::process::spawn(&spec, |e| log_fatal(e))?;
//! sys::privs::drop_to(&user, Some(queue_dir))?;
//! let status = sys::fd::inherited(5);
//! ```
//!
//! ## DESCRIPTION
//! Nothing mail-specific lives here: descriptors inherited across exec,
//! fork and exec with a descriptor map, privilege drop and chroot, blocked
//! signals read through a signalfd, file locks, and the durable-write
//! helpers every other crate uses. Every `unsafe` block has a `SAFETY:`
//! line; other crates forbid `unsafe`.
//!
//! ## SEE ALSO
//! [`process`], [`privs`], [`fs`], [`fd`], [`signals`]

#![deny(unsafe_op_in_unsafe_fn)]

pub mod fd;
pub mod fs;
pub mod lock;
pub mod net;
pub mod privs;
pub mod process;
pub mod regex;
pub mod signals;
pub mod time;
