//! One module per subcommand: flags (`Args`) and `run`.
pub mod catalog;
pub mod explore;
pub mod mlperf;
pub mod plan;
pub mod predict;
pub mod repeat;
pub mod simulate;
pub mod step;
pub mod throughput;
pub mod validate;
pub mod workload;
