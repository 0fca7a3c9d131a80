//! Import of a Hugging Face `config.json` into a [`Model`].

use crate::{Attention, Confidence, Dtype, LinearAttention, Mla, Model, Moe, SlidingWindow, SparseAttention};
use serde_json::Value;

/// Why a config could not be imported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HfImportError {
    /// Not JSON.
    #[error("{file}: not valid JSON: {message}")]
    Json {
        /// file name
        file: String,
        /// parser message
        message: String,
    },
    /// A field the architecture needs is missing or has the wrong type.
    #[error("{file}: field `{field}`: {message}")]
    Field {
        /// file name
        file: String,
        /// JSON field
        field: String,
        /// what was expected
        message: String,
    },
}

/// Reads a Hugging Face `config.json` (dense, GQA, MoE, MLA, hybrid linear attention) into a
/// catalog [`Model`]. `id` is the catalog id to give it; `source` says where the file came from.
/// Nested `text_config` (multimodal wrappers) is followed.
pub fn import_hf_config(file: &str, text: &str, id: &str, source: &str) -> Result<Model, HfImportError> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| HfImportError::Json { file: file.to_string(), message: e.to_string() })?;
    let cfg = root.get("text_config").filter(|v| v.is_object()).unwrap_or(&root);
    let get = |k: &str| cfg.get(k).or_else(|| root.get(k));
    let field_err = |field: &str, message: &str| HfImportError::Field {
        file: file.to_string(),
        field: field.to_string(),
        message: message.to_string(),
    };
    let u = |k: &str| -> Result<Option<u32>, HfImportError> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                v.as_u64().map(|x| Some(x as u32)).ok_or_else(|| field_err(k, "expected a non-negative integer"))
            }
        }
    };
    let req =
        |k: &str| -> Result<u32, HfImportError> { u(k)?.ok_or_else(|| field_err(k, "required field is missing")) };
    let first_u = |keys: &[&str]| -> Result<Option<u32>, HfImportError> {
        for k in keys {
            if let Some(v) = u(k)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    };

    let hidden = req("hidden_size")?;
    let layers = first_u(&["num_hidden_layers", "num_layers", "n_layer"])?
        .ok_or_else(|| field_err("num_hidden_layers", "required field is missing"))?;
    let heads = first_u(&["num_attention_heads", "n_head"])?
        .ok_or_else(|| field_err("num_attention_heads", "required field is missing"))?;
    let kv_heads = u("num_key_value_heads")?.unwrap_or(heads);
    let head_dim = u("head_dim")?.unwrap_or(hidden.checked_div(heads).unwrap_or(0));
    let vocab = req("vocab_size")?;
    let max_context = first_u(&["max_position_embeddings", "seq_length", "max_seq_len"])?.unwrap_or(4096);
    let tie = get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false);
    let intermediate = u("intermediate_size")?.unwrap_or(0);

    let attention = match u("kv_lora_rank")? {
        Some(kv_lora_rank) => Attention::Mla(Mla {
            q_lora_rank: u("q_lora_rank")?,
            kv_lora_rank,
            qk_nope_head_dim: req("qk_nope_head_dim")?,
            qk_rope_head_dim: req("qk_rope_head_dim")?,
            v_head_dim: req("v_head_dim")?,
        }),
        None => Attention::Gqa,
    };

    let num_experts = first_u(&["n_routed_experts", "num_experts", "num_local_experts", "moe_num_experts"])?;
    let moe = match num_experts {
        Some(n) if n > 1 => {
            let k = first_u(&["num_experts_per_tok", "experts_per_token", "moe_topk", "num_experts_per_token"])?
                .ok_or_else(|| field_err("num_experts_per_tok", "an MoE config needs top-k"))?;
            let expert_inter = first_u(&["moe_intermediate_size", "expert_intermediate_size"])?.unwrap_or(intermediate);
            let shared = first_u(&["n_shared_experts", "num_shared_experts"])?.unwrap_or(0);
            let shared_inter = u("shared_expert_intermediate_size")?;
            let (shared, shared_inter) = match (shared, shared_inter) {
                (0, Some(s)) if s > 0 => (1, Some(s)),
                other => other,
            };
            Some(Moe {
                num_experts: n,
                experts_per_token: k,
                expert_intermediate_size: expert_inter,
                num_shared_experts: shared,
                shared_expert_intermediate_size: shared_inter,
                first_dense_layers: u("first_k_dense_replace")?.unwrap_or(0),
                layer_step: u("interleave_moe_layer_step")?.unwrap_or(1).max(1),
            })
        }
        _ => None,
    };

    // Sliding window: gpt-oss lists per-layer `layer_types`; Mistral-style configs a window.
    let layer_types: Vec<String> = get("layer_types")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let sliding_layers = layer_types.iter().filter(|t| t.contains("sliding")).count() as u32;
    let mut linear_layers = layer_types.iter().filter(|t| t.contains("linear")).count() as u32;
    // Qwen3-Next/Qwen3.5 configs may give only `full_attention_interval` (every N-th layer is
    // softmax attention, the others Gated DeltaNet) when `layer_types` is absent.
    if layer_types.is_empty()
        && get("linear_num_value_heads").is_some()
        && let Some(every) = u("full_attention_interval")?
        && every > 0
    {
        linear_layers = layers - layers / every;
    }
    let sliding_window = match u("sliding_window")? {
        Some(w) if w > 0 && sliding_layers > 0 => Some(SlidingWindow { window: w, layers: sliding_layers }),
        Some(w)
            if w > 0 && layer_types.is_empty() && get("use_sliding_window").and_then(Value::as_bool) == Some(true) =>
        {
            Some(SlidingWindow { window: w, layers })
        }
        _ => None,
    };
    let linear_attention = if linear_layers > 0 {
        Some(LinearAttention {
            layers: linear_layers,
            num_value_heads: req("linear_num_value_heads")?,
            num_key_heads: req("linear_num_key_heads")?,
            key_head_dim: req("linear_key_head_dim")?,
            value_head_dim: req("linear_value_head_dim")?,
        })
    } else {
        None
    };

    let sparse_attention = match u("index_topk")? {
        Some(index_topk) => Some(SparseAttention {
            index_n_heads: req("index_n_heads")?,
            index_head_dim: req("index_head_dim")?,
            index_topk,
        }),
        None => None,
    };
    let model_type = get("model_type").and_then(Value::as_str).unwrap_or("");
    let attn_output_gate = match get("attn_output_gate").and_then(Value::as_bool) {
        Some(b) => b,
        // Qwen3-Next and Qwen3.5 always gate the attention output.
        None => {
            linear_attention.is_some() && (model_type.starts_with("qwen3_next") || model_type.starts_with("qwen3_5"))
        }
    };
    let native_dtype = native_dtype(cfg, &root);
    let name = get("_name_or_path").and_then(Value::as_str).unwrap_or(id).to_string();
    let model = Model {
        id: id.to_string(),
        name,
        aliases: Vec::new(),
        source: source.to_string(),
        confidence: Confidence::Official,
        notes: Some(format!("imported from {file} by `tokenfab catalog import-hf`")),
        hidden_size: hidden,
        num_layers: layers,
        vocab_size: vocab,
        num_attention_heads: heads,
        num_kv_heads: if matches!(attention, Attention::Mla(_)) { heads } else { kv_heads },
        // For MLA the q/k width; configs put the rope part (GLM-5) or nothing there.
        head_dim: match &attention {
            Attention::Mla(m) => m.qk_nope_head_dim + m.qk_rope_head_dim,
            Attention::Gqa => head_dim,
        },
        intermediate_size: intermediate,
        ffn_gated: true,
        tie_word_embeddings: tie,
        max_context,
        attention,
        moe,
        sliding_window,
        linear_attention,
        attn_output_gate,
        sparse_attention,
        mtp_layers: u("num_nextn_predict_layers")?.unwrap_or(0),
        native_dtype,
        origin: file.to_string(),
    };
    let mut errs = Vec::new();
    model.validate(&mut errs);
    if let Some(e) = errs.first() {
        return Err(HfImportError::Field {
            file: file.to_string(),
            field: e.location.clone(),
            message: e.message.clone(),
        });
    }
    Ok(model)
}

fn native_dtype(cfg: &Value, root: &Value) -> Dtype {
    let q = cfg.get("quantization_config").or_else(|| root.get("quantization_config"));
    if let Some(q) = q {
        let method = q.get("quant_method").and_then(Value::as_str).unwrap_or("");
        let fmt = q.get("fmt").and_then(Value::as_str).unwrap_or("");
        let algo = q.get("quant_algo").and_then(Value::as_str).unwrap_or("");
        let all = format!("{method} {fmt} {algo}").to_ascii_lowercase();
        if all.contains("fp4") || all.contains("mxfp4") {
            return Dtype::Fp4;
        }
        if all.contains("fp8") || all.contains("e4m3") {
            return Dtype::Fp8;
        }
        // compressed-tensors (e.g. Kimi-K2.5's INT4 experts): the weights' bit width decides.
        // 4-bit integers take the same half byte as fp4; 8-bit the byte of fp8.
        let bits = q
            .get("config_groups")
            .and_then(Value::as_object)
            .and_then(|g| g.values().find_map(|grp| grp.get("weights")?.get("num_bits")?.as_u64()));
        match bits {
            Some(4) => return Dtype::Fp4,
            Some(8) => return Dtype::Fp8,
            _ => {}
        }
    }
    match cfg.get("torch_dtype").or_else(|| cfg.get("dtype")).and_then(Value::as_str) {
        Some("float16") => Dtype::Fp16,
        _ => Dtype::Bf16,
    }
}
