//! The rule loader on arbitrary text: parse, validate and compile one rule
//! file. Every outcome must be a rule or errors naming file:line:column.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Err(errors) = meshdoc::rules::load::parse_rule(&s, "fuzz.yaml") {
        assert!(!errors.is_empty());
        for e in errors {
            assert_eq!(e.path, "fuzz.yaml");
            assert!(e.line >= 1);
        }
    }
});
