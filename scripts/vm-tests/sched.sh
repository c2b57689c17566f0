#!/usr/bin/env bash
# The sched scenario: each policy attaches, schedules and learns 60
# invocations of three functions, and detaches cleanly. The scenario and its
# pass rules are in Rust (alps-bench vmtest sched; bench/src/vmcheck.rs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$bin/alps-bench" vmtest sched --out "$out" --scx-alps "$bin/scx_alps"
