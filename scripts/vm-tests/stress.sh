#!/usr/bin/env bash
# The stress and fault suite, run inside the test VM. Each scenario
# prints "PASS stress-N name: figures" or "FAIL stress-N name: reason".
#
#   ALPS_STRESS_S   length of the load scenarios (default 30 s)
#   ALPS_SOAK_S     length of the soak (default 600 s; 0 skips it)
#   ALPS_STRESS_ONLY="1 5 8"  run only these scenarios
set -uo pipefail
. "$(dirname "$0")/lib.sh"

D="${ALPS_STRESS_S:-30}"
SOAK="${ALPS_SOAK_S:-600}"
ONLY="${ALPS_STRESS_ONLY:-}"
NCPU=$(nproc)
BOUND_MS=1000   # scx_alps's default --starvation-ms

# stress-ng needs a writable temp path (the guest's cwd is read-only).
sng() { stress-ng --temp-path /tmp --quiet "$@"; }

want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
stat() { jq -r "$2" <<<"$(last_stats "$1")" 2>/dev/null; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }
alps_alive() { kill -0 "$ALPS_PID" 2>/dev/null && [ "$(scx_state)" = enabled ] && [[ "$(scx_ops)" == alps* ]]; }
sched_ext_errors() { dmesg 2>/dev/null | grep -iE 'sched_ext.*(error|stall|not allowed|disabled \(runtime)' | tail -3; }
# why_ejected LOG: the kernel's and scx_alps's own account of an ejection
# (a failure message must say why, or a rare one cannot be diagnosed).
why_ejected() { echo "dmesg: $(sched_ext_errors | tr '\n' ' ')/ log: $({ grep -m1 'EXIT:' "$1"; grep -m2 -E 'error|stall' "$1"; } | awk '!seen[$0]++' | cut -c1-300 | tr '\n' ' ')"; }

# run_in_cgroup CGROUP CMD...: start CMD in the background inside faas/CGROUP.
run_in_cgroup() {
  local cg="/sys/fs/cgroup/faas/$1"; shift
  mkdir -p "$cg"
  bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" &
}

# learn_ranks: run a few invocations so scx_alps learns "class3-cpu" (4 ms)
# as short and "class5-cpu" (190 ms) as long.
learn_ranks() {
  local trace="$out/stress-learn.txt"
  : >"$trace"
  for i in $(seq 0 11); do
    echo "$((2 * i + 1)) 30 fib 20 3" >>"$trace"
    echo "$((2 * i + 2)) 38 fib 80 5" >>"$trace"
  done
  "$bin/alps-bench" plan --trace "$trace" --scenario mixed --limit 0 --work-scale 1 --out "$out/stress-learn.json" >/dev/null &&
    "$bin/alps-bench" replay --plan "$out/stress-learn.json" --out "$out/stress-learn.res.json" 2>/dev/null
  sleep 1.5
}

# finish NAME WHY FIGURES: stop scx_alps, check a clean exit, print the verdict.
finish() {
  local name="$1" why="$2" figures="$3"
  stop_alps
  [ "$STOP_RC" = 0 ] || why+="scx_alps exited $STOP_RC on SIGINT; "
  wait_state disabled 10 || why+="sched_ext still $(scx_state) after exit; "
  if [ -z "$why" ]; then pass "$name: $figures"; else fail "$name: $why| $figures"; fi
}

echo "== stress suite: ${D}s scenarios, ${SOAK}s soak, $NCPU CPUs, kernel $(uname -r)"
dmesg -C 2>/dev/null

# 1. stress-ng CPU, fork and affinity churn.
if want 1; then
  name="stress-1 stress-ng cpu/fork/affinity ${D}s"
  start_alps "$out/s1.log" "$out/s1.jsonl" --learn-interval-ms 1000 || { fail "$name: no attach"; }
  t0=$SECONDS
  sng --cpu "$NCPU" --fork 2 --affinity 2 --timeout "${D}s" >"$out/s1.stress-ng" 2>&1
  ran=$((SECONDS - t0))
  why=""; [ "$ran" -ge "$D" ] || why+="stress-ng ran ${ran}s, not ${D}s: $(head -c 200 "$out/s1.stress-ng"); "
  alps_alive || why+="scx_alps not attached after the load ($(why_ejected "$out/s1.log")); "
  sleep 1.2
  figures="max wait $(stat "$out/s1.jsonl" .max_wait_ms) ms, guard $(stat "$out/s1.jsonl" .nr_guard), drops $(stat "$out/s1.jsonl" .nr_rb_drops), records $(stat "$out/s1.jsonl" .nr_records)"
  finish "$name" "$why" "$figures"
fi

# 2. CPU hogs at 4x the CPU count (a function learned to be long) plus short
#    sleepers (a function learned to be short): strict priority would starve
#    the hogs; the guard must keep every wait under the bound.
if want 2; then
  name="stress-2 $((4 * NCPU)) hogs + sleepers ${D}s"
  start_alps "$out/s2.log" "$out/s2.jsonl" --learn-interval-ms 1000 || fail "$name: no attach"
  learn_ranks
  run_in_cgroup class5-cpu stress-ng --temp-path /tmp --quiet --cpu "$((4 * NCPU))" --timeout "${D}s"
  hogs=$!
  run_in_cgroup class3-cpu stress-ng --temp-path /tmp --quiet --sleep "$NCPU" --sleep-max 32 --timeout "${D}s"
  sleepers=$!
  t0=$SECONDS
  wait "$hogs" "$sleepers"
  ran=$((SECONDS - t0))
  sleep 1.2
  why=""; alps_alive || why+="scx_alps ejected ($(why_ejected "$out/s2.log")); "
  [ "$ran" -ge "$D" ] || why+="the load ran ${ran}s, not ${D}s; "
  mw=$(stat "$out/s2.jsonl" .max_wait_ms)
  awk -v m="$mw" -v b="$BOUND_MS" 'BEGIN { exit !(m + 0 > 0 && m + 0 < b) }' || why+="longest wait $mw ms not under the ${BOUND_MS} ms bound; "
  figures="longest runnable wait $mw ms by $(stat "$out/s2.jsonl" .max_wait_task) (bound $BOUND_MS), guard activations $(stat "$out/s2.jsonl" .nr_guard), guard-served $(stat "$out/s2.jsonl" .nr_guard_dispatched), demotions $(stat "$out/s2.jsonl" .nr_demotions), kicks $(stat "$out/s2.jsonl" .nr_preempt_kicks)"
  finish "$name" "$why" "$figures"
fi

# 3. A SCHED_FIFO hog pinned to CPU 1 while sched_ext tasks are pinned there
#    (4 s: below the 5 s watchdog; the RT class sits above sched_ext).
if want 3; then
  name="stress-3 RT hog pinned with our tasks"
  start_alps "$out/s3.log" "$out/s3.jsonl" || fail "$name: no attach"
  timeout 4 chrt -f 50 taskset -c 1 bash -c 'while :; do :; done' &
  rt=$!
  sleep 0.3
  t0=$(date +%s.%N)
  taskset -c 1 bash -c 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done' &
  pinned=$!
  taskset -c 1 sleep 0.5 &
  wait "$pinned"; prc=$?
  t1=$(date +%s.%N)
  wait "$rt" 2>/dev/null
  why=""; alps_alive || why+="scx_alps ejected ($(why_ejected "$out/s3.log")); "
  [ "$prc" = 0 ] || why+="pinned task failed; "
  figures="pinned task finished after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s beside a 4 s RT hog, state $(scx_state)"
  finish "$name" "$why" "$figures"
fi

# 4. Affinity changes under load.
if want 4; then
  name="stress-4 taskset churn ${D}s"
  start_alps "$out/s4.log" "$out/s4.jsonl" || fail "$name: no attach"
  pids=()
  for i in $(seq 1 $((2 * NCPU))); do bash -c 'while :; do :; done' & pids+=($!); done
  end=$((SECONDS + D)); n=0
  while [ $SECONDS -lt $end ]; do
    for p in "${pids[@]}"; do
      c=$((RANDOM % NCPU))
      if [ $((RANDOM % 2)) = 0 ]; then taskset -pc "$c" "$p" >/dev/null; else taskset -pc "0-$((NCPU - 1))" "$p" >/dev/null; fi
      n=$((n + 1))
    done
    sleep 0.05
  done
  kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
  why=""; alps_alive || why+="scx_alps ejected ($(why_ejected "$out/s4.log")); "
  errs=$(dmesg | grep -ci 'not allowed' || true)
  [ "$errs" = 0 ] || why+="$errs 'not allowed' errors in dmesg; "
  finish "$name" "$why" "$n affinity changes, 0 'CPU not allowed' errors, max wait $(stat "$out/s4.jsonl" .max_wait_ms) ms"
fi

# 5. CPU hotplug while running: the kernel asks for a restart.
if want 5 && [ -w /sys/devices/system/cpu/cpu1/online ]; then
  name="stress-5 CPU hotplug"
  start_alps "$out/s5.log" "$out/s5.jsonl" || fail "$name: no attach"
  sng --cpu "$NCPU" --timeout 20s >/dev/null 2>&1 &
  load=$!
  why=""
  for round in 1 2; do
    before=$(grep -c 'asked for a restart' "$out/s5.log" || true)
    echo 0 >/sys/devices/system/cpu/cpu1/online; sleep 2
    echo 1 >/sys/devices/system/cpu/cpu1/online
    wait_state enabled 30 || why+="not re-attached after hotplug round $round; "
    sleep 2
    after=$(grep -c 'asked for a restart' "$out/s5.log" || true)
    [ "$after" -gt "$before" ] || why+="no restart logged in round $round; "
  done
  wait "$load"
  restarts=$(grep -c 'asked for a restart' "$out/s5.log" || true)
  alps_alive || why+="scx_alps not attached at the end; "
  finish "$name" "$why" "$restarts restarts over 2 offline/online rounds, attached again each time"
elif want 5; then
  fail "stress-5 CPU hotplug: /sys/devices/system/cpu/cpu1/online is not writable"
fi

# 6. A storm of short-lived processes in 50 function cgroups that come and go
#    (the replay creates them first and removes them at the end).
if want 6; then
  name="stress-6 process storm"
  start_alps "$out/s6.log" "$out/s6.jsonl" --tag-interval-ms 100 || fail "$name: no attach"
  sleep 1.2
  base_cg=$(stat "$out/s6.jsonl" .nr_cgroups); rss0=$(rss_kb "$ALPS_PID"); base_t=$(stat "$out/s6.jsonl" '.nr_tasks // empty')
  rec0=$(stat "$out/s6.jsonl" .nr_records)
  N=3000
  # ALPS trace format: id arg func iat_ms port; 50 functions, 1 ms apart
  # (0.21 ms after ALPS's own factor), 0.2 ms of CPU each at work scale 0.01.
  awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "%d 1 storm%d 1 5000\n", i, i % 50 }' >"$out/storm.txt"
  "$bin/alps-bench" plan --trace "$out/storm.txt" --format alps --scenario cpu --limit 0 --work-scale 0.01 \
    --out "$out/storm.json" >/dev/null
  "$bin/alps-bench" replay --plan "$out/storm.json" --out "$out/storm-res.json" 2>/dev/null; src=$?
  sleep 1.5
  # The peak over every statistics snapshot (one a second): a single sample
  # at a fixed delay raced the replay's cgroup setup on 7.2.
  peak_cg=$(grep '^{' "$out/s6.jsonl" | jq -s 'map(.nr_cgroups) | max' 2>/dev/null || echo 0)
  end_cg=$(stat "$out/s6.jsonl" .nr_cgroups); rss1=$(rss_kb "$ALPS_PID"); end_t=$(stat "$out/s6.jsonl" '.nr_tasks // empty')
  recs=$(( $(stat "$out/s6.jsonl" .nr_records) - rec0 )); drops=$(stat "$out/s6.jsonl" .nr_rb_drops)
  done_ok=$(jq '[.[] | select(.ok)] | length' "$out/storm-res.json" 2>/dev/null || echo 0)
  why=""; alps_alive || why+="scx_alps ejected ($(why_ejected "$out/s6.log")); "
  [ "$src" = 0 ] && [ "$done_ok" = "$N" ] || why+="only $done_ok/$N processes completed; "
  [ "$((recs + drops))" -ge "$N" ] || why+="$recs records + $drops drops for $N processes; "
  [ "$end_cg" = "$base_cg" ] || why+="cgroup map at $end_cg, baseline $base_cg; "
  [ "$peak_cg" -gt "$base_cg" ] || why+="cgroup map never grew ($peak_cg); "
  # Per-task state: every task given a task_ctx left again (init_task minus
  # exit_task back near its baseline; a few kworkers may come and go).
  [ "${end_t:-99999}" -le $(( ${base_t:-0} + 32 )) ] || why+="tasks with a task_ctx $base_t -> $end_t; "
  [ "$rss1" -le $((rss0 + rss0 / 4 + 2048)) ] || why+="RSS grew ${rss0} -> ${rss1} kB; "
  finish "$name" "$why" "$done_ok/$N processes, $recs records, $drops ring-buffer drops, cgroup map $base_cg -> $peak_cg -> $end_cg, tasks with a task_ctx $base_t -> $end_t, RSS $rss0 -> $rss1 kB"
fi

# 7. SIGKILL mid-run: the kernel falls back, a new scx_alps starts cleanly.
if want 7; then
  name="stress-7 SIGKILL"
  start_alps "$out/s7.log" "$out/s7.jsonl" || fail "$name: no attach"
  sng --cpu "$NCPU" --timeout 6s >/dev/null 2>&1 &
  load=$!
  sleep 2
  t0=$(date +%s.%N)
  kill -9 "$ALPS_PID"; wait "$ALPS_PID" 2>/dev/null
  why=""
  wait_state disabled 10 || why+="kernel still on sched_ext 10 s after SIGKILL; "
  t1=$(date +%s.%N)
  back=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  start_alps "$out/s7b.log" "$out/s7b.jsonl" || why+="a new scx_alps did not attach; "
  wait "$load"
  alps_alive || why+="the new scx_alps is not attached; "
  finish "$name" "$why" "default scheduler back ${back} s after SIGKILL, new instance attached"
fi

# 8. Bad input: every malformed flag, value, pattern and path, no root.
if want 8; then
  name="stress-8 bad input"
  why=""; n=0
  check_bad() { # expected-exit-code message-substring args...
    local code="$1" msg="$2"; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    n=$((n + 1))
    if [ "$rc" != "$code" ] || ! grep -qi -- "$msg" <<<"$err" || [ "$(scx_state)" != disabled ]; then
      why+="'${*:2}' -> exit $rc (want $code), '$(head -c 120 <<<"$err" | tr '\n' ' ')'; "
    fi
  }
  A="$bin/scx_alps"
  check_bad 2 "invalid value" "$A" --policy cfs
  check_bad 2 "unexpected argument" "$A" --frobnicate
  check_bad 2 "invalid digit" "$A" --history many
  check_bad 2 "--history" "$A" --history 0
  check_bad 2 "unexpected argument" "$A" --ranks 8
  check_bad 2 "--host-half-life-ms" "$A" --host-half-life-ms 0
  check_bad 2 "--slice-us" "$A" --slice-us 10
  check_bad 2 "--slice-max-us" "$A" --slice-max-us 9000000 --slice-us 8000
  check_bad 2 "--window" "$A" --window 1
  check_bad 2 "--learn-interval-ms" "$A" --learn-interval-ms 1
  check_bad 2 "--alpha" "$A" --alpha 0
  check_bad 2 "--theta" "$A" --theta 150
  check_bad 2 "alps-io" "$A" --policy alps --no-io-signals
  check_bad 2 "--state-file" "$A" --state-file /nonexistent/dir/state.json
  check_bad 2 "alps-io" "$A" --policy alps --min-quantum-us 100
  check_bad 2 "--starvation-ms" "$A" --starvation-ms 6000
  check_bad 2 "--ringbuf-kb" "$A" --ringbuf-kb 3
  check_bad 2 "--stats" "$A" --stats 0
  check_bad 2 "invalid --func-pattern" "$A" --func-pattern 'faas/('
  check_bad 2 "--func-pattern" "$A" --func-pattern ''
  check_bad 2 "--cgroup-root" "$A" --cgroup-root /nonexistent/cgroup
  check_bad 2 "--cgroup-root" "$A" --cgroup-root /etc/hostname
  check_bad 3 "root" setpriv --reuid=65534 --regid=65534 --clear-groups "$A"
  check_bad 1 "cannot read" "$bin/alps-bench" plan --trace /nonexistent.txt
  check_bad 1 "expected a number" "$bin/alps-bench" plan --trace <(printf '1 x fib 10 1\n') --format study
  finish_ok() { if [ -z "$why" ]; then pass "$name: $n bad inputs, each a clear error with the right exit code, system unchanged"; else fail "$name: $why"; fi; }
  finish_ok
fi

# 9. Soak with the mixed trace: RSS and map occupancy stay flat.
if want 9 && [ "$SOAK" -gt 0 ]; then
  name="stress-9 soak ${SOAK}s"
  trace="${ALPS_TRACE:-$root/data/traces/study_workload.txt}"
  start_alps "$out/s9.log" "$out/s9.jsonl" --learn-interval-ms 1000 || fail "$name: no attach"
  "$bin/alps-bench" plan --trace "$trace" --scenario mixed --limit 200 --out "$out/s9-plan.json" >/dev/null
  end=$((SECONDS + SOAK)); rounds=0; samples=()
  rss_first=""; cg_first=""; fn_first=""; t_first=""
  while [ $SECONDS -lt $end ]; do
    "$bin/alps-bench" replay --plan "$out/s9-plan.json" --out "$out/s9-res.json" 2>/dev/null || true
    rounds=$((rounds + 1))
    # Sample after a cgroup rescan and a stats line, so the round's
    # function cgroups (removed by the replay) are out of the map.
    sleep 2.2
    r=$(rss_kb "$ALPS_PID"); samples+=("$r")
    [ -n "$rss_first" ] || { rss_first=$r; cg_first=$(stat "$out/s9.jsonl" .nr_cgroups); fn_first=$(stat "$out/s9.jsonl" .nr_functions); t_first=$(stat "$out/s9.jsonl" '.nr_tasks // empty'); }
  done
  sleep 1.2
  rss_last=$(rss_kb "$ALPS_PID"); cg_last=$(stat "$out/s9.jsonl" .nr_cgroups); fn_last=$(stat "$out/s9.jsonl" .nr_functions); t_last=$(stat "$out/s9.jsonl" '.nr_tasks // empty')
  why=""; alps_alive || why+="scx_alps ejected ($(why_ejected "$out/s9.log")); "
  [ "$rss_last" -le $((rss_first + rss_first / 10 + 1024)) ] || why+="RSS grew $rss_first -> $rss_last kB; "
  [ "$cg_last" = "$cg_first" ] || why+="cgroup map $cg_first -> $cg_last; "
  [ "$fn_last" = "$fn_first" ] || why+="functions $fn_first -> $fn_last; "
  [ "${t_last:-99999}" -le $(( ${t_first:-0} + 32 )) ] || why+="tasks with a task_ctx $t_first -> $t_last; "
  figures="$rounds rounds of 200 invocations, RSS $rss_first -> $rss_last kB (samples ${samples[*]:0:3} ... ${samples[*]: -3}), cgroup map $cg_first -> $cg_last, tasks $t_first -> $t_last, window $(stat "$out/s9.jsonl" .window_len), drops $(stat "$out/s9.jsonl" .nr_rb_drops), max wait $(stat "$out/s9.jsonl" .max_wait_ms) ms, learner mean $(stat "$out/s9.jsonl" .learner_mean_us) us"
  finish "$name" "$why" "$figures"
fi

echo "stress suite: ${PASSED:-0} passed, ${FAILED:-0} failed"
exit "${FAILED:-0}"
