//! # NAME
//! rfc2047 — decoding of encoded words in headers
//!
//! ## SYNOPSIS
//! ```
//! use mail::rfc2047::decode;
//! assert_eq!(decode(b"=?UTF-8?Q?J=C3=B6rg?= <j@x>"), "J\u{f6}rg <j@x>");
//! assert_eq!(decode(b"=?iso-8859-1?b?Y2Fm6Q==?= =?utf-8?q?_ok?="), "caf\u{e9} ok");
//! assert_eq!(decode(b"=?koi8-r?B?8NLJ18XU?="), "=?koi8-r?B?8NLJ18XU?=");
//! ```
//!
//! ## DESCRIPTION
//! [`decode`] replaces each well-formed encoded word
//! `=?charset?B|Q?text?=` (RFC 2047, with an optional RFC 2231
//! `*language` suffix on the charset) whose charset is UTF-8, US-ASCII
//! or ISO-8859-1 by its text. White space between two adjacent encoded
//! words is dropped. A word with another charset, a bad encoding or
//! broken base64 stays as it is, so the result is never less
//! informative than the input. Invalid UTF-8, in the input or in a
//! decoded word, becomes U+FFFD. Meant for logging (header_checks WARN
//! and friends); the caller still makes the result printable.
//!
//! ## SEE ALSO
//! RFC 2047, RFC 2231 section 5, [`crate::header`]

/// Decode the encoded words of a header value.
pub fn decode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pos = 0;
    // Where plain text since the last decoded word starts, and whether
    // that text is only white space after a decoded word.
    let mut after_word = false;
    let mut pending_ws_start = 0;
    while pos < value.len() {
        let Some(rel) = find(&value[pos..], b"=?") else {
            break;
        };
        let start = pos + rel;
        match parse_word(&value[start..]) {
            Some((len, text)) => {
                let between = &value[pending_ws_start..start];
                let only_ws = between
                    .iter()
                    .all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'));
                if !(after_word && only_ws) {
                    out.push_str(&String::from_utf8_lossy(between));
                }
                out.push_str(&text);
                pos = start + len;
                pending_ws_start = pos;
                after_word = true;
            }
            None => {
                pos = start + 2;
            }
        }
    }
    out.push_str(&String::from_utf8_lossy(&value[pending_ws_start..]));
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_token_char(c: u8) -> bool {
    c > b' ' && c < 127 && !b"()<>@,;:\"/[]?.=".contains(&c)
}

/// Parse an encoded word at the start of `s`: its length and text.
fn parse_word(s: &[u8]) -> Option<(usize, String)> {
    let rest = s.strip_prefix(b"=?")?;
    let cs_len = rest.iter().position(|&c| c == b'?')?;
    let charset = &rest[..cs_len];
    if charset.is_empty()
        || !charset
            .iter()
            .all(|&c| is_token_char(c) || c == b'*' || c == b'.')
    {
        return None;
    }
    let rest = &rest[cs_len + 1..];
    let enc = *rest.first()?;
    let rest = rest.get(1..)?.strip_prefix(b"?")?;
    let text_len = rest
        .iter()
        .position(|&c| c == b'?' || c == b' ' || c == b'\t')?;
    if rest.get(text_len..text_len + 2) != Some(b"?=") {
        return None;
    }
    let text = &rest[..text_len];
    let bytes = match enc {
        b'B' | b'b' => base64_decode(text)?,
        b'Q' | b'q' => q_decode(text)?,
        _ => return None,
    };
    let charset = String::from_utf8_lossy(charset).to_ascii_lowercase();
    let charset = charset.split('*').next().unwrap_or("");
    let decoded = match charset {
        "utf-8" | "utf8" | "us-ascii" | "ascii" => String::from_utf8_lossy(&bytes).into_owned(),
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "iso_8859-1" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => return None,
    };
    let total = 2 + cs_len + 1 + 1 + 1 + text_len + 2;
    Some((total, decoded))
}

fn q_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let h = text.get(i + 1..i + 3)?;
                let hi = hex(h[0])?;
                let lo = hex(h[1])?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Standard base64; padding optional, no other characters allowed.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let body = match text.iter().position(|&c| c == b'=') {
        Some(p) => {
            let pad = text.len() - p;
            if !text[p..].iter().all(|&c| c == b'=') || p % 4 == 0 || pad > 4 - p % 4 {
                return None;
            }
            &text[..p]
        }
        None => text,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | val(c)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain text", "plain text"),
            (b"", ""),
            (b"=?utf-8?q?J=C3=B6?= <j@x>", "J\u{f6} <j@x>"),
            (b"=?UTF-8?B?SsO2cmc=?=", "J\u{f6}rg"),
            (b"=?UTF-8?B?SsO2cmc?=", "J\u{f6}rg"),
            (b"=?ISO-8859-1?Q?caf=E9?=", "caf\u{e9}"),
            (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
            (b"=?utf-8?q?a?=\n\t=?utf-8?q?b?=", "ab"),
            (b"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"),
            (b"x =?utf-8?q?a_b?= y", "x a b y"),
            (b"=?utf-8*en?q?hi?=", "hi"),
            (b"=?koi8-r?B?8NLJ18XU?=", "=?koi8-r?B?8NLJ18XU?="),
            (b"=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
            (b"=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="),
            (b"=?utf-8?q?bad=ZZ?=", "=?utf-8?q?bad=ZZ?="),
            (b"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
            (b"=?utf-8?q?has space?=", "=?utf-8?q?has space?="),
            (b"=??q?x?=", "=??q?x?="),
            (b"=?", "=?"),
            (b"=?=?utf-8?q?x?=", "=?x"),
            (b"=?utf-8?q?=FF?=", "\u{fffd}"),
            (b"raw \xe9 byte", "raw \u{fffd} byte"),
            (b"=?koi8-r?q?x?= =?utf-8?q?y?=", "=?koi8-r?q?x?= y"),
            (b"=?utf-8?b?==?=", "=?utf-8?b?==?="),
            (b"=?utf-8?b?QQ==?=", "A"),
            (b"=?utf-8?b?QQ=?=", "A"),
            (b"=?utf-8?b?Q===?=", "=?utf-8?b?Q===?="),
            (b"=?utf-8?b?QUJD?=", "ABC"),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input), *want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let many = b"=?utf-8?q?x?=".repeat(10_000);
        assert_eq!(decode(&many).len(), 10_000);
        let _ = decode(&b"=?".repeat(10_000));
        let _ = decode(&b"=?a?b?".repeat(10_000));
        for n in 0..12 {
            let _ = base64_decode(&b"A=".repeat(n));
        }
    }
}
