//! `alps-bench ab`: the A/B benchmark, on this host or in the test VM.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use alps_bench::report::{self, RunMeta};
use alps_bench::runner::{self, AbSetup};
use anyhow::{Context, Result, bail};
use log::info;
use scx_alps::preflight::kernel_release;

use super::{build_plan, build_plans, describe, needs_vm, out_dir, rerun_in_vm};
use crate::cli::{AbArgs, AgreeCosts, GuestCall, defaults};

/// Prints the simulator's verdict on the VM run in `out` (`alps-bench
/// agree`, with the test VM's costs: a run on a host with sched_ext has other
/// costs, so `agree --spawn-cost-us ...` is left to the user there); a run
/// the simulator cannot model (no alps arm) only says so.
fn print_agreement(out: &std::path::Path) {
    match super::agree::check_dir(out, &defaults::<AgreeCosts>()) {
        Ok(md) => println!("\n{md}"),
        Err(e) => info!("no simulator comparison: {e:#}"),
    }
}

pub fn run(a: AbArgs) -> Result<()> {
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if !(0.0..100.0).contains(&a.max_host_steal) {
        bail!(
            "--max-host-steal must be a percent in [0, 100), got {}",
            a.max_host_steal
        );
    }
    let out = out_dir(&a.out, &a.trace.stem())?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let scx_alps = match &a.scx_alps {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("scx_alps"),
    };
    let mut alps_flags =
        shlex::split(&a.alps_flags).with_context(|| format!("--alps-flags {:?}: unbalanced quotes", a.alps_flags))?;
    let runtime = a.runtime.with_hints(!a.no_hints);
    if runtime.hinted() {
        // The workers are forks of this program: its hint symbols are theirs.
        alps_flags.push("--hint-binary".into());
        alps_flags.push(std::env::current_exe()?.display().to_string());
    }
    let arms = runner::parse_arms(&a.arms, &a.extra_arm, &scx_alps, &alps_flags, a.trace.warmup > 0)?;
    // Check the trace before booting anything.
    let host_plan = build_plan(&a.trace, a.vm.vm_cpus)?;
    info!("{}", describe(&host_plan).trim_end());
    if needs_vm(&a.vm)? {
        rerun_in_vm(&a.vm, GuestCall::Ab(a.clone()), &out)?;
        // The simulator models forked invocations only.
        if a.runtime == alps_bench::exec::Runtime::Fork {
            print_agreement(&out);
        }
        return Ok(());
    }
    if arms.iter().any(|x| x.ops_prefix.is_some()) && !scx_alps.is_file() {
        bail!(
            "scx_alps binary not found at {}: build it (cargo build --release) or pass --scx-alps",
            scx_alps.display()
        );
    }

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (plan, warm) = build_plans(&a.trace, cpus)?;
    let plan_path = out.join("plan.json");
    std::fs::write(&plan_path, serde_json::to_vec(&plan)?)?;
    let warm_path = out.join("plan-warmup.json");
    if let Some(w) = &warm {
        std::fs::write(&warm_path, serde_json::to_vec(w)?)?;
    }
    let n = plan.invocations.len();
    let total = n * arms.len() * a.repeats;
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(total as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} invocations ({msg}) eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let mut finished_before = 0usize;
    let mut last_key = (String::new(), usize::MAX);
    let mut last_print = Instant::now();
    let progress = |arm: &str, rep: usize, done: usize| {
        if (arm.to_string(), rep) != last_key {
            if last_key.1 != usize::MAX {
                finished_before += n;
            }
            last_key = (arm.to_string(), rep);
        }
        let pos = finished_before + done;
        match &bar {
            Some(pb) => {
                pb.set_message(format!("{arm} rep {}", rep + 1));
                pb.set_position(pos as u64);
            }
            None => {
                if last_print.elapsed() > Duration::from_secs(15) || done == n {
                    eprintln!(
                        "progress: {arm} rep {}: {done}/{n} done ({pos}/{total} overall, {:.0}s elapsed)",
                        rep + 1,
                        started.elapsed().as_secs_f64()
                    );
                    last_print = Instant::now();
                }
            }
        }
    };
    let setup = AbSetup {
        arms: &arms,
        repeats: a.repeats,
        plan_path: &plan_path,
        warmup_path: warm.is_some().then_some(warm_path.as_path()),
        settle: Duration::from_millis(a.settle_ms),
        out_dir: &out,
        exe: &std::env::current_exe()?,
        rt_prio: (a.rt_prio > 0).then_some(a.rt_prio),
        attach_timeout: Duration::from_secs(a.attach_timeout),
        max_steal_pct: (a.max_host_steal > 0.0).then_some(a.max_host_steal),
        steal_retries: a.steal_retries,
        in_vm: a.vm.in_vm,
        runtime,
    };
    let runs = runner::run_ab(&setup, progress)?;
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let meta = RunMeta {
        alps_flags: Some(a.alps_flags.clone()),
        runtime: runtime.to_string(),
        ..RunMeta::of(
            &plan,
            if a.vm.in_vm { "vm" } else { "host" },
            kernel_release(),
            cpus,
            a.repeats,
            &arms[0].name,
            a.trace.warmup,
        )
    };
    let names: Vec<String> = arms.iter().map(|x| x.name.clone()).collect();
    let summary = report::summarize(&runs, &names, meta);
    report::write_outputs(&out, &runs, &summary)?;
    if !a.vm.in_vm {
        println!("{}", report::markdown(&summary));
        println!("results: {}", out.display());
    }
    info!(
        "A/B run done in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
