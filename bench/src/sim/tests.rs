//! Hand-computed schedules of every model, and the scx_alps model's
//! mechanisms one at a time. Queueing-theory checks are in
//! bench/tests/sim_theory.rs.

use super::*;
use crate::workload::Phase;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn cpu(ms: u64) -> Vec<Phase> {
    vec![Phase::Cpu { ns: ms * MS }]
}

/// The simulator at `cpus` CPUs with scx_alps's CLI defaults for `policy`,
/// free context switches.
fn cfg(policy: SimPolicy, cpus: usize) -> SimConfig {
    SimConfig {
        cpus,
        policy,
        cs_cost_ns: 0,
        alps: AlpsModel::from_flags(policy.alps_kind().unwrap_or(PolicyKind::Alps), "", cpus).unwrap(),
        ..SimConfig::default()
    }
}

fn fcts(out: &SimOutput) -> Vec<f64> {
    out.results.iter().map(|r| r.fct_ms).collect()
}

fn last2(out: &SimOutput) -> (f64, f64) {
    let f = fcts(out);
    (f[f.len() - 2], f[f.len() - 1])
}

#[test]
fn models_follow_the_cli_defaults() {
    let io = AlpsModel::from_flags(PolicyKind::AlpsIo, "", 2).unwrap();
    assert!(io.learner.io_signals);
    assert_eq!(io.min_quantum_ns, scx_alps::opts::DEFAULT_MIN_QUANTUM_US * 1000);
    assert_eq!(io.learner.nr_cpus, 2);
    let plain = AlpsModel::default();
    assert!(!plain.learner.io_signals);
    assert_eq!(plain.min_quantum_ns, 0);
    assert_eq!(plain.learn_interval_ns, 10_000 * MS);
    let tuned = AlpsModel::from_flags(PolicyKind::AlpsIo, "--learn-interval-ms 500 --no-io-signals", 4).unwrap();
    assert_eq!(tuned.learn_interval_ns, 500 * MS);
    assert!(!tuned.learner.io_signals);
    // A cgroup root the user names is still checked; quoting is a shell's.
    let err = AlpsModel::from_flags(PolicyKind::Alps, "--cgroup-root '/no such dir'", 4).unwrap_err();
    assert!(format!("{err:#}").contains("cgroup-root"), "{err:#}");
    let err = AlpsModel::from_flags(PolicyKind::Alps, "--no-io-signals", 4).unwrap_err();
    assert!(format!("{err:#}").contains("alps-io"), "{err:#}");
    assert!(AlpsModel::from_flags(PolicyKind::Alps, "--window '10", 4).is_err());
}

#[test]
fn fifo_runs_to_completion_in_arrival_order() {
    let p = Plan::from_jobs(&[("a", 0, cpu(30)), ("b", 10 * MS, cpu(10)), ("c", 12 * MS, cpu(5))]);
    let out = simulate(&p, &cfg(SimPolicy::Fifo, 1)).unwrap();
    assert_eq!(fcts(&out), vec![30.0, 30.0, 33.0]);
    assert_eq!(out.stats.preemptions, 0);
}

#[test]
fn srpt_preempts_for_shorter_remaining_work() {
    // A runs 0-10, B preempts (10 < 20 left) and runs 10-12, C preempts
    // (5 < 8 left) 12-17, then B 17-25, then A 25-45.
    let p = Plan::from_jobs(&[("a", 0, cpu(30)), ("b", 10 * MS, cpu(10)), ("c", 12 * MS, cpu(5))]);
    let out = simulate(&p, &cfg(SimPolicy::Srpt, 1)).unwrap();
    assert_eq!(fcts(&out), vec![45.0, 15.0, 5.0]);
    assert_eq!(out.stats.preemptions, 2);
    // SRPT counts remaining work over all future bursts: a job with a short
    // first burst but a long second one is not "short".
    let p = Plan::from_jobs(&[
        ("a", 0, cpu(20)),
        (
            "b",
            5 * MS,
            vec![
                Phase::Cpu { ns: 2 * MS },
                Phase::Sleep { ns: MS },
                Phase::Cpu { ns: 30 * MS },
            ],
        ),
    ]);
    let out = simulate(&p, &cfg(SimPolicy::Srpt, 1)).unwrap();
    assert_eq!(fcts(&out), vec![20.0, 48.0]);
}

#[test]
fn eevdf_model_shares_the_cpu_in_slices() {
    // Two 6 ms jobs at time 0, 3 ms slices. A 0-3; B (vruntime 0 < 3)
    // 3-6; at 6 both have 3 and the running task keeps the CPU on a tie:
    // B 6-9, A 9-12.
    let p = Plan::from_jobs(&[("a", 0, cpu(6)), ("b", 0, cpu(6))]);
    let out = simulate(&p, &cfg(SimPolicy::Eevdf, 1)).unwrap();
    assert_eq!(fcts(&out), vec![12.0, 9.0]);
    // Switches: idle -> A, A -> B, B -> A.
    assert_eq!(out.stats.context_switches, 3);
    // Each switch costs 1 ms of CPU: A 1-4, B 5-8, B 8-11, A 12-15.
    let mut c = cfg(SimPolicy::Eevdf, 1);
    c.cs_cost_ns = MS;
    let out = simulate(&p, &c).unwrap();
    assert_eq!(fcts(&out), vec![15.0, 11.0]);
}

#[test]
fn las_shares_at_ticks_among_equals_and_protects_the_newcomer() {
    // A (10 ms) at 0, B (2 ms) at 5 ms, 1 ms ticks. B arrives with nothing
    // attained and preempts A (5 ms attained) at once; B runs 5-7.
    let p = Plan::from_jobs(&[("a", 0, cpu(10)), ("b", 5 * MS, cpu(2))]);
    let out = simulate(&p, &cfg(SimPolicy::Las, 1)).unwrap();
    assert_eq!(fcts(&out), vec![12.0, 2.0]);
}

#[test]
fn gittins_bound_serves_the_likely_short_first() {
    // Function "f": three in four invocations take 2 ms, one 40 ms; "g"
    // always takes 10 ms. At 0 an f and a g arrive together: f's index
    // (2 ms / 0.75 = 2.7 ms) beats g's (10 ms), so f runs first.
    let mut jobs = vec![
        ("f", 0, cpu(2)),
        ("g", 0, cpu(10)),
        ("f", 100 * MS, cpu(2)),
        ("f", 200 * MS, cpu(2)),
        ("f", 300 * MS, cpu(40)),
    ];
    jobs.push(("g", 400 * MS, cpu(10)));
    let p = Plan::from_jobs(&jobs);
    let out = simulate(&p, &cfg(SimPolicy::Gittins, 1)).unwrap();
    assert_eq!(fcts(&out)[..2], [2.0, 12.0]);
    // LAS shares instead: both progress, f still done first.
    let out = simulate(&p, &cfg(SimPolicy::Las, 1)).unwrap();
    assert!(fcts(&out)[0] <= 4.0 && fcts(&out)[1] >= 12.0, "{:?}", fcts(&out));
}

/// Training phase of the learning tests: 20 rounds 200 ms apart of an `a`
/// invocation (phases `a_ph`), then a `b` invocation of `b_ms` 100 ms later;
/// the learner (1 s period) has seen both by t = 4 s.
fn training<'a>(a: &'a str, a_ph: Vec<Phase>, b: &'a str, b_ms: u64) -> Vec<(&'a str, u64, Vec<Phase>)> {
    (0..20u64)
        .flat_map(|i| [(a, i * 200 * MS, a_ph.clone()), (b, i * 200 * MS + 100 * MS, cpu(b_ms))])
        .collect()
}

fn alps_cfg(policy: SimPolicy) -> SimConfig {
    let mut c = cfg(policy, 1);
    c.alps.learn_interval_ns = 1000 * MS;
    c
}

#[test]
fn alps_learns_levels_and_preempts_on_wakeup() {
    // 40 spaced-out invocations of a short (5 ms) and a long (50 ms)
    // function teach the learner; then a long one starts at 10 s and a
    // short one arrives 1 ms later: it preempts at once and runs 5 ms.
    for policy in [SimPolicy::Alps, SimPolicy::AlpsIo] {
        let mut jobs = training("short", cpu(5), "long", 50);
        jobs.push(("long", 10_000 * MS, cpu(50)));
        jobs.push(("short", 10_001 * MS, cpu(5)));
        let out = simulate(&Plan::from_jobs(&jobs), &alps_cfg(policy)).unwrap();
        assert_eq!(last2(&out), (55.0, 5.0), "{policy:?}");
        let lv: HashMap<&str, u32> = out.policy_table.iter().map(|(n, f)| (n.as_str(), f.level)).collect();
        assert!(lv["short"] < lv["long"], "{policy:?}: {lv:?}");
        assert!(out.stats.learner_updates >= 10);
    }
}

#[test]
fn alps_io_throttles_the_wake_ups_of_io_bound_functions() {
    // "io" computes 1 ms, sleeps 5 ms, computes 1 ms (I/O-bound: blocked
    // 5/7 of its life). A learned long invocation starts at 10 s; an io
    // invocation arrives at 10.001 s and preempts it (a new invocation is
    // not throttled), sleeps from 10.002 s, and wakes at 10.007 s when the
    // long one has run 5 ms of its new stint. With a 10 ms minimum quantum
    // the wake-up waits for the tick at 10.012 s: io ends at 10.013 s.
    let io = vec![
        Phase::Cpu { ns: MS },
        Phase::Sleep { ns: 5 * MS },
        Phase::Cpu { ns: MS },
    ];
    let mut jobs = training("io", io.clone(), "long", 50);
    jobs.push(("long", 10_000 * MS, cpu(50)));
    jobs.push(("io", 10_001 * MS, io));
    let p = Plan::from_jobs(&jobs);
    let mut c = alps_cfg(SimPolicy::AlpsIo);
    c.alps.min_quantum_ns = 10 * MS;
    let out = simulate(&p, &c).unwrap();
    assert_eq!(last2(&out), (52.0, 12.0));
    assert!(out.stats.throttled >= 1);
    assert!(out.policy_table.iter().any(|(n, f)| n == "io" && f.io_bound()));
    // The ablation without I/O signals lets it preempt at its wake-up.
    c.alps.learner.io_signals = false;
    let out = simulate(&p, &c).unwrap();
    assert_eq!(last2(&out), (52.0, 7.0));
}

#[test]
fn alps_places_unlearned_invocations_by_attained_service() {
    // Nothing learned (the learner never runs): a 100 ms invocation has
    // attained 10 ms when a 5 ms one of another function arrives. The
    // newcomer has attained nothing, ranks better, and runs at once.
    for policy in [SimPolicy::Alps, SimPolicy::AlpsIo] {
        let p = Plan::from_jobs(&[("long", 0, cpu(100)), ("short", 10 * MS, cpu(5))]);
        let mut c = cfg(policy, 1);
        c.alps.learn_interval_ns = 3_600_000 * MS;
        let out = simulate(&p, &c).unwrap();
        assert_eq!(fcts(&out), vec![105.0, 5.0], "{policy:?}");
        // alps-io learns from a function's first completion (short's, at
        // 15 ms); long's, 90 ms later, is within NEWS_MIN_GAP_NS of it.
        let early = if policy == SimPolicy::AlpsIo { 1 } else { 0 };
        assert_eq!(out.stats.learner_updates, early, "{policy:?}");
    }
}

#[test]
fn alps_io_places_a_function_that_outgrew_the_prior_below_learned_work() {
    // Learned: short (5 ms) and mid (20 ms). "big" is never learned: its
    // first invocation (10 s, 1 s of CPU) outgrows the prior (its last step
    // starts at 20 ms, the largest learned size). Its second invocation
    // (10.3 s) then starts at the prior's bottom level, so a mid invocation
    // arriving 1 ms later preempts it and runs its 20 ms at once; taken for
    // "some learned function", big's fresh invocation would rank like a
    // 5-20 ms one and keep the CPU for its first 20 ms.
    let mut jobs = training("short", cpu(5), "mid", 20);
    jobs.push(("big", 10_000 * MS, cpu(1000)));
    jobs.push(("big", 10_300 * MS, cpu(100)));
    jobs.push(("mid", 10_301 * MS, cpu(20)));
    let out = simulate(&Plan::from_jobs(&jobs), &alps_cfg(SimPolicy::AlpsIo)).unwrap();
    let f = fcts(&out);
    assert_eq!(f[f.len() - 1], 20.0, "{:?}", &f[f.len() - 3..]);
}

#[test]
fn las_levels_change_at_ticks() {
    // Two unknown 3 ms invocations, A at 0 and B at 0.2 ms, on one CPU with
    // 1 ms ticks. B waits on A's level until the tick at 1 ms, when A (1 ms
    // attained) has sunk below it; they alternate at level boundaries:
    // B 1-3, A 3-5, B 5-6. At HZ=250 the first tick comes after A is done.
    let p = Plan::from_jobs(&[("a", 0, cpu(3)), ("b", 200_000, cpu(3))]);
    let mut c = cfg(SimPolicy::Alps, 1);
    c.alps.learn_interval_ns = 3_600_000 * MS;
    assert_eq!(fcts(&simulate(&p, &c).unwrap()), vec![5.0, 5.8]);
    c.hz = 250;
    assert_eq!(fcts(&simulate(&p, &c).unwrap()), vec![3.0, 5.8]);
}

#[test]
fn alps_falls_back_to_attained_service_past_the_schedule() {
    // Learned: f takes 10 ms, g 20 ms. A 200 ms invocation of f outgrows its
    // schedule at 10 ms and ranks by what it attained; at 100 ms a g arrives
    // and preempts it.
    let mut jobs = training("f", cpu(10), "g", 20);
    jobs.push(("f", 10_000 * MS, cpu(200)));
    jobs.push(("g", 10_100 * MS, cpu(20)));
    let out = simulate(&Plan::from_jobs(&jobs), &alps_cfg(SimPolicy::AlpsIo)).unwrap();
    assert_eq!(last2(&out), (220.0, 20.0));
    assert!(out.stats.demotions >= 1);
}

#[test]
fn splitting_an_invocation_into_bursts_buys_nothing() {
    // As above, but the 200 ms invocation of f runs in 8 ms bursts (under
    // f's learned 10 ms) with 50 us sleeps between them: its level counts
    // the CPU of the whole invocation, not of the burst, so the g that
    // arrives at 100 ms still preempts it and runs at once.
    let mut split = Vec::new();
    for k in 0..25 {
        if k > 0 {
            split.push(Phase::Sleep { ns: 50_000 });
        }
        split.push(Phase::Cpu { ns: 8 * MS });
    }
    for policy in [SimPolicy::Alps, SimPolicy::AlpsIo] {
        let mut jobs = training("f", cpu(10), "g", 20);
        jobs.push(("f", 10_000 * MS, split.clone()));
        jobs.push(("g", 10_100 * MS, cpu(20)));
        let out = simulate(&Plan::from_jobs(&jobs), &alps_cfg(policy)).unwrap();
        let (f, g) = last2(&out);
        assert!((g - 20.0).abs() < 0.1, "{policy:?}: g took {g} ms");
        assert!(f > 220.0, "{policy:?}: f took {f} ms");
    }
}

#[test]
fn functions_unseen_for_the_ttl_are_learned_afresh() {
    // f and g are learned by t = 4 s; f comes back at 30 s for five
    // invocations, and g at 33 s. With a 10 s ttl the learner has forgotten
    // f by then and learns it from its five new invocations; without one f
    // keeps its 20 old samples too.
    for (flags, samples) in [("--func-ttl-s 10", 5), ("--func-ttl-s 0", 25)] {
        let mut jobs = training("f", cpu(10), "g", 20);
        jobs.push(("g", 12_000 * MS, cpu(20)));
        for k in 0..5 {
            jobs.push(("f", (30_000 + 300 * k) * MS, cpu(10)));
        }
        jobs.push(("g", 33_000 * MS, cpu(20)));
        let mut c = alps_cfg(SimPolicy::AlpsIo);
        c.alps = AlpsModel::from_flags(PolicyKind::AlpsIo, &format!("--learn-interval-ms 1000 {flags}"), 1).unwrap();
        let out = simulate(&Plan::from_jobs(&jobs), &c).unwrap();
        let f = out.policy_table.iter().find(|(n, _)| n == "f").map(|(_, p)| p.samples);
        assert_eq!(f, Some(samples), "{flags}");
    }
}

#[test]
fn running_invocations_send_progress_records_once_per_level() {
    // Two 300 ms invocations share one CPU at ticks: each stint's end may
    // report, but only when it entered a new level from 2 ms on.
    let p = Plan::from_jobs(&[("f", 0, cpu(300)), ("g", 0, cpu(300)), ("h", 0, cpu(1))]);
    let out = simulate(&p, &alps_cfg(SimPolicy::AlpsIo)).unwrap();
    let lv = |ms: u64| scx_alps::policy::size_level(ms * MS) as u64;
    let per_task = lv(300) - lv(2) + 1;
    assert!(out.stats.progress >= 2, "{:?}", out.stats);
    assert!(out.stats.progress <= 2 * per_task, "{:?}", out.stats);
}

#[test]
fn alps_guard_bounds_the_wait_of_a_starved_task() {
    // One CPU: a stream of short tasks keeps it busy; the long function is
    // learned lowest and would never run.
    let mut jobs = training("short", cpu(5), "long", 50);
    jobs.push(("long", 10_000 * MS, cpu(50)));
    for i in 0..1000u64 {
        jobs.push(("short", 10_001 * MS + i * 4 * MS, cpu(4)));
    }
    let p = Plan::from_jobs(&jobs);
    let mut c = alps_cfg(SimPolicy::AlpsIo);
    c.alps.starvation_ns = 200 * MS;
    let out = simulate(&p, &c).unwrap();
    assert!(out.stats.guard_promotions >= 1);
    // Threshold 100 ms + scan period 12.5 ms + a tick.
    assert!(out.stats.max_wait_ns < 200 * MS, "{}", out.stats.max_wait_ns);
    let long = &out.results[40];
    assert!(long.ok && long.fct_ms < 4100.0, "{}", long.fct_ms);
}

#[test]
fn every_policy_is_work_conserving_and_finishes_everything() {
    let mut rng = StdRng::seed_from_u64(3);
    let jobs: Vec<(&str, u64, Vec<Phase>)> = (0..600)
        .map(|i| {
            let t = i as u64 * 3 * MS + rng.random_range(0..MS);
            let phases = if rng.random::<f64>() < 0.4 {
                vec![
                    Phase::Cpu {
                        ns: rng.random_range(1..10) * MS,
                    },
                    Phase::Sleep {
                        ns: rng.random_range(1..50) * MS,
                    },
                    Phase::Cpu { ns: MS },
                ]
            } else {
                vec![Phase::Cpu {
                    ns: rng.random_range(1..40) * MS,
                }]
            };
            (["a", "b", "c", "d"][i % 4], t, phases)
        })
        .collect();
    let p = Plan::from_jobs(&jobs);
    for policy in [
        SimPolicy::Fifo,
        SimPolicy::Eevdf,
        SimPolicy::Alps,
        SimPolicy::AlpsIo,
        SimPolicy::Srpt,
        SimPolicy::Las,
        SimPolicy::Gittins,
    ] {
        for cpus in [1, 4] {
            let mut c = cfg(policy, cpus);
            c.cs_cost_ns = 10_000;
            c.alps.learn_interval_ns = 200 * MS;
            let out = simulate(&p, &c).unwrap();
            assert_eq!(
                out.stats.idle_while_runnable_ns, 0,
                "{policy:?} on {cpus} CPUs idled with work queued"
            );
            assert!(out.results.iter().all(|r| r.ok), "{policy:?}: unfinished invocations");
            // CPU time served equals demand (no work lost or invented).
            let demand: f64 = p.invocations.iter().map(|i| i.cpu_ns() as f64).sum();
            let served: f64 = out.results.iter().map(|r| r.cpu_ms * 1e6).sum();
            assert!((demand - served).abs() < 1.0 * p.invocations.len() as f64, "{policy:?}");
            for (r, inv) in out.results.iter().zip(&p.invocations) {
                assert!(
                    r.fct_ms * 1e6 + 1.0 >= inv.ideal_ns() as f64,
                    "{policy:?}: FCT below ideal"
                );
            }
        }
    }
}

#[test]
fn simulations_are_deterministic() {
    let mut rng = StdRng::seed_from_u64(5);
    let jobs: Vec<(&str, u64, Vec<Phase>)> = (0..2000)
        .map(|i| (["a", "b"][i % 2], i as u64 * 7 * MS, cpu(rng.random_range(1..30))))
        .collect();
    let p = Plan::from_jobs(&jobs);
    for policy in [SimPolicy::Eevdf, SimPolicy::AlpsIo, SimPolicy::Gittins] {
        let mut c = cfg(policy, 2);
        c.alps.learn_interval_ns = 100 * MS;
        let a = simulate(&p, &c).unwrap();
        let b = simulate(&p, &c).unwrap();
        assert_eq!(fcts(&a), fcts(&b));
        assert_eq!(a.stats.events, b.stats.events);
    }
}

#[test]
fn zero_cpus_or_ticks_is_an_error() {
    let p = Plan::from_jobs(&[("a", 0, cpu(1))]);
    assert!(simulate(&p, &cfg(SimPolicy::Fifo, 0)).is_err());
    let mut c = cfg(SimPolicy::Alps, 1);
    c.hz = 0;
    assert!(simulate(&p, &c).is_err());
}
