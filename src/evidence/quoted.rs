//! Statuses other tools quote in text no parser claims: Linkerd tap
//! responses, gRPC clients, istio.io's per-pair `curl -w` lines, prose.
//! The matcher treats each as a symptom of the causes that answer with it.

/// A status another tool quotes in a line that no parser claimed: a
/// `linkerd viz tap` response (`rsp id=… proxy=out … :status=504 …`), a
/// gRPC client that got a non-gRPC HTTP answer (`HTTP status code 503;
/// transport: missing content-type field`: a proxy, not the gRPC server,
/// answered), istio.io's `sleep.foo to httpbin.bar: 503`, a status named in
/// prose (`HTTP status 426`), or a gRPC client's PermissionDenied /
/// Unauthenticated. Only 4xx/5xx.
pub fn quoted_status(line: &str) -> Option<(u16, &'static str)> {
    let three = |s: &str| -> Option<u16> {
        let d = s.get(..3)?;
        let after = s[3..].chars().next();
        (d.bytes().all(|b| b.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit()))
            .then(|| d.parse().ok())
            .flatten()
            .filter(|c| (400..600).contains(c))
    };
    let t = line.trim_start();
    if t.starts_with("rsp id=") && (t.contains(" proxy=out ") || t.contains(" proxy=in ")) {
        let i = t.find(" :status=")?;
        return three(&t[i + 9..]).map(|c| (c, "in a Linkerd tap response"));
    }
    // A gRPC client that got a non-gRPC HTTP answer: `HTTP status code 503;
    // transport: missing content-type field` (a proxy answered, not the
    // gRPC server).
    if let Some(i) = line.find("HTTP status code ")
        && let Some(code) = three(&line[i + 17..])
        && line[i..].contains("transport: ")
    {
        return Some((
            code,
            "answered to a gRPC client by something other than the gRPC server",
        ));
    }
    // `sleep.foo to httpbin.legacy: 503`: istio.io's tasks print each
    // client-server pair's status with `curl -w`.
    if let Some((pair, code)) = line.trim().rsplit_once(": ") {
        let mut w = pair.split(' ');
        if let (Some(_), Some("to"), Some(_), None) = (w.next(), w.next(), w.next(), w.next())
            && let Some(c) = three(code).filter(|_| code.len() == 3)
        {
            return Some((c, "printed by a client for a source-destination pair"));
        }
    }
    // A status named in prose: `Getting HTTP status 426`, `(status code 503)`.
    for key in [
        "response status code does not indicate success: ",
        "http status code ",
        "http status ",
        "http error ",
        "status code ",
        "status code: ",
        "response code ",
        "response code: ",
        "http ",
    ] {
        // Every place the key stands: `HTTP 1.0 requests are rejected with
        // HTTP 426` names its status at the second.
        let mut from = 0;
        while let Some(i) = find_ascii_ci(&line[from..], key).map(|i| from + i) {
            let rest = line[i + key.len()..].trim_start_matches([':', '=', ' ']);
            if let Some(c) = three(rest) {
                return Some((c, "named in a message"));
            }
            from = i + key.len();
        }
    }
    // A generated API client's exception (openapi-generator's Python
    // clients: `kubernetes.client.exceptions.ApiException: (403)`, the
    // Kubeflow Pipelines client), its reason and headers on the next lines.
    if let Some(i) = line.find("ApiException: (")
        && let Some(c) = three(&line[i + 15..])
        && line[i + 18..].starts_with(')')
    {
        return Some((c, "raised by a generated API client"));
    }
    // A load generator's tally of the statuses it got: fortio's `Code 503 :
    // 41 (82.0 %)`, `Non ok http code 503 (HTTP/1.1 503)`.
    if let Some(rest) = t.strip_prefix("Code ")
        && let Some(c) = three(rest)
        && rest[3..].starts_with(" : ")
    {
        return Some((c, "counted by a load generator"));
    }
    for key in ["Non ok http code ", "Parsed non ok code "] {
        if let Some(i) = line.find(key)
            && let Some(c) = three(&line[i + key.len()..])
        {
            return Some((c, "counted by a load generator"));
        }
    }
    // A 5xx a sentence says somebody got (`the client also received a 504`,
    // `it returns 503 intermittently`).
    if let Some(c) = prose_5xx(line) {
        return Some((c, "named in a sentence"));
    }
    // A status with its reason phrase, as a client, a browser or a title
    // quotes it (`状态码: 431 Request Header Fields Too Large`, `got a 503
    // Service Unavailable`). Only the 5xx and the 4xx a mesh itself answers
    // with: an application's 401/403/404 is its own everyday answer.
    if let Some(c) = status_with_reason(line) {
        return Some((c, "named with its reason phrase"));
    }
    // `503 errors after the upgrade`, `出现504 error`: a 5xx called an error.
    if let Some(c) = status_error(line) {
        return Some((c, "named in a sentence"));
    }
    // A gRPC client's error in the words of grpc-go (`rpc error: code =
    // PermissionDenied desc = …`): gRPC's form of 403 and 401, which is what
    // a mesh's authorization answers a gRPC call with (Linkerd's
    // `unauthorized request on route` is grpc-status 7, Istio's RBAC too).
    for (name, code) in [("PermissionDenied", 403), ("Unauthenticated", 401)] {
        if line.contains(&format!("rpc error: code = {name} desc =")) {
            return Some((
                code,
                "a gRPC client's status, the gRPC form of this HTTP status",
            ));
        }
    }
    None
}

/// The first 5xx written as `NNN error(s)` in `line`, the digits standing
/// alone (a letter of another script may touch them: `出现504 error`), or
/// followed by the word for error in Chinese, Japanese or Korean (`503错误`,
/// `503 エラー`, `503 에러`, `503 오류`).
fn status_error(line: &str) -> Option<u16> {
    let b = line.as_bytes();
    if !line.is_ascii() {
        for word in ["错误", "報錯", "报错", "エラー", "에러", "오류"] {
            for (i, _) in line.match_indices(word) {
                let end = if i > 0 && b[i - 1] == b' ' { i - 1 } else { i };
                if let Some(code) = five_xx_ending_at(b, end) {
                    return Some(code);
                }
            }
        }
    }
    let mut from = 0;
    while let Some(i) = find_ascii_ci(&line[from..], " error").map(|i| from + i) {
        from = i + 6;
        let after = &line[from..];
        let after = after.strip_prefix(['s', 'S']).unwrap_or(after);
        if after
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        if let Some(code) = five_xx_ending_at(b, i) {
            return Some(code);
        }
    }
    None
}

/// A 5xx whose three digits end at byte `end`, standing alone (no letter,
/// digit or `.` of ASCII before them).
fn five_xx_ending_at(b: &[u8], end: usize) -> Option<u16> {
    let d = b.get(end.checked_sub(3)?..end)?;
    (d[0] == b'5'
        && d.iter().all(u8::is_ascii_digit)
        && !(end > 3 && (b[end - 4].is_ascii_alphanumeric() || b[end - 4] == b'.')))
        .then(|| {
            u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0')
        })
}

/// Reason phrases (RFC 9110, RFC 6585) of the statuses
/// [`status_with_reason`] reads.
const REASONS: &[(u16, &str)] = &[
    (426, "upgrade required"),
    (429, "too many requests"),
    (431, "request header fields too large"),
    (500, "internal server error"),
    (502, "bad gateway"),
    (503, "service unavailable"),
    (504, "gateway timeout"),
];

/// The first `NNN Reason Phrase` of [`REASONS`] in `line`, the digits
/// standing alone. Every line no parser claims comes here: one
/// case-insensitive automaton over the phrases finds them, and only a hit
/// looks at the digits before it.
fn status_with_reason(line: &str) -> Option<u16> {
    use aho_corasick::AhoCorasick;
    use std::sync::LazyLock;
    static PHRASES: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(REASONS.iter().map(|(_, p)| format!(" {p}")))
            .expect("reason phrases build an automaton")
    });
    let b = line.as_bytes();
    PHRASES.find_iter(line).find_map(|m| {
        let (code, _) = REASONS[m.pattern().as_usize()];
        let at = m.start();
        let d = b.get(at.checked_sub(3)?..at)?;
        let alone = at < 4 || !b[at - 4].is_ascii_alphanumeric();
        (alone && d == code.to_string().as_bytes()).then_some(code)
    })
}

/// Words that say a status was received or answered, just before it.
const GOT: &[&str] = &[
    "a ",
    "got ",
    "get ",
    "gets ",
    "getting ",
    "received ",
    "receive ",
    "receives ",
    "receiving ",
    "returns ",
    "returned ",
    "return ",
    "returning ",
    "throws ",
    "gives ",
];

/// Units a number in prose may carry: `a 500 ms timeout` is no status.
const UNITS: &[&str] = &[
    "ms",
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "millisecond",
    "milliseconds",
    "mb",
    "kb",
    "gb",
    "mib",
    "kib",
    "bytes",
    "b",
    "rps",
    "qps",
    "req",
    "requests",
    "times",
    "pods",
    "replicas",
    "connections",
    "lines",
    "users",
    "%",
];

/// A 5xx standing alone right after one of [`GOT`] (any case), not followed by
/// a unit. Every line no parser claims comes here: only a `5` followed by two
/// digits is looked at.
fn prose_5xx(line: &str) -> Option<u16> {
    let b = line.as_bytes();
    memchr::memchr_iter(b'5', b).find_map(|i| {
        let d = b.get(i..i + 3)?;
        if !d[1..].iter().all(u8::is_ascii_digit)
            || (i > 0 && b[i - 1].is_ascii_alphanumeric())
            || b.get(i + 3).is_some_and(|c| {
                c.is_ascii_alphanumeric()
                    || *c == b'.' && b.get(i + 4).is_some_and(u8::is_ascii_digit)
            })
        {
            return None;
        }
        let before = &line[..i];
        let got = GOT.iter().any(|w| {
            before.len() >= w.len()
                && before.as_bytes()[before.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
                && (before.len() == w.len()
                    || !before.as_bytes()[before.len() - w.len() - 1].is_ascii_alphanumeric())
        });
        let next = line[i + 3..]
            .trim_start()
            .split(|c: char| !(c.is_alphanumeric() || c == '%'))
            .next()
            .unwrap_or("");
        let unit = UNITS.iter().any(|u| next.eq_ignore_ascii_case(u));
        (got && !unit)
            .then(|| line[i..i + 3].parse().ok())
            .flatten()
    })
}

/// The first place `needle` (lower-case ASCII) stands in `hay` in any
/// case, without a lower-cased copy of `hay`.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (h.len() >= n.len())
        .then(|| h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n)))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_quoted_by_tools_and_prose_are_read_only_4xx_5xx() {
        for (line, code) in [
            (
                "rsp id=0:1 proxy=out src=10.0.0.1:5000 dst=10.0.0.2:80 tls=true :status=504 latency=10001ms",
                504,
            ),
            (
                "rpc error: code = Unavailable desc = HTTP status code 503; transport: missing content-type field",
                503,
            ),
            ("sleep.foo to httpbin.legacy: 503", 503),
            ("Getting HTTP status 426", 426),
            ("the proxy request fails with HTTP error 426 as", 426),
            (
                "HTTP 1.0 requests are rejected with HTTP 426 from pods",
                426,
            ),
            ("Code 500 : 41 (82.0 %)", 500),
            (
                "15:04:22 W http_client.go:922> [1] Non ok http code 503 (HTTP/1.1 503)",
                503,
            ),
            ("sidecar readiness probe fail (status code 503)", 503),
            ("rpc error: code = PermissionDenied desc =", 403),
            ("状态码: 431 Request Header Fields Too Large", 431),
            ("we get a 503 service unavailable from the gateway", 503),
            ("Intermittent 503 errors after the upgrade", 503),
            ("后端响应过慢导致出现504 error", 504),
            ("升级之后偶尔出现503错误", 503),
            ("Istio 도입후 502 에러", 502),
            ("ゲートウェイが 504 エラーを返す", 504),
            (
                "Response status code does not indicate success: 401 (Unauthorized).",
                401,
            ),
            (
                "the client I used to send requests also received a 504 error code",
                504,
            ),
            ("Our gateway returns 503 intermittently", 503),
            ("kubernetes.client.exceptions.ApiException: (403)", 403),
        ] {
            assert_eq!(quoted_status(line).map(|(c, _)| c), Some(code), "{line}");
        }
        for quiet in [
            "sleep.foo to httpbin.foo: 200",
            "HTTP status 200",
            "status code 4000",
            "GET /login 401 Unauthorized",
            "1503 Service Unavailable",
            "Code 200 : 9 (18.0 %)",
            "we set a 500 ms timeout",
            "it returned 502.5 on average",
            "got 5000 requests",
            "a 504x",
            "error_code 1503 errors",
            "404 error page",
            "ApiException: (4031)",
            "v1.503 errors",
            "503 errorCount",
            "端口 1503 错误",
            "404 에러 페이지",
        ] {
            assert_eq!(quoted_status(quiet), None, "{quiet}");
        }
    }
}
