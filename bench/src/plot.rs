//! Plots (PNG and SVG) with plotters: FCT CDF per class (log x) and
//! throughput over time, one line per arm.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{ArmRun, Summary, cdf};

const FONT_CANDIDATES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a TrueType font as "sans-serif" once (plotters' ab_glyph text
/// rendering needs one). Errors when none of the known paths has a font.
pub fn ensure_font() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for p in FONT_CANDIDATES {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no TrueType font for the plots (looked for {}): install fonts-dejavu-core",
            FONT_CANDIDATES.join(", ")
        ))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

pub fn palette(i: usize) -> RGBColor {
    const C: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    C[i % C.len()]
}

type Err = Box<dyn std::error::Error>;

fn draw_cdfs<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    runs: &[ArmRun],
    s: &Summary,
) -> std::result::Result<(), Err>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let classes: Vec<String> = s
        .arms
        .first()
        .map(|a| a.classes.iter().map(|c| c.class.clone()).collect())
        .unwrap_or_default();
    let n = classes.len().max(1);
    let cols = n.min(3);
    let rows = n.div_ceil(cols);
    let title = format!("FCT CDF, {} scenario ({})", s.meta.scenario, s.meta.mode);
    let root = root.titled(&title, ("sans-serif", 22))?;
    let areas = root.split_evenly((rows, cols));
    for (class, area) in classes.iter().zip(areas) {
        let series: Vec<(String, Vec<(f64, f64)>)> = s
            .arms
            .iter()
            .map(|a| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.arm == a.arm)
                    .flat_map(|r| r.results.iter())
                    .filter(|r| {
                        let pooled = class == crate::report::OTHERS_CLASS && r.class != crate::workload::SPLIT_CLASS;
                        r.ok && (&r.class == class || pooled)
                    })
                    .map(|r| r.fct_ms.max(0.01))
                    .collect();
                (a.arm.clone(), cdf(&v, 400))
            })
            .collect();
        let xs = series.iter().flat_map(|(_, v)| v.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(l, h), x| (l.min(x), h.max(x)));
        if !lo.is_finite() || hi <= 0.0 {
            continue;
        }
        let (lo, hi) = (lo * 0.8, (hi * 1.25).max(lo * 2.0));
        let kind = s.arms[0]
            .classes
            .iter()
            .find(|c| &c.class == class)
            .map_or("", |c| c.kind.as_str());
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("class {class} ({kind})"), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(40)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("FCT (ms, log)")
            .y_desc("fraction")
            .x_labels(8)
            .x_label_formatter(&|v| {
                if *v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .y_labels(6)
            .label_style(("sans-serif", 11))
            .draw()?;
        for (i, (arm, pts)) in series.iter().enumerate() {
            let color = palette(i);
            // Empirical CDF as a staircase starting from 0.
            let mut steps = Vec::with_capacity(pts.len() * 2 + 1);
            let mut prev = 0.0;
            for &(x, y) in pts {
                steps.push((x, prev));
                steps.push((x, y));
                prev = y;
            }
            chart
                .draw_series(LineSeries::new(steps, color.stroke_width(2)))?
                .label(arm.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", 11))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn draw_throughput<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, s: &Summary) -> std::result::Result<(), Err>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let t_max = s
        .arms
        .iter()
        .flat_map(|a| a.throughput.iter().map(|p| p.0))
        .fold(0.0, f64::max)
        + 1.0;
    let y_max = s
        .arms
        .iter()
        .flat_map(|a| a.throughput.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(0.1)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Throughput over time, {} scenario ({})", s.meta.scenario, s.meta.mode),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time since first arrival (s)")
        .y_desc("completions / s")
        .label_style(("sans-serif", 12))
        .draw()?;
    for (i, a) in s.arms.iter().enumerate() {
        let color = palette(i);
        // Step plot: the rate holds over each bin.
        let bin = if a.throughput.len() > 1 {
            a.throughput[1].0 - a.throughput[0].0
        } else {
            1.0
        };
        let pts: Vec<(f64, f64)> = a.throughput.iter().flat_map(|&(t, r)| [(t, r), (t + bin, r)]).collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(a.arm.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Writes `cdf_<scenario>.png/.svg` and `throughput.png/.svg` into `dir`
/// and returns their paths.
///
/// Errors when no font is installed or plotters fails.
pub fn write_plots(dir: &Path, runs: &[ArmRun], s: &Summary) -> Result<Vec<PathBuf>> {
    ensure_font()?;
    if s.arms.is_empty() {
        bail!("nothing to plot");
    }
    let scenario = if s.meta.scenario.is_empty() {
        "run"
    } else {
        s.meta.scenario.as_str()
    };
    let ncls = s.arms[0].classes.len().max(1);
    let rows = ncls.div_ceil(ncls.min(3)) as u32;
    let cdf_size = (1200, 60 + 360 * rows);
    let tp_size = (1000, 500);
    let paths: Vec<PathBuf> = [
        format!("cdf_{scenario}.png"),
        format!("cdf_{scenario}.svg"),
        "throughput.png".into(),
        "throughput.svg".into(),
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let fail = |what: &str, e: Err| anyhow!("plotting {what}: {e}");
    draw_cdfs(BitMapBackend::new(&paths[0], cdf_size).into_drawing_area(), runs, s).map_err(|e| fail("CDF", e))?;
    draw_cdfs(SVGBackend::new(&paths[1], cdf_size).into_drawing_area(), runs, s).map_err(|e| fail("CDF", e))?;
    draw_throughput(BitMapBackend::new(&paths[2], tp_size).into_drawing_area(), s)
        .map_err(|e| fail("throughput", e))?;
    draw_throughput(SVGBackend::new(&paths[3], tp_size).into_drawing_area(), s).map_err(|e| fail("throughput", e))?;
    Ok(paths)
}
