//! The README is a test: every `meshdoc` command it shows (its `sh` and CI
//! `yaml` blocks, and inline code) runs here with an asserted outcome, the
//! rank-1 cause or the exit code.
//!
//! Placeholders (`proxy.log`, `k8s/`, `helm template …` on stdin) are files
//! under `tests/testdata/readme/`, copied into a scratch directory the
//! commands run in. Live-cluster forms run with a kubeconfig that does not
//! exist and must fail cleanly with exit 2 (they run against the in-process
//! API server in `tests/it/cluster_diagnose.rs`). A README command without an
//! entry in [`TABLE`], or an entry the README no longer shows, fails.

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::Path;

/// What one run must show.
#[derive(Clone, Copy)]
enum Expect {
    /// Exit 1 and this id ranked first (`-o json` is added when the
    /// command names no format).
    Rank1(&'static str),
    /// This exit code.
    Exit(i32),
    /// This exit code, and stdout contains the text.
    Prints(i32, &'static str),
}

/// One invocation: arguments (`{repo}` is the checkout), the testdata file on
/// stdin, the outcome.
type Run = (&'static [&'static str], Option<&'static str>, Expect);

/// README command (as written, comment dropped) → the runs that stand for it.
const TABLE: &[(&str, &[Run])] = &[
    (
        "cargo run --release -- diagnose --from fixtures/linkerd-fail-fast",
        &[(
            &["diagnose", "--from", "{repo}/fixtures/linkerd-fail-fast"],
            None,
            Expect::Rank1("linkerd-fail-fast"),
        )],
    ),
    (
        "meshdoc explain 503",
        &[(
            &["explain", "503"],
            None,
            Expect::Rank1("envoy-upstream-connect-failure"),
        )],
    ),
    (
        "meshdoc explain UF,URX",
        &[(
            &["explain", "UF,URX"],
            None,
            Expect::Rank1("envoy-upstream-connect-failure"),
        )],
    ),
    (
        "meshdoc explain 'l5d-proxy-error: logical service 10.43.38.167:8080: service in fail-fast'",
        &[(
            &[
                "explain",
                "l5d-proxy-error: logical service 10.43.38.167:8080: service in fail-fast",
            ],
            None,
            Expect::Rank1("linkerd-fail-fast"),
        )],
    ),
    (
        "meshdoc explain 'every call through linkerd times out'",
        &[(
            &["explain", "every call through linkerd times out"],
            None,
            // Info candidates: exit 0, the cause printed first.
            Expect::Prints(0, "1   linkerd-response-timeout"),
        )],
    ),
    (
        "meshdoc explain --file proxy.log",
        &[(
            &["explain", "--file", "proxy.log"],
            None,
            Expect::Rank1("linkerd-response-timeout"),
        )],
    ),
    (
        "kubectl logs web-1 -c linkerd-proxy | meshdoc explain -",
        &[(
            &["explain", "-"],
            Some("proxy.log"),
            Expect::Rank1("linkerd-response-timeout"),
        )],
    ),
    (
        "meshdoc explain linkerd-fail-fast",
        &[(
            &["explain", "linkerd-fail-fast"],
            None,
            Expect::Prints(0, "fail-fast"),
        )],
    ),
    (
        "meshdoc diagnose --from bundle/",
        &[(
            &[
                "diagnose",
                "--from",
                "{repo}/fixtures/envoy-no-healthy-upstream/",
            ],
            None,
            Expect::Rank1("envoy-no-healthy-upstream"),
        )],
    ),
    (
        "meshdoc diagnose --logs proxy.log --metrics metrics.prom --http curl.txt --objects k8s.yaml",
        &[(
            &[
                "diagnose",
                "--logs",
                "proxy.log",
                "--metrics",
                "metrics.prom",
                "--http",
                "curl.txt",
                "--objects",
                "k8s.yaml",
            ],
            None,
            Expect::Rank1("linkerd-netpol-blocks-proxy-port"),
        )],
    ),
    (
        "kubectl logs web-1 -c linkerd-proxy | meshdoc diagnose -",
        &[(
            &["diagnose", "-"],
            Some("proxy.log"),
            Expect::Rank1("linkerd-response-timeout"),
        )],
    ),
    (
        "meshdoc check k8s/",
        &[(
            &["check", "k8s/"],
            None,
            Expect::Rank1("linkerd-netpol-blocks-proxy-port"),
        )],
    ),
    (
        "helm template my-chart | meshdoc check -",
        &[(
            &["check", "-"],
            Some("chart.yaml"),
            Expect::Rank1("istio-dr-tls-conflict"),
        )],
    ),
    (
        "meshdoc diagnose pod/web-7d4b9c-x2x8k -n shop",
        &[(
            &["diagnose", "pod/web-7d4b9c-x2x8k", "-n", "shop"],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc diagnose deploy/checkout --context prod --since 30m --tail 5000",
        &[(
            &[
                "diagnose",
                "deploy/checkout",
                "--context",
                "prod",
                "--since",
                "30m",
                "--tail",
                "5000",
            ],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc diagnose ns/shop",
        &[(&["diagnose", "ns/shop"], None, Expect::Exit(2))],
    ),
    (
        "meshdoc diagnose -A --prometheus http://prometheus.monitoring:9090",
        &[(
            &[
                "diagnose",
                "-A",
                "--prometheus",
                "http://prometheus.monitoring:9090",
            ],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc diagnose ns/shop --top 2 -o markdown",
        &[(
            &["diagnose", "ns/shop", "--top", "2", "-o", "markdown"],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc diagnose svc/payments -n shop -o json --save-bundle ./payments-bundle",
        &[(
            &[
                "diagnose",
                "svc/payments",
                "-n",
                "shop",
                "-o",
                "json",
                "--save-bundle",
                "./payments-bundle",
            ],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc timeline",
        &[(&["timeline"], None, Expect::Exit(2))],
    ),
    (
        "meshdoc timeline --from fixtures/istio-dr-applied-then-503",
        &[(
            &[
                "timeline",
                "--from",
                "{repo}/fixtures/istio-dr-applied-then-503",
            ],
            None,
            Expect::Prints(
                1,
                "suspected trigger: DestinationRule bookinfo/productpage changed by kubectl-client-side-apply",
            ),
        )],
    ),
    (
        "meshdoc timeline --from fixtures/istio-strict-after-successes",
        &[(
            &[
                "timeline",
                "--from",
                "{repo}/fixtures/istio-strict-after-successes",
            ],
            None,
            Expect::Prints(
                1,
                "suspected trigger: PeerAuthentication istio-system/default changed by kubectl-client-side-apply (metadata.annotations, spec.mtls) at 2025-03-01T10:00:00Z, 2 s before the first uc-uf-503 (access-log) at 2025-03-01T10:00:02Z, after the last success at 2025-03-01T09:59:58Z",
            ),
        )],
    ),
    (
        "meshdoc timeline deploy/productpage-v1 -n bookinfo -o markdown",
        &[(
            &[
                "timeline",
                "deploy/productpage-v1",
                "-n",
                "bookinfo",
                "-o",
                "markdown",
            ],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc rbac",
        &[(&["rbac"], None, Expect::Prints(0, "ClusterRole"))],
    ),
    ("meshdoc serve", &[(&["serve"], None, Expect::Exit(2))]),
    (
        "meshdoc serve -n shop -n payments --interval 5m --prometheus http://prometheus.monitoring:9090",
        &[(
            &[
                "serve",
                "-n",
                "shop",
                "-n",
                "payments",
                "--interval",
                "5m",
                "--prometheus",
                "http://prometheus.monitoring:9090",
            ],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc rbac --cluster-wide --service-account-namespace meshdoc",
        &[(
            &[
                "rbac",
                "--cluster-wide",
                "--service-account-namespace",
                "meshdoc",
            ],
            None,
            Expect::Prints(0, "kind: ClusterRoleBinding"),
        )],
    ),
    (
        "helm template my-release ./chart | meshdoc check -",
        &[(
            &["check", "-"],
            Some("chart.yaml"),
            Expect::Rank1("istio-dr-tls-conflict"),
        )],
    ),
    (
        "kustomize build overlays/prod | meshdoc check -o markdown -",
        &[(
            &["check", "-o", "markdown", "-"],
            Some("kustomize.yaml"),
            Expect::Prints(1, "istio-gateway-port-name-conflict"),
        )],
    ),
    (
        "meshdoc check k8s/ --fail-on warning",
        &[(
            &["check", "k8s/", "--fail-on", "warning"],
            None,
            Expect::Rank1("linkerd-netpol-blocks-proxy-port"),
        )],
    ),
    (
        "meshdoc check k8s/ --write-baseline .meshdoc-baseline.json",
        &[(
            &[
                "check",
                "k8s/",
                "--write-baseline",
                ".meshdoc-baseline.json",
            ],
            None,
            Expect::Exit(0),
        )],
    ),
    (
        "meshdoc check k8s/ --baseline .meshdoc-baseline.json",
        &[
            (
                &[
                    "check",
                    "k8s/",
                    "--write-baseline",
                    ".meshdoc-baseline.json",
                ],
                None,
                Expect::Exit(0),
            ),
            (
                &["check", "k8s/", "--baseline", ".meshdoc-baseline.json"],
                None,
                Expect::Exit(0),
            ),
        ],
    ),
    (
        "meshdoc check -o github rendered.yaml k8s/",
        &[(
            &["check", "-o", "github", "rendered.yaml", "k8s/"],
            None,
            Expect::Prints(1, "::error"),
        )],
    ),
    (
        "meshdoc check -o sarif --exit-zero rendered.yaml k8s/ > meshdoc.sarif",
        &[(
            &[
                "check",
                "-o",
                "sarif",
                "--exit-zero",
                "rendered.yaml",
                "k8s/",
            ],
            None,
            Expect::Prints(0, "2.1.0"),
        )],
    ),
    (
        "meshdoc check -o junit rendered.yaml k8s/ > meshdoc-junit.xml",
        &[(
            &["check", "-o", "junit", "rendered.yaml", "k8s/"],
            None,
            Expect::Prints(1, "<testsuite"),
        )],
    ),
    (
        "meshdoc diagnose sts/ledger -n shop",
        &[(
            &["diagnose", "sts/ledger", "-n", "shop"],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc check . --exclude 'charts/**' --exclude '**/testdata/**'",
        &[(
            &[
                "check",
                ".",
                "--exclude",
                "charts/**",
                "--exclude",
                "**/testdata/**",
            ],
            None,
            Expect::Exit(1),
        )],
    ),
    (
        "meshdoc check k8s/ --mesh istio",
        &[(&["check", "k8s/", "--mesh", "istio"], None, Expect::Exit(0))],
    ),
    (
        "meshdoc check --cluster",
        &[(&["check", "--cluster"], None, Expect::Exit(2))],
    ),
    (
        "meshdoc check --cluster -n bookinfo",
        &[(
            &["check", "--cluster", "-n", "bookinfo"],
            None,
            Expect::Exit(2),
        )],
    ),
    (
        "meshdoc completions bash > ~/.local/share/bash-completion/completions/meshdoc",
        &[(
            &["completions", "bash"],
            None,
            Expect::Prints(0, "_meshdoc"),
        )],
    ),
    (
        "meshdoc completions zsh > \"${fpath[1]}/_meshdoc\"",
        &[(
            &["completions", "zsh"],
            None,
            Expect::Prints(0, "#compdef meshdoc"),
        )],
    ),
    (
        "meshdoc completions fish > ~/.config/fish/completions/meshdoc.fish",
        &[(
            &["completions", "fish"],
            None,
            Expect::Prints(0, "complete -c meshdoc"),
        )],
    ),
    (
        "meshdoc man > /usr/local/share/man/man1/meshdoc.1",
        &[(&["man"], None, Expect::Prints(0, ".TH meshdoc 1"))],
    ),
    // Inline code in the prose.
    (
        "meshdoc diagnose pod/NAME",
        &[(&["diagnose", "pod/NAME"], None, Expect::Exit(2))],
    ),
    ("meshdoc check", &[(&["check"], None, Expect::Exit(2))]),
    (
        "meshdoc rules facts",
        &[(&["rules", "facts"], None, Expect::Exit(0))],
    ),
    (
        "cargo run -- rules test",
        &[(
            &["rules", "test"],
            None,
            Expect::Prints(0, "0 misses, 0 false alarms"),
        )],
    ),
    (
        "meshdoc --rules ./my-rules …",
        &[(
            &["--rules", "./my-rules", "rules", "list"],
            None,
            Expect::Prints(0, "shop-loadshed"),
        )],
    ),
    (
        "meshdoc rules schema",
        &[(&["rules", "schema"], None, Expect::Prints(0, "\"$schema\""))],
    ),
    (
        "meshdoc rules list|show ID|test|facts|patterns",
        &[
            (
                &["rules", "list"],
                None,
                Expect::Prints(0, "linkerd-fail-fast"),
            ),
            (
                &["rules", "show", "linkerd-fail-fast"],
                None,
                Expect::Prints(0, "fail-fast"),
            ),
            (&["rules", "test"], None, Expect::Exit(0)),
            (&["rules", "facts"], None, Expect::Exit(0)),
            (
                &["rules", "patterns"],
                None,
                Expect::Prints(0, "fail-?fast"),
            ),
        ],
    ),
    (
        "meshdoc diagnose --from",
        &[(&["diagnose", "--from"], None, Expect::Exit(2))],
    ),
    (
        "meshdoc rules patterns",
        &[(
            &["rules", "patterns"],
            None,
            Expect::Prints(0, "fail-?fast"),
        )],
    ),
];

/// Every command the README shows, as written (a trailing `# comment` and
/// repeated blanks dropped), in order.
fn readme_commands(readme: &str) -> Vec<String> {
    let norm = |s: &str| {
        let s = match s.find(" #") {
            Some(i) => &s[..i],
            None => s,
        };
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let is_cmd =
        |s: &str| s.starts_with("meshdoc ") || s.starts_with("cargo run") || s == "meshdoc check";
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        if let Some(lang) = line.strip_prefix("```") {
            block = match block {
                None => Some(lang.trim().to_string()),
                Some(_) => None,
            };
            continue;
        }
        match block.as_deref() {
            Some("sh") => {
                let t = line.trim();
                if !t.starts_with('#') && (t.contains("meshdoc ") || t.starts_with("cargo run")) {
                    out.push(norm(t));
                }
            }
            Some("yaml") => {
                let t = line.trim().trim_start_matches("- ").trim();
                let t = t.strip_prefix("run:").unwrap_or(t).trim();
                if t.starts_with("meshdoc ") {
                    out.push(norm(t));
                }
            }
            Some(_) => {}
            None => {
                // Inline code spans.
                for (i, span) in line.split('`').enumerate() {
                    if i % 2 == 1 && is_cmd(span) {
                        out.push(norm(span));
                    }
                }
            }
        }
    }
    out
}

fn run(dir: &Path, repo: &Path, r: &Run, shown: &str) {
    let (args, stdin, expect) = r;
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{repo}", &repo.display().to_string()))
        .collect();
    let mut c = Command::cargo_bin("meshdoc").expect("binary builds");
    c.current_dir(dir)
        .env_remove("MESHDOC_RULES")
        .env("NO_COLOR", "1")
        // No real cluster, ever: no kubeconfig, no in-cluster config.
        .env("HOME", dir)
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(&args);
    let json = matches!(expect, Expect::Rank1(_)) && !args.iter().any(|a| a == "-o");
    if json {
        c.args(["-o", "json"]);
    }
    if let Some(f) = stdin {
        c.pipe_stdin(dir.join(f)).expect("stdin file");
    }
    let out = c.output().expect("runs");
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ctx = format!("README `{shown}` ran as {args:?}: exit {code}\nstderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{ctx}");
    match expect {
        Expect::Rank1(id) => {
            assert_eq!(code, 1, "{ctx}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{ctx}\nnot JSON: {e}"));
            assert_eq!(
                v["findings"][0]["id"].as_str(),
                Some(*id),
                "{ctx}\n{stdout}"
            );
        }
        Expect::Exit(want) => {
            assert_eq!(code, *want, "{ctx}");
            if *want == 2 {
                assert!(
                    !stderr.trim().is_empty(),
                    "{ctx}: exit 2 says why on stderr"
                );
            }
        }
        Expect::Prints(want, text) => {
            assert_eq!(code, *want, "{ctx}");
            assert!(
                stdout.contains(text),
                "{ctx}\nstdout lacks {text:?}:\n{stdout}"
            );
        }
    }
}

#[test]
fn every_meshdoc_command_in_the_readme_runs_with_its_expected_outcome() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    let shown = readme_commands(&readme);
    let known: BTreeSet<&str> = TABLE.iter().map(|(k, _)| *k).collect();
    let missing: Vec<&String> = shown
        .iter()
        .filter(|c| !known.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README commands without an expectation in tests/it/cli/readme.rs: {missing:#?}"
    );
    let stale: Vec<&&str> = known
        .iter()
        .filter(|k| !shown.iter().any(|c| c == *k))
        .collect();
    assert!(
        stale.is_empty(),
        "expectations for commands the README no longer shows: {stale:#?}"
    );

    let dir = tempfile::tempdir().expect("scratch dir");
    copy_dir(&repo.join("tests/testdata/readme"), dir.path());
    let mut seen = BTreeSet::new();
    for cmd in &shown {
        if !seen.insert(cmd.as_str()) {
            continue;
        }
        let (_, runs) = TABLE.iter().find(|(k, _)| k == cmd).expect("checked above");
        for r in *runs {
            run(dir.path(), repo, r, cmd);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("testdata dir").flatten() {
        let p = e.path();
        let dst = to.join(e.file_name());
        if p.is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).expect("copy");
        }
    }
}
