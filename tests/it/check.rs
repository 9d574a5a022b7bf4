//! `meshdoc check` through the binary: per-rule bad/good testdata with
//! expected findings, golden outputs per format, SARIF schema validation,
//! the exit-code contract for every format, bad input, stdin, suppression.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

const RULES: &str = "tests/testdata/check/rules";
const CASES: &str = "tests/testdata/check/cases";
const FORMATS: &[&str] = &[
    "table", "json", "yaml", "markdown", "sarif", "junit", "github",
];

fn meshdoc() -> Command {
    let mut c = Command::cargo_bin("meshdoc").unwrap_or_else(|e| panic!("binary: {e}"));
    c.env_remove("MESHDOC_RULES").env("NO_COLOR", "1");
    c.args(["--no-builtin", "--rules", RULES]);
    c
}

fn json_of(args: &[&str]) -> (Value, i32) {
    let out = meshdoc()
        .args(["check", "-o", "json"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap_or(-1))
}

/// `id @ file:line:column` of every finding, in rank order.
fn located(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let l = &f["location"];
                    format!(
                        "{} {} @ {}:{}:{}",
                        f["rank"],
                        f["id"].as_str().unwrap_or(""),
                        l["file"].as_str().unwrap_or(""),
                        l["line"],
                        l["column"]
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_rule_fires_on_its_bad_testdata_at_the_expected_rank_and_place_and_stays_quiet_on_the_good()
{
    let mut cases: Vec<_> = std::fs::read_dir(CASES)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "{} cases", cases.len());
    for dir in cases {
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let bad = dir.join("bad.yaml");
        let good = dir.join("good.yaml");
        let (v, code) = json_of(&["--fail-on", "info", bad.to_str().unwrap_or("")]);
        assert_eq!(code, 1, "{id}: bad.yaml must exit 1");
        let got = located(&v);
        let expected: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected.json"))
                .unwrap_or_else(|e| panic!("{id}: {e}")),
        )
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(got, expected, "{id}: findings on bad.yaml");
        assert!(
            got.iter().any(|g| g.contains(&format!(" {id} @ "))),
            "{id} did not fire"
        );
        let (v, _) = json_of(&["--fail-on", "info", good.to_str().unwrap_or("")]);
        assert!(
            !located(&v).iter().any(|g| g.contains(&format!(" {id} @ "))),
            "{id} fired on good.yaml: {:?}",
            located(&v)
        );
    }
}

#[test]
fn the_test_rules_pass_their_own_examples() {
    let out = meshdoc()
        .args(["rules", "test"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const GOLDEN: &str = "tests/testdata/check/golden";

fn golden(format: &str) -> String {
    let out = meshdoc()
        .args(["check", "-o", format, GOLDEN])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn golden_table() {
    insta::assert_snapshot!(golden("table"));
}

#[test]
fn golden_json() {
    insta::assert_snapshot!(golden("json"));
}

#[test]
fn golden_yaml() {
    insta::assert_snapshot!(golden("yaml"));
}

#[test]
fn golden_markdown() {
    insta::assert_snapshot!(golden("markdown"));
}

#[test]
fn golden_sarif() {
    insta::assert_snapshot!(golden("sarif"));
}

#[test]
fn golden_junit() {
    insta::assert_snapshot!(golden("junit"));
}

#[test]
fn golden_github() {
    insta::assert_snapshot!(golden("github"));
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/testdata/sarif-2.1.0-subset.json")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema: {e}"));
    for input in [GOLDEN, CASES] {
        let out = meshdoc()
            .args(["check", "-o", "sarif", input])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let log: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{input}: {errors:#?}");
        let results = log["runs"][0]["results"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0);
        assert!(results > 0, "{input}: no results");
        // Every result's ruleIndex points at its rule.
        for r in log["runs"][0]["results"].as_array().into_iter().flatten() {
            let i = r["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
            assert_eq!(
                log["runs"][0]["tool"]["driver"]["rules"][i]["id"],
                r["ruleId"]
            );
        }
    }
    // A deliberately broken log is rejected, so the schema has teeth.
    let bad = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{"level": "fatal"}]}]});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn every_format_exits_1_on_errors_0_when_clean_and_0_with_exit_zero() {
    let bad = format!("{CASES}/istio-dr-tls-conflict/bad.yaml");
    let good = format!("{CASES}/istio-dr-tls-conflict/good.yaml");
    for f in FORMATS {
        meshdoc().args(["check", "-o", f, &bad]).assert().code(1);
        meshdoc().args(["check", "-o", f, &good]).assert().code(0);
        meshdoc()
            .args(["check", "--exit-zero", "-o", f, &bad])
            .assert()
            .code(0);
    }
}

#[test]
fn fail_on_sets_the_threshold_for_every_format() {
    // Only a warning-severity rule fires here.
    let warn = format!("{CASES}/istio-envoyfilter-relative-order/bad.yaml");
    for f in FORMATS {
        meshdoc().args(["check", "-o", f, &warn]).assert().code(0);
        meshdoc()
            .args(["check", "--fail-on", "warning", "-o", f, &warn])
            .assert()
            .code(1);
        meshdoc()
            .args(["check", "--fail-on", "info", "-o", f, &warn])
            .assert()
            .code(1);
    }
}

#[test]
fn invalid_yaml_is_reported_at_file_line_column_the_other_files_are_still_checked_and_exit_is_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("a-broken.yaml"),
        "kind: Service\nmetadata:\n  name: [oops\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        format!("{CASES}/istio-dr-tls-conflict/bad.yaml"),
        dir.path().join("b-dr.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for f in FORMATS {
        let out = meshdoc()
            .args(["check", "-o", f])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(2), "{f}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("a-broken.yaml:3:"), "{f}: {err}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("istio-dr-tls-conflict"),
            "{f}: the other file was not checked:\n{stdout}"
        );
    }
}

#[test]
fn an_unrendered_helm_template_says_to_pipe_helm_template_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path().join("deployment.yaml");
    std::fs::write(&p, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"app.fullname\" . }}\n").unwrap_or_else(|e| panic!("{e}"));
    let out = meshdoc()
        .args(["check"])
        .arg(&p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("deployment.yaml:4:9") && err.contains("helm template"),
        "{err}"
    );
}

#[test]
fn list_kinds_are_expanded_and_items_keep_their_own_line() {
    let (v, code) = json_of(&["tests/testdata/check/inputs/list.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(
        located(&v),
        [
            "1 \"istio-dr-tls-conflict\" @ \"tests/testdata/check/inputs/list.yaml\":18:9"
                .replace('"', "")
        ]
    );
}

#[test]
fn stdin_is_read_with_dash_and_namespace_less_objects_get_dash_n() {
    let text = std::fs::read_to_string(format!("{CASES}/istio-dr-tls-conflict/bad.yaml"))
        .unwrap_or_default();
    let out = meshdoc()
        .args(["check", "-o", "json", "-n", "team-a", "-"])
        .write_stdin(text)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["findings"][0]["location"]["file"], "-");
    assert_eq!(v["findings"][0]["location"]["namespace"], "team-a");
}

#[test]
fn unknown_kinds_are_ignored_not_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path().join("x.yaml");
    std::fs::write(
        &p,
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n# just a comment\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    meshdoc().args(["check"]).arg(&p).assert().code(0);
}

#[test]
fn ignore_flag_annotation_and_baseline_suppress_findings() {
    let bad = format!("{CASES}/istio-dr-tls-conflict/bad.yaml");
    let n = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push(&bad);
        json_of(&a).0["findings"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    };
    assert_eq!(n(&[]), 1);
    assert_eq!(n(&["--ignore", "istio-dr-*"]), 0);
    assert_eq!(
        n(&[
            "--ignore",
            "istio-dr-tls-conflict=DestinationRule/default/reviews"
        ]),
        0
    );
    assert_eq!(
        n(&["--ignore", "istio-dr-tls-conflict=DestinationRule/other/*"]),
        1
    );

    let text = std::fs::read_to_string(&bad).unwrap_or_default().replace(
        "metadata: {name: reviews}",
        "metadata: {name: reviews, annotations: {meshdoc.io/ignore: \"linkerd-fail-fast, istio-dr-tls-conflict\"}}",
    );
    let out = meshdoc()
        .args(["check", "-o", "json", "-"])
        .write_stdin(text)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = dir.path().join("baseline.json");
    let b = base.to_str().unwrap_or("");
    meshdoc()
        .args(["check", "--write-baseline", b, &bad])
        .assert()
        .code(0);
    let fps: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(
        fps,
        ["istio-dr-tls-conflict:DestinationRule/default/reviews"]
    );
    meshdoc()
        .args(["check", "--baseline", b, &bad])
        .assert()
        .code(0);
    // Line numbers are not part of the fingerprint: shifting the file keeps it suppressed.
    let shifted = dir.path().join("shifted.yaml");
    std::fs::write(
        &shifted,
        format!(
            "# a new comment\n\n{}",
            std::fs::read_to_string(&bad).unwrap_or_default()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    meshdoc()
        .args(["check", "--baseline", b])
        .arg(&shifted)
        .assert()
        .code(0);
}

#[test]
fn cert_warn_turns_a_certificate_expiring_within_the_window_into_a_finding() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pem = std::fs::read_to_string("tests/testdata/check/certs/valid.pem").unwrap_or_default();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
    let p = dir.path().join("webhook.yaml");
    std::fs::write(&p, format!("apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {{name: linkerd-proxy-injector-webhook-config}}\nwebhooks:\n- name: linkerd-proxy-injector.linkerd.io\n  clientConfig: {{caBundle: {b64}}}\n  failurePolicy: Fail\n")).unwrap_or_else(|e| panic!("{e}"));
    let path = p.to_str().unwrap_or("");
    let (v, _) = json_of(&["--fail-on", "info", path]);
    assert_eq!(v["findings"].as_array().map(|a| a.len()), Some(0));
    // The valid certificate ends in 2036: a 20-year window reaches it.
    let (v, code) = json_of(&["--fail-on", "info", "--cert-warn", "7300d", path]);
    assert_eq!(code, 1);
    assert_eq!(
        v["findings"][0]["id"],
        "linkerd-injector-webhook-cert-expired"
    );
    assert_eq!(
        v["findings"][0]["location"]["field"],
        "webhooks[0].clientConfig.caBundle"
    );
}

#[test]
fn cluster_mode_without_a_kubeconfig_fails_clearly() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = meshdoc()
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", home.path())
        .args(["check", "--cluster"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no kubeconfig found"), "{err}");
}

#[test]
fn cluster_mode_takes_no_paths() {
    let out = meshdoc()
        .args(["check", "--cluster", CASES])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give no manifest paths"));
}

#[test]
fn an_ignore_naming_no_rule_is_warned_with_the_closest_id_and_the_check_still_runs() {
    let bad = format!("{CASES}/linkerd-netpol-blocks-proxy-port/bad.yaml");
    let out = meshdoc_builtin()
        .args([
            "check",
            "--ignore",
            "linkerd-netpol-blocks-proxy-prot",
            "--ignore",
            "istio-*",
            "--ignore",
            "zzz",
            &bad,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("meshdoc: --ignore: no rule `linkerd-netpol-blocks-proxy-prot` (did you mean `linkerd-netpol-blocks-proxy-port`?)"),
        "{err}"
    );
    assert!(err.contains("meshdoc: --ignore: no rule `zzz`\n"), "{err}");
    assert!(
        !err.contains("`istio-*`"),
        "a glob that matches rules is fine: {err}"
    );
    // The misspelt id suppressed nothing: the finding is reported, exit 1.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("linkerd-netpol-blocks-proxy-port"));
}

#[test]
fn a_missing_input_file_is_exit_2() {
    meshdoc()
        .args(["check", "does/not/exist.yaml"])
        .assert()
        .code(2);
    assert!(Path::new(CASES).exists());
}

/// The built-in rule pack, as a user runs it.
fn meshdoc_builtin() -> Command {
    let mut c = Command::cargo_bin("meshdoc").unwrap_or_else(|e| panic!("binary: {e}"));
    c.env_remove("MESHDOC_RULES").env("NO_COLOR", "1");
    c
}

/// Errors meshdoc is right to raise on a presumed-good file: the file was
/// good when its author ran it, and the calendar broke it since
/// (PROVENANCE.md, "Expired certificates").
const EXPIRED_SINCE_AUTHORED: &[(&str, &str)] = &[(
    "linkerd__linkerd-examples/thanos-demo__linkerd-install.yaml",
    "linkerd-identity-unavailable",
)];

fn manifest_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            manifest_files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(p);
        }
    }
}

/// Each file on its own, as its author applied it: the corpus holds 24
/// unrelated repositories, mostly in `default`, so one run over the whole
/// directory would make their objects meet (every sample's port-80
/// Gateway against the analyzer fixtures' `beta`).
#[test]
fn real_manifests_their_authors_ran_get_no_error_except_the_known_broken_ones() {
    let Some(root) = crate::support::shared::dir("corpus/manifests-real", "PROVENANCE.md") else {
        println!("skipped: ../shared/corpus/manifests-real is absent");
        return;
    };
    let root = root.as_path();
    let known = std::fs::read_to_string(root.join("KNOWN.tsv")).unwrap_or_default();
    let known: Vec<(String, String)> = known
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some((c.first()?.to_string(), c.get(2)?.to_string()))
        })
        .collect();
    let mut files = Vec::new();
    manifest_files(root, &mut files);
    let results: Vec<(String, Value, i32)> = std::thread::scope(|s| {
        let chunks: Vec<_> = files.chunks(files.len().div_ceil(2).max(1)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|f| {
                            let out = meshdoc_builtin()
                                .args(["check", "-o", "json", "--fail-on", "info"])
                                .arg(f)
                                .output()
                                .unwrap_or_else(|e| panic!("{e}"));
                            let rel = f
                                .strip_prefix(root)
                                .unwrap_or(f)
                                .to_string_lossy()
                                .replace('\\', "/");
                            let v: Value =
                                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                                    panic!(
                                        "{rel}: json: {e}\n{}",
                                        String::from_utf8_lossy(&out.stderr)
                                    )
                                });
                            (rel, v, out.status.code().unwrap_or(-1))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let (mut errors, mut warnings, mut infos) = (0, 0, 0);
    let (mut excused, mut no_objects, mut objects) = (Vec::new(), Vec::new(), 0usize);
    let mut wrong = Vec::new();
    for (rel, v, code) in &results {
        if v["error"]["kind"] == "nothing-read" {
            assert_eq!(*code, 2, "{rel}");
            no_objects.push(rel.clone());
            continue;
        }
        assert!(
            v["missing"].as_array().is_none_or(|m| m.is_empty()),
            "{rel} could not be read: {}",
            v["missing"]
        );
        objects += 1;
        for f in v["findings"].as_array().into_iter().flatten() {
            let id = f["id"].as_str().unwrap_or("");
            match f["severity"].as_str() {
                Some("error") => {
                    errors += 1;
                    let line = format!(
                        "{id} @ {rel} {}/{}",
                        f["location"]["kind"].as_str().unwrap_or(""),
                        f["location"]["name"].as_str().unwrap_or("")
                    );
                    if known.iter().any(|(file, rule)| file == rel && rule == id)
                        || EXPIRED_SINCE_AUTHORED.contains(&(rel.as_str(), id))
                    {
                        excused.push(line);
                    } else {
                        wrong.push(format!("{line}: {}", f["evidence"][0]["text"]));
                    }
                }
                Some("warning") => warnings += 1,
                _ => infos += 1,
            }
        }
    }
    println!(
        "manifests-real: {} files read ({objects} with Kubernetes objects, {} without: {}); findings: {errors} error, {warnings} warning, {infos} info",
        results.len(),
        no_objects.len(),
        no_objects.join(", ")
    );
    println!("errors excused ({}):", excused.len());
    for e in &excused {
        println!("  {e}");
    }
    assert!(results.len() >= 400, "{} files", results.len());
    assert!(
        wrong.is_empty(),
        "error findings on presumed-good files:\n{}",
        wrong.join("\n")
    );
}

fn dash_stdin(format: &str, input: &str) -> std::process::Output {
    meshdoc()
        .args(["check", "-o", format, "-"])
        .write_stdin(input.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Exit 2, a message on stderr naming what was read, and no "no findings"
/// on stdout.
fn assert_nothing_read(out: &std::process::Output, format: &str, read: &str) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{format}: {stderr}");
    assert!(
        stderr.contains("read 0 Kubernetes objects from 1 input") && stderr.contains(read),
        "{format}: {stderr}"
    );
    assert!(
        !stdout.contains('✓') && !stdout.to_lowercase().contains("no findings"),
        "{format}: {stdout}"
    );
    match format {
        "json" => {
            let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v["error"]["kind"], "nothing-read");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(read)),
                "{v}"
            );
        }
        "sarif" => {
            let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v["runs"][0]["invocations"][0]["executionSuccessful"], false);
        }
        "table" | "markdown" | "github" | "junit" | "yaml" => {
            assert!(stdout.contains(read), "{format}: {stdout}")
        }
        _ => {}
    }
}

#[test]
fn empty_stdin_exits_2_and_says_it_read_0_bytes_in_every_format() {
    for f in FORMATS {
        assert_nothing_read(&dash_stdin(f, ""), f, "stdin: 0 bytes");
    }
}

#[test]
fn text_that_is_not_a_manifest_exits_2_in_every_format() {
    for f in FORMATS {
        assert_nothing_read(
            &dash_stdin(f, "hello world\n"),
            f,
            "stdin: 12 bytes, no document with a `kind`",
        );
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path().join("hello.txt");
    std::fs::write(&p, "hello world\n").unwrap_or_else(|e| panic!("{e}"));
    for f in ["table", "json"] {
        let out = meshdoc()
            .args(["check", "-o", f])
            .arg(&p)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_nothing_read(&out, f, "hello.txt: 12 bytes, no document with a `kind`");
    }
}

#[test]
fn a_directory_without_yaml_exits_2_and_says_what_it_held() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let empty = dir.path().join("emptydir");
    std::fs::create_dir(&empty).unwrap_or_else(|e| panic!("{e}"));
    for f in ["table", "json"] {
        let out = meshdoc()
            .args(["check", "-o", f])
            .arg(&empty)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_nothing_read(&out, f, "emptydir/: no .yaml, .yml or .json file");
    }
    std::fs::write(empty.join("README.md"), "# docs\n").unwrap_or_else(|e| panic!("{e}"));
    let out = meshdoc()
        .args(["check"])
        .arg(&empty)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_nothing_read(&out, "table", "1 other file skipped");
}

#[test]
fn a_missing_path_exits_2_without_the_tick_in_table_and_json() {
    for f in ["table", "json"] {
        let out = meshdoc()
            .args(["check", "-o", f, "does/not/exist.yaml"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_nothing_read(&out, f, "does/not/exist.yaml: cannot read");
    }
}

#[test]
fn a_good_file_next_to_a_missing_one_is_checked_but_gets_no_tick() {
    let good = format!("{CASES}/istio-dr-tls-conflict/good.yaml");
    let out = meshdoc()
        .args(["check", &good, "does/not/exist.yaml"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains('✓') && stdout.contains("does/not/exist.yaml"),
        "{stdout}"
    );
}

#[test]
fn exclude_skips_matching_files_and_directories_during_the_walk() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let chart = dir.path().join("charts/app/templates");
    std::fs::create_dir_all(&chart).unwrap_or_else(|e| panic!("{e}"));
    // An unrendered template: exit 2 unless excluded.
    std::fs::write(
        chart.join("deployment.yaml"),
        "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        format!("{CASES}/istio-dr-tls-conflict/bad.yaml"),
        dir.path().join("k8s/dr.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        format!("{CASES}/istio-dr-tls-conflict/bad.yaml"),
        dir.path().join("k8s/dr-copy.json.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    meshdoc().args(["check"]).arg(dir.path()).assert().code(2);
    let out = meshdoc()
        .args(["check", "-o", "json", "--exclude", "charts/**"])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["findings"].as_array().map(|a| a.len()), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 manifest files") && err.contains("1 excluded"),
        "{err}"
    );
    // A pattern without `/` matches a name at any depth; repeatable.
    let out = meshdoc()
        .args([
            "check",
            "-o",
            "json",
            "--exclude",
            "templates",
            "--exclude",
            "*-copy.*",
        ])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["findings"].as_array().map(|a| a.len()), Some(1));
    // Excluding everything is reading nothing.
    meshdoc()
        .args(["check", "--exclude", "*"])
        .arg(dir.path())
        .assert()
        .code(2);
}

#[test]
fn mesh_istio_applies_the_istio_workload_rules_to_app_only_manifests() {
    let app = "tests/testdata/check/inputs/app-only-unnamed-port.yaml";
    let ids = |mesh: &str| {
        let out = meshdoc_builtin()
            .args([
                "check",
                "-o",
                "json",
                "--fail-on",
                "info",
                "--mesh",
                mesh,
                app,
            ])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let ids: Vec<String> = v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                format!(
                    "{} {}:{}",
                    f["id"].as_str().unwrap_or(""),
                    f["location"]["name"].as_str().unwrap_or(""),
                    f["location"]["line"]
                )
            })
            .collect();
        (ids, out.status.code())
    };
    // Nothing says which mesh injects these: auto stays quiet.
    assert_eq!(ids("auto"), (vec![], Some(0)));
    // IST0118-style: the unnamed port, at its line.
    assert_eq!(
        ids("istio"),
        (
            vec!["istio-route-rules-not-applied productpage:14".to_string()],
            Some(1)
        )
    );
    // Linkerd does not care about port names, and Istio's rules do not run.
    assert_eq!(ids("linkerd"), (vec![], Some(0)));
}

#[test]
fn github_output_is_workflow_commands_only_and_the_summary_goes_to_stderr() {
    let out = meshdoc()
        .args(["check", "-o", "github", GOLDEN])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.is_empty());
    for l in stdout.lines() {
        assert!(
            l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice "),
            "not a workflow command: {l}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("finding(s)"));
}

/// A directory walk stays inside the input: no link to a directory (no
/// loops, no walking `/`), no link to a file outside it, no FIFO (it would
/// hang) or device; each is named as not followed, and the run goes on.
#[cfg(unix)]
#[test]
fn directory_walks_do_not_follow_links_out_or_read_special_files() {
    let d = tempfile::tempdir().unwrap();
    let k8s = d.path().join("k8s");
    let outside = d.path().join("outside");
    std::fs::create_dir_all(&k8s).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        k8s.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {app: a}, ports: [{port: 80}]}\n",
    )
    .unwrap();
    std::fs::write(
        outside.join("private.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: private-outside}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.join("private.yaml"), k8s.join("link.yaml")).unwrap();
    std::os::unix::fs::symlink("..", k8s.join("loop")).unwrap();
    std::os::unix::fs::symlink("/", k8s.join("root")).unwrap();
    std::os::unix::fs::symlink("svc.yaml", k8s.join("inside.yaml")).unwrap();
    let fifo = k8s.join("fifo.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = Command::cargo_bin("meshdoc")
        .unwrap()
        .args(["check", "-o", "json"])
        .arg(&k8s)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains("private-outside"), "{stdout}");
    assert!(stderr.contains("not followed"), "{stderr}");
    for name in ["fifo.yaml", "link.yaml", "loop"] {
        assert!(stderr.contains(name), "{name} not named: {stderr}");
    }
    // svc.yaml and the link to it inside the directory: 2 files read.
    assert!(stderr.contains("2 manifest files"), "{stderr}");
}
