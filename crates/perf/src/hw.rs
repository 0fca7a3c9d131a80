//! The hardware view the performance model uses: a catalog chip plus the efficiency parameters
//! (calibrated where measurements exist, analytical defaults elsewhere).

use crate::PerfError;
use serde::{Deserialize, Serialize};
use tokenfab_catalog::{Catalog, Chip, Dtype, System};

/// GEMM efficiency parameters for one dtype.
///
/// `time = overhead_s + (t_compute^p + t_memory^p)^(1/p)`, with `t_compute` the FLOPs of the
/// wave-quantized tile grid at `compute_eff × peak` and `t_memory` the bytes moved at
/// `memory_eff × HBM bandwidth`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GemmParams {
    /// Fraction of dense peak reached by a large, well-shaped GEMM.
    pub compute_eff: f64,
    /// Fraction of HBM bandwidth reached streaming the weights.
    pub memory_eff: f64,
    /// Fixed time per kernel (launch, ramp-up, tail), seconds.
    pub overhead_s: f64,
    /// Blend exponent between the compute and memory times (large → max()).
    pub blend_p: f64,
}

/// Attention efficiency parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AttnParams {
    /// Fraction of peak reached by the prefill kernel's tensor-core work (default backend).
    pub prefill_compute_eff: f64,
    /// Same, for the `flash` backend (FlashAttention-2 class kernels).
    pub prefill_compute_eff_flash: f64,
    /// Fixed time per prefill kernel, seconds.
    pub prefill_overhead_s: f64,
    /// Extra work per (sequence, head, query-block) CTA, in key-block units (loading Q,
    /// the softmax epilogue, writing O): amortized better by long sequences.
    pub prefill_cta_overhead_blocks: f64,
    /// Fraction of HBM bandwidth a decode kernel reaches once the GPU is full.
    pub decode_memory_eff: f64,
    /// Bytes in flight needed to reach half of `decode_memory_eff` (saturation scale), bytes.
    pub decode_saturation_bytes: f64,
    /// Fraction of peak for the decode kernel's math (matters for MLA and large GQA groups).
    pub decode_compute_eff: f64,
    /// Fixed time per decode kernel, seconds.
    pub decode_overhead_s: f64,
}

/// Power parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerParams {
    /// Dynamic power (as a fraction of TDP − idle) drawn per unit of compute utilization
    /// (achieved FLOP/s ÷ burst-achievable FLOP/s). Above 1 the chip throttles at its cap.
    pub compute_activity: f64,
    /// Dynamic power fraction per unit of memory utilization (achieved ÷ peak bandwidth).
    pub memory_activity: f64,
    /// Throughput of a fully compute-bound kernel sustained at the power cap, relative to burst.
    pub sustained_compute_ratio: f64,
}

/// Network efficiency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetParams {
    /// Fraction of link bandwidth collectives reach (NCCL bus bandwidth ÷ link rate).
    pub link_eff: f64,
}

/// All efficiency parameters of a chip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Per dtype GEMM parameters (bf16, fp8, fp4; fp16 uses bf16's).
    pub gemm_bf16: GemmParams,
    /// fp8 GEMM.
    pub gemm_fp8: GemmParams,
    /// fp4 GEMM.
    pub gemm_fp4: GemmParams,
    /// Attention.
    pub attn: AttnParams,
    /// Power.
    pub power: PowerParams,
    /// Network.
    pub net: NetParams,
    /// Fraction of HBM bandwidth reached by elementwise/norm kernels.
    pub elementwise_memory_eff: f64,
    /// Where these parameters came from (`analytical defaults`, `calibrated: FILE`).
    pub provenance: String,
}

impl Params {
    /// GEMM parameters for a dtype.
    pub fn gemm(&self, dtype: Dtype) -> &GemmParams {
        match dtype {
            Dtype::Bf16 | Dtype::Fp16 => &self.gemm_bf16,
            Dtype::Fp8 => &self.gemm_fp8,
            Dtype::Fp4 => &self.gemm_fp4,
        }
    }
    /// Mutable GEMM parameters for a dtype.
    pub fn gemm_mut(&mut self, dtype: Dtype) -> &mut GemmParams {
        match dtype {
            Dtype::Bf16 | Dtype::Fp16 => &mut self.gemm_bf16,
            Dtype::Fp8 => &mut self.gemm_fp8,
            Dtype::Fp4 => &mut self.gemm_fp4,
        }
    }

    /// Analytical defaults for a chip with no calibration (see docs/PERF_MODEL.md for why each
    /// number is what it is).
    pub fn analytical(chip: &Chip) -> Params {
        // Large dense GEMMs on current accelerators reach 65–80 % of the dense datasheet peak
        // (H100: 70 % measured in shared/calibration); narrower formats lose a little more to
        // scaling and epilogues. Weight streaming reaches ~85 % of HBM bandwidth. Where the
        // catalog has a measured GEMM efficiency for the chip (`gemm_efficiency`, with its
        // source), that figure replaces the generic fraction.
        let g = |dtype: Dtype, generic: f64| GemmParams {
            compute_eff: chip.gemm_efficiency(dtype).unwrap_or(generic),
            memory_eff: 0.85,
            overhead_s: 6e-6,
            blend_p: 3.0,
        };
        Params {
            gemm_bf16: g(Dtype::Bf16, 0.72),
            gemm_fp8: g(Dtype::Fp8, 0.66),
            gemm_fp4: g(Dtype::Fp4, 0.60),
            attn: AttnParams {
                prefill_compute_eff: 0.58,
                prefill_compute_eff_flash: 0.36,
                prefill_overhead_s: 8e-6,
                prefill_cta_overhead_blocks: 1.0,
                decode_memory_eff: 0.80,
                decode_saturation_bytes: 8e6,
                decode_compute_eff: 0.45,
                decode_overhead_s: 8e-6,
            },
            power: PowerParams {
                compute_activity: 1.25,
                memory_activity: 0.8,
                sustained_compute_ratio: if chip.vendor == "nvidia" { 0.90 } else { 0.88 },
            },
            net: NetParams { link_eff: 0.80 },
            elementwise_memory_eff: 0.75,
            provenance: if chip.gemm_efficiency.is_some() {
                "analytical defaults; GEMM efficiency from the catalog".into()
            } else {
                "analytical defaults".into()
            },
        }
    }
}

/// Whether the chip runs in short bursts (microbenchmarks) or sustained (serving) — in the latter
/// compute-bound work is slowed by power capping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Short runs at boost clocks (what a microbenchmark measures).
    #[default]
    Burst,
    /// Long runs at the power cap (what a serving deployment sees).
    Sustained,
}

/// A chip as the performance model sees it: figures from the catalog, efficiency parameters,
/// and the links it has in a given system.
#[derive(Debug, Clone)]
pub struct Hardware {
    /// Catalog id of the chip.
    pub chip_id: String,
    /// Vendor.
    pub vendor: String,
    /// Dense peaks, FLOP/s, for bf16/fp8/fp4 (None where unsupported).
    pub peak_flops: [Option<f64>; 3],
    /// HBM bandwidth, bytes/s.
    pub hbm_bytes_per_s: f64,
    /// HBM capacity, bytes.
    pub hbm_bytes: f64,
    /// SMs / CUs / cores for wave quantization.
    pub compute_units: u32,
    /// Scale-up bandwidth per chip per direction, bytes/s.
    pub scaleup_bytes_per_s: f64,
    /// Scale-up small-message latency, seconds.
    pub scaleup_latency_s: f64,
    /// Chips in one scale-up domain.
    pub scaleup_domain: u32,
    /// Scale-out bandwidth per chip per direction, bytes/s.
    pub scaleout_bytes_per_s: f64,
    /// Scale-out small-message latency, seconds.
    pub scaleout_latency_s: f64,
    /// TDP (power cap), W.
    pub tdp_w: f64,
    /// Idle power, W.
    pub idle_w: f64,
    /// Efficiency parameters.
    pub params: Params,
    /// Burst or sustained clocks.
    pub clock_mode: ClockMode,
}

impl Hardware {
    /// Builds the hardware view of a chip inside a system (links and domain come from the
    /// system's fabrics where it has them, else from the chip's own figures). Uses the built-in
    /// calibration when one exists for the chip.
    pub fn new(chip: &Chip, system: Option<&System>, catalog: &Catalog) -> Hardware {
        let params = crate::calib::builtin_params(chip).unwrap_or_else(|| Params::analytical(chip));
        Self::with_params(chip, system, catalog, params)
    }

    /// Same as [`Hardware::new`] with explicit parameters.
    pub fn with_params(chip: &Chip, system: Option<&System>, catalog: &Catalog, params: Params) -> Hardware {
        let su_fabric = system.and_then(|s| s.scaleup_fabric.as_deref()).and_then(|f| catalog.fabric(f).ok());
        let so_fabric = system.and_then(|s| s.scaleout_fabric.as_deref()).and_then(|f| catalog.fabric(f).ok());
        let scaleup_domain =
            system.map(|s| s.scaleup_domain_chips.value).unwrap_or(chip.scaleup_domain_chips.value).max(1);
        Hardware {
            chip_id: chip.id.clone(),
            vendor: chip.vendor.clone(),
            peak_flops: [chip.peak_flops(Dtype::Bf16), chip.peak_flops(Dtype::Fp8), chip.peak_flops(Dtype::Fp4)],
            hbm_bytes_per_s: chip.hbm_bytes_per_s(),
            hbm_bytes: chip.hbm_bytes(),
            compute_units: chip.compute_units.as_ref().map_or(128, |c| c.value.max(1)),
            scaleup_bytes_per_s: chip.scaleup_bandwidth_gbps.value * 1e9,
            scaleup_latency_s: su_fabric.map_or(3e-6, |f| f.latency_us.value * 1e-6),
            scaleup_domain,
            scaleout_bytes_per_s: so_fabric.map_or(chip.scaleout_bandwidth_gbps.value, |f| {
                f.bandwidth_gbps.value.min(chip.scaleout_bandwidth_gbps.value)
            }) * 1e9,
            scaleout_latency_s: so_fabric.map_or(8e-6, |f| f.latency_us.value * 1e-6),
            tdp_w: chip.tdp_w.value,
            idle_w: chip.idle_power_w.value,
            params,
            clock_mode: ClockMode::Burst,
        }
    }

    /// Looks up a chip (and its default system) in a catalog.
    pub fn from_catalog(catalog: &Catalog, chip_or_system: &str) -> Result<Hardware, PerfError> {
        if let Ok(sys) = catalog.system(chip_or_system) {
            let chip = catalog.chip(&sys.chip).map_err(|e| PerfError::Catalog(e.to_string()))?;
            return Ok(Hardware::new(chip, Some(sys), catalog));
        }
        let chip = catalog.chip(chip_or_system).map_err(|e| PerfError::Catalog(e.to_string()))?;
        let sys = catalog.default_system_for_chip(&chip.id);
        Ok(Hardware::new(chip, sys, catalog))
    }

    /// Dense peak FLOP/s for a dtype (fp16 = bf16). Error if the chip has no such tensor path.
    pub fn peak(&self, dtype: Dtype) -> Result<f64, PerfError> {
        let p = match dtype {
            Dtype::Bf16 | Dtype::Fp16 => self.peak_flops[0],
            Dtype::Fp8 => self.peak_flops[1],
            Dtype::Fp4 => self.peak_flops[2],
        };
        p.ok_or_else(|| PerfError::UnsupportedDtype { chip: self.chip_id.clone(), dtype })
    }

    /// Peak for a dtype, falling back to a wider supported format: fp8 without fp8 tensor cores
    /// runs at the bf16 rate, and so do fp4 weights without fp4 tensor cores: engines dequantize
    /// them in a W4A16 kernel (Marlin for NVFP4 in vLLM, Triton's MXFP4 matmul for GPT-OSS in
    /// vLLM, SGLang and TensorRT-LLM on Hopper; reported), not to fp8.
    pub fn peak_or_wider(&self, dtype: Dtype) -> (f64, Dtype) {
        let order = match dtype {
            Dtype::Fp4 => [Dtype::Fp4, Dtype::Bf16, Dtype::Bf16],
            d => [d, Dtype::Fp8, Dtype::Bf16],
        };
        for d in order {
            if d.bytes() >= dtype.bytes()
                && let Ok(p) = self.peak(d)
            {
                return (p, d);
            }
        }
        (self.peak_flops[0].unwrap_or(1e12), Dtype::Bf16)
    }

    /// Compute-throughput factor from power capping for work of the given compute utilization
    /// (1.0 in burst mode).
    pub fn clock_factor(&self, compute_util: f64) -> f64 {
        match self.clock_mode {
            ClockMode::Burst => 1.0,
            ClockMode::Sustained => crate::power::sustained_factor(&self.params.power, compute_util),
        }
    }
}
