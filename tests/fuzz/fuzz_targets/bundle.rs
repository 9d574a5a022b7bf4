//! The bundle reader on arbitrary bytes, both ways a bundle arrives: the
//! input read as a tar stream is gzipped into a `.tar.gz` (an input that is
//! already gzip is used as is), and its members are laid out as files of a
//! bundle directory. Both reads must end in a diagnosis or an error, never a
//! panic, within the reader's limits (1 MiB per file here).
#![no_main]
use libfuzzer_sys::fuzz_target;
use meshdoc::collect::bundle::{ReadOptions, feed};
use meshdoc::engine::diagnosis::Diagnosis;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::LazyLock;

// No rules: a diagnosis compiles its scanner per run, which for the whole
// pack costs more than the read itself. The reader's paths (archive, walk,
// limits, manifests, metrics, HTTP, reports, facts) do not depend on rules;
// matching has its own targets (scan_prefilter, detect).
static RULES: LazyLock<meshdoc::rules::RuleSet> = LazyLock::new(meshdoc::rules::RuleSet::default);

const MAX_FILE: u64 = 1 << 20;

fn diagnose(path: &Path) {
    let mut d = Diagnosis::new(&RULES);
    let opts = ReadOptions {
        partial: path.extension().is_none(),
        max_file: MAX_FILE,
    };
    if feed(path, &mut d, &opts).is_ok() {
        let _ = d.finish(&meshdoc::facts::FactOptions::default());
    }
}

/// A member path kept only when it stays a plain relative path.
fn safe(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.len() < 200
        && name.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    ok.then_some(name)
}

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir_in(if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    })
    .expect("temp dir");
    // 1. As a .tar.gz.
    let tgz = tmp.path().join("b.tar.gz");
    if data.starts_with(&[0x1f, 0x8b]) {
        std::fs::write(&tgz, data).unwrap();
    } else {
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tgz).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(data).unwrap();
        gz.finish().unwrap();
    }
    diagnose(&tgz);
    // 2. As a directory: the tar stream's members written out as files.
    let dir = tmp.path().join("b");
    std::fs::create_dir(&dir).unwrap();
    let mut ar = tar::Archive::new(data);
    if let Ok(entries) = ar.entries() {
        for e in entries.take(64) {
            let Ok(mut e) = e else { break };
            if !e.header().entry_type().is_file() || e.size() > MAX_FILE {
                continue;
            }
            let Ok(p) = e.path() else { continue };
            let name = p.to_string_lossy().into_owned();
            let Some(rel) = safe(name.trim_start_matches("./")) else {
                continue;
            };
            let mut body = Vec::new();
            if e.by_ref().take(MAX_FILE).read_to_end(&mut body).is_err() {
                break;
            }
            let full = dir.join(rel);
            if let Some(parent) = full.parent() {
                if std::fs::create_dir_all(parent).is_err() {
                    continue;
                }
            }
            let _ = std::fs::write(&full, &body);
        }
    }
    diagnose(&dir);
});
