#!/usr/bin/env bash
# The churn scenario: with a 3 s --func-ttl-s every function of the sched
# plan is forgotten and its id recycled, and a stale state file restores
# nothing. The scenario and its pass rules are in Rust (alps-bench vmtest
# churn; bench/src/vmcheck.rs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$bin/alps-bench" vmtest churn --out "$out" --scx-alps "$bin/scx_alps"
