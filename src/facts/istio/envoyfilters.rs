//! EnvoyFilters: patches relative to another filter without a priority.

use super::*;

pub(super) fn envoyfilters(ix: &Index, out: &mut Vec<Fact>) {
    for ef in ix.of_kind("EnvoyFilter") {
        let priority = ef
            .value
            .pointer("/spec/priority")
            .and_then(int)
            .unwrap_or(0);
        if priority != 0 {
            continue;
        }
        let patches = list(&ef.value, "/spec/configPatches");
        let hit = patches.iter().enumerate().find(|(_, p)| {
            matches!(
                p.pointer("/patch/operation").and_then(|o| o.as_str()),
                Some("INSERT_BEFORE" | "INSERT_AFTER" | "REPLACE")
            )
        });
        let Some((i, p)) = hit else { continue };
        let op = p
            .pointer("/patch/operation")
            .and_then(|o| o.as_str())
            .unwrap_or("");
        let version = p
            .pointer("/match/proxy/proxyVersion")
            .and_then(|v| v.as_str());
        let mut f = Fact::new(
            "envoyfilter-relative-without-priority",
            ef.at(format!("spec.configPatches[{i}].patch.operation")),
            format!(
                "EnvoyFilter {}/{} uses {op} relative to another filter without a priority; if that filter is newer or replaced on upgrade the patch is silently dropped{}",
                ef.namespace(),
                ef.name(),
                version
                    .map(|v| format!(" (it also matches proxyVersion {v}, so it breaks on the next upgrade)"))
                    .unwrap_or_default()
            ),
        )
        .patch(format!(
            "# EnvoyFilter {}/{}\nspec:\n  priority: 10   # or use operation: INSERT_FIRST",
            ef.namespace(),
            ef.name()
        ));
        if let Some(v) = version {
            f = f.var("proxy_version", v);
        }
        out.push(f);
    }
}
