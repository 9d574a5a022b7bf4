//! Certificates in objects: PEM text, or base64 of PEM as Kubernetes stores
//! it in `caBundle` and Secret `data`. What expiry checks and the timeline
//! need: the subject, `notBefore` and `notAfter` of each certificate; and,
//! for the metadata a bundle keeps of a Secret's certificates once its data
//! is redacted ([`SECRET_CERTS`]), the issuer, whether it is a CA and its
//! SHA-256 fingerprint.

use base64::Engine;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_parser::pem::Pem;

/// One parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject DN, e.g. `CN=linkerd-proxy-injector.linkerd.svc`.
    pub subject: String,
    /// `notBefore` in seconds since the Unix epoch (when it was issued).
    pub not_before: i64,
    /// `notAfter` in seconds since the Unix epoch.
    pub not_after: i64,
    /// The issuer DN.
    pub issuer: String,
    /// `basicConstraints` CA.
    pub is_ca: bool,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
}

/// The annotation a bundle puts on a Secret whose data it redacted: for each
/// data key that held certificates, their metadata (JSON: key → list of
/// `subject`, `issuer`, `notBefore`, `notAfter`, `isCA`, `sha256`). No key
/// and no certificate body: what expiry checks and the timeline read.
pub const SECRET_CERTS: &str = "meshdoc.io/certificates";

impl CertInfo {
    /// The metadata kept in [`SECRET_CERTS`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "subject": self.subject,
            "issuer": self.issuer,
            "notBefore": rfc3339(self.not_before),
            "notAfter": rfc3339(self.not_after),
            "isCA": self.is_ca,
            "sha256": self.sha256,
        })
    }

    /// Reads [`CertInfo::to_json`] back.
    pub fn from_json(v: &serde_json::Value) -> Option<CertInfo> {
        let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
        let secs = |k: &str| {
            time::OffsetDateTime::parse(s(k)?, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        };
        Some(CertInfo {
            subject: s("subject")?.to_string(),
            not_before: secs("notBefore")?,
            not_after: secs("notAfter")?,
            issuer: s("issuer").unwrap_or("").to_string(),
            is_ca: v
                .get("isCA")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            sha256: s("sha256").unwrap_or("").to_string(),
        })
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// The certificates of a Secret's data `key`: parsed from the data, or,
/// where a bundle redacted it, from the metadata it kept ([`SECRET_CERTS`]).
pub fn of_secret(secret: &serde_json::Value, key: &str) -> Option<Vec<CertInfo>> {
    if let Some(b) = secret
        .get("data")
        .and_then(|d| d.get(key))
        .and_then(serde_json::Value::as_str)
        && let Ok(c) = parse_b64_pem(b)
    {
        return Some(c);
    }
    let kept: serde_json::Value = serde_json::from_str(
        secret
            .pointer("/metadata/annotations")?
            .get(SECRET_CERTS)?
            .as_str()?,
    )
    .ok()?;
    let list: Vec<CertInfo> = kept
        .get(key)?
        .as_array()?
        .iter()
        .filter_map(CertInfo::from_json)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// The metadata of every certificate in a Secret's data, by key, as
/// [`SECRET_CERTS`] holds it; `None` when it holds none.
pub fn secret_metadata(secret: &serde_json::Value) -> Option<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (k, v) in secret
        .get("data")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(b) = v.as_str()
            && let Ok(list) = parse_b64_pem(b)
        {
            out.insert(
                k.clone(),
                list.iter()
                    .map(CertInfo::to_json)
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
    }
    (!out.is_empty()).then(|| out.into())
}

/// Why certificate text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not base64: {0}")]
    Base64(String),
    #[error("no PEM certificate found")]
    NoCertificate,
    #[error("invalid certificate: {0}")]
    X509(String),
}

/// Expiry state of a certificate relative to "now" and a warning window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Expired,
    /// Expires within the window.
    Soon,
    Valid,
}

impl CertInfo {
    /// Classifies `notAfter` against `now` and `warn`.
    pub fn expiry(&self, now: SystemTime, warn: Duration) -> Expiry {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if self.not_after <= now {
            Expiry::Expired
        } else if self.not_after <= now.saturating_add(warn.as_secs() as i64) {
            Expiry::Soon
        } else {
            Expiry::Valid
        }
    }

    /// `notAfter` as RFC 3339 (`2025-03-01T00:00:00Z`).
    pub fn not_after_rfc3339(&self) -> String {
        rfc3339(self.not_after)
    }
}

/// Parses every certificate in PEM text (a bundle may hold several).
pub fn parse_pem(pem: &[u8]) -> Result<Vec<CertInfo>, CertError> {
    let mut out = Vec::new();
    for p in Pem::iter_from_buffer(pem) {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                if out.is_empty() {
                    return Err(CertError::X509(e.to_string()));
                }
                break;
            }
        };
        if p.label != "CERTIFICATE" {
            continue;
        }
        let cert = p.parse_x509().map_err(|e| CertError::X509(e.to_string()))?;
        let sha = ring::digest::digest(&ring::digest::SHA256, &p.contents);
        out.push(CertInfo {
            subject: cert.subject().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            issuer: cert.issuer().to_string(),
            is_ca: cert.is_ca(),
            sha256: sha.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        });
    }
    if out.is_empty() {
        return Err(CertError::NoCertificate);
    }
    Ok(out)
}

/// Parses base64 of PEM (`caBundle`, Secret `data`); tolerates whitespace
/// and plain PEM text given where base64 was expected.
pub fn parse_b64_pem(b64: &str) -> Result<Vec<CertInfo>, CertError> {
    if b64.contains("-----BEGIN") {
        return parse_pem(b64.as_bytes());
    }
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .map_err(|e| CertError::Base64(e.to_string()))?;
    parse_pem(&der)
}

/// The earliest-expiring certificate of a bundle: it is the one that breaks first.
pub fn earliest(certs: &[CertInfo]) -> Option<&CertInfo> {
    certs.iter().min_by_key(|c| c.not_after)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
    /// -subj /CN=linkerd-proxy-injector.linkerd.svc -days 1 -not_before 20240101000000Z`
    /// style test certificates, generated once and kept as data.
    pub const EXPIRED_PEM: &str = include_str!("../../tests/testdata/check/certs/expired.pem");
    pub const VALID_PEM: &str = include_str!("../../tests/testdata/check/certs/valid.pem");

    fn jan_2026() -> SystemTime {
        crate::rules::examples::example_now()
    }

    #[test]
    fn a_pem_certificate_yields_its_subject_and_not_after() {
        let c = parse_pem(EXPIRED_PEM.as_bytes()).unwrap();
        assert_eq!(c.len(), 1);
        assert!(
            c[0].subject.contains("linkerd-proxy-injector"),
            "{}",
            c[0].subject
        );
        assert_eq!(
            c[0].expiry(jan_2026(), Duration::from_secs(0)),
            Expiry::Expired
        );
    }

    #[test]
    fn base64_of_pem_as_in_a_ca_bundle_is_read() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(VALID_PEM);
        let c = parse_b64_pem(&b64).unwrap();
        assert_eq!(
            c[0].expiry(jan_2026(), Duration::from_secs(86400)),
            Expiry::Valid
        );
        // Inside a 100-year window everything expires "soon".
        assert_eq!(
            c[0].expiry(jan_2026(), Duration::from_secs(100 * 365 * 86400)),
            Expiry::Soon
        );
    }

    #[test]
    fn a_fake_ca_bundle_is_an_error_not_a_panic() {
        // The linkerd install golden files carry placeholder bundles.
        assert!(parse_b64_pem("cHJveHkgaW5qZWN0b3IgQ0EgYnVuZGxl").is_err());
        assert!(parse_b64_pem("%%%").is_err());
        assert!(
            parse_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }

    #[test]
    fn a_bundle_reports_its_earliest_expiry() {
        let both = format!("{VALID_PEM}{EXPIRED_PEM}");
        let c = parse_pem(both.as_bytes()).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            earliest(&c).map(|c| c.expiry(jan_2026(), Duration::ZERO)),
            Some(Expiry::Expired)
        );
    }
}
