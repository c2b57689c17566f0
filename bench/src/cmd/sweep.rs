//! `alps-bench sweep`: mean and P99 FCT per arm over offered loads.

use alps_bench::report::Summary;
use alps_bench::sweep::{self, SweepPoint};
use anyhow::{Context, Result, bail};
use log::info;

use super::{build_plans, out_dir};
use crate::cli::SweepArgs;

pub fn run(a: SweepArgs) -> Result<()> {
    if a.loads.is_empty() || a.loads.iter().any(|l| !(l.is_finite() && *l > 0.0 && *l <= 10.0)) {
        bail!("--loads must be offered loads in (0, 10], comma-separated");
    }
    if a.ab.trace.load.is_some() {
        bail!("--load is set per point by the sweep: give --loads instead");
    }
    let stem = if a.sim { "sweep-sim" } else { "sweep" };
    let out = out_dir(&a.ab.out, &format!("{stem}-{}", a.ab.trace.stem()))?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let mut pts: Vec<SweepPoint> = Vec::new();
    let mut bound = None;
    for &load in &a.loads {
        let dir = out.join(format!("load-{load:.2}"));
        let mut trace = a.ab.trace.clone();
        trace.load = Some(load);
        info!("offered load {load:.2}");
        let summary: Summary = if a.sim {
            super::sim::check(&a.model)?;
            let (plan, warm) = build_plans(&trace, a.model.cpus)?;
            let (runs, s) = super::sim::simulate(&a.model, &a.ab.alps_flags, &plan, warm.as_ref())?;
            alps_bench::report::write_outputs(&dir, &runs, &s)?;
            bound = ["gittins", "srpt", "las"]
                .into_iter()
                .find(|b| a.model.policies.iter().any(|p| p.name() == *b));
            s
        } else {
            let mut ab = a.ab.clone();
            ab.trace = trace;
            ab.out = Some(dir.clone());
            super::ab::run(ab)?;
            let text = std::fs::read_to_string(dir.join("summary.json"))
                .with_context(|| format!("the run at load {load} left no summary.json"))?;
            serde_json::from_str(&text).context("summary.json does not parse")?
        };
        pts.extend(sweep::points(load, &summary));
    }
    let title = format!(
        "{} of {}, {}",
        a.ab.trace.stem(),
        a.ab.trace.trace.display(),
        if a.sim {
            format!("simulated, {} CPUs", a.model.cpus)
        } else {
            format!("VM, {} CPUs, kernel {}", a.ab.vm.vm_cpus, a.ab.vm.kernel)
        }
    );
    sweep::write_outputs(&out, &pts, &title, bound)?;
    println!("{}", sweep::markdown(&pts, &title, bound));
    println!("results: {}", out.display());
    Ok(())
}
