//! `alps-bench host-work`: work of no function under each arm.

use std::time::Duration;

use alps_bench::hostwork::{self, HostWorkRun, Probes};
use alps_bench::{runner, steal};
use anyhow::{Context, Result, bail};
use log::info;
use scx_alps::preflight::kernel_release;

use super::{needs_vm, out_dir, rerun_in_vm, scx_alps_bin};
use crate::cli::{GuestCall, HostWorkArgs};

pub fn run(a: HostWorkArgs) -> Result<()> {
    if a.repeats == 0 || !(1..=600).contains(&a.duration) {
        bail!("--repeats must be at least 1 and --duration in 1..=600 s");
    }
    if a.arms.iter().any(|x| x == "oracle") {
        bail!("the oracle arm niced invocations; host work has none: use eevdf");
    }
    let out = out_dir(&a.out, "host-work")?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let flags = shlex::split(&a.alps_flags).context("--alps-flags: unbalanced quotes")?;
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let arms = runner::parse_arms(&a.arms, &a.extra_arm, &scx_alps, &flags, false)?;
    if needs_vm(&a.vm)? {
        return rerun_in_vm(&a.vm, GuestCall::HostWork(a.clone()), &out);
    }
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let probes = Probes {
        duration: Duration::from_secs(a.duration),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        hackbench_groups: a.groups,
        hackbench_loops: a.loops,
    };
    let hog = vec![std::env::current_exe()?.display().to_string(), "burn".into()];
    let mut runs = Vec::new();
    for rep in 0..a.repeats {
        for arm in runner::rotation(&arms, rep) {
            info!("repetition {}/{}: arm {}", rep + 1, a.repeats, arm.name);
            let sched = runner::start_arm(&arm, &logs, rep, Duration::from_secs(60))?;
            let before = steal::read_ticks(&out, a.vm.in_vm);
            let r = hostwork::run_probes(&probes, &hog);
            let after = steal::read_ticks(&out, a.vm.in_vm);
            runner::finish_arm(sched, &arm, rep)?;
            let (avg, max, hb) = r.with_context(|| format!("arm {}, repetition {}", arm.name, rep + 1))?;
            runs.push(HostWorkRun {
                arm: arm.name.clone(),
                rep,
                latency_avg_us: avg,
                latency_max_us: max,
                hackbench_s: hb,
                host_steal_pct: before.zip(after).and_then(|(a, b)| steal::steal_pct(a, b)),
            });
        }
    }
    let names: Vec<String> = arms.iter().map(|x| x.name.clone()).collect();
    let md = hostwork::markdown(&runs, &names, &kernel_release());
    std::fs::write(out.join("runs.json"), serde_json::to_vec_pretty(&runs)?)?;
    std::fs::write(out.join("report.md"), &md)?;
    if !a.vm.in_vm {
        println!("{md}");
        println!("results: {}", out.display());
    }
    Ok(())
}
