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
    /// One ClusterRole for every namespace, with its ClusterRoleBinding: what
    /// `meshdoc serve` and `diagnose -A` read (every resource, cluster-wide,
    /// and the service proxy of the Prometheus they look for).
    #[arg(long)]
    pub cluster_wide: bool,
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

/// `meshdoc rbac --cluster-wide`: one ClusterRole with every resource of the
/// table but Secrets (a whole-cluster read LISTs namespaced resources across
/// namespaces, so they cannot be Roles; it never reads a Secret, and a
/// ClusterRole would grant one by name in every namespace), the
/// `services/proxy` of each Prometheus
/// candidate by name, and the binding to the ServiceAccount. Objects read
/// by name keep their `resourceNames`; a ClusterRole grants those names in
/// every namespace, not only in the one meshdoc reads them from.
pub fn cluster_wide_objects(name: &str, sa: &str, sa_ns: &str) -> Vec<Value> {
    let mut rules = Rules::new();
    for r in resources::RESOURCES.iter().filter(|r| r.kind != "Secret") {
        add(&mut rules, r);
    }
    // `services/NAME:PORT/proxy` is authorised as resource name `NAME:PORT`.
    let proxies: Vec<String> = crate::collect::prometheus::CANDIDATES
        .iter()
        .map(|(_, svc, port)| format!("{svc}:{port}"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    rules
        .entry((String::new(), vec!["get".to_string()], proxies))
        .or_default()
        .push("services/proxy".to_string());
    let api = "rbac.authorization.k8s.io/v1";
    vec![
        json!({"apiVersion": api, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules_json(&rules)}),
        json!({"apiVersion": api, "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]}),
    ]
}

const CLUSTER_WIDE_HEADER: &str = "\
# Read-only permissions for `meshdoc serve` and `meshdoc diagnose -A` (GET and LIST only,
# nothing else), printed by `meshdoc rbac --cluster-wide`: one ClusterRole over every
# namespace. Objects read by name (the Linkerd trust roots, the Istio mesh config, the
# Prometheus Services' proxy) are granted by name, in any namespace.
";

/// The YAML printed by `meshdoc rbac` (multi-document, with a header comment).
pub fn render(namespace: &str, name: &str) -> String {
    render_yaml(&objects(namespace, name, "meshdoc", namespace), name)
}

fn render_yaml(objs: &[Value], name: &str) -> String {
    render_docs(
        objs,
        format!(
            "# Read-only permissions for `meshdoc diagnose` (GET and LIST only, nothing else).\n\
         # The ClusterRole and the Role `{name}` (in each namespace you diagnose) and the mesh\n\
         # Roles, each with its binding. Without some of them meshdoc still runs and lists what\n\
         # it could not read.\n"
        ),
    )
}

/// `objs` as YAML documents after `header`.
fn render_docs(objs: &[Value], header: String) -> String {
    let mut out = header;
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
    let objs = if a.cluster_wide {
        cluster_wide_objects(&a.name, &a.service_account, sa_ns)
    } else {
        objects(&a.namespace, &a.name, &a.service_account, sa_ns)
    };
    let text = match g.output {
        Format::Json => {
            serde_json::to_string_pretty(
                &json!({"apiVersion": "v1", "kind": "List", "items": objs}),
            )? + "\n"
        }
        Format::Yaml | Format::Table if a.cluster_wide => {
            render_docs(&objs, CLUSTER_WIDE_HEADER.to_string())
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

    #[test]
    fn the_cluster_wide_role_reads_every_resource_and_only_the_prometheus_service_proxies() {
        let docs = cluster_wide_objects("meshdoc", "meshdoc", "meshdoc");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["kind"], "ClusterRole");
        assert_eq!(docs[1]["subjects"][0]["namespace"], "meshdoc");
        let rules = docs[0]["rules"].as_array().unwrap();
        assert!(
            !rules.iter().any(|x| x["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "secrets")),
            "a whole-scope read reads no Secret"
        );
        for r in resources::RESOURCES.iter().filter(|r| r.kind != "Secret") {
            assert!(
                rules.iter().any(|x| x["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == r.plural)),
                "{} missing",
                r.plural
            );
        }
        let proxy = rules
            .iter()
            .find(|x| x["resources"] == json!(["services/proxy"]))
            .expect("services/proxy");
        assert_eq!(proxy["verbs"], json!(["get"]));
        assert_eq!(proxy["resourceNames"], json!(["prometheus:9090"]));
    }
}
