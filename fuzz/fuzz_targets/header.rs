//! Header/body splitting, header parsing and folding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail::header::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        header_size_limit: 64,
        line_length_limit: 16,
    };
    for l in [limits, Limits::default()] {
        let m = header::split_message(data, &l);
        assert!(m.body_offset <= data.len());
        for h in &m.headers {
            assert!(h.raw.len() <= l.header_size_limit);
            let _ = h.info();
            let _ = h.unfolded_value();
            let _ = h.normalized();
            let _ = header::fold(&h.raw, 20);
        }
    }
    let _ = header::fold(data, 0);
    let _ = header::fold(data, 78);
    let _ = header::split_long_line(data, 7).count();
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = header::lookup(s);
    }
});
