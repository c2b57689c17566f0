//! `alps-bench bpf-cost`: BPF cost per callback, scx_alps against peers in
//! the same boot.

use std::process::Command;
use std::time::Duration;

use alps_bench::bpfcost::{self, ProgCost};
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
    let mut rows: Vec<(String, Vec<ProgCost>)> = Vec::new();
    let result = (|| -> Result<()> {
        for arm in &arms {
            info!("arm {}", arm.name);
            let sched = runner::start_arm(arm, &logs, 0, Duration::from_secs(60))?;
            let raw = out.join(format!("{}.json", arm.name));
            let replay = runner::run_replay(&exe, &plan_path, &raw, Some(10), false, |_| ());
            let costs = struct_ops_costs();
            runner::finish_arm(sched, arm, 0)?;
            replay.with_context(|| format!("arm {}", arm.name))?;
            rows.push((arm.name.clone(), costs?));
        }
        Ok(())
    })();
    let _ = std::fs::write(STATS, before.trim());
    result?;
    let md = markdown(&rows, &kernel_release());
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(
        out.join("costs.json"),
        serde_json::to_vec_pretty(&rows.iter().map(|(a, c)| (a, c)).collect::<Vec<_>>())?,
    )?;
    if !a.vm.in_vm {
        println!("{md}");
        println!("results: {}", out.display());
    }
    Ok(())
}

fn markdown(rows: &[(String, Vec<ProgCost>)], kernel: &str) -> String {
    let mut o = format!(
        "# BPF cost per callback\n\n- kernel {kernel}; run time over runs of each struct_ops program while \
         the arm scheduled the plan (absolute ns under TCG are inflated; compare the ratio)\n\n\
         | arm | calls | mean ns per call | ratio to {} |\n|---|---:|---:|---:|\n",
        rows.first().map_or("", |r| r.0.as_str())
    );
    let base = rows.first().map_or(0.0, |r| bpfcost::mean_per_call_ns(&r.1));
    for (arm, progs) in rows {
        let m = bpfcost::mean_per_call_ns(progs);
        let calls: u64 = progs.iter().map(|p| p.run_cnt).sum();
        o += &format!("| {arm} | {calls} | {m:.0} | {:.2} |\n", m / base);
    }
    for (arm, progs) in rows {
        o += &format!("\n## {arm}\n\n| callback | calls | ns per call |\n|---|---:|---:|\n");
        let mut p: Vec<&ProgCost> = progs.iter().filter(|p| p.run_cnt > 0).collect();
        p.sort_by_key(|c| std::cmp::Reverse(c.run_cnt));
        for c in p {
            o += &format!("| {} | {} | {:.0} |\n", c.name, c.run_cnt, c.per_call_ns());
        }
    }
    o
}
