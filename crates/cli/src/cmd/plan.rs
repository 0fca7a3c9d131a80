//! `tokenfab plan` (being built: see the open issue).
use std::process::ExitCode;
use tokenfab_catalog::Catalog;

/// Flags of `tokenfab plan`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Arguments (not yet parsed).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(_catalog: &Catalog, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tokenfab plan` is not available in this build yet")
}
