#!/usr/bin/env bash
# `meshdoc explain --file` on a 20 MB healthy istio-proxy log: wall time and
# peak RSS (targets: under 1 s, under 50 MB). Fails when the command fails.
#
#   tests/bench/explain_file.sh [SIZE_MB]      (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-20}
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q
bin=target/release/meshdoc
work=${BENCH_DIR:-/tmp/meshdoc-bench}
mkdir -p "$work"
log=$work/healthy-$size.log
python3 - "$log" "$size" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
line = ('[2024-05-01T10:00:{s:02d}.123Z] "GET /api/v1/items/{i} HTTP/1.1" 200 - via_upstream - "-" 0 512 3 2 "-" '
        '"curl/8.5.0" "5b0f7d3c-1a2b-4c5d-9e8f-0a1b2c3d4e5f" "api.shop:8080" "10.42.1.7:8080" '
        'outbound|8080||api.shop.svc.cluster.local 10.42.0.9:50412 10.43.12.5:8080 10.42.0.9:43210 - default\n')
with open(path, 'w') as f:
    i, n = 0, 0
    while n < mb * 1_000_000:
        l = line.format(s=i % 60, i=i)
        f.write(l)
        n += len(l)
        i += 1
PY
cat "$log" > /dev/null
# 0: nothing found (the log is healthy); anything else is a failure here.
/usr/bin/time -f '%e %M' -o "$work/explain-file.time" "$bin" explain --file "$log" > /dev/null 2> "$work/explain-file.err" || {
  echo "meshdoc explain --file failed:"; cat "$work/explain-file.err"; exit 1; }
read -r secs kb < "$work/explain-file.time"
echo "explain --file, $size MB healthy log: ${secs} s, $((kb / 1024)) MB peak RSS"
python3 - "$secs" "$kb" <<'PY'
import sys
secs, kb = float(sys.argv[1]), int(sys.argv[2])
ok = secs < 1.0 and kb < 50 * 1024
print("within target (< 1 s, < 50 MB)" if ok else "OVER TARGET")
sys.exit(0 if ok else 1)
PY
