//! `alps-bench bpf-cost`: BPF cost per callback, scx_alps against peers in
//! the same boot.

use std::process::Command;
use std::time::Duration;

use alps_bench::bpfcost::{self, ProgCost};
use alps_bench::exec::Runtime;
use alps_bench::runner;
use anyhow::{Context, Result, bail};
use log::info;
use scx_alps::preflight::kernel_release;

use super::{build_plan, needs_vm, out_dir, rerun_in_vm, scx_alps_bin};
use crate::cli::{BpfCostArgs, GuestCall};

const STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

fn struct_ops_costs() -> Result<Vec<ProgCost>> {
    let out = Command::new("bpftool")
        .args(["-j", "prog", "show"])
        .output()
        .context("cannot run bpftool: install it (scripts/setup does)")?;
    if !out.status.success() {
        bail!(
            "bpftool prog show failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    bpfcost::parse_bpftool(&String::from_utf8_lossy(&out.stdout))
}

pub fn run(a: BpfCostArgs) -> Result<()> {
    let out = out_dir(&a.out, "bpf-cost")?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let flags = shlex::split(&a.alps_flags).context("--alps-flags: unbalanced quotes")?;
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let arms = runner::parse_arms(&["alps-io".into()], &a.extra_arm, &scx_alps, &flags, false)?;
    build_plan(&a.trace, a.vm.vm_cpus)?;
    if needs_vm(&a.vm)? {
        return rerun_in_vm(&a.vm, GuestCall::BpfCost(a.clone()), &out);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = build_plan(&a.trace, cpus)?;
    let plan_path = out.join("plan.json");
    std::fs::write(&plan_path, serde_json::to_vec(&plan)?)?;
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let before = std::fs::read_to_string(STATS).unwrap_or_else(|_| "0".into());
    std::fs::write(STATS, "1").with_context(|| format!("cannot enable {STATS}"))?;
    let exe = std::env::current_exe()?;
    let mut reps: Vec<bpfcost::Repetition> = Vec::new();
    let result = (|| -> Result<()> {
        for rep in 0..a.repeats {
            // Alternate the order: the arm that runs first meets a colder machine.
            let order: Vec<&runner::ArmSpec> = if rep % 2 == 0 {
                arms.iter().collect()
            } else {
                arms.iter().rev().collect()
            };
            let mut rows = Vec::new();
            for arm in order {
                info!("repetition {}/{}: arm {}", rep + 1, a.repeats, arm.name);
                let sched = runner::start_arm(arm, &logs, rep as usize, Duration::from_secs(60))?;
                let raw = out.join(format!("{}-{rep}.json", arm.name));
                let replay = runner::run_replay(&exe, &plan_path, &raw, Some(10), false, Runtime::Fork, |_| ());
                let costs = struct_ops_costs();
                runner::finish_arm(sched, arm, rep as usize)?;
                replay.with_context(|| format!("arm {}", arm.name))?;
                rows.push((arm.name.clone(), costs?));
            }
            reps.push(rows);
        }
        Ok(())
    })();
    let _ = std::fs::write(STATS, before.trim());
    result?;
    let summary = bpfcost::summarize(&reps)?;
    let md = markdown(&summary, &kernel_release(), a.repeats);
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(out.join("costs.json"), serde_json::to_vec_pretty(&summary)?)?;
    if !a.vm.in_vm {
        println!("{md}");
        println!("results: {}", out.display());
    }
    Ok(())
}

fn ci(h: Option<f64>, digits: usize) -> String {
    h.map_or_else(|| "n/a".into(), |h| format!("±{h:.digits$}"))
}

fn markdown(arms: &[bpfcost::ArmCost], kernel: &str, repeats: u32) -> String {
    let first = arms.first().map_or("", |r| r.arm.as_str());
    let mut o = format!(
        "# BPF cost per callback\n\n- kernel {kernel}; run time over runs of each struct_ops program while \
         the arm scheduled the plan, {repeats} repetitions (arms' order alternating); absolute ns under TCG \
         are inflated, compare the ratio\n- {first} / arm: the ratio of mean ns per call, paired per \
         repetition (below 1: {first} is cheaper), with its 95 % interval\n\n\
         | arm | calls | mean ns per call | 95 % CI | {first} / arm | 95 % CI |\n|---|---:|---:|---:|---:|---:|\n"
    );
    for a in arms {
        o += &format!(
            "| {} | {} | {:.0} | {} | {:.2} | {} |\n",
            a.arm,
            a.calls,
            a.mean_ns,
            ci(a.mean_ci95, 0),
            a.first_over_this,
            ci(a.first_over_this_ci95, 2)
        );
    }
    for a in arms {
        o += &format!(
            "\n## {}\n\n| callback | calls | ns per call |\n|---|---:|---:|\n",
            a.arm
        );
        for c in &a.callbacks {
            o += &format!("| {} | {} | {:.0} |\n", c.name, c.run_cnt, c.per_call_ns());
        }
    }
    o
}
