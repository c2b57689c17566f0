//! Readers for the public FaaS traces, in their own unmodified formats.
//!
//! | format    | columns                                   | arrivals            |
//! |-----------|-------------------------------------------|---------------------|
//! | study     | `id fibN func iat_ms class`               | cumulative iat      |
//! | alps      | `id arg func iat_ms port`                 | cumulative iat      |
//! | sfs       | `name exec fibN start_ms id`              | absolute start      |
//! | azure2019 | per-minute counts + duration percentiles  | sampled, seeded     |
//! | azure2021 | `app,func,end_timestamp,duration` (s)     | end - duration      |
//!
//! Every reader returns [`TraceEntry`]s in arrival order with arrival times
//! in ms from the start of the trace, before any scaling. Malformed input is
//! an error naming the file, the line and the field.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What one invocation computes, as the trace states it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Work {
    /// `fib(n)`.
    Fib(u32),
    /// A named function of the ALPS trace with its argument.
    Named {
        /// Function name as the trace spells it (e.g. `floatOperation`).
        func: String,
        /// Its argument; the unit is the function's (a loop count for
        /// floatOperation, a graph size for graphBfs: see the README's
        /// function models for what each costs in CPU ms).
        arg: f64,
    },
    /// A duration in ms (Azure traces).
    DurationMs(f64),
}

/// One invocation of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// Line of the source file (1-based; for Azure 2019 the function's row).
    pub line: usize,
    /// Invocation id (the trace's, or a generated one).
    pub id: String,
    /// Function name.
    pub func: String,
    /// Class given by the trace (the study's 1..5), if any.
    pub class: Option<u32>,
    /// Arrival, ms from the start of the trace (unscaled).
    pub arrival_ms: f64,
    /// The work.
    pub work: Work,
}

/// Supported formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The I/O study's `id fibN func iat_ms class`.
    Study,
    /// ALPS's `id arg func iat_ms port`.
    Alps,
    /// SFS's `name exec fibN start_ms id`.
    Sfs,
    /// Azure Functions 2019 (invocations per minute + duration percentiles).
    Azure2019,
    /// Azure Functions 2021 invocation trace.
    Azure2021,
}

impl Format {
    /// Factor the trace's own client applies to its arrival times (the
    /// ALPS client multiplies iat by 0.21; SFS multiplies start by 9).
    pub fn native_time_scale(self) -> f64 {
        match self {
            Format::Alps => 0.21,
            Format::Sfs => 9.0,
            _ => 1.0,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Study => "study",
            Format::Alps => "alps",
            Format::Sfs => "sfs",
            Format::Azure2019 => "azure2019",
            Format::Azure2021 => "azure2021",
        })
    }
}

/// A malformed trace: where, which field, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    /// File.
    pub file: PathBuf,
    /// 1-based line, 0 when the error concerns the whole file.
    pub line: usize,
    /// Field name, empty when not about one field.
    pub field: String,
    /// What was wrong.
    pub msg: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.msg)
    }
}

impl std::error::Error for TraceError {}

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, line: usize, field: &str, msg: impl Into<String>) -> TraceError {
        TraceError {
            file: self.file.to_path_buf(),
            line,
            field: field.to_string(),
            msg: msg.into(),
        }
    }

    fn num<T: std::str::FromStr>(&self, line: usize, field: &str, s: &str) -> Result<T, TraceError> {
        s.parse::<T>()
            .map_err(|_| self.err(line, field, format!("expected a number, got {s:?}")))
    }

    fn nonneg(&self, line: usize, field: &str, s: &str) -> Result<f64, TraceError> {
        let v: f64 = self.num(line, field, s)?;
        if !v.is_finite() || v < 0.0 {
            return Err(self.err(line, field, format!("expected a finite value >= 0, got {s:?}")));
        }
        Ok(v)
    }

    fn fib_n(&self, line: usize, field: &str, s: &str) -> Result<u32, TraceError> {
        let n: u32 = self.num(line, field, s)?;
        if n > 60 {
            return Err(self.err(line, field, format!("fib argument {n} is out of range 0..=60")));
        }
        Ok(n)
    }

    fn columns<'l>(&self, line: usize, text: &'l str, names: &[&str]) -> Result<Vec<&'l str>, TraceError> {
        let cols: Vec<&str> = text.split_whitespace().collect();
        if cols.len() != names.len() {
            return Err(self.err(
                line,
                "",
                format!(
                    "expected {} columns ({}), found {}",
                    names.len(),
                    names.join(" "),
                    cols.len()
                ),
            ));
        }
        Ok(cols)
    }
}

fn read_text(path: &Path) -> Result<String, TraceError> {
    std::fs::read_to_string(path).map_err(|e| TraceError {
        file: path.to_path_buf(),
        line: 0,
        field: String::new(),
        msg: format!("cannot read: {e}"),
    })
}

/// Non-empty, non-comment lines with their 1-based numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Reads the I/O study's `id fibN func iat_ms class` (no header).
pub fn read_study(path: &Path) -> Result<Vec<TraceEntry>, TraceError> {
    let text = read_text(path)?;
    let cx = Ctx { file: path };
    let mut t = 0.0;
    let mut out = Vec::new();
    for (line, l) in data_lines(&text) {
        let c = cx.columns(line, l, &["id", "fibN", "func", "iat_ms", "class"])?;
        let n = cx.fib_n(line, "fibN", c[1])?;
        let iat = cx.nonneg(line, "iat_ms", c[3])?;
        let class: u32 = cx.num(line, "class", c[4])?;
        if !(1..=5).contains(&class) {
            return Err(cx.err(line, "class", format!("expected 1..=5, got {class}")));
        }
        out.push(TraceEntry {
            line,
            id: c[0].to_string(),
            func: format!("class{class}"),
            class: Some(class),
            arrival_ms: t,
            work: Work::Fib(n),
        });
        // The study's launcher forks the entry, then sleeps its iat.
        t += iat;
    }
    Ok(out)
}

/// Reads ALPS's `id arg func iat_ms port` (no header).
pub fn read_alps(path: &Path) -> Result<Vec<TraceEntry>, TraceError> {
    let text = read_text(path)?;
    let cx = Ctx { file: path };
    let mut t = 0.0;
    let mut out = Vec::new();
    for (line, l) in data_lines(&text) {
        let c = cx.columns(line, l, &["id", "arg", "func", "iat_ms", "port"])?;
        let arg = cx.nonneg(line, "arg", c[1])?;
        let iat = cx.nonneg(line, "iat_ms", c[3])?;
        let _port: u16 = cx.num(line, "port", c[4])?;
        let func = c[2].to_string();
        let work = if func == "fib" {
            Work::Fib(cx.fib_n(line, "arg", c[1])?)
        } else {
            Work::Named {
                func: func.clone(),
                arg,
            }
        };
        out.push(TraceEntry {
            line,
            id: c[0].to_string(),
            func,
            class: None,
            arrival_ms: t,
            work,
        });
        t += iat;
    }
    Ok(out)
}

/// Reads SFS's `name exec fibN start_ms id` (no header; start is absolute).
pub fn read_sfs(path: &Path) -> Result<Vec<TraceEntry>, TraceError> {
    let text = read_text(path)?;
    let cx = Ctx { file: path };
    let mut out = Vec::new();
    for (line, l) in data_lines(&text) {
        let c = cx.columns(line, l, &["name", "exec", "fibN", "start_ms", "id"])?;
        let n = cx.fib_n(line, "fibN", c[2])?;
        let start = cx.nonneg(line, "start_ms", c[3])?;
        let func = c[1].trim_end_matches(".py").to_string();
        out.push(TraceEntry {
            line,
            id: c[4].to_string(),
            func,
            class: None,
            arrival_ms: start,
            work: Work::Fib(n),
        });
    }
    out.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms).then(a.line.cmp(&b.line)));
    Ok(out)
}

/// A CSV table: its header and its data records, each record with its
/// 1-based line and exactly as many fields as the header.
struct Table {
    header_line: usize,
    header: Vec<String>,
    rows: Vec<(usize, csv::StringRecord)>,
}

impl Table {
    /// The header's column `name`.
    fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }
}

impl Ctx<'_> {
    /// Reads `text` as CSV: the data lines of [`data_lines`] (trimmed;
    /// blank and `#` lines skipped), each one record with RFC 4180 quoting
    /// and trimmed fields. Errors name the line: an empty file, a malformed
    /// record, a record whose field count differs from the header's.
    fn table(&self, text: &str) -> Result<Table, TraceError> {
        let record = |line: usize, l: &str| -> Result<csv::StringRecord, TraceError> {
            let mut rd = csv::ReaderBuilder::new()
                .has_headers(false)
                .trim(csv::Trim::All)
                .from_reader(l.as_bytes());
            let mut rec = csv::StringRecord::new();
            match rd.read_record(&mut rec) {
                Ok(true) => Ok(rec),
                Ok(false) => Err(self.err(line, "", "empty record")),
                Err(e) => Err(self.err(line, "", format!("malformed CSV: {e}"))),
            }
        };
        let mut lines = data_lines(text);
        let (header_line, first) = lines.next().ok_or_else(|| self.err(0, "", "empty file"))?;
        let header: Vec<String> = record(header_line, first)?.iter().map(str::to_string).collect();
        let mut rows = Vec::new();
        for (line, l) in lines {
            let r = record(line, l)?;
            if r.len() != header.len() {
                return Err(self.err(
                    line,
                    "",
                    format!("expected {} columns, found {}", header.len(), r.len()),
                ));
            }
            rows.push((line, r));
        }
        Ok(Table {
            header_line,
            header,
            rows,
        })
    }
}

/// Reads the Azure Functions 2021 trace `app,func,end_timestamp,duration`
/// (seconds, header row). Arrival = end - duration.
pub fn read_azure2021(path: &Path) -> Result<Vec<TraceEntry>, TraceError> {
    let text = read_text(path)?;
    let cx = Ctx { file: path };
    let t = cx.table(&text)?;
    let (Some(ia), Some(ifn), Some(ie), Some(id)) =
        (t.col("app"), t.col("func"), t.col("end_timestamp"), t.col("duration"))
    else {
        return Err(cx.err(t.header_line, "", "header must name app,func,end_timestamp,duration"));
    };
    let mut out = Vec::new();
    for (line, c) in &t.rows {
        let line = *line;
        let end = cx.nonneg(line, "end_timestamp", &c[ie])?;
        let dur = cx.nonneg(line, "duration", &c[id])?;
        if dur > end {
            return Err(cx.err(
                line,
                "duration",
                format!("duration {dur} s exceeds end_timestamp {end} s"),
            ));
        }
        out.push(TraceEntry {
            line,
            id: format!("{}", out.len() + 1),
            func: format!("{}/{}", short_hash(&c[ia]), short_hash(&c[ifn])),
            class: None,
            arrival_ms: (end - dur) * 1000.0,
            work: Work::DurationMs(dur * 1000.0),
        });
    }
    let t0 = out.iter().map(|e| e.arrival_ms).fold(f64::INFINITY, f64::min);
    for e in out.iter_mut() {
        e.arrival_ms -= t0;
    }
    out.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms).then(a.line.cmp(&b.line)));
    Ok(out)
}

fn short_hash(h: &str) -> &str {
    &h[..h.len().min(8)]
}

/// Percentiles given by the Azure 2019 durations file, as (quantile, ms).
const AZURE_PCTS: [(&str, f64); 7] = [
    ("percentile_Average_0", 0.0),
    ("percentile_Average_1", 0.01),
    ("percentile_Average_25", 0.25),
    ("percentile_Average_50", 0.50),
    ("percentile_Average_75", 0.75),
    ("percentile_Average_99", 0.99),
    ("percentile_Average_100", 1.0),
];

/// Inverse CDF by linear interpolation between known (quantile, value) points.
pub fn interpolate_quantile(points: &[(f64, f64)], q: f64) -> f64 {
    let q = q.clamp(0.0, 1.0);
    for w in points.windows(2) {
        let ((q0, v0), (q1, v1)) = (w[0], w[1]);
        if q <= q1 {
            if q1 <= q0 {
                return v1;
            }
            return v0 + (v1 - v0) * (q - q0) / (q1 - q0);
        }
    }
    points.last().map_or(0.0, |p| p.1)
}

/// Reads the Azure Functions 2019 schema: `path` is the invocations file
/// (`HashOwner,HashApp,HashFunction,Trigger,1..1440`) or the directory
/// holding it as `invocations.csv`; `durations.csv` must sit beside it.
/// Arrivals are spread uniformly at random within each minute and
/// durations drawn from each function's percentiles, both from `seed`.
pub fn read_azure2019(path: &Path, seed: u64) -> Result<Vec<TraceEntry>, TraceError> {
    let inv_path = if path.is_dir() {
        path.join("invocations.csv")
    } else {
        path.to_path_buf()
    };
    let dur_path = inv_path.with_file_name("durations.csv");
    let inv_text = read_text(&inv_path)?;
    let dur_text = read_text(&dur_path)?;

    // Durations: function key -> percentile points.
    let cx = Ctx { file: &dur_path };
    let t = cx.table(&dur_text)?;
    let (Some(io), Some(ia), Some(ifn)) = (t.col("HashOwner"), t.col("HashApp"), t.col("HashFunction")) else {
        return Err(cx.err(t.header_line, "", "header must name HashOwner,HashApp,HashFunction"));
    };
    let mut pct_cols = Vec::new();
    for (name, q) in AZURE_PCTS {
        let i = t
            .col(name)
            .ok_or_else(|| cx.err(t.header_line, name, "missing percentile column"))?;
        pct_cols.push((i, name, q));
    }
    let mut durations: HashMap<(String, String, String), Vec<(f64, f64)>> = HashMap::new();
    for (line, c) in &t.rows {
        let line = *line;
        let mut pts = Vec::new();
        for &(i, name, q) in &pct_cols {
            pts.push((q, cx.nonneg(line, name, &c[i])?));
        }
        if pts.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(cx.err(line, "percentile_Average_*", "percentiles must not decrease"));
        }
        durations.insert((c[io].to_string(), c[ia].to_string(), c[ifn].to_string()), pts);
    }

    let cx = Ctx { file: &inv_path };
    let t = cx.table(&inv_text)?;
    let (Some(io), Some(ia), Some(ifn)) = (t.col("HashOwner"), t.col("HashApp"), t.col("HashFunction")) else {
        return Err(cx.err(
            t.header_line,
            "",
            "header must name HashOwner,HashApp,HashFunction,Trigger,1..1440",
        ));
    };
    let Some(first_min) = t.col("1") else {
        return Err(cx.err(t.header_line, "1", "missing per-minute columns 1..1440"));
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (line, c) in &t.rows {
        let line = *line;
        let key = (c[io].to_string(), c[ia].to_string(), c[ifn].to_string());
        let Some(pts) = durations.get(&key) else {
            return Err(cx.err(
                line,
                "HashFunction",
                format!("no row for this function in {}", dur_path.display()),
            ));
        };
        let func = format!("{}/{}", short_hash(&key.1), short_hash(&key.2));
        for (m, count) in c.iter().skip(first_min).enumerate() {
            let field = &t.header[first_min + m];
            let count: u64 = cx.num(line, field, count)?;
            for _ in 0..count {
                let arrival_ms = (m as f64 + rng.random::<f64>()) * 60_000.0;
                let dur = interpolate_quantile(pts, rng.random::<f64>());
                out.push(TraceEntry {
                    line,
                    id: String::new(),
                    func: func.clone(),
                    class: None,
                    arrival_ms,
                    work: Work::DurationMs(dur),
                });
            }
        }
    }
    out.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));
    for (i, e) in out.iter_mut().enumerate() {
        e.id = format!("{}", i + 1);
    }
    Ok(out)
}

/// Guesses the format of `path` from its content.
pub fn detect(path: &Path) -> Result<Format, TraceError> {
    let err = |msg: &str| TraceError {
        file: path.to_path_buf(),
        line: 0,
        field: String::new(),
        msg: msg.to_string(),
    };
    if path.is_dir() {
        if path.join("invocations.csv").is_file() {
            return Ok(Format::Azure2019);
        }
        return Err(err(
            "a directory is only accepted for Azure 2019 (holding invocations.csv)",
        ));
    }
    let text = read_text(path)?;
    let Some((_, first)) = data_lines(&text).next() else {
        return Err(err("empty trace"));
    };
    if first.starts_with("HashOwner") {
        return Ok(Format::Azure2019);
    }
    if first.starts_with("app,") || first.contains("end_timestamp") {
        return Ok(Format::Azure2021);
    }
    let c: Vec<&str> = first.split_whitespace().collect();
    if c.len() == 5 {
        if c[1].ends_with(".py") || c[2].parse::<u32>().is_ok() && c[1].parse::<f64>().is_err() {
            return Ok(Format::Sfs);
        }
        if let Ok(last) = c[4].parse::<u32>() {
            return Ok(if last <= 5 { Format::Study } else { Format::Alps });
        }
    }
    Err(err(
        "cannot tell the format; pass --format study|alps|sfs|azure2019|azure2021",
    ))
}

/// Reads `path` in `format` (detected when None).
pub fn read(path: &Path, format: Option<Format>, seed: u64) -> Result<(Format, Vec<TraceEntry>), TraceError> {
    let format = match format {
        Some(f) => f,
        None => detect(path)?,
    };
    let entries = match format {
        Format::Study => read_study(path)?,
        Format::Alps => read_alps(path)?,
        Format::Sfs => read_sfs(path)?,
        Format::Azure2019 => read_azure2019(path, seed)?,
        Format::Azure2021 => read_azure2021(path)?,
    };
    if entries.is_empty() {
        return Err(TraceError {
            file: path.to_path_buf(),
            line: 0,
            field: String::new(),
            msg: "the trace has no invocations".into(),
        });
    }
    Ok((format, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace shipped in the repository's data/traces.
    fn shipped(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../data/traces")
            .join(rel)
    }

    /// A trace the project may not ship (ALPS's, SFS's: no license stated):
    /// `$ALPS_TRACE_DIR/<rel>`, else the development checkout's
    /// ../shared/data/traces. Tests using it are `#[ignore]`d; scripts/test
    /// runs them with `--ignored` when the files are there.
    fn unshipped(rel: &str) -> PathBuf {
        let dir = std::env::var_os("ALPS_TRACE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traces"));
        let p = dir.join(rel);
        assert!(
            p.is_file(),
            "{} is missing: set ALPS_TRACE_DIR (data/README.md)",
            p.display()
        );
        p
    }

    fn tmp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("alps-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn study_trace_golden_values() {
        let p = shipped("study_workload.txt");
        let t = read_study(&p).unwrap();
        assert_eq!(t.len(), 11008);
        // First lines: "1 45 fib 30 5", "2 36 fib 1 1", "3 36 fib 116 1".
        assert_eq!(t[0].work, Work::Fib(45));
        assert_eq!((t[0].class, t[0].arrival_ms), (Some(5), 0.0));
        assert_eq!((t[1].arrival_ms, t[2].arrival_ms), (30.0, 31.0));
        assert_eq!(t[1].func, "class1");
        // The first 200 (the mixed experiment): 3415 ms of iat, 146 entries of classes 1-2.
        assert_eq!(t[200].arrival_ms, 3415.0);
        assert_eq!(t[..200].iter().filter(|e| e.class.unwrap() <= 2).count(), 146);
        assert_eq!(detect(&p).unwrap(), Format::Study);
    }

    #[test]
    #[ignore = "needs ALPS's trace, which is not shipped (data/README.md)"]
    fn alps_trace_golden_values() {
        let p = unshipped("alps_huawei.txt");
        let t = read_alps(&p).unwrap();
        assert_eq!(t.len(), 15000);
        // "1 9 graphPagerank 20 5010", "2 100 graphBfs 26 5008", "3 28 fib 28 5006".
        assert_eq!(
            t[0].work,
            Work::Named {
                func: "graphPagerank".into(),
                arg: 9.0
            }
        );
        assert_eq!(t[2].work, Work::Fib(28));
        assert_eq!((t[1].arrival_ms, t[2].arrival_ms), (20.0, 46.0));
        assert_eq!(t.iter().filter(|e| e.func == "fib").count(), 5290);
        assert_eq!(detect(&p).unwrap(), Format::Alps);
        assert_eq!(Format::Alps.native_time_scale(), 0.21);
    }

    #[test]
    #[ignore = "needs SFS's trace, which is not shipped (data/README.md)"]
    fn sfs_trace_golden_values() {
        let p = unshipped("sfs_test2.txt");
        let t = read_sfs(&p).unwrap();
        assert_eq!(t.len(), 1000);
        // "fib1 fib.py 27 5 1" is the first arrival; the last start is 1925 ms.
        assert_eq!((t[0].id.as_str(), t[0].arrival_ms), ("1", 5.0));
        assert_eq!(t[0].work, Work::Fib(27));
        assert_eq!(t[0].func, "fib");
        assert_eq!(t.last().unwrap().arrival_ms, 1925.0);
        assert_eq!(detect(&p).unwrap(), Format::Sfs);
    }

    #[test]
    fn alps_format_on_a_written_sample() {
        // Columns `id arg func iat_ms port`; the iat precedes the next entry.
        let p = tmp(
            "alps_sample.txt",
            "1 12 graphBfs 40 5001\n2 25 fib 10 5002\n\n3 0.5 floatOperation 0 5003\n",
        );
        let t = read_alps(&p).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[0].work,
            Work::Named {
                func: "graphBfs".into(),
                arg: 12.0
            }
        );
        assert_eq!((t[1].work.clone(), t[1].func.as_str()), (Work::Fib(25), "fib"));
        let arrivals: Vec<f64> = t.iter().map(|e| e.arrival_ms).collect();
        assert_eq!(arrivals, [0.0, 40.0, 50.0]);
        assert_eq!((t[2].line, t[2].id.as_str()), (4, "3"));
        assert_eq!(detect(&p).unwrap(), Format::Alps);
    }

    #[test]
    fn sfs_format_on_a_written_sample() {
        // Columns `name exec fibN start_ms id`; absolute starts, read out of order.
        let p = tmp(
            "sfs_sample.txt",
            "fibA fib.py 30 120 7\nfibB fib.py 22 15 8\nfibC fib.py 25 15 9\n",
        );
        let t = read_sfs(&p).unwrap();
        let got: Vec<(&str, f64, Work)> = t
            .iter()
            .map(|e| (e.id.as_str(), e.arrival_ms, e.work.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("8", 15.0, Work::Fib(22)),
                ("9", 15.0, Work::Fib(25)),
                ("7", 120.0, Work::Fib(30))
            ]
        );
        assert!(t.iter().all(|e| e.func == "fib"));
        assert_eq!(detect(&p).unwrap(), Format::Sfs);
    }

    #[test]
    fn azure2021_golden_values() {
        let p = shipped("azure2021/Azure2021_30.csv");
        let t = read_azure2021(&p).unwrap();
        // 30 lines: the header and 29 invocations.
        assert_eq!(t.len(), 29);
        // First row ends at 10 s after 9 s: arrives at 1 s, the earliest; times
        // are rebased to the first arrival.
        assert_eq!(t[0].arrival_ms, 0.0);
        assert_eq!(t[0].work, Work::DurationMs(9000.0));
        assert_eq!(t[1].arrival_ms, 1000.0);
        assert_eq!(detect(&p).unwrap(), Format::Azure2021);
    }

    #[test]
    fn azure2021_csv_lines_keep_their_numbers() {
        // CRLF, an indented comment, a whitespace-only line and a quoted
        // field with a comma: errors still name the file's own line.
        let p = tmp(
            "az21-lines.csv",
            "app,func,end_timestamp,duration\r\n  # note\r\n   \r\n\"a,1\",f,10,2\r\na,f,x,1\r\n",
        );
        let e = read_azure2021(&p).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (5, "end_timestamp"), "{e}");
        let p = tmp(
            "az21-ok.csv",
            "app,func,end_timestamp,duration\r\n  # note\r\n\"a,1\",f,10,2\r\n",
        );
        let t = read_azure2021(&p).unwrap();
        assert_eq!((t.len(), t[0].line), (1, 3));
        assert_eq!(t[0].func, "a,1/f");
        let e = read_azure2021(&tmp("az21-cols.csv", "app,func,end_timestamp,duration\n\n1,2,3\n")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn azure2019_follows_counts_and_percentiles_and_is_seeded() {
        let dir = shipped("azure2019");
        let a = read_azure2019(&dir, 7).unwrap();
        let b = read_azure2019(&dir.join("invocations.csv"), 7).unwrap();
        let c = read_azure2019(&dir, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // The sample's first function runs 5 per minute over minutes 1..=240.
        let text = std::fs::read_to_string(dir.join("invocations.csv")).unwrap();
        let expected: u64 = text
            .lines()
            .skip(1)
            .flat_map(|l| {
                l.split(',')
                    .skip(4)
                    .map(|v| v.parse::<u64>().unwrap())
                    .collect::<Vec<_>>()
            })
            .sum();
        assert_eq!(a.len() as u64, expected);
        let first = &a.iter().find(|e| e.func.starts_with("68baea05")).unwrap();
        // Its durations lie between its 0th and 100th percentile (99..101 ms).
        for e in a.iter().filter(|e| e.func == first.func) {
            let Work::DurationMs(d) = e.work else { panic!() };
            assert!((99.0..=101.0).contains(&d), "{d}");
        }
        assert!(a.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms));
        assert_eq!(detect(&dir).unwrap(), Format::Azure2019);
    }

    #[test]
    fn quantile_interpolation() {
        let pts = [(0.0, 10.0), (0.5, 20.0), (1.0, 100.0)];
        assert_eq!(interpolate_quantile(&pts, 0.0), 10.0);
        assert_eq!(interpolate_quantile(&pts, 0.25), 15.0);
        assert_eq!(interpolate_quantile(&pts, 0.75), 60.0);
        assert_eq!(interpolate_quantile(&pts, 2.0), 100.0);
    }

    #[test]
    fn malformed_lines_name_file_line_and_field() {
        let p = tmp("bad_study.txt", "1 30 fib 10 1\n2 x fib 10 1\n");
        let e = read_study(&p).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "fibN"));
        let msg = e.to_string();
        assert!(
            msg.contains("bad_study.txt:2") && msg.contains("`fibN`") && msg.contains("\"x\""),
            "{msg}"
        );

        let p = tmp("short.txt", "1 30 fib 10\n");
        let e = read_study(&p).unwrap_err();
        assert!(e.msg.contains("expected 5 columns"), "{e}");

        let p = tmp("class.txt", "1 30 fib 10 9\n");
        assert_eq!(read_study(&p).unwrap_err().field, "class");

        let p = tmp("neg.txt", "1 30 fib -4 1\n");
        assert_eq!(read_study(&p).unwrap_err().field, "iat_ms");

        let p = tmp("port.txt", "1 10 fib 10 http\n");
        assert_eq!(read_alps(&p).unwrap_err().field, "port");

        let p = tmp("sfs.txt", "fib1 fib.py 99 5 1\n");
        assert_eq!(read_sfs(&p).unwrap_err().field, "fibN");

        let p = tmp("az21.csv", "app,func,end_timestamp,duration\na,f,1.0,2.0\n");
        let e = read_azure2021(&p).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "duration"));

        let p = tmp("az21h.csv", "x,y\n1,2\n");
        assert!(read_azure2021(&p).unwrap_err().msg.contains("header"));

        let e = read(Path::new("/nonexistent/trace.txt"), None, 1).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");

        let p = tmp("empty.txt", "\n# nothing\n");
        assert!(
            read(&p, Some(Format::Study), 1)
                .unwrap_err()
                .msg
                .contains("no invocations")
        );
        assert!(detect(&p).unwrap_err().msg.contains("empty"));
    }

    #[test]
    fn azure2019_errors_name_the_field() {
        let dir = std::env::temp_dir().join(format!("alps-az19-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("durations.csv"),
            "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n\
             o,a,f,1,1,1,1,1,2,3,4,5,6,7\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("invocations.csv"),
            "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,3,z\n",
        )
        .unwrap();
        let e = read_azure2019(&dir, 1).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "2"));
        std::fs::write(
            dir.join("invocations.csv"),
            "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,g,http,3,1\n",
        )
        .unwrap();
        assert_eq!(read_azure2019(&dir, 1).unwrap_err().field, "HashFunction");
        std::fs::write(
            dir.join("invocations.csv"),
            "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,3,1\n",
        )
        .unwrap();
        assert_eq!(read_azure2019(&dir, 1).unwrap().len(), 4);
    }
}
