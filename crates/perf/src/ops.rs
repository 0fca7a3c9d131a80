//! Operator costs: GEMM (dense and grouped), attention prefill/decode, elementwise kernels.

use crate::{Bound, Hardware, OpCost};
use tokenfab_catalog::Dtype;

/// A dense GEMM C[m,n] = A[m,k] · W[n,k]ᵀ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gemm {
    /// Rows (tokens).
    pub m: u64,
    /// Output features.
    pub n: u64,
    /// Reduction dimension.
    pub k: u64,
    /// Operand format (weights and activations).
    pub dtype: Dtype,
}

/// Tile shapes a GEMM library picks among (rows × cols of C per CTA).
const TILES: [(u64, u64); 5] = [(64, 64), (64, 128), (128, 128), (128, 256), (256, 128)];

fn blend(a: f64, b: f64, p: f64) -> f64 {
    let m = a.max(b);
    if m <= 0.0 {
        return 0.0;
    }
    m * ((a / m).powf(p) + (b / m).powf(p)).powf(1.0 / p)
}

/// Fixed time of a small (latency-bound) kernel: launch + ramp + tail, ~2 µs (estimate).
pub const SMALL_KERNEL_S: f64 = 2e-6;

/// Cost of a dense GEMM.
pub fn gemm(hw: &Hardware, g: &Gemm) -> OpCost {
    grouped_gemm(hw, g.dtype, 1, g.m as f64, g.n, g.k, 1.0)
}

/// Cost of `groups` GEMMs of the same weight shape [n,k], with `m_per_group` rows each (may be
/// fractional: an expected count), as one grouped kernel. `weight_groups_touched` is how many of
/// the groups' weights are actually read (experts that received at least one token).
pub fn grouped_gemm(
    hw: &Hardware,
    dtype: Dtype,
    groups: u64,
    m_per_group: f64,
    n: u64,
    k: u64,
    weight_groups_touched: f64,
) -> OpCost {
    grouped_gemm_mixed(hw, dtype, dtype, groups, m_per_group, n, k, weight_groups_touched)
}

/// [`grouped_gemm`] with weights in one format and activations in another (W4A8: MXFP4 weights
/// × MXFP8 activations; W4A16). The tensor cores run the wider of the two formats; the weights
/// stream at their own width.
#[allow(clippy::too_many_arguments)]
pub fn grouped_gemm_mixed(
    hw: &Hardware,
    weight: Dtype,
    act: Dtype,
    groups: u64,
    m_per_group: f64,
    n: u64,
    k: u64,
    weight_groups_touched: f64,
) -> OpCost {
    let run = if act.bytes() > weight.bytes() { act } else { weight };
    // The efficiencies are those of the format the tensor cores run (a dequantizing kernel runs
    // at the wider format's rate and efficiency).
    let (peak, used) = hw.peak_or_wider(run);
    let p = hw.params.gemm(used);
    let sms = hw.compute_units as f64;
    let groups_f = groups as f64;
    let flops = 2.0 * m_per_group * groups_f * n as f64 * k as f64;
    // A is read once per group, W once per touched group, C written in bf16.
    let bytes = m_per_group * groups_f * k as f64 * act.bytes()
        + weight_groups_touched * n as f64 * k as f64 * weight.bytes()
        + m_per_group * groups_f * n as f64 * 2.0;
    if flops <= 0.0 {
        return OpCost::zero();
    }
    // Wave quantization: the best tile for this shape, CTAs spread over SMs. Each group's rows
    // are padded to whole tiles. Split-K is modelled by letting a wave hold partial K when there
    // are fewer tiles than SMs (the library splits K to fill the machine).
    // Only the groups that receive rows get tiles (a grouped kernel schedules CTAs over the
    // experts in its token list), so the rows are spread over the touched groups.
    let per_sm = peak * p.compute_eff / sms;
    let mut t_compute = f64::INFINITY;
    let active = weight_groups_touched.clamp(1.0_f64.min(groups_f), groups_f);
    let m_ceil = (m_per_group * groups_f / active).ceil().max(1.0);
    for (tm, tn) in TILES {
        let tiles = active * (m_ceil / tm as f64).ceil() * (n as f64 / tn as f64).ceil();
        let split = if tiles < sms { (sms / tiles).floor().clamp(1.0, (k as f64 / 256.0).max(1.0)) } else { 1.0 };
        let ctas = tiles * split;
        let waves = (ctas / sms).ceil();
        let t = waves * 2.0 * tm as f64 * tn as f64 * (k as f64 / split) / per_sm;
        t_compute = t_compute.min(t);
    }
    let clock = hw.clock_factor(flops / t_compute.max(1e-12) / peak / p.compute_eff);
    let t_compute = t_compute / clock;
    let t_memory = bytes / (hw.hbm_bytes_per_s * p.memory_eff);
    let body = blend(t_compute, t_memory, p.blend_p);
    let time = p.overhead_s + body;
    let bound = if t_compute >= t_memory { Bound::Compute } else { Bound::Memory };
    OpCost::new(hw, time, flops, bytes, peak, bound)
}

/// Causal attention prefill: `batch` sequences of `new_tokens` each, attending to `cached` earlier
/// tokens (chunked prefill / prefix hits) and causally to themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnPrefill {
    /// Sequences.
    pub batch: u64,
    /// New (query) tokens per sequence.
    pub new_tokens: u64,
    /// Already-cached tokens per sequence.
    pub cached: u64,
    /// Query heads (on this chip).
    pub heads: u64,
    /// KV heads (on this chip).
    pub kv_heads: u64,
    /// Q·K dimension per head.
    pub qk_dim: u64,
    /// V dimension per head.
    pub v_dim: u64,
    /// Format of Q/K/V.
    pub dtype: Dtype,
    /// Kernel family: `None` = the production default (cuDNN / FA3 / TRT-LLM FMHA class),
    /// `Some("flash")` = FlashAttention-2 class.
    pub flash2: bool,
}

/// Query-block / key-block size of the flash-style tiling.
const ATTN_BLOCK: f64 = 128.0;

/// Cost of causal attention prefill.
pub fn attn_prefill(hw: &Hardware, a: &AttnPrefill) -> OpCost {
    let (peak, _) = hw.peak_or_wider(if a.dtype == Dtype::Fp8 { Dtype::Fp8 } else { Dtype::Bf16 });
    let p = &hw.params.attn;
    let eff = if a.flash2 { p.prefill_compute_eff_flash } else { p.prefill_compute_eff };
    let s = a.new_tokens as f64;
    let c = a.cached as f64;
    let b = a.batch as f64;
    let h = a.heads as f64;
    let dsum = (a.qk_dim + a.v_dim) as f64;
    // Exact useful FLOPs: each new token i attends to c + i + 1 keys.
    let pairs = s * c + s * (s + 1.0) / 2.0;
    let flops = 2.0 * b * h * pairs * dsum;
    let eb = a.dtype.bytes();
    let bytes =
        b * ((s * h * (a.qk_dim as f64) + (s + c) * a.kv_heads as f64 * dsum) * eb + s * h * a.v_dim as f64 * 2.0);
    // Block schedule: q-block j of a sequence visits (c + (j+1)·B)/B key blocks. CTAs are
    // (sequence, head, q-block); the makespan is at least the longest CTA and at least the
    // total work spread over the SMs.
    let qb = (s / ATTN_BLOCK).ceil().max(1.0);
    let cb = c / ATTN_BLOCK;
    let c0 = p.prefill_cta_overhead_blocks;
    let work_blocks = b * h * (qb * (cb + c0) + qb * (qb + 1.0) / 2.0);
    let longest = cb + qb + c0;
    let sms = hw.compute_units as f64;
    let block_flops = 2.0 * ATTN_BLOCK * ATTN_BLOCK * dsum;
    let per_sm = peak * eff / sms;
    let t_c0 = (work_blocks / sms).max(longest) * block_flops / per_sm;
    let clock = hw.clock_factor(flops / t_c0.max(1e-12) / peak / eff);
    let t_compute = t_c0 / clock;
    let t_memory = bytes / (hw.hbm_bytes_per_s * 0.8);
    let time = p.prefill_overhead_s + t_compute.max(t_memory);
    let bound = if t_compute >= t_memory { Bound::Compute } else { Bound::Memory };
    OpCost::new(hw, time, flops, bytes, peak, bound)
}

/// Decode attention: one query token per sequence over a paged KV cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnDecode {
    /// Sequences.
    pub batch: u64,
    /// Total cached tokens over all sequences (Σ context).
    pub total_context: u64,
    /// Query heads (on this chip).
    pub heads: u64,
    /// KV heads (on this chip); for MLA 1 (the shared latent).
    pub kv_heads: u64,
    /// Cached elements per token per KV head (GQA: 2·head_dim for K and V; MLA: latent + rope).
    pub kv_elems_per_head: u64,
    /// Math per query head per cached token (GQA: 4·head_dim; MLA absorbed: 2·(latent+rope+latent)).
    pub flops_per_head_token: u64,
    /// KV cache format.
    pub kv_dtype: Dtype,
}

/// Cost of decode attention.
pub fn attn_decode(hw: &Hardware, a: &AttnDecode) -> OpCost {
    if a.batch == 0 {
        return OpCost::zero();
    }
    let (peak, _) = hw.peak_or_wider(Dtype::Bf16);
    let p = &hw.params.attn;
    let ctx = a.total_context as f64;
    let kv_bytes = ctx * a.kv_heads as f64 * a.kv_elems_per_head as f64 * a.kv_dtype.bytes();
    let bytes = kv_bytes + a.batch as f64 * a.heads as f64 * 256.0 * 2.0;
    let flops = ctx * a.heads as f64 * a.flops_per_head_token as f64;
    // Bandwidth saturates with the bytes in flight: a small decode cannot fill the machine.
    let sat = kv_bytes / (kv_bytes + p.decode_saturation_bytes);
    let bw = hw.hbm_bytes_per_s * p.decode_memory_eff * sat.max(1e-3);
    let t_memory = kv_bytes / bw;
    let t_compute = flops / (peak * p.decode_compute_eff);
    let time = p.decode_overhead_s + blend(t_memory, t_compute, 3.0);
    let bound = if t_compute >= t_memory { Bound::Compute } else { Bound::Memory };
    OpCost::new(hw, time, flops, bytes, peak, bound)
}

/// A memory-bound elementwise kernel (norm, activation, rotary, residual add, sampling).
pub fn elementwise(hw: &Hardware, bytes: f64, flops: f64) -> OpCost {
    if bytes <= 0.0 {
        return OpCost::zero();
    }
    let (peak, _) = hw.peak_or_wider(Dtype::Bf16);
    let t = bytes / (hw.hbm_bytes_per_s * hw.params.elementwise_memory_eff);
    OpCost::new(hw, SMALL_KERNEL_S + t, flops, bytes, peak, Bound::Memory)
}
