//! HTTP transcript / header block parser on arbitrary (lossily decoded) bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = meshdoc::evidence::http::looks_like(&s);
    if let Some(h) = meshdoc::evidence::http::parse(&s) {
        assert!(h.body.len() <= meshdoc::evidence::http::BODY_CAP);
    }
});
