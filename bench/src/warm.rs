//! Runs a plan on warm workers (`--runtime warm[:N|:auto]`): N long-lived
//! processes per function, each in its own instance cgroup
//! `<parent>/<func>/inst<k>`, as Lambda and OpenWhisk run one environment
//! per concurrent request. A worker reads request numbers from its own pipe,
//! serves them one at a time and answers on a pipe shared by all workers,
//! as OpenWhisk's action loop and Lambda's runtime API do. A request that
//! finds every worker of its function busy gets a new one, started for it
//! (a cold start: the fork and the instance cgroup count in its FCT) and
//! kept warm for later requests, as Lambda and OpenWhisk scale out.
//!
//! `warm:auto` provisions each function's pool for the plan
//! ([`provisioned`]), as a platform with provisioned concurrency (Lambda)
//! or a pre-warmed pool (OpenWhisk) does, so cold starts are rare and do
//! not differ between arms by the scheduler's own speed.
//!
//! With hints, a worker wraps each request in alps_hint's begin/end pair,
//! so scx_alps (`--hint-binary` this program) sees one invocation per
//! request; without them it sees one long-lived task per worker.
//!
//! Timing: the worker writes the request's start and end (CLOCK_MONOTONIC)
//! and its CPU time and context switches (RUSAGE_THREAD) into shared
//! memory. FCT = end - planned arrival; spawn = start - planned arrival
//! (delivery plus the wait for a free worker).

use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};

use crate::exec::{self, ExecConfig, InvocationResult, MAX_RT_BURST_NS, RT_YIELD_NS, SharedSlots, Slot, now_ns};
use crate::workload::{Invocation, Plan};

/// How much longer than its demand (CPU + sleep) a request is assumed to
/// last when `warm:auto` sizes the pools. In the mixed scenario on 2 CPUs
/// under EEVDF the CPU-bound classes' mean slowdown is 20-55x and the
/// I/O-bound ones' 1.5-1.8x (docs/results/vm-fork-2arm-5rep.md): pools sized
/// at 16x leave few requests finding every worker busy, under any arm.
pub const PROVISION_SLOWDOWN: u64 = 16;

/// Workers per function for `warm:auto`, in [`Plan::functions`] order: the
/// most requests of that function in flight at once when each lasts
/// [`PROVISION_SLOWDOWN`] times its demand from its planned arrival (at
/// least 1).
pub fn provisioned(plan: &Plan) -> Vec<usize> {
    plan.functions()
        .iter()
        .map(|f| {
            // +1 at an arrival, -1 at an assumed end; ends sort first at a tie.
            let mut events: Vec<(u64, i32)> = plan
                .invocations
                .iter()
                .filter(|i| i.func == *f)
                .flat_map(|i| {
                    let end = i.arrival_ns + PROVISION_SLOWDOWN * (i.cpu_ns() + i.sleep_ns());
                    [(i.arrival_ns, 1), (end, -1)]
                })
                .collect();
            events.sort_unstable();
            let (mut now, mut peak) = (0i32, 1i32);
            for (_, d) in events {
                now += d;
                peak = peak.max(now);
            }
            peak as usize
        })
        .collect()
}

/// One worker as the dispatcher sees it.
struct Worker {
    pid: libc::pid_t,
    /// Write end of its request pipe.
    requests: OwnedFd,
    /// Request it serves (plan index), if any.
    busy: Option<usize>,
}

/// Workers and waiting requests of one function.
struct Pool {
    workers: Vec<Worker>,
    waiting: VecDeque<usize>,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("cannot create a pipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned here only.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Writes one request or answer (a plan index) to `fd`; pipes write 4
/// bytes atomically.
fn send(fd: &OwnedFd, idx: usize) -> std::io::Result<()> {
    let b = (idx as u32).to_ne_bytes();
    // SAFETY: valid buffer of 4 bytes.
    let r = unsafe { libc::write(fd.as_raw_fd(), b.as_ptr() as *const libc::c_void, 4) };
    if r == 4 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Reads one plan index from `fd`; None at end of file or on error.
fn recv(fd: &OwnedFd) -> Option<usize> {
    let mut b = [0u8; 4];
    loop {
        // SAFETY: valid buffer of 4 bytes.
        let r = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 4) };
        if r == 4 {
            return Some(u32::from_ne_bytes(b) as usize);
        }
        if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

fn thread_usage() -> (u64, u64, u64) {
    // SAFETY: zeroed rusage is valid; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    (
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_nvcsw as u64,
        ru.ru_nivcsw as u64,
    )
}

/// The worker's loop: serve requests until the request pipe closes.
fn worker(
    plan: &Plan,
    func: &CString,
    requests: OwnedFd,
    answers: &OwnedFd,
    slots: &SharedSlots,
    nices: Option<&[i32]>,
    hints: bool,
) -> ! {
    // SAFETY: prctl with a NUL-terminated name; the kernel copies 15 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, func.as_ptr() as libc::c_ulong, 0, 0, 0) };
    if hints {
        alps_hint::ready();
    }
    while let Some(idx) = recv(&requests) {
        let Some(inv) = plan.invocations.get(idx) else { break };
        let slot: &Slot = slots.get(idx);
        if let Some(n) = nices {
            // SAFETY: plain syscall on this process (the parent is root).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n[idx]) };
        }
        if hints {
            alps_hint::begin(func);
        }
        let before = thread_usage();
        slot.start_ns.store(now_ns(), Ordering::SeqCst);
        exec::run_phases(&inv.phases);
        slot.end_ns.store(now_ns(), Ordering::SeqCst);
        let after = thread_usage();
        if hints {
            alps_hint::end();
        }
        slot.cpu_ns.store(after.0 - before.0, Ordering::SeqCst);
        slot.nvcsw.store(after.1 - before.1, Ordering::SeqCst);
        slot.nivcsw.store(after.2 - before.2, Ordering::SeqCst);
        if send(answers, idx).is_err() {
            break;
        }
    }
    // SAFETY: leave without the parent's atexit handlers or stdio buffers.
    unsafe { libc::_exit(0) }
}

/// The workers of every function, and what starting one more needs.
struct Farm<'a> {
    plan: &'a Plan,
    cfg: &'a ExecConfig,
    /// Read and write ends of the answer pipe shared by all workers.
    answers: (OwnedFd, OwnedFd),
    slots: &'a SharedSlots,
    nices: Option<&'a [i32]>,
    hints: bool,
    /// Per function: its name, as a C string, and its pool.
    pools: Vec<(String, CString, Pool)>,
    /// Per request: served by a worker started on demand for it because
    /// every worker was busy (a cold start).
    cold: Vec<bool>,
}

impl<'a> Farm<'a> {
    /// `sizes[k]` workers for the k-th function of [`Plan::functions`].
    fn start(
        plan: &'a Plan,
        cfg: &'a ExecConfig,
        sizes: &[usize],
        slots: &'a SharedSlots,
        nices: Option<&'a [i32]>,
        hints: bool,
    ) -> Result<Self> {
        std::fs::create_dir_all(&cfg.cgroup_parent).with_context(|| {
            format!(
                "cannot create cgroup {}: run as root on a cgroup v2 host (functions are tagged by cgroup)",
                cfg.cgroup_parent.display()
            )
        })?;
        let mut farm = Farm {
            plan,
            cfg,
            answers: pipe()?,
            slots,
            nices,
            hints,
            pools: Vec::new(),
            cold: vec![false; plan.invocations.len()],
        };
        for (f, &n) in plan.functions().into_iter().zip(sizes) {
            if let Err(e) = exec::open_cgroup(&cfg.cgroup_parent.join(&f)) {
                // The earlier functions' workers are running: reap them.
                farm.finish(true);
                return Err(e);
            }
            let name = CString::new(f.as_bytes()).unwrap_or_else(|_| CString::new("faas-fn").unwrap());
            let pool = Pool {
                workers: Vec::new(),
                waiting: VecDeque::new(),
            };
            farm.pools.push((f, name, pool));
            let p = farm.pools.len() - 1;
            for _ in 0..n {
                if let Err(e) = farm.spawn(p) {
                    // Reap what started and remove its cgroups.
                    farm.finish(true);
                    return Err(e);
                }
            }
        }
        Ok(farm)
    }

    /// Forks one more worker of pool `p` into its own instance cgroup.
    fn spawn(&mut self, p: usize) -> Result<()> {
        let (f, _, pool) = &self.pools[p];
        let k = pool.workers.len();
        let dir = self.cfg.cgroup_parent.join(f).join(format!("inst{k}"));
        let (cg, procs) = exec::open_cgroup(&dir)?;
        // finish() removes the instance cgroups of started workers only.
        let (rx, tx) = match pipe() {
            Ok(p) => p,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        match exec::fork_into(&cg, &procs) {
            Ok(0) => {
                // The other workers' request pipes stay open in this one
                // otherwise, and they would never see end of file.
                for (_, _, other) in &self.pools {
                    for w in &other.workers {
                        // SAFETY: closing inherited copies this process never uses.
                        unsafe { libc::close(w.requests.as_raw_fd()) };
                    }
                }
                drop(tx);
                let (_, name, _) = &self.pools[p];
                worker(self.plan, name, rx, &self.answers.1, self.slots, self.nices, self.hints)
            }
            Ok(pid) => {
                self.pools[p].2.workers.push(Worker {
                    pid,
                    requests: tx,
                    busy: None,
                });
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                bail!("cannot start worker {k} of {f}: {e}")
            }
        }
    }

    /// Gives pool `p`'s waiting requests to its free workers, starting a
    /// worker for each request that finds none free (a cold start).
    fn dispatch(&mut self, p: usize, sent: &mut [u64]) -> Result<()> {
        while let Some(&idx) = self.pools[p].2.waiting.front() {
            let free = self.pools[p].2.workers.iter().position(|w| w.busy.is_none());
            // Stamped before a cold start: late_ms is the generator's own
            // delay, the cold start counts in spawn_ms and FCT.
            sent[idx] = now_ns();
            let w = match free {
                Some(w) => w,
                None => {
                    self.spawn(p)?;
                    self.cold[idx] = true;
                    self.pools[p].2.workers.len() - 1
                }
            };
            self.pools[p].2.waiting.pop_front();
            let worker = &mut self.pools[p].2.workers[w];
            send(&worker.requests, idx).with_context(|| format!("worker {} is gone", worker.pid))?;
            worker.busy = Some(idx);
        }
        Ok(())
    }

    /// Waits up to `timeout_ns` for answers, frees their workers and hands
    /// them the next waiting request; returns how many answers came.
    fn collect(&mut self, pool_of: &[usize], done: &mut [bool], sent: &mut [u64], timeout_ns: u64) -> Result<usize> {
        self.check_alive()?;
        let mut n = 0;
        let mut wait = timeout_ns;
        loop {
            let mut pfd = libc::pollfd {
                fd: self.answers.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ts = libc::timespec {
                tv_sec: (wait / 1_000_000_000) as libc::time_t,
                tv_nsec: (wait % 1_000_000_000) as libc::c_long,
            };
            // SAFETY: one valid pollfd and a valid timespec.
            let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
            if r <= 0 || pfd.revents & libc::POLLIN == 0 {
                return Ok(n);
            }
            let Some(idx) = recv(&self.answers.0) else { return Ok(n) };
            if idx >= done.len() {
                bail!("a worker answered for request {idx}, which the plan does not have");
            }
            done[idx] = true;
            n += 1;
            let p = pool_of[idx];
            if let Some(w) = self.pools[p].2.workers.iter_mut().find(|w| w.busy == Some(idx)) {
                w.busy = None;
            }
            self.dispatch(p, sent)?;
            wait = 0;
        }
    }

    /// Errors when a worker has exited: its request would never be
    /// answered, and the run would wait out the drain timeout for it.
    fn check_alive(&mut self) -> Result<()> {
        let mut status = 0;
        // Worker by worker, never waitpid(-1): another child of this
        // process is not ours to reap.
        let Some(pid) = self.pids().into_iter().find(|&pid| {
            // SAFETY: reaps an exited worker of this process, without blocking.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == pid }
        }) else {
            return Ok(());
        };
        for (f, _, pool) in &mut self.pools {
            if let Some(w) = pool.workers.iter_mut().find(|w| w.pid == pid) {
                // Reaped: never signal or wait for that pid again.
                w.pid = 0;
                let what = match w.busy {
                    Some(idx) => format!("while serving request {idx}"),
                    None => "while idle".to_string(),
                };
                bail!("worker {pid} of {f} exited {what} (wait status {status:#x})");
            }
        }
        Ok(())
    }

    fn pids(&self) -> Vec<libc::pid_t> {
        self.pools
            .iter()
            .flat_map(|(_, _, p)| p.workers.iter().map(|w| w.pid))
            .filter(|&pid| pid > 0)
            .collect()
    }

    fn kill(&self) {
        for pid in self.pids() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Closes the request pipes (ending the workers' loops; `kill` first
    /// when some still serve a request), reaps the workers and removes the
    /// instance and function cgroups. Returns, per request, whether it was
    /// a cold start.
    fn finish(mut self, kill: bool) -> Vec<bool> {
        let pids = self.pids();
        if kill {
            self.kill();
        }
        let instances: Vec<(String, usize)> = self
            .pools
            .iter()
            .map(|(f, _, p)| (f.clone(), p.workers.len()))
            .collect();
        let parent = self.cfg.cgroup_parent.clone();
        let cold = std::mem::take(&mut self.cold);
        drop(self);
        for pid in pids {
            let mut status = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
        for (f, n) in instances {
            for k in 0..n {
                let _ = std::fs::remove_dir(parent.join(&f).join(format!("inst{k}")));
            }
            let _ = std::fs::remove_dir(parent.join(&f));
        }
        cold
    }
}

/// Runs `plan` on `workers` warm workers per function (0: as many as
/// [`provisioned`] says; hinted when
/// `hints`) and returns one result per invocation, in plan order;
/// `progress(done, total)` as requests complete.
///
/// Errors when the cgroups cannot be created or a worker cannot be started
/// or dies; requests still unanswered after `drain_timeout` are reported
/// as not ok.
pub fn run_plan(
    plan: &Plan,
    cfg: &ExecConfig,
    workers: usize,
    hints: bool,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<InvocationResult>> {
    let n = plan.invocations.len();
    let slots = SharedSlots::new(n)?;
    let nices = cfg.oracle.then(|| crate::workload::oracle_nices(plan));
    if cfg.oracle && unsafe { libc::geteuid() } != 0 {
        bail!("the oracle arm sets negative nice values: run as root");
    }
    let sizes = match workers {
        0 => provisioned(plan),
        n => vec![n; plan.functions().len()],
    };
    let mut farm = Farm::start(plan, cfg, &sizes, &slots, nices.as_deref(), hints)?;
    if let Some(prio) = cfg.rt_priority
        && let Err(e) = exec::set_realtime(prio)
    {
        log::warn!("cannot run the load generator SCHED_FIFO ({e}): deliveries may be delayed by the load");
    }
    if cfg.rt_priority.is_some()
        && let Err(e) = exec::lock_memory()
    {
        log::warn!("cannot lock the load generator's memory ({e}): page faults may delay deliveries");
    }
    let pool_of: Vec<usize> = plan
        .invocations
        .iter()
        .map(|i| farm.pools.iter().position(|(f, _, _)| *f == i.func).unwrap_or(0))
        .collect();
    let mut done = vec![false; n];
    let mut sent = vec![0u64; n];
    let mut finished = 0usize;
    let t0 = now_ns() + 50_000_000;
    let mut busy_since = now_ns();
    let outcome = (|| -> Result<()> {
        for inv in &plan.invocations {
            let target = t0 + inv.arrival_ns;
            loop {
                let now = now_ns();
                if now >= target {
                    // A real-time task that never sleeps would starve the
                    // sched_ext tasks (see exec::MAX_RT_BURST_NS).
                    if now - busy_since >= MAX_RT_BURST_NS {
                        exec::sleep_until(now + RT_YIELD_NS);
                        busy_since = now_ns();
                    }
                    break;
                }
                let got = farm.collect(&pool_of, &mut done, &mut sent, target - now)?;
                if got > 0 {
                    finished += got;
                    progress(finished, n);
                }
                busy_since = now_ns();
            }
            let p = pool_of[inv.idx];
            farm.pools[p].2.waiting.push_back(inv.idx);
            farm.dispatch(p, &mut sent)?;
        }
        let deadline = now_ns() + cfg.drain_timeout.as_nanos() as u64;
        while finished < n && now_ns() < deadline {
            let got = farm.collect(&pool_of, &mut done, &mut sent, 20_000_000)?;
            if got > 0 {
                finished += got;
                progress(finished, n);
            }
        }
        Ok(())
    })();
    if finished < n {
        log::warn!("{} requests unanswered after the drain timeout", n - finished);
    }
    let cold = farm.finish(finished < n);
    log::info!(
        "warm runtime: {} workers started on demand (cold starts) beside {} provisioned",
        cold.iter().filter(|&&c| c).count(),
        sizes.iter().sum::<usize>()
    );
    outcome?;
    Ok(plan
        .invocations
        .iter()
        .map(|inv| result_of(inv, slots.get(inv.idx), t0, sent[inv.idx], done[inv.idx], cold[inv.idx]))
        .collect())
}

/// The result of request `inv` from its slot; `sent`: when it was handed
/// to a worker (ns, 0 if never); `answered`: the worker reported it done;
/// `cold`: it waited for a worker started for it.
fn result_of(inv: &Invocation, slot: &Slot, t0: u64, sent: u64, answered: bool, cold: bool) -> InvocationResult {
    let ms = |ns: u64| ns as f64 / 1e6;
    let arrival = t0 + inv.arrival_ns;
    let start = slot.start_ns.load(Ordering::SeqCst);
    let end = slot.end_ns.load(Ordering::SeqCst);
    let mut res = InvocationResult::planned(inv);
    res.ok = answered && end > 0;
    res.cold = cold;
    res.spawn_ms = if start > 0 {
        ms(start.saturating_sub(arrival))
    } else {
        f64::NAN
    };
    if sent > 0 {
        res.late_ms = ms(sent.saturating_sub(arrival));
    }
    // Nothing is forked per request.
    res.fork_ms = 0.0;
    if res.ok {
        res.fct_ms = ms(end.saturating_sub(arrival));
        res.end_ms = ms(end.saturating_sub(t0));
        res.cpu_ms = ms(slot.cpu_ns.load(Ordering::SeqCst));
        res.nvcsw = slot.nvcsw.load(Ordering::SeqCst);
        res.nivcsw = slot.nivcsw.load(Ordering::SeqCst);
    }
    res
}

/// The report's section on cold starts, one row per `(arm, cold starts per
/// repetition)`; empty when no arm had any (every fork run).
pub fn cold_start_section<'a>(arms: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> String {
    let arms: Vec<(&str, &[usize])> = arms.into_iter().collect();
    if arms.iter().all(|(_, c)| c.iter().all(|&n| n == 0)) {
        return String::new();
    }
    let mut o = "\n## Cold starts (warm runtime)\n\n\
                 A request that found every warm worker of its function busy waited for a new one \
                 (a fork and an instance cgroup): its FCT includes that start. Arms that differ \
                 here differ by more than the scheduler.\n\n\
                 | arm | cold starts per repetition |\n|---|---|\n"
        .to_string();
    for (arm, c) in arms {
        let per: Vec<String> = c.iter().map(|n| n.to_string()).collect();
        o += &format!("| {arm} | {} |\n", per.join(" / "));
    }
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn runtimes_parse_with_their_worker_counts() {
        use crate::exec::Runtime;
        assert_eq!("fork".parse::<Runtime>(), Ok(Runtime::Fork));
        assert_eq!(
            "warm".parse::<Runtime>(),
            Ok(Runtime::Warm {
                workers: 1,
                hints: true
            })
        );
        assert_eq!(
            "warm:3".parse::<Runtime>(),
            Ok(Runtime::Warm {
                workers: 3,
                hints: true
            })
        );
        assert_eq!(
            "warm:auto".parse::<Runtime>(),
            Ok(Runtime::Warm {
                workers: 0,
                hints: true
            })
        );
        for r in ["fork", "warm:1", "warm:3", "warm:auto"] {
            assert_eq!(r.parse::<Runtime>().unwrap().arg(), r);
        }
        assert_eq!(
            "warm:auto".parse::<Runtime>().unwrap().with_hints(false).to_string(),
            "warm:auto, no hints"
        );
        assert!("warm:0".parse::<Runtime>().unwrap_err().contains("at least 1"));
        assert!("lambda".parse::<Runtime>().unwrap_err().contains("fork, warm"));
    }

    #[test]
    fn cold_starts_are_reported_only_when_there_are_some() {
        assert_eq!(super::cold_start_section([("eevdf", &[0usize, 0][..])]), "");
        let s = super::cold_start_section([("eevdf", &[3usize, 0][..]), ("alps-io", &[1usize, 2][..])]);
        assert!(
            s.contains("| eevdf | 3 / 0 |") && s.contains("| alps-io | 1 / 2 |"),
            "{s}"
        );
    }

    /// Pools are sized to the peak overlap of requests lasting
    /// PROVISION_SLOWDOWN times their demand, per function.
    #[test]
    fn provisioned_pools_follow_the_peak_overlap() {
        use crate::workload::{Phase, Plan};
        let ms = 1_000_000u64;
        let cpu = |n: u64| vec![Phase::Cpu { ns: n * ms }];
        // f: 10 ms requests at 0, 50, 100 and 400 ms: at 16x each lasts
        // 160 ms, so the first three overlap and the one at 400 is alone.
        let plan = Plan::from_jobs(&[
            ("f", 0, cpu(10)),
            ("f", 50 * ms, cpu(10)),
            ("f", 100 * ms, cpu(10)),
            ("f", 400 * ms, cpu(10)),
            ("g", 5 * ms, cpu(1)),
        ]);
        assert_eq!(plan.functions(), vec!["f", "g"]);
        assert_eq!(super::provisioned(&plan), vec![3, 1]);
        // Back to back at exactly 16x the demand: an end and an arrival at
        // the same instant do not overlap.
        let plan = Plan::from_jobs(&[("f", 0, cpu(10)), ("f", 160 * ms, cpu(10))]);
        assert_eq!(super::provisioned(&plan), vec![1]);
    }
}
