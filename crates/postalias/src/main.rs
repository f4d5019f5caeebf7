//! # postalias(1) — Postfix alias database maintenance
//!
//! ## SYNOPSIS
//! `postalias` [`-Nfinoprsuvw`] [`-c` *config_dir*] [`-d` *key*] [`-q` *key*] [*type*:]*file*...
//!
//! ## DESCRIPTION
//! Builds alias tables from aliases(5) files, or queries, lists, updates
//! and deletes their entries. The aliases(5) parser and the builder are in
//! [`maps::alias`] and [`maps::build`], which `sendmail -bi`
//! (newaliases) also uses; see man/man1/postalias.1.
//!
//! ## SECURITY
//! Run by root on a source file owned by another user, postalias becomes
//! that user before it writes (unless `-o`).
//!
//! ## SEE ALSO
//! postmap(1), aliases(5), newaliases(1)

#![forbid(unsafe_code)]

fn main() {
    std::process::exit(maps::cmd::main(maps::cmd::Tool::Postalias));
}
