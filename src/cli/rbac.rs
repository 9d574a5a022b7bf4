//! `meshdoc rbac`: the least-privilege ClusterRole and Roles for `diagnose`,
//! generated from the collectors' own resource table so they cannot drift.

use super::{Code, print};
use crate::collect::cluster::resources::{self, Place, Resource, Scope};
use crate::report::Format;
use clap::Args;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Args)]
pub struct RbacArgs {
    /// The namespace the Role is for (repeat the Role and its binding for every
    /// namespace you diagnose, and for namespaces of the Services it calls).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Name of the roles and bindings.
    #[arg(long, default_value = "meshdoc")]
    pub name: String,
    /// The ServiceAccount the bindings grant the roles to.
    #[arg(long, default_value = "meshdoc")]
    pub service_account: String,
    /// The ServiceAccount's namespace (default: --namespace).
    #[arg(long)]
    pub service_account_namespace: Option<String>,
}

/// (apiGroup, verbs, resourceNames) → resources.
type Rules = BTreeMap<(String, Vec<String>, Vec<String>), Vec<String>>;

fn add(rules: &mut Rules, r: &Resource) {
    let verbs: Vec<String> = r.verbs.iter().map(|v| v.to_string()).collect();
    let names: Vec<String> = r.names.iter().map(|v| v.to_string()).collect();
    let e = rules
        .entry((r.group.to_string(), verbs, names))
        .or_default();
    if !e.iter().any(|p| p == r.plural) {
        e.push(r.plural.to_string());
    }
}

fn rules_json(rules: &Rules) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|((group, verbs, names), res)| {
                let mut r = json!({"apiGroups": [group], "resources": res, "verbs": verbs});
                if !names.is_empty() {
                    r["resourceNames"] = json!(names);
                }
                r
            })
            .collect(),
    )
}

/// The objects `meshdoc rbac` prints: the roles and the bindings that grant
/// them to the ServiceAccount.
pub fn objects(namespace: &str, name: &str, sa: &str, sa_ns: &str) -> Vec<Value> {
    let mut cluster = Rules::new();
    let mut target = Rules::new();
    let mut fixed: BTreeMap<&str, Rules> = BTreeMap::new();
    for r in resources::RESOURCES {
        match (r.scope, r.place) {
            (Scope::Cluster, _) => add(&mut cluster, r),
            (_, Place::Target) => add(&mut target, r),
            (_, Place::TargetAndRoot) => {
                add(&mut target, r);
                add(fixed.entry(resources::ISTIO_ROOT).or_default(), r);
            }
            (_, Place::Fixed(ns)) => add(fixed.entry(ns).or_default(), r),
        }
    }
    let api = "rbac.authorization.k8s.io/v1";
    let subject = json!([{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]);
    let mut out = vec![
        json!({"apiVersion": api, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules_json(&cluster)}),
        json!({"apiVersion": api, "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": subject}),
        json!({"apiVersion": api, "kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules_json(&target)}),
        json!({"apiVersion": api, "kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": subject}),
    ];
    for (ns, rules) in &fixed {
        let role = format!("{name}-mesh");
        out.push(json!({"apiVersion": api, "kind": "Role", "metadata": {"name": role, "namespace": ns}, "rules": rules_json(rules)}));
        out.push(json!({"apiVersion": api, "kind": "RoleBinding", "metadata": {"name": role, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": subject}));
    }
    out
}

/// The YAML printed by `meshdoc rbac` (multi-document, with a header comment).
pub fn render(namespace: &str, name: &str) -> String {
    render_yaml(&objects(namespace, name, "meshdoc", namespace), name)
}

fn render_yaml(objs: &[Value], name: &str) -> String {
    let mut out = format!(
        "# Read-only permissions for `meshdoc diagnose` (GET and LIST only, nothing else).\n\
         # The ClusterRole and the Role `{name}` (in each namespace you diagnose) and the mesh\n\
         # Roles, each with its binding. Without some of them meshdoc still runs and lists what\n\
         # it could not read.\n"
    );
    for (i, o) in objs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_saphyr::to_string(o).unwrap_or_default());
    }
    out
}

pub fn run(a: RbacArgs, g: &super::Global) -> anyhow::Result<Code> {
    for ns in [Some(&a.namespace), a.service_account_namespace.as_ref()]
        .into_iter()
        .flatten()
    {
        crate::collect::cluster::target::check_namespace(ns).map_err(anyhow::Error::msg)?;
    }
    let sa_ns = a
        .service_account_namespace
        .as_deref()
        .unwrap_or(&a.namespace);
    let objs = objects(&a.namespace, &a.name, &a.service_account, sa_ns);
    let text = match g.output {
        Format::Json => {
            serde_json::to_string_pretty(
                &json!({"apiVersion": "v1", "kind": "List", "items": objs}),
            )? + "\n"
        }
        Format::Yaml | Format::Table => render_yaml(&objs, &a.name),
        other => anyhow::bail!("`meshdoc rbac` prints YAML or JSON, not {other:?}"),
    };
    print(&text)?;
    Ok(Code::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_grant_only_get_and_list_and_cover_every_collected_resource() {
        let y = render("shop", "meshdoc");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&y).unwrap();
        for d in &docs {
            for rule in d["rules"].as_array().into_iter().flatten() {
                for v in rule["verbs"].as_array().unwrap() {
                    assert!(v == "get" || v == "list", "{rule}");
                }
            }
        }
        for r in resources::RESOURCES {
            assert!(y.contains(r.plural), "{} missing", r.plural);
        }
        assert!(y.contains("linkerd-proxy-injector-webhook-config"));
        assert!(y.contains("linkerd-identity-trust-roots"));
        assert!(y.contains("namespace: istio-system"));
        assert!(y.contains("pods/log") && y.contains("pods/proxy"));
        // Each role with its binding.
        assert_eq!(docs.len(), 8);
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(
            kinds.iter().filter(|k| k.ends_with("Binding")).count(),
            4,
            "{kinds:?}"
        );
    }
}
