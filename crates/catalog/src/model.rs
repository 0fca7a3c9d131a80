//! Model architectures, written from public `config.json` files.

use crate::{CatalogError, Confidence, Dtype};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Multi-head latent attention (DeepSeek-V2/V3 style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mla {
    /// Rank of the query down-projection; `None` means queries are projected directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q_lora_rank: Option<u32>,
    /// Rank of the compressed KV latent (what the cache stores, plus the rope part).
    pub kv_lora_rank: u32,
    /// Per-head query/key dimension without rotary embedding.
    pub qk_nope_head_dim: u32,
    /// Per-head query/key rotary dimension (shared key rope part is cached).
    pub qk_rope_head_dim: u32,
    /// Per-head value dimension.
    pub v_head_dim: u32,
}

/// How attention is computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Attention {
    /// Multi-head / grouped-query attention (num_kv_heads ≤ num_attention_heads).
    #[default]
    Gqa,
    /// Multi-head latent attention.
    Mla(Mla),
}

/// Mixture-of-experts feed-forward layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub num_experts: u32,
    /// Routed experts each token goes to (top-k).
    pub experts_per_token: u32,
    /// Intermediate size of one routed expert.
    pub expert_intermediate_size: u32,
    /// Shared (always-on) experts per MoE layer.
    #[serde(default)]
    pub num_shared_experts: u32,
    /// Intermediate size of one shared expert (defaults to the routed expert's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_expert_intermediate_size: Option<u32>,
    /// The first this-many layers are dense (use `intermediate_size`).
    #[serde(default)]
    pub first_dense_layers: u32,
    /// After those, every this-many-th layer is MoE and the others are dense (Llama 4's
    /// `interleave_moe_layer_step`: 2); 1 means every layer.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub layer_step: u32,
}

fn one() -> u32 {
    1
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

/// Sliding-window attention on some layers (e.g. gpt-oss alternates sliding and full).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlidingWindow {
    /// Window length, tokens.
    pub window: u32,
    /// How many of the layers use the window (the rest attend to the full context).
    pub layers: u32,
}

/// Linear-attention (e.g. Gated DeltaNet) layers in a hybrid model: constant-size state per
/// sequence instead of a growing KV cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinearAttention {
    /// How many layers use linear attention (the rest use `attention`).
    pub layers: u32,
    /// Value heads.
    pub num_value_heads: u32,
    /// Key heads.
    pub num_key_heads: u32,
    /// Key head dimension.
    pub key_head_dim: u32,
    /// Value head dimension.
    pub value_head_dim: u32,
}

/// DeepSeek Sparse Attention (DSA, as in DeepSeek-V3.2 and GLM-5): a small "lightning indexer"
/// scores every cached token and each query attends only to the `index_topk` best ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SparseAttention {
    /// Indexer query heads.
    pub index_n_heads: u32,
    /// Indexer head dimension (one indexer key of this width is cached per token per layer).
    pub index_head_dim: u32,
    /// Cached tokens each query attends to.
    pub index_topk: u32,
}

/// A model architecture (no weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Stable id: lower-case Hugging Face name without the organization, e.g. `llama-3.1-8b`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Exact Hugging Face names and other names that resolve to this model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The public config this architecture was written from (URL of `config.json`).
    pub source: String,
    /// official (copied from the vendor's config), reported, or estimate (`notes` says why).
    pub confidence: Confidence,
    /// Free-form notes (e.g. what was simplified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Hidden (model) dimension.
    pub hidden_size: u32,
    /// Transformer layers (excluding MTP heads).
    pub num_layers: u32,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Query heads.
    pub num_attention_heads: u32,
    /// Key/value heads (GQA); for MLA, equal to the query heads.
    pub num_kv_heads: u32,
    /// Per-head dimension (GQA).
    pub head_dim: u32,
    /// Dense FFN intermediate size (dense layers; 0 if every layer is MoE).
    pub intermediate_size: u32,
    /// Whether the FFN is gated (SwiGLU-style: gate and up projections).
    #[serde(default = "yes")]
    pub ffn_gated: bool,
    /// Whether input embeddings and the LM head share weights.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Longest context the model supports, tokens.
    pub max_context: u32,
    /// Attention kind.
    #[serde(default)]
    pub attention: Attention,
    /// MoE layers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe: Option<Moe>,
    /// Sliding-window layers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<SlidingWindow>,
    /// Linear-attention layers, if any (hybrid models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_attention: Option<LinearAttention>,
    /// Whether softmax attention has a sigmoid output gate (Qwen3.5/Qwen3-Next "gated
    /// attention": the query projection is twice as wide, half of it gating the output).
    #[serde(default, skip_serializing_if = "is_false")]
    pub attn_output_gate: bool,
    /// DeepSeek Sparse Attention indexer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_attention: Option<SparseAttention>,
    /// Multi-token-prediction layers (speculative heads), not counted in `num_layers`.
    #[serde(default)]
    pub mtp_layers: u32,
    /// The dtype the published weights use (e.g. `fp8` for DeepSeek-V3, `fp4` for gpt-oss
    /// experts); serving may choose another.
    pub native_dtype: Dtype,
    /// Which file this entry came from (set by the loader).
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: String,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Model {
    /// Layers with full softmax attention (GQA or MLA), i.e. not linear-attention layers.
    pub fn softmax_attention_layers(&self) -> u32 {
        self.num_layers - self.linear_attention.as_ref().map_or(0, |l| l.layers)
    }

    /// MoE layers.
    pub fn moe_layers(&self) -> u32 {
        self.moe
            .as_ref()
            .map_or(0, |m| (self.num_layers - m.first_dense_layers.min(self.num_layers)) / m.layer_step.max(1))
    }

    /// Dense-FFN layers.
    pub fn dense_layers(&self) -> u32 {
        self.num_layers - self.moe_layers()
    }

    /// Parameters of one layer's attention block.
    pub fn attention_params_per_layer(&self) -> f64 {
        let h = self.hidden_size as f64;
        match &self.attention {
            Attention::Gqa => {
                let d = self.head_dim as f64;
                let q = self.num_attention_heads as f64 * d;
                let kv = self.num_kv_heads as f64 * d;
                // A gated attention's query projection also produces the output gate.
                let q_out = if self.attn_output_gate { 2.0 * q } else { q };
                h * (q_out + 2.0 * kv) + q * h + self.indexer_params_per_layer()
            }
            Attention::Mla(m) => {
                let nh = self.num_attention_heads as f64;
                let qk = (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64;
                let q = match m.q_lora_rank {
                    Some(r) => h * r as f64 + r as f64 * nh * qk,
                    None => h * nh * qk,
                };
                let kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim) as f64;
                let kv_b = m.kv_lora_rank as f64 * nh * (m.qk_nope_head_dim + m.v_head_dim) as f64;
                let o = nh * m.v_head_dim as f64 * h;
                q + kv_a + kv_b + o + self.indexer_params_per_layer()
            }
        }
    }

    /// Parameters of one layer's sparse-attention indexer (query projection from the query
    /// latent or the hidden state, one key projection, per-head weights); 0 without DSA.
    pub fn indexer_params_per_layer(&self) -> f64 {
        let Some(s) = &self.sparse_attention else { return 0.0 };
        let h = self.hidden_size as f64;
        let q_in = match &self.attention {
            Attention::Mla(m) => m.q_lora_rank.map_or(h, |r| r as f64),
            Attention::Gqa => h,
        };
        let nd = (s.index_n_heads * s.index_head_dim) as f64;
        q_in * nd + h * s.index_head_dim as f64 + h * s.index_n_heads as f64
    }

    /// Parameters of one linear-attention layer's mixing block.
    pub fn linear_attention_params_per_layer(&self) -> f64 {
        let Some(l) = &self.linear_attention else { return 0.0 };
        let h = self.hidden_size as f64;
        let k = (l.num_key_heads * l.key_head_dim) as f64;
        let v = (l.num_value_heads * l.value_head_dim) as f64;
        // q, k, v, gate (z) projections in, beta/alpha per head, output projection.
        h * (2.0 * k + 2.0 * v) + h * 2.0 * l.num_value_heads as f64 + v * h
    }

    fn ffn_params(&self, inter: u32) -> f64 {
        let mats = if self.ffn_gated { 3.0 } else { 2.0 };
        mats * self.hidden_size as f64 * inter as f64
    }

    /// Parameters of one routed expert.
    pub fn expert_params(&self) -> f64 {
        self.moe.as_ref().map_or(0.0, |m| self.ffn_params(m.expert_intermediate_size))
    }

    /// Parameters of the shared experts of one MoE layer.
    pub fn shared_expert_params(&self) -> f64 {
        self.moe.as_ref().map_or(0.0, |m| {
            m.num_shared_experts as f64
                * self.ffn_params(m.shared_expert_intermediate_size.unwrap_or(m.expert_intermediate_size))
        })
    }

    /// Embedding plus LM head parameters.
    pub fn embedding_params(&self) -> f64 {
        let e = self.vocab_size as f64 * self.hidden_size as f64;
        if self.tie_word_embeddings { e } else { 2.0 * e }
    }

    fn params(&self, active: bool) -> f64 {
        let attn = self.attention_params_per_layer() * self.softmax_attention_layers() as f64
            + self.linear_attention_params_per_layer()
                * self.linear_attention.as_ref().map_or(0.0, |l| l.layers as f64);
        let dense = self.ffn_params(self.intermediate_size) * self.dense_layers() as f64;
        let moe = self.moe.as_ref().map_or(0.0, |m| {
            let routed = if active { m.experts_per_token } else { m.num_experts } as f64;
            let router = self.hidden_size as f64 * m.num_experts as f64;
            (routed * self.expert_params() + self.shared_expert_params() + router) * self.moe_layers() as f64
        });
        attn + dense + moe + self.embedding_params()
    }

    /// Total parameters (all experts), excluding MTP heads.
    pub fn total_params(&self) -> f64 {
        self.params(false)
    }

    /// Parameters touched per token (routed top-k plus shared experts), excluding MTP heads.
    /// Counts the input embedding table in full (the convention of most model cards, e.g.
    /// DeepSeek-V3's 37 B and Mixtral's 12.9 B).
    pub fn active_params(&self) -> f64 {
        self.params(true)
    }

    /// Active parameters without the input embedding table, whose lookup reads one row per
    /// token and does no matrix math (OpenAI's convention for gpt-oss: 5.1 B and 3.6 B). With
    /// tied embeddings the table is the LM head and stays counted.
    pub fn active_params_excluding_embedding(&self) -> f64 {
        let table = self.vocab_size as f64 * self.hidden_size as f64;
        if self.tie_word_embeddings { self.active_params() } else { self.active_params() - table }
    }

    /// KV-cache elements stored per token per softmax-attention layer (K and V together; for
    /// MLA the compressed latent plus the rope key).
    pub fn kv_elems_per_token_per_layer(&self) -> f64 {
        match &self.attention {
            Attention::Gqa => 2.0 * self.num_kv_heads as f64 * self.head_dim as f64,
            Attention::Mla(m) => (m.kv_lora_rank + m.qk_rope_head_dim) as f64,
        }
    }

    /// KV-cache bytes per token over all layers at a cache dtype. Sliding-window layers are
    /// counted as full layers here (engines such as vLLM v1 allocate them separately; the
    /// simulator accounts for the window).
    /// A sparse-attention indexer's cached key (`index_head_dim` per layer) is included.
    pub fn kv_bytes_per_token(&self, kv_dtype: Dtype) -> f64 {
        let indexer = self.sparse_attention.as_ref().map_or(0.0, |s| s.index_head_dim as f64);
        (self.kv_elems_per_token_per_layer() + indexer) * self.softmax_attention_layers() as f64 * kv_dtype.bytes()
    }

    /// Constant per-sequence state of the linear-attention layers, bytes (fp32 state).
    pub fn linear_state_bytes_per_seq(&self) -> f64 {
        self.linear_attention.as_ref().map_or(0.0, |l| {
            l.layers as f64 * l.num_value_heads as f64 * l.key_head_dim as f64 * l.value_head_dim as f64 * 4.0
        })
    }

    pub(crate) fn validate(&self, errs: &mut Vec<CatalogError>) {
        let mut bad = |field: &str, msg: String| {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("model[{}].{field}", self.id),
                message: msg,
            })
        };
        for (f, v) in [
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
            ("vocab_size", self.vocab_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_kv_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("max_context", self.max_context),
        ] {
            if v == 0 {
                bad(f, "expected a positive integer".into());
            }
        }
        if self.num_kv_heads > 0 && !self.num_attention_heads.is_multiple_of(self.num_kv_heads) {
            bad(
                "num_kv_heads",
                format!(
                    "{} query heads are not a multiple of {} kv heads",
                    self.num_attention_heads, self.num_kv_heads
                ),
            );
        }
        if let Some(m) = &self.moe {
            if m.experts_per_token == 0 || m.experts_per_token > m.num_experts {
                bad(
                    "moe.experts_per_token",
                    format!("expected 1..={} (num_experts), got {}", m.num_experts, m.experts_per_token),
                );
            }
            if m.first_dense_layers > self.num_layers {
                bad("moe.first_dense_layers", "more dense layers than layers".into());
            }
            if m.layer_step == 0 || m.layer_step > self.num_layers {
                bad("moe.layer_step", format!("expected 1..={} (num_layers), got {}", self.num_layers, m.layer_step));
            }
            if (m.first_dense_layers > 0 || m.layer_step > 1) && self.intermediate_size == 0 {
                bad("intermediate_size", "dense layers need a dense intermediate size".into());
            }
        } else if self.intermediate_size == 0 {
            bad("intermediate_size", "a dense model needs an intermediate size".into());
        }
        if let Some(l) = &self.linear_attention
            && l.layers >= self.num_layers
        {
            bad("linear_attention.layers", "at least one softmax-attention layer is needed".into());
        }
        if let Some(s) = &self.sliding_window
            && s.layers > self.num_layers
        {
            bad("sliding_window.layers", "more sliding layers than layers".into());
        }
        if self.source.trim().is_empty() {
            bad("source", "every model needs the source of its architecture".into());
        }
    }
}
