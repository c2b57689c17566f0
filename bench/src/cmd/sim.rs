//! `alps-bench sim` and `alps-bench sim-speed`.

use std::time::Instant;

use alps_bench::report::{self, RunMeta};
use alps_bench::sim::{self, SimConfig};
use alps_bench::workload::Scenario;
use anyhow::{Result, bail};
use log::info;
use scx_alps::learner::PolicyKind;

use super::{build_plan, build_plans, describe, out_dir};
use crate::cli::{SimArgs, SimSpeedArgs, TraceArgs};

pub fn run(a: SimArgs) -> Result<()> {
    if a.cpus == 0 || a.cpus > 4096 {
        bail!("--cpus must be in 1..=4096, got {}", a.cpus);
    }
    if a.policies.is_empty() {
        bail!("--policies is empty");
    }
    if !a.cs_cost_us.is_finite() || a.cs_cost_us < 0.0 {
        bail!("--cs-cost-us must be >= 0");
    }
    if !(10..=10_000).contains(&a.hz) {
        bail!("--hz must be in 10..=10000, got {}", a.hz);
    }
    let (plan, warm) = build_plans(&a.trace, a.cpus)?;
    let plan = plan.tiled(a.tile);
    info!("{}", describe(&plan).trim_end());
    let alps = sim::AlpsModel::from_flags(PolicyKind::Alps, &a.alps_flags, a.cpus)?;
    let alps_io = sim::AlpsModel::from_flags(
        PolicyKind::AlpsIo,
        &format!("{} {}", a.alps_flags, a.alps_io_flags),
        a.cpus,
    )?;
    let out = out_dir(&a.out, &format!("sim-{}-{}cpu", a.trace.scenario, a.cpus))?;
    let base = SimConfig {
        cpus: a.cpus,
        cs_cost_ns: (a.cs_cost_us * 1000.0) as u64,
        fair_slice_ns: a.fair_slice_us * 1000,
        hz: a.hz,
        spawn_cost_ns: a.spawn_cost_us * 1000,
        start_cost_ns: a.start_cost_us * 1000,
        ..SimConfig::default()
    };
    let arms = sim::arms(&a.policies, &base, &alps, &alps_io, warm.is_some());
    let mut runs = Vec::new();
    for arm in &arms {
        let t0 = Instant::now();
        let o = sim::run_arm(arm, &plan, warm.as_ref())?;
        info!(
            "{}: {:.0} invocations/s simulated, {} context switches, idle-while-runnable {:.3} ms",
            arm.name,
            plan.invocations.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            o.stats.context_switches,
            o.stats.idle_while_runnable_ns as f64 / 1e6
        );
        runs.push(report::ArmRun {
            arm: arm.name.clone(),
            rep: 0,
            results: o.results.clone(),
            ops: Some(format!("model:{}", arm.cfg.policy.name())),
            sched_stats: arm.cfg.policy.alps_kind().map(|_| o.metrics(arm.cfg.policy.name())),
        });
    }
    let meta = RunMeta::of(
        &plan,
        "sim",
        format!(
            "discrete-event model, cs cost {} us, EEVDF slice {} us, HZ {}, spawn {} us + start {} us",
            a.cs_cost_us, a.fair_slice_us, a.hz, a.spawn_cost_us, a.start_cost_us
        ),
        a.cpus,
        1,
        a.policies[0].name(),
        a.trace.warmup,
    );
    let names: Vec<String> = arms.iter().map(|x| x.name.clone()).collect();
    let summary = report::summarize(&runs, &names, meta);
    report::write_outputs(&out, &runs, &summary)?;
    println!("{}", report::markdown(&summary));
    println!("results: {}", out.display());
    Ok(())
}

pub fn speed(a: SimSpeedArgs) -> Result<()> {
    let t = TraceArgs {
        trace: a.trace.clone(),
        format: None,
        scenario: Scenario::Mixed,
        limit: Some(0),
        skip: None,
        warmup: 0,
        load: None,
        time_scale: 1.0,
        work_scale: "auto".into(),
        seed: 1,
    };
    if !(a.load > 0.0 && a.load <= 10.0) {
        bail!("--load must be in (0, 10]");
    }
    let unit = build_plan(&t, a.cpus)?;
    let per_s = unit.cpu_ns() as f64 / unit.config.work_scale / unit.span_ns().max(1) as f64;
    let t = TraceArgs {
        work_scale: format!("{}", a.load * a.cpus as f64 / per_s),
        ..t
    };
    let base = build_plan(&t, a.cpus)?;
    let k = a.invocations.div_ceil(base.invocations.len());
    let mut plan = base.tiled(k);
    plan.invocations.truncate(a.invocations);
    println!(
        "simulating {} invocations (the study's mixed trace tiled {k}x, work scale {:.3} for an offered load of {}) on {} CPUs",
        plan.invocations.len(),
        plan.config.work_scale,
        a.load,
        a.cpus
    );
    println!("| policy | wall s | invocations/s | events/s | completed |");
    println!("|---|---:|---:|---:|---:|");
    for p in &a.policies {
        let kind = p.alps_kind().unwrap_or(PolicyKind::Alps);
        let cfg = SimConfig {
            cpus: a.cpus,
            policy: *p,
            alps: sim::AlpsModel::from_flags(kind, "", a.cpus)?,
            ..SimConfig::default()
        };
        let t0 = Instant::now();
        let out = sim::simulate(&plan, &cfg)?;
        let wall = t0.elapsed().as_secs_f64();
        println!(
            "| {} | {:.2} | {:.0} | {:.0} | {} |",
            p.name(),
            wall,
            plan.invocations.len() as f64 / wall,
            out.stats.events as f64 / wall,
            out.results.iter().filter(|r| r.ok).count()
        );
    }
    Ok(())
}
