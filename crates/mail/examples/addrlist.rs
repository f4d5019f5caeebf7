//! Print the addresses `mail::address::parse_list` finds in each line
//! of standard input, one line of output per input line, addresses
//! separated by TAB. Used to compare the parser with Postfix
//! (`sendmail -t` on a private instance) on generated header values.

use std::io::{BufRead, Write};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().split(b'\n') {
        let Ok(line) = line else { break };
        let addrs: Vec<String> = mail::address::parse_list(&line)
            .into_iter()
            .map(|a| a.addr)
            .collect();
        let _ = writeln!(out, "{}", addrs.join("\t"));
    }
}
