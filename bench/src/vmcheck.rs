//! The pass rules of the scheduler tests that run in the test VM
//! (`alps-bench vmtest`): what one scenario observed, and the reasons it
//! fails, as pure functions so that the rules are unit tested without a
//! kernel.

use scx_alps::metrics::Metrics;

use crate::report::Summary;

/// Invocations in the `sched` scenario's plan: 20 each of a short CPU-bound
/// function (class 3), a long one (class 4) and a sleep-heavy one (class 1).
pub const SCHED_INVOCATIONS: usize = 60;

/// The `sched` scenario's trace (the I/O study's format `id fibN func
/// iat_ms class`): class 3 is fib(30), 4 ms of CPU; class 4 fib(37),
/// 117 ms; class 1 a 50 ms burst, a 75 ms sleep, a 1 ms burst. One
/// invocation every 33-34 ms.
pub fn sched_trace() -> String {
    let mut t = String::new();
    for i in 0..SCHED_INVOCATIONS / 3 {
        t += &format!("{} 30 fib 33 3\n", 3 * i + 1);
        t += &format!("{} 37 fib 33 4\n", 3 * i + 2);
        t += &format!("{} 30 fib 34 1\n", 3 * i + 3);
    }
    t
}

/// What one policy's `sched` run observed.
#[derive(Clone, Debug)]
pub struct SchedRun {
    /// `alps` or `alps-io`.
    pub policy: String,
    /// The replay's (completed, total) invocations, or why it failed.
    pub replay: Result<(usize, usize), String>,
    /// Why the scheduler was no longer attached after the workload, if so.
    pub ejected: Option<String>,
    /// The last statistics snapshot, or why stopping failed (SIGINT
    /// ignored, a non-zero exit on it, sched_ext not back to disabled).
    pub stats: Result<Option<Metrics>, String>,
    /// The loader's "verified instructions per callback" line, if logged.
    pub insns: Option<String>,
}

/// Learned level of function `name` in `m`, if listed.
fn level(m: &Metrics, name: &str) -> Option<u32> {
    m.functions.iter().find(|f| f.name == name).map(|f| f.level)
}

/// Instructions the verifier counted for callback `cb` in the loader's
/// line (`select_cpu=4030 enqueue=5495 ...`).
fn insns_of(line: &str, cb: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(cb)?.strip_prefix('=')?.parse().ok())
}

/// The figures of a run, for its PASS or FAIL line.
pub fn sched_figures(r: &SchedRun) -> String {
    let (ok, total) = r.replay.clone().unwrap_or((0, 0));
    let lv = |m: &Metrics, f: &str| level(m, f).map_or("none".into(), |l| l.to_string());
    let stats = match &r.stats {
        Ok(Some(m)) => format!(
            "levels short={} long={} io={}; records {} progress {} enqueued {} dispatched {} direct {} kicks {} \
             throttled {} guard {} drops {} max wait {:.1} ms; learner {} updates, mean {:.0} us",
            lv(m, "class3-cpu"),
            lv(m, "class4-cpu"),
            lv(m, "class1-io"),
            m.nr_records,
            m.nr_progress,
            m.levels.iter().map(|l| l.enqueued).sum::<u64>(),
            m.levels.iter().map(|l| l.dispatched).sum::<u64>(),
            m.nr_direct,
            m.nr_preempt_kicks,
            m.nr_throttled,
            m.nr_guard,
            m.nr_rb_drops,
            m.max_wait_ms,
            m.learner_updates,
            m.learner_mean_us
        ),
        Ok(None) => "no statistics".into(),
        Err(e) => format!("stop failed: {e}"),
    };
    format!(
        "completed {ok}/{total}; {stats}; verified instructions: {}",
        r.insns.as_deref().unwrap_or("none")
    )
}

/// Why a `sched` run fails; empty when it passes.
pub fn sched_reasons(r: &SchedRun) -> Vec<String> {
    let mut why = Vec::new();
    match &r.replay {
        Err(e) => why.push(format!("replay failed: {e}")),
        Ok((ok, total)) => {
            if *total != SCHED_INVOCATIONS || *ok != SCHED_INVOCATIONS {
                why.push(format!("only {ok}/{total} invocations completed"));
            }
        }
    }
    if let Some(e) = &r.ejected {
        why.push(format!("scx_alps was ejected during the workload: {e}"));
    }
    match &r.stats {
        Err(e) => why.push(e.clone()),
        Ok(None) => why.push("no statistics line".into()),
        Ok(Some(m)) => {
            match (level(m, "class3-cpu"), level(m, "class4-cpu")) {
                (Some(s), Some(l)) if s >= l => why.push("short function not placed above the long one".into()),
                (Some(_), Some(_)) => {}
                _ => why.push("no learned level for the CPU functions".into()),
            }
            if m.nr_records < SCHED_INVOCATIONS as u64 {
                why.push("fewer invocation records than invocations".into());
            }
            // Class 1 runs 50 ms before it sleeps: under alps-io each of its
            // 20 invocations sends a progress record at least.
            if r.policy == "alps-io" && m.nr_progress < 20 {
                why.push("fewer progress records than running invocations past 2 ms".into());
            }
            if r.policy != "alps-io" && m.nr_progress != 0 {
                why.push("progress records under plain alps".into());
            }
            let enq: u64 = m.levels.iter().map(|l| l.enqueued).sum();
            let disp: u64 = m.levels.iter().map(|l| l.dispatched).sum();
            if enq == 0 || disp == 0 {
                why.push("level counters did not move".into());
            }
            if m.learner_updates == 0 {
                why.push("no learner update".into());
            }
        }
    }
    let counted = |cb| r.insns.as_deref().and_then(|l| insns_of(l, cb)).is_some_and(|n| n > 0);
    if !counted("enqueue") || !counted("dispatch") {
        why.push(format!(
            "no verified instruction count for the callbacks in the log ({:?})",
            r.insns
        ));
    }
    why
}

/// The `ab` scenario's extra arm: scx_alps with its learner held back for
/// the whole run, started through the generic `--extra-arm` path that a peer
/// such as scx_bpfland takes.
pub const AB_EXTRA: &str = "unlearned";

/// Arms of the `ab` scenario: the default ones and [`AB_EXTRA`].
pub const AB_ARMS: [&str; 5] = ["eevdf", "oracle", "alps", "alps-io", AB_EXTRA];

/// Why an `ab` run's summary fails, beyond what `alps-bench verify` checks
/// (every arm there, every invocation completed, the reports written);
/// empty when it passes. The extra arm must have run attached to scx_alps
/// (every ops name recorded over its repetitions `alps*`), and every
/// scheduler arm must report
/// the invocation records it received (the runner's `--monitor` snapshot).
pub fn ab_reasons(s: &Summary) -> Vec<String> {
    let mut why = Vec::new();
    match s.arms.iter().find(|a| a.arm == AB_EXTRA) {
        None => why.push(format!("no {AB_EXTRA} arm in the summary")),
        Some(a) if a.ops.is_empty() || !a.ops.iter().all(|o| o.starts_with("alps")) => why.push(format!(
            "the {AB_EXTRA} arm did not run under scx_alps (ops {:?})",
            a.ops
        )),
        Some(_) => {}
    }
    for a in s.arms.iter().filter(|a| !matches!(a.arm.as_str(), "eevdf" | "oracle")) {
        match &a.sched_stats {
            None => why.push(format!("arm {}: no statistics snapshot", a.arm)),
            Some(m) if m.nr_records == 0 => why.push(format!("arm {}: no invocation records in its statistics", a.arm)),
            Some(_) => {}
        }
    }
    why
}

/// The figures of an `ab` run, for its PASS or FAIL line: each arm's mean
/// FCT (ms) and, for scx_alps arms, the invocation records it received.
pub fn ab_figures(s: &Summary) -> String {
    let arms: Vec<String> = s
        .arms
        .iter()
        .map(|a| match &a.sched_stats {
            Some(m) => format!("{} mean {:.0} ms ({} records)", a.arm, a.overall.mean_ms, m.nr_records),
            None => format!("{} mean {:.0} ms", a.arm, a.overall.mean_ms),
        })
        .collect();
    arms.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use scx_alps::metrics::{FuncMetrics, LevelMetrics};

    fn good(policy: &str) -> SchedRun {
        let func = |name: &str, level| FuncMetrics {
            name: name.into(),
            level,
            ..Default::default()
        };
        SchedRun {
            policy: policy.into(),
            replay: Ok((SCHED_INVOCATIONS, SCHED_INVOCATIONS)),
            ejected: None,
            stats: Ok(Some(Metrics {
                nr_records: 60,
                nr_progress: if policy == "alps-io" { 25 } else { 0 },
                learner_updates: 3,
                levels: vec![LevelMetrics {
                    enqueued: 10,
                    dispatched: 10,
                    ..Default::default()
                }],
                functions: vec![func("class3-cpu", 2), func("class4-cpu", 9), func("class1-io", 4)],
                ..Default::default()
            })),
            insns: Some("select_cpu=4030 enqueue=5495 dispatch=5191".into()),
        }
    }

    #[test]
    fn the_trace_has_every_invocation() {
        assert_eq!(sched_trace().lines().count(), SCHED_INVOCATIONS);
        assert!(sched_trace().starts_with("1 30 fib 33 3\n2 37 fib 33 4\n3 30 fib 34 1\n"));
    }

    #[test]
    fn a_good_run_passes_under_both_policies() {
        for p in ["alps", "alps-io"] {
            assert_eq!(sched_reasons(&good(p)), Vec::<String>::new(), "{p}");
        }
        let f = sched_figures(&good("alps-io"));
        assert!(
            f.contains("completed 60/60; levels short=2 long=9 io=4; records 60 progress 25"),
            "{f}"
        );
    }

    #[test]
    fn each_rule_can_fail() {
        let fails = |r: SchedRun, what: &str| {
            let why = sched_reasons(&r).join("; ");
            assert!(why.contains(what), "want {what:?}, got {why:?}");
        };
        let mut r = good("alps");
        r.replay = Err("exit 1".into());
        fails(r, "replay failed");
        let mut r = good("alps");
        r.replay = Ok((59, 60));
        fails(r, "only 59/60");
        let mut r = good("alps");
        r.ejected = Some("state disabled".into());
        fails(r, "ejected");
        let mut r = good("alps");
        r.stats = Err("scx_alps exited 1 on SIGINT".into());
        fails(r, "exited 1");
        let mut r = good("alps");
        r.stats = Ok(None);
        fails(r, "no statistics");
        let set = |policy: &str, f: fn(&mut Metrics)| {
            let mut r = good(policy);
            if let Ok(Some(m)) = &mut r.stats {
                f(m);
            }
            r
        };
        fails(
            set("alps", |m| m.functions[0].level = 9),
            "short function not placed above",
        );
        fails(set("alps", |m| m.functions.clear()), "no learned level");
        fails(set("alps", |m| m.nr_records = 59), "fewer invocation records");
        fails(set("alps-io", |m| m.nr_progress = 19), "fewer progress records");
        fails(set("alps", |m| m.nr_progress = 1), "progress records under plain alps");
        fails(set("alps", |m| m.levels[0].dispatched = 0), "level counters");
        fails(set("alps", |m| m.learner_updates = 0), "no learner update");
        let mut r = good("alps");
        r.insns = Some("select_cpu=1 enqueue=0 dispatch=5".into());
        fails(r, "no verified instruction count");
        let mut r = good("alps");
        r.insns = None;
        fails(r, "no verified instruction count");
    }

    fn ab_summary() -> Summary {
        use crate::report::{ArmSummary, ClassStats};
        let arm = |name: &str, ops: &[&str], records: Option<u64>| ArmSummary {
            arm: name.into(),
            reps: 1,
            ops: ops.iter().map(|o| o.to_string()).collect(),
            overall: ClassStats {
                mean_ms: 100.0,
                ..Default::default()
            },
            sched_stats: records.map(|n| Metrics {
                nr_records: n,
                ..Default::default()
            }),
            ..Default::default()
        };
        Summary {
            arms: vec![
                arm("eevdf", &[], None),
                arm("oracle", &[], None),
                arm("alps", &["alps_0.1.0"], Some(36)),
                arm("alps-io", &["alps_0.1.0"], Some(37)),
                arm(AB_EXTRA, &["alps_0.1.0"], Some(36)),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn a_good_ab_run_passes() {
        let s = ab_summary();
        assert_eq!(ab_reasons(&s), Vec::<String>::new());
        let f = ab_figures(&s);
        assert!(
            f.starts_with("eevdf mean 100 ms, oracle mean 100 ms, alps mean 100 ms (36 records)"),
            "{f}"
        );
    }

    #[test]
    fn each_ab_rule_can_fail() {
        let fails = |f: fn(&mut Summary), what: &str| {
            let mut s = ab_summary();
            f(&mut s);
            let why = ab_reasons(&s).join("; ");
            assert!(why.contains(what), "want {what:?}, got {why:?}");
        };
        fails(|s| s.arms.retain(|a| a.arm != AB_EXTRA), "no unlearned arm");
        fails(
            |s| s.arms[4].ops = vec!["bpfland_1.1.2".into()],
            "did not run under scx_alps",
        );
        fails(|s| s.arms[4].ops.clear(), "did not run under scx_alps");
        fails(
            |s| s.arms[4].ops = vec!["alps_0.1.0".into(), "bpfland_1.1.2".into()],
            "did not run under scx_alps",
        );
        fails(|s| s.arms[3].sched_stats = None, "arm alps-io: no statistics snapshot");
        fails(
            |s| s.arms[2].sched_stats.as_mut().unwrap().nr_records = 0,
            "arm alps: no invocation records",
        );
    }
}
