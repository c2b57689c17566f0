//! The discrete-event engine: tasks, CPUs, events, and the [`Model`] a
//! scheduler plugs in.
//!
//! Time is virtual, in ns. Every invocation of the plan is one task that runs
//! its phases (CPU bursts, sleeps). A CPU runs one task at a time; the model
//! decides what runs next ([`Model::pick`]), whom a newly runnable task
//! preempts ([`Model::preempt_target`]) and, for models of sched_ext
//! schedulers, what happens at a scheduler tick ([`Model::tick`]): in
//! sched_ext a slice ends at the first tick after it runs out, and a
//! scheduler re-examines the running task at each tick. Every context switch
//! costs `cs_cost_ns` of CPU. The engine is deterministic: ties break by the
//! order events were pushed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::workload::{Phase, Plan};

use super::SimStats;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    Pending,
    Queued,
    Running(usize),
    /// Off its CPU but still runnable, while the model decides.
    Stopped,
    Sleeping,
    Done,
}

/// One invocation being simulated.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    /// Function id (1-based, sorted function names).
    pub func: u32,
    /// Arrival, ns.
    pub arrival: u64,
    pub phase: usize,
    /// CPU left in the current burst, ns.
    pub rem: u64,
    /// CPU left over all remaining bursts, ns (clairvoyant models only).
    pub remaining_total: u64,
    pub state: State,
    /// Start of the current runnable wait.
    pub runnable_at: u64,
    pub sleep_at: u64,
    /// CPU attained so far, ns.
    pub cpu: u64,
    pub wait: u64,
    pub blocked: u64,
    pub nvcsw: u64,
    pub nivcsw: u64,
    pub end: u64,
    /// Fair-share clock (EEVDF model).
    pub vruntime: u64,
    /// Running a guard-granted stint (scx_alps model).
    pub guarded: bool,
}

/// One simulated CPU.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    pub task: Option<usize>,
    /// When the current segment of work started (after any switch cost).
    pub seg_start: u64,
    /// Start of the current stint.
    pub stint_start: u64,
    /// End of the current slice.
    pub slice_end: u64,
    /// Level of the running task as the model last saw it.
    pub level: u32,
    /// Nominal slice of the running task.
    pub slice: u64,
    /// Untick models: running with nothing queued, the slice is unbounded
    /// until a task is queued (saves an event per slice).
    pub alone: bool,
    pub epoch: u64,
    pub tick_armed: bool,
    /// The real-time load generator holds this CPU until then (0: free).
    pub rt_until: u64,
    /// The task the generator displaced; it resumes here afterwards.
    pub held: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Ev {
    Arrive(usize),
    /// The load generator finished forking the task.
    Spawned(usize),
    /// The load generator leaves the CPU.
    RtDone(usize),
    Wake(usize),
    Cpu(usize, u64),
    Tick(usize),
    Learn,
}

/// Engine state the models see.
pub(crate) struct World<'p> {
    pub plan: &'p Plan,
    pub now: u64,
    pub tasks: Vec<Task>,
    pub cpus: Vec<Cpu>,
    /// Tasks runnable but not running.
    pub queued: usize,
    pub stats: SimStats,
    pub cs_cost: u64,
    /// Virtual time at which the plan starts.
    pub origin: u64,
}

impl World<'_> {
    fn phases(&self, t: usize) -> &[Phase] {
        &self.plan.invocations[t].phases
    }

    /// CPU `t` has attained, including a segment in progress.
    pub fn attained(&self, t: usize) -> u64 {
        let task = &self.tasks[t];
        match task.state {
            State::Running(c) => task.cpu + self.now.saturating_sub(self.cpus[c].seg_start),
            _ => task.cpu,
        }
    }

    /// Remaining total CPU demand of `t` now.
    pub fn remaining_total(&self, t: usize) -> u64 {
        let task = &self.tasks[t];
        match task.state {
            State::Running(c) => task
                .remaining_total
                .saturating_sub(self.now.saturating_sub(self.cpus[c].seg_start)),
            _ => task.remaining_total,
        }
    }
}

/// Why a task is being enqueued.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Why {
    Arrival,
    Wakeup,
}

/// A scheduler model.
pub(crate) trait Model {
    /// Queues `t`.
    fn enqueue(&mut self, w: &mut World, t: usize, why: Why);
    /// Chooses what `cpu` runs next. `prev`, if any, is still runnable and
    /// not queued: return it to keep it running, or queue it. Returns the
    /// task and its slice.
    fn pick(&mut self, w: &mut World, cpu: usize, prev: Option<usize>) -> Option<(usize, u64)>;
    /// After `t` was queued and no CPU is idle: a CPU to preempt now.
    fn preempt_target(&mut self, w: &mut World, t: usize) -> Option<usize>;
    /// Slices end at ticks and [`Model::tick`] runs at each one.
    fn ticked(&self) -> bool {
        false
    }
    /// A tick on `cpu` (which runs a task): end the stint now? A slice that
    /// ran out (`now >= slice_end`) is the model's to notice.
    fn tick(&mut self, _w: &mut World, _cpu: usize) -> bool {
        false
    }
    /// `t` starts a stint (or a new slice) on `cpu`.
    fn running(&mut self, _w: &mut World, _cpu: usize, _t: usize) {}
    /// `t` stopped after running `ran` ns.
    fn stopped(&mut self, _w: &mut World, _t: usize, _ran: u64) {}
    /// `t` finished.
    fn exited(&mut self, _w: &mut World, _t: usize) {}
    /// Periodic learner update.
    fn learn(&mut self, _w: &mut World) {}
    /// A new run starts at `origin` (a measured run after a warm-up keeps
    /// the model and its learner).
    fn begin_run(&mut self, _origin: u64) {}
    /// Is anything queued?
    fn has_queued(&self) -> bool;
}

pub(crate) struct Engine<'p, 'm> {
    pub w: World<'p>,
    pub model: &'m mut dyn Model,
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    tick_ns: u64,
    learn_interval: u64,
    unfinished: usize,
    last_t: u64,
    /// CPU the load generator spends per spawn, ns (it runs real-time).
    spawn_cost: u64,
    /// When the load generator is done with the spawns so far.
    spawner_free_at: u64,
    /// CPU added to every invocation's first burst (its own start-up), ns.
    start_cost: u64,
}

/// What the load generator costs: CPU per spawn in the generator (real-time
/// class, above every model's tasks, on CPU 0) and in the invocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpawnCost {
    pub spawner_ns: u64,
    pub start_ns: u64,
}

impl<'p, 'm> Engine<'p, 'm> {
    /// An engine for `tasks` of `plan` on `cpus` CPUs, whose arrivals are
    /// offset by `origin`. `tick_ns` is the scheduler tick (ticked models);
    /// `learn_interval` > 0 schedules learner updates.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &'p Plan,
        mut tasks: Vec<Task>,
        cpus: usize,
        cs_cost: u64,
        tick_ns: u64,
        learn_interval: u64,
        origin: u64,
        spawn: SpawnCost,
        model: &'m mut dyn Model,
    ) -> Self {
        for t in tasks.iter_mut() {
            t.arrival += origin;
            t.remaining_total += spawn.start_ns;
        }
        model.begin_run(origin);
        let n = tasks.len();
        let mut e = Self {
            w: World {
                plan,
                now: 0,
                tasks,
                cpus: vec![
                    Cpu {
                        level: scx_alps::policy::LEVEL_NONE,
                        ..Default::default()
                    };
                    cpus
                ],
                queued: 0,
                stats: SimStats::default(),
                cs_cost,
                origin,
            },
            model,
            heap: BinaryHeap::with_capacity(n * 2),
            seq: 0,
            tick_ns: tick_ns.max(1),
            learn_interval,
            unfinished: n,
            last_t: origin,
            spawn_cost: spawn.spawner_ns,
            spawner_free_at: 0,
            start_cost: spawn.start_ns,
        };
        for t in 0..n {
            let at = e.w.tasks[t].arrival;
            e.push(at, Ev::Arrive(t));
        }
        if learn_interval > 0 {
            e.push(origin + learn_interval, Ev::Learn);
        }
        e.w.now = origin;
        e
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    /// Accounts the time since the last event for the work-conservation check.
    fn advance(&mut self, to: u64) {
        let dt = to - self.last_t;
        if dt > 0 {
            let now = self.w.now;
            let idle = self
                .w
                .cpus
                .iter()
                .filter(|c| c.task.is_none() && c.rt_until <= now)
                .count() as u64;
            let queued = self.w.queued as u64;
            self.w.stats.idle_while_runnable_ns += dt * idle.min(queued);
        }
        self.last_t = to;
        self.w.now = to;
    }

    /// Stops the task on `c` at now and accounts its CPU time. Returns it.
    fn stop(&mut self, c: usize) -> Option<usize> {
        let now = self.w.now;
        let cpu = self.w.cpus[c];
        let t = cpu.task?;
        let ran = now.saturating_sub(cpu.seg_start);
        {
            let task = &mut self.w.tasks[t];
            task.rem = task.rem.saturating_sub(ran);
            task.remaining_total = task.remaining_total.saturating_sub(ran);
            task.cpu += ran;
            task.state = State::Stopped;
        }
        self.w.stats.busy_ns += ran;
        self.model.stopped(&mut self.w, t, ran);
        let cpu = &mut self.w.cpus[c];
        cpu.task = None;
        cpu.level = scx_alps::policy::LEVEL_NONE;
        cpu.epoch += 1;
        Some(t)
    }

    /// Sets the slice of the task now running on `c` from now.
    fn set_slice(&mut self, c: usize, slice: u64) {
        let now = self.w.now;
        let alone = !self.model.ticked() && !self.model.has_queued();
        let cpu = &mut self.w.cpus[c];
        cpu.slice = slice;
        cpu.alone = alone;
        let from = now.max(cpu.seg_start);
        cpu.slice_end = if alone { u64::MAX } else { from.saturating_add(slice) };
    }

    /// Starts `t` on `c` with `slice`, charging a context switch.
    fn start(&mut self, c: usize, t: usize, slice: u64) {
        let now = self.w.now;
        let seg_start = now + self.w.cs_cost;
        self.w.stats.context_switches += 1;
        {
            let task = &mut self.w.tasks[t];
            if task.state == State::Queued {
                self.w.queued -= 1;
                let waited = seg_start.saturating_sub(task.runnable_at);
                task.wait += waited;
                self.w.stats.max_wait_ns = self.w.stats.max_wait_ns.max(waited);
            }
            task.state = State::Running(c);
        }
        let cpu = &mut self.w.cpus[c];
        cpu.task = Some(t);
        cpu.seg_start = seg_start;
        cpu.stint_start = seg_start;
        cpu.epoch += 1;
        self.set_slice(c, slice);
        self.model.running(&mut self.w, c, t);
        self.arm(c);
    }

    /// Pushes the next CPU event of `c` (burst end, or slice end for models
    /// without ticks) and, for ticked models with work queued, its next tick.
    fn arm(&mut self, c: usize) {
        let cpu = self.w.cpus[c];
        let Some(t) = cpu.task else { return };
        let mut at = cpu.seg_start + self.w.tasks[t].rem;
        if !self.model.ticked() {
            at = at.min(cpu.slice_end);
        }
        self.push(at, Ev::Cpu(c, cpu.epoch));
        self.arm_tick(c);
    }

    fn arm_tick(&mut self, c: usize) {
        if !self.model.ticked() || self.w.cpus[c].tick_armed || self.w.cpus[c].task.is_none() {
            return;
        }
        if !self.model.has_queued() {
            return;
        }
        self.w.cpus[c].tick_armed = true;
        let at = (self.w.now / self.tick_ns + 1) * self.tick_ns;
        self.push(at, Ev::Tick(c));
    }

    /// Lets CPU `c` choose; `prev` is its task if still runnable.
    fn reschedule(&mut self, c: usize, prev: Option<usize>) {
        match self.model.pick(&mut self.w, c, prev) {
            Some((t, slice)) if Some(t) == prev => {
                // Keeps running: a new slice, same stint.
                let now = self.w.now;
                let cpu = &mut self.w.cpus[c];
                cpu.task = Some(t);
                cpu.seg_start = now;
                cpu.epoch += 1;
                self.w.tasks[t].state = State::Running(c);
                self.set_slice(c, slice);
                self.model.running(&mut self.w, c, t);
                self.arm(c);
            }
            Some((t, slice)) => {
                if let Some(p) = prev {
                    self.mark_queued(p);
                    self.w.tasks[p].nivcsw += 1;
                    self.w.stats.preemptions += 1;
                }
                self.start(c, t, slice);
                if prev.is_some() {
                    self.queued_changed();
                }
            }
            None => debug_assert!(prev.is_none(), "the model lost task {prev:?}"),
        }
    }

    fn mark_queued(&mut self, t: usize) {
        let task = &mut self.w.tasks[t];
        if task.state != State::Queued {
            task.state = State::Queued;
            task.runnable_at = self.w.now;
            self.w.queued += 1;
        }
    }

    /// `t` became runnable: queue it, then give it an idle CPU or preempt.
    fn make_runnable(&mut self, t: usize, why: Why) {
        self.mark_queued(t);
        self.model.enqueue(&mut self.w, t, why);
        self.queued_changed();
        if let Some(c) = self.idle_cpu() {
            self.reschedule(c, None);
            return;
        }
        if let Some(c) = self.model.preempt_target(&mut self.w, t) {
            self.preempt(c);
        }
    }

    /// A CPU with nothing to run (and not held by the load generator).
    fn idle_cpu(&self) -> Option<usize> {
        let now = self.w.now;
        (0..self.w.cpus.len()).find(|&c| self.w.cpus[c].task.is_none() && self.w.cpus[c].rt_until <= now)
    }

    /// An arrival: the load generator forks the task on CPU 0, after the
    /// spawns before it; the task becomes runnable once forked.
    fn spawn(&mut self, t: usize) {
        if self.spawn_cost == 0 {
            self.enter_phase(t, 0, Why::Arrival);
            return;
        }
        let now = self.w.now;
        let end = now.max(self.spawner_free_at) + self.spawn_cost;
        self.spawner_free_at = end;
        // Real-time preemption: the running task goes back to the head of
        // its CPU's local queue and resumes there. (A task already held stays
        // held: the generator's previous spawn may end at this very instant.)
        if let Some(t) = self.stop(0) {
            debug_assert!(self.w.cpus[0].held.is_none());
            self.w.cpus[0].held = Some(t);
        }
        self.w.cpus[0].rt_until = end;
        self.push(end, Ev::RtDone(0));
        self.push(end, Ev::Spawned(t));
    }

    fn rt_done(&mut self, c: usize) {
        if self.w.cpus[c].rt_until != self.w.now {
            return;
        }
        self.w.cpus[c].rt_until = 0;
        match self.w.cpus[c].held.take() {
            Some(t) => {
                let slice = self.w.cpus[c].slice;
                self.start(c, t, slice);
            }
            None => self.reschedule(c, None),
        }
    }

    /// Something is queued: CPUs that ran without competition get a slice
    /// (models without ticks) or their ticks (ticked models).
    fn queued_changed(&mut self) {
        let now = self.w.now;
        for c in 0..self.w.cpus.len() {
            if self.w.cpus[c].task.is_none() {
                continue;
            }
            if self.model.ticked() {
                self.arm_tick(c);
            } else if self.w.cpus[c].alone {
                let cpu = &mut self.w.cpus[c];
                cpu.alone = false;
                cpu.slice_end = now.max(cpu.seg_start).saturating_add(cpu.slice);
                cpu.epoch += 1;
                self.arm(c);
            }
        }
    }

    /// Ends the stint on `c` and lets it choose, the stopped task included.
    fn preempt(&mut self, c: usize) {
        if let Some(p) = self.stop(c) {
            self.reschedule(c, Some(p));
        }
    }

    /// The task on `c` finished its CPU burst: next phase.
    fn burst_done(&mut self, c: usize, t: usize) {
        let next = self.w.tasks[t].phase + 1;
        self.w.tasks[t].phase = next;
        match self.w.phases(t).get(next).copied() {
            Some(Phase::Cpu { ns }) => {
                self.w.tasks[t].rem = ns.max(1);
                self.reschedule(c, Some(t));
            }
            Some(Phase::Sleep { ns }) => {
                let now = self.w.now;
                let task = &mut self.w.tasks[t];
                task.state = State::Sleeping;
                task.sleep_at = now;
                task.nvcsw += 1;
                self.push(now + ns, Ev::Wake(t));
                self.reschedule(c, None);
            }
            None => {
                self.finish(t);
                self.reschedule(c, None);
            }
        }
    }

    fn finish(&mut self, t: usize) {
        let now = self.w.now;
        let task = &mut self.w.tasks[t];
        task.state = State::Done;
        task.end = now;
        self.unfinished -= 1;
        self.w.stats.makespan_ns = now - self.w.origin;
        self.model.exited(&mut self.w, t);
    }

    /// `t` enters phase `phase` at now: runnable for a burst, asleep, or done.
    fn enter_phase(&mut self, t: usize, phase: usize, why: Why) {
        self.w.tasks[t].phase = phase;
        match self.w.phases(t).get(phase).copied() {
            Some(Phase::Cpu { ns }) => {
                let start = if why == Why::Arrival { self.start_cost } else { 0 };
                self.w.tasks[t].rem = ns.max(1) + start;
                self.make_runnable(t, why);
            }
            Some(Phase::Sleep { ns }) => {
                let now = self.w.now;
                let task = &mut self.w.tasks[t];
                task.state = State::Sleeping;
                task.sleep_at = now;
                self.push(now + ns, Ev::Wake(t));
            }
            None => self.finish(t),
        }
    }

    fn on_tick(&mut self, c: usize) {
        self.w.cpus[c].tick_armed = false;
        let Some(t) = self.w.cpus[c].task else { return };
        // A burst ending at this very instant is the CPU event's to handle.
        if self.w.cpus[c].seg_start + self.w.tasks[t].rem <= self.w.now {
            self.arm_tick(c);
            return;
        }
        if self.model.tick(&mut self.w, c) {
            self.preempt(c);
        }
        self.arm_tick(c);
    }

    /// Runs until every task finished (or nothing is left to happen).
    pub fn run(&mut self) {
        while let Some(Reverse((at, _, ev))) = self.heap.pop() {
            if self.unfinished == 0 {
                break;
            }
            self.advance(at);
            self.w.stats.events += 1;
            match ev {
                Ev::Arrive(t) => self.spawn(t),
                Ev::Spawned(t) => self.enter_phase(t, 0, Why::Arrival),
                Ev::RtDone(c) => self.rt_done(c),
                Ev::Wake(t) => {
                    let task = &mut self.w.tasks[t];
                    task.blocked += at - task.sleep_at;
                    let next = task.phase + 1;
                    self.enter_phase(t, next, Why::Wakeup);
                }
                Ev::Cpu(c, epoch) => {
                    if self.w.cpus[c].epoch != epoch {
                        continue;
                    }
                    let Some(t) = self.stop(c) else { continue };
                    if self.w.tasks[t].rem == 0 {
                        self.burst_done(c, t);
                    } else {
                        // Slice end (models without ticks).
                        self.reschedule(c, Some(t));
                    }
                }
                Ev::Tick(c) => self.on_tick(c),
                Ev::Learn => {
                    self.model.learn(&mut self.w);
                    let next = at + self.learn_interval;
                    self.push(next, Ev::Learn);
                }
            }
        }
    }
}
