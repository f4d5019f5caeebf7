//! Date parsing; what parses formats and parses back to the same time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail::date;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = date::parse_date(s) {
        let text = date::format_date(d.unix, d.offset, Some("Z"));
        assert_eq!(date::parse_date(&text), Ok(d), "{s:?} -> {text:?}");
    }
});
