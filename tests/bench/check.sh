#!/usr/bin/env bash
# Benchmark for `meshdoc check`: generates manifests of 1k, 10k and 100k
# objects (tests/bench/gen_manifests.py) and reports wall time and peak RSS
# of the release binary for each, against the targets in issue 5:
# 10k objects < 1 s, and 100k ≤ 11 × the 10k time (linear growth).
#
# Usage: tests/bench/check.sh [sizes…]   (default: 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(1000 10000 100000); fi
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "GNU time is needed: apt-get install -y time" >&2
  exit 2
fi
cargo build --release --quiet --bin meshdoc
BIN=target/release/meshdoc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-8s %-10s %-10s %-12s %s\n' objects bytes seconds peak_rss_kb findings
declare -A secs
for n in "${sizes[@]}"; do
  f="$work/objects-$n.yaml"
  python3 tests/bench/gen_manifests.py "$n" > "$f"
  # Warm the page cache so the first size is not penalised.
  cat "$f" > /dev/null
  "$TIME" -v "$BIN" --no-builtin --rules tests/testdata/check/rules \
      check -o json --exit-zero "$f" > "$work/out.json" 2> "$work/time.txt"
  s=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); if (length(t) == 3) print t[1]*3600 + t[2]*60 + t[3]; else print t[1]*60 + t[2]}' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$work/out.json")
  secs[$n]=$s
  printf '%-8s %-10s %-10s %-12s %s\n' "$n" "$(stat -c %s "$f")" "$s" "$rss" "$found"
done
if [ -n "${secs[10000]:-}" ]; then
  awk -v t="${secs[10000]}" 'BEGIN { if (t < 1.0) print "target 10k < 1 s: ok (" t " s)"; else print "target 10k < 1 s: MISSED (" t " s)" }'
fi
if [ -n "${secs[10000]:-}" ] && [ -n "${secs[100000]:-}" ]; then
  awk -v a="${secs[10000]}" -v b="${secs[100000]}" 'BEGIN { r = (a > 0) ? b / a : 0; if (r <= 11) printf "target 100k <= 11x 10k: ok (%.1fx)\n", r; else printf "target 100k <= 11x 10k: MISSED (%.1fx)\n", r }'
fi
