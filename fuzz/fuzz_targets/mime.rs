//! The MIME state machine: every line is reported exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail::mime::{self, Event, MimeOptions, MimeState};

fuzz_target!(|data: &[u8]| {
    let opts = MimeOptions {
        nesting_limit: 3,
        boundary_length_limit: 8,
        line_length_limit: 5,
        ..MimeOptions::default()
    };
    let mut m = MimeState::new(opts);
    let mut rebuilt: Vec<u8> = Vec::new();
    let mut truncated = false;
    let mut line_open = false;
    let mut f = |e: Event<'_>| match e {
        Event::Header { header, .. } => {
            rebuilt.extend_from_slice(header);
            rebuilt.push(b'\n');
        }
        Event::Body {
            line, continues, ..
        } => {
            rebuilt.extend_from_slice(line);
            line_open = continues;
            if !continues {
                rebuilt.push(b'\n');
            }
        }
        Event::Error { error, .. } => truncated |= error == mime::MimeError::TruncatedHeader,
        Event::HeaderEnd { .. } => {}
    };
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    for line in body.split(|&c| c == b'\n') {
        m.update(line, &mut f);
    }
    m.finish(&mut f);
    assert!(!line_open);
    if !truncated {
        let mut want = body.to_vec();
        want.push(b'\n');
        assert_eq!(rebuilt, want);
    }
    let _ = mime::downgrade(data, opts);
    let _ = mime::qp_encode_line(data);
});
