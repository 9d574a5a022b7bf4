#!/usr/bin/env bash
# `meshdoc explain 503` wall time (target: median < 20 ms), measured with hyperfine.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -q
hyperfine -N --warmup 5 --runs 50 -i \
  'target/release/meshdoc explain 503' \
  'target/release/meshdoc explain UF,URX' \
  "target/release/meshdoc explain 'l5d-proxy-error: service in fail-fast'"
