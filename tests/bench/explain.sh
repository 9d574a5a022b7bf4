#!/usr/bin/env bash
# `meshdoc explain 503` wall time (target: median < 20 ms), measured with hyperfine.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
out=${BENCH_DIR:-/tmp/meshdoc-bench}
mkdir -p "$out"
bin=target/release/meshdoc
# Each command once first: exit 1 (findings) is what these inputs must give,
# 0 is accepted; anything else (2: "no rule explains", a crash) fails the
# bench instead of timing an error.
for args in '503' 'UF,URX' 'l5d-proxy-error: service in fail-fast'; do
  rc=0
  "$bin" explain "$args" > /dev/null || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "explain.sh: \`meshdoc explain '$args'\` exited $rc" >&2
    exit 1
  fi
done
# No -i: hyperfine fails the bench on a non-zero exit. `--exit-zero` turns
# exit 1 (findings) into 0; a meshdoc failure still exits 2.
hyperfine -N --warmup 5 --runs 100 --export-json "$out/explain.json" \
  "$bin explain 503 --exit-zero" \
  "$bin explain UF,URX --exit-zero" \
  "$bin explain 'l5d-proxy-error: service in fail-fast' --exit-zero"
# The target is on the median; hyperfine's summary shows the mean.
python3 - "$out/explain.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"median {r['median'] * 1000:6.1f} ms  min {r['min'] * 1000:6.1f} ms  max {r['max'] * 1000:6.1f} ms  {r['command']}")
PY
