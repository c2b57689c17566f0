//! Function models and scenarios: from trace entries to a plan of
//! invocations made of CPU bursts and sleeps.
//!
//! The real harness ([`crate::exec`]) runs each phase for real (CPU bursts
//! compute fib until the thread's CPU clock has advanced by the burst; sleeps
//! are `clock_nanosleep`); the simulator ([`crate::sim`]) replays the same
//! phases in virtual time. Both take their plan from [`build_plan`].

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::trace::{Format, TraceEntry, Work};

const MS: f64 = 1e6;

/// Cost of one call of the recursive fib, ns, on the reference machine.
/// With it fib(39) (2·F(40) − 1 = 204.7 M calls) takes 307 ms, the I/O
/// study's measured 334 ms for its C++ fib(39) give or take the machine.
pub const FIB_NS_PER_CALL: f64 = 1.5;

/// The I/O study's core count: the default work scale is `cpus / 16`, so
/// that each CPU carries the load it carried in the study.
pub const STUDY_CPUS: f64 = 16.0;

/// Number of calls of the naive recursive `fib(n)`: 2·F(n+1) − 1.
pub fn fib_calls(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..=n {
        let c = a.saturating_add(b);
        a = b;
        b = c;
    }
    // After n+1 steps, a = F(n+1).
    a.saturating_mul(2).saturating_sub(1)
}

/// Modelled CPU demand of `fib(n)`, ns (unscaled): the I/O study's C++ fib.
pub fn fib_cpu_ns(n: u32) -> f64 {
    fib_calls(n) as f64 * FIB_NS_PER_CALL
}

/// Cost of one call of Python's recursive fib, ns, and the fixed cost of an
/// invocation of it, ns: a fit of the ALPS and SFS papers' calibration of
/// their `fib.py` (fib(20) ≈ 13 ms, fib(30) ≈ 220 ms, fib(36) ≈ 3.7 s; the
/// fit gives 13.7 ms, 217 ms and 3.68 s).
pub const PY_FIB_NS_PER_CALL: f64 = 76.0;
/// See [`PY_FIB_NS_PER_CALL`].
pub const PY_FIB_FIXED_NS: f64 = 12.0 * MS;

/// Modelled CPU demand of `fib(n)` in the runtime of `format`'s functions,
/// ns (unscaled): the ALPS and SFS traces name Python functions (SFS's
/// `fib.py`), the study's trace its C++ `fib_alps`.
pub fn fib_cpu_ns_for(format: Format, n: u32) -> f64 {
    match format {
        Format::Alps | Format::Sfs => PY_FIB_FIXED_NS + fib_calls(n) as f64 * PY_FIB_NS_PER_CALL,
        Format::Study | Format::Azure2019 | Format::Azure2021 => fib_cpu_ns(n),
    }
}

/// Modelled CPU demand, ns, of the ALPS trace's non-fib functions for
/// argument `arg`. The trace does not say what they cost; these nominal costs
/// (documented in the README) spread them from a few ms to ~0.2 s, like the
/// FunctionBench functions they are named after.
pub fn named_cpu_ns(func: &str, arg: f64) -> f64 {
    let ms = match func {
        "floatOperation" => 0.0005 * arg,        // 100000 -> 50 ms
        "graphBfs" => 0.3 * arg,                 // 100 -> 30 ms
        "graphMst" => 0.05 * 2f64.powf(arg),     // 8..10 -> 13..51 ms
        "graphPagerank" => 0.1 * 2f64.powf(arg), // 8..10 -> 26..102 ms
        "featureExtractor" => 150.0 * arg,       // 1 -> 150 ms
        _ => 20.0 * arg.max(1.0),
    };
    ms * MS
}

/// One phase of an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "lowercase")]
pub enum Phase {
    /// Compute for this much CPU time, ns.
    Cpu { ns: u64 },
    /// Sleep (block) for this long, ns.
    Sleep { ns: u64 },
}

/// Whether a function is CPU-bound or I/O-bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Computes without blocking.
    Cpu,
    /// Short bursts around a long sleep.
    Io,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Cpu => "cpu",
            Kind::Io => "io",
        })
    }
}

/// One invocation to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// Position in the plan (0-based).
    pub idx: usize,
    /// The trace's id.
    pub id: String,
    /// Function name (cgroup `faas/<func>`, comm `<func>`).
    pub func: String,
    /// Report group: the study's class ("1".."5") or the function.
    pub class: String,
    /// CPU- or I/O-bound.
    pub kind: Kind,
    /// Arrival, ns from the start of the run (scaled).
    pub arrival_ns: u64,
    /// What it does, in order (scaled).
    pub phases: Vec<Phase>,
}

impl Invocation {
    /// Total CPU demand, ns.
    pub fn cpu_ns(&self) -> u64 {
        self.phases
            .iter()
            .map(|p| if let Phase::Cpu { ns } = p { *ns } else { 0 })
            .sum()
    }

    /// Total sleep, ns.
    pub fn sleep_ns(&self) -> u64 {
        self.phases
            .iter()
            .map(|p| if let Phase::Sleep { ns } = p { *ns } else { 0 })
            .sum()
    }

    /// The shortest possible FCT: demand plus sleeps, ns.
    pub fn ideal_ns(&self) -> u64 {
        self.cpu_ns() + self.sleep_ns()
    }
}

/// Workload mixes of the I/O study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Every invocation CPU-bound (the study's Figure 2: ALPS vs CFS).
    Cpu,
    /// Classes 1-3 I/O-bound (5 ms burst, sleep 1.6^(n-25)·10 ms, 1 ms burst),
    /// classes 4-5 CPU noise (Figure 4).
    Io,
    /// Classes 1-2 I/O-bound (50 ms burst, sleep 1.5^(n-25)·10 ms, 1 ms
    /// burst), classes 3-5 CPU-bound fib(n) (Figures 3, 5, 6, Table 1).
    Mixed,
    /// The isolation test: `cpu`, plus two invocations of the shortest
    /// function (by mean CPU) arriving together at a quarter of the span,
    /// each [`SPLIT_CPU_NS`] of CPU (work-scaled) cut into bursts of
    /// [`SPLIT_BURST_FRAC`] of that function's mean CPU (at least 1 ms) with
    /// [`SPLIT_SLEEP_NS`] sleeps between them: a function learned short that
    /// stays just under its expectation per burst. Reported as class "split".
    Split,
}

/// CPU of each burst-splitting invocation of `--scenario split` before the
/// work scale, ns (10 s: the size of the first isolation experiment).
pub const SPLIT_CPU_NS: f64 = 10e9;
/// A split burst as a fraction of the function's mean CPU per invocation.
pub const SPLIT_BURST_FRAC: f64 = 0.8;
/// Sleep between two split bursts, ns (not time-scaled: a yield, not I/O).
pub const SPLIT_SLEEP_NS: u64 = 50_000;
/// Report class of the burst-splitting invocations.
pub const SPLIT_CLASS: &str = "split";

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scenario::Cpu => "cpu",
            Scenario::Io => "io",
            Scenario::Mixed => "mixed",
            Scenario::Split => "split",
        })
    }
}

impl Scenario {
    /// Entries the study ran for this scenario (mixed: 200, otherwise 1000).
    pub fn default_limit(self) -> usize {
        match self {
            Scenario::Mixed => 200,
            Scenario::Cpu | Scenario::Io | Scenario::Split => 1000,
        }
    }
}

/// How to turn a trace into a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanConfig {
    /// Workload mix.
    pub scenario: Scenario,
    /// Multiplies arrival times and sleeps (after the format's own scale).
    pub time_scale: f64,
    /// Multiplies CPU demands.
    pub work_scale: f64,
    /// First entries to keep (0 = all).
    pub limit: usize,
    /// Entries to skip first.
    pub skip: usize,
    /// Factor applied to arrival times after the time scale (`--load`).
    #[serde(default = "one")]
    pub arrival_scale: f64,
}

fn one() -> f64 {
    1.0
}

/// A whole run's workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Trace file it came from.
    pub trace: String,
    /// Its format.
    pub format: Format,
    /// How it was built.
    pub config: PlanConfig,
    /// Seed used (Azure 2019 sampling).
    pub seed: u64,
    /// The invocations, in arrival order.
    pub invocations: Vec<Invocation>,
}

impl Plan {
    /// Distinct function names, sorted.
    pub fn functions(&self) -> Vec<String> {
        let mut f: Vec<String> = self.invocations.iter().map(|i| i.func.clone()).collect();
        f.sort();
        f.dedup();
        f
    }

    /// A plan of hand-made invocations `(function, arrival ns, phases)`, for
    /// tests and what-if simulations: each function is its own class, kind
    /// I/O when it sleeps.
    pub fn from_jobs(jobs: &[(&str, u64, Vec<Phase>)]) -> Plan {
        Plan {
            trace: "hand-made".into(),
            format: Format::Study,
            config: PlanConfig {
                scenario: Scenario::Cpu,
                time_scale: 1.0,
                work_scale: 1.0,
                limit: 0,
                skip: 0,
                arrival_scale: 1.0,
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

    /// Total CPU demand, ns.
    pub fn cpu_ns(&self) -> u64 {
        self.invocations.iter().map(|i| i.cpu_ns()).sum()
    }

    /// Arrival of the last invocation, ns.
    pub fn span_ns(&self) -> u64 {
        self.invocations.last().map_or(0, |i| i.arrival_ns)
    }

    /// Offered CPU load on `cpus` CPUs: CPU demand over CPU capacity during
    /// the arrivals (demand / (span x cpus)); infinite for a plan whose
    /// invocations all arrive at once.
    pub fn offered_load(&self, cpus: usize) -> f64 {
        self.cpu_ns() as f64 / (self.span_ns() as f64 * cpus.max(1) as f64)
    }

    /// Multiplies every arrival time by `factor` (> 0); CPU bursts and
    /// sleeps are untouched, so the offered load divides by `factor`.
    pub fn scale_arrivals(&mut self, factor: f64) {
        for i in self.invocations.iter_mut() {
            i.arrival_ns = (i.arrival_ns as f64 * factor).round() as u64;
        }
        self.config.arrival_scale *= factor;
    }

    /// The plan repeated `k` times back to back (each copy starts one mean
    /// inter-arrival time after the previous copy's last arrival), for
    /// simulating long runs from short traces. Ids get a `#copy` suffix.
    pub fn tiled(&self, k: usize) -> Plan {
        let n = self.invocations.len() as u64;
        let gap = if n > 1 { self.span_ns() / (n - 1) } else { 1_000_000 };
        let period = self.span_ns() + gap.max(1);
        let mut out = self.clone();
        out.invocations = (0..k.max(1) as u64)
            .flat_map(|c| {
                self.invocations.iter().map(move |inv| {
                    let mut i = inv.clone();
                    i.arrival_ns += c * period;
                    if c > 0 {
                        i.id = format!("{}#{c}", inv.id);
                    }
                    i
                })
            })
            .enumerate()
            .map(|(idx, mut i)| {
                i.idx = idx;
                i
            })
            .collect();
        out
    }
}

/// Nice value of the I/O-bound invocations in the oracle arm.
pub const ORACLE_IO_NICE: i32 = -20;

/// Nice values of the CPU-bound invocations in the oracle arm span this
/// range, the smallest invocation at the first, the largest at the second.
pub const ORACLE_CPU_NICE: (i32, i32) = (-10, 19);

/// The oracle arm's nice value for each invocation of `plan` (plan order):
/// clairvoyant static priorities for the kernel's default scheduler.
/// I/O-bound invocations get [`ORACLE_IO_NICE`]; CPU-bound ones are placed
/// on [`ORACLE_CPU_NICE`] by the logarithm of their CPU demand between the
/// plan's smallest and largest CPU-bound demand (all at the middle when
/// they are equal). Ten nice steps below the smallest CPU-bound invocation,
/// an I/O-bound one weighs about 9x as much; each nice step is about 1.25x.
pub fn oracle_nices(plan: &Plan) -> Vec<i32> {
    let cpu: Vec<f64> = plan
        .invocations
        .iter()
        .filter(|i| i.kind == Kind::Cpu)
        .map(|i| (i.cpu_ns().max(1) as f64).ln())
        .collect();
    let lo = cpu.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = cpu.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (n0, n1) = ORACLE_CPU_NICE;
    plan.invocations
        .iter()
        .map(|i| match i.kind {
            Kind::Io => ORACLE_IO_NICE,
            Kind::Cpu if hi > lo => {
                let x = ((i.cpu_ns().max(1) as f64).ln() - lo) / (hi - lo);
                n0 + (x * (n1 - n0) as f64).round() as i32
            }
            Kind::Cpu => (n0 + n1) / 2,
        })
        .collect()
}

fn cpu(ns: f64) -> Phase {
    Phase::Cpu { ns: ns.max(1.0) as u64 }
}

fn sleep(ns: f64) -> Phase {
    Phase::Sleep { ns: ns.max(0.0) as u64 }
}

/// The study's I/O function with `burst_ms` CPU, a sleep of
/// `floor(base^(n-25) * 10)` ms, and 1 ms of CPU.
fn io_phases(n: u32, burst_ms: f64, base: f64, ws: f64, ts: f64) -> Vec<Phase> {
    let sleep_ms = (base.powi(n as i32 - 25) * 10.0).floor();
    vec![cpu(burst_ms * MS * ws), sleep(sleep_ms * MS * ts), cpu(MS * ws)]
}

fn cpu_demand_ns(format: Format, work: &Work) -> f64 {
    match work {
        Work::Fib(n) => fib_cpu_ns_for(format, *n),
        Work::Named { func, arg } => named_cpu_ns(func, *arg),
        Work::DurationMs(ms) => ms * MS,
    }
}

/// Builds the plan for `entries` read from `trace` in `format`.
///
/// Errors when the scenario needs the study's classes and the trace has
/// none, when a scale is not a positive finite number, or when nothing is
/// left after `skip`/`limit`.
pub fn build_plan(trace: &str, format: Format, entries: &[TraceEntry], cfg: &PlanConfig, seed: u64) -> Result<Plan> {
    for (name, v) in [("--time-scale", cfg.time_scale), ("--work-scale", cfg.work_scale)] {
        if !v.is_finite() || v <= 0.0 || v > 1e6 {
            bail!("{name} must be a positive number, got {v}");
        }
    }
    let ts = cfg.time_scale * format.native_time_scale();
    let ws = cfg.work_scale;
    let take = if cfg.limit == 0 { usize::MAX } else { cfg.limit };
    let chosen: Vec<&TraceEntry> = entries.iter().skip(cfg.skip).take(take).collect();
    if chosen.is_empty() {
        bail!(
            "no invocations left after --skip {} --limit {} (the trace has {})",
            cfg.skip,
            cfg.limit,
            entries.len()
        );
    }
    let t0 = chosen[0].arrival_ms;
    let mut out = Vec::with_capacity(chosen.len());
    for (idx, e) in chosen.into_iter().enumerate() {
        let class_of = || -> Result<u32> {
            e.class.ok_or_else(|| {
                anyhow::anyhow!(
                    "scenario {} needs the study's classes 1-5 (format study); {} has none: use --scenario cpu",
                    cfg.scenario,
                    format
                )
            })
        };
        let (kind, phases, class) = match cfg.scenario {
            Scenario::Cpu | Scenario::Split => (
                Kind::Cpu,
                vec![cpu(cpu_demand_ns(format, &e.work) * ws)],
                e.class.map_or_else(|| e.func.clone(), |c| c.to_string()),
            ),
            Scenario::Mixed | Scenario::Io => {
                let c = class_of()?;
                let Work::Fib(n) = e.work else {
                    bail!("scenario {} needs fib entries (line {})", cfg.scenario, e.line);
                };
                let io = if cfg.scenario == Scenario::Mixed {
                    c <= 2
                } else {
                    c <= 3
                };
                if io {
                    let (burst, base) = if cfg.scenario == Scenario::Mixed {
                        (50.0, 1.5)
                    } else {
                        (5.0, 1.6)
                    };
                    (Kind::Io, io_phases(n, burst, base, ws, ts), c.to_string())
                } else {
                    (Kind::Cpu, vec![cpu(fib_cpu_ns_for(format, n) * ws)], c.to_string())
                }
            }
        };
        let func = match e.class {
            // The study tags functions by class (ghOSt's /tidinfo class).
            Some(c) => format!("class{c}-{kind}"),
            None => e.func.replace('/', "-"),
        };
        out.push(Invocation {
            idx,
            id: e.id.clone(),
            func,
            class,
            kind,
            arrival_ns: ((e.arrival_ms - t0) * MS * ts).max(0.0) as u64,
            phases,
        });
    }
    if cfg.scenario == Scenario::Split {
        add_splitters(&mut out, ws)?;
    }
    Ok(Plan {
        trace: trace.to_string(),
        format,
        config: cfg.clone(),
        seed,
        invocations: out,
    })
}

/// Adds `--scenario split`'s two burst-splitting invocations to `invs`
/// (then sorted by arrival and re-indexed); `ws` is the work scale. Errors
/// on an empty plan.
fn add_splitters(invs: &mut Vec<Invocation>, ws: f64) -> Result<()> {
    let mut by_func: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for i in invs.iter() {
        let e = by_func.entry(&i.func).or_default();
        e.0 += i.cpu_ns();
        e.1 += 1;
    }
    let Some((func, mean)) = by_func
        .into_iter()
        .map(|(f, (sum, n))| (f.to_string(), sum as f64 / n as f64))
        .min_by(|a, b| a.1.total_cmp(&b.1))
    else {
        bail!("scenario split needs at least one invocation");
    };
    let span = invs.iter().map(|i| i.arrival_ns).max().unwrap_or(0);
    // At least 1 ms: below it the 50 us sleeps would be most of the time.
    let burst = (mean * SPLIT_BURST_FRAC).max(1e6) as u64;
    let total = (SPLIT_CPU_NS * ws).max(1.0) as u64;
    let mut phases = Vec::new();
    let mut left = total;
    while left > 0 {
        let b = burst.min(left);
        phases.push(Phase::Cpu { ns: b });
        left -= b;
        if left > 0 {
            phases.push(Phase::Sleep { ns: SPLIT_SLEEP_NS });
        }
    }
    for k in 1..=2 {
        invs.push(Invocation {
            idx: 0,
            id: format!("split-{k}"),
            func: func.clone(),
            class: SPLIT_CLASS.to_string(),
            kind: Kind::Cpu,
            arrival_ns: span / 4,
            phases: phases.clone(),
        });
    }
    invs.sort_by_key(|i| i.arrival_ns);
    for (idx, i) in invs.iter_mut().enumerate() {
        i.idx = idx;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(class: Option<u32>, n: u32, arrival_ms: f64) -> TraceEntry {
        TraceEntry {
            line: 1,
            id: "x".into(),
            func: "fib".into(),
            class,
            arrival_ms,
            work: Work::Fib(n),
        }
    }

    fn cfg(scenario: Scenario, ts: f64, ws: f64) -> PlanConfig {
        PlanConfig {
            scenario,
            time_scale: ts,
            work_scale: ws,
            limit: 0,
            skip: 0,
            arrival_scale: 1.0,
        }
    }

    #[test]
    fn fib_model() {
        assert_eq!(fib_calls(0), 1);
        assert_eq!(fib_calls(1), 1);
        assert_eq!(fib_calls(2), 3);
        assert_eq!(fib_calls(10), 177);
        assert_eq!(fib_calls(39), 204_668_309);
        assert!((fib_cpu_ns(39) / MS - 307.0).abs() < 1.0);
        // Each step costs about phi more.
        let r = fib_cpu_ns(41) / fib_cpu_ns(40);
        assert!((r - 1.618).abs() < 0.001, "{r}");
        // Python's fib for the ALPS and SFS traces, against their papers'
        // calibration within 6 %: fib(20) 13 ms, fib(30) 220 ms, fib(36) 3.7 s.
        for (n, ms) in [(20, 13.0), (30, 220.0), (36, 3700.0)] {
            for f in [Format::Sfs, Format::Alps] {
                let got = fib_cpu_ns_for(f, n) / MS;
                assert!((got / ms - 1.0).abs() < 0.06, "fib({n}) {got} ms");
            }
        }
        assert_eq!(fib_cpu_ns_for(Format::Study, 39), fib_cpu_ns(39));
    }

    #[test]
    fn plans_cost_fib_in_the_trace_runtime() {
        let e = [entry(None, 20, 0.0)];
        for (f, want) in [
            (Format::Sfs, fib_cpu_ns_for(Format::Sfs, 20)),
            (Format::Study, fib_cpu_ns(20)),
        ] {
            let p = build_plan("t", f, &e, &cfg(Scenario::Cpu, 1.0, 1.0), 1).unwrap();
            assert_eq!(p.invocations[0].cpu_ns(), want as u64, "{f}");
        }
        assert!(fib_cpu_ns_for(Format::Sfs, 20) > 100.0 * fib_cpu_ns(20));
    }

    #[test]
    fn mixed_scenario_follows_the_study() {
        let e = [
            entry(Some(1), 36, 0.0),
            entry(Some(2), 38, 10.0),
            entry(Some(5), 45, 40.0),
        ];
        let p = build_plan("t", Format::Study, &e, &cfg(Scenario::Mixed, 1.0, 1.0), 1).unwrap();
        let io = &p.invocations[0];
        assert_eq!(io.kind, Kind::Io);
        // 50 ms burst, floor(1.5^11 * 10) = 864 ms sleep, 1 ms burst.
        assert_eq!(
            io.phases,
            vec![
                Phase::Cpu { ns: 50_000_000 },
                Phase::Sleep { ns: 864_000_000 },
                Phase::Cpu { ns: 1_000_000 }
            ]
        );
        assert_eq!(io.func, "class1-io");
        assert_eq!(io.class, "1");
        assert_eq!(p.invocations[1].sleep_ns(), 1_946_000_000);
        let fib = &p.invocations[2];
        assert_eq!((fib.kind, fib.func.as_str()), (Kind::Cpu, "class5-cpu"));
        assert_eq!(fib.cpu_ns(), fib_cpu_ns(45) as u64);
        assert_eq!(fib.arrival_ns, 40_000_000);
        assert_eq!(p.functions(), vec!["class1-io", "class2-io", "class5-cpu"]);
    }

    #[test]
    fn io_scenario_uses_the_short_burst_variant() {
        let e = [entry(Some(3), 30, 0.0), entry(Some(4), 40, 1.0)];
        let p = build_plan("t", Format::Study, &e, &cfg(Scenario::Io, 1.0, 1.0), 1).unwrap();
        // 5 ms burst, floor(1.6^5 * 10) = 104 ms sleep, 1 ms burst.
        assert_eq!(p.invocations[0].phases[0], Phase::Cpu { ns: 5_000_000 });
        assert_eq!(p.invocations[0].sleep_ns(), 104_000_000);
        assert_eq!(p.invocations[1].kind, Kind::Cpu);
    }

    #[test]
    fn scales_apply_to_time_and_work_separately() {
        let e = [entry(Some(1), 36, 0.0), entry(Some(3), 39, 100.0)];
        let p = build_plan("t", Format::Study, &e, &cfg(Scenario::Mixed, 0.5, 0.1), 1).unwrap();
        assert_eq!(p.invocations[1].arrival_ns, 50_000_000);
        assert_eq!(p.invocations[0].phases[0], Phase::Cpu { ns: 5_000_000 });
        assert_eq!(p.invocations[0].sleep_ns(), 432_000_000);
        assert_eq!(p.invocations[1].cpu_ns(), (fib_cpu_ns(39) * 0.1) as u64);
        // The ALPS format's own 0.21 iat factor applies on top.
        let a = [entry(None, 20, 0.0), entry(None, 20, 100.0)];
        let p = build_plan("t", Format::Alps, &a, &cfg(Scenario::Cpu, 1.0, 1.0), 1).unwrap();
        assert_eq!(p.invocations[1].arrival_ns, 21_000_000);
    }

    #[test]
    fn limits_skip_and_rebase() {
        let e: Vec<TraceEntry> = (0..10).map(|i| entry(Some(3), 30, i as f64 * 10.0)).collect();
        let mut c = cfg(Scenario::Cpu, 1.0, 1.0);
        c.limit = 3;
        c.skip = 2;
        let p = build_plan("t", Format::Study, &e, &c, 1).unwrap();
        assert_eq!(p.invocations.len(), 3);
        assert_eq!(p.invocations[0].arrival_ns, 0);
        assert_eq!(p.invocations[2].arrival_ns, 20_000_000);
        assert_eq!(p.invocations[2].idx, 2);
        c.skip = 10;
        assert!(
            build_plan("t", Format::Study, &e, &c, 1)
                .unwrap_err()
                .to_string()
                .contains("no invocations")
        );
    }

    #[test]
    fn bad_scales_and_classless_mixed_are_errors() {
        let e = [entry(None, 30, 0.0)];
        let err = build_plan("t", Format::Sfs, &e, &cfg(Scenario::Mixed, 1.0, 1.0), 1).unwrap_err();
        assert!(err.to_string().contains("--scenario cpu"), "{err}");
        for (ts, ws) in [(0.0, 1.0), (1.0, -1.0), (f64::NAN, 1.0)] {
            assert!(build_plan("t", Format::Study, &e, &cfg(Scenario::Cpu, ts, ws), 1).is_err());
        }
    }

    #[test]
    fn split_scenario_adds_two_burst_splitters_of_the_shortest_function() {
        let es = vec![
            entry(Some(5), 40, 0.0),
            entry(Some(1), 30, 100.0),
            entry(Some(5), 40, 400.0),
        ];
        let p = build_plan("t", Format::Study, &es, &cfg(Scenario::Split, 1.0, 0.01), 1).unwrap();
        assert_eq!(p.invocations.len(), 5);
        let split: Vec<&Invocation> = p.invocations.iter().filter(|i| i.class == SPLIT_CLASS).collect();
        assert_eq!(split.len(), 2);
        let short = p.invocations.iter().find(|i| i.class == "1").unwrap();
        let burst = (short.cpu_ns() as f64 * SPLIT_BURST_FRAC).max(1e6) as u64;
        for s in &split {
            assert_eq!(s.func, short.func);
            assert_eq!(s.arrival_ns, 100 * MS as u64);
            assert_eq!(s.cpu_ns(), (SPLIT_CPU_NS * 0.01) as u64);
            assert_eq!(s.phases[0], Phase::Cpu { ns: burst });
            assert_eq!(s.phases[1], Phase::Sleep { ns: SPLIT_SLEEP_NS });
            assert!(s.phases.iter().all(|ph| match ph {
                Phase::Cpu { ns } => *ns <= burst,
                Phase::Sleep { ns } => *ns == SPLIT_SLEEP_NS,
            }));
        }
        // Sorted by arrival and re-indexed.
        assert!(p.invocations.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns));
        assert!(p.invocations.iter().enumerate().all(|(k, i)| i.idx == k));
    }

    #[test]
    fn tiling_repeats_the_plan_after_its_span() {
        let e: Vec<TraceEntry> = (0..3).map(|i| entry(Some(3), 30, i as f64 * 10.0)).collect();
        let p = build_plan("t", Format::Study, &e, &cfg(Scenario::Cpu, 1.0, 1.0), 1).unwrap();
        let t = p.tiled(3);
        assert_eq!(t.invocations.len(), 9);
        let arr: Vec<u64> = t.invocations.iter().map(|i| i.arrival_ns / 1_000_000).collect();
        // Span 20 ms, mean gap 10 ms: copies start every 30 ms.
        assert_eq!(arr, vec![0, 10, 20, 30, 40, 50, 60, 70, 80]);
        assert_eq!(t.invocations[4].id, "x#1");
        assert_eq!(t.invocations[8].idx, 8);
        assert_eq!(p.tiled(0).invocations.len(), 3);
    }

    #[test]
    fn oracle_nices_put_io_first_and_cpu_by_size() {
        let p = Plan::from_jobs(&[
            ("io", 0, vec![Phase::Cpu { ns: 5 }, Phase::Sleep { ns: 10 }]),
            ("small", 1, vec![Phase::Cpu { ns: 10_000_000 }]),
            ("mid", 2, vec![Phase::Cpu { ns: 100_000_000 }]),
            ("big", 3, vec![Phase::Cpu { ns: 1_000_000_000 }]),
        ]);
        assert_eq!(oracle_nices(&p), vec![-20, -10, 5, 19]);
        let same = Plan::from_jobs(&[
            ("a", 0, vec![Phase::Cpu { ns: 7 }]),
            ("b", 1, vec![Phase::Cpu { ns: 7 }]),
        ]);
        assert_eq!(oracle_nices(&same), vec![4, 4]);
    }

    #[test]
    fn load_scales_arrivals_only() {
        let mut p = Plan::from_jobs(&[
            ("a", 0, vec![Phase::Cpu { ns: 500 }]),
            ("b", 1000, vec![Phase::Cpu { ns: 1500 }, Phase::Sleep { ns: 70 }]),
        ]);
        // 2000 ns of demand over a 1000 ns span on 2 CPUs.
        assert_eq!(p.offered_load(2), 1.0);
        p.scale_arrivals(4.0);
        assert_eq!(p.offered_load(2), 0.25);
        assert_eq!(p.invocations[1].arrival_ns, 4000);
        assert_eq!(p.invocations[1].sleep_ns(), 70);
        assert_eq!(p.config.arrival_scale, 4.0);
    }

    #[test]
    fn named_functions_have_documented_costs() {
        assert_eq!(named_cpu_ns("floatOperation", 100000.0), 50.0 * MS);
        assert_eq!(named_cpu_ns("graphBfs", 100.0), 30.0 * MS);
        assert_eq!(named_cpu_ns("featureExtractor", 1.0), 150.0 * MS);
    }
}
