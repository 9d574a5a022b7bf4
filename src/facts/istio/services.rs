//! Service ports: Istio's protocol selection by port name or `appProtocol`
//! (unnamed ports, headless HTTP ports).

use super::*;

pub(super) fn ports_of(o: &Object) -> &[Value] {
    list(&o.value, "/spec/ports")
}

pub(super) fn guess_prefix(port: i64) -> &'static str {
    match port {
        80 | 8080 | 8000 | 3000 | 5000 | 9080 => "http",
        443 | 8443 => "https",
        9090 | 50051 => "grpc",
        3306 => "mysql",
        6379 => "redis",
        27017 => "mongo",
        _ => "tcp",
    }
}

pub(super) fn service_ports(ix: &Index, present: bool, out: &mut Vec<Fact>) {
    for svc in ix.of_kind("Service") {
        if svc.value.pointer("/spec/type").and_then(|t| t.as_str()) == Some("ExternalName") {
            continue;
        }
        let meshed = service_meshed(ix, svc, present) && !known_not_istio(ix, svc);
        // Headless + HTTP port breaks only under Istio: judge it on the same
        // evidence as port naming (injected namespace or pods, Istio
        // configuration in the set, `--mesh istio`). Plain app manifests
        // with a headless gRPC Service are common (Linkerd's emojivoto and
        // nodevoto demos) and say nothing about Istio.
        let headless_judged = meshed;
        let headless = svc
            .value
            .pointer("/spec/clusterIP")
            .and_then(|c| c.as_str())
            == Some("None");
        for (i, p) in ports_of(svc).iter().enumerate() {
            let proto = p.get("protocol").and_then(|x| x.as_str()).unwrap_or("TCP");
            if proto != "TCP" {
                continue;
            }
            let name = p.get("name").and_then(|n| n.as_str());
            let ap = p.get("appProtocol").and_then(|n| n.as_str());
            let number = p.get("port").and_then(int).unwrap_or(0);
            let sel = port_protocol(name, ap);
            let (ns, sname) = (svc.namespace(), svc.name());
            if sel.is_none() && meshed {
                let suggested = format!(
                    "{}-{}",
                    guess_prefix(number),
                    name.map(str::to_string)
                        .unwrap_or_else(|| number.to_string())
                );
                let shown = name
                    .map(|n| format!("named `{n}`"))
                    .unwrap_or_else(|| "unnamed".into());
                out.push(
                    Fact::new(
                        "service-port-unnamed-or-unprefixed",
                        svc.at(format!("spec.ports[{i}]")),
                        format!(
                            "Service {ns}/{sname} port {number} is {shown} without a protocol prefix (http-, grpc-, tcp-, …) or appProtocol, so Istio cannot apply L7 route rules reliably"
                        ),
                    )
                    .var("service", sname)
                    .var("port", number.to_string())
                    .patch(format!(
                        "# Service {ns}/{sname} spec.ports[{i}]\n- name: {suggested}\n  port: {number}\n# or: appProtocol: {}",
                        guess_prefix(number)
                    )),
                );
            }
            if headless && headless_judged && is_http(sel) {
                let suffix = name
                    .and_then(|n| n.split_once('-').map(|x| x.1))
                    .unwrap_or("web");
                out.push(
                    Fact::new(
                        "headless-service-http-port",
                        svc.at(format!("spec.ports[{i}]")),
                        format!(
                            "Headless Service {ns}/{sname} declares port {number} as {} ({}): requests to a pod IP go through the PassthroughCluster and the server sidecar has no route for them (503 UC under STRICT mTLS)",
                            sel.unwrap_or("HTTP"),
                            name.map(|n| format!("name `{n}`")).or(ap.map(|a| format!("appProtocol {a}"))).unwrap_or_default()
                        ),
                    )
                    .var("service", sname)
                    .var("port", number.to_string())
                    .patch(format!(
                        "# Service {ns}/{sname} spec.ports[{i}] — or call the pod by its DNS name (pod-0.{sname}.{ns}) / set the Host header\n- name: tcp-{suffix}\n  port: {number}"
                    )),
                );
            }
        }
    }
}
