//! Load sweeps: mean and P99 FCT of every arm at each offered load, from
//! one A/B (or simulated) summary per load; a table and a plot.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::report::Summary;

/// One arm at one load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Offered CPU load (fraction of the machine).
    pub load: f64,
    /// Arm.
    pub arm: String,
    /// Mean FCT over all invocations, ms.
    pub mean_ms: f64,
    /// Half-width of its 95 % interval over repetitions, ms.
    pub mean_ci95_ms: Option<f64>,
    /// P99 FCT, ms.
    pub p99_ms: f64,
    /// Mean FCT per class, ms.
    pub classes: Vec<(String, f64)>,
}

/// The points of `s`, a run at `load`.
pub fn points(load: f64, s: &Summary) -> Vec<SweepPoint> {
    s.arms
        .iter()
        .map(|a| SweepPoint {
            load,
            arm: a.arm.clone(),
            mean_ms: a.overall.mean_ms,
            mean_ci95_ms: a.overall.ci95_ms,
            p99_ms: a.overall.p99_ms,
            classes: a.classes.iter().map(|c| (c.class.clone(), c.mean_ms)).collect(),
        })
        .collect()
}

fn arms(pts: &[SweepPoint]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for p in pts {
        if !v.contains(&p.arm) {
            v.push(p.arm.clone());
        }
    }
    v
}

fn loads(pts: &[SweepPoint]) -> Vec<f64> {
    let mut v: Vec<f64> = pts.iter().map(|p| p.load).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn at<'a>(pts: &'a [SweepPoint], load: f64, arm: &str) -> Option<&'a SweepPoint> {
    pts.iter().find(|p| p.load == load && p.arm == arm)
}

/// A table's header row and alignment row: a load column, one per arm.
fn header(arms: &[String]) -> String {
    let mut o = String::from("| load |");
    for a in arms {
        o += &format!(" {a} |");
    }
    o += "\n|---:|";
    for _ in arms {
        o += "---:|";
    }
    o + "\n"
}

/// The Markdown tables: mean and P99 per load and arm; with `bound` (an
/// arm), every arm's mean over the bound's, overall and worst class.
pub fn markdown(pts: &[SweepPoint], title: &str, bound: Option<&str>) -> String {
    let arms = arms(pts);
    let mut o = format!("# Load sweep: {title}\n\n## Mean / P99 FCT (ms)\n\n");
    o += &header(&arms);
    for l in loads(pts) {
        o += &format!("| {l:.2} |");
        for a in &arms {
            match at(pts, l, a) {
                Some(p) => o += &format!(" {:.0} / {:.0} |", p.mean_ms, p.p99_ms),
                None => o += " - |",
            }
        }
        o += "\n";
    }
    if let Some(b) = bound {
        o += &format!("\n## Mean FCT over `{b}`: overall (worst class)\n\n");
        o += &header(&arms);
        for l in loads(pts) {
            o += &format!("| {l:.2} |");
            let Some(bp) = at(pts, l, b) else {
                o += "\n";
                continue;
            };
            for a in &arms {
                match at(pts, l, a) {
                    Some(p) => {
                        let worst = p
                            .classes
                            .iter()
                            .filter_map(|(c, m)| bp.classes.iter().find(|x| &x.0 == c).map(|x| m / x.1))
                            .fold(0.0, f64::max);
                        o += &format!(" {:.3} ({worst:.2}) |", p.mean_ms / bp.mean_ms);
                    }
                    None => o += " - |",
                }
            }
            o += "\n";
        }
    }
    o
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    pts: &[SweepPoint],
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{x}");
    root.fill(&WHITE).map_err(e)?;
    let panels = root.split_evenly((1, 2));
    let ls = loads(pts);
    let (lo, hi) = (ls.first().copied().unwrap_or(0.0), ls.last().copied().unwrap_or(1.0));
    for (panel, (what, f)) in panels.iter().zip([
        ("mean FCT (ms)", (|p: &SweepPoint| p.mean_ms) as fn(&SweepPoint) -> f64),
        ("P99 FCT (ms)", |p: &SweepPoint| p.p99_ms),
    ]) {
        let y_max = pts.iter().map(f).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{what} vs offered load, {title}"), ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi.max(lo + 0.01), 0.0..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("offered load")
            .y_desc(what)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        for (i, a) in arms(pts).iter().enumerate() {
            let color = crate::plot::palette(i);
            let line: Vec<(f64, f64)> = ls.iter().filter_map(|&l| at(pts, l, a).map(|p| (l, f(p)))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(e)?
                .label(a.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Writes sweep.csv, sweep.json, report.md and sweep.png/.svg into `dir`.
pub fn write_outputs(dir: &Path, pts: &[SweepPoint], title: &str, bound: Option<&str>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut w = csv::Writer::from_path(dir.join("sweep.csv"))?;
    w.write_record(["load", "arm", "mean_ms", "mean_ci95_ms", "p99_ms"])?;
    for p in pts {
        w.write_record([
            format!("{}", p.load),
            p.arm.clone(),
            format!("{:.3}", p.mean_ms),
            p.mean_ci95_ms.map_or(String::new(), |h| format!("{h:.3}")),
            format!("{:.3}", p.p99_ms),
        ])?;
    }
    w.flush()?;
    std::fs::write(dir.join("sweep.json"), serde_json::to_vec_pretty(pts)?)?;
    std::fs::write(dir.join("report.md"), markdown(pts, title, bound))?;
    crate::plot::ensure_font()?;
    draw(
        BitMapBackend::new(&dir.join("sweep.png"), (1400, 520)).into_drawing_area(),
        pts,
        title,
    )?;
    draw(
        SVGBackend::new(&dir.join("sweep.svg"), (1400, 520)).into_drawing_area(),
        pts,
        title,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(load: f64, arm: &str, mean: f64, c1: f64) -> SweepPoint {
        SweepPoint {
            load,
            arm: arm.into(),
            mean_ms: mean,
            mean_ci95_ms: None,
            p99_ms: mean * 3.0,
            classes: vec![("1".into(), c1), ("2".into(), mean)],
        }
    }

    #[test]
    fn tables_list_loads_and_ratios_to_the_bound() {
        let pts = vec![
            pt(0.5, "eevdf", 100.0, 50.0),
            pt(0.5, "gittins", 80.0, 40.0),
            pt(1.0, "eevdf", 300.0, 100.0),
            pt(1.0, "gittins", 200.0, 50.0),
        ];
        let md = markdown(&pts, "t", Some("gittins"));
        assert!(md.contains("| 0.50 | 100 / 300 | 80 / 240 |"), "{md}");
        // eevdf at 1.0: overall 1.5, class 1 2.0 (the worst).
        assert!(md.contains("| 1.00 | 1.500 (2.00) | 1.000 (1.00) |"), "{md}");
        let dir = std::env::temp_dir().join(format!("alps-sweep-{}", std::process::id()));
        write_outputs(&dir, &pts, "t", Some("gittins")).unwrap();
        for f in ["sweep.csv", "sweep.json", "report.md", "sweep.png", "sweep.svg"] {
            assert!(dir.join(f).is_file(), "{f}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
