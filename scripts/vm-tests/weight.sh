#!/usr/bin/env bash
# The weight scenario: two saturated CPU-bound functions with cgroup
# cpu.weight 100 and 25 under EEVDF, scx_alps and scx_alps
# --ignore-cgroup-weight. The scenario and its pass rule are in Rust
# (alps-bench vmtest weight; bench/src/share.rs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$bin/alps-bench" vmtest weight --out "$out" --scx-alps "$bin/scx_alps"
