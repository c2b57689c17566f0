//! `alps-bench replay` (internal): a plan under whatever scheduler is attached.

use std::time::Duration;

use alps_bench::exec::{self, ExecConfig};
use alps_bench::workload::Plan;
use anyhow::{Context, Result};

use crate::cli::ReplayArgs;

pub fn run(r: ReplayArgs) -> Result<()> {
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(&r.plan)?).context("plan does not parse")?;
    let cfg = ExecConfig {
        cgroup_parent: r.cgroup_parent,
        rt_priority: (!r.no_rt).then_some(r.rt_prio),
        drain_timeout: Duration::from_secs(r.drain_timeout_s),
        oracle: r.oracle,
        runtime: r.runtime.with_hints(!r.no_hints),
    };
    let n = plan.invocations.len();
    let results = exec::run_plan(&plan, &cfg, |done, _| eprintln!("progress {done}/{n}"))?;
    std::fs::write(&r.out, serde_json::to_vec(&results)?)?;
    Ok(())
}
