//! One module per command; what several commands share (plans from the
//! trace arguments, output directories) is here.

pub mod ab;
pub mod agree;
pub mod bpfcost;
pub mod hostwork;
pub mod plan;
pub mod replay;
pub mod sandbox;
pub mod sim;
pub mod sweep;
pub mod vmtest;

use std::path::{Path, PathBuf};

use alps_bench::trace;
use alps_bench::workload::{self, Plan, PlanConfig, STUDY_CPUS, Scenario};
use anyhow::{Context, Result, bail};
use log::info;
use scx_alps::preflight::{ScxState, kernel_release, scx_state};

use crate::cli::{GuestArgs, GuestCall, TraceArgs, VmArgs, VmMode};

pub fn work_scale(arg: &str, cpus: usize) -> Result<f64> {
    if arg == "auto" {
        return Ok(cpus as f64 / STUDY_CPUS);
    }
    arg.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .with_context(|| format!("--work-scale must be \"auto\" or a positive number, got {arg:?}"))
}

/// The measured plan and, with `--warmup N`, the plan of the N entries
/// before it; both with the arrival scale that `--load` asks for (computed
/// on the measured plan).
pub fn build_plans(t: &TraceArgs, cpus: usize) -> Result<(Plan, Option<Plan>)> {
    let (format, entries) = trace::read(&t.trace, t.format, t.seed)?;
    let skip = t.skip.unwrap_or(t.warmup);
    if t.warmup > skip {
        bail!(
            "--warmup {} needs --skip of at least {} (the warm-up entries come before the measured ones)",
            t.warmup,
            t.warmup
        );
    }
    let scenario = t.scenario.unwrap_or(match format {
        trace::Format::Study => Scenario::Mixed,
        _ => Scenario::Cpu,
    });
    let cfg = PlanConfig {
        scenario,
        time_scale: t.time_scale,
        work_scale: work_scale(&t.work_scale, cpus)?,
        limit: t.limit.unwrap_or_else(|| scenario.default_limit()),
        skip,
        arrival_scale: 1.0,
    };
    let name = t.trace.display().to_string();
    let mut plan = workload::build_plan(&name, format, &entries, &cfg, t.seed)?;
    let mut warm = if t.warmup > 0 {
        // Splitting is what the measured range tests: the warm-up teaches
        // the function its ordinary size.
        let wc = PlanConfig {
            limit: t.warmup,
            skip: skip - t.warmup,
            scenario: if scenario == Scenario::Split {
                Scenario::Cpu
            } else {
                scenario
            },
            ..cfg.clone()
        };
        Some(workload::build_plan(&name, format, &entries, &wc, t.seed)?)
    } else {
        None
    };
    if let Some(load) = t.load {
        if !(load.is_finite() && load > 0.0 && load <= 10.0) {
            bail!("--load must be in (0, 10], got {load}");
        }
        let natural = plan.offered_load(cpus);
        if !natural.is_finite() || natural <= 0.0 {
            bail!("--load: the plan has no arrival span or no CPU demand to scale");
        }
        let f = natural / load;
        plan.scale_arrivals(f);
        if let Some(w) = warm.as_mut() {
            w.scale_arrivals(f);
        }
    }
    Ok((plan, warm))
}

pub fn build_plan(t: &TraceArgs, cpus: usize) -> Result<Plan> {
    Ok(build_plans(t, cpus)?.0)
}

pub fn describe(plan: &Plan) -> String {
    let mut by_class: std::collections::BTreeMap<(String, String), (usize, u64, u64)> = Default::default();
    for i in &plan.invocations {
        let e = by_class.entry((i.class.clone(), i.kind.to_string())).or_default();
        e.0 += 1;
        e.1 += i.cpu_ns();
        e.2 += i.sleep_ns();
    }
    let mut s = format!(
        "{} invocations of {} functions from {} ({}), scenario {}, span {:.1} s, CPU demand {:.1} s \
         (time scale {}, work scale {:.4})\n",
        plan.invocations.len(),
        plan.functions().len(),
        plan.trace,
        plan.format,
        plan.config.scenario,
        plan.span_ns() as f64 / 1e9,
        plan.cpu_ns() as f64 / 1e9,
        plan.config.time_scale,
        plan.config.work_scale
    );
    for ((class, kind), (n, cpu, sleep)) in by_class {
        s += &format!(
            "  class {class:<10} {kind:<3} n={n:<5} mean CPU {:>8.1} ms  mean sleep {:>8.1} ms\n",
            cpu as f64 / n as f64 / 1e6,
            sleep as f64 / n as f64 / 1e6
        );
    }
    s
}

/// `out` if given, else `results/<stem>-<unix seconds>`.
pub fn out_dir(out: &Option<PathBuf>, stem: &str) -> Result<PathBuf> {
    if let Some(o) = out {
        return Ok(o.clone());
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(PathBuf::from(format!("results/{stem}-{secs}")))
}

pub fn repo_root() -> Option<PathBuf> {
    if let Ok(r) = std::env::var("ALPS_ROOT") {
        return Some(PathBuf::from(r));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|d| d.join("scripts/vm-run").is_file())
        .map(Path::to_path_buf)
}

/// Whether a command that loads schedulers must re-run in the test VM
/// (`--vm`, and whether this kernel has sched_ext). Errors when it must run
/// here and cannot: no sched_ext, or not root.
pub fn needs_vm(vm: &VmArgs) -> Result<bool> {
    let has_scx = scx_state(Path::new("/sys")) != ScxState::Absent;
    if !vm.in_vm
        && match vm.vm {
            VmMode::Always => true,
            VmMode::Auto => !has_scx,
            VmMode::Never => false,
        }
    {
        return Ok(true);
    }
    if !has_scx {
        bail!(
            "kernel {} has no sched_ext: use --vm auto (the default) to run in the test VM",
            kernel_release()
        );
    }
    if unsafe { libc::geteuid() } != 0 {
        bail!("loading schedulers needs root (and the benchmark creates cgroups): retry with sudo");
    }
    Ok(false)
}

/// Hands `call` (a command with its parsed arguments) to the sched_ext test
/// VM (scripts/vm-run) as `alps-bench guest`, results in `out`, and prints
/// the report it leaves there.
pub fn rerun_in_vm(vm: &VmArgs, call: GuestCall, out: &Path) -> Result<()> {
    let root = repo_root().context("cannot find scripts/vm-run (set ALPS_ROOT to the scx_alps checkout)")?;
    let exe = std::env::current_exe()?;
    let file = out.join("call.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&call)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    info!(
        "this kernel has no sched_ext: running the arms in the test VM (kernel {})",
        vm.kernel
    );
    // The guest reads the host's steal from it around each measured replay.
    let sampler = alps_bench::steal::Sampler::start(out)?;
    let status = std::process::Command::new(root.join("scripts/vm-run"))
        .args([
            "--kernel",
            &vm.kernel,
            "--cpus",
            &vm.vm_cpus.to_string(),
            "--memory",
            &vm.vm_memory,
        ])
        .arg("--rwdir")
        .arg(out)
        .arg("--")
        .arg(&exe)
        .args(["guest", "--call"])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .status()
        .context("cannot run scripts/vm-run")?;
    drop(sampler);
    if !status.success() {
        bail!("the run in the VM failed ({status})");
    }
    let md = std::fs::read_to_string(out.join("report.md")).context("the VM run left no report.md")?;
    println!("{md}");
    println!("results: {}", out.display());
    Ok(())
}

/// `alps-bench guest`: runs, inside the VM, the call the host wrote.
pub fn guest(a: GuestArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.call).with_context(|| format!("cannot read {}", a.call.display()))?;
    let out = a.call.parent().map(Path::to_path_buf);
    let inside = |vm: &mut VmArgs| {
        vm.in_vm = true;
        vm.vm = VmMode::Never;
    };
    match serde_json::from_str(&text).context("the guest call does not parse")? {
        GuestCall::Ab(mut x) => {
            inside(&mut x.vm);
            x.out = out;
            ab::run(x)
        }
        GuestCall::HostWork(mut x) => {
            inside(&mut x.vm);
            x.out = out;
            hostwork::run(x)
        }
        GuestCall::BpfCost(mut x) => {
            inside(&mut x.vm);
            x.out = out;
            bpfcost::run(x)
        }
    }
}

/// The scx_alps binary: `given`, or the one next to this executable.
pub fn scx_alps_bin(given: &Option<PathBuf>) -> Result<PathBuf> {
    let p = match given {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("scx_alps"),
    };
    if !p.is_file() {
        bail!(
            "scx_alps binary not found at {}: build it (cargo build --release) or pass --scx-alps",
            p.display()
        );
    }
    Ok(p)
}
