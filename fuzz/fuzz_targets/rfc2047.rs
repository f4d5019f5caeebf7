//! Encoded-word decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mail::rfc2047::decode(data);
    let _ = mail::rfc2047::base64_decode(data);
});
