//! `alps-bench vmtest`: the scheduler tests that need sched_ext, run by the
//! thin launchers in scripts/vm-tests inside the test VM. Each scenario
//! prints `PASS <name>: <figures>` or `FAIL <name>: <reasons> | <figures>`
//! (the launcher counts those lines); the command exits non-zero when one
//! failed. The pass rules are in [`alps_bench::vmcheck`].

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use alps_bench::exec::Runtime;
use alps_bench::runner::{self, RunningSched};
use alps_bench::vmcheck::{self, Bounds, SchedRun};
use anyhow::{Context, Result, bail};

use super::{build_plan, repo_root, scx_alps_bin};
use crate::cli::{TraceArgs, VmTest, VmTestArgs};

pub fn run(a: VmTestArgs) -> Result<()> {
    let (name, failed) = match a.test {
        VmTest::Sched => ("sched", sched(&a)),
        VmTest::Ab => ("ab-mixed", ab(&a)),
        VmTest::Churn => ("churn", churn(&a)),
        VmTest::Hints => ("hints", hints(&a)),
        VmTest::Weight => ("weight", weight(&a)),
    };
    match failed {
        Ok(0) => Ok(()),
        Ok(n) => bail!("{n} scenario(s) failed"),
        Err(e) => {
            // The launcher counts FAIL lines: a setup error must print one.
            println!("FAIL {name}: {e:#}");
            Err(e)
        }
    }
}

/// The loader's "verified instructions per callback" figures from its log.
fn verified_insns(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|l| {
        l.split_once("verified instructions per callback: ")
            .map(|(_, v)| v.trim().to_string())
    })
}

/// Writes the sched scenario's trace and plan into `--out`; returns the
/// plan's path.
fn sched_plan(a: &VmTestArgs) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let trace = a.out.join("sched-trace.txt");
    std::fs::write(&trace, vmcheck::sched_trace())?;
    let targs = TraceArgs::whole_mixed(trace, "1");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = build_plan(&targs, cpus).context("cannot build the plan")?;
    let plan_path = a.out.join("sched-plan.json");
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan)?)?;
    Ok(plan_path)
}

/// Replays `plan` under whatever scheduler is attached: (completed,
/// total) invocations, or why the replay failed.
fn replay(plan: &Path, results: &Path) -> Result<(usize, usize), String> {
    replay_on(plan, results, Runtime::Fork)
}

/// [`replay`] on `runtime`.
fn replay_on(plan: &Path, results: &Path, runtime: Runtime) -> Result<(usize, usize), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    runner::run_replay(&exe, plan, results, Some(10), false, runtime, |_| {})
        .map(|v| (v.iter().filter(|i| i.ok).count(), v.len()))
        .map_err(|e| format!("{e:#}"))
}

/// Each policy attaches, schedules and learns a 60-invocation mixed plan
/// in per-function cgroups, and detaches cleanly. Returns the failures.
fn sched(a: &VmTestArgs) -> Result<usize> {
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let plan_path = sched_plan(a)?;
    let extra = shlex::split(&a.alps_flags).context("--alps-flags: unbalanced quotes")?;

    let mut failed = 0;
    for policy in ["alps", "alps-io"] {
        let name = format!("sched-{policy}");
        let log = a.out.join(format!("{name}.log"));
        let mut cmd: Vec<String> = [
            &scx_alps.display().to_string(),
            "--stats",
            "1",
            "--json",
            "--policy",
            policy,
        ]
        .map(String::from)
        .into();
        cmd.extend(["--learn-interval-ms", "500"].map(String::from));
        cmd.extend(extra.iter().cloned());
        let mut sc = match RunningSched::start(&cmd, Some("alps"), &log, Duration::from_secs(60)) {
            Ok(sc) => sc,
            Err(e) => {
                println!("FAIL {name}: scx_alps did not attach: {e:#}");
                failed += 1;
                continue;
            }
        };
        let replay = replay(&plan_path, &a.out.join(format!("{name}.results.json")));
        // One more learner update and statistics line after the last exit.
        std::thread::sleep(Duration::from_millis(2500));
        let ejected = sc.check_active().err().map(|e| format!("{e:#}"));
        let stats = stop(sc);
        // Logged at attach; read once the log is complete (the kernel may
        // report the attach before the loader's line is written).
        let insns = verified_insns(&log);
        let r = SchedRun {
            policy: policy.into(),
            replay,
            ejected,
            stats,
            insns,
        };
        let why = vmcheck::sched_reasons(&r);
        let figures = vmcheck::sched_figures(&r);
        if why.is_empty() {
            println!("PASS {name}: {figures}");
        } else {
            failed += 1;
            println!("FAIL {name}: {} | {figures}", why.join("; "));
        }
    }
    Ok(failed)
}

/// Stops `sc`: the statistics it printed last, or why stopping failed
/// (SIGINT ignored, a non-zero exit on it, sched_ext not back to disabled).
fn stop(sc: RunningSched) -> Result<Option<scx_alps::metrics::Metrics>, String> {
    match sc.stop_report() {
        Ok((_, true)) => Err("scx_alps ignored SIGINT for 20 s and was killed".into()),
        Ok((m, false)) => Ok(m),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Functions in the state file at `path` (0 when it cannot be read).
fn state_functions(path: &Path) -> usize {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<scx_alps::learner::LearnerState>(&b).ok())
        .map_or(0, |s| s.history.len())
}

/// Starts scx_alps on `state` with `--func-ttl-s ttl`, stops it once it
/// attached, and returns how many functions its log says it restored.
fn restored(scx_alps: &Path, state: &Path, ttl: u64, log: &Path) -> Result<usize, String> {
    let cmd: Vec<String> = [
        scx_alps.display().to_string(),
        "--state-file".into(),
        state.display().to_string(),
        "--func-ttl-s".into(),
        ttl.to_string(),
    ]
    .into();
    let sc = RunningSched::start(&cmd, Some("alps"), log, Duration::from_secs(60)).map_err(|e| format!("{e:#}"))?;
    stop(sc)?;
    let text = std::fs::read_to_string(log).map_err(|e| e.to_string())?;
    vmcheck::restored_functions(&text).ok_or_else(|| format!("no \"state file\" line in {}", log.display()))
}

/// Function churn with `--func-ttl-s` [`vmcheck::CHURN_TTL_S`]: the sched
/// plan (its replay removes the functions' cgroups at the end), then the
/// ttl with nothing running; then two restarts on copies of the state file
/// written just after the workload, now older than the ttl. Returns the
/// failures (0 or 1).
fn churn(a: &VmTestArgs) -> Result<usize> {
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let plan_path = sched_plan(a)?;
    let state = a.out.join("churn-state.json");
    let _ = std::fs::remove_file(&state);
    let ttl = vmcheck::CHURN_TTL_S.to_string();
    let cmd: Vec<String> = [
        scx_alps.display().to_string(),
        "--learn-interval-ms".into(),
        "500".into(),
        "--func-ttl-s".into(),
        ttl,
        "--state-file".into(),
        state.display().to_string(),
    ]
    .into();
    let sc = RunningSched::start(&cmd, Some("alps"), &a.out.join("churn.log"), Duration::from_secs(60));
    let mut sc = match sc {
        Ok(sc) => sc,
        Err(e) => {
            println!("FAIL churn: scx_alps did not attach: {e:#}");
            return Ok(1);
        }
    };
    let replay = replay(&plan_path, &a.out.join("churn.results.json"));
    // The state is written at every learner update (500 ms).
    std::thread::sleep(Duration::from_millis(1500));
    let copies = [a.out.join("churn-stale-1.json"), a.out.join("churn-stale-2.json")];
    for c in &copies {
        std::fs::copy(&state, c).with_context(|| format!("cannot copy {}", state.display()))?;
    }
    let saved = state_functions(&copies[1]);
    std::thread::sleep(Duration::from_secs(vmcheck::CHURN_TTL_S + 2));
    let ejected = sc.check_active().err().map(|e| format!("{e:#}"));
    // The run prints no statistics (a --stats dump would be a second
    // reader): one --monitor snapshot, as the benchmark takes.
    let snapshot = runner::monitor_once(&scx_alps);
    let stats = stop(sc).map(|_| snapshot);
    let r = vmcheck::ChurnRun {
        replay,
        saved,
        ejected,
        stats,
        saved_at_exit: state_functions(&state),
        restored_stale: restored(
            &scx_alps,
            &copies[0],
            vmcheck::CHURN_TTL_S,
            &a.out.join("churn-stale.log"),
        ),
        restored_no_ttl: restored(&scx_alps, &copies[1], 0, &a.out.join("churn-no-ttl.log")),
    };
    let why = vmcheck::churn_reasons(&r);
    let figures = vmcheck::churn_figures(&r);
    if why.is_empty() {
        println!("PASS churn: {figures}");
        Ok(0)
    } else {
        println!("FAIL churn: {} | {figures}", why.join("; "));
        Ok(1)
    }
}

/// Mean time of one alps-hint begin/end pair on this thread, ns (this
/// program is the one scx_alps probes in the `hints` scenario).
fn hint_pair_ns() -> f64 {
    const PAIRS: u32 = 20_000;
    let t = std::time::Instant::now();
    for _ in 0..PAIRS {
        alps_hint::begin(c"hint-cost");
        alps_hint::end();
    }
    t.elapsed().as_nanos() as f64 / PAIRS as f64
}

/// The sched plan on warm workers (one per function, more on demand) under
/// alps-io with `--hint-binary` this program: hinted, unhinted with
/// `--idle-gap-ms`, and unhinted ([`vmcheck::hints_reasons`]). Prints what a begin/end pair costs here
/// without uprobes (before scx_alps starts) and with them (after the
/// hinted run's snapshot, so its records stay out of the checks). Returns
/// the failures.
fn hints(a: &VmTestArgs) -> Result<usize> {
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let plan_path = sched_plan(a)?;
    let plan: alps_bench::workload::Plan = serde_json::from_slice(&std::fs::read(&plan_path)?)?;
    let demand_ms: Vec<(String, f64)> = plan
        .functions()
        .into_iter()
        .map(|f| {
            let mine: Vec<f64> = plan
                .invocations
                .iter()
                .filter(|i| i.func == f)
                .map(|i| i.cpu_ns() as f64 / 1e6)
                .collect();
            let mean = mine.iter().sum::<f64>() / mine.len().max(1) as f64;
            (f, mean)
        })
        .collect();
    let io_funcs: Vec<String> = plan
        .functions()
        .into_iter()
        .filter(|f| plan.invocations.iter().any(|i| i.func == *f && i.sleep_ns() > 0))
        .collect();
    let exe = std::env::current_exe()?;
    let unprobed = hint_pair_ns();
    let mut probed = None;
    let mut failed = 0;
    for bounds in [Bounds::Hints, Bounds::Gap, Bounds::Lifetime] {
        let (name, hinted) = match bounds {
            Bounds::Hints => ("hints-hinted", true),
            Bounds::Gap => ("hints-gap", false),
            Bounds::Lifetime => ("hints-unhinted", false),
        };
        let mut cmd: Vec<String> = [
            scx_alps.display().to_string(),
            "--policy".into(),
            "alps-io".into(),
            "--learn-interval-ms".into(),
            "500".into(),
            "--hint-binary".into(),
            exe.display().to_string(),
        ]
        .into();
        if bounds == Bounds::Gap {
            cmd.extend(["--idle-gap-ms".into(), vmcheck::HINTS_GAP_MS.to_string()]);
        }
        let mut sc = match RunningSched::start(
            &cmd,
            Some("alps"),
            &a.out.join(format!("{name}.log")),
            Duration::from_secs(60),
        ) {
            Ok(sc) => sc,
            Err(e) => {
                println!("FAIL {name}: scx_alps did not attach: {e:#}");
                failed += 1;
                continue;
            }
        };
        let runtime = Runtime::Warm {
            workers: 1,
            hints: hinted,
        };
        let replay = replay_on(&plan_path, &a.out.join(format!("{name}.results.json")), runtime);
        // The workers' exit records and one more learner update.
        std::thread::sleep(Duration::from_millis(1500));
        let ejected = sc.check_active().err().map(|e| format!("{e:#}"));
        let snapshot = runner::monitor_once(&scx_alps);
        if hinted {
            probed = Some(hint_pair_ns());
        }
        let stats = stop(sc).map(|_| snapshot);
        let r = vmcheck::HintsRun {
            bounds,
            replay,
            ejected,
            stats,
            demand_ms: demand_ms.clone(),
            io_funcs: io_funcs.clone(),
        };
        let why = vmcheck::hints_reasons(&r);
        let figures = vmcheck::hints_figures(&r);
        if why.is_empty() {
            println!("PASS {name}: {figures}");
        } else {
            failed += 1;
            println!("FAIL {name}: {} | {figures}", why.join("; "));
        }
    }
    println!(
        "INFO hint cost: a begin/end pair takes {unprobed:.0} ns without scx_alps, {} with its uprobes",
        probed.map_or("-".into(), |p| format!("{p:.0} ns"))
    );
    Ok(failed)
}

/// A 36-invocation A/B of the mixed scenario, one repetition, under the
/// default arms and scx_alps with its learner held back as an extra arm
/// (the generic `--extra-arm` path): `alps-bench ab` runs as a user runs it,
/// its output in ab.log; then [`super::plan::check_results`] and
/// [`vmcheck::ab_reasons`]. Returns the failures (0 or 1).
fn ab(a: &VmTestArgs) -> Result<usize> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let trace = match &a.trace {
        Some(t) => t.clone(),
        None => repo_root()
            .context("cannot find the checkout for the study's trace: pass --trace")?
            .join("data/traces/study_workload.txt"),
    };
    let dir = a.out.join("ab");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let bin = scx_alps.display().to_string();
    let extra = shlex::try_join([bin.as_str(), "--policy", "alps", "--learn-interval-ms", "3600000"])
        .context("the scx_alps path cannot be quoted")?;
    let log_path = a.out.join("ab.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let status = Command::new(std::env::current_exe()?)
        .arg("ab")
        .args([
            "--vm",
            "never",
            "--scenario",
            "mixed",
            "--limit",
            "36",
            "--repeats",
            "1",
        ])
        .arg("--trace")
        .arg(&trace)
        .arg("--scx-alps")
        .arg(&scx_alps)
        .arg("--extra-arm")
        .arg(format!("{}={extra}", vmcheck::AB_EXTRA))
        .arg("--out")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("cannot start alps-bench ab")?;
    let name = "ab-mixed";
    if !status.success() {
        println!(
            "FAIL {name}: alps-bench ab exited with {status}; {} ends with:",
            log_path.display()
        );
        println!("{}", runner::tail(&log_path, 15));
        return Ok(1);
    }
    let arms: Vec<String> = vmcheck::AB_ARMS.iter().map(|s| s.to_string()).collect();
    let (summary, mut why) = match super::plan::check_results(&dir, &arms) {
        Ok(v) => v,
        Err(e) => {
            println!("FAIL {name}: the results in {} cannot be read: {e:#}", dir.display());
            return Ok(1);
        }
    };
    why.extend(vmcheck::ab_reasons(&summary));
    let figures = vmcheck::ab_figures(&summary);
    if why.is_empty() {
        println!(
            "PASS {name}: {} invocations x {} arms (extra arm attached) completed, reports parse; {figures}",
            summary.meta.invocations,
            summary.arms.len()
        );
        Ok(0)
    } else {
        println!("FAIL {name}: {} | {figures}", why.join("; "));
        Ok(1)
    }
}

/// Two saturated functions with cpu.weight 100 and 25
/// ([`alps_bench::share`]) under EEVDF, scx_alps (alps-io) and scx_alps
/// --ignore-cgroup-weight, `--repeats` interleaved repetitions; prints the
/// light function's CPU over the heavy one's per arm. The pass rule
/// ([`share::share_reasons`]) is on scx_alps; the others are the reference
/// (EEVDF) and the contrast (weights ignored). Returns the failures.
fn weight(a: &VmTestArgs) -> Result<usize> {
    use alps_bench::share::{self, ShareSpec};

    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let scx_alps = scx_alps_bin(&a.scx_alps)?;
    let spec = ShareSpec::standard(alps_bench::exec::ExecConfig::default().cgroup_parent);
    let exe = std::env::current_exe()?;
    share::prepare(&spec.parent)?;
    let arms: [(&str, Option<&[&str]>); 3] = [
        ("eevdf", None),
        ("alps-io", Some(&[])),
        ("alps-io-no-weight", Some(&["--ignore-cgroup-weight"])),
    ];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); arms.len()];
    let mut stamped: Vec<Option<u64>> = vec![Some(0); arms.len()];
    let mut errors = Vec::new();
    for rep in 0..a.repeats as usize {
        for (i, (arm, flags)) in arms.iter().enumerate() {
            let sc = match flags {
                None => None,
                Some(flags) => {
                    let mut cmd: Vec<String> = [scx_alps.display().to_string()].into();
                    cmd.extend(["--stats", "1", "--json", "--learn-interval-ms", "500"].map(String::from));
                    // A margin for the light function's waits: the guard
                    // starts whatever waited half the bound, whatever its
                    // weight (docs/results.md, "cgroup cpu.weight").
                    cmd.extend(["--starvation-ms", &share::STARVATION_MS.to_string()].map(String::from));
                    cmd.extend(flags.iter().map(|f| f.to_string()));
                    let log = a.out.join(format!("weight-{arm}-{rep}.log"));
                    match RunningSched::start(&cmd, Some("alps"), &log, Duration::from_secs(60)) {
                        Ok(sc) => Some(sc),
                        Err(e) => {
                            errors.push(format!("{arm} rep {rep}: scx_alps did not attach: {e:#}"));
                            continue;
                        }
                    }
                }
            };
            // Set once the scheduler runs, so the change reaches it as
            // ops.cgroup_set_weight (the cgroups start at 100 each).
            let run = share::set_weights(&spec.parent, share::WEIGHTS).and_then(|_| share::run(&exe, &spec.parent));
            let _ = share::set_weights(&spec.parent, [100, 100]);
            if let Some(mut sc) = sc {
                // One more statistics line after the window.
                std::thread::sleep(Duration::from_millis(1200));
                if let Err(e) = sc.check_active() {
                    errors.push(format!("{arm} rep {rep}: {e:#}"));
                }
                match stop(sc) {
                    Ok(m) => {
                        if let Some(m) = &m {
                            let busy: Vec<String> = m
                                .levels
                                .iter()
                                .filter(|l| l.enqueued > 0)
                                .map(|l| format!("{}:{}/{}/{}", l.level, l.enqueued, l.dispatched, l.preempt_kicks))
                                .collect();
                            println!(
                                "INFO weight {arm} rep {rep} scx_alps: stamped {} direct {} kicks {} tick-preempts {} kept {} guard {} demotions {} host {} max wait {:.1} ms by {}; levels enqueued/dispatched/kicks {}",
                                m.nr_weighted,
                                m.nr_direct,
                                m.nr_preempt_kicks,
                                m.nr_tick_preempts,
                                m.nr_kept,
                                m.nr_guard,
                                m.nr_demotions,
                                m.nr_host_enqueued,
                                m.max_wait_ms,
                                m.max_wait_task,
                                busy.join(" ")
                            );
                            for f in &m.functions {
                                println!(
                                    "INFO weight {arm} rep {rep} learned {}: level {} rank {:.1} ms slice {:.1} ms cpu {:.1} ms samples {}",
                                    f.name, f.level, f.rank_ms, f.slice_ms, f.cpu_ms, f.samples
                                );
                            }
                        }
                        let n = m.map(|m| m.nr_weighted);
                        stamped[i] = match (stamped[i], n) {
                            (Some(s), Some(n)) => Some(s + n),
                            _ => None,
                        };
                    }
                    Err(e) => errors.push(format!("{arm} rep {rep}: {e}")),
                }
            }
            match run {
                Ok(cpu) => {
                    println!(
                        "INFO weight {arm} rep {rep}: {} {} ms, {} {} ms",
                        share::FUNCS[0],
                        cpu[0] / 1000,
                        share::FUNCS[1],
                        cpu[1] / 1000
                    );
                    ratios[i].extend(share::ratios(&[cpu]));
                }
                Err(e) => errors.push(format!("{arm} rep {rep}: {e:#}")),
            }
        }
    }
    share::cleanup(&spec.parent);
    let figures: Vec<String> = arms
        .iter()
        .zip(&ratios)
        .map(|((arm, _), r)| format!("{arm} {}", share::figure(r)))
        .collect();
    let (m, _) = alps_bench::stats::mean_ci95(&ratios[1]);
    let goal = if (m - share::target()).abs() <= share::GOAL_TOLERANCE * share::target() {
        "met"
    } else {
        "not met"
    };
    let figures = format!(
        "light/heavy CPU (weights {}:{}, target {}): {}; goal ±{:.0} % {goal}",
        share::WEIGHTS[0],
        share::WEIGHTS[1],
        share::target(),
        figures.join(", "),
        share::GOAL_TOLERANCE * 100.0
    );
    let mut why = share::share_reasons(&ratios[1], a.repeats as usize, stamped[1], &ratios[2]);
    if stamped[2].is_some_and(|n| n > 0) {
        why.push("--ignore-cgroup-weight still stamped enqueues by weight".into());
    }
    why.extend(errors);
    if why.is_empty() {
        println!("PASS weight: {figures}");
        Ok(0)
    } else {
        println!("FAIL weight: {} | {figures}", why.join("; "));
        Ok(1)
    }
}
