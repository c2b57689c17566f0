//! BPF cost per callback: with `kernel.bpf_stats_enabled`, the kernel counts
//! each BPF program's runs and run time; `bpftool -j prog show` reports them.
//! The struct_ops programs of the attached scheduler are its callbacks.
//! Absolute times under TCG are inflated; the ratio between schedulers
//! measured in the same boot is the figure.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Run count and time of one struct_ops program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgCost {
    /// Program name (the callback, e.g. alps_enqueue).
    pub name: String,
    /// Runs.
    pub run_cnt: u64,
    /// Total run time, ns.
    pub run_time_ns: u64,
}

impl ProgCost {
    /// Mean run time per call, ns (0 when never run).
    pub fn per_call_ns(&self) -> f64 {
        if self.run_cnt == 0 {
            0.0
        } else {
            self.run_time_ns as f64 / self.run_cnt as f64
        }
    }
}

/// One entry of `bpftool -j prog show`, the fields this module reads.
#[derive(Deserialize)]
struct BpftoolProg {
    /// A name, or a number for a type this bpftool does not know.
    #[serde(rename = "type")]
    kind: serde_json::Value,
    #[serde(default)]
    name: Option<String>,
    /// Absent unless `kernel.bpf_stats_enabled` was on.
    #[serde(default)]
    run_cnt: u64,
    #[serde(default)]
    run_time_ns: u64,
}

/// The struct_ops programs of `bpftool -j prog show` output, with their
/// counters (programs without counters count 0).
///
/// Errors when the output is not bpftool's JSON list of programs.
pub fn parse_bpftool(json: &str) -> Result<Vec<ProgCost>> {
    let progs: Vec<BpftoolProg> =
        serde_json::from_str(json).context("bpftool output is not a JSON list of programs")?;
    Ok(progs
        .into_iter()
        .filter(|p| p.kind.as_str() == Some("struct_ops"))
        .map(|p| ProgCost {
            name: p.name.unwrap_or_else(|| "?".into()),
            run_cnt: p.run_cnt,
            run_time_ns: p.run_time_ns,
        })
        .collect())
}

/// Mean cost per call over all callbacks, ns: total run time over total
/// runs (so frequent callbacks weigh by how often they run).
pub fn mean_per_call_ns(progs: &[ProgCost]) -> f64 {
    let runs: u64 = progs.iter().map(|p| p.run_cnt).sum();
    let time: u64 = progs.iter().map(|p| p.run_time_ns).sum();
    if runs == 0 { 0.0 } else { time as f64 / runs as f64 }
}

/// One repetition: each arm's name and its programs' counters.
pub type Repetition = Vec<(String, Vec<ProgCost>)>;

/// One arm's cost over the repetitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmCost {
    /// Arm name.
    pub arm: String,
    /// Calls, summed over repetitions.
    pub calls: u64,
    /// Mean ns per call of each repetition ([`mean_per_call_ns`]).
    pub per_rep_ns: Vec<f64>,
    /// Mean over repetitions of the per-call mean, ns.
    pub mean_ns: f64,
    /// Half-width of `mean_ns`'s 95 % confidence interval (None below two repetitions).
    pub mean_ci95: Option<f64>,
    /// The first arm's per-call mean over this arm's, per repetition paired,
    /// averaged (1.0 for the first arm; below 1: the first arm is cheaper).
    pub first_over_this: f64,
    /// Half-width of `first_over_this`'s 95 % confidence interval.
    pub first_over_this_ci95: Option<f64>,
    /// Each callback's counters summed over repetitions, most called first.
    pub callbacks: Vec<ProgCost>,
}

/// Summary per arm of `reps` (each holding the same arms, in any order):
/// repetitions are paired, so the ratio to the first-named arm of the first
/// repetition is a mean of per-repetition ratios, with its 95 % interval.
///
/// Errors when a repetition lacks an arm of the first or an arm ran no callback.
pub fn summarize(reps: &[Repetition]) -> Result<Vec<ArmCost>> {
    let Some(first) = reps.first() else {
        bail!("no repetition");
    };
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    let per_call = |rep: &Repetition, arm: &str| -> Result<f64> {
        let (_, progs) = rep
            .iter()
            .find(|(n, _)| n == arm)
            .with_context(|| format!("a repetition has no arm {arm}"))?;
        let m = mean_per_call_ns(progs);
        if m <= 0.0 {
            bail!("arm {arm} ran no BPF callback (is bpf_stats_enabled set?)");
        }
        Ok(m)
    };
    let base: Vec<f64> = reps.iter().map(|r| per_call(r, names[0])).collect::<Result<_>>()?;
    names
        .iter()
        .map(|&arm| {
            let xs: Vec<f64> = reps.iter().map(|r| per_call(r, arm)).collect::<Result<_>>()?;
            let ratios: Vec<f64> = base.iter().zip(&xs).map(|(b, x)| b / x).collect();
            let (mean_ns, mean_ci) = crate::stats::mean_ci95(&xs);
            let (ratio, ratio_ci) = crate::stats::mean_ci95(&ratios);
            let mut merged: Vec<ProgCost> = Vec::new();
            for (_, progs) in reps.iter().flat_map(|r| r.iter().filter(|(n, _)| n == arm)) {
                for p in progs {
                    match merged.iter_mut().find(|m| m.name == p.name) {
                        Some(m) => {
                            m.run_cnt += p.run_cnt;
                            m.run_time_ns += p.run_time_ns;
                        }
                        None => merged.push(p.clone()),
                    }
                }
            }
            merged.retain(|p| p.run_cnt > 0);
            merged.sort_by_key(|c| std::cmp::Reverse(c.run_cnt));
            Ok(ArmCost {
                arm: arm.to_string(),
                calls: merged.iter().map(|p| p.run_cnt).sum(),
                per_rep_ns: xs,
                mean_ns,
                mean_ci95: mean_ci,
                first_over_this: ratio,
                first_over_this_ci95: ratio_ci,
                callbacks: merged,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(name: &str, run_cnt: u64, run_time_ns: u64) -> ProgCost {
        ProgCost {
            name: name.into(),
            run_cnt,
            run_time_ns,
        }
    }

    #[test]
    fn repetitions_pair_up_whatever_the_arms_order() {
        let reps = vec![
            vec![
                ("alps-io".to_string(), vec![prog("a_tick", 10, 1000)]),
                ("peer".to_string(), vec![prog("p_tick", 10, 2000)]),
            ],
            vec![
                ("peer".to_string(), vec![prog("p_tick", 10, 4000)]),
                (
                    "alps-io".to_string(),
                    vec![prog("a_tick", 5, 1000), prog("a_init", 0, 0)],
                ),
            ],
        ];
        let s = summarize(&reps).unwrap();
        assert_eq!(s[0].arm, "alps-io");
        assert_eq!(s[0].per_rep_ns, vec![100.0, 200.0]);
        assert_eq!(s[0].first_over_this, 1.0);
        assert_eq!(s[1].per_rep_ns, vec![200.0, 400.0]);
        // Paired ratios 0.5 and 0.5: no spread.
        assert_eq!((s[1].first_over_this, s[1].first_over_this_ci95), (0.5, Some(0.0)));
        assert_eq!(s[0].calls, 15);
        assert_eq!(s[0].callbacks, vec![prog("a_tick", 15, 2000)]);
        let missing = vec![vec![("alps-io".to_string(), vec![prog("a", 1, 1)])], vec![]];
        assert!(summarize(&missing).is_err());
        let idle = vec![vec![("alps-io".to_string(), vec![prog("a", 0, 0)])]];
        assert!(summarize(&idle).is_err());
        assert!(summarize(&[]).is_err());
    }

    #[test]
    fn struct_ops_programs_and_their_mean_cost() {
        let json = r#"[
            {"id": 10, "type": "struct_ops", "name": "alps_enqueue", "run_time_ns": 9000, "run_cnt": 30},
            {"id": 11, "type": "struct_ops", "name": "alps_tick", "run_time_ns": 1000, "run_cnt": 10},
            {"id": 12, "type": "tracing", "name": "alps_task_exit", "run_time_ns": 50000, "run_cnt": 5},
            {"id": 13, "type": "struct_ops", "name": "alps_init"},
            {"id": 14, "type": 33, "name": "unknown_to_this_bpftool", "run_cnt": 1}
        ]"#;
        let p = parse_bpftool(json).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].per_call_ns(), 300.0);
        assert_eq!(p[2].per_call_ns(), 0.0);
        assert_eq!(mean_per_call_ns(&p), 250.0);
        assert!(parse_bpftool("{}").is_err());
        assert!(parse_bpftool("not json").is_err());
    }
}
