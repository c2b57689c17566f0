//! Host CPU utilisation from /proc/stat, for ALPS's overload rule.

/// Busy and total jiffies of all CPUs, from the first line of /proc/stat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Jiffies spent not idle (everything but idle and iowait).
    pub busy: u64,
    /// All jiffies.
    pub total: u64,
}

/// Parses the aggregate `cpu` line of /proc/stat
/// (`cpu user nice system idle iowait irq softirq steal ...`).
///
/// Returns None when the text has no such line or a field is not a number.
pub fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let vals: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    if vals.len() < 4 {
        return None;
    }
    // guest and guest_nice (fields 9, 10) are already counted in user/nice.
    let total: u64 = vals.iter().take(8).sum();
    let idle = vals[3] + vals.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// Utilisation in percent between two samples; 0 when no time passed.
pub fn utilisation_pct(prev: CpuTimes, now: CpuTimes) -> f64 {
    let total = now.total.saturating_sub(prev.total);
    if total == 0 {
        return 0.0;
    }
    let busy = now.busy.saturating_sub(prev.busy).min(total);
    100.0 * busy as f64 / total as f64
}

/// Samples /proc/stat and reports utilisation since the previous sample.
#[derive(Debug, Default)]
pub struct CpuUtil {
    prev: Option<CpuTimes>,
}

impl CpuUtil {
    /// A sampler; the first [`CpuUtil::sample`] measures since boot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Utilisation in percent since the previous call (0 if /proc/stat is
    /// unreadable).
    pub fn sample(&mut self) -> f64 {
        let Some(now) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_proc_stat(&t))
        else {
            return 0.0;
        };
        let prev = self.prev.replace(now).unwrap_or_default();
        utilisation_pct(prev, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_aggregate_line() {
        let t = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\nintr 5\n";
        assert_eq!(parse_proc_stat(t), Some(CpuTimes { busy: 150, total: 1000 }));
        assert_eq!(parse_proc_stat("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 x 3 4\n"), None);
    }

    #[test]
    fn utilisation_between_samples() {
        let a = CpuTimes { busy: 100, total: 1000 };
        let b = CpuTimes { busy: 400, total: 1400 };
        assert_eq!(utilisation_pct(a, b), 75.0);
        assert_eq!(utilisation_pct(b, b), 0.0);
    }

    #[test]
    fn sampler_reads_the_host() {
        // The host's /proc/stat parses (the sampler's fallback of 0 would
        // hide a parser that no longer understands it) ...
        let text = std::fs::read_to_string("/proc/stat").unwrap();
        let t = parse_proc_stat(&text).expect("this host's /proc/stat parses");
        assert!(t.total > 0 && t.busy <= t.total, "{t:?}");
        // ... and a busy thread shows as utilisation between two samples.
        let mut u = CpuUtil::new();
        u.sample();
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < std::time::Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let pct = u.sample();
        assert!(pct > 0.0 && pct <= 100.0, "{pct}");
    }
}
