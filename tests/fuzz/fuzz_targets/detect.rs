//! Whole-input detection: `read_text` on lossily decoded bytes and the
//! streaming `read_lines` on the raw bytes; both must agree on line counts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use meshdoc::evidence::{InputKind, Origin, detect};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (_, a) = detect::read_text(&s, InputKind::Auto, &Origin::Arg);
    let b = detect::read_lines(data, InputKind::Auto, &Origin::Arg, |_| {});
    assert_eq!(a.lines, b.lines);
});
