//! The ALPS learner: from finished invocations to per-function ranks and slices.
//!
//! Every learning interval the loader feeds the invocation records the BPF
//! program sent, and [`Learner::update`] turns the sliding window into a
//! policy table:
//!
//! 1. [`srpt::simulate`] replays the window under SRPT on the host's CPUs
//!    with ALPS's non-preemption quantum;
//! 2. per function, the mean `mu` and standard deviation `sigma` of the
//!    simulated stints (ALPS keeps every stint but the completing one of a
//!    job that was preempted);
//! 3. the task-ordering policy sorts functions by a size key and spreads them
//!    over the ranks: `mu` (ALPS, `--order stint`) or the mean CPU per
//!    invocation (`--order demand`, alps-io's default); the I/O-aware variant
//!    then inflates the key of functions that mostly sleep (see [`train`]);
//! 4. the time-slice policy gives each function `min(alpha*mu, 200 ms) -
//!    beta*sigma`, non-increasing along the order, smoothed against the
//!    previous slice and scaled down above `theta` % CPU utilisation.
//!
//! Nothing here runs on the scheduling path: the BPF program reads the last
//! published table from a map.

pub mod srpt;
pub mod train;
pub mod window;

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use train::{FuncPolicy, LearnerConfig, OrderKey, PolicyKind};
pub use window::Window;

/// One finished invocation (one task's lifetime) as the BPF program reports
/// it. Times in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// Function of the task, 0 if unknown.
    pub func_id: u32,
    /// Task creation, ns (CLOCK_MONOTONIC).
    pub start_ns: u64,
    /// Task exit, ns (CLOCK_MONOTONIC).
    pub end_ns: u64,
    /// CPU time, ns.
    pub cpu_ns: u64,
    /// Time runnable but waiting for a CPU, ns.
    pub wait_ns: u64,
    /// Time asleep (blocked), ns.
    pub blocked_ns: u64,
    /// Voluntary context switches (sleeps) before the task's exit.
    pub nvcsw: u64,
    /// Involuntary context switches (preemptions, slice expiries).
    pub nivcsw: u64,
}

/// Learner state: the window, the previous slices (for smoothing) and the
/// cost of the last updates.
#[derive(Debug)]
pub struct Learner {
    cfg: LearnerConfig,
    window: Window,
    prev_slice_ns: HashMap<u32, u64>,
    updates: u64,
    last_cost_ns: u64,
    total_cost_ns: u64,
    max_cost_ns: u64,
}

/// Cost of learner updates so far, ns of wall-clock time per update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerCost {
    /// Number of updates.
    pub updates: u64,
    /// Cost of the last update, ns.
    pub last_ns: u64,
    /// Mean cost per update, ns.
    pub mean_ns: u64,
    /// Largest cost of an update, ns.
    pub max_ns: u64,
}

impl Learner {
    /// A learner with an empty window.
    pub fn new(cfg: LearnerConfig) -> Self {
        let window = Window::new(cfg.window);
        Self {
            cfg,
            window,
            prev_slice_ns: HashMap::new(),
            updates: 0,
            last_cost_ns: 0,
            total_cost_ns: 0,
            max_cost_ns: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &LearnerConfig {
        &self.cfg
    }

    /// Adds a finished invocation to the window. Invocations of unknown
    /// functions (func_id 0) are ignored.
    pub fn observe(&mut self, inv: Invocation) {
        if inv.func_id != 0 {
            self.window.push(inv);
        }
    }

    /// The current window.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Trains both policies on the window. `util_pct` is the host's CPU
    /// utilisation over the last interval, in percent (0..=100). Returns one
    /// entry per function present in the window, sorted by rank; empty when
    /// the window is.
    pub fn update(&mut self, util_pct: f64) -> Vec<FuncPolicy> {
        let t0 = Instant::now();
        let table = train::train(&self.cfg, self.window.as_slice(), util_pct, &self.prev_slice_ns);
        for f in &table {
            self.prev_slice_ns.insert(f.func_id, f.slice_ns);
        }
        let cost = t0.elapsed().as_nanos() as u64;
        self.updates += 1;
        self.last_cost_ns = cost;
        self.total_cost_ns += cost;
        self.max_cost_ns = self.max_cost_ns.max(cost);
        table
    }

    /// Cost of the updates so far.
    pub fn cost(&self) -> LearnerCost {
        LearnerCost {
            updates: self.updates,
            last_ns: self.last_cost_ns,
            mean_ns: self.total_cost_ns.checked_div(self.updates).unwrap_or(0),
            max_ns: self.max_cost_ns,
        }
    }
}

/// Invocation builders for the learner's unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    use super::Invocation;

    const MS: u64 = 1_000_000;

    /// An invocation of `func_id` that starts at `start_ms` and runs
    /// `cpu_ms` of CPU without waiting or sleeping.
    pub fn cpu_inv(func_id: u32, start_ms: u64, cpu_ms: u64) -> Invocation {
        Invocation {
            func_id,
            start_ns: start_ms * MS,
            end_ns: (start_ms + cpu_ms) * MS,
            cpu_ns: cpu_ms * MS,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::cpu_inv as inv;
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn unknown_functions_are_not_learned() {
        let mut l = Learner::new(LearnerConfig::default());
        l.observe(inv(0, 0, 10));
        l.observe(inv(3, 0, 10));
        assert_eq!(l.window().len(), 1);
        let table = l.update(10.0);
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].func_id, 3);
    }

    #[test]
    fn update_records_its_cost() {
        let mut l = Learner::new(LearnerConfig::default());
        for i in 0..50 {
            l.observe(inv(1 + (i % 3) as u32, i * 5, 1 + i % 7));
        }
        assert_eq!(l.cost().updates, 0);
        l.update(10.0);
        l.update(10.0);
        let c = l.cost();
        assert_eq!(c.updates, 2);
        assert!(c.last_ns > 0 && c.max_ns >= c.last_ns && c.mean_ns > 0);
    }

    #[test]
    fn slices_are_smoothed_against_the_previous_update() {
        let cfg = LearnerConfig {
            window: 10,
            ..LearnerConfig::default()
        };
        let mut l = Learner::new(cfg);
        for i in 0..10 {
            l.observe(inv(1, i * 100, 20));
        }
        let first = l.update(10.0)[0].slice_ns;
        for i in 10..20 {
            l.observe(inv(1, i * 100, 60));
        }
        let second = l.update(10.0)[0].slice_ns;
        // Raw slice moves 20 -> 60 ms; smoothing keeps 30 % of the old one.
        assert_eq!(first, 20 * MS);
        assert_eq!(second, (0.7 * 60.0 * MS as f64 + 0.3 * 20.0 * MS as f64) as u64);
    }
}
