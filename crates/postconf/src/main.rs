//! # postconf(1) — show and change the Postfix-compatible configuration
//!
//! ## SYNOPSIS
//! `postconf` [`-dfhHnpvx`] [`-c` dir] [`-C` class] [`-o` name=value] [name ...]
//! `postconf` [`-e`|`-X`|`-#`] name[=value] ...
//! `postconf` `-M`|`-F`|`-P` [`-efhHoxX#`] [service[/type[/name]][=value] ...]
//! `postconf` `-a`|`-A`|`-l`|`-m`
//!
//! ## DESCRIPTION
//! Reads main.cf and master.cf from `-c` dir, `$MAIL_CONFIG` or
//! /etc/postfix, and prints or edits them with the output, messages and
//! exit status of Postfix 3.7's postconf(1). The modules hold the work:
//! [`args`] the command line, [`print`] main.cf parameters, [`edit`]
//! main.cf edits, [`master`] and [`master_edit`] master.cf, [`names`]
//! which names exist and are used, [`plugins`] the supported types.
//!
//! ## SECURITY
//! Not set-uid; it reads and writes files with the caller's privileges.
//! Edits replace a file atomically and keep its owner and mode.
//!
//! ## DIAGNOSTICS
//! Warnings and fatal errors on stderr as `postconf: warning: ...` and
//! `postconf: fatal: ...`; exit status 1 after a fatal error, else 0.
//!
//! ## BUGS
//! `-T` (TLS library) is not supported yet and says so; `-v` is accepted and ignored.
//!
//! ## SEE ALSO
//! postconf(5), master(5), man/man1/postconf.1

mod args;
mod bounce;
mod dbms;
mod edit;
mod expand;
mod fold;
mod master;
mod master_edit;
mod msg;
mod names;
mod plugins;
mod print;
mod run;
mod settings;
mod validate;

fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    msg::set_program(argv.first().map_or("postconf", String::as_str));
    let mut out = Vec::new();
    let result = args::parse(&argv[1.min(argv.len())..]).and_then(|o| run::run(&o, &mut out));
    let flushed = master::flush(&out);
    match result.and(flushed) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(f) => {
            msg::print_fatal(&f);
            std::process::ExitCode::FAILURE
        }
    }
}
