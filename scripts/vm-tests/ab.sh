#!/usr/bin/env bash
# The ab scenario: a short A/B of the mixed scenario under the default arms
# and an extra arm (scx_alps with its learner held back, through the generic
# --extra-arm path). The scenario and its pass rules are in Rust (alps-bench
# vmtest ab; bench/src/vmcheck.rs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$bin/alps-bench" vmtest ab --out "$out" --scx-alps "$bin/scx_alps" --trace "${ALPS_TRACE:-$root/data/traces/study_workload.txt}"
