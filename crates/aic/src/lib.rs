//! # tokenfab-aic
//!
//! End-to-end validation against AIConfigurator's measured deployments
//! (`aic-silicon-held-in.csv`: TensorRT-LLM, SGLang and vLLM on H100/H200/B200/B300/GB200/GB300).
//!
//! ```text
//!  CSV row ──► Deployment (catalog model + system, layout, formats, engine, ISL/OSL, concurrency)
//!                 │  (or: why it cannot be modelled)
//!                 ▼
//!        discrete-event simulation (tokenfab-sim, the default), or
//!        closed-loop steady-state engine model over tokenfab_perf::StepModel (`analytic`)
//!        agg: continuous batching with chunked prefill, c clients, identical requests
//!        disagg: prefill pool → KV transfer → decode pool, fixed point of the closed loop
//!                 │
//!                 ▼
//!        predicted mean TTFT / TPOT ──► MAPE per system, backend, model and mode
//! ```
//!
//! A closed loop of `c` clients sending identical requests runs in lock-step waves: every client
//! starts together, all prompts are prefilled in token-budget chunks (the decode of already
//! prefilled sequences rides along), then the wave decodes together. The model steps through
//! those iterations with cohorts of identical sequences, so a row costs a few thousand step
//! evaluations whatever its concurrency.
//!
//! Architecture Invariant: no IO; rows come in as text, results go out as values.
#![warn(missing_docs)]

mod engine;
mod row;
mod simulated;

pub use engine::{EngineProfile, Prediction, predict};
pub use row::{AicRow, Deployment, Mode, Pool, map_row, parse_rows};
pub use simulated::{REQUESTS_PER_CLIENT, predict_simulated};

use std::collections::BTreeMap;

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AicError {
    /// The CSV could not be read.
    #[error("{file}: line {line}: {message}")]
    Csv {
        /// file name
        file: String,
        /// 1-based line
        line: usize,
        /// what was wrong
        message: String,
    },
}

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The row.
    pub row: AicRow,
    /// Predicted TTFT/TPOT, or why the row could not be modelled.
    pub prediction: Result<Prediction, String>,
}

impl Outcome {
    /// Absolute percent error of TTFT.
    pub fn ttft_ape(&self) -> Option<f64> {
        self.prediction.as_ref().ok().map(|p| ape(p.ttft_ms, self.row.ttft_ms))
    }
    /// Absolute percent error of TPOT.
    pub fn tpot_ape(&self) -> Option<f64> {
        self.prediction.as_ref().ok().map(|p| ape(p.tpot_ms, self.row.tpot_ms))
    }
}

fn ape(pred: f64, meas: f64) -> f64 {
    ((pred - meas) / meas).abs() * 100.0
}

/// MAPE of one slice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SliceStats {
    /// Slice key, e.g. `system=h100_sxm`.
    pub slice: String,
    /// Rows modelled.
    pub rows: usize,
    /// Rows that could not be modelled.
    pub skipped: usize,
    /// Mean absolute percent error of TTFT.
    pub ttft_mape: f64,
    /// Mean absolute percent error of TPOT.
    pub tpot_mape: f64,
    /// Median APE of TTFT.
    pub ttft_median_ape: f64,
    /// Median APE of TPOT.
    pub tpot_median_ape: f64,
}

/// MAPE per slice for a key function (e.g. by system); an `all` slice comes last.
pub fn slices(outcomes: &[Outcome], key: impl Fn(&AicRow) -> String) -> Vec<SliceStats> {
    let mut by: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by.entry(key(&o.row)).or_default().push(o);
    }
    let mut out: Vec<SliceStats> = by.into_iter().map(|(k, v)| stats_of(k, &v)).collect();
    out.push(stats_of("all".into(), &outcomes.iter().collect::<Vec<_>>()));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = (0.5 * v.len() as f64).ceil().max(1.0) as usize;
    v[rank - 1]
}

fn stats_of(slice: String, v: &[&Outcome]) -> SliceStats {
    let t: Vec<f64> = v.iter().filter_map(|o| o.ttft_ape()).collect();
    let p: Vec<f64> = v.iter().filter_map(|o| o.tpot_ape()).collect();
    let mean = |x: &[f64]| if x.is_empty() { f64::NAN } else { x.iter().sum::<f64>() / x.len() as f64 };
    SliceStats {
        slice,
        rows: t.len(),
        skipped: v.len() - t.len(),
        ttft_mape: mean(&t),
        tpot_mape: mean(&p),
        ttft_median_ape: median(t),
        tpot_median_ape: median(p),
    }
}
