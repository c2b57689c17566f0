//! The statistics of scx_alps, one schema for everyone: the loader serves
//! them (scx_stats: `--stats`, `--monitor`, `--json`), the benchmark keeps
//! the last snapshot of each scheduler arm and the simulator reports its
//! models' counters in it, and the report and the tests read it back typed.

use std::io::Write;

use anyhow::Result;
use scx_stats_derive::{Stats, stat_doc};
use serde::{Deserialize, Serialize};

use crate::learner::FuncPolicy;

/// Counters of one queue level (DSQ): the tasks whose rank size falls in
/// one half-octave.
#[stat_doc]
#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
pub struct LevelMetrics {
    #[stat(desc = "Queue level (0 = served first)")]
    pub level: u32,
    #[stat(desc = "Smallest rank size of the level, ms")]
    pub from_ms: f64,
    #[stat(desc = "Tasks queued in this level's DSQ now")]
    pub queued: i64,
    #[stat(desc = "Tasks inserted into this level's DSQ since attach")]
    pub enqueued: u64,
    #[stat(desc = "Tasks dispatched from this level's DSQ since attach")]
    pub dispatched: u64,
    #[stat(desc = "Dispatches from this level per second over the last interval")]
    pub dispatch_per_s: f64,
    #[stat(desc = "Wake-up preemption kicks sent for tasks of this level")]
    pub preempt_kicks: u64,
    #[stat(desc = "Starving tasks of this level moved to the guard DSQ")]
    pub guard_promotions: u64,
}

/// Learned policy of one function.
#[stat_doc]
#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
pub struct FuncMetrics {
    #[stat(desc = "Function name")]
    pub name: String,
    #[stat(desc = "Function id")]
    pub func_id: u32,
    #[stat(desc = "Level of a fresh invocation")]
    pub level: u32,
    #[stat(desc = "Rank size of a fresh invocation, ms")]
    pub rank_ms: f64,
    #[stat(desc = "Steps of the learned level schedule")]
    pub steps: u32,
    #[stat(desc = "Learned time slice, ms")]
    pub slice_ms: f64,
    #[stat(desc = "Attained CPU past which an invocation outgrew its schedule, ms")]
    pub expect_ms: f64,
    #[stat(desc = "Mean simulated SRPT stint (mu), ms")]
    pub mu_ms: f64,
    #[stat(desc = "Standard deviation of simulated stints (sigma), ms")]
    pub sigma_ms: f64,
    #[stat(desc = "Mean CPU per invocation, ms")]
    pub cpu_ms: f64,
    #[stat(desc = "Share of lifetime spent blocked, percent")]
    pub blocked_pct: f64,
    #[stat(desc = "Voluntary sleeps per invocation")]
    pub sleeps: f64,
    #[stat(desc = "1 when marked I/O-bound (alps-io): its wake-ups wait for the minimum quantum")]
    pub io_bound: u32,
    #[stat(desc = "Invocations of this function in the learner's window")]
    pub samples: u64,
}

/// Everything scx_alps reports.
#[stat_doc]
#[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
#[stat(top)]
pub struct Metrics {
    #[stat(desc = "Scheduling policy (alps or alps-io)")]
    pub policy: String,
    #[stat(desc = "Seconds since the scheduler attached")]
    pub uptime_s: f64,
    #[stat(desc = "Invocation records received since attach")]
    pub nr_records: u64,
    #[stat(desc = "Progress records of invocations still running received since attach (censored sizes for alps-io)")]
    pub nr_progress: u64,
    #[stat(desc = "Invocation records delimited by a task's lifetime (fork to exit)")]
    pub nr_records_task: u64,
    #[stat(desc = "Invocation records delimited by the runtime's begin/end hints (--hint-binary)")]
    pub nr_records_hint: u64,
    #[stat(desc = "Invocation records delimited by an idle gap of a warm worker (--idle-gap-ms)")]
    pub nr_records_gap: u64,
    #[stat(desc = "Begin hints seen (alps_invocation_begin calls)")]
    pub nr_hint_begins: u64,
    #[stat(desc = "End hints that closed an open invocation (alps_invocation_end calls)")]
    #[serde(default)]
    pub nr_hint_ends: u64,
    #[stat(desc = "Begin hints over an open invocation, or repeated end hints with none open (lost hints)")]
    pub nr_hint_unpaired: u64,
    #[stat(
        desc = "Invocations stamped by start-time fair queueing (non-zero: a function cgroup has a cpu.weight other than 100, so each level is shared by weight)"
    )]
    #[serde(default)]
    pub nr_weighted: u64,
    #[stat(desc = "Invocations finished per second over the last interval")]
    pub invocations_per_s: f64,
    #[stat(desc = "Ring-buffer records (exit or progress) dropped because the ring buffer was full")]
    pub nr_rb_drops: u64,
    #[stat(desc = "Wake-ups dispatched straight to an idle CPU")]
    pub nr_direct: u64,
    #[stat(desc = "Slice refills of a task with no better competitor")]
    pub nr_kept: u64,
    #[stat(desc = "Enqueues of tasks of no function (host work)")]
    pub nr_host_enqueued: u64,
    #[stat(desc = "Enqueues of learned tasks past their schedule (a misprediction: placed by attained CPU)")]
    pub nr_demotions: u64,
    #[stat(desc = "Wake-up preemption kicks (all ranks)")]
    pub nr_preempt_kicks: u64,
    #[stat(desc = "Wake-up preemptions held back by the minimum quantum")]
    pub nr_throttled: u64,
    #[stat(desc = "Running tasks cut short at a tick (better level waiting, or guard)")]
    pub nr_tick_preempts: u64,
    #[stat(desc = "Starvation-guard activations: starving tasks moved to the guard DSQ")]
    pub nr_guard: u64,
    #[stat(desc = "Tasks served from the guard DSQ (starving tasks and the loader's threads)")]
    pub nr_guard_dispatched: u64,
    #[stat(desc = "Longest runnable wait seen since attach, ms")]
    pub max_wait_ms: f64,
    #[stat(desc = "The task that waited longest: pid (comm)")]
    pub max_wait_task: String,
    #[stat(desc = "Learner updates since start")]
    pub learner_updates: u64,
    #[stat(desc = "Cost of the last learner update (simulation + training), us")]
    pub learner_last_us: f64,
    #[stat(desc = "Mean cost of a learner update, us")]
    pub learner_mean_us: f64,
    #[stat(desc = "Largest cost of a learner update, us")]
    pub learner_max_us: f64,
    #[stat(desc = "Cost of writing the last policy into the BPF maps, us")]
    pub push_last_us: f64,
    #[stat(desc = "Invocations in the learner's window")]
    pub window_len: u64,
    #[stat(desc = "Functions known (tagged)")]
    pub nr_functions: u64,
    #[stat(desc = "Functions forgotten since start: unseen for --func-ttl-s")]
    #[serde(default)]
    pub nr_forgotten: u64,
    #[stat(desc = "Function ids released for new functions since start")]
    #[serde(default)]
    pub nr_ids_recycled: u64,
    #[stat(desc = "Cgroups mapped to functions")]
    pub nr_cgroups: u64,
    #[stat(desc = "Tasks holding a task_ctx: init_task minus exit_task calls")]
    pub nr_tasks: u64,
    #[stat(desc = "Per-level counters")]
    pub levels: Vec<LevelMetrics>,
    #[stat(desc = "Learned policy table, by level")]
    pub functions: Vec<FuncMetrics>,
}

impl Metrics {
    /// Fills the per-second rates from the previous snapshot `prev`.
    pub fn with_rates(mut self, prev: &Metrics) -> Metrics {
        let dt = self.uptime_s - prev.uptime_s;
        if dt > 0.0 && self.uptime_s >= prev.uptime_s {
            self.invocations_per_s = self.nr_records.saturating_sub(prev.nr_records) as f64 / dt;
            for r in self.levels.iter_mut() {
                let before = prev
                    .levels
                    .iter()
                    .find(|p| p.level == r.level)
                    .map_or(0, |p| p.dispatched);
                r.dispatch_per_s = r.dispatched.saturating_sub(before) as f64 / dt;
            }
        }
        self
    }

    /// Human-readable report.
    pub fn format<W: Write>(&self, w: &mut W) -> Result<()> {
        writeln!(
            w,
            "[scx_alps {}] up {:.1}s | invocations {} ({:.1}/s) progress {} drops {} | direct {} kept {} host {} mispredicted {} | \
             preempt kicks {} throttled {} tick {} | guard {} (served {}) max wait {:.1}ms by {}",
            self.policy,
            self.uptime_s,
            self.nr_records,
            self.invocations_per_s,
            self.nr_progress,
            self.nr_rb_drops,
            self.nr_direct,
            self.nr_kept,
            self.nr_host_enqueued,
            self.nr_demotions,
            self.nr_preempt_kicks,
            self.nr_throttled,
            self.nr_tick_preempts,
            self.nr_guard,
            self.nr_guard_dispatched,
            self.max_wait_ms,
            self.max_wait_task,
        )?;
        writeln!(
            w,
            "  learner: {} updates, last {:.0}us mean {:.0}us max {:.0}us, push {:.0}us | window {} | functions {} (forgotten {} \
             recycled {}) cgroups {} tasks {}",
            self.learner_updates,
            self.learner_last_us,
            self.learner_mean_us,
            self.learner_max_us,
            self.push_last_us,
            self.window_len,
            self.nr_functions,
            self.nr_forgotten,
            self.nr_ids_recycled,
            self.nr_cgroups,
            self.nr_tasks,
        )?;
        writeln!(
            w,
            "  {:>5} {:>9} {:>7} {:>10} {:>10} {:>9} {:>7} {:>6}   (levels that saw tasks)",
            "level", "from_ms", "queued", "enqueued", "dispatched", "disp/s", "kicks", "guard"
        )?;
        for r in self
            .levels
            .iter()
            .filter(|r| r.enqueued > 0 || r.queued > 0 || r.dispatched > 0)
        {
            writeln!(
                w,
                "  {:>5} {:>9.2} {:>7} {:>10} {:>10} {:>9.1} {:>7} {:>6}",
                r.level,
                r.from_ms,
                r.queued,
                r.enqueued,
                r.dispatched,
                r.dispatch_per_s,
                r.preempt_kicks,
                r.guard_promotions
            )?;
        }
        if !self.functions.is_empty() {
            writeln!(
                w,
                "  {:<20} {:>5} {:>8} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>3} {:>6}",
                "function",
                "level",
                "rank_ms",
                "steps",
                "slice_ms",
                "mu_ms",
                "cpu_ms",
                "expect",
                "blocked%",
                "sleeps",
                "io",
                "n"
            )?;
            for f in &self.functions {
                writeln!(
                    w,
                    "  {:<20} {:>5} {:>8.2} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>6.2} {:>3} {:>6}",
                    f.name,
                    f.level,
                    f.rank_ms,
                    f.steps,
                    f.slice_ms,
                    f.mu_ms,
                    f.cpu_ms,
                    f.expect_ms,
                    f.blocked_pct,
                    f.sleeps,
                    if f.io_bound != 0 { "yes" } else { "no" },
                    f.samples
                )?;
            }
        }
        Ok(())
    }
}

impl FuncMetrics {
    /// The table row of function `name`'s learned policy `f`.
    pub fn of(name: &str, f: &FuncPolicy) -> Self {
        Self {
            name: name.to_string(),
            func_id: f.func_id,
            level: f.level,
            rank_ms: f.rank_ns as f64 / 1e6,
            steps: f.steps.len() as u32,
            slice_ms: f.slice_ns as f64 / 1e6,
            expect_ms: f.expect_ns as f64 / 1e6,
            mu_ms: f.mu_ns / 1e6,
            sigma_ms: f.sigma_ns / 1e6,
            cpu_ms: f.cpu_mean_ns / 1e6,
            blocked_pct: 100.0 * f.blocked_frac,
            sleeps: f.sleeps_per_inv,
            io_bound: f.io_bound() as u32,
            samples: f.samples as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_previous_snapshot() {
        let prev = Metrics {
            uptime_s: 10.0,
            nr_records: 100,
            levels: vec![LevelMetrics {
                level: 0,
                dispatched: 50,
                ..Default::default()
            }],
            ..Default::default()
        };
        let cur = Metrics {
            uptime_s: 12.0,
            nr_records: 140,
            levels: vec![LevelMetrics {
                level: 0,
                dispatched: 250,
                ..Default::default()
            }],
            ..Default::default()
        }
        .with_rates(&prev);
        assert_eq!(cur.invocations_per_s, 20.0);
        assert_eq!(cur.levels[0].dispatch_per_s, 100.0);
        let mut text = Vec::new();
        cur.format(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("invocations 140 (20.0/s)"), "{text}");
    }
}
