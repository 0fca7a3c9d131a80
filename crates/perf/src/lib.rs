//! # tokenfab-perf
//!
//! Pure functions from an operator (or a whole engine step) on a chip to
//! `(time, FLOPs, bytes, average power, bound)`.
//!
//! ```text
//!  catalog Chip ─┐                       ┌─► ops: gemm · grouped gemm · attention · elementwise
//!  calibration ──┴─► Hardware(Params) ───┼─► collectives over scale-up / scale-out links
//!                                        └─► StepModel(model, parallel, dtype) ─► StepCost
//! ```
//!
//! Time is `overhead + blend(FLOPs / achieved compute, bytes / achieved bandwidth)` where the
//! achieved rates come from [`Params`]: fitted on measured tables (`calib`) when the chip has
//! them, analytical defaults (tile and wave quantization, achievable fraction of peak)
//! otherwise. Power runs from idle to the cap; at the cap compute-bound work is slowed by clock
//! throttling ([`ClockMode::Sustained`]).
//!
//! ```
//! use tokenfab_catalog::{Catalog, Dtype};
//! use tokenfab_perf::{Hardware, ops::{gemm, Gemm}};
//! let cat = Catalog::builtin();
//! let hw = Hardware::from_catalog(&cat, "h100-sxm").unwrap();
//! let c = gemm(&hw, &Gemm { m: 8192, n: 8192, k: 8192, dtype: Dtype::Bf16 });
//! assert!(c.time_s > 1e-3 && c.time_s < 3e-3);
//! ```
//!
//! Architecture Invariant: no IO, no clock, no randomness. Calibration CSV *text* is parsed
//! here; reading files is the caller's job.
#![warn(missing_docs)]

pub mod calib;
pub mod collective;
mod hw;
pub mod ops;
pub mod power;
pub mod predict;
pub mod step;
pub mod validate;

pub use hw::{AttnParams, ClockMode, GemmParams, Hardware, NetParams, Params, PowerParams};
pub use step::{BatchShape, OpClass, Parallel, StepCost, StepModel, StepOptions};

use serde::{Deserialize, Serialize};
use tokenfab_catalog::Dtype;

/// What limits an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// Tensor-core math.
    Compute,
    /// HBM bandwidth.
    Memory,
    /// Scale-up or scale-out links.
    Network,
    /// Fixed per-kernel or per-step host costs.
    Overhead,
}

impl Bound {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Compute => "compute",
            Bound::Memory => "memory",
            Bound::Network => "network",
            Bound::Overhead => "overhead",
        }
    }
}

/// The cost of one operator (or a sum of operators).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpCost {
    /// Wall time, seconds.
    pub time_s: f64,
    /// Useful floating-point operations.
    pub flops: f64,
    /// Bytes moved to/from HBM (or over the network for collectives).
    pub bytes: f64,
    /// Energy of the chip while it runs, joules.
    pub energy_j: f64,
    /// What limits it.
    pub bound: Bound,
}

impl OpCost {
    /// Nothing.
    pub fn zero() -> OpCost {
        OpCost { time_s: 0.0, flops: 0.0, bytes: 0.0, energy_j: 0.0, bound: Bound::Overhead }
    }

    pub(crate) fn new(hw: &Hardware, time_s: f64, flops: f64, bytes: f64, peak: f64, bound: Bound) -> OpCost {
        let mut bound = bound;
        // If more than half of the time is fixed overhead, say so.
        let fixed = hw.params.gemm_bf16.overhead_s.min(time_s);
        if time_s > 0.0 && fixed / time_s > 0.5 && flops / peak < fixed && bytes / hw.hbm_bytes_per_s < fixed {
            bound = Bound::Overhead;
        }
        let power = power::average_power_w(hw, time_s, flops, bytes, peak);
        OpCost { time_s, flops, bytes, energy_j: power * time_s, bound }
    }

    /// Average chip power while it runs, W.
    pub fn power_w(&self) -> f64 {
        if self.time_s > 0.0 { self.energy_j / self.time_s } else { 0.0 }
    }

    /// Adds another op run after this one (times add; the bound of the longer one wins).
    pub fn then(self, other: OpCost) -> OpCost {
        let bound = if other.time_s > self.time_s { other.bound } else { self.bound };
        OpCost {
            time_s: self.time_s + other.time_s,
            flops: self.flops + other.flops,
            bytes: self.bytes + other.bytes,
            energy_j: self.energy_j + other.energy_j,
            bound,
        }
    }

    /// Scales by a repeat count (e.g. layers).
    pub fn times(self, n: f64) -> OpCost {
        OpCost {
            time_s: self.time_s * n,
            flops: self.flops * n,
            bytes: self.bytes * n,
            energy_j: self.energy_j * n,
            bound: self.bound,
        }
    }
}

/// Errors of the performance model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PerfError {
    /// A catalog look-up failed.
    #[error("{0}")]
    Catalog(String),
    /// The chip has no tensor path for this format.
    #[error("chip `{chip}` has no {dtype} tensor support")]
    UnsupportedDtype {
        /// chip id
        chip: String,
        /// requested format
        dtype: Dtype,
    },
    /// A parallel layout that cannot run the model on this hardware.
    #[error("invalid parallel layout: {0}")]
    Layout(String),
    /// The weights and minimal KV cache do not fit.
    #[error("model does not fit: {0}")]
    DoesNotFit(String),
    /// A calibration table could not be read.
    #[error("calibration {file}: line {line}: {message}")]
    Calibration {
        /// file name
        file: String,
        /// 1-based line
        line: usize,
        /// what was wrong
        message: String,
    },
    /// A missing or bad input field.
    #[error("{0}")]
    Input(String),
}
