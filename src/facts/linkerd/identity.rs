//! The identity trust anchor and issuer certificates.

use super::*;

pub(super) fn trust_anchor(ix: &Index, opts: &FactOptions, out: &mut Vec<Fact>) {
    let mut check = |o: &Object, field: &str, what: String, certs: Vec<CertInfo>| {
        if let Some(c) = certs::earliest(&certs) {
            let exp = c.expiry(opts.now, opts.cert_warn);
            if exp == Expiry::Valid {
                return;
            }
            let verb = if exp == Expiry::Expired {
                "expired at"
            } else {
                "expires at"
            };
            let when = c.not_after_rfc3339();
            out.push(
                Fact::new(
                    "trust-anchor-expired",
                    o.at(field),
                    format!("{what} ({}) {verb} {when}", c.subject),
                )
                .var("expires", when)
                .patch(
                    "# rotate the trust anchor and issuer (https://linkerd.io/2/tasks/manually-rotating-control-plane-tls-credentials/)\nlinkerd check --proxy",
                ),
            );
        }
    };
    for cm in ix.of_kind("ConfigMap") {
        if cm.name() == "linkerd-identity-trust-roots"
            && let Some(pem) = cm
                .value
                .pointer("/data/ca-bundle.crt")
                .and_then(|c| c.as_str())
            && let Ok(c) = certs::parse_pem(pem.as_bytes())
        {
            check(
                cm,
                "data[\"ca-bundle.crt\"]",
                format!(
                    "The Linkerd trust anchor in ConfigMap {}/{}",
                    cm.namespace(),
                    cm.name()
                ),
                c,
            );
        }
    }
    for s in ix.of_kind("Secret") {
        if s.name() != "linkerd-identity-issuer" {
            continue;
        }
        for key in ["crt.pem", "tls.crt"] {
            if let Some(c) = certs::of_secret(&s.value, key) {
                check(
                    s,
                    &format!("data[\"{key}\"]"),
                    format!(
                        "The Linkerd identity issuer certificate in Secret {}/{}",
                        s.namespace(),
                        s.name()
                    ),
                    c,
                );
            }
        }
    }
}
