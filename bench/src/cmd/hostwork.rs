//! `alps-bench host-work`: work of no function under each arm.

use std::time::Duration;

use alps_bench::hostwork::{self, HostWorkRun, Probes};
use alps_bench::{runner, steal};
use anyhow::{Context, Result, bail};
use log::{info, warn};
use scx_alps::preflight::kernel_release;

use super::{needs_vm, out_dir, rerun_in_vm, scx_alps_bin};
use crate::cli::{GuestCall, HostWorkArgs};

pub fn run(a: HostWorkArgs) -> Result<()> {
    if a.repeats == 0 || !(1..=600).contains(&a.duration) {
        bail!("--repeats must be at least 1 and --duration in 1..=600 s");
    }
    if a.max_steal_burst_ms.is_nan() || a.max_steal_burst_ms < 0.0 {
        bail!("--max-steal-burst-ms must be 0 (off) or a positive number of ms");
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
    // In the VM the host side samples into `out`; on a host with sched_ext
    // this process does, for the steal bursts.
    let _sampler = if a.vm.in_vm {
        None
    } else {
        Some(steal::Sampler::start(&out)?)
    };
    let mut runs = Vec::new();
    for rep in 0..a.repeats {
        for arm in runner::rotation(&arms, rep) {
            let mut run_again = 0;
            loop {
                info!("repetition {}/{}: arm {}", rep + 1, a.repeats, arm.name);
                let sched = runner::start_arm(&arm, &logs, rep, Duration::from_secs(60))?;
                let before = steal::read_ticks(&out, a.vm.in_vm);
                let mark = steal::burst_mark(&out);
                let (mut cyc_stats, mut burst) = (None, None);
                let is_alps = arm.ops_prefix.as_deref() == Some("alps");
                let r = hostwork::run_probes(&probes, &hog, || {
                    // The bursts beside cyclictest's maximum: its stretch only.
                    burst = steal::largest_burst_ms(&out, mark);
                    if is_alps && sched.is_some() {
                        cyc_stats = runner::monitor_once(&scx_alps);
                    }
                });
                let after = steal::read_ticks(&out, a.vm.in_vm);
                runner::finish_arm(sched, &arm, rep)?;
                let (avg, max, hb) = r.with_context(|| format!("arm {}, repetition {}", arm.name, rep + 1))?;
                let bound = a.max_steal_burst_ms > 0.0;
                if bound && burst.is_none() {
                    warn!(
                        "arm {}, repetition {}: no steal sample of the host during cyclictest: --max-steal-burst-ms not checked",
                        arm.name,
                        rep + 1
                    );
                }
                let over = bound && burst.is_some_and(|b| b > a.max_steal_burst_ms);
                if over && run_again == a.steal_retries {
                    warn!(
                        "arm {}, repetition {}: the host still stole {:.0} ms of one CPU in one sample after {} runs again: kept",
                        arm.name,
                        rep + 1,
                        burst.unwrap_or(0.0),
                        a.steal_retries
                    );
                }
                if over && run_again < a.steal_retries {
                    run_again += 1;
                    info!(
                        "arm {}, repetition {}: the host stole {:.0} ms of one CPU in one sample (bound {} ms): running it again ({run_again}/{})",
                        arm.name,
                        rep + 1,
                        burst.unwrap_or(0.0),
                        a.max_steal_burst_ms,
                        a.steal_retries
                    );
                    continue;
                }
                runs.push(HostWorkRun {
                    arm: arm.name.clone(),
                    rep,
                    latency_avg_us: avg,
                    latency_max_us: max,
                    hackbench_s: hb,
                    host_steal_pct: before.zip(after).and_then(|(a, b)| steal::steal_pct(a, b)),
                    host_steal_burst_ms: burst,
                    run_again,
                    cyclictest_stats: cyc_stats,
                });
                break;
            }
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
