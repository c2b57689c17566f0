//! Training of the per-function policies.
//!
//! Both policies produce, per function, a level schedule (rank size as a
//! function of attained CPU, see [`crate::policy`]), a slice and flags.
//!
//! `--policy alps`, ALPS as published (Fu et al., "Adaptive-learning priority
//! OS scheduling for serverless functions", USENIX ATC '24; heuristic policy
//! of the artifact's `frontend/algorithm.py`): the window of recent
//! invocations is replayed under SRPT with ALPS's non-preemption quantum; a
//! function's rank size is the mean `mu` of its simulated stints (ALPS keeps
//! every stint but the completing one of a preempted job), held until its
//! invocation outgrows `mean + 2 sd` of its CPU; its slice is
//! `min(alpha*mu, 200 ms) - beta*sigma`, non-increasing along the order by
//! `mu`, smoothed 0.7 new / 0.3 previous and scaled by
//! `(100 + theta - util) / (100 * gamma)` above `theta` % CPU utilisation.
//! The artifact's slips are not reproduced (it pushes the function id as
//! priority; its smoothing result is overwritten).
//!
//! `--policy alps-io`, the I/O-aware variant. The I/O study (a CS736
//! reproduction of ALPS on ghOSt) found that a learner of CPU stints takes
//! I/O-bound functions for short jobs. What is short about them is the stint,
//! not the invocation; so alps-io learns each function's distribution of CPU
//! per *invocation* from its own recent invocations (also rare functions that
//! leave the global window) and ranks a running invocation by the Gittins
//! index of that distribution at its attained CPU ([`super::gittins`]): SRPT
//! for functions of one size, and the best size-blind order where a function
//! spans many sizes. Attained CPU counts the whole invocation, across its
//! sleeps, so splitting work into bursts buys nothing. The I/O signals
//! (blocked time and voluntary sleeps per invocation) mark a function
//! I/O-bound ([`IO_SLEEPS_PER_INV`], [`IO_BLOCKED_FRAC`]); its wake-ups then
//! preempt a running task only after that task's minimum quantum (the
//! study's preemption throttling), so CPU-bound work is not stopped at every
//! wake-up of an I/O-bound one. Slices are the maximum: levels, not slices,
//! decide preemption.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::srpt::{self, SimJob};
use super::{Invocation, gittins};
use crate::policy::{self, POL_IO_BOUND, SCHED_STEPS};

const MS: u64 = 1_000_000;

/// Voluntary sleeps per invocation from which a function counts as
/// I/O-bound (below, its blocked time is noise such as page faults at exec).
pub const IO_SLEEPS_PER_INV: f64 = 0.5;

/// Share of its invocations' lifetime a function must spend blocked to count
/// as I/O-bound.
pub const IO_BLOCKED_FRAC: f64 = 0.5;

/// Which policy the learner trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// ALPS as published: rank by mean SRPT stint, ALPS's slice rule.
    Alps,
    /// I/O-aware: Gittins index of each function's CPU per invocation, I/O
    /// signals throttle wake-up preemption.
    AlpsIo,
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PolicyKind::Alps => "alps",
            PolicyKind::AlpsIo => "alps-io",
        })
    }
}

/// Learner parameters. Defaults follow the ALPS paper where it gives one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    /// Policy to train.
    pub kind: PolicyKind,
    /// Invocations kept in the global sliding window (ALPS artifact: 100).
    pub window: usize,
    /// Invocations kept per function (alps-io's size distributions).
    pub history: usize,
    /// CPUs of the simulated SRPT machine (the host's CPU count).
    pub nr_cpus: usize,
    /// Non-preemption quantum of the SRPT simulation, ns (ALPS: 8 ms).
    pub quantum_ns: u64,
    /// Slice scale on `mu` (ALPS alpha = 1).
    pub alpha: f64,
    /// Slice penalty on `sigma` (ALPS beta = 1).
    pub beta: f64,
    /// Overload scaling divisor (ALPS gamma = 1).
    pub gamma: f64,
    /// CPU utilisation, percent, above which slices shrink (ALPS theta = 50).
    pub theta_pct: f64,
    /// Smallest slice handed out, ns.
    pub slice_min_ns: u64,
    /// Largest slice handed out, ns (ALPS: 200 ms).
    pub slice_max_ns: u64,
    /// Weight of the previous slice when smoothing (ALPS: 0.3).
    pub smoothing: f64,
    /// alps-io: use blocked time and sleeps (false: an ablation that learns
    /// from CPU time alone).
    pub io_signals: bool,
    /// ALPS's demotion expectation: mean + this many standard deviations of
    /// the function's CPU per invocation.
    pub expect_sigmas: f64,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            kind: PolicyKind::Alps,
            window: 100,
            history: 64,
            nr_cpus: 1,
            quantum_ns: 8 * MS,
            alpha: 1.0,
            beta: 1.0,
            gamma: 1.0,
            theta_pct: 50.0,
            slice_min_ns: MS / 2,
            slice_max_ns: 200 * MS,
            smoothing: 0.3,
            io_signals: true,
            expect_sigmas: 2.0,
        }
    }
}

/// One step of a level schedule: while attained CPU is below `until_ns`, the
/// rank size is `(target_ns - attained) * mult_q8 / 256`, or `target_ns`
/// when `mult_q8` is 0 (see `struct alps_sched_step` in include/intf.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Attained CPU below which the step applies, ns.
    pub until_ns: u64,
    /// Rank size (constant step) or the point the line reaches 0, ns.
    pub target_ns: u64,
    /// Slope of the line, 256 = 1 (0: constant).
    pub mult_q8: u32,
}

impl Step {
    /// A constant rank size `rank_ns` while attained CPU is below `until_ns`.
    pub fn constant(until_ns: u64, rank_ns: u64) -> Self {
        Self {
            until_ns,
            target_ns: rank_ns,
            mult_q8: 0,
        }
    }

    /// Rank size `(target_ns - attained) * mult_q8 / 256` below `until_ns`.
    pub fn linear(until_ns: u64, target_ns: u64, mult_q8: u32) -> Self {
        Self {
            until_ns,
            target_ns,
            mult_q8,
        }
    }
}

/// The learned policy of one function, plus the statistics it came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FuncPolicy {
    /// Function id.
    pub func_id: u32,
    /// Level of a fresh invocation (attained 0): where the function ranks.
    pub level: u32,
    /// Rank size of a fresh invocation, ns.
    pub rank_ns: u64,
    /// Level schedule, at most [`SCHED_STEPS`] steps.
    pub steps: Vec<Step>,
    /// `ALPS_POL_*` flags.
    pub flags: u32,
    /// Time slice, ns.
    pub slice_ns: u64,
    /// Attained CPU past which an invocation outgrew its schedule, ns.
    pub expect_ns: u64,
    /// Largest CPU per invocation the policy was learned from, ns.
    pub size_max_ns: u64,
    /// Mean simulated SRPT stint (ALPS), ns; 0 under alps-io.
    pub mu_ns: f64,
    /// Standard deviation of simulated stints (ALPS), ns.
    pub sigma_ns: f64,
    /// Mean CPU per invocation, ns.
    pub cpu_mean_ns: f64,
    /// Fraction of the invocations' lifetime spent blocked, 0..=1.
    pub blocked_frac: f64,
    /// Voluntary sleeps per invocation.
    pub sleeps_per_inv: f64,
    /// Invocations the policy was learned from.
    pub samples: usize,
}

impl FuncPolicy {
    /// Whether the I/O signals marked the function I/O-bound.
    pub fn io_bound(&self) -> bool {
        self.flags & POL_IO_BOUND != 0
    }

    fn finish(mut self) -> Self {
        self.steps.truncate(SCHED_STEPS);
        self.expect_ns = self.steps.last().map_or(0, |s| s.until_ns);
        let bp = policy::bpf_policy(&self);
        self.level = policy::task_level(Some(&bp), 0).0;
        self.rank_ns = self.steps.first().map_or(0, |s| {
            if s.mult_q8 == 0 {
                s.target_ns
            } else {
                s.target_ns * s.mult_q8 as u64 / 256
            }
        });
        self
    }
}

/// Mean and population standard deviation; (0, 0) for an empty slice.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Slice scale for CPU utilisation `util_pct` (ALPS overload rule), in
/// (0.1, 1]: 1 up to `theta`, then `(100 + theta - util) / (100 * gamma)`.
pub fn overload_factor(util_pct: f64, theta_pct: f64, gamma: f64) -> f64 {
    if util_pct <= theta_pct || gamma <= 0.0 {
        return 1.0;
    }
    ((100.0 + theta_pct - util_pct) / (100.0 * gamma)).clamp(0.1, 1.0)
}

/// Blocked fraction of lifetime and sleeps per invocation of `invs`.
fn io_stats<'a>(invs: impl Iterator<Item = &'a Invocation>) -> (f64, f64, usize) {
    let (mut blocked, mut life, mut sleeps, mut n) = (0.0, 0.0, 0.0, 0usize);
    for i in invs {
        blocked += i.blocked_ns as f64;
        life += (i.cpu_ns + i.wait_ns + i.blocked_ns) as f64;
        sleeps += i.nvcsw as f64;
        n += 1;
    }
    let frac = if life > 0.0 { blocked / life } else { 0.0 };
    (frac, sleeps / n.max(1) as f64, n)
}

/// Whether blocked fraction `blocked_frac` and `sleeps_per_inv` make a
/// function I/O-bound.
pub fn is_io_bound(blocked_frac: f64, sleeps_per_inv: f64) -> bool {
    sleeps_per_inv >= IO_SLEEPS_PER_INV && blocked_frac >= IO_BLOCKED_FRAC
}

/// ALPS: trains on the global `window` (any order). `prev_slice_ns` holds
/// each function's previous slice for smoothing. One entry per function in
/// the window, in the order of `mu`.
pub fn train_alps(
    cfg: &LearnerConfig,
    window: &[Invocation],
    util_pct: f64,
    prev_slice_ns: &HashMap<u32, u64>,
) -> Vec<FuncPolicy> {
    if window.is_empty() {
        return Vec::new();
    }
    // 1. SRPT simulation of the window (CPU demand only).
    let origin = window.iter().map(|i| i.start_ns).min().unwrap_or(0);
    let jobs: Vec<SimJob> = window
        .iter()
        .map(|i| SimJob {
            arrival_ns: i.start_ns - origin,
            size_ns: i.cpu_ns,
        })
        .collect();
    let sched = srpt::simulate(&jobs, cfg.nr_cpus, cfg.quantum_ns);

    // 2. Per-function stints: a job's only stint, or all but the completing
    //    one when it was preempted.
    let mut per_job: Vec<Vec<f64>> = vec![Vec::new(); window.len()];
    for s in &sched.stints {
        per_job[s.job].push(s.len_ns as f64);
    }
    let mut stints: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let mut cpu: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (i, inv) in window.iter().enumerate() {
        let st = stints.entry(inv.func_id).or_default();
        match per_job[i].len() {
            0 => {}
            1 => st.push(per_job[i][0]),
            k => st.extend_from_slice(&per_job[i][..k - 1]),
        }
        cpu.entry(inv.func_id).or_default().push(inv.cpu_ns as f64);
    }

    // 3. Order by mu; slices along the order.
    let mut rows: Vec<FuncPolicy> = stints
        .iter()
        .map(|(&func_id, st)| {
            let (mu, sigma) = mean_std(st);
            let (cpu_mean, cpu_std) = mean_std(&cpu[&func_id]);
            let (blocked_frac, sleeps_per_inv, samples) = io_stats(window.iter().filter(|i| i.func_id == func_id));
            let expect = (cpu_mean + cfg.expect_sigmas * cpu_std).max(1.0) as u64;
            FuncPolicy {
                func_id,
                steps: vec![Step::constant(expect, (mu.max(1.0) as u64).min(gittins::MAX_TARGET_NS))],
                mu_ns: mu,
                sigma_ns: sigma,
                cpu_mean_ns: cpu_mean,
                blocked_frac,
                sleeps_per_inv,
                samples,
                ..FuncPolicy::default()
            }
        })
        .collect();
    rows.sort_by(|a, b| a.mu_ns.total_cmp(&b.mu_ns).then(a.func_id.cmp(&b.func_id)));
    let factor = overload_factor(util_pct, cfg.theta_pct, cfg.gamma);
    let mut bound = u64::MAX;
    for r in rows.iter_mut() {
        let capped = (cfg.alpha * r.mu_ns).min(cfg.slice_max_ns as f64);
        let raw = (capped - cfg.beta * r.sigma_ns).max(cfg.slice_min_ns as f64);
        let smoothed = match prev_slice_ns.get(&r.func_id) {
            Some(&prev) if prev > 0 => (1.0 - cfg.smoothing) * raw + cfg.smoothing * prev as f64,
            _ => raw,
        } as u64;
        let ordered = smoothed.min(bound);
        bound = ordered;
        r.slice_ns = ((ordered as f64 * factor) as u64).clamp(cfg.slice_min_ns, cfg.slice_max_ns.max(cfg.slice_min_ns));
    }
    rows.into_iter().map(FuncPolicy::finish).collect()
}

/// alps-io: trains one policy per function from its recent invocations
/// (`history`, oldest first; I/O signals, mean CPU) and its size
/// distribution (`clusters`: (size ns, weight), increasing sizes, from
/// [`super::SizeHistogram::estimate`]). Sorted by level, then function id.
pub fn train_alps_io<'a>(
    cfg: &LearnerConfig,
    funcs: impl Iterator<Item = (u32, &'a VecDeque<Invocation>, Vec<(u64, u32)>)>,
) -> Vec<FuncPolicy> {
    let mut rows: Vec<FuncPolicy> = funcs
        .filter(|(_, h, _)| !h.is_empty())
        .map(|(func_id, h, cl)| {
            let cpu: Vec<f64> = h.iter().map(|i| i.cpu_ns as f64).collect();
            let (blocked_frac, sleeps_per_inv, samples) = io_stats(h.iter());
            let io = cfg.io_signals && is_io_bound(blocked_frac, sleeps_per_inv);
            FuncPolicy {
                func_id,
                size_max_ns: cl.last().map_or(0, |c| c.0),
                steps: gittins::learned_steps(cl, SCHED_STEPS),
                flags: if io { POL_IO_BOUND } else { 0 },
                slice_ns: cfg.slice_max_ns,
                cpu_mean_ns: mean_std(&cpu).0,
                blocked_frac,
                sleeps_per_inv,
                samples,
                ..FuncPolicy::default()
            }
            .finish()
        })
        .collect();
    rows.sort_by_key(|r| (r.level, r.func_id));
    rows
}

/// alps-io's policy of functions not learned yet (func id 0 in the table):
/// the schedule of [`gittins::prior_steps`] over the [`gittins::mixture`]
/// of the learned functions' size distributions (`sizes`, clusters as for
/// [`train_alps_io`], one per function of `learned`), below every function of `learned`; its I/O statistics are
/// those of the recent invocations of every function (`window`). Without it
/// (ALPS) such functions are placed by attained service alone. None when no
/// function has a size yet.
pub fn train_prior(
    window: &[Invocation],
    learned: &[FuncPolicy],
    sizes: impl IntoIterator<Item = Vec<(u64, u32)>>,
) -> Option<FuncPolicy> {
    let known_max = learned.iter().map(|f| f.size_max_ns).max().unwrap_or(0);
    let mix = gittins::mixture(sizes);
    let steps = gittins::prior_steps(mix, known_max, SCHED_STEPS);
    let sizes: Vec<u64> = window.iter().map(|i| i.cpu_ns).collect();
    if steps.is_empty() {
        return None;
    }
    let cpu: Vec<f64> = sizes.iter().map(|&c| c as f64).collect();
    let (blocked_frac, sleeps_per_inv, samples) = io_stats(window.iter());
    Some(
        FuncPolicy {
            func_id: 0,
            steps,
            slice_ns: 0,
            cpu_mean_ns: mean_std(&cpu).0,
            blocked_frac,
            sleeps_per_inv,
            samples,
            ..FuncPolicy::default()
        }
        .finish(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::learner::sizes::SizeHistogram;
    use crate::learner::testutil::{cpu_inv, io_inv};

    fn by_id(t: &[FuncPolicy], id: u32) -> &FuncPolicy {
        t.iter().find(|f| f.func_id == id).unwrap()
    }

    fn alps(w: &[Invocation], util: f64) -> Vec<FuncPolicy> {
        train_alps(&LearnerConfig::default(), w, util, &HashMap::new())
    }

    fn alps_io(cfg: &LearnerConfig, w: &[Invocation]) -> Vec<FuncPolicy> {
        let mut h: BTreeMap<u32, (VecDeque<Invocation>, SizeHistogram)> = BTreeMap::new();
        for i in w {
            let e = h.entry(i.func_id).or_default();
            e.0.push_back(*i);
            e.1.observe(i.cpu_ns);
        }
        train_alps_io(cfg, h.iter().map(|(&f, (q, s))| (f, q, s.estimate(&[]))))
    }

    #[test]
    fn helpers() {
        assert_eq!(mean_std(&[]), (0.0, 0.0));
        assert_eq!(mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), (5.0, 2.0));
        assert_eq!(overload_factor(40.0, 50.0, 1.0), 1.0);
        assert_eq!(overload_factor(100.0, 50.0, 1.0), 0.5);
        assert_eq!(overload_factor(75.0, 50.0, 1.0), 0.75);
        assert_eq!(overload_factor(100.0, 0.0, 0.1), 0.1);
        assert!(is_io_bound(0.9, 1.0));
        assert!(!is_io_bound(0.9, 0.2));
        assert!(!is_io_bound(0.1, 3.0));
    }

    #[test]
    fn alps_ranks_by_mu_and_gives_the_shorter_function_the_longer_slice() {
        // Spaced arrivals on one CPU: no preemption, stints = job sizes.
        let mut w = Vec::new();
        for i in 0..20 {
            w.push(cpu_inv(7, i * 1000, 10));
            w.push(cpu_inv(9, i * 1000 + 500, 100));
        }
        let t = alps(&w, 10.0);
        let (short, long) = (by_id(&t, 7), by_id(&t, 9));
        assert!(short.level < long.level);
        assert_eq!(short.mu_ns, 10.0 * MS as f64);
        assert_eq!(long.mu_ns, 100.0 * MS as f64);
        // The rank size is mu, held until mean + 2 sd of CPU.
        assert_eq!(short.steps, vec![Step::constant(10 * MS, 10 * MS)]);
        assert_eq!((short.rank_ns, short.expect_ns), (10 * MS, 10 * MS));
        // min(alpha*mu, 200) - beta*sigma = 10 ms, non-increasing along the
        // order: the long function is clamped to the short one's slice.
        assert_eq!(short.slice_ns, 10 * MS);
        assert_eq!(long.slice_ns, 10 * MS);
        assert_eq!((short.samples, long.samples), (20, 20));
        assert_eq!(t[0].func_id, 7);
    }

    #[test]
    fn alps_stints_come_from_the_srpt_simulation() {
        // Long job A (100 ms) with short jobs arriving every 20 ms on one CPU.
        // SRPT preempts A after each 8 ms quantum, so A's kept stints are short.
        let mut w = vec![cpu_inv(1, 0, 100)];
        for i in 0..4 {
            w.push(cpu_inv(2, 10 + i * 20, 5));
        }
        let t = alps(&w, 10.0);
        let a = by_id(&t, 1);
        // Hand schedule: A 0-10 (B1 arrives at 10, A ran 10 >= 8) -> B1 10-15,
        // A 15-30, B2 30-35, A 35-50, B3 50-55, A 55-70, B4 70-75, A 75-120.
        // Kept stints of A (all but the completing one): 10, 15, 15, 15.
        assert_eq!(a.mu_ns, 13.75 * MS as f64);
        assert_eq!(by_id(&t, 2).mu_ns, 5.0 * MS as f64);
        assert_eq!(a.cpu_mean_ns, 100.0 * MS as f64);
        // ALPS's weakness, kept: the 100 ms function ranks by its 13.75 ms stints.
        assert_eq!(a.rank_ns, 13_750_000);
    }

    #[test]
    fn alps_slice_formula_uses_alpha_beta_the_cap_and_utilisation() {
        let mut w = Vec::new();
        for i in 0..10 {
            // Alternating 300 / 500 ms jobs: mu = 400, sigma = 100 ms.
            w.push(cpu_inv(1, i * 10_000, if i % 2 == 0 { 300 } else { 500 }));
        }
        let cfg = LearnerConfig {
            alpha: 0.5,
            beta: 0.5,
            ..LearnerConfig::default()
        };
        let t = train_alps(&cfg, &w, 10.0, &HashMap::new());
        // min(0.5 * 400, 200) - 0.5 * 100 = 150 ms.
        assert_eq!(t[0].slice_ns, 150 * MS);
        assert_eq!(t[0].sigma_ns, 100.0 * MS as f64);
        // Expectation: mean + 2 sd of CPU per invocation = 600 ms.
        assert_eq!(t[0].expect_ns, 600 * MS);
        // Overloaded host: 100 % utilisation halves it.
        let t = train_alps(&cfg, &w, 100.0, &HashMap::new());
        assert_eq!(t[0].slice_ns, 75 * MS);
        // Smoothing keeps 30 % of the previous slice.
        let prev = HashMap::from([(1, 50 * MS)]);
        let t = train_alps(&cfg, &w, 10.0, &prev);
        assert_eq!(t[0].slice_ns, (0.7 * 150.0 * MS as f64 + 0.3 * 50.0 * MS as f64) as u64);
    }

    #[test]
    fn alps_io_ranks_each_invocation_by_its_functions_sizes() {
        // The study's mixed case: an I/O function (50 ms CPU around a 900 ms
        // sleep) and a CPU function (300 ms), spaced out.
        let mut w = Vec::new();
        for i in 0..20 {
            w.push(io_inv(1, i * 2000, 50, 900));
            w.push(cpu_inv(2, i * 2000 + 1000, 300));
        }
        let cfg = LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        };
        let t = alps_io(&cfg, &w);
        let (f_io, f_cpu) = (by_id(&t, 1), by_id(&t, 2));
        // SRPT on CPU per invocation: the 50 ms invocation goes first, and a
        // CPU invocation's rank size is what it still needs.
        assert!(f_io.level < f_cpu.level);
        // SRPT on 300 ms; past it, toward 600 ms (a sixteenth of a sample).
        assert_eq!(f_cpu.steps.len(), 2);
        let s0 = f_cpu.steps[0];
        assert_eq!(s0.until_ns, 300 * MS);
        assert!(
            s0.target_ns.abs_diff(300 * MS) < 3 * MS && (256..=257).contains(&s0.mult_q8),
            "{s0:?}"
        );
        assert_eq!(f_cpu.steps[1], Step::linear(600 * MS, 600 * MS, 256));
        assert_eq!(f_cpu.slice_ns, cfg.slice_max_ns);
        // The I/O signals mark the sleeper, not the CPU function.
        assert!(f_io.io_bound() && !f_cpu.io_bound());
        assert!((f_io.blocked_frac - 900.0 / 950.0).abs() < 1e-9);
        assert_eq!(f_io.sleeps_per_inv, 1.0);
        // Without them (the ablation) nothing is flagged.
        let off = LearnerConfig {
            io_signals: false,
            ..cfg
        };
        assert!(alps_io(&off, &w).iter().all(|f| !f.io_bound()));
    }

    #[test]
    fn alps_io_is_not_fooled_by_short_stints_of_a_long_invocation() {
        // A function whose 400 ms of CPU per invocation come in bursts between
        // sleeps (a stint learner sees only the bursts) against a 100 ms CPU
        // function: alps-io ranks by CPU per invocation, the CPU function first.
        let mut w = Vec::new();
        for i in 0..20 {
            w.push(io_inv(1, i * 5000, 400, 400));
            w.push(cpu_inv(2, i * 5000 + 2500, 100));
        }
        let cfg = LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        };
        let t = alps_io(&cfg, &w);
        assert!(by_id(&t, 2).level < by_id(&t, 1).level);
    }
}
