//! CLI tests: the built binary, its streams and exit codes, and the
//! "must show" behaviours of `explain` against the catalog in SCENARIOS.md.

use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::BTreeSet;

fn meshdoc() -> Command {
    let mut c = Command::cargo_bin("meshdoc").expect("binary builds");
    c.env_remove("MESHDOC_RULES").env("NO_COLOR", "1");
    c
}

fn json(args: &[&str]) -> (serde_json::Value, i32) {
    let out = meshdoc()
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of {args:?} is JSON: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// (id, signals column) for every catalog row.
fn catalog() -> Option<Vec<(String, String)>> {
    let p = crate::support::shared::dir("", "SCENARIOS.md")?.join("SCENARIOS.md");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut out = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() >= 6 && cols[1].starts_with('`') && cols[1].ends_with('`') {
            out.push((cols[1].trim_matches('`').to_string(), cols[4].to_string()));
        }
    }
    Some(out)
}

/// Catalog ids whose signals column names `token` (a status or a flag) as a word.
/// A 5xx status also matches the catalog's "5xx" class.
fn ids_with_signal(cat: &[(String, String)], token: &str) -> BTreeSet<String> {
    let alt = if token.len() == 3
        && token.starts_with('5')
        && token.bytes().all(|b| b.is_ascii_digit())
    {
        format!("{}|5xx", regex::escape(token))
    } else {
        regex::escape(token)
    };
    let re = regex::Regex::new(&format!(r"(^|[^A-Za-z0-9_])(?:{alt})([^A-Za-z0-9_]|$)")).unwrap();
    cat.iter()
        .filter(|(_, s)| re.is_match(s))
        .map(|(id, _)| id.clone())
        .collect()
}

#[test]
fn explain_puts_the_catalog_ids_of_each_symptom_first() {
    let Some(cat) = catalog() else {
        return;
    };
    for sym in [
        "503", "504", "502", "417", "403", "404", "UF", "UO", "NR", "UH", "UC",
    ] {
        let expected = ids_with_signal(&cat, sym);
        assert!(!expected.is_empty(), "catalog names {sym}");
        let (v, code) = json(&["explain", sym]);
        let any_error = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error");
        assert_eq!(
            code,
            if any_error { 1 } else { 0 },
            "explain {sym}: exit 1 exactly when a cause at or above --fail-on error is listed"
        );
        let got = ids(&v);
        assert!(!got.is_empty(), "explain {sym} returns causes");
        // Every catalog id that explains the symptom ranks above every id that does not.
        let k = got.iter().filter(|id| expected.contains(*id)).count();
        for id in &got[..k] {
            assert!(
                expected.contains(id),
                "explain {sym}: `{id}` ranks among the first {k} but the catalog does not list {sym} for it; got {got:?}"
            );
        }
    }
    let (v, _) = json(&["explain", "fail-fast"]);
    assert_eq!(
        ids(&v).first().map(String::as_str),
        Some("linkerd-fail-fast")
    );
}

#[test]
fn explain_of_a_paragraph_names_candidates_by_its_words_at_info() {
    // An issue's sentence: no proxy message, field or status to read.
    let text = "After we meshed the api with Linkerd, every call to the payments service times out";
    let (v, code) = json(&["explain", text]);
    assert_eq!(
        code, 0,
        "candidates by words are info: nothing at or above the threshold"
    );
    let f = &v["findings"][0];
    assert_eq!(f["id"], "linkerd-response-timeout");
    assert_eq!(f["severity"], "info");
    assert_eq!(f["confidence"], "candidate");
    assert!(
        ids(&v)
            .iter()
            .all(|id| !id.starts_with("envoy-") && !id.starts_with("istio-")),
        "the text names Linkerd: {:?}",
        ids(&v)
    );
    // The same paragraph piped in, or saved to a file, reads the same.
    let piped = meshdoc()
        .args(["explain", "-", "-o", "json"])
        .write_stdin(format!("{text}\n"))
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0));
    let pv: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(ids(&pv), ids(&v), "stdin answers as the argument does");
    assert_eq!(pv["findings"][0]["severity"], "info");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket.txt");
    std::fs::write(&file, format!("{text}\n")).unwrap();
    let (fv, code) = json(&["explain", "--file", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(ids(&fv), ids(&v), "a file answers as the argument does");
    // A log line no signal reads is not prose: no guess, the usual answer.
    meshdoc()
        .args(["explain", "[2024-05-01 10:00:00.000][1][info][main] starting main dispatch loop, timeout 5s errors 0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no rule explains"));
}

#[test]
fn rules_list_json_contains_every_catalog_id() {
    let Some(cat) = catalog() else { return };
    let (v, code) = json(&["rules", "list"]);
    assert_eq!(code, 0);
    let have: BTreeSet<String> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    for (id, _) in &cat {
        assert!(have.contains(id), "rule pack lacks `{id}`");
    }
}

#[test]
fn rules_test_passes_for_the_builtin_pack() {
    meshdoc()
        .args(["rules", "test"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 misses, 0 false alarms"));
}

#[test]
fn json_output_follows_the_version_and_findings_contract() {
    let (v, _) = json(&["explain", "UF"]);
    assert_eq!(v["version"], 1);
    let f = &v["findings"][0];
    for key in ["id", "title", "severity", "score", "evidence", "rank"] {
        assert!(!f[key].is_null(), "finding has `{key}`");
    }
    assert_eq!(f["rank"], 1);
}

#[test]
fn a_rule_id_prints_its_documentation_sections() {
    meshdoc()
        .args(["explain", "linkerd-fail-fast"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("## What it means")
                .and(predicate::str::contains("## How to fix")),
        );
}

#[test]
fn unknown_input_suggests_ids_and_exits_2() {
    meshdoc()
        .args(["explain", "linkerd-fail-fsat"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("did you mean")
                .and(predicate::str::contains("linkerd-fail-fast")),
        );
}

#[test]
fn empty_stdin_is_reported_clearly() {
    meshdoc()
        .args(["explain", "-"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty"));
}

#[test]
fn malformed_rule_names_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad-rule.yaml");
    let path = p.display().to_string();
    // The docs and examples every rule file needs, after its signals.
    let tail = "docs:\n  summary: s\n  why: w\n  confirm: [{text: c}]\n  fix: [{text: f}]\n  references: [{title: r, url: 'https://x'}]\nexamples:\n  - {name: a, input: '503', expect: fire}\n  - {name: b, input: '200', expect: quiet}\n";
    // Each bad file, the command, and where and what stderr must name.
    for (body, args, want) in [
        (
            format!(
                "id: bad-rule\ntitle: t\nmesh: linkerd\nseverity: error\nsignals:\n  - name: x\n    match: 'unclosed ('\n{tail}"
            ),
            ["explain", "503"],
            "7:5: signals[0].match: invalid regex",
        ),
        (
            "id: bad-rule\ntitle: t\nmesh: linkerd\nseverity: error\nsurprise: 1\n".to_string(),
            ["rules", "list"],
            "5:1: surprise",
        ),
        // A metric label naming a class of values that does not exist.
        (
            format!(
                "id: bad-rule\ntitle: t\nmesh: istio\nseverity: error\nsignals:\n  - name: x\n    metric:\n      name: envoy_cluster_upstream_cx_overflow\n      labels:\n        cluster_name: '!@nope'\n      above: 0\n{tail}"
            ),
            ["explain", "503"],
            "10:9: signals[0].metric.labels.cluster_name: unknown label class `@nope`",
        ),
    ] {
        std::fs::write(&p, body).unwrap();
        meshdoc()
            .args(["--rules", &path])
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!("{path}:{want}")));
    }
}

#[test]
fn rules_schema_is_a_json_schema() {
    let out = meshdoc().args(["rules", "schema"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["properties"]["signals"].is_object());
}

#[test]
fn escape_sequences_in_evidence_never_reach_the_terminal() {
    let out = meshdoc()
        .args(["explain", "-"])
        .write_stdin("[ 1.0s]  WARN ThreadId(01) outbound: linkerd_app_core::errors::respond: request failed error=service in fail-fast \u{1b}]0;pwned\u{7}\u{1b}[2J\n")
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(!s.contains('\u{1b}'), "no ESC in table output: {s}");
}

#[test]
fn garbage_input_never_panics() {
    let mut junk = Vec::new();
    for i in 0..20_000u32 {
        junk.push((i.wrapping_mul(2_654_435_761) >> 13) as u8);
    }
    let out = meshdoc()
        .args(["explain", "-"])
        .write_stdin(junk)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}", out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_namespace_that_is_not_a_dns_label_is_refused_before_any_request() {
    for ns in ["a/b?watch=1", "Shop", "../kube-system", ""] {
        meshdoc()
            .args(["diagnose", "pod/web", "-n", ns])
            .env("KUBECONFIG", "/nonexistent")
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not a valid namespace"));
    }
}

#[test]
fn a_symptom_alone_lists_candidates_by_mesh_with_what_tells_them_apart() {
    let out = meshdoc()
        .args(["explain", "503"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Istio / Envoy") && text.contains("Linkerd"),
        "{text}"
    );
    assert!(text.contains("? Which response flag"), "{text}");
    assert!(text.contains("Narrow it down"), "{text}");
    // One line per cause plus its question: far shorter than full pages.
    assert!(text.lines().count() < 60, "{} lines", text.lines().count());
    let full = meshdoc().args(["explain", "503", "-v"]).output().unwrap();
    assert!(String::from_utf8_lossy(&full.stdout).contains("Confirm:"));
}

#[test]
fn a_reader_that_closes_stdout_early_keeps_the_exit_code() {
    let bin = assert_cmd::cargo::cargo_bin("meshdoc");
    let mut child = std::process::Command::new(bin)
        .args(["explain", "503", "-v"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `| head -0`: the reader is gone before meshdoc writes.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "findings at error still exit 1");
}

mod readme;

/// Flag lists rank the cause of their primary flag first. `UF,URX`: the
/// connection failed and the attempts ran out. `UH,URX`: no healthy host; URX
/// only says the retries that caused ran out, so it counts half. `DC,UF`: Envoy
/// sets UF only when a connection attempt itself failed (a client that hangs
/// up while the request waits for a connection cancels it without UF), so
/// the downstream disconnect followed the upstream failure, not the reverse.
#[test]
fn flag_lists_rank_the_cause_of_their_primary_flag_first() {
    for (q, want) in [
        ("UF,URX", "envoy-upstream-connect-failure"),
        ("UH,URX", "envoy-no-healthy-upstream"),
        ("DC,UF", "envoy-upstream-connect-failure"),
        ("URX", "envoy-upstream-connect-failure"),
    ] {
        let (v, code) = json(&["explain", q]);
        assert_eq!(code, 1, "explain {q}");
        assert_eq!(
            ids(&v).first().map(String::as_str),
            Some(want),
            "explain {q}: {:?}",
            ids(&v)
        );
    }
}

/// `diagnose --logs` reads lines inside collector wrappers as `explain` does.
#[test]
fn diagnose_logs_reads_lines_inside_collector_wrappers() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("proxy.log");
    let line = r#"[2024-05-01T10:00:00.123Z] "GET /api HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0 - "-" "curl/8.5.0" "5b0f7d3c" "api.shop:8080" "-" outbound|8080||api.shop.svc.cluster.local - 10.43.12.5:8080 10.42.0.9:43210 - default"#;
    let docker = serde_json::json!({"log": format!("{line}\n"), "stream": "stdout", "time": "2024-05-01T10:00:00.123456789Z"});
    std::fs::write(
        &log,
        format!(
            "2024-05-01T10:00:00.123456789Z stdout F {line}\nweb-7d4b9c-x2x8k istio-proxy {line}\n{docker}\n"
        ),
    )
    .unwrap();
    let out = meshdoc()
        .args(["diagnose", "--logs"])
        .arg(&log)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["id"], "envoy-no-healthy-upstream", "{v}");
    let evidence = v["findings"][0]["evidence"].to_string();
    assert!(
        evidence.contains("×3")
            || v["findings"][0]["signals"]
                .to_string()
                .contains("\"count\":3"),
        "{v}"
    );
}

/// The README's plugin install: a `kubectl-meshdoc` symlink on PATH makes
/// `kubectl meshdoc …` run meshdoc (kubectl is on every machine this runs on;
/// the test says so and skips where it is not).
#[cfg(unix)]
#[test]
fn kubectl_runs_meshdoc_as_a_plugin_through_the_symlink() {
    let Ok(kubectl) = which_kubectl() else {
        crate::support::shared::skipped(
            "kubectl is not on PATH: the kubectl plugin test is skipped",
        );
        return;
    };
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        assert_cmd::cargo::cargo_bin("meshdoc"),
        d.path().join("kubectl-meshdoc"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        d.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(kubectl)
        .args(["meshdoc", "explain", "503", "-o", "json"])
        .env("PATH", path)
        .env("KUBECONFIG", d.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["findings"].as_array().is_some_and(|f| !f.is_empty()));
}

#[cfg(unix)]
fn which_kubectl() -> Result<std::path::PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| std::path::Path::new(d).join("kubectl"))
        .find(|p| p.is_file())
        .ok_or(())
}

/// Issue 13, item 11: one UTF-8 policy. Every reader decodes invalid UTF-8
/// lossily and says so once on stderr, naming the source; none refuses it.
#[test]
fn invalid_utf8_is_read_lossily_with_one_warning_naming_the_source_in_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("bad.yaml");
    std::fs::write(
        &yaml,
        b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {note: \"caf\xe9\"}\nspec:\n  ports: [{port: 80}]\n",
    )
    .unwrap();
    let log = dir.path().join("bad.log");
    // Two bad lines, one warning; the second line still explains the 503.
    std::fs::write(
        &log,
        b"junk \xff\xfe here\nHTTP/1.1 503 Service Unavailable \xc3\x28\nl5d-proxy-error: logical service 10.43.38.167:8080: service in fail-fast\n",
    )
    .unwrap();
    let big = dir.path().join("big.log");
    // Over explain's whole-read head (64 KiB): the streaming path.
    let mut b = b"[  1.0s]  WARN ThreadId(01) outbound: linkerd_app_core::errors::respond: Request failed error=service in fail-fast \xff\n".repeat(2000);
    b.extend_from_slice(b"plain line\n");
    std::fs::write(&big, &b).unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(bundle.join("logs/shop/web-1")).unwrap();
    std::fs::create_dir_all(bundle.join("http")).unwrap();
    std::fs::write(bundle.join("logs/shop/web-1/linkerd-proxy.log"), &b).unwrap();
    std::fs::write(bundle.join("http/curl.txt"), b"HTTP/1.1 503 \xff\r\n\r\n").unwrap();
    let (y, l, g, bd) = (
        yaml.to_str().unwrap(),
        log.to_str().unwrap(),
        big.to_str().unwrap(),
        bundle.to_str().unwrap(),
    );
    // (arguments, stdin, the sources warned about)
    type Case<'a> = (Vec<&'a str>, Option<&'a [u8]>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (vec!["check", y], None, vec![y]),
        (vec!["check", "-"], Some(&b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {a: \"\xff\"}\n"[..]), vec!["- (stdin)"]),
        (vec!["explain", "--file", l], None, vec![l]),
        (vec!["explain", "--file", g], None, vec![g]),
        (vec!["explain", "-"], Some(&b[..]), vec!["- (stdin)"]),
        (vec!["diagnose", "--logs", g], None, vec![g]),
        (vec!["diagnose", "--metrics", l], None, vec![l]),
        (vec!["diagnose", "--http", l], None, vec![l]),
        (vec!["diagnose", "--objects", y], None, vec![y]),
        (vec!["diagnose", "-"], Some(&b[..]), vec!["- (stdin)"]),
        (
            vec!["diagnose", "--from", bd],
            None,
            vec!["logs/shop/web-1/linkerd-proxy.log", "http/curl.txt"],
        ),
    ];
    for (args, stdin, sources) in cases {
        let mut c = meshdoc();
        c.args(&args).args(["-o", "json"]);
        if let Some(s) = stdin {
            c.write_stdin(s.to_vec());
        }
        let out = c.output().unwrap();
        let code = out.status.code();
        assert!(matches!(code, Some(0 | 1)), "{args:?} exits {code:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is JSON: {e}"));
        assert!(v.get("findings").is_some(), "{args:?}: {v}");
        let err = String::from_utf8_lossy(&out.stderr);
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("not valid UTF-8"))
            .collect();
        assert_eq!(warnings.len(), sources.len(), "{args:?}: {err}");
        for s in sources {
            let want = format!("warning: {s}: not valid UTF-8; invalid bytes were read as U+FFFD");
            assert!(
                warnings.iter().any(|w| w.ends_with(&want)),
                "{args:?}: {err}"
            );
        }
    }
    // Valid input gets no warning.
    meshdoc()
        .args(["explain", "503"])
        .assert()
        .stderr(predicate::str::contains("UTF-8").not());
}

/// Issue 13, item 2: the bomb bundle. A few MB of `.tar.gz` that expands to
/// GBs of zeros in every file read whole (bundle.yaml, objects/, metrics/,
/// http/, reports/) and in a GNU long-name header: each is skipped and
/// listed (or the run exits 2), never read whole, and the run's peak RSS
/// stays under 200 MB. The RSS is measured with GNU time (`.ci/run`
/// installs it); without it the test says so and checks the rest.
#[test]
fn the_bomb_bundle_is_refused_piece_by_piece_under_200_mb_of_memory() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    let mib: u64 = 1 << 20;
    let zeros: &[(&str, u64)] = &[
        ("bundle.yaml", 300 * mib),
        ("objects/all.yaml", 1024 * mib),
        ("metrics/shop/web-1.prom", 700 * mib),
        ("http/curl.txt", 300 * mib),
        ("reports/check.json", 300 * mib),
    ];
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&bomb).unwrap(),
            flate2::Compression::best(),
        );
        let mut b = tar::Builder::new(gz);
        for (path, size) in zeros {
            let mut h = tar::Header::new_gnu();
            h.set_size(*size);
            h.set_mode(0o644);
            b.append_data(&mut h, path, std::io::repeat(0).take(*size))
                .unwrap();
        }
        // A 200 MB GNU long name, then the member it names.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_size(200 * mib);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, std::io::repeat(b'a').take(200 * mib)).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, "objects/named.yaml", &b"{}\n"[..])
            .unwrap();
        let body = b"[  1.0s]  WARN ThreadId(01) outbound: linkerd_app_core::errors::respond: Request failed error=service in fail-fast\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "logs/shop/web-1/linkerd-proxy.log", &body[..])
            .unwrap();
        b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    let packed = std::fs::metadata(&bomb).unwrap().len();
    let expanded: u64 = zeros.iter().map(|(_, s)| s).sum::<u64>() + 200 * mib;
    assert!(packed < 10 * mib, "the bomb is small: {packed} bytes");
    assert!(expanded > 2 * 1024 * mib);

    let bin = assert_cmd::cargo::cargo_bin("meshdoc");
    let time = std::path::Path::new("/usr/bin/time");
    let rss_file = dir.path().join("rss");
    let mut cmd = if time.exists() {
        let mut c = std::process::Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(&bin);
        c
    } else {
        println!("note: /usr/bin/time is missing (apt-get install -y time): peak RSS not measured");
        std::process::Command::new(&bin)
    };
    let out = cmd
        .env_remove("MESHDOC_RULES")
        .args(["diagnose", "--from"])
        .arg(&bomb)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let code = out.status.code();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if code != Some(2) {
        assert!(matches!(code, Some(0 | 1)), "exit {code:?}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        let missing = v["missing"].as_array().expect("missing list");
        let skipped = |what: &str, why: &str| {
            missing.iter().any(|m| {
                m["what"].as_str().is_some_and(|w| w.contains(what))
                    && m["reason"].as_str().is_some_and(|r| r.contains(why))
            })
        };
        for (path, _) in zeros {
            assert!(
                skipped(path, "over the limit"),
                "{path} not listed: {missing:?}"
            );
        }
        assert!(
            skipped(
                "objects/named.yaml",
                "long-name (GNU or PAX) header is over"
            ),
            "{missing:?}"
        );
        // The one readable file is still read.
        assert!(
            stderr.contains("logs/shop/web-1/linkerd-proxy.log: 1 lines"),
            "{stderr}"
        );
    }
    if time.exists() {
        let kb: u64 = std::fs::read_to_string(&rss_file)
            .unwrap()
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .expect("GNU time printed the peak RSS");
        println!(
            "bomb: {packed} bytes packed, {expanded} expanded: exit {code:?}, peak RSS {} MB",
            kb / 1024
        );
        assert!(kb < 200 * 1024, "peak RSS {kb} kB");
    }
}

/// Peak RSS of a finished command in kB, with GNU time; `None` (and a note)
/// without it.
fn peak_rss_kb(args: &[&str], dir: &std::path::Path) -> Option<(u64, Option<i32>)> {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        println!("note: /usr/bin/time is missing (apt-get install -y time): peak RSS not measured");
        return None;
    }
    let out_file = dir.join("rss");
    let st = std::process::Command::new(time)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&out_file)
        .arg(assert_cmd::cargo::cargo_bin("meshdoc"))
        .args(args)
        .env_remove("MESHDOC_RULES")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let kb = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time printed the peak RSS");
    Some((kb, st.code()))
}

/// Issue 13, item 3: `explain --file` memory does not grow with its input.
/// 40 MB of matching lines (each raises a cause) stay under 80 MB of RSS;
/// read whole, the text and its parsed items alone took several times that.
#[test]
fn explain_file_memory_does_not_grow_with_matching_input() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let line = "[  1.0s]  WARN ThreadId(01) outbound:proxy{addr=10.43.38.167:8080}: linkerd_app_core::errors::respond: Request failed error=logical service 10.43.38.167:8080: service in fail-fast\n";
    let n = 40_000_000 / line.len();
    std::fs::write(&log, line.repeat(n)).unwrap();
    if let Some((kb, code)) = peak_rss_kb(&["explain", "--file", log.to_str().unwrap()], dir.path())
    {
        println!(
            "explain --file, {n} matching lines: peak RSS {} MB",
            kb / 1024
        );
        assert_eq!(code, Some(1), "the fail-fast is found");
        assert!(kb < 80 * 1024, "peak RSS {kb} kB");
    }
}

/// Issue 13, item 8: the markdown report keeps the "not looked at" list when
/// nothing was found, and `check -o markdown` that read nothing says so
/// (exit 2), never "No findings.".
#[test]
fn markdown_keeps_what_was_not_looked_at_and_a_failed_check_says_nothing_was_checked() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("bundle");
    std::fs::create_dir_all(b.join("objects")).unwrap();
    let mut failed = String::from("target: pod/web-1\nnamespace: shop\nfailed:\n");
    for what in [
        "pods",
        "services",
        "endpointslices",
        "networkpolicies",
        "events",
    ] {
        failed.push_str(&format!(
            "  - what: {what}\n    reason: \"403 Forbidden\"\n"
        ));
    }
    std::fs::write(b.join("bundle.yaml"), failed).unwrap();
    std::fs::write(b.join("objects/empty.yaml"), "").unwrap();
    let out = meshdoc()
        .args(["diagnose", "--from", b.to_str().unwrap(), "-o", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    for what in [
        "pods",
        "services",
        "endpointslices",
        "networkpolicies",
        "events",
    ] {
        assert!(md.contains(what), "{what} missing from:\n{md}");
    }
    assert!(md.contains("403 Forbidden"), "{md}");

    for (args, stdin) in [
        (vec!["check", "-o", "markdown", "/nonexistent/k8s"], None),
        (vec!["check", "-o", "markdown", "-"], Some("hello world\n")),
    ] {
        let mut c = meshdoc();
        c.args(&args);
        if let Some(s) = stdin {
            c.write_stdin(s);
        }
        let out = c.output().unwrap();
        let md = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(md.contains("Nothing checked"), "{args:?}: {md}");
        assert!(!md.contains("No findings"), "{args:?}: {md}");
    }
}

/// Issue 13, item 9: `check` with 20,000 Services sharing one selector.
/// Matching each Service against every pod was quadratic (20k: over five
/// minutes); indexed by label it takes about a second even in a debug build.
#[test]
fn check_with_twenty_thousand_services_sharing_a_selector_is_linear() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("svc.yaml");
    let mut s = String::from(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}\n",
    );
    for i in 0..20_000 {
        s.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: shop}}\nspec:\n  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: 80}}]\n"
        ));
    }
    std::fs::write(&f, s).unwrap();
    let t = std::time::Instant::now();
    meshdoc()
        .args(["check", f.to_str().unwrap()])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("read 20001 Kubernetes objects"));
    let secs = t.elapsed().as_secs_f64();
    println!("check, 20k Services sharing a selector: {secs:.2} s");
    assert!(secs < 30.0, "{secs} s");
}

/// Issue 13, item 2, the other shape of the bomb: many object files each
/// just under `--max-file-mib`. Once bundle.yaml is known each is parsed as
/// it is read, so the first garbage file ends the run (exit 2, named) and the
/// rest are never held: peak RSS stays under 200 MB for 16 × 48 MiB.
#[test]
fn many_object_files_under_the_limit_are_not_held_whole() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("many.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&bomb).unwrap(),
            flate2::Compression::best(),
        );
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(14);
        h.set_mode(0o644);
        b.append_data(&mut h, "bundle.yaml", &b"target: pod/x\n"[..])
            .unwrap();
        for i in 0..16 {
            let size = 48u64 << 20;
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(0o644);
            b.append_data(
                &mut h,
                format!("objects/part-{i:02}.yaml"),
                std::io::repeat(0).take(size),
            )
            .unwrap();
        }
        b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    let out = meshdoc()
        .args(["diagnose", "--from", bomb.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("objects/part-00.yaml:1:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some((kb, code)) =
        peak_rss_kb(&["diagnose", "--from", bomb.to_str().unwrap()], dir.path())
    {
        println!(
            "16 object files of 48 MiB: exit {code:?}, peak RSS {} MB",
            kb / 1024
        );
        assert_eq!(code, Some(2));
        assert!(kb < 200 * 1024, "peak RSS {kb} kB");
    }
}

/// Two scrapes of a Linkerd proxy's metrics, each sample with its
/// Prometheus timestamp, and a Deployment scaled to zero between them.
fn failfast_scrapes(dir: &std::path::Path, before: u64, after: u64) -> [std::path::PathBuf; 3] {
    let scrape = |at_ms: i64, failed: u64| {
        format!(
            "# TYPE outbound_http_errors_total counter\n\
outbound_http_errors_total{{error=\"failfast\",target_addr=\"10.96.0.20:8080\"}} {failed} {at_ms}\n\
# TYPE response_total counter\n\
response_total{{direction=\"outbound\",authority=\"api.shop.svc.cluster.local:8080\",status_code=\"504\",classification=\"failure\",error=\"\"}} {failed} {at_ms}\n"
        )
    };
    // 2025-03-01T09:59:50Z and 10:00:10Z, in milliseconds.
    let (t1, t2) = (1_740_823_190_000_i64, 1_740_823_210_000_i64);
    let m1 = dir.join("scrape-1.prom");
    let m2 = dir.join("scrape-2.prom");
    let k8s = dir.join("k8s.yaml");
    std::fs::write(&m1, scrape(t1, before)).unwrap();
    std::fs::write(&m2, scrape(t2, after)).unwrap();
    std::fs::write(
        &k8s,
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  creationTimestamp: "2025-01-01T00:00:00Z"
  managedFields:
  - manager: kubectl
    operation: Update
    apiVersion: apps/v1
    time: "2025-03-01T10:00:00Z"
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}}}
spec:
  replicas: 0
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api:1}]}
"#,
    )
    .unwrap();
    [m1, m2, k8s]
}

#[test]
fn a_counter_that_rose_between_two_scrapes_has_its_onset_on_the_timeline() {
    let d = tempfile::tempdir().unwrap();
    let [m1, m2, k8s] = failfast_scrapes(d.path(), 0, 7);
    let args = |files: &[&std::path::PathBuf]| -> Vec<String> {
        let mut a = vec!["diagnose".to_string()];
        for f in files {
            let flag = if f.extension().is_some_and(|e| e == "prom") {
                "--metrics"
            } else {
                "--objects"
            };
            a.extend([flag.to_string(), f.display().to_string()]);
        }
        a
    };
    let run = |files: &[&std::path::PathBuf]| {
        let a = args(files);
        json(&a.iter().map(String::as_str).collect::<Vec<_>>()).0
    };
    let v = run(&[&m1, &m2, &k8s]);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "linkerd-fail-fast")
        .unwrap_or_else(|| panic!("{v:#}"));
    // The latest scrape counts (7, not 0 + 7 twice).
    assert!(
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == "outbound_http_errors_total = 7"),
        "{f:#}"
    );
    // The onset is the scrape where the counter rose; the scale-down 10 s
    // before it is the trigger.
    let t = &f["trigger"];
    assert_eq!(t["change"]["kind"], "Deployment", "{f:#}");
    assert_eq!(t["onset"], "2025-03-01T10:00:10Z");
    assert_eq!(t["family"], "metric");
    assert_eq!(t["gap_ms"], 10_000);
    let entries = v["timeline"]["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["type"] == "errors"
            && e["subject"] == "linkerd-fail-fast"
            && e["errors"]["family"] == "metric"
            && e["at"] == "2025-03-01T10:00:10Z"),
        "{entries:#?}"
    );
    // Already above zero at the first scrape: the errors began before
    // anything read, so no onset and no trigger.
    let [m1, m2, k8s] = failfast_scrapes(d.path(), 3, 7);
    let v = run(&[&m1, &m2, &k8s]);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "linkerd-fail-fast")
        .unwrap();
    assert!(f["trigger"].is_null(), "{f:#}");
    // One scrape: no onset either.
    let v = run(&[&m2, &k8s]);
    assert!(v["timeline"]["trigger"].is_null(), "{:#}", v["timeline"]);
}
