// Builds the BPF scheduler (skeleton + bindings of include/intf.h) with
// scx_cargo, and the host copy of the enforcement rules (include/policy.h)
// that unit tests and the simulator link against.
fn main() {
    let include = format!("{}/include", env!("CARGO_MANIFEST_DIR"));
    scx_cargo::BpfBuilder::new()
        .expect("scx_cargo: cannot set up the BPF build (is clang >= 18 installed? set BPF_CLANG)")
        .add_include_path(&include)
        .enable_intf("include/intf.h", "bpf_intf.rs")
        .enable_skel("bpf/main.bpf.c", "bpf")
        .build()
        .expect("scx_cargo: building bpf/main.bpf.c failed (see the clang errors above)");

    cc::Build::new()
        .file("src/policy_host.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("alps_policy_host");
    println!("cargo:rerun-if-changed=src/policy_host.c");
    println!("cargo:rerun-if-changed=include/policy.h");
    println!("cargo:rerun-if-changed=include/intf.h");
}
