//! The command line of alps-bench: one struct of arguments per command.

use std::path::PathBuf;

use alps_bench::exec::Runtime;
use alps_bench::sim::SimPolicy;
use alps_bench::trace::Format;
use alps_bench::workload::Scenario;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(
    name = "alps-bench",
    version,
    about = "A/B benchmark and simulator for scx_alps on FaaS traces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
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
    /// Work of no function under each arm, as the host's daemons see it:
    /// wake-up latency of a periodic task beside CPU hogs (cyclictest) and
    /// message-passing run time (hackbench), from Debian's rt-tests.
    HostWork(HostWorkArgs),
    /// BPF cost per callback of scx_alps and of peer schedulers in the same
    /// boot, while they schedule a plan (bpf_stats_enabled + bpftool).
    BpfCost(BpfCostArgs),
    /// Simulate the plan of an A/B run and say, per class and arm, whether
    /// the simulator and the run agree in sign against the baseline.
    Agree(AgreeArgs),
    /// Mean and P99 FCT per arm over a range of offered loads, in the VM
    /// (an `ab` run per load) or in the simulator (--sim): a table and a plot.
    Sweep(SweepArgs),
    /// Internal: run a plan under whatever scheduler is attached.
    #[command(hide = true)]
    Replay(ReplayArgs),
    /// Internal: a scheduler test that needs sched_ext (scripts/vm-tests
    /// runs it in the test VM); prints PASS or FAIL lines.
    #[command(hide = true)]
    Vmtest(VmTestArgs),
    /// Internal: burn one CPU until killed (the host-work probes' hog).
    #[command(hide = true)]
    Burn,
    /// Internal: the weight scenario's load (two saturated functions in
    /// `--parent`); prints the CPU each got, us, as JSON.
    #[command(hide = true)]
    ShareLoad(ShareLoadArgs),
    /// Internal: run the command a host without sched_ext handed to the VM.
    #[command(hide = true)]
    Guest(GuestArgs),
}

/// The scenarios of `alps-bench vmtest`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VmTest {
    /// Each policy attaches, schedules and learns 60 invocations of three
    /// functions in per-function cgroups, and detaches cleanly.
    Sched,
    /// A short A/B of the mixed scenario (the default arms and an extra arm
    /// through `--extra-arm`): every invocation completes in every arm, the
    /// reports parse, every scx_alps arm reports its counters.
    Ab,
    /// Function churn: after the sched plan, with --func-ttl-s 3, every
    /// function is forgotten, its policy cleared and its id recycled; a
    /// state file older than the ttl restores nothing, with no ttl all.
    Churn,
    /// Invocation bounds of warm workers: the sched plan on warm workers
    /// (one per function and more on demand, in instance cgroups), hinted,
    /// unhinted with --idle-gap-ms, and unhinted; hinted, each request is
    /// one invocation record and each function learns its CPU per request.
    /// Prints the cost of a begin/end pair with and without the uprobes.
    Hints,
    /// cgroup cpu.weight: two saturated CPU-bound functions with weights
    /// 100 and 25 under EEVDF, scx_alps and scx_alps
    /// --ignore-cgroup-weight, interleaved; the light one's CPU over the
    /// heavy one's per arm, with 95 % confidence intervals.
    Weight,
}

#[derive(Args)]
pub struct VmTestArgs {
    /// The scenario.
    #[arg(value_enum)]
    pub test: VmTest,
    /// Directory for the scenario's files (trace, plan, logs, results).
    #[arg(long, default_value = "/tmp/alps-vm-tests")]
    pub out: PathBuf,
    /// The scx_alps binary [default: next to alps-bench].
    #[arg(long)]
    pub scx_alps: Option<PathBuf>,
    /// The study's trace (ab) [default: data/traces/study_workload.txt in
    /// the checkout].
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Extra flags for every scx_alps the sched scenario starts (ab runs its
    /// arms with `alps-bench ab`'s own defaults).
    #[arg(long, env = "ALPS_EXTRA_FLAGS", default_value = "", allow_hyphen_values = true)]
    pub alps_flags: String,
    /// Repetitions per arm (weight).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: u32,
}

#[derive(Args)]
pub struct ShareLoadArgs {
    /// The cgroup the two function cgroups are in.
    #[arg(long)]
    pub parent: PathBuf,
}

#[derive(Args)]
pub struct GuestArgs {
    /// The call (JSON, written by the host side).
    #[arg(long)]
    pub call: PathBuf,
}

/// A command the host hands to the test VM, with its parsed arguments.
#[derive(Serialize, Deserialize)]
pub enum GuestCall {
    Ab(AbArgs),
    HostWork(HostWorkArgs),
    BpfCost(BpfCostArgs),
}

/// Where a command that loads schedulers runs.
#[derive(Args, Clone, Serialize, Deserialize)]
pub struct VmArgs {
    /// Where the arms run.
    #[arg(long, value_enum, default_value_t = VmMode::Auto)]
    pub vm: VmMode,
    /// VM kernel: 6.12, 7.2 or a kernel image path.
    #[arg(long, default_value = "6.12")]
    pub kernel: String,
    /// VM CPUs.
    #[arg(long, default_value_t = 2)]
    pub vm_cpus: usize,
    /// VM memory.
    #[arg(long, default_value = "2G")]
    pub vm_memory: String,
    /// Internal: already inside the VM.
    #[arg(long, hide = true)]
    pub in_vm: bool,
}

#[derive(Args, Clone, Serialize, Deserialize)]
pub struct HostWorkArgs {
    /// Arms, comma-separated: eevdf, alps, alps-io.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,alps-io")]
    pub arms: Vec<String>,
    /// Extra arm NAME=COMMAND, e.g. bpfland=scx_bpfland (repeatable).
    #[arg(long)]
    pub extra_arm: Vec<String>,
    /// Repetitions of every arm (interleaved).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// cyclictest duration, s.
    #[arg(long, default_value_t = 8)]
    pub duration: u64,
    /// hackbench groups.
    #[arg(long, default_value_t = 4)]
    pub groups: u32,
    /// hackbench loops.
    #[arg(long, default_value_t = 100)]
    pub loops: u32,
    /// Extra flags for every scx_alps arm.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub alps_flags: String,
    /// The scx_alps binary [default: next to alps-bench].
    #[arg(long)]
    pub scx_alps: Option<PathBuf>,
    /// Results directory [default: results/host-work-<time>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub vm: VmArgs,
    /// Run an arm's repetition again when the machine's own host stole more
    /// than this many ms from one of its CPUs within one 250 ms sample while
    /// the probes ran (a wake-up that late is the host's, not the
    /// scheduler's); 0 never runs one again.
    #[serde(default)]
    #[arg(long, default_value_t = 0.0)]
    pub max_steal_burst_ms: f64,
    /// Runs again allowed per arm and repetition under --max-steal-burst-ms.
    #[serde(default = "default_steal_retries")]
    #[arg(long, default_value_t = default_steal_retries())]
    pub steal_retries: usize,
}

#[derive(Args, Clone, Serialize, Deserialize)]
pub struct BpfCostArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Peer arm NAME=COMMAND, e.g. bpfland=scx_bpfland (repeatable).
    #[arg(long)]
    pub extra_arm: Vec<String>,
    /// Extra flags for scx_alps.
    #[arg(long, default_value = "--learn-interval-ms 1000", allow_hyphen_values = true)]
    pub alps_flags: String,
    /// The scx_alps binary [default: next to alps-bench].
    #[arg(long)]
    pub scx_alps: Option<PathBuf>,
    /// Repetitions; the arms' order alternates between them, so neither
    /// arm always runs first.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: u32,
    /// Results directory [default: results/bpf-cost-<time>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub vm: VmArgs,
}

#[derive(Args)]
pub struct SandboxArgs {
    /// Command and arguments.
    #[arg(trailing_var_arg = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Args)]
pub struct SimArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    #[command(flatten)]
    pub model: SimModelArgs,
    /// scx_alps flags for both scx_alps models (one string, split like a
    /// shell would), e.g. "--window 200"; the default matches `ab`'s arms.
    #[arg(long, default_value = "--learn-interval-ms 1000", allow_hyphen_values = true)]
    pub alps_flags: String,
    /// Repeat the plan this many times back to back.
    #[arg(long, default_value_t = 1)]
    pub tile: usize,
    /// Results directory [default: results/sim-<scenario>-<cpus>cpu-<time>].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The simulated machine and its policies.
#[derive(Args, Clone, Serialize, Deserialize)]
pub struct SimModelArgs {
    /// Simulated CPUs (the study used 16).
    #[arg(long, default_value_t = 16)]
    pub cpus: usize,
    /// Policies, comma-separated: fifo, eevdf, alps, alps-io, and the bounds
    /// srpt (clairvoyant), gittins and las (size-blind). The first is the
    /// baseline of the deltas.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,alps,alps-io,srpt,gittins")]
    pub policies: Vec<SimPolicy>,
    /// CPU time lost per context switch, us.
    #[arg(long, default_value_t = 5.0)]
    pub cs_cost_us: f64,
    /// EEVDF base slice of the fair-share model, us.
    #[arg(long, default_value_t = 3000)]
    pub fair_slice_us: u64,
    /// Scheduler ticks per second of the sched_ext models (6.12 test kernel:
    /// 1000; Debian's kernels: 250).
    #[arg(long, default_value_t = 1000)]
    pub hz: u32,
    /// CPU the real-time load generator spends per spawn, us (0: free).
    /// In the TCG test VM a fork costs about 7000 (README, "The simulator").
    #[arg(long, default_value_t = 0)]
    pub spawn_cost_us: u64,
    /// CPU each invocation spends starting up and exiting, us. In the TCG
    /// test VM about 4500.
    #[arg(long, default_value_t = 0)]
    pub start_cost_us: u64,
    /// Extra scx_alps flags for the alps-io model only, e.g.
    /// --alps-io-flags="--no-io-signals".
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub alps_io_flags: String,
}

/// A group of arguments at its defaults, from the one definition in its
/// `#[arg]` attributes.
pub fn defaults<T: Args + clap::FromArgMatches>() -> T {
    let m = T::augment_args(clap::Command::new("defaults")).get_matches_from(["defaults"]);
    // A group whose every argument has a default parses from nothing; the
    // tests check the groups that are used so.
    T::from_arg_matches(&m).expect("argument group with defaults")
}

#[derive(Args)]
pub struct AgreeArgs {
    /// Results directory of an `ab` run (plan.json, summary.json).
    pub dir: PathBuf,
    #[command(flatten)]
    pub costs: AgreeCosts,
}

/// The simulated machine's costs for `agree`; its CPUs, arms and scx_alps
/// flags come from the run.
#[derive(Args, Clone, Serialize, Deserialize)]
pub struct AgreeCosts {
    /// Scheduler ticks per second [default: 250 for a Debian kernel (its
    /// release names "+deb"), else 1000 (the 6.12 test kernel)].
    #[arg(long)]
    pub hz: Option<u32>,
    /// CPU the load generator spends per spawn, us (the TCG test VM's,
    /// docs/results.md).
    #[arg(long, default_value_t = 3000)]
    pub spawn_cost_us: u64,
    /// CPU each invocation spends starting up and exiting, us (the TCG test
    /// VM's).
    #[arg(long, default_value_t = 5000)]
    pub start_cost_us: u64,
}

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub ab: AbArgs,
    /// Offered loads, comma-separated fractions of the machine.
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2")]
    pub loads: Vec<f64>,
    /// Simulate instead of running the arms (the --sim-* options, --cpus
    /// and --policies apply; --alps-flags is shared).
    #[arg(long)]
    pub sim: bool,
    #[command(flatten)]
    pub model: SimModelArgs,
}

#[derive(Args)]
pub struct SimSpeedArgs {
    /// Trace to tile (study format).
    #[arg(long)]
    pub trace: PathBuf,
    /// Offered load: CPU demand per second of arrivals over CPU capacity
    /// (the work scale is set to reach it); the full mixed trace offers 2.2x
    /// the capacity of 16 CPUs at work scale 1, an ever-growing backlog.
    #[arg(long, default_value_t = 0.8)]
    pub load: f64,
    /// Invocations to simulate per policy.
    #[arg(long, default_value_t = 1_000_000)]
    pub invocations: usize,
    /// Simulated CPUs.
    #[arg(long, default_value_t = 16)]
    pub cpus: usize,
    /// Policies to time.
    #[arg(long, value_delimiter = ',', default_value = "fifo,eevdf,alps,alps-io,srpt")]
    pub policies: Vec<SimPolicy>,
}

#[derive(Args, Clone, Serialize, Deserialize)]
pub struct TraceArgs {
    /// Trace file (or Azure 2019 directory).
    #[arg(long)]
    pub trace: PathBuf,
    /// Trace format [default: detected from the content].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Workload mix (the I/O study's scenarios) [default: mixed for the
    /// study's trace, cpu for the others].
    #[arg(long, value_enum)]
    pub scenario: Option<Scenario>,
    /// First entries to use, 0 for all [default: 200 for mixed, 1000 otherwise].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Entries to skip before the first one used [default: --warmup].
    #[arg(long)]
    pub skip: Option<usize>,
    /// Replay the N entries before the measured ones first, unmeasured, under
    /// each learning arm (the same scheduler instance then runs the measured
    /// ones): the arm's trained run, reported beside its untrained one.
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,
    /// Offered CPU load as a fraction of the machine: arrival times are
    /// scaled so that CPU demand / (span x CPUs) equals it (work and sleeps
    /// untouched) [default: the trace's own arrival times].
    #[arg(long)]
    pub load: Option<f64>,
    /// Multiplies arrival times and sleeps (after the format's own factor).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Multiplies CPU demands; "auto" = CPUs / 16 (the study's machine), so
    /// each CPU carries the study's load.
    #[arg(long, default_value = "auto")]
    pub work_scale: String,
    /// Seed of every random choice (Azure 2019 sampling).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum VmMode {
    /// Use the VM only when this kernel lacks sched_ext.
    Auto,
    /// Always run the arms in the VM.
    Always,
    /// Never: fail if this kernel lacks sched_ext.
    Never,
}

#[derive(Args, Clone, Serialize, Deserialize)]
pub struct AbArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Arms, comma-separated: eevdf (the kernel's default scheduler), oracle
    /// (the default scheduler, each invocation niced by its known size), alps,
    /// alps-io, alps-io-noio (alps-io without its I/O signals, an ablation).
    /// With --warmup every scheduler arm also runs trained ("<arm>/trained").
    #[arg(long, value_delimiter = ',', default_value = "eevdf,oracle,alps,alps-io")]
    pub arms: Vec<String>,
    /// Extra arm NAME=COMMAND, e.g. bpfland=scx_bpfland (repeatable).
    #[arg(long)]
    pub extra_arm: Vec<String>,
    /// Repetitions of every arm (interleaved).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Extra flags for every scx_alps arm (one string, split like a shell
    /// would; `--alps-flags "--window 50"` works).
    #[arg(long, default_value = "--learn-interval-ms 1000", allow_hyphen_values = true)]
    pub alps_flags: String,
    /// Pause between a trained arm's warm-up replay and its measured one, ms:
    /// at least one learning interval, so the learner has seen the warm-up.
    #[arg(long, default_value_t = 1500)]
    pub settle_ms: u64,
    /// The scx_alps binary [default: next to alps-bench].
    #[arg(long)]
    pub scx_alps: Option<PathBuf>,
    /// Results directory [default: results/<scenario>-<time>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub vm: VmArgs,
    /// SCHED_FIFO priority of the load generator; 0 runs it as a normal task.
    #[arg(long, default_value_t = 10)]
    pub rt_prio: i32,
    /// Seconds a scheduler may take to attach.
    #[arg(long, default_value_t = 60)]
    pub attach_timeout: u64,
    /// Run an arm's repetition again when the machine's own host stole more
    /// than this percent of its CPU during the measured replay (the report
    /// gives every repetition's figure); 0 never runs one again.
    #[serde(default)]
    #[arg(long, default_value_t = 0.0)]
    pub max_host_steal: f64,
    /// Runs again allowed per arm and repetition under --max-host-steal.
    #[serde(default = "default_steal_retries")]
    #[arg(long, default_value_t = default_steal_retries())]
    pub steal_retries: usize,
    /// How invocations run: fork (a process each, forked into its
    /// function's cgroup), warm or warm:N (N long-lived workers per
    /// function started first, default 1, one instance cgroup each, requests
    /// over pipes, one more started when a request finds all busy), or
    /// warm:auto (each function's pool provisioned for the plan's peak
    /// concurrency at 16x its demand); each warm request hinted to scx_alps
    /// with alps-hint unless --no-hints.
    #[serde(default = "default_runtime")]
    #[arg(long, default_value = "fork")]
    pub runtime: Runtime,
    /// With a warm runtime: workers do not hint their requests, so scx_alps
    /// sees one long-lived task per worker.
    #[serde(default)]
    #[arg(long)]
    pub no_hints: bool,
}

/// `--runtime`'s default, also for a call written before the flag.
fn default_runtime() -> Runtime {
    Runtime::Fork
}

/// `--steal-retries`' default, also for a call written before the flag.
const fn default_steal_retries() -> usize {
    2
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// CPUs the plan is scaled for (work scale auto).
    #[arg(long, default_value_t = 2)]
    pub cpus: usize,
    /// Write the plan as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Results directory of an A/B run.
    pub dir: PathBuf,
    /// Arms that must be present.
    #[arg(long, value_delimiter = ',', default_value = "eevdf,alps,alps-io")]
    pub arms: Vec<String>,
}

#[derive(Args)]
pub struct ReplayArgs {
    #[arg(long)]
    pub plan: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub rt_prio: i32,
    #[arg(long)]
    pub no_rt: bool,
    #[arg(long, default_value = "/sys/fs/cgroup/faas")]
    pub cgroup_parent: PathBuf,
    #[arg(long, default_value_t = 900)]
    pub drain_timeout_s: u64,
    /// Run each invocation at its oracle nice value.
    #[arg(long)]
    pub oracle: bool,
    /// fork, warm, warm:N or warm:auto (see `alps-bench ab --runtime`).
    #[arg(long, default_value = "fork")]
    pub runtime: Runtime,
    /// With a warm runtime: no hints.
    #[arg(long)]
    pub no_hints: bool,
}

impl TraceArgs {
    /// Every entry of `trace` as the mixed scenario, at the trace's own
    /// arrival times, work scaled by `work_scale` ("auto" or a factor).
    pub fn whole_mixed(trace: PathBuf, work_scale: &str) -> Self {
        Self {
            trace,
            format: None,
            scenario: Some(Scenario::Mixed),
            limit: Some(0),
            skip: None,
            warmup: 0,
            load: None,
            time_scale: 1.0,
            work_scale: work_scale.into(),
            seed: 1,
        }
    }

    /// A short name of the run for result directories: the scenario, or the
    /// trace file's stem.
    pub fn stem(&self) -> String {
        match self.scenario {
            Some(s) => s.to_string(),
            None => self
                .trace
                .file_stem()
                .map_or("run".into(), |s| s.to_string_lossy().into_owned()),
        }
    }
}

#[cfg(test)]
mod default_groups {
    use super::{AgreeCosts, SimModelArgs, defaults};

    #[test]
    fn groups_parse_at_their_defaults() {
        let m = defaults::<SimModelArgs>();
        assert_eq!((m.cpus, m.hz, m.fair_slice_us, m.spawn_cost_us), (16, 1000, 3000, 0));
        let c = defaults::<AgreeCosts>();
        assert_eq!((c.hz, c.spawn_cost_us, c.start_cost_us), (None, 3000, 5000));
    }
}

/// Every command example in the README parses: a renamed or removed flag, or a
/// value clap would take for a flag, fails here rather than for a user.
#[cfg(test)]
mod readme_examples {
    use clap::Parser;
    use clap::error::ErrorKind;

    use super::{Cli, Cmd};

    /// The README's command examples, as argument vectors: every command
    /// line of its fenced blocks, and every inline span that passes a flag.
    /// A command is `scx_alps`, `alps-bench` (either possibly as
    /// `target/release/...`) or `scripts/ab` (which runs
    /// `alps-bench ab --trace <shipped trace> [--scenario mixed] ARGS`), after
    /// an optional `sudo` and `VAR=value` prefixes; `# ...` ends it.
    fn examples() -> Vec<(String, Vec<String>)> {
        let readme = include_str!("../../README.md");
        let mut spans: Vec<(String, bool)> = Vec::new();
        let mut fenced = false;
        let mut continued = String::new();
        for line in readme.lines() {
            if line.starts_with("```") {
                fenced = !fenced;
            } else if fenced {
                // A trailing `\` continues the command on the next line.
                match line.strip_suffix('\\') {
                    Some(head) => continued.push_str(head),
                    None => spans.push((std::mem::take(&mut continued) + line, true)),
                }
            } else {
                spans.extend(line.split('`').skip(1).step_by(2).map(|s| (s.to_string(), false)));
            }
        }
        let mut out = Vec::new();
        for (text, in_block) in spans {
            let starts_a_command = [
                "scx_alps",
                "sudo scx_alps",
                "alps-bench",
                "scripts/ab",
                "target/release/",
            ]
            .iter()
            .any(|c| text.trim_start().starts_with(c));
            let Some(words) = shlex::split(&text) else {
                assert!(!starts_a_command, "README example `{text}` does not split into words");
                continue;
            };
            let mut words: Vec<String> = words.into_iter().take_while(|w| !w.starts_with('#')).collect();
            while words
                .first()
                .is_some_and(|w| w == "sudo" || (w.contains('=') && !w.starts_with('-')))
            {
                words.remove(0);
            }
            if let Some(w) = words.first_mut()
                && let Some(bin) = w.strip_prefix("target/release/")
            {
                *w = bin.to_string();
            }
            let Some(cmd) = words.first() else { continue };
            if !matches!(cmd.as_str(), "scx_alps" | "alps-bench" | "scripts/ab") {
                continue;
            }
            if !in_block && !words.iter().any(|w| w.starts_with('-')) {
                continue; // a mention of the command, not an example
            }
            out.push((text, words));
        }
        out
    }

    /// `[--x]` marks an optional part: both forms must parse.
    fn variants(words: &[String]) -> Vec<Vec<String>> {
        let without: Vec<String> = words.iter().filter(|w| !w.starts_with('[')).cloned().collect();
        let with: Vec<String> = words.iter().map(|w| w.trim_matches(['[', ']']).to_string()).collect();
        if with == without {
            vec![with]
        } else {
            vec![with, without]
        }
    }

    #[test]
    fn every_readme_example_parses() {
        let ex = examples();
        let kinds = |c: &str| ex.iter().filter(|(_, w)| w[0] == c).count();
        assert!(
            kinds("scx_alps") >= 5 && kinds("scripts/ab") >= 2 && kinds("alps-bench") >= 1,
            "{ex:?}"
        );
        for (text, words) in &ex {
            for w in variants(words) {
                let r = match w[0].as_str() {
                    "scx_alps" => scx_alps::opts::Opts::try_parse_from(&w).map(|_| ()),
                    "alps-bench" => Cli::try_parse_from(&w).map(|_| ()),
                    _ => {
                        let mut args = vec![
                            "alps-bench".into(),
                            "ab".into(),
                            "--trace".into(),
                            "data/traces/study_workload.txt".into(),
                        ];
                        if !w.iter().any(|a| a.starts_with("--scenario")) {
                            args.extend(["--scenario".into(), "mixed".into()]);
                        }
                        args.extend(w[1..].iter().cloned());
                        Cli::try_parse_from(&args).map(|_| ())
                    }
                };
                match r {
                    Ok(()) => {}
                    Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {}
                    Err(e) => panic!("README example `{text}` does not parse:\n{e}"),
                }
            }
        }
    }

    #[test]
    fn a_flag_string_may_start_with_a_dash() {
        let cli = Cli::try_parse_from([
            "alps-bench",
            "ab",
            "--trace",
            "t.txt",
            "--alps-flags",
            "--learn-interval-ms 500",
        ])
        .unwrap();
        let Cmd::Ab(ab) = cli.cmd else { panic!("not ab") };
        assert_eq!(ab.alps_flags, "--learn-interval-ms 500");
    }
}
