#!/usr/bin/env bash
# Live-collection benchmark: one pod in a namespace of 2,000 pods, 1,000
# Services and 500 NetworkPolicies served by the in-process API server.
# Prints wall time and API request count (targets: < 1 s, < 30 requests).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --release --test it bench_cluster:: -- --ignored --nocapture 2>&1 \
  | grep -E '^(round|cluster benchmark|  GET)|test result'
