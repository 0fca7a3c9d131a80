//! Steady-state closed-loop model of a serving engine on identical requests.
//!
//! For `c` clients each sending a request of `isl` prompt and `osl` output tokens as soon as the
//! previous one finishes (desynchronized steady state):
//!
//! - every engine iteration decodes the `d = min(c, slots)` running sequences; a new prompt is
//!   prefilled in chunks that share the iteration's token budget with those decodes;
//! - per request, the prefill adds `Δ = t(mixed) − t(decode)` to each of its chunks' iterations,
//!   and every running sequence pays for the `c` prefills that happen per cycle, spread over its
//!   `osl` tokens: `TPOT = t_decode(d) + c·Δ_request / osl` (the interference of prefill on
//!   decode that chunked prefill produces);
//! - `TTFT = wait for a slot + chunks × t(mixed)`.
//!
//! Disaggregated: the prefill pool serves prompts in budget-sized batches (`TTFT = queueing on
//! the pool + prefill + KV transfer`), the decode pool runs `c / decode workers` sequences.

use crate::row::{Deployment, Mode, Pool};
use tokenfab_perf::collective::{Collective, Link, collective};
use tokenfab_perf::{BatchShape, ClockMode, Hardware, StepModel, StepOptions};

/// Engine knobs that matter for the closed-loop model. Every default is documented in
/// [`EngineProfile::for_backend`].
#[derive(Debug, Clone, PartialEq)]
pub struct EngineProfile {
    /// Backend name.
    pub name: String,
    /// Tokens per iteration (max_num_tokens / chunked_prefill_size / max_num_batched_tokens).
    pub token_budget: u32,
    /// Host (scheduler, sampling, detokenization) time per iteration, seconds.
    pub host_overhead_s: f64,
    /// Fraction of isolated per-kernel fixed time left inside CUDA graphs.
    pub kernel_overhead_scale: f64,
    /// Fraction of HBM the engine lets weights + KV cache use (TensorRT-LLM
    /// `free_gpu_memory_fraction` 0.9 of what the weights leave; SGLang `mem_fraction_static`
    /// ~0.85; vLLM `gpu_memory_utilization` 0.9).
    pub memory_fraction: f64,
}

impl EngineProfile {
    /// Profile of a backend named as in the AIC table.
    ///
    /// - token budget: TensorRT-LLM `max_num_tokens` default 8192; SGLang `chunked_prefill_size`
    ///   8192 on large-memory GPUs; vLLM v1 `max_num_batched_tokens` 8192 for the OpenAI server on
    ///   large GPUs (engine documentation defaults).
    /// - host overhead per iteration: **estimates** (0.25 ms TensorRT-LLM, 0.35 ms SGLang, 0.5 ms
    ///   vLLM): the order of magnitude of the CPU-side scheduling + sampling time each engine's
    ///   profiling write-ups report; not fitted to the validation rows.
    /// - kernel overhead scale 0.5: **estimate**, kernels back to back inside a CUDA graph overlap
    ///   about half of the launch/ramp/tail time a single kernel shows under event timing.
    pub fn for_backend(backend: &str) -> EngineProfile {
        let (budget, host, mem) = match backend {
            "trtllm" => (8192, 0.25e-3, 0.9),
            "sglang" => (8192, 0.35e-3, 0.85),
            "vllm" => (8192, 0.5e-3, 0.9),
            _ => (8192, 0.5e-3, 0.9),
        };
        EngineProfile {
            name: backend.to_string(),
            token_budget: budget,
            host_overhead_s: host,
            kernel_overhead_scale: 0.5,
            memory_fraction: mem,
        }
    }
}

/// Predicted means of one deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Mean time to first token, ms.
    pub ttft_ms: f64,
    /// Mean time per output token, ms.
    pub tpot_ms: f64,
    /// Decode iteration time alone, ms.
    pub decode_step_ms: f64,
    /// Throughput, output tokens/s of the deployment.
    pub output_tokens_per_s: f64,
    /// Memory fraction the simulated engine ran at (`None` for the analytic model).
    pub memory_fraction: Option<f64>,
}

fn step_model(dep: &Deployment, pool: &Pool, hw: &Hardware, profile: &EngineProfile) -> Result<StepModel, String> {
    let options = StepOptions {
        weight_dtype: dep.weight_dtype,
        moe_dtype: Some(dep.moe_dtype),
        kv_dtype: dep.kv_dtype,
        cuda_graphs: true,
        kernel_overhead_scale: profile.kernel_overhead_scale,
        clock_mode: ClockMode::Sustained,
        allow_multi_domain_tp: true,
        ..Default::default()
    };
    let sm = StepModel::new(&dep.model, hw, pool.parallel, options).map_err(|e| e.to_string())?;
    let need = sm.weight_bytes_per_chip();
    if need > hw.hbm_bytes * 0.95 {
        return Err(format!(
            "weights need {:.0} GB per chip, more than the {:.0} GB of HBM",
            need / 1e9,
            hw.hbm_bytes / 1e9
        ));
    }
    Ok(sm)
}

/// Sequences of `tokens` tokens the KV cache of one replica holds.
fn kv_slots(sm: &StepModel, hw: &Hardware, profile: &EngineProfile, tokens: u32) -> f64 {
    let free = hw.hbm_bytes * profile.memory_fraction - sm.weight_bytes_per_chip();
    // Activations and workspace: an estimate of 5 % of HBM kept back.
    let free = free - 0.05 * hw.hbm_bytes;
    let per_seq = sm.kv_bytes_per_token_per_chip() * tokens as f64
        + sm.model.linear_state_bytes_per_seq() / sm.parallel.tp as f64;
    (free / per_seq).floor().max(0.0) * sm.parallel.attn_dp as f64
}

fn decode_shape(d: f64, ctx: f64, window: Option<u32>) -> BatchShape {
    let mut b = BatchShape::decode(d.round().max(1.0) as u32, ctx.round() as u64);
    if let Some(w) = window {
        b.decode_context_in_window = b.decode_seqs as u64 * (ctx.round() as u64).min(w as u64);
    }
    b
}

/// Predicts mean TTFT and TPOT of a deployment under the row's closed loop.
pub fn predict(
    catalog: &tokenfab_catalog::Catalog,
    dep: &Deployment,
    isl: u32,
    osl: u32,
    concurrency: u32,
    profile: &EngineProfile,
) -> Result<Prediction, String> {
    let chip = catalog.chip(&dep.system.chip).map_err(|e| e.to_string())?;
    let hw = Hardware::new(chip, Some(&dep.system), catalog);
    let window = dep.model.sliding_window.as_ref().map(|s| s.window);
    let c = concurrency as f64;
    let isl_f = isl as f64;
    let osl_f = osl as f64;
    let ctx_mid = isl_f + osl_f / 2.0;
    match dep.mode {
        Mode::Agg => {
            let sm = step_model(dep, &dep.prefill, &hw, profile)?;
            let slots = kv_slots(&sm, &hw, profile, isl + osl);
            if slots < 1.0 {
                return Err(format!("no room for one {}-token sequence in the KV cache", isl + osl));
            }
            let d = c.min(slots);
            let dec = sm.cost(&decode_shape(d, ctx_mid, window)).time_s + profile.host_overhead_s;
            // Prefill chunks share the budget with the decodes of the iteration.
            let budget = (profile.token_budget as f64 - d).max(profile.token_budget as f64 / 4.0);
            let chunks = (isl_f / budget).ceil().max(1.0);
            let chunk = isl_f / chunks;
            let mixed_shape = decode_shape(d - 1.0, ctx_mid, window);
            let mut delta_req = 0.0;
            let mut mixed_total = 0.0;
            for j in 0..chunks as u64 {
                let mut s = mixed_shape;
                s.add_prefill(chunk.round() as u64, (j as f64 * chunk).round() as u64, j + 1 == chunks as u64);
                let t = sm.cost(&s).time_s + profile.host_overhead_s;
                mixed_total += t;
                delta_req += (t - dec).max(0.0);
            }
            let tpot = dec + d * delta_req / osl_f;
            let e2e_service = mixed_total + (osl_f - 1.0) * tpot;
            // Clients beyond the KV-cache slots queue: throughput is d / E2E, so by Little's law
            // each request waits (c/d − 1) service times before it is admitted.
            let wait = (c / d - 1.0).max(0.0) * e2e_service;
            let ttft = wait + mixed_total;
            Ok(Prediction {
                ttft_ms: ttft * 1e3,
                tpot_ms: tpot * 1e3,
                decode_step_ms: dec * 1e3,
                output_tokens_per_s: d * osl_f / e2e_service,
                memory_fraction: None,
            })
        }
        Mode::Disagg => {
            if !dep.prefill.workers_known || !dep.decode.workers_known {
                return Err("disaggregated row without prefill/decode worker counts: pool sizes unknown".into());
            }
            let psm = step_model(dep, &dep.prefill, &hw, profile)?;
            let dsm = step_model(dep, &dep.decode, &hw, profile)?;
            // Decode pool: c sequences over the decode workers (capped by the row's batch size).
            let per_worker = (c / dep.decode.workers as f64).max(1.0);
            let d = dep.decode.max_batch.map_or(per_worker, |m| per_worker.min(m as f64));
            let tpot = dsm.cost(&decode_shape(d, ctx_mid, window)).time_s + profile.host_overhead_s;
            // Prefill pool: prompts batched up to the token budget.
            let per_batch = (profile.token_budget as f64 / isl_f).floor().max(1.0);
            let per_batch = dep.prefill.max_batch.map_or(per_batch, |m| per_batch.min(m.max(1) as f64));
            let chunks = (isl_f / profile.token_budget as f64).ceil().max(1.0);
            let mut s = BatchShape::default();
            for _ in 0..per_batch as u64 {
                let chunk = (isl_f / chunks).round() as u64;
                s.add_prefill(chunk, 0, true);
            }
            let batch_time = psm.cost(&s).time_s * chunks + profile.host_overhead_s * chunks;
            // Closed loop: all c prompts of a cycle queue on the prefill pool; on average a prompt
            // waits for half of the pool's backlog of a cycle ahead of it.
            let batches_per_worker = (c / per_batch / dep.prefill.workers as f64).max(1.0);
            let queue = (batches_per_worker - 1.0).max(0.0) / 2.0 * batch_time;
            // KV transfer of one prompt's cache over the links between pools.
            let kv_bytes = dep.model.kv_bytes_per_token(dep.kv_dtype) * isl_f;
            let gpus = dep.prefill.parallel.chips() + dep.decode.parallel.chips();
            let link = if gpus <= hw.scaleup_domain { Link::ScaleUp } else { Link::ScaleOut };
            let xfer =
                collective(&hw, Collective::SendRecv, kv_bytes / dep.prefill.parallel.chips() as f64, 2, link).time_s;
            let ttft = queue + batch_time + xfer + tpot;
            Ok(Prediction {
                ttft_ms: ttft * 1e3,
                tpot_ms: tpot * 1e3,
                decode_step_ms: tpot * 1e3,
                output_tokens_per_s: d * dep.decode.workers as f64 / tpot,
                memory_fraction: None,
            })
        }
    }
}
