#!/usr/bin/env bash
# Runs every guest-side test and prints "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
echo "== VM tests on $(uname -r), $(nproc) CPUs, sched_ext $(scx_state)"
log="$out/all.log"
: >"$log"
for t in ${ALPS_TESTS:-sched churn hints weight ab integration stress}; do
  bash "$(dirname "$0")/$t.sh" 2>&1 | tee -a "$log" | grep -E '^(PASS|FAIL) ' || true
done
passed=$(grep -c '^PASS ' "$log" || true)
failed=$(grep -c '^FAIL ' "$log" || true)
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
