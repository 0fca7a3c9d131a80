//! Engine profiles: the scheduling and memory knobs of vLLM v1, SGLang and TensorRT-LLM.
//!
//! Every default below carries its source in a comment and in [`EngineProfile::sources`].
//! "estimate" means we could not pin the figure to an engine release here and chose it from the
//! engines' documented behaviour; override it in the scenario's `[deployment.engine]` table.

use serde::{Deserialize, Serialize};

/// Which serving engine a replica runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// vLLM with the v1 engine (the default).
    #[default]
    Vllm,
    /// SGLang.
    Sglang,
    /// TensorRT-LLM (PyTorch backend / trtllm-serve).
    Trtllm,
}

impl EngineKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Vllm => "vllm",
            EngineKind::Sglang => "sglang",
            EngineKind::Trtllm => "trtllm",
        }
    }
}

/// How a step is composed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Running requests (decodes and ongoing prefill chunks) first, then new requests fill the
    /// remaining token budget; prefill and decode share one step (vLLM v1, TensorRT-LLM
    /// in-flight batching).
    Mixed,
    /// A step is either a prefill batch of waiting requests or a decode batch of running ones;
    /// prefill wins when there is waiting work that fits (SGLang without `--enable-mixed-chunk`).
    PrefillFirst,
}

/// How the KV-cache pool size follows from the memory fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvMemory {
    /// vLLM: `fraction × HBM − weights − activation peak − non-torch memory`.
    FractionOfTotal,
    /// SGLang: `mem_fraction_static × HBM − weights` (activations live outside the fraction).
    StaticFraction,
    /// TensorRT-LLM: `fraction × (HBM − weights − activation peak − non-torch memory)`.
    FractionOfFree,
}

/// Optional overrides of an engine's defaults (scenario `[deployment.engine]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineOverrides {
    /// Token budget per step (vLLM `max_num_batched_tokens`, SGLang `chunked_prefill_size`,
    /// TRT-LLM `max_num_tokens`).
    pub max_num_batched_tokens: Option<u32>,
    /// Maximum running sequences per replica (per attention-DP rank for DP attention).
    pub max_num_seqs: Option<u32>,
    /// Split long prompts over several steps.
    pub chunked_prefill: Option<bool>,
    /// KV block (page) size in tokens.
    pub block_size: Option<u32>,
    /// Memory fraction (`gpu_memory_utilization`, `mem_fraction_static`,
    /// `free_gpu_memory_fraction`).
    pub memory_fraction: Option<f64>,
    /// Reuse KV blocks of shared prompt prefixes.
    pub prefix_caching: Option<bool>,
    /// Largest decode batch captured as a CUDA graph (0 disables graphs).
    pub cuda_graph_max_batch: Option<u32>,
    /// Steps that carry prompt tokens also replay CUDA graphs (vLLM v1's piecewise graphs,
    /// SGLang's piecewise graphs for extend, TensorRT-LLM's opt-in piecewise prefill graphs)
    /// instead of launching every kernel from the host.
    pub prefill_cuda_graphs: Option<bool>,
    /// Host time per step, milliseconds.
    pub host_overhead_ms: Option<f64>,
    /// Extra host time per running sequence per step, microseconds.
    pub host_overhead_per_seq_us: Option<f64>,
    /// Prepare the next step on the host while the device runs this one (SGLang's overlap
    /// scheduler, TensorRT-LLM's overlap scheduler, vLLM `--async-scheduling`): a step then
    /// takes max(device, host) instead of device + host.
    pub overlap_scheduler: Option<bool>,
    /// Step composition.
    pub schedule: Option<Schedule>,
    /// Reserve KV for the whole output at admission (no preemption).
    pub reserve_output: Option<bool>,
    /// With `reserve_output`: output tokens reserved per request at admission, the `max_tokens`
    /// the clients send (TensorRT-LLM's `GUARANTEED_NO_EVICT` reserves up to the request's
    /// maximum, not what it will generate). Unset: the request's own output length, exact for
    /// benchmarks that fix the output (`ignore_eos`, `max_tokens` = output) and optimistic for
    /// traffic that stops at an end-of-sequence token. A request that generates more reserves
    /// its own length.
    pub reserve_output_tokens: Option<u32>,
    /// Use exactly this many KV blocks per engine instead of computing them from memory
    /// (vLLM `--num-gpu-blocks-override`).
    pub num_gpu_blocks_override: Option<u64>,
    /// Fraction (0–1) of each kernel's fixed time, as measured in isolation by the operator
    /// calibration, that remains inside the engine's CUDA-graphed step (fused and back-to-back
    /// kernels hide part of it).
    pub kernel_overhead_scale: Option<f64>,
    /// Speculative decoding (MTP, EAGLE, a small draft model): draft tokens proposed per
    /// sequence per step, verified by the target model in the same step (0 = off).
    pub speculative_tokens: Option<u32>,
    /// Probability that a draft token is accepted given the ones before it were (required with
    /// `speculative_tokens`; it depends on the model, the draft and the data).
    pub speculative_acceptance: Option<f64>,
    /// Decoder layers of the draft, costed with the target's layer shapes and LM head (MTP and
    /// EAGLE heads: 1, the default).
    pub speculative_draft_layers: Option<u32>,
    /// Multiplies the device time of every step (0.1–10; default 1): a calibration of one
    /// engine build on one model, for kernels the performance model does not describe (e.g. fit
    /// by `tokenfab validate aic --calibrate deployment` on measured benchmark shapes).
    pub device_time_scale: Option<f64>,
    /// TensorRT-LLM's attention-DP balancing (`attention_dp_config.enable_balance` with
    /// `timeout_iters`): with attention DP, new prompts are held back until there is one for
    /// every rank, or until this many iterations have passed, so the ranks prefill together
    /// (0 = off, the default; NVIDIA's DeepSeek-R1 recipe uses 60).
    pub attention_dp_balance_iters: Option<u32>,
    /// SGLang's `--scheduler-recv-interval` (1–10,000; default 1): while the engine decodes, its
    /// scheduler takes in newly arrived requests only once every this many decode steps (right
    /// after a step with prompt tokens, or when idle, it takes them at once).
    pub scheduler_recv_interval: Option<u32>,
    /// TensorRT-LLM's batch waiting (`batch_wait_timeout_iters`, 0–10,000; default 0 = off):
    /// without attention DP, while sequences decode, new prompts are held until the step's
    /// scheduled tokens reach `batch_wait_max_tokens_ratio` × the token budget, or for at most
    /// this many iterations.
    pub batch_wait_timeout_iters: Option<u32>,
    /// TensorRT-LLM's `batch_wait_max_tokens_ratio` (0–1; default 0).
    pub batch_wait_max_tokens_ratio: Option<f64>,
}

/// The resolved knobs of one engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineProfile {
    /// Which engine.
    pub kind: EngineKind,
    /// Tokens per step.
    pub max_num_batched_tokens: u32,
    /// Running sequences per replica (per attention-DP rank).
    pub max_num_seqs: u32,
    /// Chunked prefill on.
    pub chunked_prefill: bool,
    /// KV block size, tokens.
    pub block_size: u32,
    /// Memory fraction (meaning depends on `kv_memory`).
    pub memory_fraction: f64,
    /// How KV capacity is derived.
    pub kv_memory: KvMemory,
    /// Prefix caching on.
    pub prefix_caching: bool,
    /// Captured CUDA-graph decode batch sizes, ascending (empty: no graphs).
    pub cuda_graph_sizes: Vec<u32>,
    /// Steps with prompt tokens (prefill-only or mixed) replay CUDA graphs too; otherwise they
    /// run eagerly, paying a host launch per kernel.
    pub prefill_cuda_graphs: bool,
    /// Host time per step, seconds.
    pub host_overhead_s: f64,
    /// Host time per running sequence per step, seconds.
    pub host_overhead_per_seq_s: f64,
    /// Host work of the next step overlaps the device work of this one (a step takes
    /// max(device, host) rather than their sum).
    pub overlap_host: bool,
    /// Step composition.
    pub schedule: Schedule,
    /// Reserve KV blocks for prompt + all output tokens at admission (TRT-LLM
    /// `GUARANTEED_NO_EVICT`): never preempts, admits fewer requests.
    pub reserve_output: bool,
    /// Output tokens reserved per request when `reserve_output` (the clients' `max_tokens`);
    /// `None`: the request's own output length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserve_output_tokens: Option<u32>,
    /// Memory outside the framework's tensors (CUDA context, NCCL buffers, CUDA graphs), bytes.
    pub non_torch_bytes: f64,
    /// Fraction of the per-kernel fixed time measured in isolation that a step pays
    /// (`tokenfab_perf::StepOptions::kernel_overhead_scale`).
    pub kernel_overhead_scale: f64,
    /// Draft tokens per sequence per step (0: no speculative decoding).
    pub spec_tokens: u32,
    /// Per-draft-token acceptance probability (chained).
    pub spec_acceptance: f64,
    /// Decoder layers of the draft.
    pub spec_draft_layers: u32,
    /// Multiplier on every step's device time (1 = the performance model as is).
    pub device_time_scale: f64,
    /// Attention-DP balancing: iterations a new prompt may be held for the other ranks
    /// (0 = off).
    pub adp_balance_iters: u32,
    /// Decode steps between the scheduler's receives of new requests (1 = every step).
    pub scheduler_recv_interval: u32,
    /// Batch waiting: iterations new prompts may be held to fill the step (0 = off).
    pub batch_wait_iters: u32,
    /// Batch waiting: share of the token budget that ends the wait.
    pub batch_wait_ratio: f64,
    /// Knobs the engine derives from the GPU's memory at start-up, still at their automatic
    /// value (not set in the scenario). Resolved by [`EngineProfile::for_device`] and
    /// [`EngineProfile::memory_fraction_for`].
    pub auto: AutoKnobs,
}

/// Which memory-dependent knobs an engine picks itself from the GPU it starts on (SGLang's
/// `_handle_gpu_memory_settings`, vLLM's `get_batch_defaults`); each is `false` once the
/// scenario sets the knob.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AutoKnobs {
    /// The token budget (SGLang `chunked_prefill_size`, vLLM `max_num_batched_tokens`) from GPU
    /// memory.
    pub token_budget: bool,
    /// vLLM's `max_num_seqs` from GPU memory.
    pub max_seqs: bool,
    /// `cuda_graph_max_bs` (the largest captured decode batch) from GPU memory and TP.
    pub cuda_graphs: bool,
    /// `mem_fraction_static` from the reserve the two above need.
    pub memory_fraction: bool,
    /// Piecewise CUDA graphs for prompt (extend) steps, which SGLang turns off itself for
    /// layouts it cannot capture them with.
    pub prefill_graphs: bool,
}

/// What SGLang picks for a GPU when the launch command leaves the knobs unset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SglangMemoryDefaults {
    /// `chunked_prefill_size`, tokens.
    pub chunked_prefill_size: u32,
    /// `cuda_graph_max_bs`.
    pub cuda_graph_max_bs: u32,
}

/// SGLang's token budget and CUDA-graph batch for a GPU of `gpu_mib` MiB (the driver's
/// `memory.total`, which SGLang reads through nvidia-smi) and `tp_size` ranks (with attention DP,
/// SGLang's `tp_size` is the whole world: our `tp × attn_dp`).
///
/// Source: sgl-project/sglang `python/sglang/srt/server_args.py`,
/// `ServerArgs::_handle_gpu_memory_settings`, as rewritten by PR #10975 (merged 2025-09-27,
/// SGLang ≥ 0.5.3; reported). CUDA GPUs only (the NPU branches are not modelled).
pub fn sglang_gpu_memory_defaults(gpu_mib: f64, tp_size: u32) -> SglangMemoryDefaults {
    const G: f64 = 1024.0;
    let (chunk, small_tp_bs, large_tp_bs) = if gpu_mib < 20.0 * G {
        (2048, 8, 8) // T4, RTX 4080
    } else if gpu_mib < 35.0 * G {
        (2048, 24, 80) // A10, RTX 4090/5090
    } else if gpu_mib < 60.0 * G {
        (4096, 32, 160) // A100 40 GB, L40
    } else if gpu_mib < 160.0 * G {
        (8192, 256, 512) // H100, A100 80 GB, H20, H200
    } else {
        (16384, 512, 512) // B200, MI300X and larger
    };
    SglangMemoryDefaults {
        chunked_prefill_size: chunk,
        cuda_graph_max_bs: if tp_size < 4 { small_tp_bs } else { large_tp_bs },
    }
}

/// SGLang's default `mem_fraction_static` on a GPU of `gpu_mib` MiB: the memory it keeps back
/// for activations and CUDA graphs, estimated from the token budget and the largest captured
/// batch, taken from the whole GPU (same source as [`sglang_gpu_memory_defaults`]).
///
/// Reserved MiB: 512 + 1.5 × max(chunked_prefill_size, 2048) + 2 × cuda_graph_max_bs
/// plus 1024 × tp_size × pp_size / 8; with DP attention, plus 3 × cuda_graph_max_bs × dp_size, and
/// 1.5 × that again above a batch of 300; at least 10 GiB on GPUs above 60 GiB; plus 2 GiB for an
/// EAGLE/MTP draft. The fraction is (gpu − reserved) / gpu, rounded to 3 decimals.
pub fn sglang_mem_fraction_static(
    gpu_mib: f64,
    chunked_prefill_size: u32,
    cuda_graph_max_bs: u32,
    tp_size: u32,
    pp_size: u32,
    dp_attention: u32,
    speculative: bool,
) -> f64 {
    let bs = cuda_graph_max_bs as f64;
    let mut reserved = 512.0 + chunked_prefill_size.max(2048) as f64 * 1.5 + bs * 2.0;
    reserved += (tp_size * pp_size) as f64 / 8.0 * 1024.0;
    if dp_attention > 1 {
        reserved += bs * dp_attention as f64 * 3.0;
        if cuda_graph_max_bs > 300 {
            reserved += bs * dp_attention as f64 * 1.5;
        }
    }
    if gpu_mib > 60.0 * 1024.0 {
        reserved = reserved.max(10.0 * 1024.0);
    }
    if speculative {
        reserved += 2.0 * 1024.0;
    }
    ((gpu_mib - reserved) / gpu_mib * 1000.0).round() / 1000.0
}

/// SGLang's CUDA-graph capture batch sizes up to `max_bs` (no speculative decoding):
/// 1, 2, 4, 8, 12, then 16..=256 step 8, 272..<512 step 16, 512.. step 32 (same source).
fn sglang_graph_sizes(max_bs: u32) -> Vec<u32> {
    let mut v = vec![1, 2, 4, 8, 12];
    v.extend((16..=256).step_by(8));
    v.extend((272..512).step_by(16));
    v.extend((512..=max_bs.max(512)).step_by(32));
    v.retain(|&b| b <= max_bs);
    v
}

fn graph_sizes(small: &[u32], step: u32, max: u32) -> Vec<u32> {
    let mut v: Vec<u32> = small.iter().copied().filter(|&b| b <= max).collect();
    let mut b = small.last().copied().unwrap_or(0) + step;
    while b <= max {
        v.push(b);
        b += step;
    }
    v
}

impl EngineProfile {
    /// The defaults of an engine.
    pub fn defaults(kind: EngineKind) -> EngineProfile {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        match kind {
            // vLLM v1 (0.10/0.11): max_num_batched_tokens 8192 and max_num_seqs 1024 for the
            // OpenAI server on GPUs with >= 70 GiB other than A100, 2048 and 256 on smaller ones
            // (engine/arg_utils.py `get_batch_defaults`; reported; applied by `for_device`);
            // chunked prefill always on in v1; block_size 16 (CUDA default);
            // gpu_memory_utilization 0.9; prefix caching on by default in v1; CUDA graph
            // capture sizes [1, 2, 4] + 8..=512 step 8 (compilation config default, reported).
            // Host overhead: estimate, ~1 ms per step with a small per-sequence term (scheduler
            // and input preparation in Python; async scheduling hides part of it).
            EngineKind::Vllm => EngineProfile {
                kind,
                max_num_batched_tokens: 8192,
                max_num_seqs: 1024,
                chunked_prefill: true,
                block_size: 16,
                memory_fraction: 0.9,
                kv_memory: KvMemory::FractionOfTotal,
                prefix_caching: true,
                cuda_graph_sizes: graph_sizes(&[1, 2, 4, 8], 8, 512),
                // V1 captures piecewise graphs (attention outside) for mixed batches (reported).
                prefill_cuda_graphs: true,
                host_overhead_s: 1.0e-3,
                host_overhead_per_seq_s: 2.0e-6,
                // Async scheduling is opt-in (`--async-scheduling`) in these versions.
                overlap_host: false,
                schedule: Schedule::Mixed,
                reserve_output: false,
                reserve_output_tokens: None,
                non_torch_bytes: 1.5 * GIB,
                kernel_overhead_scale: 1.0,
                spec_tokens: 0,
                spec_acceptance: 0.0,
                spec_draft_layers: 1,
                device_time_scale: 1.0,
                adp_balance_iters: 0,
                scheduler_recv_interval: 1,
                batch_wait_iters: 0,
                batch_wait_ratio: 0.0,
                auto: AutoKnobs { token_budget: true, max_seqs: true, ..AutoKnobs::default() },
            },
            // SGLang (0.5): page_size 1, radix (prefix) cache on, max_running_requests derived
            // from the pool (we use 1024 as the cap, estimate). chunked_prefill_size,
            // cuda_graph_max_bs and mem_fraction_static are picked at start-up from the GPU's
            // memory, TP and DP (server_args.py `_handle_gpu_memory_settings`; reported): see
            // `sglang_gpu_memory_defaults`, applied by `for_device`. The values here (8192
            // tokens, graphs to 256, 0.88) are those of an 80 GB card at TP 1, used only before a
            // device is known. The overlap scheduler (default since 0.4, reported) prepares the
            // next batch while the GPU runs this one, so a step takes max(device, host); host
            // 0.3 ms per step (estimate).
            EngineKind::Sglang => EngineProfile {
                kind,
                max_num_batched_tokens: 8192,
                max_num_seqs: 1024,
                chunked_prefill: true,
                block_size: 1,
                memory_fraction: 0.88,
                kv_memory: KvMemory::StaticFraction,
                prefix_caching: true,
                cuda_graph_sizes: sglang_graph_sizes(256),
                // Piecewise CUDA graphs for extend/prefill, on by default in current releases
                // (docs.sglang.io, "Piecewise CUDA Graph"; sglang PR #16331, January 2026;
                // reported), off where SGLang disables them itself (`for_device`).
                prefill_cuda_graphs: true,
                host_overhead_s: 0.3e-3,
                host_overhead_per_seq_s: 1.0e-6,
                overlap_host: true,
                schedule: Schedule::PrefillFirst,
                reserve_output: false,
                reserve_output_tokens: None,
                non_torch_bytes: 0.0,
                kernel_overhead_scale: 1.0,
                spec_tokens: 0,
                spec_acceptance: 0.0,
                spec_draft_layers: 1,
                device_time_scale: 1.0,
                adp_balance_iters: 0,
                scheduler_recv_interval: 1,
                batch_wait_iters: 0,
                batch_wait_ratio: 0.0,
                auto: AutoKnobs {
                    token_budget: true,
                    max_seqs: false,
                    cuda_graphs: true,
                    memory_fraction: true,
                    prefill_graphs: true,
                },
            },
            // TensorRT-LLM (1.0, PyTorch backend): max_num_tokens 8192, max_batch_size 2048,
            // free_gpu_memory_fraction 0.9, tokens_per_block 32, enable_chunked_prefill false,
            // KV block reuse on, capacity scheduler GUARANTEED_NO_EVICT (reported, llm_args.py);
            // CUDA graph batch sizes 1,2,4,8,16,32,64,128 then powers of two to 512 (estimate);
            // host overhead 0.3 ms (C++ runtime; estimate), overlapped with the device work
            // (`disable_overlap_scheduler` false by default in the PyTorch backend; reported).
            EngineKind::Trtllm => EngineProfile {
                kind,
                max_num_batched_tokens: 8192,
                max_num_seqs: 2048,
                chunked_prefill: false,
                block_size: 32,
                memory_fraction: 0.9,
                kv_memory: KvMemory::FractionOfFree,
                prefix_caching: true,
                cuda_graph_sizes: vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
                // Graphs for generation-only batches; context and mixed iterations run eagerly
                // unless piecewise prefill graphs are configured (torch_compile_config, opt-in:
                // "Torch Compile & Piecewise CUDA Graph" in the TensorRT-LLM docs; reported).
                prefill_cuda_graphs: false,
                host_overhead_s: 0.3e-3,
                host_overhead_per_seq_s: 1.0e-6,
                overlap_host: true,
                schedule: Schedule::Mixed,
                reserve_output: true,
                reserve_output_tokens: None,
                non_torch_bytes: 1.0 * GIB,
                kernel_overhead_scale: 1.0,
                spec_tokens: 0,
                spec_acceptance: 0.0,
                spec_draft_layers: 1,
                device_time_scale: 1.0,
                adp_balance_iters: 0,
                scheduler_recv_interval: 1,
                batch_wait_iters: 0,
                batch_wait_ratio: 0.0,
                auto: AutoKnobs::default(),
            },
        }
    }

    /// Where each default comes from (for docs and `summary.json`).
    pub fn sources(kind: EngineKind) -> &'static str {
        match kind {
            EngineKind::Vllm => {
                "vLLM v1 defaults (engine/arg_utils.py, config; max_num_batched_tokens and max_num_seqs from GPU memory as get_batch_defaults picks them; reported); host overhead and non-torch memory: estimate"
            }
            EngineKind::Sglang => {
                "SGLang server_args.py defaults; chunked_prefill_size, cuda_graph_max_bs and mem_fraction_static from GPU memory, TP and DP as _handle_gpu_memory_settings picks them (PR #10975, SGLang >= 0.5.3; reported); piecewise CUDA graphs for prompt steps except with DP attention, PP or speculative decoding (_handle_piecewise_cuda_graph; reported); max_num_seqs cap and host overhead: estimate"
            }
            EngineKind::Trtllm => {
                "TensorRT-LLM llm_args.py defaults (reported); CUDA-graph sizes and host overhead: estimate"
            }
        }
    }

    /// Defaults with overrides applied. Returns the name of the first invalid field.
    pub fn with_overrides(kind: EngineKind, o: &EngineOverrides) -> Result<EngineProfile, (String, String)> {
        let mut p = EngineProfile::defaults(kind);
        let bad = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        if let Some(v) = o.max_num_batched_tokens {
            if v == 0 {
                return bad("max_num_batched_tokens", "must be at least 1");
            }
            p.max_num_batched_tokens = v;
            p.auto.token_budget = false;
        }
        if let Some(v) = o.max_num_seqs {
            if v == 0 {
                return bad("max_num_seqs", "must be at least 1");
            }
            p.max_num_seqs = v;
            p.auto.max_seqs = false;
        }
        if let Some(v) = o.chunked_prefill {
            p.chunked_prefill = v;
        }
        if let Some(v) = o.block_size {
            if v == 0 || v > 1024 {
                return bad("block_size", "must be between 1 and 1024");
            }
            p.block_size = v;
        }
        if let Some(v) = o.memory_fraction {
            if !(v > 0.0 && v <= 1.0) {
                return bad("memory_fraction", "must be in (0, 1]");
            }
            p.memory_fraction = v;
            p.auto.memory_fraction = false;
        }
        if let Some(v) = o.prefix_caching {
            p.prefix_caching = v;
        }
        if let Some(v) = o.cuda_graph_max_batch {
            if kind == EngineKind::Sglang {
                p.cuda_graph_sizes = sglang_graph_sizes(v);
            } else {
                p.cuda_graph_sizes.retain(|&b| b <= v);
            }
            p.auto.cuda_graphs = false;
        }
        if let Some(v) = o.prefill_cuda_graphs {
            p.prefill_cuda_graphs = v;
            p.auto.prefill_graphs = false;
        }
        if let Some(v) = o.host_overhead_ms {
            if !(v >= 0.0 && v.is_finite()) {
                return bad("host_overhead_ms", "must be a finite number >= 0");
            }
            p.host_overhead_s = v * 1e-3;
        }
        if let Some(v) = o.host_overhead_per_seq_us {
            if !(v >= 0.0 && v.is_finite()) {
                return bad("host_overhead_per_seq_us", "must be a finite number >= 0");
            }
            p.host_overhead_per_seq_s = v * 1e-6;
        }
        if let Some(v) = o.overlap_scheduler {
            p.overlap_host = v;
        }
        if let Some(v) = o.attention_dp_balance_iters {
            if v > 10_000 {
                return bad("attention_dp_balance_iters", "must be between 0 and 10000");
            }
            p.adp_balance_iters = v;
        }
        if let Some(v) = o.scheduler_recv_interval {
            if !(1..=10_000).contains(&v) {
                return bad("scheduler_recv_interval", "must be between 1 and 10000");
            }
            p.scheduler_recv_interval = v;
        }
        if let Some(v) = o.batch_wait_timeout_iters {
            if v > 10_000 {
                return bad("batch_wait_timeout_iters", "must be between 0 and 10000");
            }
            p.batch_wait_iters = v;
        }
        if let Some(v) = o.batch_wait_max_tokens_ratio {
            if !(0.0..=1.0).contains(&v) {
                return bad("batch_wait_max_tokens_ratio", "must be between 0 and 1");
            }
            p.batch_wait_ratio = v;
        }
        if let Some(v) = o.kernel_overhead_scale {
            if !(0.0..=1.0).contains(&v) {
                return bad("kernel_overhead_scale", "must be between 0 and 1");
            }
            p.kernel_overhead_scale = v;
        }
        if let Some(v) = o.speculative_tokens {
            if v > 16 {
                return bad("speculative_tokens", "must be between 0 and 16");
            }
            p.spec_tokens = v;
        }
        if let Some(v) = o.speculative_acceptance {
            if !(0.0..=1.0).contains(&v) {
                return bad("speculative_acceptance", "must be between 0 and 1");
            }
            p.spec_acceptance = v;
        }
        if p.spec_tokens > 0 && o.speculative_acceptance.is_none() {
            return bad(
                "speculative_acceptance",
                "required with speculative_tokens: the accepted share of draft tokens depends on the model, the draft \
                 and the data (DeepSeek-V3 reports 85-90 % for its first MTP token)",
            );
        }
        if let Some(v) = o.device_time_scale {
            if !(0.1..=10.0).contains(&v) {
                return bad("device_time_scale", "must be between 0.1 and 10");
            }
            p.device_time_scale = v;
        }
        if let Some(v) = o.speculative_draft_layers {
            if v == 0 || v > 8 {
                return bad("speculative_draft_layers", "must be between 1 and 8");
            }
            p.spec_draft_layers = v;
        }
        if let Some(v) = o.schedule {
            p.schedule = v;
        }
        if let Some(v) = o.reserve_output {
            p.reserve_output = v;
        }
        if let Some(v) = o.reserve_output_tokens {
            if v == 0 {
                return bad("reserve_output_tokens", "must be at least 1");
            }
            p.reserve_output_tokens = Some(v);
        }
        // Engines require the token budget to cover one decode token per running sequence.
        p.max_num_seqs = p.max_num_seqs.min(p.max_num_batched_tokens);
        Ok(p)
    }

    /// Resolves the knobs the engine derives from the GPU and the layout (SGLang's token budget,
    /// CUDA-graph batches and piecewise prompt graphs, vLLM's token budget and running-sequence
    /// cap) for a device of `gpu_mib` MiB running `parallel`; knobs the scenario set are kept.
    /// TensorRT-LLM is unchanged.
    pub fn for_device(&mut self, gpu_mib: f64, parallel: &tokenfab_perf::Parallel) {
        if self.kind == EngineKind::Vllm {
            // `get_batch_defaults`, OpenAI server: GPUs of at least 70 GiB (torch's total
            // memory, the driver's MiB / 1024) get the large defaults. (vLLM also gives A100 80 GB
            // the small ones; the catalog has no A100.)
            let large = gpu_mib >= 70.0 * 1024.0;
            if self.auto.token_budget {
                self.max_num_batched_tokens = if large { 8192 } else { 2048 };
            }
            if self.auto.max_seqs {
                self.max_num_seqs = if large { 1024 } else { 256 };
            }
            self.max_num_seqs = self.max_num_seqs.min(self.max_num_batched_tokens);
            return;
        }
        if self.kind != EngineKind::Sglang {
            return;
        }
        let d = sglang_gpu_memory_defaults(gpu_mib, parallel.tp * parallel.attn_dp);
        if self.auto.token_budget {
            self.max_num_batched_tokens = d.chunked_prefill_size;
            self.max_num_seqs = self.max_num_seqs.min(self.max_num_batched_tokens);
        }
        if self.auto.cuda_graphs {
            self.cuda_graph_sizes = sglang_graph_sizes(d.cuda_graph_max_bs);
        }
        self.prompt_graphs_for(parallel);
    }

    /// Whether SGLang captures piecewise CUDA graphs for the prompt steps of a replica running
    /// `parallel`, unless the scenario set it: `_handle_piecewise_cuda_graph` (server_args.py)
    /// turns them off with DP attention and with pipeline parallelism, and (before sglang PR
    /// #22128, April 2026) with any speculative decoding; those deployments run their prompt
    /// steps eagerly. Disaggregated deployments decide it on the prefill pool's layout.
    pub fn prompt_graphs_for(&mut self, parallel: &tokenfab_perf::Parallel) {
        if self.kind == EngineKind::Sglang && self.auto.prefill_graphs {
            self.prefill_cuda_graphs = parallel.attn_dp <= 1 && parallel.pp <= 1 && self.spec_tokens == 0;
        }
    }

    /// The memory fraction of an engine running `parallel` on a GPU of `gpu_mib` MiB: SGLang's
    /// start-up default ([`sglang_mem_fraction_static`], from this profile's token budget and
    /// largest CUDA graph) unless the scenario set it; the fixed fraction otherwise.
    pub fn memory_fraction_for(&self, gpu_mib: f64, parallel: &tokenfab_perf::Parallel) -> f64 {
        if self.kind != EngineKind::Sglang || !self.auto.memory_fraction {
            return self.memory_fraction;
        }
        sglang_mem_fraction_static(
            gpu_mib,
            self.max_num_batched_tokens,
            self.cuda_graph_sizes.last().copied().unwrap_or(0),
            parallel.tp * parallel.attn_dp,
            parallel.pp,
            parallel.attn_dp,
            self.spec_tokens > 0,
        )
    }

    /// The decode batch a CUDA graph pads `b` to, or `None` when `b` runs without a graph.
    pub fn graph_batch(&self, b: u32) -> Option<u32> {
        let i = self.cuda_graph_sizes.partition_point(|&s| s < b);
        self.cuda_graph_sizes.get(i).copied()
    }

    /// Mean tokens a decoding sequence gains per step: 1 + a + a² + … + a^k for `k` draft
    /// tokens accepted with chained probability `a` (the verified prefix plus the target's own
    /// token); 1 without speculative decoding.
    pub fn spec_tokens_per_step(&self) -> f64 {
        let a = self.spec_acceptance;
        (0..=self.spec_tokens).map(|i| a.powi(i as i32)).sum()
    }

    /// Wall time of a step, ns: its device time and the host time of `seqs` running sequences,
    /// summed or (overlap scheduler) the longer of the two. At least 1 ns.
    pub fn step_ns(&self, device_ns: u64, seqs: u32) -> u64 {
        let host_ns = crate::time::s_to_ns(self.host_time_s(seqs));
        if self.overlap_host { device_ns.max(host_ns) } else { device_ns + host_ns }.max(1)
    }

    /// Host time of a step with `seqs` running sequences, seconds.
    pub fn host_time_s(&self, seqs: u32) -> f64 {
        self.host_overhead_s + self.host_overhead_per_seq_s * seqs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sglang_picks_its_memory_knobs_from_the_gpu() {
        // Worked by hand from server_args.py `_handle_gpu_memory_settings` (driver MiB).
        // (gpu MiB, tp, pp, dp attention, chunk, graph max, fraction)
        let cases = [
            // H100 80 GB TP 1: reserve 512 + 12288 + 512 + 128 = 13440 MiB.
            (81_559.0, 1, 1, 1, 8192, 256, 0.835),
            // H200 TP 8: 512 + 12288 + 1024 + 1024 = 14848.
            (143_771.0, 8, 1, 1, 8192, 512, 0.897),
            // B200 TP 4: 512 + 24576 + 1024 + 512 = 26624.
            (183_359.0, 4, 1, 1, 16384, 512, 0.855),
            // B200, attention DP 8 (tp_size 8): 27136 + 512 × 8 × 3 + 512 × 8 × 1.5 = 45568.
            (183_359.0, 8, 1, 8, 16384, 512, 0.751),
            // A 24 GB card: 512 + 3072 + 48 + 128, no 10 GiB floor below 60 GiB.
            (24_564.0, 1, 1, 1, 2048, 24, 0.847),
        ];
        for (mib, tp, pp, dp, chunk, bs, frac) in cases {
            let d = sglang_gpu_memory_defaults(mib, tp);
            assert_eq!((d.chunked_prefill_size, d.cuda_graph_max_bs), (chunk, bs), "{mib} MiB tp {tp}");
            let f = sglang_mem_fraction_static(mib, chunk, bs, tp, pp, dp, false);
            assert!((f - frac).abs() < 1e-9, "{mib} MiB tp {tp} dp {dp}: {f} != {frac}");
        }
        // An EAGLE/MTP draft keeps back 2 GiB more.
        let with_draft = sglang_mem_fraction_static(183_359.0, 16384, 512, 4, 1, 1, true);
        assert!((with_draft - 0.844).abs() < 1e-9, "{with_draft}");
        // Capture sizes: 1, 2, 4, 8, 12, 16..=256 by 8, 272..<512 by 16, then 512.
        let g = sglang_graph_sizes(512);
        assert_eq!(&g[..7], &[1, 2, 4, 8, 12, 16, 24]);
        assert!(g.contains(&256) && g.contains(&272) && g.contains(&496) && !g.contains(&264));
        assert_eq!(g.last(), Some(&512));
    }

    #[test]
    fn sglang_device_defaults_yield_to_the_scenario() {
        let par = tokenfab_perf::Parallel::tp(4);
        let mut auto = EngineProfile::defaults(EngineKind::Sglang);
        auto.for_device(183_359.0, &par);
        assert_eq!(auto.max_num_batched_tokens, 16384);
        assert_eq!(auto.cuda_graph_sizes.last(), Some(&512));
        assert!((auto.memory_fraction_for(183_359.0, &par) - 0.855).abs() < 1e-9);
        // Set knobs stay; the fraction default follows the knobs actually used.
        let o = EngineOverrides {
            max_num_batched_tokens: Some(8192),
            cuda_graph_max_batch: Some(128),
            ..Default::default()
        };
        let mut set = EngineProfile::with_overrides(EngineKind::Sglang, &o).unwrap();
        set.for_device(183_359.0, &par);
        assert_eq!(set.max_num_batched_tokens, 8192);
        assert_eq!(set.cuda_graph_sizes.last(), Some(&128));
        // 512 + 12288 + 256 + 512 = 13568 MiB.
        assert!((set.memory_fraction_for(183_359.0, &par) - 0.926).abs() < 1e-9);
        let o = EngineOverrides { memory_fraction: Some(0.93), ..Default::default() };
        let fixed = EngineProfile::with_overrides(EngineKind::Sglang, &o).unwrap();
        assert_eq!(fixed.memory_fraction_for(183_359.0, &par), 0.93);
        // Other engines keep their fixed fraction and budget.
        let mut v = EngineProfile::defaults(EngineKind::Vllm);
        v.for_device(183_359.0, &par);
        assert_eq!((v.max_num_batched_tokens, v.memory_fraction_for(183_359.0, &par)), (8192, 0.9));
    }

    #[test]
    fn sglang_runs_prompt_steps_eagerly_where_it_turns_piecewise_graphs_off() {
        let b200 = 183_359.0;
        let graphs = |par: tokenfab_perf::Parallel, o: &EngineOverrides| {
            let mut p = EngineProfile::with_overrides(EngineKind::Sglang, o).unwrap();
            p.for_device(b200, &par);
            p.prefill_cuda_graphs
        };
        let none = EngineOverrides::default();
        assert!(graphs(tokenfab_perf::Parallel::tp(8), &none), "plain TP captures them");
        let dp = tokenfab_perf::Parallel { tp: 1, attn_dp: 8, moe_ep: 8, ..Default::default() };
        assert!(!graphs(dp, &none), "DP attention turns them off");
        let pp = tokenfab_perf::Parallel { tp: 4, pp: 2, moe_tp: 4, ..Default::default() };
        assert!(!graphs(pp, &none), "pipeline parallelism turns them off");
        let spec =
            EngineOverrides { speculative_tokens: Some(3), speculative_acceptance: Some(0.7), ..Default::default() };
        assert!(!graphs(tokenfab_perf::Parallel::tp(8), &spec), "speculative decoding turns them off");
        // Set in the scenario: kept whatever the layout.
        let set = EngineOverrides { prefill_cuda_graphs: Some(true), ..Default::default() };
        assert!(graphs(dp, &set));
        // Other engines keep their fixed setting.
        let mut t = EngineProfile::defaults(EngineKind::Trtllm);
        t.for_device(b200, &tokenfab_perf::Parallel::tp(8));
        assert!(!t.prefill_cuda_graphs);
    }

    #[test]
    fn vllm_batch_limits_follow_gpu_memory() {
        let par = tokenfab_perf::Parallel::tp(1);
        // H100 (81,559 MiB, over 70 GiB): 8192 tokens, 1024 sequences.
        let mut big = EngineProfile::defaults(EngineKind::Vllm);
        big.for_device(81_559.0, &par);
        assert_eq!((big.max_num_batched_tokens, big.max_num_seqs), (8192, 1024));
        // A 48 GB card: 2048 tokens, 256 sequences.
        let mut small = EngineProfile::defaults(EngineKind::Vllm);
        small.for_device(46_068.0, &par);
        assert_eq!((small.max_num_batched_tokens, small.max_num_seqs), (2048, 256));
        // Set in the scenario: kept.
        let o = EngineOverrides { max_num_seqs: Some(64), ..Default::default() };
        let mut set = EngineProfile::with_overrides(EngineKind::Vllm, &o).unwrap();
        set.for_device(46_068.0, &par);
        assert_eq!((set.max_num_batched_tokens, set.max_num_seqs), (2048, 64));
    }

    #[test]
    fn graph_padding() {
        let p = EngineProfile::defaults(EngineKind::Vllm);
        for (b, want) in [(1, Some(1)), (3, Some(4)), (5, Some(8)), (9, Some(16)), (512, Some(512)), (513, None)] {
            assert_eq!(p.graph_batch(b), want, "batch {b}");
        }
        let s = EngineProfile::defaults(EngineKind::Sglang);
        assert_eq!(s.graph_batch(33), Some(40));
        assert_eq!(s.graph_batch(10), Some(12));
    }

    #[test]
    fn overrides_are_checked() {
        let o = EngineOverrides { memory_fraction: Some(1.5), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Vllm, &o).unwrap_err().0, "memory_fraction");
        let o = EngineOverrides { kernel_overhead_scale: Some(1.5), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Trtllm, &o).unwrap_err().0, "kernel_overhead_scale");
        let o = EngineOverrides { reserve_output_tokens: Some(0), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Trtllm, &o).unwrap_err().0, "reserve_output_tokens");
        let o = EngineOverrides { reserve_output_tokens: Some(4096), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Trtllm, &o).unwrap().reserve_output_tokens, Some(4096));
        let o = EngineOverrides { kernel_overhead_scale: Some(0.5), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Trtllm, &o).unwrap().kernel_overhead_scale, 0.5);
        let o = EngineOverrides { speculative_tokens: Some(3), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Sglang, &o).unwrap_err().0, "speculative_acceptance");
        let o =
            EngineOverrides { speculative_tokens: Some(3), speculative_acceptance: Some(0.5), ..Default::default() };
        let p = EngineProfile::with_overrides(EngineKind::Sglang, &o).unwrap();
        assert!((p.spec_tokens_per_step() - 1.875).abs() < 1e-12);
        assert_eq!(EngineProfile::defaults(EngineKind::Vllm).spec_tokens_per_step(), 1.0);
        let o = EngineOverrides { max_num_batched_tokens: Some(128), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Vllm, &o).unwrap().max_num_seqs, 128);
    }

    #[test]
    fn overlapped_host_time_hides_behind_the_device() {
        let ov = |v| EngineOverrides {
            host_overhead_ms: Some(1.0),
            host_overhead_per_seq_us: Some(10.0),
            overlap_scheduler: v,
            ..Default::default()
        };
        // Defaults: vLLM adds its host time; SGLang and TensorRT-LLM overlap it.
        let v = EngineProfile::with_overrides(EngineKind::Vllm, &ov(None)).unwrap();
        let s = EngineProfile::with_overrides(EngineKind::Sglang, &ov(None)).unwrap();
        let t = EngineProfile::with_overrides(EngineKind::Trtllm, &ov(Some(false))).unwrap();
        assert!(!v.overlap_host && s.overlap_host && !t.overlap_host);
        // 100 sequences: host 1 ms + 100 × 10 µs = 2 ms.
        assert_eq!(v.step_ns(5_000_000, 100), 7_000_000);
        assert_eq!(t.step_ns(5_000_000, 100), 7_000_000);
        assert_eq!(s.step_ns(5_000_000, 100), 5_000_000, "device-bound: the host work is hidden");
        assert_eq!(s.step_ns(500_000, 100), 2_000_000, "host-bound: the host sets the pace");
        let on = EngineProfile::with_overrides(EngineKind::Vllm, &ov(Some(true))).unwrap();
        assert_eq!(on.step_ns(0, 0), 1_000_000);
        let zero =
            EngineOverrides { host_overhead_ms: Some(0.0), host_overhead_per_seq_us: Some(0.0), ..Default::default() };
        assert_eq!(EngineProfile::with_overrides(EngineKind::Trtllm, &zero).unwrap().step_ns(0, 0), 1);
    }
}
