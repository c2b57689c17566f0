//! Discrete-event simulator: the same plans as the real harness, replayed in
//! virtual time on N CPUs under models of the schedulers.
//!
//! Policies:
//! - `fifo`: one global queue, a task runs until it blocks or finishes;
//! - `eevdf`: a fair-share model of EEVDF/CFS: virtual runtime, a base slice
//!   (3 ms, EEVDF's default at >= 8 CPUs), sleepers placed at most one slice
//!   behind the queue's virtual time, wake-up preemption of the running task
//!   with the largest virtual runtime once it ran a minimum granularity;
//! - `alps`, `alps-io`: scx_alps, callback by callback ([`alps`]), on the
//!   very rules the BPF program runs (`include/policy.h`) and the very
//!   learner the loader runs, with slices ending at scheduler ticks;
//! - `srpt`: clairvoyant preemptive SRPT on each job's remaining CPU demand
//!   (all its future bursts), the lower bound for mean FCT;
//! - `las`: least attained service, preemptive, re-evaluated every tick: the
//!   classic size-blind policy;
//! - `gittins`: the Gittins index of each function's size distribution over
//!   the whole plan (known distribution, unknown sizes): the best size-blind
//!   policy on one CPU, the bound a learner of distributions can reach.
//!
//! Every context switch costs `cs_cost_ns` of CPU time. The simulation is
//! deterministic: ties break by the order events happen.

mod alps;
mod engine;
mod models;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use scx_alps::learner::{FuncPolicy, LearnerConfig, PolicyKind};
use scx_alps::metrics::{FuncMetrics, Metrics};
use serde::{Deserialize, Serialize};

use crate::exec::InvocationResult;
use crate::workload::Plan;
use engine::{Engine, Model, SpawnCost, State, Task};
use models::{Attained, Fair, Fifo, GittinsRank, Ranked, Remaining};

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
    /// Least attained service (size-blind).
    Las,
    /// Gittins index of each function's size distribution (size-blind bound).
    Gittins,
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
            SimPolicy::Las => "las",
            SimPolicy::Gittins => "gittins",
        }
    }

    /// The scx_alps policy this model runs, if it is one.
    pub fn alps_kind(self) -> Option<PolicyKind> {
        match self {
            SimPolicy::Alps => Some(PolicyKind::Alps),
            SimPolicy::AlpsIo => Some(PolicyKind::AlpsIo),
            _ => None,
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
    /// Shortest slice of tasks placed by attained service, ns.
    pub slice_dfl_ns: u64,
    /// Minimum quantum before a throttled preemption (alps-io), ns.
    pub min_quantum_ns: u64,
    /// Bound on runnable waits, ns.
    pub starvation_ns: u64,
    /// Learner update interval, ns.
    pub learn_interval_ns: u64,
    /// Kick CPUs on wake-up.
    pub wakeup_preemption: bool,
    /// Functions unseen this long are forgotten, ns (0: never).
    #[serde(default)]
    pub func_ttl_ns: u64,
}

impl AlpsModel {
    /// The model of `scx_alps --policy <kind> <flags>` on `cpus` CPUs, with
    /// the loader's own parsing, validation and defaults (e.g. alps-io's 2 ms
    /// minimum quantum).
    ///
    /// `flags` is split like a shell would (quotes group). Errors: whatever
    /// scx_alps would reject, with its message (unknown flag, value out of
    /// range).
    pub fn from_flags(kind: PolicyKind, flags: &str, cpus: usize) -> Result<Self> {
        let policy = kind.to_string();
        let words = shlex::split(flags).ok_or_else(|| anyhow!("scx_alps flags {flags:?}: unbalanced quotes"))?;
        // The model tags nothing: unless the flags name one, a cgroup root
        // that exists everywhere keeps the loader's check of the real one
        // from failing on hosts without /sys/fs/cgroup.
        let root: &[&str] = if words.iter().any(|f| f.starts_with("--cgroup-root")) {
            &[]
        } else {
            &["--cgroup-root", "/"]
        };
        let args = ["scx_alps", "--policy", policy.as_str()]
            .into_iter()
            .map(String::from)
            .chain(root.iter().map(|s| s.to_string()))
            .chain(words);
        let opts = scx_alps::opts::Opts::try_parse_from(args).map_err(|e| anyhow!("scx_alps flags: {e}"))?;
        let s = opts
            .settings(cpus)
            .with_context(|| format!("scx_alps flags for --policy {policy}"))?;
        Ok(Self {
            learner: s.learner.clone(),
            slice_dfl_ns: s.slice_dfl_ns,
            min_quantum_ns: s.min_quantum_ns,
            starvation_ns: s.starvation_ns,
            learn_interval_ns: s.learn_interval_ms * MS,
            wakeup_preemption: !opts.no_wakeup_preemption,
            func_ttl_ns: s.func_ttl_ns,
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
    /// Scheduler ticks per second (sched_ext ends slices at ticks; the
    /// 6.12 test kernel runs HZ=1000, Debian's kernels HZ=250).
    pub hz: u32,
    /// CPU the real-time load generator spends per spawn, ns (on CPU 0,
    /// above every scheduler's tasks; 0: spawns are free).
    pub spawn_cost_ns: u64,
    /// CPU each invocation spends starting up (fork, faults, exit), ns.
    pub start_cost_ns: u64,
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
            hz: 1000,
            spawn_cost_ns: 0,
            start_cost_ns: 0,
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
    /// Running tasks replaced while still runnable (preemption, slice end).
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
    /// Starvation-guard promotions (scx_alps).
    pub guard_promotions: u64,
    /// Wake-ups whose preemption the minimum quantum held back (alps-io).
    pub throttled: u64,
    /// Enqueues of learned tasks past their schedule (scx_alps).
    pub demotions: u64,
    /// Progress records of running invocations (alps-io's censored sizes).
    pub progress: u64,
    /// Learner updates (scx_alps).
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
    /// Last learned policy (scx_alps), by function name.
    pub policy_table: Vec<(String, FuncPolicy)>,
}

impl SimOutput {
    /// The counters the simulator measures, in scx_alps's statistics schema
    /// (what it does not measure stays 0).
    pub fn metrics(&self, policy: &str) -> Metrics {
        let st = &self.stats;
        Metrics {
            policy: policy.to_string(),
            nr_records: self.results.iter().filter(|r| r.ok).count() as u64,
            nr_preempt_kicks: st.preemptions,
            nr_throttled: st.throttled,
            nr_guard: st.guard_promotions,
            nr_demotions: st.demotions,
            nr_progress: st.progress,
            max_wait_ms: st.max_wait_ns as f64 / 1e6,
            learner_updates: st.learner_updates,
            learner_mean_us: st.learner_mean_ns as f64 / 1e3,
            functions: self.policy_table.iter().map(|(n, f)| FuncMetrics::of(n, f)).collect(),
            ..Metrics::default()
        }
    }
}

/// Simulates `plan` under `cfg`, from a fresh scheduler (untrained).
/// Function ids follow the sorted function names of the plan (1-based), as
/// the real loader assigns them on first sight.
///
/// Errors when `cfg.cpus` or `cfg.hz` is 0.
pub fn simulate(plan: &Plan, cfg: &SimConfig) -> Result<SimOutput> {
    simulate_trained(plan, None, cfg)
}

/// Like [`simulate`]; with `warmup`, the model first runs the warm-up plan
/// to completion (scx_alps learns from it), updates its learner once more,
/// and runs `plan` one second later: the trained run. Function ids follow
/// the sorted function names of both plans together.
pub fn simulate_trained(plan: &Plan, warmup: Option<&Plan>, cfg: &SimConfig) -> Result<SimOutput> {
    if cfg.cpus == 0 {
        bail!("the simulation needs at least one CPU");
    }
    if cfg.hz == 0 {
        bail!("the simulation needs a tick rate (hz > 0)");
    }
    let mut funcs = plan.functions();
    if let Some(w) = warmup {
        funcs.extend(w.functions());
        funcs.sort();
        funcs.dedup();
    }
    let func_id: HashMap<&str, u32> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i as u32 + 1))
        .collect();
    let tasks_of = |p: &Plan| -> Vec<Task> {
        p.invocations
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
                wait: 0,
                blocked: 0,
                nvcsw: 0,
                nivcsw: 0,
                end: 0,
                vruntime: 0,
                guarded: false,
            })
            .collect()
    };
    let tasks = tasks_of(plan);
    let tick_ns = 1_000_000_000 / cfg.hz as u64;
    let mut alps_model = cfg
        .policy
        .alps_kind()
        .map(|k| alps::Alps::new(cfg.alps.clone(), k, cfg.cpus, tick_ns));
    let mut other: Box<dyn Model> = match cfg.policy {
        SimPolicy::Fifo => Box::new(Fifo { q: VecDeque::new() }),
        SimPolicy::Eevdf => Box::new(Fair {
            q: BTreeSet::new(),
            slice: cfg.fair_slice_ns.max(1),
            min_gran: cfg.fair_min_gran_ns,
            vnow: 0,
        }),
        SimPolicy::Las => Box::new(Ranked::new(Attained)),
        SimPolicy::Gittins => {
            let sizes: Vec<(u32, u64)> = tasks.iter().map(|t| (t.func, t.remaining_total)).collect();
            Box::new(Ranked::new(GittinsRank::of(&sizes)))
        }
        _ => Box::new(Ranked::new(Remaining)),
    };
    let model: &mut dyn Model = match alps_model.as_mut() {
        Some(a) => a,
        None => other.as_mut(),
    };
    let learn = if cfg.policy.alps_kind().is_some() {
        cfg.alps.learn_interval_ns.max(1)
    } else {
        0
    };
    let spawn = SpawnCost {
        spawner_ns: cfg.spawn_cost_ns,
        start_ns: cfg.start_cost_ns,
    };
    let mut origin = 0;
    if let Some(w) = warmup.filter(|_| learn > 0) {
        let mut e = Engine::new(
            w,
            tasks_of(w),
            cfg.cpus,
            cfg.cs_cost_ns,
            tick_ns,
            learn,
            0,
            spawn,
            &mut *model,
        );
        e.run();
        let end = e.w.now;
        e.model.learn(&mut e.w);
        origin = end + 1_000_000_000;
    }
    let mut e = Engine::new(
        plan,
        tasks,
        cfg.cpus,
        cfg.cs_cost_ns,
        tick_ns,
        learn,
        origin,
        spawn,
        model,
    );
    e.run();
    let stats = e.w.stats.clone();
    let done: Vec<Task> = std::mem::take(&mut e.w.tasks);
    drop(e);

    let ms = |ns: u64| ns as f64 / 1e6;
    let results = plan
        .invocations
        .iter()
        .zip(&done)
        .map(|(inv, t)| {
            let mut r = InvocationResult::planned(inv);
            r.ok = t.state == State::Done;
            if r.ok {
                r.fct_ms = ms(t.end - t.arrival);
                r.end_ms = ms(t.end - origin);
            }
            r.cpu_ms = ms(t.cpu);
            r.nvcsw = t.nvcsw;
            r.nivcsw = t.nivcsw;
            r
        })
        .collect();
    let mut stats = stats;
    let mut policy_table = Vec::new();
    if let Some(a) = &alps_model {
        stats.learner_mean_ns = a.learner.cost().mean_ns;
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

/// One arm of a simulated comparison: a policy, untrained or trained.
#[derive(Clone, Debug, PartialEq)]
pub struct SimArm {
    /// Report name: the policy's, with "/trained" for a trained run.
    pub name: String,
    /// The configuration (policy and its model).
    pub cfg: SimConfig,
    /// Runs the warm-up plan first.
    pub trained: bool,
}

/// The arms for `policies` on `base` (its policy is replaced): each policy
/// once, and with `warmup` each scx_alps policy a second time, trained.
/// `alps` and `alps_io` are the scx_alps models of the two policies.
pub fn arms(
    policies: &[SimPolicy],
    base: &SimConfig,
    alps: &AlpsModel,
    alps_io: &AlpsModel,
    warmup: bool,
) -> Vec<SimArm> {
    let mut out = Vec::new();
    for &p in policies {
        let cfg = SimConfig {
            policy: p,
            alps: if p == SimPolicy::AlpsIo {
                alps_io.clone()
            } else {
                alps.clone()
            },
            ..base.clone()
        };
        out.push(SimArm {
            name: p.name().to_string(),
            cfg: cfg.clone(),
            trained: false,
        });
        if warmup && p.alps_kind().is_some() {
            out.push(SimArm {
                name: format!("{}/trained", p.name()),
                cfg,
                trained: true,
            });
        }
    }
    out
}

/// Runs `arm` on `plan` (after `warmup` if the arm is trained).
pub fn run_arm(arm: &SimArm, plan: &Plan, warmup: Option<&Plan>) -> Result<SimOutput> {
    simulate_trained(plan, warmup.filter(|_| arm.trained), &arm.cfg)
}

/// Wall-clock speed of a simulation: invocations per second of host time.
pub fn timed(plan: &Plan, warmup: Option<&Plan>, cfg: &SimConfig) -> Result<(SimOutput, f64)> {
    let t0 = Instant::now();
    let out = simulate_trained(plan, warmup, cfg)?;
    let rate = plan.invocations.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9);
    Ok((out, rate))
}

#[cfg(test)]
mod tests;
