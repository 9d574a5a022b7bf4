//! Prometheus / OpenMetrics / Envoy stats parser on arbitrary (lossily decoded) bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = meshdoc::evidence::metrics::looks_like(&s);
    let (samples, bad) = meshdoc::evidence::metrics::parse(&s);
    assert!(samples.len() as u64 + bad <= s.lines().count() as u64);
});
