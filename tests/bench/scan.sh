#!/usr/bin/env bash
# Scan benchmark: meshdoc vs ripgrep vs grep on the same ~1 GB mixed proxy log
# with the same patterns (the full rule pack's prefilter).
#
#   tests/bench/scan.sh [SIZE_MB]      (default 1024; SCAN_GREP=0: without grep)
#
# Prints throughput (MB/s), wall time and peak RSS side by side; then meshdoc and rg
# alone on two more shapes: 200 MB of one healthy JSON access line, and 200 MB
# shaped like an istio-proxy log (healthy access lines in every default layout
# and JSON, 1 % error lines). Every timed command must succeed: meshdoc exits 1
# when it has findings, rg and grep exit 1 when nothing matches, so 0 and 1
# pass and anything else fails the bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-1024}
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need rg ripgrep
need hyperfine hyperfine
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cargo build --release -q
bin=target/release/meshdoc
work=${BENCH_DIR:-/tmp/meshdoc-bench}
mkdir -p "$work"
log=$work/mixed-$size.log
[ -s "$log" ] || python3 tests/bench/gen_logs.py "$log" "$size"
bytes=$(stat -c %s "$log")

"$bin" rules patterns > "$work/patterns.txt"
# grep -E has no (?i) or \d: translate the same patterns to POSIX ERE (GNU extensions \b \s kept).
sed -e 's/(?i)//g' -e 's/\\d/[0-9]/g' -e 's/(?:/(/g' "$work/patterns.txt" > "$work/patterns.ere"
echo "patterns: $(wc -l < "$work/patterns.txt"), input: $((bytes / 1000000)) MB"

# Warm the page cache so every tool reads from memory.
cat "$log" > /dev/null

measure() { # name, command...
  local name=$1; shift
  local t0 t1 rss
  local rc=0
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" > "$work/$name.out" 2>"$work/$name.err" || rc=$?
  t1=$(date +%s.%N)
  if [ "$rc" -gt 1 ]; then
    echo "scan.sh: $name exited $rc: $*" >&2
    cat "$work/$name.err" >&2
    exit 1
  fi
  rss=$(tail -n 1 "$work/rss")
  python3 - "$name" "$t0" "$t1" "$bytes" "$rss" <<'PY'
import sys
name, t0, t1, size, rss = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
dt = t1 - t0
print(f"{name:<10} {dt:8.2f} s {size / dt / 1e6:9.0f} MB/s {rss / 1024:8.1f} MB peak RSS")
PY
}
printf '%-10s %10s %14s %17s\n' tool time throughput memory
measure meshdoc taskset -c 0 "$bin" diagnose --logs "$log" -o json
measure rg taskset -c 0 rg -c -j1 -f "$work/patterns.txt" "$log"
# grep -E takes minutes (460 s on 200 MB at stop 19); SCAN_GREP=0 leaves it out.
if [ "${SCAN_GREP:-1}" != 0 ]; then
  measure grep taskset -c 0 grep -c -E -i -f "$work/patterns.ere" "$log"
  echo "matching lines: rg $(cat "$work/rg.out"), grep $(cat "$work/grep.out")"
fi
python3 - "$work/meshdoc.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("meshdoc findings:", ", ".join(f"{f['id']} ({f['score']})" for f in r["findings"][:8]))
PY

# The slow shape: nothing but healthy compact Envoy JSON access lines. Every line
# holds the `"response_code":` / `"response_flags":` keys that the access triggers
# require, so every line runs the full regex set. meshdoc and rg only.
sample=../shared/corpus/istio/access-logs/ssup2-istio-json-verbatim/02-http-text-3-http-ok-case-mock-server-access-log.json
json=$work/json-200.log
if [ -s "$sample" ]; then
  [ -s "$json" ] || python3 - "$sample" "$json" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1]))
rec["response_code"] = 200  # Envoy's typed JSON: a number
line = json.dumps(rec, separators=(",", ":")) + "\n"
with open(sys.argv[2], "w") as out:
    out.write(line * (200_000_000 // len(line)))
PY
  bytes=$(stat -c %s "$json")
  cat "$json" > /dev/null
  echo "healthy JSON access lines only: $((bytes / 1000000)) MB"
  measure mesh-json taskset -c 0 "$bin" diagnose --logs "$json" -o json
  measure rg-json taskset -c 0 rg -c -j1 -f "$work/patterns.txt" "$json"
else
  echo "healthy JSON access lines: skipped, $sample not found" >&2
fi

# The shape an istio-proxy log has: healthy access lines in every default
# layout (1.0-1.8 mixer era, 1.9+ with and without the leading [time], Envoy's
# default) and JSON, 1 % error lines (UF/UH/UC/NR, Linkerd and Envoy errors).
istio=$work/istio-200.log
[ -s "$istio" ] || python3 tests/bench/gen_logs.py "$istio" 200 istio
bytes=$(stat -c %s "$istio")
cat "$istio" > /dev/null
echo "istio-proxy shape: $((bytes / 1000000)) MB"
measure mesh-istio taskset -c 0 "$bin" diagnose --logs "$istio" -o json
measure rg-istio taskset -c 0 rg -c -j1 -f "$work/patterns.txt" "$istio"
# Fast and still right: the error lines' causes are found, and every access
# line the prefilter examined is read as an access record.
python3 - "$work/mesh-istio.out" "$work/mesh-istio.err" <<'PY'
import json, re, sys
ids = [f["id"] for f in json.load(open(sys.argv[1]))["findings"]]
want = ["envoy-upstream-connect-failure", "envoy-no-healthy-upstream", "envoy-no-route",
        "envoy-upstream-connection-termination", "linkerd-fail-fast"]
missing = [w for w in want if w not in ids]
read = re.search(r"evidence read: .*?([\d,]+) access-log records", open(sys.argv[2]).read())
print("meshdoc access-log records:", read.group(1) if read else "?")
print("meshdoc findings:", ", ".join(ids[:10]))
if missing:
    sys.exit(f"scan.sh: the istio-proxy shape lost causes: {missing}")
PY
