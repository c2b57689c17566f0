/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Enforcement rules of scx_alps as pure functions: no kernel types, no maps,
 * no helpers. The BPF scheduler (bpf/main.bpf.c) calls them on its hot paths;
 * the host build (src/policy_host.c) links the very same code into the Rust
 * crate, where unit tests and the simulator (bench/src/sim) call them.
 *
 * Units: every time is in ns. Ranks: 0 is the highest priority.
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

/* Floor of log2(@v); 0 for @v <= 1. Branches only, no loop, for the verifier. */
ALPS_INLINE u32 alps_ilog2(u64 v)
{
	u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/*
 * Rank of a task whose function has learned rank @base and expectation
 * @expect_ns, after @attained_ns of CPU in the current invocation.
 *
 * SRPT needs the remaining size; when a task outlives its prediction that
 * size is unknown, so the task is demoted one rank once it passes the
 * expectation and one more per further doubling (least-attained-service
 * fallback). @expect_ns == 0 disables demotion. Never returns a rank at or
 * beyond @nr_ranks.
 */
ALPS_INLINE u32 alps_demoted_rank(u32 base, u64 attained_ns, u64 expect_ns,
				  u32 nr_ranks)
{
	u32 extra, rank;

	if (nr_ranks == 0)
		return 0;
	if (base >= nr_ranks)
		base = nr_ranks - 1;
	if (!expect_ns || attained_ns <= expect_ns)
		return base;

	extra = 1 + alps_ilog2(attained_ns / expect_ns);
	rank = base + extra;
	if (rank >= nr_ranks || rank < base)
		rank = nr_ranks - 1;
	return rank;
}

/*
 * Queue level of a task. Levels order the DSQs: learned rank r sits at level
 * r below the neutral rank and at r + 1 from it on; tasks of no (or no
 * learned) function sit at level @neutral itself, so they neither jump ahead
 * of functions learned to be short nor fall behind those learned to be long.
 * There are @nr_ranks + 1 levels.
 */
ALPS_INLINE u32 alps_level(bool learned, u32 rank, u32 neutral, u32 nr_ranks)
{
	if (!learned || nr_ranks == 0)
		return neutral;
	if (rank >= nr_ranks)
		rank = nr_ranks - 1;
	return rank < neutral ? rank : rank + 1;
}

/*
 * Should a task of rank @waker_rank, just woken, preempt a CPU whose current
 * task has rank @victim_rank and has been running for @victim_ran_ns?
 *
 * Only a strictly better rank preempts. With @min_quantum_ns > 0 (the I/O
 * study's preemption throttling) the victim keeps the CPU until it has run
 * for at least that long.
 */
ALPS_INLINE bool alps_should_preempt(u32 waker_rank, u32 victim_rank,
				     u64 victim_ran_ns, u64 min_quantum_ns)
{
	if (victim_rank == ALPS_RANK_NONE || waker_rank >= victim_rank)
		return false;
	return victim_ran_ns >= min_quantum_ns;
}

/*
 * The starvation guard: a task that has been runnable for @waited_ns is
 * starving once it reaches @threshold_ns (0 disables the guard).
 */
ALPS_INLINE bool alps_is_starving(u64 waited_ns, u64 threshold_ns)
{
	return threshold_ns && waited_ns >= threshold_ns;
}

/*
 * Guard threshold for a user-facing bound @bound_ns on the runnable wait.
 * The guard scans the queues every alps_guard_interval(), moves tasks past
 * the threshold to the guard DSQ and preempts a CPU for them; each then runs
 * for at least one tick. A task therefore waits at most threshold + interval
 * + (starving tasks x tick / CPUs): a quarter of the bound for the threshold
 * and a sixteenth for the interval leave 11/16 of it to drain the guard DSQ
 * (about 340 tasks at once on 2 CPUs at HZ=250 for a 1 s bound).
 */
ALPS_INLINE u64 alps_guard_threshold(u64 bound_ns)
{
	return bound_ns / 4;
}

/* Period of the starvation guard's scan of the queues, for bound @bound_ns. */
ALPS_INLINE u64 alps_guard_interval(u64 bound_ns)
{
	u64 iv = bound_ns / 16;

	return iv < 1000000 ? 1000000 : iv;
}

/*
 * In ops.dispatch(), while scanning levels from 0 upwards: should the CPU keep
 * running @prev (still runnable, level @prev_rank) instead of taking a task from
 * level @scan_rank? True once every level better than or equal to @prev_rank was
 * empty, so @prev is strictly better than anything left. Equal levels take turns.
 */
ALPS_INLINE bool alps_keep_prev(u32 prev_rank, u32 scan_rank)
{
	return prev_rank < scan_rank;
}

/*
 * Slice for a task: the learned @slice_ns clamped to [@min_ns, @max_ns], or
 * @dflt_ns when nothing was learned (@slice_ns == 0).
 */
ALPS_INLINE u64 alps_clamp_slice(u64 slice_ns, u64 dflt_ns, u64 min_ns, u64 max_ns)
{
	if (!slice_ns)
		slice_ns = dflt_ns;
	if (slice_ns < min_ns)
		slice_ns = min_ns;
	if (max_ns && slice_ns > max_ns)
		slice_ns = max_ns;
	return slice_ns;
}

#endif /* __ALPS_POLICY_H */
