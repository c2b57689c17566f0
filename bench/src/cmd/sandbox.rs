//! `alps-bench sandbox`: scx_loader's restrictions around a command.

use anyhow::{Result, bail};

use crate::cli::SandboxArgs;

fn os_err(what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}", std::io::Error::last_os_error())
}

pub fn run(a: SandboxArgs) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::process::CommandExt;
    let c = |s: &str| CString::new(s).expect("no NUL in constant");
    // SAFETY: plain syscalls with valid, NUL-terminated arguments; they only
    // affect this process (and what it executes).
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(os_err("unshare(CLONE_NEWNS) (run as root)"));
        }
        let none = std::ptr::null();
        if libc::mount(
            none,
            c("/").as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("making mounts private"));
        }
        let cg = c("/sys/fs/cgroup");
        if libc::mount(
            cg.as_ptr(),
            cg.as_ptr(),
            none,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            std::ptr::null(),
        ) != 0
        {
            return Err(os_err("remounting /sys/fs/cgroup read-only"));
        }
        let rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_RTPRIO, &rl) != 0 {
            return Err(os_err("setrlimit(RLIMIT_RTPRIO, 0)"));
        }
        const PR_SET_MDWE: libc::c_int = 65;
        const PR_MDWE_REFUSE_EXEC_GAIN: libc::c_ulong = 1;
        if libc::prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0 {
            return Err(os_err("prctl(PR_SET_MDWE) (Linux 6.3+)"));
        }
        // Check the restrictions hold before handing over.
        let wx = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if wx != libc::MAP_FAILED {
            libc::munmap(wx, 4096);
            bail!("sandbox: a writable+executable mapping was still allowed");
        }
    }
    if std::fs::create_dir("/sys/fs/cgroup/alps-sandbox-probe").is_ok() {
        let _ = std::fs::remove_dir("/sys/fs/cgroup/alps-sandbox-probe");
        bail!("sandbox: cgroupfs is still writable");
    }
    eprintln!(
        "sandbox: cgroupfs read-only, no W+X memory, RLIMIT_RTPRIO 0, CAP_SYS_NICE dropped: {}",
        a.cmd.join(" ")
    );
    // Drop CAP_SYS_NICE from the bounding set so the exec'ed (root) program
    // cannot regain it, which makes RLIMIT_RTPRIO binding.
    let err = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--"])
        .args(&a.cmd)
        .exec();
    Err(anyhow::anyhow!(
        "cannot exec setpriv (util-linux) for {}: {err}",
        a.cmd[0]
    ))
}
