//! Discrete-event simulator: the same plans as the real harness, replayed in
//! virtual time on N CPUs under models of the schedulers.
//!
//! Policies:
//! - `fifo`: one global queue, a task runs until it blocks or finishes;
//! - `eevdf`: a fair-share model of EEVDF/CFS: virtual runtime, a base slice
//!   (3 ms, EEVDF's default at >= 8 CPUs), sleepers placed at most one slice
//!   behind the queue's virtual time, wake-up preemption of the running task
//!   with the largest virtual runtime once it ran a minimum granularity;
//! - `alps`, `alps-io`: the scx_alps mechanism, with the very code the real
//!   scheduler runs: the learner ([`scx_alps::learner::Learner`], fed with
//!   the simulated invocations at exit and updated every learning interval)
//!   and the BPF enforcement rules ([`scx_alps::policy`], the host build of
//!   `include/policy.h`): levels, demotion, wake-up preemption with the
//!   minimum quantum, keep-prev at dispatch, the starvation guard;
//! - `srpt`: clairvoyant preemptive SRPT on each job's remaining CPU demand
//!   (all its future bursts), the lower bound for mean FCT.
//!
//! Every context switch costs `cs_cost_ns` of CPU time. The simulation is
//! deterministic: ties break by task index.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use scx_alps::learner::{FuncPolicy, Invocation as LearnInv, Learner, LearnerConfig, PolicyKind};
use scx_alps::policy;
use serde::{Deserialize, Serialize};

use crate::exec::InvocationResult;
use crate::workload::{Phase, Plan};

const MS: u64 = 1_000_000;

/// Scheduler model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SimPolicy {
    /// Run to block, global FIFO.
    Fifo,
    /// Fair share (EEVDF/CFS model).
    Eevdf,
    /// scx_alps --policy alps.
    Alps,
    /// scx_alps --policy alps-io.
    AlpsIo,
    /// Clairvoyant preemptive SRPT (lower bound).
    Srpt,
}

impl SimPolicy {
    /// Name used for the report arm.
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Fifo => "fifo",
            SimPolicy::Eevdf => "eevdf",
            SimPolicy::Alps => "alps",
            SimPolicy::AlpsIo => "alps-io",
            SimPolicy::Srpt => "srpt",
        }
    }
}

/// Parameters of the scx_alps model. [`AlpsModel::from_flags`] builds it
/// through scx_alps's own flag parsing, so a model and a real run with the
/// same flags agree; `Default` is `scx_alps --policy alps` on 16 CPUs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlpsModel {
    /// Learner parameters (its kind is set from the policy).
    pub learner: LearnerConfig,
    /// Rank of unknown/unlearned tasks.
    pub neutral_rank: u32,
    /// Slice until learned, ns.
    pub slice_dfl_ns: u64,
    /// Minimum quantum before wake-up preemption (alps-io), ns.
    pub min_quantum_ns: u64,
    /// Bound on runnable waits, ns.
    pub starvation_ns: u64,
    /// Learner update interval, ns.
    pub learn_interval_ns: u64,
    /// Demote tasks that outrun their expectation.
    pub demotion: bool,
    /// Kick CPUs on wake-up.
    pub wakeup_preemption: bool,
}

impl AlpsModel {
    /// The model of `scx_alps --policy <kind> <flags>` on `cpus` CPUs, with
    /// the loader's own parsing, validation and defaults (e.g. alps-io's
    /// `--io-penalty` 0.1, demand order and 2 ms minimum quantum).
    ///
    /// `flags` is split on whitespace. Errors: whatever scx_alps would
    /// reject, with its message (unknown flag, value out of range).
    pub fn from_flags(kind: PolicyKind, flags: &str, cpus: usize) -> Result<Self> {
        let policy = kind.to_string();
        // The model tags nothing: unless the flags name one, a cgroup root
        // that exists everywhere keeps the loader's check of the real one
        // from failing on hosts without /sys/fs/cgroup.
        let root: &[&str] = if flags.split_whitespace().any(|f| f.starts_with("--cgroup-root")) {
            &[]
        } else {
            &["--cgroup-root", "/"]
        };
        let args = ["scx_alps", "--policy", policy.as_str()]
            .into_iter()
            .chain(root.iter().copied())
            .chain(flags.split_whitespace());
        let opts = scx_alps::opts::Opts::try_parse_from(args).map_err(|e| anyhow!("scx_alps flags: {e}"))?;
        let s = opts
            .settings(cpus)
            .with_context(|| format!("scx_alps flags for --policy {policy}"))?;
        Ok(Self {
            learner: s.learner.clone(),
            neutral_rank: s.neutral_rank,
            slice_dfl_ns: s.slice_dfl_ns,
            min_quantum_ns: s.min_quantum_ns,
            starvation_ns: s.starvation_ns,
            learn_interval_ns: s.learn_interval_ms * MS,
            demotion: !opts.no_demotion,
            wakeup_preemption: !opts.no_wakeup_preemption,
        })
    }
}

impl Default for AlpsModel {
    fn default() -> Self {
        Self::from_flags(PolicyKind::Alps, "", 16).expect("scx_alps's default flags are valid")
    }
}

/// Simulation parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// CPUs.
    pub cpus: usize,
    /// Scheduler model.
    pub policy: SimPolicy,
    /// CPU time lost per context switch, ns.
    pub cs_cost_ns: u64,
    /// EEVDF base slice, ns.
    pub fair_slice_ns: u64,
    /// EEVDF minimum run before wake-up preemption, ns.
    pub fair_min_gran_ns: u64,
    /// scx_alps model (alps, alps-io).
    pub alps: AlpsModel,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            cpus: 16,
            policy: SimPolicy::Eevdf,
            cs_cost_ns: 5_000,
            fair_slice_ns: 3 * MS,
            fair_min_gran_ns: 750_000,
            alps: AlpsModel::default(),
        }
    }
}

/// Counters of a simulation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Context switches (a CPU changing task).
    pub context_switches: u64,
    /// Running tasks preempted by a waking or arriving task.
    pub preemptions: u64,
    /// CPU time spent running tasks, ns.
    pub busy_ns: u64,
    /// CPU-time integral of (idle CPUs while tasks were queued), ns: 0 for a
    /// work-conserving policy.
    pub idle_while_runnable_ns: u64,
    /// Last completion, ns.
    pub makespan_ns: u64,
    /// Longest runnable wait of any task, ns.
    pub max_wait_ns: u64,
    /// Starvation-guard promotions (alps).
    pub guard_promotions: u64,
    /// Wake-ups whose preemption the minimum quantum deferred (alps-io).
    pub throttled: u64,
    /// Demoted enqueues (alps).
    pub demotions: u64,
    /// Learner updates (alps).
    pub learner_updates: u64,
    /// Mean wall-clock cost of a learner update, ns.
    pub learner_mean_ns: u64,
}

/// What a simulation produced.
#[derive(Clone, Debug)]
pub struct SimOutput {
    /// One result per invocation, in plan order.
    pub results: Vec<InvocationResult>,
    /// Counters.
    pub stats: SimStats,
    /// Last learned policy (alps), by function name.
    pub policy_table: Vec<(String, FuncPolicy)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Pending,
    Queued,
    Running(usize),
    Sleeping,
    Done,
}

#[derive(Clone, Debug)]
struct Task {
    func: u32,
    arrival: u64,
    phase: usize,
    rem: u64,
    remaining_total: u64,
    state: State,
    runnable_at: u64,
    sleep_at: u64,
    cpu: u64,
    /// CPU since the last wake-up (what demotion looks at).
    burst: u64,
    wait: u64,
    blocked: u64,
    nvcsw: u64,
    nivcsw: u64,
    end: u64,
    // Fair share and scx_alps state.
    vruntime: u64,
    level: u32,
    key: u64,
    /// Queue key on learned levels: when the current burst began (arrival
    /// or wake-up), or the start of the last guard-served stint (so the guard
    /// rotates through starving tasks), as in scx_alps's queue_key().
    age_key: u64,
    guarded: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    task: Option<usize>,
    /// When the current segment of work started (after any switch cost).
    seg_start: u64,
    /// Start of the current stint (for quanta).
    stint_start: u64,
    /// End of the current slice.
    slice_end: u64,
    /// Time at which to re-check for a deferred preemption.
    recheck_at: u64,
    /// Level of the running task (alps), RANK_NONE when idle.
    level: u32,
    /// Nominal slice of the running task.
    slice: u64,
    /// Running with nothing queued: the slice is unbounded until a task is
    /// queued (saves one event per slice while a CPU has no competition).
    alone: bool,
    epoch: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Ev {
    Arrive(usize),
    Wake(usize),
    Cpu(usize, u64),
    Learn,
    Guard,
}

/// Engine state shared with the policies.
struct World<'p> {
    plan: &'p Plan,
    now: u64,
    tasks: Vec<Task>,
    cpus: Vec<Cpu>,
    queued: usize,
    stats: SimStats,
    cs_cost: u64,
}

impl World<'_> {
    fn phases(&self, t: usize) -> &[Phase] {
        &self.plan.invocations[t].phases
    }

    /// CPU time `t` has had since it last woke up, including a segment in
    /// progress (scx_alps's burst_ns()).
    fn burst(&self, t: usize) -> u64 {
        let task = &self.tasks[t];
        match task.state {
            State::Running(c) => task.burst + self.now.saturating_sub(self.cpus[c].seg_start),
            _ => task.burst,
        }
    }

    /// Remaining total CPU demand of `t` now.
    fn remaining_total(&self, t: usize) -> u64 {
        let task = &self.tasks[t];
        match task.state {
            State::Running(c) => task
                .remaining_total
                .saturating_sub(self.now.saturating_sub(self.cpus[c].seg_start)),
            _ => task.remaining_total,
        }
    }
}

/// What a model wants done for a newly runnable task.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    None,
    Preempt(usize),
    Deferred(usize),
}

/// Why a task is being enqueued.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Why {
    Arrival,
    Wakeup,
    Preempted,
    SliceEnd,
}

trait Model {
    /// Queues `t`.
    fn enqueue(&mut self, w: &mut World, t: usize, why: Why);
    /// Chooses what `cpu` runs next. `prev` is still runnable (its slice
    /// ended) and not queued: return it to keep it running, or queue it.
    /// Returns the task and its slice.
    fn pick(&mut self, w: &mut World, cpu: usize, prev: Option<usize>) -> Option<(usize, u64)>;
    /// After `t` was queued and no CPU is idle: a CPU to preempt for it.
    /// A model that defers the preemption sets that CPU's `recheck_at` and
    /// returns `Deferred`.
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Target;
    /// At a CPU's recheck time: should its task yield now?
    fn recheck(&mut self, _w: &mut World, _cpu: usize) -> bool {
        false
    }
    /// A task finished.
    fn exited(&mut self, _w: &mut World, _t: usize) {}
    /// Periodic learner update.
    fn learn(&mut self, _w: &mut World) {}
    /// Periodic guard scan: CPUs to preempt.
    fn guard(&mut self, _w: &mut World) -> Vec<usize> {
        Vec::new()
    }
    /// Is anything queued?
    fn has_queued(&self) -> bool;
}

// ---------------------------------------------------------------------------
// FIFO

struct Fifo {
    q: VecDeque<usize>,
}

impl Model for Fifo {
    fn enqueue(&mut self, _w: &mut World, t: usize, _why: Why) {
        self.q.push_back(t);
    }
    fn pick(&mut self, _w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        if let Some(p) = prev {
            return Some((p, u64::MAX));
        }
        self.q.pop_front().map(|t| (t, u64::MAX))
    }
    fn preempt_target(&mut self, _w: &mut World, _t: usize) -> Target {
        Target::None
    }
    fn has_queued(&self) -> bool {
        !self.q.is_empty()
    }
}

// ---------------------------------------------------------------------------
// EEVDF/CFS fair-share model

struct Fair {
    q: BTreeSet<(u64, usize)>,
    slice: u64,
    min_gran: u64,
    vnow: u64,
}

impl Fair {
    fn current_vruntime(&self, w: &World, t: usize) -> u64 {
        let task = &w.tasks[t];
        match task.state {
            State::Running(c) => task.vruntime + w.now.saturating_sub(w.cpus[c].seg_start),
            _ => task.vruntime,
        }
    }
}

impl Model for Fair {
    fn enqueue(&mut self, w: &mut World, t: usize, why: Why) {
        let v = &mut w.tasks[t].vruntime;
        match why {
            Why::Arrival => *v = self.vnow,
            Why::Wakeup => *v = (*v).max(self.vnow.saturating_sub(self.slice)),
            _ => {}
        }
        self.q.insert((*v, t));
    }
    fn pick(&mut self, w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        if let Some(p) = prev {
            let vp = w.tasks[p].vruntime;
            match self.q.first() {
                Some(&(v, _)) if v < vp => {
                    self.q.insert((vp, p));
                }
                _ => return Some((p, self.slice)),
            }
        }
        let (v, t) = self.q.pop_first()?;
        self.vnow = self.vnow.max(v);
        Some((t, self.slice))
    }
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Target {
        let vt = w.tasks[t].vruntime;
        let mut best: Option<(u64, usize)> = None;
        for c in 0..w.cpus.len() {
            let Some(r) = w.cpus[c].task else { continue };
            if w.now.saturating_sub(w.cpus[c].stint_start) < self.min_gran {
                continue;
            }
            let vr = self.current_vruntime(w, r);
            if best.is_none_or(|(b, _)| vr > b) {
                best = Some((vr, c));
            }
        }
        // EEVDF preempts when the woken task's deadline comes first.
        match best {
            Some((vr, c)) if vt + self.slice / 2 < vr => Target::Preempt(c),
            _ => Target::None,
        }
    }
    fn has_queued(&self) -> bool {
        !self.q.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Clairvoyant SRPT

struct Srpt {
    q: BTreeSet<(u64, usize)>,
}

impl Model for Srpt {
    fn enqueue(&mut self, w: &mut World, t: usize, _why: Why) {
        self.q.insert((w.remaining_total(t), t));
    }
    fn pick(&mut self, w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        if let Some(p) = prev {
            // Slices are infinite: only reached when a burst ends and another
            // follows; keep running unless someone is strictly shorter.
            match self.q.first() {
                Some(&(k, _)) if k < w.remaining_total(p) => {
                    let rp = w.remaining_total(p);
                    self.q.insert((rp, p));
                }
                _ => return Some((p, u64::MAX)),
            }
        }
        self.q.pop_first().map(|(_, t)| (t, u64::MAX))
    }
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Target {
        let kt = w.remaining_total(t);
        let mut worst: Option<(u64, usize)> = None;
        for c in 0..w.cpus.len() {
            if let Some(r) = w.cpus[c].task {
                let kr = w.remaining_total(r);
                if worst.is_none_or(|(k, _)| kr > k) {
                    worst = Some((kr, c));
                }
            }
        }
        match worst {
            Some((k, c)) if kt < k => Target::Preempt(c),
            _ => Target::None,
        }
    }
    fn has_queued(&self) -> bool {
        !self.q.is_empty()
    }
}

// ---------------------------------------------------------------------------
// scx_alps model

struct Alps {
    m: AlpsModel,
    nr_ranks: u32,
    learner: Learner,
    /// func id -> (rank, slice, expect), Some once learned.
    policy: Vec<Option<(u32, u64, u64)>>,
    levels: Vec<BTreeSet<(u64, usize)>>,
    guard_q: VecDeque<usize>,
    vtime_now: u64,
    busy_at_last_learn: u64,
    last_learn: u64,
    last_table: Vec<FuncPolicy>,
}

impl Alps {
    fn new(m: AlpsModel, kind: PolicyKind, cpus: usize) -> Self {
        let mut lc = m.learner.clone();
        lc.kind = kind;
        lc.nr_cpus = cpus;
        let nr_ranks = lc.nr_ranks;
        Self {
            m,
            nr_ranks,
            learner: Learner::new(lc),
            policy: Vec::new(),
            levels: (0..=nr_ranks).map(|_| BTreeSet::new()).collect(),
            guard_q: VecDeque::new(),
            vtime_now: 0,
            busy_at_last_learn: 0,
            last_learn: 0,
            last_table: Vec::new(),
        }
    }

    /// Level of `t` (scx_alps's task_level).
    fn level_of(&self, w: &World, t: usize) -> (u32, bool) {
        let task = &w.tasks[t];
        match self.policy.get(task.func as usize).copied().flatten() {
            None => (policy::level(false, 0, self.m.neutral_rank, self.nr_ranks), false),
            Some((rank, _, expect)) => {
                let base = rank.min(self.nr_ranks - 1);
                let r = if self.m.demotion {
                    policy::demoted_rank(base, w.burst(t), expect, self.nr_ranks)
                } else {
                    base
                };
                (policy::level(true, r, self.m.neutral_rank, self.nr_ranks), r != base)
            }
        }
    }

    fn slice_of(&self, w: &World, t: usize) -> u64 {
        let learned = self
            .policy
            .get(w.tasks[t].func as usize)
            .copied()
            .flatten()
            .map_or(0, |p| p.1);
        let lc = self.learner.config();
        policy::clamp_slice(learned, self.m.slice_dfl_ns, lc.slice_min_ns, lc.slice_max_ns)
    }

    fn better_waiting(&self, level: u32) -> bool {
        !self.guard_q.is_empty() || self.levels.iter().take(level as usize).any(|q| !q.is_empty())
    }

    /// Level of the task running on `c` now: ops.tick() refreshes it every
    /// tick, so demotion is seen while the task runs.
    fn cpu_level(&self, w: &World, c: usize) -> u32 {
        match w.cpus[c].task {
            Some(t) if !w.tasks[t].guarded => self.level_of(w, t).0,
            Some(_) => 0,
            None => policy::RANK_NONE,
        }
    }
}

impl Model for Alps {
    fn enqueue(&mut self, w: &mut World, t: usize, _why: Why) {
        let (level, demoted) = self.level_of(w, t);
        if demoted {
            w.stats.demotions += 1;
        }
        let key = if level == self.m.neutral_rank {
            let floor = self.vtime_now.saturating_sub(self.m.slice_dfl_ns);
            let v = &mut w.tasks[t].vruntime;
            *v = (*v).max(floor);
            *v
        } else {
            w.tasks[t].age_key
        };
        w.tasks[t].level = level;
        w.tasks[t].key = key;
        self.levels[level as usize].insert((key, t));
    }

    fn pick(&mut self, w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        let prev_level = prev.map(|p| if w.tasks[p].guarded { 0 } else { self.level_of(w, p).0 });
        if let Some(t) = self.guard_q.pop_front() {
            if let Some(p) = prev {
                self.enqueue(w, p, Why::SliceEnd);
            }
            // Guard-served stints get the minimum slice, as in BPF.
            w.tasks[t].guarded = true;
            return Some((t, self.learner.config().slice_min_ns));
        }
        for l in 0..self.levels.len() as u32 {
            if let Some(pl) = prev_level
                && policy::keep_prev(pl, l)
            {
                break;
            }
            if let Some((_, t)) = self.levels[l as usize].pop_first() {
                if let Some(p) = prev {
                    self.enqueue(w, p, Why::SliceEnd);
                }
                return Some((t, self.slice_of(w, t)));
            }
        }
        prev.map(|p| (p, self.slice_of(w, p)))
    }

    fn preempt_target(&mut self, w: &mut World, t: usize) -> Target {
        if !self.m.wakeup_preemption {
            return Target::None;
        }
        let level = w.tasks[t].level;
        let mut victim: Option<(u32, u64, usize)> = None;
        for c in 0..w.cpus.len() {
            if w.cpus[c].task.is_none() {
                continue;
            }
            let cl = self.cpu_level(w, c);
            let started = w.cpus[c].stint_start;
            let better = match victim {
                None => cl > level,
                Some((vl, vs, _)) => cl > vl || (cl == vl && started < vs),
            };
            if better {
                victim = Some((cl, started, c));
            }
        }
        let Some((vl, vs, c)) = victim else { return Target::None };
        if policy::should_preempt(level, vl, w.now - vs, self.m.min_quantum_ns) {
            Target::Preempt(c)
        } else {
            // Deferred: the victim's tick will notice once its quantum is up.
            w.stats.throttled += 1;
            let at = vs + self.m.min_quantum_ns;
            let cpu = &mut w.cpus[c];
            if cpu.recheck_at == 0 || at < cpu.recheck_at {
                cpu.recheck_at = at;
            }
            Target::Deferred(c)
        }
    }

    fn recheck(&mut self, w: &mut World, cpu: usize) -> bool {
        let Some(t) = w.cpus[cpu].task else { return false };
        if w.tasks[t].guarded {
            return false;
        }
        let level = self.level_of(w, t).0;
        w.cpus[cpu].level = level;
        w.now - w.cpus[cpu].stint_start >= self.m.min_quantum_ns && self.better_waiting(level)
    }

    fn exited(&mut self, w: &mut World, t: usize) {
        let task = &w.tasks[t];
        self.learner.observe(LearnInv {
            func_id: task.func,
            start_ns: task.arrival,
            end_ns: task.end,
            cpu_ns: task.cpu,
            wait_ns: task.wait,
            blocked_ns: task.blocked,
            nvcsw: task.nvcsw,
            nivcsw: task.nivcsw,
        });
    }

    fn learn(&mut self, w: &mut World) {
        let dt = w.now.saturating_sub(self.last_learn).max(1);
        let busy = w.stats.busy_ns - self.busy_at_last_learn;
        let util = (100.0 * busy as f64 / (dt as f64 * w.cpus.len() as f64)).clamp(0.0, 100.0);
        self.busy_at_last_learn = w.stats.busy_ns;
        self.last_learn = w.now;
        let table = self.learner.update(util);
        for f in &table {
            let i = f.func_id as usize;
            if self.policy.len() <= i {
                self.policy.resize(i + 1, None);
            }
            self.policy[i] = Some((f.rank, f.slice_ns, f.expect_ns));
        }
        if !table.is_empty() {
            self.last_table = table;
        }
    }

    fn guard(&mut self, w: &mut World) -> Vec<usize> {
        let thresh = policy::guard_threshold(self.m.starvation_ns);
        let mut moved = Vec::new();
        for q in self.levels.iter_mut() {
            let starving: Vec<(u64, usize)> = q
                .iter()
                .take(scx_alps::bpf_intf::alps_consts_ALPS_GUARD_SCAN_MAX as usize)
                .filter(|(_, t)| policy::is_starving(w.now.saturating_sub(w.tasks[*t].runnable_at), thresh))
                .copied()
                .collect();
            for e in starving {
                q.remove(&e);
                moved.push(e.1);
            }
        }
        w.stats.guard_promotions += moved.len() as u64;
        let mut cpus = Vec::new();
        for t in moved {
            self.guard_q.push_back(t);
            // Preempt the CPU running the worst level, as a tick would.
            let victim = (0..w.cpus.len())
                .filter(|&c| w.cpus[c].task.is_some_and(|r| !w.tasks[r].guarded) && !cpus.contains(&c))
                .max_by_key(|&c| (w.cpus[c].level, Reverse(c)));
            if let Some(c) = victim {
                cpus.push(c);
            }
        }
        cpus
    }

    fn has_queued(&self) -> bool {
        !self.guard_q.is_empty() || self.levels.iter().any(|q| !q.is_empty())
    }
}

impl Alps {
    fn note_running(&mut self, w: &mut World, c: usize, t: usize) {
        if w.tasks[t].guarded {
            w.tasks[t].age_key = w.now;
        }
        let task = &w.tasks[t];
        let level = if task.guarded { 0 } else { self.level_of(w, t).0 };
        w.cpus[c].level = level;
        if w.tasks[t].level == self.m.neutral_rank {
            self.vtime_now = self.vtime_now.max(w.tasks[t].vruntime);
        }
    }
}

// ---------------------------------------------------------------------------
// Engine

struct Engine<'p> {
    w: World<'p>,
    model: Box<dyn ModelExt>,
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    policy: SimPolicy,
    guard_interval: u64,
    guard_armed: bool,
    learn_interval: u64,
    unfinished: usize,
    last_t: u64,
}

/// Model plus the hooks only scx_alps needs.
trait ModelExt: Model {
    fn running(&mut self, _w: &mut World, _c: usize, _t: usize) {}
    fn stopped(&mut self, _w: &mut World, _t: usize, _ran: u64) {}
    fn alps(&self) -> Option<&Alps> {
        None
    }
}

impl ModelExt for Fifo {}
impl ModelExt for Srpt {}
impl ModelExt for Fair {
    fn stopped(&mut self, w: &mut World, t: usize, ran: u64) {
        w.tasks[t].vruntime += ran;
    }
}
impl ModelExt for Alps {
    fn running(&mut self, w: &mut World, c: usize, t: usize) {
        self.note_running(w, c, t);
    }
    fn stopped(&mut self, w: &mut World, t: usize, ran: u64) {
        if w.tasks[t].level == self.m.neutral_rank {
            w.tasks[t].vruntime += ran;
        }
        w.tasks[t].guarded = false;
    }
    fn alps(&self) -> Option<&Alps> {
        Some(self)
    }
}

impl<'p> Engine<'p> {
    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    /// Accounts the time since the last event for the work-conservation check.
    fn advance(&mut self, to: u64) {
        let dt = to - self.last_t;
        if dt > 0 {
            let idle = self.w.cpus.iter().filter(|c| c.task.is_none()).count() as u64;
            let queued = self.w.queued as u64;
            self.w.stats.idle_while_runnable_ns += dt * idle.min(queued);
        }
        self.last_t = to;
        self.w.now = to;
    }

    /// Stops the task on `c` at now: accounts its CPU time. Returns it.
    fn stop(&mut self, c: usize) -> Option<usize> {
        let now = self.w.now;
        let cpu = self.w.cpus[c];
        let t = cpu.task?;
        let ran = now.saturating_sub(cpu.seg_start);
        {
            let task = &mut self.w.tasks[t];
            task.rem = task.rem.saturating_sub(ran);
            task.remaining_total = task.remaining_total.saturating_sub(ran);
            task.cpu += ran;
            task.burst += ran;
        }
        self.w.stats.busy_ns += ran;
        self.model.stopped(&mut self.w, t, ran);
        let cpu = &mut self.w.cpus[c];
        cpu.task = None;
        cpu.level = policy::RANK_NONE;
        cpu.recheck_at = 0;
        cpu.epoch += 1;
        Some(t)
    }

    /// Starts `t` on `c` with `slice`; `switched` charges a context switch.
    fn start(&mut self, c: usize, t: usize, slice: u64, switched: bool) {
        let now = self.w.now;
        let seg_start = now + if switched { self.w.cs_cost } else { 0 };
        if switched {
            self.w.stats.context_switches += 1;
        }
        {
            let task = &mut self.w.tasks[t];
            if task.state == State::Queued {
                self.w.queued -= 1;
            }
            if task.runnable_at > 0 || task.state == State::Queued {
                let waited = seg_start.saturating_sub(task.runnable_at);
                task.wait += waited;
                self.w.stats.max_wait_ns = self.w.stats.max_wait_ns.max(waited);
            }
            task.state = State::Running(c);
        }
        let alone = !self.model.has_queued();
        let cpu = &mut self.w.cpus[c];
        cpu.task = Some(t);
        cpu.seg_start = seg_start;
        cpu.stint_start = seg_start;
        cpu.slice = slice;
        cpu.alone = alone;
        cpu.slice_end = if alone {
            u64::MAX
        } else {
            seg_start.saturating_add(slice)
        };
        cpu.recheck_at = 0;
        cpu.epoch += 1;
        self.model.running(&mut self.w, c, t);
        self.arm(c);
    }

    /// Pushes the next event of CPU `c`.
    fn arm(&mut self, c: usize) {
        let cpu = self.w.cpus[c];
        let Some(t) = cpu.task else { return };
        let mut at = cpu.seg_start + self.w.tasks[t].rem;
        at = at.min(cpu.slice_end);
        if cpu.recheck_at > 0 {
            at = at.min(cpu.recheck_at.max(self.w.now));
        }
        self.push(at, Ev::Cpu(c, cpu.epoch));
    }

    /// Lets CPU `c` choose; `prev` is its task if still runnable.
    fn reschedule(&mut self, c: usize, prev: Option<usize>) {
        match self.model.pick(&mut self.w, c, prev) {
            Some((t, slice)) if Some(t) == prev => {
                // Keeps running: a new slice, same stint.
                let now = self.w.now;
                let alone = !self.model.has_queued();
                let cpu = &mut self.w.cpus[c];
                cpu.task = Some(t);
                cpu.seg_start = now;
                cpu.slice = slice;
                cpu.alone = alone;
                cpu.slice_end = if alone { u64::MAX } else { now.saturating_add(slice) };
                cpu.epoch += 1;
                self.w.tasks[t].state = State::Running(c);
                self.model.running(&mut self.w, c, t);
                self.arm(c);
            }
            Some((t, slice)) => {
                if let Some(p) = prev {
                    self.mark_queued(p);
                    self.w.tasks[p].nivcsw += 1;
                }
                self.start(c, t, slice, true);
            }
            None => {
                if let Some(p) = prev {
                    // The model dropped prev: cannot happen (keeps or queues).
                    debug_assert!(false, "model lost task {p}");
                }
            }
        }
    }

    fn mark_queued(&mut self, t: usize) {
        let task = &mut self.w.tasks[t];
        if task.state != State::Queued {
            task.state = State::Queued;
            task.runnable_at = self.w.now;
            self.w.queued += 1;
        }
    }

    /// `t` became runnable: queue it, then give it an idle CPU or preempt.
    fn make_runnable(&mut self, t: usize, why: Why) {
        self.mark_queued(t);
        self.model.enqueue(&mut self.w, t, why);
        self.end_alone();
        self.kick(t);
    }

    /// Something is queued: CPUs that ran without competition get a slice
    /// from now on.
    fn end_alone(&mut self) {
        let now = self.w.now;
        for c in 0..self.w.cpus.len() {
            let cpu = &mut self.w.cpus[c];
            if cpu.alone && cpu.task.is_some() {
                cpu.alone = false;
                cpu.slice_end = now.max(cpu.seg_start).saturating_add(cpu.slice);
                cpu.epoch += 1;
                self.arm(c);
            }
        }
    }

    fn kick(&mut self, t: usize) {
        if let Some(c) = (0..self.w.cpus.len()).find(|&c| self.w.cpus[c].task.is_none()) {
            self.reschedule(c, None);
            return;
        }
        match self.model.preempt_target(&mut self.w, t) {
            Target::Preempt(c) => self.preempt(c),
            Target::Deferred(c) => {
                self.w.cpus[c].epoch += 1;
                self.arm(c);
            }
            Target::None => {}
        }
        self.arm_guard();
    }

    fn preempt(&mut self, c: usize) {
        if let Some(p) = self.stop(c) {
            self.w.stats.preemptions += 1;
            self.w.tasks[p].nivcsw += 1;
            self.mark_queued(p);
            self.model.enqueue(&mut self.w, p, Why::Preempted);
            // The preempted task was queued first; the CPU then picks.
            self.reschedule(c, None);
        }
    }

    fn arm_guard(&mut self) {
        if self.guard_interval > 0 && !self.guard_armed && self.model.has_queued() {
            self.guard_armed = true;
            let at = self.w.now + self.guard_interval;
            self.push(at, Ev::Guard);
        }
    }

    /// The running task of `c` finished its CPU burst: next phase.
    fn burst_done(&mut self, c: usize, t: usize) {
        let next = self.w.tasks[t].phase + 1;
        self.w.tasks[t].phase = next;
        match self.w.phases(t).get(next).copied() {
            Some(Phase::Cpu { ns }) => {
                self.w.tasks[t].rem = ns.max(1);
                self.reschedule(c, Some(t));
            }
            Some(Phase::Sleep { ns }) => {
                let now = self.w.now;
                let task = &mut self.w.tasks[t];
                task.state = State::Sleeping;
                task.sleep_at = now;
                task.nvcsw += 1;
                self.push(now + ns, Ev::Wake(t));
                self.reschedule(c, None);
            }
            None => {
                let now = self.w.now;
                let task = &mut self.w.tasks[t];
                task.state = State::Done;
                task.end = now;
                self.unfinished -= 1;
                self.w.stats.makespan_ns = now;
                self.model.exited(&mut self.w, t);
                self.reschedule(c, None);
            }
        }
    }

    fn run(&mut self) {
        while let Some(Reverse((at, _, ev))) = self.heap.pop() {
            if self.unfinished == 0 {
                break;
            }
            self.advance(at);
            self.w.stats.events += 1;
            match ev {
                Ev::Arrive(t) => {
                    // A task starts with its first phase (a sleep first is
                    // treated as an arrival after it).
                    match self.w.phases(t).first().copied() {
                        Some(Phase::Cpu { ns }) => {
                            self.w.tasks[t].rem = ns.max(1);
                            self.make_runnable(t, Why::Arrival);
                        }
                        Some(Phase::Sleep { ns }) => {
                            let task = &mut self.w.tasks[t];
                            task.state = State::Sleeping;
                            task.sleep_at = at;
                            task.phase = 0;
                            self.push(at + ns, Ev::Wake(t));
                        }
                        None => {
                            let task = &mut self.w.tasks[t];
                            task.state = State::Done;
                            task.end = at;
                            self.unfinished -= 1;
                        }
                    }
                }
                Ev::Wake(t) => {
                    let task = &mut self.w.tasks[t];
                    task.blocked += at - task.sleep_at;
                    task.burst = 0;
                    task.age_key = at;
                    let next = task.phase + 1;
                    task.phase = next;
                    match self.w.phases(t).get(next).copied() {
                        Some(Phase::Cpu { ns }) => {
                            self.w.tasks[t].rem = ns.max(1);
                            self.make_runnable(t, Why::Wakeup);
                        }
                        Some(Phase::Sleep { ns }) => {
                            self.w.tasks[t].sleep_at = at;
                            self.push(at + ns, Ev::Wake(t));
                        }
                        None => {
                            let task = &mut self.w.tasks[t];
                            task.state = State::Done;
                            task.end = at;
                            self.unfinished -= 1;
                            self.model.exited(&mut self.w, t);
                        }
                    }
                }
                Ev::Cpu(c, epoch) => {
                    if self.w.cpus[c].epoch != epoch {
                        continue;
                    }
                    let Some(t) = self.stop(c) else { continue };
                    if self.w.tasks[t].rem == 0 {
                        self.burst_done(c, t);
                    } else if at >= self.w.cpus[c].slice_end {
                        self.reschedule(c, Some(t));
                    } else {
                        // A recheck: yield if a better task waits.
                        self.w.cpus[c].task = Some(t);
                        self.w.tasks[t].state = State::Running(c);
                        self.w.cpus[c].seg_start = at;
                        if self.model.recheck(&mut self.w, c) {
                            self.w.cpus[c].task = None;
                            self.w.tasks[t].nivcsw += 1;
                            self.mark_queued(t);
                            self.model.enqueue(&mut self.w, t, Why::Preempted);
                            self.w.stats.preemptions += 1;
                            self.reschedule(c, None);
                        } else {
                            self.w.cpus[c].recheck_at = 0;
                            self.w.cpus[c].epoch += 1;
                            self.arm(c);
                        }
                    }
                }
                Ev::Learn => {
                    self.model.learn(&mut self.w);
                    let at2 = at + self.learn_interval;
                    self.push(at2, Ev::Learn);
                }
                Ev::Guard => {
                    self.guard_armed = false;
                    for c in self.model.guard(&mut self.w) {
                        self.preempt(c);
                    }
                    self.arm_guard();
                }
            }
        }
    }
}

/// Simulates `plan` under `cfg`. Function ids follow the sorted function
/// names of the plan (1-based), as the real loader assigns them on first
/// sight.
///
/// Errors when `cfg.cpus` is 0.
pub fn simulate(plan: &Plan, cfg: &SimConfig) -> Result<SimOutput> {
    if cfg.cpus == 0 {
        bail!("the simulation needs at least one CPU");
    }
    let funcs = plan.functions();
    let func_id: HashMap<&str, u32> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i as u32 + 1))
        .collect();
    let tasks: Vec<Task> = plan
        .invocations
        .iter()
        .map(|inv| Task {
            func: func_id[inv.func.as_str()],
            arrival: inv.arrival_ns,
            phase: 0,
            rem: 0,
            remaining_total: inv.cpu_ns(),
            state: State::Pending,
            runnable_at: 0,
            sleep_at: 0,
            cpu: 0,
            burst: 0,
            wait: 0,
            blocked: 0,
            nvcsw: 0,
            nivcsw: 0,
            end: 0,
            vruntime: 0,
            level: 0,
            key: 0,
            age_key: inv.arrival_ns,
            guarded: false,
        })
        .collect();
    let model: Box<dyn ModelExt> = match cfg.policy {
        SimPolicy::Fifo => Box::new(Fifo { q: VecDeque::new() }),
        SimPolicy::Eevdf => Box::new(Fair {
            q: BTreeSet::new(),
            slice: cfg.fair_slice_ns.max(1),
            min_gran: cfg.fair_min_gran_ns,
            vnow: 0,
        }),
        SimPolicy::Srpt => Box::new(Srpt { q: BTreeSet::new() }),
        SimPolicy::Alps => Box::new(Alps::new(cfg.alps.clone(), PolicyKind::Alps, cfg.cpus)),
        SimPolicy::AlpsIo => Box::new(Alps::new(cfg.alps.clone(), PolicyKind::AlpsIo, cfg.cpus)),
    };
    let is_alps = matches!(cfg.policy, SimPolicy::Alps | SimPolicy::AlpsIo);
    let n = plan.invocations.len();
    let mut e = Engine {
        w: World {
            plan,
            now: 0,
            tasks,
            cpus: vec![
                Cpu {
                    level: policy::RANK_NONE,
                    ..Default::default()
                };
                cfg.cpus
            ],
            queued: 0,
            stats: SimStats::default(),
            cs_cost: cfg.cs_cost_ns,
        },
        model,
        heap: BinaryHeap::with_capacity(n * 2),
        seq: 0,
        policy: cfg.policy,
        guard_interval: if is_alps && cfg.alps.starvation_ns > 0 {
            policy::guard_interval(cfg.alps.starvation_ns)
        } else {
            0
        },
        guard_armed: false,
        learn_interval: cfg.alps.learn_interval_ns.max(1),
        unfinished: n,
        last_t: 0,
    };
    for (i, inv) in plan.invocations.iter().enumerate() {
        e.push(inv.arrival_ns, Ev::Arrive(i));
    }
    if is_alps {
        let at = e.learn_interval;
        e.push(at, Ev::Learn);
    }
    e.run();
    debug_assert!(e.policy == cfg.policy);

    let ms = |ns: u64| ns as f64 / 1e6;
    let results = plan
        .invocations
        .iter()
        .zip(&e.w.tasks)
        .map(|(inv, t)| {
            let mut r = InvocationResult::planned(inv);
            r.ok = t.state == State::Done;
            if r.ok {
                r.fct_ms = ms(t.end - inv.arrival_ns);
                r.end_ms = ms(t.end);
            }
            r.cpu_ms = ms(t.cpu);
            r.nvcsw = t.nvcsw;
            r.nivcsw = t.nivcsw;
            r
        })
        .collect();
    let mut stats = e.w.stats.clone();
    let mut policy_table = Vec::new();
    if let Some(a) = e.model.alps() {
        let cost = a.learner.cost();
        stats.learner_updates = cost.updates;
        stats.learner_mean_ns = cost.mean_ns;
        for f in &a.last_table {
            let name = funcs.get(f.func_id as usize - 1).cloned().unwrap_or_default();
            policy_table.push((name, f.clone()));
        }
    }
    Ok(SimOutput {
        results,
        stats,
        policy_table,
    })
}

/// Wall-clock speed of a simulation: invocations per second of host time.
pub fn timed(plan: &Plan, cfg: &SimConfig) -> Result<(SimOutput, f64)> {
    let t0 = Instant::now();
    let out = simulate(plan, cfg)?;
    let rate = plan.invocations.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    Ok((out, rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Format;
    use crate::workload::{Invocation, Kind, PlanConfig, Scenario};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Exp};

    fn plan_of(jobs: &[(&str, u64, Vec<Phase>)]) -> Plan {
        Plan {
            trace: "test".into(),
            format: Format::Study,
            config: PlanConfig {
                scenario: Scenario::Cpu,
                time_scale: 1.0,
                work_scale: 1.0,
                limit: 0,
                skip: 0,
            },
            seed: 0,
            invocations: jobs
                .iter()
                .enumerate()
                .map(|(idx, (func, arrival, phases))| Invocation {
                    idx,
                    id: idx.to_string(),
                    func: func.to_string(),
                    class: func.to_string(),
                    kind: if phases.iter().any(|p| matches!(p, Phase::Sleep { .. })) {
                        Kind::Io
                    } else {
                        Kind::Cpu
                    },
                    arrival_ns: *arrival,
                    phases: phases.clone(),
                })
                .collect(),
        }
    }

    fn cpu(ms: u64) -> Vec<Phase> {
        vec![Phase::Cpu { ns: ms * MS }]
    }

    /// The simulator at `cpus` CPUs with scx_alps's CLI defaults for
    /// `policy` (alps-io gets its own penalty, order and minimum quantum).
    fn cfg(policy: SimPolicy, cpus: usize) -> SimConfig {
        let kind = if policy == SimPolicy::AlpsIo {
            PolicyKind::AlpsIo
        } else {
            PolicyKind::Alps
        };
        SimConfig {
            cpus,
            policy,
            cs_cost_ns: 0,
            alps: AlpsModel::from_flags(kind, "", cpus).unwrap(),
            ..SimConfig::default()
        }
    }

    #[test]
    fn models_follow_the_cli_defaults() {
        let io = AlpsModel::from_flags(PolicyKind::AlpsIo, "", 2).unwrap();
        assert_eq!(io.learner.io_penalty, scx_alps::opts::DEFAULT_IO_PENALTY);
        assert_eq!(io.learner.order, scx_alps::learner::OrderKey::Demand);
        assert_eq!(io.min_quantum_ns, scx_alps::opts::DEFAULT_MIN_QUANTUM_US * 1000);
        assert_eq!(io.learner.nr_cpus, 2);
        let plain = AlpsModel::default();
        assert_eq!(plain.learner.io_penalty, 0.0);
        assert_eq!(plain.min_quantum_ns, 0);
        assert_eq!(plain.learn_interval_ns, 10_000 * MS);
        let tuned = AlpsModel::from_flags(PolicyKind::Alps, "--learn-interval-ms 500 --no-demotion", 4).unwrap();
        assert_eq!(tuned.learn_interval_ns, 500 * MS);
        assert!(!tuned.demotion);
        // A cgroup root the user names is still checked.
        let err = AlpsModel::from_flags(PolicyKind::Alps, "--cgroup-root /nonexistent", 4).unwrap_err();
        assert!(format!("{err:#}").contains("cgroup-root"), "{err:#}");
        let err = AlpsModel::from_flags(PolicyKind::Alps, "--io-penalty 0.5", 4).unwrap_err();
        assert!(format!("{err:#}").contains("io-penalty"), "{err:#}");
    }

    fn fcts(out: &SimOutput) -> Vec<f64> {
        out.results.iter().map(|r| r.fct_ms).collect()
    }

    #[test]
    fn fifo_runs_to_completion_in_arrival_order() {
        let p = plan_of(&[("a", 0, cpu(30)), ("b", 10 * MS, cpu(10)), ("c", 12 * MS, cpu(5))]);
        let out = simulate(&p, &cfg(SimPolicy::Fifo, 1)).unwrap();
        assert_eq!(fcts(&out), vec![30.0, 30.0, 33.0]);
        assert_eq!(out.stats.preemptions, 0);
    }

    #[test]
    fn srpt_preempts_for_shorter_remaining_work() {
        // A runs 0-10, B preempts (10 < 20 left) and runs 10-12, C preempts
        // (5 < 8 left) 12-17, then B 17-25, then A 25-45.
        let p = plan_of(&[("a", 0, cpu(30)), ("b", 10 * MS, cpu(10)), ("c", 12 * MS, cpu(5))]);
        let out = simulate(&p, &cfg(SimPolicy::Srpt, 1)).unwrap();
        assert_eq!(fcts(&out), vec![45.0, 15.0, 5.0]);
        assert_eq!(out.stats.preemptions, 2);
        // SRPT counts remaining work over all future bursts: a job with a
        // short first burst but a long second one is not "short".
        let p = plan_of(&[
            ("a", 0, cpu(20)),
            (
                "b",
                5 * MS,
                vec![
                    Phase::Cpu { ns: 2 * MS },
                    Phase::Sleep { ns: MS },
                    Phase::Cpu { ns: 30 * MS },
                ],
            ),
        ]);
        let out = simulate(&p, &cfg(SimPolicy::Srpt, 1)).unwrap();
        assert_eq!(fcts(&out), vec![20.0, 48.0]);
    }

    #[test]
    fn eevdf_model_shares_the_cpu_in_slices() {
        // Two 6 ms jobs at time 0, 3 ms slices. A 0-3; B (vruntime 0 < 3)
        // 3-6; at 6 both have 3 and the running task keeps the CPU on a tie:
        // B 6-9, A 9-12.
        let p = plan_of(&[("a", 0, cpu(6)), ("b", 0, cpu(6))]);
        let out = simulate(&p, &cfg(SimPolicy::Eevdf, 1)).unwrap();
        assert_eq!(fcts(&out), vec![12.0, 9.0]);
        // Switches: idle -> A, A -> B, B -> A.
        assert_eq!(out.stats.context_switches, 3);
        // Each switch costs 1 ms of CPU: A 1-4, B 5-8, B 8-11, A 12-15.
        let mut c = cfg(SimPolicy::Eevdf, 1);
        c.cs_cost_ns = MS;
        let out = simulate(&p, &c).unwrap();
        assert_eq!(fcts(&out), vec![15.0, 11.0]);
    }

    /// Training phase of the learning tests: 20 rounds 200 ms apart of an
    /// `a` invocation of `a_ms` of CPU, then a `b` invocation of `b_ms` 100 ms
    /// later; the learner has seen both functions by t = 4 s.
    fn training<'a>(a: &'a str, a_ms: u64, b: &'a str, b_ms: u64) -> Vec<(&'a str, u64, Vec<Phase>)> {
        (0..20u64)
            .flat_map(|i| [(a, i * 200 * MS, cpu(a_ms)), (b, i * 200 * MS + 100 * MS, cpu(b_ms))])
            .collect()
    }

    /// 40 spaced-out invocations of a short (5 ms) and a long (50 ms)
    /// function teach the learner their ranks; then a long one starts at
    /// 10 s and a short one arrives 1 ms later.
    fn learn_then_contend() -> Plan {
        let mut jobs = training("short", 5, "long", 50);
        jobs.push(("long", 10_000 * MS, cpu(50)));
        jobs.push(("short", 10_001 * MS, cpu(5)));
        plan_of(&jobs)
    }

    fn alps_cfg(policy: SimPolicy) -> SimConfig {
        let mut c = cfg(policy, 1);
        c.alps.learn_interval_ns = 1000 * MS;
        // Below the long function's slice (5 ms: slices never increase along
        // the rank order), so the quantum, not the slice, ends the stint.
        c.alps.min_quantum_ns = if policy == SimPolicy::AlpsIo { 4 * MS } else { 0 };
        c.alps.learner.order = scx_alps::learner::OrderKey::Demand;
        c
    }

    #[test]
    fn alps_learns_ranks_and_preempts_on_wakeup() {
        let p = learn_then_contend();
        let out = simulate(&p, &alps_cfg(SimPolicy::Alps)).unwrap();
        let f = fcts(&out);
        // The short invocation preempts at once and runs 5 ms; the long one
        // loses those 5 ms.
        assert_eq!(f[f.len() - 1], 5.0);
        assert_eq!(f[f.len() - 2], 55.0);
        let table: HashMap<&str, u32> = out.policy_table.iter().map(|(n, f)| (n.as_str(), f.rank)).collect();
        assert!(table["short"] < table["long"], "{table:?}");
        assert!(out.stats.learner_updates >= 10);
    }

    #[test]
    fn alps_io_holds_wakeup_preemption_for_the_minimum_quantum() {
        let p = learn_then_contend();
        let out = simulate(&p, &alps_cfg(SimPolicy::AlpsIo)).unwrap();
        let f = fcts(&out);
        // The long task keeps the CPU until it has run 4 ms (t = 10.004 s):
        // the short one waits 3 ms, then runs 5.
        assert_eq!(f[f.len() - 1], 8.0);
        assert_eq!(f[f.len() - 2], 55.0);
        assert_eq!(out.stats.throttled, 1);
    }

    #[test]
    fn alps_demotes_a_task_that_outruns_its_function() {
        // The learner expects "f" to need 10 ms (rank 0) and "g" 20 ms (rank
        // 4 of 8). A 200 ms invocation of f has attained 170 ms when a g
        // arrives: 17x its expectation, demoted 1 + log2(17) = 5 ranks, below
        // g, which preempts it at once.
        let mut jobs = training("f", 10, "g", 20);
        jobs.push(("f", 10_000 * MS, cpu(200)));
        jobs.push(("g", 10_170 * MS, cpu(20)));
        let p = plan_of(&jobs);
        let out = simulate(&p, &alps_cfg(SimPolicy::Alps)).unwrap();
        let f = fcts(&out);
        assert_eq!(f[f.len() - 1], 20.0);
        assert_eq!(f[f.len() - 2], 220.0);
        // Without demotion g waits for f to finish.
        let mut c = alps_cfg(SimPolicy::Alps);
        c.alps.demotion = false;
        let f = fcts(&simulate(&p, &c).unwrap());
        assert_eq!(f[f.len() - 1], 50.0);
    }

    #[test]
    fn alps_guard_bounds_the_wait_of_a_starved_task() {
        // One CPU: a stream of short tasks keeps the CPU busy; the long
        // function's task is learned to be lowest and would never run.
        let mut jobs = training("short", 5, "long", 50);
        jobs.push(("long", 10_000 * MS, cpu(50)));
        for i in 0..1000u64 {
            jobs.push(("short", 10_001 * MS + i * 4 * MS, cpu(4)));
        }
        let p = plan_of(&jobs);
        let mut c = alps_cfg(SimPolicy::Alps);
        c.alps.starvation_ns = 200 * MS;
        let out = simulate(&p, &c).unwrap();
        assert!(out.stats.guard_promotions >= 1);
        // Threshold 100 ms + scan period 25 ms + one slice.
        assert!(out.stats.max_wait_ns < 200 * MS, "{}", out.stats.max_wait_ns);
        let long = &out.results[40];
        assert!(long.ok && long.fct_ms < 4100.0, "{}", long.fct_ms);
    }

    fn poisson_plan(n: usize, lambda_per_ms: f64, sizes: impl Fn(&mut StdRng) -> f64, seed: u64) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed);
        let iat = Exp::new(lambda_per_ms).unwrap();
        let mut t = 0.0;
        let jobs: Vec<(&str, u64, Vec<Phase>)> = (0..n)
            .map(|_| {
                t += iat.sample(&mut rng);
                let s = sizes(&mut rng);
                (
                    "f",
                    (t * MS as f64) as u64,
                    vec![Phase::Cpu {
                        ns: (s * MS as f64).max(1.0) as u64,
                    }],
                )
            })
            .collect();
        plan_of(&jobs)
    }

    fn mean_fct(out: &SimOutput) -> f64 {
        let v = fcts(out);
        v.iter().sum::<f64>() / v.len() as f64
    }

    /// Mean response time of M/M/1 under preemptive SRPT (Schrage & Miller
    /// 1966), integrated numerically: sizes Exp(mu), arrivals Poisson(lambda).
    fn srpt_mm1(lambda: f64, mu: f64) -> f64 {
        let f = |x: f64| mu * (-mu * x).exp();
        let upper = 40.0 / mu;
        let steps = 40_000;
        let h = upper / steps as f64;
        // Running integrals of t f(t) and t^2 f(t), and of 1/(1-rho(t)).
        let (mut m1, mut m2, mut inv) = (0.0, 0.0, 0.0);
        let mut total = 0.0;
        for i in 0..steps {
            let x = (i as f64 + 0.5) * h;
            let fx = f(x);
            m1 += x * fx * h;
            m2 += x * x * fx * h;
            let rho = lambda * m1;
            inv += h / (1.0 - rho);
            let tail = (-mu * x).exp();
            let waiting = (lambda * m2 + lambda * x * x * tail) / (2.0 * (1.0 - rho) * (1.0 - rho));
            total += (waiting + inv) * fx * h;
        }
        total
    }

    #[test]
    fn mm1_fifo_ps_and_srpt_match_queueing_theory() {
        // rho = 0.7: mean size 10 ms, 0.07 arrivals per ms.
        let (lambda, mean) = (0.07, 10.0);
        let exp = Exp::new(1.0 / mean).unwrap();
        let p = poisson_plan(200_000, lambda, |r| exp.sample(r), 7);
        let fifo = mean_fct(&simulate(&p, &cfg(SimPolicy::Fifo, 1)).unwrap());
        let fcfs_theory = 1.0 / (1.0 / mean - lambda); // 33.3 ms
        assert!(
            (fifo - fcfs_theory).abs() / fcfs_theory < 0.05,
            "FIFO {fifo} vs {fcfs_theory}"
        );
        // Processor sharing (the fair model with a slice far below the mean
        // size) has the same mean in M/M/1.
        let mut fair = cfg(SimPolicy::Eevdf, 1);
        fair.fair_slice_ns = 250_000;
        fair.fair_min_gran_ns = 0;
        let ps = mean_fct(&simulate(&p, &fair).unwrap());
        assert!(
            (ps - fcfs_theory).abs() / fcfs_theory < 0.05,
            "PS {ps} vs {fcfs_theory}"
        );
        let srpt = mean_fct(&simulate(&p, &cfg(SimPolicy::Srpt, 1)).unwrap());
        let srpt_theory = srpt_mm1(lambda, 1.0 / mean);
        assert!(
            (srpt - srpt_theory).abs() / srpt_theory < 0.05,
            "SRPT {srpt} vs {srpt_theory}"
        );
        assert!(srpt < fifo);
    }

    #[test]
    fn mg1_fair_share_matches_processor_sharing() {
        // Bimodal sizes (90 % 2 ms, 10 % 82 ms: mean 10 ms), rho = 0.7.
        // Processor sharing is insensitive: E[T] = E[S] / (1 - rho) = 33.3 ms,
        // while FCFS suffers the variance (Pollaczek-Khinchine: 88.9 ms).
        let lambda = 0.07;
        let p = poisson_plan(
            100_000,
            lambda,
            |r| if r.random::<f64>() < 0.9 { 2.0 } else { 82.0 },
            11,
        );
        let mut c = cfg(SimPolicy::Eevdf, 1);
        c.fair_slice_ns = 250_000;
        c.fair_min_gran_ns = 0;
        let ps = mean_fct(&simulate(&p, &c).unwrap());
        let ps_theory = 10.0 / (1.0 - 0.7);
        assert!((ps - ps_theory).abs() / ps_theory < 0.05, "PS {ps} vs {ps_theory}");
        let fifo = mean_fct(&simulate(&p, &cfg(SimPolicy::Fifo, 1)).unwrap());
        let pk = 10.0 + lambda * (0.9 * 4.0 + 0.1 * 82.0 * 82.0) / (2.0 * 0.3);
        assert!((fifo - pk).abs() / pk < 0.05, "FCFS {fifo} vs {pk}");
    }

    #[test]
    fn every_policy_is_work_conserving_and_finishes_everything() {
        let mut rng = StdRng::seed_from_u64(3);
        let jobs: Vec<(&str, u64, Vec<Phase>)> = (0..600)
            .map(|i| {
                let t = i as u64 * 3 * MS + rng.random_range(0..MS);
                let phases = if rng.random::<f64>() < 0.4 {
                    vec![
                        Phase::Cpu {
                            ns: rng.random_range(1..10) * MS,
                        },
                        Phase::Sleep {
                            ns: rng.random_range(1..50) * MS,
                        },
                        Phase::Cpu { ns: MS },
                    ]
                } else {
                    vec![Phase::Cpu {
                        ns: rng.random_range(1..40) * MS,
                    }]
                };
                (["a", "b", "c", "d"][i % 4], t, phases)
            })
            .collect();
        let p = plan_of(&jobs);
        for policy in [
            SimPolicy::Fifo,
            SimPolicy::Eevdf,
            SimPolicy::Alps,
            SimPolicy::AlpsIo,
            SimPolicy::Srpt,
        ] {
            for cpus in [1, 4] {
                let mut c = cfg(policy, cpus);
                c.cs_cost_ns = 10_000;
                c.alps.learn_interval_ns = 200 * MS;
                let out = simulate(&p, &c).unwrap();
                assert_eq!(
                    out.stats.idle_while_runnable_ns, 0,
                    "{policy:?} on {cpus} CPUs idled with work queued"
                );
                assert!(out.results.iter().all(|r| r.ok), "{policy:?}: unfinished invocations");
                // CPU time served equals demand (no work lost or invented).
                let demand: f64 = p.invocations.iter().map(|i| i.cpu_ns() as f64).sum();
                let served: f64 = out.results.iter().map(|r| r.cpu_ms * 1e6).sum();
                assert!((demand - served).abs() < 1.0 * p.invocations.len() as f64, "{policy:?}");
                for (r, inv) in out.results.iter().zip(&p.invocations) {
                    assert!(
                        r.fct_ms * 1e6 + 1.0 >= inv.ideal_ns() as f64,
                        "{policy:?}: FCT below ideal"
                    );
                }
            }
        }
    }

    #[test]
    fn simulations_are_deterministic() {
        let exp = Exp::new(0.1).unwrap();
        let p = poisson_plan(2000, 0.15, |r| exp.sample(r), 5);
        for policy in [SimPolicy::Eevdf, SimPolicy::AlpsIo] {
            let mut c = cfg(policy, 2);
            c.alps.learn_interval_ns = 100 * MS;
            let a = simulate(&p, &c).unwrap();
            let b = simulate(&p, &c).unwrap();
            assert_eq!(fcts(&a), fcts(&b));
            assert_eq!(a.stats.events, b.stats.events);
        }
    }

    #[test]
    fn zero_cpus_is_an_error() {
        let p = plan_of(&[("a", 0, cpu(1))]);
        assert!(simulate(&p, &cfg(SimPolicy::Fifo, 0)).is_err());
    }
}
