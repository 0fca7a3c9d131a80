//! `tokenfab validate ops|aic|report` (Contract 2).
use crate::io;
use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tokenfab_catalog::Catalog;
use tokenfab_perf::calib::{self, Ceilings, MeasuredRow};
use tokenfab_perf::validate::{ClassStats, RowResult, cross_validate, predict_all, stats};
use tokenfab_perf::{Hardware, Params};

/// Flags of `tokenfab validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Operator predictions vs a measured table (latency_ms column), per op class.
    Ops(OpsArgs),
    /// Regenerate docs/VALIDATION.md from the measured tables.
    Report(ReportArgs),
}

#[derive(clap::Args, Debug)]
struct OpsArgs {
    /// Chip the measurements were taken on.
    #[arg(long)]
    chip: String,
    /// Measured table (Contract 1 columns + latency_ms).
    #[arg(long)]
    input: PathBuf,
    /// Ceilings table for the power model (measure,value,unit,how).
    #[arg(long)]
    ceilings: Option<PathBuf>,
    /// Which predictions to score: `cv` (leave-one-shape-out: each shape predicted by a model
    /// fitted without it), `fit` (fitted on all rows: in-sample), `builtin` (the chip's built-in
    /// parameters), `analytical` (no calibration at all).
    #[arg(long, default_value = "cv")]
    mode: Mode,
    /// Also write per-row results to this CSV.
    #[arg(long)]
    rows: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
enum Mode {
    Cv,
    Fit,
    Builtin,
    Analytical,
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// Chip of the operator table.
    #[arg(long, default_value = "h100-sxm")]
    chip: String,
    /// Operator table.
    #[arg(long, default_value = "calibration/h100-sxm-ops.csv")]
    ops: PathBuf,
    /// Ceilings table.
    #[arg(long, default_value = "calibration/h100-sxm-ceilings.csv")]
    ceilings: PathBuf,
    /// More operator tables (e.g. the profiler's), as CHIP=FILE.
    #[arg(long = "extra-ops")]
    extra_ops: Vec<String>,
    /// Where to write the Markdown.
    #[arg(long, default_value = "docs/VALIDATION.md")]
    out: PathBuf,
}

pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Ops(a) => ops(catalog, a),
        Sub::Report(a) => report(catalog, a),
    }
}

fn load(path: &std::path::Path, ceilings: Option<&PathBuf>) -> Result<(Vec<MeasuredRow>, Option<Ceilings>)> {
    let rows = calib::parse_ops_csv(&path.display().to_string(), &io::read_text(path)?, "latency_ms")?;
    let ceil = match ceilings {
        Some(c) => Some(calib::parse_ceilings(&c.display().to_string(), &io::read_text(c)?)?),
        None => None,
    };
    Ok((rows, ceil))
}

fn score(
    catalog: &Catalog,
    chip: &str,
    rows: &[MeasuredRow],
    ceil: Option<&Ceilings>,
    mode: Mode,
) -> Result<Vec<RowResult>> {
    let mut hw = Hardware::from_catalog(catalog, chip)?;
    let analytical = Params::analytical(catalog.chip(&hw.chip_id)?);
    Ok(match mode {
        Mode::Builtin => predict_all(catalog, &hw, rows),
        Mode::Analytical => {
            hw.params = analytical;
            predict_all(catalog, &hw, rows)
        }
        Mode::Fit => {
            hw.params = analytical;
            hw.params = calib::fit_params(catalog, &hw, rows, ceil, "fit on all rows");
            predict_all(catalog, &hw, rows)
        }
        Mode::Cv => cross_validate(catalog, &hw, &analytical, rows, ceil),
    })
}

fn table(stats: &[ClassStats]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["op class", "rows", "median APE %", "p90 APE %", "MAPE %", "max APE %", "failed"]);
    for s in stats {
        t.add_row(vec![
            s.class.clone(),
            s.count.to_string(),
            format!("{:.1}", s.median_ape),
            format!("{:.1}", s.p90_ape),
            format!("{:.1}", s.mape),
            format!("{:.1}", s.max_ape),
            s.failed.to_string(),
        ]);
    }
    t
}

fn ops(catalog: &Catalog, a: OpsArgs) -> Result<ExitCode> {
    let (rows, ceil) = load(&a.input, a.ceilings.as_ref())?;
    let results = score(catalog, &a.chip, &rows, ceil.as_ref(), a.mode)?;
    let st = stats(&results);
    if let Some(path) = &a.rows {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["line", "class", "group", "measured_ms", "pred_ms", "ape_pct", "error"])?;
        for r in &results {
            w.write_record([
                r.line.to_string(),
                r.class.clone(),
                r.group.clone(),
                format!("{:.6}", r.measured_ms),
                r.predicted_ms.map_or(String::new(), |p| format!("{p:.6}")),
                r.ape().map_or(String::new(), |e| format!("{e:.2}")),
                r.error.clone().unwrap_or_default(),
            ])?;
        }
        io::write_atomic(path, &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "mode": format!("{:?}", a.mode).to_lowercase(), "classes": st })
            )?
        );
    } else {
        println!("{} rows of {} on {} — mode: {:?}", rows.len(), a.input.display(), a.chip, a.mode);
        println!("{}", table(&st));
    }
    Ok(ExitCode::SUCCESS)
}

fn md_table(out: &mut String, st: &[ClassStats]) {
    let _ = writeln!(out, "| op class | rows | median APE % | p90 APE % | MAPE % | max APE % |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for s in st {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s.class, s.count, s.median_ape, s.p90_ape, s.mape, s.max_ape
        );
    }
}

fn report(catalog: &Catalog, a: ReportArgs) -> Result<ExitCode> {
    let mut out = String::new();
    let _ = writeln!(out, "# Validation\n");
    let _ = writeln!(
        out,
        "Generated by `tokenfab validate report` — do not edit by hand. Errors are absolute percent\n\
         errors (APE) of predicted vs measured latency; percentiles are nearest-rank.\n"
    );
    let mut tables = vec![(a.chip.clone(), a.ops.clone(), Some(a.ceilings.clone()))];
    for e in &a.extra_ops {
        let (chip, file) =
            e.split_once('=').ok_or_else(|| anyhow::anyhow!("--extra-ops expects CHIP=FILE, got `{e}`"))?;
        tables.push((chip.to_string(), PathBuf::from(file), None));
    }
    for (chip, path, ceil_path) in tables {
        let ceil_path = ceil_path.filter(|p| p.exists());
        let (rows, ceil) = load(&path, ceil_path.as_ref())?;
        let _ = writeln!(out, "## Operators on `{chip}`: `{}` ({} rows)\n", path.display(), rows.len());
        let _ = writeln!(
            out,
            "**Cross-validated** (leave-one-shape-out: the rows of each GEMM weight shape `(n, k)`, or of\n\
             each attention configuration, are predicted by parameters fitted on the other shapes only):\n"
        );
        let cv_rows = score(catalog, &chip, &rows, ceil.as_ref(), Mode::Cv)?;
        md_table(&mut out, &stats(&cv_rows));
        let mut worst: Vec<&RowResult> = cv_rows.iter().filter(|r| r.ape().is_some()).collect();
        worst.sort_by(|a, b| b.ape().unwrap_or(0.0).total_cmp(&a.ape().unwrap_or(0.0)));
        let _ =
            writeln!(out, "\nLargest cross-validated errors (line of the table, shape group, measured → predicted):\n");
        for r in worst.iter().take(6) {
            let _ = writeln!(
                out,
                "- line {}: `{}` ({}) {:.4} ms → {:.4} ms ({:+.0} %)",
                r.line,
                r.group,
                r.class,
                r.measured_ms,
                r.predicted_ms.unwrap_or(f64::NAN),
                100.0 * (r.predicted_ms.unwrap_or(f64::NAN) / r.measured_ms - 1.0)
            );
        }
        let _ = writeln!(
            out,
            "\n**In-sample** (fitted on all rows, then scored on the same rows — optimistic, shown for contrast):\n"
        );
        md_table(&mut out, &stats(&score(catalog, &chip, &rows, ceil.as_ref(), Mode::Fit)?));
        let _ =
            writeln!(out, "\n**Uncalibrated** (analytical defaults only — what a chip without measurements gets):\n");
        md_table(&mut out, &stats(&score(catalog, &chip, &rows, ceil.as_ref(), Mode::Analytical)?));
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Reproduce: `cargo run --release -- validate report` (per-row detail: `tokenfab validate ops --chip h100-sxm --input calibration/h100-sxm-ops.csv --rows rows.csv`)."
    );
    io::write_atomic(&a.out, out.as_bytes())?;
    eprintln!("wrote {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
