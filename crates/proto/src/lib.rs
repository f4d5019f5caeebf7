//! # NAME
//! proto — wire codecs with no I/O
//!
//! ## SYNOPSIS
//! ```
//! use proto::smtp::{Command, parse_command};
//! assert!(matches!(parse_command(b"NOOP"), Ok(Command::Noop)));
//! ```
//!
//! ## DESCRIPTION
//! Parsers and formatters for the protocols the mail system speaks, as
//! pure functions over bytes so that they can be tested and fuzzed on
//! their own: [`smtp`] (commands, parameters, replies) and [`data`] (the
//! DATA stream: end-of-data detection that resists SMTP smuggling,
//! dot-unstuffing, line-ending normalization) and [`client`] (what an
//! SMTP/LMTP client reads and writes: replies, EHLO keywords, content
//! encoding, SASL PLAIN and LOGIN).
//!
//! ## SEE ALSO
//! RFC 5321, smtpd(8), smtp(8)

pub mod client;
pub mod data;
pub mod smtp;
