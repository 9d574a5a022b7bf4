#!/usr/bin/env bash
# Fleet-triage benchmark: `meshdoc diagnose -A` over 10,000 pods, 2,000
# Services and 1,000 NetworkPolicies in 100 namespaces served by the
# in-process API server. Prints wall time, API requests and peak RSS
# (targets: < 5 s, < 60 requests, < 300 MB); then `meshdoc serve` on the
# same fixture, run after run: its resident set after each.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --release --test it bench_fleet:: -- --ignored --nocapture --test-threads=1 2>&1 \
  | grep -E '(^|\.\.\. )(fixture|round|fleet benchmark|serve run|  GET)|test result'
