//! # NAME
//! queue — the mail queue
//!
//! ## SYNOPSIS
//! ```ignore
//! for d in queue::dirs::QUEUE_DIRS { println!("{} {:o}", d.name, d.mode); }
//! ```
//!
//! ## DESCRIPTION
//! The queue directories and who owns them ([`dirs`]), queue IDs
//! ([`id`]), the record format ([`record`]) and the files themselves:
//! creation, the commit protocol, reading, in-place marking ([`file`]),
//! walking a queue ([`scan`]) and reading a file record by record
//! ([`stream`]).
//! Only this crate writes queue files.
//!
//! ## SEE ALSO
//! DESIGN.md "The queue", [`dirs`]

pub mod dirs;
pub mod file;
pub mod id;
pub mod listing;
pub mod logfile;
pub mod maildrop;
pub mod record;
pub mod scan;
pub mod stream;

pub use file::{
    Envelope, Layout, NewRecipient, QueueError, QueueFile, RcptState, Recipient, Writer,
};
pub use id::QueueId;
pub use record::RecordType;
