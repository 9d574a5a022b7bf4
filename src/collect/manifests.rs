//! Kubernetes manifests: files, directories, stdin; multi-document YAML and
//! JSON; `List` kinds. Each object keeps the file, line and column it came from.

use crate::facts::{ObjRef, Object, ObjectSet};

/// A manifest that could not be read, at file:line:column.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct ManifestError {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Parses multi-document YAML (or JSON) text into objects; namespace-less
/// objects get `default_ns`.
pub fn load_str(text: &str, path: &str, default_ns: &str) -> Result<ObjectSet, ManifestError> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((1, 1));
        ManifestError {
            path: path.to_string(),
            line,
            column,
            message: e.to_string().lines().next().unwrap_or("").to_string(),
        }
    })?;
    let mut set = ObjectSet::default();
    for d in docs {
        if d.get("kind").is_none() {
            continue;
        }
        let ns = d
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .unwrap_or(default_ns)
            .to_string();
        let origin = ObjRef {
            kind: d
                .get("kind")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            namespace: Some(ns),
            name: d
                .pointer("/metadata/name")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            file: Some(path.to_string()),
            ..ObjRef::default()
        };
        set.objects.push(Object { value: d, origin });
    }
    Ok(set)
}
