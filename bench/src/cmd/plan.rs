//! `alps-bench plan` and `alps-bench verify`.

use alps_bench::report::{self, Summary};
use anyhow::{Context, Result, bail};

use super::{build_plan, describe};
use crate::cli::{PlanArgs, VerifyArgs};

pub fn plan(p: PlanArgs) -> Result<()> {
    let plan = build_plan(&p.trace, p.cpus)?;
    print!("{}", describe(&plan));
    if let Some(out) = p.out {
        std::fs::write(&out, serde_json::to_vec_pretty(&plan)?)?;
    }
    Ok(())
}

pub fn verify(v: VerifyArgs) -> Result<()> {
    let (summary, problems) = check_results(&v.dir, &v.arms)?;
    if problems.is_empty() {
        println!(
            "ok: {} arms, {} invocations each per repetition, all completed",
            v.arms.len(),
            summary.meta.invocations
        );
        Ok(())
    } else {
        bail!("{}", problems.join("\n"))
    }
}

/// Reads the summary of the A/B results in `dir` and lists what is wrong
/// with them: an arm of `arms` missing, a repetition short of the plan, an
/// invocation that did not complete, a plot missing or empty. Errors when
/// summary.json, invocations.csv or report.md is missing or does not parse.
pub fn check_results(dir: &std::path::Path, arms: &[String]) -> Result<(Summary, Vec<String>)> {
    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).context("no summary.json")?)
            .context("summary.json does not parse")?;
    let rows = report::read_csv(&dir.join("invocations.csv"))?;
    let md = std::fs::read_to_string(dir.join("report.md")).context("no report.md")?;
    let mut problems = Vec::new();
    for arm in arms {
        let Some(a) = summary.arms.iter().find(|a| &a.arm == arm) else {
            problems.push(format!("arm {arm} missing from summary.json"));
            continue;
        };
        let mine: Vec<_> = rows.iter().filter(|r| &r.arm == arm).collect();
        // Every planned repetition must be there, each with the whole plan:
        // count against the run's metadata, not against what the data holds.
        if a.reps != summary.meta.repeats {
            problems.push(format!(
                "arm {arm}: {} repetitions in summary.json, the run planned {}",
                a.reps, summary.meta.repeats
            ));
        }
        for rep in 0..summary.meta.repeats {
            let n = mine.iter().filter(|r| r.rep == rep).count();
            if n != summary.meta.invocations {
                problems.push(format!(
                    "arm {arm} repetition {}: {n} rows in invocations.csv, expected {}",
                    rep + 1,
                    summary.meta.invocations
                ));
            }
        }
        let failed = mine.iter().filter(|r| !r.ok || !r.fct_ms.is_finite()).count();
        if failed > 0 {
            problems.push(format!("arm {arm}: {failed} invocations did not complete"));
        }
        if !md.contains(&format!("| {arm} |")) {
            problems.push(format!("arm {arm} missing from report.md"));
        }
    }
    for f in ["throughput.png", "throughput.svg"] {
        if std::fs::metadata(dir.join(f)).map_or(true, |m| m.len() == 0) {
            problems.push(format!("{f} missing or empty"));
        }
    }
    for ext in ["png", "svg"] {
        let cdf = format!("cdf_{}.{ext}", summary.meta.scenario);
        if std::fs::metadata(dir.join(&cdf)).map_or(true, |m| m.len() == 0) {
            problems.push(format!("{cdf} missing or empty"));
        }
    }
    Ok((summary, problems))
}
