//! `tokenfab explore` and `tokenfab merge`: custom-accelerator design-space exploration.
//!
//! `explore [SPACE.toml]` evaluates a design space (the built-in `custom-asic` without a file)
//! and writes `summary.json`, `pareto.csv`/`.parquet`, `designs.csv`/`.parquet`,
//! `catalog.csv`/`.parquet`, `report.html` and `run.toml` into `--out`. With `--shard I/N` it
//! evaluates every N-th design starting at I and writes only `shard-I-of-N.json`; `merge`
//! joins such files and writes the same outputs a single run would.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tokenfab_catalog::Catalog;
use tokenfab_explore::output::{self, Confirmation};
use tokenfab_explore::run::frontier_of;
use tokenfab_explore::{Explorer, Shard, ShardFile, Space};
use tokenfab_report::{write_atomic, write_table};

/// Flags of `tokenfab explore`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Design-space file (TOML); without it, the built-in space `custom-asic`.
    #[arg(value_name = "SPACE.toml")]
    space: Option<PathBuf>,
    /// Output directory (default: `explore-<space name>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Evaluate only shard I of N (0-based) and write `shard-I-of-N.json`; join with `merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Seed (design sampling with `[search] sample`, and the simulated request streams).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Skip confirming the frontier with the simulator (analytic numbers only).
    #[arg(long)]
    no_sim: bool,
}

/// Flags of `tokenfab merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard files, or directories holding `shard-*.json` files.
    #[arg(value_name = "DIR", required = true)]
    inputs: Vec<PathBuf>,
    /// Output directory for the merged results.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Skip confirming the frontier with the simulator (analytic numbers only).
    #[arg(long)]
    no_sim: bool,
}

pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    let space = match &args.space {
        Some(path) => {
            let text = crate::io::read_text(path)?;
            crate::cmd::repeat::refuse_run_record(&path.display().to_string(), &text)?;
            Space::from_toml(&path.display().to_string(), &text)?
        }
        None => Space::builtin()?,
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("explore-{}", space.file.name)));
    let explorer = Explorer::new(&space, catalog)?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let n = explorer.shard_len(args.seed, shard);
    let bar = progress_bar(n);
    let t0 = Instant::now();
    let result = explorer.run(args.seed, shard, &|| bar.inc(1));
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "explore: space {} ({} designs), shard {}/{}: {} evaluated in {secs:.1} s, {} feasible",
        space.file.name,
        result.designs_total,
        shard.index,
        shard.count,
        result.designs_evaluated,
        result.results.len()
    );
    if args.shard.is_some() {
        let path = out.join(format!("shard-{}-of-{}.json", shard.index, shard.count));
        let json = serde_json::to_string(&result).context("cannot serialize the shard")?;
        write_atomic(&path, json.as_bytes())?;
        eprintln!("wrote {}; join all shards with `tokenfab merge {} --out DIR`", path.display(), out.display());
        return Ok(ExitCode::SUCCESS);
    }
    write_outputs(&out, &explorer, &result, "explore", !args.no_sim)?;
    Ok(ExitCode::SUCCESS)
}

/// `tokenfab repeat` of an `explore` (or `merge`) run: the recorded design space, seed and
/// confirmation setting, evaluated whole (a merge's result is the unsharded run's); outputs into
/// `out`.
pub fn repeat(catalog: &Catalog, record: &tokenfab_report::RunRecord, file: &str, out: &Path) -> Result<ExitCode> {
    use crate::cmd::repeat::input_str;
    let inputs = &record.inputs;
    let space = Space::from_toml(input_str(inputs, "space_origin", file)?, input_str(inputs, "space_toml", file)?)?;
    let simulated = inputs
        .get("simulated")
        .and_then(toml::Value::as_bool)
        .with_context(|| format!("{file}: inputs.simulated: expected true or false"))?;
    let explorer = Explorer::new(&space, catalog)?;
    let n = explorer.shard_len(record.seed, Shard::ALL);
    let bar = progress_bar(n);
    let result = explorer.run(record.seed, Shard::ALL, &|| bar.inc(1));
    bar.finish_and_clear();
    write_outputs(out, &explorer, &result, &record.command, simulated)?;
    Ok(ExitCode::SUCCESS)
}

pub fn merge(catalog: &Catalog, args: MergeArgs) -> Result<ExitCode> {
    let mut files = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("{}: no shard-*.json files in this directory", input.display());
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    let mut shards = Vec::with_capacity(files.len());
    for f in &files {
        let text = crate::io::read_text(f)?;
        let s: ShardFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a tokenfab explore shard file", f.display()))?;
        shards.push(s);
    }
    let merged = tokenfab_explore::merge(shards)?;
    let space = Space::from_toml(&merged.space_origin, &merged.space_toml)?;
    let explorer = Explorer::new(&space, catalog)?;
    explorer.check_shard(&merged)?;
    eprintln!(
        "merge: {} shard files, {} designs evaluated, {} feasible",
        files.len(),
        merged.designs_evaluated,
        merged.results.len()
    );
    write_outputs(&args.out, &explorer, &merged, "merge", !args.no_sim)?;
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(n: u64) -> ProgressBar {
    // Drawn on stderr only when it is a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} designs {pos}/{len} [{elapsed_precise}] {wide_bar} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

fn write_outputs(out: &Path, explorer: &Explorer, run: &ShardFile, command: &str, simulate: bool) -> Result<()> {
    let space = explorer.space;
    let catalog_scores = explorer.catalog_scores();
    let confirmation = if simulate {
        let t0 = Instant::now();
        let c = Confirmation::simulate(explorer, run, &catalog_scores);
        let confirmed = c.designs.iter().filter(|d| d.meets_slo).count();
        eprintln!(
            "simulated {} frontier designs ({confirmed} meet the SLOs) and {} catalog chips in {:.1} s",
            c.designs.len(),
            c.catalog.len(),
            t0.elapsed().as_secs_f64()
        );
        c
    } else {
        Confirmation::analytic()
    };
    let summary = output::summary(space, &explorer.workload, run, &catalog_scores, confirmation);
    write_atomic(&out.join("summary.json"), tokenfab_report::summary_json(&summary)?.as_bytes())?;
    let front = frontier_of(run);
    let front_rows: Vec<_> = front.iter().map(|&i| &run.results[i]).collect();
    write_table(out, "pareto", &output::designs_table(&front_rows, Some(&summary.confirmation.designs))?)?;
    let all: Vec<_> = run.results.iter().collect();
    write_table(out, "designs", &output::designs_table(&all, None)?)?;
    write_table(out, "catalog", &output::catalog_table(&catalog_scores, &summary.confirmation.catalog)?)?;
    write_atomic(&out.join("report.html"), output::report_html(space, run, &summary)?.as_bytes())?;
    let mut inputs = toml::Table::new();
    inputs.insert("space".into(), toml::Value::String(space.file.name.clone()));
    inputs.insert("space_origin".into(), toml::Value::String(space.origin.clone()));
    inputs.insert("space_digest".into(), toml::Value::String(run.space_digest.clone()));
    inputs.insert(
        "models".into(),
        toml::Value::Array(run.models.iter().map(|m| toml::Value::String(m.clone())).collect()),
    );
    inputs.insert("simulated".into(), toml::Value::Boolean(simulate));
    inputs.insert("space_toml".into(), toml::Value::String(space.text.clone()));
    let record = crate::io::run_record(command, run.seed, inputs);
    write_atomic(&out.join("run.toml"), record.to_toml()?.as_bytes())?;
    eprintln!(
        "wrote {}: {} on the frontier ({}), summary.json, pareto.csv/.parquet, designs.csv/.parquet, \
         catalog.csv/.parquet, report.html, run.toml",
        out.display(),
        front.len(),
        summary.confirmation.method
    );
    Ok(())
}
