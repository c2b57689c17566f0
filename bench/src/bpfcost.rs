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

/// The struct_ops programs of `bpftool -j prog show` output, with their
/// counters (programs without counters count 0).
///
/// Errors when the output is not bpftool's JSON list.
pub fn parse_bpftool(json: &str) -> Result<Vec<ProgCost>> {
    let v: serde_json::Value = serde_json::from_str(json).context("bpftool output is not JSON")?;
    let Some(progs) = v.as_array() else {
        bail!("bpftool output is not a JSON list of programs");
    };
    Ok(progs
        .iter()
        .filter(|p| p.get("type").and_then(|t| t.as_str()) == Some("struct_ops"))
        .map(|p| ProgCost {
            name: p.get("name").and_then(|n| n.as_str()).unwrap_or("?").to_string(),
            run_cnt: p.get("run_cnt").and_then(|n| n.as_u64()).unwrap_or(0),
            run_time_ns: p.get("run_time_ns").and_then(|n| n.as_u64()).unwrap_or(0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_ops_programs_and_their_mean_cost() {
        let json = r#"[
            {"id": 10, "type": "struct_ops", "name": "alps_enqueue", "run_time_ns": 9000, "run_cnt": 30},
            {"id": 11, "type": "struct_ops", "name": "alps_tick", "run_time_ns": 1000, "run_cnt": 10},
            {"id": 12, "type": "tracing", "name": "alps_task_exit", "run_time_ns": 50000, "run_cnt": 5},
            {"id": 13, "type": "struct_ops", "name": "alps_init"}
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
