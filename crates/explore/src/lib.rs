//! # tokenfab-explore
//!
//! What inference chip should a lab build? This crate sweeps a design space of custom
//! accelerators (compute per dtype, HBM generation and stacks, SRAM, scale-up bandwidth and
//! domain, TDP, dies per package), prices and sizes each design with a sourced cost/area model,
//! screens it on the lab's workload with the analytic step model of `tokenfab-perf`, and keeps
//! the Pareto frontier of tokens per joule against dollars per million tokens — next to the
//! catalog chips scored the same way.
//!
//! ```text
//!  SPACE.toml ─► Space (axes × figures) ─► design i ─► cost::physical ─► reject: reticle, shoreline,
//!                                                     │                  package, power density, TDP
//!                                                     ▼
//!                                    cost::to_chip ─► catalog Chip (estimates)
//!                                                     ▼
//!               perf Hardware + StepModel (sustained clocks) ─► screen::score: per model and layout,
//!                  the largest batch meeting TTFT/TPOT with weights + KV in HBM ─► reject: fit, SLO
//!                                                     ▼
//!                  tokens/s/chip, tokens/J, $/Mtok ─► run::ShardFile ─► merge ─► pareto::frontier
//! ```
//!
//! Shards (`Shard { index, count }`) take every `count`-th design, so a space can be fanned out
//! to a Kubernetes Indexed Job or a Slurm array and the shard files merged into exactly the
//! frontier of a single run.
//!
//! ```
//! use tokenfab_catalog::Catalog;
//! use tokenfab_explore::{Explorer, Shard, Space};
//! let space = Space::from_toml("doc", r#"
//!     name = "tiny"
//!     [axes]
//!     fp8_pflops = [4.5, 6.0]
//!     memory = ["hbm3e-12h"]
//!     hbm_stacks = [4, 8]
//!     sram_mb = [128.0]
//!     scaleup_gbps = [900.0]
//!     scaleup_domain = [8]
//!     tdp_w = [1000.0]
//!     compute_dies = [2]
//!     [workload]
//!     name = "chat"
//!     weight_dtype = "fp8"
//!     kv_dtype = "fp8"
//!     ttft_slo_ms = 2000.0
//!     tpot_slo_ms = 50.0
//!     [[workload.task]]
//!     name = "chat"
//!     share = 1.0
//!     input_tokens = 1000
//!     output_tokens = 300
//!     [[workload.model]]
//!     id = "llama-3.1-8b"
//!     share = 1.0
//! "#).unwrap();
//! let catalog = Catalog::builtin();
//! let explorer = Explorer::new(&space, &catalog).unwrap();
//! let run = explorer.run(0, Shard::ALL, &|| {});
//! assert_eq!(run.designs_evaluated, 4);
//! let front = tokenfab_explore::frontier_of(&run);
//! assert!(!front.is_empty());
//! ```
//!
//! Architecture Invariant: no IO and no clock. Outputs are pure functions of (space, catalog,
//! seed); shard files are plain serde values the caller reads and writes.
#![warn(missing_docs)]

pub mod confirm;
pub mod cost;
pub mod figures;
pub mod output;
pub mod pareto;
pub mod run;
pub mod screen;
pub mod space;

pub use figures::{CostModel, Figures, MemoryFigures};
pub use run::{CatalogScore, DesignResult, Explorer, Shard, ShardFile, frontier_of, merge};
pub use screen::{Economics, ModelScore, Score, Workload};
pub use space::{Design, Space};

use serde::{Deserialize, Serialize};

/// Why a design was rejected. Counted per reason in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rejection {
    /// A compute die is larger than the reticle limit.
    Reticle,
    /// The dies do not have enough edge for the HBM PHYs.
    HbmShoreline,
    /// The interposer is larger than packaging can build.
    PackageTooLarge,
    /// TDP per mm² of silicon exceeds what cooling removes.
    PowerDensity,
    /// The TDP is far below what the compute, memory and links draw at full rate.
    TdpBelowDemand,
    /// No layout within the scale-up domain holds a model's weights and one sequence's KV.
    DoesNotFit,
    /// No layout meets the TTFT target.
    TtftSlo,
    /// No layout meets the TPOT target, even at batch 1.
    TpotSlo,
}

impl Rejection {
    /// Every reason, in report order.
    pub const ALL: [Rejection; 8] = [
        Rejection::Reticle,
        Rejection::HbmShoreline,
        Rejection::PackageTooLarge,
        Rejection::PowerDensity,
        Rejection::TdpBelowDemand,
        Rejection::DoesNotFit,
        Rejection::TtftSlo,
        Rejection::TpotSlo,
    ];
    /// kebab-case name used in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Reticle => "reticle",
            Rejection::HbmShoreline => "hbm-shoreline",
            Rejection::PackageTooLarge => "package-too-large",
            Rejection::PowerDensity => "power-density",
            Rejection::TdpBelowDemand => "tdp-below-demand",
            Rejection::DoesNotFit => "does-not-fit",
            Rejection::TtftSlo => "ttft-slo",
            Rejection::TpotSlo => "tpot-slo",
        }
    }
    /// One sentence for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Rejection::Reticle => "a compute die exceeds the reticle limit",
            Rejection::HbmShoreline => "the dies lack edge length for the HBM PHYs",
            Rejection::PackageTooLarge => "the interposer exceeds the largest CoWoS-class package",
            Rejection::PowerDensity => "TDP per mm2 of silicon exceeds the cooling limit",
            Rejection::TdpBelowDemand => "full-rate power exceeds the TDP by more than the allowed factor",
            Rejection::DoesNotFit => "a model's weights and KV do not fit in HBM across the scale-up domain",
            Rejection::TtftSlo => "no layout meets the TTFT target",
            Rejection::TpotSlo => "no layout meets the TPOT target even at batch 1",
        }
    }
}

/// Errors of the explorer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExploreError {
    /// A space file (or its figures) is invalid; every problem found.
    #[error("{origin}: {} problem(s):\n{}", .problems.len(), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Space {
        /// File name or `builtin:NAME`.
        origin: String,
        /// What was wrong, with the field.
        problems: Vec<String>,
    },
    /// Shard files that cannot be merged.
    #[error("merge: {0}")]
    Merge(String),
    /// An output table or page could not be built.
    #[error("output: {0}")]
    Output(String),
}
