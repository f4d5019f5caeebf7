//! Status codes, NOTIFY, xtext, ORCPT: parse, print, parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail::dsn::{self, EnhancedStatus, Notify, Orcpt};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(st) = s.parse::<EnhancedStatus>() {
        assert_eq!(st.to_string().parse::<EnhancedStatus>(), Ok(st));
    }
    let _ = dsn::status_prefix(s);
    if let Ok(n) = Notify::parse(s) {
        assert_eq!(Notify::parse(&n.to_string()), Ok(n));
    }
    if let Ok(b) = dsn::xtext_decode_bytes(s) {
        assert_eq!(dsn::xtext_decode_bytes(&dsn::xtext_encode_bytes(&b)), Ok(b));
    }
    assert_eq!(dsn::xtext_decode(&dsn::xtext_encode(s)).as_deref(), Ok(s));
    if let Ok(o) = Orcpt::parse_esmtp(s) {
        let again = Orcpt::parse_esmtp(&o.to_esmtp());
        assert_eq!(again.as_ref().map(|o| &o.addr_type), Ok(&o.addr_type));
    }
    let _ = dsn::wrap_field(s);
});
