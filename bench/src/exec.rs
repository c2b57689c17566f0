//! Runs a plan for real: every invocation is its own process, forked at its
//! arrival time straight into the cgroup of its function.
//!
//! The replaying process is single-threaded and, where allowed, SCHED_FIFO
//! with SCHED_RESET_ON_FORK: the load generator sits above the fair and
//! sched_ext classes, so the load it measures cannot delay its spawns, and
//! each invocation starts as a plain SCHED_OTHER task. Invocations are forked
//! (a warm zygote, as OpenLambda does) rather than exec'ed: under TCG an exec
//! costs 65-190 ms, most of a short function's life.
//!
//! Timing: each child writes its start and end time (CLOCK_MONOTONIC) into
//! shared memory. FCT = end - planned arrival; spawn = start - planned
//! arrival. CPU time and context switches come from wait4's rusage.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::workload::{Invocation, Kind, Phase, Plan};

/// Longest stretch the SCHED_FIFO replaying process runs without sleeping, ns.
pub const MAX_RT_BURST_NS: u64 = 20_000_000;

/// How long it then sleeps, ns (the generator takes at most ~90 % of a CPU).
pub const RT_YIELD_NS: u64 = 2_000_000;

/// How to run a plan.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// Parent cgroup of the function cgroups (created if missing).
    pub cgroup_parent: PathBuf,
    /// SCHED_FIFO priority of the replaying process; None keeps its class.
    pub rt_priority: Option<i32>,
    /// Give up on invocations still running this long after the last arrival.
    pub drain_timeout: Duration,
    /// Run each invocation at its oracle nice value
    /// ([`crate::workload::oracle_nices`]).
    pub oracle: bool,
    /// What runs an invocation: a fresh process, or a warm worker.
    pub runtime: Runtime,
}

/// How the platform runs invocations (`--runtime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Runtime {
    /// One process per invocation, forked into its function's cgroup
    /// (OpenFaaS's classic watchdog, the OpenLambda forks of ALPS and SFS).
    Fork,
    /// `workers` long-lived processes per function started before the run
    /// (0: provisioned from the plan, [`crate::warm::provisioned`]), each in
    /// its own instance cgroup below the function's; each receives requests
    /// over a pipe and serves one at a time (OpenWhisk's action loop, a
    /// Lambda runtime). A request finding all busy starts one more (a cold
    /// start), kept for later requests. With `hints`, each request is
    /// wrapped in the alps-hint begin/end pair.
    Warm { workers: usize, hints: bool },
}

impl std::str::FromStr for Runtime {
    type Err = String;

    /// `fork`, `warm` (one worker per function), `warm:N` (N workers per
    /// function, N >= 1) or `warm:auto` (provisioned from the plan).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "fork" => Ok(Runtime::Fork),
            None if s == "warm" => Ok(Runtime::Warm {
                workers: 1,
                hints: true,
            }),
            Some(("warm", "auto")) => Ok(Runtime::Warm {
                workers: 0,
                hints: true,
            }),
            Some(("warm", n)) => match n.parse::<usize>() {
                Ok(w) if w >= 1 => Ok(Runtime::Warm {
                    workers: w,
                    hints: true,
                }),
                _ => Err(format!(
                    "warm:{n}: N must be a whole number of workers per function, at least 1, or auto"
                )),
            },
            _ => Err(format!("unknown runtime {s:?}: use fork, warm, warm:N or warm:auto")),
        }
    }
}

impl Runtime {
    /// The same runtime with hints on or off (fork has none).
    pub fn with_hints(self, on: bool) -> Self {
        match self {
            Runtime::Warm { workers, .. } => Runtime::Warm { workers, hints: on },
            Runtime::Fork => Runtime::Fork,
        }
    }

    /// A warm runtime whose workers hint their requests.
    pub fn hinted(self) -> bool {
        matches!(self, Runtime::Warm { hints: true, .. })
    }

    /// The `--runtime` value that parses back to this runtime, hints aside
    /// (they have their own flag, `--no-hints`).
    pub fn arg(self) -> String {
        match self {
            Runtime::Fork => "fork".into(),
            Runtime::Warm { workers: 0, .. } => "warm:auto".into(),
            Runtime::Warm { workers, .. } => format!("warm:{workers}"),
        }
    }
}

impl std::fmt::Display for Runtime {
    /// `fork`, `warm:N`, `warm:auto`, each warm one with `, no hints`
    /// when its workers do not hint.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.arg())?;
        if matches!(self, Runtime::Warm { hints: false, .. }) {
            write!(f, ", no hints")?;
        }
        Ok(())
    }
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self {
            cgroup_parent: PathBuf::from("/sys/fs/cgroup/faas"),
            rt_priority: Some(10),
            drain_timeout: Duration::from_secs(600),
            oracle: false,
            runtime: Runtime::Fork,
        }
    }
}

/// What happened to one invocation: one row of invocations.csv.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvocationResult {
    /// Arm that ran it (set by the runner; empty in a single replay).
    #[serde(default)]
    pub arm: String,
    /// Repetition, 0-based (set by the runner).
    #[serde(default)]
    pub rep: usize,
    /// Position in the plan.
    pub idx: usize,
    /// Trace id.
    pub id: String,
    /// Function.
    pub func: String,
    /// Report group.
    pub class: String,
    /// CPU- or I/O-bound.
    pub kind: Kind,
    /// Planned arrival, ms from the run's start.
    pub arrival_ms: f64,
    /// Arrival to the child's first instruction, ms (fork cost + lateness).
    pub spawn_ms: f64,
    /// How late the load generator called fork, ms after the planned
    /// arrival: the generator's own delays (it is SCHED_FIFO where allowed).
    #[serde(default)]
    pub late_ms: f64,
    /// Duration of the fork call in the load generator, ms (kernel locks:
    /// clone3 into a cgroup takes the cgroup mutex).
    #[serde(default)]
    pub fork_ms: f64,
    /// Function completion time: planned arrival to exit, ms.
    pub fct_ms: f64,
    /// Completion, ms from the run's start.
    pub end_ms: f64,
    /// Modelled CPU demand, ms.
    pub demand_ms: f64,
    /// Modelled sleep, ms.
    pub sleep_ms: f64,
    /// CPU time used (user + system), ms.
    pub cpu_ms: f64,
    /// Voluntary context switches.
    pub nvcsw: u64,
    /// Involuntary context switches.
    pub nivcsw: u64,
    /// Completed normally.
    pub ok: bool,
    /// Served by a warm worker started for it because every worker of its
    /// function was busy (a cold start; always false with `--runtime fork`).
    #[serde(default)]
    pub cold: bool,
}

impl InvocationResult {
    /// A result for `inv` with what the plan says filled in, measured fields
    /// zero and `ok` false; times in ms.
    pub fn planned(inv: &Invocation) -> Self {
        let ms = |ns: u64| ns as f64 / 1e6;
        Self {
            arm: String::new(),
            rep: 0,
            idx: inv.idx,
            id: inv.id.clone(),
            func: inv.func.clone(),
            class: inv.class.clone(),
            kind: inv.kind,
            arrival_ms: ms(inv.arrival_ns),
            spawn_ms: 0.0,
            late_ms: f64::NAN,
            fork_ms: f64::NAN,
            fct_ms: f64::NAN,
            end_ms: f64::NAN,
            demand_ms: ms(inv.cpu_ns()),
            sleep_ms: ms(inv.sleep_ns()),
            cpu_ms: f64::NAN,
            nvcsw: 0,
            nivcsw: 0,
            ok: false,
            cold: false,
        }
    }
}

/// Per-invocation figures written by the process that ran it: start and
/// end (CLOCK_MONOTONIC, ns); a warm worker also writes the request's CPU
/// (ns) and context switches, which a forked child's rusage gives instead.
#[repr(C)]
pub(crate) struct Slot {
    pub(crate) start_ns: AtomicU64,
    pub(crate) end_ns: AtomicU64,
    pub(crate) cpu_ns: AtomicU64,
    pub(crate) nvcsw: AtomicU64,
    pub(crate) nivcsw: AtomicU64,
}

/// Slots in memory shared with the processes that run invocations.
pub(crate) struct SharedSlots {
    ptr: *mut Slot,
    len: usize,
}

impl SharedSlots {
    pub(crate) fn new(len: usize) -> Result<Self> {
        let bytes = (len.max(1) * std::mem::size_of::<Slot>()).next_multiple_of(4096);
        // SAFETY: anonymous shared mapping, checked for failure; zero-filled,
        // which is a valid Slot.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            bail!("mmap of {bytes} bytes failed: {}", std::io::Error::last_os_error());
        }
        Ok(Self {
            ptr: ptr as *mut Slot,
            len,
        })
    }

    pub(crate) fn get(&self, i: usize) -> &Slot {
        assert!(i < self.len);
        // SAFETY: in bounds of the mapping, which lives as long as self.
        unsafe { &*self.ptr.add(i) }
    }
}

impl Drop for SharedSlots {
    fn drop(&mut self) {
        let bytes = (self.len.max(1) * std::mem::size_of::<Slot>()).next_multiple_of(4096);
        // SAFETY: unmapping the mapping made in new().
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, bytes) };
    }
}

/// CLOCK_MONOTONIC, ns (the clock the BPF side and the kernel use).
pub fn now_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(crate) fn sleep_until(t_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (t_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (t_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: valid timespec; EINTR simply returns early.
    unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut()) };
}

fn fib(n: u32) -> u64 {
    if n < 2 { n as u64 } else { fib(n - 1) + fib(n - 2) }
}

/// Computes fib until this thread's CPU clock has advanced by `ns`.
pub fn burn_cpu(ns: u64) {
    let end = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) + ns;
    while clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) < end {
        std::hint::black_box(fib(std::hint::black_box(16)));
    }
}

/// Runs one invocation's phases in the calling thread.
pub fn run_phases(phases: &[Phase]) {
    for p in phases {
        match *p {
            Phase::Cpu { ns } => burn_cpu(ns),
            Phase::Sleep { ns } => {
                let end = now_ns() + ns;
                while now_ns() < end {
                    sleep_until(end);
                }
            }
        }
    }
}

fn child(inv: &Invocation, slot: &Slot, comm: &CString, nice: Option<i32>) -> ! {
    // SAFETY: prctl with a NUL-terminated name; the kernel copies 15 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr() as libc::c_ulong, 0, 0, 0) };
    if let Some(n) = nice {
        // SAFETY: plain syscall on this process. A failure (no CAP_SYS_NICE)
        // leaves nice 0, which the parent checked cannot happen: it is root.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) };
    }
    slot.start_ns.store(now_ns(), Ordering::SeqCst);
    run_phases(&inv.phases);
    slot.end_ns.store(now_ns(), Ordering::SeqCst);
    // SAFETY: leave without running the parent's atexit handlers or flushing
    // its stdio buffers.
    unsafe { libc::_exit(0) }
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks into the cgroup `cg` (an O_DIRECTORY fd). Falls back to fork plus a
/// write of the child's pid into cgroup.procs where clone3 cannot.
/// Returns the child's pid in the parent and 0 in the child.
pub(crate) fn fork_into(cg: &OwnedFd, procs: &Path) -> std::io::Result<libc::pid_t> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cg.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3 with no new stack behaves like fork; the replaying
    // process is single-threaded, so the child may run ordinary code.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r >= 0 {
        return Ok(r as libc::pid_t);
    }
    let err = std::io::Error::last_os_error();
    if !matches!(
        err.raw_os_error(),
        Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
    ) {
        return Err(err);
    }
    // SAFETY: as above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        let _ = std::fs::write(procs, b"0");
    }
    Ok(pid)
}

/// Creates `parent/<func>` for every function of `plan` and opens them.
fn prepare_cgroups(parent: &Path, plan: &Plan) -> Result<HashMap<String, (OwnedFd, PathBuf)>> {
    std::fs::create_dir_all(parent).with_context(|| {
        format!(
            "cannot create cgroup {}: run as root on a cgroup v2 host (functions are tagged by cgroup)",
            parent.display()
        )
    })?;
    let mut out = HashMap::new();
    for f in plan.functions() {
        let dir = parent.join(&f);
        out.insert(f, open_cgroup(&dir)?);
    }
    Ok(out)
}

/// Creates the cgroup `dir` if missing and opens it: its directory fd (for
/// clone3) and its cgroup.procs path.
pub(crate) fn open_cgroup(dir: &Path) -> Result<(OwnedFd, PathBuf)> {
    if let Err(e) = std::fs::create_dir(dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(e).with_context(|| format!("cannot create cgroup {}", dir.display()));
    }
    let fd: OwnedFd = std::fs::File::open(dir)
        .with_context(|| format!("cannot open cgroup {}", dir.display()))?
        .into();
    Ok((fd, dir.join("cgroup.procs")))
}

pub(crate) fn set_realtime(prio: i32) -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: prio };
    // SAFETY: valid sched_param; affects only this process.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param) };
    if r != 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Locks the generator's pages in memory, as real-time load generators do
/// (cyclictest): a page fault of a real-time process (its binary lives on
/// the VM's 9p filesystem) can take milliseconds and delays every later
/// spawn. Children do not inherit the lock (fork clears it).
pub(crate) fn lock_memory() -> std::io::Result<()> {
    // SAFETY: plain syscall on this process.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

struct Reaped {
    cpu_ns: u64,
    nvcsw: u64,
    nivcsw: u64,
    ok: bool,
}

fn reap(pids: &mut HashMap<libc::pid_t, usize>, done: &mut [Option<Reaped>]) -> usize {
    let mut n = 0;
    loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is valid; wait4 fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers.
        let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut ru) };
        if pid <= 0 {
            return n;
        }
        if let Some(idx) = pids.remove(&pid) {
            let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
            done[idx] = Some(Reaped {
                cpu_ns: tv(ru.ru_utime) + tv(ru.ru_stime),
                nvcsw: ru.ru_nvcsw as u64,
                nivcsw: ru.ru_nivcsw as u64,
                ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            });
            n += 1;
        }
    }
}

/// Runs `plan` and returns one result per invocation, in plan order.
/// `progress(done, total)` is called whenever invocations complete.
///
/// Errors when the cgroups cannot be created or a fork fails; invocations
/// still running after `drain_timeout` are killed and reported as not ok.
pub fn run_plan(
    plan: &Plan,
    cfg: &ExecConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<InvocationResult>> {
    if let Runtime::Warm { workers, hints } = cfg.runtime {
        return crate::warm::run_plan(plan, cfg, workers, hints, progress);
    }
    let n = plan.invocations.len();
    let cgroups = prepare_cgroups(&cfg.cgroup_parent, plan)?;
    let comms: Vec<CString> = plan
        .invocations
        .iter()
        .map(|i| CString::new(i.func.as_bytes()).unwrap_or_else(|_| CString::new("faas-fn").unwrap()))
        .collect();
    let slots = SharedSlots::new(n)?;
    let nices = cfg.oracle.then(|| crate::workload::oracle_nices(plan));
    if cfg.oracle && unsafe { libc::geteuid() } != 0 {
        bail!("the oracle arm sets negative nice values: run as root");
    }
    if let Some(prio) = cfg.rt_priority
        && let Err(e) = set_realtime(prio)
    {
        log::warn!(
            "cannot run the load generator SCHED_FIFO ({e}): spawns may be delayed by the load and FCTs inflated"
        );
    }
    if cfg.rt_priority.is_some()
        && let Err(e) = lock_memory()
    {
        log::warn!("cannot lock the load generator's memory ({e}): page faults may delay spawns");
    }

    let mut pids: HashMap<libc::pid_t, usize> = HashMap::with_capacity(n);
    // Per invocation: (fork call, fork return), ns.
    let mut forked: Vec<(u64, u64)> = vec![(0, 0); n];
    let mut done: Vec<Option<Reaped>> = (0..n).map(|_| None).collect();
    let mut finished = 0usize;
    let t0 = now_ns() + 50_000_000;
    // A real-time task that never sleeps starves every sched_ext task of its
    // CPU (6.12 has no deadline server for sched_ext) until the watchdog
    // ejects the scheduler: when spawns fall behind, yield regularly.
    let mut busy_since = now_ns();
    for inv in &plan.invocations {
        let target = t0 + inv.arrival_ns;
        loop {
            let got = reap(&mut pids, &mut done);
            if got > 0 {
                finished += got;
                progress(finished, n);
            }
            let now = now_ns();
            if now >= target {
                if now - busy_since >= MAX_RT_BURST_NS {
                    sleep_until(now + RT_YIELD_NS);
                    busy_since = now_ns();
                }
                break;
            }
            sleep_until(target.min(now + 20_000_000));
            busy_since = now_ns();
        }
        let (cg, procs) = &cgroups[&inv.func];
        let called = now_ns();
        let pid = fork_into(cg, procs);
        if !matches!(pid, Ok(0)) {
            forked[inv.idx] = (called, now_ns());
        }
        match pid {
            Ok(0) => child(
                inv,
                slots.get(inv.idx),
                &comms[inv.idx],
                nices.as_ref().map(|v| v[inv.idx]),
            ),
            Ok(pid) => {
                pids.insert(pid, inv.idx);
            }
            Err(e) => {
                for pid in pids.keys() {
                    // SAFETY: signalling our own children.
                    unsafe { libc::kill(*pid, libc::SIGKILL) };
                }
                bail!("fork of invocation {} ({}) failed: {e}", inv.id, inv.func);
            }
        }
    }
    let deadline = now_ns() + cfg.drain_timeout.as_nanos() as u64;
    while !pids.is_empty() && now_ns() < deadline {
        let got = reap(&mut pids, &mut done);
        if got > 0 {
            finished += got;
            progress(finished, n);
        }
        sleep_until(now_ns() + 5_000_000);
    }
    if !pids.is_empty() {
        log::warn!(
            "{} invocations still running after the drain timeout: killed",
            pids.len()
        );
        for pid in pids.keys() {
            // SAFETY: signalling our own children.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(100));
        reap(&mut pids, &mut done);
    }
    for (_, (_, procs)) in cgroups.iter() {
        if let Some(dir) = procs.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    let ms = |ns: u64| ns as f64 / 1e6;
    Ok(plan
        .invocations
        .iter()
        .map(|inv| {
            let slot = slots.get(inv.idx);
            let (start, end) = (slot.start_ns.load(Ordering::SeqCst), slot.end_ns.load(Ordering::SeqCst));
            let arrival = t0 + inv.arrival_ns;
            let r = done[inv.idx].take();
            let ok = r.as_ref().is_some_and(|r| r.ok) && end > 0;
            let mut res = InvocationResult::planned(inv);
            res.spawn_ms = if start > 0 {
                ms(start.saturating_sub(arrival))
            } else {
                f64::NAN
            };
            let (called, returned) = forked[inv.idx];
            if called > 0 {
                res.late_ms = ms(called.saturating_sub(arrival));
                res.fork_ms = ms(returned.saturating_sub(called));
            }
            if ok {
                res.fct_ms = ms(end.saturating_sub(arrival));
                res.end_ms = ms(end.saturating_sub(t0));
            }
            if let Some(r) = r {
                res.cpu_ms = ms(r.cpu_ns);
                res.nvcsw = r.nvcsw;
                res.nivcsw = r.nivcsw;
            }
            res.ok = ok;
            res
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_consumes_cpu_time_not_wall_time() {
        let c0 = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
        burn_cpu(20_000_000);
        let used = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - c0;
        assert!(used >= 20_000_000, "{used}");
        assert!(used < 40_000_000, "{used}");
    }

    #[test]
    fn phases_sleep_for_their_length() {
        let t0 = now_ns();
        run_phases(&[Phase::Sleep { ns: 30_000_000 }, Phase::Cpu { ns: 1_000_000 }]);
        let took = now_ns() - t0;
        assert!(took >= 31_000_000, "{took}");
    }
}
