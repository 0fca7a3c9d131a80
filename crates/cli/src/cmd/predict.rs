//! `tokenfab predict --chip CHIP --input ops.csv --output preds.csv` (Contract 1).
use crate::io;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use tokenfab_catalog::Catalog;
use tokenfab_perf::calib;
use tokenfab_perf::predict::predict_row;

/// Flags of `tokenfab predict`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Chip (or system) id from the catalog, e.g. h100-sxm.
    #[arg(long)]
    pub chip: String,
    /// Input CSV (Contract 1 columns; extra columns are kept).
    #[arg(long)]
    pub input: PathBuf,
    /// Output CSV: every input column, then pred_ms, pred_power_w, pred_bound, error.
    #[arg(long)]
    pub output: PathBuf,
    /// Calibration table (ops CSV with latency_ms) to fit this chip's efficiencies from,
    /// instead of the built-in calibration.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Ceilings table (measure,value,unit,how) for power and bandwidth, with --calibration.
    #[arg(long)]
    pub ceilings: Option<PathBuf>,
    /// Sustained (power-capped) clocks instead of burst clocks.
    #[arg(long)]
    pub sustained: bool,
}

/// Builds the hardware for a chip, calibrated from user files when given.
pub fn hardware(
    catalog: &Catalog,
    chip: &str,
    calibration: Option<&PathBuf>,
    ceilings: Option<&PathBuf>,
) -> Result<tokenfab_perf::Hardware> {
    let mut hw = tokenfab_perf::Hardware::from_catalog(catalog, chip)?;
    if let Some(path) = calibration {
        let text = io::read_text(path)?;
        let name = path.display().to_string();
        let rows = calib::parse_ops_csv(&name, &text, "latency_ms")?;
        let ceil = match ceilings {
            Some(c) => Some(calib::parse_ceilings(&c.display().to_string(), &io::read_text(c)?)?),
            None => None,
        };
        let chip_entry = catalog.chip(&hw.chip_id)?;
        hw.params = tokenfab_perf::Params::analytical(chip_entry);
        hw.params = calib::fit_params(catalog, &hw, &rows, ceil.as_ref(), &format!("calibrated: {name}"));
    }
    Ok(hw)
}

pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    let mut hw = hardware(catalog, &args.chip, args.calibration.as_ref(), args.ceilings.as_ref())?;
    if args.sustained {
        hw.clock_mode = tokenfab_perf::ClockMode::Sustained;
    }
    let name = args.input.display().to_string();
    let text = io::read_text(&args.input)?;
    let rows = calib::parse_op_rows(&name, &text)?;
    // Re-read raw records to pass every input column through unchanged.
    let mut rdr = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = rdr.headers().with_context(|| format!("{name}: cannot read header"))?.clone();
    let mut wtr = csv::Writer::from_writer(Vec::new());
    let mut out_headers: Vec<String> = headers.iter().map(str::to_string).collect();
    for c in ["pred_ms", "pred_power_w", "pred_bound", "error"] {
        if !out_headers.iter().any(|h| h == c) {
            out_headers.push(c.to_string());
        }
    }
    wtr.write_record(&out_headers)?;
    let mut failed = 0usize;
    for (rec, (row, line)) in rdr.records().zip(rows.iter()) {
        let rec = rec.with_context(|| format!("{name}: line {line}"))?;
        let mut out: Vec<String> = headers.iter().zip(rec.iter()).map(|(_, v)| v.to_string()).collect();
        let (ms, pw, bound, err) = match predict_row(catalog, &hw, row) {
            Ok(p) => (format!("{:.6}", p.ms), format!("{:.1}", p.power_w), p.bound.as_str().to_string(), String::new()),
            Err(e) => {
                failed += 1;
                eprintln!("{name}: line {line}: {e}");
                (String::new(), String::new(), String::new(), e)
            }
        };
        let mut set = |col: &str, v: String| {
            if let Some(i) = out_headers.iter().position(|h| h == col) {
                if i < out.len() {
                    out[i] = v;
                } else {
                    out.resize(i, String::new());
                    out.push(v);
                }
            }
        };
        set("pred_ms", ms);
        set("pred_power_w", pw);
        set("pred_bound", bound);
        set("error", err);
        out.resize(out_headers.len(), String::new());
        wtr.write_record(&out)?;
    }
    let bytes = wtr.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    io::write_atomic(&args.output, &bytes)?;
    eprintln!(
        "predicted {} of {} rows on {} ({}) -> {}",
        rows.len() - failed,
        rows.len(),
        hw.chip_id,
        hw.params.provenance,
        args.output.display()
    );
    Ok(if failed > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
