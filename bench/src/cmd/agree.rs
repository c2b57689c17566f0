//! `alps-bench agree`: the simulator on an A/B run's own plan, sign per class.

use std::path::Path;

use alps_bench::agree;
use alps_bench::report::{self, Summary};
use alps_bench::sim::SimPolicy;
use alps_bench::workload::Plan;
use anyhow::{Context, Result, bail};

use super::sim::simulate;
use crate::cli::{AgreeArgs, AgreeCosts, GuestCall, SimModelArgs, defaults};

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} does not parse", path.display()))
}

/// The scx_alps flags the run's arms got: recorded in its summary, else in
/// the call the host handed to the VM (runs written before the summary
/// recorded them).
fn alps_flags(dir: &Path, vm: &Summary) -> Result<String> {
    if let Some(f) = &vm.meta.alps_flags {
        return Ok(f.clone());
    }
    let call = dir.join("call.json");
    if !call.is_file() {
        bail!(
            "{}: the summary does not record the scx_alps flags and no call.json is beside it",
            dir.display()
        );
    }
    match read_json::<GuestCall>(&call)? {
        GuestCall::Ab(a) => Ok(a.alps_flags),
        _ => bail!("{}: not the call of an ab run", call.display()),
    }
}

/// Simulates the plan (and warm-up) of the A/B run in `dir` with the arms the
/// simulator models, writes `dir/sim/` and `dir/agree.md`, and returns the
/// table. Errors when the directory lacks the run's files or the run has no
/// arm that the simulator models.
pub fn check_dir(dir: &Path, costs: &AgreeCosts) -> Result<String> {
    let vm: Summary = read_json(&dir.join("summary.json"))?;
    let plan: Plan = read_json(&dir.join("plan.json"))?;
    let warm_path = dir.join("plan-warmup.json");
    let warm: Option<Plan> = if warm_path.is_file() {
        Some(read_json(&warm_path)?)
    } else {
        None
    };
    let modelled = |name: &str| match name.trim_end_matches(alps_bench::runner::TRAINED) {
        "eevdf" => Some(SimPolicy::Eevdf),
        "alps" => Some(SimPolicy::Alps),
        "alps-io" => Some(SimPolicy::AlpsIo),
        _ => None,
    };
    if modelled(&vm.meta.baseline) != Some(SimPolicy::Eevdf) {
        bail!(
            "the run's baseline is {:?}: the simulator compares against eevdf",
            vm.meta.baseline
        );
    }
    let mut policies = vec![SimPolicy::Eevdf];
    for a in &vm.arms {
        if let Some(p) = modelled(&a.arm).filter(|p| !policies.contains(p)) {
            policies.push(p);
        }
    }
    if policies.len() == 1 {
        bail!("the run has no alps or alps-io arm: nothing to compare");
    }
    let hz = costs
        .hz
        .unwrap_or(if vm.meta.kernel.contains("+deb") { 250 } else { 1000 });
    let model = SimModelArgs {
        cpus: vm.meta.cpus,
        policies,
        hz,
        spawn_cost_us: costs.spawn_cost_us,
        start_cost_us: costs.start_cost_us,
        ..defaults::<SimModelArgs>()
    };
    super::sim::check(&model)?;
    let flags = alps_flags(dir, &vm)?;
    let (runs, sim) = simulate(&model, &flags, &plan, warm.as_ref())?;
    report::write_outputs(&dir.join("sim"), &runs, &sim)?;
    let cells = agree::compare(&vm, &sim);
    let how = format!(
        "{} CPUs, HZ {hz}, spawn {} us + start {} us, scx_alps flags {flags:?} (`{}/sim/`)",
        model.cpus,
        costs.spawn_cost_us,
        costs.start_cost_us,
        dir.display()
    );
    let md = agree::markdown(&cells, &vm, &how);
    std::fs::write(dir.join("agree.md"), &md).with_context(|| format!("cannot write {}/agree.md", dir.display()))?;
    Ok(md)
}

pub fn run(a: AgreeArgs) -> Result<()> {
    println!("{}", check_dir(&a.dir, &a.costs)?);
    Ok(())
}
