#!/usr/bin/env python3
"""Generates a large mixed proxy log for the scan benchmark.

Shapes come from the real corpus (../shared/corpus): Linkerd proxy logs,
Envoy/Istio access and error logs. About 1 line in 200 is a corpus line that
points at a cause; the rest is realistic noise: successful Istio access-log
lines, benign Linkerd INFO/DEBUG lines and JSON application logs, with
varying ids, addresses and timestamps so nothing is trivially repetitive.

usage: gen_logs.py OUT SIZE_MB
"""
import os
import random
import sys
from pathlib import Path

out, size_mb = sys.argv[1], int(sys.argv[2])
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

noise = [istio_ok, istio_ok, linkerd_info, app_json]
target = size_mb * 1024 * 1024
written = 0
with open(out, "w") as f:
    while written < target:
        buf = []
        for _ in range(20000):
            if rnd.random() < 0.005:
                buf.append(rnd.choice(interesting))
            else:
                buf.append(rnd.choice(noise)())
        chunk = "\n".join(buf) + "\n"
        f.write(chunk)
        written += len(chunk.encode())
print(f"{out}: {written / 1e6:.0f} MB", file=sys.stderr)
