//! One engine iteration (a "step") of a model on a parallel layout: the sum of its operators.
//!
//! A step processes a batch that may mix prefill chunks and decode tokens ([`BatchShape`]). The
//! per-chip work follows the layout ([`Parallel`]): attention heads split over `tp`, the batch
//! over `attn_dp`, experts over `moe_ep` and expert matrices over `moe_tp`, layers over `pp`.
//! Every operator is costed by [`crate::ops`] and [`crate::collective`], then summed per
//! [`OpClass`].

use crate::collective::{Collective, collective, link_for};
use crate::ops::{self, AttnDecode, AttnPrefill};
use crate::{Bound, ClockMode, Hardware, OpCost, PerfError};
use serde::{Deserialize, Serialize};
use tokenfab_catalog::{Attention, Dtype, Model};

/// Small kernels per layer beyond those the step costs one by one: the second norm, rotary + KV
/// write, the activation (estimate; see [`StepModel::cost`]).
pub const AUX_KERNELS_PER_LAYER: f64 = 1.0;
/// Extra small kernels per MLA attention layer: q/kv latent norms, rope split/concat (estimate).
pub const AUX_KERNELS_MLA: f64 = 3.0;
/// Extra small kernels per sparse-attention (indexer) layer: norm/quantization, top-k (estimate).
pub const AUX_KERNELS_SPARSE_ATTN: f64 = 2.0;
/// Extra small kernels per MoE layer: gating top-k, permutation, activation quantization,
/// finalize (estimate).
pub const AUX_KERNELS_MOE: f64 = 4.0;
/// Extra small kernels per linear-attention layer: short convolution, gates, norm (estimate).
pub const AUX_KERNELS_LINEAR_ATTN: f64 = 3.0;

/// How the model is split across chips (names as in AIConfigurator / TensorRT-LLM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(deny_unknown_fields, default)]
pub struct Parallel {
    /// Tensor parallelism of attention (and dense FFN) inside one attention-DP group.
    pub tp: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Attention data parallelism (each group has its own batch; MoE is shared).
    pub attn_dp: u32,
    /// Tensor parallelism inside each expert.
    pub moe_tp: u32,
    /// Expert parallelism.
    pub moe_ep: u32,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel { tp: 1, pp: 1, attn_dp: 1, moe_tp: 1, moe_ep: 1 }
    }
}

impl Parallel {
    /// Plain tensor parallelism over `tp` chips (experts split by TP too).
    pub fn tp(tp: u32) -> Parallel {
        Parallel { tp, moe_tp: tp, ..Default::default() }
    }

    /// Chips one replica occupies.
    pub fn chips(&self) -> u32 {
        self.tp * self.attn_dp * self.pp
    }

    /// Checks the layout against a model and the hardware's scale-up domain.
    pub fn check(&self, model: &Model, hw: &Hardware) -> Result<(), PerfError> {
        self.check_with(model, hw, false)
    }

    /// Like [`Parallel::check`]; with `allow_multi_domain_tp`, tensor parallelism may span
    /// scale-up domains (its collectives then run over the scale-out fabric).
    pub fn check_with(&self, model: &Model, hw: &Hardware, allow_multi_domain_tp: bool) -> Result<(), PerfError> {
        for (name, v) in [
            ("tp", self.tp),
            ("pp", self.pp),
            ("attn_dp", self.attn_dp),
            ("moe_tp", self.moe_tp),
            ("moe_ep", self.moe_ep),
        ] {
            if v == 0 {
                return Err(PerfError::Layout(format!("{name} must be at least 1")));
            }
        }
        if self.moe_tp * self.moe_ep != self.tp * self.attn_dp {
            return Err(PerfError::Layout(format!(
                "moe_tp × moe_ep ({} × {}) must equal tp × attn_dp ({} × {})",
                self.moe_tp, self.moe_ep, self.tp, self.attn_dp
            )));
        }
        if self.tp > hw.scaleup_domain && !allow_multi_domain_tp {
            return Err(PerfError::Layout(format!(
                "tp {} is larger than the scale-up domain of {} ({} chips)",
                self.tp, hw.chip_id, hw.scaleup_domain
            )));
        }
        if self.pp > model.num_layers {
            return Err(PerfError::Layout(format!("pp {} exceeds the model's {} layers", self.pp, model.num_layers)));
        }
        if let Some(m) = &model.moe {
            // An expert count that moe_ep does not divide is served with ⌈experts / moe_ep⌉
            // expert slots per rank, some experts replicated (TensorRT-LLM's wide-EP load
            // balancer: 256 experts on 36 GPUs run as 288 slots, 8 per GPU).
            if self.moe_ep > m.num_experts {
                return Err(PerfError::Layout(format!(
                    "moe_ep {} is larger than the model's {} experts",
                    self.moe_ep, m.num_experts
                )));
            }
        } else if self.moe_ep > 1 {
            return Err(PerfError::Layout("moe_ep > 1 on a dense model".into()));
        }
        if model.num_attention_heads < self.tp {
            return Err(PerfError::Layout(format!(
                "tp {} exceeds the model's {} attention heads",
                self.tp, model.num_attention_heads
            )));
        }
        // The engines shard attention heads evenly (vLLM, SGLang and TensorRT-LLM refuse other
        // sizes at start-up): query heads must divide by tp, and KV heads either divide by tp
        // or are replicated over a whole number of ranks.
        if !model.num_attention_heads.is_multiple_of(self.tp) {
            return Err(PerfError::Layout(format!(
                "tp {} does not divide the model's {} attention heads",
                self.tp, model.num_attention_heads
            )));
        }
        let kv = model.num_kv_heads.max(1);
        if !kv.is_multiple_of(self.tp) && !self.tp.is_multiple_of(kv) {
            return Err(PerfError::Layout(format!(
                "tp {} neither divides the model's {} KV heads nor is a multiple of them",
                self.tp, kv
            )));
        }
        Ok(())
    }
}

/// Knobs of the step model that come from the serving engine and deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepOptions {
    /// Format of dense GEMM weights and activations.
    pub weight_dtype: Dtype,
    /// Format of MoE expert weights (defaults to `weight_dtype`).
    pub moe_dtype: Option<Dtype>,
    /// Format of the activations the routed experts' GEMMs take, where it differs from the
    /// experts' weights (GPT-OSS on Blackwell with TensorRT-LLM: MXFP8 activations × MXFP4
    /// weights). The GEMMs run at the wider format's rate. Defaults to the weights' format.
    pub moe_act_dtype: Option<Dtype>,
    /// KV-cache format.
    pub kv_dtype: Dtype,
    /// Whether the step runs as CUDA graphs (no host launch gaps). Without graphs each kernel
    /// pays `launch_overhead_s` on top.
    pub cuda_graphs: bool,
    /// Host launch cost per kernel without graphs, seconds.
    pub launch_overhead_s: f64,
    /// Fraction of the per-kernel fixed time measured in isolation that remains when kernels run
    /// back to back inside a step (overlap of one kernel's tail with the next one's ramp).
    pub kernel_overhead_scale: f64,
    /// Use FlashAttention-2 class prefill kernels instead of the production default.
    pub flash2_attention: bool,
    /// Burst or sustained (power-capped) clocks.
    pub clock_mode: ClockMode,
    /// Only use this many layers (for per-layer measurements).
    pub layers: Option<u32>,
    /// Let tensor parallelism span scale-up domains (collectives over the scale-out fabric).
    pub allow_multi_domain_tp: bool,
}

impl Default for StepOptions {
    fn default() -> Self {
        StepOptions {
            weight_dtype: Dtype::Bf16,
            moe_dtype: None,
            moe_act_dtype: None,
            kv_dtype: Dtype::Bf16,
            cuda_graphs: true,
            launch_overhead_s: 4e-6,
            kernel_overhead_scale: 1.0,
            flash2_attention: false,
            clock_mode: ClockMode::Burst,
            layers: None,
            allow_multi_domain_tp: false,
        }
    }
}

/// The work in one engine iteration of one replica, summed over its sequences.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BatchShape {
    /// Sequences with prefill work in this step.
    pub prefill_seqs: u32,
    /// Σ new prompt tokens processed in this step.
    pub prefill_tokens: u64,
    /// Σ (new tokens)² over prefill sequences (for the causal part of attention).
    pub prefill_tokens_sq: f64,
    /// Σ cached tokens × new tokens over prefill sequences (chunked prefill, prefix hits).
    pub prefill_cached_x_new: f64,
    /// Sequences generating one token in this step.
    pub decode_seqs: u32,
    /// Σ context length (cached tokens) over decode sequences.
    pub decode_context: u64,
    /// Σ min(context, window) over decode sequences, for sliding-window layers (0: derive from
    /// the mean context).
    pub decode_context_in_window: u64,
    /// Sequences whose logits are computed (decode sequences plus prefills finishing now).
    pub logits_seqs: u32,
    /// Extra query tokens of decode sequences beyond one each: speculative decoding verifies
    /// `k` draft tokens per sequence (`k × decode_seqs`); 0 otherwise. Their logits are counted
    /// in `logits_seqs` by the caller.
    #[serde(default)]
    pub decode_extra_tokens: u64,
}

impl BatchShape {
    /// A pure-decode batch of `batch` sequences with `context` cached tokens each.
    pub fn decode(batch: u32, context: u64) -> BatchShape {
        BatchShape {
            decode_seqs: batch,
            decode_context: batch as u64 * context,
            logits_seqs: batch,
            ..Default::default()
        }
    }
    /// A pure-prefill batch of `batch` sequences of `len` new tokens, nothing cached.
    pub fn prefill(batch: u32, len: u64) -> BatchShape {
        BatchShape {
            prefill_seqs: batch,
            prefill_tokens: batch as u64 * len,
            prefill_tokens_sq: batch as f64 * (len as f64).powi(2),
            logits_seqs: batch,
            ..Default::default()
        }
    }
    /// Adds one prefill chunk of `new` tokens on top of `cached` ones.
    pub fn add_prefill(&mut self, new: u64, cached: u64, finishes: bool) {
        self.prefill_seqs += 1;
        self.prefill_tokens += new;
        self.prefill_tokens_sq += (new as f64).powi(2);
        self.prefill_cached_x_new += cached as f64 * new as f64;
        if finishes {
            self.logits_seqs += 1;
        }
    }
    /// Adds one decoding sequence with `context` cached tokens.
    pub fn add_decode(&mut self, context: u64, window: Option<u32>) {
        self.decode_seqs += 1;
        self.decode_context += context;
        if let Some(w) = window {
            self.decode_context_in_window += context.min(w as u64);
        }
        self.logits_seqs += 1;
    }
    /// Tokens processed in this step.
    pub fn tokens(&self) -> u64 {
        self.prefill_tokens + self.decode_seqs as u64 + self.decode_extra_tokens
    }
    /// Query tokens per decode sequence (1, or 1 + k when verifying k draft tokens).
    pub fn decode_queries_per_seq(&self) -> u64 {
        1 + self.decode_extra_tokens.div_ceil(self.decode_seqs.max(1) as u64)
    }
}

/// Operator classes a step is broken down into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpClass {
    /// Dense projections (QKV, output, dense FFN, MLA projections).
    Gemm,
    /// Routed and shared experts, router.
    Moe,
    /// Prefill attention.
    AttnPrefill,
    /// Decode attention.
    AttnDecode,
    /// Linear-attention (state-space) mixing.
    LinearAttn,
    /// Norms, activations, rotary, residuals.
    Elementwise,
    /// Embedding lookup, LM head, sampling.
    Logits,
    /// Tensor-, expert- and pipeline-parallel communication.
    Communication,
    /// Host launch gaps (no CUDA graphs).
    Overhead,
}

impl OpClass {
    /// Every class, in report order.
    pub const ALL: [OpClass; 9] = [
        OpClass::Gemm,
        OpClass::Moe,
        OpClass::AttnPrefill,
        OpClass::AttnDecode,
        OpClass::LinearAttn,
        OpClass::Elementwise,
        OpClass::Logits,
        OpClass::Communication,
        OpClass::Overhead,
    ];
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OpClass::Gemm => "gemm",
            OpClass::Moe => "moe",
            OpClass::AttnPrefill => "attn_prefill",
            OpClass::AttnDecode => "attn_decode",
            OpClass::LinearAttn => "linear_attn",
            OpClass::Elementwise => "elementwise",
            OpClass::Logits => "logits",
            OpClass::Communication => "communication",
            OpClass::Overhead => "overhead",
        }
    }
}

/// The cost of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepCost {
    /// Latency of the step through all pipeline stages, seconds.
    pub time_s: f64,
    /// Time of the slowest pipeline stage (the throughput limit with `pp` micro-batches in
    /// flight), seconds. Equals `time_s` without pipelining.
    pub stage_time_s: f64,
    /// Energy of all chips of the replica during `time_s`, joules.
    pub energy_j: f64,
    /// FLOPs on one chip.
    pub flops: f64,
    /// HBM bytes on one chip.
    pub bytes: f64,
    /// Per-class cost on one chip (one pipeline stage's share × pp).
    pub classes: [OpCost; 9],
}

impl StepCost {
    /// The cost of one class.
    pub fn class(&self, c: OpClass) -> &OpCost {
        &self.classes[c as usize]
    }
    /// What bounds the step: the class with the most time decides, mapped to its bound.
    pub fn bound(&self) -> Bound {
        let mut best = (0.0, Bound::Overhead);
        for c in &self.classes {
            if c.time_s > best.0 {
                best = (c.time_s, c.bound);
            }
        }
        best.1
    }
    /// Average power per chip during the step, W.
    pub fn power_per_chip_w(&self, chips: u32) -> f64 {
        if self.time_s > 0.0 { self.energy_j / self.time_s / chips as f64 } else { 0.0 }
    }
}

/// A model on a layout on a chip, ready to cost batches.
#[derive(Debug, Clone)]
pub struct StepModel {
    /// The model.
    pub model: Model,
    /// The hardware (with step-specific overhead scaling applied).
    pub hw: Hardware,
    /// The layout.
    pub parallel: Parallel,
    /// Options.
    pub options: StepOptions,
    layers: u32,
}

struct Acc {
    classes: [OpCost; 9],
}

impl Acc {
    fn add(&mut self, class: OpClass, c: OpCost) {
        let slot = &mut self.classes[class as usize];
        *slot = slot.then(c);
    }
}

impl StepModel {
    /// Builds a step model after checking the layout.
    pub fn new(model: &Model, hw: &Hardware, parallel: Parallel, options: StepOptions) -> Result<StepModel, PerfError> {
        parallel.check_with(model, hw, options.allow_multi_domain_tp)?;
        let mut hw = hw.clone();
        hw.clock_mode = options.clock_mode;
        let s = options.kernel_overhead_scale.max(0.0);
        for g in [&mut hw.params.gemm_bf16, &mut hw.params.gemm_fp8, &mut hw.params.gemm_fp4] {
            g.overhead_s *= s;
        }
        hw.params.attn.prefill_overhead_s *= s;
        hw.params.attn.decode_overhead_s *= s;
        let layers = options.layers.unwrap_or(model.num_layers).clamp(1, model.num_layers);
        Ok(StepModel { model: model.clone(), hw, parallel, options, layers })
    }

    /// Bytes of weights on one chip (the largest pipeline stage).
    pub fn weight_bytes_per_chip(&self) -> f64 {
        let m = &self.model;
        let p = &self.parallel;
        let wd = self.options.weight_dtype.bytes();
        let md = self.options.moe_dtype.unwrap_or(self.options.weight_dtype).bytes();
        let layers_per_stage = (m.num_layers as f64 / p.pp as f64).ceil();
        let attn_layers = m.softmax_attention_layers() as f64 / m.num_layers as f64;
        let lin_layers = 1.0 - attn_layers;
        let attn = (m.attention_params_per_layer() * attn_layers + m.linear_attention_params_per_layer() * lin_layers)
            / p.tp as f64;
        let dense_frac = m.dense_layers() as f64 / m.num_layers as f64;
        let mats = if m.ffn_gated { 3.0 } else { 2.0 };
        let dense = dense_frac * mats * m.hidden_size as f64 * m.intermediate_size as f64 / p.tp as f64;
        let moe = m.moe.as_ref().map_or(0.0, |moe| {
            let moe_frac = 1.0 - dense_frac;
            moe_frac
                * (moe.num_experts.div_ceil(p.moe_ep) as f64 * m.expert_params() / p.moe_tp as f64
                    + m.shared_expert_params() / p.tp as f64)
        });
        let per_layer = (attn + dense) * wd + moe * md;
        let embed = m.embedding_params() / p.tp as f64 * wd.max(1.0);
        per_layer * layers_per_stage + embed
    }

    /// KV-cache bytes per token on one chip (its share of heads and layers).
    pub fn kv_bytes_per_token_per_chip(&self) -> f64 {
        let m = &self.model;
        let p = &self.parallel;
        let per_layer = match &m.attention {
            Attention::Gqa => {
                let kv_local = (m.num_kv_heads as f64 / p.tp as f64).max(1.0).ceil();
                2.0 * kv_local * m.head_dim as f64
            }
            // The MLA latent is replicated on every TP rank.
            Attention::Mla(_) => m.kv_elems_per_token_per_layer(),
        };
        let layers = (m.softmax_attention_layers() as f64 / p.pp as f64).ceil();
        per_layer * layers * self.options.kv_dtype.bytes()
    }

    /// Costs a batch.
    pub fn cost(&self, b: &BatchShape) -> StepCost {
        let mut acc = Acc { classes: [OpCost::zero(); 9] };
        let tokens = b.tokens();
        if tokens == 0 {
            return StepCost {
                time_s: 0.0,
                stage_time_s: 0.0,
                energy_j: 0.0,
                flops: 0.0,
                bytes: 0.0,
                classes: acc.classes,
            };
        }
        let m = &self.model;
        let p = &self.parallel;
        let hw = &self.hw;
        let wd = self.options.weight_dtype;
        let hidden = m.hidden_size as u64;
        let dp = p.attn_dp as f64;
        // Tokens one attention-DP rank handles (balanced).
        let t_local = (tokens as f64 / dp).ceil() as u64;
        let layers = self.layers as f64;
        let stage_layers = (layers / p.pp as f64).ceil();
        let attn_frac = m.softmax_attention_layers() as f64 / m.num_layers as f64;
        let lin_frac = 1.0 - attn_frac;
        let dense_frac = m.dense_layers() as f64 / m.num_layers as f64;
        let moe_frac = 1.0 - dense_frac;

        // ---- attention block (softmax layers) ----
        let tp = p.tp as u64;
        let heads_local = (m.num_attention_heads as u64).div_ceil(tp);
        let kv_local = ((m.num_kv_heads as u64) / tp).max(1);
        let decode_seqs_local = (b.decode_seqs as f64 / dp).ceil() as u64;
        let prefill_tokens_local = (b.prefill_tokens as f64 / dp).ceil() as u64;
        let mut attn_layer = OpCost::zero();
        let mut attn_kernels = 0.0;
        let gemm = |mm: u64, n: u64, k: u64| ops::gemm(hw, &ops::Gemm { m: mm, n, k, dtype: wd });
        match &m.attention {
            Attention::Gqa => {
                let hd = m.head_dim as u64;
                // Gated attention (Qwen3.5) projects a per-head output gate alongside Q.
                let gate = if m.attn_output_gate { heads_local } else { 0 };
                attn_layer = attn_layer.then(gemm(t_local, (heads_local + gate + 2 * kv_local) * hd, hidden));
                attn_layer = attn_layer.then(gemm(t_local, hidden, heads_local * hd));
                attn_kernels += 2.0;
            }
            Attention::Mla(mla) => {
                let qk = (mla.qk_nope_head_dim + mla.qk_rope_head_dim) as u64;
                let lat = mla.kv_lora_rank as u64;
                let rope = mla.qk_rope_head_dim as u64;
                // Down projections (replicated per rank): q_a and kv_a fused.
                let q_rank = mla.q_lora_rank.unwrap_or(0) as u64;
                attn_layer = attn_layer.then(gemm(t_local, q_rank + lat + rope, hidden));
                let q_in = if q_rank > 0 { q_rank } else { hidden };
                attn_layer = attn_layer.then(gemm(t_local, heads_local * qk, q_in));
                // Prefill tokens: expand the latent to per-head K/V (kv_b).
                if prefill_tokens_local > 0 {
                    let kv_tokens =
                        prefill_tokens_local + (b.prefill_cached_x_new / b.prefill_tokens.max(1) as f64 / dp) as u64;
                    attn_layer = attn_layer.then(gemm(
                        kv_tokens,
                        heads_local * (mla.qk_nope_head_dim + mla.v_head_dim) as u64,
                        lat,
                    ));
                    attn_kernels += 1.0;
                }
                // Decode tokens: absorbed W_UK / W_UV (batched over heads).
                if decode_seqs_local > 0 {
                    let q_tokens = (decode_seqs_local * b.decode_queries_per_seq()) as f64;
                    let absorb = ops::grouped_gemm(
                        hw,
                        wd,
                        heads_local,
                        q_tokens,
                        lat,
                        mla.qk_nope_head_dim as u64,
                        heads_local as f64,
                    );
                    let absorb_v = ops::grouped_gemm(
                        hw,
                        wd,
                        heads_local,
                        q_tokens,
                        mla.v_head_dim as u64,
                        lat,
                        heads_local as f64,
                    );
                    attn_layer = attn_layer.then(absorb).then(absorb_v);
                    attn_kernels += 2.0;
                }
                attn_layer = attn_layer.then(gemm(t_local, hidden, heads_local * mla.v_head_dim as u64));
                attn_kernels += 3.0;
                if let Some(sa) = &m.sparse_attention {
                    // Lightning indexer: its query heads and one shared key per token.
                    let idx_heads = (sa.index_n_heads as u64).div_ceil(tp);
                    attn_layer = attn_layer.then(gemm(t_local, (idx_heads + 1) * sa.index_head_dim as u64, hidden));
                    attn_kernels += 1.0;
                }
            }
        }
        let mut attn_pf = OpCost::zero();
        if b.prefill_tokens > 0 {
            let (qk, v) = match &m.attention {
                Attention::Gqa => (m.head_dim as u64, m.head_dim as u64),
                Attention::Mla(mla) => ((mla.qk_nope_head_dim + mla.qk_rope_head_dim) as u64, mla.v_head_dim as u64),
            };
            // Equivalent uniform batch: token-weighted mean chunk and cached length.
            let s_eff = (b.prefill_tokens_sq / b.prefill_tokens as f64).max(1.0);
            let c_eff = b.prefill_cached_x_new / b.prefill_tokens as f64;
            let batch_eff = (b.prefill_tokens as f64 / s_eff / dp).max(1.0);
            let kv_heads = match &m.attention {
                Attention::Gqa => kv_local,
                Attention::Mla(_) => heads_local,
            };
            attn_pf = ops::attn_prefill(
                hw,
                &AttnPrefill {
                    batch: batch_eff.round().max(1.0) as u64,
                    new_tokens: s_eff.round() as u64,
                    cached: c_eff.round() as u64,
                    heads: heads_local,
                    kv_heads,
                    qk_dim: qk,
                    v_dim: v,
                    dtype: if self.options.kv_dtype == Dtype::Fp8 { Dtype::Fp8 } else { Dtype::Bf16 },
                    flash2: self.options.flash2_attention,
                },
            );
            attn_kernels += 1.0;
        }
        let mut attn_dec = OpCost::zero();
        if b.decode_seqs > 0 {
            let ctx_local = (b.decode_context as f64 / dp).ceil() as u64;
            let (kv_heads, elems, flops_per) = match &m.attention {
                Attention::Gqa => (kv_local, 2 * m.head_dim as u64, 4 * m.head_dim as u64),
                Attention::Mla(mla) => {
                    let lat = mla.kv_lora_rank as u64;
                    (1, lat + mla.qk_rope_head_dim as u64, 2 * (lat + mla.qk_rope_head_dim as u64) + 2 * lat)
                }
            };
            // Speculative verification: q query tokens per sequence read the same cached KV,
            // like q × the query heads.
            let q = b.decode_queries_per_seq();
            let mk = |ctx: u64| {
                ops::attn_decode(
                    hw,
                    &AttnDecode {
                        batch: decode_seqs_local,
                        total_context: ctx,
                        heads: heads_local * q,
                        kv_heads,
                        kv_elems_per_head: elems,
                        flops_per_head_token: flops_per,
                        kv_dtype: self.options.kv_dtype,
                    },
                )
            };
            attn_dec = match &m.sliding_window {
                Some(sw) => {
                    let full_layers = (m.softmax_attention_layers().saturating_sub(sw.layers)) as f64;
                    let win_layers = sw.layers as f64;
                    let total = full_layers + win_layers;
                    let in_win = if b.decode_context_in_window > 0 {
                        b.decode_context_in_window
                    } else {
                        (b.decode_context / b.decode_seqs.max(1) as u64).min(sw.window as u64) * b.decode_seqs as u64
                    };
                    let in_win_local = (in_win as f64 / dp).ceil() as u64;
                    mk(ctx_local).times(full_layers / total).then(mk(in_win_local).times(win_layers / total))
                }
                None => match &m.sparse_attention {
                    Some(sa) => {
                        // Each query attends only to its top-k cached tokens; the indexer scores
                        // every cached token (fp8 keys of index_head_dim).
                        let mean_ctx = b.decode_context / b.decode_seqs.max(1) as u64;
                        let attended = mean_ctx.min(sa.index_topk as u64) * decode_seqs_local;
                        let idx_heads = (sa.index_n_heads as u64).div_ceil(tp);
                        let indexer = ops::attn_decode(
                            hw,
                            &AttnDecode {
                                batch: decode_seqs_local,
                                total_context: ctx_local,
                                heads: idx_heads * q,
                                kv_heads: 1,
                                kv_elems_per_head: sa.index_head_dim as u64,
                                flops_per_head_token: 2 * sa.index_head_dim as u64,
                                kv_dtype: Dtype::Fp8,
                            },
                        );
                        attn_kernels += 1.0;
                        mk(attended).then(indexer)
                    }
                    None => mk(ctx_local),
                },
            };
            attn_kernels += 1.0;
        }

        // ---- linear attention layers (hybrid models) ----
        let mut lin_layer = OpCost::zero();
        if let Some(la) = &m.linear_attention {
            let k_dim = (la.num_key_heads * la.key_head_dim) as u64;
            let v_dim = (la.num_value_heads * la.value_head_dim) as u64;
            let proj_in = (2 * k_dim + 2 * v_dim + 2 * la.num_value_heads as u64).div_ceil(tp);
            lin_layer = lin_layer.then(gemm(t_local, proj_in, hidden));
            lin_layer = lin_layer.then(gemm(t_local, hidden, v_dim.div_ceil(tp)));
            // Recurrent/chunked state update: state (heads_v × dk × dv, fp32) read+written per
            // decode sequence; chunked prefill does ~4·dk·dv FLOPs per token per head.
            let heads_v_local = (la.num_value_heads as u64).div_ceil(tp) as f64;
            let state = heads_v_local * la.key_head_dim as f64 * la.value_head_dim as f64 * 4.0;
            let seqs_local = ((b.decode_seqs + b.prefill_seqs) as f64 / dp).ceil();
            let flops = t_local as f64 * heads_v_local * la.key_head_dim as f64 * la.value_head_dim as f64 * 8.0;
            let bytes = seqs_local * state * 2.0 + t_local as f64 * (k_dim + v_dim) as f64 / tp as f64 * 2.0 * 2.0;
            lin_layer = lin_layer.then(ops::elementwise(hw, bytes, flops));
        }

        // ---- FFN: dense layers ----
        let mats = if m.ffn_gated { 2 } else { 1 };
        let mut dense_ffn = OpCost::zero();
        if dense_frac > 0.0 && m.intermediate_size > 0 {
            let inter = (m.intermediate_size as u64).div_ceil(tp);
            dense_ffn = gemm(t_local, mats * inter, hidden).then(gemm(t_local, hidden, inter));
        }
        // ---- FFN: MoE layers ----
        let mut moe_ffn = OpCost::zero();
        let mut moe_comm = OpCost::zero();
        if let Some(moe) = &m.moe {
            let md = self.options.moe_dtype.unwrap_or(wd);
            let e = moe.num_experts as f64;
            let k = moe.experts_per_token as f64;
            let e_local = moe.num_experts.div_ceil(p.moe_ep) as u64;
            // All tokens of the replica reach the expert ranks (attention DP gathers them).
            let t_all = tokens as f64;
            let routed = t_all * k / p.moe_ep as f64;
            let m_per_expert = routed / e_local as f64;
            let touched = e_local as f64 * (1.0 - (1.0 - k / e).powf(t_all));
            let inter = (moe.expert_intermediate_size as u64).div_ceil(p.moe_tp as u64);
            let act = self.options.moe_act_dtype.unwrap_or(md);
            let up = ops::grouped_gemm_mixed(hw, md, act, e_local, m_per_expert, mats * inter, hidden, touched);
            let down = ops::grouped_gemm_mixed(hw, md, act, e_local, m_per_expert, hidden, inter, touched);
            let router = gemm(t_local, moe.num_experts as u64, hidden);
            moe_ffn = router.then(up).then(down);
            if moe.num_shared_experts > 0 {
                let sh = moe.num_shared_experts as u64
                    * (moe.shared_expert_intermediate_size.unwrap_or(moe.expert_intermediate_size) as u64).div_ceil(tp);
                moe_ffn = moe_ffn.then(gemm(t_local, mats * sh, hidden)).then(gemm(t_local, hidden, sh));
            }
            // Dispatch and combine.
            let group = p.moe_tp * p.moe_ep;
            if p.moe_ep > 1 {
                let act_bytes = md.bytes().max(1.0);
                let send = t_local as f64 * k * hidden as f64 * act_bytes;
                let combine = t_local as f64 * k * hidden as f64 * 2.0;
                let link = link_for(hw, group);
                moe_comm = collective(hw, Collective::AllToAll, send, group, link).then(collective(
                    hw,
                    Collective::AllToAll,
                    combine,
                    group,
                    link,
                ));
            } else if p.attn_dp > 1 {
                let link = link_for(hw, group);
                let bytes = t_all * hidden as f64 * 2.0;
                moe_comm = collective(hw, Collective::AllGather, bytes, group, link).then(collective(
                    hw,
                    Collective::ReduceScatter,
                    bytes,
                    group,
                    link,
                ));
            }
        }

        // ---- TP all-reduces (after attention output and after FFN) ----
        let mut tp_comm = OpCost::zero();
        if p.tp > 1 {
            let link = link_for(hw, p.tp);
            let ar = collective(hw, Collective::AllReduce, t_local as f64 * hidden as f64 * 2.0, p.tp, link);
            // One after attention; one after the FFN unless MoE combine already reduces.
            let ffn_ar = dense_frac + if p.moe_ep > 1 { 0.0 } else { moe_frac };
            tp_comm = ar.times(1.0 + ffn_ar);
        }

        // ---- elementwise per layer: 2 norms, rotary, activation, residuals ----
        let act_inter = if dense_frac > 0.0 { m.intermediate_size as f64 / tp as f64 * dense_frac } else { 0.0 }
            + m.moe.as_ref().map_or(0.0, |mo| {
                moe_frac * mo.expert_intermediate_size as f64 * mo.experts_per_token as f64 / p.moe_tp as f64
            });
        let ew_bytes = t_local as f64 * (hidden as f64 * 2.0 * 2.0 * 3.0 + act_inter * 3.0 * 2.0);
        let elementwise = ops::elementwise(hw, ew_bytes, t_local as f64 * hidden as f64 * 10.0);
        // The small kernels engines run between the ones costed above; their bytes are in
        // `elementwise`, their fixed time is not: per layer, the second norm, rotary + KV-cache
        // write and the activation; MLA's latent norms and rope split; a sparse-attention
        // indexer's norm/quantization and top-k; an MoE layer's gating top-k, token permutation,
        // activation quantization and finalize (un-permute + weighted sum); a linear-attention
        // layer's short convolution, gates and norm. Counts are estimates read off the engines'
        // decode kernel sequences (vLLM/SGLang/TensorRT-LLM), not measured; each small kernel
        // costs the elementwise fixed time, scaled like every other kernel's fixed time.
        let aux_per_layer = AUX_KERNELS_PER_LAYER
            + match &m.attention {
                Attention::Mla(_) => AUX_KERNELS_MLA * attn_frac,
                Attention::Gqa => 0.0,
            }
            + if m.sparse_attention.is_some() { AUX_KERNELS_SPARSE_ATTN * attn_frac } else { 0.0 }
            + if m.moe.is_some() { AUX_KERNELS_MOE * moe_frac } else { 0.0 }
            + if m.linear_attention.is_some() { AUX_KERNELS_LINEAR_ATTN * lin_frac } else { 0.0 };
        let aux_t = aux_per_layer * ops::SMALL_KERNEL_S * self.options.kernel_overhead_scale.max(0.0);
        let aux = OpCost { time_s: aux_t, flops: 0.0, bytes: 0.0, energy_j: aux_t * hw.idle_w, bound: Bound::Overhead };

        // ---- assemble one layer, scale to the stage ----
        acc.add(OpClass::Gemm, attn_layer.times(attn_frac * stage_layers));
        acc.add(OpClass::Gemm, dense_ffn.times(dense_frac * stage_layers));
        acc.add(OpClass::Moe, moe_ffn.times(moe_frac * stage_layers));
        acc.add(OpClass::AttnPrefill, attn_pf.times(attn_frac * stage_layers));
        acc.add(OpClass::AttnDecode, attn_dec.times(attn_frac * stage_layers));
        acc.add(OpClass::LinearAttn, lin_layer.times(lin_frac * stage_layers));
        acc.add(OpClass::Elementwise, elementwise.then(aux).times(stage_layers));
        acc.add(OpClass::Communication, tp_comm.times(stage_layers));
        acc.add(OpClass::Communication, moe_comm.times(moe_frac * stage_layers));

        // ---- embedding, LM head, sampling (on the last stage; counted in the worst stage) ----
        let logits_local = (b.logits_seqs as f64 / dp).ceil() as u64;
        let vocab_local = (m.vocab_size as u64).div_ceil(tp);
        let embed = ops::elementwise(hw, t_local as f64 * hidden as f64 * 2.0 * 2.0, 0.0);
        let mut logits = embed;
        if logits_local > 0 {
            logits = logits.then(gemm(logits_local, vocab_local, hidden));
            logits = logits.then(ops::elementwise(hw, logits_local as f64 * vocab_local as f64 * 4.0 * 2.0, 0.0));
        }
        acc.add(OpClass::Logits, logits);

        // ---- pipeline: activations sent between stages ----
        if p.pp > 1 {
            let send =
                collective(hw, Collective::SendRecv, t_local as f64 * hidden as f64 * 2.0, 2, link_for(hw, p.chips()));
            acc.add(OpClass::Communication, send);
        }

        // ---- host launch gaps without CUDA graphs ----
        if !self.options.cuda_graphs {
            let kernels_per_layer =
                attn_kernels + 6.0 + if m.moe.is_some() { 4.0 } else { 0.0 } + if p.tp > 1 { 2.0 } else { 0.0 };
            let launches = kernels_per_layer * stage_layers + 4.0;
            let gap = self.options.launch_overhead_s * launches;
            let e = hw.idle_w * gap;
            acc.add(
                OpClass::Overhead,
                OpCost { time_s: gap, flops: 0.0, bytes: 0.0, energy_j: e, bound: Bound::Overhead },
            );
        }

        let stage = acc.classes.iter().fold(OpCost::zero(), |a, c| a.then(*c));
        let pp = p.pp as f64;
        // Per-chip classes over the whole step: every stage does roughly the same work.
        let classes = acc.classes.map(|c| c.times(1.0));
        let time = stage.time_s * pp;
        StepCost {
            time_s: time,
            stage_time_s: stage.time_s,
            energy_j: stage.energy_j * p.chips() as f64,
            flops: stage.flops,
            bytes: stage.bytes,
            classes,
        }
    }
}
