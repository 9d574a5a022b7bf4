//! The manifest loader on arbitrary text (multi-document YAML/JSON, Lists),
//! then every fact derivation over whatever loaded.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(set) = meshdoc::collect::manifests::load_str(&s, "fuzz.yaml", "default") {
        let _ = meshdoc::facts::derive(&set, &meshdoc::facts::FactOptions::default());
    }
});
