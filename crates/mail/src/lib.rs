//! # NAME
//! mail — addresses, headers, MIME, dates, DSN: pure functions
//!
//! ## SYNOPSIS
//! ```
//! let addrs = mail::address::parse_list(b"Joe <joe@example.com>, list: a, b;");
//! assert_eq!(addrs[0].addr, "joe@example.com");
//! assert_eq!(mail::address::externalize("john doe@example.com"), "\"john doe\"@example.com");
//! ```
//!
//! ## DESCRIPTION
//! What cleanup(8), smtpd(8), the SMTP client and sendmail(1) need to
//! take mail apart and put it back together, with Postfix 3.7 semantics:
//!
//! * [`address`]: the RFC 822 address-list parser (Postfix's tok822),
//!   quoting between the internal and external forms, local-part and
//!   extension splitting;
//! * [`header`]: splitting content into header and body, header names
//!   and classes, folding and the size limits;
//! * [`mime`]: the MIME state machine behind `header_checks`,
//!   `mime_header_checks`, `nested_header_checks` and `body_checks`,
//!   8-bit detection and the quoted-printable downgrade;
//! * [`date`]: RFC 5322 dates as Postfix writes and reads them;
//! * [`bounce_template`]: the texts of bounce, delay, success and
//!   verify notices, and `bounce_template_file`;
//! * [`dsn`]: enhanced status codes, NOTIFY/RET/ORCPT/ENVID, xtext and
//!   the `message/delivery-status` part;
//! * [`rfc2047`]: decoding of encoded words for logging.
//!
//! Nothing here does I/O or depends on another crate of this project;
//! every function accepts hostile input and never panics on it.
//!
//! ## SEE ALSO
//! RFC 5321, RFC 5322, RFC 2045-2047, RFC 3461, RFC 3464; cleanup(8)

pub mod address;
pub mod bounce_template;
pub mod date;
pub mod dsn;
pub mod header;
pub mod host;
pub mod mime;
pub mod rfc2047;
