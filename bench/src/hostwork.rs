//! Work that belongs to no function, under each arm: what a FaaS host's own
//! daemons see. Two probes from Debian's rt-tests, both run as plain
//! SCHED_OTHER tasks (so the scheduler under test schedules them):
//!
//! - wake-up latency of a periodic task beside CPU hogs: `cyclictest`
//!   threads (one per CPU, 1 ms period, no real-time priority) while one
//!   CPU-bound hog per CPU runs;
//! - message-passing throughput: `hackbench` (groups of senders and
//!   receivers over sockets), its run time.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// What one repetition of the probes measured under one arm.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HostWorkRun {
    /// Arm name.
    pub arm: String,
    /// Repetition, 0-based.
    pub rep: usize,
    /// Mean over cyclictest threads of their average wake-up latency, us.
    pub latency_avg_us: f64,
    /// Largest wake-up latency of any cyclictest thread, us.
    pub latency_max_us: f64,
    /// hackbench run time, s.
    pub hackbench_s: f64,
    /// Percent of the machine's CPU its host stole during the probes.
    #[serde(default)]
    pub host_steal_pct: Option<f64>,
    /// The most the host stole from one of its CPUs within one sample period
    /// ([`crate::steal::SAMPLE_PERIOD`]) while cyclictest ran, ms.
    #[serde(default)]
    pub host_steal_burst_ms: Option<f64>,
    /// Times this arm's repetition was run before this one and discarded
    /// (`--max-steal-burst-ms`).
    #[serde(default)]
    pub run_again: usize,
    /// scx_alps's statistics since it attached, read with one `--monitor`
    /// snapshot right after cyclictest (the hogs stopped, hackbench not
    /// started): who waited longest, kicks, throttled wake-ups, guard. None
    /// for other arms.
    #[serde(default)]
    pub cyclictest_stats: Option<scx_alps::metrics::Metrics>,
}

/// Per-thread (average, maximum) latency, us, from cyclictest's summary
/// lines (`T: 0 ( 123) P: 0 I:1000 C: 8000 Min: 5 Act: 20 Avg: 30 Max: 900`).
///
/// Errors when no thread line is found.
pub fn parse_cyclictest(out: &str) -> Result<Vec<(f64, f64)>> {
    let field = |line: &str, key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let threads: Vec<(f64, f64)> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("T:"))
        .filter_map(|l| Some((field(l, "Avg:")?, field(l, "Max:")?)))
        .collect();
    if threads.is_empty() {
        bail!("cyclictest printed no thread summary; its output was:\n{out}");
    }
    Ok(threads)
}

/// hackbench's run time in seconds, from its `Time: 4.123` line.
///
/// Errors when the line is missing.
pub fn parse_hackbench(out: &str) -> Result<f64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Time:").and_then(|t| t.trim().parse().ok()))
        .with_context(|| format!("hackbench printed no \"Time:\" line; its output was:\n{out}"))
}

/// The probes' settings.
#[derive(Clone, Debug)]
pub struct Probes {
    /// cyclictest's duration.
    pub duration: Duration,
    /// CPUs (cyclictest threads and hogs).
    pub cpus: usize,
    /// hackbench groups.
    pub hackbench_groups: u32,
    /// hackbench loops.
    pub hackbench_loops: u32,
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}: install rt-tests (scripts/setup does)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs the probes under whatever scheduler is attached. `hog` is a command
/// that burns one CPU until killed; `between` runs after cyclictest (hogs
/// stopped), before hackbench.
pub fn run_probes(p: &Probes, hog: &[String], between: impl FnOnce()) -> Result<(f64, f64, f64)> {
    let mut hogs = Vec::new();
    for _ in 0..p.cpus {
        hogs.push(
            Command::new(&hog[0])
                .args(&hog[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot start the CPU hog {}", hog.join(" ")))?,
        );
    }
    let cyc = output(
        Command::new("cyclictest").args([
            "-q",
            "-m",
            "-t",
            &p.cpus.to_string(),
            "-i",
            "1000",
            "-D",
            &format!("{}s", p.duration.as_secs().max(1)),
        ]),
        "cyclictest",
    );
    for h in hogs.iter_mut() {
        let _ = h.kill();
        let _ = h.wait();
    }
    between();
    let threads = parse_cyclictest(&cyc?)?;
    let avg = threads.iter().map(|t| t.0).sum::<f64>() / threads.len() as f64;
    let max = threads.iter().map(|t| t.1).fold(0.0, f64::max);
    let hb = output(
        Command::new("hackbench").args([
            "-g",
            &p.hackbench_groups.to_string(),
            "-l",
            &p.hackbench_loops.to_string(),
        ]),
        "hackbench",
    )?;
    Ok((avg, max, parse_hackbench(&hb)?))
}

/// One figure of a run.
type Metric = fn(&HostWorkRun) -> f64;

/// The Markdown report of `runs`, arms in `arms` order, ratios to the first
/// arm (the baseline) with 95 % confidence intervals over repetitions.
pub fn markdown(runs: &[HostWorkRun], arms: &[String], kernel: &str) -> String {
    let of =
        |arm: &str, f: fn(&HostWorkRun) -> f64| -> Vec<f64> { runs.iter().filter(|r| r.arm == arm).map(f).collect() };
    let metrics: [(&str, Metric); 3] = [
        ("cyclictest avg us", |r| r.latency_avg_us),
        ("cyclictest max us", |r| r.latency_max_us),
        ("hackbench s", |r| r.hackbench_s),
    ];
    let reps = runs.iter().map(|r| r.rep).max().map_or(0, |m| m + 1);
    let mut o = format!(
        "# Host work: wake-up latency beside CPU hogs, hackbench\n\n- kernel {kernel}, {reps} repetition(s) per arm, ratios to `{}` with 95 % confidence intervals\n\n| arm |",
        arms.first().map_or("", |a| a.as_str())
    );
    for (m, _) in &metrics {
        o += &format!(" {m} (mean ± CI) | ratio |");
    }
    o += "\n|---|";
    for _ in &metrics {
        o += "---:|---:|";
    }
    o += "\n";
    let base = arms.first().cloned().unwrap_or_default();
    for arm in arms {
        o += &format!("| {arm} |");
        for (_, f) in &metrics {
            let (m, h) = crate::stats::mean_ci95(&of(arm, *f));
            let r = crate::stats::ratio_ci95(&of(arm, *f), &of(&base, *f));
            let mean = match h {
                Some(h) => format!("{m:.1} ± {h:.1}"),
                None => format!("{m:.1}"),
            };
            let ratio = match r.ci95 {
                Some(h) => format!("{:.2} [{:.2}, {:.2}]", r.value, r.value - h, r.value + h),
                None => format!("{:.2}", r.value),
            };
            o += &format!(" {mean} | {ratio} |");
        }
        o += "\n";
    }
    let steal: Vec<(String, Vec<Option<f64>>, usize)> = arms
        .iter()
        .map(|a| {
            let mine = runs.iter().filter(|r| &r.arm == a);
            (
                a.clone(),
                mine.clone().map(|r| r.host_steal_pct).collect(),
                mine.map(|r| r.run_again).sum(),
            )
        })
        .collect();
    o += &crate::steal::section(steal.iter().map(|(a, s, n)| (a.as_str(), s.as_slice(), *n)));
    o += &bursts(runs, arms);
    o += &sched_stats(runs, arms);
    o
}

/// Per repetition of a scx_alps arm, its statistics since attach as read
/// right after cyclictest: the longest runnable wait and its task, wake-up
/// kicks, wake-ups held back by a quantum, guard promotions. Empty when no
/// run has them.
fn sched_stats(runs: &[HostWorkRun], arms: &[String]) -> String {
    if runs.iter().all(|r| r.cyclictest_stats.is_none()) {
        return String::new();
    }
    let mut o = String::from(
        "\nscx_alps from attach to the end of cyclictest (hogs started and stopped included), per \
         repetition: longest runnable wait (its task), wake-up \
         preemption kicks, wake-ups held back by a quantum, tick preemptions, guard promotions:\n\n\
         | arm | rep | longest wait ms (task) | kicks | held back | tick preempts | guard |\n|---|---:|---|---:|---:|---:|---:|\n",
    );
    for arm in arms {
        for r in runs.iter().filter(|r| &r.arm == arm) {
            if let Some(m) = &r.cyclictest_stats {
                o += &format!(
                    "| {arm} | {} | {:.1} ({}) | {} | {} | {} | {} |\n",
                    r.rep + 1,
                    m.max_wait_ms,
                    m.max_wait_task,
                    m.nr_preempt_kicks,
                    m.nr_throttled,
                    m.nr_tick_preempts,
                    m.nr_guard
                );
            }
        }
    }
    o
}

/// The table of the host's largest one-sample steal per repetition beside
/// cyclictest's maximum: a wake-up later than the steal around it is the
/// scheduler's. Empty when no repetition knew it.
fn bursts(runs: &[HostWorkRun], arms: &[String]) -> String {
    if runs.iter().all(|r| r.host_steal_burst_ms.is_none()) {
        return String::new();
    }
    let mut o = String::from(
        "\nLargest CPU time the host stole from one of its CPUs within one 250 ms sample, ms, beside \
         cyclictest's largest wake-up latency, ms, per repetition (`host-work --max-steal-burst-ms` \
         runs a repetition again above a bound):\n\n| arm | steal burst / wake-up max, ms |\n|---|---|\n",
    );
    for arm in arms {
        let per: Vec<String> = runs
            .iter()
            .filter(|r| &r.arm == arm)
            .map(|r| {
                let b = r.host_steal_burst_ms.map_or("?".into(), |b| format!("{b:.0}"));
                format!("{b} / {:.1}", r.latency_max_us / 1000.0)
            })
            .collect();
        o += &format!("| {arm} | {} |\n", per.join(" · "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclictest_summaries_parse() {
        let out = "# /dev/cpu_dma_latency set to 0us\n\
                   T: 0 (  231) P: 0 I:1000 C:   7998 Min:      9 Act:   45 Avg:  176 Max:    1498\n\
                   T: 1 (  232) P: 0 I:1500 C:   5332 Min:     11 Act:   50 Avg:  180 Max:    3120\n";
        assert_eq!(parse_cyclictest(out).unwrap(), vec![(176.0, 1498.0), (180.0, 3120.0)]);
        assert!(parse_cyclictest("nothing here").is_err());
    }

    #[test]
    fn reports_give_ratios_to_the_first_arm() {
        let run = |arm: &str, rep, a, m, h| HostWorkRun {
            arm: arm.into(),
            rep,
            latency_avg_us: a,
            latency_max_us: m,
            hackbench_s: h,
            host_steal_pct: (rep == 0).then_some(4.0),
            host_steal_burst_ms: (rep == 1).then_some(70.0),
            run_again: rep,
            cyclictest_stats: (arm == "alps-io" && rep == 0).then(|| scx_alps::metrics::Metrics {
                max_wait_ms: 25.5,
                max_wait_task: "123 (cyclictest)".into(),
                nr_throttled: 7,
                ..Default::default()
            }),
        };
        let runs = vec![
            run("eevdf", 0, 200.0, 2000.0, 8.0),
            run("eevdf", 1, 200.0, 2000.0, 8.0),
            run("alps-io", 0, 100.0, 3000.0, 4.0),
            run("alps-io", 1, 100.0, 3000.0, 4.0),
        ];
        let md = markdown(&runs, &["eevdf".into(), "alps-io".into()], "6.12");
        assert!(md.contains("| alps-io | 100.0 ± 0.0 | 0.50 [0.50, 0.50] | 3000.0 ± 0.0 | 1.50 [1.50, 1.50] | 4.0 ± 0.0 | 0.50 [0.50, 0.50] |"), "{md}");
        assert!(md.contains("| alps-io | 4.0 / ? | 1 |"), "{md}");
        assert!(md.contains("| alps-io | ? / 3.0 · 70 / 3.0 |"), "{md}");
        assert!(
            md.contains("| alps-io | 1 | 25.5 (123 (cyclictest)) | 0 | 7 | 0 | 0 |"),
            "{md}"
        );
        assert!(!md.contains("| eevdf | 1 |"), "{md}");
    }

    #[test]
    fn hackbench_time_parses() {
        let out = "Running in process mode with 4 groups using 40 file descriptors each (== 160 tasks)\n\
                   Each sender will pass 100 messages of 100 bytes\nTime: 4.012\n";
        assert_eq!(parse_hackbench(out).unwrap(), 4.012);
        assert!(parse_hackbench("Time: soon").is_err());
    }
}
