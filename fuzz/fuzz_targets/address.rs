//! Address-list parser, rewriting and quoting on arbitrary header values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail::address;

fuzz_target!(|data: &[u8]| {
    let list = address::parse_list(data);
    for a in &list {
        assert!(a.span.start <= a.span.end && a.span.end <= data.len());
        assert!(a.mailbox.start <= a.span.start && a.span.end <= a.mailbox.end);
        assert!(a.mailbox.end <= data.len());
    }
    // Rewriting every address with itself keeps the value's length
    // apart from the comments moved out of address spans.
    let _ = address::rewrite_list(data, &list, |a| Some(a.external()));
    if let Ok(s) = std::str::from_utf8(data) {
        // The external form reads back as the same internal form.
        let ext = address::externalize(s);
        assert_eq!(address::internalize(&ext), s, "external {ext:?}");
        let _ = address::internalize(s);
        let (local, _) = address::split_localpart(s);
        let _ = address::strip_extension(local, "+-=");
        let _ = address::strip_source_route(s);
    }
});
