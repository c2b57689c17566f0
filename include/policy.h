/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The enforcement rules of scx_alps as pure functions: no kernel types, no
 * maps, no helpers. The BPF scheduler (bpf/main.bpf.c) calls them on its hot
 * paths; the host build (src/policy_host.c) links the very same code into the
 * Rust crate, where unit tests and the simulator (bench/src/sim) call them.
 * Each callback's decision is one of these functions; only the iteration over
 * CPUs and queues stays with the caller.
 *
 * Units: every time is in ns. Levels: 0 is served first.
 *
 * The rank size of a task is what SRPT would sort it by: the expected CPU it
 * still needs (learned functions, by their Gittins index), or, where nothing
 * is known, the CPU it has attained (least attained service, LAS). Levels are
 * half-octave buckets of the rank size, the same scale for every task.
 */
#ifndef __ALPS_POLICY_H
#define __ALPS_POLICY_H

#include "intf.h"

#ifndef __VMLINUX_H__
#include <stdbool.h>
#endif

#ifndef ALPS_INLINE
#define ALPS_INLINE static __attribute__((always_inline)) inline
#endif

/*
 * Floor of log2(@v); 0 for @v <= 1. Branch-free (the BPF backend expands
 * the count of leading zeros into shifts and masks): a branch per bit would
 * give the verifier a state per possible result.
 */
ALPS_INLINE u32 alps_ilog2(u64 v)
{
	return v > 1 ? 63 - (u32)__builtin_clzll(v) : 0;
}

/*
 * Level of rank size @r_ns: 0 below ALPS_LEVEL_BASE_NS (b), then two levels
 * per octave, split at 1.5: [b, 2b) is 1, [2b, 3b) 2, [3b, 4b) 3, [4b, 6b) 4,
 * [6b, 8b) 5, ...; capped at ALPS_NR_LEVELS - 1.
 */
ALPS_INLINE u32 alps_size_level(u64 r_ns)
{
	u64 u = r_ns / ALPS_LEVEL_BASE_NS;
	u32 k, level;

	if (!u)
		return 0;
	k = alps_ilog2(u);
	level = k ? 2 * k + ((u >> (k - 1)) & 1) : 1;
	return level < ALPS_NR_LEVELS ? level : ALPS_NR_LEVELS - 1;
}

/* Smallest rank size of level @level, ns (inverse of alps_size_level()). */
ALPS_INLINE u64 alps_level_floor_ns(u32 level)
{
	u32 k = level / 2;

	if (!level)
		return 0;
	if (level == 1)
		return ALPS_LEVEL_BASE_NS;
	if (level & 1)
		return (u64)ALPS_LEVEL_BASE_NS * 3 << (k - 1);
	return (u64)ALPS_LEVEL_BASE_NS << k;
}

/* Rank size given by schedule step @s after @attained_ns of CPU. */
ALPS_INLINE u64 alps_step_rank(const struct alps_sched_step *s, u64 attained_ns)
{
	if (!s->mult_q8)
		return s->target_ns;
	if (attained_ns >= s->target_ns)
		return 0;
	return ((s->target_ns - attained_ns) * s->mult_q8) >> 8;
}

/*
 * Level of a task after @attained_ns of CPU, given its function's learned
 * policy @pol (NULL or not valid: nothing learned).
 *
 * Learned: the step of the schedule the attained CPU falls in. Past the
 * last step the prediction was wrong (the invocation outgrew every sample):
 * the task falls back to least attained service, never above the last
 * step's level, and *@past is set. Nothing learned (unknown functions, work
 * of no function): least attained service, level of @attained_ns itself.
 */
ALPS_INLINE u32 alps_task_level(const struct alps_func_policy *pol, u64 attained_ns, bool *past)
{
	u32 i, n, las, last;

	*past = false;
	las = alps_size_level(attained_ns);
	if (!pol || !pol->valid || !pol->nr_steps)
		return las;

	n = pol->nr_steps < ALPS_SCHED_STEPS ? pol->nr_steps : ALPS_SCHED_STEPS;
	for (i = 0; i < ALPS_SCHED_STEPS; i++) {
		if (i >= n)
			break;
		if (attained_ns < pol->steps[i].until_ns)
			return alps_size_level(alps_step_rank(&pol->steps[i], attained_ns));
	}
	*past = true;
	last = alps_size_level(alps_step_rank(&pol->steps[n - 1], attained_ns));
	return las > last ? las : last;
}

/*
 * Progress record rule. Under overload the completed invocations are the
 * short ones: the long ones are still waiting, so a learner fed with
 * completions alone learns a function shorter than it is, and learns its
 * long sizes only when the backlog drains. An invocation of a function
 * therefore reports its attained CPU whenever it enters a level it has not
 * reported (@reported, 0 = none), from ALPS_PROGRESS_MIN_NS on: a censored
 * sample (the size is at least this) for the learner's estimate
 * (src/learner/sizes.rs), at most one record per half octave of CPU.
 * Returns the level to report, or 0 when no record is due.
 */
ALPS_INLINE u32 alps_progress_level(u64 attained_ns, u32 reported)
{
	u32 level;

	if (attained_ns < ALPS_PROGRESS_MIN_NS)
		return 0;
	level = alps_size_level(attained_ns);
	return level > reported ? level : 0;
}

/*
 * The prior's evidence rule. The prior (the schedule of functions not
 * learned yet, entry ALPS_FUNC_UNKNOWN) is the size distribution of the
 * learned functions; its last step, a constant rank below every learned
 * function, starts at the largest size any of them has. Once an invocation
 * of an unlearned function reaches that point, the function is known to be
 * larger than every learned one (on a host with one backlog: the function
 * that has not completed yet because it is the longest), and its later
 * invocations count their attained service from there: they wait, oldest
 * first, below learned work from their start instead of being taken for a
 * short function for the first part of each invocation.
 *
 * alps_prior_floor_ns(): where the prior's last step starts (0: no prior or
 * a prior of one step). alps_prior_attained(): the attained service a task
 * of an unlearned function is placed by, given whether its function has
 * outgrown the prior (@outgrown) and where the floor is.
 */
ALPS_INLINE u64 alps_prior_floor_ns(const struct alps_func_policy *pol)
{
	u64 floor = 0;
	u32 i, n;

	if (!pol || !pol->valid)
		return 0;
	n = pol->nr_steps < ALPS_SCHED_STEPS ? pol->nr_steps : ALPS_SCHED_STEPS;
	/* A bounded loop rather than steps[n - 2]: older verifiers lose the bound. */
	for (i = 0; i < ALPS_SCHED_STEPS; i++) {
		if (i + 1 >= n)
			break;
		floor = pol->steps[i].until_ns;
	}
	return floor;
}

ALPS_INLINE u64 alps_prior_attained(u64 attained_ns, u64 floor_ns, bool outgrown)
{
	return outgrown && attained_ns < floor_ns ? floor_ns : attained_ns;
}

/* Has a task of an unlearned function with @attained_ns outgrown the prior? */
ALPS_INLINE bool alps_prior_outgrown(u64 attained_ns, u64 floor_ns)
{
	return floor_ns && attained_ns >= floor_ns;
}

/*
 * Slice of a task at @level: its function's learned slice, or for tasks
 * placed by attained service half the level's smallest rank size (at least
 * @dflt_ns): equals at a level take turns, deep levels without needless
 * switches. Clamped to [@min_ns, @max_ns].
 */
ALPS_INLINE u64 alps_task_slice(const struct alps_func_policy *pol, u32 level, u64 dflt_ns,
				u64 min_ns, u64 max_ns)
{
	u64 s;

	if (pol && pol->valid && pol->slice_ns) {
		s = pol->slice_ns;
	} else {
		s = alps_level_floor_ns(level) / 2;
		if (s < dflt_ns)
			s = dflt_ns;
	}
	if (s < min_ns)
		s = min_ns;
	if (max_ns && s > max_ns)
		s = max_ns;
	return s;
}

/*
 * Attained-service measure of work that belongs to no function (the host's
 * daemons): recent CPU, halved per @half_life_ns of sleep. A task that wakes
 * for short bursts stays near level 0; a CPU hog sinks; splitting a long
 * burst with short sleeps buys nothing. 2^-x is taken as 1 - x/2 between
 * whole half-lives.
 */
ALPS_INLINE u64 alps_decay(u64 recent_ns, u64 slept_ns, u64 half_life_ns)
{
	u64 halves, frac;

	if (!half_life_ns)
		return 0;
	halves = slept_ns / half_life_ns;
	if (halves >= 64)
		return 0;
	recent_ns >>= halves;
	frac = ((slept_ns - halves * half_life_ns) << 10) / half_life_ns;
	return recent_ns - (recent_ns >> 11) * frac;
}

/*
 * Does a wake-up after @slept_ns asleep end one invocation and start the
 * next (--idle-gap-ms)? Only for a function's task that has never hinted
 * (hints delimit their invocations themselves), and only with a gap set.
 */
ALPS_INLINE bool alps_idle_gap_ends(u64 slept_ns, u64 gap_ns, bool is_func, bool hinted)
{
	return gap_ns && is_func && !hinted && slept_ns >= gap_ns;
}

/*
 * Queue key inside a level. FIFO: function invocations by their start, so
 * that among invocations of a level the oldest finishes first (SRPT among
 * equals) and keeps its place through preemptions and the guard's stints
 * (under overload SRPT's gain comes from finishing jobs one at a time);
 * work of no function by when it became runnable (equals take turns). Once
 * cgroup weights differ (@fair_key not 0): the fair queueing stamp, for an
 * invocation its own (alps_fair_key()), for work of no function the stamp
 * served when it enters the queue, as a function that used nothing.
 */
ALPS_INLINE u64 alps_queue_key(bool is_func, u64 inv_start_ns, u64 runnable_at_ns, u64 fair_key)
{
	if (fair_key)
		return fair_key;
	return is_func ? inv_start_ns : runnable_at_ns;
}

/*
 * cgroup cpu.weight (Docker's --cpu-shares; Kubernetes sets it from CPU
 * requests): a task's weight is its cpu cgroup's cpu.weight, 1..10000,
 * 100 the default. It acts where the learned order leaves a choice: among
 * invocations of one level. While every function's weight is the default
 * the level is FIFO (alps_queue_key()); once one differs, the level is
 * served by start-time fair queueing between functions (Goyal, Vin and
 * Cheng, "Start-time Fair Queueing", SIGCOMM 1996): an invocation entering
 * the queue for the first time is stamped with the later of its function's
 * virtual time and the stamp last served (alps_fair_key()) and keeps that
 * stamp; stamps are served in order; a function's virtual time advances
 * from the stamp of its running invocation by the CPU it gets over its
 * weight (alps_fair_charge()). Functions saturating a level then start
 * invocations in proportion to their weights, and a function that was idle
 * starts level with the one served, not ahead by what it did not use.
 *
 * Units: virtual ns, CPU ns divided by weight x nr_cpus (floored), so that
 * the virtual clock never runs faster than wall time (a weight-1 function
 * on every CPU) and its 56 bits in the DSQ key last as long as a wall
 * clock's.
 */
ALPS_INLINE u64 alps_weighted_ns(u64 ns, u32 weight, u32 nr_cpus)
{
	u64 d = (u64)(weight ? weight : ALPS_WEIGHT_DFL) * (nr_cpus ? nr_cpus : 1);

	return ns / d;
}

/* Stamp, virtual ns, of an invocation entering its level's queue. */
ALPS_INLINE u64 alps_fair_key(u64 func_vtime, u64 served_vtime)
{
	return func_vtime > served_vtime ? func_vtime : served_vtime;
}

/*
 * A function's virtual time after its invocation stamped @fair_key ran
 * @ns of CPU at weight @weight on a host of @nr_cpus CPUs: from the stamp
 * on if the function's time was behind it (the function was idle).
 */
ALPS_INLINE u64 alps_fair_charge(u64 func_vtime, u64 fair_key, u64 ns, u32 weight, u32 nr_cpus)
{
	return (func_vtime > fair_key ? func_vtime : fair_key) +
	       alps_weighted_ns(ns, weight, nr_cpus);
}

/*
 * DSQ vtime of a task of level @level with FIFO key @key_ns: the level in
 * the bits from ALPS_LEVEL_SHIFT up, the key below (its low 56 bits: 2.3
 * years of ns), so one vtime-ordered DSQ serves levels in order and each
 * level in FIFO order, and ops.dispatch() needs one look at its head rather
 * than one per level.
 */
ALPS_INLINE u64 alps_queue_vtime(u32 level, u64 key_ns)
{
	return ((u64)level << ALPS_LEVEL_SHIFT) | (key_ns & ((1ULL << ALPS_LEVEL_SHIFT) - 1));
}

/* Level of a queued task whose DSQ vtime is @vtime. */
ALPS_INLINE u32 alps_vtime_level(u64 vtime)
{
	return (u32)(vtime >> ALPS_LEVEL_SHIFT);
}

/*
 * Victim choice for a waking task of level @waker_level: is a CPU running
 * level @level since @started_ns a better victim than the best so far
 * (@have_best, @best_level, @best_started_ns)? Only strictly worse levels
 * qualify; the worst level first, among equals the longest-running stint.
 */
ALPS_INLINE bool alps_victim_better(u32 waker_level, u32 level, u64 started_ns, bool have_best,
				    u32 best_level, u64 best_started_ns)
{
	if (level == ALPS_LEVEL_NONE || level <= waker_level)
		return false;
	if (!have_best)
		return true;
	return level > best_level || (level == best_level && started_ns < best_started_ns);
}

/*
 * The CPU a victim keeps before a task waking at a better level may preempt
 * it, and what that CPU is counted on (*@on_burst: the victim's burst, its
 * CPU since it last woke up, over however many stints; else its current
 * stint). Work of no function: @host_quantum_ns. For a synchronous wake-up
 * (@sync: the waker hands work over, as a pipe or socket write does) of the
 * stint, as EEVDF's run-to-parity protects the running task: a producer
 * (hackbench's sender) is not preempted by its consumer at every message and
 * hands over batches. For any other wake-up (a timer, an interrupt) of the
 * burst: a CPU hog has always had it, so a daemon waking beside a hog runs
 * at once even when the hog's stint just began. A wake-up of an I/O-bound
 * function: @min_quantum_ns of the stint (alps-io, the I/O study's
 * preemption throttling). Anything else: none.
 */
ALPS_INLINE u64 alps_wake_quantum(bool is_func, bool io_bound_wakeup, bool sync, u64 min_quantum_ns,
				  u64 host_quantum_ns, bool *on_burst)
{
	*on_burst = !is_func && !sync;
	if (!is_func)
		return host_quantum_ns;
	return io_bound_wakeup ? min_quantum_ns : 0;
}

/*
 * Should a waking task of level @waker_level preempt the victim, whose task
 * runs at @victim_level and has had @victim_ran_ns of its stint? Only a
 * strictly better level preempts, and only once the victim has had
 * @min_quantum_ns (the I/O study's preemption throttling; 0 = at once).
 */
ALPS_INLINE bool alps_should_preempt(u32 waker_level, u32 victim_level, u64 victim_ran_ns,
				     u64 min_quantum_ns)
{
	if (victim_level == ALPS_LEVEL_NONE || waker_level >= victim_level)
		return false;
	return victim_ran_ns >= min_quantum_ns;
}

/*
 * At a tick: end the running task's stint (it has run @stint_ns) because a
 * task of a better level waits (@better_waiting) and the stint has had
 * @min_quantum_ns, or because the guard found a starving task (@starving)?
 */
ALPS_INLINE bool alps_tick_preempt(u64 stint_ns, u64 min_quantum_ns, bool better_waiting,
				   bool starving)
{
	return starving || (better_waiting && stint_ns >= min_quantum_ns);
}

/*
 * In ops.dispatch(), scanning levels from 0 upwards: does the still-runnable
 * previous task (level @prev_level) keep the CPU rather than take a task of
 * level @scan_level? Yes from its own level on: only a strictly better level
 * takes the CPU. Equals do not take turns when a slice ends: turns would
 * make a level a round robin, and under overload SRPT gains by finishing
 * the invocation it runs (equals trade places as their levels change).
 */
ALPS_INLINE bool alps_keep_prev(u32 prev_level, u32 scan_level)
{
	return prev_level <= scan_level;
}

/*
 * The starvation guard. Every alps_guard_interval() the levels' DSQ is
 * scanned from its tail (the worst levels, ALPS_GUARD_SCAN_MAX deep); a task
 * runnable for alps_guard_threshold() moves to the guard
 * DSQ, is served before every level for one tick (sched_ext ends slices at
 * ticks), and a CPU is preempted for it. A task therefore waits at most
 * threshold + interval + (starving tasks x tick / CPUs): with half the bound
 * as threshold and a sixteenth as interval, 7/16 of the bound are left to
 * drain the guard DSQ (for a 1 s bound about 875 tasks starving at once on 2
 * CPUs at HZ=1000, 218 at HZ=250), and each starving task costs one tick per
 * half bound, not per quarter.
 */
ALPS_INLINE u64 alps_guard_threshold(u64 bound_ns)
{
	return bound_ns / 2;
}

/* Period of the guard's scan of the queues, for bound @bound_ns. */
ALPS_INLINE u64 alps_guard_interval(u64 bound_ns)
{
	u64 iv = bound_ns / 16;

	return iv < 1000000 ? 1000000 : iv;
}

/* Is a task runnable for @waited_ns starving against @threshold_ns (0: never)? */
ALPS_INLINE bool alps_is_starving(u64 waited_ns, u64 threshold_ns)
{
	return threshold_ns && waited_ns >= threshold_ns;
}

#endif /* __ALPS_POLICY_H */
