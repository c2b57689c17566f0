//! `alps-bench sandbox`: scx_loader's restrictions around a command.

use anyhow::{Context, Result, bail};

use crate::cli::SandboxArgs;

pub fn run(a: SandboxArgs) -> Result<()> {
    use std::num::NonZeroUsize;
    use std::os::unix::process::CommandExt;

    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
    use nix::sys::resource::{Resource, setrlimit};

    let none: Option<&str> = None;
    unshare(CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS) (run as root)")?;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).context("making mounts private")?;
    let cg = "/sys/fs/cgroup";
    mount(
        Some(cg),
        cg,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        none,
    )
    .context("remounting /sys/fs/cgroup read-only")?;
    setrlimit(Resource::RLIMIT_RTPRIO, 0, 0).context("setrlimit(RLIMIT_RTPRIO, 0)")?;
    // nix has no wrapper for PR_SET_MDWE (Linux 6.3+).
    const PR_SET_MDWE: libc::c_int = 65;
    const PR_MDWE_REFUSE_EXEC_GAIN: libc::c_ulong = 1;
    // SAFETY: prctl with integer arguments only; it affects this process and
    // what it executes.
    if unsafe { libc::prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) } != 0 {
        bail!("prctl(PR_SET_MDWE) (Linux 6.3+): {}", std::io::Error::last_os_error());
    }
    // Check the restrictions hold before handing over.
    let page = NonZeroUsize::new(4096).expect("non-zero");
    // SAFETY: a fresh anonymous private mapping that nothing else references.
    let wx = unsafe {
        mmap_anonymous(
            None,
            page,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE | ProtFlags::PROT_EXEC,
            MapFlags::MAP_PRIVATE,
        )
    };
    if let Ok(p) = wx {
        // SAFETY: the mapping made just above, unused.
        let _ = unsafe { munmap(p, page.get()) };
        bail!("sandbox: a writable+executable mapping was still allowed");
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
