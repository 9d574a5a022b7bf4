//! `meshdoc rbac`: the least-privilege ClusterRole and Roles for `diagnose`,
//! generated from the collectors' own resource table so they cannot drift.

use super::{Code, print};
use crate::collect::cluster::resources::{self, Place, Resource, Scope};
use clap::Args;
use std::collections::BTreeMap;

#[derive(Debug, Args)]
pub struct RbacArgs {
    /// The namespace the Role is for (repeat the Role and its binding for every
    /// namespace you diagnose, and for namespaces of the Services it calls).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Name of the roles.
    #[arg(long, default_value = "meshdoc")]
    pub name: String,
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

fn render_rules(rules: &Rules) -> String {
    let mut out = String::from("rules:\n");
    for ((group, verbs, names), res) in rules {
        out.push_str(&format!("- apiGroups: [\"{group}\"]\n"));
        out.push_str(&format!("  resources: [{}]\n", res.join(", ")));
        if !names.is_empty() {
            out.push_str(&format!("  resourceNames: [{}]\n", names.join(", ")));
        }
        out.push_str(&format!("  verbs: [{}]\n", verbs.join(", ")));
    }
    out
}

/// The YAML printed by `meshdoc rbac`.
pub fn render(namespace: &str, name: &str) -> String {
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
    let mut out = format!(
        "# Read-only permissions for `meshdoc diagnose` (GET and LIST only, nothing else).\n\
         # Bind the ClusterRole with a ClusterRoleBinding, the Role `{name}` with a RoleBinding\n\
         # in each namespace you diagnose, and the mesh Roles in their namespaces.\n\
         # Without some of these meshdoc still runs and lists what it could not read.\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\n"
    );
    out.push_str(&render_rules(&cluster));
    out.push_str(&format!(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
    ));
    out.push_str(&render_rules(&target));
    for (ns, rules) in &fixed {
        out.push_str(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}-mesh\n  namespace: {ns}\n"
        ));
        out.push_str(&render_rules(rules));
    }
    out
}

pub fn run(a: RbacArgs) -> anyhow::Result<Code> {
    print(&render(&a.namespace, &a.name))?;
    Ok(Code::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_grant_only_get_and_list_and_cover_every_collected_resource() {
        let y = render("shop", "meshdoc");
        for line in y.lines().filter(|l| l.trim_start().starts_with("verbs:")) {
            let v = line.trim_start().trim_start_matches("verbs: ");
            assert!(
                v == "[get]" || v == "[get, list]" || v == "[list]",
                "{line}"
            );
        }
        for r in resources::RESOURCES {
            assert!(y.contains(r.plural), "{} missing", r.plural);
        }
        assert!(y.contains("resourceNames: [linkerd-proxy-injector-webhook-config]"));
        assert!(y.contains("resourceNames: [linkerd-identity-trust-roots]"));
        assert!(y.contains("namespace: istio-system"));
        assert!(y.contains("pods/log") && y.contains("pods/proxy"));
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&y).unwrap();
        assert_eq!(docs.len(), 4);
    }
}
