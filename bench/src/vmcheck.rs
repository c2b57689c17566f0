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

/// `--func-ttl-s` of the `churn` scenario, s.
pub const CHURN_TTL_S: u64 = 3;

/// Functions in the `sched` scenario's plan.
pub const SCHED_FUNCTIONS: usize = 3;

/// What the `churn` scenario observed.
#[derive(Clone, Debug)]
pub struct ChurnRun {
    /// The replay's (completed, total) invocations, or why it failed.
    pub replay: Result<(usize, usize), String>,
    /// Functions in the state file just after the workload.
    pub saved: usize,
    /// Why the scheduler was no longer attached after the ttl, if so.
    pub ejected: Option<String>,
    /// The statistics snapshot after the ttl, or why stopping failed.
    pub stats: Result<Option<Metrics>, String>,
    /// Functions in the state file at exit.
    pub saved_at_exit: usize,
    /// Functions restored from a copy of the first state file once it was
    /// older than the ttl: under the ttl, and with no ttl (`--func-ttl-s 0`).
    pub restored_stale: Result<usize, String>,
    pub restored_no_ttl: Result<usize, String>,
}

/// The figures of a `churn` run, for its PASS or FAIL line.
pub fn churn_figures(r: &ChurnRun) -> String {
    let (ok, total) = r.replay.clone().unwrap_or((0, 0));
    let stats = match &r.stats {
        Ok(Some(m)) => format!(
            "after {} s: {} forgotten, {} ids recycled, {} learned policies, {} functions tagged",
            CHURN_TTL_S,
            m.nr_forgotten,
            m.nr_ids_recycled,
            m.functions.len(),
            m.nr_functions
        ),
        Ok(None) => "no statistics".into(),
        Err(e) => format!("stop failed: {e}"),
    };
    let n = |v: &Result<usize, String>| v.as_ref().map_or_else(|e| format!("error ({e})"), |n| n.to_string());
    format!(
        "completed {ok}/{total}; state file {} functions; {stats}; at exit {}; restored stale {}, without ttl {}",
        r.saved,
        r.saved_at_exit,
        n(&r.restored_stale),
        n(&r.restored_no_ttl)
    )
}

/// Why a `churn` run fails; empty when it passes.
pub fn churn_reasons(r: &ChurnRun) -> Vec<String> {
    let mut why = Vec::new();
    match &r.replay {
        Err(e) => why.push(format!("replay failed: {e}")),
        Ok((ok, total)) if *ok != *total || *total != SCHED_INVOCATIONS => {
            why.push(format!("only {ok}/{total} invocations completed"))
        }
        Ok(_) => {}
    }
    if r.saved < SCHED_FUNCTIONS {
        why.push(format!(
            "the state file held {} functions after the workload, not {SCHED_FUNCTIONS}",
            r.saved
        ));
    }
    if let Some(e) = &r.ejected {
        why.push(format!("scx_alps was ejected: {e}"));
    }
    match &r.stats {
        Err(e) => why.push(e.clone()),
        Ok(None) => why.push("no statistics snapshot".into()),
        Ok(Some(m)) => {
            if m.nr_forgotten < SCHED_FUNCTIONS as u64 {
                why.push(format!("{} functions forgotten after the ttl", m.nr_forgotten));
            }
            if m.nr_ids_recycled < SCHED_FUNCTIONS as u64 {
                why.push(format!("{} ids recycled once the cgroups were gone", m.nr_ids_recycled));
            }
            if !m.functions.is_empty() {
                why.push(format!("{} learned policies left after the ttl", m.functions.len()));
            }
        }
    }
    if r.saved_at_exit != 0 {
        why.push(format!(
            "the state file still held {} functions at exit",
            r.saved_at_exit
        ));
    }
    match &r.restored_stale {
        Ok(0) => {}
        Ok(n) => why.push(format!("a state file older than the ttl restored {n} functions")),
        Err(e) => why.push(format!("restart with the stale state file: {e}")),
    }
    match &r.restored_no_ttl {
        Ok(n) if *n == r.saved && *n > 0 => {}
        Ok(n) => why.push(format!("without a ttl {n} of {} functions restored", r.saved)),
        Err(e) => why.push(format!("restart without a ttl: {e}")),
    }
    why
}

/// Functions a loader log says it restored from its state file (its
/// "state file PATH: N functions" line).
pub fn restored_functions(log: &str) -> Option<usize> {
    log.lines().find_map(|l| {
        let (_, rest) = l.split_once("state file ")?;
        let (_, n) = rest.split_once(": ")?;
        n.split_whitespace().next()?.parse().ok()
    })
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

/// How the `hints` scenario's scx_alps learns where a warm worker's
/// requests begin and end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bounds {
    /// The workers wrap each request in alps-hint's begin/end.
    Hints,
    /// No hints; `--idle-gap-ms` [`HINTS_GAP_MS`].
    Gap,
    /// No hints and no gap: each worker is one task.
    Lifetime,
}

/// `--idle-gap-ms` of the `hints` scenario's gap run, ms: shorter than the
/// workers' gaps between requests (tens of ms), shorter also than class
/// 1's 75 ms sleep, which it therefore cuts.
pub const HINTS_GAP_MS: u64 = 20;

/// CPU a request costs beyond its work in the test VM, ms: under TCG a
/// new worker's first page faults and the two uprobe traps take
/// milliseconds, a 4 ms function's learned size doubles.
pub const HINTS_SLACK_MS: f64 = 5.0;

/// What the `hints` scenario observed in one replay of the sched plan on
/// warm workers (one per function, more on demand).
#[derive(Clone, Debug)]
pub struct HintsRun {
    /// Where the invocations' bounds came from.
    pub bounds: Bounds,
    /// The replay's (completed, total) requests, or why it failed.
    pub replay: Result<(usize, usize), String>,
    /// Why the scheduler was no longer attached after the replay, if so.
    pub ejected: Option<String>,
    /// The statistics snapshot after the replay, or why stopping failed.
    pub stats: Result<Option<Metrics>, String>,
    /// Mean CPU demand per request of each function in the plan, ms.
    pub demand_ms: Vec<(String, f64)>,
    /// Functions whose requests sleep (which an idle gap may cut).
    pub io_funcs: Vec<String>,
}

/// Learned mean CPU per invocation of function `name` in `m`, ms.
fn learned_cpu_ms(m: &Metrics, name: &str) -> Option<f64> {
    m.functions.iter().find(|f| f.name == name).map(|f| f.cpu_ms)
}

/// The figures of a `hints` run, for its PASS or FAIL line.
pub fn hints_figures(r: &HintsRun) -> String {
    let (ok, total) = r.replay.clone().unwrap_or((0, 0));
    let stats = match &r.stats {
        Ok(Some(m)) => {
            let learned: Vec<String> = r
                .demand_ms
                .iter()
                .map(|(f, d)| {
                    let l = learned_cpu_ms(m, f).map_or("-".into(), |c| format!("{c:.1}"));
                    format!("{f} {l} ms learned / {d:.1} ms demand")
                })
                .collect();
            format!(
                "records: {} by hint, {} by gap, {} by task; begins {}, ends {}, unpaired {}; {}",
                m.nr_records_hint,
                m.nr_records_gap,
                m.nr_records_task,
                m.nr_hint_begins,
                m.nr_hint_ends,
                m.nr_hint_unpaired,
                learned.join(", ")
            )
        }
        Ok(None) => "no statistics".into(),
        Err(e) => format!("stop failed: {e}"),
    };
    format!("completed {ok}/{total}; {stats}")
}

/// Why a `hints` run fails; empty when it passes. Hinted: one hint record
/// per request, no lost hint, and each function's learned CPU per
/// invocation within a factor of 2 of its demand per request (plus
/// [`HINTS_SLACK_MS`]). Gap: no hint
/// record, gap records, and the same factor for the functions that never
/// sleep. Lifetime: no hint or gap record at all.
pub fn hints_reasons(r: &HintsRun) -> Vec<String> {
    let mut why = Vec::new();
    match &r.replay {
        Err(e) => why.push(format!("replay failed: {e}")),
        Ok((ok, total)) if *ok != *total || *total != SCHED_INVOCATIONS => {
            why.push(format!("only {ok}/{total} requests completed"))
        }
        Ok(_) => {}
    }
    if let Some(e) = &r.ejected {
        why.push(format!("scx_alps was ejected during the workload: {e}"));
    }
    let m = match &r.stats {
        Err(e) => {
            why.push(e.clone());
            return why;
        }
        Ok(None) => {
            why.push("no statistics snapshot".into());
            return why;
        }
        Ok(Some(m)) => m,
    };
    let n = SCHED_INVOCATIONS as u64;
    let learned_right = |io_too: bool, why: &mut Vec<String>| {
        for (f, d) in r.demand_ms.iter().filter(|(f, _)| io_too || !r.io_funcs.contains(f)) {
            match learned_cpu_ms(m, f) {
                Some(c) if c >= d / 2.0 && c <= d * 2.0 + HINTS_SLACK_MS => {}
                Some(c) => why.push(format!(
                    "{f} learned {c:.1} ms per invocation for {d:.1} ms per request"
                )),
                None => why.push(format!("{f} not learned")),
            }
        }
    };
    if r.bounds == Bounds::Hints {
        if m.nr_records_hint != n || m.nr_hint_begins != n || m.nr_hint_ends != n {
            why.push(format!(
                "{} hint records, {} begins and {} ends for {n} requests",
                m.nr_records_hint, m.nr_hint_begins, m.nr_hint_ends
            ));
        }
        if m.nr_hint_unpaired != 0 {
            why.push(format!("{} unpaired hints", m.nr_hint_unpaired));
        }
        learned_right(true, &mut why);
        return why;
    }
    if m.nr_records_hint != 0 || m.nr_hint_begins != 0 {
        why.push(format!(
            "{} hint records and {} begins without hints",
            m.nr_records_hint, m.nr_hint_begins
        ));
    }
    match r.bounds {
        Bounds::Gap if m.nr_records_gap == 0 => why.push("no gap record with --idle-gap-ms".into()),
        Bounds::Gap => learned_right(false, &mut why),
        _ if m.nr_records_gap != 0 => why.push(format!("{} gap records without --idle-gap-ms", m.nr_records_gap)),
        _ => {}
    }
    why
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
    // A missing arm is `verify`'s finding (every arm of AB_ARMS is checked
    // there): not reported a second time.
    match s.arms.iter().find(|a| a.arm == AB_EXTRA) {
        None => {}
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

    fn good_churn() -> ChurnRun {
        ChurnRun {
            replay: Ok((SCHED_INVOCATIONS, SCHED_INVOCATIONS)),
            saved: 3,
            ejected: None,
            stats: Ok(Some(Metrics {
                nr_forgotten: 3,
                nr_ids_recycled: 3,
                ..Default::default()
            })),
            saved_at_exit: 0,
            restored_stale: Ok(0),
            restored_no_ttl: Ok(3),
        }
    }

    fn good_hints() -> HintsRun {
        let n = SCHED_INVOCATIONS as u64;
        let f = |name: &str, cpu_ms| FuncMetrics {
            name: name.into(),
            cpu_ms,
            ..Default::default()
        };
        HintsRun {
            bounds: Bounds::Hints,
            replay: Ok((SCHED_INVOCATIONS, SCHED_INVOCATIONS)),
            ejected: None,
            stats: Ok(Some(Metrics {
                nr_records_hint: n,
                nr_hint_begins: n,
                nr_hint_ends: n,
                functions: vec![f("a", 4.0), f("b", 110.0)],
                ..Default::default()
            })),
            demand_ms: vec![("a".into(), 4.2), ("b".into(), 117.0)],
            io_funcs: vec![],
        }
    }

    #[test]
    fn hints_rules_fail_on_each_fault() {
        assert!(
            hints_reasons(&good_hints()).is_empty(),
            "{:?}",
            hints_reasons(&good_hints())
        );
        type Fault = Box<dyn Fn(&mut HintsRun)>;
        let stats = |r: &mut HintsRun| -> Metrics { r.stats.clone().unwrap().unwrap() };
        let faults: Vec<(&str, Fault)> = vec![
            ("requests completed", Box::new(|r| r.replay = Ok((59, 60)))),
            ("ejected", Box::new(|r| r.ejected = Some("x".into()))),
            ("no statistics", Box::new(|r| r.stats = Ok(None))),
            (
                "hint records",
                Box::new(move |r| {
                    let mut m = stats(r);
                    m.nr_records_hint = 57;
                    r.stats = Ok(Some(m));
                }),
            ),
            (
                "59 ends",
                Box::new(move |r| {
                    let mut m = stats(r);
                    m.nr_hint_ends = 59;
                    r.stats = Ok(Some(m));
                }),
            ),
            (
                "unpaired",
                Box::new(move |r| {
                    let mut m = stats(r);
                    m.nr_hint_unpaired = 1;
                    r.stats = Ok(Some(m));
                }),
            ),
            (
                "b learned 2400.0 ms",
                Box::new(move |r| {
                    let mut m = stats(r);
                    m.functions[1].cpu_ms = 2400.0;
                    r.stats = Ok(Some(m));
                }),
            ),
            (
                "a not learned",
                Box::new(move |r| {
                    let mut m = stats(r);
                    m.functions.remove(0);
                    r.stats = Ok(Some(m));
                }),
            ),
            ("without hints", Box::new(|r| r.bounds = Bounds::Lifetime)),
            ("no gap record", Box::new(|r| r.bounds = Bounds::Gap)),
        ];
        for (want, fault) in faults {
            let mut r = good_hints();
            fault(&mut r);
            let why = hints_reasons(&r).join("; ");
            assert!(why.contains(want), "fault {want:?}: got {why:?}");
        }
        let mut quiet = good_hints();
        quiet.bounds = Bounds::Lifetime;
        quiet.stats = Ok(Some(Metrics::default()));
        assert!(hints_reasons(&quiet).is_empty(), "{:?}", hints_reasons(&quiet));
        let mut gap = good_hints();
        gap.bounds = Bounds::Gap;
        let mut m = gap.stats.clone().unwrap().unwrap();
        (m.nr_records_hint, m.nr_hint_begins, m.nr_records_gap) = (0, 0, 70);
        // An I/O function cut at its sleeps is the heuristic's known error.
        m.functions[0].cpu_ms = 1.0;
        gap.io_funcs = vec!["a".into()];
        gap.stats = Ok(Some(m.clone()));
        assert!(hints_reasons(&gap).is_empty(), "{:?}", hints_reasons(&gap));
        gap.io_funcs.clear();
        assert!(hints_reasons(&gap).join("; ").contains("a learned 1.0 ms"));
        quiet.stats = Ok(Some(Metrics {
            nr_records_gap: 3,
            ..Default::default()
        }));
        assert!(hints_reasons(&quiet).join("; ").contains("gap records without"));
    }

    #[test]
    fn churn_rules_fail_on_each_fault() {
        assert!(
            churn_reasons(&good_churn()).is_empty(),
            "{:?}",
            churn_reasons(&good_churn())
        );
        type Fault = Box<dyn Fn(&mut ChurnRun)>;
        let faults: Vec<(&str, Fault)> = vec![
            ("invocations completed", Box::new(|r| r.replay = Ok((59, 60)))),
            ("replay failed", Box::new(|r| r.replay = Err("x".into()))),
            ("held 1 functions", Box::new(|r| r.saved = 1)),
            ("ejected", Box::new(|r| r.ejected = Some("x".into()))),
            ("no statistics", Box::new(|r| r.stats = Ok(None))),
            (
                "2 functions forgotten",
                Box::new(|r| r.stats.as_mut().unwrap().as_mut().unwrap().nr_forgotten = 2),
            ),
            (
                "0 ids recycled",
                Box::new(|r| r.stats.as_mut().unwrap().as_mut().unwrap().nr_ids_recycled = 0),
            ),
            (
                "learned policies left",
                Box::new(|r| r.stats.as_mut().unwrap().as_mut().unwrap().functions = vec![FuncMetrics::default()]),
            ),
            ("at exit", Box::new(|r| r.saved_at_exit = 2)),
            ("restored 3 functions", Box::new(|r| r.restored_stale = Ok(3))),
            ("stale state file", Box::new(|r| r.restored_stale = Err("x".into()))),
            ("without a ttl 1 of 3", Box::new(|r| r.restored_no_ttl = Ok(1))),
        ];
        for (want, f) in faults {
            let mut r = good_churn();
            f(&mut r);
            let why = churn_reasons(&r).join("; ");
            assert!(why.contains(want), "{want}: {why}");
        }
        assert!(churn_figures(&good_churn()).contains("3 forgotten, 3 ids recycled"));
    }

    #[test]
    fn restored_counts_come_from_the_loader_log() {
        let log = "[INFO] state file /tmp/s.json: 3 functions, 60 invocations in the window\n";
        assert_eq!(restored_functions(log), Some(3));
        assert_eq!(restored_functions("[INFO] state file /x does not exist yet"), None);
        assert_eq!(restored_functions("nothing"), None);
    }

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
        let mut s = ab_summary();
        s.arms.retain(|a| a.arm != AB_EXTRA);
        assert!(ab_reasons(&s).is_empty(), "a missing arm is verify's to report");
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
