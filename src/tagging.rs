//! Function tagging: which function a task belongs to.
//!
//! FaaS platforms run each function's instances in a cgroup of its own. With
//! `--func-id cgroup` (the default) the loader walks the cgroup v2 tree, applies
//! `--func-pattern` to each cgroup's path (relative to the cgroupfs root) and
//! tells the BPF program `cgroup id -> func_id`. With `--func-id comm` the
//! pattern is applied to the task's command name instead, as tasks exit.
//! The function name is the pattern's first capture group, or the whole match.
//!
//! The tagger watches the directories it walks (inotify), so a cgroup a
//! platform creates at a cold start is tagged within one loop turn, not at
//! the next periodic scan: otherwise a new function's first invocations
//! run as host work.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use log::warn;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use regex::Regex;

use crate::bpf_intf;

/// Largest function id plus one (`func_policy` map size).
pub const MAX_FUNCS: u32 = bpf_intf::alps_consts_ALPS_MAX_FUNCS;

/// Deepest cgroup level the walk descends to below the root.
pub const MAX_CGROUP_DEPTH: usize = 16;

/// Most directories the tagger watches for new cgroups; past it, cgroups
/// below unwatched directories are found by the periodic scan only.
pub const MAX_CGROUP_WATCHES: usize = 4096;

/// Default `--func-pattern` for `--func-id cgroup`: a function per cgroup
/// directly below `/sys/fs/cgroup/faas`; deeper cgroups (per-instance) belong
/// to the function above them.
pub const DEFAULT_CGROUP_PATTERN: &str = crate::layouts::CgroupLayout::Faas.pattern();

/// Default `--func-pattern` for `--func-id comm`: the whole command name.
pub const DEFAULT_COMM_PATTERN: &str = r"^(.+)$";

/// Function names and their ids (1..MAX_FUNCS); id 0 means "no function".
/// Ids of functions that have gone are released, kept in quarantine for a
/// while (records and tasks may still carry them), then given to new
/// functions, lowest first.
#[derive(Clone, Debug, Default)]
pub struct FuncRegistry {
    /// By id - 1; None for a released id.
    names: Vec<Option<String>>,
    ids: HashMap<String, u32>,
    quarantine: BTreeSet<u32>,
    free: BTreeSet<u32>,
}

impl FuncRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `name`, assigning the next free one if it is new.
    ///
    /// Errors when all `MAX_FUNCS - 1` ids are taken.
    pub fn id_of(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.ids.get(name) {
            return Ok(id);
        }
        let id = match self.free.pop_first() {
            Some(id) => {
                self.names[id as usize - 1] = Some(name.to_string());
                id
            }
            None => {
                let id = self.names.len() as u32 + 1;
                if id >= MAX_FUNCS {
                    bail!(
                        "more than {} functions at once: raise ALPS_MAX_FUNCS, narrow --func-pattern or shorten --func-ttl-s",
                        MAX_FUNCS - 1
                    );
                }
                self.names.push(Some(name.to_string()));
                id
            }
        };
        self.ids.insert(name.to_string(), id);
        Ok(id)
    }

    /// The name of function `id`, if registered.
    pub fn name(&self, id: u32) -> Option<&str> {
        id.checked_sub(1)
            .and_then(|i| self.names.get(i as usize))
            .and_then(|s| s.as_deref())
    }

    /// Releases every registered id that `in_use` rejects into quarantine
    /// (no name, not given out yet); returns them, ascending.
    pub fn release_unused(&mut self, mut in_use: impl FnMut(u32) -> bool) -> Vec<u32> {
        let gone: Vec<u32> = (1..=self.names.len() as u32)
            .filter(|&id| self.name(id).is_some() && !in_use(id))
            .collect();
        for &id in &gone {
            if let Some(n) = self.names[id as usize - 1].take() {
                self.ids.remove(&n);
            }
            self.quarantine.insert(id);
        }
        gone
    }

    /// Makes the quarantined ids available to new functions; returns them,
    /// ascending. The caller clears what the BPF program holds under them
    /// first: a task that still carried one until now may have written it.
    pub fn reuse_quarantined(&mut self) -> Vec<u32> {
        let ids: Vec<u32> = std::mem::take(&mut self.quarantine).into_iter().collect();
        self.free.extend(&ids);
        ids
    }

    /// Number of registered functions.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no function is registered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A compiled `--func-pattern`.
#[derive(Clone, Debug)]
pub struct FuncPattern {
    re: Regex,
}

impl FuncPattern {
    /// Compiles `pattern` (Rust regex syntax).
    ///
    /// Errors with the regex parser's message when it does not compile.
    pub fn new(pattern: &str) -> Result<Self> {
        if pattern.is_empty() {
            bail!("--func-pattern must not be empty");
        }
        let re = Regex::new(pattern).with_context(|| format!("invalid --func-pattern {pattern:?}"))?;
        Ok(Self { re })
    }

    /// The function name `subject` (a cgroup path or a comm) belongs to: the
    /// first capture group if the pattern has one and it matched, else the
    /// whole match; None when the pattern does not match or yields "".
    pub fn function_of<'a>(&self, subject: &'a str) -> Option<&'a str> {
        let caps = self.re.captures(subject)?;
        let m = caps.get(1).or_else(|| caps.get(0))?;
        (!m.as_str().is_empty()).then_some(m.as_str())
    }
}

/// Changes to push into the `cgrp_func` map after a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupDelta {
    /// New or changed (cgroup id, func_id) pairs.
    pub added: Vec<(u64, u32)>,
    /// Cgroup ids that disappeared.
    pub removed: Vec<u64>,
}

impl CgroupDelta {
    /// True when the scan found nothing to change.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Walks a cgroup v2 tree and maps matching cgroups to functions.
#[derive(Debug)]
pub struct CgroupTagger {
    root: PathBuf,
    pattern: FuncPattern,
    known: HashMap<u64, u32>,
    inotify: Option<Inotify>,
    watched: HashSet<PathBuf>,
    /// The registry was full at the last scan (warned once until it is not).
    full: bool,
}

impl CgroupTagger {
    /// A tagger for the cgroupfs mounted at `root` (normally /sys/fs/cgroup).
    ///
    /// Errors when `root` is not a directory.
    pub fn new(root: &Path, pattern: FuncPattern) -> Result<Self> {
        if !root.is_dir() {
            bail!(
                "cgroup root {} is not a directory: mount cgroup v2 there or pass --cgroup-root",
                root.display()
            );
        }
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| warn!("no inotify ({e}): new cgroups are found by the periodic scan only"))
            .ok();
        Ok(Self {
            root: root.to_path_buf(),
            pattern,
            known: HashMap::new(),
            inotify,
            watched: HashSet::new(),
            full: false,
        })
    }

    /// The inotify descriptor that becomes readable when a watched directory
    /// gains or loses a cgroup (None without inotify).
    pub fn watch_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|i| i.as_fd())
    }

    /// Drains pending inotify events; true when a cgroup was created, moved
    /// or removed under a watched directory since the last call (time for a
    /// scan). Never blocks.
    pub fn changed(&mut self) -> bool {
        let Some(ino) = self.inotify.as_ref() else { return false };
        let mut any = false;
        loop {
            match ino.read_events() {
                Ok(evs) if !evs.is_empty() => any = true,
                Ok(_) | Err(Errno::EAGAIN) => break,
                Err(e) => {
                    warn!("inotify read failed ({e}): falling back to periodic scans");
                    self.inotify = None;
                    break;
                }
            }
        }
        any
    }

    /// Watches `dir` for cgroups appearing and disappearing, once.
    fn watch(&mut self, dir: &Path) {
        let Some(ino) = self.inotify.as_ref() else { return };
        if self.watched.len() >= MAX_CGROUP_WATCHES || self.watched.contains(dir) {
            return;
        }
        let mask = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_ONLYDIR;
        // A directory that vanished meanwhile needs no watch.
        if ino.add_watch(dir, mask).is_ok() {
            self.watched.insert(dir.to_path_buf());
        }
    }

    /// The function ids some cgroup is tagged with.
    pub fn tagged_ids(&self) -> HashSet<u32> {
        self.known.values().copied().collect()
    }

    /// The function id of cgroup `cgid`, if it matched the pattern.
    pub fn func_of(&self, cgid: u64) -> Option<u32> {
        self.known.get(&cgid).copied()
    }

    /// Walks the tree and returns what changed since the last scan. New
    /// function names are registered in `reg`. Cgroups that vanish while
    /// being walked are skipped; so are, with one warning until there is
    /// room again, the cgroups of new functions while every id is taken:
    /// they run as host work, and the rest of the tree is still tagged.
    pub fn scan(&mut self, reg: &mut FuncRegistry) -> Result<CgroupDelta> {
        let mut seen: HashSet<u64> = HashSet::new();
        let mut delta = CgroupDelta::default();
        let mut full: Option<anyhow::Error> = None;
        let mut stack = vec![(self.root.clone(), 0usize)];
        // Watches of removed directories end by themselves (IN_IGNORED);
        // forget them so a re-created directory is watched again.
        self.watched.retain(|d| d.is_dir());
        while let Some((dir, depth)) = stack.pop() {
            self.watch(&dir);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let Ok(ft) = entry.file_type() else { continue };
                if !ft.is_dir() {
                    continue;
                }
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                // cgroup v2: a cgroup's id is its directory's inode number.
                let cgid = meta.ino();
                let rel = path.strip_prefix(&self.root).unwrap_or(&path);
                if let Some(rel) = rel.to_str()
                    && let Some(name) = self.pattern.function_of(rel)
                {
                    match reg.id_of(name) {
                        Ok(id) => {
                            seen.insert(cgid);
                            if self.known.insert(cgid, id) != Some(id) {
                                delta.added.push((cgid, id));
                            }
                        }
                        Err(e) => {
                            full.get_or_insert(e);
                        }
                    }
                }
                if depth + 1 < MAX_CGROUP_DEPTH {
                    stack.push((path, depth + 1));
                }
            }
        }
        self.known.retain(|cgid, _| {
            let keep = seen.contains(cgid);
            if !keep {
                delta.removed.push(*cgid);
            }
            keep
        });
        match &full {
            Some(e) if !self.full => warn!("{e:#}: new functions' cgroups run as host work until ids are free"),
            _ => {}
        }
        self.full = full.is_some();
        delta.added.sort_unstable();
        delta.removed.sort_unstable();
        Ok(delta)
    }
}

/// Packs a comm into the 16-byte, NUL-padded key of the `comm_func` map.
/// Longer names are truncated to 15 bytes, as the kernel does.
pub fn comm_key(comm: &str) -> [u8; 16] {
    let mut key = [0u8; 16];
    let b = comm.as_bytes();
    let n = b.len().min(15);
    key[..n].copy_from_slice(&b[..n]);
    key
}

/// The comm in a 16-byte, NUL-padded kernel buffer, lossily decoded.
pub fn comm_str(raw: &[u8]) -> String {
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_assigns_dense_ids_from_one() {
        let mut r = FuncRegistry::new();
        assert!(r.is_empty());
        assert_eq!(r.id_of("fib").unwrap(), 1);
        assert_eq!(r.id_of("io").unwrap(), 2);
        assert_eq!(r.id_of("fib").unwrap(), 1);
        assert_eq!(r.name(2), Some("io"));
        assert_eq!(r.name(0), None);
        assert_eq!(r.name(3), None);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn registry_recycles_released_ids_lowest_first() {
        let mut r = FuncRegistry::new();
        for n in ["a", "b", "c", "d"] {
            r.id_of(n).unwrap();
        }
        assert_eq!(r.release_unused(|id| id == 1 || id == 3), vec![2, 4]);
        assert_eq!((r.len(), r.name(2), r.name(3)), (2, None, Some("c")));
        // Quarantined ids are not given out.
        assert_eq!(r.id_of("x").unwrap(), 5);
        assert_eq!(r.reuse_quarantined(), vec![2, 4]);
        assert!(r.reuse_quarantined().is_empty());
        // Released ids are not released twice; a new name takes the lowest.
        assert!(r.release_unused(|_| true).is_empty());
        assert!(r.release_unused(|id| id != 1 && id != 5) == vec![1, 5]);
        r.reuse_quarantined();
        assert_eq!(r.id_of("e").unwrap(), 1);
        assert_eq!(r.id_of("b").unwrap(), 2, "a name that comes back is a new function");
        assert_eq!(r.id_of("f").unwrap(), 4);
        assert_eq!(r.id_of("g").unwrap(), 5);
        assert_eq!(r.id_of("h").unwrap(), 6);
        assert_eq!(r.id_of("c").unwrap(), 3);
    }

    #[test]
    fn registry_refuses_past_the_map_size() {
        let mut r = FuncRegistry::new();
        for i in 1..MAX_FUNCS {
            assert_eq!(r.id_of(&format!("f{i}")).unwrap(), i);
        }
        let err = r.id_of("one-too-many").unwrap_err().to_string();
        assert!(err.contains("functions at once"), "{err}");
    }

    #[test]
    fn pattern_uses_first_group_or_whole_match() {
        let p = FuncPattern::new(DEFAULT_CGROUP_PATTERN).unwrap();
        assert_eq!(p.function_of("faas/fib"), Some("fib"));
        assert_eq!(p.function_of("faas/fib/instance-7"), Some("fib"));
        assert_eq!(p.function_of("system.slice/cron.service"), None);
        assert_eq!(p.function_of("other/faas/fib"), None);
        let whole = FuncPattern::new(r"fn-\d+").unwrap();
        assert_eq!(whole.function_of("pool/fn-42/x"), Some("fn-42"));
        let c = FuncPattern::new(DEFAULT_COMM_PATTERN).unwrap();
        assert_eq!(c.function_of("alps-fn-fib"), Some("alps-fn-fib"));
        assert_eq!(c.function_of(""), None);
    }

    #[test]
    fn bad_patterns_are_rejected_with_the_reason() {
        let err = format!("{:#}", FuncPattern::new("faas/(").unwrap_err());
        assert!(
            err.contains("invalid --func-pattern") && err.contains("unclosed"),
            "{err}"
        );
        assert!(FuncPattern::new("").is_err());
    }

    #[test]
    fn scan_maps_matching_cgroups_and_reports_changes() {
        let root = std::env::temp_dir().join(format!("alps-tag-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["faas/fib/inst1", "faas/io", "system.slice/x"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let mut reg = FuncRegistry::new();
        let mut tagger = CgroupTagger::new(&root, FuncPattern::new(DEFAULT_CGROUP_PATTERN).unwrap()).unwrap();
        let d1 = tagger.scan(&mut reg).unwrap();
        // faas/fib, faas/fib/inst1 and faas/io match; faas itself does not.
        assert_eq!(d1.added.len(), 3);
        assert!(d1.removed.is_empty());
        let ino = |p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
        let fib = reg.id_of("fib").unwrap();
        assert_eq!(tagger.func_of(ino("faas/fib")), Some(fib));
        assert_eq!(tagger.func_of(ino("faas/fib/inst1")), Some(fib));
        assert_eq!(tagger.func_of(ino("system.slice/x")), None);
        // Nothing changed: empty delta, and no inotify event.
        assert!(!tagger.changed());
        assert!(tagger.scan(&mut reg).unwrap().is_empty());
        // A cold start creates a cgroup: the watch reports it at once.
        std::fs::create_dir_all(root.join("faas/fib/inst2")).unwrap();
        assert!(tagger.changed(), "a new cgroup under a walked directory is an event");
        assert!(!tagger.changed(), "events are drained");
        assert_eq!(tagger.scan(&mut reg).unwrap().added, vec![(ino("faas/fib/inst2"), fib)]);
        // A cgroup goes away.
        let gone = ino("faas/io");
        std::fs::remove_dir(root.join("faas/io")).unwrap();
        let d3 = tagger.scan(&mut reg).unwrap();
        assert_eq!(d3.removed, vec![gone]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_full_registry_skips_new_functions_and_keeps_tagging_the_rest() {
        let root = std::env::temp_dir().join(format!("alps-tag-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["faas/f1", "faas/old", "faas/new"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let mut reg = FuncRegistry::new();
        for i in 1..MAX_FUNCS {
            reg.id_of(&format!("f{i}")).unwrap();
        }
        let mut tagger = CgroupTagger::new(&root, FuncPattern::new(DEFAULT_CGROUP_PATTERN).unwrap()).unwrap();
        let ino = |p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
        let d = tagger.scan(&mut reg).unwrap();
        assert_eq!(d.added, vec![(ino("faas/f1"), 1)]);
        assert_eq!(tagger.func_of(ino("faas/new")), None);
        // Removals still go through, and a released id tags the newcomer.
        let gone = ino("faas/f1");
        std::fs::remove_dir(root.join("faas/f1")).unwrap();
        assert_eq!(tagger.scan(&mut reg).unwrap().removed, vec![gone]);
        assert_eq!(reg.release_unused(|id| id > 2), vec![1, 2]);
        assert!(tagger.scan(&mut reg).unwrap().is_empty(), "not while quarantined");
        reg.reuse_quarantined();
        let d = tagger.scan(&mut reg).unwrap();
        assert_eq!(d.added.len(), 2, "{d:?}");
        assert!(tagger.func_of(ino("faas/new")).is_some() && tagger.func_of(ino("faas/old")).is_some());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_root_is_an_actionable_error() {
        let err = CgroupTagger::new(Path::new("/nonexistent/cgroup"), FuncPattern::new("x").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--cgroup-root"), "{err}");
    }

    #[test]
    fn comm_keys_round_trip_and_truncate() {
        assert_eq!(&comm_key("fib")[..4], b"fib\0");
        assert_eq!(comm_str(&comm_key("fib")), "fib");
        let long = comm_key("a-very-long-function-name");
        assert_eq!(long[15], 0);
        assert_eq!(comm_str(&long), "a-very-long-fun");
    }
}
