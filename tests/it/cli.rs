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
    std::fs::write(
        &p,
        "id: bad-rule\ntitle: t\nmesh: linkerd\nseverity: error\nsignals:\n  - name: x\n    match: 'unclosed ('\ndocs:\n  summary: s\n  why: w\n  confirm: [{text: c}]\n  fix: [{text: f}]\n  references: [{title: r, url: 'https://x'}]\nexamples:\n  - {name: a, input: '503', expect: fire}\n  - {name: b, input: '200', expect: quiet}\n",
    )
    .unwrap();
    let path = p.display().to_string();
    meshdoc()
        .args(["--rules", &path, "explain", "503"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "{path}:7:5: signals[0].match: invalid regex"
        )));
    std::fs::write(
        &p,
        "id: bad-rule\ntitle: t\nmesh: linkerd\nseverity: error\nsurprise: 1\n",
    )
    .unwrap();
    meshdoc()
        .args(["--rules", &path, "rules", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{path}:5:1: surprise")));
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
