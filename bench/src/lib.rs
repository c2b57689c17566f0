//! alps-bench: the A/B harness and simulator of scx_alps.
//!
//! - [`trace`]: readers of the public FaaS traces;
//! - [`workload`]: function models and scenarios (plans of CPU bursts and sleeps);
//! - [`exec`]: runs a plan for real, one process per invocation;
//! - [`hostwork`], [`bpfcost`]: probes of work of no function and of BPF cost per callback;
//! - [`runner`]: starts and stops each arm's scheduler and runs the plan under it;
//! - [`report`], [`plot`]: CSV, JSON, Markdown and plots;
//! - [`sim`]: discrete-event simulator of the same plans under models of the schedulers;
//! - [`stats`]: confidence intervals over repetitions;
//! - [`steal`]: CPU the machine's own host took during each repetition;
//! - [`sweep`]: mean and P99 FCT over a range of offered loads;
//! - [`agree`]: the simulator against a VM run, sign per class;
//! - [`vmcheck`]: the pass rules of the scheduler tests in the test VM.

pub mod agree;
pub mod bpfcost;
pub mod exec;
pub mod hostwork;
pub mod lateness;
pub mod plot;
pub mod report;
pub mod runner;
pub mod share;
pub mod sim;
pub mod stats;
pub mod steal;
pub mod sweep;
pub mod trace;
pub mod vmcheck;
pub mod warm;
pub mod workload;
