//! Verifier complexity of the loaded scheduler: the number of instructions
//! the kernel's verifier processed for each struct_ops callback
//! (`bpf_prog_info.verified_insns`, Linux 5.16+). Logged once at attach, so
//! every run, and the VM tests on each kernel, record how close each
//! callback is to the verifier's limits.

use libbpf_rs::query::ProgInfoIter;

/// Prefix of this scheduler's BPF program names (`alps_enqueue`, ...).
pub const PROG_PREFIX: &str = "alps_";

/// `name=count` pairs, space-separated, for the programs of `progs`
/// (name, program type is struct_ops, verified instructions) whose name
/// starts with [`PROG_PREFIX`], in the order given; the prefix is dropped.
/// Empty when none matches.
pub fn format_counts<'a>(progs: impl IntoIterator<Item = (&'a str, bool, u32)>) -> String {
    progs
        .into_iter()
        .filter(|(name, struct_ops, _)| *struct_ops && name.starts_with(PROG_PREFIX))
        .map(|(name, _, n)| format!("{}={n}", &name[PROG_PREFIX.len()..]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verified instructions of the struct_ops programs named `alps_*` loaded
/// in the kernel now, as [`format_counts`] writes them (empty when the
/// kernel lists none, e.g. without CAP_SYS_ADMIN).
pub fn loaded_counts() -> String {
    let infos: Vec<_> = ProgInfoIter::default()
        .map(|p| {
            let name = p.name.to_string_lossy().into_owned();
            (name, p.ty == libbpf_rs::ProgramType::StructOps, p.verified_insns)
        })
        .collect();
    format_counts(infos.iter().map(|(n, s, v)| (n.as_str(), *s, *v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_schedulers_struct_ops_programs_count() {
        let progs = [
            ("alps_enqueue", true, 1200),
            ("alps_task_exit", false, 90),
            ("bpfland_enqueue", true, 800),
            ("alps_dispatch", true, 3400),
        ];
        assert_eq!(format_counts(progs), "enqueue=1200 dispatch=3400");
        assert_eq!(format_counts([]), "");
    }
}
