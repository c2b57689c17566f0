//! The A/B runner: for each repetition and arm, starts the arm's scheduler,
//! checks it really is the one attached, replays the plan under it in a
//! separate (single-threaded, SCHED_FIFO) process, stops the scheduler and
//! checks the kernel is back on its default scheduler.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use scx_alps::metrics::Metrics;
use scx_alps::preflight::{ScxState, scx_state};

use crate::exec::{InvocationResult, Runtime};
use crate::report::ArmRun;

/// One arm of the comparison.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ArmSpec {
    /// Name used in reports.
    pub name: String,
    /// Scheduler command; None runs on the kernel's default scheduler.
    pub cmd: Option<Vec<String>>,
    /// Expected prefix of /sys/kernel/sched_ext/root/ops (None: any).
    pub ops_prefix: Option<String>,
    /// Invocations run at their oracle nice values (the oracle arm).
    pub oracle: bool,
    /// The scheduler replays the warm-up plan before the measured one.
    pub trained: bool,
}

/// Suffix of a trained arm's name.
pub const TRAINED: &str = "/trained";

/// Builds the arms from `--arms` names and `--extra-arm NAME=COMMAND`
/// entries. `scx_alps` is the scheduler binary, `alps_flags` extra flags for
/// every scx_alps arm. With `warmup`, every scheduler arm is followed by its
/// trained twin.
///
/// Errors on unknown names, duplicate names and empty extra commands.
pub fn parse_arms(
    names: &[String],
    extra: &[String],
    scx_alps: &Path,
    alps_flags: &[String],
    warmup: bool,
) -> Result<Vec<ArmSpec>> {
    let alps = |name: &str, policy: &str, more: &[&str]| {
        // As the service runs it: no --stats. A dump every second costs the
        // loader tens of ms of CPU under TCG that the EEVDF arm never pays;
        // the report's counters come from one --monitor snapshot at the end
        // (finish_arm).
        let mut cmd = vec![scx_alps.display().to_string(), "--policy".into(), policy.into()];
        cmd.extend(more.iter().map(|s| s.to_string()));
        cmd.extend(alps_flags.iter().cloned());
        ArmSpec {
            name: name.into(),
            cmd: Some(cmd),
            ops_prefix: Some("alps".into()),
            ..ArmSpec::default()
        }
    };
    let mut arms = Vec::new();
    for n in names {
        let arm = match n.as_str() {
            "eevdf" | "default" | "cfs" => ArmSpec {
                name: "eevdf".into(),
                ..ArmSpec::default()
            },
            "oracle" => ArmSpec {
                name: "oracle".into(),
                oracle: true,
                ..ArmSpec::default()
            },
            "alps" | "alps-io" => alps(n, n, &[]),
            "alps-io-noio" => alps(n, "alps-io", &["--no-io-signals"]),
            other => bail!(
                "unknown arm {other:?}: use eevdf, oracle, alps, alps-io, alps-io-noio, or --extra-arm NAME=COMMAND"
            ),
        };
        arms.push(arm);
    }
    for e in extra {
        let Some((name, cmd)) = e.split_once('=') else {
            bail!("--extra-arm wants NAME=COMMAND (e.g. bpfland=scx_bpfland), got {e:?}");
        };
        let cmd = shlex::split(cmd).with_context(|| format!("--extra-arm {e:?}: unbalanced quotes"))?;
        if name.is_empty() || cmd.is_empty() {
            bail!("--extra-arm wants NAME=COMMAND with both parts non-empty, got {e:?}");
        }
        arms.push(ArmSpec {
            name: name.to_string(),
            cmd: Some(cmd),
            ..ArmSpec::default()
        });
    }
    if warmup {
        arms = arms
            .into_iter()
            .flat_map(|a| {
                let twin = a.cmd.is_some().then(|| ArmSpec {
                    name: format!("{}{TRAINED}", a.name),
                    trained: true,
                    ..a.clone()
                });
                std::iter::once(a).chain(twin)
            })
            .collect();
    }
    let mut seen = std::collections::HashSet::new();
    for a in &arms {
        if !seen.insert(a.name.clone()) {
            bail!("arm {:?} is listed twice", a.name);
        }
    }
    if arms.is_empty() {
        bail!("no arms to run");
    }
    Ok(arms)
}

/// Order of the arms in repetition `rep`: rotated by one each repetition,
/// so that every arm runs early and late (drift shows as noise, not bias).
pub fn rotation<T: Clone>(arms: &[T], rep: usize) -> Vec<T> {
    let k = rep % arms.len().max(1);
    arms[k..].iter().chain(arms[..k].iter()).cloned().collect()
}

fn sysfs() -> &'static Path {
    Path::new("/sys")
}

fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

/// The last `lines` lines of a file (empty when it cannot be read), for an
/// error's or a FAIL line's context.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// A scheduler started for an arm.
pub struct RunningSched {
    child: Child,
    log: PathBuf,
    /// ops name the kernel reported once attached.
    pub ops: String,
    last_stats: Arc<Mutex<Option<Metrics>>>,
}

impl RunningSched {
    /// Starts `cmd` with its stderr in `log` and waits until sched_ext is
    /// enabled with an ops name starting with `ops_prefix`.
    ///
    /// Errors when another scheduler is attached, the command cannot start,
    /// exits early, or does not attach within `timeout`.
    pub fn start(cmd: &[String], ops_prefix: Option<&str>, log: &Path, timeout: Duration) -> Result<Self> {
        match scx_state(sysfs()) {
            ScxState::Disabled => {}
            ScxState::Absent => bail!("this kernel has no sched_ext: run the A/B in the VM (--vm always)"),
            other => bail!(
                "sched_ext is not idle before starting {} ({other:?}): stop the running scheduler",
                cmd[0]
            ),
        }
        let logf = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .with_context(|| format!("cannot start {}", cmd.join(" ")))?;
        // Keep the last JSON statistics line the scheduler prints (scx_alps
        // with --stats N --json); copy other lines to the log.
        let last_stats = Arc::new(Mutex::new(None));
        if let Some(out) = child.stdout.take() {
            let sink = last_stats.clone();
            let mut logc = std::fs::OpenOptions::new().append(true).open(log)?;
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    match serde_json::from_str::<Metrics>(&line) {
                        Ok(v) => {
                            if let Ok(mut s) = sink.lock() {
                                *s = Some(v);
                            }
                        }
                        _ => {
                            use std::io::Write;
                            let _ = writeln!(logc, "{line}");
                        }
                    }
                }
            });
        }
        let mut ops = String::new();
        let attached = wait_for(timeout, || {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            if let ScxState::Enabled(Some(o)) = scx_state(sysfs())
                && ops_prefix.is_none_or(|p| o.starts_with(p))
            {
                ops = o;
                return true;
            }
            false
        });
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "{} exited ({status}) before attaching; its log ends with:\n{}",
                cmd[0],
                tail(log, 15)
            );
        }
        if !attached || ops.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} did not attach within {:?} (sched_ext state {:?}); its log ends with:\n{}",
                cmd[0],
                timeout,
                scx_state(sysfs()),
                tail(log, 15)
            );
        }
        Ok(Self {
            child,
            log: log.to_path_buf(),
            ops,
            last_stats,
        })
    }

    /// Errors unless the scheduler is still the attached one.
    pub fn check_active(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "the scheduler exited during the run ({status}); the kernel fell back to its default. Log:\n{}",
                tail(&self.log, 15)
            );
        }
        match scx_state(sysfs()) {
            ScxState::Enabled(Some(o)) if o == self.ops => Ok(()),
            other => bail!(
                "the scheduler is no longer attached (sched_ext {other:?}); log:\n{}",
                tail(&self.log, 15)
            ),
        }
    }

    /// Stops the scheduler with SIGINT (SIGKILL after 20 s) and waits for
    /// the kernel to return to its default scheduler. Returns the last
    /// statistics snapshot the scheduler printed.
    pub fn stop(self) -> Result<Option<Metrics>> {
        Ok(self.stop_report()?.0)
    }

    /// [`stop`](Self::stop), also saying whether the scheduler ignored
    /// SIGINT for 20 s and had to be killed.
    pub fn stop_report(mut self) -> Result<(Option<Metrics>, bool)> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let exited = wait_for(Duration::from_secs(20), || matches!(self.child.try_wait(), Ok(Some(_))));
        if !exited {
            log::warn!("scheduler ignored SIGINT for 20 s: killing it");
            let _ = self.child.kill();
        }
        let status = self.child.wait()?;
        if !wait_for(Duration::from_secs(10), || scx_state(sysfs()) == ScxState::Disabled) {
            bail!(
                "the kernel did not return to its default scheduler after stopping ({:?})",
                scx_state(sysfs())
            );
        }
        if exited && !status.success() {
            bail!(
                "the scheduler exited with {status} on SIGINT; log:\n{}",
                tail(&self.log, 15)
            );
        }
        std::thread::sleep(Duration::from_millis(300));
        Ok((self.last_stats.lock().ok().and_then(|s| s.clone()), !exited))
    }
}

/// Runs the replay subprocess (`<exe> replay ...`) and returns its results.
/// `oracle` runs invocations at their oracle nice values, `runtime` says
/// what runs them. `progress(done)` is called as it reports completions.
pub fn run_replay(
    exe: &Path,
    plan: &Path,
    out: &Path,
    rt_prio: Option<i32>,
    oracle: bool,
    runtime: Runtime,
    mut progress: impl FnMut(usize),
) -> Result<Vec<InvocationResult>> {
    let mut cmd = Command::new(exe);
    cmd.arg("replay").arg("--plan").arg(plan).arg("--out").arg(out);
    cmd.arg("--runtime").arg(runtime.arg());
    if !runtime.hinted() {
        cmd.arg("--no-hints");
    }
    match rt_prio {
        Some(p) => cmd.arg("--rt-prio").arg(p.to_string()),
        None => cmd.arg("--no-rt"),
    };
    if oracle {
        cmd.arg("--oracle");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the replay process")?;
    let mut err_text = String::new();
    if let Some(stderr) = child.stderr.take() {
        let mut r = BufReader::new(stderr);
        let mut line = String::new();
        while r.read_line(&mut line)? > 0 {
            if let Some(rest) = line.trim().strip_prefix("progress ") {
                if let Some(done) = rest.split('/').next().and_then(|d| d.parse().ok()) {
                    progress(done);
                }
            } else {
                err_text.push_str(&line);
                eprint!("{line}");
            }
            line.clear();
        }
        let _ = r.read_to_string(&mut err_text);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("the replay process failed ({status}): {}", err_text.trim());
    }
    let text = std::fs::read_to_string(out).with_context(|| format!("cannot read {}", out.display()))?;
    serde_json::from_str(&text).context("the replay results do not parse")
}

/// Starts `arm`'s scheduler (its log in `logs`, repetition `rep`), or
/// checks that the kernel runs its default scheduler for an arm without
/// one.
pub fn start_arm(arm: &ArmSpec, logs: &Path, rep: usize, timeout: Duration) -> Result<Option<RunningSched>> {
    match &arm.cmd {
        Some(cmd) => {
            let log = logs.join(format!("{}-{rep}.log", arm.name.replace('/', "-")));
            RunningSched::start(cmd, arm.ops_prefix.as_deref(), &log, timeout)
                .map(Some)
                .with_context(|| format!("arm {}", arm.name))
        }
        None => match scx_state(sysfs()) {
            ScxState::Disabled | ScxState::Absent => Ok(None),
            other => bail!(
                "arm {} needs the kernel's default scheduler but sched_ext is {other:?}",
                arm.name
            ),
        },
    }
}

/// Stops what [`start_arm`] started, after checking it stayed attached for
/// the whole run. Returns the ops name and the scheduler's statistics: for
/// scx_alps (ops `alps*`, command `scx_alps`) one [`monitor_once`] snapshot
/// taken before stopping it, else the last JSON line it printed, if any.
pub fn finish_arm(sched: Option<RunningSched>, arm: &ArmSpec, rep: usize) -> Result<(Option<String>, Option<Metrics>)> {
    let Some(mut sc) = sched else {
        return Ok((None, None));
    };
    let active = sc.check_active();
    let snapshot = match arm.cmd.as_deref() {
        Some([bin, ..]) if active.is_ok() && is_scx_alps(&sc.ops, bin) => monitor_once(Path::new(bin)),
        _ => None,
    };
    let ops = sc.ops.clone();
    let stats = sc.stop();
    active.with_context(|| format!("arm {}, repetition {}", arm.name, rep + 1))?;
    Ok((Some(ops), snapshot.or(stats?)))
}

/// Whether an attached scheduler (ops name `ops`, started as `bin`) is
/// scx_alps, whose statistics `--monitor` reaches.
fn is_scx_alps(ops: &str, bin: &str) -> bool {
    let name = Path::new(bin).file_name().and_then(|n| n.to_str()).unwrap_or("");
    ops.starts_with("alps") && name.starts_with("scx_alps")
}

/// One statistics snapshot of the running scx_alps, from `scx_alps
/// --monitor 0.5 --json` (its first JSON line: counters since attach, rates
/// over the 0.5 s before it); None when none comes within 5 s.
pub fn monitor_once(scx_alps: &Path) -> Option<Metrics> {
    let mut child = Command::new(scx_alps)
        .args(["--monitor", "0.5", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let out = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(m) = serde_json::from_str::<Metrics>(&line) {
                let _ = tx.send(m);
                return;
            }
        }
    });
    let m = rx.recv_timeout(Duration::from_secs(5)).ok();
    let _ = child.kill();
    let _ = child.wait();
    m
}

/// Everything `run_ab` needs.
pub struct AbSetup<'a> {
    /// Arms, in report order (the first is the baseline).
    pub arms: &'a [ArmSpec],
    /// Repetitions of every arm.
    pub repeats: usize,
    /// The plan file (JSON) written by the caller.
    pub plan_path: &'a Path,
    /// The warm-up plan file, for trained arms.
    pub warmup_path: Option<&'a Path>,
    /// Pause between a warm-up replay and the measured one.
    pub settle: Duration,
    /// Directory for raw results and scheduler logs.
    pub out_dir: &'a Path,
    /// This executable (runs `replay`).
    pub exe: &'a Path,
    /// SCHED_FIFO priority of the load generator (None: not real-time).
    pub rt_prio: Option<i32>,
    /// Time a scheduler may take to attach.
    pub attach_timeout: Duration,
    /// Re-run an arm's repetition whose measured replay lost more than this
    /// percent of the machine's CPU to its host (None: never).
    pub max_steal_pct: Option<f64>,
    /// Re-runs allowed per arm and repetition.
    pub steal_retries: usize,
    /// Running inside the test VM: the host's steal comes from its sampler.
    pub in_vm: bool,
    /// What runs the invocations.
    pub runtime: Runtime,
}

/// One repetition of one arm: start its scheduler, replay the warm-up (a
/// trained arm) and the plan, stop it; the host's steal is measured over the
/// measured replay alone.
fn run_one(
    s: &AbSetup<'_>,
    arm: &ArmSpec,
    rep: usize,
    raw: &Path,
    logs: &Path,
    progress: &mut impl FnMut(&str, usize, usize),
) -> Result<ArmRun> {
    log::info!("repetition {}/{}: arm {}", rep + 1, s.repeats, arm.name);
    let sched = start_arm(arm, logs, rep, s.attach_timeout)?;
    let file = arm.name.replace('/', "-");
    let mut result = Ok(Vec::new());
    if arm.trained {
        let warm = s.warmup_path.context("a trained arm needs a warm-up plan (--warmup)")?;
        let out = raw.join(format!("{file}-{rep}-warmup.json"));
        result = run_replay(s.exe, warm, &out, s.rt_prio, false, s.runtime, |_| ());
        std::thread::sleep(s.settle);
    }
    let out = raw.join(format!("{file}-{rep}.json"));
    let before = crate::steal::read_ticks(s.out_dir, s.in_vm);
    if result.is_ok() {
        result = run_replay(s.exe, s.plan_path, &out, s.rt_prio, arm.oracle, s.runtime, |d| {
            progress(&arm.name, rep, d)
        });
    }
    let after = crate::steal::read_ticks(s.out_dir, s.in_vm);
    let (ops, stats) = finish_arm(sched, arm, rep)?;
    let results = result.with_context(|| format!("arm {}, repetition {}", arm.name, rep + 1))?;
    Ok(ArmRun {
        arm: arm.name.clone(),
        rep,
        results,
        ops,
        sched_stats: stats,
        host_steal_pct: before.zip(after).and_then(|(a, b)| crate::steal::steal_pct(a, b)),
        reruns: 0,
    })
}

/// Runs every arm `repeats` times, interleaved, and returns all runs; an
/// arm's repetition during which the host stole more than
/// `max_steal_pct` of the CPU is run again, up to `steal_retries` times.
/// `progress(arm, rep, done)` reports completions.
pub fn run_ab(s: &AbSetup<'_>, mut progress: impl FnMut(&str, usize, usize)) -> Result<Vec<ArmRun>> {
    let raw = s.out_dir.join("raw");
    let logs = s.out_dir.join("logs");
    std::fs::create_dir_all(&raw)?;
    std::fs::create_dir_all(&logs)?;
    let mut runs = Vec::new();
    for rep in 0..s.repeats {
        for arm in rotation(s.arms, rep) {
            let mut reruns = 0;
            loop {
                let mut run = run_one(s, &arm, rep, &raw, &logs, &mut progress)?;
                run.reruns = reruns;
                let over = match (run.host_steal_pct, s.max_steal_pct) {
                    (Some(got), Some(max)) => got > max,
                    _ => false,
                };
                if over && reruns < s.steal_retries {
                    reruns += 1;
                    log::warn!(
                        "arm {}, repetition {}: the host took {:.1} % of the CPU (more than {:.1} %): running it again ({reruns}/{})",
                        arm.name,
                        rep + 1,
                        run.host_steal_pct.unwrap_or(0.0),
                        s.max_steal_pct.unwrap_or(0.0),
                        s.steal_retries
                    );
                    continue;
                }
                runs.push(run);
                break;
            }
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arms_are_parsed_with_their_commands() {
        let arms = parse_arms(
            &names(&["eevdf", "alps", "alps-io"]),
            &names(&["bpfland=scx_bpfland --slice-us 5000"]),
            Path::new("/x/scx_alps"),
            &names(&["--learn-interval-ms", "1000"]),
            false,
        )
        .unwrap();
        assert_eq!(arms.len(), 4);
        assert_eq!(arms[0].cmd, None);
        assert_eq!(
            arms[2].cmd.as_ref().unwrap(),
            &names(&["/x/scx_alps", "--policy", "alps-io", "--learn-interval-ms", "1000"])
        );
        assert_eq!(arms[2].ops_prefix.as_deref(), Some("alps"));
        assert_eq!(arms[3].name, "bpfland");
        assert_eq!(
            arms[3].cmd.as_ref().unwrap(),
            &names(&["scx_bpfland", "--slice-us", "5000"])
        );
    }

    #[test]
    fn only_scx_alps_is_asked_for_a_snapshot() {
        assert!(is_scx_alps("alps_0.1.0_x86_64", "/x/target/release/scx_alps"));
        assert!(is_scx_alps("alps_0.1.0_x86_64", "scx_alps"));
        assert!(!is_scx_alps("bpfland_1.1.2", "scx_bpfland"));
        // A peer scheduler named alps-something, or scx_alps under a wrapper.
        assert!(!is_scx_alps("alps_0.1.0_x86_64", "sudo"));
        assert!(!is_scx_alps("bpfland_1.1.2", "scx_alps"));
    }

    #[test]
    fn bad_arms_are_rejected() {
        let p = Path::new("scx_alps");
        let parse = |n: &[&str], e: &[&str]| parse_arms(&names(n), &names(e), p, &[], false);
        assert!(parse(&["fifo"], &[]).unwrap_err().to_string().contains("unknown arm"));
        assert!(parse(&["alps", "alps"], &[]).unwrap_err().to_string().contains("twice"));
        assert!(parse(&[], &["noequals"]).is_err());
        assert!(parse(&[], &["x="]).is_err());
        assert!(parse(&[], &["x=cmd 'open"]).is_err());
        assert!(parse(&[], &[]).is_err());
    }

    #[test]
    fn warmup_adds_a_trained_twin_to_every_scheduler_arm() {
        let arms = parse_arms(
            &names(&["eevdf", "oracle", "alps-io", "alps-io-noio"]),
            &names(&["peer=scx_peer --flag 'two words'"]),
            Path::new("scx_alps"),
            &[],
            true,
        )
        .unwrap();
        let got: Vec<(&str, bool, bool)> = arms.iter().map(|a| (a.name.as_str(), a.trained, a.oracle)).collect();
        assert_eq!(
            got,
            vec![
                ("eevdf", false, false),
                ("oracle", false, true),
                ("alps-io", false, false),
                ("alps-io/trained", true, false),
                ("alps-io-noio", false, false),
                ("alps-io-noio/trained", true, false),
                ("peer", false, false),
                ("peer/trained", true, false),
            ]
        );
        assert!(arms[4].cmd.as_ref().unwrap().contains(&"--no-io-signals".to_string()));
        assert_eq!(
            arms[6].cmd.as_ref().unwrap(),
            &names(&["scx_peer", "--flag", "two words"])
        );
        assert!(arms[0].cmd.is_none() && arms[1].cmd.is_none());
    }

    #[test]
    fn arms_rotate_between_repetitions() {
        let a = vec![1, 2, 3];
        assert_eq!(rotation(&a, 0), vec![1, 2, 3]);
        assert_eq!(rotation(&a, 1), vec![2, 3, 1]);
        assert_eq!(rotation(&a, 5), vec![3, 1, 2]);
    }
}
