//! scx_stats serving of scx_alps's [`Metrics`]: `--stats SECS` prints them
//! while scheduling, `--monitor SECS` attaches to a running instance,
//! `--help-stats` describes them.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use scx_alps::metrics::{FuncMetrics, LevelMetrics, Metrics};
use scx_stats::prelude::*;

/// The stats server's data: each client gets rates over its own interval.
pub fn server_data() -> StatsServerData<(), Metrics> {
    let open: Box<dyn StatsOpener<(), Metrics>> = Box::new(move |(req_ch, res_ch)| {
        req_ch.send(())?;
        let mut prev = res_ch.recv()?;
        let read: Box<dyn StatsReader<(), Metrics>> = Box::new(move |_args, (req_ch, res_ch)| {
            req_ch.send(())?;
            let cur = res_ch.recv()?;
            let out = cur.clone().with_rates(&prev);
            prev = cur;
            out.to_json()
        });
        Ok(read)
    });
    StatsServerData::new()
        .add_meta(Metrics::meta())
        .add_meta(LevelMetrics::meta())
        .add_meta(FuncMetrics::meta())
        .add_ops("top", StatsOps { open, close: None })
}

/// Prints the metrics of the running scx_alps every `intv`, as text or as
/// JSON lines, until `shutdown` is set.
pub fn monitor(intv: Duration, json: bool, shutdown: Arc<AtomicBool>) -> Result<()> {
    scx_utils::monitor_stats::<Metrics>(
        &[],
        intv,
        || shutdown.load(Ordering::Relaxed),
        |m| {
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&m)?)?;
            } else {
                m.format(&mut out)?;
            }
            out.flush()?;
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_describe_themselves() {
        let mut out = Vec::new();
        server_data().describe_meta(&mut out, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("nr_guard") && text.contains("learner_last_us"), "{text}");
    }
}
