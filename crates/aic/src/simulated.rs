//! The same rows through the discrete-event simulator (`tokenfab-sim`): each row's deployment
//! becomes a scenario deployment, and identical requests run from `concurrency` closed-loop
//! clients that all start at time zero, as the benchmark client does. The protocol follows
//! AIConfigurator's benchmark scripts (`aiperf --concurrency c --warmup-request-count 2c
//! --num-requests 20c`, e.g. `tests/baseline/*/bench_run.sh` in github.com/ai-dynamo/aiconfigurator):
//! the first [`WARMUP_PER_CLIENT`] × c requests warm the engine up and are not measured, the next
//! [`REQUESTS_PER_CLIENT`] × c are; TTFT and TPOT are their means.
//!
//! Clients in random phase: a deterministic model of `c` clients sending identical requests
//! from time zero keeps them in lock-step waves forever (prompts admitted together finish
//! together and return together), while the measured benchmarks are not in step (e.g.
//! Llama-3.1-70B on vLLM, 8 × H100, 1024-token prompts, 4 clients: 70 ms TTFT, below the
//! ~126 ms that prefilling the four prompts in one step takes). So a pilot run of two requests
//! per client in lock-step measures one request cycle (mean end-to-end latency of the second
//! round), and the benchmark is then simulated with the clients' first sends spread uniformly
//! (seeded) over that cycle.

use crate::engine::Prediction;
use crate::row::{AicRow, Deployment, Mode};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use tokenfab_catalog::Catalog;
use tokenfab_perf::Parallel;
use tokenfab_sim::{Arrivals, DeploymentSpec, DisaggSpec, EngineKind, EngineOverrides, ParallelSpec, SimConfig, run};
use tokenfab_workload::Request;

fn spec(p: &Parallel) -> ParallelSpec {
    ParallelSpec { tp: p.tp, pp: p.pp, attn_dp: p.attn_dp, moe_tp: Some(p.moe_tp), moe_ep: Some(p.moe_ep) }
}

/// Host (CPU) time of an engine iteration: fixed plus per running sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostOverhead {
    /// Per step, milliseconds.
    pub per_step_ms: f64,
    /// Per running sequence per step, microseconds.
    pub per_seq_us: f64,
}

/// Measured requests per client in the simulated benchmark (aiperf `--num-requests 20c`).
pub const REQUESTS_PER_CLIENT: u32 = 20;

/// Warm-up requests per client, run first and left out of the means (aiperf
/// `--warmup-request-count 2c`).
pub const WARMUP_PER_CLIENT: u32 = 2;

/// The benchmark client a measured row ran under, read from its `silicon_data_source` (row
/// metadata, never its measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Harness {
    /// AIConfigurator's own runs (`aiperf`): identical requests, `2c` warm-up then `20c`
    /// measured, clients in random phase (see the module notes).
    Aiperf,
    /// InferenceX (SemiAnalysis) sweeps, the rows whose source is a dated sweep file
    /// (`source_file=YYYY-MM-DD.csv`: the 1k/1k, 1k/8k, 8k/1k × concurrency 4–256 grid,
    /// `nvcr.io#` enroot image names). Their client is vLLM's `benchmark_serving.py` as
    /// `benchmarks/benchmark_lib.sh` in github.com/SemiAnalysisAI/InferenceX runs it:
    /// `--num-prompts 10c --max-concurrency c --request-rate inf --random-range-ratio 0.8`
    /// (the workflow default), i.e. prompt and output lengths uniform on `[⌊0.8 L⌋, L]`, a
    /// warm-up that ends before the measured run starts, so all `c` clients send their first
    /// request together, and every one of the `10c` requests measured. Single-node systems only:
    /// InferenceX runs GB200/GB300 (multi-node) through Dynamo's performance-sweep scripts
    /// (`benchmarks/dsr1_fp4_gb200_dynamo-trt_slurm.sh`), whose client is not read here, so those
    /// rows keep [`Harness::Aiperf`].
    InferenceX,
}

/// InferenceX's `RANDOM_RANGE_RATIO` (`.github/workflows/benchmark-tmpl.yml`).
pub const INFERENCEX_RANGE_RATIO: f64 = 0.8;

/// InferenceX's prompts per client (`--num-prompts $((CONC * 10))`).
pub const INFERENCEX_REQUESTS_PER_CLIENT: u32 = 10;

/// TensorRT-LLM's `attention_dp_config.timeout_iters` in InferenceX's DeepSeek-R1 B200 recipes
/// (`benchmarks/dsr1_fp4_b200_trt.sh`, `dsr1_fp8_b200_trt.sh`: `enable_balance: true`,
/// `timeout_iters: 60`, `batching_wait_iters: 0` whenever attention DP is on).
pub const INFERENCEX_TRTLLM_ADP_BALANCE_ITERS: u32 = 60;

/// SGLang's `--scheduler-recv-interval` in InferenceX's DeepSeek-R1 B200 recipes, for a row
/// without attention DP: `benchmarks/dsr1_fp4_b200.sh` sets 30 from 16 clients and 10 below;
/// `dsr1_fp8_b200.sh` the same at TP 8 and 10 at TP 4 (None: the row is not one of those).
pub fn inferencex_sglang_recv_interval(row: &AicRow, dep: &Deployment) -> Option<u32> {
    let recipe = Harness::of(row) == Harness::InferenceX
        && row.backend == "sglang"
        && row.system == "b200_sxm"
        && row.model_path == "deepseek-ai/DeepSeek-R1"
        && dep.mode == Mode::Agg
        && dep.prefill.parallel.attn_dp <= 1;
    let fp8_tp4 = dep.weight_dtype == tokenfab_catalog::Dtype::Fp8 && dep.prefill.parallel.tp == 4;
    recipe.then_some(if row.concurrency >= 16 && !fp8_tp4 { 30 } else { 10 })
}

/// TensorRT-LLM batch waiting (`batch_wait_timeout_iters`, `batch_wait_max_tokens_ratio`) in
/// InferenceX's recipes, for a row without attention DP: Llama-3.1-70B on H200
/// (`benchmarks/70b_fp8_h200_trt_slurm.sh`: 20 iterations, 0.9, for 1024/1024 below TP 8) and
/// DeepSeek-R1 fp8 on B200 (`dsr1_fp8_b200_trt.sh`: 40 iterations, 0.8, for 1024/1024 at 64 to
/// 255 clients). None: the row is not one of those.
pub fn inferencex_trtllm_batch_wait(row: &AicRow, dep: &Deployment) -> Option<(u32, f64)> {
    if Harness::of(row) != Harness::InferenceX
        || row.backend != "trtllm"
        || dep.mode != Mode::Agg
        || dep.prefill.parallel.attn_dp > 1
        || (row.isl, row.osl) != (1024, 1024)
    {
        return None;
    }
    match (row.model_path.as_str(), row.system.as_str()) {
        ("meta-llama/Llama-3.1-70B", "h200_sxm") if dep.prefill.parallel.tp < 8 => Some((20, 0.9)),
        ("deepseek-ai/DeepSeek-R1", "b200_sxm")
            if dep.weight_dtype == tokenfab_catalog::Dtype::Fp8 && (64..256).contains(&row.concurrency) =>
        {
            Some((40, 0.8))
        }
        _ => None,
    }
}

impl Harness {
    /// The harness of a row, from its `silicon_data_source` column.
    pub fn of(row: &AicRow) -> Harness {
        let src = row.fields.get("silicon_data_source").map(String::as_str).unwrap_or("");
        let file = src.strip_prefix("source_file=").and_then(|r| r.split(';').next()).unwrap_or("");
        let dated = file.len() == "YYYY-MM-DD.csv".len()
            && file.ends_with(".csv")
            && file.as_bytes()[..10]
                .iter()
                .enumerate()
                .all(|(i, &b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        let rack_scale = row.system.starts_with("gb");
        if dated && !rack_scale { Harness::InferenceX } else { Harness::Aiperf }
    }
}

/// Engine knobs a study may set instead of the engine defaults.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SimKnobs {
    /// Host time per step.
    pub host: Option<HostOverhead>,
    /// Share of the per-kernel fixed time paid (0–1).
    pub kernel_overhead_scale: Option<f64>,
    /// Speculative decoding: draft tokens per step and chained acceptance.
    pub speculative: Option<(u32, f64)>,
    /// Multiplier on every step's device time (engine `device_time_scale`).
    pub device_time_scale: Option<f64>,
    /// Batch slots the aggregated engine offers fewer than the benchmark has clients (0: the
    /// cap is the concurrency). With one short, a new request waits for the next completion —
    /// the signature of one measured deployment; only per-deployment calibration chooses it.
    pub slots_short: u32,
    /// The benchmark client to simulate every row under, instead of the one its source names
    /// ([`Harness::of`]); `Some(Harness::Aiperf)` also leaves the InferenceX recipes' engine
    /// settings off.
    pub harness: Option<Harness>,
}

/// Predicts mean TTFT and TPOT of a row's deployment by simulation.
pub fn predict_simulated(
    catalog: &Catalog,
    dep: &Deployment,
    row: &AicRow,
    knobs: SimKnobs,
) -> Result<Prediction, String> {
    let SimKnobs { host, kernel_overhead_scale, speculative, device_time_scale, slots_short, harness } = knobs;
    let harness = harness.unwrap_or_else(|| Harness::of(row));
    // The engine settings InferenceX's recipes write, for its rows simulated under its client.
    let recipes = harness == Harness::InferenceX && Harness::of(row) == Harness::InferenceX;
    let (backend, isl, osl, concurrency, engine_batch) =
        (row.backend.as_str(), row.isl, row.osl, row.concurrency, row.engine_batch);
    let engine = match backend {
        "trtllm" => EngineKind::Trtllm,
        "sglang" => EngineKind::Sglang,
        "vllm" => EngineKind::Vllm,
        other => return Err(format!("unknown backend `{other}`")),
    };
    // The engine's batch cap is the benchmark concurrency. Where a row's `batch_size` differs
    // from its concurrency (62 rows) it is not an admission cap: the measured TTFTs show no
    // queueing behind it. It is kept on the row (`engine_batch`) but not used.
    let _ = engine_batch;
    let overrides = EngineOverrides {
        max_num_seqs: Some(match dep.mode {
            Mode::Agg => concurrency.saturating_sub(slots_short).max(1),
            Mode::Disagg => dep.decode.max_batch.unwrap_or(concurrency).max(1),
        }),
        prefix_caching: Some(false),
        // TensorRT-LLM runs without chunked prefill by default, so a prompt is scheduled whole:
        // a deployment serving `isl`-token prompts next to `concurrency` running decodes must be
        // configured with a token budget that holds both (else the prompt could never start).
        max_num_batched_tokens: (engine == EngineKind::Trtllm).then(|| (isl + concurrency).max(8192)),
        host_overhead_ms: host.map(|h| h.per_step_ms),
        host_overhead_per_seq_us: host.map(|h| h.per_seq_us),
        kernel_overhead_scale,
        speculative_tokens: speculative.map(|s| s.0),
        speculative_acceptance: speculative.map(|s| s.1),
        device_time_scale,
        // InferenceX's TensorRT-LLM recipes with attention DP hold new prompts for balance.
        attention_dp_balance_iters: (recipes
            && engine == EngineKind::Trtllm
            && dep.mode == Mode::Agg
            && dep.prefill.parallel.attn_dp > 1)
            .then_some(INFERENCEX_TRTLLM_ADP_BALANCE_ITERS),
        scheduler_recv_interval: inferencex_sglang_recv_interval(row, dep).filter(|_| recipes),
        batch_wait_timeout_iters: inferencex_trtllm_batch_wait(row, dep).filter(|_| recipes).map(|w| w.0),
        batch_wait_max_tokens_ratio: inferencex_trtllm_batch_wait(row, dep).filter(|_| recipes).map(|w| w.1),
        // SGLang's memory fraction: see `sglang_memory_fraction` below.
        memory_fraction: (engine == EngineKind::Sglang).then_some(SGLANG_FRACTIONS[0]),
        ..Default::default()
    };
    let mut s = DeploymentSpec {
        system: dep.system.id.clone(),
        model: dep.model.id.clone(),
        weight_dtype: dep.weight_dtype,
        moe_dtype: Some(dep.moe_dtype),
        moe_act_dtype: None,
        kv_dtype: dep.kv_dtype,
        engine,
        engine_options: overrides,
        replicas: 1,
        parallel: spec(&dep.prefill.parallel),
        disagg: match dep.mode {
            Mode::Agg => None,
            Mode::Disagg => {
                if !dep.prefill.workers_known || !dep.decode.workers_known {
                    return Err("disaggregated row without prefill/decode worker counts: pool sizes unknown".into());
                }
                Some(DisaggSpec {
                    prefill_replicas: dep.prefill.workers,
                    decode_replicas: dep.decode.workers,
                    prefill_parallel: spec(&dep.prefill.parallel),
                    decode_parallel: spec(&dep.decode.parallel),
                })
            }
        },
        // Some measured deployments run tensor parallelism across 8-GPU boxes (tp 16/64).
        allow_multi_domain_tp: true,
    };
    let d = if engine == EngineKind::Sglang {
        sglang_memory_fraction(catalog, &mut s, concurrency as u64 * (isl as u64 + osl as u64))?
    } else {
        tokenfab_sim::Deployment::resolve(catalog, &s).map_err(|e| e.to_string())?
    };
    let c = concurrency as u64;
    let (skip, n) = match harness {
        Harness::Aiperf => (c * WARMUP_PER_CLIENT as u64, c * (WARMUP_PER_CLIENT + REQUESTS_PER_CLIENT) as u64),
        Harness::InferenceX => (0, c * INFERENCEX_REQUESTS_PER_CLIENT as u64),
    };
    // Lengths: fixed, or InferenceX's uniform draw on [⌊0.8 L⌋, L] (seeded, fixed stream).
    let mut rng = ChaCha8Rng::seed_from_u64(0x1F_E7CE);
    let mut draw = |l: u32| match harness {
        Harness::Aiperf => l,
        Harness::InferenceX => rng.random_range(((l as f64 * INFERENCEX_RANGE_RATIO) as u32).max(1)..=l.max(1)),
    };
    let reqs: Vec<Request> = (0..n)
        .map(|id| Request {
            id,
            arrival_ns: 0,
            input_tokens: draw(isl),
            output_tokens: draw(osl),
            class: 0,
            session: None,
            turn: 0,
            prefix: None,
        })
        .collect();
    let mut cfg = SimConfig {
        arrivals: Arrivals::Closed { concurrency },
        max_engine_iterations: 50_000_000,
        ..SimConfig::default()
    };
    if harness == Harness::Aiperf {
        let pilot = run(&cfg, &d, reqs.iter().take(2 * c as usize).cloned(), 1).map_err(|e| e.to_string())?;
        let cycle: Vec<u64> = pilot.records.iter().filter(|r| r.id >= c).filter_map(|r| r.e2e_ns()).collect();
        if cycle.len() < c as usize {
            return Err(format!("pilot run: only {} of {c} second-round requests completed", cycle.len()));
        }
        cfg.client_start_spread_ns = cycle.iter().sum::<u64>() / cycle.len() as u64;
    }
    let res = run(&cfg, &d, reqs.into_iter(), 1).map_err(|e| e.to_string())?;
    let sum = res.summary(&cfg.slos, d.it_power_factor, cfg.pue);
    if sum.counters.requests_completed < n {
        return Err(format!("only {} of {n} requests completed", sum.counters.requests_completed));
    }
    // Warm-up requests are the first `skip` ids (clients send in id order).
    let measured: Vec<_> = res.records.iter().filter(|r| r.id >= skip).collect();
    let mean = |v: Vec<f64>| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let ttft_ms = mean(measured.iter().filter_map(|r| r.ttft_ns()).map(|x| x as f64 * 1e-6).collect());
    let tpot_ms = mean(measured.iter().filter_map(|r| r.tpot_ns()).map(|x| x * 1e-6).collect());
    Ok(Prediction {
        ttft_ms,
        tpot_ms,
        decode_step_ms: sum.latency.tpot_ms.p50,
        output_tokens_per_s: sum.throughput.output_tokens_per_s,
        memory_fraction: d.pools.first().map(|p| p.memory_fraction),
    })
}

/// Memory fractions tried for an SGLang row, in order: 0.88 first, then larger ones.
pub const SGLANG_FRACTIONS: [f64; 5] = [0.88, 0.90, 0.92, 0.94, 0.95];

/// Resolves an SGLang row's deployment at the memory fraction its benchmark most likely ran.
///
/// SGLang picks `mem_fraction_static` at start-up from GPU memory, TP and DP (modelled in the
/// simulator), but these benchmarks launched with flags the rows do not record, and at
/// attention DP 32, or for DeepSeek-R1 fp8 on 4 × B200, that start-up default leaves no KV room
/// at all, so the runs set it. A row gets 0.88, SGLang's fallback fraction and the one
/// aiconfigurator (whose database these rows come from) assumes for SGLang
/// (ai-dynamo/aiconfigurator PR #1511, `--free-gpu-memory-fraction` help), unless 0.88 cannot
/// hold the benchmark's `concurrency` requests at full length (`need_tokens`) in the KV pool
/// (the decode pool's, for disaggregated rows) or does not fit the model at all: an operator
/// sweeping concurrency raises the fraction until it does, so the row gets the smallest of
/// [`SGLANG_FRACTIONS`] that holds them. Where none does, it stays at 0.88 (the first one the
/// model fits at, if 0.88 does not): nothing says the operator raised it then.
/// This uses the row's configuration only (concurrency and lengths), never its measurements.
fn sglang_memory_fraction(
    catalog: &Catalog,
    s: &mut DeploymentSpec,
    need_tokens: u64,
) -> Result<tokenfab_sim::Deployment, String> {
    let mut fallback: Option<tokenfab_sim::Deployment> = None;
    let mut first_err: Option<String> = None;
    for f in SGLANG_FRACTIONS {
        s.engine_options.memory_fraction = Some(f);
        match tokenfab_sim::Deployment::resolve(catalog, s) {
            Ok(d) => {
                // A prefill pool holds a request only while it prefills; the decode (or
                // unified) pool holds all of them.
                let holds = d.pools.iter().filter(|p| p.role != tokenfab_sim::Role::Prefill).all(|p| {
                    p.kv_blocks * d.engine.block_size as u64 * p.engines_per_replica as u64 * p.replicas as u64
                        >= need_tokens
                });
                if holds {
                    return Ok(d);
                }
                fallback.get_or_insert(d);
            }
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    match fallback {
        Some(d) => {
            // Back to the fallback's fraction so the spec says what was resolved.
            s.engine_options.memory_fraction = Some(d.pools[0].memory_fraction);
            Ok(d)
        }
        None => Err(first_err.unwrap_or_default()),
    }
}
