#!/usr/bin/env bash
# `meshdoc explain 503` wall time (target: median < 20 ms), measured with hyperfine.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
out=${BENCH_DIR:-/tmp/meshdoc-bench}
mkdir -p "$out"
hyperfine -N --warmup 5 --runs 100 -i --export-json "$out/explain.json" \
  'target/release/meshdoc explain 503' \
  'target/release/meshdoc explain UF,URX' \
  "target/release/meshdoc explain 'l5d-proxy-error: service in fail-fast'"
# The target is on the median; hyperfine's summary shows the mean.
python3 - "$out/explain.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"median {r['median'] * 1000:6.1f} ms  min {r['min'] * 1000:6.1f} ms  max {r['max'] * 1000:6.1f} ms  {r['command']}")
PY
