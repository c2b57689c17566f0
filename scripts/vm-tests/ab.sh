#!/usr/bin/env bash
# Issue 3's VM test: a short A/B run of the mixed scenario (all three arms
# plus a user-named extra arm) on the study's trace; every invocation
# completes in every arm, the reports parse, and the extra arm really ran
# under a sched_ext scheduler. The extra arm is scx_alps with its learner
# held back for the whole run (an "unlearned" baseline): it goes through the
# generic --extra-arm path that a peer such as scx_bpfland takes. Every
# scx_alps arm (the extra one included) reports the exit records it got, from
# the runner's --monitor snapshot.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

trace="${ALPS_TRACE:-$root/data/traces/study_workload.txt}"
dir="$out/ab"
rm -rf "$dir"
if "$bin/alps-bench" ab --vm never --trace "$trace" --scenario mixed --limit 36 --repeats 1 \
     --extra-arm "unlearned=$bin/scx_alps --policy alps --learn-interval-ms 3600000" --out "$dir" >"$out/ab.log" 2>&1 \
   && "$bin/alps-bench" verify "$dir" --arms eevdf,alps,alps-io,unlearned >>"$out/ab.log" 2>&1 \
   && jq -e '[.arms[] | select(.arm == "unlearned") | .ops[] | startswith("alps")] | (length > 0 and all)' \
        "$dir/summary.json" >>"$out/ab.log" 2>&1 \
   && jq -e '[.arms[] | select(.arm | IN("eevdf", "oracle") | not) | .sched_stats.nr_records // 0] | all(. > 0)' \
        "$dir/summary.json" >>"$out/ab.log" 2>&1; then
  figures=$(jq -r '[.arms[] | "\(.arm) mean \(.overall.mean_ms | floor) ms"] | join(", ")' "$dir/summary.json")
  pass "ab-mixed: 36 invocations x 4 arms (extra arm attached) completed, reports parse; $figures"
else
  fail "ab-mixed: see $out/ab.log"; tail -15 "$out/ab.log"
fi
exit "${FAILED:-0}"
