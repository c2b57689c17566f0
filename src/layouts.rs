//! Cgroup layouts of real platforms (`--cgroup-layout`): the `--func-pattern`
//! that names a task's function from where the platform puts its containers.
//!
//! Only faasd (and this project's own `faas/<function>` layout) puts the
//! function's name into the cgroup path. Docker, containerd under Kubernetes
//! and Firecracker's jailer put an instance there (a container, a pod, a
//! microVM) and OpenLambda a slot of its sandbox pool: with those layouts
//! scx_alps learns per instance, which matches platforms that run one
//! function per long-lived instance and learns nothing across instances. A
//! platform that can choose the parent cgroup (Docker's `--cgroup-parent
//! faas/<function>`, the jailer's `--parent-cgroup faas/<function>`) gets
//! per-function learning with the default layout. The path shapes and their
//! sources are in docs/operating.md, "Tagging on real platforms".

/// A platform's cgroup layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CgroupLayout {
    /// `faas/<function>/...`: this project's layout (the default).
    Faas,
    /// faasd (OpenFaaS on containerd): `openfaas-fn/<function>`.
    Faasd,
    /// Docker, cgroupfs driver: `docker/<container id>`; one container.
    Docker,
    /// Docker, systemd driver: `.../docker-<container id>.scope`; one container.
    DockerSystemd,
    /// Kubernetes with the cgroupfs driver:
    /// `kubepods/[burstable/|besteffort/]pod<uid>/<container>`; one pod.
    Kubepods,
    /// Kubernetes with the systemd driver: `kubepods.slice/...
    /// kubepods-[burstable-|besteffort-]pod<uid, "_" for "-">.slice/...`; one pod.
    KubepodsSystemd,
    /// OpenLambda's sandbox pool: `<worker dir>-sandboxes/cg-<N>`; one slot.
    Openlambda,
    /// Firecracker's jailer (cgroup v2, default parent: the binary's name,
    /// `firecracker` or `firecracker-v1.7.0-x86_64`): `<parent>/<vm id>`; one microVM.
    Firecracker,
}

impl CgroupLayout {
    /// The layout's `--func-pattern` (Rust regex; capture group 1 is the
    /// function's name or the instance's id).
    pub const fn pattern(self) -> &'static str {
        match self {
            CgroupLayout::Faas => r"^faas/([^/]+)",
            CgroupLayout::Faasd => r"(?:^|/)openfaas-fn/([^/]+)",
            CgroupLayout::Docker => r"(?:^|/)docker/([0-9a-f]{64})(?:/|$)",
            CgroupLayout::DockerSystemd => r"(?:^|/)docker-([0-9a-f]{64})\.scope(?:/|$)",
            CgroupLayout::Kubepods => r"(?:^|/)kubepods/(?:burstable/|besteffort/)?pod([0-9a-f-]+)(?:/|$)",
            CgroupLayout::KubepodsSystemd => {
                r"(?:^|/)kubepods(?:-burstable|-besteffort)?-pod([0-9a-f_]+)\.slice(?:/|$)"
            }
            CgroupLayout::Openlambda => r"(?:^|/)([^/]+-sandboxes/cg-[0-9]+)(?:/|$)",
            CgroupLayout::Firecracker => r"(?:^|/)[^/]*firecracker[^/]*/([A-Za-z0-9-]{1,64})(?:/|$)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tagging::FuncPattern;
    use clap::ValueEnum;

    const CID: &str = "4f1c0b6a9e2d4c3b8a7f6e5d4c3b2a1908f7e6d5c4b3a2918a7b6c5d4e3f2a1b";
    const UID: &str = "1d2b3c4e-5f60-4a7b-8c9d-0e1f2a3b4c5d";

    /// (layout, cgroup path, expected identity or None).
    fn cases() -> Vec<(CgroupLayout, String, Option<String>)> {
        let uid_ = UID.replace('-', "_");
        use CgroupLayout::*;
        vec![
            (Faas, "faas/thumbnail".into(), Some("thumbnail".into())),
            (Faas, "faas/thumbnail/inst-3".into(), Some("thumbnail".into())),
            (Faas, "system.slice/faas.service".into(), None),
            (Faasd, "openfaas-fn/figlet".into(), Some("figlet".into())),
            (Faasd, "openfaas/gateway".into(), None),
            (Docker, format!("docker/{CID}"), Some(CID.into())),
            (Docker, "docker".into(), None),
            (Docker, format!("system.slice/docker-{CID}.scope"), None),
            (
                DockerSystemd,
                format!("system.slice/docker-{CID}.scope"),
                Some(CID.into()),
            ),
            (
                DockerSystemd,
                format!("user.slice/user-1000.slice/user@1000.service/user.slice/docker-{CID}.scope"),
                Some(CID.into()),
            ),
            (DockerSystemd, "system.slice/docker.service".into(), None),
            (Kubepods, format!("kubepods/burstable/pod{UID}/{CID}"), Some(UID.into())),
            (Kubepods, format!("kubepods/pod{UID}/{CID}"), Some(UID.into())),
            (Kubepods, format!("kubepods/besteffort/pod{UID}"), Some(UID.into())),
            (Kubepods, "kubepods/burstable".into(), None),
            (
                KubepodsSystemd,
                format!(
                    "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{CID}.scope"
                ),
                Some(uid_.clone()),
            ),
            (
                KubepodsSystemd,
                format!("kubepods.slice/kubepods-pod{uid_}.slice/cri-containerd-{CID}.scope"),
                Some(uid_.clone()),
            ),
            (
                KubepodsSystemd,
                format!("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice"),
                Some(uid_.clone()),
            ),
            (KubepodsSystemd, "kubepods.slice/kubepods-burstable.slice".into(), None),
            (
                Openlambda,
                "default-ol-sandboxes/cg-1".into(),
                Some("default-ol-sandboxes/cg-1".into()),
            ),
            (
                Openlambda,
                "myol-sandboxes/cg-42/sub".into(),
                Some("myol-sandboxes/cg-42".into()),
            ),
            (Openlambda, "default-ol-sandboxes".into(), None),
            (Firecracker, format!("firecracker/{UID}"), Some(UID.into())),
            (
                Firecracker,
                format!("firecracker-v1.7.0-x86_64/{UID}"),
                Some(UID.into()),
            ),
            (Firecracker, "firecracker".into(), None),
            (Firecracker, format!("system.slice/{UID}"), None),
        ]
    }

    #[test]
    fn every_layout_names_its_real_path_shapes() {
        for (layout, path, want) in cases() {
            let p = FuncPattern::new(layout.pattern()).unwrap();
            assert_eq!(p.function_of(&path).map(String::from), want, "{layout:?} on {path}");
        }
        // Every layout has a case that matches and one that does not.
        for layout in CgroupLayout::value_variants() {
            let mine: Vec<_> = cases().into_iter().filter(|c| c.0 == *layout).collect();
            assert!(
                mine.iter().any(|c| c.2.is_some()) && mine.iter().any(|c| c.2.is_none()),
                "{layout:?}"
            );
        }
    }
}
