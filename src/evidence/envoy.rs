//! Envoy, istio-proxy, pilot-agent and istiod log lines.

use super::EnvoyLogEvent;

/// Parses one line; `None` when it is not an Envoy/Istio component log line.
pub fn parse_line(line: &str) -> Option<EnvoyLogEvent> {
    let _ = line;
    None
}
