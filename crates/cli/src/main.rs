//! `tokenfab`: LLM inference from one operator on one accelerator to a gigawatt fleet.
//!
//! The binary is thin glue: parse flags, read files, call the library crates, print or write
//! results. Exit codes: 0 success, 1 error (message on stderr), 2 usage error (clap),
//! 3 completed with row-level failures (e.g. `predict` rows that could not be predicted).

/// `println!` that returns an error instead of panicking when stdout is closed (a reader such
/// as `head` that stops early): the error is a broken pipe, and `main` exits quietly on it.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($t)*)?
    }};
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($t)*)?
    }};
}

mod cmd;
mod io;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// tokenfab: which chip, how many racks, how many gigawatts, at what latency and cost per token.
#[derive(Parser, Debug)]
#[command(name = "tokenfab", version, about, long_about = None)]
struct Cli {
    /// Extra catalog files (TOML) that override or extend the built-in catalog by id.
    #[arg(long = "catalog", global = true, value_name = "FILE")]
    catalog: Vec<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Browse the catalog: chips, systems, fabrics, models; JSON Schema; import a HF config.
    Catalog(cmd::catalog::Args),
    /// Predict operator or step latency and power from a CSV (Contract 1).
    Predict(cmd::predict::Args),
    /// One engine step's breakdown per operator class.
    Step(cmd::step::Args),
    /// Compare predictions with measurements (Contract 2).
    Validate(cmd::validate::Args),
    /// Discrete-event simulation of a serving deployment under a workload.
    Simulate(cmd::simulate::Args),
    /// Workload traces and generators: stats, fit, gen.
    Workload(cmd::workload::Args),
    /// Fleet planner: demand to racks, megawatts and cost, quarter by quarter.
    Plan(cmd::plan::Args),
    /// Design-space exploration of a custom accelerator.
    Explore(cmd::explore::Args),
    /// Merge sharded sweep outputs.
    Merge(cmd::explore::MergeArgs),
    /// Run again what a run directory's run.toml records; compare summary.json byte for byte.
    Repeat(cmd::repeat::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = io::load_catalog(&cli.catalog).and_then(|catalog| match cli.command {
        Command::Catalog(a) => cmd::catalog::run(&catalog, a),
        Command::Predict(a) => cmd::predict::run(&catalog, a),
        Command::Step(a) => cmd::step::run(&catalog, a),
        Command::Validate(a) => cmd::validate::run(&catalog, a),
        Command::Simulate(a) => cmd::simulate::run(&catalog, a),
        Command::Workload(a) => cmd::workload::run(&catalog, a),
        Command::Plan(a) => cmd::plan::run(&catalog, a),
        Command::Explore(a) => cmd::explore::run(&catalog, a),
        Command::Merge(a) => cmd::explore::merge(&catalog, a),
        Command::Repeat(a) => cmd::repeat::run(&catalog, a),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
