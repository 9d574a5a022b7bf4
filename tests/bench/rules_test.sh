#!/usr/bin/env bash
# `meshdoc rules test` on N generated rules (tests/bench/gen_rules.py; default
# 10000, each with 4-5 examples) beside the built-in pack: wall time against
# the target of issue 13 (10k rules under 10 s). Fails when the command fails
# (any example missed or raised a false alarm) or the target is missed.
#
#   tests/bench/rules_test.sh [N] [TARGET_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
target=${2:-10}
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q
bin=target/release/meshdoc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 tests/bench/gen_rules.py "$work/rules" "$n"
/usr/bin/time -f '%e %M' -o "$work/time" "$bin" --rules "$work/rules" rules test > "$work/out" 2> "$work/err" || {
  echo "meshdoc rules test failed:"; tail -20 "$work/out" "$work/err"; exit 1; }
read -r secs kb < "$work/time"
echo "rules test, $n generated rules: ${secs} s, $((kb / 1024)) MB peak RSS; $(tail -1 "$work/out")"
python3 - "$secs" "$target" <<'PY'
import sys
secs, target = float(sys.argv[1]), float(sys.argv[2])
print(f"within target (< {target:g} s)" if secs < target else f"OVER TARGET (< {target:g} s)")
sys.exit(0 if secs < target else 1)
PY
