//! The scheduler's enforcement rules, as the kernel runs them.
//!
//! `include/policy.h` holds the rules the BPF program applies on every
//! enqueue, dispatch and tick (demotion, wake-up preemption, the starvation
//! guard, slice clamping). The build compiles the same header for the host
//! (`src/policy_host.c`); these safe wrappers call that object code, so unit
//! tests and the simulator exercise exactly what runs in the kernel.
//!
//! All times are in nanoseconds; rank 0 is the highest priority.

unsafe extern "C" {
    fn alps_host_demoted_rank(base: u32, attained_ns: u64, expect_ns: u64, nr_ranks: u32) -> u32;
    fn alps_host_should_preempt(waker_rank: u32, victim_rank: u32, victim_ran_ns: u64, min_quantum_ns: u64) -> bool;
    fn alps_host_level(learned: bool, rank: u32, neutral: u32, nr_ranks: u32) -> u32;
    fn alps_host_guard_interval(bound_ns: u64) -> u64;
    fn alps_host_is_starving(waited_ns: u64, threshold_ns: u64) -> bool;
    fn alps_host_guard_threshold(bound_ns: u64) -> u64;
    fn alps_host_keep_prev(prev_rank: u32, scan_rank: u32) -> bool;
    fn alps_host_clamp_slice(slice_ns: u64, dflt_ns: u64, min_ns: u64, max_ns: u64) -> u64;
}

/// Rank marking "no sched_ext task on this CPU" (never preempted by us).
pub const RANK_NONE: u32 = crate::bpf_intf::alps_consts_ALPS_RANK_NONE;

/// Rank after demotion: `base` until `attained_ns` exceeds `expect_ns`, then
/// one rank lower, and one more per further doubling; capped at
/// `nr_ranks - 1`. `expect_ns == 0` disables demotion.
pub fn demoted_rank(base: u32, attained_ns: u64, expect_ns: u64, nr_ranks: u32) -> u32 {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_demoted_rank(base, attained_ns, expect_ns, nr_ranks) }
}

/// Queue level of a task: learned rank `rank` sits at level `rank` below
/// `neutral` and `rank + 1` from it on; unlearned tasks (`learned == false`)
/// sit at level `neutral`. There are `nr_ranks + 1` levels.
pub fn level(learned: bool, rank: u32, neutral: u32, nr_ranks: u32) -> u32 {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_level(learned, rank, neutral, nr_ranks) }
}

/// Period of the starvation guard's queue scan for a bound `bound_ns`.
pub fn guard_interval(bound_ns: u64) -> u64 {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_guard_interval(bound_ns) }
}

/// Whether a waking task of rank `waker_rank` preempts a running task of rank
/// `victim_rank` that has run `victim_ran_ns` of its stint: only a strictly
/// better rank does, and only once the victim has had `min_quantum_ns`.
pub fn should_preempt(waker_rank: u32, victim_rank: u32, victim_ran_ns: u64, min_quantum_ns: u64) -> bool {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_should_preempt(waker_rank, victim_rank, victim_ran_ns, min_quantum_ns) }
}

/// Whether a task runnable for `waited_ns` is starving against `threshold_ns`
/// (0 disables the guard).
pub fn is_starving(waited_ns: u64, threshold_ns: u64) -> bool {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_is_starving(waited_ns, threshold_ns) }
}

/// Age at which the guard serves a task, for a user bound `bound_ns` on the
/// runnable wait (`--starvation-ms`).
pub fn guard_threshold(bound_ns: u64) -> u64 {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_guard_threshold(bound_ns) }
}

/// In dispatch, scanning ranks upwards from 0: whether the still-runnable
/// previous task (rank `prev_rank`) keeps the CPU rather than taking a task
/// from `scan_rank`.
pub fn keep_prev(prev_rank: u32, scan_rank: u32) -> bool {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_keep_prev(prev_rank, scan_rank) }
}

/// The slice a task gets: learned `slice_ns` (0 = not learned, use `dflt_ns`)
/// clamped to `[min_ns, max_ns]` (`max_ns == 0`: no cap).
pub fn clamp_slice(slice_ns: u64, dflt_ns: u64, min_ns: u64, max_ns: u64) -> u64 {
    // SAFETY: pure function over integers, no pointers.
    unsafe { alps_host_clamp_slice(slice_ns, dflt_ns, min_ns, max_ns) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn demotion_starts_past_expectation_and_deepens_per_doubling() {
        assert_eq!(demoted_rank(1, 5 * MS, 10 * MS, 8), 1);
        assert_eq!(demoted_rank(1, 10 * MS, 10 * MS, 8), 1);
        assert_eq!(demoted_rank(1, 11 * MS, 10 * MS, 8), 2);
        assert_eq!(demoted_rank(1, 20 * MS, 10 * MS, 8), 3);
        assert_eq!(demoted_rank(1, 39 * MS, 10 * MS, 8), 3);
        assert_eq!(demoted_rank(1, 40 * MS, 10 * MS, 8), 4);
        // Capped at the last rank, never beyond.
        assert_eq!(demoted_rank(1, 10_000 * MS, 10 * MS, 8), 7);
        assert_eq!(demoted_rank(6, u64::MAX, 1, 8), 7);
        // No expectation: no demotion. Out-of-range base is clamped.
        assert_eq!(demoted_rank(2, 10_000 * MS, 0, 8), 2);
        assert_eq!(demoted_rank(12, 0, 0, 8), 7);
    }

    #[test]
    fn preemption_needs_a_strictly_better_rank_and_the_quantum() {
        assert!(should_preempt(0, 3, 0, 0));
        assert!(!should_preempt(3, 3, 100 * MS, 0));
        assert!(!should_preempt(4, 3, 100 * MS, 0));
        assert!(!should_preempt(0, 3, 4 * MS, 5 * MS));
        assert!(should_preempt(0, 3, 5 * MS, 5 * MS));
        assert!(!should_preempt(0, RANK_NONE, 100 * MS, 0));
    }

    #[test]
    fn levels_put_unlearned_tasks_between_learned_ranks() {
        // 8 ranks, neutral 4: ranks 0-3 -> levels 0-3, neutral -> 4, ranks 4-7 -> 5-8.
        let lv: Vec<u32> = (0..8).map(|r| level(true, r, 4, 8)).collect();
        assert_eq!(lv, vec![0, 1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(level(false, 0, 4, 8), 4);
        assert_eq!(level(true, 99, 4, 8), 8);
        // A neutral rank of 0 puts unknown tasks first.
        assert_eq!(level(false, 3, 0, 8), 0);
        assert_eq!(level(true, 0, 0, 8), 1);
    }

    #[test]
    fn guard_scans_every_sixteenth_of_the_bound_but_not_faster_than_1ms() {
        assert_eq!(guard_interval(1000 * MS), 62_500_000);
        assert_eq!(guard_interval(8 * MS), MS);
    }

    #[test]
    fn guard_fires_at_a_quarter_of_the_bound_and_can_be_disabled() {
        assert_eq!(guard_threshold(1000 * MS), 250 * MS);
        assert!(!is_starving(249 * MS, guard_threshold(1000 * MS)));
        assert!(is_starving(250 * MS, guard_threshold(1000 * MS)));
        assert!(!is_starving(u64::MAX, 0));
    }

    #[test]
    fn prev_keeps_cpu_only_against_worse_ranks() {
        assert!(!keep_prev(2, 0));
        assert!(!keep_prev(2, 2));
        assert!(keep_prev(2, 3));
        assert!(!keep_prev(RANK_NONE, 7));
    }

    #[test]
    fn slices_are_clamped() {
        assert_eq!(clamp_slice(0, 8 * MS, MS, 200 * MS), 8 * MS);
        assert_eq!(clamp_slice(MS / 10, 8 * MS, MS, 200 * MS), MS);
        assert_eq!(clamp_slice(500 * MS, 8 * MS, MS, 200 * MS), 200 * MS);
        assert_eq!(clamp_slice(500 * MS, 8 * MS, MS, 0), 500 * MS);
    }
}
