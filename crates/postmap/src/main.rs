//! # postmap(1) — Postfix lookup table management
//!
//! ## SYNOPSIS
//! `postmap` [`-bfFhimnNoprsuUvw`] [`-c` *config_dir*] [`-d` *key*] [`-q` *key*] [*type*:]*file*...
//!
//! ## DESCRIPTION
//! Builds indexed tables from `key value` source files, or queries,
//! lists, updates and deletes entries of any table type. The work is done
//! by [`maps::cmd`]; see man/man1/postmap.1.
//!
//! ## SECURITY
//! Run by root on a source file owned by another user, postmap becomes
//! that user before it writes (unless `-o`).
//!
//! ## SEE ALSO
//! postalias(1), postconf(5), [`maps::build`]

#![forbid(unsafe_code)]

fn main() {
    std::process::exit(maps::cmd::main(maps::cmd::Tool::Postmap));
}
