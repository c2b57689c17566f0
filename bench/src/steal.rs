//! CPU time the machine under the benchmark lost to its own host ("steal").
//!
//! The test VM runs on one host thread of single-threaded TCG; when the
//! machine that runs it is itself a virtual machine, its hypervisor takes
//! CPU from it now and then, and an arm's repetition that ran through such a
//! stretch is slower for reasons no scheduler controls. The guest cannot see
//! this (TCG has no steal clock), so the host side samples its own
//! `/proc/stat` into a file in the results directory, which the guest reads
//! before and after each measured replay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The file in a results directory that the host's sampler keeps current.
pub const HOST_STAT_FILE: &str = "host-stat";

/// The file in a results directory to which the sampler appends, once per
/// [`SAMPLE_PERIOD`], the largest CPU time (ms) the host stole from any one
/// of its CPUs in that period: one number per line.
pub const BURST_FILE: &str = "host-steal-bursts";

/// How often the sampler rewrites [`HOST_STAT_FILE`].
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(250);

/// Cumulative CPU ticks (USER_HZ) of a machine, all CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticks {
    /// Ticks stolen by the hypervisor.
    pub steal: u64,
    /// Ticks of every kind (user, nice, system, idle, iowait, irq, softirq,
    /// steal; guest time is already inside user and nice).
    pub total: u64,
}

/// The aggregate `cpu` line of a `/proc/stat` text. Errors when there is
/// none or it has fewer than the eight fields up to steal.
pub fn parse_proc_stat(text: &str) -> Result<Ticks> {
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no aggregate \"cpu\" line")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("unparsable cpu line {line:?}"))?;
    if v.len() < 8 {
        bail!("cpu line {line:?} has no steal field");
    }
    Ok(Ticks {
        steal: v[7],
        total: v.iter().sum(),
    })
}

/// Each `cpuN` line's steal ticks, in CPU order. Lines without a steal
/// field are skipped; an empty vector when there are none.
pub fn per_cpu_steal(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .filter_map(|l| l.split_whitespace().nth(8)?.parse().ok())
        .collect()
}

/// The largest steal of any one CPU between two [`per_cpu_steal`] readings,
/// in ms at `tick_hz` ticks per second; None when the CPU sets differ (a
/// CPU came or went) or a counter went backwards.
pub fn largest_cpu_steal_ms(a: &[u64], b: &[u64], tick_hz: u64) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() || tick_hz == 0 {
        return None;
    }
    let ticks = a
        .iter()
        .zip(b)
        .map(|(x, y)| y.checked_sub(*x))
        .collect::<Option<Vec<u64>>>()?;
    Some(ticks.into_iter().max()? as f64 * 1000.0 / tick_hz as f64)
}

/// Lines in the burst file so far: pass it to [`largest_burst_ms`] after
/// the measured stretch. 0 when there is no file yet.
pub fn burst_mark(out_dir: &Path) -> usize {
    std::fs::read_to_string(out_dir.join(BURST_FILE)).map_or(0, |t| t.lines().count())
}

/// The largest single-period steal (ms) the sampler recorded after line
/// `mark` of the burst file; None when it recorded none since (no sampler,
/// or a stretch shorter than a period).
pub fn largest_burst_ms(out_dir: &Path, mark: usize) -> Option<f64> {
    let text = std::fs::read_to_string(out_dir.join(BURST_FILE)).ok()?;
    // Only newline-terminated lines: the last one may be half written.
    let whole = text.rfind('\n').map_or("", |i| &text[..=i]);
    whole
        .lines()
        .skip(mark)
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .reduce(f64::max)
}

/// Percent of the CPU ticks between `a` and `b` that were stolen; None when
/// no tick passed (or the counters went backwards: another boot).
pub fn steal_pct(a: Ticks, b: Ticks) -> Option<f64> {
    let total = b.total.checked_sub(a.total).filter(|t| *t > 0)?;
    let steal = b.steal.checked_sub(a.steal)?;
    Some(100.0 * steal as f64 / total as f64)
}

/// The machine's ticks as seen from a run writing into `out_dir`: in the
/// test VM (`in_vm`) the host's, from its sampler's file (the guest's own
/// show no steal under TCG); elsewhere this machine's `/proc/stat`. None when
/// that source cannot be read.
pub fn read_ticks(out_dir: &Path, in_vm: bool) -> Option<Ticks> {
    let path = if in_vm {
        out_dir.join(HOST_STAT_FILE)
    } else {
        PathBuf::from("/proc/stat")
    };
    parse_proc_stat(&std::fs::read_to_string(path).ok()?).ok()
}

/// Copies this machine's `/proc/stat` into `dir/host-stat` every
/// [`SAMPLE_PERIOD`] until dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    bursts: PathBuf,
}

impl Sampler {
    /// Starts sampling into `dir`. Errors when `/proc/stat` cannot be read or
    /// the file cannot be written.
    pub fn start(dir: &Path) -> Result<Self> {
        let path = dir.join(HOST_STAT_FILE);
        let tmp = dir.join(format!("{HOST_STAT_FILE}.tmp"));
        let copy = {
            let (path, tmp) = (path.clone(), tmp.clone());
            move || -> std::io::Result<()> {
                // A rename replaces the file whole: a reader never sees half.
                std::fs::write(&tmp, std::fs::read("/proc/stat")?)?;
                std::fs::rename(&tmp, &path)
            }
        };
        copy().with_context(|| format!("cannot sample /proc/stat into {}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let bursts = dir.join(BURST_FILE);
        let _ = std::fs::remove_file(&bursts);
        // SAFETY: sysconf has no preconditions.
        let tick_hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
        let thread = std::thread::spawn(move || {
            let mut last = std::fs::read_to_string("/proc/stat").map_or_else(|_| Vec::new(), |t| per_cpu_steal(&t));
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(SAMPLE_PERIOD);
                let _ = copy();
                let now = std::fs::read_to_string("/proc/stat").map_or_else(|_| Vec::new(), |t| per_cpu_steal(&t));
                if let Some(ms) = largest_cpu_steal_ms(&last, &now, tick_hz) {
                    use std::io::Write;
                    let f = std::fs::OpenOptions::new().create(true).append(true).open(&bursts);
                    // One write per line: a reader sees whole lines or a partial last one.
                    let _ = f.and_then(|mut f| f.write_all(format!("{ms}\n").as_bytes()));
                }
                last = now;
            }
        });
        Ok(Self {
            stop,
            thread: Some(thread),
            path,
            bursts: dir.join(BURST_FILE),
        })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A later run on this host without the VM must not read stale ticks.
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.bursts);
    }
}

/// The report's section on the host's steal: per arm, the percent stolen
/// in each kept repetition and how many repetitions were run again. Empty
/// when no repetition knew its steal (the simulator).
pub fn section<'a>(arms: impl Iterator<Item = (&'a str, &'a [Option<f64>], usize)>) -> String {
    let arms: Vec<_> = arms.collect();
    if arms.iter().all(|(_, s, _)| s.iter().all(Option::is_none)) {
        return String::new();
    }
    let mut o = String::from(
        "\n## CPU the host took\n\n\
         Percent of the machine's CPU stolen by its own host during each measured repetition (the test \
         VM's host when run there): a repetition that ran through a stolen stretch is slower whatever \
         the scheduler. `ab --max-host-steal` and `host-work --max-steal-burst-ms` run such a repetition again.\n\n\
         | arm | stolen % per repetition | run again |\n|---|---|---:|\n",
    );
    for (arm, steal, reruns) in arms {
        let per: Vec<String> = steal
            .iter()
            .map(|x| x.map_or("?".into(), |v| format!("{v:.1}")))
            .collect();
        o += &format!("| {arm} | {} | {reruns} |\n", per.join(" / "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregate_line_gives_steal_and_total() {
        let t = parse_proc_stat("cpu  100 0 20 300 1 0 2 50 7 0\ncpu0 50 0 10 150 0 0 1 25 0 0\nintr 1\n").unwrap();
        assert_eq!(t, Ticks { steal: 50, total: 473 });
        assert!(parse_proc_stat("cpu0 1 2 3 4 5 6 7 8\n").is_err());
        assert!(parse_proc_stat("cpu  1 2 3 4\n").is_err());
        assert!(parse_proc_stat("cpu  1 2 x 4 5 6 7 8\n").is_err());
    }

    #[test]
    fn steal_is_a_share_of_the_ticks_between() {
        let a = Ticks { steal: 10, total: 1000 };
        let b = Ticks { steal: 30, total: 1200 };
        assert_eq!(steal_pct(a, b), Some(10.0));
        assert_eq!(steal_pct(a, a), None);
        assert_eq!(steal_pct(b, a), None);
    }

    #[test]
    fn the_section_lists_every_arm_or_nothing() {
        let none = [None, None];
        assert_eq!(section([("eevdf", &none[..], 0)].into_iter()), "");
        let some = [Some(3.25), None];
        let md = section([("eevdf", &none[..], 0), ("alps-io", &some[..], 2)].into_iter());
        assert!(md.contains("| eevdf | ? / ? | 0 |"), "{md}");
        assert!(md.contains("| alps-io | 3.2 / ? | 2 |"), "{md}");
    }

    #[test]
    fn bursts_are_the_largest_steal_of_one_cpu() {
        let a =
            per_cpu_steal("cpu  1 2 3 4 5 6 7 30 0 0\ncpu0 1 1 1 1 1 1 1 10 0 0\ncpu1 1 1 1 1 1 1 1 20 0 0\ncpu2 1\n");
        assert_eq!(a, vec![10, 20]);
        let b = per_cpu_steal("cpu0 1 1 1 1 1 1 1 17 0 0\ncpu1 1 1 1 1 1 1 1 21 0 0\n");
        assert_eq!(largest_cpu_steal_ms(&a, &b, 100), Some(70.0));
        assert_eq!(largest_cpu_steal_ms(&b, &a, 100), None);
        assert_eq!(largest_cpu_steal_ms(&a, &b[..1], 100), None);
    }

    #[test]
    fn the_largest_burst_counts_only_lines_after_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(burst_mark(dir.path()), 0);
        assert_eq!(largest_burst_ms(dir.path(), 0), None);
        std::fs::write(dir.path().join(BURST_FILE), "90\n0\n").unwrap();
        let mark = burst_mark(dir.path());
        assert_eq!(mark, 2);
        std::fs::write(dir.path().join(BURST_FILE), "90\n0\n10\n40\n7").unwrap();
        assert_eq!(largest_burst_ms(dir.path(), mark), Some(40.0));
        // "7" is a line still being written (perhaps "70"): not counted yet.
        std::fs::write(dir.path().join(BURST_FILE), "90\n0\n7").unwrap();
        assert_eq!(largest_burst_ms(dir.path(), mark), None);
        assert_eq!(largest_burst_ms(dir.path(), 5), None);
    }

    #[test]
    fn the_sampler_keeps_the_file_current_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sampler::start(dir.path()).unwrap();
        let t = read_ticks(dir.path(), true).expect("ticks from the sampler's file");
        assert!(t.total > 0);
        assert!(dir.path().join(HOST_STAT_FILE).is_file());
        std::thread::sleep(SAMPLE_PERIOD * 3);
        assert!(
            largest_burst_ms(dir.path(), 0).is_some_and(|ms| ms >= 0.0),
            "no burst line after three periods"
        );
        drop(s);
        assert!(!dir.path().join(HOST_STAT_FILE).exists());
        assert!(!dir.path().join(BURST_FILE).exists());
    }
}
