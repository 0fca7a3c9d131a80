//! Contract 2 (`tokenfab validate ops`): prediction error per operator class, with
//! leave-one-shape-out cross-validation.
//!
//! A *shape group* is the set of rows that share a GEMM weight shape `(n, k)` (all `m`, both
//! dtypes), or an attention configuration (batch, lengths, heads; all backends). In
//! cross-validation each group is predicted by parameters fitted on every other group only.

use crate::calib::{Ceilings, MeasuredRow, fit_params};
use crate::predict::predict_row;
use crate::{Hardware, Params};
use std::collections::BTreeMap;
use tokenfab_catalog::Catalog;

/// The group a row is held out with.
pub fn shape_group(r: &MeasuredRow) -> String {
    let x = &r.row;
    let o = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    match x.op.as_str() {
        "gemm" | "moe_ffn" => format!("{}:n={},k={}", x.op, o(x.n), o(x.k)),
        "attn_prefill" | "attn_decode" => format!(
            "{}:b={},s={},c={},h={},kv={},d={}",
            x.op,
            o(x.batch),
            o(x.seq_len),
            o(x.context_len),
            o(x.heads),
            o(x.kv_heads),
            o(x.head_dim)
        ),
        _ => format!(
            "{}:{}:b={},s={},c={}",
            x.op,
            x.model.as_deref().unwrap_or("-"),
            o(x.batch),
            o(x.seq_len),
            o(x.context_len)
        ),
    }
}

/// The op class a row is reported under (`gemm bf16`, `attn_prefill cudnn`, ...).
pub fn report_class(r: &MeasuredRow) -> String {
    let x = &r.row;
    match x.op.as_str() {
        "gemm" | "moe_ffn" => format!("{} {}", x.op, x.dtype.as_deref().unwrap_or("bf16")),
        "attn_prefill" | "attn_decode" => format!("{} {}", x.op, x.backend.as_deref().unwrap_or("default")),
        other => other.to_string(),
    }
}

/// One row's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct RowResult {
    /// Report class.
    pub class: String,
    /// Held-out group.
    pub group: String,
    /// Measured, ms.
    pub measured_ms: f64,
    /// Predicted, ms (None if the row could not be predicted).
    pub predicted_ms: Option<f64>,
    /// Why not predicted.
    pub error: Option<String>,
    /// Source line.
    pub line: usize,
}

impl RowResult {
    /// Absolute percent error.
    pub fn ape(&self) -> Option<f64> {
        self.predicted_ms.map(|p| ((p - self.measured_ms) / self.measured_ms).abs() * 100.0)
    }
}

/// Error statistics of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassStats {
    /// Class name.
    pub class: String,
    /// Rows predicted.
    pub count: usize,
    /// Rows that could not be predicted.
    pub failed: usize,
    /// Median absolute percent error.
    pub median_ape: f64,
    /// 90th percentile absolute percent error (nearest rank).
    pub p90_ape: f64,
    /// Mean absolute percent error.
    pub mape: f64,
    /// Largest absolute percent error.
    pub max_ape: f64,
}

/// Nearest-rank percentile of a sorted slice.
pub fn nearest_rank(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Groups row results into per-class statistics (plus an `all` row), sorted by class.
pub fn stats(results: &[RowResult]) -> Vec<ClassStats> {
    let mut by: BTreeMap<String, Vec<&RowResult>> = BTreeMap::new();
    for r in results {
        by.entry(r.class.clone()).or_default().push(r);
        by.entry("all".into()).or_default().push(r);
    }
    let mut out: Vec<ClassStats> = by
        .into_iter()
        .map(|(class, rs)| {
            let mut e: Vec<f64> = rs.iter().filter_map(|r| r.ape()).collect();
            e.sort_by(f64::total_cmp);
            ClassStats {
                count: e.len(),
                failed: rs.len() - e.len(),
                median_ape: nearest_rank(&e, 50.0),
                p90_ape: nearest_rank(&e, 90.0),
                mape: if e.is_empty() { f64::NAN } else { e.iter().sum::<f64>() / e.len() as f64 },
                max_ape: e.last().copied().unwrap_or(f64::NAN),
                class,
            }
        })
        .collect();
    // `all` last.
    out.sort_by_key(|s| (s.class == "all", s.class.clone()));
    out
}

/// Predicts every row with fixed parameters (no refit).
pub fn predict_all(catalog: &Catalog, hw: &Hardware, rows: &[MeasuredRow]) -> Vec<RowResult> {
    rows.iter()
        .map(|r| {
            let p = predict_row(catalog, hw, &r.row);
            RowResult {
                class: report_class(r),
                group: shape_group(r),
                measured_ms: r.latency_ms,
                predicted_ms: p.as_ref().ok().map(|p| p.ms),
                error: p.err(),
                line: r.line,
            }
        })
        .collect()
}

/// Leave-one-shape-out cross-validation: for each shape group, fit on the other rows (starting
/// from `base` parameters) and predict the group's rows.
pub fn cross_validate(
    catalog: &Catalog,
    hw: &Hardware,
    base: &Params,
    rows: &[MeasuredRow],
    ceilings: Option<&Ceilings>,
) -> Vec<RowResult> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        groups.entry(shape_group(r)).or_default().push(i);
    }
    let mut results: Vec<Option<RowResult>> = vec![None; rows.len()];
    for (group, idx) in &groups {
        let train: Vec<MeasuredRow> =
            rows.iter().enumerate().filter(|(i, _)| !idx.contains(i)).map(|(_, r)| r.clone()).collect();
        let mut h = hw.clone();
        h.params = base.clone();
        let params = fit_params(catalog, &h, &train, ceilings, "cross-validation fold");
        h.params = params;
        for &i in idx {
            let r = &rows[i];
            let p = predict_row(catalog, &h, &r.row);
            results[i] = Some(RowResult {
                class: report_class(r),
                group: group.clone(),
                measured_ms: r.latency_ms,
                predicted_ms: p.as_ref().ok().map(|p| p.ms),
                error: p.err(),
                line: r.line,
            });
        }
    }
    results.into_iter().flatten().collect()
}
