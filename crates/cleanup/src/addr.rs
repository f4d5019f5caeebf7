//! # NAME
//! addr — envelope addresses: sender, recipients, automatic BCC
//!
//! ## SYNOPSIS
//! ```ignore
//! let mut cx = Ctx { s: &settings, t: &mut tables, rw: &mut rewrite };
//! let sender = addr::sender(&mut st, &mut cx, "user");
//! addr::recipient(&mut st, &mut cx, "joe", "joe", 0, "");
//! addr::bcc(&mut st, &mut cx, "archive@example.com");
//! ```
//!
//! ## DESCRIPTION
//! Each envelope address is first rewritten to canonical form in the
//! `local` context of trivial-rewrite(8). Then, for mail whose addresses
//! may be mapped (the `MAP_OK` flag), in this order: the sender with
//! `sender_canonical_maps` and `canonical_maps`, a recipient with
//! `recipient_canonical_maps` and `canonical_maps` (each only for the
//! classes its `*_classes` parameter names), then masquerading
//! (`masquerade_classes`). A sender `MAILER-DAEMON` becomes the null
//! sender.
//!
//! A recipient keeps the address it was received with as its original
//! recipient (`enable_original_recipient`), gets `rfc822;ADDRESS` as its
//! DSN original recipient when the client gave none, and is expanded with
//! `virtual_alias_maps` ([`crate::map1n`]) into the recipients that are
//! written, without duplicates ([`State::out_recipient`]).
//!
//! With the `BCC_OK` flag, `sender_bcc_maps` (looked up with the sender)
//! and `recipient_bcc_maps` (with each recipient) add one address each;
//! [`bcc`] adds such an address, or `always_bcc`, or the address of a BCC
//! action, as a recipient that never gets delivery notices (NOTIFY=NEVER)
//! and that is mapped like any other recipient.
//!
//! Table failures are recorded in the [`State`]: the message waits.
//!
//! ## SEE ALSO
//! canonical(5), virtual(5), postconf(5) `sender_bcc_maps`,
//! [`crate::map11`], [`crate::masq`]

use daemon::{Untrusted, warn};
use ipc::cleanup::{flags, status};
use mail::dsn::Notify;

use crate::addrmap::{Fail, Rewrite, addr_map};
use crate::settings::{Classes, Settings};
use crate::state::{Rcpt, State};
use crate::tables::{Table, Tables};

/// What address processing needs.
pub struct Ctx<'a> {
    pub s: &'a Settings,
    pub t: &'a mut Tables,
    pub rw: &'a mut dyn Rewrite,
}

/// Which kind of address is being mapped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    EnvelopeSender,
    EnvelopeRecipient,
    HeaderSender,
    HeaderRecipient,
}

impl Class {
    fn of(self, c: &Classes) -> bool {
        match self {
            Class::EnvelopeSender => c.envelope_sender,
            Class::EnvelopeRecipient => c.envelope_recipient,
            Class::HeaderSender => c.header_sender,
            Class::HeaderRecipient => c.header_recipient,
        }
    }

    fn is_sender(self) -> bool {
        matches!(self, Class::EnvelopeSender | Class::HeaderSender)
    }
}

/// The canonical form of `addr` in `context`; on failure the address
/// as it is, and the message waits.
pub fn rewrite(st: &mut State, rw: &mut dyn Rewrite, context: &str, addr: &str) -> String {
    if addr.is_empty() {
        return String::new();
    }
    match rw.rewrite(context, addr) {
        Ok(a) => a,
        Err(e) => {
            warn!("{}: address rewriting: {}", st.id, Untrusted(&e));
            st.fail(status::DEFER, "4.3.0 Error: address rewriting failure");
            addr.to_string()
        }
    }
}

/// Canonical mapping and masquerading of an address of `class`, in
/// place (after trivial-rewrite(8)); true when it changed.
pub fn map_address(st: &mut State, cx: &mut Ctx<'_>, class: Class, addr: &mut String) -> bool {
    if !st.has(flags::MAP_OK) || addr.is_empty() {
        return false;
    }
    let s = cx.s;
    let mut changed = false;
    let (first, first_classes) = if class.is_sender() {
        (&mut cx.t.sender_canonical, &s.sender_canonical_classes)
    } else {
        (
            &mut cx.t.recipient_canonical,
            &s.recipient_canonical_classes,
        )
    };
    if let Some(t) = first
        && class.of(first_classes)
    {
        let p = s.propagate_canonical;
        changed |= crate::map11::map11(
            st,
            t,
            &mut cx.t.local,
            cx.rw,
            &s.recipient_delimiter,
            p,
            addr,
        );
    }
    if let Some(t) = &mut cx.t.canonical
        && class.of(&s.canonical_classes)
    {
        changed |= crate::map11::map11(
            st,
            t,
            &mut cx.t.local,
            cx.rw,
            &s.recipient_delimiter,
            s.propagate_canonical,
            addr,
        );
    }
    if !s.masquerade_domains.is_empty() && class.of(&s.masquerade_classes) {
        changed |= crate::masq::masquerade(
            st,
            &s.masquerade_domains,
            cx.t.masquerade_exceptions.as_mut(),
            addr,
        );
    }
    changed
}

/// Processes the envelope sender; returns it as it is written.
pub fn sender(st: &mut State, cx: &mut Ctx<'_>, raw: &str) -> String {
    let mut clean = rewrite(st, cx.rw, "local", raw);
    if clean.len() > "MAILER-DAEMON@".len()
        && clean[.."MAILER-DAEMON@".len()].eq_ignore_ascii_case("MAILER-DAEMON@")
    {
        let daemon = rewrite(st, cx.rw, "local", "MAILER-DAEMON");
        if daemon.eq_ignore_ascii_case(&clean) {
            clean.clear();
        }
    }
    map_address(st, cx, Class::EnvelopeSender, &mut clean);
    st.sender = Some(clean.clone());
    if st.has(flags::BCC_OK) && !clean.is_empty() {
        let s = cx.s;
        if let Some(t) = &mut cx.t.sender_bcc
            && let Some(b) = bcc_lookup(st, t, &mut cx.t.local, cx.rw, s, &clean)
        {
            bcc(st, cx, &b);
        }
    }
    clean
}

/// Processes one recipient as the client gave it (or as found in a
/// header, `sendmail -t`).
pub fn recipient(
    st: &mut State,
    cx: &mut Ctx<'_>,
    raw: &str,
    orig: &str,
    notify: u32,
    orcpt: &str,
) {
    let given = if raw.is_empty() {
        cx.s.empty_address_recipient.as_str()
    } else {
        raw
    };
    let mut clean = rewrite(st, cx.rw, "local", given);
    map_address(st, cx, Class::EnvelopeRecipient, &mut clean);
    let orcpt = if orcpt.is_empty() {
        format!("rfc822;{clean}")
    } else {
        orcpt.to_string()
    };
    let orig = if !cx.s.enable_original_recipient {
        ""
    } else if orig.is_empty() {
        raw
    } else {
        orig
    };
    out_recipient(st, cx, &orcpt, notify, orig, &clean);
    if st.recip.is_none() {
        st.recip = Some(clean.clone());
    }
    if st.has(flags::BCC_OK) && !clean.is_empty() {
        let s = cx.s;
        if let Some(t) = &mut cx.t.recipient_bcc
            && let Some(b) = bcc_lookup(st, t, &mut cx.t.local, cx.rw, s, &clean)
        {
            bcc(st, cx, &b);
        }
    }
}

/// Adds an automatic BCC recipient (NOTIFY=NEVER, no DSN original).
pub fn bcc(st: &mut State, cx: &mut Ctx<'_>, addr: &str) {
    let mut clean = rewrite(st, cx.rw, "local", addr);
    map_address(st, cx, Class::EnvelopeRecipient, &mut clean);
    let orig = if cx.s.enable_original_recipient {
        clean.clone()
    } else {
        String::new()
    };
    out_recipient(st, cx, "", u32::from(Notify::NEVER.bits()), &orig, &clean);
}

/// Writes a recipient, expanded with `virtual_alias_maps`.
fn out_recipient(
    st: &mut State,
    cx: &mut Ctx<'_>,
    orcpt: &str,
    notify: u32,
    orig: &str,
    recip: &str,
) {
    let list = match &mut cx.t.virtual_alias {
        Some(t) if st.has(flags::MAP_OK) => {
            crate::map1n::map1n(st, t, &mut cx.t.local, cx.rw, cx.s, recip)
        }
        _ => vec![recip.to_string()],
    };
    for address in list {
        st.out_recipient(Rcpt {
            address,
            orig: orig.to_string(),
            notify,
            orcpt: orcpt.to_string(),
        });
    }
}

/// The BCC address `sender_bcc_maps` or `recipient_bcc_maps` has for
/// `addr`; a table failure makes the message wait.
fn bcc_lookup(
    st: &mut State,
    t: &mut Table,
    local: &mut crate::tables::LocalDomains,
    rw: &mut dyn Rewrite,
    s: &Settings,
    addr: &str,
) -> Option<String> {
    match addr_map(t, local, rw, addr, &s.recipient_delimiter, false) {
        Ok(Some(list)) => list.into_iter().next(),
        Ok(None) => None,
        Err(Fail::Table(_)) => {
            warn!(
                "{}: {} map lookup problem -- message not accepted, try again later",
                st.id, t.title
            );
            st.table_failed();
            None
        }
        Err(Fail::Rewrite(e)) => {
            warn!("{}: address rewriting: {}", st.id, Untrusted(&e));
            st.fail(status::DEFER, "4.3.0 Error: address rewriting failure");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrmap::testing::FakeRewrite;

    fn tables(canonical: &str, virtual_alias: &str) -> Tables {
        let mut t = Tables::empty();
        let open = |title, spec: &str| (!spec.is_empty()).then(|| Table::for_tests(title, spec));
        t.canonical = open("canonical_maps", canonical);
        t.virtual_alias = open("virtual_alias_maps", virtual_alias);
        t
    }

    fn addrs(st: &State) -> Vec<(String, String, u32, String)> {
        st.out
            .iter()
            .map(|r| (r.address.clone(), r.orig.clone(), r.notify, r.orcpt.clone()))
            .collect()
    }

    #[test]
    fn envelope() {
        let s = Settings::for_tests();
        let mut t = tables(
            "inline:{joe=joe.user, @old.example=@new.example}",
            "inline:{{list@x.example=a@x.example, list@x.example}}",
        );
        t.sender_bcc = Some(Table::for_tests(
            "sender_bcc_maps",
            "inline:{joe.user@host.example=sbcc@x.example}",
        ));
        t.recipient_bcc = Some(Table::for_tests(
            "recipient_bcc_maps",
            "inline:{list@x.example=rbcc}",
        ));
        let mut rw = FakeRewrite::new();
        let mut cx = Ctx {
            s: &s,
            t: &mut t,
            rw: &mut rw,
        };
        let mut st = State::new("QID", flags::MAP_OK | flags::BCC_OK, 100);
        assert_eq!(sender(&mut st, &mut cx, "joe"), "joe.user@host.example");
        recipient(&mut st, &mut cx, "u@old.example", "U@old.example", 0, "");
        recipient(
            &mut st,
            &mut cx,
            "list@x.example",
            "",
            2,
            "rfc822;list@x.example",
        );
        recipient(&mut st, &mut cx, "u@old.example", "U@old.example", 0, "");
        let never = u32::from(Notify::NEVER.bits());
        assert_eq!(
            addrs(&st),
            [
                (
                    "sbcc@x.example".into(),
                    "sbcc@x.example".into(),
                    never,
                    "".into()
                ),
                (
                    "u@new.example".into(),
                    "U@old.example".into(),
                    0,
                    "rfc822;u@new.example".into()
                ),
                (
                    "a@x.example".into(),
                    "list@x.example".into(),
                    2,
                    "rfc822;list@x.example".into()
                ),
                (
                    "list@x.example".into(),
                    "list@x.example".into(),
                    2,
                    "rfc822;list@x.example".into()
                ),
                (
                    "rbcc@host.example".into(),
                    "rbcc@host.example".into(),
                    never,
                    "".into()
                ),
            ]
        );
        assert_eq!(st.recip.as_deref(), Some("u@new.example"));
        assert!(st.refusal().is_none());
    }

    /// A `hash:` table built from `text` the way postmap(1) builds it.
    fn hash_table(title: &'static str, name: &str, text: &str) -> Table {
        let dir = std::env::temp_dir().join(format!("cleanup-addr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.display().to_string();
        maps::build::postmap_file("hash", &path, &maps::build::BuildOptions::default()).unwrap();
        Table::for_tests(title, &format!("hash:{path}"))
    }

    #[test]
    fn hash_tables_built_like_postmap() {
        let s = Settings::for_tests();
        let mut t = Tables::empty();
        t.canonical = Some(hash_table(
            "canonical_maps",
            "canonical",
            "# comment\nJoe joe.user\n@olddomain.example @newdomain.example\n",
        ));
        t.virtual_alias = Some(hash_table(
            "virtual_alias_maps",
            "virtual",
            "list@far.example a@far.example,\n  b@far.example\next@far.example extuser@far.example\n",
        ));
        t.recipient_bcc = Some(hash_table(
            "recipient_bcc_maps",
            "rbcc",
            "@far.example archive@x.example\n",
        ));
        let mut rw = FakeRewrite::new();
        let mut cx = Ctx {
            s: &s,
            t: &mut t,
            rw: &mut rw,
        };
        let mut st = State::new("QID", flags::MAP_OK | flags::BCC_OK, 100);
        for r in [
            "JOE",
            "u@OldDomain.example",
            "list@far.example",
            "ext+x@far.example",
        ] {
            recipient(&mut st, &mut cx, r, "", 0, "");
        }
        let got: Vec<(&str, &str)> = st
            .out
            .iter()
            .map(|r| (r.address.as_str(), r.orig.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("joe.user@host.example", "JOE"),
                ("u@newdomain.example", "u@OldDomain.example"),
                ("a@far.example", "list@far.example"),
                ("b@far.example", "list@far.example"),
                ("archive@x.example", "archive@x.example"),
                ("extuser+x@far.example", "ext+x@far.example"),
            ]
        );
        assert!(st.refusal().is_none());
    }

    #[test]
    fn without_map_ok_nothing_is_mapped() {
        let s = Settings::for_tests();
        let mut t = tables(
            "inline:{joe=joe.user}",
            "inline:{joe.user@host.example=x@y}",
        );
        t.sender_bcc = Some(Table::for_tests(
            "sender_bcc_maps",
            "inline:{joe@host.example=b@x}",
        ));
        let mut rw = FakeRewrite::new();
        let mut cx = Ctx {
            s: &s,
            t: &mut t,
            rw: &mut rw,
        };
        let mut st = State::new("QID", 0, 100);
        assert_eq!(sender(&mut st, &mut cx, "joe"), "joe@host.example");
        recipient(&mut st, &mut cx, "joe", "", 0, "");
        recipient(&mut st, &mut cx, "joe", "", 0, "");
        assert_eq!(st.out.len(), 2);
        assert_eq!(st.out[0].address, "joe@host.example");
    }

    #[test]
    fn null_sender_and_empty_recipient() {
        let s = Settings::for_tests();
        let mut t = tables("", "");
        let mut rw = FakeRewrite::new();
        let mut cx = Ctx {
            s: &s,
            t: &mut t,
            rw: &mut rw,
        };
        let mut st = State::new("QID", flags::MAP_OK, 100);
        assert_eq!(sender(&mut st, &mut cx, "MAILER-DAEMON"), "");
        assert_eq!(sender(&mut st, &mut cx, "mailer-daemon@host.example"), "");
        assert_eq!(
            sender(&mut st, &mut cx, "mailer-daemon@other.example"),
            "mailer-daemon@other.example"
        );
        recipient(&mut st, &mut cx, "", "", 0, "");
        assert_eq!(st.out[0].address, "MAILER-DAEMON@host.example");
    }

    #[test]
    fn classes_and_masquerading() {
        let mut s = Settings::for_tests();
        s.canonical_classes = Classes {
            envelope_sender: true,
            ..Classes::default()
        };
        s.masquerade_domains = vec![(false, "example.com".into())];
        let mut t = tables("inline:{a@x=b@x}", "");
        let mut rw = FakeRewrite::new();
        let mut cx = Ctx {
            s: &s,
            t: &mut t,
            rw: &mut rw,
        };
        let mut st = State::new("QID", flags::MAP_OK, 100);
        assert_eq!(sender(&mut st, &mut cx, "a@x"), "b@x");
        recipient(&mut st, &mut cx, "a@x", "", 0, "");
        // Envelope recipients are not masqueraded by default.
        recipient(&mut st, &mut cx, "u@mail.example.com", "", 0, "");
        assert_eq!(
            sender(&mut st, &mut cx, "u@mail.example.com"),
            "u@example.com"
        );
        assert_eq!(st.out[0].address, "a@x");
        assert_eq!(st.out[1].address, "u@mail.example.com");
    }
}
