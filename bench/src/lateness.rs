//! How far the load generator fell behind its plan. FCT counts from the
//! planned arrival, so a generator that forks late (it is one SCHED_FIFO
//! process, and a fork costs milliseconds under TCG) adds its delay to
//! every later invocation of that repetition, whatever the scheduler. The
//! report names such repetitions, so that a wide interval can be told from
//! a scheduler's effect.

use serde::{Deserialize, Serialize};

/// A repetition whose generator forked this late (ms, at its worst) is
/// flagged: past it, the repetition's offered load differs from the plan's.
pub const BEHIND_MS: f64 = 50.0;

/// Lateness of the generator in one arm, per repetition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorLag {
    /// Mean of `late_ms` over the repetition's invocations, ms, per repetition.
    pub mean_ms: Vec<f64>,
    /// Largest `late_ms` of the repetition, ms, per repetition.
    pub max_ms: Vec<f64>,
}

impl GeneratorLag {
    /// Lag of each repetition in `reps` (each: its invocations' `late_ms`,
    /// ms); NaN (no fork time: the simulator) counts as on time.
    pub fn of<R: IntoIterator<Item = f64>>(reps: impl IntoIterator<Item = R>) -> Self {
        let mut lag = Self::default();
        for late in reps {
            let late: Vec<f64> = late.into_iter().filter(|x| x.is_finite()).collect();
            let n = late.len().max(1) as f64;
            lag.mean_ms.push(late.iter().fold(0.0, |a, x| a + x) / n);
            lag.max_ms.push(late.iter().copied().fold(0.0, f64::max));
        }
        lag
    }

    /// Repetitions (0-based) whose generator fell more than [`BEHIND_MS`] behind.
    pub fn behind(&self) -> Vec<usize> {
        (0..self.max_ms.len()).filter(|&i| self.max_ms[i] > BEHIND_MS).collect()
    }
}

/// The report's section on the generator: one row per arm with its
/// repetitions' mean and largest lateness, and which repetitions fell
/// behind. Empty when no arm has a repetition behind (the usual case, and
/// always in the simulator).
pub fn section<'a>(arms: impl IntoIterator<Item = (&'a str, &'a GeneratorLag)>) -> String {
    let arms: Vec<(&str, &GeneratorLag)> = arms.into_iter().collect();
    if arms.iter().all(|(_, l)| l.behind().is_empty()) {
        return String::new();
    }
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" / ");
    let mut o = format!(
        "\n## Load generator behind its plan\n\n\
         FCT counts from the planned arrival: in a repetition whose generator forked more than \
         {BEHIND_MS:.0} ms late, every later invocation carries that delay and the offered load \
         differs from the plan's, whatever the scheduler.\n\n\
         | arm | late ms per repetition, mean | max | repetitions behind |\n|---|---|---|---|\n"
    );
    for (arm, l) in arms {
        let behind = l.behind();
        let which = if behind.is_empty() {
            "none".to_string()
        } else {
            behind
                .iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        o += &format!("| {arm} | {} | {} | {which} |\n", fmt(&l.mean_ms), fmt(&l.max_ms));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetitions_behind_the_plan_are_named() {
        let lag = GeneratorLag::of([vec![1.0, 3.0], vec![2.0, 400.0], vec![f64::NAN]]);
        assert_eq!(lag.mean_ms, vec![2.0, 201.0, 0.0]);
        assert_eq!(lag.max_ms, vec![3.0, 400.0, 0.0]);
        assert_eq!(lag.behind(), vec![1]);
        let s = section([("alps-io", &lag)]);
        assert!(s.contains("| alps-io | 2 / 201 / 0 | 3 / 400 / 0 | 2 |"), "{s}");
        let fine = GeneratorLag::of([vec![1.0, 3.0]]);
        assert_eq!(section([("eevdf", &fine)]), "");
    }
}
