//! Function churn: what the learner forgets, and when.
//!
//! Platforms deploy new functions and new versions of old ones all the time,
//! and retire the old: a function that has not been seen for a while is
//! gone, or is not the function it was. The learner forgets a function once
//! its latest record (exit or progress) is older than the time to live
//! (`--func-ttl-s`); the loader then clears its published policy, and
//! recycles its id once no cgroup or comm is tagged with it. A state file
//! carries each function's age, so a restart never brings back a rank the
//! running scheduler would have dropped.

use super::Learner;

/// A reading of the two clocks the learner's ages are kept in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// CLOCK_MONOTONIC, ns (the clock of the BPF program's records).
    pub mono_ns: u64,
    /// Wall-clock time, s since the Unix epoch (the state file's clock: the
    /// monotonic clock restarts at boot).
    pub unix_s: u64,
}

impl Clock {
    /// The clocks now.
    pub fn now() -> Self {
        let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
            .unwrap_or(0);
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            mono_ns: mono,
            unix_s: unix,
        }
    }
}

impl Learner {
    /// Notes a record of `func_id` at `at_ns` (CLOCK_MONOTONIC).
    pub(super) fn seen(&mut self, func_id: u32, at_ns: u64) {
        self.seen_at(func_id, at_ns.min(i64::MAX as u64) as i64);
    }

    /// [`Self::seen`] on the signed clock (negative: before boot).
    pub(super) fn seen_at(&mut self, func_id: u32, at_ns: i64) {
        let e = self.last_seen.entry(func_id).or_insert(at_ns);
        *e = (*e).max(at_ns);
    }

    /// When the latest record of `func_id` was taken, CLOCK_MONOTONIC ns
    /// (negative for a function restored from before the last boot); None
    /// for a function the learner does not know (never seen, or forgotten).
    pub fn last_seen_ns(&self, func_id: u32) -> Option<i64> {
        self.last_seen.get(&func_id).copied()
    }

    /// Whether the learner holds anything about `func_id`.
    pub fn knows(&self, func_id: u32) -> bool {
        self.last_seen.contains_key(&func_id)
    }

    /// Forgets every function whose latest record is more than `ttl_ns`
    /// older than `now_ns` (CLOCK_MONOTONIC; `ttl_ns` 0: never): its
    /// history, size distribution, window entries, running invocations and
    /// previous slice. Returns the ids forgotten, ascending.
    pub fn forget_unseen(&mut self, now_ns: u64, ttl_ns: u64) -> Vec<u32> {
        if ttl_ns == 0 {
            return Vec::new();
        }
        let gone: Vec<u32> = self
            .last_seen
            .iter()
            .filter(|&(_, &t)| i128::from(now_ns) - i128::from(t) > i128::from(ttl_ns))
            .map(|(&f, _)| f)
            .collect();
        for &f in &gone {
            self.forget(f);
        }
        gone
    }

    fn forget(&mut self, f: u32) {
        self.last_seen.remove(&f);
        self.history.remove(&f);
        self.sizes.remove(&f);
        self.prev_slice_ns.remove(&f);
        self.running.retain(|_, &mut (g, _)| g != f);
        self.window.retain(|i| i.func_id != f);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::cpu_inv;
    use super::super::{LearnerConfig, LearnerState, PolicyKind};
    use super::*;

    const S: u64 = 1_000_000_000;

    fn learner() -> Learner {
        Learner::new(LearnerConfig {
            kind: PolicyKind::AlpsIo,
            ..LearnerConfig::default()
        })
    }

    #[test]
    fn a_function_unseen_for_the_ttl_is_forgotten_entirely() {
        let mut l = learner();
        l.observe(cpu_inv(1, 0, 10));
        l.observe(cpu_inv(2, 50_000, 20));
        // A progress record of an invocation started at 0, received at 60 s.
        l.observe_progress(1, 7, 0, 5_000_000, 60 * S);
        let ends = (l.last_seen_ns(1).unwrap(), l.last_seen_ns(2).unwrap());
        assert_eq!(ends.0, 60 * S as i64, "a progress record is dated when it arrives");
        assert_eq!(ends.1, (50 * S + 20_000_000) as i64);
        // Nothing is old enough yet; a ttl of 0 never forgets.
        assert!(l.forget_unseen(61 * S, 100 * S).is_empty());
        assert!(l.forget_unseen(u64::MAX, 0).is_empty());
        // At 155 s function 2 is 105 s old, function 1 95 s.
        assert_eq!(l.forget_unseen(155 * S, 100 * S), vec![2]);
        assert!(l.knows(1) && !l.knows(2));
        assert_eq!(l.window().len(), 1);
        assert!(l.window().iter().all(|i| i.func_id == 1));
        assert_eq!(l.nr_functions(), 1);
        let table = l.update(50.0);
        assert!(table.iter().all(|f| f.func_id != 2), "{table:?}");
        // Function 1's running invocation goes with it.
        assert_eq!(l.forget_unseen(1000 * S, 100 * S), vec![1]);
        assert_eq!((l.nr_running(), l.nr_functions(), l.window().len()), (0, 0, 0));
    }

    #[test]
    fn a_state_file_never_brings_back_a_stale_function() {
        let mut l = learner();
        l.observe(cpu_inv(1, 0, 10));
        l.observe(cpu_inv(2, 90_000, 10));
        let saved = Clock {
            mono_ns: 100 * S,
            unix_s: 1_000_000,
        };
        let st = l.snapshot(|f| Some(format!("f{f}")), saved);
        assert_eq!(st.saved_unix_s, 1_000_000);
        assert_eq!(st.age_s["f1"], 99);
        assert_eq!(st.age_s["f2"], 9);
        // Restored 50 s later (after a reboot: a new monotonic clock) with
        // a ttl of 100 s: f1 is 149 s old and stays forgotten; f2 is 59 s
        // old and keeps its age, from before the clock started.
        let later = Clock {
            mono_ns: 3 * S,
            unix_s: 1_000_050,
        };
        let mut r = learner();
        let mut named = Vec::new();
        r.restore(
            &st,
            |n| {
                named.push(n.to_string());
                Ok(7)
            },
            later,
            100 * S,
        )
        .unwrap();
        assert_eq!(named, ["f2"], "a stale function takes no id");
        assert!(r.knows(7) && r.nr_functions() == 1);
        assert_eq!(r.last_seen_ns(7), Some(3 * S as i64 - 59 * S as i64));
        assert_eq!(r.window().len(), 1);
        assert!(r.window().iter().all(|i| i.func_id == 7));
        // It is forgotten when its 100 s are over: 41 s after the restore.
        assert!(r.forget_unseen(43 * S, 100 * S).is_empty());
        assert_eq!(r.forget_unseen(45 * S, 100 * S), vec![7]);
        // Saved again after the reboot, it keeps its true age.
        let mut r2 = learner();
        r2.restore(&st, |_| Ok(7), later, 100 * S).unwrap();
        let again = r2.snapshot(
            |_| Some("f2".into()),
            Clock {
                mono_ns: 3 * S,
                unix_s: 1_000_050,
            },
        );
        assert_eq!(again.age_s["f2"], 59);
        // A ttl of 0 restores everything.
        let mut all = learner();
        all.restore(&st, |n| Ok(if n == "f1" { 1 } else { 2 }), later, 0)
            .unwrap();
        assert_eq!(all.nr_functions(), 2);
        // A version-1 file (no ages) parses and is refused by its version.
        let v1 = r#"{"version":1,"window":[],"history":{"f1":[]},"sizes":{}}"#;
        let old: LearnerState = serde_json::from_str(v1).unwrap();
        let err = learner().restore(&old, |_| Ok(1), later, 0).unwrap_err();
        assert!(format!("{err:#}").contains("version 1"), "{err:#}");
    }
}
