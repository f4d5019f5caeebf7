//! smtp(8): the SMTP client. See [`smtp`] (lib.rs) for the manual.

#![forbid(unsafe_code)]

fn main() {
    smtp::main(smtp::settings::Mode::Smtp)
}
