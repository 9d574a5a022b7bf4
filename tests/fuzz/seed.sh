#!/usr/bin/env bash
# Seeds tests/fuzz/corpus/TARGET/ (not committed) for every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/../.."
c=tests/fuzz/corpus
shared=../shared/corpus
for t in linkerd_log access_log envoy_log metrics http detect scan_prefilter; do
  mkdir -p "$c/$t"
  if [ -d "$shared" ]; then
    find "$shared/linkerd" "$shared/istio" -type f -size -64k | sort | sed -n 1,400p > "$c/.list"
    while read -r f; do
      cp "$f" "$c/$t/$(echo "$f" | md5sum | cut -c1-16)"
    done < "$c/.list"
  fi
done
mkdir -p "$c/rule_loader" "$c/manifests" "$c/bundle"
cp rules/*/*.yaml "$c/rule_loader/"
cp tests/testdata/check/inputs/* "$c/manifests/" 2>/dev/null || true
if [ -d "$shared/manifests-real" ]; then
  find "$shared/manifests-real" -name '*.yaml' -size -64k | sort | sed -n 1,300p > "$c/.list"
  while read -r f; do
    cp "$f" "$c/manifests/$(echo "$f" | md5sum | cut -c1-16).yaml"
  done < "$c/.list"
fi
for d in fixtures/*/; do
  tar -C "$d" -cf "$c/bundle/$(basename "$d").tar" .
done
rm -f "$c/.list"
echo "seeded: $(for t in "$c"/*; do printf '%s=%s ' "$(basename "$t")" "$(ls "$t" | wc -l)"; done)"
