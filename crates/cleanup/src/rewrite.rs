//! # NAME
//! rewrite — addresses in message headers
//!
//! ## SYNOPSIS
//! ```ignore
//! if let Some(new) = rewrite_header(&mut st, &mut cx, "local", Class::HeaderRecipient, &header) {
//!     header = new;
//! }
//! ```
//!
//! ## DESCRIPTION
//! Each address of a sender header (`From:`, `Sender:`, `Reply-To:`,
//! `Errors-To:`, `Return-Receipt-To:`, their `Resent-` forms...) or of a
//! recipient header (`To:`, `Cc:`, `Bcc:`, `Apparently-To:`, `Resent-To:`...)
//! is rewritten to canonical form by trivial-rewrite(8) in the header
//! rewriting context (`local` for local mail, `remote` for mail from other
//! hosts when `remote_header_rewrite_domain` is set), then mapped with the
//! canonical tables and masqueraded for the `header_sender` or
//! `header_recipient` class ([`crate::addr::map_address`]).
//!
//! Only the addresses change: display names, comments and group names
//! stay as written ([`mail::address::rewrite_list`]). A header in which
//! an address changed is laid out again as Postfix lays it out: one space
//! after the colon, the addresses joined with `, `, and a new line (with
//! a TAB) before an address that would take the line to 70 characters or
//! more. A header where nothing changed is left exactly as it came.
//!
//! ## SEE ALSO
//! ADDRESS_REWRITING_README, [`crate::addr`]

use mail::address::{self, TokenKind};

use crate::addr::{Class, Ctx, map_address, rewrite};
use crate::state::State;

/// Rewrites the addresses of one logical header (`Name: value`, folded
/// lines joined with `\n`, no final newline); `None` when nothing changed.
pub fn rewrite_header(
    st: &mut State,
    cx: &mut Ctx<'_>,
    context: &str,
    class: Class,
    header: &[u8],
) -> Option<Vec<u8>> {
    let colon = header.iter().position(|&c| c == b':')?;
    let name = &header[..colon];
    let value = &header[colon + 1..];
    let addrs = address::parse_list(value);
    let mut changed = false;
    let new_value = address::rewrite_list(value, &addrs, |a| {
        let mut new = rewrite(st, cx.rw, context, &a.addr);
        map_address(st, cx, class, &mut new);
        if new == a.addr {
            return None;
        }
        changed = true;
        Some(address::externalize(&new))
    });
    if !changed {
        return None;
    }
    let name = trim_end_blanks(name);
    Some(reflow(name, &new_value))
}

fn trim_end_blanks(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    &b[..end]
}

/// Lays out an address header: `name: a, b, c` with a line break before
/// an address that would make the line 70 characters or longer.
pub fn reflow(name: &[u8], value: &[u8]) -> Vec<u8> {
    let toks = address::scan(value, usize::MAX);
    let mut cuts = Vec::new();
    let mut depth = 0usize;
    for t in &toks {
        match t.kind {
            TokenKind::Op(b'<') => depth += 1,
            TokenKind::Op(b'>') => depth = depth.saturating_sub(1),
            TokenKind::Op(b',') if depth == 0 => cuts.push(t.span.start),
            _ => {}
        }
    }
    let mut segments: Vec<Vec<u8>> = Vec::new();
    let mut start = 0;
    for c in cuts.into_iter().chain(std::iter::once(value.len())) {
        segments.push(tidy(&value[start..c.min(value.len())]));
        start = c + 1;
    }
    // One address per line, as Postfix writes them before folding.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let n = segments.len();
    for (i, seg) in segments.into_iter().enumerate() {
        let mut line = Vec::new();
        if i == 0 {
            line.extend_from_slice(name);
            line.extend_from_slice(b": ");
        }
        line.extend_from_slice(&seg);
        if i + 1 < n {
            line.push(b',');
        }
        lines.push(line);
    }
    // Join lines while the output line stays under 70 characters.
    let mut out: Vec<u8> = Vec::new();
    let mut line_start = 0;
    for (i, l) in lines.into_iter().enumerate() {
        if i > 0 {
            if out.len() - line_start + 1 + l.len() < 70 {
                out.push(b' ');
            } else {
                out.extend_from_slice(b"\n\t");
                line_start = out.len();
            }
        }
        out.extend_from_slice(&l);
    }
    out
}

/// An address of a header without the white space around it; a line
/// break inside it, with the blanks around, becomes one space.
fn tidy(seg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        let c = seg[i];
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            let run_start = i;
            while i < seg.len() && matches!(seg[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            let run = &seg[run_start..i];
            if run.contains(&b'\n') || run.contains(&b'\r') {
                out.push(b' ');
            } else {
                out.extend_from_slice(run);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    let start = out
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    out[start..end.max(start)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrmap::testing::FakeRewrite;
    use crate::settings::Settings;
    use crate::tables::{Table, Tables};
    use ipc::cleanup::flags;

    fn run(header: &str, class: Class, context: &str) -> Option<String> {
        let mut s = Settings::for_tests();
        s.masquerade_domains = vec![
            (true, "keep.sub.example".into()),
            (false, "sub.example".into()),
        ];
        let mut t = Tables::empty();
        t.canonical = Some(Table::for_tests(
            "canonical_maps",
            "inline:{old@x.example=new@y.example, joe=joe.user, @olddomain.example=@newdomain.example, \
             {multi@x.example=first@x.example, second@x.example}}",
        ));
        t.sender_canonical = Some(Table::for_tests(
            "sender_canonical_maps",
            "inline:{s@x.example=sender@canon.example}",
        ));
        let mut rw = FakeRewrite::new();
        let mut cx = Ctx {
            s: &s,
            t: &mut t,
            rw: &mut rw,
        };
        let mut st = State::new("QID", flags::MAP_OK, 100);
        rewrite_header(&mut st, &mut cx, context, class, header.as_bytes())
            .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn headers_as_postfix_writes_them() {
        use Class::*;
        let cases: &[(&str, Class, Option<&str>)] = &[
            (
                "From: Sender <s@x.example>",
                HeaderSender,
                Some("From: Sender <sender@canon.example>"),
            ),
            // Recipient headers do not see sender_canonical_maps.
            ("To: s@x.example", HeaderRecipient, None),
            (
                "Reply-To: u@host.sub.example, v@a.keep.sub.example",
                HeaderSender,
                Some("Reply-To: u@sub.example, v@a.keep.sub.example"),
            ),
            (
                "To: Joe <joe>, old@x.example (comment), rc@far.example",
                HeaderRecipient,
                Some("To: Joe <joe.user@host.example>, new@y.example (comment),\n\trc@far.example"),
            ),
            (
                "Cc: list@far.example, \"Quoted Name\" <ext+tag@far.example>, x@olddomain.example",
                HeaderRecipient,
                Some(
                    "Cc: list@far.example, \"Quoted Name\" <ext+tag@far.example>,\n\tx@newdomain.example",
                ),
            ),
            (
                "Sender: multi@x.example",
                HeaderSender,
                Some("Sender: first@x.example"),
            ),
            (
                "To: aaaaaaaaaa@x.example, bbbbbbbbbb@x.example, cccccccccc@x.example, old@x.example, dddddddddd@x.example, eeeeeeeeeeeeeeeeeeeeeeeeee@x.example, ffffffffffffffffffffff@x.example",
                HeaderRecipient,
                Some(
                    "To: aaaaaaaaaa@x.example, bbbbbbbbbb@x.example, cccccccccc@x.example,\n\tnew@y.example, dddddddddd@x.example,\n\teeeeeeeeeeeeeeeeeeeeeeeeee@x.example,\n\tffffffffffffffffffffff@x.example",
                ),
            ),
            (
                "Cc: root@a.sub.example, u@a.sub.example,\n   zz@b.example",
                HeaderRecipient,
                Some("Cc: root@sub.example, u@sub.example, zz@b.example"),
            ),
            // Nothing to change: the header stays as it came.
            ("To:   a@b.example ,\n\tc@d.example", HeaderRecipient, None),
            ("To: undisclosed-recipients:;", HeaderRecipient, None),
            // Groups keep their names.
            (
                "To: team: joe, b@x.example;",
                HeaderRecipient,
                Some("To: team: joe.user@host.example, b@x.example;"),
            ),
            // The remote context qualifies with its own domain.
            (
                "From: user",
                HeaderSender,
                Some("From: user@remote.example"),
            ),
        ];
        for (h, class, want) in cases {
            let ctx = if h.starts_with("From: user") {
                "remote"
            } else {
                "local"
            };
            assert_eq!(run(h, *class, ctx).as_deref(), *want, "{h}");
        }
    }
}
