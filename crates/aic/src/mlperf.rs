//! MLPerf Inference v5.1 datacenter LLM results (`reference/mlperf_v51_llm_results.csv`,
//! mlcommons/inference_results_v5.1, Apache-2.0): a third end-to-end check, and the only one with
//! AMD accelerators (MI300X, MI325X, MI355X) beside NVIDIA's.
//!
//! The benchmarks re-created are **llama2-70b** and **llama3.1-405b**, in all three scenarios.
//! **Offline** gives the system every sample at once and reports output tokens per second, the
//! regime a capacity planner sizes fleets with. **Server** and **Interactive** send Poisson
//! arrivals and report the output tokens per second of the highest rate whose 99th-percentile
//! TTFT and TPOT stay within the scenario's bounds ([`LatencyBound`]): the simulator's latency
//! model under load, checked on NVIDIA and AMD. The other benchmarks (mixtral-8x7b, llama3.1-8b,
//! deepseek-r1) need length statistics this module does not have yet; they are listed with that
//! reason, not dropped.
//!
//! A result records the accelerator, its count, the weight format and the software, but not the
//! layout or the engine settings, so each row is simulated as submitters tune it:
//!
//! - **layout**: data-parallel replicas of tensor parallelism 1, 2, 4 or 8 (within one scale-up
//!   domain, dividing the accelerator count); the simulated best is the prediction, as a
//!   submitter keeps the layout that measured best;
//! - **engine**: TensorRT-LLM where the software says TensorRT, else vLLM (AMD's and MangoBoost's
//!   submissions run vLLM builds; AMD's MI355X multi-node runs its own PyTorch + aiter stack,
//!   simulated as vLLM); batch and token budget sized to the KV cache with `trtllm-bench`'s rule
//!   ([`crate::trtllm_bench_settings`]) at a 0.95 memory fraction; admission on current need
//!   with preemption by recompute for both (TensorRT-LLM's `MAX_UTILIZATION` capacity scheduler,
//!   not `GUARANTEED_NO_EVICT`, which would reserve every request's 1,024-token maximum: an
//!   estimate of what the harnesses run);
//! - **formats**: weights as recorded (fp8; fp4 and AMD's mxfp4 as fp4), fp8 KV cache (estimate);
//! - **load**: [`offline_requests`] samples per replica, all queued at time zero, lengths drawn
//!   (seeded) from the benchmark's [`BenchmarkData`] ([`LLAMA2_70B`], [`LLAMA31_405B`]).
//!
//! The result is output tokens per second per accelerator: all output tokens over the time from
//! the first sample to the last completion, per accelerator of one replica (replicas are
//! identical and share nothing in Offline).

use crate::AicError;
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_sim::load::{ArrivalSpec, LengthSpec, SyntheticLoad};
use tokenfab_sim::{Arrivals, DeploymentSpec, EngineKind, EngineOverrides, ParallelSpec, SimConfig, run};

/// One published MLPerf result.
#[derive(Debug, Clone, PartialEq)]
pub struct MlperfRow {
    /// 1-based line in the file.
    pub line: usize,
    /// Submission id (`5.1-0024`).
    pub id: String,
    /// `closed` or `open`.
    pub division: String,
    /// Submitting organisation.
    pub submitter: String,
    /// Accelerator as published (`NVIDIA B200-SXM-180GB`).
    pub accelerator: String,
    /// Accelerators in the system.
    pub num_accel: u32,
    /// Benchmark (`llama2-70b-99`).
    pub model: String,
    /// `Offline`, `Server` or `Interactive`.
    pub scenario: String,
    /// Measured output tokens per second per accelerator.
    pub tok_s_per_accel: f64,
    /// Weight format (`fp8`, `fp4`, `mxfp4`).
    pub weights: String,
    /// Software stack as published.
    pub software: String,
}

/// Parses an `mlperf_v51_llm_results.csv`-style table.
pub fn parse_mlperf(file: &str, text: &str) -> Result<Vec<MlperfRow>, AicError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let err = |line: usize, message: String| AicError::Csv { file: file.to_string(), line, message };
    let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let need = [
        "id",
        "division",
        "submitter",
        "accelerator",
        "num_accel",
        "model",
        "scenario",
        "tokens_per_s",
        "weights",
        "software",
    ];
    for n in need {
        if !headers.iter().any(|h| h == n) {
            return Err(err(1, format!("missing column `{n}`")));
        }
    }
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(line, e.to_string()))?;
        let get =
            |k: &str| headers.iter().position(|h| h == k).and_then(|p| rec.get(p)).unwrap_or("").trim().to_string();
        let num_accel: u32 = get("num_accel")
            .parse()
            .map_err(|_| err(line, format!("num_accel `{}`: expected a whole number", get("num_accel"))))?;
        if num_accel == 0 {
            return Err(err(line, "num_accel: must be at least 1".into()));
        }
        let total: f64 = get("tokens_per_s")
            .replace(',', "")
            .parse()
            .map_err(|_| err(line, format!("tokens_per_s `{}`: expected a number", get("tokens_per_s"))))?;
        if !(total > 0.0 && total.is_finite()) {
            return Err(err(line, format!("tokens_per_s `{total}`: must be a positive number")));
        }
        rows.push(MlperfRow {
            line,
            id: get("id"),
            division: get("division"),
            submitter: get("submitter"),
            accelerator: get("accelerator"),
            num_accel,
            model: get("model"),
            scenario: get("scenario"),
            tok_s_per_accel: total / num_accel as f64,
            weights: get("weights"),
            software: get("software"),
        });
    }
    Ok(rows)
}

/// A benchmark's dataset, as the simulator draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkData {
    /// MLPerf's benchmark name.
    pub name: &'static str,
    /// Catalog model.
    pub model: &'static str,
    /// Prompt lengths.
    pub input: LengthSpec,
    /// Output lengths.
    pub output: LengthSpec,
    /// Where the lengths come from, with their confidence.
    pub source: &'static str,
    /// Whether open-division results run the reference model (the open division may change it:
    /// AMD's llama3.1-405b open results run depth-pruned models).
    pub open_division: bool,
    /// 99th-percentile TTFT and TPOT bounds of the Server scenario, ms.
    pub server: LatencyBound,
    /// 99th-percentile TTFT and TPOT bounds of the Interactive scenario, ms (`None`: the
    /// benchmark has no Interactive scenario).
    pub interactive: Option<LatencyBound>,
}

/// A scenario's latency bounds: the 99th percentiles of TTFT and TPOT must stay within them
/// (MLPerf's `mlperf.conf`, as submitted; `shared/reference/hardware.md` section C3; reported).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyBound {
    /// p99 time to first token, ms.
    pub ttft_ms: f64,
    /// p99 time per output token, ms.
    pub tpot_ms: f64,
}

/// llama2-70b (MLPerf's OpenOrca subset, 24,576 samples; prompts and outputs ≤ 1,024 tokens).
///
/// Output: mean 294.45 tokens, the reference implementation's "Tokens per sample"
/// (mlcommons/inference `language/llama2-70b/README.md`; official). Input: mean 218 tokens
/// (estimate) from 400 prompts, 100 from each quarter of a per-sample length table of the
/// dataset (github.com/openshift-psap/performance-dashboard `mlperf-data/summaries/llama2-70b-99.csv`,
/// extracted from MLCommons' pickle): the file runs through the four sub-datasets in turn, with
/// means 118, 198, 257 and 301 (stratified standard error ≈ 7). Both drawn lognormal with
/// coefficients of variation 0.74 (input, the same sample) and 0.69 (output, 100 outputs of the
/// first quarter), clamped at 1,024: σ = 0.66 and 0.62; medians from the means.
pub const LLAMA2_70B: BenchmarkData = BenchmarkData {
    name: "llama2-70b-99",
    model: "llama-2-70b",
    // mean m, cv c: σ² = ln(1 + c²), median = m / exp(σ²/2).
    input: LengthSpec::Lognormal { median: 175.0, sigma: 0.66, max: 1024 },
    output: LengthSpec::Lognormal { median: 242.0, sigma: 0.62, max: 1024 },
    source: "output mean 294.45 (MLCommons reference, official); input mean 218 (400-prompt stratified sample of the \
             per-sample table, estimate); lognormal shapes (estimate)",
    open_division: true,
    server: LatencyBound { ttft_ms: 2000.0, tpot_ms: 200.0 },
    interactive: Some(LatencyBound { ttft_ms: 450.0, tpot_ms: 40.0 }),
};

/// llama3.1-405b (MLPerf's long-context mix, 8,313 samples; prompts ≤ 20,000 tokens, outputs ≤
/// 2,000).
///
/// Output: mean 652 tokens, MLPerf's reported TOKENS_PER_SAMPLE (`shared/reference/hardware.md`,
/// section C3; reported), drawn with a coefficient of variation of 0.3 (estimate). Input: mean
/// 9,800 tokens (estimate) from 388 prompts in four places of the per-sample length table
/// (github.com/openshift-psap/performance-dashboard `mlperf-data/summaries/llama3-1-405b.csv`):
/// the table runs through sub-datasets of different lengths (sample means 11,401, 5,705,
/// 10,392 and 11,690), so the mean of the four is an estimate to ±10 % or so; coefficient of
/// variation 0.44 (the pooled sample).
pub const LLAMA31_405B: BenchmarkData = BenchmarkData {
    name: "llama3.1-405b",
    model: "llama-3.1-405b",
    input: LengthSpec::Lognormal { median: 8970.0, sigma: 0.42, max: 20000 },
    output: LengthSpec::Lognormal { median: 625.0, sigma: 0.29, max: 2000 },
    source: "output mean 652 (MLPerf's TOKENS_PER_SAMPLE, reported); input mean 9,800 (388 prompts from four parts of \
             the per-sample table, estimate); lognormal shapes (estimate)",
    open_division: false,
    server: LatencyBound { ttft_ms: 6000.0, tpot_ms: 175.0 },
    interactive: Some(LatencyBound { ttft_ms: 4500.0, tpot_ms: 80.0 }),
};

/// llama3.1-8b (MLPerf's CNN/DailyMail summarisation, 13,368 samples; prompts ≤ 2,540 tokens).
///
/// Input: mean 870.7 tokens, coefficient of variation 0.49, max 2,540: every one of the 13,368
/// prompts of the per-sample table (github.com/openshift-psap/performance-dashboard
/// `mlperf-data/summaries/llama3-1-8b-datacenter.csv`, the prompts' token counts with the chat
/// template, from MLCommons' dataset; estimate, since the table is a third party's extract).
/// Output: MLCommons gives no token count, only the characters the reference generates,
/// `GEN_LEN` 8,167,644 over the 13,368 samples (mlcommons/inference
/// `language/llama3.1-8b/README.md`; official), 611 characters a sample; at 4.4 characters per
/// Llama 3 token (estimate: Llama 2's ≈ 4 characters per English token, with Llama 3's
/// tokenizer using up to 15 % fewer tokens) that is 139 tokens. Drawn with the coefficient of
/// variation of the reference summaries' lengths in the same table, 0.45 (estimate). The
/// output figure is uncertain to ±10 % or so; the relative-to-H200 comparison cancels it.
pub const LLAMA31_8B: BenchmarkData = BenchmarkData {
    name: "llama3.1-8b",
    model: "llama-3.1-8b",
    input: LengthSpec::Lognormal { median: 780.7, sigma: 0.467, max: 2540 },
    output: LengthSpec::Lognormal { median: 126.9, sigma: 0.428, max: 2000 },
    source: "input mean 871 (all 13,368 prompts of the per-sample table, estimate); output mean 139 (MLCommons' \
             GEN_LEN of 611 characters a sample, official, at 4.4 characters a token, estimate); lognormal shapes \
             (estimate)",
    open_division: true,
    server: LatencyBound { ttft_ms: 2000.0, tpot_ms: 100.0 },
    interactive: Some(LatencyBound { ttft_ms: 500.0, tpot_ms: 30.0 }),
};

/// mixtral-8x7b (MLPerf's mix of OpenOrca, GSM8K and MBXP, 15,000 samples; outputs ≤ 1,024).
///
/// Output: mean 144.84 tokens, the reference's `tokens_per_sample` (mlcommons/inference
/// `language/mixtral-8x7b/README.md`; official). Input: mean 427.4 tokens, coefficient of
/// variation 0.77, max 1,948, over all 15,000 rows of the per-sample table
/// (github.com/openshift-psap/performance-dashboard `mlperf-data/summaries/mixtral-8x7b.csv`,
/// token counts from MLCommons' dataset; estimate, a third party's extract). Its output column
/// averages exactly 144.84 with a coefficient of variation of 0.78, which both shapes use.
pub const MIXTRAL_8X7B: BenchmarkData = BenchmarkData {
    name: "mixtral-8x7b",
    model: "mixtral-8x7b",
    input: LengthSpec::Lognormal { median: 338.8, sigma: 0.682, max: 1948 },
    output: LengthSpec::Lognormal { median: 114.3, sigma: 0.688, max: 1024 },
    source: "output mean 144.84 (MLCommons reference, official); input mean 427 (all 15,000 rows of the per-sample \
             table, estimate); lognormal shapes with the table's coefficients of variation (estimate)",
    open_division: true,
    server: LatencyBound { ttft_ms: 2000.0, tpot_ms: 200.0 },
    interactive: None,
};

/// deepseek-r1 (MLPerf's reasoning mix of MMLU-Pro, AIME, MATH-500, GPQA and LiveCodeBench, 4,388
/// samples; prompts ≤ 3,140 tokens, outputs ≤ 20,000).
///
/// Output: mean 3,711 tokens, MLPerf's reported TOKENS_PER_SAMPLE (`shared/reference/hardware.md`,
/// section C3; reported; the reference implementation's own outputs average 4,043,
/// mlcommons/inference `language/deepseek-r1/README.md`), drawn with a coefficient of variation
/// of 1 (estimate: reasoning traces run from a few hundred tokens on MMLU-Pro questions to the
/// 20,000 cap on AIME problems), clamped at 20,000. Input: mean 300 tokens (estimate, no
/// per-sample table was found: the mix is 55 % multiple-choice MMLU-Pro questions of a few hundred
/// tokens, 32 % short AIME/MATH problems, 8 % LiveCodeBench statements of up to ~3,000), coefficient
/// of variation 0.8 (estimate), clamped at MLPerf's 3,140 (reported). Offline throughput is
/// decode-bound here (outputs twelve times the prompts), so the prompt estimate moves it little.
pub const DEEPSEEK_R1: BenchmarkData = BenchmarkData {
    name: "deepseek-r1",
    model: "deepseek-r1",
    // mean m, cv c: σ² = ln(1 + c²), median = m / exp(σ²/2).
    input: LengthSpec::Lognormal { median: 234.3, sigma: 0.703, max: 3140 },
    output: LengthSpec::Lognormal { median: 2624.0, sigma: 0.833, max: 20000 },
    source: "output mean 3,711 (MLPerf's TOKENS_PER_SAMPLE, reported); input mean 300 (the datasets' mix, \
             estimate); lognormal shapes (estimate)",
    open_division: false,
    server: LatencyBound { ttft_ms: 2000.0, tpot_ms: 80.0 },
    interactive: None,
};

/// The benchmarks this module re-creates.
pub const BENCHMARKS: [&BenchmarkData; 5] = [&LLAMA2_70B, &LLAMA31_405B, &LLAMA31_8B, &MIXTRAL_8X7B, &DEEPSEEK_R1];

/// The benchmark of that MLPerf name, if this module re-creates it.
pub fn benchmark(name: &str) -> Option<&'static BenchmarkData> {
    BENCHMARKS.into_iter().find(|b| b.name == name)
}

/// Why a row is not simulated, or how it is.
#[derive(Debug, Clone, PartialEq)]
pub struct MlperfTarget {
    /// Catalog chip id.
    pub chip: String,
    /// Catalog system the replicas run on.
    pub system: String,
    /// Weight format simulated.
    pub dtype: Dtype,
    /// Engine simulated.
    pub engine: EngineKind,
    /// The benchmark's dataset.
    pub data: &'static BenchmarkData,
    /// The scenario's latency bounds (`None`: Offline).
    pub bound: Option<LatencyBound>,
}

/// Maps a row onto the catalog, or says why it cannot be simulated.
pub fn mlperf_target(catalog: &Catalog, row: &MlperfRow) -> Result<MlperfTarget, String> {
    let data = benchmark(&row.model)
        .ok_or_else(|| format!("benchmark `{}`: no dataset length statistics in tokenfab yet", row.model))?;
    let bound = match row.scenario.as_str() {
        "Offline" => None,
        "Server" => Some(data.server),
        "Interactive" => Some(
            data.interactive.ok_or_else(|| format!("scenario Interactive: `{}` has no such scenario", data.name))?,
        ),
        other => return Err(format!("scenario `{other}`: expected Offline, Server or Interactive")),
    };
    if row.division == "open" && !data.open_division {
        return Err(format!(
            "open division of `{}`: the model may be modified (AMD's results run pruned models)",
            row.model
        ));
    }
    let acc = row.accelerator.to_ascii_lowercase();
    if acc.contains("(x") {
        return Err("a mix of accelerator models in one system".into());
    }
    // Rack-scale parts first: "GB200" also contains "B200".
    let chip = [
        ("gb200", "gb200"),
        ("gb300", "gb300"),
        ("h100-sxm", "h100-sxm"),
        ("h200-sxm", "h200-sxm"),
        ("b200", "b200"),
        ("mi300x", "mi300x"),
        ("mi325x", "mi325x"),
        ("mi355x", "mi355x"),
    ]
    .into_iter()
    .find(|(k, _)| acc.contains(k))
    .map(|(_, c)| c)
    .ok_or_else(|| format!("accelerator `{}`: not in the catalog", row.accelerator))?;
    let system = catalog
        .default_system_for_chip(chip)
        .ok_or_else(|| format!("no system for chip `{chip}` in the catalog"))?
        .id
        .clone();
    let dtype = match row.weights.to_ascii_lowercase().as_str() {
        "fp8" => Dtype::Fp8,
        "fp4" | "mxfp4" | "nvfp4" => Dtype::Fp4,
        other => return Err(format!("weights `{other}`: not a format the catalog models")),
    };
    let engine =
        if row.software.to_ascii_lowercase().contains("tensorrt") { EngineKind::Trtllm } else { EngineKind::Vllm };
    Ok(MlperfTarget { chip: chip.to_string(), system, dtype, engine, data, bound })
}

/// A replica's layout: tensor parallelism over `gpus`, or (MoE models) attention data
/// parallelism with expert parallelism over them (`dep`: TensorRT-LLM's "DEP" mapping,
/// `enable_attention_dp` with `moe_expert_parallel_size` = GPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// GPUs per replica.
    pub gpus: u32,
    /// Attention DP + expert parallelism instead of tensor parallelism.
    pub dep: bool,
}

impl Layout {
    fn parallel(self) -> ParallelSpec {
        if self.dep {
            ParallelSpec { tp: 1, pp: 1, attn_dp: self.gpus, moe_tp: Some(1), moe_ep: Some(self.gpus) }
        } else {
            ParallelSpec { tp: self.gpus, ..ParallelSpec::default() }
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", if self.dep { "dep" } else { "tp" }, self.gpus)
    }
}

/// A simulated Offline run at its best layout.
#[derive(Debug, Clone, PartialEq)]
pub struct MlperfPrediction {
    /// Output tokens per second per accelerator.
    pub tok_s_per_accel: f64,
    /// The best layout.
    pub layout: Layout,
    /// Every layout tried: (layout, tokens/s per accelerator, or why it failed).
    pub tried: Vec<(Layout, Result<f64, String>)>,
    /// Engine iterations simulated over all layouts.
    pub iterations: u64,
}

/// Samples simulated per replica: enough whole batches that the drain at the end (MLPerf runs
/// Offline for at least 10 minutes, so its tail is negligible) stays a small share of the time.
pub fn offline_requests(max_batch: u32) -> u64 {
    (8 * max_batch as u64).max(2048)
}

/// Samples an Offline run of `layout` simulates when its engine's batch cap is `max_bs`: the cap
/// is per attention-DP rank, so a DEP replica's batch is `gpus` times it (sizing the run from one
/// rank's cap simulated a single batch draining, whose tail put deepseek-r1 within 9 % by luck).
pub fn offline_samples(layout: Layout, max_bs: u32) -> u64 {
    let ranks = if layout.dep { layout.gpus } else { 1 };
    offline_requests(max_bs * ranks)
}

/// Simulates one row's Offline run at every layout that fits and keeps the best.
pub fn predict_mlperf(catalog: &Catalog, row: &MlperfRow, seed: u64) -> Result<MlperfPrediction, String> {
    let t = mlperf_target(catalog, row)?;
    let chip = catalog.chip(&t.chip).map_err(|e| e.to_string())?;
    let model = catalog.model(t.data.model).map_err(|e| e.to_string())?;
    let domain = chip.scaleup_domain_chips.value.max(1);
    let mut tried = Vec::new();
    let mut iterations = 0;
    // Tensor parallelism 1–8; MoE models also attention DP with expert parallelism over 4 or 8
    // GPUs (the DEP mappings of NVIDIA's MoE recipes).
    let tps = [1u32, 2, 4, 8].map(|gpus| Layout { gpus, dep: false });
    let deps = [4u32, 8].map(|gpus| Layout { gpus, dep: true });
    let layouts = tps.into_iter().chain(deps.into_iter().filter(|_| model.moe.is_some()));
    for layout in layouts {
        if layout.gpus > domain || !row.num_accel.is_multiple_of(layout.gpus) {
            continue;
        }
        let r = match t.bound {
            None => simulate_layout(catalog, &t, model, chip, layout, seed).map(|(x, it, _)| (x, it)),
            Some(b) => search_rate(catalog, &t, model, chip, layout, b, seed),
        };
        if let Ok((_, it)) = &r {
            iterations += it;
        }
        tried.push((layout, r.map(|(x, _)| x)));
    }
    let best = tried
        .iter()
        .filter_map(|(l, r)| r.as_ref().ok().map(|x| (*l, *x)))
        .fold(None, |b: Option<(Layout, f64)>, (l, x)| if b.is_none_or(|b| x > b.1) { Some((l, x)) } else { b });
    match best {
        Some((layout, x)) => Ok(MlperfPrediction { tok_s_per_accel: x, layout, tried, iterations }),
        None => Err(format!(
            "no layout fits: {}",
            tried
                .iter()
                .map(|(l, r)| format!("{l}: {}", r.as_ref().err().map_or("", |e| e)))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// One replica of tensor parallelism `tp` (batch cap `max_seqs`, or the KV-sized one) and the
/// KV-sized batch cap.
fn replica(
    catalog: &Catalog,
    t: &MlperfTarget,
    model: &tokenfab_catalog::Model,
    chip: &tokenfab_catalog::Chip,
    layout: Layout,
    max_seqs: Option<u32>,
) -> Result<(tokenfab_sim::Deployment, u32), String> {
    let (isl, osl) = (t.data.input.mean().round() as u32, t.data.output.mean().round() as u32);
    let bytes_per_weight = match t.dtype {
        Dtype::Fp8 => 1.0,
        Dtype::Fp4 => 0.5,
        _ => 2.0,
    };
    // trtllm-bench's KV count: a model without `head_dim` (DeepSeek's MLA) counts hidden / heads
    // per head, over all its heads (as `trtllm_bench_settings` says).
    let (kv_heads, head_size) = match &model.attention {
        tokenfab_catalog::Attention::Mla(_) => {
            (model.num_attention_heads, model.hidden_size / model.num_attention_heads.max(1))
        }
        _ => (model.num_kv_heads, model.head_dim),
    };
    let (max_bs, max_tokens) = crate::trtllm_bench_settings(
        chip.hbm_bytes() / (1024.0 * 1024.0 * 1024.0),
        layout.gpus,
        model.total_params(),
        bytes_per_weight,
        model.num_layers,
        kv_heads,
        head_size,
        1.0,
        isl,
        osl,
        crate::BENCH_KV_FRACTION,
    )?;
    let spec = DeploymentSpec {
        system: t.system.clone(),
        model: model.id.clone(),
        weight_dtype: t.dtype,
        moe_dtype: None,
        moe_act_dtype: None,
        kv_dtype: Dtype::Fp8,
        engine: t.engine,
        engine_options: EngineOverrides {
            max_num_seqs: Some(max_seqs.unwrap_or(max_bs).min(max_bs)),
            max_num_batched_tokens: Some(max_tokens),
            chunked_prefill: Some(true),
            memory_fraction: Some(crate::BENCH_KV_FRACTION),
            prefix_caching: Some(false),
            reserve_output: Some(false),
            ..Default::default()
        },
        replicas: 1,
        parallel: layout.parallel(),
        disagg: None,
        allow_multi_domain_tp: false,
    };
    let d = tokenfab_sim::Deployment::resolve(catalog, &spec).map_err(|e| e.to_string())?;
    Ok((d, max_bs))
}

/// The benchmark's samples: `n` of them, arriving as `arrivals` says.
fn samples(t: &MlperfTarget, arrivals: ArrivalSpec, n: u64, seed: u64) -> Vec<tokenfab_workload::Request> {
    let load = SyntheticLoad {
        input: t.data.input.clone(),
        output: t.data.output.clone(),
        arrivals,
        requests: Some(n),
        duration_s: None,
        prefix: None,
    };
    load.requests(seed).take(n as usize).collect()
}

/// Offline at `layout`: (output tokens/s per accelerator, engine iterations, KV-sized batch cap).
fn simulate_layout(
    catalog: &Catalog,
    t: &MlperfTarget,
    model: &tokenfab_catalog::Model,
    chip: &tokenfab_catalog::Chip,
    layout: Layout,
    seed: u64,
) -> Result<(f64, u64, u32), String> {
    let (d, max_bs) = replica(catalog, t, model, chip, layout, None)?;
    let n = offline_samples(layout, max_bs);
    let reqs = samples(t, ArrivalSpec::Closed { concurrency: 1, think_ms: None, start_spread_ms: None }, n, seed);
    let tokens: u64 = reqs.iter().map(|r| r.output_tokens as u64).sum();
    let cfg = SimConfig { arrivals: Arrivals::Timed, max_engine_iterations: 50_000_000, ..SimConfig::default() };
    let res = run(&cfg, &d, reqs.into_iter(), seed).map_err(|e| e.to_string())?;
    if res.counters.requests_completed < n {
        return Err(format!("only {} of {n} samples completed", res.counters.requests_completed));
    }
    let last = res.records.iter().filter_map(|r| r.finish_ns).max().unwrap_or(0);
    if last == 0 {
        return Err("no simulated time elapsed".into());
    }
    Ok((tokens as f64 / (last as f64 * 1e-9) / d.chips() as f64, res.counters.engine_iterations, max_bs))
}

/// Fewest samples per rate probed in the Server and Interactive searches.
pub const SERVER_REQUESTS: u64 = 2000;

/// Shortest simulated span of a rate probe, seconds: MLPerf's `min_duration` for these
/// scenarios (600 s; `mlperf.conf`, official). A probe sends `max(SERVER_REQUESTS, rate × 600 s)`
/// samples. A short probe passes rates the queue cannot hold: at the Offline rate itself (full
/// load) 2,000 samples of llama3.1-8b last 13 s on a B200, too short for the queue to outgrow
/// the TTFT bound, while a 10-minute run is not.
pub const SERVER_MIN_DURATION_S: f64 = 600.0;

/// Share of a probe's samples (the first ones: an empty system filling up) left out of its
/// percentiles: one in five.
pub const SERVER_WARMUP_SHARE: f64 = 0.2;

/// Samples a probe at `rate_per_s` sends.
pub fn server_requests(rate_per_s: f64) -> u64 {
    SERVER_REQUESTS.max((rate_per_s * SERVER_MIN_DURATION_S).ceil() as u64)
}

/// Bisection steps of the rate search (the rate is found to within 2⁻⁶ of the Offline rate).
const RATE_STEPS: u32 = 6;

/// Server or Interactive at `layout`: the highest Poisson rate whose simulated
/// 99th-percentile TTFT and TPOT stay within `bound`, over the KV-sized batch cap and two smaller
/// ones (a submitter lowers the cap to meet a TPOT bound), as (output tokens/s per accelerator,
/// engine iterations). The search brackets the rate between 0 and the Offline rate of the layout.
fn search_rate(
    catalog: &Catalog,
    t: &MlperfTarget,
    model: &tokenfab_catalog::Model,
    chip: &tokenfab_catalog::Chip,
    layout: Layout,
    bound: LatencyBound,
    seed: u64,
) -> Result<(f64, u64), String> {
    let (offline, mut iterations, max_bs) = simulate_layout(catalog, t, model, chip, layout, seed)?;
    let osl = t.data.output.mean();
    let hi_rate = offline * layout.gpus as f64 / osl;
    let mut caps = vec![max_bs, 256.min(max_bs), 64.min(max_bs)];
    caps.dedup();
    let mut best = 0.0f64;
    for cap in caps {
        let (d, _) = replica(catalog, t, model, chip, layout, Some(cap))?;
        let mut probe = |rate: f64| -> Result<bool, String> {
            let n = server_requests(rate);
            let reqs = samples(t, ArrivalSpec::Poisson { rate_per_s: rate }, n, seed);
            let cfg =
                SimConfig { arrivals: Arrivals::Timed, max_engine_iterations: 50_000_000, ..SimConfig::default() };
            let res = run(&cfg, &d, reqs.into_iter(), seed).map_err(|e| e.to_string())?;
            iterations += res.counters.engine_iterations;
            let warmup = (n as f64 * SERVER_WARMUP_SHARE) as u64;
            let measured: Vec<_> = res.records.iter().filter(|r| r.id >= warmup).collect();
            let p99 = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v.get(((v.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::INFINITY)
            };
            let ttft = p99(measured.iter().filter_map(|r| r.ttft_ns()).map(|x| x as f64 * 1e-6).collect());
            let tpot = p99(measured.iter().filter_map(|r| r.tpot_ns()).map(|x| x * 1e-6).collect());
            Ok(ttft <= bound.ttft_ms && tpot <= bound.tpot_ms)
        };
        // Bisection on the rate: `lo` meets the bounds (or is 0), `hi` does not (or is the
        // Offline rate, which no latency-bound run exceeds).
        let (mut lo, mut hi) = (0.0f64, hi_rate);
        if probe(hi)? {
            lo = hi;
        } else {
            for _ in 0..RATE_STEPS {
                let mid = 0.5 * (lo + hi);
                if probe(mid)? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
        }
        best = best.max(lo);
    }
    if best <= 0.0 {
        return Err(format!("no rate meets p99 TTFT {} ms and TPOT {} ms at {layout}", bound.ttft_ms, bound.tpot_ms));
    }
    Ok((best * osl / layout.gpus as f64, iterations))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "id,division,availability,submitter,platform,accelerator,num_accel,model,scenario,tokens_per_s,tokens_per_s_per_accel,weights,software,details_url,source
5.1-0001,closed,available,AMD,p,AMD Instinct MI300X 192GB HBM3,8,llama2-70b-99,Offline,27803.9,3475.5,fp8,\"vLLM 0.9.0, ROCm\",u,s
5.1-0008,closed,available,NVIDIA,p,NVIDIA GB200,4,llama2-70b-99,Offline,52061.6,13015.4,fp4,\"TensorRT 10.11, CUDA 12.9\",u,s
5.1-0005,closed,available,NVIDIA,p,NVIDIA H200-NVL-141GB,8,llama2-70b-99,Offline,30487.0,3810.9,fp8,TensorRT 10.8,u,s
5.1-0007,closed,available,NVIDIA,p,NVIDIA H200-SXM-141GB,8,deepseek-r1,Offline,61372.4,7671.6,fp8,TensorRT 10.11,u,s
5.1-0007,closed,available,NVIDIA,p,NVIDIA H200-SXM-141GB,8,llama2-70b-99,Server,33000,4125,fp8,TensorRT 10.11,u,s
5.1-0091,closed,available,M,p,\"AMD Instinct MI325X 256GB HBM3E (x16), AMD Instinct MI300X 192GB HBM3 (x8)\",24,llama2-70b-99,Offline,92158.2,3839.9,fp8,vLLM,u,s
5.1-0002,closed,available,AMD,p,AMD Instinct MI325X 256GB HBM3e,8,mixtral-8x7b,Server,59784,7473,fp8,vLLM 0.9.0,u,s
5.1-0002,closed,available,AMD,p,AMD Instinct MI325X 256GB HBM3e,8,mixtral-8x7b,Interactive,59784,7473,fp8,vLLM 0.9.0,u,s
5.1-0069,closed,available,NVIDIA,p,NVIDIA B200-SXM-180GB,8,llama3.1-8b,Interactive,122269,15284,fp4,TensorRT 10.11,u,s
";

    #[test]
    fn rows_map_or_say_why_not() {
        let cat = Catalog::builtin();
        let rows = parse_mlperf("t.csv", CSV).unwrap();
        assert_eq!(rows.len(), 9);
        assert!((rows[1].tok_s_per_accel - 52061.6 / 4.0).abs() < 1e-9, "per accelerator from the system total");
        let t = mlperf_target(&cat, &rows[0]).unwrap();
        assert_eq!((t.chip.as_str(), t.dtype, t.engine), ("mi300x", Dtype::Fp8, EngineKind::Vllm));
        let t = mlperf_target(&cat, &rows[1]).unwrap();
        assert_eq!((t.chip.as_str(), t.dtype, t.engine), ("gb200", Dtype::Fp4, EngineKind::Trtllm));
        let why = |i: usize| mlperf_target(&cat, &rows[i]).unwrap_err();
        assert!(why(2).contains("not in the catalog"), "{}", why(2));
        let t = mlperf_target(&cat, &rows[3]).unwrap();
        assert_eq!((t.chip.as_str(), t.data.name, t.dtype, t.bound), ("h200-sxm", "deepseek-r1", Dtype::Fp8, None));
        let mut unknown = rows[3].clone();
        unknown.model = "gptj-99".into();
        let e = mlperf_target(&cat, &unknown).unwrap_err();
        assert!(e.contains("no dataset length statistics"), "{e}");
        let server = mlperf_target(&cat, &rows[4]).unwrap();
        assert_eq!(server.bound, Some(LLAMA2_70B.server));
        assert!(why(5).contains("mix of accelerator"), "{}", why(5));
        let t = mlperf_target(&cat, &rows[6]).unwrap();
        assert_eq!((t.chip.as_str(), t.data.name, t.bound), ("mi325x", "mixtral-8x7b", Some(MIXTRAL_8X7B.server)));
        assert!(why(7).contains("has no such scenario"), "{}", why(7));
        let t = mlperf_target(&cat, &rows[8]).unwrap();
        assert_eq!((t.data.model, t.bound), ("llama-3.1-8b", LLAMA31_8B.interactive));
    }

    #[test]
    fn server_probes_last_at_least_mlperfs_minimum_duration() {
        assert_eq!(server_requests(0.5), SERVER_REQUESTS);
        let n = server_requests(150.0);
        assert_eq!(n, 90_000);
        assert!(n as f64 / 150.0 >= SERVER_MIN_DURATION_S);
    }

    #[test]
    fn bad_numbers_name_the_line() {
        let bad = CSV.replace("27803.9", "lots");
        let e = parse_mlperf("t.csv", &bad).unwrap_err().to_string();
        assert!(e.contains("t.csv: line 2") && e.contains("tokens_per_s"), "{e}");
        let e = parse_mlperf("t.csv", "id,model\n1,x\n").unwrap_err().to_string();
        assert!(e.contains("missing column"), "{e}");
    }

    #[test]
    fn lengths_match_their_sources() {
        // Means of the drawn distributions, within the rounding of the medians.
        for (d, i0, o0) in [
            (&LLAMA2_70B, 218.0, 294.45),
            (&LLAMA31_405B, 9800.0, 652.0),
            (&LLAMA31_8B, 870.7, 139.0),
            (&MIXTRAL_8X7B, 427.4, 144.84),
            (&DEEPSEEK_R1, 300.0, 3711.0),
        ] {
            let (i, o) = (d.input.mean(), d.output.mean());
            assert!((i / i0 - 1.0).abs() < 0.02, "{}: {i}", d.name);
            assert!((o / o0 - 1.0).abs() < 0.02, "{}: {o}", d.name);
        }
    }

    #[test]
    fn a_dep_replica_runs_whole_batches_of_all_its_ranks() {
        let tp8 = Layout { gpus: 8, dep: false };
        let dep8 = Layout { gpus: 8, dep: true };
        assert_eq!(offline_samples(tp8, 384), offline_requests(384));
        assert_eq!(offline_samples(dep8, 384), offline_requests(8 * 384));
        assert!(offline_samples(dep8, 384) >= 8 * 8 * 384, "eight whole batches of the replica");
    }

    #[test]
    fn moe_models_also_try_expert_parallel_layouts_and_dense_ones_do_not() {
        let cat = Catalog::builtin();
        let rows = parse_mlperf("t.csv", CSV).unwrap();
        // deepseek-r1 on 8 × H200 (fp8): TP 8 and DEP 4/8 fit, and DEP 8 runs the largest batch.
        let p = predict_mlperf(&cat, &rows[3], 1).unwrap();
        let tried: Vec<String> = p.tried.iter().map(|(l, _)| l.to_string()).collect();
        assert!(tried.contains(&"dep8".to_string()) && tried.contains(&"tp8".to_string()), "{tried:?}");
        assert!(p.layout.dep, "best {} of {:?}", p.layout, p.tried);
        // llama2-70b (dense) never tries them.
        let dense = predict_mlperf(&cat, &rows[0], 1).unwrap();
        assert!(dense.tried.iter().all(|(l, _)| !l.dep), "{:?}", dense.tried);
    }

    #[test]
    fn offline_run_keeps_the_best_layout_and_is_deterministic() {
        let cat = Catalog::builtin();
        let rows = parse_mlperf("t.csv", CSV).unwrap();
        let a = predict_mlperf(&cat, &rows[0], 1).unwrap();
        let b = predict_mlperf(&cat, &rows[0], 1).unwrap();
        assert_eq!(a, b);
        let ok: Vec<f64> = a.tried.iter().filter_map(|(_, r)| r.as_ref().ok().copied()).collect();
        assert!(ok.len() >= 2, "several layouts fit on MI300X: {:?}", a.tried);
        assert!(ok.iter().all(|&x| x <= a.tok_s_per_accel));
        assert!(a.tok_s_per_accel > 100.0 && a.tok_s_per_accel < 100_000.0, "{}", a.tok_s_per_accel);
    }
}
