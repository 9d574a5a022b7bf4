#!/usr/bin/env python3
"""Generates a large mixed proxy log for the scan benchmark.

Shapes come from the real corpus (../shared/corpus): Linkerd proxy logs,
Envoy/Istio access and error logs. About 1 line in 200 is a corpus line that
points at a cause; the rest is realistic noise: successful Istio access-log
lines, benign Linkerd INFO/DEBUG lines and JSON application logs, with
varying ids, addresses and timestamps so nothing is trivially repetitive.

With SHAPE `istio` (the shape an istio-proxy log actually has) every line is
an Envoy access line: healthy requests in every default layout Istio has
shipped (1.0-1.5 and 1.6-1.7 mixer era, 1.8, 1.9+ with and without the leading
`[timestamp]`, Envoy's default) and Istio's JSON, with 1 % error lines mixed
in: UF/UH/UC/NR access lines in the same layouts, and Linkerd and Envoy error
lines from the corpus.

usage: gen_logs.py OUT SIZE_MB [mixed|istio]
"""
import json
import os
import random
import sys
from pathlib import Path

out, size_mb = sys.argv[1], int(sys.argv[2])
shape = sys.argv[3] if len(sys.argv) > 3 else "mixed"
corpus = Path(__file__).resolve().parents[3] / "shared" / "corpus"
interesting = []
for sub in ["linkerd/logs", "istio/access-logs", "istio/error-logs"]:
    for p in sorted((corpus / sub).rglob("*.log")):
        for line in p.read_text(errors="replace").splitlines():
            if line.strip():
                interesting.append(line)
if not interesting:
    sys.exit(f"no corpus lines under {corpus}")

rnd = random.Random(42)
paths = ["/api/v1/orders", "/healthz", "/static/app.js", "/productpage", "/reviews/0", "/ratings/1", "/login"]
agents = ["curl/8.4.0", "Go-http-client/1.1", "okhttp/4.12.0", "Mozilla/5.0 (X11; Linux x86_64)"]

def istio_ok():
    return ('[2024-05-%02dT%02d:%02d:%02d.%03dZ] "GET %s HTTP/1.1" 200 - via_upstream - "-" 0 %d %d %d '
            '"-" "%s" "%08x-%04x-%04x-%04x-%012x" "svc-%d.shop.svc.cluster.local:8080" "10.%d.%d.%d:8080" '
            'outbound|8080||svc-%d.shop.svc.cluster.local 10.%d.%d.%d:%d 10.96.%d.%d:8080 10.%d.%d.%d:%d - default'
            % (rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59), rnd.randint(0, 999),
               rnd.choice(paths), rnd.randint(100, 90000), rnd.randint(1, 900), rnd.randint(1, 800), rnd.choice(agents),
               rnd.getrandbits(32), rnd.getrandbits(16), rnd.getrandbits(16), rnd.getrandbits(16), rnd.getrandbits(48),
               rnd.randint(1, 40), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 40),
               rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(30000, 60000),
               rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255),
               rnd.randint(30000, 60000)))

def linkerd_info():
    return ('[%10.6fs]  INFO ThreadId(0%d) outbound:proxy{addr=10.%d.%d.%d:8080}: linkerd_pool_p2c: Adding endpoint addr=10.%d.%d.%d:8080'
            % (rnd.uniform(0, 90000), rnd.randint(1, 3), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255),
               rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255)))

def app_json():
    return ('{"ts":"2024-05-%02dT%02d:%02d:%02d.%03dZ","level":"info","msg":"handled request","path":"%s","status":200,"duration_ms":%d,"trace_id":"%032x"}'
            % (rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59), rnd.randint(0, 999),
               rnd.choice(paths), rnd.randint(1, 900), rnd.getrandbits(128)))

def access(layout, status, flags, details, failure="-"):
    """One access line of `layout` (see the module doc); TCP when status is 0."""
    tcp = status == 0
    ts = "2024-05-%02dT%02d:%02d:%02d.%03dZ" % (rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59),
                                               rnd.randint(0, 59), rnd.randint(0, 999))
    method, path, proto = ("-", "-", "-") if tcp else (rnd.choice(["GET", "GET", "POST", "PUT"]), rnd.choice(paths), rnd.choice(["HTTP/1.1", "HTTP/2"]))
    sent = 0 if status >= 400 else rnd.randint(100, 90000)
    recv, dur = rnd.randint(0, 2000), rnd.randint(1, 900)
    ust = "-" if status >= 400 or tcp else str(max(1, dur - rnd.randint(0, 5)))
    ua = "-" if tcp else rnd.choice(agents)
    rid = "-" if tcp else "%08x-%04x-%04x-%04x-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16), rnd.getrandbits(16),
                                                         rnd.getrandbits(16), rnd.getrandbits(48))
    n = rnd.randint(1, 40)
    host = "svc-%d.shop.svc.cluster.local:8080" % n
    up = "-" if flags in ("UH", "NR") else "10.%d.%d.%d:8080" % (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255))
    cluster = "-" if flags == "NR" else "outbound|8080||svc-%d.shop.svc.cluster.local" % n
    ula = "-" if up == "-" else "10.%d.%d.%d:%d" % (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(30000, 60000))
    dla = "10.96.%d.%d:8080" % (rnd.randint(0, 255), rnd.randint(0, 255))
    dra = "10.%d.%d.%d:%d" % (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(30000, 60000))
    sni = "-" if rnd.random() < 0.5 else "outbound_.8080_._.svc-%d.shop.svc.cluster.local" % n
    if layout == "json":
        rec = {"start_time": ts, "route_name": "default", "method": None if tcp else method, "path": None if tcp else path,
               "protocol": None if tcp else proto, "response_code": status, "response_flags": flags,
               "response_code_details": details, "connection_termination_details": None,
               "bytes_received": recv, "bytes_sent": sent, "duration": dur,
               "upstream_service_time": None if ust == "-" else ust, "x_forwarded_for": None, "user_agent": None if tcp else ua,
               "request_id": None if tcp else rid, "authority": None if tcp else host, "upstream_host": None if up == "-" else up,
               "upstream_cluster": None if cluster == "-" else cluster, "upstream_local_address": None if ula == "-" else ula,
               "downstream_local_address": dla, "downstream_remote_address": dra,
               "requested_server_name": None if sni == "-" else sni,
               "upstream_transport_failure_reason": None if failure == "-" else failure}
        return json.dumps(rec, separators=(",", ":"))
    req = '"%s %s %s" %d %s' % (method, path, proto, status, flags)
    tail = '%d %d %d %s "-" "%s" "%s" "%s" "%s"' % (recv, sent, dur, ust, ua, rid, host, up)
    addrs = "%s %s %s %s %s" % (cluster, ula, dla, dra, sni)
    if layout == "envoy":  # Envoy's default format
        return "[%s] %s %s" % (ts, req, tail)
    if layout == "istio-1.1":  # 1.0-1.5, mixer status
        return '[%s] %s "-" %s %s' % (ts, req, tail, addrs)
    if layout == "istio-1.6":  # 1.6-1.7: mixer status, transport failure
        return '[%s] %s "-" "%s" %s %s default' % (ts, req, failure, tail, addrs)
    if layout == "istio-1.8":
        return '[%s] %s "%s" %s %s default' % (ts, req, failure, tail, addrs)
    line = '%s %s - "%s" %s %s default' % (req, details, failure, tail, addrs)
    return line if layout == "istio-1.9-bare" else "[%s] %s" % (ts, line)

layouts = ["envoy", "istio-1.1", "istio-1.6", "istio-1.8", "istio-1.9", "istio-1.9-bare", "json"]

def healthy():
    layout = rnd.choice(layouts)
    if rnd.random() < 0.05:  # TCP passthrough: status 0, no flags
        return access(layout, 0, "-", "-")
    return access(layout, rnd.choice([200, 200, 200, 200, 201, 204, 301, 304]), "-", "via_upstream")

failures = [
    (503, "UF", "upstream_reset_before_response_started{connection_failure}", "delayed_connect_error:_Connection_refused"),
    (503, "UH", "no_healthy_upstream", "-"),
    (503, "UC", "upstream_reset_before_response_started{connection_termination}", "-"),
    (404, "NR", "route_not_found", "-"),
]

def error():
    if rnd.random() < 0.5:
        status, flags, details, failure = rnd.choice(failures)
        return access(rnd.choice(layouts), status, flags, details, failure)
    return rnd.choice(interesting)

if shape == "istio":
    # Error lines: Linkerd proxy logs and Envoy/istio-agent error logs.
    interesting = [l for l in interesting if not l.lstrip().startswith(("[20", "{", '"'))] or interesting
    noise, rate, pick_error = [healthy], 0.01, error
else:
    noise, rate, pick_error = [istio_ok, istio_ok, linkerd_info, app_json], 0.005, lambda: rnd.choice(interesting)
target = size_mb * 1024 * 1024
written = 0
with open(out, "w") as f:
    while written < target:
        buf = []
        for _ in range(20000):
            if rnd.random() < rate:
                buf.append(pick_error())
            else:
                buf.append(rnd.choice(noise)())
        chunk = "\n".join(buf) + "\n"
        f.write(chunk)
        written += len(chunk.encode())
print(f"{out}: {written / 1e6:.0f} MB", file=sys.stderr)
