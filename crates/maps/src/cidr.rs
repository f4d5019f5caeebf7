//! # NAME
//! cidr — `cidr:` tables of IPv4 and IPv6 networks
//!
//! ## SYNOPSIS
//! ```ignore
//! 192.168.1.0/24     REJECT
//! !127.0.0.0/8       OK
//! [2001:db8::1]      DUNNO
//! if 10.0.0.0/8
//! 10.1.0.0/16        relay
//! endif
//! ```
//!
//! ## DESCRIPTION
//! Rules are tried in file order; a key is an IPv4 or IPv6 address in text
//! form and matches a rule of its own family whose network contains it.
//! A pattern may be in `[]`. A network with bits set past its prefix, a
//! prefix too long for the family, an address that does not parse (IPv4
//! octets with leading zeros included) or a rule without a result is
//! reported with the file and line and skipped. Inline tables:
//! `cidr:{ {10.0.0.0/8 x}, {::1 y} }`.
//!
//! ## SEE ALSO
//! cidr_table(5)

use std::net::IpAddr;
use std::path::Path;

use crate::db::strerror;
use crate::{Dict, MapError, OpenCtx, Watched, source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u32,
}

impl Net {
    /// Whether the network holds `a`; `None` for another address family
    /// (a rule of the other family is skipped, negated or not).
    fn contains(&self, a: &IpAddr) -> Option<bool> {
        Some(match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(k)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(n) & mask == u32::from(*k) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(k)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(n) & mask == u128::from(*k) & mask
            }
            _ => return None,
        })
    }
}

enum Rule {
    Match {
        net: Net,
        negate: bool,
        result: String,
    },
    If {
        net: Net,
        negate: bool,
        end: usize,
    },
    Endif,
}

pub struct CidrDict {
    spec: String,
    rules: Vec<Rule>,
    watched: Option<Watched>,
}

fn parse_net(pat: &str) -> Result<Net, String> {
    let inner = if let Some(r) = pat.strip_prefix('[') {
        r.strip_suffix(']')
            .ok_or_else(|| format!("missing ']' character after \"{pat}\""))?
    } else {
        pat
    };
    let (addr_s, mask_s) = match inner.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (inner, None),
    };
    let addr: IpAddr = addr_s
        .parse()
        .map_err(|_| format!("bad address pattern: \"{inner}\""))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match mask_s {
        None => max,
        Some(m) => match m.parse::<u32>() {
            Ok(p) if p <= max && !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(format!("bad mask length in \"{inner}\"")),
        },
    };
    let net = Net { addr, prefix };
    let masked = match addr {
        IpAddr::V4(a) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    if masked != addr {
        return Err(format!(
            "non-null host address bits in \"{inner}\", perhaps you should use \"{masked}/{prefix}\" instead"
        ));
    }
    Ok(net)
}

/// Splits `[!]pattern rest`.
fn split_pattern(p: &str) -> (bool, &str, &str) {
    let p = p.trim_start();
    let (negate, p) = match p.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, p),
    };
    let end = p.find(|c: char| c.is_whitespace()).unwrap_or(p.len());
    (negate, &p[..end], p[end..].trim())
}

fn parse(text: &str, file: &str, warn: &mut dyn FnMut(String)) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut open_ifs: Vec<(usize, usize)> = Vec::new();
    for line in source::logical_lines_with(text, file, warn) {
        let at = format!("cidr map {file}, line {}", line.lineno);
        let p = line.text.as_str();
        let word_end = p
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(p.len());
        let word = &p[..word_end];
        let is_kw = |k: &str| {
            word.eq_ignore_ascii_case(k)
                && p[word_end..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == '!')
        };
        if is_kw("if") {
            let (negate, pat, rest) = split_pattern(&p[word_end..]);
            if !rest.is_empty() {
                warn(format!(
                    "{at}: ignoring extra text after IF statement: \"{rest}\": skipping this rule"
                ));
            }
            match parse_net(pat) {
                Ok(net) => {
                    open_ifs.push((rules.len(), line.lineno));
                    rules.push(Rule::If {
                        net,
                        negate,
                        end: 0,
                    });
                }
                Err(e) => {
                    warn(format!("{at}: {e}: skipping this rule"));
                    open_ifs.push((usize::MAX, line.lineno));
                }
            }
            continue;
        }
        if is_kw("endif") {
            match open_ifs.pop() {
                None => warn(format!(
                    "{at}: ignoring ENDIF without matching IF: skipping this rule"
                )),
                Some((idx, _)) => {
                    if idx != usize::MAX {
                        let end = rules.len() + 1;
                        if let Some(Rule::If { end: e, .. }) = rules.get_mut(idx) {
                            *e = end;
                        }
                        rules.push(Rule::Endif);
                    }
                }
            }
            continue;
        }
        let (negate, pat, result) = split_pattern(p);
        let net = match parse_net(pat) {
            Ok(n) => n,
            Err(e) => {
                warn(format!("{at}: {e}: skipping this rule"));
                continue;
            }
        };
        if result.is_empty() {
            warn(format!("{at}: no lookup result: skipping this rule"));
            continue;
        }
        rules.push(Rule::Match {
            net,
            negate,
            result: result.to_string(),
        });
    }
    let n = rules.len();
    for (idx, lineno) in open_ifs {
        warn(format!(
            "cidr map {file}, line {lineno}: IF has no matching ENDIF"
        ));
        if let Some(Rule::If { end, .. }) = rules.get_mut(idx) {
            *end = n;
        }
    }
    rules
}

pub fn open(ctx: &OpenCtx<'_>) -> Result<Box<dyn Dict>, MapError> {
    let (text, watched) = if ctx.name.starts_with('{') {
        (crate::pattern::inline_rules(ctx.spec, ctx.name)?, None)
    } else {
        let path = Path::new(ctx.name);
        let text = source::read_text(path).map_err(|e| {
            MapError::config(ctx.spec, format!("open {}: {}", ctx.name, strerror(&e)))
        })?;
        (text, Some(Watched::new(path)))
    };
    let rules = parse(&text, ctx.name, &mut |w| crate::msg::warn(&w));
    Ok(Box::new(CidrDict {
        spec: ctx.spec.to_string(),
        rules,
        watched,
    }))
}

impl Dict for CidrDict {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, MapError> {
        let Ok(addr) = key.parse::<IpAddr>() else {
            return Ok(None);
        };
        let mut i = 0;
        while i < self.rules.len() {
            match &self.rules[i] {
                Rule::Match {
                    net,
                    negate,
                    result,
                } => {
                    if net.contains(&addr).is_some_and(|m| m != *negate) {
                        return Ok(Some(result.clone()));
                    }
                }
                Rule::If { net, negate, end } => {
                    if net.contains(&addr).is_none_or(|m| m == *negate) {
                        i = *end;
                        continue;
                    }
                }
                Rule::Endif => {}
            }
            i += 1;
        }
        Ok(None)
    }

    fn name(&self) -> &str {
        &self.spec
    }

    fn is_pattern(&self) -> bool {
        true
    }

    fn changed(&self) -> bool {
        self.watched.as_ref().is_some_and(Watched::changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_errors() {
        let mut w = Vec::new();
        let rules = parse(
            "192.168.1.0/24\tnet1\n192.168.1.5/24\th\n10.0.0.1\texact\n[10.0.0.2]\tb\n[10.0.0.3\tu\n1.2.3.4/33\tm\nfoo\tx\n2001:db8::/32\tv6\n!127.0.0.0/8\tnotlocal\n010.0.0.9 o\n0.0.0.0/0\n",
            "c1",
            &mut |s| w.push(s),
        );
        assert_eq!(
            w,
            [
                "cidr map c1, line 2: non-null host address bits in \"192.168.1.5/24\", perhaps you should use \"192.168.1.0/24\" instead: skipping this rule",
                "cidr map c1, line 5: missing ']' character after \"[10.0.0.3\": skipping this rule",
                "cidr map c1, line 6: bad mask length in \"1.2.3.4/33\": skipping this rule",
                "cidr map c1, line 7: bad address pattern: \"foo\": skipping this rule",
                "cidr map c1, line 10: bad address pattern: \"010.0.0.9\": skipping this rule",
                "cidr map c1, line 11: no lookup result: skipping this rule",
            ]
        );
        let mut d = CidrDict {
            spec: "cidr:c1".into(),
            rules,
            watched: None,
        };
        assert_eq!(d.lookup("192.168.1.9").unwrap().as_deref(), Some("net1"));
        assert_eq!(d.lookup("10.0.0.2").unwrap().as_deref(), Some("b"));
        assert_eq!(d.lookup("2001:DB8::1").unwrap().as_deref(), Some("v6"));
        assert_eq!(d.lookup("127.0.0.1").unwrap(), None);
        assert_eq!(d.lookup("8.8.8.8").unwrap().as_deref(), Some("notlocal"));
        assert_eq!(d.lookup("[10.0.0.1]").unwrap(), None);
        // A negated IPv4 rule does not apply to IPv6 keys.
        assert_eq!(d.lookup("::ffff:1.2.3.4").unwrap(), None);
    }
}
