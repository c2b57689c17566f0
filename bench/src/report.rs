//! Summaries and reports of an A/B run (real or simulated): the
//! per-invocation CSV, a JSON summary, a Markdown table per class (like the
//! I/O study's Table 1), throughput over time, and plots.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use scx_alps::metrics::Metrics;

use crate::exec::InvocationResult;
use crate::lateness::GeneratorLag;
use crate::stats::{Ratio, nan_if_null};
use crate::workload::{Kind, Plan, SPLIT_CLASS};

/// Results of one arm in one repetition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArmRun {
    /// Arm name (e.g. eevdf, alps, alps-io).
    pub arm: String,
    /// Repetition, 0-based.
    pub rep: usize,
    /// One result per invocation of the plan.
    pub results: Vec<InvocationResult>,
    /// What /sys/kernel/sched_ext/root/ops named during the run (None: the
    /// kernel's default scheduler).
    pub ops: Option<String>,
    /// Last statistics snapshot of the scheduler (scx_alps, or the
    /// simulator's model of it).
    pub sched_stats: Option<Metrics>,
    /// Percent of the machine's CPU its host stole during the measured
    /// replay (the test VM's host when run there); None if unknown.
    #[serde(default)]
    pub host_steal_pct: Option<f64>,
    /// Times this repetition was run again because the host stole too much.
    #[serde(default)]
    pub reruns: usize,
}

/// Where and how the run was made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunMeta {
    /// "vm", "host" or "sim".
    pub mode: String,
    /// Kernel release, or the simulator's description.
    pub kernel: String,
    /// CPUs of the machine (or simulated).
    pub cpus: usize,
    /// Trace file.
    pub trace: String,
    /// Trace format.
    pub format: String,
    /// Scenario.
    pub scenario: String,
    /// Time scale applied (after the format's own).
    pub time_scale: f64,
    /// Work scale applied.
    pub work_scale: f64,
    /// Invocations per repetition.
    pub invocations: usize,
    /// Seed.
    pub seed: u64,
    /// Repetitions per arm.
    pub repeats: usize,
    /// Arm all deltas are relative to.
    pub baseline: String,
    /// Factor applied to the trace's arrival times (`--load`).
    #[serde(default = "one")]
    pub arrival_scale: f64,
    /// Offered CPU load of the measured plan on `cpus` CPUs.
    #[serde(default)]
    pub offered_load: f64,
    /// Entries replayed before a trained arm's measured run (0: none).
    #[serde(default)]
    pub warmup: usize,
    /// The extra flags every scx_alps arm (or model) got; None in summaries
    /// written before they were recorded.
    #[serde(default)]
    pub alps_flags: Option<String>,
    /// How invocations ran (`--runtime`: fork, warm:N, warm:N without
    /// hints); "fork" in summaries written before it was recorded.
    #[serde(default = "fork")]
    pub runtime: String,
}

fn fork() -> String {
    "fork".into()
}

fn one() -> f64 {
    1.0
}

impl RunMeta {
    /// The metadata of a run of `plan` in `mode` ("vm", "host", "sim") on
    /// `kernel` with `cpus` CPUs, `repeats` repetitions per arm, ratios to
    /// `baseline`, trained arms after `warmup` entries.
    pub fn of(
        plan: &Plan,
        mode: &str,
        kernel: String,
        cpus: usize,
        repeats: usize,
        baseline: &str,
        warmup: usize,
    ) -> Self {
        Self {
            mode: mode.into(),
            kernel,
            cpus,
            trace: plan.trace.clone(),
            format: plan.format.to_string(),
            scenario: plan.config.scenario.to_string(),
            time_scale: plan.config.time_scale,
            work_scale: plan.config.work_scale,
            invocations: plan.invocations.len(),
            seed: plan.seed,
            repeats,
            baseline: baseline.into(),
            arrival_scale: plan.config.arrival_scale,
            offered_load: plan.offered_load(cpus),
            warmup,
            alps_flags: None,
            runtime: fork(),
        }
    }
}

/// FCT statistics of one class (or of all invocations) in one arm.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClassStats {
    /// Class label ("all" for the overall row).
    pub class: String,
    /// Kind of the class's functions ("mixed" if both).
    pub kind: String,
    /// Completed invocations, all repetitions pooled.
    pub count: usize,
    /// Invocations that did not complete.
    pub failed: usize,
    /// Mean FCT, ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub mean_ms: f64,
    /// Median FCT, ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub p50_ms: f64,
    /// 99th-percentile FCT, ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub p99_ms: f64,
    /// Largest FCT, ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub max_ms: f64,
    /// Smallest and largest per-repetition mean, ms (run-to-run noise).
    pub rep_mean_range_ms: (f64, f64),
    /// Mean FCT of each repetition, ms (repetition order).
    #[serde(default)]
    pub rep_means_ms: Vec<f64>,
    /// P99 FCT of each repetition, ms.
    #[serde(default)]
    pub rep_p99_ms: Vec<f64>,
    /// Half-width of the 95 % confidence interval of the mean over
    /// repetitions, ms (None with one repetition).
    #[serde(default)]
    pub ci95_ms: Option<f64>,
    /// Mean over the baseline arm's mean, with its 95 % interval.
    #[serde(default)]
    pub ratio: Option<Ratio>,
    /// P99 over the baseline arm's P99 (from per-repetition P99s), with its
    /// 95 % interval.
    #[serde(default)]
    pub p99_ratio: Option<Ratio>,
    /// Mean slowdown: FCT / (CPU demand + sleep).
    #[serde(deserialize_with = "nan_if_null")]
    pub mean_slowdown: f64,
    /// Mean voluntary context switches per invocation.
    #[serde(deserialize_with = "nan_if_null")]
    pub nvcsw_mean: f64,
    /// Mean involuntary context switches per invocation.
    #[serde(deserialize_with = "nan_if_null")]
    pub nivcsw_mean: f64,
    /// Mean spawn latency (arrival to first instruction), ms.
    #[serde(deserialize_with = "nan_if_null")]
    pub spawn_mean_ms: f64,
    /// Change of the mean against the baseline arm, percent.
    pub delta_mean_pct: Option<f64>,
    /// Change of the P99 against the baseline arm, percent.
    pub delta_p99_pct: Option<f64>,
}

/// Everything about one arm.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ArmSummary {
    /// Arm name.
    pub arm: String,
    /// Repetitions run.
    pub reps: usize,
    /// Scheduler ops names seen.
    pub ops: Vec<String>,
    /// Mean time from the first arrival to the last completion, s.
    pub makespan_s: f64,
    /// Completions per second, averaged over the makespan.
    pub throughput_per_s: f64,
    /// Overall statistics.
    pub overall: ClassStats,
    /// Per-class statistics, by class.
    pub classes: Vec<ClassStats>,
    /// Completions per second over time: (bin start s, rate), mean of reps.
    pub throughput: Vec<(f64, f64)>,
    /// Last scheduler statistics snapshot (scx_alps: counters and policy).
    #[serde(default)]
    pub sched_stats: Option<Metrics>,
    /// How late the load generator forked, per repetition.
    #[serde(default)]
    pub generator_lag: GeneratorLag,
    /// Percent of the CPU the host stole per repetition (kept runs).
    #[serde(default)]
    pub host_steal_pct: Vec<Option<f64>>,
    /// Tries discarded because the host stole too much, over all
    /// repetitions (a repetition tried three times counts two).
    #[serde(default)]
    pub reruns: usize,
    /// Warm runtime: requests served by a worker started for them (cold
    /// starts), per repetition (all 0 with `--runtime fork`).
    #[serde(default)]
    pub cold_starts: Vec<usize>,
}

/// The JSON summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Parameters of the run.
    pub meta: RunMeta,
    /// Arms in the order given.
    pub arms: Vec<ArmSummary>,
}

/// Percentile `q` (a fraction, 0..=1: 0.99 is P99) of FCTs in ms through an
/// HDR histogram (3 significant digits, us resolution, up to 10 hours).
/// NaN for no values.
pub fn hdr_percentile(values_ms: &[f64], q: f64) -> f64 {
    let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 36_000_000_000, 3) else {
        return f64::NAN;
    };
    for v in values_ms {
        let _ = h.record(((v * 1000.0).round() as u64).clamp(1, 36_000_000_000));
    }
    if h.is_empty() {
        return f64::NAN;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Empirical CDF of `values` as (value, fraction <= value), at most
/// `max_points` points (evenly spaced ranks, always keeping the last).
pub fn cdf(values: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(max_points.max(1));
    let mut out: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (v[i], (i + 1) as f64 / n as f64))
        .collect();
    if out.last().map(|p| p.1) != Some(1.0) {
        out.push((v[n - 1], 1.0));
    }
    out
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

fn class_stats(class: &str, rows: &[(&usize, &InvocationResult)]) -> ClassStats {
    let ok: Vec<&InvocationResult> = rows.iter().map(|(_, r)| *r).filter(|r| r.ok).collect();
    let mut fct: Vec<f64> = ok.iter().map(|r| r.fct_ms).collect();
    fct.sort_by(f64::total_cmp);
    let kinds: std::collections::BTreeSet<Kind> = rows.iter().map(|(_, r)| r.kind).collect();
    let kind = match kinds.len() {
        1 => kinds.iter().next().unwrap().to_string(),
        _ => "mixed".into(),
    };
    let mut by_rep: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for (rep, r) in rows {
        if r.ok {
            by_rep.entry(**rep).or_default().push(r.fct_ms);
        }
    }
    let rep_means: Vec<f64> = by_rep.values().map(|v| mean(v.iter().copied())).collect();
    let rep_p99: Vec<f64> = by_rep.values().map(|v| hdr_percentile(v, 0.99)).collect();
    ClassStats {
        class: class.to_string(),
        kind,
        count: ok.len(),
        failed: rows.len() - ok.len(),
        mean_ms: mean(fct.iter().copied()),
        p50_ms: hdr_percentile(&fct, 0.5),
        p99_ms: hdr_percentile(&fct, 0.99),
        max_ms: fct.last().copied().unwrap_or(f64::NAN),
        rep_mean_range_ms: (
            rep_means.iter().copied().fold(f64::INFINITY, f64::min),
            rep_means.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        ci95_ms: crate::stats::mean_ci95(&rep_means).1,
        rep_means_ms: rep_means,
        rep_p99_ms: rep_p99,
        ratio: None,
        p99_ratio: None,
        mean_slowdown: mean(ok.iter().map(|r| r.fct_ms / (r.demand_ms + r.sleep_ms).max(1e-3))),
        nvcsw_mean: mean(ok.iter().map(|r| r.nvcsw as f64)),
        nivcsw_mean: mean(ok.iter().map(|r| r.nivcsw as f64)),
        spawn_mean_ms: mean(ok.iter().map(|r| r.spawn_ms).filter(|x| x.is_finite())),
        delta_mean_pct: None,
        delta_p99_pct: None,
    }
}

/// Pseudo-class of a split scenario's report: every invocation but the
/// burst splitters' (`workload::SPLIT_CLASS`).
pub const OTHERS_CLASS: &str = "others";

/// Sort key for class labels: numbers numerically, then names.
fn class_key(c: &str) -> (u64, String) {
    (c.parse::<u64>().unwrap_or(u64::MAX), c.to_string())
}

fn throughput(runs: &[&ArmRun], bin_s: f64, horizon_s: f64) -> Vec<(f64, f64)> {
    let nbins = ((horizon_s / bin_s).ceil() as usize).max(1);
    let mut bins = vec![0.0; nbins];
    for run in runs {
        for r in run.results.iter().filter(|r| r.ok) {
            let b = ((r.end_ms / 1000.0 / bin_s) as usize).min(nbins - 1);
            bins[b] += 1.0;
        }
    }
    let reps = runs.len().max(1) as f64;
    bins.iter()
        .enumerate()
        .map(|(i, c)| (i as f64 * bin_s, c / reps / bin_s))
        .collect()
}

/// Summarises `runs` (all arms, all repetitions); deltas are against
/// `meta.baseline`, arms keep the order of `arm_order`.
pub fn summarize(runs: &[ArmRun], arm_order: &[String], meta: RunMeta) -> Summary {
    let horizon_s = runs
        .iter()
        .flat_map(|r| r.results.iter())
        .filter(|r| r.ok)
        .map(|r| r.end_ms / 1000.0)
        .fold(0.0, f64::max);
    let bin_s = (horizon_s / 60.0).ceil().max(1.0);

    let mut arms: Vec<ArmSummary> = arm_order
        .iter()
        .map(|arm| {
            let mine: Vec<&ArmRun> = runs.iter().filter(|r| &r.arm == arm).collect();
            let rows: Vec<(&usize, &InvocationResult)> = mine
                .iter()
                .flat_map(|r| r.results.iter().map(move |x| (&r.rep, x)))
                .collect();
            let mut by_class: BTreeMap<(u64, String), Vec<(&usize, &InvocationResult)>> = BTreeMap::new();
            for (rep, r) in &rows {
                by_class.entry(class_key(&r.class)).or_default().push((rep, r));
            }
            // The isolation goal is about everyone but the splitter.
            if by_class.len() > 1 && by_class.contains_key(&class_key(SPLIT_CLASS)) {
                let others = rows.iter().filter(|(_, r)| r.class != SPLIT_CLASS).copied().collect();
                by_class.insert(class_key(OTHERS_CLASS), others);
            }
            let makespans: Vec<f64> = mine
                .iter()
                .map(|r| r.results.iter().filter(|x| x.ok).map(|x| x.end_ms).fold(0.0, f64::max) / 1000.0)
                .collect();
            let makespan_s = mean(makespans.iter().copied());
            let done_per_rep = mean(mine.iter().map(|r| r.results.iter().filter(|x| x.ok).count() as f64));
            let mut ops: Vec<String> = mine.iter().filter_map(|r| r.ops.clone()).collect();
            ops.sort();
            ops.dedup();
            ArmSummary {
                arm: arm.clone(),
                reps: mine.len(),
                ops,
                makespan_s,
                throughput_per_s: if makespan_s > 0.0 {
                    done_per_rep / makespan_s
                } else {
                    0.0
                },
                overall: class_stats("all", &rows),
                classes: by_class.iter().map(|((_, c), v)| class_stats(c, v)).collect(),
                throughput: throughput(&mine, bin_s, horizon_s),
                sched_stats: mine.iter().rev().find_map(|r| r.sched_stats.clone()),
                generator_lag: GeneratorLag::of(mine.iter().map(|r| r.results.iter().map(|x| x.late_ms))),
                host_steal_pct: mine.iter().map(|r| r.host_steal_pct).collect(),
                reruns: mine.iter().map(|r| r.reruns).sum(),
                cold_starts: mine
                    .iter()
                    .map(|r| r.results.iter().filter(|x| x.cold).count())
                    .collect(),
            }
        })
        .collect();

    if let Some(base) = arms.iter().find(|a| a.arm == meta.baseline).cloned() {
        let delta = |x: f64, b: f64| (b > 0.0 && x.is_finite()).then(|| 100.0 * (x - b) / b);
        let compare = |c: &mut ClassStats, b: &ClassStats| {
            c.delta_mean_pct = delta(c.mean_ms, b.mean_ms);
            c.delta_p99_pct = delta(c.p99_ms, b.p99_ms);
            c.ratio = Some(crate::stats::ratio_ci95(&c.rep_means_ms, &b.rep_means_ms));
            c.p99_ratio = Some(crate::stats::ratio_ci95(&c.rep_p99_ms, &b.rep_p99_ms));
        };
        for a in arms.iter_mut() {
            compare(&mut a.overall, &base.overall);
            for c in a.classes.iter_mut() {
                if let Some(b) = base.classes.iter().find(|b| b.class == c.class) {
                    compare(c, b);
                }
            }
        }
    }
    Summary { meta, arms }
}

fn fmt_ms(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A ratio with its 95 % interval: "0.72 [0.65, 0.79]", or "0.72" when the
/// interval is unknown (one repetition).
fn fmt_ratio(r: Option<Ratio>) -> String {
    match r {
        Some(Ratio {
            value: x,
            ci95: Some(h),
        }) if x.is_finite() => {
            format!("{x:.2} [{:.2}, {:.2}]", x - h, x + h)
        }
        Some(Ratio { value: x, .. }) if x.is_finite() => format!("{x:.2}"),
        _ => "-".into(),
    }
}

/// A mean with the half-width of its 95 % interval.
fn fmt_mean(c: &ClassStats) -> String {
    match c.ci95_ms {
        Some(h) => format!("{} ± {}", fmt_ms(c.mean_ms), fmt_ms(h)),
        None => fmt_ms(c.mean_ms),
    }
}

/// The cells both FCT tables share: n (and failures), mean ± CI, P50, P99,
/// max, and mean and P99 over the baseline's with their 95 % intervals.
fn fct_cells(c: &ClassStats) -> String {
    let failed = if c.failed > 0 {
        format!(" ({} failed)", c.failed)
    } else {
        String::new()
    };
    format!(
        "{}{failed} | {} | {} | {} | {} | {} | {}",
        c.count,
        fmt_mean(c),
        fmt_ms(c.p50_ms),
        fmt_ms(c.p99_ms),
        fmt_ms(c.max_ms),
        fmt_ratio(c.ratio),
        fmt_ratio(c.p99_ratio)
    )
}

/// The headline table: every arm's mean FCT over the baseline's, per class
/// and overall, with 95 % confidence intervals, and the overall P99 ratio.
fn ratio_table(s: &Summary) -> String {
    let Some(base) = s.arms.iter().find(|a| a.arm == s.meta.baseline) else {
        return String::new();
    };
    let classes: Vec<&str> = base.classes.iter().map(|c| c.class.as_str()).collect();
    let mut o = format!("## Mean FCT over `{}` (95 % CI)\n\n| arm |", base.arm);
    for c in &classes {
        o += &format!(" class {c} |");
    }
    o += " all | P99 all |\n|---|";
    for _ in &classes {
        o += "---:|";
    }
    o += "---:|---:|\n";
    for a in s.arms.iter().filter(|a| a.arm != base.arm) {
        o += &format!("| {} |", a.arm);
        for c in &classes {
            let r = a.classes.iter().find(|x| x.class == *c).and_then(|x| x.ratio);
            o += &format!(" {} |", fmt_ratio(r));
        }
        o += &format!(
            " {} | {} |\n",
            fmt_ratio(a.overall.ratio),
            fmt_ratio(a.overall.p99_ratio)
        );
    }
    o + "\n"
}

/// The Markdown report: parameters, per-class table, overall table,
/// throughput and scheduler notes.
pub fn markdown(s: &Summary) -> String {
    let m = &s.meta;
    let mut o = String::new();
    o += &format!("# A/B report: {} scenario, {}\n\n", m.scenario, m.trace);
    o += &format!(
        "- mode: {} ({}), {} CPUs\n- trace format: {}, {} invocations per repetition, {} repetition(s) per arm, seed {}\n\
         - time scale {} (arrivals and sleeps), work scale {} (CPU demand), arrival scale {:.3} (offered load {:.2})\n\
         - runtime: {}; FCT = arrival to the end of the invocation; ratios are to `{}`, with 95 % confidence intervals over repetitions\n\n",
        m.mode,
        m.kernel,
        m.cpus,
        m.format,
        m.invocations,
        m.repeats,
        m.seed,
        m.time_scale,
        m.work_scale,
        m.arrival_scale,
        m.offered_load,
        m.runtime,
        m.baseline
    );
    o += &ratio_table(s);
    o += "## FCT per class (ms)\n\n";
    o += "| class | kind | arm | n | mean ± 95 % CI | P50 | P99 | max | mean ratio | P99 ratio | rep means | slowdown | ctx sw vol/invol |\n";
    o += "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n";
    let mut classes: Vec<(u64, String)> = s
        .arms
        .iter()
        .flat_map(|a| a.classes.iter().map(|c| class_key(&c.class)))
        .collect();
    classes.sort();
    classes.dedup();
    for (_, class) in &classes {
        for a in &s.arms {
            if let Some(c) = a.classes.iter().find(|c| &c.class == class) {
                o += &format!(
                    "| {} | {} | {} | {} | {}–{} | {:.2} | {:.1}/{:.1} |\n",
                    c.class,
                    c.kind,
                    a.arm,
                    fct_cells(c),
                    fmt_ms(c.rep_mean_range_ms.0),
                    fmt_ms(c.rep_mean_range_ms.1),
                    c.mean_slowdown,
                    c.nvcsw_mean,
                    c.nivcsw_mean,
                );
            }
        }
    }
    o += "\n## All invocations\n\n";
    o += "| arm | n | mean ± 95 % CI | P50 | P99 | max | mean ratio | P99 ratio | makespan s | completions/s | spawn ms |\n";
    o += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for a in &s.arms {
        let c = &a.overall;
        o += &format!(
            "| {} | {} | {:.1} | {:.2} | {} |\n",
            a.arm,
            fct_cells(c),
            a.makespan_s,
            a.throughput_per_s,
            fmt_ms(c.spawn_mean_ms),
        );
    }
    o += &crate::lateness::section(s.arms.iter().map(|a| (a.arm.as_str(), &a.generator_lag)));
    o += &crate::warm::cold_start_section(s.arms.iter().map(|a| (a.arm.as_str(), a.cold_starts.as_slice())));
    o += &crate::steal::section(
        s.arms
            .iter()
            .map(|a| (a.arm.as_str(), a.host_steal_pct.as_slice(), a.reruns)),
    );
    for (bound_arm, what) in [
        ("srpt", "the clairvoyant SRPT bound"),
        ("gittins", "the size-blind Gittins bound"),
        ("las", "least attained service"),
    ] {
        let Some(bound) = s.arms.iter().find(|a| a.arm == bound_arm) else {
            continue;
        };
        o += &format!("\n## Mean FCT relative to {what}\n\n| arm | mean / {bound_arm} mean |");
        let classes: Vec<&ClassStats> = bound.classes.iter().collect();
        for c in &classes {
            o += &format!(" class {} |", c.class);
        }
        o += "\n|---|---:|";
        for _ in &classes {
            o += "---:|";
        }
        o += "\n";
        for a in &s.arms {
            o += &format!("| {} | {:.3} |", a.arm, a.overall.mean_ms / bound.overall.mean_ms);
            for bc in &classes {
                let r = a
                    .classes
                    .iter()
                    .find(|c| c.class == bc.class)
                    .map_or(f64::NAN, |c| c.mean_ms / bc.mean_ms);
                o += &format!(" {r:.3} |");
            }
            o += "\n";
        }
    }
    o += "\n## Throughput over time (completions/s)\n\n";
    o += "Per-bin rates are in summary.json (`throughput`) and plotted in throughput.png/svg.\n\n";
    o += "| arm | peak | mean over makespan |\n|---|---:|---:|\n";
    for a in &s.arms {
        let peak = a.throughput.iter().map(|p| p.1).fold(0.0, f64::max);
        o += &format!("| {} | {:.2} | {:.2} |\n", a.arm, peak, a.throughput_per_s);
    }
    let sim = s.meta.mode == "sim";
    let with_stats: Vec<(&ArmSummary, &Metrics)> = s
        .arms
        .iter()
        .filter_map(|a| a.sched_stats.as_ref().map(|m| (a, m)))
        .collect();
    if !with_stats.is_empty() {
        o += "\n## Scheduler counters at the end of the last repetition\n\n";
        for (a, m) in with_stats {
            // The simulator measures only some of the counters.
            let real = if sim {
                String::new()
            } else {
                format!(
                    ", tick preempts {}, host enqueues {}, ring-buffer drops {}, learner {} updates (mean {:.0} us)",
                    m.nr_tick_preempts, m.nr_host_enqueued, m.nr_rb_drops, m.learner_updates, m.learner_mean_us
                )
            };
            o += &format!(
                "- {} ({}): invocations {}, progress records {}, preempt kicks {}, throttled {}, guard {}, mispredicted {}, max wait {:.1} ms{real}\n",
                a.arm,
                a.ops.join(","),
                m.nr_records,
                m.nr_progress,
                m.nr_preempt_kicks,
                m.nr_throttled,
                m.nr_guard,
                m.nr_demotions,
                m.max_wait_ms,
            );
            for f in &m.functions {
                o += &format!(
                    "  - {}: level {} (rank size {:.1} ms, {} steps), slice {:.1} ms, mean CPU {:.1} ms, blocked {:.0} %, \
                     I/O-bound {}, {} samples\n",
                    f.name,
                    f.level,
                    f.rank_ms,
                    f.steps,
                    f.slice_ms,
                    f.cpu_ms,
                    f.blocked_pct,
                    if f.io_bound != 0 { "yes" } else { "no" },
                    f.samples
                );
            }
        }
    }
    o
}

/// Writes invocations.csv, summary.json, report.md and the plots into `dir`.
pub fn write_outputs(dir: &Path, runs: &[ArmRun], summary: &Summary) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut w = csv::Writer::from_path(dir.join("invocations.csv"))?;
    for run in runs {
        for r in &run.results {
            let mut row = r.clone();
            row.arm.clone_from(&run.arm);
            row.rep = run.rep;
            w.serialize(row)?;
        }
    }
    w.flush()?;
    let mut f = std::fs::File::create(dir.join("summary.json"))?;
    serde_json::to_writer_pretty(&mut f, summary)?;
    writeln!(f)?;
    std::fs::write(dir.join("report.md"), markdown(summary))?;
    crate::plot::write_plots(dir, runs, summary)?;
    Ok(())
}

/// Reads invocations.csv back.
pub fn read_csv(path: &Path) -> Result<Vec<InvocationResult>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    r.deserialize().map(|x| x.map_err(anyhow::Error::from)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(idx: usize, class: &str, kind: Kind, fct: f64, end: f64) -> InvocationResult {
        InvocationResult {
            arm: String::new(),
            rep: 0,
            idx,
            id: idx.to_string(),
            func: format!("f{class}"),
            class: class.into(),
            kind,
            arrival_ms: end - fct,
            spawn_ms: 1.0,
            late_ms: 0.5,
            fork_ms: 0.2,
            fct_ms: fct,
            end_ms: end,
            demand_ms: 10.0,
            sleep_ms: 0.0,
            cpu_ms: 10.0,
            nvcsw: 2,
            nivcsw: 4,
            ok: true,
            cold: false,
        }
    }

    /// Repetition 0 of `arm` with `results`, nothing else recorded.
    fn run_of(arm: &str, results: Vec<InvocationResult>) -> ArmRun {
        ArmRun {
            arm: arm.into(),
            rep: 0,
            results,
            ops: None,
            sched_stats: None,
            host_steal_pct: None,
            reruns: 0,
        }
    }

    /// Exact percentile `q` (0..=1) of `sorted` values by the nearest-rank
    /// rule: the oracle for [`hdr_percentile`].
    fn percentile(sorted: &[f64], q: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    #[test]
    fn percentiles_and_cdf() {
        let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert!(percentile(&[], 0.5).is_nan());
        // HDR agrees with the exact percentile to its 3 significant digits.
        let big: Vec<f64> = (1..=10_000).map(|x| x as f64 * 1.7).collect();
        for q in [0.5, 0.9, 0.99] {
            let (e, h) = (percentile(&big, q), hdr_percentile(&big, q));
            assert!((e - h).abs() / e < 1e-3, "{q}: {e} vs {h}");
        }
        let c = cdf(&[3.0, 1.0, 2.0, 4.0], 10);
        assert_eq!(c, vec![(1.0, 0.25), (2.0, 0.5), (3.0, 0.75), (4.0, 1.0)]);
        let c = cdf(&v, 10);
        assert!(c.len() <= 11 && c.last() == Some(&(100.0, 1.0)));
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert!(cdf(&[f64::NAN], 5).is_empty());
    }

    #[test]
    fn summary_tables_and_deltas() {
        let base = ArmRun {
            arm: "eevdf".into(),
            rep: 0,
            results: vec![
                res(0, "1", Kind::Io, 100.0, 100.0),
                res(1, "1", Kind::Io, 300.0, 400.0),
                res(2, "3", Kind::Cpu, 1000.0, 1500.0),
            ],
            ops: None,
            sched_stats: None,
            host_steal_pct: None,
            reruns: 0,
        };
        let mut alps = base.clone();
        alps.arm = "alps".into();
        alps.results[0].fct_ms = 50.0;
        alps.results[1].fct_ms = 150.0;
        alps.results[2].fct_ms = 1200.0;
        alps.results[2].ok = true;
        let mut alps2 = alps.clone();
        alps2.rep = 1;
        alps2.results[1].ok = false;
        let meta = RunMeta {
            baseline: "eevdf".into(),
            ..Default::default()
        };
        let s = summarize(&[base, alps, alps2], &["eevdf".into(), "alps".into()], meta);
        let a = &s.arms[1];
        assert_eq!(a.reps, 2);
        let c1 = a.classes.iter().find(|c| c.class == "1").unwrap();
        assert_eq!((c1.count, c1.failed), (3, 1));
        assert!((c1.mean_ms - (50.0 + 150.0 + 50.0) / 3.0).abs() < 1e-9);
        // Baseline class-1 mean is 200 ms.
        assert!((c1.delta_mean_pct.unwrap() - (250.0 / 3.0 - 200.0) / 2.0).abs() < 1e-9);
        assert_eq!(c1.rep_mean_range_ms, (50.0, 100.0));
        let c3 = a.classes.iter().find(|c| c.class == "3").unwrap();
        assert_eq!(c3.delta_mean_pct, Some(20.0));
        assert_eq!((c3.nvcsw_mean, c3.nivcsw_mean), (2.0, 4.0));
        assert_eq!(s.arms[0].classes[0].delta_mean_pct, Some(0.0));
        let md = markdown(&s);
        assert!(
            md.contains("| 3 | cpu | alps | 2 | 1200 ± 0.0 |") && md.contains("| alps | 0.38 | 1.20 |"),
            "{md}"
        );
        let r = c3.ratio.unwrap();
        assert_eq!((r.value, r.ci95), (1.2, None));
        assert!(md.contains("(1 failed)"));
        // Throughput bins count completions per second.
        let total: f64 = s.arms[0].throughput.iter().map(|p| p.1).sum::<f64>() * 1.0;
        assert!((total - 3.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn split_runs_report_everyone_but_the_splitters() {
        let run = |arm: &str, split_fct: f64| {
            run_of(
                arm,
                vec![
                    res(0, "1", Kind::Cpu, 100.0, 100.0),
                    res(1, "2", Kind::Cpu, 300.0, 400.0),
                    res(2, SPLIT_CLASS, Kind::Cpu, split_fct, 5000.0),
                ],
            )
        };
        let meta = RunMeta {
            baseline: "eevdf".into(),
            ..Default::default()
        };
        let s = summarize(&[run("eevdf", 4000.0)], &["eevdf".into()], meta.clone());
        let names: Vec<&str> = s.arms[0].classes.iter().map(|c| c.class.as_str()).collect();
        assert_eq!(names, ["1", "2", OTHERS_CLASS, SPLIT_CLASS]);
        let others = &s.arms[0].classes[2];
        assert_eq!(others.count, 2);
        assert!((others.mean_ms - 200.0).abs() < 1e-9);
        assert_eq!(s.arms[0].overall.count, 3);
        // Without splitters there is no such class.
        let mut plain = run("eevdf", 1.0);
        plain.results.pop();
        let s = summarize(&[plain], &["eevdf".into()], meta);
        assert!(s.arms[0].classes.iter().all(|c| c.class != OTHERS_CLASS));
    }

    #[test]
    fn class_order_is_numeric() {
        let mut v = [class_key("10"), class_key("2"), class_key("fib")];
        v.sort();
        assert_eq!(
            v.iter().map(|k| k.1.as_str()).collect::<Vec<_>>(),
            vec!["2", "10", "fib"]
        );
    }

    #[test]
    fn outputs_round_trip() {
        let run = run_of(
            "eevdf",
            vec![
                res(0, "1", Kind::Io, 100.0, 100.0),
                res(1, "2", Kind::Cpu, 200.0, 300.0),
            ],
        );
        let meta = RunMeta {
            baseline: "eevdf".into(),
            scenario: "mixed".into(),
            ..Default::default()
        };
        let s_results = run.results.clone();
        let s = summarize(std::slice::from_ref(&run), &["eevdf".into()], meta);
        let dir = std::env::temp_dir().join(format!("alps-report-{}", std::process::id()));
        write_outputs(&dir, &[run], &s).unwrap();
        let rows = read_csv(&dir.join("invocations.csv")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].fct_ms, 200.0);
        let mut want = s_results[1].clone();
        want.arm = "eevdf".into();
        assert_eq!(rows[1], want);
        let back: Summary = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(back.arms[0].overall.count, 2);
        for f in ["report.md", "cdf_mixed.svg", "throughput.svg"] {
            assert!(dir.join(f).is_file(), "{f}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
