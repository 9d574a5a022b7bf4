//! Proxy messages as their source writes them, turned into regexes.
//!
//! A rule's `messages:` lists strings copied from the proxies' source (or
//! from `../shared/vocab`), placeholders and all. Each placeholder matches
//! any text: Rust `{}` `{:?}` `{0}` `{name}` `{name:?}`, Go `%s` `%v` `%d` `%q`
//! `%w` `%+v`, Envoy's descriptive `<reason>` and `{reset_reason}`, and a
//! leading or trailing `…` that marks a fragment. The literal parts are
//! matched exactly (case included: list each spelling a version used,
//! `Service in fail-fast` and `service in fail-fast`), and a message that
//! starts or ends with a word character must start or end on a word boundary.

/// Shortest literal run a message must contain, so that a template made
/// mostly of placeholders cannot match every line.
const MIN_LITERAL: usize = 6;

/// The longest literal run of a template: every match of its regex contains it.
pub fn template_literal(t: &str) -> String {
    split(t.trim())
        .into_iter()
        .filter_map(|p| match p {
            Part::Lit(l) => Some(l),
            Part::Hole => None,
        })
        .max_by_key(|l| l.len())
        .unwrap_or_default()
}

/// The regex for one message template.
pub fn template_regex(t: &str) -> Result<String, String> {
    let parts = split(t.trim());
    let longest = parts
        .iter()
        .filter_map(|p| match p {
            Part::Lit(l) => Some(l.trim().len()),
            Part::Hole => None,
        })
        .max()
        .unwrap_or(0);
    if longest < MIN_LITERAL {
        return Err(format!(
            "message `{t}` needs a literal run of at least {MIN_LITERAL} characters between its placeholders"
        ));
    }
    // Placeholders at either end match nothing: a message may be a fragment.
    let mut parts: &[Part] = &parts;
    while let Some((Part::Hole, rest)) = parts.split_first() {
        parts = rest;
    }
    while let Some((Part::Hole, rest)) = parts.split_last() {
        parts = rest;
    }
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        match p {
            Part::Hole => out.push_str(".*?"),
            Part::Lit(l) => {
                // ASCII word boundaries: as exact as Unicode ones on what
                // proxies print, and cheap for every regex engine (and rg).
                if i == 0 && l.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    out.push_str(r"(?-u:\b)");
                }
                out.push_str(&regex_syntax::escape(l));
                if i + 1 == parts.len()
                    && l.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                {
                    out.push_str(r"(?-u:\b)");
                }
            }
        }
    }
    Ok(out)
}

#[derive(Debug, PartialEq)]
enum Part {
    Lit(String),
    Hole,
}

/// Splits a template into literal runs and placeholders.
fn split(t: &str) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::new();
    let mut lit = String::new();
    let b = t.as_bytes();
    let mut i = 0;
    while i < t.len() {
        let rest = &t[i..];
        let hole = if rest.starts_with('…') {
            Some('…'.len_utf8())
        } else {
            match b[i] {
                b'{' => rest
                    .find('}')
                    .filter(|&e| is_rust_hole(&rest[1..e]))
                    .map(|e| e + 1),
                b'<' => rest
                    .find('>')
                    .filter(|&e| e > 1 && !rest[1..e].contains(['<', '"', '\'']))
                    .map(|e| e + 1),
                b'%' => go_verb(rest),
                _ => None,
            }
        };
        match hole {
            Some(n) => {
                if !lit.is_empty() {
                    out.push(Part::Lit(std::mem::take(&mut lit)));
                }
                if out.last() != Some(&Part::Hole) {
                    out.push(Part::Hole);
                }
                i += n;
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                lit.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !lit.is_empty() {
        out.push(Part::Lit(lit));
    }
    out
}

/// `{}`, `{:?}`, `{0}`, `{0:?}`, `{name}`, `{name:?}`, `{reset_reason}`.
fn is_rust_hole(inner: &str) -> bool {
    inner.len() <= 40
        && inner
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_:?#.".contains(&c))
}

/// Length of a Go verb (`%s`, `%v`, `%+v`, `%d`, `%q`, `%w`, `%T`, `%x`, `%.2f`) at the start.
fn go_verb(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() && (b"+#-. 0123456789".contains(&b[i])) && i < 5 {
        i += 1;
    }
    (i < b.len() && b"svdqwTxXfgtbcpe".contains(&b[i])).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, line: &str) -> bool {
        regex::Regex::new(&template_regex(t).unwrap())
            .unwrap()
            .is_match(line)
    }

    #[test]
    fn placeholders_match_any_text_and_literals_match_exactly() {
        assert!(m(
            "connect timed out after {:?}",
            "error=connect timed out after 1s"
        ));
        assert!(m(
            "{} service in fail-fast",
            "logical service x:80: service in fail-fast"
        ));
        assert!(!m("service in fail-fast", "Service in fail-fast"));
        assert!(m(
            "failed to fetch %s from %v: %w",
            "failed to fetch jwks from https://x: timeout"
        ));
        assert!(m(
            "upstream_reset_before_response_started{<reason>}",
            "upstream_reset_before_response_started{connection_failure}"
        ));
        assert!(m("no healthy upstream", "no healthy upstream"));
        assert!(!m("no healthy upstream", "no healthy upstreams"));
        assert!(!m("connect timed out after {:?}", "reconnect timed out"));
    }

    #[test]
    fn templates_without_a_literal_are_refused() {
        assert!(template_regex("{}").is_err());
        assert!(template_regex("%s: %v").is_err());
        assert!(template_regex("{} {} {}").is_err());
    }
}
