//! Does the simulator tell the same story as the VM? For every class and every
//! arm both ran, the sign of the arm's mean FCT against EEVDF's (better, tie,
//! worse) in a VM run and in the simulator on the very plan that run replayed.
//!
//! The simulator is the fast loop of policy work only while it agrees with the
//! real scheduler in sign, per class: a change that the model calls a gain and
//! the VM a loss was tuned against the wrong thing.

use std::fmt;

use crate::report::{ClassStats, Summary};
use crate::stats::Ratio;

/// Relative distance from 1 within which a simulated ratio is a tie. The
/// simulator is deterministic, so it has no interval; 2 % is the tolerance that
/// the goals give a class at its floor.
pub const SIM_TIE: f64 = 0.02;

/// An arm against the baseline on one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Lower mean FCT than the baseline.
    Better,
    /// Not told apart from the baseline.
    Tie,
    /// Higher mean FCT than the baseline.
    Worse,
}

impl fmt::Display for Sign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sign::Better => "−",
            Sign::Tie => "=",
            Sign::Worse => "+",
        })
    }
}

/// Whether the simulator and the VM agree on one class and arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Same sign.
    Agree,
    /// The VM's interval contains 1 while the simulator calls a difference:
    /// the VM run cannot tell which sign is right.
    Undecided,
    /// Opposite signs, or the simulator calls a tie where the VM measured a
    /// difference.
    Disagree,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Agree => "agree",
            Verdict::Undecided => "undecided",
            Verdict::Disagree => "DISAGREE",
        })
    }
}

/// The sign of a VM ratio: better or worse only when its 95 % interval
/// excludes 1; a ratio without an interval (one repetition) is a tie.
pub fn vm_sign(r: &Ratio) -> Sign {
    match r.ci95 {
        Some(h) if r.value.is_finite() && r.value + h < 1.0 => Sign::Better,
        Some(h) if r.value.is_finite() && r.value - h > 1.0 => Sign::Worse,
        _ => Sign::Tie,
    }
}

/// The sign of a simulated ratio: a tie within [`SIM_TIE`] of 1.
pub fn sim_sign(r: f64) -> Sign {
    if !r.is_finite() || (r - 1.0).abs() <= SIM_TIE {
        Sign::Tie
    } else if r < 1.0 {
        Sign::Better
    } else {
        Sign::Worse
    }
}

/// The verdict on a (VM, simulator) pair of signs.
pub fn verdict(vm: Sign, sim: Sign) -> Verdict {
    if vm == sim {
        Verdict::Agree
    } else if vm == Sign::Tie {
        Verdict::Undecided
    } else {
        Verdict::Disagree
    }
}

/// One class of one arm.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Arm name (as both summaries name it, e.g. "alps-io/trained").
    pub arm: String,
    /// Class label, "all" for every invocation.
    pub class: String,
    /// The VM's ratio to its baseline, with its interval.
    pub vm: Ratio,
    /// The simulator's ratio to its baseline.
    pub sim: f64,
    /// Sign of `vm`.
    pub vm_sign: Sign,
    /// Sign of `sim`.
    pub sim_sign: Sign,
    /// Whether they agree.
    pub verdict: Verdict,
}

fn rows(a: &crate::report::ArmSummary) -> impl Iterator<Item = &ClassStats> {
    a.classes.iter().chain(std::iter::once(&a.overall))
}

/// Every class of every arm that both summaries hold, except the baseline;
/// both summaries' ratios must be to the same baseline arm. Classes in VM order,
/// arms in VM order.
pub fn compare(vm: &Summary, sim: &Summary) -> Vec<Cell> {
    let mut out = Vec::new();
    for va in vm.arms.iter().filter(|a| a.arm != vm.meta.baseline) {
        let Some(sa) = sim.arms.iter().find(|s| s.arm == va.arm) else {
            continue;
        };
        for vc in rows(va) {
            let (Some(vr), Some(sc)) = (&vc.ratio, rows(sa).find(|c| c.class == vc.class)) else {
                continue;
            };
            let Some(sr) = &sc.ratio else { continue };
            let (a, b) = (vm_sign(vr), sim_sign(sr.value));
            out.push(Cell {
                arm: va.arm.clone(),
                class: vc.class.clone(),
                vm: *vr,
                sim: sr.value,
                vm_sign: a,
                sim_sign: b,
                verdict: verdict(a, b),
            });
        }
    }
    out
}

/// Counts of (agree, undecided, disagree).
pub fn tally(cells: &[Cell]) -> (usize, usize, usize) {
    let n = |v: Verdict| cells.iter().filter(|c| c.verdict == v).count();
    (n(Verdict::Agree), n(Verdict::Undecided), n(Verdict::Disagree))
}

/// The Markdown table of `cells`, one row per class, one column group per arm;
/// `how` describes the simulator's settings.
pub fn markdown(cells: &[Cell], vm: &Summary, how: &str) -> String {
    let mut arms: Vec<&str> = Vec::new();
    let mut classes: Vec<&str> = Vec::new();
    for c in cells {
        if !arms.contains(&c.arm.as_str()) {
            arms.push(&c.arm);
        }
        if !classes.contains(&c.class.as_str()) {
            classes.push(&c.class);
        }
    }
    let (agree, undecided, disagree) = tally(cells);
    let mut o = format!(
        "# Simulator against the VM, sign per class\n\n\
         - VM: kernel {}, {} CPUs, {} repetition(s); ratios of mean FCT to `{}` with 95 % intervals\n\
         - simulator: the same plan{}, {how}\n\
         - sign: − better, = tie, + worse than `{}` (VM: the interval excludes 1; simulator: more than {:.0} % from 1)\n\
         - **{agree} agree, {undecided} undecided (the VM's interval contains 1), {disagree} disagree**\n\n| class |",
        vm.meta.kernel,
        vm.meta.cpus,
        vm.meta.repeats,
        vm.meta.baseline,
        if vm.meta.warmup > 0 {
            format!(" and its {}-entry warm-up", vm.meta.warmup)
        } else {
            String::new()
        },
        vm.meta.baseline,
        SIM_TIE * 100.0,
    );
    for a in &arms {
        o += &format!(" {a}: VM | sim | |");
    }
    o += "\n|---|";
    for _ in &arms {
        o += "---:|---:|---|";
    }
    o += "\n";
    for class in &classes {
        o += &format!("| {class} |");
        for a in &arms {
            match cells.iter().find(|c| c.arm == *a && c.class == *class) {
                Some(c) => {
                    let vm = match c.vm.ci95 {
                        Some(h) => format!(
                            "{:.2} [{:.2}, {:.2}] {}",
                            c.vm.value,
                            c.vm.value - h,
                            c.vm.value + h,
                            c.vm_sign
                        ),
                        None => format!("{:.2} {}", c.vm.value, c.vm_sign),
                    };
                    o += &format!(" {vm} | {:.2} {} | {} |", c.sim, c.sim_sign, c.verdict);
                }
                None => o += " | | |",
            }
        }
        o += "\n";
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ArmSummary, RunMeta};

    fn r(value: f64, ci95: Option<f64>) -> Ratio {
        Ratio { value, ci95 }
    }

    #[test]
    fn vm_signs_need_an_interval_that_excludes_one() {
        assert_eq!(vm_sign(&r(0.8, Some(0.1))), Sign::Better);
        assert_eq!(vm_sign(&r(0.8, Some(0.25))), Sign::Tie);
        assert_eq!(vm_sign(&r(1.3, Some(0.2))), Sign::Worse);
        assert_eq!(vm_sign(&r(1.3, None)), Sign::Tie);
        assert_eq!(vm_sign(&r(f64::NAN, Some(0.1))), Sign::Tie);
    }

    #[test]
    fn simulated_ties_are_within_two_percent() {
        assert_eq!(sim_sign(0.97), Sign::Better);
        assert_eq!(sim_sign(0.99), Sign::Tie);
        assert_eq!(sim_sign(1.019), Sign::Tie);
        assert_eq!(sim_sign(1.05), Sign::Worse);
        assert_eq!(sim_sign(f64::NAN), Sign::Tie);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(Sign::Better, Sign::Better), Verdict::Agree);
        assert_eq!(verdict(Sign::Tie, Sign::Tie), Verdict::Agree);
        assert_eq!(verdict(Sign::Tie, Sign::Worse), Verdict::Undecided);
        assert_eq!(verdict(Sign::Better, Sign::Worse), Verdict::Disagree);
        assert_eq!(verdict(Sign::Worse, Sign::Tie), Verdict::Disagree);
    }

    fn arm(name: &str, ratios: &[(&str, Ratio)]) -> ArmSummary {
        let cs = |class: &str, ratio: &Ratio| ClassStats {
            class: class.into(),
            ratio: Some(*ratio),
            ..ClassStats::default()
        };
        ArmSummary {
            arm: name.into(),
            classes: ratios
                .iter()
                .filter(|(c, _)| *c != "all")
                .map(|(c, x)| cs(c, x))
                .collect(),
            overall: ratios
                .iter()
                .find(|(c, _)| *c == "all")
                .map(|(c, x)| cs(c, x))
                .unwrap_or_default(),
            ..ArmSummary::default()
        }
    }

    fn summary(cpus: usize, arms: Vec<ArmSummary>) -> Summary {
        Summary {
            meta: RunMeta {
                baseline: "eevdf".into(),
                cpus,
                repeats: 5,
                ..RunMeta::default()
            },
            arms,
        }
    }

    #[test]
    fn compares_the_arms_and_classes_both_ran() {
        let one = r(1.0, Some(0.0));
        let vm = summary(
            2,
            vec![
                arm("eevdf", &[("1", one), ("all", one)]),
                arm("alps-io", &[("1", r(0.5, Some(0.1))), ("all", r(1.4, Some(0.1)))]),
                arm("bpfland", &[("1", r(0.9, Some(0.05)))]),
            ],
        );
        let sim = summary(
            2,
            vec![
                arm("eevdf", &[("1", r(1.0, None)), ("all", r(1.0, None))]),
                arm("alps-io", &[("1", r(0.6, None)), ("all", r(0.8, None))]),
            ],
        );
        let cells = compare(&vm, &sim);
        assert_eq!(cells.len(), 2, "{cells:?}");
        assert_eq!((cells[0].class.as_str(), cells[0].verdict), ("1", Verdict::Agree));
        assert_eq!((cells[1].class.as_str(), cells[1].verdict), ("all", Verdict::Disagree));
        assert_eq!(tally(&cells), (1, 0, 1));
        let md = markdown(&cells, &vm, "test");
        assert!(md.contains("1 agree, 0 undecided"), "{md}");
        assert!(md.contains("| all | 1.40 [1.30, 1.50] + | 0.80 − | DISAGREE |"), "{md}");
    }
}
