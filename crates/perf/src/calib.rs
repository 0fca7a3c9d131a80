//! Calibration: measured operator tables → fitted efficiency [`Params`].
//!
//! Tables use the schema of `calibration/h100-sxm-ops.csv` (Contract 1's columns plus `backend`
//! and `latency_ms`) and `calibration/h100-sxm-ceilings.csv` (`measure,value,unit,how`). Lines
//! starting with `#` are provenance comments (the profiler writes them) and are skipped.
//!
//! Each operator family has a few parameters (see [`crate::GemmParams`], [`crate::AttnParams`]),
//! fitted by Nelder–Mead on the squared log error of the family's rows. Cross-validation
//! ([`crate::validate`]) refits without the held-out shape.

use crate::predict::{OpRow, predict_row};
use crate::{Hardware, Params, PerfError};
use std::sync::OnceLock;
use tokenfab_catalog::{Catalog, Chip, Dtype};

/// One measured operator row.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredRow {
    /// The inputs.
    pub row: OpRow,
    /// Measured latency, milliseconds.
    pub latency_ms: f64,
    /// 1-based line in the source file.
    pub line: usize,
}

/// A `measure,value,unit,how` ceilings table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ceilings {
    /// (measure, value, unit) in file order; a measure may repeat (then values are averaged).
    pub rows: Vec<(String, f64, String)>,
}

impl Ceilings {
    /// Mean of all values of a measure.
    pub fn get(&self, measure: &str) -> Option<f64> {
        let v: Vec<f64> = self.rows.iter().filter(|r| r.0 == measure).map(|r| r.1).collect();
        if v.is_empty() { None } else { Some(v.iter().sum::<f64>() / v.len() as f64) }
    }
}

fn strip_comments(text: &str) -> (String, Vec<usize>) {
    // Keep a map from data line index to original line number.
    let mut out = String::new();
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim_start().starts_with('#') || l.trim().is_empty() {
            continue;
        }
        out.push_str(l);
        out.push('\n');
        lines.push(i + 1);
    }
    (out, lines)
}

/// Parses an operator table with a header. Columns not in Contract 1 are ignored; every row
/// needs `op` and a positive `latency_ms` (or `pred_ms`-free measurement column given by name).
pub fn parse_ops_csv(file: &str, text: &str, latency_column: &str) -> Result<Vec<MeasuredRow>, PerfError> {
    let rows = parse_op_rows(file, text)?;
    let (clean, lines) = strip_comments(text);
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(clean.as_bytes());
    let headers = rdr.headers().map_err(|e| cal_err(file, 1, e.to_string()))?.clone();
    let lat_idx = headers
        .iter()
        .position(|h| h.trim() == latency_column)
        .ok_or_else(|| cal_err(file, lines.first().copied().unwrap_or(1), format!("no `{latency_column}` column")))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, (rec, (row, line))) in rdr.records().zip(rows).enumerate() {
        let rec = rec.map_err(|e| cal_err(file, lines.get(i + 1).copied().unwrap_or(0), e.to_string()))?;
        let raw = rec.get(lat_idx).unwrap_or("").trim();
        let latency_ms: f64 =
            raw.parse().map_err(|_| cal_err(file, line, format!("`{latency_column}` = `{raw}` is not a number")))?;
        if !(latency_ms.is_finite() && latency_ms > 0.0) {
            return Err(cal_err(file, line, format!("`{latency_column}` must be positive, got {latency_ms}")));
        }
        out.push(MeasuredRow { row, latency_ms, line });
    }
    Ok(out)
}

fn cal_err(file: &str, line: usize, message: String) -> PerfError {
    PerfError::Calibration { file: file.to_string(), line, message }
}

/// Parses Contract 1 input rows (any subset of the columns, extra columns ignored).
/// Returns each row with its 1-based line number.
pub fn parse_op_rows(file: &str, text: &str) -> Result<Vec<(OpRow, usize)>, PerfError> {
    let (clean, lines) = strip_comments(text);
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(clean.as_bytes());
    let headers = rdr.headers().map_err(|e| cal_err(file, 1, e.to_string()))?.clone();
    let idx = |name: &str| headers.iter().position(|h| h.trim() == name);
    let op_idx =
        idx("op").ok_or_else(|| cal_err(file, lines.first().copied().unwrap_or(1), "no `op` column".into()))?;
    let cols: Vec<(&str, Option<usize>)> = [
        "model",
        "layers",
        "dtype",
        "m",
        "n",
        "k",
        "batch",
        "seq_len",
        "context_len",
        "heads",
        "kv_heads",
        "head_dim",
        "experts",
        "top_k",
        "hidden",
        "inter",
        "tp",
        "engine",
        "backend",
    ]
    .into_iter()
    .map(|c| (c, idx(c)))
    .collect();
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = lines.get(i + 1).copied().unwrap_or(0);
        let rec = rec.map_err(|e| cal_err(file, line, e.to_string()))?;
        let mut row = OpRow { op: rec.get(op_idx).unwrap_or("").trim().to_string(), ..Default::default() };
        for (name, ix) in &cols {
            let Some(ix) = ix else { continue };
            let v = rec.get(*ix).unwrap_or("").trim();
            if v.is_empty() {
                continue;
            }
            let num = || -> Result<Option<u64>, PerfError> {
                v.parse::<u64>()
                    .map(Some)
                    .or_else(|_| match v.parse::<f64>() {
                        Ok(f) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as u64)),
                        _ => Err(()),
                    })
                    .map_err(|_| cal_err(file, line, format!("column `{name}`: `{v}` is not a non-negative integer")))
            };
            match *name {
                "model" => row.model = Some(v.to_string()),
                "dtype" => row.dtype = Some(v.to_string()),
                "engine" => row.engine = Some(v.to_string()),
                "backend" => row.backend = Some(v.to_string()),
                "layers" => row.layers = num()?,
                "m" => row.m = num()?,
                "n" => row.n = num()?,
                "k" => row.k = num()?,
                "batch" => row.batch = num()?,
                "seq_len" => row.seq_len = num()?,
                "context_len" => row.context_len = num()?,
                "heads" => row.heads = num()?,
                "kv_heads" => row.kv_heads = num()?,
                "head_dim" => row.head_dim = num()?,
                "experts" => row.experts = num()?,
                "top_k" => row.top_k = num()?,
                "hidden" => row.hidden = num()?,
                "inter" => row.inter = num()?,
                "tp" => row.tp = num()?,
                _ => {}
            }
        }
        out.push((row, line));
    }
    Ok(out)
}

/// Parses a ceilings table.
pub fn parse_ceilings(file: &str, text: &str) -> Result<Ceilings, PerfError> {
    let (clean, lines) = strip_comments(text);
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(clean.as_bytes());
    let mut c = Ceilings::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = lines.get(i + 1).copied().unwrap_or(0);
        let rec = rec.map_err(|e| cal_err(file, line, e.to_string()))?;
        let measure = rec.get(0).unwrap_or("").trim().to_string();
        let raw = rec.get(1).unwrap_or("").trim();
        let value: f64 = raw.parse().map_err(|_| cal_err(file, line, format!("value `{raw}` is not a number")))?;
        c.rows.push((measure, value, rec.get(2).unwrap_or("").trim().to_string()));
    }
    Ok(c)
}

/// Minimizes `f` from `x0` with Nelder–Mead (deterministic; fixed iteration budget).
pub fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], step: f64, iters: usize) -> Vec<f64> {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += step;
        simplex.push(x);
    }
    let mut vals: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
    for _ in 0..iters {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| vals[a].total_cmp(&vals[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        vals = order.iter().map(|&i| vals[i]).collect();
        let centroid: Vec<f64> = (0..n).map(|j| simplex[..n].iter().map(|x| x[j]).sum::<f64>() / n as f64).collect();
        let worst = simplex[n].clone();
        let at = |t: f64| -> Vec<f64> { (0..n).map(|j| centroid[j] + t * (worst[j] - centroid[j])).collect() };
        let xr = at(-1.0);
        let fr = f(&xr);
        if fr < vals[0] {
            let xe = at(-2.0);
            let fe = f(&xe);
            if fe < fr {
                simplex[n] = xe;
                vals[n] = fe;
            } else {
                simplex[n] = xr;
                vals[n] = fr;
            }
        } else if fr < vals[n - 1] {
            simplex[n] = xr;
            vals[n] = fr;
        } else {
            let xc = if fr < vals[n] { at(-0.5) } else { at(0.5) };
            let fc = f(&xc);
            if fc < vals[n].min(fr) {
                simplex[n] = xc;
                vals[n] = fc;
            } else {
                let best = simplex[0].clone();
                for i in 1..=n {
                    simplex[i] = (0..n).map(|j| best[j] + 0.5 * (simplex[i][j] - best[j])).collect();
                    vals[i] = f(&simplex[i]);
                }
            }
        }
    }
    let best = (0..=n).min_by(|&a, &b| vals[a].total_cmp(&vals[b])).unwrap_or(0);
    simplex[best].clone()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Mean squared log error of a parameter set on some rows.
fn loss(catalog: &Catalog, hw: &Hardware, rows: &[&MeasuredRow]) -> f64 {
    let mut s = 0.0;
    for r in rows {
        match predict_row(catalog, hw, &r.row) {
            Ok(p) if p.ms > 0.0 => s += (p.ms / r.latency_ms).ln().powi(2),
            _ => s += 100.0,
        }
    }
    s / rows.len().max(1) as f64
}

/// Weight of the prior that pulls fitted parameters (in their transformed space) towards the
/// starting values: a weak MAP prior, so a parameter the training rows do not constrain (e.g. the
/// fixed overhead when no small shape is in the training set) stays at its analytical default
/// instead of drifting.
pub const PRIOR_WEIGHT: f64 = 0.004;

fn prior(x: &[f64], x0: &[f64]) -> f64 {
    PRIOR_WEIGHT * x.iter().zip(x0).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
}

/// Which family a row belongs to for fitting.
fn family(r: &MeasuredRow) -> Option<String> {
    match r.row.op.as_str() {
        "gemm" => Some(format!("gemm:{}", r.row.dtype.as_deref().unwrap_or("bf16").parse::<Dtype>().ok()?.as_str())),
        "attn_prefill" => Some("attn_prefill".into()),
        "attn_decode" => Some("attn_decode".into()),
        _ => None,
    }
}

/// Fits efficiency parameters to measured rows, starting from `base` (families without rows
/// keep `base`'s values). Ceilings, when given, set the power parameters.
pub fn fit_params(
    catalog: &Catalog,
    hw: &Hardware,
    rows: &[MeasuredRow],
    ceilings: Option<&Ceilings>,
    provenance: &str,
) -> Params {
    let mut params = hw.params.clone();
    let mut hw = hw.clone();
    if let Some(c) = ceilings {
        apply_ceilings(&mut params, &hw, c);
        hw.params = params.clone();
    }
    for dtype in [Dtype::Bf16, Dtype::Fp8, Dtype::Fp4] {
        let fam = format!("gemm:{}", dtype.as_str());
        let rs: Vec<&MeasuredRow> = rows.iter().filter(|r| family(r).as_deref() == Some(fam.as_str())).collect();
        if rs.len() < 4 {
            continue;
        }
        let g0 = *params.gemm(dtype);
        let x0 = [logit(g0.compute_eff), logit(g0.memory_eff), (g0.overhead_s * 1e6).ln(), g0.blend_p.ln()];
        let to_params = |x: &[f64]| {
            let mut p = params.clone();
            let g = p.gemm_mut(dtype);
            g.compute_eff = sigmoid(x[0]);
            g.memory_eff = sigmoid(x[1]);
            g.overhead_s = x[2].exp().clamp(0.1, 100.0) * 1e-6;
            g.blend_p = x[3].exp().clamp(1.0, 16.0);
            p
        };
        let f = |x: &[f64]| {
            let mut h = hw.clone();
            h.params = to_params(x);
            loss(catalog, &h, &rs) + prior(x, &x0)
        };
        let x = nelder_mead(&f, &x0, 0.3, 400);
        params = to_params(&x);
        hw.params = params.clone();
    }
    let pf: Vec<&MeasuredRow> = rows.iter().filter(|r| family(r).as_deref() == Some("attn_prefill")).collect();
    if pf.len() >= 3 {
        let a0 = params.attn;
        let x0 =
            [logit(a0.prefill_compute_eff), logit(a0.prefill_compute_eff_flash), (a0.prefill_overhead_s * 1e6).ln()];
        let to_params = |x: &[f64]| {
            let mut p = params.clone();
            p.attn.prefill_compute_eff = sigmoid(x[0]);
            p.attn.prefill_compute_eff_flash = sigmoid(x[1]);
            p.attn.prefill_overhead_s = x[2].exp().clamp(0.1, 100.0) * 1e-6;
            p
        };
        let f = |x: &[f64]| {
            let mut h = hw.clone();
            h.params = to_params(x);
            loss(catalog, &h, &pf)
        };
        let x = nelder_mead(&f, &x0, 0.3, 300);
        params = to_params(&x);
        hw.params = params.clone();
    }
    let dc: Vec<&MeasuredRow> = rows.iter().filter(|r| family(r).as_deref() == Some("attn_decode")).collect();
    if dc.len() >= 3 {
        let a0 = params.attn;
        let x0 =
            [logit(a0.decode_memory_eff), (a0.decode_saturation_bytes / 1e6).ln(), (a0.decode_overhead_s * 1e6).ln()];
        let to_params = |x: &[f64]| {
            let mut p = params.clone();
            p.attn.decode_memory_eff = sigmoid(x[0]);
            p.attn.decode_saturation_bytes = x[1].exp().clamp(1e-3, 1e4) * 1e6;
            p.attn.decode_overhead_s = x[2].exp().clamp(0.1, 100.0) * 1e-6;
            p
        };
        let f = |x: &[f64]| {
            let mut h = hw.clone();
            h.params = to_params(x);
            loss(catalog, &h, &dc) + prior(x, &x0)
        };
        let x = nelder_mead(&f, &x0, 0.3, 300);
        params = to_params(&x);
    }
    params.provenance = provenance.to_string();
    params
}

/// Sets power and bandwidth parameters from measured ceilings.
pub fn apply_ceilings(params: &mut Params, hw: &Hardware, c: &Ceilings) {
    if let (Some(burst), Some(sustained)) = (c.get("gemm_bf16_8192_burst"), c.get("gemm_bf16_8192_sustained_rate")) {
        params.power.sustained_compute_ratio = (sustained / burst).clamp(0.3, 1.0);
    }
    let idle = c.get("idle_power").unwrap_or(hw.idle_w);
    if let (Some(p), Some(rate)) = (c.get("d2d_copy_1GiB_sustained_power"), c.get("d2d_copy_1GiB_sustained_rate")) {
        let u_m = rate * 1e12 / hw.hbm_bytes_per_s;
        if u_m > 0.0 {
            params.power.memory_activity = ((p - idle) / (hw.tdp_w - idle) / u_m).clamp(0.05, 2.0);
        }
    }
    if let Some(copy) = c.get("copy_bandwidth_burst") {
        // Elementwise kernels stream like a copy, a little less efficiently (short kernels).
        params.elementwise_memory_eff = (copy * 1e12 / hw.hbm_bytes_per_s * 0.9).clamp(0.1, 1.0);
    }
}

/// The H100 SXM measurements embedded in the binary (measured for tokenfab, 2026-11-22).
pub const H100_OPS_CSV: &str = include_str!("../../../calibration/h100-sxm-ops.csv");
/// The H100 SXM ceilings embedded in the binary.
pub const H100_CEILINGS_CSV: &str = include_str!("../../../calibration/h100-sxm-ceilings.csv");

/// Built-in calibrated parameters for a chip, fitted once per process from the embedded tables.
/// H100 tables also calibrate the H200 (same GH100 die; only HBM differs, which the model takes
/// from the catalog).
pub fn builtin_params(chip: &Chip) -> Option<Params> {
    static H100: OnceLock<Option<Params>> = OnceLock::new();
    if !matches!(chip.id.as_str(), "h100-sxm" | "h200-sxm") {
        return None;
    }
    H100.get_or_init(|| {
        let catalog = Catalog::builtin();
        let chip = catalog.chip("h100-sxm").ok()?;
        let sys = catalog.default_system_for_chip(&chip.id);
        let hw = Hardware::with_params(chip, sys, &catalog, Params::analytical(chip));
        let rows = parse_ops_csv("builtin:calibration/h100-sxm-ops.csv", H100_OPS_CSV, "latency_ms").ok()?;
        let ceil = parse_ceilings("builtin:calibration/h100-sxm-ceilings.csv", H100_CEILINGS_CSV).ok()?;
        Some(fit_params(&catalog, &hw, &rows, Some(&ceil), "calibrated: builtin calibration/h100-sxm-*.csv"))
    })
    .clone()
}
