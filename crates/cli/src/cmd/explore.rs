//! `tokenfab explore` and `tokenfab merge` (being built: see the open issue).
use std::process::ExitCode;
use tokenfab_catalog::Catalog;

/// Flags of `tokenfab explore`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Arguments (not yet parsed).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// Flags of `tokenfab merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Arguments (not yet parsed).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub fn run(_catalog: &Catalog, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tokenfab explore` is not available in this build yet")
}

pub fn merge(_catalog: &Catalog, _args: MergeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tokenfab merge` is not available in this build yet")
}
