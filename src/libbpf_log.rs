//! libbpf's messages, routed through `log`, with the verifier's log kept
//! aside so that a load failure can quote its reason.

use std::sync::Mutex;

use libbpf_rs::PrintLevel;

static LAST_VERIFIER_LOG: Mutex<Option<String>> = Mutex::new(None);

fn print_cb(level: PrintLevel, msg: String) {
    if msg.contains("-- BEGIN PROG LOAD LOG --") {
        if let Ok(mut slot) = LAST_VERIFIER_LOG.lock() {
            *slot = Some(msg.clone());
        }
        log::debug!("{}", msg.trim_end());
        return;
    }
    // libbpf-rs skeletons have no slot for a struct_ops link; libbpf says
    // so on every attach although nothing is wrong.
    if msg.contains("skeleton link is uninitialized") {
        log::debug!("{}", msg.trim_end());
        return;
    }
    match level {
        PrintLevel::Warn => log::warn!("{}", msg.trim_end()),
        PrintLevel::Info => log::info!("{}", msg.trim_end()),
        PrintLevel::Debug => log::debug!("{}", msg.trim_end()),
    }
}

/// Routes libbpf's output through `log` (warnings always, the rest with
/// `verbose`).
pub fn install(verbose: bool) {
    let level = if verbose { PrintLevel::Debug } else { PrintLevel::Warn };
    libbpf_rs::set_print(Some((level, print_cb)));
}

/// The last `lines` lines of the last verifier log libbpf printed, without
/// the statistics line: where the verifier states why it refused a program.
pub fn verifier_reason(lines: usize) -> Option<String> {
    let log = LAST_VERIFIER_LOG.lock().ok()?.clone()?;
    let body: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("PROG LOAD LOG") && !l.starts_with("processed ") && !l.trim().is_empty())
        .collect();
    let tail = &body[body.len().saturating_sub(lines)..];
    Some(tail.join("\n"))
}
