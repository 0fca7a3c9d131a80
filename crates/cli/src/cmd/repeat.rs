//! `tokenfab repeat RUN`: runs again what a run directory's `run.toml` records (`simulate`,
//! `plan`, `explore`, `merge`) and compares the new `summary.json` with the recorded one,
//! byte for byte.
//!
//! The record holds everything the run read: the scenario (and, for a trace replay, the trace's
//! directory and SHA-256), the seed, the what-if flags, the design space, and the digests of any
//! `--catalog` files. A repeat refuses to run when an input it cannot embed has changed (a trace
//! or catalog file whose digest differs) and warns when the tokenfab version differs.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokenfab_catalog::Catalog;
use tokenfab_report::{RunRecord, sha256_hex};

/// Flags of `tokenfab repeat`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  tokenfab simulate --out runs/a && tokenfab repeat runs/a\n  \
tokenfab repeat runs/plan/run.toml --out runs/plan-again\n  \
tokenfab --catalog my-chips.toml repeat runs/b     # a run that used --catalog needs the same files")]
pub struct Args {
    /// A run directory (holding run.toml), or a run.toml file.
    #[arg(value_name = "RUN")]
    run: PathBuf,
    /// Write the repeated run's outputs here (default: a temporary directory, removed
    /// afterwards, so that only the comparison is reported).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Refuses a run record (`run.toml`) where a command expects its own input file, and says what
/// to do with it instead.
pub fn refuse_run_record(file: &str, text: &str) -> Result<()> {
    if let Ok(t) = text.parse::<toml::Table>()
        && t.contains_key("command")
        && t.contains_key("inputs")
    {
        bail!("{file} is a run record (run.toml), not an input file: repeat that run with `tokenfab repeat {file}`");
    }
    Ok(())
}

/// A string in the recorded inputs, or an error naming the field.
pub fn input_str<'a>(inputs: &'a toml::Table, key: &str, file: &str) -> Result<&'a str> {
    inputs.get(key).and_then(toml::Value::as_str).with_context(|| {
        format!("{file}: inputs.{key}: missing or not a string (was this run recorded by an older tokenfab?)")
    })
}

/// A table in the recorded inputs, or an error naming the field.
pub fn input_table<'a>(inputs: &'a toml::Table, key: &str, file: &str) -> Result<&'a toml::Table> {
    inputs.get(key).and_then(toml::Value::as_table).with_context(|| {
        format!("{file}: inputs.{key}: missing or not a table (was this run recorded by an older tokenfab?)")
    })
}

/// Removes a temporary output directory when dropped (also on errors).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tokenfab repeat`. Exit 0 when the new summary.json is identical to the recorded one
/// (or there is none to compare with), 1 when it differs.
pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    let toml_path = if args.run.is_dir() { args.run.join("run.toml") } else { args.run.clone() };
    let run_dir = toml_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let file = toml_path.display().to_string();
    let text = crate::io::read_text(&toml_path)?;
    let record = RunRecord::from_toml(&file, &text)?;
    check_catalog(&record, &file)?;
    let version = env!("CARGO_PKG_VERSION");
    if record.tokenfab_version != version {
        eprintln!(
            "warning: {file} was written by tokenfab {}; this is {version}: results may differ",
            record.tokenfab_version
        );
    }
    let (out, _temp) = match &args.out {
        Some(o) => {
            let same = match (std::fs::canonicalize(o), std::fs::canonicalize(&run_dir)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same {
                bail!("--out {}: that is the recorded run's own directory; choose another", o.display());
            }
            (o.clone(), None)
        }
        None => {
            let t = std::env::temp_dir().join(format!("tokenfab-repeat-{}", std::process::id()));
            (t.clone(), Some(TempDir(t)))
        }
    };
    let code = match record.command.as_str() {
        "simulate" => crate::cmd::simulate::repeat(catalog, &record, &file, &out)?,
        "plan" => crate::cmd::plan::repeat(catalog, &record, &file, &out)?,
        "explore" | "merge" => crate::cmd::explore::repeat(catalog, &record, &file, &out)?,
        other => bail!("{file}: command `{other}` cannot be repeated (simulate, plan, explore and merge can)"),
    };
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    compare(&run_dir.join("summary.json"), &out.join("summary.json"), args.out.is_some())
}

/// Refuses a repeat whose `--catalog` files differ from the recorded ones.
fn check_catalog(record: &RunRecord, file: &str) -> Result<()> {
    let now = crate::io::catalog_files();
    let digests = |v: &[tokenfab_report::RecordedFile]| v.iter().map(|f| f.sha256.clone()).collect::<Vec<_>>();
    if digests(&record.catalog_files) == digests(&now) {
        return Ok(());
    }
    let list = |v: &[tokenfab_report::RecordedFile]| {
        if v.is_empty() {
            "the built-in catalog only".to_string()
        } else {
            v.iter().map(|f| format!("{} (sha256 {})", f.path, f.sha256)).collect::<Vec<_>>().join(", ")
        }
    };
    bail!(
        "{file}: the run used {}; this repeat has {}. Pass the same files with --catalog, unchanged",
        list(&record.catalog_files),
        list(&now)
    )
}

/// Compares the recorded and the repeated summary.json and says so on stdout.
fn compare(recorded: &Path, repeated: &Path, kept: bool) -> Result<ExitCode> {
    let new = std::fs::read(repeated).with_context(|| format!("cannot read {}", repeated.display()))?;
    let new_sha = sha256_hex(&new);
    let Ok(old) = std::fs::read(recorded) else {
        outln!("repeat: no {} to compare with; the repeated summary.json has sha256 {new_sha}", recorded.display());
        return Ok(ExitCode::SUCCESS);
    };
    let old_sha = sha256_hex(&old);
    let where_ = if kept {
        format!(" ({})", repeated.display())
    } else {
        " (outputs written to a temporary directory and removed; keep them with --out DIR)".to_string()
    };
    if old == new {
        outln!("repeat: summary.json identical to {} (sha256 {new_sha}){where_}", recorded.display());
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            "repeat: summary.json DIFFERS from {}: sha256 {old_sha} recorded, {new_sha} now{where_}",
            recorded.display()
        );
        Ok(ExitCode::from(1))
    }
}
