//! Command line of `scx_alps` and its validation.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Parser;

use crate::layouts::CgroupLayout;
use crate::learner::{LearnerConfig, PolicyKind};
use crate::tagging::{DEFAULT_CGROUP_PATTERN, DEFAULT_COMM_PATTERN, FuncPattern};

const US: u64 = 1_000;
const MS: u64 = 1_000_000;

/// The kernel's sched_ext watchdog timeout we register (ops.timeout_ms).
pub const WATCHDOG_MS: u64 = 5000;

/// Default minimum quantum of `--policy alps-io`, us. Chosen by measurement
/// (README, "Choosing the alps-io defaults"): 8 ms (ALPS's simulation
/// quantum) cost 5 points of mean FCT on the study's full trace at 16 CPUs
/// in the simulator, 2 ms kept most of the I/O-only scenario's gain.
pub const DEFAULT_MIN_QUANTUM_US: u64 = 2000;

/// Default `--host-half-life-ms`: how fast the recent CPU of work that
/// belongs to no function fades while it sleeps, ms.
pub const DEFAULT_HOST_HALF_LIFE_MS: u64 = 10;

/// Default `--host-quantum-us` (include/intf.h, shared with the BPF
/// program): the CPU a task keeps before a waking task
/// of no function may preempt it (of its stint for a synchronous wake-up, of
/// its burst otherwise), us. 3 ms: in the VM's host-work benchmark hackbench
/// ran 1.27x EEVDF's time at 3 ms and 1.48x at 1 ms (3 repetitions each).
pub const DEFAULT_HOST_QUANTUM_US: u64 = crate::bpf_intf::alps_consts_ALPS_DFL_HOST_QUANTUM_US as u64;

/// Default `--func-ttl-s`: a function unseen for a day is forgotten (most
/// functions of Azure's traces run at least daily; a version retired
/// today should not rank tomorrow's), s.
pub const DEFAULT_FUNC_TTL_S: u64 = 86_400;

/// How a task is mapped to its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FuncIdSource {
    /// The task's cgroup v2 path, matched against --func-pattern.
    Cgroup,
    /// The task's command name (comm), matched against --func-pattern.
    Comm,
}

/// scx_alps: a sched_ext scheduler for serverless (FaaS) hosts.
///
/// Learns, per function, an SRPT rank and a time slice from recent
/// invocations (ALPS, USENIX ATC '24) and enforces them in BPF. The I/O-aware
/// variant (--policy alps-io, the default) stops I/O-bound functions from
/// passing as short jobs. Run as root on Linux 6.12+ with sched_ext.
#[derive(Clone, Debug, Parser)]
#[command(name = "scx_alps", version, disable_version_flag = true)]
pub struct Opts {
    /// Scheduling policy: plain ALPS, or ALPS with the I/O-aware rank
    /// penalty and minimum quantum.
    #[arg(long, value_enum, default_value_t = PolicyKind::AlpsIo)]
    pub policy: PolicyKind,

    /// Shortest slice of a task placed by attained service (unknown
    /// functions, work of no function); deeper levels get longer ones, us.
    #[arg(long, default_value_t = 8000)]
    pub slice_us: u64,

    /// Smallest learned slice, us.
    #[arg(long, default_value_t = 500)]
    pub slice_min_us: u64,

    /// Largest learned slice, us (ALPS caps slices at 200 ms).
    #[arg(long, default_value_t = 200_000)]
    pub slice_max_us: u64,

    /// Invocations kept in the learner's sliding window (ALPS: 100).
    #[arg(long, default_value_t = 100)]
    pub window: usize,

    /// alps-io: invocations kept per function to learn its size distribution.
    #[arg(long, default_value_t = 64)]
    pub history: usize,

    /// Interval between learner updates, ms (ALPS: about 10 s).
    #[arg(long, default_value_t = 10_000)]
    pub learn_interval_ms: u64,

    /// Non-preemption quantum of the learner's SRPT simulation, us (ALPS: 8 ms).
    #[arg(long, default_value_t = 8000)]
    pub quantum_us: u64,

    /// ALPS alpha: slice = min(alpha * mu, slice max) - beta * sigma.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,

    /// ALPS beta: weight of the stint deviation sigma in the slice.
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,

    /// ALPS gamma: divisor of the overload slice scaling.
    #[arg(long, default_value_t = 1.0)]
    pub gamma: f64,

    /// ALPS theta: CPU utilisation (percent) above which slices shrink.
    #[arg(long, default_value_t = 50.0)]
    pub theta: f64,

    /// alps-io only: learn from CPU time alone, ignoring blocked time and
    /// sleeps (an ablation: no function is treated as I/O-bound).
    #[arg(long)]
    pub no_io_signals: bool,

    /// alps-io only: time a running task keeps the CPU before a wake-up of an
    /// I/O-bound function (or a better task found at a tick) may preempt it,
    /// us [default: 2000].
    #[arg(long)]
    pub min_quantum_us: Option<u64>,

    /// Bound on any task's runnable wait, ms; the starvation guard serves a
    /// task once it has waited half of it. Must stay below the 5 s sched_ext watchdog.
    #[arg(long, default_value_t = 1000)]
    pub starvation_ms: u64,

    /// Half-life of the recent CPU of work that belongs to no function while
    /// it sleeps, ms: that work is placed by its recent CPU.
    #[arg(long, default_value_t = DEFAULT_HOST_HALF_LIFE_MS)]
    pub host_half_life_ms: u64,

    /// CPU since its last wake-up a task keeps before a waking task of no
    /// function may preempt it, us (a CPU hog has always had it, so a daemon
    /// waking beside it runs at once; producer-consumer host work does not
    /// preempt itself at every message).
    #[arg(long, default_value_t = DEFAULT_HOST_QUANTUM_US)]
    pub host_quantum_us: u64,

    /// Keep what the learner knows in this file (JSON): read at start, so a
    /// restarted service starts trained, written every learning interval
    /// and at exit. An unreadable file is reported and replaced.
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,

    /// Forget a function whose latest invocation is older than this, s (0:
    /// never): its learned policy is cleared, its id recycled once no
    /// cgroup or comm is tagged with it, and a state file does not restore
    /// it.
    #[arg(long, default_value_t = DEFAULT_FUNC_TTL_S, value_name = "S")]
    pub func_ttl_s: u64,

    /// Do not kick CPUs on wake-up (levels still order the queues).
    #[arg(long)]
    pub no_wakeup_preemption: bool,

    /// What identifies a task's function.
    #[arg(long, value_enum, default_value_t = FuncIdSource::Cgroup)]
    pub func_id: FuncIdSource,

    /// Regex mapping a cgroup path (relative to --cgroup-root) or a comm to a
    /// function name: first capture group, or the whole match
    /// [default: "^faas/([^/]+)" for cgroup, "^(.+)$" for comm].
    #[arg(long, conflicts_with = "cgroup_layout")]
    pub func_pattern: Option<String>,

    /// A platform's cgroup layout, for --func-id cgroup: sets --func-pattern
    /// to where that platform puts a function (faas, faasd) or an instance
    /// of one (a container, pod, pool slot or microVM); docs/operating.md.
    #[arg(long, value_enum, value_name = "LAYOUT")]
    pub cgroup_layout: Option<CgroupLayout>,

    /// A program or shared library whose threads mark each request they
    /// serve with alps_invocation_begin/_end (include/alps_hint.h, the
    /// alps-hint crate): each begin-end span on a thread is one invocation
    /// of the function the hint names. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub hint_binary: Vec<PathBuf>,

    /// Warm workers without hints: a function's task that wakes after
    /// sleeping at least this long, ms, ends one invocation and starts the
    /// next (0: off). I/O sleeps that long inside a request cut it too.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub idle_gap_ms: u64,

    /// Ignore cgroup cpu.weight: every function counts as the default weight
    /// and each level stays FIFO. By default, once a function's cgroups have
    /// a cpu.weight other than 100 (Docker's --cpu-shares, Kubernetes' CPU
    /// requests), invocations at one level share the CPU by weight.
    #[arg(long)]
    pub ignore_cgroup_weight: bool,

    /// Where cgroup v2 is mounted.
    #[arg(long, default_value = "/sys/fs/cgroup")]
    pub cgroup_root: PathBuf,

    /// Interval between cgroup tree scans for new function cgroups, ms.
    #[arg(long, default_value_t = 1000)]
    pub tag_interval_ms: u64,

    /// Size of the invocation-record ring buffer, KiB (power of two, >= 4).
    #[arg(long, default_value_t = 256)]
    pub ringbuf_kb: u32,

    /// Print statistics every SECS seconds while scheduling.
    #[arg(long, value_name = "SECS")]
    pub stats: Option<f64>,

    /// Attach to a running scx_alps and print its statistics every SECS
    /// seconds; does not load a scheduler.
    #[arg(long, value_name = "SECS")]
    pub monitor: Option<f64>,

    /// Print statistics as JSON lines instead of text (--stats, --monitor).
    #[arg(long)]
    pub json: bool,

    /// Describe every statistic and exit.
    #[arg(long)]
    pub help_stats: bool,

    /// Size of the kernel's debug dump on error exits, bytes (0 = the
    /// kernel's default).
    #[arg(long, default_value_t = 0)]
    pub exit_dump_len: u32,

    /// Verbose output, including libbpf's.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Print the version and exit.
    #[arg(short = 'V', long)]
    pub version: bool,
}

/// Validated settings, in the units the scheduler uses (ns).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Learner parameters.
    pub learner: LearnerConfig,
    /// Shortest slice of tasks placed by attained service, ns.
    pub slice_dfl_ns: u64,
    /// Minimum quantum before a throttled preemption, ns (0 = off).
    pub min_quantum_ns: u64,
    /// Bound on runnable waits, ns.
    pub starvation_ns: u64,
    /// Half-life of host work's recent CPU while asleep, ns.
    pub host_half_life_ns: u64,
    /// Burst (CPU since the last wake-up) before a host wake-up may preempt, ns.
    pub host_quantum_ns: u64,
    /// The compiled function pattern.
    pub pattern: FuncPattern,
    /// The pattern's source text.
    pub pattern_src: String,
    /// Learner update interval, ms.
    pub learn_interval_ms: u64,
    /// Cgroup scan interval, ms.
    pub tag_interval_ms: u64,
    /// Functions unseen this long are forgotten, ns (0: never).
    pub func_ttl_ns: u64,
}

fn check_interval(name: &str, v: Option<f64>) -> Result<()> {
    if let Some(v) = v
        && (!v.is_finite() || v <= 0.0 || v > 86_400.0)
    {
        bail!("{name} must be a number of seconds in (0, 86400], got {v}");
    }
    Ok(())
}

impl Opts {
    /// Checks every value and converts to [`Settings`]; `nr_cpus` is the
    /// host's CPU count (for the learner's SRPT simulation).
    ///
    /// Errors name the offending flag, the accepted range and the value given.
    pub fn settings(&self, nr_cpus: usize) -> Result<Settings> {
        if self.slice_min_us == 0 {
            bail!("--slice-min-us must be at least 1");
        }
        if self.slice_min_us > self.slice_max_us {
            bail!(
                "--slice-min-us ({}) must not exceed --slice-max-us ({})",
                self.slice_min_us,
                self.slice_max_us
            );
        }
        if self.slice_us < self.slice_min_us || self.slice_us > self.slice_max_us {
            bail!(
                "--slice-us must be within [--slice-min-us, --slice-max-us] = [{}, {}], got {}",
                self.slice_min_us,
                self.slice_max_us,
                self.slice_us
            );
        }
        if self.slice_max_us * US >= WATCHDOG_MS * MS / 2 {
            bail!(
                "--slice-max-us must stay below half the {WATCHDOG_MS} ms watchdog, got {}",
                self.slice_max_us
            );
        }
        if self.window < 2 || self.window > 1_000_000 {
            bail!("--window must be in 2..=1000000 invocations, got {}", self.window);
        }
        if self.history < 1 || self.history > 4096 {
            bail!("--history must be in 1..=4096 invocations, got {}", self.history);
        }
        if self.host_quantum_us * US >= WATCHDOG_MS * MS / 4 {
            bail!("--host-quantum-us must stay below {} us", WATCHDOG_MS * 1000 / 4);
        }
        if self.host_half_life_ms < 1 || self.host_half_life_ms > 60_000 {
            bail!(
                "--host-half-life-ms must be in 1..=60000, got {}",
                self.host_half_life_ms
            );
        }
        if self.learn_interval_ms < 100 || self.learn_interval_ms > 3_600_000 {
            bail!(
                "--learn-interval-ms must be in 100..=3600000, got {}",
                self.learn_interval_ms
            );
        }
        if self.tag_interval_ms < 10 || self.tag_interval_ms > 3_600_000 {
            bail!(
                "--tag-interval-ms must be in 10..=3600000, got {}",
                self.tag_interval_ms
            );
        }
        for (name, v) in [("--alpha", self.alpha), ("--gamma", self.gamma)] {
            if !v.is_finite() || v <= 0.0 || v > 100.0 {
                bail!("{name} must be in (0, 100], got {v}");
            }
        }
        if !self.beta.is_finite() || !(0.0..=100.0).contains(&self.beta) {
            bail!("--beta must be in [0, 100], got {}", self.beta);
        }
        if !self.theta.is_finite() || !(0.0..=100.0).contains(&self.theta) {
            bail!("--theta must be a percentage in [0, 100], got {}", self.theta);
        }
        let io = self.policy == PolicyKind::AlpsIo;
        if !io && (self.no_io_signals || self.min_quantum_us.is_some()) {
            bail!("--no-io-signals and --min-quantum-us belong to --policy alps-io; --policy alps has neither");
        }
        let min_quantum_us = if io {
            self.min_quantum_us.unwrap_or(DEFAULT_MIN_QUANTUM_US)
        } else {
            0
        };
        if min_quantum_us * US >= WATCHDOG_MS * MS / 4 {
            bail!("--min-quantum-us must stay below {} us", WATCHDOG_MS * 1000 / 4);
        }
        if self.starvation_ms < 10 || self.starvation_ms >= WATCHDOG_MS {
            bail!(
                "--starvation-ms must be in 10..{WATCHDOG_MS} (below the sched_ext watchdog), got {}",
                self.starvation_ms
            );
        }
        if self.quantum_us == 0 || self.quantum_us > 10_000_000 {
            bail!("--quantum-us must be in 1..=10000000, got {}", self.quantum_us);
        }
        if self.ringbuf_kb < 4 || !self.ringbuf_kb.is_power_of_two() || self.ringbuf_kb > 1 << 20 {
            bail!(
                "--ringbuf-kb must be a power of two in 4..=1048576, got {}",
                self.ringbuf_kb
            );
        }
        if let Some(p) = &self.state_file {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() || p.is_dir() {
                bail!(
                    "--state-file {}: needs a file in an existing directory (it is created at the first learning interval)",
                    p.display()
                );
            }
        }
        check_interval("--stats", self.stats)?;
        check_interval("--monitor", self.monitor)?;
        for bin in &self.hint_binary {
            if !bin.is_file() {
                bail!(
                    "--hint-binary {}: no such file (name the worker program or shared library that calls alps_invocation_begin)",
                    bin.display()
                );
            }
        }
        if self.cgroup_layout.is_some() && self.func_id != FuncIdSource::Cgroup {
            bail!("--cgroup-layout names cgroup paths: it needs --func-id cgroup");
        }
        let pattern_src = self.func_pattern.clone().unwrap_or_else(|| {
            match (self.func_id, self.cgroup_layout) {
                (FuncIdSource::Cgroup, Some(l)) => l.pattern(),
                (FuncIdSource::Cgroup, None) => DEFAULT_CGROUP_PATTERN,
                (FuncIdSource::Comm, _) => DEFAULT_COMM_PATTERN,
            }
            .to_string()
        });
        let pattern = FuncPattern::new(&pattern_src)?;
        if self.func_id == FuncIdSource::Cgroup && !self.cgroup_root.is_dir() {
            bail!(
                "--cgroup-root {} is not a directory: point it at the cgroup v2 mount (usually /sys/fs/cgroup)",
                self.cgroup_root.display()
            );
        }

        let learner = LearnerConfig {
            kind: self.policy,
            window: self.window,
            history: self.history,
            nr_cpus: nr_cpus.max(1),
            quantum_ns: self.quantum_us * US,
            alpha: self.alpha,
            beta: self.beta,
            gamma: self.gamma,
            theta_pct: self.theta,
            slice_min_ns: self.slice_min_us * US,
            slice_max_ns: self.slice_max_us * US,
            io_signals: io && !self.no_io_signals,
            ..LearnerConfig::default()
        };
        Ok(Settings {
            learner,
            slice_dfl_ns: self.slice_us * US,
            min_quantum_ns: min_quantum_us * US,
            starvation_ns: self.starvation_ms * MS,
            host_half_life_ns: self.host_half_life_ms * MS,
            host_quantum_ns: self.host_quantum_us * US,
            pattern,
            pattern_src,
            learn_interval_ms: self.learn_interval_ms,
            tag_interval_ms: self.tag_interval_ms,
            func_ttl_ns: self.func_ttl_s.saturating_mul(1000 * MS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Opts, clap::Error> {
        Opts::try_parse_from(std::iter::once("scx_alps").chain(args.iter().copied()))
    }

    fn settings_err(args: &[&str]) -> String {
        format!("{:#}", parse(args).unwrap().settings(2).unwrap_err())
    }

    #[test]
    fn defaults_follow_alps_and_enable_the_io_variant() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.policy, PolicyKind::AlpsIo);
        let s = o.settings(16).unwrap();
        assert_eq!(s.learner.window, 100);
        assert_eq!(s.learner.quantum_ns, 8 * MS);
        assert_eq!(s.learner.slice_max_ns, 200 * MS);
        assert_eq!(
            (s.learner.alpha, s.learner.beta, s.learner.gamma, s.learner.theta_pct),
            (1.0, 1.0, 1.0, 50.0)
        );
        assert_eq!(s.learner.nr_cpus, 16);
        assert!(s.learner.io_signals);
        assert_eq!(s.learner.history, 64);
        assert_eq!(s.min_quantum_ns, 2 * MS);
        assert_eq!(s.host_half_life_ns, DEFAULT_HOST_HALF_LIFE_MS * MS);
        assert_eq!(s.starvation_ns, 1000 * MS);
        assert_eq!(s.pattern_src, DEFAULT_CGROUP_PATTERN);
        assert_eq!(s.learn_interval_ms, 10_000);
    }

    #[test]
    fn plain_alps_has_neither_penalty_nor_quantum() {
        let s = parse(&["--policy", "alps"]).unwrap().settings(2).unwrap();
        assert_eq!(s.min_quantum_ns, 0);
        assert!(!s.learner.io_signals);
        assert_eq!(s.learner.kind, PolicyKind::Alps);
        let err = settings_err(&["--policy", "alps", "--min-quantum-us", "100"]);
        assert!(err.contains("alps-io"), "{err}");
    }

    #[test]
    fn comm_mode_defaults_to_the_whole_comm() {
        let s = parse(&["--func-id", "comm"]).unwrap().settings(2).unwrap();
        assert_eq!(s.pattern_src, DEFAULT_COMM_PATTERN);
        assert_eq!(s.pattern.function_of("fib"), Some("fib"));
    }

    #[test]
    fn a_cgroup_layout_sets_the_pattern() {
        let s = parse(&["--cgroup-layout", "kubepods-systemd"])
            .unwrap()
            .settings(2)
            .unwrap();
        assert_eq!(s.pattern_src, CgroupLayout::KubepodsSystemd.pattern());
        assert_eq!(
            s.pattern
                .function_of("kubepods.slice/kubepods-pod1_2.slice/cri-containerd-ab.scope"),
            Some("1_2")
        );
        assert!(parse(&["--cgroup-layout", "docker", "--func-pattern", "x"]).is_err());
        assert!(parse(&["--cgroup-layout", "lambda"]).is_err());
        let err = settings_err(&["--cgroup-layout", "faasd", "--func-id", "comm"]);
        assert!(err.contains("--func-id cgroup"), "{err}");
    }

    #[test]
    fn unknown_flags_and_values_are_clap_errors() {
        assert!(parse(&["--policy", "cfs"]).is_err());
        assert!(parse(&["--history", "many"]).is_err());
        // Flags of the rank-position design are gone.
        assert!(parse(&["--ranks", "8"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--func-id", "pid"]).is_err());
        assert!(parse(&["--slice-us", "-5"]).is_err());
    }

    #[test]
    fn out_of_range_values_name_the_flag() {
        for (args, flag) in [
            (&["--history", "0"][..], "--history"),
            (&["--host-half-life-ms", "0"][..], "--host-half-life-ms"),
            (&["--policy", "alps", "--no-io-signals"][..], "alps-io"),
            (&["--slice-us", "100"][..], "--slice-us"),
            (&["--slice-min-us", "0"][..], "--slice-min-us"),
            (&["--slice-min-us", "300000"][..], "--slice-min-us"),
            (
                &["--slice-max-us", "3000000", "--slice-us", "8000"][..],
                "--slice-max-us",
            ),
            (&["--window", "1"][..], "--window"),
            (&["--learn-interval-ms", "5"][..], "--learn-interval-ms"),
            (&["--alpha", "0"][..], "--alpha"),
            (&["--alpha", "NaN"][..], "--alpha"),
            (&["--beta=-1"][..], "--beta"),
            (&["--theta", "101"][..], "--theta"),
            (&["--min-quantum-us", "2000000"][..], "--min-quantum-us"),
            (&["--starvation-ms", "5000"][..], "--starvation-ms"),
            (&["--starvation-ms", "1"][..], "--starvation-ms"),
            (&["--ringbuf-kb", "100"][..], "--ringbuf-kb"),
            (&["--stats", "0"][..], "--stats"),
            (&["--monitor=-1"][..], "--monitor"),
            (&["--func-pattern", "faas/("][..], "--func-pattern"),
            (&["--quantum-us", "0"][..], "--quantum-us"),
            (&["--tag-interval-ms", "1"][..], "--tag-interval-ms"),
            (&["--cgroup-root", "/nonexistent/cgroup"][..], "--cgroup-root"),
            (&["--state-file", "/nonexistent/dir/state.json"][..], "--state-file"),
            (&["--state-file", "/"][..], "--state-file"),
        ] {
            let err = settings_err(args);
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }
}

#[cfg(test)]
mod readme_tests {
    use std::collections::BTreeMap;

    use clap::CommandFactory;

    use super::Opts;

    /// The README's flag table: flag -> default cell.
    fn readme_flags() -> BTreeMap<String, String> {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let table = readme.split("### Flags").nth(1).expect("a Flags section");
        table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (
                    cells[1].trim_matches('`').to_string(),
                    cells[2].trim_matches('`').to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_readme_flag_table_matches_the_help() {
        let table = readme_flags();
        let cmd = Opts::command();
        let mut seen = Vec::new();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            let name = format!("--{long}");
            let cell = table
                .get(&name)
                .unwrap_or_else(|| panic!("{name} missing from the README's flag table"));
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            match defaults.as_slice() {
                [] => assert!(
                    matches!(cell.as_str(), "off" | "none") || name == "--func-pattern" || name == "--min-quantum-us",
                    "{name}: README says {cell:?}, --help has no default"
                ),
                [d] => assert_eq!(cell, d, "{name}: README default {cell:?}, --help {d:?}"),
                more => panic!("{name}: several defaults {more:?}"),
            }
            seen.push(name);
        }
        // Defaults that depend on other flags, from their one definition.
        assert_eq!(table["--min-quantum-us"], super::DEFAULT_MIN_QUANTUM_US.to_string());
        assert!(table["--func-pattern"].contains(crate::tagging::DEFAULT_CGROUP_PATTERN));
        for name in table.keys() {
            assert!(
                seen.contains(name),
                "the README lists {name}, which --help does not have"
            );
        }
    }
}
