//! # NAME
//! address — RFC 822 address lists, quoting and local parts
//!
//! ## SYNOPSIS
//! ```
//! use mail::address::{parse_list, internalize, externalize, split_localpart, strip_extension};
//! let value = b"Joe (home) <joe@example.com>, \"john doe\"@example.com";
//! let list = parse_list(value);
//! assert_eq!(list[0].addr, "joe@example.com");
//! assert_eq!(list[1].addr, "john doe@example.com");
//! assert_eq!(internalize("\"john doe\"@example.com"), "john doe@example.com");
//! assert_eq!(externalize("john doe@example.com"), "\"john doe\"@example.com");
//! assert_eq!(split_localpart("\"a@b\"@c"), ("\"a@b\"", Some("c")));
//! assert_eq!(strip_extension("user+foo", "+").0, "user");
//! ```
//!
//! ## DESCRIPTION
//! [`scan`] cuts a header value into RFC 822 tokens: atoms, quoted
//! strings, comments, domain literals and the specials. [`parse_list`]
//! groups them into addresses the way Postfix's tok822 parser does for
//! `To:`, `Cc:`, `From:` and the other address headers: it reads the
//! tokens from right to left and is lenient with broken input, so that
//! every string yields the addresses Postfix would extract from it:
//!
//! * `Name <addr>`: the address is what lies between the last `>` and the
//!   nearest `<` before it, whatever it contains (`<a@b, c@d>` is one
//!   address, `a@b,c@d`); the phrase before it is the display name;
//!   a `>` without a `<` before it makes everything before it one
//!   address, separators included;
//! * without angle brackets, words joined by `@`, `.`, `:`, `<`, `)` and
//!   `]` form one address and two adjacent words start a new one, so
//!   `John Doe john@x` is three addresses;
//! * `name: a, b;` is a group. Once a `;` has been seen (reading from
//!   the right), every `:` ends a group name, which reaches back to the
//!   previous `,` whatever it holds; before that, `:` is part of an
//!   address (`x:y@z`), or ends the display name of `x: Name <a@b>`;
//! * comments are not part of an address; `<>` yields no address; an
//!   unterminated quoted string, comment or domain literal ends at the
//!   end of the value (a literal gets its `]`).
//!
//! Each [`Address`] keeps the byte span of its tokens in the input, so
//! that [`rewrite_list`] can replace an address in place and keep the
//! display name, the comments and the layout of the header.
//!
//! The internal form of an address is unquoted (`john doe@example.com`);
//! the external form quotes the local part when RFC 822 requires it
//! (`"john doe"@example.com`). [`internalize`] and [`externalize`] convert
//! between the two. Bytes above 127 are ordinary text (SMTPUTF8); control
//! characters and the specials force quoting.
//!
//! [`split_localpart`] splits at the last `@` outside quotes;
//! [`strip_extension`] removes a `recipient_delimiter` extension with
//! Postfix's exceptions.
//!
//! ## BUGS
//! The strings of an [`Address`] are converted from the input bytes with
//! `String::from_utf8_lossy`; spans always refer to the original bytes, so
//! an in-place rewrite never damages the bytes around an address.
//!
//! ## SEE ALSO
//! RFC 822 section 6, RFC 5322 section 3.4, [`crate::header`]

use std::ops::Range;

/// The default `header_address_token_limit`: tokens past this are
/// discarded.
pub const DEFAULT_TOKEN_LIMIT: usize = 10240;

/// What kind of token [`scan`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A run of ordinary characters (backslash escapes included).
    Atom,
    /// `"..."`; the span includes the quotes (the closing one may be
    /// missing at the end of the input).
    Quoted,
    /// `(...)`, nested; the span includes the parentheses.
    Comment,
    /// `[...]`; the span includes the brackets.
    DomainLiteral,
    /// One of the specials `<>@,;:.)]`.
    Op(u8),
}

/// One token of a header value, as a byte range of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

impl Token {
    /// The token's text: quotes removed and backslash escapes resolved
    /// for atoms and quoted strings, the inside of a comment, a domain
    /// literal with its brackets, an operator as itself.
    pub fn text(&self, input: &[u8]) -> Vec<u8> {
        let raw = input.get(self.span.clone()).unwrap_or(&[]);
        match self.kind {
            TokenKind::Atom => unescape(raw),
            TokenKind::Quoted => {
                let inner = raw.strip_prefix(b"\"").unwrap_or(raw);
                let inner = strip_closing(inner, b'"');
                unescape(inner)
            }
            TokenKind::Comment => {
                let inner = raw.strip_prefix(b"(").unwrap_or(raw);
                strip_closing(inner, b')').to_vec()
            }
            TokenKind::DomainLiteral => {
                let mut v = raw.to_vec();
                if strip_closing(raw, b']').len() == raw.len() {
                    v.push(b']');
                }
                v
            }
            TokenKind::Op(_) => raw.to_vec(),
        }
    }

    fn is_word(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Atom | TokenKind::Quoted | TokenKind::DomainLiteral
        )
    }

    fn is_op(&self, op: u8) -> bool {
        self.kind == TokenKind::Op(op)
    }
}

/// Remove a closing delimiter unless it is escaped by a backslash.
fn strip_closing(s: &[u8], close: u8) -> &[u8] {
    match s.split_last() {
        Some((&last, rest)) if last == close => {
            let backslashes = rest.iter().rev().take_while(|&&c| c == b'\\').count();
            if backslashes % 2 == 0 { rest } else { s }
        }
        _ => s,
    }
}

/// Resolve `\x` to `x`; a lone trailing backslash is dropped.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter();
    while let Some(&c) = it.next() {
        if c == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Operators that are tokens of their own outside quotes and comments.
/// `(`, `"` and `[` open a comment, a quoted string, a literal.
const OPERATORS: &[u8] = b"<>@,;:.)]";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Cut `input` into tokens; at most `limit` tokens are returned, the
/// rest of the input is ignored (Postfix's `header_address_token_limit`).
pub fn scan(input: &[u8], limit: usize) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let n = input.len();
    while i < n && tokens.len() < limit {
        let c = input[i];
        let start = i;
        if is_space(c) {
            i += 1;
            continue;
        }
        let kind = match c {
            b'(' => {
                let mut depth = 0usize;
                while i < n {
                    match input[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                TokenKind::Comment
            }
            b'"' | b'[' => {
                let close = if c == b'"' { b'"' } else { b']' };
                i += 1;
                while i < n {
                    match input[i] {
                        b'\\' => i += 1,
                        x if x == close => {
                            i += 1;
                            break;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                if c == b'"' {
                    TokenKind::Quoted
                } else {
                    TokenKind::DomainLiteral
                }
            }
            _ if OPERATORS.contains(&c) => {
                i += 1;
                TokenKind::Op(c)
            }
            _ => {
                while i < n {
                    let x = input[i];
                    if x == b'\\' {
                        i += 2;
                        continue;
                    }
                    if is_space(x) || OPERATORS.contains(&x) || matches!(x, b'(' | b'"' | b'[') {
                        break;
                    }
                    i += 1;
                }
                TokenKind::Atom
            }
        };
        let end = i.min(n);
        i = end;
        tokens.push(Token {
            kind,
            span: start..end,
        });
    }
    tokens
}

/// A comment that belongs to an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// Byte range of the comment, parentheses included.
    pub span: Range<usize>,
    /// The text between the parentheses.
    pub text: String,
}

/// One address of a list, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The address in internal (unquoted) form, source route included:
    /// `<@a,@b:u@d>` gives `@a,@b:u@d` (see [`strip_source_route`]).
    pub addr: String,
    /// Byte range of the address's first to last token in the input;
    /// inside the angle brackets when there are any.
    pub span: Range<usize>,
    /// Byte range of the whole mailbox: display name, angle brackets,
    /// the address itself.
    pub mailbox: Range<usize>,
    /// Whether the address was written in angle brackets.
    pub angle: bool,
    /// The phrase before `<...>`, words separated by one space, quotes
    /// removed.
    pub display_name: Option<String>,
    /// The name of the group (`name: a, b;`) that holds the address.
    pub group: Option<String>,
    /// Comments inside or after the mailbox (up to the next address).
    pub comments: Vec<Comment>,
}

impl Address {
    /// The address in external (quoted) form.
    pub fn external(&self) -> String {
        externalize(&self.addr)
    }
}

/// Parse an address header value with the default token limit.
pub fn parse_list(value: impl AsRef<[u8]>) -> Vec<Address> {
    parse_list_limit(value.as_ref(), DEFAULT_TOKEN_LIMIT)
}

/// What a stretch of tokens turned out to be during the reverse parse.
struct Partial {
    /// Indexes into the non-comment token list.
    addr: Range<usize>,
    phrase: Option<Range<usize>>,
    /// Index of `<` and `>` when the address was in angle brackets.
    angle: Option<(usize, usize)>,
    /// The group name span.
    group: Option<Range<usize>>,
}

impl Partial {
    fn new(addr: Range<usize>) -> Partial {
        Partial {
            addr,
            phrase: None,
            angle: None,
            group: None,
        }
    }
}

/// Parse an address header value; at most `token_limit` tokens are read.
pub fn parse_list_limit(value: &[u8], token_limit: usize) -> Vec<Address> {
    let all = scan(value, token_limit);
    let words: Vec<&Token> = all
        .iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .collect();
    // Nearest '<' at or left of each position, for the '>' search.
    let mut nearest_lt = Vec::with_capacity(words.len());
    let mut last = None;
    for (i, t) in words.iter().enumerate() {
        if t.is_op(b'<') {
            last = Some(i);
        }
        nearest_lt.push(last);
    }

    let mut found: Vec<Partial> = Vec::new();
    // Once a ';' has been seen (reading right to left), every ':' ends a
    // group name, as in Postfix; `members` is where the group's
    // addresses start in `found`.
    let mut in_group = false;
    let mut members = 0;
    let mut i = words.len();
    while i > 0 {
        let t = words[i - 1];
        match t.kind {
            TokenKind::Op(b',') => i -= 1,
            TokenKind::Op(b';') => {
                if !in_group {
                    members = found.len();
                }
                in_group = true;
                i -= 1;
            }
            TokenKind::Op(b':') if in_group => {
                // Group name: everything left up to a ','.
                let end = i - 1;
                let mut j = end;
                while j > 0 && !words[j - 1].is_op(b',') {
                    j -= 1;
                }
                if j < end {
                    for p in &mut found[members..] {
                        p.group.get_or_insert(j..end);
                    }
                }
                members = found.len();
                i = j;
            }
            TokenKind::Op(b'>') => {
                let gt = i - 1;
                match nearest_lt[gt] {
                    Some(lt) => {
                        let end = lt;
                        let mut j = end;
                        while j > 0
                            && !matches!(
                                words[j - 1].kind,
                                TokenKind::Op(b',' | b';' | b':' | b'>')
                            )
                        {
                            j -= 1;
                        }
                        if lt + 1 < gt {
                            found.push(Partial {
                                phrase: (j < end).then_some(j..end),
                                angle: Some((lt, gt)),
                                ..Partial::new(lt + 1..gt)
                            });
                        }
                        // A ':' that ended the phrase outside a group
                        // goes with it.
                        i = if j > 0 && !in_group && words[j - 1].is_op(b':') {
                            j - 1
                        } else {
                            j
                        };
                    }
                    None => {
                        // No '<': everything before the '>' is the
                        // address, separators included.
                        if gt > 0 {
                            found.push(Partial::new(0..gt));
                        }
                        i = 0;
                    }
                }
            }
            _ => {
                // A bare address: grab leftwards while tokens glue.
                let end = i;
                let mut j = i - 1;
                while j > 0 {
                    let prev = words[j - 1];
                    let cur = words[j];
                    let glue = match prev.kind {
                        TokenKind::Op(b'@' | b'.' | b'<' | b')' | b']') => true,
                        TokenKind::Op(b':') => !in_group,
                        TokenKind::Op(_) => false,
                        _ => !cur.is_word(),
                    };
                    if !glue {
                        break;
                    }
                    j -= 1;
                }
                found.push(Partial::new(j..end));
                i = j;
            }
        }
    }
    found.reverse();

    let span_of = |r: &Range<usize>| -> Range<usize> {
        match (
            words.get(r.start),
            r.end.checked_sub(1).and_then(|e| words.get(e)),
        ) {
            (Some(a), Some(b)) => a.span.start..b.span.end,
            _ => 0..0,
        }
    };
    let mut out: Vec<Address> = found
        .iter()
        .map(|p| {
            let mut addr = Vec::new();
            for t in &words[p.addr.clone()] {
                addr.extend_from_slice(&t.text(value));
            }
            let span = span_of(&p.addr);
            let mut mailbox = span.clone();
            if let Some((lt, gt)) = p.angle {
                mailbox = words[lt].span.start..words[gt].span.end;
            }
            if let Some(ph) = &p.phrase {
                mailbox.start = span_of(ph).start;
            }
            Address {
                addr: String::from_utf8_lossy(&addr).into_owned(),
                span,
                mailbox,
                angle: p.angle.is_some(),
                display_name: p
                    .phrase
                    .as_ref()
                    .map(|r| phrase_text(value, &words[r.clone()])),
                group: p
                    .group
                    .as_ref()
                    .map(|r| phrase_text(value, &words[r.clone()])),
                comments: Vec::new(),
            }
        })
        .collect();

    // Attach each comment to the mailbox that holds it; else to the
    // mailbox before it unless a separator intervenes; else to the next.
    // Mailboxes are disjoint and in order, so binary searches will do.
    let separators: Vec<Range<usize>> = words
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Op(b',' | b';')))
        .map(|t| t.span.clone())
        .collect();
    for c in all.iter().filter(|t| t.kind == TokenKind::Comment) {
        let k = out.partition_point(|a| a.mailbox.end <= c.span.start);
        let inside = out.get(k).is_some_and(|a| a.mailbox.start <= c.span.start);
        let holder = if inside {
            Some(k)
        } else {
            let prev = k.checked_sub(1);
            let next = (k < out.len()).then_some(k);
            match (prev, next) {
                (Some(p), Some(n)) => {
                    let s = separators.partition_point(|r| r.start < out[p].mailbox.end);
                    let separated = separators.get(s).is_some_and(|r| r.end <= c.span.start);
                    Some(if separated { n } else { p })
                }
                (p, n) => p.or(n),
            }
        };
        if let Some(k) = holder {
            out[k].comments.push(Comment {
                span: c.span.clone(),
                text: String::from_utf8_lossy(&c.text(value)).into_owned(),
            });
        }
    }
    out
}

/// Words of a phrase joined by single spaces; `.` joins without spaces.
fn phrase_text(input: &[u8], toks: &[&Token]) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut glue = true;
    for t in toks {
        let dot = t.is_op(b'.');
        if !out.is_empty() && !glue && !dot {
            out.push(b' ');
        }
        out.extend_from_slice(&t.text(input));
        glue = dot;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replace addresses in a header value. `f` gets each address and
/// returns the new text (external form) for its span, or `None` to keep
/// it. Comments that were inside a replaced span are kept after the new
/// address, separated by a space, as Postfix does.
pub fn rewrite_list(
    value: &[u8],
    addrs: &[Address],
    mut f: impl FnMut(&Address) -> Option<String>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 32);
    let mut pos = 0;
    for a in addrs {
        let Some(new) = f(a) else { continue };
        if a.span.start < pos || a.span.end > value.len() || a.span.start > a.span.end {
            continue;
        }
        out.extend_from_slice(&value[pos..a.span.start]);
        out.extend_from_slice(new.as_bytes());
        for c in &a.comments {
            if a.span.start <= c.span.start && c.span.end <= a.span.end {
                out.push(b' ');
                out.extend_from_slice(&value[c.span.clone()]);
            }
        }
        pos = a.span.end;
    }
    out.extend_from_slice(value.get(pos..).unwrap_or(&[]));
    out
}

/// Remove an RFC 821 source route: `@a,@b:user@dom` gives `user@dom`.
/// An address that does not start with `@` or has nothing after the
/// colon is returned as it is.
pub fn strip_source_route(addr: &str) -> &str {
    if !addr.starts_with('@') {
        return addr;
    }
    match addr.find(':') {
        Some(colon) if colon + 1 < addr.len() => &addr[colon + 1..],
        _ => addr,
    }
}

/// External to internal form: unquote the local part. Quotes are
/// removed and `\x` inside quotes becomes `x`; the domain (after the
/// last `@` outside quotes) is copied as it is.
pub fn internalize(external: &str) -> String {
    let (local, domain) = split_localpart(external);
    let mut out = String::with_capacity(external.len());
    let mut quoted = false;
    let mut it = local.chars();
    while let Some(c) = it.next() {
        if quoted {
            match c {
                '\\' => {
                    if let Some(n) = it.next() {
                        out.push(n);
                    }
                }
                '"' => quoted = false,
                _ => out.push(c),
            }
        } else if c == '"' {
            quoted = true;
        } else {
            out.push(c);
        }
    }
    if let Some(d) = domain {
        out.push('@');
        out.push_str(d);
    }
    out
}

/// Characters that force quoting of a local part (besides controls and
/// white space).
const SPECIALS: &[char] = &[
    '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '.', '[', ']',
];

/// Whether a local part can be written without quotes: a non-empty
/// dot-string of atoms. Bytes above 127 are ordinary text.
pub fn is_dot_string(local: &str) -> bool {
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c == '.' || !(SPECIALS.contains(&c) || c.is_ascii_control() || c == ' '))
}

/// Internal to external form: quote the local part (everything before
/// the last `@`) when it is not a dot-string; `"` and `\` are escaped.
/// `john doe@example.com` gives `"john doe"@example.com`, `@b` gives
/// `""@b`.
pub fn externalize(internal: &str) -> String {
    let (local, domain) = match internal.rfind('@') {
        Some(at) => (&internal[..at], Some(&internal[at + 1..])),
        None => (internal, None),
    };
    let mut out = String::with_capacity(internal.len() + 2);
    if is_dot_string(local) {
        out.push_str(local);
    } else {
        out.push('"');
        for c in local.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    if let Some(d) = domain {
        out.push('@');
        out.push_str(d);
    }
    out
}

/// Split an address at the last `@` that is not inside a quoted string
/// or escaped: `("local", Some("domain"))`, or `(addr, None)` without one.
/// Quotes are kept; works on internal and external forms.
pub fn split_localpart(addr: &str) -> (&str, Option<&str>) {
    let mut quoted = false;
    let mut escaped = false;
    let mut at = None;
    for (i, c) in addr.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '@' if !quoted => at = Some(i),
            _ => {}
        }
    }
    match at {
        Some(i) => (&addr[..i], Some(&addr[i + 1..])),
        None => (addr, None),
    }
}

/// The extension found by [`strip_extension`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The delimiter character that started the extension.
    pub delimiter: char,
    /// The text after the delimiter.
    pub extension: &'a str,
}

/// Local parts that are never split (compared without case).
const NEVER_SPLIT: &[&str] = &["postmaster", "mailer-daemon", "double-bounce"];

/// Split a local part at the first character that is in `delimiters`
/// (`recipient_delimiter`, one or more characters). Not split: an empty
/// delimiter set, `postmaster`, `MAILER-DAEMON`, `double-bounce`, a
/// local part that starts with a delimiter or has none, and, when `-`
/// is a delimiter, `owner-*` and `*-request`.
pub fn strip_extension<'a>(local: &'a str, delimiters: &str) -> (&'a str, Option<Extension<'a>>) {
    let keep = (local, None);
    if delimiters.is_empty() || NEVER_SPLIT.iter().any(|n| local.eq_ignore_ascii_case(n)) {
        return keep;
    }
    if delimiters.contains('-') {
        let lower = local.to_ascii_lowercase();
        if lower.starts_with("owner-") || (lower.len() > 8 && lower.ends_with("-request")) {
            return keep;
        }
    }
    match local.char_indices().find(|(_, c)| delimiters.contains(*c)) {
        Some((0, _)) | None => keep,
        Some((i, c)) => (
            &local[..i],
            Some(Extension {
                delimiter: c,
                extension: &local[i + c.len_utf8()..],
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(v: &str) -> Vec<String> {
        parse_list(v.as_bytes())
            .into_iter()
            .map(|a| a.addr)
            .collect()
    }

    /// Header value -> the recipients Postfix 3.7.11 extracted from
    /// `To:` with `sendmail -t` (before trivial-rewrite appended
    /// @myorigin), recorded from a private instance.
    const POSTFIX_EXTRACTED: &[(&str, &[&str])] = &[
        (
            "\"john doe\"@example.com, Name <a@b>, list: x, y;, (c) bare, <@r1,@r2:u@d>",
            &[
                "john doe@example.com",
                "a@b",
                "x",
                "y",
                "bare",
                "@r1,@r2:u@d",
            ],
        ),
        ("John Doe john@x", &["John", "Doe", "john@x"]),
        ("John Doe", &["John", "Doe"]),
        ("<a@b", &["<a@b"]),
        ("a@b>", &["a@b"]),
        ("Name <a@b> trailing", &["a@b", "trailing"]),
        ("<a@b> <c@d>", &["a@b", "c@d"]),
        ("a@b c@d", &["a@b", "c@d"]),
        ("\"unterminated", &["unterminated"]),
        ("(unterminated comment a@b", &[]),
        ("a@b, , ,c@d", &["a@b", "c@d"]),
        ("a.@b", &["a.@b"]),
        ("a..b@c", &["a..b@c"]),
        ("<>", &[]),
        ("\"\" <a@b>", &["a@b"]),
        ("a@[1.2.3.4]", &["a@[1.2.3.4]"]),
        ("a(comment)@b (x)", &["a@b"]),
        ("a @ b . c", &["a@b.c"]),
        ("@", &["@"]),
        ("a@", &["a@"]),
        ("@b", &["@b"]),
        ("list:;", &[]),
        ("list: a", &["list:a"]),
        (";", &[]),
        ("\"quoted\\\"q\"@x", &["quoted\"q@x"]),
        ("a\\ b@c", &["a b@c"]),
        ("Name <a@b, c@d>", &["a@b,c@d"]),
        ("x:y@z", &["x:y@z"]),
        ("a@b@c", &["a@b@c"]),
        ("<<a@b>>", &["a@b>"]),
        ("Joe <joe@x> (comment)", &["joe@x"]),
        ("=?utf-8?q?J=C3=B6?= <j@x>", &["j@x"]),
        ("a%b@c", &["a%b@c"]),
        ("a!b", &["a!b"]),
        ("\"a b\"", &["a b"]),
        ("[1.2.3.4]", &["[1.2.3.4]"]),
        ("a@b.", &["a@b."]),
        ("Name <a@b>, Other <c@d>", &["a@b", "c@d"]),
        ("\"John Doe\" <\"j d\"@x>", &["j d@x"]),
        ("<a@b>>", &["a@b>"]),
        ("a@b)", &["a@b)"]),
        ("Joe (x) Smith <j@x>", &["j@x"]),
        ("g1: a, g2: b;;", &["a", "b"]),
        ("a, b; c", &["a", "b", "c"]),
        ("\"a\".\"b\"@c", &["a.b@c"]),
        ("\"a\"b@c", &["a", "b@c"]),
        ("a\"b\"@c", &["a", "b@c"]),
        (" <a@b> Name", &["a@b", "Name"]),
        ("a@b Name", &["a@b", "Name"]),
        ("\"@\"@x", &["@@x"]),
        ("\"a\"@\"b\"", &["a@b"]),
        ("a@\"b\"", &["a@b"]),
        ("<@r:u@d>", &["@r:u@d"]),
        ("<@r1,@r2:u>", &["@r1,@r2:u"]),
        ("<u@d@e:f>", &["u@d@e:f"]),
        (".a@b", &[".a@b"]),
        ("a@.b", &["a@.b"]),
        ("a@b..c", &["a@b..c"]),
        ("a@(comment)b", &["a@b"]),
        ("Name <a@b>,<c@d>", &["a@b", "c@d"]),
        ("\"q1\" \"q2\" <a@b>", &["a@b"]),
        ("a(c)b@d", &["a", "b@d"]),
        ("a b c <d@e> f g", &["d@e", "f", "g"]),
        (",,,", &[]),
        ("<a> <b> <c>", &["a", "b", "c"]),
        ("x <a@b> y <c@d>", &["a@b", "c@d"]),
        ("a@b <c@d>", &["c@d"]),
        ("x: Name <a@b>", &["x", "a@b"]),
        ("list: Name <a@b>;", &["a@b"]),
        ("\"a\" <b@c> \"d\"", &["b@c", "d"]),
        ("a@b <c@d", &["a@b<c@d"]),
        ("a <b", &["a<b"]),
        ("Name <>", &[]),
        ("<a@b>,", &["a@b"]),
        ("a,b", &["a", "b"]),
        ("<a@b>c@d", &["a@b", "c@d"]),
        ("a:b <c@d>;", &["c@d"]),
        ("a;b", &["a", "b"]),
        ("a.b.c", &["a.b.c"]),
        ("a . b", &["a.b"]),
        ("a@b.c d@e.f", &["a@b.c", "d@e.f"]),
        ("(a (b) c) x@y", &["x@y"]),
        ("[1.2.3.4", &["[1.2.3.4]"]),
        ("\"a\\", &["a"]),
        ("a\\", &["a"]),
        ("a@b c:d@e;", &["d@e"]),
        ("x:a@b", &["x:a@b"]),
        ("x: <a@b>", &["x", "a@b"]),
        (">a@b", &["a@b"]),
        ("a>b@c", &["a", "b@c"]),
        ("a<b@c", &["a<b@c"]),
        ("Name <a@b> <c@d>", &["a@b", "c@d"]),
        ("u@[a b]", &["u@[a b]"]),
        ("a@b,@c", &["a@b", "@c"]),
        ("<@a:b@c>, d", &["@a:b@c", "d"]),
        ("\"\" x@y", &["", "x@y"]),
        ("a@b (c) d@e", &["a@b", "d@e"]),
        ("a.(c)b@d", &["a.b@d"]),
        ("a.<b@c>", &["b@c"]),
        ("@a:b@c", &["@a:b@c"]),
        ("x y: a@b;", &["a@b"]),
        (": a@b;", &["a@b"]),
        ("a@b: c@d;", &["c@d"]),
        ("r\u{f6}\u{f6}t, x\u{1}y", &["r\u{f6}\u{f6}t", "x\u{1}y"]),
    ];

    #[test]
    fn extracts_what_postfix_extracts() {
        for (value, want) in POSTFIX_EXTRACTED {
            assert_eq!(addrs(value), *want, "header value {value:?}");
        }
    }

    /// 500 generated values replayed against what Postfix extracted
    /// from them (testdata/postfix_address_lists.txt says how).
    #[test]
    fn extracts_what_postfix_extracts_from_generated_values() {
        let data = include_str!("../testdata/postfix_address_lists.txt");
        let mut cases: Vec<(&str, Vec<&str>, usize)> = Vec::new();
        let mut message = 0;
        for line in data.lines() {
            if line.starts_with("M ") {
                message += 1;
            } else if let Some(v) = line.strip_prefix("V ") {
                cases.push((v, Vec::new(), message));
            } else if let Some(a) = line.strip_prefix("A ") {
                cases.last_mut().expect("A after V").1.push(a);
            }
        }
        assert_eq!(cases.len(), 500);
        let mut seen = std::collections::HashSet::new();
        let mut current = 0;
        for (value, want, msg) in &cases {
            if *msg != current {
                seen.clear();
                current = *msg;
            }
            // Postfix drops a recipient already seen in the message; the
            // unqualified ones get @myorigin appended first.
            let got: Vec<String> = addrs(value)
                .into_iter()
                .filter(|a| {
                    let key = if a.contains('@') {
                        a.clone()
                    } else {
                        format!("{a}@ref.example")
                    };
                    seen.insert(key)
                })
                .collect();
            assert_eq!(got, *want, "header value {value:?}");
        }
    }

    #[test]
    fn display_names_groups_comments_spans() {
        let v = b"Joe (x) \"Q. Smith\" <j@x>, list: (c1) a (c2), b;";
        let l = parse_list(v);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].display_name.as_deref(), Some("Joe Q. Smith"));
        assert!(l[0].angle);
        assert_eq!(&v[l[0].span.clone()], b"j@x");
        assert_eq!(&v[l[0].mailbox.clone()], b"Joe (x) \"Q. Smith\" <j@x>");
        assert_eq!(l[0].comments[0].text, "x");
        assert_eq!(l[1].group.as_deref(), Some("list"));
        assert_eq!(l[2].group.as_deref(), Some("list"));
        assert_eq!(
            l[1].comments
                .iter()
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>(),
            ["c1", "c2"]
        );
        assert_eq!(&v[l[1].span.clone()], b"a");
        let l = parse_list(b"g1: a, g2: b;;");
        assert_eq!(l[0].group.as_deref(), Some("g1"));
        assert_eq!(l[1].group.as_deref(), Some("g2"));
        // An old-style comment name stays with its address.
        let l = parse_list(b"(c) bare, x@y (Name)");
        assert_eq!(l[0].comments[0].text, "c");
        assert_eq!(l[1].comments[0].text, "Name");
        assert_eq!(
            parse_list(b"a.<b@c>")[0].display_name.as_deref(),
            Some("a.")
        );
        let l = parse_list(b"a, (c) b");
        assert!(l[0].comments.is_empty());
        assert_eq!(l[1].comments[0].text, "c");
    }

    #[test]
    fn rewrite_in_place_keeps_layout() {
        let v = b"Joe (x) <joe>, \"A B\" <ab> (c),\n\tbare, a(comment)@b";
        let l = parse_list(v);
        let out = rewrite_list(v, &l, |a| {
            (!a.addr.contains('@')).then(|| externalize(&format!("{}@example.com", a.addr)))
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Joe (x) <joe@example.com>, \"A B\" <ab@example.com> (c),\n\tbare@example.com, a(comment)@b"
        );
        let out = rewrite_list(v, &l, |a| (a.addr == "a@b").then(|| "new@x".to_string()));
        assert!(out.ends_with(b"bare, new@x (comment)"));
        let v = b"\"john doe\"@x";
        let l = parse_list(v);
        let out = rewrite_list(v, &l, |a| Some(externalize(&a.addr.replace('x', "y"))));
        assert_eq!(out, b"\"john doe\"@y");
    }

    #[test]
    fn token_limit_discards_the_rest() {
        assert_eq!(addrs("a, b, c"), ["a", "b", "c"]);
        let l = parse_list_limit(b"a, b, c", 3);
        assert_eq!(
            l.iter().map(|a| a.addr.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(parse_list_limit(b"a, b", 0).is_empty());
    }

    #[test]
    fn scanner_tokens() {
        let v = b"a\\ b (c (d) \\) e) \"q\\\"\" [1.2] <>@,;:.)]";
        let t = scan(v, 100);
        let kinds: Vec<_> = t.iter().map(|t| t.kind).collect();
        use TokenKind::*;
        assert_eq!(
            kinds,
            [
                Atom,
                Comment,
                Quoted,
                DomainLiteral,
                Op(b'<'),
                Op(b'>'),
                Op(b'@'),
                Op(b','),
                Op(b';'),
                Op(b':'),
                Op(b'.'),
                Op(b')'),
                Op(b']')
            ]
        );
        assert_eq!(t[0].text(v), b"a b");
        assert_eq!(t[1].text(v), b"c (d) \\) e");
        assert_eq!(t[2].text(v), b"q\"");
        assert_eq!(t[3].text(v), b"[1.2]");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\\".to_vec(),
            b"\"".to_vec(),
            b"(".to_vec(),
            b")".to_vec(),
            b"[".to_vec(),
            b"]".to_vec(),
            b"<".to_vec(),
            b">".to_vec(),
            b"\"\\".to_vec(),
            b"(\\".to_vec(),
            b"[\\".to_vec(),
            b"\xff\xfe<\xc3>".to_vec(),
            b"\0@\0".to_vec(),
            b":::;;;,,,<<<>>>".to_vec(),
            b";:".to_vec(),
            b"a;:b".to_vec(),
        ];
        cases.push(b">".repeat(100_000));
        cases.push(b"<".repeat(100_000));
        cases.push(b"(".repeat(100_000));
        cases.push(b"a;".repeat(50_000));
        cases.push(b"a:".repeat(50_000));
        cases.push(b"<a> ".repeat(50_000));
        for c in &cases {
            let l = parse_list(c);
            for a in &l {
                assert!(a.span.end <= c.len() && a.mailbox.end <= c.len());
            }
            let _ = rewrite_list(c, &l, |a| Some(a.external()));
            let _ = parse_list_limit(c, usize::MAX);
        }
    }

    #[test]
    fn quoting() {
        let cases: &[(&str, &str)] = &[
            ("john doe@example.com", "\"john doe\"@example.com"),
            ("user@example.com", "user@example.com"),
            ("a.b@c", "a.b@c"),
            ("a.@b", "\"a.\"@b"),
            (".a@b", "\".a\"@b"),
            ("a..b@c", "\"a..b\"@c"),
            ("@b", "\"\"@b"),
            ("", "\"\""),
            ("a@b@c", "\"a@b\"@c"),
            ("x:y@z", "\"x:y\"@z"),
            ("list:a", "\"list:a\""),
            ("<a@b", "\"<a\"@b"),
            ("quoted\"q@x", "\"quoted\\\"q\"@x"),
            ("back\\slash@x", "\"back\\\\slash\"@x"),
            ("[1.2.3.4]", "\"[1.2.3.4]\""),
            ("r\u{f6}\u{f6}t@x", "r\u{f6}\u{f6}t@x"),
            ("x\u{1}y", "\"x\u{1}y\""),
            ("a+b=c/d!e%f@x", "a+b=c/d!e%f@x"),
            ("u@[1.2.3.4]", "u@[1.2.3.4]"),
        ];
        for (int, ext) in cases {
            assert_eq!(externalize(int), *ext, "externalize {int:?}");
            if !int.is_empty() && *int != "list:a" && *int != "[1.2.3.4]" {
                assert_eq!(internalize(ext), *int, "internalize {ext:?}");
            }
        }
        assert_eq!(internalize("\"a\"\"b\"@c"), "ab@c");
        assert_eq!(internalize("\"unterminated@x"), "unterminated@x");
        assert_eq!(internalize("a\\b@c"), "a\\b@c");
        assert_eq!(internalize("\"a@b\""), "a@b");
        assert_eq!(internalize("\"\\"), "");
    }

    #[test]
    fn localpart_split() {
        let cases: &[(&str, (&str, Option<&str>))] = &[
            ("user@example.com", ("user", Some("example.com"))),
            ("a@b@c", ("a@b", Some("c"))),
            ("\"a@b\"@c", ("\"a@b\"", Some("c"))),
            ("\"a@b\"", ("\"a@b\"", None)),
            ("a\\@b", ("a\\@b", None)),
            ("user", ("user", None)),
            ("@", ("", Some(""))),
            ("", ("", None)),
            ("\"unterminated@x", ("\"unterminated@x", None)),
            ("r\u{f6}t@d\u{f6}m", ("r\u{f6}t", Some("d\u{f6}m"))),
        ];
        for (a, want) in cases {
            assert_eq!(split_localpart(a), *want, "{a:?}");
        }
    }

    #[test]
    fn extensions() {
        type Case<'a> = (&'a str, &'a str, &'a str, Option<(char, &'a str)>);
        let cases: &[Case] = &[
            ("user+foo", "+", "user", Some(('+', "foo"))),
            ("user+foo+bar", "+", "user", Some(('+', "foo+bar"))),
            ("user-foo+bar", "+-", "user", Some(('-', "foo+bar"))),
            ("user", "+", "user", None),
            ("+foo", "+", "+foo", None),
            ("user+", "+", "user", Some(('+', ""))),
            ("user+foo", "", "user+foo", None),
            ("postmaster+x", "+", "postmaster", Some(('+', "x"))),
            ("Postmaster", "+", "Postmaster", None),
            ("MAILER-DAEMON", "-", "MAILER-DAEMON", None),
            ("owner-list", "-", "owner-list", None),
            ("list-request", "-", "list-request", None),
            ("owner+list", "+", "owner", Some(('+', "list"))),
            ("-request", "-", "-request", None),
            ("a\u{e9}b", "\u{e9}", "a", Some(('\u{e9}', "b"))),
        ];
        for (local, delims, base, ext) in cases {
            let (b, e) = strip_extension(local, delims);
            assert_eq!(b, *base, "{local:?} {delims:?}");
            assert_eq!(
                e.map(|e| (e.delimiter, e.extension)),
                *ext,
                "{local:?} {delims:?}"
            );
        }
    }

    #[test]
    fn source_routes() {
        assert_eq!(strip_source_route("@a,@b:u@d"), "u@d");
        assert_eq!(strip_source_route("@a:"), "@a:");
        assert_eq!(strip_source_route("u@d"), "u@d");
        assert_eq!(strip_source_route("@d"), "@d");
    }
}
