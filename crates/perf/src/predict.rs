//! Contract 1 (`tokenfab predict`): one CSV row → predicted time, power and bound.

use crate::ops::{self, AttnDecode, AttnPrefill, Gemm};
use crate::{Bound, Hardware, OpCost, Parallel, StepModel, StepOptions};
use tokenfab_catalog::{Attention, Catalog, Dtype};

/// The input columns of Contract 1 (every field optional; which are needed depends on `op`),
/// plus the optional `engine` and `backend` columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpRow {
    /// gemm, attn_prefill, attn_decode, moe_ffn, prefill_step, decode_step
    pub op: String,
    /// catalog model id (step rows)
    pub model: Option<String>,
    /// use only this many layers (step rows)
    pub layers: Option<u64>,
    /// bf16, fp16, fp8, fp4
    pub dtype: Option<String>,
    /// GEMM rows / MoE tokens
    pub m: Option<u64>,
    /// GEMM output features
    pub n: Option<u64>,
    /// GEMM reduction dimension
    pub k: Option<u64>,
    /// sequences
    pub batch: Option<u64>,
    /// new tokens per sequence (prefill)
    pub seq_len: Option<u64>,
    /// cached tokens per sequence (decode)
    pub context_len: Option<u64>,
    /// query heads
    pub heads: Option<u64>,
    /// kv heads
    pub kv_heads: Option<u64>,
    /// head dimension
    pub head_dim: Option<u64>,
    /// routed experts
    pub experts: Option<u64>,
    /// experts per token
    pub top_k: Option<u64>,
    /// hidden size
    pub hidden: Option<u64>,
    /// expert intermediate size
    pub inter: Option<u64>,
    /// tensor parallelism (step rows)
    pub tp: Option<u64>,
    /// `eager` turns CUDA graphs off for step rows
    pub engine: Option<String>,
    /// attention kernel family (`flash` = FlashAttention-2 class; anything else = default)
    pub backend: Option<String>,
}

/// A prediction for one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Predicted latency, milliseconds.
    pub ms: f64,
    /// Average chip power while it runs, W.
    pub power_w: f64,
    /// What bounds it.
    pub bound: Bound,
}

fn need(v: Option<u64>, name: &str, op: &str) -> Result<u64, String> {
    match v {
        Some(x) if x > 0 => Ok(x),
        Some(_) => Err(format!("column `{name}` must be positive for op `{op}`")),
        None => Err(format!("column `{name}` is required for op `{op}`")),
    }
}

fn dtype_of(row: &OpRow) -> Result<Dtype, String> {
    match row.dtype.as_deref().map(str::trim) {
        None | Some("") => Ok(Dtype::Bf16),
        Some(s) => s.parse::<Dtype>(),
    }
}

/// Predicts one row on `hw`. Step rows need the model from `catalog`.
pub fn predict_row(catalog: &Catalog, hw: &Hardware, row: &OpRow) -> Result<Prediction, String> {
    let op = row.op.trim();
    let dtype = dtype_of(row)?;
    let flash2 = row.backend.as_deref().map(str::trim) == Some("flash");
    let cost: OpCost = match op {
        "gemm" => {
            hw.peak(dtype).map_err(|e| e.to_string())?;
            ops::gemm(hw, &Gemm { m: need(row.m, "m", op)?, n: need(row.n, "n", op)?, k: need(row.k, "k", op)?, dtype })
        }
        "attn_prefill" => {
            let heads = need(row.heads, "heads", op)?;
            let hd = need(row.head_dim, "head_dim", op)?;
            ops::attn_prefill(
                hw,
                &AttnPrefill {
                    batch: need(row.batch, "batch", op)?,
                    new_tokens: need(row.seq_len, "seq_len", op)?,
                    cached: row.context_len.unwrap_or(0),
                    heads,
                    kv_heads: row.kv_heads.unwrap_or(heads),
                    qk_dim: hd,
                    v_dim: hd,
                    dtype,
                    flash2,
                },
            )
        }
        "attn_decode" => {
            let heads = need(row.heads, "heads", op)?;
            let hd = need(row.head_dim, "head_dim", op)?;
            let batch = need(row.batch, "batch", op)?;
            ops::attn_decode(
                hw,
                &AttnDecode {
                    batch,
                    total_context: batch * need(row.context_len, "context_len", op)?,
                    heads,
                    kv_heads: row.kv_heads.unwrap_or(heads),
                    kv_elems_per_head: 2 * hd,
                    flops_per_head_token: 4 * hd,
                    kv_dtype: dtype,
                },
            )
        }
        "moe_ffn" => {
            hw.peak(dtype).map_err(|e| e.to_string())?;
            let m = need(row.m, "m", op)? as f64;
            let e = need(row.experts, "experts", op)?;
            let k = need(row.top_k, "top_k", op)?;
            if k > e {
                return Err(format!("top_k {k} exceeds experts {e}"));
            }
            let hidden = need(row.hidden, "hidden", op)?;
            let inter = need(row.inter, "inter", op)?;
            let per_expert = m * k as f64 / e as f64;
            let touched = e as f64 * (1.0 - (1.0 - k as f64 / e as f64).powf(m));
            let up = ops::grouped_gemm(hw, dtype, e, per_expert, 2 * inter, hidden, touched);
            let act = ops::elementwise(hw, m * k as f64 * inter as f64 * 2.0 * 3.0, m * k as f64 * inter as f64 * 4.0);
            let down = ops::grouped_gemm(hw, dtype, e, per_expert, hidden, inter, touched);
            up.then(act).then(down)
        }
        "prefill_step" | "decode_step" => {
            let model_id = row
                .model
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| format!("column `model` is required for op `{op}`"))?;
            let model = catalog.model(model_id.trim()).map_err(|e| e.to_string())?;
            let tp = row.tp.unwrap_or(1).max(1) as u32;
            hw.peak(dtype).map_err(|e| e.to_string())?;
            let options = StepOptions {
                weight_dtype: dtype,
                kv_dtype: if dtype == Dtype::Fp8 && !matches!(model.attention, Attention::Mla(_)) {
                    Dtype::Fp8
                } else {
                    Dtype::Bf16
                },
                cuda_graphs: row.engine.as_deref().map(str::trim) != Some("eager"),
                layers: row.layers.map(|l| l as u32),
                flash2_attention: flash2,
                ..Default::default()
            };
            let sm = StepModel::new(model, hw, Parallel::tp(tp), options).map_err(|e| e.to_string())?;
            let batch = need(row.batch, "batch", op)? as u32;
            let shape = if op == "prefill_step" {
                crate::BatchShape::prefill(batch, need(row.seq_len, "seq_len", op)?)
            } else {
                crate::BatchShape::decode(batch, need(row.context_len, "context_len", op)?)
            };
            let c = sm.cost(&shape);
            return Ok(Prediction { ms: c.time_s * 1e3, power_w: c.power_per_chip_w(tp), bound: c.bound() });
        }
        "" => return Err("column `op` is empty".into()),
        other => {
            return Err(format!(
                "unknown op `{other}`: expected gemm, attn_prefill, attn_decode, moe_ffn, prefill_step or decode_step"
            ));
        }
    };
    Ok(Prediction { ms: cost.time_s * 1e3, power_w: cost.power_w(), bound: cost.bound })
}
