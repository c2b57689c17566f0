//! Multi-CPU SRPT simulation of an invocation window.
//!
//! ALPS (Fu et al., USENIX ATC '24, §4.2; artifact `frontend/simulate.py`)
//! replays recent invocations through a shortest-remaining-processing-time
//! scheduler with a non-preemption quantum and learns from the *stints* (the
//! uninterrupted runs) that SRPT would have given each function. The artifact
//! simulates one CPU in 1 ms ticks; this simulation is event-driven (exact
//! in ns) and runs on the host's CPU count.
//!
//! Rules: a free CPU takes the ready job with the least remaining work; a
//! running job may be preempted once it has run for `quantum_ns` in its
//! current stint, by a ready job whose remaining work is strictly smaller
//! than its own (the preemptible job with the most remaining work goes first).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One job of the simulation: arrives at `arrival_ns`, needs `size_ns` of CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimJob {
    /// Arrival time, ns (any origin; only differences matter).
    pub arrival_ns: u64,
    /// CPU demand, ns. A zero size is treated as 1 ns.
    pub size_ns: u64,
}

/// One uninterrupted run of a job on a CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stint {
    /// Index of the job in the input slice.
    pub job: usize,
    /// When the stint began, ns.
    pub start_ns: u64,
    /// Its length, ns.
    pub len_ns: u64,
    /// True for the stint in which the job completed.
    pub last: bool,
}

/// What the simulation produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SrptSchedule {
    /// Every stint, in the order they ended.
    pub stints: Vec<Stint>,
    /// Completion time of each job, ns, indexed like the input.
    pub completion_ns: Vec<u64>,
}

#[derive(Clone, Copy)]
struct Run {
    job: usize,
    start: u64,
    rem_at_start: u64,
}

impl Run {
    fn remaining_at(&self, t: u64) -> u64 {
        self.rem_at_start - (t - self.start).min(self.rem_at_start)
    }
}

/// Simulates `jobs` under preemptive SRPT on `nr_cpus` CPUs (at least 1) with
/// a non-preemption quantum of `quantum_ns` (ALPS uses 8 ms).
///
/// Returns the stints and the completion time of every job. Runs in
/// O((jobs + preemptions) · nr_cpus · log jobs).
pub fn simulate(jobs: &[SimJob], nr_cpus: usize, quantum_ns: u64) -> SrptSchedule {
    let n = jobs.len();
    let nr_cpus = nr_cpus.max(1);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (jobs[i].arrival_ns, i));

    let mut out = SrptSchedule {
        stints: Vec::with_capacity(n * 2),
        completion_ns: vec![0; n],
    };
    // Ready jobs keyed by (remaining, arrival, index): SRPT with FIFO ties.
    let mut ready: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut cpus: Vec<Option<Run>> = vec![None; nr_cpus];
    let mut next_arrival = 0usize;
    let mut done = 0usize;
    let mut t = order.first().map_or(0, |&i| jobs[i].arrival_ns);

    while done < n {
        // Completions at t.
        for slot in cpus.iter_mut() {
            if let Some(run) = *slot
                && run.start + run.rem_at_start <= t
            {
                out.stints.push(Stint {
                    job: run.job,
                    start_ns: run.start,
                    len_ns: run.rem_at_start,
                    last: true,
                });
                out.completion_ns[run.job] = run.start + run.rem_at_start;
                done += 1;
                *slot = None;
            }
        }
        // Arrivals at t.
        while next_arrival < n && jobs[order[next_arrival]].arrival_ns <= t {
            let i = order[next_arrival];
            ready.push(Reverse((jobs[i].size_ns.max(1), jobs[i].arrival_ns, i)));
            next_arrival += 1;
        }
        // Idle CPUs take the shortest ready jobs.
        for slot in cpus.iter_mut() {
            if slot.is_none()
                && let Some(Reverse((rem, _, job))) = ready.pop()
            {
                *slot = Some(Run {
                    job,
                    start: t,
                    rem_at_start: rem,
                });
            }
        }
        // Preempt while a ready job is strictly shorter than the longest
        // preemptible running one.
        while let Some(&Reverse((ready_rem, _, _))) = ready.peek() {
            let victim = cpus
                .iter()
                .enumerate()
                .filter_map(|(c, slot)| slot.map(|r| (c, r)))
                .filter(|(_, r)| t - r.start >= quantum_ns)
                .max_by_key(|(c, r)| (r.remaining_at(t), Reverse(*c)));
            let Some((c, run)) = victim else { break };
            let run_rem = run.remaining_at(t);
            if ready_rem >= run_rem {
                break;
            }
            out.stints.push(Stint {
                job: run.job,
                start_ns: run.start,
                len_ns: t - run.start,
                last: false,
            });
            ready.push(Reverse((run_rem, jobs[run.job].arrival_ns, run.job)));
            let Reverse((rem, _, job)) = ready.pop().expect("peeked above");
            cpus[c] = Some(Run {
                job,
                start: t,
                rem_at_start: rem,
            });
        }
        if done == n {
            break;
        }
        // Next event: an arrival, a completion, or (while jobs wait) the end
        // of a running job's non-preemptible quantum.
        let mut next = u64::MAX;
        if next_arrival < n {
            next = next.min(jobs[order[next_arrival]].arrival_ns);
        }
        for run in cpus.iter().flatten() {
            next = next.min(run.start + run.rem_at_start);
            if !ready.is_empty() && t - run.start < quantum_ns {
                next = next.min(run.start + quantum_ns);
            }
        }
        debug_assert!(next != u64::MAX && next >= t, "simulation stalled at {t}");
        if next == u64::MAX {
            break;
        }
        t = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn job(arrival_ms: u64, size_ms: u64) -> SimJob {
        SimJob {
            arrival_ns: arrival_ms * MS,
            size_ns: size_ms * MS,
        }
    }

    fn stints_of(s: &SrptSchedule, j: usize) -> Vec<u64> {
        s.stints.iter().filter(|x| x.job == j).map(|x| x.len_ns / MS).collect()
    }

    #[test]
    fn quantum_defers_preemption() {
        // A(0, 30) runs; B(5, 10) arrives but A is protected until t = 8.
        let s = simulate(&[job(0, 30), job(5, 10)], 1, 8 * MS);
        assert_eq!(stints_of(&s, 0), vec![8, 22]);
        assert_eq!(stints_of(&s, 1), vec![10]);
        assert_eq!(s.completion_ns, vec![40 * MS, 18 * MS]);
    }

    #[test]
    fn zero_quantum_is_pure_srpt() {
        let s = simulate(&[job(0, 30), job(5, 10)], 1, 0);
        assert_eq!(stints_of(&s, 0), vec![5, 25]);
        assert_eq!(s.completion_ns, vec![40 * MS, 15 * MS]);
    }

    #[test]
    fn equal_remaining_does_not_preempt() {
        // At t = 10, A has 10 left and B needs 10: no preemption.
        let s = simulate(&[job(0, 20), job(10, 10)], 1, 0);
        assert_eq!(stints_of(&s, 0), vec![20]);
        assert_eq!(s.completion_ns, vec![20 * MS, 30 * MS]);
    }

    #[test]
    fn shortest_ready_job_goes_first_and_fifo_breaks_ties() {
        // All arrive at 0 on one CPU: order 5, 5 (earlier index), 10, 20.
        let s = simulate(&[job(0, 20), job(0, 5), job(0, 10), job(0, 5)], 1, 8 * MS);
        assert_eq!(s.completion_ns, vec![40 * MS, 5 * MS, 20 * MS, 10 * MS]);
        assert!(s.stints.iter().all(|x| x.last));
    }

    #[test]
    fn two_cpus_preempt_the_longest_running_job() {
        // CPU0: A(0, 100), CPU1: B(0, 50). C(20, 10) preempts A (most left).
        let s = simulate(&[job(0, 100), job(0, 50), job(20, 10)], 2, 8 * MS);
        assert_eq!(stints_of(&s, 0), vec![20, 80]);
        assert_eq!(stints_of(&s, 1), vec![50]);
        assert_eq!(stints_of(&s, 2), vec![10]);
        // A resumes at 30 on the CPU C leaves; B finishes at 50 untouched.
        assert_eq!(s.completion_ns, vec![110 * MS, 50 * MS, 30 * MS]);
    }

    #[test]
    fn idle_gaps_and_zero_sizes_are_handled() {
        let s = simulate(&[job(0, 0), job(100, 5)], 4, 8 * MS);
        assert_eq!(s.completion_ns, vec![1, 105 * MS]);
        let empty = simulate(&[], 4, 8 * MS);
        assert!(empty.stints.is_empty());
    }

    #[test]
    fn work_is_conserved() {
        // Total stint time equals total demand, whatever the interleaving.
        let jobs: Vec<SimJob> = (0..200).map(|i| job(i * 3 % 97, 1 + (i * 37 % 53))).collect();
        let s = simulate(&jobs, 3, 2 * MS);
        let demand: u64 = jobs.iter().map(|j| j.size_ns).sum();
        let served: u64 = s.stints.iter().map(|x| x.len_ns).sum();
        assert_eq!(demand, served);
        assert_eq!(s.stints.iter().filter(|x| x.last).count(), jobs.len());
        for (j, c) in jobs.iter().zip(&s.completion_ns) {
            assert!(*c >= j.arrival_ns + j.size_ns);
        }
    }
}
