//! # NAME
//! rewrite — canonical address form
//!
//! ## SYNOPSIS
//! ```ignore
//! rewrite(&settings, "local", "user")  // "user@myorigin.example"
//! ```
//!
//! ## DESCRIPTION
//! In the `local` context: `host!user` becomes `user@host`
//! (`swap_bangpath`); an address without a domain gets `@$myorigin`
//! (`append_at_myorigin`); a domain without a dot gets `.$mydomain`
//! (`append_dot_mydomain`); a trailing dot is removed. In the `remote`
//! context the domain appended is `remote_header_rewrite_domain`, and
//! nothing is appended when that is empty. The null address stays empty.
//!
//! ## SEE ALSO
//! ADDRESS_REWRITING_README, [`crate::resolve`]

/// What rewriting needs from main.cf.
#[derive(Debug, Clone, Default)]
pub struct RewriteSettings {
    pub myorigin: String,
    pub mydomain: String,
    pub append_at_myorigin: bool,
    pub append_dot_mydomain: bool,
    pub swap_bangpath: bool,
    pub remote_domain: String,
}

/// Splits at the last `@` that is not inside quotes.
pub fn split(addr: &str) -> (&str, Option<&str>) {
    let mut in_quote = false;
    let mut escaped = false;
    let mut at = None;
    for (i, c) in addr.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quote = !in_quote,
            '@' if !in_quote => at = Some(i),
            _ => {}
        }
    }
    match at {
        Some(i) => (&addr[..i], Some(&addr[i + 1..])),
        None => (addr, None),
    }
}

pub fn rewrite(s: &RewriteSettings, context: &str, addr: &str) -> String {
    if addr.is_empty() {
        return String::new();
    }
    let mut addr = addr.to_string();
    let (local, domain) = split(&addr);
    if domain.is_none()
        && s.swap_bangpath
        && let Some((host, user)) = local.split_once('!')
        && !host.is_empty()
        && !user.is_empty()
        && !host.contains('"')
    {
        addr = format!("{user}@{host}");
    }
    let (local, domain) = split(&addr);
    let local = local.to_string();
    let domain = domain.map(|d| d.trim_end_matches('.').to_string());
    let append = if context == "remote" {
        &s.remote_domain
    } else {
        &s.myorigin
    };
    match domain {
        None if context == "remote" && append.is_empty() => local,
        None if s.append_at_myorigin || context == "remote" => format!("{local}@{append}"),
        None => local,
        Some(d)
            if s.append_dot_mydomain
                && !d.contains('.')
                && !d.starts_with('[')
                && !s.mydomain.is_empty() =>
        {
            let tail = if context == "remote" {
                &s.remote_domain
            } else {
                &s.mydomain
            };
            if tail.is_empty() {
                format!("{local}@{d}")
            } else {
                format!("{local}@{d}.{tail}")
            }
        }
        Some(d) => format!("{local}@{d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> RewriteSettings {
        RewriteSettings {
            myorigin: "host.example.com".into(),
            mydomain: "example.com".into(),
            append_at_myorigin: true,
            append_dot_mydomain: false,
            swap_bangpath: true,
            remote_domain: String::new(),
        }
    }

    #[test]
    fn local_context() {
        assert_eq!(rewrite(&s(), "local", "user"), "user@host.example.com");
        assert_eq!(rewrite(&s(), "local", "user@other."), "user@other");
        assert_eq!(rewrite(&s(), "local", "host!user"), "user@host");
        assert_eq!(rewrite(&s(), "local", ""), "");
        assert_eq!(rewrite(&s(), "local", "\"a@b\"@c.d"), "\"a@b\"@c.d");
        let mut t = s();
        t.append_dot_mydomain = true;
        assert_eq!(rewrite(&t, "local", "user@mail"), "user@mail.example.com");
        assert_eq!(rewrite(&t, "local", "user@[10.0.0.1]"), "user@[10.0.0.1]");
    }

    #[test]
    fn remote_context() {
        assert_eq!(rewrite(&s(), "remote", "user"), "user");
        let mut t = s();
        t.remote_domain = "remote.example".into();
        assert_eq!(rewrite(&t, "remote", "user"), "user@remote.example");
    }

    #[test]
    fn splitting() {
        assert_eq!(split("a@b@c"), ("a@b", Some("c")));
        assert_eq!(split("\"x@y\"@z"), ("\"x@y\"", Some("z")));
        assert_eq!(split("plain"), ("plain", None));
    }
}
