//! Invocation boundaries from function runtimes' hints: uprobes on the
//! symbols of include/alps_hint.h and the alps-hint crate in each program or
//! shared library named by `--hint-binary`.
//!
//! Uprobes rather than a syscall or shared memory: the runtime needs no
//! privilege, no dependency and no scx_alps (an unprobed pair is two empty
//! calls), and the BPF side sees each hint on the calling thread itself, in
//! that thread's context.

use std::path::PathBuf;

use anyhow::{Context, Result};
use libbpf_rs::{Link, ProgramMut, UprobeOpts};

/// Attaches `begin` and `end` to the hint symbols of every binary in
/// `binaries` (all processes running it, present and future).
///
/// Errors, naming the binary, when one cannot be probed: it does not exist,
/// it lacks the symbols (not built with the hint header or crate), or the
/// kernel refuses uprobes.
pub fn attach(begin: &ProgramMut<'_>, end: &ProgramMut<'_>, binaries: &[PathBuf]) -> Result<Vec<Link>> {
    let mut links = Vec::with_capacity(2 * binaries.len());
    for bin in binaries {
        for (prog, sym) in [(begin, alps_hint::BEGIN_SYMBOL), (end, alps_hint::END_SYMBOL)] {
            let opts = UprobeOpts {
                func_name: Some(sym.to_string()),
                ..Default::default()
            };
            let link = prog.attach_uprobe_with_opts(-1, bin, 0, opts).with_context(|| {
                format!(
                    "--hint-binary {}: cannot attach a uprobe to {sym} (is it built with include/alps_hint.h or the alps-hint crate, and not stripped of that symbol?)",
                    bin.display()
                )
            })?;
            links.push(link);
        }
        log::info!("invocation hints: uprobes on {}", bin.display());
    }
    Ok(links)
}
