//! Redaction of secrets before anything collected is written to disk:
//! Secret `data`/`stringData` values, bearer tokens, JWT-looking strings,
//! cookies and `Authorization` headers — in log lines and in object fields;
//! values whose key names a secret (`password`, `passwd`, `secret`, `token`,
//! `api_key`, `credential`, `private_key`, `access_key`, …) as `key=value`,
//! `key: value` and JSON in text, as env entries (`DB_PASSWORD`), args
//! (`--password=…`), ConfigMap data and map fields in objects, and inside
//! `last-applied-configuration`; well-known token shapes (AWS access key ids,
//! GitHub and Slack tokens, PEM private keys).
//!
//! Certificates stay: a `caBundle` or trust-anchor PEM is public material and
//! the facts need it to compute expiry. In a Secret, whose data goes whole,
//! their metadata stays instead (see [`object`]).

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
    /// `password=x`, `api_key: x`, `"client_secret":"x"`, `--token=x`.
    keyed: Regex,
    /// AWS key ids, GitHub and Slack tokens, PEM private keys.
    shapes: Regex,
}

/// A key that names a secret (matched case-insensitively, anywhere in the key).
const SECRET_KEY: &str = r"(?:password|passwd|pwd|secret|token|api[-_.]?key|apikey|credential|private[-_.]?key|access[-_.]?key|secret[-_.]?key)";

/// `true` for a map key or env name whose value is a secret; keys that name
/// a secret's *name or reference* (`secretName`, `tokenSecretRef`) are not.
fn secret_key(k: &str) -> bool {
    static RE: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(&format!("(?i){SECRET_KEY}")).ok());
    let l = k.to_ascii_lowercase();
    if l.ends_with("name") || l.ends_with("ref") || l.ends_with("path") || l.ends_with("file") {
        return false;
    }
    RE.as_ref().is_none_or(|r| r.is_match(k))
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        auth: Regex::new(r#"(?i)((?:proxy-)?authorization"?\s*[:=]\s*"?)(?:[^"\r\n]*)"#).ok()?,
        cookie: Regex::new(r#"(?i)((?:set-)?cookie"?\s*[:=]\s*"?)(?:[^"\r\n]*)"#).ok()?,
        bearer: Regex::new(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+").ok()?,
        jwt: Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*").ok()?,
        keyed: Regex::new(&format!(
            r#"(?i)(\b[A-Za-z0-9_.-]*{SECRET_KEY}[A-Za-z0-9_.-]*["']?\s*[:=]\s*["']?)([^"'\s,;&}}]+)"#
        ))
        .ok()?,
        shapes: Regex::new(
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        )
        .ok()?,
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
    for re in [&p.jwt, &p.shapes] {
        let c = re.find_iter(&out).count();
        if c > 0 {
            n += c;
            out = re.replace_all(&out, REDACTED).into_owned();
        }
    }
    // `key=value` pairs, except values already redacted and file paths
    // (`token file /var/run/…` names where a secret lives, not the secret).
    let mut keyed = 0;
    out = p
        .keyed
        .replace_all(&out, |c: &regex::Captures| {
            let v = &c[2];
            if v == REDACTED || v.starts_with('/') {
                c[0].to_string()
            } else {
                keyed += 1;
                format!("{}{REDACTED}", &c[1])
            }
        })
        .into_owned();
    (out, n + keyed)
}

/// Redacts an object in place: every value of a Secret's `data`/`stringData`,
/// and tokens, cookies and Authorization values in any string field.
///
/// A Secret's certificates are public material the facts and the timeline
/// need (expiry, issue and expiry times): their metadata — subject, issuer,
/// validity, CA flag, fingerprint, never a key or a certificate body — is
/// kept in the annotation [`crate::facts::certs::SECRET_CERTS`] before the
/// data goes.
pub fn object(v: &mut Value) -> usize {
    let mut n = 0;
    if v.get("kind").and_then(Value::as_str) == Some("Secret") {
        if let Some(meta) = crate::facts::certs::secret_metadata(v) {
            let md = v.as_object_mut().map(|o| {
                o.entry("metadata")
                    .or_insert_with(|| Value::Object(Default::default()))
            });
            if let Some(Value::Object(md)) = md {
                let ann = md
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(ann) = ann {
                    ann.insert(
                        crate::facts::certs::SECRET_CERTS.into(),
                        Value::String(meta.to_string()),
                    );
                }
            }
        }
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
            && let Some(x) = a.get_mut("kubectl.kubernetes.io/last-applied-configuration")
        {
            *x = Value::String(REDACTED.into());
            n += 1;
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
        Value::Object(m) => {
            let mut n = 0;
            // An env entry `{name: DB_PASSWORD, value: …}`.
            let env_secret = m
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(secret_key)
                && m.get("value").is_some_and(Value::is_string);
            if env_secret {
                m.insert("value".into(), Value::String(REDACTED.into()));
                n += 1;
            }
            for (k, val) in m.iter_mut() {
                if val.as_str() == Some(REDACTED) {
                    continue;
                }
                if k == "kubectl.kubernetes.io/last-applied-configuration" {
                    n += last_applied(val);
                } else if val.is_string() && secret_key(k) {
                    *val = Value::String(REDACTED.into());
                    n += 1;
                } else {
                    n += strings(val);
                }
            }
            n
        }
        _ => 0,
    }
}

/// The object kubectl keeps as JSON in an annotation: redacted like any
/// object, written back; unreadable JSON is redacted whole.
fn last_applied(val: &mut Value) -> usize {
    let Some(s) = val.as_str() else {
        return strings(val);
    };
    match serde_json::from_str::<Value>(s) {
        Ok(mut inner) => {
            let n = object(&mut inner);
            if n > 0 {
                *val = Value::String(inner.to_string());
            }
            n
        }
        Err(_) => {
            *val = Value::String(REDACTED.into());
            1
        }
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
    fn a_secret_keeps_its_certificates_metadata_and_loses_its_data() {
        use crate::facts::certs;
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let live = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "webhook-tls", "namespace": "linkerd"},
            "data": {"tls.crt": b64(certs::tests::EXPIRED_PEM),
                "tls.key": b64("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"),
                "password": b64("hunter2")}});
        let mut v = live.clone();
        assert_eq!(object(&mut v), 3);
        let text = v.to_string();
        assert!(
            !text.contains("BEGIN") && !text.contains("LS0tLS1"),
            "{text}"
        );
        assert_eq!(v["data"]["tls.key"], REDACTED);
        // What the facts and the timeline read is the same as live.
        let kept = certs::of_secret(&v, "tls.crt").expect("metadata kept");
        assert_eq!(Some(kept), certs::of_secret(&live, "tls.crt"));
        assert_eq!(certs::of_secret(&v, "tls.key"), None);
        // A Secret without certificates gets no annotation.
        let mut plain = serde_json::json!({"kind": "Secret", "metadata": {"name": "p"},
            "data": {"password": b64("hunter2")}});
        object(&mut plain);
        assert!(plain["metadata"].get("annotations").is_none(), "{plain}");
    }

    #[test]
    fn secrets_named_by_their_key_and_known_token_shapes_are_redacted() {
        let log = concat!(
            "connecting with password=hunter2 user=bob\n",
            "api_key: AKIAIOSFODNN7EXAMPLE\n",
            "x-api-key: k3y-v4lue\n",
            "{\"password\":\"s3cret\",\"authority\":\"payments:8080\"}\n",
            "cli --client-secret=abc123 --db-password hunter3\n",
            "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 and xoxb-1234567890-abcdef\n",
            "failed to read token file /var/run/secrets/tokens/istio-token\n",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n",
        );
        let (out, _) = text(log);
        for secret in [
            "hunter2",
            "AKIAIOSFODNN7EXAMPLE",
            "k3y-v4lue",
            "s3cret",
            "abc123",
            "ghp_abcdef",
            "xoxb-1234",
            "MIIEow",
        ] {
            assert!(!out.contains(secret), "{secret} leaked in:\n{out}");
        }
        // Not secrets: Envoy's authority, a user name, a token file's path.
        assert!(out.contains("payments:8080"), "{out}");
        assert!(out.contains("user=bob"), "{out}");
        assert!(out.contains("/var/run/secrets/tokens/istio-token"), "{out}");
    }

    #[test]
    fn env_args_configmaps_and_last_applied_configuration_are_redacted() {
        let pod = json!({"kind": "Pod", "metadata": {"annotations": {
            "kubectl.kubernetes.io/last-applied-configuration":
                "{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"env\":[{\"name\":\"DB_PASSWORD\",\"value\":\"pw-in-annotation\"}]}]}}"
        }}, "spec": {"containers": [{
            "args": ["--password=pw-in-args"],
            "env": [{"name": "DB_PASSWORD", "value": "pw-in-env"}, {"name": "LOG_LEVEL", "value": "debug"}],
            "volumeMounts": [{"name": "x", "secretName": "keep-me"}]
        }]}});
        let cm = json!({"kind": "ConfigMap", "data": {"api_key": "cm-key", "mode": "fast"}});
        for mut o in [pod, cm] {
            object(&mut o);
            let s = o.to_string();
            for secret in ["pw-in-annotation", "pw-in-args", "pw-in-env", "cm-key"] {
                assert!(!s.contains(secret), "{secret} leaked in {s}");
            }
            assert!(!s.contains("pw-"), "{s}");
            if s.contains("Pod") {
                assert!(s.contains("debug") && s.contains("keep-me"), "{s}");
            } else {
                assert!(s.contains("fast"), "{s}");
            }
        }
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
