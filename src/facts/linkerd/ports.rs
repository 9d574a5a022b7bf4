//! Opaque and server-speaks-first ports: where the two proxies (or the
//! proxy and a protocol that speaks first) disagree on what a port carries.

use super::*;

pub(super) fn ports(ix: &Index, out: &mut Vec<Fact>) {
    // (pod-like index, container port) already judged through a Service.
    let mut covered: std::collections::HashSet<(usize, i64)> = std::collections::HashSet::new();
    for svc in ix.of_kind("Service") {
        let Some(pods) = ix.service_pods(svc) else {
            continue;
        };
        let meshed_pods: Vec<usize> = pods
            .into_iter()
            .filter(|&i| meshed(ix, &ix.pods[i]))
            .collect();
        let Some(&first) = meshed_pods.first() else {
            continue;
        };
        for (spi, sp) in service_ports(svc).iter().enumerate() {
            if sp.get("protocol").and_then(|p| p.as_str()).unwrap_or("TCP") != "TCP" {
                continue;
            }
            let Some(port) = sp.get("port").and_then(int) else {
                continue;
            };
            let ap = sp.get("appProtocol").and_then(|a| a.as_str());
            let pname = sp.get("name").and_then(|n| n.as_str());
            let p = &ix.pods[first];
            let Some(target) = target_port(sp, p) else {
                continue;
            };
            for &pi in &meshed_pods {
                if let Some(t) = target_port(sp, &ix.pods[pi]) {
                    covered.insert((pi, t));
                }
            }
            let (pod_set, pod_src) = pod_opaque(ix, p);
            let pod_op = pod_set.contains(target);
            let svc_op = service_opaque(ix, svc, port) || opaque_app_protocol(ap);
            let skipped = p
                .annotation("config.linkerd.io/skip-inbound-ports")
                .is_some_and(|s| PortSet::parse(s, Some(p)).contains(target));
            let cport_name = p
                .ports()
                .into_iter()
                .find(|c| c.port == target)
                .and_then(|c| c.name);
            let ssf = server_speaks_first(target, cport_name)
                .or_else(|| server_speaks_first(port, pname))
                .or_else(|| server_speaks_first(-1, ap));
            let svc_ref = svc.at(format!("spec.ports[{spi}]"));
            if let Some(proto) = ssf
                && !pod_op
                && !svc_op
                && !skipped
            {
                out.push(
                        Fact::new(
                            "server-speaks-first-port-not-opaque",
                            svc_ref.clone(),
                            format!(
                                "Service {}/{} port {port} → {} port {target} is {proto} (server speaks first) \
                                 but is not opaque (opaque ports from {pod_src}: {}), so every connection waits 10s in protocol detection",
                                svc.namespace(),
                                svc.name(),
                                p.display(),
                                fmt_set(&pod_set)
                            ),
                        )
                        .var("service", svc.name())
                        .var("port", port.to_string())
                        .var("deployment", p.obj.name())
                        .related(p.obj.origin.clone())
                        .patch(format!(
                            "# Service {} spec.ports[{spi}]\n- port: {port}\n  appProtocol: tcp\n# or on {} spec.template.metadata:\n{}",
                            svc.name(),
                            p.display(),
                            opaque_patch(p.annotation(OPAQUE_ANN).unwrap_or(""), target, "pod template")
                                .lines()
                                .skip(1)
                                .collect::<Vec<_>>()
                                .join("\n")
                        )),
                    );
            }
            // Only pod-opaque/Service-plain breaks: clients then skip the
            // opaque transport the server proxy expects. The reverse
            // (`appProtocol: tcp` on the Service) is seed 002's documented fix.
            if pod_op && !svc_op && !skipped {
                let opaque_side = format!("{} port {target}", p.display());
                let plain_side = format!("Service port {port}");
                let patch = format!(
                    "# Service {}/{} spec.ports[{spi}]\n- port: {port}\n  appProtocol: linkerd.io/opaque",
                    svc.namespace(),
                    svc.name()
                );
                out.push(
                    Fact::new(
                        "opaque-ports-mismatch",
                        svc_ref,
                        format!(
                            "{opaque_side} is opaque but {plain_side} is not (Service {}/{}): the two proxies disagree on the protocol",
                            svc.namespace(),
                            svc.name()
                        ),
                    )
                    .var("service", svc.name())
                    .var("port", port.to_string())
                    .var("deployment", p.obj.name())
                    .related(p.obj.origin.clone())
                    .patch(patch),
                );
            }
        }
    }
    // Server-speaks-first container ports no Service fronts (clients dial
    // pod IPs or a headless name).
    for (pi, p) in ix.pods.iter().enumerate() {
        if !meshed(ix, p) {
            continue;
        }
        let (set, src) = pod_opaque(ix, p);
        let skip = p
            .annotation("config.linkerd.io/skip-inbound-ports")
            .map(|s| PortSet::parse(s, Some(p)))
            .unwrap_or_default();
        for cp in p.ports() {
            if cp.container == "linkerd-proxy" || cp.protocol != "TCP" {
                continue;
            }
            if covered.contains(&(pi, cp.port)) || set.contains(cp.port) || skip.contains(cp.port) {
                continue;
            }
            let Some(proto) = server_speaks_first(cp.port, cp.name) else {
                continue;
            };
            out.push(
                Fact::new(
                    "server-speaks-first-port-not-opaque",
                    p.obj.at(&cp.path),
                    format!(
                        "{} container {} port {} is {proto} (server speaks first) but is not opaque (opaque ports from {src}: {}), so every connection waits 10s in protocol detection",
                        p.display(),
                        cp.container,
                        cp.port,
                        fmt_set(&set)
                    ),
                )
                .var("port", cp.port.to_string())
                .var("deployment", p.obj.name())
                .patch(opaque_patch(
                    p.annotation(OPAQUE_ANN).unwrap_or(""),
                    cp.port,
                    &format!("{} {}", p.display(), p.field("metadata")),
                )),
            );
        }
    }
}

fn fmt_set(s: &PortSet) -> String {
    s.0.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
