//! Gateways: their servers flattened, shared certificates, port conflicts
//! and SNI requirements (with the load balancers in front of them).

use super::*;
use crate::facts::ObjRef;

/// A Gateway server, flattened.
pub(super) struct Server<'a> {
    pub(super) gw: &'a Object,
    pub(super) index: usize,
    pub(super) number: i64,
    pub(super) port_name: String,
    pub(super) protocol: String,
    pub(super) hosts: Vec<String>,
    pub(super) tls_mode: Option<String>,
    pub(super) cert: Option<String>,
}

impl Server<'_> {
    /// This server's `field` (`tls`, `port`) on its Gateway.
    pub(super) fn at(&self, field: &str) -> ObjRef {
        self.gw.at(format!("spec.servers[{}].{field}", self.index))
    }
}

/// Pairs of servers on different Gateways that `related` ties together, each
/// first server once (istioctl reports a Gateway's server once).
fn pairs<'s, 'a>(
    ix: &Index,
    srv: &'s [Server<'a>],
    related: impl Fn(&Server, &Server) -> bool,
) -> Vec<(&'s Server<'a>, &'s Server<'a>)> {
    let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut out = Vec::new();
    for a in srv {
        for b in srv {
            if !same_object(a.gw, b.gw)
                && related(a, b)
                && seen.insert((ix.position(a.gw), a.index))
            {
                out.push((a, b));
            }
        }
    }
    out
}

pub(super) fn servers<'a>(ix: &Index<'a>) -> Vec<Server<'a>> {
    let mut out = Vec::new();
    for gw in ix.of_kind("Gateway") {
        // Gateway API Gateways share the kind name; only Istio's are ours.
        if !gw.api_version().starts_with("networking.istio.io") {
            continue;
        }
        for (i, s) in list(&gw.value, "/spec/servers").iter().enumerate() {
            let tls = s.get("tls");
            let cert = tls.and_then(|t| {
                t.get("credentialName")
                    .and_then(|c| c.as_str())
                    .map(|c| format!("credentialName {c}"))
                    .or_else(|| {
                        t.get("serverCertificate")
                            .and_then(|c| c.as_str())
                            .map(|c| format!("serverCertificate {c}"))
                    })
            });
            out.push(Server {
                gw,
                index: i,
                number: s.pointer("/port/number").and_then(int).unwrap_or(0),
                port_name: s
                    .pointer("/port/name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string(),
                protocol: s
                    .pointer("/port/protocol")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_ascii_uppercase(),
                hosts: strs(s, "/hosts")
                    // `ns/host`: the namespace part restricts which
                    // VirtualServices may bind, not the host.
                    .map(|h| h.rsplit('/').next().unwrap_or(h).to_string())
                    .collect(),
                tls_mode: tls
                    .and_then(|t| t.get("mode"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string),
                cert,
            });
        }
    }
    out
}

/// One Gateway, or two definitions of the same Gateway (same namespace and
/// name) in different files: `kubectl apply` keeps only the last, so they
/// never run side by side (istio.io task steps redefine `mygateway`).
pub(super) fn same_object(a: &Object, b: &Object) -> bool {
    std::ptr::eq(a, b)
        || (a.kind() == b.kind() && a.namespace() == b.namespace() && a.name() == b.name())
}

pub(super) fn gw_selector(gw: &Object) -> Selector {
    Selector::from_map(gw.value.pointer("/spec/selector").unwrap_or(&Value::Null))
}

pub(super) fn gateways_share_cert(ix: &Index, out: &mut Vec<Fact>) {
    let srv = servers(ix);
    // Istio's GatewayDuplicateCertificate: gateway A is flagged when its
    // selector also selects B's workload (A ⊆ B).
    let shared = pairs(ix, &srv, |a, b| {
        a.cert.is_some() && a.cert == b.cert && gw_selector(a.gw).is_subset_of(&gw_selector(b.gw))
    });
    for (a, b) in shared {
        let cert = a.cert.clone().unwrap_or_default();
        out.push(
                Fact::new(
                    "gateways-share-certificate",
                    a.at("tls"),
                    format!(
                        "Gateway {}/{} ({}) and Gateway {}/{} ({}) on the same workload use the same certificate ({cert}); browsers reuse one HTTP/2 connection for both hosts and get 404 from the wrong gateway",
                        a.gw.namespace(),
                        a.gw.name(),
                        a.hosts.join(","),
                        b.gw.namespace(),
                        b.gw.name(),
                        b.hosts.join(",")
                    ),
                )
                .related(b.at("tls"))
                .patch(format!(
                    "# one Gateway for all hosts of the certificate; bind every VirtualService to it\nservers:\n- port: {{number: {}, name: https, protocol: HTTPS}}\n  tls: {{mode: SIMPLE, {}}}\n  hosts: [{}]",
                    a.number,
                    cert.replacen(' ', ": ", 1),
                    a.hosts.iter().chain(b.hosts.iter()).map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
                )),
            );
    }
}

pub(super) fn gateways_port_conflict(ix: &Index, out: &mut Vec<Fact>) {
    let srv = servers(ix);
    let conflicts = pairs(ix, &srv, |a, b| {
        let (sa, sb) = (gw_selector(a.gw), gw_selector(b.gw));
        a.number == b.number
            && a.number != 0
            && (a.port_name != b.port_name || a.protocol != b.protocol)
            && (sa.is_subset_of(&sb) || sb.is_subset_of(&sa))
    });
    for (a, b) in conflicts {
        out.push(
                Fact::new(
                    "gateways-port-conflict",
                    a.at("port"),
                    format!(
                        "Gateway {}/{} declares port {} as {}/{} while Gateway {}/{} on the same workload declares it as {}/{}; istiod rejects one (non unique port name)",
                        a.gw.namespace(),
                        a.gw.name(),
                        a.number,
                        a.port_name,
                        a.protocol,
                        b.gw.namespace(),
                        b.gw.name(),
                        b.port_name,
                        b.protocol
                    ),
                )
                .var("port", a.number.to_string())
                .related(b.at("port"))
                .patch(format!(
                    "# use identical port definitions on both Gateways (or one Gateway per port)\nport:\n  number: {}\n  name: {}\n  protocol: {}",
                    b.number, b.port_name, b.protocol
                )),
            );
    }
}

/// Why a load balancer in front of `svc` re-encrypts to it without SNI, if
/// its annotations (or an Ingress routing to it) say so, with the command
/// that stops it. Sources: istio/istio#31421 (an AWS load balancer that
/// terminates TLS "will re-initiate TLS but without SNI"),
/// aws-samples/eks-alb-istio-with-tls#9 (ALB does not forward SNI),
/// knative/serving#12376 (Google Cloud HTTPS load balancer to the gateway's
/// 443: filter_chain_not_found).
pub(super) fn lb_reencrypts_without_sni(ix: &Index, svc: &Object) -> Option<(String, String)> {
    let ann = |k: &str| svc.annotation(k).map(|v| v.trim().to_ascii_lowercase());
    let (ns, name) = (svc.namespace(), svc.name());
    if let Some(p) = ann("service.beta.kubernetes.io/aws-load-balancer-backend-protocol")
        && matches!(p.as_str(), "ssl" | "https")
    {
        return Some((
            format!(
                "its AWS load balancer re-encrypts to it (Service {ns}/{name} annotation aws-load-balancer-backend-protocol: {p})"
            ),
            format!(
                "# pass the client's TLS (and SNI) through: the load balancer stops terminating TLS\nkubectl annotate service {name} -n {ns} service.beta.kubernetes.io/aws-load-balancer-ssl-cert- service.beta.kubernetes.io/aws-load-balancer-backend-protocol-"
            ),
        ));
    }
    for key in [
        "cloud.google.com/app-protocols",
        "service.alpha.kubernetes.io/app-protocols",
    ] {
        if let Some(p) = ann(key)
            && (p.contains("\"https\"") || p.contains("\"http2\""))
        {
            return Some((
                format!(
                    "a Google Cloud HTTP(S) load balancer connects to it over TLS (Service {ns}/{name} annotation {key})"
                ),
                format!(
                    "# let the load balancer reach the gateway's plain HTTP server instead (TLS ends at the load balancer)\nkubectl annotate service {name} -n {ns} --overwrite {key}='{{\"<port-name>\":\"HTTP\"}}'   # <port-name>: the Service port the load balancer uses"
                ),
            ));
        }
    }
    ix.of_kind_in("Ingress", ns)
        .into_iter()
        .find(|ing| {
            ing.annotation("alb.ingress.kubernetes.io/backend-protocol")
                .is_some_and(|p| p.eq_ignore_ascii_case("https"))
                && ingress_backends(ing).any(|n| n == name)
        })
        .map(|ing| {
            (
                format!(
                    "ALB Ingress {}/{} re-encrypts to it (alb.ingress.kubernetes.io/backend-protocol: HTTPS)",
                    ing.namespace(),
                    ing.name()
                ),
                format!(
                    "# let the ALB reach the gateway's plain HTTP server instead (TLS ends at the ALB); point the Ingress backend at the gateway's HTTP port\nkubectl annotate ingress {} -n {} --overwrite alb.ingress.kubernetes.io/backend-protocol=HTTP",
                    ing.name(),
                    ing.namespace()
                ),
            )
        })
}

/// The Service names an Ingress routes to (default backend and rules).
pub(super) fn ingress_backends<'a>(ing: &'a Object) -> impl Iterator<Item = &'a str> + 'a {
    let spec = ing.spec();
    let default = spec.pointer("/defaultBackend/service/name");
    let rules = list(spec, "/rules").iter().flat_map(|r| {
        list(r, "/http/paths")
            .iter()
            .filter_map(|p| p.pointer("/backend/service/name"))
    });
    default.into_iter().chain(rules).filter_map(|v| v.as_str())
}

/// Two facts about TLS servers that list specific hosts (so the filter
/// chain is chosen by SNI):
///
/// * `gateway-tls-requires-sni` for every such server. That is the norm
///   (Istio's secure-gateways task is a single-host SIMPLE server with a
///   credentialName), so it only corroborates a `filter_chain_not_found`
///   seen in evidence; on its own it is not a misconfiguration.
/// * `gateway-sni-not-forwarded` when the manifests also show a load
///   balancer that re-encrypts to the gateway's Service without SNI: then
///   every request through it fails, which `check` can say before shipping.
pub(super) fn gateway_sni(ix: &Index, out: &mut Vec<Fact>) {
    for s in servers(ix) {
        if !matches!(s.protocol.as_str(), "HTTPS" | "TLS") || s.hosts.is_empty() {
            continue;
        }
        if s.hosts.iter().any(|h| h == "*") {
            continue;
        }
        let host = s.hosts.first().cloned().unwrap_or_default();
        let shown_host = host.replace('*', "app");
        // Both facts start from the SNI the server matches.
        let sni = |name: &'static str, tail: String| {
            Fact::new(
                name,
                s.at("hosts"),
                format!(
                    "Gateway {}/{} port {} ({}) matches only SNI {}{tail}",
                    s.gw.namespace(),
                    s.gw.name(),
                    s.number,
                    s.protocol,
                    s.hosts.join(", ")
                ),
            )
            .var("port", s.number.to_string())
            .var("service", host.clone())
        };
        out.push(
            sni(
                "gateway-tls-requires-sni",
                "; clients or load balancers that send no SNI (curl to an IP with a Host header, many cloud LBs) match no filter chain".into(),
            )
            .patch(format!(
                "curl --resolve {shown_host}:{}:<gateway-ip> https://{shown_host}/   # sends SNI {shown_host}, as DNS would",
                s.number,
            )),
        );
        let terminates = matches!(
            s.tls_mode
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref(),
            None | Some("SIMPLE" | "MUTUAL" | "OPTIONAL_MUTUAL")
        );
        if !terminates {
            continue;
        }
        let sel = gw_selector(s.gw);
        if sel.is_empty() {
            continue;
        }
        for svc in ix.of_kind("Service") {
            let ssel =
                Selector::from_map(svc.value.pointer("/spec/selector").unwrap_or(&Value::Null));
            if ssel.is_empty() || !(sel.is_subset_of(&ssel) || ssel.is_subset_of(&sel)) {
                continue;
            }
            let Some((why, patch)) = lb_reencrypts_without_sni(ix, svc) else {
                continue;
            };
            out.push(
                sni(
                    "gateway-sni-not-forwarded",
                    format!(", but {why}, and such load balancers send no SNI: every request through it fails with filter_chain_not_found"),
                )
                .related(svc.origin.clone())
                .patch(patch),
            );
            break;
        }
    }
}
