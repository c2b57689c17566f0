//! The learner: from finished invocations to per-function level schedules.
//!
//! Every learning interval the loader feeds the invocation records the BPF
//! program sent, and [`Learner::update`] turns them into a policy table (see
//! [`train`] for both policies):
//!
//! - `alps`: ALPS's window of the last `window` invocations, replayed under
//!   SRPT ([`srpt`]); rank size = mean simulated stint; ALPS's slice rule;
//! - `alps-io`: each function's last `history` invocations; level schedule
//!   = the Gittins index of its CPU per invocation ([`gittins`]); I/O
//!   signals throttle wake-up preemption.
//!
//! Both keep what they learned across restarts of the scheduler (the loader
//! keeps the learner) and, through [`LearnerState`], across restarts of the
//! service (`--state-file`). Nothing here runs on the scheduling path.

pub mod expiry;
pub mod gittins;
pub mod sizes;
pub mod srpt;
pub mod train;
pub mod window;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

pub use expiry::Clock;
pub use sizes::SizeHistogram;
pub use train::{FuncPolicy, LearnerConfig, PolicyKind, Step};
pub use window::Window;

/// One finished invocation (one task's lifetime) as the BPF program reports
/// it. Times in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// Function of the task, 0 if unknown.
    pub func_id: u32,
    /// Task id (with `start_ns`, what tells two invocations apart); 0 in
    /// state files written before it was recorded.
    #[serde(default)]
    pub pid: u32,
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

/// Learner state: the global window (ALPS), per-function histories
/// (alps-io), the previous slices (ALPS's smoothing) and the cost of the
/// updates.
#[derive(Debug)]
pub struct Learner {
    cfg: LearnerConfig,
    window: Window,
    history: BTreeMap<u32, VecDeque<Invocation>>,
    sizes: BTreeMap<u32, SizeHistogram>,
    prev_slice_ns: HashMap<u32, u64>,
    updates: u64,
    last_cost_ns: u64,
    total_cost_ns: u64,
    max_cost_ns: u64,
    news: bool,
    /// alps-io: invocations still running, by (start time ns, pid):
    /// (function, CPU attained at their last progress record, ns).
    running: BTreeMap<(u64, u32), (u32, u64)>,
    /// Per function: CLOCK_MONOTONIC ns of its latest record ([`expiry`]);
    /// signed, since a function restored after a reboot was last seen
    /// before the clock started.
    last_seen: BTreeMap<u32, i64>,
}

/// Running invocations the learner tracks per function at most (the
/// oldest are forgotten first): bounds the learner's memory when exit
/// records are lost.
pub const MAX_RUNNING_PER_FUNC: usize = 256;

/// Least time between two learner updates that news asks for, ns (see
/// [`Learner::has_news`]): a burst of first completions costs at most ten
/// updates a second.
pub const NEWS_MIN_GAP_NS: u64 = 100_000_000;

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

/// What the learner knows, by function name, as the state file holds it
/// (JSON). Raw invocations, not trained tables: either policy trains from
/// them, and a new version of the training rules applies to old state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnerState {
    /// Format version ([`LearnerState::VERSION`]).
    pub version: u32,
    /// The global window, oldest first: (function, invocation).
    pub window: Vec<(String, Invocation)>,
    /// Per-function histories, oldest first.
    pub history: BTreeMap<String, Vec<Invocation>>,
    /// Per-function size distributions (decayed histograms).
    #[serde(default)]
    pub sizes: BTreeMap<String, SizeHistogram>,
    /// When the state was written, s since the Unix epoch (0 in version 1).
    #[serde(default)]
    pub saved_unix_s: u64,
    /// Per function: how old its latest record was when the state was
    /// written, s ([`expiry`]; empty in version 1).
    #[serde(default)]
    pub age_s: BTreeMap<String, u64>,
}

impl LearnerState {
    /// Version of the format written (2: with the functions' ages).
    pub const VERSION: u32 = 2;
}

impl Learner {
    /// A learner that knows nothing.
    pub fn new(cfg: LearnerConfig) -> Self {
        let window = Window::new(cfg.window);
        Self {
            cfg,
            window,
            history: BTreeMap::new(),
            sizes: BTreeMap::new(),
            prev_slice_ns: HashMap::new(),
            updates: 0,
            last_cost_ns: 0,
            total_cost_ns: 0,
            max_cost_ns: 0,
            news: false,
            running: BTreeMap::new(),
            last_seen: BTreeMap::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &LearnerConfig {
        &self.cfg
    }

    /// Sets the CPUs ALPS's SRPT simulation runs on (after a CPU hotplug).
    pub fn set_nr_cpus(&mut self, nr_cpus: usize) {
        self.cfg.nr_cpus = nr_cpus.max(1);
    }

    /// Adds a finished invocation to the window and to its function's
    /// history. Invocations of unknown functions (func_id 0) are ignored.
    pub fn observe(&mut self, inv: Invocation) {
        self.running.remove(&(inv.start_ns, inv.pid));
        if inv.func_id == 0 {
            return;
        }
        self.seen(inv.func_id, inv.end_ns);
        self.window.push(inv);
        if self.cfg.kind == PolicyKind::AlpsIo && !self.history.contains_key(&inv.func_id) {
            self.news = true;
        }
        let h = self.history.entry(inv.func_id).or_default();
        if h.len() >= self.cfg.history.max(1) {
            h.pop_front();
        }
        h.push_back(inv);
        self.sizes.entry(inv.func_id).or_default().observe(inv.cpu_ns);
    }

    /// Records that the invocation of `func_id` by task `pid`, started at
    /// `start_ns`, is still running after `attained_ns` of CPU (a progress
    /// record, received at `now_ns`; CLOCK_MONOTONIC). Its exit record ([`Self::observe`]) replaces it. Only
    /// alps-io uses it; ALPS, as published, learns from completions.
    ///
    /// Past [`MAX_RUNNING_PER_FUNC`] for a function, the one with the least
    /// CPU is forgotten: under overload the longest-running invocations
    /// are the evidence that completions lack.
    pub fn observe_progress(&mut self, func_id: u32, pid: u32, start_ns: u64, attained_ns: u64, now_ns: u64) {
        if func_id == 0 || self.cfg.kind != PolicyKind::AlpsIo {
            return;
        }
        self.seen(func_id, now_ns);
        let e = self.running.entry((start_ns, pid)).or_insert((func_id, 0));
        *e = (func_id, e.1.max(attained_ns));
        let mut n = 0;
        let mut least: Option<((u64, u32), u64)> = None;
        for (&k, &(f, a)) in &self.running {
            if f == func_id {
                n += 1;
                if least.is_none_or(|(_, la)| a < la) {
                    least = Some((k, a));
                }
            }
        }
        if n > MAX_RUNNING_PER_FUNC
            && let Some((k, _)) = least
        {
            self.running.remove(&k);
        }
    }

    /// Invocations tracked as still running (progress records not yet
    /// followed by an exit record).
    pub fn nr_running(&self) -> usize {
        self.running.len()
    }

    /// alps-io: whether a function finished its first invocation since the
    /// last update. Until the next update such a function is ranked by the
    /// prior; the loader and the simulator update early (no sooner than
    /// [`NEWS_MIN_GAP_NS`] after the last update) so that a function is
    /// learned from its first completion, not a learning interval later.
    /// Production hosts see most functions rarely, so the wait would
    /// otherwise cover most of their invocations. Always false for `alps`,
    /// which learns at its published interval.
    pub fn has_news(&self) -> bool {
        self.news
    }

    /// The current window.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Functions with a history.
    pub fn nr_functions(&self) -> usize {
        self.history.len()
    }

    /// Trains the policy on what was observed. `util_pct` is the host's CPU
    /// utilisation over the last interval, in percent (0..=100; ALPS's
    /// overload rule). Returns one entry per function learned (alps: those in
    /// the window; alps-io: every function with a history), sorted by level,
    /// then (alps-io) as function id 0 the prior of functions not learned
    /// yet.
    pub fn update(&mut self, util_pct: f64) -> Vec<FuncPolicy> {
        let t0 = Instant::now();
        self.news = false;
        let table = match self.cfg.kind {
            PolicyKind::Alps => train::train_alps(&self.cfg, self.window.as_slice(), util_pct, &self.prev_slice_ns),
            PolicyKind::AlpsIo => {
                let estimates = self.estimates();
                let funcs = self
                    .history
                    .iter()
                    .map(|(&f, h)| (f, h, estimates.get(&f).cloned().unwrap_or_default()));
                let mut table = train::train_alps_io(&self.cfg, funcs);
                let learned = table.iter().filter_map(|f| estimates.get(&f.func_id).cloned());
                let prior = train::train_prior(self.window.as_slice(), &table, learned);
                table.extend(prior);
                table
            }
        };
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

    /// Each function's size distribution: its completions and its running
    /// invocations ([`SizeHistogram::estimate`]).
    fn estimates(&self) -> BTreeMap<u32, Vec<(u64, u32)>> {
        let mut censored: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for &(f, a) in self.running.values() {
            censored.entry(f).or_default().push(a);
        }
        self.sizes
            .iter()
            .map(|(&f, h)| (f, h.estimate(censored.get(&f).map_or(&[][..], |v| v.as_slice()))))
            .collect()
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

    /// What the learner knows at `now`, with functions named by `name` (ids
    /// it cannot name are left out).
    pub fn snapshot(&self, name: impl Fn(u32) -> Option<String>, now: Clock) -> LearnerState {
        LearnerState {
            saved_unix_s: now.unix_s,
            age_s: self
                .last_seen
                .iter()
                .filter_map(|(&f, &t)| {
                    name(f).map(|n| (n, (now.mono_ns as i64).saturating_sub(t).max(0) as u64 / 1_000_000_000))
                })
                .collect(),
            version: LearnerState::VERSION,
            window: self
                .window
                .iter()
                .filter_map(|i| name(i.func_id).map(|n| (n, *i)))
                .collect(),
            history: self
                .history
                .iter()
                .filter_map(|(&f, h)| name(f).map(|n| (n, h.iter().copied().collect())))
                .collect(),
            sizes: self
                .sizes
                .iter()
                .filter_map(|(&f, s)| name(f).map(|n| (n, s.clone())))
                .collect(),
        }
    }

    /// Adds what `state` holds to what the learner knows at `now`, with
    /// functions given ids by `id` (the loader's registry). A function whose
    /// latest record is older than `ttl_ns` by `now` (0: no limit), or whose
    /// age the state lacks, is left out and takes no id. Errors on a state
    /// of another format version, or when `id` fails.
    pub fn restore(
        &mut self,
        state: &LearnerState,
        mut id: impl FnMut(&str) -> Result<u32>,
        now: Clock,
        ttl_ns: u64,
    ) -> Result<()> {
        if state.version != LearnerState::VERSION {
            bail!(
                "state format version {} (this scx_alps reads version {})",
                state.version,
                LearnerState::VERSION
            );
        }
        let since_save_s = now.unix_s.saturating_sub(state.saved_unix_s);
        let age_ns = |n: &str| -> Option<u64> {
            let a = state
                .age_s
                .get(n)?
                .saturating_add(since_save_s)
                .saturating_mul(1_000_000_000);
            (ttl_ns == 0 || a <= ttl_ns).then_some(a)
        };
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let names = state
            .history
            .keys()
            .chain(state.sizes.keys())
            .chain(state.window.iter().map(|(n, _)| n));
        for n in names {
            if !ids.contains_key(n.as_str())
                && let Some(age) = age_ns(n)
            {
                let f = id(n)?;
                ids.insert(n.as_str(), f);
                self.seen_at(f, (now.mono_ns as i64).saturating_sub(age.min(i64::MAX as u64) as i64));
            }
        }
        let cap = self.cfg.history.max(1);
        for (n, h) in &state.history {
            let Some(&f) = ids.get(n.as_str()) else { continue };
            let q = self.history.entry(f).or_default();
            for inv in h {
                if q.len() >= cap {
                    q.pop_front();
                }
                q.push_back(Invocation { func_id: f, ..*inv });
            }
        }
        for (n, inv) in &state.window {
            if let Some(&f) = ids.get(n.as_str()) {
                self.window.push(Invocation { func_id: f, ..*inv });
            }
        }
        for (n, s) in &state.sizes {
            if let Some(&f) = ids.get(n.as_str()) {
                self.sizes.insert(f, s.clone());
            }
        }
        Ok(())
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

    /// An invocation of `func_id` with `cpu_ms` of CPU around one sleep of
    /// `sleep_ms`.
    pub fn io_inv(func_id: u32, start_ms: u64, cpu_ms: u64, sleep_ms: u64) -> Invocation {
        Invocation {
            blocked_ns: sleep_ms * MS,
            end_ns: (start_ms + cpu_ms + sleep_ms) * MS,
            nvcsw: 1,
            ..cpu_inv(func_id, start_ms, cpu_ms)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::cpu_inv as inv;
    use super::*;

    #[test]
    fn unknown_functions_are_not_learned() {
        let mut l = Learner::new(LearnerConfig::default());
        l.observe(inv(0, 0, 10));
        l.observe(inv(3, 0, 10));
        assert_eq!(l.window().len(), 1);
        let table = l.update(10.0);
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].func_id, 3);
        // alps-io learns a prior for unlearned functions: the last entry,
        // function 0.
        let mut io = Learner::new(LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        });
        io.observe(inv(3, 0, 10));
        let table = io.update(10.0);
        assert_eq!(table.iter().map(|f| f.func_id).collect::<Vec<_>>(), vec![3, 0]);
    }

    #[test]
    fn news_is_a_first_completion_of_a_function_under_alps_io() {
        let mut io = Learner::new(LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        });
        assert!(!io.has_news());
        io.observe(inv(0, 0, 10));
        assert!(!io.has_news(), "work of no function is not news");
        io.observe(inv(4, 0, 10));
        assert!(io.has_news());
        io.update(10.0);
        assert!(!io.has_news());
        io.observe(inv(4, 20, 10));
        assert!(!io.has_news(), "a second completion is not news");
        io.observe(inv(5, 30, 10));
        assert!(io.has_news());
        // ALPS learns at its interval only.
        let mut a = Learner::new(LearnerConfig::default());
        a.observe(inv(4, 0, 10));
        assert!(!a.has_news());
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
    fn alps_io_keeps_rare_functions_that_left_the_window() {
        let cfg = LearnerConfig {
            kind: PolicyKind::AlpsIo,
            window: 10,
            history: 4,
            ..LearnerConfig::default()
        };
        let mut l = Learner::new(cfg.clone());
        l.observe(inv(9, 0, 30));
        for i in 0..50 {
            l.observe(inv(1, 100 + i * 10, 5));
        }
        assert!(l.window().iter().all(|i| i.func_id == 1));
        let t = l.update(10.0);
        assert_eq!(t.iter().filter(|f| f.func_id != 0).count(), 2, "{t:?}");
        assert_eq!(t.iter().find(|f| f.func_id == 1).unwrap().samples, 4);
        // ALPS, as published, knows only the window.
        let mut a = Learner::new(LearnerConfig {
            kind: PolicyKind::Alps,
            ..cfg
        });
        a.observe(inv(9, 0, 30));
        for i in 0..50 {
            a.observe(inv(1, 100 + i * 10, 5));
        }
        assert_eq!(a.update(10.0).iter().filter(|f| f.func_id != 0).count(), 1);
    }

    #[test]
    fn state_round_trips_by_name_into_other_ids() {
        let cfg = LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        };
        let mut l = Learner::new(cfg.clone());
        for i in 0..10 {
            l.observe(inv(1, i * 100, 5));
            l.observe(inv(2, i * 100 + 50, 80));
        }
        let names = |f: u32| Some(["", "short", "long"][f as usize].to_string());
        let now = Clock {
            mono_ns: 10_000_000_000,
            unix_s: 1_000,
        };
        let st = l.snapshot(names, now);
        let json = serde_json::to_string(&st).unwrap();
        let back: LearnerState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, st);

        // A restarted loader numbers functions in another order.
        let mut fresh = Learner::new(cfg);
        fresh
            .restore(&back, |n| Ok(if n == "long" { 7 } else { 3 }), now, 0)
            .unwrap();
        let t = fresh.update(10.0);
        let short = t.iter().find(|f| f.func_id == 3).unwrap();
        let long = t.iter().find(|f| f.func_id == 7).unwrap();
        assert!(short.level < long.level);
        assert_eq!((short.samples, long.samples), (10, 10));
        assert_eq!(fresh.window().len(), 20);

        let mut bad = back.clone();
        bad.version = 99;
        let err = fresh.restore(&bad, |_| Ok(1), now, 0).unwrap_err().to_string();
        assert!(err.contains("version 99"), "{err}");
    }

    #[test]
    fn running_invocations_are_learned_until_they_exit() {
        let cfg = LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        };
        let mut l = Learner::new(cfg.clone());
        for i in 0..20 {
            l.observe(inv(1, i * 20, 10));
        }
        let before = l.update(50.0);
        let f1 = |t: &[FuncPolicy]| t.iter().find(|f| f.func_id == 1).unwrap().size_max_ns;
        assert_eq!(f1(&before), 10 * 1_000_000);
        // Overload: invocations of 1 s run and have not completed.
        for k in 0..5 {
            l.observe_progress(1, 7, 1_000 + k, 400 * 1_000_000, 0);
        }
        // Two tasks started in the same ns are two invocations.
        l.observe_progress(1, 8, 1_000, 400 * 1_000_000, 0);
        assert_eq!(l.nr_running(), 6);
        let during = l.update(50.0);
        assert_eq!(f1(&during), 800 * 1_000_000, "{during:?}");
        l.observe(Invocation {
            pid: 8,
            start_ns: 1_000,
            ..inv(1, 0, 1000)
        });
        assert_eq!(l.nr_running(), 5);
        // The exit record replaces the progress record.
        for k in 0..5 {
            l.observe(Invocation {
                pid: 7,
                start_ns: 1_000 + k,
                ..inv(1, 0, 1000)
            });
        }
        assert_eq!(l.nr_running(), 0);
        assert_eq!(f1(&l.update(50.0)), 1000 * 1_000_000);
        // Bounded per function, forgetting the least CPU first; ignored for
        // ALPS and for unknown work.
        l.observe_progress(2, 1, 4_000, 900 * 1_000_000, 0);
        for k in 0..(MAX_RUNNING_PER_FUNC as u64 + 10) {
            l.observe_progress(2, 1, 5_000 + k, (3 + k) * 1_000_000, 0);
        }
        l.observe_progress(0, 1, 1, 3 * 1_000_000, 0);
        assert_eq!(l.nr_running(), MAX_RUNNING_PER_FUNC);
        assert_eq!(f1(&l.update(50.0)), 1000 * 1_000_000);
        let f2 = l.update(50.0).iter().find(|f| f.func_id == 2).map(|f| f.size_max_ns);
        assert_eq!(f2, None, "function 2 has no completion: not learned");
        l.observe(inv(2, 0, 5));
        let t = l.update(50.0);
        let f2 = t.iter().find(|f| f.func_id == 2).unwrap().size_max_ns;
        assert_eq!(f2, 1800 * 1_000_000, "the 900 ms one is kept: {t:?}");
        let mut a = Learner::new(LearnerConfig::default());
        a.observe_progress(1, 1, 1, 3 * 1_000_000, 0);
        assert_eq!(a.nr_running(), 0);
    }
}
