//! Reference models: FIFO, the EEVDF/CFS fair-share model, and three bounds
//! (clairvoyant SRPT; and, blind to each job's size, least attained service
//! and the Gittins index of each function's size distribution).

use std::collections::{BTreeSet, HashMap, VecDeque};

use scx_alps::learner::gittins;

use super::engine::{Model, State, Why, World};

/// Run to block, one global FIFO queue.
pub(crate) struct Fifo {
    pub q: VecDeque<usize>,
}

impl Model for Fifo {
    fn enqueue(&mut self, _w: &mut World, t: usize, _why: Why) {
        self.q.push_back(t);
    }
    fn pick(&mut self, _w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        if let Some(p) = prev {
            return Some((p, u64::MAX));
        }
        self.q.pop_front().map(|t| (t, u64::MAX))
    }
    fn preempt_target(&mut self, _w: &mut World, _t: usize) -> Option<usize> {
        None
    }
    fn has_queued(&self) -> bool {
        !self.q.is_empty()
    }
}

/// A fair-share model of EEVDF/CFS: virtual runtime, a base slice, sleepers
/// placed at most one slice behind the queue's virtual time, wake-up
/// preemption of the running task with the largest virtual runtime once it
/// ran a minimum granularity.
pub(crate) struct Fair {
    pub q: BTreeSet<(u64, usize)>,
    pub slice: u64,
    pub min_gran: u64,
    pub vnow: u64,
}

impl Fair {
    fn current_vruntime(&self, w: &World, t: usize) -> u64 {
        let task = &w.tasks[t];
        match task.state {
            State::Running(c) => task.vruntime + w.now.saturating_sub(w.cpus[c].seg_start),
            _ => task.vruntime,
        }
    }
}

impl Model for Fair {
    fn enqueue(&mut self, w: &mut World, t: usize, why: Why) {
        let v = &mut w.tasks[t].vruntime;
        match why {
            Why::Arrival => *v = self.vnow,
            Why::Wakeup => *v = (*v).max(self.vnow.saturating_sub(self.slice)),
        }
        self.q.insert((*v, t));
    }
    fn pick(&mut self, w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        if let Some(p) = prev {
            let vp = w.tasks[p].vruntime;
            match self.q.first() {
                Some(&(v, _)) if v < vp => {
                    self.q.insert((vp, p));
                }
                _ => return Some((p, self.slice)),
            }
        }
        let (v, t) = self.q.pop_first()?;
        self.vnow = self.vnow.max(v);
        Some((t, self.slice))
    }
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Option<usize> {
        let vt = w.tasks[t].vruntime;
        let mut best: Option<(u64, usize)> = None;
        for c in 0..w.cpus.len() {
            let Some(r) = w.cpus[c].task else { continue };
            if w.now.saturating_sub(w.cpus[c].stint_start) < self.min_gran {
                continue;
            }
            let vr = self.current_vruntime(w, r);
            if best.is_none_or(|(b, _)| vr > b) {
                best = Some((vr, c));
            }
        }
        // EEVDF preempts when the woken task's deadline comes first.
        match best {
            Some((vr, c)) if vt + self.slice / 2 < vr => Some(c),
            _ => None,
        }
    }
    fn stopped(&mut self, w: &mut World, t: usize, ran: u64) {
        w.tasks[t].vruntime += ran;
    }
    fn has_queued(&self) -> bool {
        !self.q.is_empty()
    }
}

/// Preemptive priority scheduling on a per-task rank (smaller first) that a
/// model computes from the task's state. Queued tasks keep the rank they were
/// queued with (they attain nothing while queued); the running tasks' ranks
/// are re-evaluated at arrivals, completions and ticks.
pub(crate) trait Rank {
    fn rank(&self, w: &World, t: usize) -> u64;
    /// Re-evaluate at ticks (ranks that change as a task runs).
    fn ticked(&self) -> bool;
}

/// A [`Rank`] scheduler.
pub(crate) struct Ranked<R: Rank> {
    pub q: BTreeSet<(u64, usize)>,
    pub by: R,
}

impl<R: Rank> Ranked<R> {
    pub fn new(by: R) -> Self {
        Self { q: BTreeSet::new(), by }
    }
}

impl<R: Rank> Model for Ranked<R> {
    fn enqueue(&mut self, w: &mut World, t: usize, _why: Why) {
        self.q.insert((self.by.rank(w, t), t));
    }
    fn pick(&mut self, w: &mut World, _cpu: usize, prev: Option<usize>) -> Option<(usize, u64)> {
        if let Some(p) = prev {
            let rp = self.by.rank(w, p);
            match self.q.first() {
                Some(&(k, _)) if k < rp => {
                    self.q.insert((rp, p));
                }
                _ => return Some((p, u64::MAX)),
            }
        }
        self.q.pop_first().map(|(_, t)| (t, u64::MAX))
    }
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Option<usize> {
        let kt = self.by.rank(w, t);
        let mut worst: Option<(u64, usize)> = None;
        for c in 0..w.cpus.len() {
            if let Some(r) = w.cpus[c].task {
                let kr = self.by.rank(w, r);
                if worst.is_none_or(|(k, _)| kr > k) {
                    worst = Some((kr, c));
                }
            }
        }
        match worst {
            Some((k, c)) if kt < k => Some(c),
            _ => None,
        }
    }
    fn ticked(&self) -> bool {
        self.by.ticked()
    }
    fn tick(&mut self, w: &mut World, cpu: usize) -> bool {
        let Some(t) = w.cpus[cpu].task else { return false };
        self.q.first().is_some_and(|&(k, _)| k < self.by.rank(w, t))
    }
    fn has_queued(&self) -> bool {
        !self.q.is_empty()
    }
}

/// Clairvoyant SRPT: the remaining CPU demand over all future bursts.
pub(crate) struct Remaining;

impl Rank for Remaining {
    fn rank(&self, w: &World, t: usize) -> u64 {
        w.remaining_total(t)
    }
    fn ticked(&self) -> bool {
        false
    }
}

/// Least attained service: size-blind, the CPU attained so far.
pub(crate) struct Attained;

impl Rank for Attained {
    fn rank(&self, w: &World, t: usize) -> u64 {
        w.attained(t)
    }
    fn ticked(&self) -> bool {
        true
    }
}

/// The Gittins index of each function's size distribution (the whole plan's
/// invocations of that function: the distribution is known, each job's size
/// is not), as a rank size in ns.
pub(crate) struct GittinsRank {
    /// Function id -> clusters of its sizes.
    pub clusters: HashMap<u32, Vec<(u64, u32)>>,
}

/// Cluster count of the Gittins bound: finer than the BPF schedules.
const BOUND_CLUSTERS: usize = 64;

impl GittinsRank {
    /// The index of every function of `w`'s plan.
    pub fn of(tasks: &[(u32, u64)]) -> Self {
        let mut sizes: HashMap<u32, Vec<u64>> = HashMap::new();
        for &(f, s) in tasks {
            sizes.entry(f).or_default().push(s);
        }
        Self {
            clusters: sizes
                .into_iter()
                .map(|(f, s)| (f, gittins::clusters(&s, BOUND_CLUSTERS)))
                .collect(),
        }
    }
}

impl Rank for GittinsRank {
    fn rank(&self, w: &World, t: usize) -> u64 {
        let a = w.attained(t);
        self.clusters
            .get(&w.tasks[t].func)
            .and_then(|c| gittins::rank_size(c, a))
            .map_or(a, |r| r as u64)
    }
    fn ticked(&self) -> bool {
        true
    }
}
