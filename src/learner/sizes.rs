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
}
