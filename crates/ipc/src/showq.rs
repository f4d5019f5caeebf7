//! # NAME
//! showq — the protocol between postqueue(1) and showq(8)
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut c = ipc::connect(queue_dir, Class::Public, "showq", timeout)?;
//! loop {
//!     match read_frame::<ShowqItem>(&mut c, FRAME_MAX)? {
//!         ShowqItem::Message(m) => print(m),
//!         ShowqItem::End => break,
//!     }
//! }
//! ```
//!
//! ## DESCRIPTION
//! The client connects to `public/showq` and sends nothing; showq(8)
//! answers with one [`ShowqItem::Message`] per queue file, in the order it
//! finds them (queue by queue, directory order), and ends with
//! [`ShowqItem::End`]. A listing without the end item was cut short.
//! Addresses arrive as mailq(1) shows them: in external (quoted) form,
//! non-printable characters replaced, the null sender as the
//! `empty_address_recipient` name. Formatting (`-p`, `-j`, local time) is
//! the client's business.
//!
//! ## SEE ALSO
//! showq(8), postqueue(1)

use serde::{Deserialize, Serialize};

/// One recipient of a listed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedRecipient {
    pub address: String,
    /// Why delivery was delayed, empty if not known.
    pub reason: String,
}

/// One listed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedMessage {
    /// `maildrop`, `incoming`, `active`, `deferred` or `hold`.
    pub queue: String,
    pub queue_id: String,
    /// Seconds since the epoch.
    pub arrival: u64,
    pub size: u64,
    pub forced_expire: bool,
    pub sender: String,
    pub recipients: Vec<ListedRecipient>,
}

/// What showq sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShowqItem {
    Message(ListedMessage),
    End,
}
