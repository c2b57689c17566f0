//! Training of the task-ordering and time-slice policies.
//!
//! Sources:
//! - ALPS (Fu et al., "Adaptive-learning priority OS scheduling for
//!   serverless functions", USENIX ATC '24), heuristic policy of the artifact
//!   `frontend/algorithm.py`: order functions by the mean `mu` of their
//!   simulated SRPT stints; slice `min(alpha*mu, 200 ms) - beta*sigma`,
//!   non-increasing along that order; scaled by
//!   `(100 + theta - util) / (100 * gamma)` when CPU utilisation `util`
//!   exceeds `theta`; smoothed 0.7 new / 0.3 previous. The artifact's
//!   slips are not reproduced: it pushes the function id as priority, and
//!   its smoothing result is overwritten (dead code). Here the learned rank
//!   is pushed and smoothing is applied.
//! - The I/O study (a CS736 reproduction of ALPS on ghOSt) found that a
//!   CPU-time learner ranks I/O-bound functions (short bursts, long sleeps)
//!   first and lets them preempt CPU-bound ones at every wake-up. It
//!   proposes blocked time and voluntary switches as signals. The I/O-aware
//!   variant here ranks a function by the length of its stints scaled to
//!   wall-clock time: `mu * (1 + io_penalty * b / (1 - b))`, where `b` is the
//!   function's blocked fraction of its lifetime (capped at 0.99). With
//!   `io_penalty = 1` a function that sleeps 95 % of the time is ordered as
//!   if its stints were 20x longer; with the shipped 0.1, 2x longer.
//!   Wake-ups enter as a gate, not a rate: functions with fewer than 0.5
//!   voluntary sleeps per invocation are not treated as I/O-bound (their
//!   blocked time is noise, e.g. page-cache misses at exec). How often a
//!   function's wake-ups may preempt others is bounded in BPF by the
//!   minimum quantum instead.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Invocation;
use super::srpt::{self, SimJob};

const MS: u64 = 1_000_000;

/// Which policy the learner trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// ALPS as published: order by CPU-time stints only.
    Alps,
    /// ALPS with the I/O-aware rank penalty (and, in BPF, the minimum quantum).
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

/// What the task-ordering policy sorts functions by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OrderKey {
    /// ALPS: the mean simulated SRPT stint `mu`.
    Stint,
    /// The mean CPU per invocation: each function's SRPT job size.
    Demand,
}

/// Learner parameters. Defaults follow the ALPS paper where it gives one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    /// Policy to train.
    pub kind: PolicyKind,
    /// What functions are ordered by.
    pub order: OrderKey,
    /// Number of ranks (priority DSQs), 1..=16.
    pub nr_ranks: u32,
    /// Invocations kept in the sliding window (ALPS artifact: 100).
    pub window: usize,
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
    /// Weight of the blocked fraction in the I/O-aware order, 0..=1 (0 turns
    /// the I/O-aware variant into plain ALPS ordering).
    pub io_penalty: f64,
    /// Demotion expectation: mean + this many standard deviations of the
    /// function's CPU per invocation.
    pub expect_sigmas: f64,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            kind: PolicyKind::Alps,
            order: OrderKey::Stint,
            nr_ranks: 8,
            window: 100,
            nr_cpus: 1,
            quantum_ns: 8 * MS,
            alpha: 1.0,
            beta: 1.0,
            gamma: 1.0,
            theta_pct: 50.0,
            slice_min_ns: MS / 2,
            slice_max_ns: 200 * MS,
            smoothing: 0.3,
            io_penalty: crate::opts::DEFAULT_IO_PENALTY,
            expect_sigmas: 2.0,
        }
    }
}

/// The learned policy of one function, plus the statistics it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FuncPolicy {
    /// Function id.
    pub func_id: u32,
    /// Rank, 0 = highest priority.
    pub rank: u32,
    /// Time slice, ns.
    pub slice_ns: u64,
    /// CPU per invocation beyond which tasks of this function are demoted, ns.
    pub expect_ns: u64,
    /// Mean simulated SRPT stint, ns.
    pub mu_ns: f64,
    /// Standard deviation of simulated stints, ns.
    pub sigma_ns: f64,
    /// Mean CPU per invocation, ns.
    pub cpu_mean_ns: f64,
    /// Fraction of the function's lifetime spent blocked, 0..=1.
    pub blocked_frac: f64,
    /// Voluntary sleeps (voluntary switches before exit) per invocation.
    pub sleeps_per_inv: f64,
    /// Ranks this function lost to the I/O-aware order (0 under plain ALPS;
    /// negative when others' penalties moved it up).
    pub penalty: i32,
    /// Invocations of this function in the window.
    pub samples: usize,
}

#[derive(Default)]
struct FuncAcc {
    n: usize,
    cpu: Vec<f64>,
    blocked: f64,
    life: f64,
    sleeps: f64,
    stints: Vec<f64>,
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

/// Rank of position `i` of `n` ordered functions over `nr_ranks` ranks:
/// spread evenly, the first function at rank 0.
pub fn spread_rank(i: usize, n: usize, nr_ranks: u32) -> u32 {
    if n == 0 || nr_ranks == 0 {
        return 0;
    }
    ((i as u64 * nr_ranks as u64) / n as u64).min(nr_ranks as u64 - 1) as u32
}

/// Slice scale for CPU utilisation `util_pct` (ALPS overload rule), in
/// (0.1, 1]: 1 up to `theta`, then `(100 + theta - util) / (100 * gamma)`.
pub fn overload_factor(util_pct: f64, theta_pct: f64, gamma: f64) -> f64 {
    if util_pct <= theta_pct || gamma <= 0.0 {
        return 1.0;
    }
    ((100.0 + theta_pct - util_pct) / (100.0 * gamma)).clamp(0.1, 1.0)
}

/// Trains both policies on `window` (any order). `prev_slice_ns` holds each
/// function's previous slice for smoothing. Returns one entry per function in
/// the window, sorted by rank, then by function id.
pub fn train(
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

    // 2. Per-function statistics. ALPS keeps a job's only stint, or all its
    //    stints but the completing one when it was preempted.
    let mut funcs: BTreeMap<u32, FuncAcc> = BTreeMap::new();
    let mut per_job: Vec<Vec<f64>> = vec![Vec::new(); window.len()];
    for s in &sched.stints {
        per_job[s.job].push(s.len_ns as f64);
    }
    for (i, inv) in window.iter().enumerate() {
        let acc = funcs.entry(inv.func_id).or_default();
        acc.n += 1;
        acc.cpu.push(inv.cpu_ns as f64);
        acc.blocked += inv.blocked_ns as f64;
        acc.life += (inv.cpu_ns + inv.wait_ns + inv.blocked_ns) as f64;
        acc.sleeps += inv.nvcsw as f64;
        let st = &per_job[i];
        match st.len() {
            0 => {}
            1 => acc.stints.push(st[0]),
            k => acc.stints.extend_from_slice(&st[..k - 1]),
        }
    }

    // 3. Order keys.
    struct Row {
        func_id: u32,
        mu: f64,
        sigma: f64,
        cpu_mean: f64,
        cpu_std: f64,
        blocked_frac: f64,
        sleeps_per_inv: f64,
        key_plain: f64,
        key: f64,
        samples: usize,
    }
    let mut rows: Vec<Row> = funcs
        .into_iter()
        .map(|(func_id, a)| {
            let (mu, sigma) = mean_std(&a.stints);
            let (cpu_mean, cpu_std) = mean_std(&a.cpu);
            let blocked_frac = if a.life > 0.0 { a.blocked / a.life } else { 0.0 };
            let sleeps_per_inv = a.sleeps / a.n as f64;
            let size = match cfg.order {
                OrderKey::Stint => mu,
                OrderKey::Demand => cpu_mean,
            };
            let key = match cfg.kind {
                PolicyKind::Alps => size,
                PolicyKind::AlpsIo => io_key(size, blocked_frac, sleeps_per_inv, cfg.io_penalty),
            };
            Row {
                func_id,
                mu,
                sigma,
                cpu_mean,
                cpu_std,
                blocked_frac,
                sleeps_per_inv,
                key_plain: mu,
                key,
                samples: a.n,
            }
        })
        .collect();
    for r in rows.iter_mut() {
        if cfg.order == OrderKey::Demand {
            r.key_plain = r.cpu_mean;
        }
    }

    // Plain ALPS order, to report the rank penalty of the I/O-aware one.
    let n = rows.len();
    let mut plain: Vec<(f64, u32)> = rows.iter().map(|r| (r.key_plain, r.func_id)).collect();
    plain.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let plain_rank: HashMap<u32, u32> = plain
        .iter()
        .enumerate()
        .map(|(i, (_, f))| (*f, spread_rank(i, n, cfg.nr_ranks)))
        .collect();

    rows.sort_by(|a, b| a.key.total_cmp(&b.key).then(a.func_id.cmp(&b.func_id)));

    // 4. Slices along the order.
    let factor = overload_factor(util_pct, cfg.theta_pct, cfg.gamma);
    let mut bound = u64::MAX;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let rank = spread_rank(i, n, cfg.nr_ranks);
            let capped = (cfg.alpha * r.mu).min(cfg.slice_max_ns as f64);
            let raw = (capped - cfg.beta * r.sigma).max(cfg.slice_min_ns as f64);
            let smoothed = match prev_slice_ns.get(&r.func_id) {
                Some(&prev) if prev > 0 => (1.0 - cfg.smoothing) * raw + cfg.smoothing * prev as f64,
                _ => raw,
            } as u64;
            let ordered = smoothed.min(bound);
            bound = ordered;
            let slice_ns =
                ((ordered as f64 * factor) as u64).clamp(cfg.slice_min_ns, cfg.slice_max_ns.max(cfg.slice_min_ns));
            let expect_ns = (r.cpu_mean + cfg.expect_sigmas * r.cpu_std).max(1.0) as u64;
            FuncPolicy {
                func_id: r.func_id,
                rank,
                slice_ns,
                expect_ns,
                mu_ns: r.mu,
                sigma_ns: r.sigma,
                cpu_mean_ns: r.cpu_mean,
                blocked_frac: r.blocked_frac,
                sleeps_per_inv: r.sleeps_per_inv,
                penalty: rank as i32 - plain_rank[&r.func_id] as i32,
                samples: r.samples,
            }
        })
        .collect()
}

/// Ordering key of the I/O-aware variant: `mu` scaled by the function's
/// wall-clock-to-CPU ratio, weighted by `io_penalty` (see the module docs).
pub fn io_key(mu: f64, blocked_frac: f64, sleeps_per_inv: f64, io_penalty: f64) -> f64 {
    if sleeps_per_inv < 0.5 {
        return mu;
    }
    let b = blocked_frac.clamp(0.0, 0.99);
    mu * (1.0 + io_penalty.max(0.0) * b / (1.0 - b))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::learner::testutil::cpu_inv;

    fn io_inv(func_id: u32, start_ms: u64, cpu_ms: u64, sleep_ms: u64) -> Invocation {
        Invocation {
            func_id,
            start_ns: start_ms * MS,
            end_ns: (start_ms + cpu_ms + sleep_ms) * MS,
            cpu_ns: cpu_ms * MS,
            blocked_ns: sleep_ms * MS,
            nvcsw: 1,
            ..Default::default()
        }
    }

    fn by_id(t: &[FuncPolicy], id: u32) -> &FuncPolicy {
        t.iter().find(|f| f.func_id == id).unwrap()
    }

    #[test]
    fn helpers() {
        assert_eq!(mean_std(&[]), (0.0, 0.0));
        assert_eq!(mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), (5.0, 2.0));
        assert_eq!(
            (0..5).map(|i| spread_rank(i, 5, 8)).collect::<Vec<_>>(),
            vec![0, 1, 3, 4, 6]
        );
        assert_eq!(
            (0..10).map(|i| spread_rank(i, 10, 4)).collect::<Vec<_>>(),
            vec![0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
        );
        assert_eq!(overload_factor(40.0, 50.0, 1.0), 1.0);
        assert_eq!(overload_factor(100.0, 50.0, 1.0), 0.5);
        assert_eq!(overload_factor(75.0, 50.0, 1.0), 0.75);
        assert_eq!(overload_factor(100.0, 0.0, 0.1), 0.1);
    }

    #[test]
    fn shorter_function_ranks_higher_and_gets_the_longer_slice() {
        // Spaced arrivals on one CPU: no preemption, stints = job sizes.
        let mut w = Vec::new();
        for i in 0..20 {
            w.push(cpu_inv(7, i * 1000, 10));
            w.push(cpu_inv(9, i * 1000 + 500, 100));
        }
        let t = train(&LearnerConfig::default(), &w, 10.0, &HashMap::new());
        let (short, long) = (by_id(&t, 7), by_id(&t, 9));
        assert!(short.rank < long.rank);
        assert_eq!(short.mu_ns, 10.0 * MS as f64);
        assert_eq!(long.mu_ns, 100.0 * MS as f64);
        // min(alpha*mu, 200) - beta*sigma = 10 ms, and non-increasing along
        // the order: the long function is clamped to the short one's slice.
        assert_eq!(short.slice_ns, 10 * MS);
        assert_eq!(long.slice_ns, 10 * MS);
        assert_eq!(short.expect_ns, 10 * MS);
        assert_eq!((short.samples, long.samples), (20, 20));
        assert_eq!(t[0].func_id, 7);
    }

    #[test]
    fn stints_come_from_the_srpt_simulation() {
        // Long job A (100 ms) with short jobs arriving every 20 ms on one CPU.
        // SRPT preempts A after each 8 ms quantum, so A's kept stints are short.
        let mut w = vec![cpu_inv(1, 0, 100)];
        for i in 0..4 {
            w.push(cpu_inv(2, 10 + i * 20, 5));
        }
        let cfg = LearnerConfig::default();
        let t = train(&cfg, &w, 10.0, &HashMap::new());
        let a = by_id(&t, 1);
        // Hand schedule: A 0-10 (B1 arrives at 10, A ran 10 >= 8) -> B1 10-15,
        // A 15-30, B2 30-35, A 35-50, B3 50-55, A 55-70, B4 70-75, A 75-120.
        // Kept stints of A (all but the completing one): 10, 15, 15, 15.
        assert_eq!(a.mu_ns, 13.75 * MS as f64);
        assert_eq!(by_id(&t, 2).mu_ns, 5.0 * MS as f64);
        assert_eq!(a.cpu_mean_ns, 100.0 * MS as f64);
    }

    #[test]
    fn slice_formula_uses_alpha_beta_and_the_200ms_cap() {
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
        let t = train(&cfg, &w, 10.0, &HashMap::new());
        // min(0.5 * 400, 200) - 0.5 * 100 = 150 ms.
        assert_eq!(t[0].slice_ns, 150 * MS);
        assert_eq!(t[0].sigma_ns, 100.0 * MS as f64);
        // Demotion expectation: mean + 2 sd of CPU per invocation = 600 ms.
        assert_eq!(t[0].expect_ns, 600 * MS);
        // Overloaded host: 100 % utilisation halves it.
        let t = train(&cfg, &w, 100.0, &HashMap::new());
        assert_eq!(t[0].slice_ns, 75 * MS);
    }

    #[test]
    fn io_bound_functions_look_short_to_alps_and_are_penalised_by_alps_io() {
        // The study's mixed case: I/O function = 50 ms CPU + 900 ms sleep,
        // CPU function = 300 ms of CPU.
        let mut w = Vec::new();
        for i in 0..20 {
            w.push(io_inv(1, i * 2000, 50, 900));
            w.push(cpu_inv(2, i * 2000 + 1000, 300));
        }
        let alps = train(&LearnerConfig::default(), &w, 10.0, &HashMap::new());
        assert!(
            by_id(&alps, 1).rank < by_id(&alps, 2).rank,
            "ALPS falls for the I/O function"
        );
        assert_eq!(by_id(&alps, 1).penalty, 0);

        // At full weight. (The shipped 0.1 orders this I/O function as if
        // its 50 ms were 140 ms, b/(1-b) being 18: still ahead of 300 ms;
        // see the README on choosing the default.)
        let cfg = LearnerConfig {
            kind: PolicyKind::AlpsIo,
            io_penalty: 1.0,
            ..LearnerConfig::default()
        };
        let io = train(&cfg, &w, 10.0, &HashMap::new());
        let (f_io, f_cpu) = (by_id(&io, 1), by_id(&io, 2));
        assert!(f_cpu.rank < f_io.rank, "ALPS-IO ranks the CPU function first");
        assert!(f_io.penalty > 0 && f_cpu.penalty < 0);
        assert!((f_io.blocked_frac - 900.0 / 950.0).abs() < 1e-9);
        assert_eq!(f_io.sleeps_per_inv, 1.0);
        assert_eq!(f_cpu.blocked_frac, 0.0);

        let shipped = LearnerConfig {
            io_penalty: crate::opts::DEFAULT_IO_PENALTY,
            ..cfg.clone()
        };
        let t = train(&shipped, &w, 10.0, &HashMap::new());
        assert!(by_id(&t, 1).rank < by_id(&t, 2).rank);
        assert!((io_key(50.0, 900.0 / 950.0, 1.0, 0.1) - 140.0).abs() < 1e-9);

        // io_penalty = 0 turns the variant back into plain ALPS ordering.
        let cfg0 = LearnerConfig { io_penalty: 0.0, ..cfg };
        let t0 = train(&cfg0, &w, 10.0, &HashMap::new());
        assert!(by_id(&t0, 1).rank < by_id(&t0, 2).rank);
    }

    #[test]
    fn io_key_ignores_functions_that_do_not_sleep() {
        assert_eq!(io_key(10.0, 0.9, 0.2, 1.0), 10.0);
        assert!((io_key(10.0, 0.9, 1.0, 1.0) - 100.0).abs() < 1e-9);
        assert!((io_key(10.0, 0.9, 1.0, 0.5) - 55.0).abs() < 1e-9);
        // The blocked fraction is capped at 0.99: factor at most 100.
        assert!((io_key(1.0, 1.0, 3.0, 1.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn more_functions_than_ranks_share_ranks_in_order() {
        let mut w = Vec::new();
        for f in 1..=12u32 {
            w.push(cpu_inv(f, f as u64 * 10_000, f as u64 * 5));
        }
        let cfg = LearnerConfig {
            nr_ranks: 4,
            ..LearnerConfig::default()
        };
        let t = train(&cfg, &w, 10.0, &HashMap::new());
        let ranks: Vec<u32> = (1..=12).map(|f| by_id(&t, f).rank).collect();
        assert_eq!(ranks, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        // Slices never increase along the order.
        assert!(t.windows(2).all(|p| p[0].slice_ns >= p[1].slice_ns));
    }
}
