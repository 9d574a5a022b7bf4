//! HTTP responses: `curl -v` transcripts, raw header blocks, single header lines.
//!
//! Also read as responses, because they are what a client saw:
//!
//! * grpcurl errors (`ERROR:` / `  Code: Unavailable` / `  Message: …`,
//!   `ssup2-curl-grpcurl-outputs.txt`): the lines go to `body` and the code and
//!   message also become `grpc-status` (numeric) and `grpc-message` headers;
//! * shell transcripts (`$ kubectl exec … -- curl -s …` then output): command
//!   lines are dropped (their URLs, e.g. `/status/503`, are not evidence), the
//!   output goes to `body`;
//! * client error lines that quote a status (`wget: server returned error: HTTP/1.1 403 Forbidden`,
//!   fortio's `Aborting because error 503 …: "HTTP/1.1 503 …\r\nserver: envoy\r\n…"`,
//!   `client-errors.txt`): the status is taken, an escaped header block is read.
//!
//! Header names are lower-cased. Everything that is neither a status line nor
//! a header (curl `*` lines, `curl: (35) …`, body text) goes to `body`, capped
//! at [`BODY_CAP`] bytes.

use super::HttpResponse;

/// Body text kept per response.
pub const BODY_CAP: usize = 16 * 1024;

/// The literal text a curl write-out format prints before the status code on
/// the code's line: `HTTP Response: ` in `-w "HTTP Response: %{http_code}\n"`,
/// nothing in `-w "\n%{http_code}"`.
fn code_prefix(cmd: &str) -> &str {
    let Some(at) = cmd
        .find("%{http_code}")
        .or_else(|| cmd.find("%{response_code}"))
    else {
        return "";
    };
    let before = &cmd[..at];
    let start = ["\"", "'", "\\n", "}"]
        .iter()
        .filter_map(|d| before.rfind(d).map(|i| i + d.len()))
        .max()
        .unwrap_or(0);
    before[start..].trim()
}

/// Parses a transcript or header block; `None` when it holds no response.
pub fn parse(text: &str) -> Option<HttpResponse> {
    let mut r = HttpResponse::default();
    // After a raw status line (no `<`), `name: value` lines are headers until
    // the first blank line.
    let mut in_raw_headers = false;
    // After a raw request line (`POST /x HTTP/1.0`, ApacheBench -v), its
    // headers until the first blank line.
    let mut in_request_headers = false;
    let mut in_grpc_error = false;
    // A `curl -w '%{http_code}'` command prints the status alone on a line.
    let mut write_out_code = false;
    // What the write-out format prints before the code on its line
    // (`-w "HTTP Response: %{http_code}\n"`).
    let mut write_out_prefix = String::new();
    // The command line before ended with `\`: this one continues it.
    let mut continued = false;
    // The status came from a client's own words, not a status line.
    let mut quoted = false;
    let mut saw_anything = false;
    // Output without a final newline has the next prompt glued to it
    // (`local_rate_limitedroot@box:~# kubectl …`): two lines.
    let mut known: Vec<&str> = text
        .lines()
        .filter_map(super::text::prompt_prefix)
        .collect();
    known.sort_unstable();
    known.dedup();
    let lines = text.lines().flat_map(|raw| {
        let raw = raw.trim_end_matches('\r');
        match super::text::glued_prompt(raw, &known) {
            Some(i) => [Some(&raw[..i]), Some(&raw[i..])],
            None => [Some(raw), None],
        }
    });
    for line in lines.flatten() {
        if let Some(rest) = line.strip_prefix('<') {
            saw_anything = true;
            let rest = rest.trim_start();
            if rest.is_empty() {
                continue;
            }
            if let Some(st) = status_line(rest) {
                set_status(&mut r, st);
            } else if let Some((k, v)) = header(rest) {
                r.headers.push((k, v));
            } else {
                push_body(&mut r, line);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('>') {
            saw_anything = true;
            if let Some((k, v)) = header(rest.trim_start()) {
                r.request_headers.push((k, v));
            }
            continue;
        }
        if line.trim().is_empty() {
            in_raw_headers = false;
            in_request_headers = false;
            continue;
        }
        if in_request_headers {
            if let Some((k, v)) = header(line) {
                r.request_headers.push((k, v));
                continue;
            }
            in_request_headers = false;
        }
        if r.status.is_none() && r.headers.is_empty() && is_request_line(line) {
            saw_anything = true;
            in_request_headers = true;
            continue;
        }
        // Docs indent their transcripts (`    $ kubectl exec …`); a command
        // pasted without its prompt still names its write-out format.
        let cmd = line.trim_start();
        if continued
            || cmd.starts_with("$ ")
            || cmd.starts_with("# $ ")
            || super::text::prompt_prefix(line).is_some()
            || (cmd.contains("curl ") && cmd.contains("%{"))
            || ((cmd.starts_with("curl ") || cmd.starts_with("kubectl exec "))
                && cmd.ends_with('\\'))
        {
            // Shell prompt line of a pasted transcript, or a line of a
            // command continued with `\`.
            saw_anything = true;
            in_grpc_error = false;
            let names = line.contains("%{http_code}") || line.contains("%{response_code}");
            if names {
                write_out_prefix = code_prefix(line).to_string();
            }
            write_out_code = names || (continued && write_out_code);
            continued = cmd.ends_with('\\');
            continue;
        }
        // A loop prints one code per request: the first failing one is the
        // evidence (`200 200 429 429`), else the first.
        if write_out_code && (r.status.is_none() || (quoted && r.status.is_some_and(|s| s < 400))) {
            // zsh marks output without a final newline with `%`.
            let t = line.trim().trim_end_matches('%');
            let t = t
                .strip_prefix(write_out_prefix.as_str())
                .unwrap_or(t)
                .trim();
            if t.len() == 3
                && t.bytes().all(|b| b.is_ascii_digit())
                && let Ok(st) = t.parse::<u16>()
            {
                if r.status.is_none() || st >= 400 {
                    set_status(&mut r, st);
                }
                quoted = true;
                continue;
            }
            // `kubectl port-forward` in the same terminal says so per connection.
            if line.starts_with("Handling connection for ") {
                continue;
            }
        }
        if let Some(st) = status_line(line) {
            saw_anything = true;
            set_status(&mut r, st);
            in_raw_headers = true;
            continue;
        }
        if line.trim_end() == "ERROR:" {
            saw_anything = true;
            in_grpc_error = true;
            push_body(&mut r, line);
            continue;
        }
        if in_grpc_error {
            let t = line.trim_start();
            if let Some(code) = t.strip_prefix("Code:") {
                let code = code.trim();
                let n = grpc_code(code)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| code.to_string());
                r.headers.push(("grpc-status".into(), n));
                push_body(&mut r, line);
                continue;
            }
            if let Some(msg) = t.strip_prefix("Message:") {
                r.headers
                    .push(("grpc-message".into(), msg.trim().to_string()));
                push_body(&mut r, line);
                continue;
            }
            in_grpc_error = false;
        }
        if in_raw_headers
            || (r.status.is_none() && r.headers.is_empty() && is_known_header_line(line))
        {
            if let Some((k, v)) = header(line) {
                saw_anything = true;
                // A client that prints the response's status as a header
                // among the others (Go's `resp.Status` beside `resp.Header`,
                // a CGI `Status:` line): `Status: 404 Not Found`.
                if k == "status"
                    && r.status.is_none()
                    && let Some(st) = status_value(&v)
                {
                    r.status = Some(st);
                }
                r.headers.push((k, v));
                in_raw_headers = true;
                continue;
            }
            in_raw_headers = false;
        }
        // A client error quoting the status (`wget: … HTTP/1.1 403 Forbidden`).
        if r.status.is_none()
            && let Some(st) = embedded_status(line)
        {
            r.status = Some(st);
            quoted = true;
            saw_anything = true;
            if let Some(inner) = escaped_block(line)
                && let Some(sub) = parse(&inner)
            {
                r.headers.extend(sub.headers);
                if !sub.body.is_empty() {
                    push_body(&mut r, &sub.body);
                }
            }
        }
        if line.starts_with("curl: (") || line.starts_with("* ") {
            saw_anything = true;
        }
        push_body(&mut r, line);
    }
    r.status_only = quoted && r.headers.is_empty();
    (saw_anything || r.status.is_some() || !r.headers.is_empty()).then_some(r)
}

fn push_body(r: &mut HttpResponse, line: &str) {
    if r.body.len() >= BODY_CAP {
        return;
    }
    // A body without a final newline has curl's next `* …` message glued to
    // it (`fault filter abort* Closing connection 0`).
    let line = ["* Connection ", "* Closing connection"]
        .iter()
        .filter_map(|m| line.find(m).filter(|&i| i > 0))
        .min()
        .map_or(line, |i| &line[..i]);
    // zsh marks output that ended without a newline with `%`
    // (`…reset before headers%`); a percentage (`50%`) keeps its sign.
    let line = match line.strip_suffix('%') {
        Some(rest) if rest.ends_with(|c: char| c.is_ascii_alphabetic() || c == '.') => rest,
        _ => line,
    };
    let room = BODY_CAP - r.body.len();
    r.body
        .push_str(super::text::clip(line, room.saturating_sub(1)));
    r.body.push('\n');
}

/// A new status line starts the final response (after `100 Continue`), so
/// earlier response headers are dropped.
fn set_status(r: &mut HttpResponse, st: u16) {
    if r.status.is_some() {
        r.headers.clear();
    }
    r.status = Some(st);
}

/// `HTTP/1.1 503 Service Unavailable`, `HTTP/2 503`, `HTTP/1.0 200`.
fn status_line(s: &str) -> Option<u16> {
    // Markdown's bold around a line it wants seen (`< **HTTP/1.1 502 Bad
    // Gateway**`).
    let s = match s.strip_prefix("**") {
        Some(inner) => inner.trim_end().strip_suffix("**")?,
        None => s,
    };
    let rest = s.strip_prefix("HTTP/")?;
    let (ver, rest) = rest.split_once(' ')?;
    if ver.is_empty() || !ver.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let code = rest.get(..3)?;
    if rest.len() > 3 && !rest[3..].starts_with(' ') {
        return None;
    }
    let n: u16 = code.parse().ok()?;
    (100..=599).contains(&n).then_some(n)
}

/// `404 Not Found` or `404`: the value of a `Status:` header line.
fn status_value(v: &str) -> Option<u16> {
    let v = v.trim();
    let code = v.get(..3)?;
    let rest = &v[3..];
    if !(rest.is_empty()
        || rest.starts_with(' ')
            && rest[1..]
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '-'))
    {
        return None;
    }
    let n: u16 = code.parse().ok()?;
    (100..=599).contains(&n).then_some(n)
}

/// `HTTP/x NNN` anywhere in a line.
fn embedded_status(line: &str) -> Option<u16> {
    let mut from = 0;
    while let Some(i) = line[from..].find("HTTP/") {
        let at = from + i;
        if let Some(st) = status_line(&line[at..]) {
            return Some(st);
        }
        from = at + 5;
    }
    None
}

/// A header block quoted with literal `\r\n` escapes (fortio).
fn escaped_block(line: &str) -> Option<String> {
    let i = line.find("\"HTTP/")?;
    let inner = &line[i + 1..];
    if !inner.contains("\\r\\n") {
        return None;
    }
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    Some(inner.replace("\\r\\n", "\n"))
}

/// `name: value` with an HTTP token as name; the name lower-cased.
fn header(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once(':')?;
    if k.is_empty()
        || k.len() > 64
        || !k
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return None;
    }
    Some((k.to_ascii_lowercase(), v.trim().to_string()))
}

/// Header names that identify a mesh response on their own (a lone
/// `l5d-proxy-error: …` line is a response, a lone `note: …` is not).
fn is_known_header_line(line: &str) -> bool {
    let Some((k, _)) = line.split_once(':') else {
        return false;
    };
    let k = k.to_ascii_lowercase();
    k.starts_with("l5d-")
        || k.starts_with("x-envoy-")
        || k == "grpc-status"
        || k == "grpc-message"
        || k == "server"
        || k == "x-mesh-client-id"
        || k == "www-authenticate"
        || k == "content-type"
        || k == "content-length"
        || k == "date"
        || k == "via"
}

/// gRPC code names as grpcurl prints them → numbers.
fn grpc_code(name: &str) -> Option<u8> {
    const CODES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    if let Ok(n) = name.parse::<u8>() {
        return Some(n);
    }
    CODES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name) || (name == "Cancelled" && *c == "Canceled"))
        .map(|p| p as u8)
}

/// `POST /x HTTP/1.0`: a request line as a client printed it.
pub(super) fn is_request_line(line: &str) -> bool {
    let mut parts = line.split(' ');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(m), Some(_), Some(v), None)
            if !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()) && v.starts_with("HTTP/")
    )
}

/// `true` when the text looks like a curl transcript or a header block.
/// `NAME=value` or `export NAME=value`, as a transcript sets its variables.
fn is_shell_assignment(line: &str) -> bool {
    let t = line.trim_start();
    let t = t.strip_prefix("export ").unwrap_or(t);
    let Some((name, _)) = t.split_once('=') else {
        return false;
    };
    !name.is_empty()
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What comes before a client's command in a pod's shell: a bare prompt
/// (`/ #`, `bash-4.3#`, `root@sleep-5c9f:/#`), the `kubectl exec -it … --
/// sh` that opened the shell, and kubectl's own lines about the container.
fn is_shell_entry(line: &str) -> bool {
    let t = line.trim();
    if is_kubectl_chatter(t) {
        return true;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    let prompt_only = |w: &[&str]| {
        !w.is_empty()
            && w.len() <= 2
            && w.last().is_some_and(|l| l.ends_with(['#', '$']))
            && !w.iter().any(|x| x.contains(['=', '"', '\'']))
    };
    if prompt_only(&words) {
        return true;
    }
    // `[root@host dir]# kubectl exec -it pod -- sh`
    let Some(k) = words.iter().position(|w| *w == "kubectl") else {
        return false;
    };
    (k == 0 || prompt_only(&words[..k]))
        && words.get(k + 1) == Some(&"exec")
        && words.iter().position(|w| *w == "--").is_some_and(|d| {
            d + 2 == words.len()
                && matches!(
                    words[d + 1],
                    "sh" | "bash" | "ash" | "/bin/sh" | "/bin/bash" | "/bin/ash" | "zsh"
                )
        })
}

/// kubectl's own lines around `kubectl exec`: which container it chose.
pub(crate) fn is_kubectl_chatter(t: &str) -> bool {
    t.starts_with("Defaulting container name")
        || t.starts_with("Defaulted container")
        || t.starts_with("Use 'kubectl describe pod/")
}

/// A Markdown bullet holding a sentence (`* If the application starts
/// first, it cannot reach the network.`), not one of curl's `* ` messages:
/// eight words or more ending in a full stop (curl's end in `...` or none).
fn is_prose_bullet(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("* ") else {
        return false;
    };
    let rest = rest.trim_end();
    rest.ends_with('.')
        && !rest.ends_with("..")
        && rest.split_whitespace().count() >= 8
        && rest.chars().next().is_some_and(|c| c.is_alphabetic())
}

pub fn looks_like(text: &str) -> bool {
    // Shell variables set before the command (`TOKEN=$(…)`, `export
    // INGRESS=…`) are part of the transcript, not its first line.
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .skip_while(|l| is_shell_assignment(l) || is_shell_entry(l));
    let Some(first) = lines.next() else {
        return false;
    };
    if first.starts_with("< HTTP/") || first.starts_with("* ") && !is_prose_bullet(first) {
        return true;
    }
    // `> GET / HTTP/1.1`, `> Host: x` — not a `> ` shell prompt (`> linkerd check`).
    if let Some(rest) = first.strip_prefix("> ") {
        return is_request_line(rest) || header(rest).is_some();
    }
    if status_line(first).is_some() || is_known_header_line(first) && header(first).is_some() {
        return true;
    }
    if first.starts_with("curl: (") || first.starts_with("wget: ") || first.starts_with("ERROR:") {
        return true;
    }
    if first.starts_with("Aborting because error ") && embedded_status(first).is_some() {
        return true;
    }
    // A curl (or `kubectl exec … -- curl`) command pasted without a prompt,
    // maybe continued over lines, that prints the status with `-w`.
    let t = first.trim_start();
    let names_code = |s: &str| s.contains("%{http_code}") || s.contains("%{response_code}");
    if (t.starts_with("curl ") || t.starts_with("kubectl exec ")) && names_code(text) {
        return true;
    }
    // Behind a prompt this parser does not know (`➜  demo kubectl exec … --
    // curl … -w "%{http_code}\n"`): the command line names the code itself.
    if t.contains(" curl ") && names_code(first) {
        return true;
    }
    // `$ … curl …` / `$ … grpcurl …` shell transcript with output, also as
    // docs indent it.
    if let Some(cmd) = first.trim_start().strip_prefix("$ ") {
        let is_client = cmd
            .split_whitespace()
            .any(|w| matches!(w, "curl" | "grpcurl" | "wget" | "http" | "fortio"));
        return is_client;
    }
    // Any other prompt (`[root@host dir]# curl …`, `user@box:~$ curl …`,
    // `/ # wget …`): a client command after a word ending the prompt.
    let words: Vec<&str> = first.split_whitespace().collect();
    if words.iter().enumerate().any(|(i, w)| {
        matches!(*w, "curl" | "grpcurl" | "wget" | "fortio" | "ab")
            && (i == 0 || words[i - 1].ends_with(['$', '#', '%', '>']))
    }) {
        return true;
    }
    // A request as a client printed it (`POST /x HTTP/1.0`, ApacheBench -v),
    // then its headers and, later, the response.
    is_request_line(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_verbose_transcripts_split_request_response_and_body() {
        let r = parse("> GET / HTTP/1.1\n> Host: web\n> Expect: 100-continue\n>\n< HTTP/1.1 404 Not Found\n< l5d-proxy-error: no route found for request\n< Content-Length: 0\n<\n* Connection #0 left intact\n").unwrap();
        assert_eq!(r.status, Some(404));
        assert_eq!(
            r.header("l5d-proxy-error"),
            Some("no route found for request")
        );
        assert_eq!(r.headers[1].0, "content-length");
        assert_eq!(
            r.request_headers[1],
            ("expect".into(), "100-continue".into())
        );
        assert!(r.body.contains("Connection #0 left intact"));
    }

    #[test]
    fn raw_header_blocks_and_http2_parse() {
        let r = parse("HTTP/2 503\nserver: envoy\ncontent-length: 19\n\nno healthy upstream\n")
            .unwrap();
        assert_eq!(r.status, Some(503));
        assert_eq!(r.header("server"), Some("envoy"));
        assert_eq!(r.body, "no healthy upstream\n");
    }

    #[test]
    fn zsh_end_of_output_mark_is_not_body_text() {
        let r = parse("< HTTP/1.1 503 Service Unavailable\n< server: envoy\n<\nupstream connect error or disconnect/reset before headers%\n").unwrap();
        assert_eq!(
            r.body,
            "upstream connect error or disconnect/reset before headers\n"
        );
        let r = parse("HTTP/1.1 200 OK\n\nprogress 50%\n").unwrap();
        assert_eq!(r.body, "progress 50%\n");
    }

    #[test]
    fn a_shell_opened_in_a_pod_comes_before_the_transcript() {
        let t = "[root@master istio-1.4.10]# kubectl exec -it sleep-8f795f47d-djmjn -- sh\nDefaulting container name to sleep.\nUse 'kubectl describe pod/sleep-8f795f47d-djmjn -n default' to see all of the containers in this pod.\n/ #\n/ # curl -I http://httpbin.org/headers\nHTTP/1.1 502 Bad Gateway\nserver: envoy\n";
        assert!(looks_like(t));
        assert_eq!(parse(t).and_then(|r| r.status), Some(502));
        assert!(!looks_like("/ #\nno healthy upstream"));
        let md = "root@u:/# curl -sv http://httpbin.org/ip\n< **HTTP/1.1 502 Bad Gateway**\n< server: envoy\n< content-length: 0\n";
        assert_eq!(parse(md).and_then(|r| r.status), Some(502));
    }

    #[test]
    fn single_header_lines_are_responses() {
        assert!(looks_like("l5d-proxy-error: service in fail-fast"));
        let r = parse("l5d-proxy-error: service in fail-fast").unwrap();
        assert_eq!(r.header("l5d-proxy-error"), Some("service in fail-fast"));
        // Go's client printing `resp.Status` among the response headers.
        let r =
            parse("Server: envoy\nDate: Thu, 17 Jun 2021 10:19:48 GMT\nStatus: 403 Forbidden\n")
                .unwrap();
        assert_eq!(r.status, Some(403));
        assert!(
            parse("Server: envoy\nStatus: ready to serve\n")
                .unwrap()
                .status
                .is_none()
        );
        // A Markdown bullet is prose; curl's own `* ` messages are not.
        assert!(!looks_like(
            "* If the app starts before its proxy, it cannot reach the network."
        ));
        assert!(looks_like("* Connection #0 to host web left intact\n"));
        assert!(looks_like("*   Trying 10.96.0.20:80...\n"));
        assert!(looks_like("HTTP/1.1 503"));
        assert_eq!(parse("HTTP/1.1 503").unwrap().status, Some(503));
    }

    #[test]
    fn a_curl_write_out_status_alone_on_its_line_is_the_status() {
        let t = "$ kubectl exec sleep -- curl -o /dev/null -s -w \"%{http_code}\\n\" http://web/\n504\nreal    0m3.149s\n";
        assert_eq!(parse(t).unwrap().status, Some(504));
        // Without `-w`, a number on its own is output like any other.
        let t = "$ kubectl exec sleep -- curl -s http://web/count\n504\n";
        assert_eq!(parse(t).unwrap().status, None);
        // Indented as docs print it, without a prompt, or continued with `\`.
        for t in [
            "    $ curl -s -o /dev/null -w \"%{http_code}\\n\" http://web/\n    403\n",
            "curl -s -o /dev/null -w \"%{http_code}\\n\" http://web/\n403\n",
            "kubectl exec deploy/sleep -c sleep -- \\\n curl -sSL -w \"\\n%{http_code}\\n\" \\\n  web/api\n\nerror calling Catalog service\n500\n",
            "curl -H \"Host: web\" \\\n-sS -o /dev/null -w \"%{http_code}\\n\" localhost/api\n\n403\n",
            "curl -s -o /dev/null -w \"HTTP Response: %{http_code}\\n\" https://$INGRESS/\nHTTP Response: 403\n",
            "$ while true; do curl -s -o /dev/null -w '%{http_code}\\n' localhost:8080/; done\nHandling connection for 8080\n200\nHandling connection for 8080\n429\n",
            "➜  demo kubectl exec sleep -- curl -s web/ -o /dev/null -w \"%{http_code}\\n\"\n200\n➜  demo kubectl exec sleep -- curl -s web/ -o /dev/null -w \"%{http_code}\\n\"\n429\n",
            "TOKEN=$(get-token alice)\nexport HOST=web\ncurl -H \"Authorization: Bearer $TOKEN\" -s -o /dev/null -w \"%{http_code}\\n\" $HOST\n401\n",
        ] {
            assert!(looks_like(t), "{t}");
            assert!(parse(t).unwrap().status.is_some(), "{t}");
        }
        // A loop's codes: the first failing one is the answer.
        let t = "$ for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code}\\n' web/; done\n200\n200\n429\n503\n";
        assert_eq!(parse(t).unwrap().status, Some(429));
    }

    #[test]
    fn curl_messages_glued_to_a_body_are_not_the_body() {
        let t = "< HTTP/1.1 503 Service Unavailable\n< content-length: 18\n<\nfault filter abort* Closing connection 0\n";
        assert_eq!(parse(t).unwrap().body.trim_end(), "fault filter abort");
    }

    #[test]
    fn grpcurl_errors_become_grpc_headers_and_body() {
        let t = "$ kubectl exec shell -- grpcurl -plaintext mock-server:9090 mock.MockService/Status\nERROR:\n  Code: Unavailable\n  Message: no healthy upstream\ncommand terminated with exit code 78\n";
        assert!(looks_like(t));
        let r = parse(t).unwrap();
        assert_eq!(r.header("grpc-status"), Some("14"));
        assert_eq!(r.header("grpc-message"), Some("no healthy upstream"));
        assert!(r.body.contains("no healthy upstream"));
        assert!(!r.body.contains("kubectl"));
    }

    #[test]
    fn client_errors_keep_their_text_and_quoted_status() {
        let r =
            parse("curl: (35) error:1408F10B:SSL routines:ssl3_get_record:wrong version number")
                .unwrap();
        assert_eq!(r.status, None);
        assert!(r.body.contains("wrong version number"));
        let r = parse("wget: server returned error: HTTP/1.1 403 Forbidden").unwrap();
        assert_eq!(r.status, Some(403));
        let r = parse(r#"Aborting because error 503 for http://x:8080/echo: "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 91\r\nserver: envoy\r\n\r\nupstream connect error or disconnect/reset before headers. reset reason: connection failure""#).unwrap();
        assert_eq!(r.status, Some(503));
        assert_eq!(r.header("server"), Some("envoy"));
        assert!(r.body.contains("reset reason: connection failure"));
    }

    #[test]
    fn a_printed_request_keeps_its_headers_apart_from_the_response() {
        let t = "POST /add HTTP/1.0\nContent-length: 45\nHost: localhost\n\n---\nLOG: header received:\nHTTP/1.1 426 Upgrade Required\nserver: envoy\ncontent-length: 0\n";
        assert!(looks_like(t));
        let r = parse(t).unwrap();
        assert_eq!(r.status, Some(426));
        assert_eq!(r.header("content-length"), Some("0"));
        assert_eq!(r.request_headers[0].1, "45");
    }

    #[test]
    fn log_lines_do_not_look_like_http() {
        assert!(!looks_like(
            "[   299.092239s]  INFO ThreadId(01) inbound: linkerd_app_core::serve: x"
        ));
        assert!(!looks_like("note: something"));
        assert!(!looks_like(
            "> l check --proxy\nkubernetes-api\n√ can query the Kubernetes API\n"
        ));
        assert!(looks_like("> GET / HTTP/1.1\n> Host: web\n"));
        assert!(!looks_like("HTTP/1.1 is a protocol"));
        assert!(!looks_like(""));
    }
}
