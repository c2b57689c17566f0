#!/usr/bin/env bash
# The integration tests, inside the VM: scripts/install, the scx
# systemd service's command line, and scx_alps under scx_loader's sandbox.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# 1. scripts/install into a staging root: binaries, default file, unit.
stage=/tmp/alps-stage
rm -rf "$stage"
if "$root/scripts/install" --root "$stage" >"$out/install.log" 2>&1 \
   && [ -x "$stage/usr/local/bin/scx_alps" ] && [ -x "$stage/usr/local/bin/alps-bench" ] \
   && grep -q '^SCX_SCHEDULER=scx_alps' "$stage/etc/default/scx" \
   && grep -q 'RestartPreventExitStatus=2 3 4' "$stage/etc/systemd/system/scx.service" \
   && [ -f "$stage/usr/local/share/scx_alps/scx_loader.toml" ] \
   && "$stage/usr/local/bin/scx_alps" --version >/dev/null; then
  # A second install keeps the existing default file and adds only a drop-in
  # when a unit is already there.
  "$root/scripts/install" --root "$stage" >>"$out/install.log" 2>&1
  if [ -f "$stage/etc/systemd/system/scx.service.d/scx-alps.conf" ] && grep -q "exists" "$out/install.log"; then
    "$root/scripts/install" --root "$stage" --uninstall >>"$out/install.log" 2>&1
    [ ! -e "$stage/usr/local/bin/scx_alps" ] && pass "install: staged install, reinstall (drop-in), uninstall" \
      || fail "install: uninstall left the binary"
  else
    fail "install: reinstall did not add the drop-in or kept quiet about /etc/default/scx"
  fi
else
  fail "install: staged install incomplete; $(tail -3 "$out/install.log")"
fi

# 2. The scx systemd service: EnvironmentFile=/etc/default/scx and its
#    ExecStart line, with scx_alps found on PATH.
(
  set -a; . "$root/services/scx.default"; set +a
  export PATH="$bin:$PATH"
  exec /bin/bash -c 'exec ${SCX_SCHEDULER_OVERRIDE:-$SCX_SCHEDULER} ${SCX_FLAGS_OVERRIDE:-$SCX_FLAGS} '
) >"$out/svc.out" 2>"$out/svc.log" &
ALPS_PID=$!
if wait_state enabled 60 && [[ "$(scx_ops)" == alps* ]]; then
  stop_alps
  if [ "$STOP_RC" = 0 ] && wait_state disabled 10 && grep -q "policy alps-io" "$out/svc.log"; then
    pass "scx.service: SCX_SCHEDULER=scx_alps SCX_FLAGS='--policy alps-io' attached ($(scx_state) after SIGINT, exit 0)"
  else
    fail "scx.service: exit $STOP_RC, state $(scx_state)"
  fi
else
  fail "scx.service: did not attach; $(tail -3 "$out/svc.log")"; kill -9 "$ALPS_PID" 2>/dev/null
fi
# An override that names a bad flag fails fast with exit 2 (no restart).
SCX_SCHEDULER=scx_alps SCX_FLAGS_OVERRIDE='--window 1' PATH="$bin:$PATH" \
  /bin/bash -c 'exec ${SCX_SCHEDULER_OVERRIDE:-$SCX_SCHEDULER} ${SCX_FLAGS_OVERRIDE:-$SCX_FLAGS} ' 2>"$out/svc-bad.log"
rc=$?
[ "$rc" = 2 ] && [ "$(scx_state)" = disabled ] && pass "scx.service: bad SCX_FLAGS exit 2 (RestartPreventExitStatus), system unchanged" \
  || fail "scx.service: bad flags exit $rc"

# 3. --monitor attaches to a running instance and prints its statistics.
"$bin/scx_alps" --learn-interval-ms 500 >"$out/mon-sched.out" 2>"$out/mon-sched.log" &
ALPS_PID=$!
if wait_state enabled 60; then
  sleep 1
  # A second scheduler is refused while this one runs, and changes nothing.
  err=$("$bin/scx_alps" 2>&1 >/dev/null); rc=$?
  if [ "$rc" = 3 ] && grep -q "already running" <<<"$err" && [[ "$(scx_ops)" == alps* ]]; then
    pass "second instance: exit 3, '$(head -c 90 <<<"$err")...', the first still attached"
  else
    fail "second instance: exit $rc, '$err'"
  fi
  timeout 5 "$bin/scx_alps" --monitor 1 --json >"$out/monitor.jsonl" 2>"$out/monitor.log"
  timeout 4 "$bin/scx_alps" --monitor 1 >"$out/monitor.txt" 2>>"$out/monitor.log"
  stop_alps
  lines=$(grep -c '^{' "$out/monitor.jsonl" || true)
  levels=$(grep '^{' "$out/monitor.jsonl" | tail -1 | jq '.levels | length' 2>/dev/null)
  # One entry per level; the count is the BPF program's, from the shared header.
  want=$(sed -n 's/^\s*ALPS_NR_LEVELS = \([0-9]*\),.*/\1/p' "$root/include/intf.h")
  if [ "$lines" -ge 2 ] && [ -n "$want" ] && [ "${levels:-0}" = "$want" ] && grep -q "learner:" "$out/monitor.txt"; then
    pass "monitor: $lines JSON snapshots from the running instance, $levels levels, text report too"
  else
    fail "monitor: $lines JSON lines, levels '$levels'; $(tail -2 "$out/monitor.log")"
  fi
else
  fail "monitor: scx_alps did not attach"; kill -9 "$ALPS_PID" 2>/dev/null
fi

# 4. scx_loader's sandbox: cgroupfs read-only, no W+X memory, no RT.
# The sandbox must run a plain command and refuse a real-time one.
rt_refused=no
if ! "$bin/alps-bench" sandbox -- true 2>"$out/sandbox-rt.log"; then
  fail "sandbox: cannot run a plain command; $(tail -2 "$out/sandbox-rt.log")"
elif "$bin/alps-bench" sandbox -- chrt -f 1 true 2>>"$out/sandbox-rt.log"; then
  fail "sandbox: real-time priority was still allowed"
elif grep -q "Operation not permitted" "$out/sandbox-rt.log"; then
  rt_refused=yes
else
  fail "sandbox: chrt failed for another reason than a refused RT policy; $(tail -2 "$out/sandbox-rt.log")"
fi
mkdir -p /sys/fs/cgroup/faas/sandboxed
"$bin/alps-bench" sandbox -- "$bin/scx_alps" --stats 1 --json --learn-interval-ms 500 >"$out/sandbox.jsonl" 2>"$out/sandbox.log" &
ALPS_PID=$!
if wait_state enabled 60; then
  bash -c 'echo $$ > /sys/fs/cgroup/faas/sandboxed/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do bash -c "i=0; while [ \$i -lt 3000 ]; do i=\$((i+1)); done"; done'
  sleep 2
  recs=$(last_stats "$out/sandbox.jsonl" | jq .nr_records)
  stop_alps
  if [ "$STOP_RC" = 0 ] && [ "${recs:-0}" -ge 8 ] && [ "$rt_refused" = yes ] \
     && grep -q "sandbox: cgroupfs read-only" "$out/sandbox.log"; then
    pass "sandbox: scx_alps ran and learned ($recs records) with cgroupfs read-only, W+X memory refused, RT refused"
  else
    fail "sandbox: exit $STOP_RC, $recs records, RT refused: $rt_refused; $(tail -3 "$out/sandbox.log")"
  fi
else
  fail "sandbox: scx_alps did not attach; $(tail -5 "$out/sandbox.log")"; kill -9 "$ALPS_PID" 2>/dev/null
fi
rmdir /sys/fs/cgroup/faas/sandboxed 2>/dev/null
exit "${FAILED:-0}"
