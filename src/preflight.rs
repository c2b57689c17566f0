//! Checks made before touching the kernel, and the exit codes of `scx_alps`.
//!
//! Every failure here leaves the system as it was: nothing has been loaded.

use std::fmt;
use std::path::Path;

/// Exit status classes, for init systems (see README "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitClass {
    /// The scheduler ran and the kernel or BPF side ended it with an error.
    Runtime = 1,
    /// A flag or value is wrong (clap uses 2 as well).
    Usage = 2,
    /// The host cannot run it: no sched_ext, not root, another scheduler.
    Environment = 3,
    /// The BPF program failed to load or attach (verifier, missing kfunc).
    Load = 4,
}

/// An error with the exit class it maps to.
#[derive(Debug)]
pub struct ClassifiedError {
    /// Exit class.
    pub class: ExitClass,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl fmt::Display for ClassifiedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for ClassifiedError {}

/// Wraps `error` into an `anyhow::Error` tagged with `class`.
pub fn classify(class: ExitClass, error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(ClassifiedError { class, error })
}

/// The exit class of `err`: its tag if it has one, else `Runtime`.
pub fn class_of(err: &anyhow::Error) -> ExitClass {
    err.chain()
        .find_map(|e| e.downcast_ref::<ClassifiedError>().map(|c| c.class))
        .unwrap_or(ExitClass::Runtime)
}

/// State of sched_ext as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScxState {
    /// The kernel has no sched_ext (no /sys/kernel/sched_ext).
    Absent,
    /// No BPF scheduler attached.
    Disabled,
    /// A BPF scheduler is attached; its ops name if readable.
    Enabled(Option<String>),
    /// Transitional or unknown state text.
    Other(String),
}

/// Reads sched_ext's state under `sysfs` (normally `/sys`).
pub fn scx_state(sysfs: &Path) -> ScxState {
    let dir = sysfs.join("kernel/sched_ext");
    if !dir.is_dir() {
        return ScxState::Absent;
    }
    let state = std::fs::read_to_string(dir.join("state")).unwrap_or_default();
    match state.trim() {
        "disabled" => ScxState::Disabled,
        "enabled" => {
            let ops = std::fs::read_to_string(dir.join("root/ops"))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            ScxState::Enabled(ops)
        }
        other => ScxState::Other(other.to_string()),
    }
}

/// Checks that this process can load a scheduler: root, a sched_ext kernel,
/// no other scheduler attached. `sysfs` is normally `/sys`; `euid` the
/// effective user id.
///
/// Errors are tagged [`ExitClass::Environment`] and say what to do.
pub fn check_environment(sysfs: &Path, euid: u32, kernel: &str) -> anyhow::Result<()> {
    let env_err = |msg: String| Err(classify(ExitClass::Environment, anyhow::anyhow!(msg)));
    match scx_state(sysfs) {
        ScxState::Absent => {
            return env_err(format!(
                "kernel {kernel} has no sched_ext (/sys/kernel/sched_ext is missing): boot Linux 6.12 or \
                 later built with CONFIG_SCHED_CLASS_EXT=y (Arch, Fedora 42+, Ubuntu 25.04+, CachyOS ship \
                 it), or run scx_alps in the test VM: scripts/vm-run -- scx_alps"
            ));
        }
        ScxState::Enabled(ops) => {
            return env_err(format!(
                "another sched_ext scheduler ({}) is already running: stop it first \
                 (systemctl stop scx, or scxctl stop) and retry",
                ops.unwrap_or_else(|| "unknown".into())
            ));
        }
        ScxState::Other(s) => {
            return env_err(format!(
                "sched_ext is in state {s:?} (a scheduler is being loaded or unloaded): retry in a moment"
            ));
        }
        ScxState::Disabled => {}
    }
    if euid != 0 {
        return env_err(
            "scx_alps must run as root (loading a sched_ext scheduler needs CAP_SYS_ADMIN and CAP_BPF): \
             retry with sudo"
                .into(),
        );
    }
    Ok(())
}

/// The running kernel's release (`uname -r`), or "unknown".
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sysfs(state: Option<&str>, ops: Option<&str>) -> std::path::PathBuf {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("alps-sysfs-{}-{seq}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("kernel")).unwrap();
        if let Some(state) = state {
            std::fs::create_dir_all(root.join("kernel/sched_ext/root")).unwrap();
            std::fs::write(root.join("kernel/sched_ext/state"), format!("{state}\n")).unwrap();
            if let Some(ops) = ops {
                std::fs::write(root.join("kernel/sched_ext/root/ops"), format!("{ops}\n")).unwrap();
            }
        }
        root
    }

    #[test]
    fn states_are_read_from_sysfs() {
        assert_eq!(scx_state(&fake_sysfs(None, None)), ScxState::Absent);
        assert_eq!(scx_state(&fake_sysfs(Some("disabled"), None)), ScxState::Disabled);
        assert_eq!(
            scx_state(&fake_sysfs(Some("enabled"), Some("bpfland_1.1.4"))),
            ScxState::Enabled(Some("bpfland_1.1.4".into()))
        );
        assert_eq!(
            scx_state(&fake_sysfs(Some("enabling"), None)),
            ScxState::Other("enabling".into())
        );
    }

    #[test]
    fn environment_errors_say_what_to_do() {
        let e = check_environment(&fake_sysfs(None, None), 0, "6.1.0").unwrap_err();
        assert_eq!(class_of(&e), ExitClass::Environment);
        let msg = format!("{e:#}");
        assert!(
            msg.contains("6.1.0") && msg.contains("CONFIG_SCHED_CLASS_EXT") && msg.contains("vm-run"),
            "{msg}"
        );

        let e = check_environment(&fake_sysfs(Some("enabled"), Some("lavd")), 0, "x").unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("lavd") && msg.contains("stop it first"), "{msg}");

        let e = check_environment(&fake_sysfs(Some("disabled"), None), 1000, "x").unwrap_err();
        assert!(format!("{e:#}").contains("root"));
        assert_eq!(class_of(&e), ExitClass::Environment);

        assert!(check_environment(&fake_sysfs(Some("disabled"), None), 0, "x").is_ok());
    }

    #[test]
    fn untagged_errors_are_runtime_errors() {
        let e = anyhow::anyhow!("boom");
        assert_eq!(class_of(&e), ExitClass::Runtime);
        let e = classify(ExitClass::Load, anyhow::anyhow!("verifier"));
        let e = e.context("while starting");
        assert_eq!(class_of(&e), ExitClass::Load);
    }
}
