//! scx_alps: library side of the scheduler.
//!
//! Everything that can run without a kernel lives here, so it is unit tested
//! with plain `cargo test` and shared with the benchmark and the simulator:
//! the learner ([`learner`]), the enforcement rules as the BPF program runs
//! them ([`policy`]), function tagging ([`tagging`], [`layouts`]), the command line
//! ([`opts`]), the pre-load checks ([`preflight`]) and the statistics
//! schema ([`metrics`]).

pub mod bpf_intf;
pub mod layouts;
pub mod learner;
pub mod metrics;
pub mod opts;
pub mod policy;
pub mod preflight;
pub mod sysstat;
pub mod tagging;
pub mod verifier;
