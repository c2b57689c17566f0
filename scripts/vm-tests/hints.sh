#!/usr/bin/env bash
# The hints scenario: the sched plan on warm workers (one per function, in
# instance cgroups) under scx_alps --hint-binary, hinted and not; hinted,
# every request is one invocation record. The scenario and its pass rules
# are in Rust (alps-bench vmtest hints; bench/src/vmcheck.rs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$bin/alps-bench" vmtest hints --out "$out" --scx-alps "$bin/scx_alps"
