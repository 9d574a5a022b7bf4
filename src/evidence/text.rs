//! Small byte-scanning helpers shared by the line parsers: collector
//! prefixes (kubectl `--timestamps`, stern/k9s pod and container columns),
//! `key=value` runs as `tracing` and ztunnel print them, safe slicing.
//!
//! Everything here works on `&str` and only ever cuts at ASCII bytes, so a
//! slice can never split a UTF-8 character.

/// Decodes bytes as UTF-8, lossily: invalid sequences become U+FFFD, and the
/// flag says whether there were any. Every reader of files, stdin and bundle
/// entries decodes this way and warns once per source with
/// [`not_utf8_warning`]: one policy everywhere, never a refusal.
pub fn decode_lossy(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(s) => (s, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    }
}

/// The one warning a source (a file, `-` for stdin, a bundle entry) gets
/// when it was not valid UTF-8.
pub fn not_utf8_warning(source: &str) -> String {
    format!("warning: {source}: not valid UTF-8; invalid bytes were read as U+FFFD")
}

/// The inside of a line pasted as one Markdown code span (`` `name: 3` ``),
/// trimmed; the line itself otherwise.
pub fn code_span(line: &str) -> &str {
    match line
        .trim()
        .strip_prefix('`')
        .and_then(|l| l.strip_suffix('`'))
    {
        Some(inner) if !inner.trim().is_empty() && !inner.contains('`') => inner.trim(),
        _ => line,
    }
}

/// Typographic quotes (`“ ” „ ″` and `‘ ’`), which chat clients, issue
/// editors and word processors put in place of a proxy's ASCII quotes, as the
/// ASCII quotes they replaced; borrowed when there are none (all of them
/// start with the byte 0xE2, which a byte search rejects at memchr speed).
pub fn ascii_quotes(s: &str) -> std::borrow::Cow<'_, str> {
    const DOUBLE: [char; 4] = ['\u{201c}', '\u{201d}', '\u{201e}', '\u{2033}'];
    const SINGLE: [char; 2] = ['\u{2018}', '\u{2019}'];
    if memchr::memchr(0xE2, s.as_bytes()).is_none()
        || !s.contains(|c| DOUBLE.contains(&c) || SINGLE.contains(&c))
    {
        return std::borrow::Cow::Borrowed(s);
    }
    s.chars()
        .map(|c| {
            if DOUBLE.contains(&c) {
                '"'
            } else if SINGLE.contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect::<String>()
        .into()
}

/// Users whose shell prompt (`root@box:~# `) is tried even when the text
/// shows no prompt at the start of a line.
const COMMON_USERS: &[&str] = &[
    "root@",
    "ubuntu@",
    "ec2-user@",
    "admin@",
    "vagrant@",
    "centos@",
    "user@",
];

/// The `user@host:` of a line that starts with a shell prompt
/// (`root@kind-control-plane:~/demo# kubectl …`).
pub(crate) fn prompt_prefix(line: &str) -> Option<&str> {
    let at = line.find('@')?;
    let user = &line[..at];
    if user.is_empty()
        || !user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return None;
    }
    let colon = at + line[at..].find(':')?;
    let host = &line[at + 1..colon];
    prompt_tail(&line[colon + 1..])?;
    (!host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)))
    .then(|| &line[..=colon])
}

/// After `user@host:`: a path without blanks and the prompt sign (`#`, `$`,
/// `%`) followed by a blank or the end; the length of the path.
fn prompt_tail(s: &str) -> Option<usize> {
    let path = s.find([' ', '\t']).unwrap_or(s.len());
    let p = &s[..path];
    let sign = p.char_indices().last()?;
    ("#$%".contains(sign.1)).then_some(sign.0)
}

/// A shell prompt glued to the end of a command's output that had no final
/// newline (`local_rate_limitedroot@box:~/demo# kubectl …`): the byte offset
/// where the prompt starts. `known` are the `user@host:` prefixes the text
/// shows at the start of its lines; a few common users are tried too.
pub(crate) fn glued_prompt(line: &str, known: &[&str]) -> Option<usize> {
    memchr::memchr(b'@', line.as_bytes())?;
    let mut best: Option<usize> = None;
    let mut consider = |i: usize| {
        if i > 0 && !line[..i].ends_with([' ', '\t']) && best.is_none_or(|b| i < b) {
            best = Some(i);
        }
    };
    for k in known {
        for (i, _) in line.match_indices(k) {
            if prompt_tail(&line[i + k.len()..]).is_some() {
                consider(i);
            }
        }
    }
    for pat in COMMON_USERS {
        for (i, _) in line.match_indices(pat) {
            if let Some(p) = prompt_prefix(&line[i..])
                && p.len() > pat.len() + 1
            {
                consider(i);
            }
        }
    }
    best
}

/// `true` for an RFC 3339 timestamp as kubectl `--timestamps`, istio and
/// Envoy JSON print it (`2021-05-04T10:00:00.123456789Z`, `…+00:00`).
pub(crate) fn is_rfc3339(tok: &str) -> bool {
    let b = tok.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b[10] == b'T' || b[10] == b't')
        && b[11..13].iter().all(u8::is_ascii_digit)
        && b[13] == b':'
}

/// Splits off the first whitespace-delimited token: `(token, rest)`, with
/// `rest` starting at the next non-blank byte.
pub(crate) fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    // Both blanks are ASCII: a byte search finds the same place, much faster
    // than `str::find` with a char set on a long line without blanks (JSON).
    match memchr::memchr2(b' ', b'\t', s.as_bytes()) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

/// Strips a leading kubectl `--timestamps` stamp (`2021-…Z ` or `2021-…Z\t`).
pub(crate) fn strip_kubectl_ts(s: &str) -> (Option<&str>, &str) {
    let (tok, rest) = split_token(s);
    if is_rfc3339(tok) {
        (Some(tok), rest)
    } else {
        (None, s)
    }
}

/// `true` for an identifier as `tracing` prints field names (`client.addr`,
/// `error.sources`, `server.id`, `dst.hbone_addr`).
pub(crate) fn is_field_key(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.' || *c == b'-')
        && b[b.len() - 1] != b'.'
}

/// Byte offsets of every ` key=` at bracket depth 0 in `s` (the offset of
/// the key's first byte); the start of `s` counts when it begins with `key=`.
///
/// Depth counts `{}`, `()`, `[]` and double quotes, so Rust `Debug` values
/// such as `tls=Some(Established { client_id: … })` (linkerd2-pr-9286.log)
/// stay in one value.
pub(crate) fn field_starts(s: &str) -> Vec<usize> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut depth: i32 = 0;
    let mut quoted = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if quoted {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                quoted = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => quoted = true,
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth = (depth - 1).max(0),
            _ => {}
        }
        if depth == 0 && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') && c != b' ' {
            // A candidate key runs to the next '=' (no blanks inside).
            let mut j = i;
            while j < b.len() && b[j] != b'=' && b[j] != b' ' && b[j] != b'\t' {
                j += 1;
            }
            if j < b.len() && b[j] == b'=' && is_field_key(&s[i..j]) {
                out.push(i);
            }
        }
        i += 1;
    }
    out
}

/// Removes one pair of surrounding double quotes.
pub(crate) fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Parses `k1=v1 k2=some value k3="q"` into pairs; a value runs to the next
/// ` key=` at depth 0. Returns the text before the first key (the message).
pub(crate) fn parse_fields<'a>(s: &'a str, out: &mut Vec<(String, String)>) -> &'a str {
    let starts = field_starts(s);
    let head = match starts.first() {
        Some(&i) => &s[..i],
        None => return s,
    };
    for (n, &i) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(s.len());
        let kv = &s[i..end];
        if let Some(eq) = kv.find('=') {
            let k = &kv[..eq];
            let v = kv[eq + 1..].trim_end_matches([' ', '\t']);
            out.push((k.to_string(), unquote(v).to_string()));
        }
    }
    head
}

/// The longest prefix of `s` no longer than `max` bytes that ends on a char
/// boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_in_one_code_span_is_its_inside() {
        assert_eq!(
            code_span("  `cluster.x.ssl.fail_verify_error: 5` "),
            "cluster.x.ssl.fail_verify_error: 5"
        );
        // Not one span: kept as it is.
        for l in ["`a` and `b`", "``", "plain `inline` text", "` `"] {
            assert_eq!(code_span(l), l);
        }
    }

    #[test]
    fn a_prompt_glued_to_output_is_found() {
        let l =
            "local_rate_limitedroot@kurator:~/go/playground# kubectl exec sleep -- curl httpbin";
        assert_eq!(glued_prompt(l, &[]), Some("local_rate_limited".len()));
        assert_eq!(
            prompt_prefix("root@kurator:~/go/playground# ke x"),
            Some("root@kurator:")
        );
        let l = "no healthy upstreamdev@laptop:~$ ";
        assert_eq!(
            glued_prompt(l, &["dev@laptop:"]),
            Some("no healthy upstream".len())
        );
        // A prompt at the start, an e-mail address, a URL with a user: none.
        for quiet in [
            "root@box:~# curl -s http://web",
            "contact admin@example.com: see",
            "fetch https://user@example.com:8443/x",
            "a root@box:~# b",
        ] {
            assert_eq!(glued_prompt(quiet, &[]), None, "{quiet}");
        }
    }

    #[test]
    fn fields_stop_at_the_next_key_and_keep_debug_values_whole() {
        let mut f = Vec::new();
        let head = parse_fields(
            "Connection denied server.name=x tls=Some(Established { client_id: None }) client=1.2.3.4:5",
            &mut f,
        );
        assert_eq!(head, "Connection denied ");
        assert_eq!(f[1].1, "Some(Established { client_id: None })");
        assert_eq!(f[2], ("client".into(), "1.2.3.4:5".into()));
    }

    #[test]
    fn clip_never_splits_a_character() {
        assert_eq!(clip("aé", 2), "a");
        assert_eq!(clip("abc", 10), "abc");
    }

    #[test]
    fn kubectl_timestamps_are_recognised() {
        assert!(is_rfc3339("2021-05-04T10:00:00.123456789Z"));
        assert!(!is_rfc3339("[2021-05-04"));
        assert_eq!(
            strip_kubectl_ts("2023-06-28T10:52:48Z\t[ 1.0s]").1,
            "[ 1.0s]"
        );
    }
}
