//! Runs a plan on warm workers (`--runtime warm[:N]`): N long-lived
//! processes per function, each in its own instance cgroup
//! `<parent>/<func>/inst<k>`, as Lambda and OpenWhisk run one environment
//! per concurrent request. A worker reads request numbers from its own pipe,
//! serves them one at a time and answers on a pipe shared by all workers,
//! as OpenWhisk's action loop and Lambda's runtime API do. A request that
//! finds every worker of its function busy waits, in arrival order, for the
//! first one free: that wait is part of its FCT.
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

/// Starts `n` workers for each function of `plan`, each forked into its
/// instance cgroup.
fn start_pools(
    plan: &Plan,
    cfg: &ExecConfig,
    n: usize,
    answers: &(OwnedFd, OwnedFd),
    slots: &SharedSlots,
    nices: Option<&[i32]>,
    hints: bool,
) -> Result<Vec<(String, Pool)>> {
    std::fs::create_dir_all(&cfg.cgroup_parent).with_context(|| {
        format!(
            "cannot create cgroup {}: run as root on a cgroup v2 host (functions are tagged by cgroup)",
            cfg.cgroup_parent.display()
        )
    })?;
    let mut pools: Vec<(String, Pool)> = Vec::new();
    for f in plan.functions() {
        let name = CString::new(f.as_bytes()).unwrap_or_else(|_| CString::new("faas-fn").unwrap());
        exec::open_cgroup(&cfg.cgroup_parent.join(&f))?;
        let mut pool = Pool {
            workers: Vec::new(),
            waiting: VecDeque::new(),
        };
        for k in 0..n {
            let (cg, procs) = exec::open_cgroup(&cfg.cgroup_parent.join(&f).join(format!("inst{k}")))?;
            let (rx, tx) = pipe()?;
            match exec::fork_into(&cg, &procs) {
                Ok(0) => {
                    drop(tx);
                    worker(plan, &name, rx, &answers.1, slots, nices, hints)
                }
                Ok(pid) => pool.workers.push(Worker {
                    pid,
                    requests: tx,
                    busy: None,
                }),
                Err(e) => {
                    stop_pools(&pools);
                    stop_workers(&pool.workers);
                    bail!("cannot start worker {k} of {f}: {e}");
                }
            }
        }
        pools.push((f, pool));
    }
    Ok(pools)
}

fn stop_workers(workers: &[Worker]) {
    for w in workers {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(w.pid, libc::SIGKILL) };
    }
}

fn stop_pools(pools: &[(String, Pool)]) {
    for (_, p) in pools {
        stop_workers(&p.workers);
    }
}

/// Gives waiting requests of `pool` to its free workers, noting in `sent`
/// when each was handed over (ns).
fn dispatch(pool: &mut Pool, sent: &mut [u64]) -> Result<()> {
    for w in pool.workers.iter_mut().filter(|w| w.busy.is_none()) {
        let Some(idx) = pool.waiting.pop_front() else { break };
        sent[idx] = now_ns();
        send(&w.requests, idx).with_context(|| format!("worker {} is gone", w.pid))?;
        w.busy = Some(idx);
    }
    Ok(())
}

/// Waits up to `timeout_ns` for answers and frees their workers; returns
/// how many came.
fn collect(
    answers: &OwnedFd,
    pools: &mut [(String, Pool)],
    pool_of: &[usize],
    done: &mut [bool],
    sent: &mut [u64],
    timeout_ns: u64,
) -> Result<usize> {
    let mut n = 0;
    let mut wait = timeout_ns;
    loop {
        let mut pfd = libc::pollfd {
            fd: answers.as_raw_fd(),
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
        let Some(idx) = recv(answers) else { return Ok(n) };
        if idx >= done.len() {
            bail!("a worker answered for request {idx}, which the plan does not have");
        }
        done[idx] = true;
        n += 1;
        let pool = &mut pools[pool_of[idx]].1;
        if let Some(w) = pool.workers.iter_mut().find(|w| w.busy == Some(idx)) {
            w.busy = None;
        }
        dispatch(pool, sent)?;
        wait = 0;
    }
}

/// Runs `plan` on `workers` warm workers per function (hinted when
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
    let answers = pipe()?;
    let mut pools = start_pools(plan, cfg, workers.max(1), &answers, &slots, nices.as_deref(), hints)?;
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
        .map(|i| pools.iter().position(|(f, _)| *f == i.func).unwrap_or(0))
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
                let got = collect(&answers.0, &mut pools, &pool_of, &mut done, &mut sent, target - now)?;
                if got > 0 {
                    finished += got;
                    progress(finished, n);
                }
                busy_since = now_ns();
            }
            let pool = &mut pools[pool_of[inv.idx]].1;
            pool.waiting.push_back(inv.idx);
            dispatch(pool, &mut sent)?;
        }
        let deadline = now_ns() + cfg.drain_timeout.as_nanos() as u64;
        while finished < n && now_ns() < deadline {
            let got = collect(&answers.0, &mut pools, &pool_of, &mut done, &mut sent, 20_000_000)?;
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
    // Closing the request pipes ends the workers' loops; a worker still
    // serving a request past the drain timeout is killed.
    let pids: Vec<libc::pid_t> = pools
        .iter()
        .flat_map(|(_, p)| p.workers.iter().map(|w| w.pid))
        .collect();
    if finished < n {
        stop_pools(&pools);
    }
    drop(pools);
    for pid in pids {
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    for f in plan.functions() {
        for k in 0..workers.max(1) {
            let _ = std::fs::remove_dir(cfg.cgroup_parent.join(&f).join(format!("inst{k}")));
        }
        let _ = std::fs::remove_dir(cfg.cgroup_parent.join(&f));
    }
    outcome?;
    Ok(plan
        .invocations
        .iter()
        .map(|inv| result_of(inv, slots.get(inv.idx), t0, sent[inv.idx], done[inv.idx]))
        .collect())
}

/// The result of request `inv` from its slot; `sent`: when it was handed
/// to a worker (ns, 0 if never); `answered`: the worker reported it done.
fn result_of(inv: &Invocation, slot: &Slot, t0: u64, sent: u64, answered: bool) -> InvocationResult {
    let ms = |ns: u64| ns as f64 / 1e6;
    let arrival = t0 + inv.arrival_ns;
    let start = slot.start_ns.load(Ordering::SeqCst);
    let end = slot.end_ns.load(Ordering::SeqCst);
    let mut res = InvocationResult::planned(inv);
    res.ok = answered && end > 0;
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
        assert!("warm:0".parse::<Runtime>().unwrap_err().contains("at least 1"));
        assert!("lambda".parse::<Runtime>().unwrap_err().contains("fork, warm"));
    }
}
