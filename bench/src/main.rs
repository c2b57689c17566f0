//! alps-bench: A/B benchmark of scx_alps against the kernel's default
//! scheduler on real FaaS traces, and a simulator of the same plans.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alps_bench::exec::{self, ExecConfig};
use alps_bench::report::{self, RunMeta, Summary};
use alps_bench::runner::{self, AbSetup};
use alps_bench::sim::{self, SimConfig, SimPolicy};
use alps_bench::trace::{self, Format};
use alps_bench::workload::{self, Plan, PlanConfig, STUDY_CPUS, Scenario};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use log::info;
use scx_alps::learner::PolicyKind;
use scx_alps::preflight::{ScxState, kernel_release, scx_state};

#[derive(Parser)]
#[command(
    name = "alps-bench",
    version,
    about = "A/B benchmark and simulator for scx_alps on FaaS traces"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay a trace under each arm (EEVDF, scx_alps --policy alps and
    /// alps-io, extra schedulers) and write the report. Runs in the sched_ext
    /// test VM when this kernel has no sched_ext.
    Ab(AbArgs),
    /// Build the plan of a trace and print what it contains.
    Plan(PlanArgs),
    /// Check a results directory: files parse and every invocation of every
    /// arm completed. Exits non-zero otherwise.
    Verify(VerifyArgs),
    /// Simulate the plan of a trace under models of the schedulers (FIFO,
    /// EEVDF, scx_alps alps and alps-io, clairvoyant SRPT) on N CPUs and write
    /// the same report as `ab`.
    Sim(SimArgs),
    /// Benchmark the simulator: invocations simulated per second per policy.
    SimSpeed(SimSpeedArgs),
    /// Run a command under the restrictions scx_loader's systemd unit puts on
    /// the schedulers it starts: cgroupfs read-only (ProtectControlGroups), no
    /// writable and executable memory (MemoryDenyWriteExecute, here the
    /// kernel's PR_SET_MDWE) and no real-time priority (RestrictRealtime, here
    /// RLIMIT_RTPRIO 0 with CAP_SYS_NICE dropped). Needs root.
    Sandbox(SandboxArgs),
    /// Internal: run a plan under whatever scheduler is attached.
    #[command(hide = true)]
    Replay(ReplayArgs),
}

#[derive(Args)]
struct SandboxArgs {
    /// Command and arguments.
    #[arg(trailing_var_arg = true, required = true)]
    cmd: Vec<String>,
}

#[derive(Args)]
struct SimArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Simulated CPUs (the study used 16).
    #[arg(long, default_value_t = 16)]
    cpus: usize,
    /// Policies, comma-separated: fifo, eevdf, alps, alps-io, and the bounds
    /// srpt (clairvoyant), gittins and las (size-blind). The first is the
    /// baseline of the deltas.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,alps,alps-io,srpt,gittins")]
    policies: Vec<SimPolicy>,
    /// Repeat the plan this many times back to back.
    #[arg(long, default_value_t = 1)]
    tile: usize,
    /// CPU time lost per context switch, us.
    #[arg(long, default_value_t = 5.0)]
    cs_cost_us: f64,
    /// EEVDF base slice of the fair-share model, us.
    #[arg(long, default_value_t = 3000)]
    fair_slice_us: u64,
    /// Scheduler ticks per second of the sched_ext models (6.12 test kernel:
    /// 1000; Debian's kernels: 250).
    #[arg(long, default_value_t = 1000)]
    hz: u32,
    /// scx_alps flags for both scx_alps models (one string, pass it as
    /// --alps-flags="..."), e.g. "--window 200"; the default matches `ab`'s arms.
    #[arg(long, default_value = "--learn-interval-ms 1000")]
    alps_flags: String,
    /// Extra scx_alps flags for the alps-io model only, e.g.
    /// --alps-io-flags="--io-penalty 0.3 --min-quantum-us 2000".
    #[arg(long, default_value = "")]
    alps_io_flags: String,
    /// Results directory [default: results/sim-<scenario>-<cpus>cpu-<time>].
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SimSpeedArgs {
    /// Trace to tile (study format).
    #[arg(long)]
    trace: PathBuf,
    /// Offered load: CPU demand per second of arrivals over CPU capacity
    /// (the work scale is set to reach it); the full mixed trace offers 2.2x
    /// the capacity of 16 CPUs at work scale 1, an ever-growing backlog.
    #[arg(long, default_value_t = 0.8)]
    load: f64,
    /// Invocations to simulate per policy.
    #[arg(long, default_value_t = 1_000_000)]
    invocations: usize,
    /// Simulated CPUs.
    #[arg(long, default_value_t = 16)]
    cpus: usize,
    /// Policies to time.
    #[arg(long, value_delimiter = ',', default_value = "fifo,eevdf,alps,alps-io,srpt")]
    policies: Vec<SimPolicy>,
}

#[derive(Args, Clone)]
struct TraceArgs {
    /// Trace file (or Azure 2019 directory).
    #[arg(long)]
    trace: PathBuf,
    /// Trace format [default: detected from the content].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Workload mix (the I/O study's scenarios).
    #[arg(long, value_enum, default_value_t = Scenario::Mixed)]
    scenario: Scenario,
    /// First entries to use, 0 for all [default: 200 for mixed, 1000 otherwise].
    #[arg(long)]
    limit: Option<usize>,
    /// Entries to skip before the first one used [default: --warmup].
    #[arg(long)]
    skip: Option<usize>,
    /// Replay the N entries before the measured ones first, unmeasured, under
    /// each learning arm (the same scheduler instance then runs the measured
    /// ones): the arm's trained run, reported beside its untrained one.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Offered CPU load as a fraction of the machine: arrival times are
    /// scaled so that CPU demand / (span x CPUs) equals it (work and sleeps
    /// untouched) [default: the trace's own arrival times].
    #[arg(long)]
    load: Option<f64>,
    /// Multiplies arrival times and sleeps (after the format's own factor).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Multiplies CPU demands; "auto" = CPUs / 16 (the study's machine), so
    /// each CPU carries the study's load.
    #[arg(long, default_value = "auto")]
    work_scale: String,
    /// Seed of every random choice (Azure 2019 sampling).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VmMode {
    /// Use the VM only when this kernel lacks sched_ext.
    Auto,
    /// Always run the arms in the VM.
    Always,
    /// Never: fail if this kernel lacks sched_ext.
    Never,
}

#[derive(Args, Clone)]
struct AbArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Arms, comma-separated: eevdf (the kernel's default scheduler), alps, alps-io.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,alps,alps-io")]
    arms: Vec<String>,
    /// Extra arm NAME=COMMAND, e.g. bpfland=scx_bpfland (repeatable).
    #[arg(long)]
    extra_arm: Vec<String>,
    /// Repetitions of every arm (interleaved).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Extra flags for both scx_alps arms (one string, split on spaces).
    #[arg(long, default_value = "--learn-interval-ms 1000")]
    alps_flags: String,
    /// The scx_alps binary [default: next to alps-bench].
    #[arg(long)]
    scx_alps: Option<PathBuf>,
    /// Results directory [default: results/<scenario>-<time>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the arms run.
    #[arg(long, value_enum, default_value_t = VmMode::Auto)]
    vm: VmMode,
    /// VM kernel: 6.12, 7.2 or a kernel image path.
    #[arg(long, default_value = "6.12")]
    kernel: String,
    /// VM CPUs.
    #[arg(long, default_value_t = 2)]
    vm_cpus: usize,
    /// VM memory.
    #[arg(long, default_value = "2G")]
    vm_memory: String,
    /// SCHED_FIFO priority of the load generator; 0 runs it as a normal task.
    #[arg(long, default_value_t = 10)]
    rt_prio: i32,
    /// Seconds a scheduler may take to attach.
    #[arg(long, default_value_t = 60)]
    attach_timeout: u64,
    /// Internal: already inside the VM.
    #[arg(long, hide = true)]
    in_vm: bool,
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// CPUs the plan is scaled for (work scale auto).
    #[arg(long, default_value_t = 2)]
    cpus: usize,
    /// Write the plan as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct VerifyArgs {
    /// Results directory of an A/B run.
    dir: PathBuf,
    /// Arms that must be present.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,alps,alps-io")]
    arms: Vec<String>,
}

#[derive(Args)]
struct ReplayArgs {
    #[arg(long)]
    plan: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 10)]
    rt_prio: i32,
    #[arg(long)]
    no_rt: bool,
    #[arg(long, default_value = "/sys/fs/cgroup/faas")]
    cgroup_parent: PathBuf,
    #[arg(long, default_value_t = 900)]
    drain_timeout_s: u64,
}

fn work_scale(arg: &str, cpus: usize) -> Result<f64> {
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
fn build_plans(t: &TraceArgs, cpus: usize) -> Result<(Plan, Option<Plan>)> {
    let (format, entries) = trace::read(&t.trace, t.format, t.seed)?;
    let skip = t.skip.unwrap_or(t.warmup);
    if t.warmup > skip {
        bail!(
            "--warmup {} needs --skip of at least {} (the warm-up entries come before the measured ones)",
            t.warmup,
            t.warmup
        );
    }
    let cfg = PlanConfig {
        scenario: t.scenario,
        time_scale: t.time_scale,
        work_scale: work_scale(&t.work_scale, cpus)?,
        limit: t.limit.unwrap_or_else(|| t.scenario.default_limit()),
        skip,
        arrival_scale: 1.0,
    };
    let name = t.trace.display().to_string();
    let mut plan = workload::build_plan(&name, format, &entries, &cfg, t.seed)?;
    let mut warm = if t.warmup > 0 {
        let wc = PlanConfig {
            limit: t.warmup,
            skip: skip - t.warmup,
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

fn build_plan(t: &TraceArgs, cpus: usize) -> Result<Plan> {
    Ok(build_plans(t, cpus)?.0)
}

fn describe(plan: &Plan) -> String {
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
fn out_dir(out: &Option<PathBuf>, stem: &str) -> Result<PathBuf> {
    if let Some(o) = out {
        return Ok(o.clone());
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(PathBuf::from(format!("results/{stem}-{secs}")))
}

fn repo_root() -> Option<PathBuf> {
    if let Ok(r) = std::env::var("ALPS_ROOT") {
        return Some(PathBuf::from(r));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|d| d.join("scripts/vm-run").is_file())
        .map(Path::to_path_buf)
}

/// Re-runs this command inside the sched_ext test VM.
fn ab_in_vm(a: &AbArgs, out: &Path) -> Result<()> {
    let root = repo_root().context("cannot find scripts/vm-run (set ALPS_ROOT to the scx_alps checkout)")?;
    let exe = std::env::current_exe()?;
    let mut args: Vec<String> = std::env::args().skip(2).collect();
    // Drop --out/--vm given by the user; we pass resolved ones.
    let mut clean = Vec::new();
    let mut skip = false;
    for x in args.drain(..) {
        if skip {
            skip = false;
            continue;
        }
        if x == "--out" || x == "--vm" {
            skip = true;
            continue;
        }
        if x.starts_with("--out=") || x.starts_with("--vm=") {
            continue;
        }
        clean.push(x);
    }
    let mut guest = vec![exe.display().to_string(), "ab".into()];
    guest.extend(clean);
    guest.extend([
        "--out".into(),
        out.display().to_string(),
        "--vm".into(),
        "never".into(),
        "--in-vm".into(),
    ]);
    info!(
        "this kernel has no sched_ext: running the arms in the test VM (kernel {})",
        a.kernel
    );
    let status = std::process::Command::new(root.join("scripts/vm-run"))
        .args([
            "--kernel",
            &a.kernel,
            "--cpus",
            &a.vm_cpus.to_string(),
            "--memory",
            &a.vm_memory,
        ])
        .arg("--rwdir")
        .arg(out)
        .arg("--")
        .args(&guest)
        .stdin(std::process::Stdio::null())
        .status()
        .context("cannot run scripts/vm-run")?;
    if !status.success() {
        bail!("the A/B run in the VM failed ({status})");
    }
    let md = std::fs::read_to_string(out.join("report.md")).context("the VM run left no report.md")?;
    println!("{md}");
    println!("results: {}", out.display());
    Ok(())
}

fn cmd_ab(a: AbArgs) -> Result<()> {
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let out = out_dir(&a.out, &a.trace.scenario.to_string())?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out.canonicalize()?;
    let scx_alps = match &a.scx_alps {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("scx_alps"),
    };
    let alps_flags: Vec<String> = a.alps_flags.split_whitespace().map(String::from).collect();
    let arms = runner::parse_arms(&a.arms, &a.extra_arm, &scx_alps, &alps_flags)?;
    // Check the trace before booting anything.
    let host_plan = build_plan(&a.trace, a.vm_cpus)?;
    info!("{}", describe(&host_plan).trim_end());

    let has_scx = scx_state(Path::new("/sys")) != ScxState::Absent;
    let use_vm = !a.in_vm
        && match a.vm {
            VmMode::Always => true,
            VmMode::Auto => !has_scx,
            VmMode::Never => false,
        };
    if use_vm {
        return ab_in_vm(&a, &out);
    }
    if !has_scx {
        bail!(
            "kernel {} has no sched_ext: use --vm auto (the default) to run in the test VM",
            kernel_release()
        );
    }
    if unsafe { libc::geteuid() } != 0 {
        bail!("the A/B run must be root (it loads schedulers and creates cgroups): retry with sudo");
    }
    if arms.iter().any(|x| x.ops_prefix.is_some()) && !scx_alps.is_file() {
        bail!(
            "scx_alps binary not found at {}: build it (cargo build --release) or pass --scx-alps",
            scx_alps.display()
        );
    }

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = build_plan(&a.trace, cpus)?;
    let plan_path = out.join("plan.json");
    std::fs::write(&plan_path, serde_json::to_vec(&plan)?)?;
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
        out_dir: &out,
        exe: &std::env::current_exe()?,
        rt_prio: (a.rt_prio > 0).then_some(a.rt_prio),
        attach_timeout: Duration::from_secs(a.attach_timeout),
    };
    let runs = runner::run_ab(&setup, progress)?;
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let meta = RunMeta {
        mode: if a.in_vm { "vm".into() } else { "host".into() },
        kernel: kernel_release(),
        cpus,
        trace: plan.trace.clone(),
        format: plan.format.to_string(),
        scenario: plan.config.scenario.to_string(),
        time_scale: plan.config.time_scale,
        work_scale: plan.config.work_scale,
        invocations: n,
        seed: plan.seed,
        repeats: a.repeats,
        baseline: arms[0].name.clone(),
    };
    let names: Vec<String> = arms.iter().map(|x| x.name.clone()).collect();
    let summary = report::summarize(&runs, &names, meta);
    report::write_outputs(&out, &runs, &summary)?;
    if !a.in_vm {
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

fn cmd_plan(p: PlanArgs) -> Result<()> {
    let plan = build_plan(&p.trace, p.cpus)?;
    print!("{}", describe(&plan));
    if let Some(out) = p.out {
        std::fs::write(&out, serde_json::to_vec_pretty(&plan)?)?;
    }
    Ok(())
}

fn cmd_verify(v: VerifyArgs) -> Result<()> {
    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(v.dir.join("summary.json")).context("no summary.json")?)
            .context("summary.json does not parse")?;
    let rows = report::read_csv(&v.dir.join("invocations.csv"))?;
    let md = std::fs::read_to_string(v.dir.join("report.md")).context("no report.md")?;
    let mut problems = Vec::new();
    for arm in &v.arms {
        let Some(a) = summary.arms.iter().find(|a| &a.arm == arm) else {
            problems.push(format!("arm {arm} missing from summary.json"));
            continue;
        };
        let mine: Vec<_> = rows.iter().filter(|r| &r.arm == arm).collect();
        // Every planned repetition must be there, each with the whole plan:
        // count against the run's metadata, not against what the data holds.
        if a.reps != summary.meta.repeats {
            problems.push(format!(
                "arm {arm}: {} repetitions in summary.json, the run planned {}",
                a.reps, summary.meta.repeats
            ));
        }
        for rep in 0..summary.meta.repeats {
            let n = mine.iter().filter(|r| r.rep == rep).count();
            if n != summary.meta.invocations {
                problems.push(format!(
                    "arm {arm} repetition {}: {n} rows in invocations.csv, expected {}",
                    rep + 1,
                    summary.meta.invocations
                ));
            }
        }
        let failed = mine.iter().filter(|r| !r.ok || !r.fct_ms.is_finite()).count();
        if failed > 0 {
            problems.push(format!("arm {arm}: {failed} invocations did not complete"));
        }
        if !md.contains(&format!("| {arm} |")) {
            problems.push(format!("arm {arm} missing from report.md"));
        }
    }
    for f in ["throughput.png", "throughput.svg"] {
        if std::fs::metadata(v.dir.join(f)).map_or(true, |m| m.len() == 0) {
            problems.push(format!("{f} missing or empty"));
        }
    }
    for ext in ["png", "svg"] {
        let cdf = format!("cdf_{}.{ext}", summary.meta.scenario);
        if std::fs::metadata(v.dir.join(&cdf)).map_or(true, |m| m.len() == 0) {
            problems.push(format!("{cdf} missing or empty"));
        }
    }
    if problems.is_empty() {
        println!(
            "ok: {} arms, {} invocations each per repetition, all completed",
            v.arms.len(),
            summary.meta.invocations
        );
        Ok(())
    } else {
        bail!("{}", problems.join("\n"))
    }
}

/// The scx_alps model of `policy` for the simulator, from scx_alps's own
/// command line (`flags`), so defaults and validation are scx_alps's.
fn sim_stats_json(out: &sim::SimOutput) -> serde_json::Value {
    let st = &out.stats;
    serde_json::json!({
        "nr_records": out.results.iter().filter(|r| r.ok).count(),
        "nr_preempt_kicks": st.preemptions,
        "nr_throttled": st.throttled,
        "nr_guard": st.guard_promotions,
        "nr_demotions": st.demotions,
        "max_wait_ms": st.max_wait_ns as f64 / 1e6,
        "learner_updates": st.learner_updates,
        "learner_mean_us": st.learner_mean_ns as f64 / 1e3,
        "context_switches": st.context_switches,
        "idle_while_runnable_ms": st.idle_while_runnable_ns as f64 / 1e6,
        "functions": out.policy_table.iter().map(|(name, f)| serde_json::json!({
            "name": name,
            "level": f.level,
            "rank_ms": f.rank_ns as f64 / 1e6,
            "slice_ms": f.slice_ns as f64 / 1e6,
            "mu_ms": f.mu_ns / 1e6,
            "blocked_pct": 100.0 * f.blocked_frac,
            "io_bound": f.io_bound() as u32,
        })).collect::<Vec<_>>(),
    })
}

fn cmd_sim(a: SimArgs) -> Result<()> {
    if a.cpus == 0 || a.cpus > 4096 {
        bail!("--cpus must be in 1..=4096, got {}", a.cpus);
    }
    if a.policies.is_empty() {
        bail!("--policies is empty");
    }
    if !a.cs_cost_us.is_finite() || a.cs_cost_us < 0.0 {
        bail!("--cs-cost-us must be >= 0");
    }
    if !(10..=10_000).contains(&a.hz) {
        bail!("--hz must be in 10..=10000, got {}", a.hz);
    }
    let (plan, warm) = build_plans(&a.trace, a.cpus)?;
    let plan = plan.tiled(a.tile);
    info!("{}", describe(&plan).trim_end());
    let alps = sim::AlpsModel::from_flags(PolicyKind::Alps, &a.alps_flags, a.cpus)?;
    let alps_io = sim::AlpsModel::from_flags(
        PolicyKind::AlpsIo,
        &format!("{} {}", a.alps_flags, a.alps_io_flags),
        a.cpus,
    )?;
    let out = out_dir(&a.out, &format!("sim-{}-{}cpu", a.trace.scenario, a.cpus))?;
    let base = SimConfig {
        cpus: a.cpus,
        cs_cost_ns: (a.cs_cost_us * 1000.0) as u64,
        fair_slice_ns: a.fair_slice_us * 1000,
        hz: a.hz,
        ..SimConfig::default()
    };
    let arms = sim::arms(&a.policies, &base, &alps, &alps_io, warm.is_some());
    let mut runs = Vec::new();
    for arm in &arms {
        let t0 = Instant::now();
        let o = sim::run_arm(arm, &plan, warm.as_ref())?;
        info!(
            "{}: {:.0} invocations/s simulated, {} context switches, idle-while-runnable {:.3} ms",
            arm.name,
            plan.invocations.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            o.stats.context_switches,
            o.stats.idle_while_runnable_ns as f64 / 1e6
        );
        runs.push(report::ArmRun {
            arm: arm.name.clone(),
            rep: 0,
            results: o.results.clone(),
            ops: Some(format!("model:{}", arm.cfg.policy.name())),
            sched_stats: Some(sim_stats_json(&o)),
        });
    }
    let meta = RunMeta {
        mode: "sim".into(),
        kernel: format!(
            "discrete-event model, cs cost {} us, EEVDF slice {} us, HZ {}",
            a.cs_cost_us, a.fair_slice_us, a.hz
        ),
        cpus: a.cpus,
        trace: plan.trace.clone(),
        format: plan.format.to_string(),
        scenario: plan.config.scenario.to_string(),
        time_scale: plan.config.time_scale,
        work_scale: plan.config.work_scale,
        invocations: plan.invocations.len(),
        seed: plan.seed,
        repeats: 1,
        baseline: a.policies[0].name().to_string(),
    };
    let names: Vec<String> = arms.iter().map(|x| x.name.clone()).collect();
    let summary = report::summarize(&runs, &names, meta);
    report::write_outputs(&out, &runs, &summary)?;
    println!("{}", report::markdown(&summary));
    println!("results: {}", out.display());
    Ok(())
}

fn cmd_sim_speed(a: SimSpeedArgs) -> Result<()> {
    let t = TraceArgs {
        trace: a.trace.clone(),
        format: None,
        scenario: Scenario::Mixed,
        limit: Some(0),
        skip: None,
        warmup: 0,
        load: None,
        time_scale: 1.0,
        work_scale: "auto".into(),
        seed: 1,
    };
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

fn os_err(what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}", std::io::Error::last_os_error())
}

fn cmd_sandbox(a: SandboxArgs) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::process::CommandExt;
    let c = |s: &str| CString::new(s).expect("no NUL in constant");
    // SAFETY: plain syscalls with valid, NUL-terminated arguments; they only
    // affect this process (and what it executes).
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(os_err("unshare(CLONE_NEWNS) (run as root)"));
        }
        let none = std::ptr::null();
        if libc::mount(
            none,
            c("/").as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("making mounts private"));
        }
        let cg = c("/sys/fs/cgroup");
        if libc::mount(
            cg.as_ptr(),
            cg.as_ptr(),
            none,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("remounting /sys/fs/cgroup read-only"));
        }
        let rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_RTPRIO, &rl) != 0 {
            return Err(os_err("setrlimit(RLIMIT_RTPRIO, 0)"));
        }
        const PR_SET_MDWE: libc::c_int = 65;
        const PR_MDWE_REFUSE_EXEC_GAIN: libc::c_ulong = 1;
        if libc::prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0 {
            return Err(os_err("prctl(PR_SET_MDWE) (Linux 6.3+)"));
        }
        // Check the restrictions hold before handing over.
        let wx = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if wx != libc::MAP_FAILED {
            libc::munmap(wx, 4096);
            bail!("sandbox: a writable+executable mapping was still allowed");
        }
    }
    if std::fs::create_dir("/sys/fs/cgroup/alps-sandbox-probe").is_ok() {
        let _ = std::fs::remove_dir("/sys/fs/cgroup/alps-sandbox-probe");
        bail!("sandbox: cgroupfs is still writable");
    }
    eprintln!(
        "sandbox: cgroupfs read-only, no W+X memory, RLIMIT_RTPRIO 0, CAP_SYS_NICE dropped: {}",
        a.cmd.join(" ")
    );
    // Drop CAP_SYS_NICE from the bounding set so the exec'ed (root) program
    // cannot regain it, which makes RLIMIT_RTPRIO binding.
    let err = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--"])
        .args(&a.cmd)
        .exec();
    Err(anyhow::anyhow!(
        "cannot exec setpriv (util-linux) for {}: {err}",
        a.cmd[0]
    ))
}

fn cmd_replay(r: ReplayArgs) -> Result<()> {
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(&r.plan)?).context("plan does not parse")?;
    let cfg = ExecConfig {
        cgroup_parent: r.cgroup_parent,
        rt_priority: (!r.no_rt).then_some(r.rt_prio),
        drain_timeout: Duration::from_secs(r.drain_timeout_s),
    };
    let n = plan.invocations.len();
    let results = exec::run_plan(&plan, &cfg, |done, _| eprintln!("progress {done}/{n}"))?;
    std::fs::write(&r.out, serde_json::to_vec(&results)?)?;
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let _ = simplelog::TermLogger::init(
        simplelog::LevelFilter::Info,
        simplelog::ConfigBuilder::new()
            .set_time_level(simplelog::LevelFilter::Off)
            .set_target_level(simplelog::LevelFilter::Off)
            .build(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    );
    let r = match cli.cmd {
        Cmd::Ab(a) => cmd_ab(a),
        Cmd::Plan(p) => cmd_plan(p),
        Cmd::Verify(v) => cmd_verify(v),
        Cmd::Sim(a) => cmd_sim(a),
        Cmd::SimSpeed(a) => cmd_sim_speed(a),
        Cmd::Sandbox(a) => cmd_sandbox(a),
        Cmd::Replay(r) => cmd_replay(r),
    };
    if let Err(e) = r {
        eprintln!("alps-bench: error: {e:#}");
        std::process::exit(1);
    }
}
