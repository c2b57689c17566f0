// SPDX-License-Identifier: GPL-2.0
//! What the loader knows beyond one scheduler instance: the learner and the
//! function registry (kept across the restarts the kernel asks for, and
//! through `--state-file` across restarts of the process), and the CPUs the
//! learner simulates.

use anyhow::{Context, Result};
use log::{info, warn};
use scx_alps::learner::{Clock, FuncPolicy, Learner, LearnerState};
use scx_alps::opts::Settings;
use scx_alps::tagging::FuncRegistry;

/// What scx_alps has learned: it outlives a scheduler instance (the kernel
/// asks for a restart on CPU hotplug) and, through `--state-file`, the
/// process.
pub struct Knowledge {
    pub learner: Learner,
    pub registry: FuncRegistry,
    /// The policy last published.
    pub table: Vec<FuncPolicy>,
    /// Functions forgotten and ids released since start (--func-ttl-s).
    pub nr_forgotten: u64,
    pub nr_ids_recycled: u64,
}

impl Knowledge {
    pub fn new(settings: &Settings) -> Self {
        Self {
            learner: Learner::new(settings.learner.clone()),
            registry: FuncRegistry::new(),
            table: Vec::new(),
            nr_forgotten: 0,
            nr_ids_recycled: 0,
        }
    }

    /// Reads `path` into the learner. A missing file is a first start; an
    /// unreadable or malformed one is reported and ignored (it is rewritten
    /// at the next learning interval): losing learned state must not keep
    /// the host from being scheduled. Functions older than `ttl_ns` stay
    /// forgotten.
    pub fn restore(&mut self, path: &std::path::Path, ttl_ns: u64) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                info!("state file {} does not exist yet: starting untrained", path.display());
                return;
            }
            Err(e) => {
                warn!(
                    "cannot read the state file {} ({e}): starting untrained",
                    path.display()
                );
                return;
            }
        };
        // Into a fresh learner and registry, kept only on success: a state
        // refused halfway must leave nothing behind.
        let mut learner = Learner::new(self.learner.config().clone());
        let mut registry = FuncRegistry::new();
        let r = serde_json::from_str::<LearnerState>(&text)
            .map_err(anyhow::Error::from)
            .and_then(|st| learner.restore(&st, |n| registry.id_of(n), Clock::now(), ttl_ns));
        if r.is_ok() {
            self.learner = learner;
            self.registry = registry;
        }
        match r {
            Ok(()) => info!(
                "state file {}: {} functions, {} invocations in the window",
                path.display(),
                self.learner.nr_functions(),
                self.learner.window().len()
            ),
            Err(e) => warn!(
                "ignoring the state file {} ({e:#}): starting untrained; it will be rewritten",
                path.display()
            ),
        }
    }

    /// Writes what the learner knows to `path` (atomically: a temporary file
    /// renamed over it).
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let st = self
            .learner
            .snapshot(|f| self.registry.name(f).map(String::from), Clock::now());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&st)?).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }
}

/// CPUs the learner's SRPT simulation runs on: the online CPUs listed in
/// /sys/devices/system/cpu/online, whatever this process's own CPU affinity
/// (a service unit's CPUAffinity= must not shrink what the learner thinks it
/// serves). Falls back, with a warning, to the CPUs this process may run on
/// when that file cannot be read or parsed. Read at start and at every
/// restart the kernel asks for (CPU hotplug).
pub fn online_cpus() -> usize {
    const ONLINE: &str = "/sys/devices/system/cpu/online";
    let online = std::fs::read_to_string(ONLINE)
        .map_err(anyhow::Error::from)
        .and_then(|list| scx_utils::Cpumask::from_cpulist(list.trim()))
        .map(|mask| mask.weight());
    match online {
        Ok(n) if n > 0 => n,
        other => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            warn!(
                "cannot read the online CPUs from {ONLINE} ({}): using this process's {n} CPUs",
                other.err().map_or("no CPU listed".into(), |e| format!("{e:#}"))
            );
            n
        }
    }
}
