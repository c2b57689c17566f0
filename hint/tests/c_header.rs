//! include/alps_hint.h builds as documented and, optimised, still defines
//! the two symbols scx_alps attaches its uprobes to (gcc and nm come with
//! scripts/setup's build tools).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_c_header_defines_both_probe_symbols_when_optimised() {
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include");
    let dir = std::env::temp_dir().join(format!("alps-hint-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("worker.c");
    std::fs::write(
        &src,
        "#define ALPS_HINT_IMPLEMENTATION\n#include \"alps_hint.h\"\n\
         int main(void) { alps_invocation_begin(\"resize\"); alps_invocation_end(); return 0; }\n",
    )
    .unwrap();
    let bin = dir.join("worker");
    let cc = Command::new("gcc")
        .args(["-O3", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .output()
        .expect("gcc runs");
    assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
    let nm = Command::new("nm").arg(&bin).output().expect("nm runs");
    let syms = String::from_utf8_lossy(&nm.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    for sym in [alps_hint::BEGIN_SYMBOL, alps_hint::END_SYMBOL] {
        assert!(
            syms.lines().any(|l| l.ends_with(&format!(" T {sym}"))),
            "{sym} is not a global text symbol of the built worker:\n{syms}"
        );
    }
}
