//! # NAME
//! queue — the mail queue
//!
//! ## SYNOPSIS
//! ```ignore
//! for d in queue::dirs::QUEUE_DIRS { println!("{} {:o}", d.name, d.mode); }
//! ```
//!
//! ## DESCRIPTION
//! The queue directories and who owns them ([`dirs`]). Queue IDs, the
//! queue file format and the commit protocol come with the submission
//! path.
//!
//! ## SEE ALSO
//! DESIGN.md "The queue", [`dirs`]

pub mod dirs;
