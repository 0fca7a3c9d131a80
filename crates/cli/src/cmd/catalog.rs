//! `tokenfab catalog`: list, show, schema, import-hf.
use anyhow::Result;
use std::process::ExitCode;
use tokenfab_catalog::Catalog;

/// Flags of `tokenfab catalog`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Print the JSON Schema of catalog files.
    Schema,
}

pub fn run(_catalog: &Catalog, args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Schema => {
            println!("{}", serde_json::to_string_pretty(&tokenfab_catalog::json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
