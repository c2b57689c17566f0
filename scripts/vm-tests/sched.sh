#!/usr/bin/env bash
# Issue 2's VM test: scx_alps (each policy) schedules a small mixed workload
# of CPU-bound and sleep-heavy functions in per-function cgroups.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

trace="$out/sched-trace.txt"
# study format: id fibN func iat_ms class. class 3: fib(30), 4 ms of CPU
# (short); class 4: fib(37), 117 ms (long); class 1: 50 ms burst, 75 ms
# sleep, 1 ms burst (sleep-heavy). 20 of each, one every 100 ms.
: >"$trace"
for i in $(seq 0 19); do
  echo "$((3 * i + 1)) 30 fib 33 3" >>"$trace"
  echo "$((3 * i + 2)) 37 fib 33 4" >>"$trace"
  echo "$((3 * i + 3)) 30 fib 34 1" >>"$trace"
done
"$bin/alps-bench" plan --trace "$trace" --scenario mixed --limit 0 --work-scale 1 --out "$out/sched-plan.json" >/dev/null \
  || { fail "sched: cannot build the plan"; exit 1; }

for policy in alps alps-io; do
  name="sched-$policy"
  log="$out/$name.log" stats="$out/$name.stats.jsonl"
  if ! start_alps "$log" "$stats" --policy "$policy" --learn-interval-ms 500; then
    fail "$name: scx_alps did not attach"; continue
  fi
  ops="$(scx_ops)"
  if [ "$(scx_state)" != enabled ] || [[ "$ops" != alps* ]]; then
    fail "$name: state $(scx_state), ops '$ops' (want enabled, alps*)"
  fi
  # Verifier complexity per callback on this kernel (the loader logs it at attach).
  insns="$(sed -n 's/.*verified instructions per callback: //p' "$log" | tail -1)"
  "$bin/alps-bench" replay --plan "$out/sched-plan.json" --out "$out/$name.results.json" 2>/dev/null
  replay_rc=$?
  sleep 2.5   # one more learner update and stats line after the last exit
  if [ "$(scx_state)" != enabled ]; then
    fail "$name: scx_alps was ejected during the workload"; tail -5 "$log"
  fi
  stop_alps; rc=$STOP_RC
  state_after="$(scx_state)"

  res="$out/$name.results.json"
  total=$(jq length "$res" 2>/dev/null || echo 0)
  ok=$(jq '[.[] | select(.ok)] | length' "$res" 2>/dev/null || echo 0)
  s="$(last_stats "$stats")"
  rank() { jq -r --arg f "$1" '[.functions[] | select(.name == $f) | .level][0] // "none"' <<<"$s"; }
  r_short=$(rank class3-cpu) r_long=$(rank class4-cpu) r_io=$(rank class1-io)
  enq=$(jq '[.levels[].enqueued] | add' <<<"$s")
  disp=$(jq '[.levels[].dispatched] | add' <<<"$s")
  recs=$(jq .nr_records <<<"$s") direct=$(jq .nr_direct <<<"$s") progress=$(jq .nr_progress <<<"$s")
  cost=$(jq .learner_mean_us <<<"$s") updates=$(jq .learner_updates <<<"$s")
  figures="completed $ok/$total; levels short=$r_short long=$r_long io=$r_io; records $recs progress $progress enqueued $enq dispatched $disp direct $direct kicks $(jq .nr_preempt_kicks <<<"$s") throttled $(jq .nr_throttled <<<"$s") guard $(jq .nr_guard <<<"$s") drops $(jq .nr_rb_drops <<<"$s") max wait $(jq .max_wait_ms <<<"$s") ms; learner $updates updates, mean ${cost} us; exit $rc, state after $state_after; verified instructions: ${insns:-none}"

  why=""
  [ "$replay_rc" = 0 ] || why+="replay failed ($replay_rc); "
  [ "$total" = 60 ] && [ "$ok" = 60 ] || why+="only $ok/$total invocations completed; "
  [[ "$r_short" =~ ^[0-9]+$ && "$r_long" =~ ^[0-9]+$ ]] || why+="no learned level for the CPU functions; "
  [[ "$r_short" =~ ^[0-9]+$ && "$r_long" =~ ^[0-9]+$ ]] && [ "$r_short" -ge "$r_long" ] && why+="short function not placed above the long one; "
  [ "${recs:-0}" -ge 60 ] 2>/dev/null || why+="fewer invocation records than invocations; "
  # alps-io only; class 1 sleeps after 50 ms of CPU: one record each at least.
  if [ "$policy" = alps-io ]; then
    [ "${progress:-0}" -ge 20 ] 2>/dev/null || why+="fewer progress records than running invocations past 2 ms; "
  else
    [ "${progress:-1}" = 0 ] || why+="progress records under plain alps; "
  fi
  [ "${enq:-0}" -gt 0 ] && [ "${disp:-0}" -gt 0 ] 2>/dev/null || why+="level counters did not move; "
  [ "${updates:-0}" -gt 0 ] 2>/dev/null || why+="no learner update; "
  [ "$rc" = 0 ] || why+="scx_alps exited $rc on SIGINT; "
  [ "$state_after" = disabled ] || why+="sched_ext still $state_after after exit; "
  [[ " $insns" =~ " "enqueue=[1-9] && " $insns" =~ " "dispatch=[1-9] ]] ||
    why+="no verified instruction count for the callbacks in the log ('$insns'); "
  if [ -z "$why" ]; then pass "$name: $figures"; else fail "$name: $why| $figures"; fi
done
exit "${FAILED:-0}"
