//! ServiceEntries: ports whose protocol clashes with the TLS a
//! DestinationRule originates (double TLS, HTTPS to an HTTP port).

use super::*;

pub(super) fn serviceentries(ix: &Index, out: &mut Vec<Fact>) {
    for se in ix.of_kind("ServiceEntry") {
        let hosts: Vec<&str> = strs(&se.value, "/spec/hosts").collect();
        let drs: Vec<&Object> = ix
            .of_kind("DestinationRule")
            .filter(|dr| {
                dr.value
                    .pointer("/spec/host")
                    .and_then(|h| h.as_str())
                    .is_some_and(|h| hosts.iter().any(|x| hosts_intersect(h, x)))
            })
            .collect();
        for (i, p) in ports_of(se).iter().enumerate() {
            let number = p.get("number").and_then(int).unwrap_or(0);
            let proto = p
                .get("protocol")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_ascii_uppercase();
            let host = hosts.first().copied().unwrap_or("");
            let originating = drs
                .iter()
                .find_map(|dr| dr_originates_tls(dr, Some(number)).map(|x| (dr, x)));
            if proto == "HTTP" && matches!(number, 443 | 8443 | 9443) && originating.is_none() {
                out.push(
                    Fact::new(
                        "serviceentry-https-declared-http",
                        se.at(format!("spec.ports[{i}]")),
                        format!(
                            "ServiceEntry {}/{} declares port {number} for {host} as protocol HTTP; HTTPS sent there is parsed as HTTP (client: wrong version number, access log 400 DPE)",
                            se.namespace(),
                            se.name()
                        ),
                    )
                    .var("service", host)
                    .var("port", number.to_string())
                    .patch(format!(
                        "# ServiceEntry {}/{} spec.ports[{i}]\n- number: {number}\n  name: https\n  protocol: HTTPS",
                        se.namespace(),
                        se.name()
                    )),
                );
            }
            if matches!(proto.as_str(), "HTTPS" | "TLS")
                && let Some((dr, (field, mode))) = originating
                && !hosts.iter().any(|h| http_routed_to(ix, h, number))
            {
                out.push(
                        Fact::new(
                            "dr-originates-tls-to-https-serviceentry",
                            dr.at(field),
                            format!(
                                "DestinationRule {}/{} originates TLS ({mode}) to {host}, whose ServiceEntry {}/{} port {number} is already {proto}: the application's TLS gets wrapped in TLS again",
                                dr.namespace(),
                                dr.name(),
                                se.namespace(),
                                se.name()
                            ),
                        )
                        .var("service", host)
                        .var("port", number.to_string())
                        .related(se.at(format!("spec.ports[{i}]")))
                        .patch(format!(
                            "# ServiceEntry {}/{} spec.ports[{i}]: plain text from the app, TLS from the sidecar\n- number: 80\n  name: http\n  protocol: HTTP\n  targetPort: {number}",
                            se.namespace(),
                            se.name()
                        )),
                    );
            }
        }
    }
}
