//! The evidence parsers against every corpus file of a kind they read
//! (`../shared/corpus`, skipped with a note when absent), plus robustness
//! inputs: garbage bytes, invalid UTF-8, a 10 MB line, truncation, empty input.

use meshdoc::evidence::detect::{read_lines, read_text};
use meshdoc::evidence::{InputKind, Item, Origin, access, envoy, linkerd, metrics};
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    crate::support::shared::corpus()
}

fn files(dir: &Path, ext: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if ext.iter().any(|x| p.to_string_lossy().ends_with(x)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).expect("corpus file readable")).into_owned()
}

fn origin(p: &Path) -> Origin {
    Origin::file(p.display().to_string(), None)
}

/// Prints `file lines parsed unparseable` so the counts show with `--nocapture`.
fn report(p: &Path, lines: usize, parsed: usize, bad: u64) {
    eprintln!("{:<90} {lines:>4} {parsed:>4} {bad:>3}", p.display());
}

#[test]
fn every_linkerd_proxy_line_parses_as_a_proxy_log() {
    let Some(c) = corpus() else { return };
    for f in files(&c.join("linkerd/logs"), &[".log"]) {
        let text = read(&f);
        let app_side = f.to_string_lossy().contains("app-side");
        let mut parsed = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let p = linkerd::parse_line(line);
            if app_side {
                assert!(p.is_none(), "app line taken as Linkerd: {line}");
            } else {
                let p = p.unwrap_or_else(|| panic!("{}: not parsed: {line}", f.display()));
                assert!(p.target.is_some(), "{line}");
                assert!(!p.message.is_empty() || p.error.is_some(), "{line}");
                parsed += 1;
            }
            assert!(
                access::parse_line(line).is_none(),
                "Linkerd line taken as access: {line}"
            );
            assert!(
                envoy::parse_line(line).is_none(),
                "Linkerd line taken as Envoy: {line}"
            );
        }
        let (_, st) = read_text(&text, InputKind::Auto, &origin(&f));
        assert_eq!(st.proxy_log as usize, parsed, "{}", f.display());
        report(&f, text.lines().count(), parsed, st.unparseable);
    }
}

#[test]
fn every_access_log_line_parses_with_status_and_flags() {
    let Some(c) = corpus() else { return };
    for f in files(&c.join("istio/access-logs"), &[".log"]) {
        let text = read(&f);
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut parsed = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let r = access::parse_line(line);
            if name == "partial-fragments.log" {
                parsed += usize::from(r.is_some()); // robustness only: no panic
                continue;
            }
            if line.contains("\txdsproxy\t") {
                assert!(r.is_none());
                assert!(envoy::parse_line(line).is_some());
                continue;
            }
            let r = r.unwrap_or_else(|| panic!("{name}: not parsed: {line}"));
            assert!(r.status.is_some(), "{line}");
            assert!(
                linkerd::parse_line(line).is_none(),
                "access line taken as Linkerd: {line}"
            );
            parsed += 1;
        }
        let (_, st) = read_text(&text, InputKind::Auto, &origin(&f));
        report(&f, text.lines().count(), parsed, st.unparseable);
    }
}

#[test]
fn hand_checked_access_lines_match_their_labels() {
    let Some(c) = corpus() else { return };
    let line = |file: &str, n: usize| {
        read(&c.join(file))
            .lines()
            .nth(n - 1)
            .map(str::to_string)
            .expect("line exists")
    };
    // is-access-503-UF-2: TCP, 0 UF,URX, connection refused
    let r = access::parse_line(&line("istio/access-logs/503-UF.log", 2)).unwrap();
    assert!(r.tcp);
    assert_eq!(
        (r.status, r.flags.clone()),
        (Some(0), vec!["UF".into(), "URX".into()])
    );
    assert_eq!(
        r.transport_failure.as_deref(),
        Some("delayed_connect_error:_Connection_refused")
    );
    // 503-UF-3: 503 UF with details
    let r = access::parse_line(&line("istio/access-logs/503-UF.log", 3)).unwrap();
    assert_eq!(r.status, Some(503));
    assert_eq!(
        r.details.as_deref(),
        Some(
            "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Invalid_argument}"
        )
    );
    assert_eq!(
        r.upstream_cluster.as_deref(),
        Some("outbound|80||echo.default.svc.cluster.local")
    );
    // 503-UF-4: TLS error in the transport failure reason
    let r = access::parse_line(&line("istio/access-logs/503-UF.log", 4)).unwrap();
    assert!(
        r.transport_failure
            .unwrap()
            .contains("CERTIFICATE_VERIFY_FAILED")
    );
    // 503-UO-1: overflow
    let r = access::parse_line(&line("istio/access-logs/503-UO.log", 1)).unwrap();
    assert_eq!((r.status, r.flags.clone()), (Some(503), vec!["UO".into()]));
    assert_eq!(r.upstream_host, None);
    // 400-DPE: both 1.9+ and 1.8 shapes
    let r = access::parse_line(&line("istio/access-logs/400-DPE.log", 1)).unwrap();
    assert_eq!(r.details.as_deref(), Some("http1.codec_error"));
    assert_eq!(
        r.sni.as_deref(),
        Some("outbound_.10101_._.smcentralmanagement-service.sm.svc.cluster.local")
    );
    let r = access::parse_line(&line("istio/access-logs/400-DPE.log", 2)).unwrap();
    assert_eq!((r.status, r.flags.clone()), (Some(400), vec!["DPE".into()]));
    // 426 low_version
    let r = access::parse_line(&line("istio/access-logs/426-low_version.log", 1)).unwrap();
    assert_eq!(
        (r.status, r.details.as_deref()),
        (Some(426), Some("low_version"))
    );
    // NR filter_chain_not_found on a gateway (TCP)
    let r = access::parse_line(&line(
        "istio/access-logs/gateway-sni-filter_chain_not_found.log",
        3,
    ))
    .unwrap();
    assert_eq!(r.flags, vec!["NR".to_string()]);
    assert_eq!(r.details.as_deref(), Some("filter_chain_not_found"));
    assert_eq!(r.duration_ms, Some(1836));
    // passthrough baseline: PassthroughCluster, no flags
    let r = access::parse_line(&line("istio/access-logs/tcp-passthrough-baseline.log", 2)).unwrap();
    assert!(r.flags.is_empty() && r.tcp);
    assert_eq!(r.upstream_cluster.as_deref(), Some("PassthroughCluster"));
    assert_eq!(r.duration_ms, Some(75009));
    // is-access-envoy-custom-format-1: UT / upstream_response_timeout
    let r = access::parse_line(&line("istio/access-logs/envoy-custom-format.log", 1)).unwrap();
    assert_eq!(r.flags, vec!["UT".to_string()]);
    // is-error-ztunnel-access-1: policy rejection
    let r = access::parse_line(&line("istio/error-logs/ztunnel-access.log", 1)).unwrap();
    assert!(r.termination.unwrap().contains("policy rejection"));
    // is-http-app-side-logs-1: combined log format, 426 from the app
    let r = access::parse_line(&line("istio/http-responses/app-side-logs.txt", 1)).unwrap();
    assert_eq!(r.status, Some(426));
    assert_eq!(r.protocol.as_deref(), Some("HTTP/1.1"));
}

/// `(response_code, response_flags, response_code_details)` per record, from
/// the collector's index of the derived compact file.
fn ssup2_index(c: &Path) -> Vec<(u16, String, String)> {
    read(&c.join("istio/access-logs/derived-ssup2-istio-json-compact.index.tsv"))
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((
                f.get(5)?.parse().ok()?,
                f.get(6)?.to_string(),
                f.get(7)?.to_string(),
            ))
        })
        .collect()
}

fn flags_text(f: &[String]) -> String {
    if f.is_empty() {
        "-".into()
    } else {
        f.join(",")
    }
}

#[test]
fn json_access_records_keep_their_flags() {
    let Some(c) = corpus() else { return };
    let index = ssup2_index(&c);
    assert_eq!(index.len(), 92);
    let f = c.join("istio/access-logs/derived-ssup2-istio-json-compact.log");
    let text = read(&f);
    let recs: Vec<_> = text
        .lines()
        .map(|l| access::parse_line(l).expect("JSON record"))
        .collect();
    assert_eq!(recs.len(), 92);
    for (r, (code, flags, details)) in recs.iter().zip(&index) {
        assert_eq!(r.status, Some(*code));
        assert_eq!(&flags_text(&r.flags), flags);
        assert_eq!(r.details.as_deref().unwrap_or("-"), details);
    }
    report(&f, 92, recs.len(), 0);
}

#[test]
fn pretty_printed_json_files_yield_the_same_records_as_the_compact_file() {
    let Some(c) = corpus() else { return };
    let index = ssup2_index(&c);
    let mut got = Vec::new();
    for f in files(
        &c.join("istio/access-logs/ssup2-istio-json-verbatim"),
        &[".json"],
    ) {
        let text = read(&f);
        let (ev, st) = read_text(&text, InputKind::Auto, &origin(&f));
        assert_eq!(
            st.access_log as usize,
            text.lines().count() / 30,
            "{}",
            f.display()
        );
        assert_eq!(st.app_log, 0, "{}", f.display());
        for e in &ev {
            let Item::Access(r) = &e.item else {
                panic!("not access: {}", e.raw)
            };
            got.push((
                r.status.unwrap_or(999),
                flags_text(&r.flags),
                r.details.clone().unwrap_or("-".into()),
            ));
        }
        report(&f, text.lines().count(), ev.len(), st.unparseable);
    }
    assert_eq!(got, index);
}

#[test]
fn every_envoy_and_istio_component_line_parses() {
    let Some(c) = corpus() else { return };
    for f in files(&c.join("istio/error-logs"), &[".log"]) {
        if f.to_string_lossy().contains("ztunnel") {
            continue; // an access line, checked above
        }
        let text = read(&f);
        let mut parsed = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let e = envoy::parse_line(line)
                .unwrap_or_else(|| panic!("{}: not parsed: {line}", f.display()));
            assert!(!e.message.is_empty(), "{line}");
            assert!(
                linkerd::parse_line(line).is_none(),
                "Envoy line taken as Linkerd: {line}"
            );
            assert!(
                access::parse_line(line).is_none(),
                "Envoy line taken as access: {line}"
            );
            parsed += 1;
        }
        let (_, st) = read_text(&text, InputKind::Auto, &origin(&f));
        assert_eq!(st.envoy_log as usize, parsed, "{}", f.display());
        report(&f, text.lines().count(), parsed, st.unparseable);
    }
}

#[test]
fn control_plane_lines_name_istiod_or_pilot_agent() {
    let Some(c) = corpus() else { return };
    let comp = |file: &str| -> Vec<String> {
        read(&c.join(file))
            .lines()
            .filter_map(|l| envoy::parse_line(l)?.component)
            .collect()
    };
    assert!(
        comp("istio/error-logs/pilot-discovery.log")
            .iter()
            .all(|c| c.starts_with("istiod/"))
    );
    assert!(
        comp("istio/error-logs/istiod-discovery.log")
            .iter()
            .all(|c| c.starts_with("istiod/"))
    );
    let agent = comp("istio/error-logs/pilot-agent-readiness.log");
    assert_eq!(agent.len(), 21);
    assert!(
        agent.iter().all(|c| c.starts_with("pilot-agent")),
        "{agent:?}"
    );
    assert!(
        comp("istio/error-logs/envoy-rbac-debug.log")
            .iter()
            .all(|c| c == "rbac")
    );
}

/// Sample counts verified with `grep -v '^#' FILE | grep -c .` (all lines are samples except where noted).
#[test]
fn metrics_files_yield_the_expected_sample_counts() {
    let Some(c) = corpus() else { return };
    let expected: &[(&str, usize, u64)] = &[
        (
            "linkerd/metrics/linkerd-website-pr-2069-route-backend-duration.prom",
            3,
            0,
        ),
        (
            "linkerd/metrics/linkerd2-cli-obfuscate-diagnostics-input.prom",
            4,
            0,
        ),
        (
            "linkerd/metrics/linkerd2-issue-2935-response-total-unclassified.prom",
            1,
            0,
        ),
        (
            "linkerd/metrics/linkerd2-issue-4215-route-response-500.prom",
            8,
            0,
        ),
        (
            "linkerd/metrics/linkerd2-issue-8915-response-timeout.prom",
            2,
            0,
        ),
        (
            "linkerd/metrics/linkerd2-proxy-pr-2617-identity-openmetrics.prom",
            1,
            0,
        ),
        (
            "linkerd/metrics/linkerd2-testutil-sampleMetrics-full-exposition.prom",
            199,
            0,
        ),
        ("istio/stats/circuit-breaking-httpbin.envoy-stats.txt", 7, 0),
        ("istio/stats/envoy-admin-clusters.txt", 12, 0),
        (
            "istio/stats/istio-1.5-istio-proxy-stats-prometheus.excerpt.prom",
            132,
            0,
        ),
        // line 1 is the cut-off tail of a HELP line (`total`): unparseable
        ("istio/stats/istio_requests_total-exposition.prom", 1, 1),
        // line 1 has no value (Prometheus UI row): kept with NaN
        ("istio/stats/istio_requests_total-query-results.prom", 2, 0),
    ];
    for (file, n, bad) in expected {
        let f = c.join(file);
        let text = read(&f);
        let (samples, unparseable) = metrics::parse(&text);
        assert_eq!((samples.len(), unparseable), (*n, *bad), "{file}");
        let (ev, st) = read_text(&text, InputKind::Auto, &origin(&f));
        assert_eq!(ev.len(), 1, "{file} is one block");
        assert_eq!(st.metric_samples as usize, *n, "{file}");
        report(&f, text.lines().count(), samples.len(), unparseable);
    }
    let (s, _) = metrics::parse(&read(
        &c.join("istio/stats/istio_requests_total-query-results.prom"),
    ));
    assert_eq!(s[1].label("response_flags"), Some("UC"));
    assert_eq!(s[1].value, 1.0);
    let (s, _) = metrics::parse(&read(
        &c.join("linkerd/metrics/linkerd2-issue-8915-response-timeout.prom"),
    ));
    assert_eq!(s[0].label("error"), Some("response timeout"));
}

#[test]
fn header_blocks_and_client_transcripts_become_http_items() {
    let Some(c) = corpus() else { return };
    let f = c.join("linkerd/headers/linkerd2-issue-9888-404-no-route.txt");
    let (ev, _) = read_text(&read(&f), InputKind::Auto, &origin(&f));
    assert_eq!(ev.len(), 1);
    let Item::Http(h) = &ev[0].item else {
        panic!("not http")
    };
    assert_eq!(h.status, Some(404));
    assert_eq!(
        h.header("l5d-proxy-error"),
        Some("no route found for request")
    );
    assert_eq!(h.request_headers.len(), 3);
    let f = c.join("linkerd/headers/linkerd2-issue-13013-403-client-side.txt");
    let (ev, _) = read_text(&read(&f), InputKind::Auto, &origin(&f));
    assert!(matches!(&ev[0].item, Item::Http(h) if h.status == Some(403)));
    // client-errors.txt: each line is its own input (labels rows 1-3)
    let text = read(&c.join("istio/http-responses/client-errors.txt"));
    for l in text.lines() {
        let (ev, _) = read_text(l, InputKind::Auto, &Origin::Arg);
        assert!(matches!(&ev[0].item, Item::Http(_)), "{l}");
    }
}

/// Every labelled input reads as the kind its label names.
#[test]
fn labelled_inputs_read_as_their_kind() {
    let Some(c) = corpus() else { return };
    let labels = read(&c.join("labels.tsv"));
    let mut checked = 0;
    for row in labels.lines().skip(1) {
        let f: Vec<&str> = row.splitn(7, '\t').collect();
        let [case, _, kind, _, file, line, text] = f.as_slice() else {
            continue;
        };
        let path = c.join(file.trim_start_matches("shared:"));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let whole = String::from_utf8_lossy(&bytes).into_owned();
        let input = crate::corpus::label_input(case, file, whole, text, line);
        let (ev, _) = read_text(&input, InputKind::Auto, &Origin::Arg);
        let ok = |pred: &dyn Fn(&Item) -> bool| !ev.is_empty() && ev.iter().all(|e| pred(&e.item));
        let good = match *kind {
            "proxy-log" => ok(&|i| matches!(i, Item::ProxyLog(_))),
            "access-log" => ok(&|i| matches!(i, Item::Access(_))),
            "envoy-log" => ok(&|i| matches!(i, Item::EnvoyLog(_))),
            "metrics" => ok(&|i| matches!(i, Item::Metrics { samples } if !samples.is_empty())),
            // an app-side exception quoted as client output stays app text
            "curl" | "header" | "http-body" => {
                ok(&|i| matches!(i, Item::Http(_) | Item::AppLog { .. }))
            }
            _ => true,
        };
        assert!(
            good,
            "{case} ({kind}) read as {:?}",
            ev.iter().map(|e| &e.item).collect::<Vec<_>>()
        );
        checked += 1;
    }
    assert!(checked > 300, "only {checked} label rows checked");
}

#[test]
fn ssup2_transcript_ranges_are_http_bodies() {
    let Some(c) = corpus() else { return };
    let whole = read(&c.join("istio/http-responses/ssup2-curl-grpcurl-outputs.txt"));
    let lines: Vec<&str> = whole.lines().collect();
    let range = |a: usize, b: usize| lines[a - 1..b].join("\n");
    let (ev, _) = read_text(&range(67, 82), InputKind::Auto, &Origin::Arg);
    let Item::Http(h) = &ev[0].item else {
        panic!("not http")
    };
    assert!(h.body.contains("no healthy upstream"));
    assert!(!h.body.contains("kubectl exec"));
    let (ev, _) = read_text(&range(119, 123), InputKind::Auto, &Origin::Arg);
    let Item::Http(h) = &ev[0].item else {
        panic!("not http")
    };
    assert_eq!(h.header("grpc-status"), Some("14"));
}

#[test]
fn garbage_bytes_and_invalid_utf8_never_panic() {
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    bytes.extend_from_slice(
        b"\n\xff\xfe [ 1.0s] WARN \xc3\x28 linkerd\n{\"response_code\":\n\x00\x00\n",
    );
    let text = String::from_utf8_lossy(&bytes);
    let (_, st) = read_text(&text, InputKind::Auto, &Origin::Arg);
    assert!(st.unparseable >= 1);
    for kind in [
        InputKind::ProxyLog,
        InputKind::AccessLog,
        InputKind::EnvoyLog,
        InputKind::Metrics,
        InputKind::Http,
    ] {
        let _ = read_text(&text, kind, &Origin::Arg);
        let _ = read_lines(&bytes[..], kind, &Origin::Arg, |_| {});
    }
}

#[test]
fn a_ten_megabyte_line_is_skipped_and_counted() {
    let mut input =
        b"[ 1.0s]  WARN ThreadId(01) linkerd_reconnect: Failed to connect error=x\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    input.extend_from_slice(b"\nafter\n");
    let mut n = 0;
    let st = read_lines(&input[..], InputKind::Auto, &Origin::Arg, |_| n += 1);
    assert_eq!((st.lines, st.oversized, n), (3, 1, 2));
    let text = String::from_utf8_lossy(&input);
    let (ev, st) = read_text(&text, InputKind::Auto, &Origin::Arg);
    assert_eq!((st.lines, st.oversized, ev.len()), (3, 1, 2));
}

#[test]
fn a_truncated_metrics_file_yields_what_parsed() {
    let Some(c) = corpus() else { return };
    let text =
        read(&c.join("linkerd/metrics/linkerd2-testutil-sampleMetrics-full-exposition.prom"));
    for cut in [10, 1000, 5000, text.len() / 2, text.len() - 3] {
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let (s, _) = metrics::parse(&text[..cut]);
        let (all, _) = metrics::parse(&text);
        assert!(s.len() <= all.len());
    }
}

#[test]
fn empty_input_reads_as_nothing() {
    for t in ["", "\n", "   \n\t\n"] {
        let (ev, st) = read_text(t, InputKind::Auto, &Origin::Arg);
        assert!(ev.is_empty());
        assert_eq!(st.unparseable, 0);
    }
}
