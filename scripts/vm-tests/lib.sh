# Helpers for the guest-side tests (sourced). Each test prints
# "PASS <name>: <figures>" or "FAIL <name>: <reason>" lines; the runner counts them.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${ALPS_BIN:-$root/target/release}"
out="${ALPS_VM_OUT:-/tmp/alps-vm-tests}"
mkdir -p "$out"

pass() { echo "PASS $*"; PASSED=$((${PASSED:-0} + 1)); }
fail() { echo "FAIL $*"; FAILED=$((${FAILED:-0} + 1)); }

scx_state() { cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent; }
scx_ops() { cat /sys/kernel/sched_ext/root/ops 2>/dev/null || true; }

# wait_state STATE SECONDS: wait until sched_ext is in STATE.
wait_state() {
  local want="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    [ "$(scx_state)" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}

# start_alps LOG STATS ARGS...: start scx_alps in the background with its
# stderr in LOG and JSON stats lines in STATS; sets ALPS_PID. Fails unless it
# attaches within 60 s.
start_alps() {
  local log="$1" stats="$2"; shift 2
  "$bin/scx_alps" --stats 1 --json "$@" ${ALPS_EXTRA_FLAGS:-} >"$stats" 2>"$log" &
  ALPS_PID=$!
  if ! wait_state enabled 60; then
    echo "scx_alps did not attach; log:" >&2; tail -20 "$log" >&2
    kill -9 "$ALPS_PID" 2>/dev/null; wait "$ALPS_PID" 2>/dev/null
    return 1
  fi
}

# stop_alps: SIGINT, wait for exit; sets STOP_RC to the exit status. (Not
# in a subshell: only this shell can wait for its child.)
stop_alps() {
  kill -INT "$ALPS_PID" 2>/dev/null
  STOP_RC=0
  wait "$ALPS_PID" || STOP_RC=$?
}

# last_stats FILE: the last complete JSON line of a stats file.
last_stats() { grep '^{' "$1" | tail -1; }
