//! The scx_alps model: the BPF program's callbacks, step for step, on the
//! very code the kernel runs ([`scx_alps::policy`], the host build of
//! `include/policy.h`) and the very learner the loader runs
//! ([`scx_alps::learner::Learner`], fed with the simulated invocations at
//! exit and updated every learning interval with the simulated utilisation).
//!
//! What is modelled, per BPF callback: enqueue (level, queue key, idle CPU
//! or victim), dispatch (guard DSQ first, then the head of the levels' DSQ,
//! keep-prev), running
//! (level of the CPU, guard stint start), tick (level refresh, guard scan,
//! better task waiting, slice expiry at ticks) and stopping. What is not:
//! CPU affinity, idle-CPU selection topology, the loader's own threads, and
//! work that belongs to no function (plans hold only invocations).

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};

use scx_alps::bpf_intf::alps_func_policy;
use scx_alps::learner::{FuncPolicy, Invocation as LearnInv, Learner, NEWS_MIN_GAP_NS, PolicyKind};
use scx_alps::policy::{self, POL_IO_BOUND};

use super::AlpsModel;
use super::engine::{Model, Why, World};

pub(crate) struct Alps {
    m: AlpsModel,
    /// Scheduler tick, ns.
    tick_ns: u64,
    pub learner: Learner,
    /// Function id -> the func_policy map value, once learned.
    policy: Vec<Option<alps_func_policy>>,
    /// Function id -> it outgrew the prior while not learned (BPF's
    /// func_outgrown; set while computing levels, hence a Cell).
    outgrown: RefCell<Vec<bool>>,
    /// The levels' DSQ: (vtime, task), vtime = (level, FIFO key).
    levels: BTreeSet<(u64, usize)>,
    guard_q: VecDeque<usize>,
    next_scan: u64,
    /// The task last enqueued woke up from a sleep (throttle candidates).
    last_was_wakeup: bool,
    busy_at_last_learn: u64,
    last_learn: u64,
    pub last_table: Vec<FuncPolicy>,
    /// Task -> the level of its last progress record (BPF's task_ctx).
    reported: Vec<u32>,
}

impl Alps {
    pub fn new(m: AlpsModel, kind: PolicyKind, cpus: usize, tick_ns: u64) -> Self {
        let mut lc = m.learner.clone();
        lc.kind = kind;
        lc.nr_cpus = cpus;
        Self {
            m,
            tick_ns: tick_ns.max(1),
            learner: Learner::new(lc),
            policy: Vec::new(),
            outgrown: RefCell::new(Vec::new()),
            levels: BTreeSet::new(),
            guard_q: VecDeque::new(),
            next_scan: 0,
            last_was_wakeup: false,
            busy_at_last_learn: 0,
            last_learn: 0,
            last_table: Vec::new(),
            reported: Vec::new(),
        }
    }

    /// scx_alps's task_policy(): the function's policy, or the prior
    /// (entry 0) while it is not learned.
    fn pol(&self, w: &World, t: usize) -> Option<&alps_func_policy> {
        let at = |i: usize| self.policy.get(i).and_then(|p| p.as_ref());
        at(w.tasks[t].func as usize).or_else(|| at(0))
    }

    /// scx_alps's alps_level_of(): level of task `t` after `attained` ns,
    /// the prior's evidence rule applied while its function is not learned.
    fn level_at(&self, w: &World, t: usize, attained: u64) -> (u32, bool) {
        let f = w.tasks[t].func as usize;
        let learned = self.policy.get(f).is_some_and(|p| p.is_some());
        let pol = self.pol(w, t);
        let mut a = attained;
        if !learned && f != 0 {
            let floor = policy::prior_floor_ns(pol);
            let mut out = self.outgrown.borrow_mut();
            if out.len() <= f {
                out.resize(f + 1, false);
            }
            if policy::prior_outgrown(attained, floor) {
                out[f] = true;
            }
            a = policy::prior_attained(attained, floor, out[f]);
        }
        policy::task_level(pol, a)
    }

    /// scx_alps's task_level(): level after the CPU attained in this invocation.
    fn level_of(&self, w: &World, t: usize) -> (u32, bool) {
        self.level_at(w, t, w.attained(t))
    }

    fn slice_of(&self, w: &World, t: usize, level: u32) -> u64 {
        let lc = self.learner.config();
        policy::task_slice(
            self.pol(w, t),
            level,
            self.m.slice_dfl_ns,
            lc.slice_min_ns,
            lc.slice_max_ns,
        )
    }

    /// The level ops.tick() last wrote for CPU `c`: BPF refreshes it at
    /// every tick, the engine only ticks while work is queued, so it is
    /// computed here at the last tick boundary of the stint (or, before the
    /// first tick, the level ops.running() wrote).
    fn cpu_level(&self, w: &World, c: usize) -> u32 {
        let cpu = &w.cpus[c];
        let Some(t) = cpu.task else { return policy::LEVEL_NONE };
        let last_tick = w.now / self.tick_ns * self.tick_ns;
        if w.tasks[t].guarded || last_tick <= cpu.seg_start {
            return cpu.level;
        }
        let attained = w.tasks[t].cpu + (last_tick - cpu.seg_start);
        self.level_at(w, t, attained).0
    }

    /// scx_alps's better_waiting(): the guard DSQ's head, or the levels'
    /// head if its level beats `level`.
    fn better_waiting(&self, level: u32) -> bool {
        !self.guard_q.is_empty()
            || self
                .levels
                .first()
                .is_some_and(|&(v, _)| policy::vtime_level(v) < level)
    }

    fn guard_due(&self, now: u64) -> bool {
        self.m.starvation_ns > 0 && now >= self.next_scan
    }

    /// The guard's scan: the tasks among the last of the levels' DSQ that
    /// have waited past the threshold move to the guard DSQ (in the order
    /// found). Returns how many moved.
    fn guard_scan(&mut self, w: &mut World) -> usize {
        self.next_scan = w.now + policy::guard_interval(self.m.starvation_ns);
        let thresh = policy::guard_threshold(self.m.starvation_ns);
        let max = scx_alps::bpf_intf::alps_consts_ALPS_GUARD_SCAN_MAX as usize;
        let starving: Vec<(u64, usize)> = self
            .levels
            .iter()
            .rev()
            .take(max)
            .filter(|(_, t)| policy::is_starving(w.now.saturating_sub(w.tasks[*t].runnable_at), thresh))
            .copied()
            .collect();
        for e in &starving {
            self.levels.remove(e);
            self.guard_q.push_back(e.1);
        }
        w.stats.guard_promotions += starving.len() as u64;
        starving.len()
    }

    fn insert(&mut self, w: &mut World, t: usize) {
        let (level, past) = self.level_of(w, t);
        if past {
            w.stats.demotions += 1;
        }
        let task = &w.tasks[t];
        // Simulated functions all have the default cpu.weight: FIFO keys.
        let key = policy::queue_key(true, task.arrival, task.runnable_at, 0);
        self.levels.insert((policy::queue_vtime(level, key), t));
    }
}

impl Model for Alps {
    fn enqueue(&mut self, w: &mut World, t: usize, why: Why) {
        self.last_was_wakeup = why == Why::Wakeup;
        self.insert(w, t);
    }

    /// ops.dispatch(): the guard DSQ, then the levels in order; the previous
    /// task keeps the CPU while nothing better waits.
    fn pick(&mut self, w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        let prev_level = prev.map(|p| self.level_of(w, p).0);
        if self.guard_due(w.now) {
            self.guard_scan(w);
        }
        if let Some(t) = self.guard_q.pop_front() {
            if let Some(p) = prev {
                self.insert(w, p);
            }
            w.tasks[t].guarded = true;
            return Some((t, self.learner.config().slice_min_ns));
        }
        if let Some(&(v, t)) = self.levels.first() {
            let l = policy::vtime_level(v);
            if !prev_level.is_some_and(|pl| policy::keep_prev(pl, l)) {
                self.levels.pop_first();
                if let Some(p) = prev {
                    self.insert(w, p);
                }
                return Some((t, self.slice_of(w, t, l)));
            }
        }
        prev.zip(prev_level).map(|(p, l)| (p, self.slice_of(w, p, l)))
    }

    /// ops.enqueue()'s try_preempt(): the worst running level, among equals
    /// the longest stint; wake-ups of I/O-bound functions wait for the
    /// victim's minimum quantum.
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Option<usize> {
        if !self.m.wakeup_preemption {
            return None;
        }
        let level = self.level_of(w, t).0;
        let mut victim: Option<(u32, u64, usize)> = None;
        for c in 0..w.cpus.len() {
            if w.cpus[c].task.is_none() {
                continue;
            }
            let (cl, started) = (self.cpu_level(w, c), w.cpus[c].stint_start);
            if policy::victim_better(level, cl, started, victim.map(|(l, s, _)| (l, s))) {
                victim = Some((cl, started, c));
            }
        }
        let (vl, vs, c) = victim?;
        let io = self.last_was_wakeup && self.pol(w, t).is_some_and(|p| p.flags & POL_IO_BOUND != 0);
        // Plans hold only invocations: no host work, no host quantum.
        let (mq, _) = policy::wake_quantum(true, io, false, self.m.min_quantum_ns, 0);
        if policy::should_preempt(level, vl, w.now.saturating_sub(vs), mq) {
            Some(c)
        } else {
            w.stats.throttled += 1;
            None
        }
    }

    fn ticked(&self) -> bool {
        true
    }

    /// ops.tick(): refresh the running level, run the guard when due, end
    /// the stint for a better waiting task (after the minimum quantum), for
    /// a starving one, or when the slice ran out.
    fn tick(&mut self, w: &mut World, cpu: usize) -> bool {
        let Some(t) = w.cpus[cpu].task else { return false };
        let level = if w.tasks[t].guarded { 0 } else { self.level_of(w, t).0 };
        w.cpus[cpu].level = level;
        let starving = self.guard_due(w.now) && self.guard_scan(w) > 0;
        let c = &w.cpus[cpu];
        let stint = w.now.saturating_sub(c.stint_start);
        w.now >= c.slice_end || policy::tick_preempt(stint, self.m.min_quantum_ns, self.better_waiting(level), starving)
    }

    /// ops.running(): the level this CPU now runs; a guard-granted stint
    /// is not preemptible.
    fn running(&mut self, w: &mut World, cpu: usize, t: usize) {
        if w.tasks[t].guarded {
            w.cpus[cpu].level = 0;
        } else {
            w.cpus[cpu].level = self.level_of(w, t).0;
        }
    }

    fn stopped(&mut self, w: &mut World, t: usize, _ran: u64) {
        w.tasks[t].guarded = false;
        // BPF's ops.stopping() under alps-io: the progress record of a
        // function's task, not at the stint that ends it (BPF's exit
        // record goes first).
        let task = &w.tasks[t];
        let progress = self.learner.config().kind == PolicyKind::AlpsIo;
        if progress && task.func != 0 && task.remaining_total > 0 {
            if self.reported.len() <= t {
                self.reported.resize(t + 1, 0);
            }
            let lvl = policy::progress_level(task.cpu, self.reported[t]);
            if lvl > 0 {
                self.reported[t] = lvl;
                self.learner
                    .observe_progress(task.func, t as u32 + 1, task.arrival, task.cpu, w.now);
                w.stats.progress += 1;
            }
        }
    }

    fn exited(&mut self, w: &mut World, t: usize) {
        let task = &w.tasks[t];
        self.learner.observe(LearnInv {
            func_id: task.func,
            pid: t as u32 + 1,
            start_ns: task.arrival,
            end_ns: task.end,
            cpu_ns: task.cpu,
            wait_ns: task.wait,
            blocked_ns: task.blocked,
            nvcsw: task.nvcsw,
            nivcsw: task.nivcsw,
        });
        // The loader's rule: a function's first completion triggers an early update.
        if self.learner.has_news() && w.now >= self.last_learn + NEWS_MIN_GAP_NS {
            self.learn(w);
        }
    }

    fn learn(&mut self, w: &mut World) {
        let dt = w.now.saturating_sub(self.last_learn).max(1);
        let busy = w.stats.busy_ns.saturating_sub(self.busy_at_last_learn);
        let util = (100.0 * busy as f64 / (dt as f64 * w.cpus.len() as f64)).clamp(0.0, 100.0);
        self.busy_at_last_learn = w.stats.busy_ns;
        self.last_learn = w.now;
        // The loader's churn rule: forgotten functions lose their policy
        // and their prior evidence.
        for f in self.learner.forget_unseen(w.now, self.m.func_ttl_ns) {
            if let Some(p) = self.policy.get_mut(f as usize) {
                *p = None;
            }
            if let Some(o) = self.outgrown.borrow_mut().get_mut(f as usize) {
                *o = false;
            }
        }
        let table = self.learner.update(util);
        for f in &table {
            let i = f.func_id as usize;
            if self.policy.len() <= i {
                self.policy.resize(i + 1, None);
            }
            self.policy[i] = Some(policy::bpf_policy(f));
        }
        if table.iter().any(|f| f.func_id != 0) {
            self.last_table = table.into_iter().filter(|f| f.func_id != 0).collect();
        }
        w.stats.learner_updates += 1;
    }

    fn begin_run(&mut self, origin: u64) {
        self.last_learn = origin;
        self.busy_at_last_learn = 0;
        self.next_scan = origin;
        self.reported.clear();
    }

    fn has_queued(&self) -> bool {
        !self.levels.is_empty() || !self.guard_q.is_empty()
    }
}
