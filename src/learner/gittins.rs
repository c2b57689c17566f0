//! Gittins-index level schedules from a function's observed invocation sizes.
//!
//! SRPT needs each job's remaining size; a scheduler only knows the size
//! distribution of the job's function. For a job of unknown size S drawn from
//! a known distribution, the policy that minimises mean response time on one
//! server is the Gittins index policy (Gittins 1989; for M/G/1 scheduling see
//! Aalto, Ayesta & Righter, "On the Gittins index in the M/G/1 queue",
//! Queueing Systems 63, 2009): after `a` of service, serve the job with the
//! largest index
//!
//! ```text
//! G(a) = sup_{d > 0} P(S - a <= d | S > a) / E[min(S - a, d) | S > a]
//! ```
//!
//! Here the index is used as its inverse, the rank size `r(a) = 1 / G(a)`
//! (ns): for a known size `s` it is the remaining work `s - a` (SRPT); for a
//! function whose invocations vary it accounts for how likely the task is to
//! finish soon. Rank sizes share one scale with the attained service of
//! unknown work (least attained service), so both meet on the same levels.
//!
//! The distribution is the function's recent invocations. They are grouped
//! into at most [`crate::policy::SCHED_STEPS`] clusters (value = the largest
//! member, so every completion point is kept or moved later); between two
//! cluster values the conditional distribution is fixed and each candidate
//! threshold gives a line in `a`. A step keeps the line that is lowest at the
//! segment's start, an upper bound on `r` over the segment that is exact at
//! its start and, for a function of one size, everywhere.

use super::Step;

/// Largest rank size a step may hold (so that `(target - a) * mult` cannot
/// overflow in BPF): about 18 minutes.
pub const MAX_TARGET_NS: u64 = 1 << 40;

/// Cluster values and counts of `samples_ns` (any order), at most `max`
/// clusters, in increasing value order. Samples are first grouped by their
/// half-octave level; then the two neighbours closest in ratio merge until at
/// most `max` remain.
pub fn clusters(samples_ns: &[u64], max: usize) -> Vec<(u64, u32)> {
    let mut v: Vec<u64> = samples_ns.iter().map(|&s| s.clamp(1, MAX_TARGET_NS)).collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u32)> = Vec::new();
    for s in v {
        match out.last_mut() {
            Some((val, n)) if crate::policy::size_level(*val) == crate::policy::size_level(s) => {
                *val = s;
                *n += 1;
            }
            _ => out.push((s, 1)),
        }
    }
    merge_to(out, max)
}

/// Merges the neighbours of `cl` (increasing values) closest in ratio,
/// keeping the larger value and adding the counts, until at most `max`
/// clusters remain.
pub fn merge_to(mut cl: Vec<(u64, u32)>, max: usize) -> Vec<(u64, u32)> {
    while cl.len() > max.max(1) {
        let i = (0..cl.len() - 1)
            .min_by(|&a, &b| {
                let ra = cl[a + 1].0 as f64 / cl[a].0 as f64;
                let rb = cl[b + 1].0 as f64 / cl[b].0 as f64;
                ra.total_cmp(&rb)
            })
            .expect("at least two clusters");
        let (_, n) = cl.remove(i);
        cl[i].1 = cl[i].1.saturating_add(n);
    }
    cl
}

/// Gittins rank size after `attained_ns` of service for the empirical
/// distribution given by `clusters` (exact, for tests and reports). None
/// once `attained_ns` reaches the largest value (nothing left to predict).
pub fn rank_size(clusters: &[(u64, u32)], attained_ns: u64) -> Option<f64> {
    let first = clusters.iter().position(|&(v, _)| v > attained_ns)?;
    let rest = &clusters[first..];
    let total: f64 = rest.iter().map(|&(_, n)| n as f64).sum();
    let a = attained_ns as f64;
    let mut best = f64::INFINITY;
    let mut done = 0.0;
    let mut served_done = 0.0;
    for &(vj, nj) in rest {
        done += nj as f64;
        served_done += nj as f64 * (vj as f64 - a);
        let work = served_done + (total - done) * (vj as f64 - a);
        best = best.min(work / done);
    }
    Some(best)
}

/// The level schedule of a function with invocation sizes `samples_ns`: one
/// step per cluster (at most `max_steps`), each a line `r(a) = (target - a)
/// * mult_q8 / 256` valid while `a < until`. Empty for no samples.
pub fn steps(samples_ns: &[u64], max_steps: usize) -> Vec<Step> {
    steps_of(&clusters(samples_ns, max_steps))
}

/// The schedule of the empirical distribution given by `cl` (increasing
/// values, each with its count): one step per cluster.
pub fn steps_of(cl: &[(u64, u32)]) -> Vec<Step> {
    let mut out = Vec::with_capacity(cl.len());
    let mut start = 0u64;
    for k in 0..cl.len() {
        let rest = &cl[k..];
        let total: u64 = rest.iter().map(|&(_, n)| n as u64).sum();
        // Candidate thresholds j: P_j = sum over the rest of min(s, v_j), the
        // expected work to v_j times `total`; cnt_j = completions by v_j.
        let mut best: Option<(f64, u64, u64)> = None;
        let mut cnt = 0u64;
        let mut below = 0u64;
        for &(vj, nj) in rest {
            cnt += nj as u64;
            below += nj as u64 * vj;
            let p = below + (total - cnt) * vj;
            // Line value at the segment start: (P_j - total * start) / cnt.
            let at_start = (p as f64 - total as f64 * start as f64) / cnt as f64;
            if best.is_none_or(|(b, _, _)| at_start < b) {
                best = Some((at_start, p, cnt));
            }
        }
        let (_, p, c) = best.expect("a cluster has at least one sample");
        let target = (p / total).min(MAX_TARGET_NS);
        let mult = ((256 * total).div_ceil(c)).min(u32::MAX as u64) as u32;
        out.push(Step {
            until_ns: cl[k].0,
            target_ns: target,
            mult_q8: mult,
        });
        start = cl[k].0;
    }
    out
}

/// How far past the largest size seen the prior's constant rank reaches,
/// in multiples of that size.
pub const PRIOR_REACH: u64 = 32;

/// The size distribution of "some function of this host": the mixture of
/// the functions' distributions `funcs` (each as clusters of increasing
/// value), every function weighing one [`super::sizes::SAMPLE_UNIT`]
/// whatever its invocation rate, grouped by half-octave level (value = the
/// largest member), in increasing value order.
///
/// Weighting by invocation would describe "some invocation": a host's
/// invocations are mostly the few frequent short functions, and the
/// functions a learner has not seen yet are the rare ones (most FaaS
/// functions are invoked rarely) and, after a restart or under overload,
/// the long ones (the short ones complete, and are learned, first).
pub fn mixture(funcs: impl IntoIterator<Item = Vec<(u64, u32)>>) -> Vec<(u64, u32)> {
    let unit = super::sizes::SAMPLE_UNIT as f64;
    let mut all: Vec<(u64, u32)> = Vec::new();
    for cl in funcs {
        let total: f64 = cl.iter().map(|&(_, n)| n as f64).sum();
        if total <= 0.0 {
            continue;
        }
        all.extend(cl.iter().filter(|&&(_, n)| n > 0).map(|&(v, n)| {
            (
                v.clamp(1, MAX_TARGET_NS),
                ((n as f64 * unit / total).round() as u32).max(1),
            )
        }));
    }
    all.sort_unstable();
    let mut out: Vec<(u64, u32)> = Vec::new();
    for (v, n) in all {
        match out.last_mut() {
            Some((val, m)) if crate::policy::size_level(*val) == crate::policy::size_level(v) => {
                *val = v;
                *m = m.saturating_add(n);
            }
            _ => out.push((v, n)),
        }
    }
    out
}

/// The schedule for invocations of functions not learned yet (the prior):
/// the Gittins index of the distribution `cl` (clusters of increasing
/// value, normally the [`mixture`] of the learned functions; at most
/// `max_steps - 1` clusters after merging), then, from the largest size
/// seen to [`PRIOR_REACH`] times it, a constant rank size of twice the
/// larger of that size and `known_max_ns` (the largest size of any learned
/// function), then (past the schedule) least attained service.
///
/// Past the largest size seen nothing is known. Least attained service
/// there makes equally large invocations share the CPU and finish together,
/// late, and under overload none finishes, so their function is never
/// learned. At one constant level they run oldest first: the oldest
/// finishes, its function is learned at the next update, and the rest of
/// its invocations move to their own schedule. The level is below every
/// learned function's, so that such work waits for known work rather than
/// known work for it. Empty for no clusters.
pub fn prior_steps(cl: Vec<(u64, u32)>, known_max_ns: u64, max_steps: usize) -> Vec<Step> {
    let mut out = steps_of(&merge_to(cl, max_steps.saturating_sub(1).max(1)));
    if let Some(top) = out.last().map(|s| s.until_ns) {
        let rank = top.max(known_max_ns).saturating_mul(2).min(MAX_TARGET_NS);
        let until = top.saturating_mul(PRIOR_REACH).max(rank).min(MAX_TARGET_NS);
        out.push(Step::constant(until, rank));
    }
    out
}

/// Weight of the pseudo-invocation past a learned function's largest size,
/// in [`super::sizes::SAMPLE_UNIT`]s: a sixteenth of an invocation.
pub const PAST_WEIGHT: u32 = super::sizes::SAMPLE_UNIT / 16;

/// The schedule of a learned function whose sizes are the clusters `cl`
/// (increasing values, one invocation counting
/// [`super::sizes::SAMPLE_UNIT`]): their Gittins index, at most
/// `max_steps - 1` clusters, plus a pseudo-invocation of [`PAST_WEIGHT`] at
/// twice the largest size. An invocation that outgrows every size seen
/// (its function's recent invocations miss a larger size, or it misbehaves)
/// then ranks by what it would need to reach twice that size, which keeps
/// it ahead of the function's fresh invocations until it finishes and the
/// learner sees its size; past twice, least attained service.
pub fn learned_steps(cl: Vec<(u64, u32)>, max_steps: usize) -> Vec<Step> {
    let mut cl = merge_to(cl, max_steps.saturating_sub(1).max(1));
    if let Some(&(top, _)) = cl.last() {
        cl.push((top.saturating_mul(2).min(MAX_TARGET_NS), PAST_WEIGHT));
    }
    steps_of(&cl)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn eval(steps: &[Step], a: u64) -> Option<f64> {
        steps.iter().find(|s| a < s.until_ns).map(|s| {
            if s.mult_q8 == 0 {
                s.target_ns as f64
            } else {
                s.target_ns.saturating_sub(a) as f64 * s.mult_q8 as f64 / 256.0
            }
        })
    }

    #[test]
    fn one_size_is_srpt() {
        let s = steps(&[100 * MS; 10], 12);
        assert_eq!(s, vec![Step::linear(100 * MS, 100 * MS, 256)]);
        assert_eq!(
            rank_size(&clusters(&[100 * MS; 3], 12), 40 * MS),
            Some(60.0 * MS as f64)
        );
        assert_eq!(rank_size(&clusters(&[100 * MS; 3], 12), 100 * MS), None);
    }

    #[test]
    fn mostly_short_functions_start_near_their_short_size() {
        // Three in four invocations take 10 ms, one takes 50 ms. At a = 0 the
        // best threshold is 10 ms: E[min(S, 10)] / P(S <= 10) = 10 / 0.75.
        let samples = [10 * MS, 10 * MS, 10 * MS, 50 * MS];
        let cl = clusters(&samples, 12);
        assert_eq!(cl, vec![(10 * MS, 3), (50 * MS, 1)]);
        let r0 = rank_size(&cl, 0).unwrap();
        assert!((r0 / MS as f64 - 13.333).abs() < 0.01, "{r0}");
        let s = steps(&samples, 12);
        assert_eq!(s.len(), 2);
        assert!((eval(&s, 0).unwrap() / MS as f64 - 13.333).abs() < 0.05);
        // Past 10 ms only the 50 ms invocation is left: SRPT on it.
        assert_eq!(eval(&s, 20 * MS), Some(30.0 * MS as f64));
        assert_eq!(rank_size(&cl, 20 * MS), Some(30.0 * MS as f64));
        assert_eq!(eval(&s, 50 * MS), None);
    }

    #[test]
    fn steps_bound_the_exact_index_from_above_and_meet_it_at_segment_starts() {
        let samples: Vec<u64> = (1..=40).map(|i| (i * i) as u64 * MS / 4).collect();
        let cl = clusters(&samples, 12);
        let s = steps(&samples, 12);
        assert!(s.len() <= 12 && s.len() == cl.len());
        let mut start = 0;
        for st in &s {
            let exact = rank_size(&cl, start).unwrap();
            let approx = eval(&s, start).unwrap();
            assert!(
                (approx - exact).abs() <= exact * 0.01 + 256.0,
                "{start}: {approx} vs {exact}"
            );
            for a in (start..st.until_ns).step_by(((st.until_ns - start) / 7).max(1) as usize) {
                let exact = rank_size(&cl, a).unwrap();
                assert!(eval(&s, a).unwrap() + 256.0 >= exact, "{a}: below the index");
            }
            start = st.until_ns;
        }
    }

    #[test]
    fn clusters_merge_nearest_neighbours_down_to_the_step_count() {
        // 1, 2, 4, ... 2^19 ms: 20 octaves, one cluster each, merged to 12.
        let samples: Vec<u64> = (0..20).map(|k| MS << k).collect();
        let cl = clusters(&samples, 12);
        assert_eq!(cl.len(), 12);
        assert_eq!(cl.iter().map(|&(_, n)| n).sum::<u32>(), 20);
        assert_eq!(cl.last().unwrap().0, MS << 19);
        // Values only move up: every completion point is kept or later.
        assert!(cl.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(steps(&[], 12).is_empty());
        // Zero-length samples count as 1 ns.
        assert_eq!(clusters(&[0], 12), vec![(1, 1)]);
    }

    #[test]
    fn the_prior_ranks_oldest_first_past_the_largest_size_seen() {
        // Seen: 20 invocations of 5 ms. From 5 ms to 160 ms every unlearned
        // invocation ranks as 10 ms (one level: oldest first), then by what
        // it attained.
        let five = || vec![(5 * MS, 20)];
        let s = prior_steps(five(), 0, 12);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1], Step::constant(160 * MS, 10 * MS));
        // With a learned function of 40 ms, below it.
        assert_eq!(prior_steps(five(), 40 * MS, 12)[1], Step::constant(160 * MS, 80 * MS));
        assert_eq!(prior_steps(five(), 200 * MS, 12)[1], Step::constant(400 * MS, 400 * MS));
        assert_eq!(eval(&s, 6 * MS), Some(10.0 * MS as f64));
        assert_eq!(eval(&s, 150 * MS), Some(10.0 * MS as f64));
        assert_eq!(eval(&s, 160 * MS), None);
        // Below it, the Gittins index of what was seen: SRPT on 5 ms.
        assert_eq!(eval(&s, 2 * MS), Some(3.0 * MS as f64));
        assert!(prior_steps(vec![], 0, 12).is_empty());
    }

    #[test]
    fn the_mixture_weighs_each_function_once() {
        // A frequent 1 ms function (1000 samples) and a rare 100 ms one (2
        // samples): in the mixture each is half, so an unlearned invocation
        // is not taken for a 1 ms one.
        let m = mixture(vec![vec![(MS, 1000 * 1024)], vec![(100 * MS, 2 * 1024)], vec![]]);
        assert_eq!(m, vec![(MS, 1024), (100 * MS, 1024)]);
        // Same level: one cluster with the larger value.
        let m = mixture(vec![vec![(40 * MS, 3)], vec![(41 * MS, 1)]]);
        assert_eq!(m, vec![(41 * MS, 2048)]);
        // Rank at a = 0: min(2 * 1 ms / 1, (1 + 100) ms / 2) = 2 ms, where
        // the invocation-weighted window would give about 1 ms.
        let s = prior_steps(mixture(vec![vec![(MS, 1000)], vec![(100 * MS, 2)]]), 0, 12);
        assert_eq!(eval(&s, 0), Some(2.0 * MS as f64));
        // Past 1 ms, SRPT on 100 ms.
        assert_eq!(eval(&s, 50 * MS), Some(50.0 * MS as f64));
    }
}
