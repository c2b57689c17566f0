// SPDX-License-Identifier: GPL-2.0
//! scx_alps: loads the BPF scheduler, feeds the learner with finished
//! invocations and publishes the learned policy into the BPF maps.

mod bpf_skel;
mod hints;
mod knowledge;
mod libbpf_log;
mod stats;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::{MapCore, MapFlags, OpenObject, ProgramInput};
use log::{debug, info, warn};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use scx_stats::prelude::*;
use scx_utils::{UserExitInfo, build_id, scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use bpf_skel::*;
use knowledge::{Knowledge, online_cpus};
use scx_alps::bpf_intf::{self, alps_func_policy, alps_inv_rec, alps_stats};
use scx_alps::learner::{Clock, FuncPolicy, Invocation};
use scx_alps::metrics::{FuncMetrics, LevelMetrics, Metrics};
use scx_alps::opts::{FuncIdSource, Opts, Settings};
use scx_alps::policy;
use scx_alps::preflight::{self, ExitClass, classify};
use scx_alps::sysstat::CpuUtil;
use scx_alps::tagging::{CgroupTagger, comm_key, comm_str};

const SCHEDULER_NAME: &str = "scx_alps";

/// Restarts (kernel restart requests, e.g. CPU hotplug) allowed per minute
/// before scx_alps gives up with an error.
const MAX_RESTARTS_PER_MIN: usize = 10;

/// Wrapper making the bindgen record struct usable with `plain`.
#[derive(Default)]
#[repr(transparent)]
struct InvRec(alps_inv_rec);
// SAFETY: alps_inv_rec is a C struct of integers and a byte array: every bit
// pattern is a valid value.
unsafe impl plain::Plain for InvRec {}

struct Scheduler<'a> {
    // Dropped first: the ring buffer must go before the skeleton's maps.
    events: libbpf_rs::RingBuffer<'static>,
    inbox: Rc<RefCell<Vec<alps_inv_rec>>>,
    struct_ops: Option<libbpf_rs::Link>,
    skel: BpfSkel<'a>,
    stats_server: Option<StatsServer<(), Metrics>>,
    opts: &'a Opts,
    settings: &'a Settings,
    known: &'a mut Knowledge,
    tagger: Option<CgroupTagger>,
    /// Comm tags written into comm_func: key -> function id.
    comms: HashMap<[u8; 16], u32>,
    /// Hinted function names written into hint_func: key -> function id.
    hints: HashMap<[u8; 16], u32>,
    /// Uprobes on the runtimes' hint symbols (--hint-binary).
    _hint_links: Vec<libbpf_rs::Link>,
    cpu_util: CpuUtil,
    attached_at: Instant,
    records: u64,
    /// Invocation records received per source (enum alps_inv_source).
    records_by_source: [u64; bpf_intf::alps_inv_source_ALPS_NR_SOURCES as usize],
    /// Progress records received (invocations still running).
    progress: u64,
    push_last_ns: u64,
}

impl<'a> Scheduler<'a> {
    fn init(
        opts: &'a Opts,
        settings: &'a Settings,
        open_object: &'a mut MaybeUninit<OpenObject>,
        known: &'a mut Knowledge,
    ) -> Result<Self> {
        info!(
            "{SCHEDULER_NAME} {} policy {} on {} CPUs",
            build_id::full_version(env!("CARGO_PKG_VERSION")),
            settings.learner.kind,
            settings.learner.nr_cpus
        );
        let load_err = |e: anyhow::Error| classify(ExitClass::Load, e);

        let builder = BpfSkelBuilder::default();
        let mut skel = scx_ops_open!(builder, open_object, alps_ops, None)
            .context("cannot open the BPF scheduler")
            .map_err(load_err)?;

        skel.struct_ops.alps_ops_mut().exit_dump_len = opts.exit_dump_len;
        // 6.12-7.0 warn that cpu.weight is ignored unless the scheduler says
        // it implements it; later kernels dropped the flag.
        skel.struct_ops.alps_ops_mut().flags |=
            scx_utils::compat::read_enum("scx_ops_flags", "SCX_OPS_HAS_CGROUP_WEIGHT").unwrap_or(0);
        let rodata = skel.maps.rodata_data.as_mut().context("BPF rodata missing")?;
        rodata.slice_dfl_ns = settings.slice_dfl_ns;
        rodata.slice_min_ns = settings.learner.slice_min_ns;
        rodata.slice_max_ns = settings.learner.slice_max_ns;
        rodata.min_quantum_ns = settings.min_quantum_ns;
        rodata.starvation_ns = settings.starvation_ns;
        rodata.host_half_life_ns = settings.host_half_life_ns;
        rodata.host_quantum_ns = settings.host_quantum_ns;
        rodata.tag_mode = match opts.func_id {
            FuncIdSource::Cgroup => bpf_intf::alps_tag_mode_ALPS_TAG_CGROUP,
            FuncIdSource::Comm => bpf_intf::alps_tag_mode_ALPS_TAG_COMM,
        };
        rodata.preempt_enabled = !opts.no_wakeup_preemption;
        rodata.progress_enabled = settings.learner.kind == scx_alps::learner::PolicyKind::AlpsIo;
        rodata.loader_tgid = std::process::id();
        rodata.idle_gap_ns = opts.idle_gap_ms.saturating_mul(1_000_000);
        rodata.ignore_weight = opts.ignore_cgroup_weight;
        skel.maps
            .events
            .set_max_entries(opts.ringbuf_kb * 1024)
            .context("cannot size the invocation ring buffer")
            .map_err(load_err)?;
        // The hint uprobes load only when asked for: a kernel that refused
        // them would otherwise refuse the scheduler too.
        if opts.hint_binary.is_empty() {
            skel.progs.alps_hint_begin.set_autoload(false);
            skel.progs.alps_hint_end.set_autoload(false);
        }

        let mut skel = scx_ops_load!(skel, alps_ops, uei).map_err(|e| {
            let why = match libbpf_log::verifier_reason(12) {
                Some(r) => format!("the BPF verifier refused scx_alps; its last words (-v prints the whole log):\n{r}\n"),
                None => "the kernel refused to load scx_alps".to_string(),
            };
            load_err(e.context(format!(
                "{why}check that the kernel is Linux 6.12+ with sched_ext and BTF, and report this with `scx_alps -v` output"
            )))
        })?;

        // Before the scheduler attaches, so a bad --hint-binary leaves the
        // host on its default scheduler.
        let hint_links = hints::attach(
            &skel.progs.alps_hint_begin,
            &skel.progs.alps_hint_end,
            &opts.hint_binary,
        )
        .map_err(|e| classify(ExitClass::Usage, e))?;

        // Tag function cgroups and publish what is known before attaching,
        // so tasks start tagged and, after a restart, trained.
        let mut tagger = match opts.func_id {
            FuncIdSource::Cgroup => Some(
                CgroupTagger::new(&opts.cgroup_root, settings.pattern.clone())
                    .map_err(|e| classify(ExitClass::Usage, e))?,
            ),
            FuncIdSource::Comm => None,
        };
        if let Some(t) = tagger.as_mut() {
            let delta = t.scan(&mut known.registry)?;
            Self::apply_cgroup_delta(&skel, &delta)?;
            info!(
                "tagging by cgroup: {} cgroups of {} functions match {:?} under {}",
                delta.added.len(),
                known.registry.len(),
                settings.pattern_src,
                opts.cgroup_root.display()
            );
        } else {
            info!(
                "tagging by comm: functions are named by {:?} as tasks exit",
                settings.pattern_src
            );
        }
        if known.table.is_empty() && known.learner.nr_functions() > 0 {
            known.table = known.learner.update(0.0);
        }
        Self::publish(&skel, &known.table)?;

        let struct_ops = scx_ops_attach!(skel, alps_ops).map_err(|e| {
            if format!("{e:#}").contains("already running") {
                classify(ExitClass::Environment, e)
            } else {
                load_err(e)
            }
        })?;
        info!("{SCHEDULER_NAME} attached");
        let insns = scx_alps::verifier::loaded_counts();
        if !insns.is_empty() {
            info!("verified instructions per callback: {insns}");
        }

        let stats_server = match StatsServer::new(stats::server_data()).launch() {
            Ok(s) => Some(s),
            Err(e) => {
                warn!("statistics server unavailable ({e:#}); --monitor will not reach this instance");
                None
            }
        };

        let inbox: Rc<RefCell<Vec<alps_inv_rec>>> = Rc::new(RefCell::new(Vec::new()));
        let sink = inbox.clone();
        let mut rb = libbpf_rs::RingBufferBuilder::new();
        rb.add(&skel.maps.events, move |data: &[u8]| {
            let mut rec = InvRec::default();
            if plain::copy_from_bytes(&mut rec, data).is_ok() {
                sink.borrow_mut().push(rec.0);
            }
            0
        })?;
        let events = rb.build().context("cannot open the invocation ring buffer")?;

        Ok(Self {
            events,
            inbox,
            struct_ops: Some(struct_ops),
            skel,
            stats_server,
            opts,
            settings,
            known,
            tagger,
            comms: HashMap::new(),
            hints: HashMap::new(),
            _hint_links: hint_links,
            cpu_util: CpuUtil::new(),
            attached_at: Instant::now(),
            records: 0,
            records_by_source: Default::default(),
            progress: 0,
            push_last_ns: 0,
        })
    }

    fn apply_cgroup_delta(skel: &BpfSkel<'_>, delta: &scx_alps::tagging::CgroupDelta) -> Result<()> {
        for (cgid, fid) in &delta.added {
            skel.maps
                .cgrp_func
                .update(&cgid.to_ne_bytes(), &fid.to_ne_bytes(), MapFlags::ANY)
                .context("cannot update the cgroup map (too many function cgroups?)")?;
        }
        for cgid in &delta.removed {
            let _ = skel.maps.cgrp_func.delete(&cgid.to_ne_bytes());
        }
        Ok(())
    }

    fn bump_tag_gen(&mut self) {
        if let Some(bss) = self.skel.maps.bss_data.as_mut() {
            bss.tag_gen = bss.tag_gen.wrapping_add(1);
        }
    }

    fn rescan_cgroups(&mut self) -> Result<()> {
        let Some(tagger) = self.tagger.as_mut() else {
            return Ok(());
        };
        let delta = tagger.scan(&mut self.known.registry)?;
        if !delta.is_empty() {
            debug!("cgroups: +{} -{}", delta.added.len(), delta.removed.len());
            Self::apply_cgroup_delta(&self.skel, &delta)?;
            self.bump_tag_gen();
        }
        Ok(())
    }

    /// `func_id` of a record, or 0 when no function holds that id any more
    /// (a record sent before its id was released).
    fn registered(&self, func_id: u32) -> u32 {
        if self.known.registry.name(func_id).is_some() {
            func_id
        } else {
            0
        }
    }

    /// The function a hinted record's hint names, registered (and written
    /// into `hint_func`) on first sight; None for other sources, an empty
    /// name, or a full registry or map. Until a name is registered the BPF
    /// side runs its requests as the thread's own function, so the record's
    /// `func_id` may be that one: the hint's name wins. A full registry
    /// leaves the request to that fallback: hints come from unprivileged
    /// callers and must not stop the loader.
    fn hint_func(&mut self, rec: &alps_inv_rec) -> Option<u32> {
        if rec.source != bpf_intf::alps_inv_source_ALPS_SRC_HINT {
            return None;
        }
        let raw: Vec<u8> = rec.comm.iter().map(|&c| c as u8).collect();
        let name = comm_str(&raw);
        if name.is_empty() {
            return None;
        }
        let key = comm_key(&name);
        if let Some(&id) = self.hints.get(&key) {
            return Some(id);
        }
        let id = match self.known.registry.id_of(&name) {
            Ok(id) => id,
            Err(e) => {
                debug!("hint {name:?} not registered: {e:#}");
                return None;
            }
        };
        if let Err(e) = self.skel.maps.hint_func.update(&key, &id.to_ne_bytes(), MapFlags::ANY) {
            debug!("hint {name:?} not tagged: {e}");
            return None;
        }
        self.hints.insert(key, id);
        Some(id)
    }

    /// Moves the records the ring-buffer callback collected into the learner,
    /// naming functions first seen by comm.
    fn drain_inbox(&mut self) -> Result<()> {
        let recs: Vec<alps_inv_rec> = std::mem::take(&mut *self.inbox.borrow_mut());
        // Progress records are dated when they arrive: a long-running
        // invocation is being seen now, not at its start.
        let now_ns = Clock::now().mono_ns;
        let mut new_comm = false;
        for rec in recs {
            if rec.end_ns == 0 {
                self.progress += 1;
                let func_id = self.hint_func(&rec).unwrap_or_else(|| self.registered(rec.func_id));
                self.known
                    .learner
                    .observe_progress(func_id, rec.pid, rec.start_ns, rec.cpu_ns, now_ns);
                continue;
            }
            self.records += 1;
            let source = rec.source as usize;
            if let Some(n) = self.records_by_source.get_mut(source) {
                *n += 1;
            }
            let mut func_id = self.registered(rec.func_id);
            if let Some(id) = self.hint_func(&rec) {
                func_id = id;
            } else if func_id == 0 && rec.source != bpf_intf::alps_inv_source_ALPS_SRC_HINT {
                // (A hint record's comm is the hint's name, not a comm to tag.)
                match self.opts.func_id {
                    FuncIdSource::Cgroup => {
                        func_id = self.tagger.as_ref().and_then(|t| t.func_of(rec.cgid)).unwrap_or(0);
                    }
                    FuncIdSource::Comm => {
                        let raw: Vec<u8> = rec.comm.iter().map(|&c| c as u8).collect();
                        let comm = comm_str(&raw);
                        if let Some(name) = self.settings.pattern.function_of(&comm) {
                            // A full registry leaves the comm untagged (host
                            // work), as a full one does to a new cgroup.
                            func_id = match self.known.registry.id_of(name) {
                                Ok(id) => id,
                                Err(e) => {
                                    debug!("comm {comm:?} not tagged: {e:#}");
                                    0
                                }
                            };
                        }
                        if func_id != 0 {
                            let key = comm_key(&comm);
                            if self.comms.insert(key, func_id) != Some(func_id) {
                                self.skel
                                    .maps
                                    .comm_func
                                    .update(&key, &func_id.to_ne_bytes(), MapFlags::ANY)
                                    .context("cannot update the comm map")?;
                                new_comm = true;
                            }
                        }
                    }
                }
            }
            self.known.learner.observe(Invocation {
                func_id,
                pid: rec.pid,
                start_ns: rec.start_ns,
                end_ns: rec.end_ns,
                cpu_ns: rec.cpu_ns,
                wait_ns: rec.wait_ns,
                blocked_ns: rec.blocked_ns,
                nvcsw: rec.nvcsw,
                nivcsw: rec.nivcsw,
            });
        }
        if new_comm {
            self.bump_tag_gen();
        }
        Ok(())
    }

    /// Writes `val` into the func_policy map at `func_id`.
    fn put_policy(skel: &BpfSkel<'_>, func_id: u32, val: &alps_func_policy) -> Result<()> {
        // SAFETY: alps_func_policy is a plain C struct; viewing it as bytes
        // for the map update is sound.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                val as *const alps_func_policy as *const u8,
                std::mem::size_of::<alps_func_policy>(),
            )
        };
        skel.maps
            .func_policy
            .update(&func_id.to_ne_bytes(), bytes, MapFlags::ANY)
            .context("cannot publish the learned policy")
    }

    /// Writes `table` into the func_policy map.
    fn publish(skel: &BpfSkel<'_>, table: &[FuncPolicy]) -> Result<()> {
        for f in table {
            Self::put_policy(skel, f.func_id, &policy::bpf_policy(f))?;
        }
        Ok(())
    }

    /// Function churn (src/learner/expiry.rs): forgets the functions unseen
    /// for --func-ttl-s, clears their policy, prior evidence and comm tags
    /// in the BPF program, releases into quarantine the ids no cgroup or
    /// comm is tagged with any more, and makes the ids quarantined at the
    /// previous update available (cleared again: a task that still carried
    /// one may have set its prior evidence since).
    fn expire(&mut self) -> Result<()> {
        let known = &mut *self.known;
        let reusable = known.registry.reuse_quarantined();
        let forgotten = known
            .learner
            .forget_unseen(Clock::now().mono_ns, self.settings.func_ttl_ns);
        let mut retag = false;
        let skel = &self.skel;
        self.comms.retain(|key, id| {
            let keep = !forgotten.contains(id);
            if !keep {
                let _ = skel.maps.comm_func.delete(key);
                retag = true;
            }
            keep
        });
        // Begin hints look their name up each time: no retagging needed.
        self.hints.retain(|key, id| {
            let keep = !forgotten.contains(id);
            if !keep {
                let _ = skel.maps.hint_func.delete(key);
            }
            keep
        });
        let tagged = self.tagger.as_ref().map(|t| t.tagged_ids()).unwrap_or_default();
        let by_comm: HashSet<u32> = self.comms.values().chain(self.hints.values()).copied().collect();
        let names: Vec<String> = forgotten
            .iter()
            .map(|&f| known.registry.name(f).unwrap_or("?").to_string())
            .collect();
        let learner = &known.learner;
        let released = known
            .registry
            .release_unused(|f| learner.knows(f) || tagged.contains(&f) || by_comm.contains(&f));
        let cleared: BTreeSet<u32> = forgotten.iter().chain(&released).chain(&reusable).copied().collect();
        for &f in &cleared {
            Self::put_policy(&self.skel, f, &alps_func_policy::default())?;
            if let Some(bss) = self.skel.maps.bss_data.as_mut() {
                bss.func_outgrown[f as usize % bss.func_outgrown.len()] = 0;
                // A recycled id starts level with the stamp in service.
                bss.func_vtime[f as usize % bss.func_vtime.len()] = 0;
            }
        }
        known.table.retain(|p| !cleared.contains(&p.func_id));
        known.nr_forgotten += forgotten.len() as u64;
        known.nr_ids_recycled += reusable.len() as u64;
        if retag || !released.is_empty() {
            self.bump_tag_gen();
        }
        if !forgotten.is_empty() {
            info!(
                "forgot {} function(s) unseen for {} s: {}",
                forgotten.len(),
                self.opts.func_ttl_s,
                names.join(", ")
            );
        }
        if !reusable.is_empty() {
            info!("{} function id(s) free for new functions", reusable.len());
        }
        Ok(())
    }

    /// One learner update: train, publish the policy, save the state.
    fn learn(&mut self) -> Result<()> {
        self.expire()?;
        let util = self.cpu_util.sample();
        let table = self.known.learner.update(util);
        let t0 = Instant::now();
        Self::publish(&self.skel, &table)?;
        self.push_last_ns = t0.elapsed().as_nanos() as u64;

        let summary = |t: &[FuncPolicy]| -> BTreeMap<u32, (u32, u64, u32)> {
            t.iter()
                .map(|f| (f.func_id, (f.level, f.slice_ns / 100_000, f.flags)))
                .collect()
        };
        if summary(&table) != summary(&self.known.table) && !table.is_empty() {
            let line: Vec<String> = table
                .iter()
                .map(|f| {
                    format!(
                        "{} L{} ({:.1}ms{})",
                        self.known.registry.name(f.func_id).unwrap_or("?"),
                        f.level,
                        f.rank_ns as f64 / 1e6,
                        if f.io_bound() { ", io" } else { "" }
                    )
                })
                .collect();
            info!("policy (util {util:.0}%): {}", line.join(", "));
        }
        self.known.table = table;
        if let Some(path) = &self.opts.state_file
            && let Err(e) = self.known.save(path)
        {
            warn!("{e:#}");
        }
        Ok(())
    }

    fn read_stats(&self) -> alps_stats {
        let mut sum = alps_stats::default();
        let Ok(Some(percpu)) = self.skel.maps.stats.lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY) else {
            return sum;
        };
        for raw in percpu {
            if raw.len() < std::mem::size_of::<alps_stats>() {
                continue;
            }
            // SAFETY: the map value is an alps_stats written by the BPF side;
            // read_unaligned copes with the Vec's alignment.
            let s: alps_stats = unsafe { std::ptr::read_unaligned(raw.as_ptr() as *const alps_stats) };
            for r in 0..sum.nr_enqueued.len() {
                sum.nr_enqueued[r] += s.nr_enqueued[r];
                sum.nr_dispatched[r] += s.nr_dispatched[r];
                sum.nr_preempt_kicks[r] += s.nr_preempt_kicks[r];
                sum.nr_guard_promotions[r] += s.nr_guard_promotions[r];
            }
            sum.nr_host_enqueued += s.nr_host_enqueued;
            sum.nr_direct += s.nr_direct;
            sum.nr_kept += s.nr_kept;
            sum.nr_guard_dispatched += s.nr_guard_dispatched;
            sum.nr_demotions += s.nr_demotions;
            sum.nr_throttled += s.nr_throttled;
            sum.nr_tick_preempts += s.nr_tick_preempts;
            sum.nr_records += s.nr_records;
            sum.nr_hint_begins += s.nr_hint_begins;
            sum.nr_hint_ends += s.nr_hint_ends;
            sum.nr_hint_unpaired += s.nr_hint_unpaired;
            sum.nr_rb_drops += s.nr_rb_drops;
            sum.nr_task_inits += s.nr_task_inits;
            sum.nr_task_exits += s.nr_task_exits;
            sum.nr_weighted += s.nr_weighted;
            if s.max_wait_ns > sum.max_wait_ns {
                sum.max_wait_ns = s.max_wait_ns;
                sum.max_wait_pid = s.max_wait_pid;
                sum.max_wait_comm = s.max_wait_comm;
            }
        }
        sum
    }

    /// Tasks queued per rank DSQ, fresh from the read_queues program.
    fn queue_depths(&self) -> Vec<i32> {
        if let Err(e) = self.skel.progs.read_queues.test_run(ProgramInput::default()) {
            debug!("read_queues failed: {e}");
        }
        self.skel
            .maps
            .bss_data
            .as_ref()
            .map(|b| b.queue_depths.to_vec())
            .unwrap_or_default()
    }

    fn metrics(&self) -> Metrics {
        let s = self.read_stats();
        let q = self.queue_depths();
        let cost = self.known.learner.cost();
        Metrics {
            policy: self.settings.learner.kind.to_string(),
            uptime_s: self.attached_at.elapsed().as_secs_f64(),
            nr_records: self.records,
            nr_progress: self.progress,
            nr_records_task: self.records_by_source[bpf_intf::alps_inv_source_ALPS_SRC_TASK as usize],
            nr_records_hint: self.records_by_source[bpf_intf::alps_inv_source_ALPS_SRC_HINT as usize],
            nr_records_gap: self.records_by_source[bpf_intf::alps_inv_source_ALPS_SRC_GAP as usize],
            nr_hint_begins: s.nr_hint_begins,
            nr_hint_ends: s.nr_hint_ends,
            nr_hint_unpaired: s.nr_hint_unpaired,
            nr_weighted: s.nr_weighted,
            invocations_per_s: 0.0,
            nr_rb_drops: s.nr_rb_drops,
            nr_direct: s.nr_direct,
            nr_kept: s.nr_kept,
            nr_host_enqueued: s.nr_host_enqueued,
            nr_demotions: s.nr_demotions,
            nr_preempt_kicks: s.nr_preempt_kicks.iter().sum(),
            nr_throttled: s.nr_throttled,
            nr_tick_preempts: s.nr_tick_preempts,
            nr_guard: s.nr_guard_promotions.iter().sum(),
            nr_guard_dispatched: s.nr_guard_dispatched,
            max_wait_ms: s.max_wait_ns as f64 / 1e6,
            max_wait_task: format!(
                "{} ({})",
                s.max_wait_pid,
                comm_str(&s.max_wait_comm.iter().map(|&c| c as u8).collect::<Vec<u8>>())
            ),
            learner_updates: cost.updates,
            learner_last_us: cost.last_ns as f64 / 1e3,
            learner_mean_us: cost.mean_ns as f64 / 1e3,
            learner_max_us: cost.max_ns as f64 / 1e3,
            push_last_us: self.push_last_ns as f64 / 1e3,
            window_len: self.known.learner.window().len() as u64,
            nr_functions: self.known.registry.len() as u64,
            nr_forgotten: self.known.nr_forgotten,
            nr_ids_recycled: self.known.nr_ids_recycled,
            nr_cgroups: self.skel.maps.cgrp_func.keys().count() as u64,
            nr_tasks: s.nr_task_inits.saturating_sub(s.nr_task_exits),
            levels: (0..policy::NR_LEVELS)
                .map(|l| {
                    let i = l as usize;
                    LevelMetrics {
                        level: l,
                        from_ms: policy::level_floor_ns(l) as f64 / 1e6,
                        queued: q.get(i).copied().unwrap_or(0) as i64,
                        enqueued: s.nr_enqueued[i],
                        dispatched: s.nr_dispatched[i],
                        dispatch_per_s: 0.0,
                        preempt_kicks: s.nr_preempt_kicks[i],
                        guard_promotions: s.nr_guard_promotions[i],
                    }
                })
                .collect(),
            functions: self
                .known
                .table
                .iter()
                .map(|f| FuncMetrics::of(self.known.registry.name(f.func_id).unwrap_or("?"), f))
                .collect(),
        }
    }

    /// Sleeps until invocation records arrive, a watched cgroup directory
    /// changes or `timeout` passes, then consumes the records (into the
    /// inbox). A signal (maybe the one asking us to stop) ends the wait.
    fn wait_for_news(&self, timeout: Duration) {
        // SAFETY: the ring buffer's epoll fd lives as long as self.events.
        let rb = unsafe { BorrowedFd::borrow_raw(self.events.epoll_fd()) };
        let mut fds = vec![PollFd::new(rb, PollFlags::POLLIN)];
        if let Some(fd) = self.tagger.as_ref().and_then(|t| t.watch_fd()) {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let ms = PollTimeout::try_from(timeout.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => warn!("poll failed: {e}"),
        }
        if let Err(e) = self.events.consume() {
            warn!("ring buffer consume failed: {e}");
        }
    }

    fn exited(&mut self) -> bool {
        uei_exited!(&self.skel, uei)
    }

    fn run(&mut self, shutdown: Arc<AtomicBool>) -> Result<UserExitInfo> {
        let learn_every = Duration::from_millis(self.settings.learn_interval_ms);
        let tag_every = Duration::from_millis(self.settings.tag_interval_ms);
        let (mut next_learn, mut next_tag) = (Instant::now() + learn_every, Instant::now() + tag_every);
        let news_gap = Duration::from_nanos(scx_alps::learner::NEWS_MIN_GAP_NS);
        let mut last_learn = Instant::now();
        let channels = self.stats_server.as_ref().map(|s| s.channels());

        while !shutdown.load(Ordering::Relaxed) && !self.exited() {
            self.wait_for_news(Duration::from_millis(100));
            self.drain_inbox()?;
            let now = Instant::now();
            let cgroups_changed = self.tagger.as_mut().is_some_and(|t| t.changed());
            if now >= next_tag || cgroups_changed {
                if let Err(e) = self.rescan_cgroups() {
                    warn!("cgroup scan failed: {e:#}");
                }
                next_tag = now + tag_every;
            }
            let news_due = self.known.learner.has_news() && now >= last_learn + news_gap;
            if now >= next_learn || news_due {
                self.learn()?;
                last_learn = now;
                if now >= next_learn {
                    next_learn = now + learn_every;
                }
            }
            if let Some((res_ch, req_ch)) = &channels {
                while req_ch.try_recv().is_ok() {
                    res_ch.send(self.metrics())?;
                }
            }
        }

        info!(
            "detaching after {:.1}s: {} invocations learned, {} learner updates (mean {:.0}us)",
            self.attached_at.elapsed().as_secs_f64(),
            self.records,
            self.known.learner.cost().updates,
            self.known.learner.cost().mean_ns as f64 / 1e3
        );
        let _ = self.struct_ops.take();
        uei_report!(&self.skel, uei)
    }
}

impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        info!("unregistered {SCHEDULER_NAME}");
    }
}

fn init_logging(verbose: bool) -> Result<()> {
    let level = if verbose {
        simplelog::LevelFilter::Debug
    } else {
        simplelog::LevelFilter::Info
    };
    let mut cfg = simplelog::ConfigBuilder::new();
    cfg.set_time_level(simplelog::LevelFilter::Error)
        .set_location_level(simplelog::LevelFilter::Off)
        .set_target_level(simplelog::LevelFilter::Off)
        .set_thread_level(simplelog::LevelFilter::Off);
    simplelog::TermLogger::init(
        level,
        cfg.build(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    )?;
    libbpf_log::install(verbose);
    Ok(())
}

fn run_scheduler(opts: &Opts, mut settings: Settings, shutdown: Arc<AtomicBool>) -> Result<()> {
    preflight::check_environment(
        std::path::Path::new("/sys"),
        nix::unistd::geteuid().as_raw(),
        &preflight::kernel_release(),
    )?;
    scx_utils::try_set_rlimit_infinity();

    if let Some(intv) = opts.stats {
        let (shutdown, json) = (shutdown.clone(), opts.json);
        std::thread::spawn(move || {
            if let Err(e) = stats::monitor(Duration::from_secs_f64(intv), json, shutdown) {
                warn!("stats monitor stopped: {e:#}");
            }
        });
    }

    let mut known = Knowledge::new(&settings);
    if let Some(path) = &opts.state_file {
        known.restore(path, settings.func_ttl_ns);
    }
    let mut restarts: Vec<Instant> = Vec::new();
    let mut open_object = MaybeUninit::uninit();
    loop {
        let mut sched = Scheduler::init(opts, &settings, &mut open_object, &mut known)?;
        let uei = sched.run(shutdown.clone());
        drop(sched);
        if let Some(path) = &opts.state_file
            && let Err(e) = known.save(path)
        {
            warn!("{e:#}");
        }
        let uei = uei?;
        if !uei.should_restart() || shutdown.load(Ordering::Relaxed) {
            return Ok(());
        }
        restarts.retain(|t| t.elapsed() < Duration::from_secs(60));
        restarts.push(Instant::now());
        if restarts.len() > MAX_RESTARTS_PER_MIN {
            anyhow::bail!("the kernel asked for more than {MAX_RESTARTS_PER_MIN} restarts within a minute; giving up");
        }
        // A hotplug restart: the learner simulates the CPUs online now.
        settings.learner.nr_cpus = online_cpus();
        known.learner.set_nr_cpus(settings.learner.nr_cpus);
        info!(
            "the kernel asked for a restart (e.g. CPU hotplug): restarting on {} CPUs",
            settings.learner.nr_cpus
        );
    }
}

fn real_main(opts: Opts) -> Result<()> {
    if opts.version {
        println!("{SCHEDULER_NAME} {}", build_id::full_version(env!("CARGO_PKG_VERSION")));
        return Ok(());
    }
    if opts.help_stats {
        stats::server_data().describe_meta(&mut std::io::stdout(), None)?;
        return Ok(());
    }
    init_logging(opts.verbose)?;

    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = shutdown.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("cannot install the signal handler")?;

    // --monitor runs no learner: its flags are checked, the CPUs not read.
    let nr_cpus = if opts.monitor.is_some() { 1 } else { online_cpus() };
    let settings = opts.settings(nr_cpus).map_err(|e| classify(ExitClass::Usage, e))?;
    if let Some(intv) = opts.monitor {
        return stats::monitor(Duration::from_secs_f64(intv), opts.json, shutdown);
    }
    run_scheduler(&opts, settings, shutdown)
}

fn main() {
    let opts = Opts::parse();
    if let Err(e) = real_main(opts) {
        eprintln!("{SCHEDULER_NAME}: error: {e:#}");
        std::process::exit(preflight::class_of(&e) as i32);
    }
}
