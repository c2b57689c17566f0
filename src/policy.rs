//! The scheduler's enforcement rules, as the kernel runs them.
//!
//! `include/policy.h` holds every decision the BPF program makes on enqueue,
//! dispatch and tick: the level of a task (learned schedule, least attained
//! service, misprediction fallback), its slice, its queue key, the preemption
//! victim, keep-prev, the starvation guard. The build compiles the same header
//! for the host (`src/policy_host.c`); these safe wrappers call that object
//! code, so unit tests and the simulator exercise exactly what runs in the
//! kernel. [`bpf_policy`] turns a learned [`FuncPolicy`] into the map value the
//! BPF program reads; the loader and the simulator both use it.
//!
//! All times are in nanoseconds; level 0 is served first.

use crate::bpf_intf::{alps_func_policy, alps_sched_step};
use crate::learner::FuncPolicy;

unsafe extern "C" {
    fn alps_host_size_level(r_ns: u64) -> u32;
    fn alps_host_level_floor_ns(level: u32) -> u64;
    fn alps_host_task_level(pol: *const alps_func_policy, attained_ns: u64, past: *mut bool) -> u32;
    fn alps_host_prior_floor_ns(pol: *const alps_func_policy) -> u64;
    fn alps_host_prior_attained(attained_ns: u64, floor_ns: u64, outgrown: bool) -> u64;
    fn alps_host_prior_outgrown(attained_ns: u64, floor_ns: u64) -> bool;
    fn alps_host_task_slice(pol: *const alps_func_policy, level: u32, dflt_ns: u64, min_ns: u64, max_ns: u64) -> u64;
    fn alps_host_decay(recent_ns: u64, slept_ns: u64, half_life_ns: u64) -> u64;
    fn alps_host_queue_key(is_func: bool, inv_start_ns: u64, runnable_at_ns: u64, fair_key: u64) -> u64;
    fn alps_host_weighted_ns(ns: u64, weight: u32, nr_cpus: u32) -> u64;
    fn alps_host_fair_key(func_vtime: u64, served_vtime: u64) -> u64;
    fn alps_host_fair_charge(func_vtime: u64, fair_key: u64, ns: u64, weight: u32, nr_cpus: u32) -> u64;
    fn alps_host_idle_gap_ends(slept_ns: u64, gap_ns: u64, is_func: bool, hinted: bool) -> bool;
    fn alps_host_queue_vtime(level: u32, key_ns: u64) -> u64;
    fn alps_host_vtime_level(vtime: u64) -> u32;
    fn alps_host_victim_better(
        waker_level: u32,
        level: u32,
        started_ns: u64,
        have_best: bool,
        best_level: u32,
        best_started_ns: u64,
    ) -> bool;
    fn alps_host_wake_quantum(
        is_func: bool,
        io_bound_wakeup: bool,
        sync: bool,
        min_quantum_ns: u64,
        host_quantum_ns: u64,
        on_burst: *mut bool,
    ) -> u64;
    fn alps_host_should_preempt(waker_level: u32, victim_level: u32, victim_ran_ns: u64, min_quantum_ns: u64) -> bool;
    fn alps_host_tick_preempt(stint_ns: u64, min_quantum_ns: u64, better_waiting: bool, starving: bool) -> bool;
    fn alps_host_keep_prev(prev_level: u32, scan_level: u32) -> bool;
    fn alps_host_guard_threshold(bound_ns: u64) -> u64;
    fn alps_host_guard_interval(bound_ns: u64) -> u64;
    fn alps_host_is_starving(waited_ns: u64, threshold_ns: u64) -> bool;
    fn alps_host_progress_level(attained_ns: u64, reported: u32) -> u32;
}

/// Number of queue levels (DSQs).
pub const NR_LEVELS: u32 = crate::bpf_intf::alps_consts_ALPS_NR_LEVELS;

/// Steps a learned level schedule may have.
pub const SCHED_STEPS: usize = crate::bpf_intf::alps_consts_ALPS_SCHED_STEPS as usize;

/// Level marking "no sched_ext task on this CPU" (never preempted by us).
pub const LEVEL_NONE: u32 = crate::bpf_intf::alps_consts_ALPS_LEVEL_NONE;

/// Policy flag: the function is I/O-bound; its wake-ups wait for the
/// victim's minimum quantum.
pub const POL_IO_BOUND: u32 = crate::bpf_intf::alps_policy_flags_ALPS_POL_IO_BOUND;

/// Level of rank size `r_ns` (half-octave buckets from 32 us).
pub fn size_level(r_ns: u64) -> u32 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_size_level(r_ns) }
}

/// Smallest rank size of `level`, ns.
pub fn level_floor_ns(level: u32) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_level_floor_ns(level) }
}

/// Level of a task after `attained_ns` of CPU under its function's policy
/// (`None`: nothing learned, least attained service). The flag is true when
/// the task has outgrown its learned schedule (a misprediction).
pub fn task_level(pol: Option<&alps_func_policy>, attained_ns: u64) -> (u32, bool) {
    let mut past = false;
    let p = pol.map_or(std::ptr::null(), |p| p as *const _);
    // SAFETY: `p` is null or points to a live alps_func_policy for the call;
    // `past` is a valid out-pointer.
    let level = unsafe { alps_host_task_level(p, attained_ns, &mut past) };
    (level, past)
}

/// Where the prior `pol`'s last (constant) step starts, ns; 0 for no prior
/// or a prior of one step (include/policy.h, the prior's evidence rule).
pub fn prior_floor_ns(pol: Option<&alps_func_policy>) -> u64 {
    let p = pol.map_or(std::ptr::null(), |p| p as *const _);
    // SAFETY: `p` is null or points to a live alps_func_policy for the call.
    unsafe { alps_host_prior_floor_ns(p) }
}

/// The attained service (ns) a task of an unlearned function is placed by:
/// `floor_ns` at least once its function has `outgrown` the prior.
pub fn prior_attained(attained_ns: u64, floor_ns: u64, outgrown: bool) -> u64 {
    // SAFETY: pure function of its arguments.
    unsafe { alps_host_prior_attained(attained_ns, floor_ns, outgrown) }
}

/// Whether a task of an unlearned function that attained `attained_ns`
/// has outgrown the prior whose last step starts at `floor_ns`.
pub fn prior_outgrown(attained_ns: u64, floor_ns: u64) -> bool {
    // SAFETY: pure function of its arguments.
    unsafe { alps_host_prior_outgrown(attained_ns, floor_ns) }
}

/// Slice of a task at `level` under `pol`, clamped to `[min_ns, max_ns]`.
pub fn task_slice(pol: Option<&alps_func_policy>, level: u32, dflt_ns: u64, min_ns: u64, max_ns: u64) -> u64 {
    let p = pol.map_or(std::ptr::null(), |p| p as *const _);
    // SAFETY: `p` is null or points to a live alps_func_policy for the call.
    unsafe { alps_host_task_slice(p, level, dflt_ns, min_ns, max_ns) }
}

/// Recent CPU `recent_ns` of a task of no function after a sleep of
/// `slept_ns`: halved per `half_life_ns`.
pub fn decay(recent_ns: u64, slept_ns: u64, half_life_ns: u64) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_decay(recent_ns, slept_ns, half_life_ns) }
}

/// Key of a task inside its level: FIFO by invocation start (functions) or
/// runnable time (host work), or the invocation's start-time fair queueing
/// stamp `fair_key` once cgroup weights differ (0: they do not).
pub fn queue_key(is_func: bool, inv_start_ns: u64, runnable_at_ns: u64, fair_key: u64) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_queue_key(is_func, inv_start_ns, runnable_at_ns, fair_key) }
}

/// Virtual time, virtual ns, that `ns` of CPU costs a function of cgroup
/// weight `weight` (1..10000, 100 the default; 0 counts as 100) on a host
/// of `nr_cpus` CPUs: `ns / (weight x nr_cpus)`, floored.
pub fn weighted_ns(ns: u64, weight: u32, nr_cpus: u32) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_weighted_ns(ns, weight, nr_cpus) }
}

/// Start-time fair queueing stamp of an invocation entering its level: its
/// function's virtual time, or the stamp last served if that is later
/// (virtual ns).
pub fn fair_key(func_vtime: u64, served_vtime: u64) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_fair_key(func_vtime, served_vtime) }
}

/// A function's virtual time, virtual ns, after its invocation stamped
/// `fair_key` ran `ns` of CPU at weight `weight` on `nr_cpus` CPUs.
pub fn fair_charge(func_vtime: u64, fair_key: u64, ns: u64, weight: u32, nr_cpus: u32) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_fair_charge(func_vtime, fair_key, ns, weight, nr_cpus) }
}

/// Does a wake-up after `slept_ns` asleep end one invocation and start the
/// next (`--idle-gap-ms`, `gap_ns`; 0 is off)? Only for a function's task that
/// never hinted (include/policy.h, alps_idle_gap_ends()).
pub fn idle_gap_ends(slept_ns: u64, gap_ns: u64, is_func: bool, hinted: bool) -> bool {
    // SAFETY: pure function over integers.
    unsafe { alps_host_idle_gap_ends(slept_ns, gap_ns, is_func, hinted) }
}

/// DSQ vtime of a task of `level` with FIFO key `key_ns`: ordered by level,
/// then key.
pub fn queue_vtime(level: u32, key_ns: u64) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_queue_vtime(level, key_ns) }
}

/// Level of a queued task from its DSQ vtime.
pub fn vtime_level(vtime: u64) -> u32 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_vtime_level(vtime) }
}

/// Whether a CPU running `level` since `started_ns` is a better preemption
/// victim for a waker of `waker_level` than `best` (level, stint start).
pub fn victim_better(waker_level: u32, level: u32, started_ns: u64, best: Option<(u32, u64)>) -> bool {
    let (have, bl, bs) = best.map_or((false, 0, 0), |(l, s)| (true, l, s));
    // SAFETY: pure function over integers.
    unsafe { alps_host_victim_better(waker_level, level, started_ns, have, bl, bs) }
}

/// The CPU a victim keeps before a better wake-up may preempt it, ns, and
/// whether it is counted on the victim's burst (its CPU since it last woke
/// up) rather than its stint: work of no function, host work's quantum, of
/// the stint for a synchronous wake-up (`sync`, a producer handing over
/// work), of the burst otherwise; alps-io's minimum quantum of the stint for
/// I/O-bound wake-ups; else 0.
pub fn wake_quantum(
    is_func: bool,
    io_bound_wakeup: bool,
    sync: bool,
    min_quantum_ns: u64,
    host_quantum_ns: u64,
) -> (u64, bool) {
    let mut on_burst = false;
    // SAFETY: pure function over integers; `on_burst` is a valid out-pointer.
    let q = unsafe {
        alps_host_wake_quantum(
            is_func,
            io_bound_wakeup,
            sync,
            min_quantum_ns,
            host_quantum_ns,
            &mut on_burst,
        )
    };
    (q, on_burst)
}

/// Whether a waker of `waker_level` preempts a victim at `victim_level`
/// that has run `victim_ran_ns` of its stint.
pub fn should_preempt(waker_level: u32, victim_level: u32, victim_ran_ns: u64, min_quantum_ns: u64) -> bool {
    // SAFETY: pure function over integers.
    unsafe { alps_host_should_preempt(waker_level, victim_level, victim_ran_ns, min_quantum_ns) }
}

/// Whether a tick ends the running task's stint.
pub fn tick_preempt(stint_ns: u64, min_quantum_ns: u64, better_waiting: bool, starving: bool) -> bool {
    // SAFETY: pure function over integers.
    unsafe { alps_host_tick_preempt(stint_ns, min_quantum_ns, better_waiting, starving) }
}

/// In dispatch, scanning levels upwards from 0: whether the still-runnable
/// previous task (level `prev_level`) keeps the CPU rather than taking a task
/// from `scan_level` (yes unless that level is strictly better).
pub fn keep_prev(prev_level: u32, scan_level: u32) -> bool {
    // SAFETY: pure function over integers.
    unsafe { alps_host_keep_prev(prev_level, scan_level) }
}

/// Wait after which the guard serves a task, for the bound `bound_ns`
/// (`--starvation-ms`).
pub fn guard_threshold(bound_ns: u64) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_guard_threshold(bound_ns) }
}

/// Period of the guard's queue scan for the bound `bound_ns`.
pub fn guard_interval(bound_ns: u64) -> u64 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_guard_interval(bound_ns) }
}

/// Whether a task runnable for `waited_ns` is starving against `threshold_ns`.
pub fn is_starving(waited_ns: u64, threshold_ns: u64) -> bool {
    // SAFETY: pure function over integers.
    unsafe { alps_host_is_starving(waited_ns, threshold_ns) }
}

/// The level an invocation that has attained `attained_ns` of CPU reports
/// in a progress record, given the last level it reported (`reported`, 0 =
/// none); 0 when no record is due (policy.h, `alps_progress_level()`).
pub fn progress_level(attained_ns: u64, reported: u32) -> u32 {
    // SAFETY: pure function over integers.
    unsafe { alps_host_progress_level(attained_ns, reported) }
}

/// The func_policy map value of a learned function: its level schedule
/// (at most [`SCHED_STEPS`] steps; the learner never makes more), flags and
/// slice.
pub fn bpf_policy(f: &FuncPolicy) -> alps_func_policy {
    let mut v = alps_func_policy {
        valid: 1,
        nr_steps: f.steps.len().min(SCHED_STEPS) as u32,
        flags: f.flags,
        slice_ns: f.slice_ns,
        ..Default::default()
    };
    for (dst, s) in v.steps.iter_mut().zip(&f.steps) {
        *dst = alps_sched_step {
            until_ns: s.until_ns,
            target_ns: s.target_ns,
            mult_q8: s.mult_q8,
            pad: 0,
        };
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::Step;

    const MS: u64 = 1_000_000;

    fn pol(steps: &[Step]) -> alps_func_policy {
        bpf_policy(&FuncPolicy {
            steps: steps.to_vec(),
            ..FuncPolicy::default()
        })
    }

    #[test]
    fn an_idle_gap_cuts_only_unhinted_function_tasks_past_the_gap() {
        let gap = 20_000_000;
        assert!(idle_gap_ends(gap, gap, true, false));
        assert!(
            !idle_gap_ends(gap - 1, gap, true, false),
            "a shorter sleep is I/O inside the request"
        );
        assert!(!idle_gap_ends(gap, gap, false, false), "host work has no invocations");
        assert!(
            !idle_gap_ends(gap, gap, true, true),
            "a hinted thread is delimited by its hints"
        );
        assert!(!idle_gap_ends(u64::MAX, 0, true, false), "0 is off");
    }

    #[test]
    fn progress_is_reported_once_per_new_level_from_the_minimum() {
        let min = crate::bpf_intf::alps_consts_ALPS_PROGRESS_MIN_NS as u64;
        assert_eq!(progress_level(min - 1, 0), 0);
        let l = progress_level(min, 0);
        assert_eq!(l, size_level(min));
        assert_eq!(progress_level(min + 1, l), 0, "same level: no record");
        assert_eq!(progress_level(2 * min, l), size_level(2 * min));
        assert!(size_level(2 * min) > l);
    }

    #[test]
    fn size_levels_are_half_octaves_from_32_us() {
        let at = |ms: f64| size_level((ms * MS as f64) as u64);
        assert_eq!(at(0.0), 0);
        assert_eq!(at(0.031), 0);
        assert_eq!(at(0.032), 1);
        assert_eq!(at(0.063), 1);
        assert_eq!(at(0.064), 2);
        assert_eq!(at(0.096), 3);
        assert_eq!(at(0.128), 4);
        assert_eq!(at(0.192), 5);
        assert_eq!(at(0.256), 6);
        // The mixed scenario at 2 CPUs: 38, 62 and 100 ms land on different levels.
        assert_eq!((at(38.0), at(62.0), at(100.0)), (20, 21, 23));
        assert_eq!(size_level(u64::MAX), NR_LEVELS - 1);
        // Floors invert the scale.
        for l in 0..NR_LEVELS {
            assert_eq!(size_level(level_floor_ns(l)), l, "level {l}");
            if l > 0 {
                assert_eq!(size_level(level_floor_ns(l) - 1), l - 1, "level {l}");
            }
        }
    }

    #[test]
    fn a_function_that_outgrew_the_prior_starts_at_its_last_step() {
        // Prior: SRPT on 5 ms, then a constant 40 ms rank from 5 ms on.
        let prior = pol(&[Step::linear(5 * MS, 5 * MS, 256), Step::constant(640 * MS, 40 * MS)]);
        let floor = prior_floor_ns(Some(&prior));
        assert_eq!(floor, 5 * MS);
        assert!(!prior_outgrown(4 * MS, floor));
        assert!(prior_outgrown(5 * MS, floor));
        // Not outgrown: a fresh invocation ranks as 5 ms; outgrown: as 40 ms.
        assert_eq!(
            task_level(Some(&prior), prior_attained(0, floor, false)).0,
            size_level(5 * MS)
        );
        assert_eq!(
            task_level(Some(&prior), prior_attained(0, floor, true)).0,
            size_level(40 * MS)
        );
        // Past the floor the rule changes nothing.
        assert_eq!(prior_attained(7 * MS, floor, true), 7 * MS);
        // No prior, or a prior of one step: no floor.
        assert_eq!(prior_floor_ns(None), 0);
        assert_eq!(prior_floor_ns(Some(&pol(&[Step::linear(5 * MS, 5 * MS, 256)]))), 0);
        assert!(!prior_outgrown(u64::MAX, 0));
    }

    #[test]
    fn unlearned_tasks_sink_by_attained_service() {
        assert_eq!(task_level(None, 0), (0, false));
        assert_eq!(task_level(None, 10 * MS), (size_level(10 * MS), false));
        // An invalid map entry counts as nothing learned.
        let mut p = pol(&[Step::constant(100 * MS, 5 * MS)]);
        p.valid = 0;
        assert_eq!(task_level(Some(&p), 50 * MS).0, size_level(50 * MS));
    }

    #[test]
    fn learned_schedules_follow_their_steps_then_fall_back_to_las() {
        // ALPS: constant rank size mu = 20 ms until the expectation 60 ms.
        let p = pol(&[Step::constant(60 * MS, 20 * MS)]);
        assert_eq!(task_level(Some(&p), 0), (size_level(20 * MS), false));
        assert_eq!(task_level(Some(&p), 59 * MS), (size_level(20 * MS), false));
        assert_eq!(task_level(Some(&p), 61 * MS), (size_level(61 * MS), true));
        // Never above the last step's level: a wrong prediction only sinks.
        let p = pol(&[Step::constant(MS, 400 * MS)]);
        assert_eq!(task_level(Some(&p), 2 * MS), (size_level(400 * MS), true));
        // SRPT: a 100 ms function's rank size is what it still needs.
        let p = pol(&[Step::linear(100 * MS, 100 * MS, 256)]);
        assert_eq!(task_level(Some(&p), 0).0, size_level(100 * MS));
        assert_eq!(task_level(Some(&p), 90 * MS).0, size_level(10 * MS));
        assert_eq!(task_level(Some(&p), 99_990_000).0, 0);
        // A slope of 4 (one in four invocations completes at the target).
        let p = pol(&[
            Step::linear(10 * MS, 10 * MS, 1024),
            Step::linear(50 * MS, 50 * MS, 256),
        ]);
        assert_eq!(task_level(Some(&p), 8 * MS).0, size_level(8 * MS));
        assert_eq!(task_level(Some(&p), 30 * MS).0, size_level(20 * MS));
    }

    #[test]
    fn slices_come_from_the_policy_or_the_level() {
        let p = FuncPolicy {
            slice_ns: 30 * MS,
            ..FuncPolicy::default()
        };
        let bp = bpf_policy(&p);
        assert_eq!(task_slice(Some(&bp), 3, 8 * MS, MS, 200 * MS), 30 * MS);
        assert_eq!(task_slice(None, 0, 8 * MS, MS, 200 * MS), 8 * MS);
        let deep = size_level(2_000 * MS);
        assert_eq!(task_slice(None, deep, 8 * MS, MS, 200 * MS), 200 * MS);
        assert_eq!(task_slice(None, deep, 8 * MS, MS, 0), level_floor_ns(deep) / 2);
    }

    #[test]
    fn host_work_decays_by_half_lives_of_sleep() {
        assert_eq!(decay(64 * MS, 0, 10 * MS), 64 * MS);
        assert_eq!(decay(64 * MS, 10 * MS, 10 * MS), 32 * MS);
        assert_eq!(decay(64 * MS, 20 * MS, 10 * MS), 16 * MS);
        // Half a half-life: 1 - 1/4.
        let d = decay(64 * MS, 5 * MS, 10 * MS);
        assert!((d as f64 / (48 * MS) as f64 - 1.0).abs() < 0.01, "{d}");
        assert_eq!(decay(u64::MAX / 4, 10_000 * MS, 10 * MS), 0);
        assert_eq!(decay(5, 1, 0), 0);
    }

    #[test]
    fn queue_keys_age_invocations_and_turn_host_work() {
        assert_eq!(queue_key(true, 100, 500, 0), 100);
        assert_eq!(queue_key(false, 100, 500, 0), 500);
        // Weighted: the fair stamp, for host work the one it was given.
        assert_eq!(queue_key(true, 100, 500, 700), 700);
        assert_eq!(queue_key(false, 100, 500, 700), 700);
    }

    #[test]
    fn charges_are_cpu_over_weight_and_cpus() {
        assert_eq!(weighted_ns(10 * MS, 100, 2), 50_000);
        assert_eq!(weighted_ns(10 * MS, 25, 2), 200_000);
        // The clock's fastest: weight 1 on every CPU, as fast as wall time.
        assert_eq!(weighted_ns(10 * MS, 1, 1), 10 * MS);
        assert_eq!(weighted_ns(10 * MS, 0, 0), 100_000);
        assert_eq!(fair_key(5, 9), 9);
        assert_eq!(fair_key(12, 9), 12);
        // An idle function's time catches up with its stamp first.
        assert_eq!(fair_charge(5, 1000, 100, 25, 2), 1002);
        assert_eq!(fair_charge(2000, 1000, 100, 50, 2), 2001);
    }

    /// Two functions saturating one CPU at one level, weights 100 and 25,
    /// invocations of 10 ms and 7 ms: served by stamp, as the BPF program
    /// does, they get CPU 4:1, whichever arrives first.
    #[test]
    fn fair_stamps_share_a_level_by_weight() {
        let weights = [100u32, 25];
        let sizes = [10 * MS, 7 * MS];
        let mut vtime = [0u64; 2];
        let mut cpu = [0u64; 2];
        // The BPF program starts the stamps' clock at the wall time.
        let mut served = 3_600_000 * MS;
        // Each function always has one invocation queued, stamped on entry.
        let mut stamp = [fair_key(vtime[0], served), fair_key(vtime[1], served)];
        for _ in 0..5000 {
            let f = if stamp[0] <= stamp[1] { 0 } else { 1 };
            served = served.max(stamp[f]);
            cpu[f] += sizes[f];
            vtime[f] = fair_charge(vtime[f], stamp[f], sizes[f], weights[f], 2);
            stamp[f] = fair_key(vtime[f], served);
        }
        let ratio = cpu[1] as f64 / cpu[0] as f64;
        assert!((ratio - 0.25).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn one_queue_orders_by_level_then_fifo_key() {
        let now = 5_000_000_000_000u64;
        assert!(queue_vtime(2, now + 10) < queue_vtime(3, 1));
        assert!(queue_vtime(3, now) < queue_vtime(3, now + 1));
        assert_eq!(vtime_level(queue_vtime(NR_LEVELS - 1, u64::MAX)), NR_LEVELS - 1);
        assert_eq!(vtime_level(queue_vtime(7, now)), 7);
    }

    #[test]
    fn victims_are_strictly_worse_worst_first_then_longest_running() {
        assert!(!victim_better(3, 3, 0, None));
        assert!(!victim_better(3, LEVEL_NONE, 0, None));
        assert!(victim_better(3, 4, 50, None));
        assert!(victim_better(3, 6, 90, Some((4, 50))));
        assert!(!victim_better(3, 4, 90, Some((6, 50))));
        assert!(victim_better(3, 6, 40, Some((6, 50))));
        assert!(!victim_better(3, 6, 60, Some((6, 50))));
    }

    #[test]
    fn preemption_needs_a_strictly_better_level_and_the_quantum() {
        assert!(should_preempt(0, 3, 0, 0));
        assert!(!should_preempt(3, 3, 100 * MS, 0));
        assert!(!should_preempt(4, 3, 100 * MS, 0));
        assert!(!should_preempt(0, 3, 4 * MS, 5 * MS));
        assert!(should_preempt(0, 3, 5 * MS, 5 * MS));
        assert!(!should_preempt(0, LEVEL_NONE, 100 * MS, 0));
        // Host work: the host quantum, of the victim's burst (a daemon's
        // timer wake-up beside a hog) or, for a synchronous wake-up (a
        // consumer woken by its producer), of the victim's stint.
        assert_eq!(wake_quantum(false, false, false, 2 * MS, MS), (MS, true));
        assert_eq!(wake_quantum(false, false, true, 2 * MS, MS), (MS, false));
        assert!(should_preempt(1, 20, 50 * MS, MS));
        assert!(!should_preempt(1, 20, MS / 2, MS));
        // Functions: alps-io's minimum quantum of the stint for I/O-bound
        // wake-ups, synchronous or not.
        assert_eq!(wake_quantum(true, true, false, 2 * MS, MS), (2 * MS, false));
        assert_eq!(wake_quantum(true, true, true, 2 * MS, MS), (2 * MS, false));
        assert_eq!(wake_quantum(true, false, false, 2 * MS, MS), (0, false));
        assert!(tick_preempt(0, 5 * MS, false, true));
        assert!(!tick_preempt(4 * MS, 5 * MS, true, false));
        assert!(tick_preempt(5 * MS, 5 * MS, true, false));
        assert!(!tick_preempt(50 * MS, 5 * MS, false, false));
    }

    #[test]
    fn prev_keeps_cpu_against_equal_and_worse_levels() {
        assert!(!keep_prev(2, 0));
        assert!(!keep_prev(2, 1));
        assert!(keep_prev(2, 2));
        assert!(keep_prev(2, 3));
        assert!(!keep_prev(LEVEL_NONE, 7));
    }

    #[test]
    fn guard_serves_at_half_the_bound_and_scans_every_sixteenth() {
        assert_eq!(guard_threshold(1000 * MS), 500 * MS);
        assert_eq!(guard_interval(1000 * MS), 62_500_000);
        assert_eq!(guard_interval(8 * MS), MS);
        assert!(!is_starving(499 * MS, guard_threshold(1000 * MS)));
        assert!(is_starving(500 * MS, guard_threshold(1000 * MS)));
        assert!(!is_starving(u64::MAX, 0));
    }

    #[test]
    fn map_values_carry_at_most_the_bpf_step_count() {
        let f = FuncPolicy {
            steps: (0..20).map(|i| Step::constant((i + 1) * MS, MS)).collect(),
            flags: POL_IO_BOUND,
            ..FuncPolicy::default()
        };
        let v = bpf_policy(&f);
        assert_eq!(v.nr_steps as usize, SCHED_STEPS);
        assert_eq!(v.flags, POL_IO_BOUND);
        assert_eq!(v.steps[SCHED_STEPS - 1].until_ns, SCHED_STEPS as u64 * MS);
    }
}
