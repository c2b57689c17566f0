//! alps-bench: A/B benchmark of scx_alps against the kernel's default
//! scheduler on real FaaS traces, and a simulator of the same plans.

mod cli;
mod cmd;

use clap::Parser;

use cli::{Cli, Cmd};

fn main() {
    let cli = Cli::parse();
    let _ = simplelog::TermLogger::init(
        simplelog::LevelFilter::Info,
        simplelog::ConfigBuilder::new()
            .set_time_level(simplelog::LevelFilter::Off)
            .set_target_level(simplelog::LevelFilter::Off)
            .build(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    );
    let r = match cli.cmd {
        Cmd::Ab(a) => cmd::ab::run(a),
        Cmd::Plan(p) => cmd::plan::plan(p),
        Cmd::Verify(v) => cmd::plan::verify(v),
        Cmd::Sim(a) => cmd::sim::run(a),
        Cmd::SimSpeed(a) => cmd::sim::speed(a),
        Cmd::Sandbox(a) => cmd::sandbox::run(a),
        Cmd::HostWork(a) => cmd::hostwork::run(a),
        Cmd::BpfCost(a) => cmd::bpfcost::run(a),
        Cmd::Replay(r) => cmd::replay::run(r),
        Cmd::Sweep(a) => cmd::sweep::run(a),
        Cmd::Agree(a) => cmd::agree::run(a),
        Cmd::Guest(a) => cmd::guest(a),
        Cmd::Vmtest(a) => cmd::vmtest::run(a),
        Cmd::ShareLoad(a) => {
            let spec = alps_bench::share::ShareSpec::standard(a.parent);
            alps_bench::share::generate(&spec).map(|cpu| println!("{}", serde_json::json!(cpu)))
        }
        Cmd::Burn => loop {
            alps_bench::exec::burn_cpu(1_000_000_000);
        },
    };
    if let Err(e) = r {
        eprintln!("alps-bench: error: {e:#}");
        std::process::exit(1);
    }
}
