#!/usr/bin/env bash
# Issue 3's VM test: a short A/B run of the mixed scenario (all three arms)
# on the study's trace; every invocation completes and the reports parse.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

trace="${ALPS_TRACE:-$root/../shared/data/traces/study_workload.txt}"
dir="$out/ab"
rm -rf "$dir"
if "$bin/alps-bench" ab --vm never --trace "$trace" --scenario mixed --limit 36 --repeats 1 \
     --out "$dir" >"$out/ab.log" 2>&1 \
   && "$bin/alps-bench" verify "$dir" --arms eevdf,alps,alps-io >>"$out/ab.log" 2>&1; then
  figures=$(jq -r '[.arms[] | "\(.arm) mean \(.overall.mean_ms | floor) ms"] | join(", ")' "$dir/summary.json")
  pass "ab-mixed: 36 invocations x 3 arms completed, reports parse; $figures"
else
  fail "ab-mixed: see $out/ab.log"; tail -15 "$out/ab.log"
fi
exit "${FAILED:-0}"
