//! The simulator against queueing theory: M/M/1 under FCFS, processor
//! sharing and preemptive SRPT; M/G/1 under processor sharing, FCFS and
//! least attained service; and the Gittins bound between them.

use alps_bench::sim::{SimConfig, SimOutput, SimPolicy, simulate};
use alps_bench::workload::{Phase, Plan};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};

const MS: u64 = 1_000_000;

fn cfg(policy: SimPolicy) -> SimConfig {
    SimConfig {
        cpus: 1,
        policy,
        cs_cost_ns: 0,
        ..SimConfig::default()
    }
}

fn poisson_plan(n: usize, lambda_per_ms: f64, sizes: impl Fn(&mut StdRng) -> f64, seed: u64) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    let iat = Exp::new(lambda_per_ms).unwrap();
    let mut t = 0.0;
    let jobs: Vec<(&str, u64, Vec<Phase>)> = (0..n)
        .map(|_| {
            t += iat.sample(&mut rng);
            let s = sizes(&mut rng);
            (
                "f",
                (t * MS as f64) as u64,
                vec![Phase::Cpu {
                    ns: (s * MS as f64).max(1.0) as u64,
                }],
            )
        })
        .collect();
    Plan::from_jobs(&jobs)
}

fn mean_fct(out: &SimOutput) -> f64 {
    out.results.iter().map(|r| r.fct_ms).sum::<f64>() / out.results.len() as f64
}

/// Mean response time of M/M/1 under preemptive SRPT (Schrage & Miller
/// 1966), integrated numerically: sizes Exp(mu), arrivals Poisson(lambda).
fn srpt_mm1(lambda: f64, mu: f64) -> f64 {
    let f = |x: f64| mu * (-mu * x).exp();
    let upper = 40.0 / mu;
    let steps = 40_000;
    let h = upper / steps as f64;
    // Running integrals of t f(t) and t^2 f(t), and of 1/(1-rho(t)).
    let (mut m1, mut m2, mut inv) = (0.0, 0.0, 0.0);
    let mut total = 0.0;
    for i in 0..steps {
        let x = (i as f64 + 0.5) * h;
        let fx = f(x);
        m1 += x * fx * h;
        m2 += x * x * fx * h;
        let rho = lambda * m1;
        inv += h / (1.0 - rho);
        let tail = (-mu * x).exp();
        let waiting = (lambda * m2 + lambda * x * x * tail) / (2.0 * (1.0 - rho) * (1.0 - rho));
        total += (waiting + inv) * fx * h;
    }
    total
}

#[test]
fn mm1_fifo_ps_and_srpt_match_queueing_theory() {
    // rho = 0.7: mean size 10 ms, 0.07 arrivals per ms.
    let (lambda, mean) = (0.07, 10.0);
    let exp = Exp::new(1.0 / mean).unwrap();
    let p = poisson_plan(200_000, lambda, |r| exp.sample(r), 7);
    let fifo = mean_fct(&simulate(&p, &cfg(SimPolicy::Fifo)).unwrap());
    let fcfs_theory = 1.0 / (1.0 / mean - lambda); // 33.3 ms
    assert!(
        (fifo - fcfs_theory).abs() / fcfs_theory < 0.05,
        "FIFO {fifo} vs {fcfs_theory}"
    );
    // Processor sharing (the fair model with a slice far below the mean
    // size) has the same mean in M/M/1.
    let mut fair = cfg(SimPolicy::Eevdf);
    fair.fair_slice_ns = 250_000;
    fair.fair_min_gran_ns = 0;
    let ps = mean_fct(&simulate(&p, &fair).unwrap());
    assert!(
        (ps - fcfs_theory).abs() / fcfs_theory < 0.05,
        "PS {ps} vs {fcfs_theory}"
    );
    let srpt = mean_fct(&simulate(&p, &cfg(SimPolicy::Srpt)).unwrap());
    let srpt_theory = srpt_mm1(lambda, 1.0 / mean);
    assert!(
        (srpt - srpt_theory).abs() / srpt_theory < 0.05,
        "SRPT {srpt} vs {srpt_theory}"
    );
    assert!(srpt < fifo);
    // Exponential sizes are memoryless: every size-blind policy has the PS
    // mean, the Gittins index included (its index is constant).
    let git = mean_fct(&simulate(&p, &cfg(SimPolicy::Gittins)).unwrap());
    assert!((git - fcfs_theory).abs() / fcfs_theory < 0.08, "Gittins {git}");
}

#[test]
fn mg1_fair_share_las_and_gittins_follow_theory() {
    // Bimodal sizes (90 % 2 ms, 10 % 82 ms: mean 10 ms), rho = 0.7.
    // Processor sharing is insensitive: E[T] = E[S] / (1 - rho) = 33.3 ms,
    // while FCFS suffers the variance (Pollaczek-Khinchine: 88.9 ms).
    let lambda = 0.07;
    let p = poisson_plan(
        100_000,
        lambda,
        |r| if r.random::<f64>() < 0.9 { 2.0 } else { 82.0 },
        11,
    );
    let mut c = cfg(SimPolicy::Eevdf);
    c.fair_slice_ns = 250_000;
    c.fair_min_gran_ns = 0;
    let ps = mean_fct(&simulate(&p, &c).unwrap());
    let ps_theory = 10.0 / (1.0 - 0.7);
    assert!((ps - ps_theory).abs() / ps_theory < 0.05, "PS {ps} vs {ps_theory}");
    let fifo = mean_fct(&simulate(&p, &cfg(SimPolicy::Fifo)).unwrap());
    let pk = 10.0 + lambda * (0.9 * 4.0 + 0.1 * 82.0 * 82.0) / (2.0 * 0.3);
    assert!((fifo - pk).abs() / pk < 0.05, "FCFS {fifo} vs {pk}");
    // Least attained service (foreground-background) follows its M/G/1
    // formula (Kleinrock, Queueing Systems vol. 2, 4.6):
    // T(x) = lambda m2(x) / (2 (1 - rho_x)^2) + x / (1 - rho_x), with
    // m2(x) = E[min(S, x)^2] and rho_x = lambda E[min(S, x)]. Here it loses to
    // PS (55.9 ms): LAS shares the CPU among the long jobs. The Gittins index
    // serves new jobs first and then the long job closest to done, and beats
    // both; clairvoyant SRPT beats it.
    let fb = |x: f64, m1: f64, m2: f64| {
        let rho = lambda * m1;
        lambda * m2 / (2.0 * (1.0 - rho) * (1.0 - rho)) + x / (1.0 - rho)
    };
    let las_theory = 0.9 * fb(2.0, 2.0, 4.0) + 0.1 * fb(82.0, 10.0, 0.9 * 4.0 + 0.1 * 82.0 * 82.0);
    let las = mean_fct(&simulate(&p, &cfg(SimPolicy::Las)).unwrap());
    assert!(
        (las - las_theory).abs() / las_theory < 0.05,
        "LAS {las} vs {las_theory}"
    );
    let git = mean_fct(&simulate(&p, &cfg(SimPolicy::Gittins)).unwrap());
    let srpt = mean_fct(&simulate(&p, &cfg(SimPolicy::Srpt)).unwrap());
    assert!(git < ps && git < las, "Gittins {git} vs PS {ps}, LAS {las}");
    assert!(srpt < git, "SRPT {srpt} vs Gittins {git}");
}
