//! Access-log line parser (and the fragment reader) on arbitrary (lossily decoded) bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    for line in s.lines() {
        let _ = meshdoc::evidence::access::parse_line(line);
        let _ = meshdoc::evidence::access::parse_json(line);
        let _ = meshdoc::evidence::access::parse_fragment(line);
    }
});
