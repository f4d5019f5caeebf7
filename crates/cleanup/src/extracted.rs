//! # NAME
//! extracted — what cleanup(8) writes after the content
//!
//! ## SYNOPSIS
//! ```ignore
//! extracted::finish(&mut st, &mut cx, message.extracted_recipients(), &mut writer)?;
//! ```
//!
//! ## DESCRIPTION
//! After the content, in the extracted segment of the queue file: the
//! recipients of `sendmail -t` (the addresses of the message's `To:`,
//! `Cc:` and `Bcc:` headers, processed like envelope recipients), the
//! addresses of BCC actions of header and body checks, then `always_bcc`
//! (for mail that may get automatic BCC recipients, when the message has
//! a recipient at all); then the content filter the message goes through
//! (a FILTER action, else `content_filter`) and the address it is
//! redirected to (a REDIRECT action), for qmgr(8).
//!
//! ## SEE ALSO
//! [`queue::record`], [`crate::addr`]

use ipc::cleanup::flags;
use queue::{RecordType, Writer};

use crate::addr::{self, Ctx};
use crate::envelope::write_recipients;
use crate::state::State;

/// Processes and writes the extracted segment's records.
pub fn finish(
    st: &mut State,
    cx: &mut Ctx<'_>,
    extracted: &[String],
    w: &mut Writer,
) -> std::io::Result<()> {
    if st.has(flags::EXTRACT_RCPT) {
        for a in extracted {
            addr::recipient(st, cx, a, a, 0, "");
        }
    }
    let bccs = std::mem::take(&mut st.check_bcc);
    if st.out_ok() && st.recip.is_some() {
        for b in bccs {
            addr::bcc(st, cx, &b);
        }
    }
    let s = cx.s;
    if st.has(flags::BCC_OK) && st.recip.is_some() && !s.always_bcc.is_empty() {
        addr::bcc(st, cx, &s.always_bcc);
    }
    write_recipients(w, st)?;
    let filter = st
        .filter
        .clone()
        .or_else(|| (!s.content_filter.is_empty()).then(|| s.content_filter.clone()));
    if let Some(f) = filter {
        w.record(RecordType::Filter, f.as_bytes())?;
    }
    if let Some(r) = &st.redirect {
        w.record(RecordType::Redirect, r.as_bytes())?;
    }
    Ok(())
}
