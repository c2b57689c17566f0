/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host build of include/policy.h: the enforcement rules of the BPF scheduler
 * compiled for user space, so Rust unit tests and the simulator call the very
 * code the kernel runs. Each wrapper only forwards to the inline rule.
 */
#include "../include/policy.h"

u32 alps_host_demoted_rank(u32 base, u64 attained_ns, u64 expect_ns, u32 nr_ranks)
{
	return alps_demoted_rank(base, attained_ns, expect_ns, nr_ranks);
}

bool alps_host_should_preempt(u32 waker_rank, u32 victim_rank, u64 victim_ran_ns,
			      u64 min_quantum_ns)
{
	return alps_should_preempt(waker_rank, victim_rank, victim_ran_ns, min_quantum_ns);
}

u32 alps_host_level(bool learned, u32 rank, u32 neutral, u32 nr_ranks)
{
	return alps_level(learned, rank, neutral, nr_ranks);
}

u64 alps_host_guard_interval(u64 bound_ns)
{
	return alps_guard_interval(bound_ns);
}

bool alps_host_is_starving(u64 waited_ns, u64 threshold_ns)
{
	return alps_is_starving(waited_ns, threshold_ns);
}

u64 alps_host_guard_threshold(u64 bound_ns)
{
	return alps_guard_threshold(bound_ns);
}

bool alps_host_keep_prev(u32 prev_rank, u32 scan_rank)
{
	return alps_keep_prev(prev_rank, scan_rank);
}

u64 alps_host_clamp_slice(u64 slice_ns, u64 dflt_ns, u64 min_ns, u64 max_ns)
{
	return alps_clamp_slice(slice_ns, dflt_ns, min_ns, max_ns);
}
