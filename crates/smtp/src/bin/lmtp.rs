//! lmtp(8): the LMTP client, the same program as smtp(8) speaking LMTP
//! with the `lmtp_*` parameters.

#![forbid(unsafe_code)]

fn main() {
    smtp::main(smtp::settings::Mode::Lmtp)
}
