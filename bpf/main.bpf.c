/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_alps: learned SRPT priorities and time slices for FaaS invocations.
 *
 * Every task belongs to a function (func_id, from its cgroup or its comm)
 * or to none (the host's own work). User space learns per function a level
 * schedule and a slice from recent invocations and writes them into
 * func_policy; this program enforces them:
 *
 * - levels: level 0 first, FIFO inside a level (by cgroup weight once
 *   functions' cpu.weight differ: start-time fair queueing), all in one
 *   vtime-ordered DSQ keyed by (level, key). A task's level
 *   is the half-octave bucket of its rank size: for a learned function the
 *   expected CPU it still needs (its schedule: ALPS's mean stint, or the
 *   Gittins index of the function's sizes under alps-io); for a function
 *   not learned yet its attained CPU (least attained service); for host work
 *   its recent CPU, fading while it sleeps. A learned invocation that outgrows
 *   its schedule falls back to attained service.
 * - enqueue: a task whose level beats the worst running task kicks that CPU;
 *   wake-ups of I/O-bound functions only once the victim had its minimum
 *   quantum (alps-io).
 * - dispatch: the guard DSQ first, then levels in order; the running task
 *   keeps the CPU while nothing better waits.
 * - tick: the running task's level is refreshed; a better waiting task or
 *   a starving one ends its stint.
 * - starvation guard: every sixteenth of --starvation-ms the heads of the
 *   levels are scanned; tasks runnable for half of it move to the guard DSQ,
 *   are served before every level for one tick, and a CPU is preempted.
 * - cgroups: ops.cgroup_init/cgroup_set_weight keep each cgroup's
 *   cpu.weight; ops.enqueue() reads the task's.
 * - the loader's own threads run from the guard DSQ: the learner must not be
 *   starved by the load it learns from.
 * - accounting: CPU, runnable wait, blocked time and switch counts per
 *   invocation; one invocation record per invocation goes to user space over
 *   a ring buffer. An invocation is a task's lifetime, or, on a thread the
 *   function runtime hints (uprobes on alps_invocation_begin/_end), the span
 *   between its begin and end hints: warm workers serve many requests.
 *
 * Every decision is a pure function of include/policy.h, shared with the
 * host build so that unit tests and the simulator run the same code.
 */
#include <scx/common.bpf.h>
#include "intf.h"
#include "policy.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/* ---------------------------------------------------------------------------
 * Tunables, set by the loader before load.
 */
const volatile u64 slice_dfl_ns = 8ULL * 1000 * 1000;	/* shortest slice by attained service */
const volatile u64 slice_min_ns = 500ULL * 1000;	/* floor of any slice */
const volatile u64 slice_max_ns = 200ULL * 1000 * 1000; /* cap of any slice (ALPS: 200 ms) */
const volatile u64 min_quantum_ns;			/* alps-io preemption throttle, 0 = off */
const volatile u64 host_quantum_ns = ALPS_DFL_HOST_QUANTUM_US * 1000ULL; /* --host-quantum-us */
const volatile u64 starvation_ns = 1000ULL * 1000 * 1000;   /* bound on runnable wait */
const volatile u64 host_half_life_ns = 10ULL * 1000 * 1000; /* host work's recent CPU fades */
const volatile u32 tag_mode = ALPS_TAG_CGROUP;
const volatile bool preempt_enabled = true;
const volatile bool progress_enabled; /* alps-io: progress records for the learner */
const volatile u32 loader_tgid;	      /* scx_alps itself */
/* --idle-gap-ms: a function's task waking after a longer sleep starts a new invocation (0: off) */
const volatile u64 idle_gap_ns;
/* --ignore-cgroup-weight: every function at the default weight, levels stay FIFO */
const volatile bool ignore_weight;

/*
 * Bumped by user space whenever it changes cgrp_func or comm_func, so tasks
 * look their function up again.
 */
volatile u64 tag_gen;

/* Tasks queued per level DSQ, refreshed by the read_queues program. */
s32 queue_depths[ALPS_NR_LEVELS];

/*
 * Functions not learned yet whose invocations outgrew the prior (the prior's
 * evidence rule, include/policy.h); indexed by function id. Set here;
 * cleared by user space only when it forgets a function and recycles its id:
 * once the function is learned its own schedule applies.
 */
u8 func_outgrown[ALPS_MAX_FUNCS];

/*
 * cgroup weights (include/policy.h, alps_fair_key()). weight_gen is bumped
 * whenever a cgroup's cpu.weight changes, so tasks recompute theirs.
 * weighted is set once a function's task has a weight other than the
 * default, and stays set: from then on each level is served by start-time
 * fair queueing stamps. func_vtime: each function's virtual time;
 * served_vtime: the stamp last put on a CPU, started at the wall time when
 * weighted turns on (virtual ns, alps_weighted_ns()).
 */
volatile u64 weight_gen;
bool weighted;
u64 func_vtime[ALPS_MAX_FUNCS];
static u64 served_vtime;

/* Number of possible CPUs, set at init. */
static u32 nr_cpus;

/* When the starvation guard scans the queues next. */
static u64 guard_next_scan;

/*
 * Changed (to the time of the change) whenever a task starts waiting in a
 * DSQ; a CPU's tick looks for a better waiting task only when this moved
 * since its last look, when its task's level worsened, or in a new stint:
 * otherwise nothing it could find has changed, and on 6.12 each look at a
 * DSQ's head costs an iterator.
 */
static volatile u64 wait_seq;

/* ---------------------------------------------------------------------------
 * Maps.
 */
struct task_ctx {
	u64 cset;		  /* css_set the cgroup id was read from (moves change it) */
	u64 cgid;		  /* cgroup id the function was looked up for */
	u64 tag_gen;		  /* tag_gen at that lookup */
	char comm[ALPS_COMM_LEN]; /* comm the function was looked up for */
	u32 func_id;
	u32 level;	    /* level at the last enqueue or stint */
	u32 progress_level; /* level of the last progress record (0: none) */
	u64 inv_start;	    /* start of the invocation: task creation */
	u64 recent_ns;	    /* host work: recent CPU (weighted), fading while asleep */
	u64 burst_ns;	    /* CPU since the last wake-up (or creation) */
	u64 runnable_at;    /* start of the current runnable wait, 0 if none */
	u64 running_at;	    /* start of the current stint on a CPU */
	u64 sleep_at;	    /* start of the current sleep, 0 if none */
	u64 cpu_ns;	    /* CPU in this invocation */
	u64 wait_ns;
	u64 blocked_ns;
	u64 nvcsw;
	u64 nivcsw;
	bool guarded;	 /* moved to the guard DSQ: not preemptible this stint */
	bool in_levels;	 /* inserted into the levels' DSQ since its last stint */
	bool sync_wake;	 /* the pending wake-up is synchronous (SCX_WAKE_SYNC) */
	bool reported;	 /* invocation record already sent */
	bool hinted;	 /* has called alps_invocation_begin(): no lifetime record */
	bool in_hint;	 /* inside a hinted invocation: func_id is the hint's */
	u8 src;		 /* enum alps_inv_source of the current invocation */
	u32 weight;	 /* its cpu cgroup's cpu.weight, 1..10000 (100: default) */
	u64 weight_cset; /* css_set the weight was computed for */
	u64 weight_gen;	 /* weight_gen at that computation */
	u64 fair_key;	 /* its invocation's fair queueing stamp, virtual ns (0: none) */
	char hint_name[ALPS_COMM_LEN]; /* function named by the open hint */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

/* cgroup v2 id -> func_id, written by user space (--func-id cgroup). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, u32);
} cgrp_func SEC(".maps");

/* comm -> func_id, written by user space (--func-id comm). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ALPS_MAX_FUNCS);
	__type(key, char[ALPS_COMM_LEN]);
	__type(value, u32);
} comm_func SEC(".maps");

/*
 * Function name given to alps_invocation_begin() (NUL-padded, truncated to 15
 * bytes) -> func_id, written by user space when a hinted record names a new
 * function.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ALPS_MAX_FUNCS);
	__type(key, char[ALPS_COMM_LEN]);
	__type(value, u32);
} hint_func SEC(".maps");

/* A cgroup's cpu.weight, from ops.cgroup_init() and ops.cgroup_set_weight(). */
struct cgrp_ctx {
	u32 weight;
};

struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgrp_ctx);
} cgrp_ctx_stor SEC(".maps");

/* func_id -> learned policy, written by user space every learning interval. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ALPS_MAX_FUNCS);
	__type(key, u32);
	__type(value, struct alps_func_policy);
} func_policy SEC(".maps");

/* What runs on each CPU, for picking a preemption victim. */
struct cpu_state {
	u32 level; /* ALPS_LEVEL_NONE when no sched_ext task runs */
	u32 pad;
	u64 started_at;		/* start of the current stint */
	u64 burst_ns;		/* the running task's burst before this stint */
	u64 seen_wait;		/* wait_seq when this CPU's tick last found nothing better */
} __attribute__((aligned(64))); /* one cache line per CPU: each CPU writes its own */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ALPS_MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_state);
} cpu_state_stor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct alps_stats);
} stats SEC(".maps");

/* Invocation records; the loader may resize it before load (--ringbuf-kb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* ---------------------------------------------------------------------------
 * Lookup helpers.
 */
static __always_inline u32 lvl_idx(u32 level)
{
	/* Bounds per-level indexes for the verifier. */
	return level & (ALPS_NR_LEVELS - 1);
}

static struct task_ctx *lookup_task_ctx(const struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctx_stor, (struct task_struct *)p, 0, 0);
}

static struct alps_stats *lookup_stats(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static struct cpu_state *lookup_cpu_state(s32 cpu)
{
	u32 key = cpu;

	return bpf_map_lookup_elem(&cpu_state_stor, &key);
}

/*
 * The learned policy of @func_id; entry ALPS_FUNC_UNKNOWN holds the prior of
 * functions not learned yet. NULL until user space wrote a valid one.
 */
static const struct alps_func_policy *lookup_policy(u32 func_id)
{
	const struct alps_func_policy *pol;

	if (func_id >= ALPS_MAX_FUNCS)
		return NULL;
	pol = bpf_map_lookup_elem(&func_policy, &func_id);
	return pol && pol->valid ? pol : NULL;
}

/*
 * Look the task's function up again if its cgroup or comm changed, or if user
 * space changed the tag maps since the last lookup. In cgroup mode the common
 * case costs one load: the task's css_set pointer, which changes whenever the
 * task moves between cgroups.
 */
static void refresh_func(const struct task_struct *p, struct task_ctx *tctx)
{
	u64 gen = tag_gen;
	u32 *func;

	/* Kthreads have no function; a hinted invocation keeps the hint's. */
	if ((p->flags & PF_KTHREAD) || tctx->in_hint)
		return;

	if (tag_mode == ALPS_TAG_COMM) {
		char comm[ALPS_COMM_LEN];
		u64 *now = (u64 *)comm, *was = (u64 *)tctx->comm;

		if (bpf_probe_read_kernel(comm, sizeof(comm), p->comm))
			return;
		if (now[0] == was[0] && now[1] == was[1] && tctx->tag_gen == gen)
			return;
		__builtin_memcpy(tctx->comm, comm, sizeof(comm));
		func = bpf_map_lookup_elem(&comm_func, comm);
	} else {
		u64 cset = (u64)BPF_CORE_READ(p, cgroups);

		if (cset == tctx->cset && tctx->tag_gen == gen)
			return;
		tctx->cset = cset;
		tctx->cgid = BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
		func = bpf_map_lookup_elem(&cgrp_func, &tctx->cgid);
	}
	tctx->tag_gen = gen;
	/* A stamp is its function's: a task moved to another one gets a new one. */
	if ((func ? *func : ALPS_FUNC_UNKNOWN) != tctx->func_id)
		tctx->fair_key = 0;
	tctx->func_id = func ? *func : ALPS_FUNC_UNKNOWN;
}

/*
 * Recompute the task's weight, its cpu cgroup's cpu.weight (the cgroup
 * whose cpu.* files govern it), if it moved to another cgroup or a weight
 * changed since. From ops.enqueue() only: scx_bpf_task_cgroup() is allowed
 * on the task a callback runs for, and uprobes may not call cgroup kfuncs.
 */
static void refresh_weight(struct task_struct *p, struct task_ctx *tctx)
{
	u64 cset, gen = weight_gen;
	struct cgrp_ctx *cc;
	struct cgroup *cg;

	if (ignore_weight || (p->flags & PF_KTHREAD))
		return;
	cset = (u64)BPF_CORE_READ(p, cgroups);
	if (cset == tctx->weight_cset && tctx->weight_gen == gen)
		return;
	tctx->weight_cset = cset;
	tctx->weight_gen = gen;
	tctx->weight = ALPS_WEIGHT_DFL;
	cg = scx_bpf_task_cgroup(p);
	if (!cg)
		return;
	cc = bpf_cgrp_storage_get(&cgrp_ctx_stor, cg, 0, 0);
	if (cc && cc->weight)
		tctx->weight = cc->weight;
	bpf_cgroup_release(cg);
}

/*
 * The thread's own function (cgroup or comm), whatever hint it was under:
 * after a request, or for a request whose hint name is not registered yet.
 */
static void own_func(const struct task_struct *p, struct task_ctx *tctx)
{
	tctx->in_hint = false;
	tctx->tag_gen = (u64)-1;
	refresh_func(p, tctx);
}

/* ---------------------------------------------------------------------------
 * Policy helpers.
 */
static bool is_pcpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

static bool is_loader(const struct task_struct *p)
{
	return loader_tgid && p->tgid == loader_tgid;
}

static bool is_func(const struct task_ctx *tctx)
{
	return tctx->func_id != ALPS_FUNC_UNKNOWN;
}

/*
 * stint_ns(): CPU of the stint in progress. attained_ns(): attained service,
 * including that stint: CPU in this invocation for a function's task,
 * recent CPU for host work.
 */
static u64 stint_ns(const struct task_ctx *tctx, u64 now)
{
	return tctx->running_at && now > tctx->running_at ? now - tctx->running_at : 0;
}

static u64 attained_ns(const struct task_ctx *tctx, u64 now)
{
	return (is_func(tctx) ? tctx->cpu_ns : tctx->recent_ns) + stint_ns(tctx, now);
}

/*
 * The policy tasks of @func_id are placed by: their function's, or the prior
 * while the function is not learned; none for host work (ALPS_FUNC_UNKNOWN:
 * least attained service on its recent CPU).
 */
static const struct alps_func_policy *policy_of(u32 func_id)
{
	const struct alps_func_policy *pol;

	if (func_id == ALPS_FUNC_UNKNOWN)
		return NULL;
	pol = lookup_policy(func_id);
	return pol ? pol : lookup_policy(ALPS_FUNC_UNKNOWN);
}

static const struct alps_func_policy *task_policy(const struct task_ctx *tctx)
{
	return policy_of(tctx->func_id);
}

/* Bit of alps_level_of()'s result: the task outgrew its learned schedule. */
#define LEVEL_PAST (1U << 16)

/*
 * alps_task_level() for a task of @func_id as a global function (for a
 * function not learned yet: the prior, after the prior's evidence rule): the
 * verifier checks it once rather than at every call site, where its loop
 * over the schedule's steps would multiply the caller's states. Scalar
 * arguments only, so every kernel accepts the call.
 */
__noinline u32 alps_level_of(u32 func_id, u64 attained_ns)
{
	const struct alps_func_policy *pol = NULL;
	bool past;
	u32 level;

	if (func_id != ALPS_FUNC_UNKNOWN) {
		pol = lookup_policy(func_id);
		if (!pol && func_id < ALPS_MAX_FUNCS) {
			/* Not learned: the prior, with its evidence rule. */
			u32 f = func_id & (ALPS_MAX_FUNCS - 1);
			u64 floor;

			pol = lookup_policy(ALPS_FUNC_UNKNOWN);
			floor = alps_prior_floor_ns(pol);
			/* Store once: the flag's cache line is shared by every CPU. */
			if (!func_outgrown[f] && alps_prior_outgrown(attained_ns, floor))
				func_outgrown[f] = 1;
			attained_ns = alps_prior_attained(attained_ns, floor, func_outgrown[f]);
		} else if (!pol) {
			pol = lookup_policy(ALPS_FUNC_UNKNOWN);
		}
	}
	level = alps_task_level(pol, attained_ns, &past);
	return level | (past ? LEVEL_PAST : 0);
}

/* Level of @tctx's task at @now; *@past: it outgrew its learned schedule. */
static u32 task_level(const struct task_ctx *tctx, u64 now, bool *past)
{
	u32 v = alps_level_of(tctx->func_id, attained_ns(tctx, now));

	*past = v & LEVEL_PAST;
	return lvl_idx(v);
}

static u64 task_slice(const struct task_ctx *tctx, u32 level)
{
	return alps_task_slice(task_policy(tctx), level, slice_dfl_ns, slice_min_ns, slice_max_ns);
}

/*
 * The task's key inside its level. With weights on, an invocation is
 * stamped once, when it first enters the queue (alps_fair_key()), and keeps
 * its stamp through preemptions and sleeps, as it keeps its start under
 * FIFO: it comes back out of stamp order (at whatever level it has
 * reached), and a fresh stamp would carry the served clock past every
 * waiting one. Host work takes the stamp served when it enters the queue.
 */
static u64 queue_key(struct task_ctx *tctx, struct alps_stats *st)
{
	if (!weighted)
		return alps_queue_key(is_func(tctx), tctx->inv_start, tctx->runnable_at, 0);
	if (!is_func(tctx))
		return alps_queue_key(false, tctx->inv_start, tctx->runnable_at, served_vtime);
	if (!tctx->fair_key) {
		tctx->fair_key = alps_fair_key(func_vtime[tctx->func_id & (ALPS_MAX_FUNCS - 1)],
					       served_vtime);
		if (st)
			st->nr_weighted++;
	}
	return alps_queue_key(true, tctx->inv_start, tctx->runnable_at, tctx->fair_key);
}

/*
 * Charge @delta ns of CPU of a function's task to its function's virtual
 * time (alps_fair_charge()). Not atomic: two CPUs charging one function at
 * the same instant may lose one of the two stints' charges.
 */
static void charge_fair(struct task_ctx *tctx, u64 delta)
{
	u64 *fv;

	if (!weighted || !delta || !is_func(tctx))
		return;
	fv = &func_vtime[tctx->func_id & (ALPS_MAX_FUNCS - 1)];
	*fv = alps_fair_charge(*fv, tctx->fair_key, delta, tctx->weight, nr_cpus);
}

/* The first function task with a weight other than the default turns weights on. */
static void maybe_start_weighted(const struct task_ctx *tctx, u64 now)
{
	if (weighted || !is_func(tctx) || !tctx->weight || tctx->weight == ALPS_WEIGHT_DFL)
		return;
	served_vtime = now;
	weighted = true;
}

static void insert_level(struct task_struct *p, struct task_ctx *tctx, u32 level, u64 enq_flags)
{
	struct alps_stats *st = lookup_stats();

	level = lvl_idx(level);
	tctx->in_levels = true;
	scx_bpf_dsq_insert_vtime(p, ALPS_DSQ_LEVELS, task_slice(tctx, level),
				 alps_queue_vtime(level, queue_key(tctx, st)), enq_flags);
}

/* Level of @p, queued in ALPS_DSQ_LEVELS. */
static u32 queued_level(const struct task_struct *p)
{
	return alps_vtime_level(p->scx.dsq_vtime);
}

/*
 * Kick the CPU running the worst level, if @level beats it and the victim
 * has had its quantum (alps_wake_quantum(): @is_func, @io a wake-up of an
 * I/O-bound function, @sync a synchronous wake-up). Only CPUs @p may run on
 * are considered.
 */
static void try_preempt(const struct task_struct *p, u32 level, bool is_func, bool io, bool sync,
			u64 now, struct alps_stats *st)
{
	u64 victim_started = 0, victim_burst = 0, quantum, ran;
	u32 cpu, victim_level = 0;
	bool have = false, on_burst;
	s32 victim = -1;

	bpf_for(cpu, 0, nr_cpus) {
		struct cpu_state *cs;

		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		cs = lookup_cpu_state(cpu);
		if (!cs || !alps_victim_better(level, cs->level, cs->started_at, have, victim_level,
					       victim_started))
			continue;
		have = true;
		victim = cpu;
		victim_level = cs->level;
		victim_started = cs->started_at;
		victim_burst = cs->burst_ns;
	}
	if (victim < 0)
		return;

	quantum = alps_wake_quantum(is_func, io, sync, min_quantum_ns, host_quantum_ns, &on_burst);
	ran = now - victim_started + (on_burst ? victim_burst : 0);
	if (alps_should_preempt(level, victim_level, ran, quantum)) {
		scx_bpf_kick_cpu(victim, SCX_KICK_PREEMPT);
		if (st)
			st->nr_preempt_kicks[lvl_idx(level)]++;
	} else if (st) {
		/* Held back by the quantum; ops.tick() preempts later. */
		st->nr_throttled++;
	}
}

static bool guard_due(u64 now)
{
	return starvation_ns && now >= guard_next_scan;
}

/* Has @p been runnable past the guard threshold at @now? */
static bool task_starving(struct task_struct *p, u64 now)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	return tctx && tctx->runnable_at && now >= tctx->runnable_at &&
	       alps_is_starving(now - tctx->runnable_at, alps_guard_threshold(starvation_ns));
}

/*
 * The guard's scan, from ops.dispatch(): move the starving tasks among the
 * last ALPS_GUARD_SCAN_MAX of the levels' DSQ (its tail holds the worst
 * levels, where tasks starve) to the guard DSQ, with the minimum slice
 * (under sustained overload many starve at once and each must run within
 * the bound). The scan counts with a numeric iterator: a counter of its own
 * would give the verifier one state per count.
 */
static void guard_promote(u64 now)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	u32 i;

	if (bpf_iter_scx_dsq_new(&it, ALPS_DSQ_LEVELS, SCX_DSQ_ITER_REV)) {
		bpf_iter_scx_dsq_destroy(&it);
		return;
	}
	bpf_for(i, 0, ALPS_GUARD_SCAN_MAX) {
		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		if (!task_starving(p, now))
			continue;
		scx_bpf_dsq_move_set_slice(&it, slice_min_ns);
		if (scx_bpf_dsq_move(&it, p, ALPS_DSQ_GUARD, 0)) {
			struct task_ctx *tctx = lookup_task_ctx(p);
			struct alps_stats *st = lookup_stats();

			if (tctx)
				tctx->guarded = true;
			if (st)
				st->nr_guard_promotions[lvl_idx(tctx ? tctx->level : 0)]++;
			wait_seq = now;
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
}

/*
 * From ops.tick(): is a task among the last ALPS_GUARD_SCAN_MAX of the
 * levels' DSQ starving and allowed on @cpu?
 */
static bool guard_pending(s32 cpu, u64 now)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	bool found = false;
	u32 i;

	if (bpf_iter_scx_dsq_new(&it, ALPS_DSQ_LEVELS, SCX_DSQ_ITER_REV)) {
		bpf_iter_scx_dsq_destroy(&it);
		return false;
	}
	bpf_for(i, 0, ALPS_GUARD_SCAN_MAX) {
		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		if (task_starving(p, now) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			found = true;
			break;
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
	return found;
}

/* Is a task better than @level queued that may run on @cpu? */
static bool better_waiting(u32 level, s32 cpu)
{
	struct task_struct *p;

	p = __COMPAT_scx_bpf_dsq_peek(ALPS_DSQ_GUARD);
	if (p && bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return true;
	p = __COMPAT_scx_bpf_dsq_peek(ALPS_DSQ_LEVELS);
	return p && queued_level(p) < level && bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

/* ---------------------------------------------------------------------------
 * Invocation records.
 */
/*
 * A zeroed record on the ring buffer with the task's identity filled in
 * (function, pid, tgid, level, cgroup, start), or NULL (counted as a drop)
 * when the ring buffer is full.
 */
static struct alps_inv_rec *reserve_rec(struct task_struct *p, const struct task_ctx *tctx,
					struct alps_stats *st)
{
	struct alps_inv_rec *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec) {
		if (st)
			st->nr_rb_drops++;
		return NULL;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->func_id = tctx->func_id;
	rec->pid = p->pid;
	rec->tgid = p->tgid;
	rec->level = tctx->level;
	rec->cgid = tctx->cgid;
	rec->source = tctx->src;
	rec->start_ns = tctx->inv_start;
	return rec;
}

/*
 * The record of @tctx's invocation, finished at @now: its CPU, waits,
 * sleeps and switches, named by the hint's function name for a hinted one
 * and by the task's comm otherwise (the loader may name a function the BPF
 * side could not tag from it).
 */
static void send_record(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	struct alps_stats *st = lookup_stats();
	struct alps_inv_rec *rec;

	tctx->reported = true;
	rec = reserve_rec(p, tctx, st);
	if (!rec)
		return;
	rec->end_ns = now;
	rec->cpu_ns = tctx->cpu_ns + stint_ns(tctx, now);
	rec->wait_ns = tctx->wait_ns;
	rec->blocked_ns = tctx->blocked_ns;
	rec->nvcsw = tctx->nvcsw;
	rec->nivcsw = tctx->nivcsw;
	if (tctx->in_hint)
		__builtin_memcpy(rec->comm, tctx->hint_name, sizeof(rec->comm));
	else if (bpf_probe_read_kernel(rec->comm, sizeof(rec->comm), p->comm))
		__builtin_memcpy(rec->comm, tctx->comm, sizeof(rec->comm));
	bpf_ringbuf_submit(rec, 0);
	if (st)
		st->nr_records++;
}

/*
 * A new invocation, delimited by @src, starts on @tctx's task at @now (a
 * hint, or a wake-up after an idle gap): its counters restart, and CPU
 * before @now belongs to what came before.
 */
static void start_invocation(struct task_ctx *tctx, u64 now, u32 src)
{
	tctx->src = src;
	tctx->inv_start = now;
	tctx->cpu_ns = 0;
	tctx->burst_ns = 0;
	tctx->wait_ns = 0;
	tctx->blocked_ns = 0;
	tctx->nvcsw = 0;
	tctx->nivcsw = 0;
	tctx->progress_level = 0;
	tctx->reported = false;
	if (tctx->running_at && now > tctx->running_at) {
		/* The stint so far belongs to the invocation that ended. */
		charge_fair(tctx, now - tctx->running_at);
		tctx->running_at = now;
	}
	tctx->fair_key = 0;
}

/*
 * A progress record (end_ns 0) when the running invocation of a function
 * entered a new level of attained CPU (policy.h, alps_progress_level()):
 * the learner's censored sample of a size not known yet.
 */
static void send_progress(struct task_struct *p, struct task_ctx *tctx)
{
	struct alps_stats *st;
	struct alps_inv_rec *rec;
	u32 level = alps_progress_level(tctx->cpu_ns, tctx->progress_level);

	/* The exit record went first (the task's last stint ends after it). */
	if (!level || tctx->reported)
		return;
	/* Set even if the record is lost: one try per level bounds the cost. */
	tctx->progress_level = level;
	st = lookup_stats();
	rec = reserve_rec(p, tctx, st);
	if (!rec)
		return;
	rec->cpu_ns = tctx->cpu_ns;
	/* The hint's name, so the loader can register it before the end. */
	if (tctx->in_hint)
		__builtin_memcpy(rec->comm, tctx->hint_name, sizeof(rec->comm));
	/*
	 * No wake-up: the loader runs before every invocation, so waking it
	 * for each of these would cost a preemption each; it reads them with
	 * the next exit record or at its next timeout, before its next update.
	 */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	if (st)
		st->nr_progress++;
}

/* ---------------------------------------------------------------------------
 * Scheduling callbacks, in the order a task meets them.
 */
s32 BPF_STRUCT_OPS(alps_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx;
	struct alps_stats *st;
	bool is_idle = false;
	s32 cpu;

	tctx = lookup_task_ctx(p);
	if (tctx)
		tctx->sync_wake = wake_flags & SCX_WAKE_SYNC;
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (!is_idle)
		return cpu;

	/* An idle CPU: nobody waits for it, run there now. */
	if (tctx) {
		bool past;

		refresh_func(p, tctx);
		tctx->level = task_level(tctx, bpf_ktime_get_ns(), &past);
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tctx ? task_slice(tctx, tctx->level) : slice_dfl_ns,
			   0);
	st = lookup_stats();
	if (st)
		st->nr_direct++;
	return cpu;
}

void BPF_STRUCT_OPS(alps_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct alps_stats *st = lookup_stats();
	u64 now = bpf_ktime_get_ns();
	struct task_ctx *tctx;
	bool past = false, sync;
	u32 level;
	s32 cpu;

	tctx = lookup_task_ctx(p);
	if (!tctx) {
		scx_bpf_dsq_insert(p, ALPS_DSQ_GUARD, slice_dfl_ns, enq_flags);
		wait_seq = now;
		return;
	}
	refresh_func(p, tctx);
	refresh_weight(p, tctx);
	maybe_start_weighted(tctx, now);
	/* select_cpu() does not run for every wake-up: use its flag once. */
	sync = tctx->sync_wake;
	tctx->sync_wake = false;

	/* Per-CPU kernel threads run where they must, ahead of everything. */
	if (is_pcpu_kthread(p)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_dfl_ns, enq_flags);
		return;
	}
	/* The loader (learner, stats) is tiny and must not starve. */
	if (is_loader(p)) {
		scx_bpf_dsq_insert(p, ALPS_DSQ_GUARD, slice_dfl_ns, enq_flags);
		wait_seq = now;
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu >= 0)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}

	level = task_level(tctx, now, &past);
	tctx->level = level;
	insert_level(p, tctx, level, enq_flags);
	wait_seq = now;
	if (st) {
		st->nr_enqueued[lvl_idx(level)]++;
		if (past)
			st->nr_demotions++;
		if (!is_func(tctx))
			st->nr_host_enqueued++;
	}

	/* Wake an idle CPU if there is one; otherwise consider preemption. */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	if (preempt_enabled) {
		const struct alps_func_policy *pol = task_policy(tctx);
		bool wakeup = enq_flags & SCX_ENQ_WAKEUP;
		bool io = wakeup && pol && (pol->flags & ALPS_POL_IO_BOUND);

		try_preempt(p, level, is_func(tctx), io, wakeup && sync, now, st);
	}
}

void BPF_STRUCT_OPS(alps_dispatch, s32 cpu, struct task_struct *prev)
{
	struct alps_stats *st = lookup_stats();
	u32 prev_level = ALPS_LEVEL_NONE;
	u64 now = bpf_ktime_get_ns();
	struct task_ctx *ptctx = NULL;
	struct task_struct *p;
	bool past;

	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		ptctx = lookup_task_ctx(prev);
		if (is_loader(prev) || is_pcpu_kthread(prev) || !ptctx)
			prev_level = 0;
		else
			prev_level = task_level(ptctx, now, &past);
	}

	/* Starvation guard: collect starving tasks, then serve them first. */
	if (guard_due(now)) {
		guard_next_scan = now + alps_guard_interval(starvation_ns);
		guard_promote(now);
	}
	if (scx_bpf_dsq_move_to_local(ALPS_DSQ_GUARD, 0)) {
		if (st)
			st->nr_guard_dispatched++;
		return;
	}

	/*
	 * The head of the levels' DSQ is the best task waiting. Only a
	 * still-runnable @prev needs a look at it first (each look costs an
	 * iterator on 6.12); ops.running() counts what was dispatched.
	 */
	if (prev_level == ALPS_LEVEL_NONE) {
		scx_bpf_dsq_move_to_local(ALPS_DSQ_LEVELS, 0);
		return;
	}
	p = __COMPAT_scx_bpf_dsq_peek(ALPS_DSQ_LEVELS);
	if (p && !alps_keep_prev(prev_level, queued_level(p)) &&
	    scx_bpf_dsq_move_to_local(ALPS_DSQ_LEVELS, 0))
		return;

	/* Nothing better waits: let @prev run another slice. */
	if (prev_level != ALPS_LEVEL_NONE) {
		scx_bpf_task_set_slice(prev, ptctx ? task_slice(ptctx, prev_level) : slice_dfl_ns);
		if (st)
			st->nr_kept++;
	}
}

void BPF_STRUCT_OPS(alps_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 now = bpf_ktime_get_ns();

	if (!tctx)
		return;

	refresh_func(p, tctx);
	if ((enq_flags & SCX_ENQ_WAKEUP) && tctx->sleep_at && now > tctx->sleep_at) {
		u64 slept = now - tctx->sleep_at;

		/*
		 * A warm worker without hints: an idle gap ends one request and
		 * this wake-up starts the next (I/O sleeps longer than the gap
		 * are cut too: the heuristic's known error).
		 */
		if (alps_idle_gap_ends(slept, idle_gap_ns, is_func(tctx), tctx->hinted)) {
			tctx->src = ALPS_SRC_GAP;
			send_record(p, tctx, tctx->sleep_at);
			start_invocation(tctx, now, ALPS_SRC_GAP);
			slept = 0;
		}
		tctx->blocked_ns += slept;
		tctx->recent_ns = alps_decay(tctx->recent_ns, slept, host_half_life_ns);
		tctx->burst_ns = 0;
	}
	tctx->sleep_at = 0;
	tctx->runnable_at = now;
}

void BPF_STRUCT_OPS(alps_running, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 now = bpf_ktime_get_ns();
	struct cpu_state *cs;
	bool past;

	if (!tctx)
		return;

	if (tctx->runnable_at && now > tctx->runnable_at) {
		u64 waited = now - tctx->runnable_at;
		struct alps_stats *st = lookup_stats();

		tctx->wait_ns += waited;
		if (st && waited > st->max_wait_ns) {
			st->max_wait_ns = waited;
			st->max_wait_pid = p->pid;
			bpf_probe_read_kernel(st->max_wait_comm, sizeof(st->max_wait_comm),
					      p->comm);
		}
	}
	tctx->runnable_at = 0;
	tctx->running_at = now;
	if (tctx->in_levels && !tctx->guarded) {
		struct alps_stats *st = lookup_stats();

		if (st)
			st->nr_dispatched[lvl_idx(queued_level(p))]++;
		/* Start-time fair queueing's virtual time: the stamp in service. */
		if (weighted && is_func(tctx) && tctx->fair_key > served_vtime)
			served_vtime = tctx->fair_key;
	}
	tctx->in_levels = false;
	if (!is_loader(p) && !is_pcpu_kthread(p))
		tctx->level = task_level(tctx, now, &past);

	cs = lookup_cpu_state(scx_bpf_task_cpu(p));
	if (cs) {
		/* Guard-served tasks, the loader and per-CPU kthreads are not preempted. */
		cs->level = tctx->guarded || is_loader(p) || is_pcpu_kthread(p) ? 0 : tctx->level;
		cs->started_at = now;
		cs->burst_ns = tctx->burst_ns;
		cs->seen_wait = 0; /* a new stint: its first tick looks */
	}
}

void BPF_STRUCT_OPS(alps_tick, struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u64 now = bpf_ktime_get_ns();
	struct task_ctx *tctx;
	struct cpu_state *cs;
	bool past, starving = false, better = false;
	u32 level;
	u64 seq;

	tctx = lookup_task_ctx(p);
	cs = lookup_cpu_state(cpu);
	if (!tctx || !cs || cs->level == ALPS_LEVEL_NONE || is_pcpu_kthread(p) || is_loader(p))
		return;

	/* Levels change as a task attains service, not only at enqueue. */
	seq = wait_seq;
	if (!tctx->guarded) {
		level = task_level(tctx, now, &past);
		if (level > cs->level)
			cs->seen_wait = 0; /* worse now: what waits may be better */
		cs->level = level;
	} else {
		level = 0;
	}

	/*
	 * Someone is starving: end this stint so ops.dispatch() moves them to
	 * the guard DSQ. Scans are rate-limited by guard_next_scan.
	 */
	if (guard_due(now)) {
		starving = guard_pending(cpu, now);
		if (!starving)
			guard_next_scan = now + alps_guard_interval(starvation_ns);
	}

	/*
	 * A better task waits (its wake-up was throttled by the minimum
	 * quantum, or no victim was eligible then) and this one has had its
	 * quantum.
	 */
	if (!starving && cs->seen_wait != seq) {
		better = better_waiting(level, cpu);
		if (!better)
			cs->seen_wait = seq;
	}
	if (alps_tick_preempt(now - cs->started_at, min_quantum_ns, better, starving)) {
		struct alps_stats *st = lookup_stats();

		scx_bpf_task_set_slice(p, 0);
		if (st)
			st->nr_tick_preempts++;
	}
}

void BPF_STRUCT_OPS(alps_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 now = bpf_ktime_get_ns(), delta = 0;
	struct cpu_state *cs;

	cs = lookup_cpu_state(scx_bpf_task_cpu(p));
	if (cs)
		cs->level = ALPS_LEVEL_NONE;
	if (!tctx)
		return;

	if (tctx->running_at && now > tctx->running_at)
		delta = now - tctx->running_at;
	tctx->cpu_ns += delta;
	tctx->burst_ns += delta;
	if (!is_func(tctx))
		tctx->recent_ns += scale_by_task_weight_inverse(p, delta);
	charge_fair(tctx, delta);
	tctx->running_at = 0;
	tctx->guarded = false;
	/* A hinted thread between its requests is in no invocation. */
	if (progress_enabled && is_func(tctx) && !(tctx->hinted && !tctx->in_hint))
		send_progress(p, tctx);

	if (runnable) {
		tctx->nivcsw++;
		tctx->runnable_at = now;
	} else {
		tctx->nvcsw++;
	}
}

void BPF_STRUCT_OPS(alps_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	tctx->runnable_at = 0;
	if (deq_flags & SCX_DEQ_SLEEP)
		tctx->sleep_at = bpf_ktime_get_ns();
}

s32 BPF_STRUCT_OPS(alps_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct alps_stats *st;
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	/* Never equal to a real generation: forces the first lookup. */
	tctx->tag_gen = (u64)-1;
	tctx->inv_start = p->start_time;
	st = lookup_stats();
	if (st)
		__sync_fetch_and_add(&st->nr_task_inits, 1);
	return 0;
}

/*
 * The task leaves scx_alps (it exits, or the scheduler unloads). Its
 * task_ctx goes with the task; counting both ends lets user space check that
 * per-task state returns to its baseline after a process storm.
 */
void BPF_STRUCT_OPS(alps_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct alps_stats *st = lookup_stats();

	if (st)
		__sync_fetch_and_add(&st->nr_task_exits, 1);
}

/* ---------------------------------------------------------------------------
 * Invocation records: one per task when it exits, or one per hinted request.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(alps_task_exit, struct task_struct *p)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (!tctx || tctx->reported)
		return 0;
	/*
	 * A hinted worker's lifetime is no invocation: only a request still
	 * open at its exit is recorded (cut short where it stood).
	 */
	if (tctx->hinted && !tctx->in_hint) {
		tctx->reported = true;
		return 0;
	}
	refresh_func(p, tctx);
	send_record(p, tctx, bpf_ktime_get_ns());
	return 0;
}

/*
 * alps_invocation_begin(function) in a function runtime (include/alps_hint.h):
 * the calling thread starts serving one request of @name. An invocation
 * still open is closed first (its end hint was lost). A name the loader has
 * not registered yet (it does so from this request's first record) leaves
 * the request to the thread's own function (cgroup or comm): as host work
 * it would be placed by recent CPU and take turns with its equals, so the
 * first requests of a new function would share the CPU rather than finish
 * oldest first.
 */
SEC("uprobe")
int BPF_UPROBE(alps_hint_begin, const char *name)
{
	struct task_struct *p = bpf_get_current_task_btf();
	char key[ALPS_COMM_LEN] = {};
	struct alps_stats *st;
	struct task_ctx *tctx;
	u64 now;
	u32 *func;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return 0;
	now = bpf_ktime_get_ns();
	st = lookup_stats();
	if (st)
		st->nr_hint_begins++;
	if (tctx->in_hint) {
		send_record(p, tctx, now);
		if (st)
			st->nr_hint_unpaired++;
	}
	/* An unreadable name leaves the key empty: the thread's own function. */
	bpf_probe_read_user_str(key, sizeof(key), name);
	func = key[0] ? bpf_map_lookup_elem(&hint_func, key) : NULL;
	start_invocation(tctx, now, ALPS_SRC_HINT);
	__builtin_memcpy(tctx->hint_name, key, sizeof(key));
	if (func) {
		tctx->func_id = *func;
	} else {
		own_func(p, tctx);
	}
	tctx->hinted = true;
	tctx->in_hint = true;
	return 0;
}

/*
 * alps_invocation_end(): the request the thread serves is done. Its record
 * goes out and what the thread does until its next begin hint counts as a
 * new stretch of its cgroup's (or comm's) function. The first end outside a
 * request declares a worker ready (alps_hint.h); later ones are unpaired.
 */
SEC("uprobe")
int BPF_UPROBE(alps_hint_end)
{
	struct task_struct *p = bpf_get_current_task_btf();
	struct alps_stats *st;
	struct task_ctx *tctx;
	u64 now;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return 0;
	st = lookup_stats();
	/*
	 * Outside a request: a worker ready for its first one. Its lifetime is
	 * no invocation from here on; what it did so far restarts as a stretch
	 * of its own function, never recorded.
	 */
	if (!tctx->in_hint) {
		if (!tctx->hinted) {
			tctx->hinted = true;
			start_invocation(tctx, bpf_ktime_get_ns(), ALPS_SRC_TASK);
		} else if (st) {
			st->nr_hint_unpaired++;
		}
		return 0;
	}
	now = bpf_ktime_get_ns();
	send_record(p, tctx, now);
	if (st)
		st->nr_hint_ends++;
	start_invocation(tctx, now, ALPS_SRC_TASK);
	own_func(p, tctx);
	return 0;
}

/*
 * cgroup callbacks (kernels with CONFIG_EXT_GROUP_SCHED): keep each cgroup's
 * cpu.weight for alps_cgroup_weight(). ops.cgroup_init() runs for every
 * cgroup with the cpu controller, at load and when one is created.
 */
s32 BPF_STRUCT_OPS_SLEEPABLE(alps_cgroup_init, struct cgroup *cgrp,
			     struct scx_cgroup_init_args *args)
{
	struct cgrp_ctx *cc;

	/*
	 * A new cgroup has no task yet (a task moving in changes its css_set,
	 * which refresh_weight() notices): no weight_gen bump.
	 */
	cc = bpf_cgrp_storage_get(&cgrp_ctx_stor, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	/* Without storage the cgroup counts as the default weight: no error. */
	if (cc)
		cc->weight = args->weight;
	return 0;
}

void BPF_STRUCT_OPS(alps_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	struct cgrp_ctx *cc;

	cc = bpf_cgrp_storage_get(&cgrp_ctx_stor, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cc || cc->weight == weight)
		return;
	cc->weight = weight;
	__sync_fetch_and_add(&weight_gen, 1);
}

/* ---------------------------------------------------------------------------
 * Entry points for user space (BPF_PROG_TEST_RUN).
 */

/* Refresh queue_depths[]: tasks queued per level (the first 4096). */
SEC("syscall")
int read_queues(void *ctx)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	u32 l, i;

	bpf_for(l, 0, ALPS_NR_LEVELS)
		queue_depths[l] = 0;
	/* A syscall program sleeps; the DSQ iterator wants an RCU section. */
	bpf_rcu_read_lock();
	if (!bpf_iter_scx_dsq_new(&it, ALPS_DSQ_LEVELS, 0)) {
		bpf_for(i, 0, 4096) {
			p = bpf_iter_scx_dsq_next(&it);
			if (!p)
				break;
			queue_depths[lvl_idx(queued_level(p))]++;
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
	bpf_rcu_read_unlock();
	return 0;
}

/* ---------------------------------------------------------------------------
 * Scheduler init/exit.
 */
s32 BPF_STRUCT_OPS_SLEEPABLE(alps_init)
{
	u32 cpu;
	s32 err;

	served_vtime = bpf_ktime_get_ns();
	nr_cpus = scx_bpf_nr_cpu_ids();
	if (nr_cpus > ALPS_MAX_CPUS)
		nr_cpus = ALPS_MAX_CPUS;

	bpf_for(cpu, 0, nr_cpus) {
		struct cpu_state *cs = lookup_cpu_state(cpu);

		if (cs)
			cs->level = ALPS_LEVEL_NONE;
	}

	err = scx_bpf_create_dsq(ALPS_DSQ_GUARD, -1);
	if (err) {
		scx_bpf_error("failed to create the guard DSQ: %d", err);
		return err;
	}
	err = scx_bpf_create_dsq(ALPS_DSQ_LEVELS, -1);
	if (err) {
		scx_bpf_error("failed to create the levels' DSQ: %d", err);
		return err;
	}
	return 0;
}

void BPF_STRUCT_OPS(alps_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

/* clang-format off: one callback per line */
SCX_OPS_DEFINE(alps_ops, .select_cpu = (void *)alps_select_cpu, .enqueue = (void *)alps_enqueue,
	       .dispatch = (void *)alps_dispatch, .runnable = (void *)alps_runnable,
	       .running = (void *)alps_running, .tick = (void *)alps_tick,
	       .stopping = (void *)alps_stopping, .quiescent = (void *)alps_quiescent,
	       .init_task = (void *)alps_init_task, .exit_task = (void *)alps_exit_task,
	       .cgroup_init = (void *)alps_cgroup_init,
	       .cgroup_set_weight = (void *)alps_cgroup_set_weight, .init = (void *)alps_init,
	       .exit = (void *)alps_exit, .timeout_ms = 5000, .name = "alps");
/* clang-format on */
