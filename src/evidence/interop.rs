//! Other tools' reports as evidence: `linkerd check -o json` and `istioctl
//! analyze` (JSON or its text output). Their codes are cited in the findings
//! they support; meshdoc does not re-implement their checks.

use super::ToolMessage;
use serde_json::Value;

/// Reads a `linkerd check -o json` document: `{"success":…, "categories":
/// [{"categoryName":…, "checks":[{"description","hint","error","result"}]}]}`.
pub fn parse_linkerd_check(text: &str) -> Option<Vec<ToolMessage>> {
    let v: Value = serde_json::from_str(text.trim()).ok()?;
    let cats = v.get("categories")?.as_array()?;
    let mut out = Vec::new();
    for c in cats {
        let cat = c.get("categoryName").and_then(Value::as_str).unwrap_or("");
        for ch in c
            .get("checks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let desc = ch.get("description").and_then(Value::as_str).unwrap_or("");
            let hint = ch.get("hint").and_then(Value::as_str).unwrap_or("");
            // The hint URL's anchor is the check's stable id (…/checks/#l5d-…).
            let code = hint
                .rsplit_once('#')
                .map(|(_, a)| a.to_string())
                .unwrap_or_else(|| desc.to_string());
            let err = ch.get("error").and_then(Value::as_str).unwrap_or("");
            out.push(ToolMessage {
                tool: "linkerd check".into(),
                code,
                level: ch
                    .get("result")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase(),
                message: if err.is_empty() {
                    desc.to_string()
                } else {
                    format!("{desc}: {err}")
                },
                object: (!cat.is_empty()).then(|| cat.to_string()),
            });
        }
    }
    Some(out)
}

/// Reads `istioctl analyze -o json` (an array of messages) or its text
/// output (`Error [IST0101] (VirtualService ns/x) Referenced host not found…`).
pub fn parse_istioctl_analyze(text: &str) -> Option<Vec<ToolMessage>> {
    let t = text.trim();
    if t.starts_with('[') {
        let arr: Vec<Value> = serde_json::from_str(t).ok()?;
        let out: Vec<ToolMessage> = arr
            .iter()
            .filter_map(|m| {
                let code = m.get("code")?.as_str()?;
                code.starts_with("IST").then(|| ToolMessage {
                    tool: "istioctl analyze".into(),
                    code: code.to_string(),
                    level: m
                        .get("level")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    message: m
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    object: m.get("origin").and_then(Value::as_str).map(str::to_string),
                })
            })
            .collect();
        return (!out.is_empty() || arr.is_empty()).then_some(out);
    }
    let out: Vec<ToolMessage> = t.lines().filter_map(analyze_line).collect();
    (!out.is_empty()).then_some(out)
}

/// One line of `istioctl analyze`'s text output:
/// `Error [IST0101] (VirtualService ns/x) Referenced host not found: "y"`.
pub fn analyze_line(line: &str) -> Option<ToolMessage> {
    let (level, rest) = line.trim().split_once(" [IST")?;
    let (num, rest) = rest.split_once(']')?;
    if !matches!(level, "Error" | "Warning" | "Warn" | "Info")
        || num.is_empty()
        || !num.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let rest = rest.trim();
    let (object, message) = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
        Some((o, m)) => (Some(o.to_string()), m.trim().to_string()),
        None => (None, rest.to_string()),
    };
    Some(ToolMessage {
        tool: "istioctl analyze".into(),
        code: format!("IST{num}"),
        level: level.to_ascii_lowercase(),
        message,
        object,
    })
}

/// A whole JSON report of either tool (`linkerd check -o json`, `istioctl
/// analyze -o json`). Their text outputs are read line by line instead
/// ([`analyze_line`]), so that nothing around them is lost.
pub fn json_report(text: &str) -> Option<Vec<ToolMessage>> {
    let t = text.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    parse(text)
}

/// Either tool's report, when `text` is one.
pub fn parse(text: &str) -> Option<Vec<ToolMessage>> {
    parse_linkerd_check(text).or_else(|| parse_istioctl_analyze(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istioctl_text_output_keeps_code_level_and_object() {
        let t = "Info [IST0118] (Service nfs.default) Port name nfs (port: 2049, targetPort: nfs) doesn't follow the naming convention of Istio port.\nError [IST0101] Referenced host not found: \"x\"";
        let m = parse_istioctl_analyze(t).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].code, "IST0118");
        assert_eq!(m[0].object.as_deref(), Some("Service nfs.default"));
        assert_eq!(m[1].level, "error");
        assert!(
            m[0].line()
                .starts_with("[IST0118] info: (Service nfs.default) Port name nfs")
        );
    }

    #[test]
    fn linkerd_check_json_uses_the_hint_anchor_as_code() {
        let t = r#"{"success":false,"categories":[{"categoryName":"linkerd-webhooks-and-apisvc-tls","checks":[{"description":"proxy-injector cert is valid for at least 60 days","hint":"https://linkerd.io/2/checks/#l5d-proxy-injector-webhook-cert-not-expiring-soon","error":"certificate will expire on 2026-01-01","result":"warning"}]}]}"#;
        let m = parse_linkerd_check(t).unwrap();
        assert_eq!(
            m[0].code,
            "l5d-proxy-injector-webhook-cert-not-expiring-soon"
        );
        assert_eq!(m[0].level, "warning");
    }

    #[test]
    fn ordinary_text_is_not_a_tool_report() {
        assert!(parse("[ 1.0s]  INFO ThreadId(01) linkerd2_proxy: hello").is_none());
        assert!(parse("{\"a\":1}").is_none());
    }
}
