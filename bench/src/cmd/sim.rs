//! `alps-bench sim` and `alps-bench sim-speed`.

use std::time::Instant;

use alps_bench::report::{self, ArmRun, RunMeta, Summary};
use alps_bench::sim::{self, SimConfig};
use alps_bench::workload::Plan;
use anyhow::{Context, Result, bail};
use log::info;
use scx_alps::learner::PolicyKind;

use super::{build_plan, build_plans, describe, out_dir};
use crate::cli::{SimArgs, SimModelArgs, SimSpeedArgs, TraceArgs};

/// Checks the simulated machine's arguments.
pub fn check(m: &SimModelArgs) -> Result<()> {
    if m.cpus == 0 || m.cpus > 4096 {
        bail!("--cpus must be in 1..=4096, got {}", m.cpus);
    }
    if m.policies.is_empty() {
        bail!("--policies is empty");
    }
    if !m.cs_cost_us.is_finite() || m.cs_cost_us < 0.0 {
        bail!("--cs-cost-us must be >= 0");
    }
    if !(10..=10_000).contains(&m.hz) {
        bail!("--hz must be in 10..=10000, got {}", m.hz);
    }
    Ok(())
}

/// `base` with the flags that `over` names replaced by `over`'s: the alps-io
/// model's `--alps-io-flags` win over the shared `--alps-flags` (as one more
/// `--learn-interval-ms` must, where clap would refuse a repeated flag).
/// Errors on unbalanced quotes.
fn overridden(base: &str, over: &str) -> Result<String> {
    let split = |s: &str| shlex::split(s).with_context(|| format!("scx_alps flags {s:?}: unbalanced quotes"));
    let (base, over) = (split(base)?, split(over)?);
    let name = |w: &str| w.split('=').next().unwrap_or(w).to_string();
    let named: std::collections::HashSet<String> =
        over.iter().filter(|w| w.starts_with("--")).map(|w| name(w)).collect();
    let mut kept = Vec::new();
    let mut words = base.into_iter().peekable();
    while let Some(w) = words.next() {
        if w.starts_with("--") && named.contains(&name(&w)) {
            // Its value goes with it, unless given as --flag=value.
            if !w.contains('=') && words.peek().is_some_and(|v| !v.starts_with('-')) {
                words.next();
            }
            continue;
        }
        kept.push(w);
    }
    kept.extend(over);
    Ok(shlex::try_join(kept.iter().map(String::as_str))?)
}

/// Simulates every arm of `m` (trained arms too when `warm` is given) on
/// `plan` and summarises them; `alps_flags` go to both scx_alps models.
pub fn simulate(
    m: &SimModelArgs,
    alps_flags: &str,
    plan: &Plan,
    warm: Option<&Plan>,
) -> Result<(Vec<ArmRun>, Summary)> {
    let alps = sim::AlpsModel::from_flags(PolicyKind::Alps, alps_flags, m.cpus)?;
    let io_flags = overridden(alps_flags, &m.alps_io_flags)?;
    let alps_io = sim::AlpsModel::from_flags(PolicyKind::AlpsIo, &io_flags, m.cpus)?;
    let base = SimConfig {
        cpus: m.cpus,
        cs_cost_ns: (m.cs_cost_us * 1000.0) as u64,
        fair_slice_ns: m.fair_slice_us * 1000,
        hz: m.hz,
        spawn_cost_ns: m.spawn_cost_us * 1000,
        start_cost_ns: m.start_cost_us * 1000,
        ..SimConfig::default()
    };
    let arms = sim::arms(&m.policies, &base, &alps, &alps_io, warm.is_some());
    let mut runs = Vec::new();
    for arm in &arms {
        let t0 = Instant::now();
        let o = sim::run_arm(arm, plan, warm)?;
        info!(
            "{}: {:.0} invocations/s simulated, {} context switches, idle-while-runnable {:.3} ms",
            arm.name,
            plan.invocations.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            o.stats.context_switches,
            o.stats.idle_while_runnable_ns as f64 / 1e6
        );
        runs.push(ArmRun {
            arm: arm.name.clone(),
            rep: 0,
            results: o.results.clone(),
            ops: Some(format!("model:{}", arm.cfg.policy.name())),
            sched_stats: arm.cfg.policy.alps_kind().map(|_| o.metrics(arm.cfg.policy.name())),
            host_steal_pct: None,
            reruns: 0,
        });
    }
    let meta = RunMeta {
        alps_flags: Some(alps_flags.to_string()),
        ..RunMeta::of(
            plan,
            "sim",
            format!(
                "discrete-event model, cs cost {} us, EEVDF slice {} us, HZ {}, spawn {} us + start {} us",
                m.cs_cost_us, m.fair_slice_us, m.hz, m.spawn_cost_us, m.start_cost_us
            ),
            m.cpus,
            1,
            m.policies[0].name(),
            warm.map_or(0, |w| w.invocations.len()),
        )
    };
    let names: Vec<String> = arms.iter().map(|x| x.name.clone()).collect();
    let summary = report::summarize(&runs, &names, meta);
    Ok((runs, summary))
}

pub fn run(a: SimArgs) -> Result<()> {
    check(&a.model)?;
    let (plan, warm) = build_plans(&a.trace, a.model.cpus)?;
    let plan = plan.tiled(a.tile);
    info!("{}", describe(&plan).trim_end());
    let out = out_dir(&a.out, &format!("sim-{}-{}cpu", a.trace.stem(), a.model.cpus))?;
    let (runs, summary) = simulate(&a.model, &a.alps_flags, &plan, warm.as_ref())?;
    report::write_outputs(&out, &runs, &summary)?;
    println!("{}", report::markdown(&summary));
    println!("results: {}", out.display());
    Ok(())
}

pub fn speed(a: SimSpeedArgs) -> Result<()> {
    let t = TraceArgs::whole_mixed(a.trace.clone(), "auto");
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

#[cfg(test)]
mod tests {
    use super::overridden;

    #[test]
    fn alps_io_flags_replace_the_shared_ones_they_name() {
        assert_eq!(
            overridden("--learn-interval-ms 1000 --window 32", "--learn-interval-ms 100").unwrap(),
            "--window 32 --learn-interval-ms 100"
        );
        assert_eq!(
            overridden("--learn-interval-ms=1000 --no-io-signals", "--learn-interval-ms 5").unwrap(),
            "--no-io-signals --learn-interval-ms 5"
        );
        assert_eq!(overridden("--window 32", "").unwrap(), "--window 32");
        assert!(overridden("--window '32", "").is_err());
    }
}
