/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host build of include/policy.h: the enforcement rules of the BPF scheduler
 * compiled for user space, so Rust unit tests and the simulator call the very
 * code the kernel runs. Each wrapper only forwards to the inline rule.
 */
#include "../include/policy.h"

u32 alps_host_size_level(u64 r_ns)
{
	return alps_size_level(r_ns);
}

u64 alps_host_level_floor_ns(u32 level)
{
	return alps_level_floor_ns(level);
}

u32 alps_host_task_level(const struct alps_func_policy *pol, u64 attained_ns, bool *past)
{
	return alps_task_level(pol, attained_ns, past);
}

u64 alps_host_prior_floor_ns(const struct alps_func_policy *pol)
{
	return alps_prior_floor_ns(pol);
}

u64 alps_host_prior_attained(u64 attained_ns, u64 floor_ns, bool outgrown)
{
	return alps_prior_attained(attained_ns, floor_ns, outgrown);
}

bool alps_host_prior_outgrown(u64 attained_ns, u64 floor_ns)
{
	return alps_prior_outgrown(attained_ns, floor_ns);
}

u64 alps_host_task_slice(const struct alps_func_policy *pol, u32 level, u64 dflt_ns, u64 min_ns,
			 u64 max_ns)
{
	return alps_task_slice(pol, level, dflt_ns, min_ns, max_ns);
}

u64 alps_host_decay(u64 recent_ns, u64 slept_ns, u64 half_life_ns)
{
	return alps_decay(recent_ns, slept_ns, half_life_ns);
}

u64 alps_host_queue_key(bool is_func, u64 inv_start_ns, u64 runnable_at_ns, u64 fair_key)
{
	return alps_queue_key(is_func, inv_start_ns, runnable_at_ns, fair_key);
}

u64 alps_host_weighted_ns(u64 ns, u32 weight, u32 nr_cpus)
{
	return alps_weighted_ns(ns, weight, nr_cpus);
}

u64 alps_host_fair_key(u64 func_vtime, u64 served_vtime)
{
	return alps_fair_key(func_vtime, served_vtime);
}

u64 alps_host_fair_charge(u64 func_vtime, u64 fair_key, u64 ns, u32 weight, u32 nr_cpus)
{
	return alps_fair_charge(func_vtime, fair_key, ns, weight, nr_cpus);
}

bool alps_host_victim_better(u32 waker_level, u32 level, u64 started_ns, bool have_best,
			     u32 best_level, u64 best_started_ns)
{
	return alps_victim_better(waker_level, level, started_ns, have_best, best_level,
				  best_started_ns);
}

u64 alps_host_wake_quantum(bool is_func, bool io_bound_wakeup, bool sync, u64 min_quantum_ns,
			   u64 host_quantum_ns, bool *on_burst)
{
	return alps_wake_quantum(is_func, io_bound_wakeup, sync, min_quantum_ns, host_quantum_ns,
				 on_burst);
}

bool alps_host_should_preempt(u32 waker_level, u32 victim_level, u64 victim_ran_ns,
			      u64 min_quantum_ns)
{
	return alps_should_preempt(waker_level, victim_level, victim_ran_ns, min_quantum_ns);
}

bool alps_host_tick_preempt(u64 stint_ns, u64 min_quantum_ns, bool better_waiting, bool starving)
{
	return alps_tick_preempt(stint_ns, min_quantum_ns, better_waiting, starving);
}

bool alps_host_keep_prev(u32 prev_level, u32 scan_level)
{
	return alps_keep_prev(prev_level, scan_level);
}

u64 alps_host_guard_threshold(u64 bound_ns)
{
	return alps_guard_threshold(bound_ns);
}

u64 alps_host_guard_interval(u64 bound_ns)
{
	return alps_guard_interval(bound_ns);
}

bool alps_host_is_starving(u64 waited_ns, u64 threshold_ns)
{
	return alps_is_starving(waited_ns, threshold_ns);
}

u64 alps_host_queue_vtime(u32 level, u64 key_ns)
{
	return alps_queue_vtime(level, key_ns);
}

u32 alps_host_vtime_level(u64 vtime)
{
	return alps_vtime_level(vtime);
}

u32 alps_host_progress_level(u64 attained_ns, u32 reported)
{
	return alps_progress_level(attained_ns, reported);
}

bool alps_host_idle_gap_ends(u64 slept_ns, u64 gap_ns, bool is_func, bool hinted)
{
	return alps_idle_gap_ends(slept_ns, gap_ns, is_func, hinted);
}
