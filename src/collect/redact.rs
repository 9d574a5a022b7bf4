//! Redaction of secrets before anything collected is written to disk:
//! Secret `data`/`stringData` values, bearer tokens, JWT-looking strings,
//! cookies and `Authorization` headers — in log lines and in object fields.
//!
//! Certificates stay: a `caBundle` or trust-anchor PEM is public material and
//! the facts need it to compute expiry.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// What replaces a secret.
pub const REDACTED: &str = "REDACTED";

struct Patterns {
    /// `Authorization: Bearer x`, `"authorization":"x"`, `authorization=x`
    /// (value to the end of the quoted string, or of the line).
    auth: Regex,
    /// `cookie: a=b; c=d`, `set-cookie: …`, `"cookie":"…"`.
    cookie: Regex,
    /// `Bearer <token>` anywhere.
    bearer: Regex,
    /// Three base64url segments starting with `eyJ` (a JSON header): a JWT.
    jwt: Regex,
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        auth: Regex::new(r#"(?i)((?:proxy-)?authorization"?\s*[:=]\s*"?)(?:[^"\r\n]*)"#).ok()?,
        cookie: Regex::new(r#"(?i)((?:set-)?cookie"?\s*[:=]\s*"?)(?:[^"\r\n]*)"#).ok()?,
        bearer: Regex::new(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+").ok()?,
        jwt: Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*").ok()?,
    })
});

/// Redacts one text (a log, a metrics page); returns it and how many values
/// were replaced.
pub fn text(s: &str) -> (String, usize) {
    let Some(p) = &*PATTERNS else {
        // Cannot happen with constant patterns; refuse to leak rather than guess.
        return (REDACTED.to_string(), 1);
    };
    let mut n = 0;
    let mut out = s.to_string();
    for re in [&p.auth, &p.cookie, &p.bearer] {
        let c = re.find_iter(&out).count();
        if c > 0 {
            n += c;
            out = re
                .replace_all(&out, format!("${{1}}{REDACTED}").as_str())
                .into_owned();
        }
    }
    let c = p.jwt.find_iter(&out).count();
    if c > 0 {
        n += c;
        out = p.jwt.replace_all(&out, REDACTED).into_owned();
    }
    (out, n)
}

/// Redacts an object in place: every value of a Secret's `data`/`stringData`,
/// and tokens, cookies and Authorization values in any string field.
pub fn object(v: &mut Value) -> usize {
    let mut n = 0;
    if v.get("kind").and_then(Value::as_str) == Some("Secret") {
        for key in ["data", "stringData"] {
            if let Some(m) = v.get_mut(key).and_then(Value::as_object_mut) {
                for val in m.values_mut() {
                    *val = Value::String(REDACTED.into());
                    n += 1;
                }
            }
        }
        // kubectl keeps the whole Secret, data included, in this annotation.
        if let Some(a) = v
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            if let Some(x) = a.get_mut("kubectl.kubernetes.io/last-applied-configuration") {
                *x = Value::String(REDACTED.into());
                n += 1;
            }
        }
    }
    n + strings(v)
}

fn strings(v: &mut Value) -> usize {
    match v {
        Value::String(s) => {
            let (r, n) = text(s);
            if n > 0 {
                *s = r;
            }
            n
        }
        Value::Array(a) => a.iter_mut().map(strings).sum(),
        Value::Object(m) => m.values_mut().map(strings).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn authorization_cookies_bearer_tokens_and_jwts_are_redacted_in_logs() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let log = format!(
            "> Authorization: Basic dXNlcjpwYXNz\n< set-cookie: session=abc; Path=/\ncookie: a=b\n{{\"authorization\":\"Bearer xyz\",\"x\":1}}\ncalled with token {jwt} ok\nuse Bearer abc.def for it"
        );
        let (out, n) = text(&log);
        for secret in ["dXNlcjpwYXNz", "session=abc", "a=b", "xyz", jwt, "abc.def"] {
            assert!(!out.contains(secret), "{secret} leaked in:\n{out}");
        }
        assert!(n >= 6);
        assert!(out.contains("> Authorization: REDACTED"));
        assert!(
            out.contains("\"x\":1"),
            "fields after a quoted value survive: {out}"
        );
    }

    #[test]
    fn secret_data_is_redacted_but_certificates_stay() {
        let mut s =
            json!({"kind": "Secret", "data": {"tls.key": "c2VjcmV0"}, "stringData": {"p": "pw"}});
        assert_eq!(object(&mut s), 2);
        assert_eq!(s["data"]["tls.key"], "REDACTED");
        assert_eq!(s["stringData"]["p"], "REDACTED");
        let pem = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==";
        let mut w = json!({"kind": "MutatingWebhookConfiguration", "webhooks": [{"clientConfig": {"caBundle": pem}}]});
        assert_eq!(object(&mut w), 0);
        assert_eq!(w["webhooks"][0]["clientConfig"]["caBundle"], pem);
    }
}
