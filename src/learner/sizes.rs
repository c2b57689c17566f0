//! A function's distribution of CPU per invocation, as an exponentially
//! decayed histogram.
//!
//! A window of the last N completions is biased under overload: short
//! invocations complete early and often, long ones late and rarely, so the
//! window soon holds only the short ones, and the next long invocation is
//! mispredicted (it outgrows its schedule) and waits behind every newer
//! short one. Here every completion adds one sample and ages the others by
//! [`SIZE_DECAY`]: a size fades with the completions that follow it instead
//! of vanishing after N of them (a size last seen 100 completions ago keeps
//! 13 % of a sample's weight, 300 ago 0.2 %).
//!
//! Completions alone are still biased when the host is overloaded: the
//! long invocations of the last seconds have not completed, they wait. So
//! [`SizeHistogram::estimate`] also takes the invocations still running
//! (progress records, policy.h `alps_progress_level()`) as censored samples,
//! each a lower bound on its size, and combines both by the product-limit
//! (Kaplan-Meier) estimator (Kaplan & Meier, "Nonparametric estimation from
//! incomplete observations", JASA 53, 1958). It is an approximation: the
//! running invocations are a snapshot, weighing one each, beside
//! completions weighted by how recently they completed, not one cohort
//! followed from arrival. What it removes is the bias of a sample that
//! holds only what has completed.

use serde::{Deserialize, Serialize};

use crate::policy::{NR_LEVELS, size_level};

/// Weight left to a sample after each later completion of the function.
pub const SIZE_DECAY: f64 = 0.98;

/// Count given to one sample's weight when the histogram becomes clusters.
pub const SAMPLE_UNIT: u32 = 1024;

/// One bin per half-octave level: the largest size seen in it and its
/// decayed weight (0 = empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SizeHistogram {
    bins: Vec<(u64, f64)>,
}

impl SizeHistogram {
    /// Adds a completed invocation of `size_ns` of CPU.
    pub fn observe(&mut self, size_ns: u64) {
        if self.bins.is_empty() {
            self.bins = vec![(0, 0.0); NR_LEVELS as usize];
        }
        for b in self.bins.iter_mut() {
            b.1 *= SIZE_DECAY;
        }
        let b = &mut self.bins[size_level(size_ns.max(1)) as usize];
        b.0 = b.0.max(size_ns.max(1));
        b.1 += 1.0;
    }

    /// Total weight (samples, decayed).
    pub fn weight(&self) -> f64 {
        self.bins.iter().map(|b| b.1).sum()
    }

    /// The bins as clusters (value, count) for [`super::gittins`]: one
    /// sample weighs [`SAMPLE_UNIT`]; bins below a thousandth of a sample
    /// are dropped.
    pub fn clusters(&self) -> Vec<(u64, u32)> {
        self.bins
            .iter()
            .filter(|b| b.1 * SAMPLE_UNIT as f64 >= 1.0)
            .map(|&(v, w)| (v, (w * SAMPLE_UNIT as f64).round() as u32))
            .collect()
    }

    /// The size distribution given the completed invocations (the bins) and
    /// `censored_ns`, the attained CPU of invocations still running (each
    /// weighs one fresh sample), as clusters like [`Self::clusters`] (the
    /// same when nothing is censored). Product-limit estimate over the
    /// levels: the probability of ending in level `b` is the survival to
    /// `b` times the completed weight in `b` over the weight at risk there
    /// (completed in `b` or above, censored above `b`). What survives
    /// the last completed level is shared equally by the invocations
    /// running past it, each placed at twice its CPU so far: a size the
    /// learner has not seen, of which it only knows a lower bound.
    pub fn estimate(&self, censored_ns: &[u64]) -> Vec<(u64, u32)> {
        if censored_ns.is_empty() {
            return self.clusters();
        }
        let nr = NR_LEVELS as usize;
        let mut cens = vec![0.0f64; nr];
        for &c in censored_ns {
            cens[size_level(c.max(1)) as usize] += 1.0;
        }
        let done = |b: usize| self.bins.get(b).map_or(0.0, |x| x.1);
        // Weight at risk at level b: completed at b or above, censored above
        // b. A running invocation in level b itself may still end below the
        // sizes completed in b (a bin keeps its largest), so it is at risk
        // only for the levels it has passed.
        let mut at_risk = vec![0.0f64; nr + 1];
        for b in (0..nr).rev() {
            at_risk[b] = at_risk[b + 1] + done(b) + cens.get(b + 1).copied().unwrap_or(0.0);
        }
        // The sample: what is at risk at the first completed size (running
        // invocations below it say nothing about the distribution above).
        let total = (0..nr).find(|&b| done(b) > 0.0).map_or(0.0, |b| at_risk[b]);
        let unit = SAMPLE_UNIT as f64;
        let mut out = Vec::new();
        let mut surv = 1.0f64;
        for (b, &risk) in at_risk.iter().enumerate().take(nr) {
            let d = done(b);
            if d <= 0.0 || risk <= 0.0 {
                continue;
            }
            let h = (d / risk).min(1.0);
            let w = surv * h * total * unit;
            surv *= 1.0 - h;
            if w >= 1.0 {
                out.push((self.bins[b].0, w.round() as u32));
            }
        }
        // The survivors: the running invocations past the last completed
        // level, an equal share each, at twice its CPU so far.
        let last_done = (0..nr).rev().find(|&b| done(b) > 0.0).unwrap_or(0);
        let mut past: Vec<u64> = censored_ns
            .iter()
            .filter(|&&c| size_level(c.max(1)) as usize > last_done)
            .map(|&c| c.saturating_mul(2).min(super::gittins::MAX_TARGET_NS))
            .collect();
        let tail = surv * total * unit;
        if tail >= 1.0 && !past.is_empty() {
            past.sort_unstable();
            let share = tail / past.len() as f64;
            for v in past {
                match out.last_mut() {
                    Some(last) if last.0 >= v => last.1 = last.1.saturating_add(share.round() as u32),
                    _ => out.push((v, share.round() as u32)),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn old_sizes_fade_instead_of_vanishing() {
        let mut h = SizeHistogram::default();
        h.observe(500 * MS);
        for _ in 0..100 {
            h.observe(10 * MS);
        }
        let cl = h.clusters();
        assert_eq!(cl.len(), 2);
        assert_eq!(cl[0].0, 10 * MS);
        assert_eq!(cl[1].0, 500 * MS);
        // 0.98^100 of a sample.
        let expect = (SIZE_DECAY.powi(100) * SAMPLE_UNIT as f64).round() as u32;
        assert_eq!(cl[1].1, expect);
        assert!((h.weight() - (1.0 - SIZE_DECAY.powi(101)) / (1.0 - SIZE_DECAY)).abs() < 1e-9);
        // After long enough it is gone.
        for _ in 0..400 {
            h.observe(10 * MS);
        }
        assert_eq!(h.clusters().len(), 1);
    }

    #[test]
    fn a_bin_keeps_its_largest_size() {
        let mut h = SizeHistogram::default();
        h.observe(40 * MS);
        h.observe(44 * MS);
        h.observe(41 * MS);
        assert_eq!(
            h.clusters(),
            vec![(
                44 * MS,
                ((SIZE_DECAY * SIZE_DECAY + SIZE_DECAY + 1.0) * 1024.0).round() as u32
            )]
        );
        assert!(SizeHistogram::default().clusters().is_empty());
    }

    #[test]
    fn running_invocations_count_as_censored_sizes() {
        let mut h = SizeHistogram::default();
        for _ in 0..9 {
            h.observe(10 * MS);
        }
        // Nothing running: the completions as they are.
        assert_eq!(h.estimate(&[]), h.clusters());
        let w = h.weight();
        // One invocation running at 300 ms of 10 seen: a tenth of the mass
        // (weights decayed, hence the weight in the ratio) sits beyond every
        // completed size, at twice its CPU so far.
        let est = h.estimate(&[300 * MS]);
        assert_eq!(est.len(), 2, "{est:?}");
        assert_eq!(est[0].0, 10 * MS);
        assert_eq!(est[1].0, 600 * MS);
        let total = (est[0].1 + est[1].1) as f64;
        assert!((est[1].1 as f64 / total - 1.0 / (w + 1.0)).abs() < 1e-3, "{est:?}");
        // Running below the completed sizes says nothing new about them
        // beyond its own bound: no mass moves past the largest size.
        let below = h.estimate(&[3 * MS]);
        assert_eq!(below.len(), 1);
        assert_eq!(below[0].0, 10 * MS);
        // Running inside the level of the completed sizes: it may still end
        // below them, so it moves no mass (70 and 90 ms share a level).
        let mut h90 = SizeHistogram::default();
        h90.observe(90 * MS);
        assert_eq!(size_level(70 * MS), size_level(90 * MS));
        assert_eq!(h90.estimate(&[70 * MS]), h90.clusters());
    }

    #[test]
    fn the_product_limit_shifts_mass_past_the_censoring_point() {
        // Completed: 2 of 10 ms, 1 of 100 ms (no decay: built by hand).
        let h = SizeHistogram {
            bins: {
                let mut b = vec![(0, 0.0); NR_LEVELS as usize];
                b[size_level(10 * MS) as usize] = (10 * MS, 2.0);
                b[size_level(100 * MS) as usize] = (100 * MS, 1.0);
                b
            },
        };
        // Running: one at 50 ms. At 10 ms all four are at risk, two end:
        // P(10 ms) = 1/2. At 100 ms only the completed one is (the running
        // one is known only up to its own level): P(100 ms) = 1/2, nothing
        // left for a tail.
        let est = h.estimate(&[50 * MS]);
        let total: u32 = est.iter().map(|c| c.1).sum();
        assert_eq!(est.iter().map(|c| c.0).collect::<Vec<_>>(), vec![10 * MS, 100 * MS]);
        assert!((est[0].1 as f64 / total as f64 - 0.5).abs() < 1e-3, "{est:?}");
        // Against completions alone (1/3 at 100 ms): the running one adds
        // to the long side.
        assert!((est[1].1 as f64 / total as f64 - 0.5).abs() < 1e-3, "{est:?}");
        let cl = h.clusters();
        assert!((cl[1].1 as f64 / (cl[0].1 + cl[1].1) as f64 - 1.0 / 3.0).abs() < 1e-3);
        // Two running past every completed size share the tail, each at
        // twice its own CPU.
        let two = h.estimate(&[200 * MS, 400 * MS]);
        assert_eq!(
            two.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![10 * MS, 100 * MS, 400 * MS, 800 * MS]
        );
        assert_eq!(two[2].1, two[3].1);
    }
}
