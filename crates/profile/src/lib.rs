//! tokenfab-profile: measure your own GPU and calibrate tokenfab's performance model to it.
//!
//! The library holds everything that does not need a GPU — the shape grid ([`grid`]), the
//! statistics over repeats ([`stats`]), random operand data ([`random`]) and the calibration-table
//! writers ([`table`]) — and, behind the `gpu` cargo feature, the CUDA measurements
//! (`gpu`: cuBLASLt GEMMs, NVRTC attention kernels, device copies, NVML power and clocks).
//!
//! ```text
//!  grid::default_grid ──► gpu::run (feature `gpu`) ──► table::write_ops_csv      ──► tokenfab predict
//!  (Llama-3.1-8B GEMMs,    cuBLASLt · NVRTC · NVML      table::write_ceilings_csv     --calibration
//!   attention, MoE)        median of repeats            (`#` provenance lines)       tokenfab validate ops
//! ```
//!
//! Without a GPU the grid and the writers still work, which is how they are tested:
//!
//! ```
//! use tokenfab_profile::grid::{default_grid, GridOptions, OpCase};
//! use tokenfab_profile::table::{write_ops_csv, OpMeasurement, Provenance};
//!
//! let cases = default_grid(GridOptions::default());
//! assert!(cases.iter().any(|c| matches!(c, OpCase::Gemm { m: 1, n: 6144, k: 4096, .. })));
//! let rows = vec![OpMeasurement { case: cases[0], backend: "cublaslt".into(), latency_ms: 0.03 }];
//! let mut prov = Provenance::default();
//! prov.push("gpu", "example");
//! let mut out = Vec::new();
//! write_ops_csv(&mut out, &prov, &rows).unwrap();
//! let text = String::from_utf8(out).unwrap();
//! let parsed = tokenfab_perf::calib::parse_ops_csv("example.csv", &text, "latency_ms").unwrap();
//! assert_eq!(parsed.len(), 1);
//! ```
//!
//! Architecture invariant: the library does no file IO (writers take `impl Write`); the binary
//! `tokenfab-profile` owns files, the clock and the command line.
#![warn(missing_docs)]

pub mod compare;
pub mod grid;
pub mod random;
pub mod stats;
pub mod table;

#[cfg(feature = "gpu")]
pub mod gpu;

/// Errors of the profiler.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
    /// A value that cannot be written into a calibration table.
    #[error("invalid measurement: {0}")]
    Invalid(String),
    /// Writing a table failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The binary was built without CUDA support.
    #[error(
        "this tokenfab-profile was built without the `gpu` feature, so it cannot measure a GPU; \
         rebuild with `cargo build --release -p tokenfab-profile --features gpu` (no CUDA toolkit is needed \
         to build; the NVIDIA driver, cuBLASLt and NVRTC are loaded at run time)"
    )]
    NoGpuFeature,
    /// No usable GPU, driver or CUDA library at run time.
    #[error("no usable NVIDIA GPU: {0}")]
    NoGpu(String),
    /// A CUDA, cuBLASLt, NVRTC or NVML call failed.
    #[error("{call} failed: {detail}")]
    Cuda {
        /// The API call (e.g. `cublasLtMatmul`).
        call: String,
        /// The status or error it returned.
        detail: String,
    },
}

/// Measurement settings shared by every case.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// CUDA device ordinal.
    pub device: usize,
    /// Untimed launches before timing each case.
    pub warmup: usize,
    /// Timed repeats per case (the table holds their median).
    pub repeats: usize,
    /// Most seconds of timed repeats per case; slow cases get fewer repeats (never fewer than 3).
    pub case_budget_s: f64,
    /// Overwrite a 256 MiB buffer before every timed repeat so operands come from HBM, not L2.
    pub flush_l2: bool,
    /// cuBLASLt fp8 fast accumulation (`CUBLASLT_MATMUL_DESC_FAST_ACCUM`); off matches PyTorch's
    /// `torch._scaled_mm` default.
    pub fp8_fast_accum: bool,
    /// Time every algorithm cuBLASLt's heuristic proposes (up to 8) and keep the fastest, instead
    /// of its first choice (what PyTorch and plain cuBLASLt callers get).
    pub gemm_autotune: bool,
    /// Seconds of back-to-back work for each sustained power measure (0 skips power measures).
    pub sustain_s: f64,
    /// Seconds of idle for the idle-power measure.
    pub idle_s: f64,
    /// Seed of the random operand data and the MoE routing.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            device: 0,
            warmup: 5,
            repeats: 25,
            case_budget_s: 2.0,
            flush_l2: true,
            fp8_fast_accum: false,
            gemm_autotune: false,
            sustain_s: 6.0,
            idle_s: 4.0,
            seed: 0,
        }
    }
}
