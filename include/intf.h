/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface shared by the scx_alps BPF scheduler (bpf/main.bpf.c) and its
 * Rust loader (bindgen turns this file into bpf_intf.rs).
 *
 * Every name carries an ALPS_/alps_ prefix: vmlinux.h is included before this
 * header on the BPF side and already defines many short names.
 */
#ifndef __ALPS_INTF_H
#define __ALPS_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed int s32;
typedef signed long long s64;
#endif

enum alps_consts {
	/*
	 * Queue levels, level 0 served first. A task's level is the half-octave
	 * bucket of its rank size (policy.h, alps_size_level()), so levels mean
	 * the same to every function and to unknown work. All levels share one
	 * DSQ ordered by (level, FIFO key): see alps_queue_vtime().
	 */
	ALPS_NR_LEVELS = 64,
	/* Bit of the DSQ vtime where the level starts; the FIFO key is below. */
	ALPS_LEVEL_SHIFT = 56,
	/*
	 * Rank sizes below this (ns) share level 0; each octave above it is two
	 * levels (up to about 24 hours). FaaS invocations start at tens of us.
	 */
	ALPS_LEVEL_BASE_NS = 32000,
	/*
	 * Default --host-quantum-us: CPU a task keeps before a waking task of no
	 * function may preempt it (policy.h, alps_wake_quantum()), us.
	 */
	ALPS_DFL_HOST_QUANTUM_US = 3000,
	/*
	 * Progress records (policy.h, alps_progress_level()): an invocation
	 * still running reports its attained CPU each time it enters a new
	 * level at or above this many ns, so the learner sees the sizes that
	 * have not completed yet (a lower bound each) besides the completed.
	 */
	ALPS_PROGRESS_MIN_NS = 2000000,
	/* Steps of a function's learned level schedule (struct alps_func_policy). */
	ALPS_SCHED_STEPS = 12,
	/* Size of the func_policy array: function ids are 1..ALPS_MAX_FUNCS-1. */
	ALPS_MAX_FUNCS = 4096,
	/* Size of per-CPU state arrays. */
	ALPS_MAX_CPUS = 1024,
	ALPS_COMM_LEN = 16,
	/* func_id of tasks that belong to no known function. */
	ALPS_FUNC_UNKNOWN = 0,
	/* The DSQ of every level. */
	ALPS_DSQ_LEVELS = 0x100,
	/* Served before every level: starving tasks and the loader's threads. */
	ALPS_DSQ_GUARD = 0x1ff,
	/*
	 * Tasks the starvation guard inspects per level and scan: the queue
	 * depth up to which every starving task is found.
	 */
	ALPS_GUARD_SCAN_MAX = 1024,
	/* Level of "no sched_ext task on this CPU" (never preempted by us). */
	ALPS_LEVEL_NONE = 0xffff,
	/* cgroup v2 cpu.weight: the default (CGROUP_WEIGHT_DFL). */
	ALPS_WEIGHT_DFL = 100,
};

/* Flags of struct alps_func_policy. */
enum alps_policy_flags {
	/*
	 * The function's invocations mostly sleep (alps-io's I/O signals):
	 * their wake-ups preempt a running task only after its minimum quantum.
	 */
	ALPS_POL_IO_BOUND = 1,
};

/*
 * Where an invocation's boundaries came from (alps_inv_rec.source).
 */
enum alps_inv_source {
	/* One task's lifetime: fork to exit (platforms that fork per request). */
	ALPS_SRC_TASK = 0,
	/*
	 * The function runtime's hints: alps_invocation_begin() to
	 * alps_invocation_end() on one thread (include/alps_hint.h, --hint-binary).
	 */
	ALPS_SRC_HINT = 1,
	/*
	 * A function's task woke after sleeping longer than --idle-gap-ms: a
	 * warm worker without hints, between two requests (policy.h,
	 * alps_idle_gap_ends()).
	 */
	ALPS_SRC_GAP = 2,
	ALPS_NR_SOURCES = 3,
};

/* How tasks are mapped to functions (--func-id). */
enum alps_tag_mode {
	ALPS_TAG_CGROUP = 0,
	ALPS_TAG_COMM = 1,
};

/*
 * One finished invocation, sent to user space over the `events` ring buffer:
 * the lifetime of one task when it exits (ALPS_SRC_TASK), or one hinted
 * request of a long-lived worker when it ends (ALPS_SRC_HINT; comm is then the
 * function name the runtime gave). Times are in ns (CLOCK_MONOTONIC).
 * A record with end_ns 0 is a progress record of an invocation still running
 * (ALPS_PROGRESS_MIN_NS): func_id, pid, tgid, level, cgid, start_ns and
 * cpu_ns (attained so far) are set, the rest is 0.
 */
struct alps_inv_rec {
	u32 func_id; /* function at exit time, ALPS_FUNC_UNKNOWN if none */
	u32 pid;
	u32 tgid;
	u32 level;  /* last queue level the task was queued at */
	u32 source; /* enum alps_inv_source */
	u32 pad;
	u64 cgid;	/* cgroup v2 id of the task at exit */
	u64 start_ns;	/* task creation, or the begin hint */
	u64 end_ns;	/* task exit, or the end hint */
	u64 cpu_ns;	/* time on CPU (running -> stopping) */
	u64 wait_ns;	/* time runnable but not running */
	u64 blocked_ns; /* time asleep (quiescent with sleep -> runnable with wakeup) */
	u64 nvcsw;	/* voluntary switches: stopping while not runnable */
	u64 nivcsw;	/* involuntary switches: stopping while still runnable */
	char comm[ALPS_COMM_LEN];
};

/*
 * One step of a function's level schedule: while the invocation's attained
 * CPU is below until_ns, its rank size is
 *   (target_ns - attained) * mult_q8 / 256   (0 once attained >= target_ns),
 * or target_ns itself when mult_q8 is 0. A linear step is one segment of a
 * Gittins index (policy.h); a constant one is ALPS's learned rank size.
 */
struct alps_sched_step {
	u64 until_ns;
	u64 target_ns;
	u32 mult_q8;
	u32 pad;
};

/*
 * Learned policy of one function, written by user space into func_policy
 * (index = func_id) every learning interval.
 */
struct alps_func_policy {
	u32 valid;    /* 0 until learned: placed by attained service alone */
	u32 nr_steps; /* used entries of steps[], 1..ALPS_SCHED_STEPS */
	u32 flags;    /* ALPS_POL_* */
	u32 pad;
	u64 slice_ns; /* time slice; 0 = the level's default */
	struct alps_sched_step steps[ALPS_SCHED_STEPS];
};

/* Per-CPU scheduler counters, summed by user space. Indexed by queue level. */
struct alps_stats {
	u64 nr_enqueued[ALPS_NR_LEVELS];      /* tasks inserted into level l's DSQ */
	u64 nr_dispatched[ALPS_NR_LEVELS];    /* tasks moved from level l's DSQ to a CPU */
	u64 nr_preempt_kicks[ALPS_NR_LEVELS]; /* SCX_KICK_PREEMPT sent for a waker of level l */
	u64 nr_guard_promotions
		[ALPS_NR_LEVELS]; /* starving tasks of level l moved to the guard DSQ */
	u64 nr_host_enqueued;	  /* enqueues of tasks of no function (host work) */
	u64 nr_direct;		  /* wake-ups dispatched straight to an idle CPU */
	u64 nr_kept;		  /* slice refills of a task that had no better competitor */
	u64 nr_guard_dispatched;  /* tasks served from the guard DSQ (starving or loader) */
	u64 nr_demotions;     /* enqueues of learned tasks past their schedule (misprediction) */
	u64 nr_throttled;     /* wake-up preemptions held back by the minimum quantum */
	u64 nr_tick_preempts; /* running tasks cut short at a tick (better rank or guard) */
	u64 nr_records;	      /* invocation records sent */
	u64 nr_progress;      /* progress records sent (invocations still running) */
	u64 nr_hint_begins;   /* alps_invocation_begin() calls seen */
	u64 nr_hint_ends;     /* alps_invocation_end() calls that closed an invocation */
	u64 nr_hint_unpaired; /* begins over an open invocation, or ends with none open */
	u64 nr_rb_drops;      /* invocation records dropped: ring buffer full */
	u64 nr_task_inits;    /* tasks given a task_ctx (init_task) */
	u64 nr_task_exits;    /* tasks that left scx_alps (exit_task) */
	u64 nr_weighted;      /* invocations stamped by start-time fair queueing (weights) */
	u64 max_wait_ns;      /* longest runnable wait seen by this CPU */
	u64 max_wait_pid;     /* the task that waited that long */
	char max_wait_comm[ALPS_COMM_LEN];
};

#endif /* __ALPS_INTF_H */
