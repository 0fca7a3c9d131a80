//! Offline maximum throughput against published measurements: TensorRT-LLM's performance
//! overview (`trtllm-bench throughput`, rows of `reference/perf_published.csv`).
//!
//! A second end-to-end check beside the AIC latency rows, in the other regime a capacity planner
//! needs: every request queued at once, the engine as full as its memory allows, output tokens
//! per second per GPU. Each row's benchmark is re-created as the overview documents it
//! (NVIDIA/TensorRT-LLM `docs/source/performance/perf-overview.md` and
//! `docs/source/developer-guide/perf-overview.md`; reported):
//!
//! - a synthetic dataset of identical requests (`prepare_dataset.py token-norm-dist`, standard
//!   deviations 0), as many as the overview's table gives for the shape ([`num_requests`]);
//! - all of them queued at time zero (`trtllm-bench throughput`, "all requests are queued in
//!   rapid succession");
//! - the PyTorch backend with the engine limits `trtllm-bench` derives itself
//!   ([`trtllm_bench_settings`], a port of `tensorrt_llm/bench/build/tuning.py`
//!   `calc_engine_setting` / `finetune_setting`), chunked prefill on (`trtllm-bench`'s
//!   default), and `--kv_cache_free_gpu_mem_fraction 0.95`, the value the overview says it uses
//!   "in many cases";
//! - the result is `Per GPU Output Throughput`: all output tokens over the time from the first
//!   request to the last completion, per GPU.
//!
//! Nothing here is fitted to these rows: the simulator runs with its engine defaults.

use crate::AicError;
use tokenfab_catalog::{Attention, Catalog, Dtype};
use tokenfab_sim::{Arrivals, DeploymentSpec, EngineKind, EngineOverrides, ParallelSpec, SimConfig, run};
use tokenfab_workload::Request;

/// One published offline-throughput measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedRow {
    /// 1-based line in the file.
    pub line: usize,
    /// Where the figure was published (`benchmark_or_source`).
    pub source: String,
    /// Model as named in the table.
    pub model: String,
    /// Precision label (`FP8`, `FP4`).
    pub precision: String,
    /// Hardware label (`H100`, `B200`...).
    pub hardware: String,
    /// GPUs of the deployment.
    pub num_accel: u32,
    /// Mapping label (`TP4`, `DEP8`).
    pub parallelism: String,
    /// Prompt tokens.
    pub isl: u32,
    /// Output tokens.
    pub osl: u32,
    /// Measured output tokens per second per GPU.
    pub tok_s_per_gpu: f64,
}

/// Parses a `perf_published.csv`-style table. Returns the TensorRT-LLM performance-overview
/// offline-throughput rows and, for every other row, its line and why it is not used.
#[allow(clippy::type_complexity)]
pub fn parse_published(file: &str, text: &str) -> Result<(Vec<PublishedRow>, Vec<(usize, String)>), AicError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let err = |line: usize, message: String| AicError::Csv { file: file.to_string(), line, message };
    let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
    for need in ["benchmark_or_source", "model", "precision", "hardware", "num_accel", "parallelism", "isl", "osl"] {
        if !headers.iter().any(|h| h == need) {
            return Err(err(1, format!("missing column `{need}`")));
        }
    }
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(line, e.to_string()))?;
        let get =
            |k: &str| headers.iter().position(|h| h == k).and_then(|p| rec.get(p)).unwrap_or("").trim().to_string();
        let source = get("benchmark_or_source");
        if !source.starts_with("TensorRT-LLM perf overview")
            || get("scenario_or_constraint") != "offline max throughput"
        {
            skipped.push((
                line,
                "not a TensorRT-LLM performance-overview offline-throughput row (its serving setup is not \
                 recorded in enough detail to re-create)"
                    .to_string(),
            ));
            continue;
        }
        let num = |k: &str| -> Result<f64, AicError> {
            get(k)
                .replace(',', "")
                .parse::<f64>()
                .map_err(|_| err(line, format!("column `{k}`: `{}` is not a number", get(k))))
        };
        let num_accel = num("num_accel")? as u32;
        if num_accel == 0 {
            return Err(err(line, "column `num_accel`: must be at least 1".into()));
        }
        // Per GPU: the `per_accel` column, else the value (per GPU unless the metric says all GPUs).
        let per_gpu = match get("per_accel").replace(',', "").parse::<f64>() {
            Ok(v) => v,
            Err(_) if get("metric").contains("all GPUs") => num("value")? / num_accel as f64,
            Err(_) => num("value")?,
        };
        if !(per_gpu.is_finite() && per_gpu > 0.0) {
            return Err(err(line, format!("throughput `{per_gpu}` must be a positive number")));
        }
        rows.push(PublishedRow {
            line,
            source,
            model: get("model"),
            precision: get("precision"),
            hardware: get("hardware"),
            num_accel,
            parallelism: get("parallelism"),
            isl: num("isl")? as u32,
            osl: num("osl")? as u32,
            tok_s_per_gpu: per_gpu,
        });
    }
    if rows.is_empty() && skipped.is_empty() {
        return Err(err(2, "no data rows".into()));
    }
    Ok((rows, skipped))
}

/// Requests in the overview's synthetic dataset for a shape (its `$num_requests` tables, v1.0
/// and later; reported). Shapes the tables do not list get 1,500, their most common count.
pub fn num_requests(isl: u32, osl: u32) -> u32 {
    match (isl, osl) {
        (128, 128) => 30_000,
        (128, 2048) | (2048, 128) | (1000, 1000) | (1024, 1024) | (500, 2000) => 3_000,
        (20000, 2000) | (32768, 1024) | (1024, 32768) => 1_000,
        _ => 1_500,
    }
}

/// `trtllm-bench`'s own engine limits for a run: (`max_batch_size`, `max_num_tokens`).
///
/// A port of `calc_engine_setting` + `finetune_setting` (tensorrt_llm/bench/build/tuning.py;
/// reported): the KV memory left after the weights, `(GPUs × device GiB − params × bytes per
/// weight) × fraction`, counted in requests of `isl + osl` tokens at `2 × layers × max(tp, kv
/// heads) × head size × bytes per KV element` each; the batch is that count, capped at 4,096,
/// rounded up (at least 64); the token budget is `batch × (1 + isl / osl)`, capped at 32,768,
/// rounded up (at least 2,048). Its byte counts are its own: 1 per FP8 weight, 0.5 per 4-bit
/// weight, 2 otherwise, and the head size of a model without `head_dim` (DeepSeek's MLA) is
/// hidden / heads.
#[allow(clippy::too_many_arguments)]
pub fn trtllm_bench_settings(
    device_gib: f64,
    gpus: u32,
    params: f64,
    bytes_per_weight: f64,
    layers: u32,
    kv_heads: u32,
    head_size: u32,
    bytes_per_kv: f64,
    isl: u32,
    osl: u32,
    fraction: f64,
) -> Result<(u32, u32), String> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let per_token = 2.0 * layers as f64 * kv_heads.max(gpus) as f64 * head_size as f64 * bytes_per_kv / GIB;
    let engine = params * bytes_per_weight / GIB;
    let available = device_gib * gpus as f64 - engine;
    if available <= 0.0 {
        return Err(format!(
            "trtllm-bench: {engine:.0} GiB of weights exceed {:.0} GiB of GPU memory",
            device_gib * gpus as f64
        ));
    }
    let requests = available * fraction / (per_token * (isl + osl) as f64);
    if requests < 1.0 {
        return Err("trtllm-bench: the KV cache cannot hold one request".into());
    }
    let raw_bs = requests.min(4096.0);
    let raw_token = (raw_bs * (1.0 + isl as f64 / osl.max(1) as f64)).min(32768.0);
    let up = |x: f64, q: f64| (x / q).ceil() * q;
    let bs = if raw_bs < 256.0 {
        up(raw_bs, 32.0).max(64.0)
    } else if raw_bs < 1024.0 {
        up(raw_bs, 128.0)
    } else {
        up(raw_bs, 256.0)
    };
    let tokens = if raw_token < 4096.0 {
        up(raw_token, 256.0).max(2048.0)
    } else if raw_token < 8192.0 {
        up(raw_token, 512.0)
    } else {
        up(raw_token, 1024.0)
    };
    Ok((bs as u32, tokens as u32))
}

/// KV-cache fraction of free memory used by the overview's runs ("in many cases ... 0.95").
pub const BENCH_KV_FRACTION: f64 = 0.95;

/// A simulated offline-throughput run.
#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputPrediction {
    /// Output tokens per second per GPU.
    pub tok_s_per_gpu: f64,
    /// `trtllm-bench`'s batch limit used (per attention-DP rank).
    pub max_batch_size: u32,
    /// `trtllm-bench`'s token budget used (per attention-DP rank).
    pub max_num_tokens: u32,
    /// Requests simulated.
    pub requests: u32,
    /// Engine iterations simulated.
    pub iterations: u64,
}

/// Maps a table name to a catalog model: the overview's checkpoints
/// (`nvidia/Llama-3.3-70B-Instruct-FP8`, `deepseek-ai/DeepSeek-R1-0528`, ...) by their base model.
fn catalog_model<'a>(catalog: &'a Catalog, name: &str) -> Result<&'a tokenfab_catalog::Model, String> {
    let hf = match name {
        "Llama-3.3-70B" => "meta-llama/Llama-3.3-70B-Instruct",
        "DeepSeek-R1-0528" => "deepseek-ai/DeepSeek-R1-0528",
        other => other,
    };
    catalog.model(hf).map_err(|e| e.to_string())
}

/// Simulates one row's `trtllm-bench throughput` run, with the engine's default host times or
/// `host` (e.g. the ones [`crate::fit_host`] finds on the AIC rows).
pub fn predict_throughput(
    catalog: &Catalog,
    row: &PublishedRow,
    host: Option<crate::HostOverhead>,
) -> Result<ThroughputPrediction, String> {
    let (spec, max_bs, max_tokens) = bench_deployment(catalog, row, host)?;
    let d = tokenfab_sim::Deployment::resolve(catalog, &spec).map_err(|e| e.to_string())?;
    let requests = num_requests(row.isl, row.osl);
    let reqs = (0..requests as u64).map(|id| Request {
        id,
        arrival_ns: 0,
        input_tokens: row.isl,
        output_tokens: row.osl,
        class: 0,
        session: None,
        turn: 0,
        prefix: None,
    });
    let cfg = SimConfig { arrivals: Arrivals::Timed, max_engine_iterations: 50_000_000, ..SimConfig::default() };
    let res = run(&cfg, &d, reqs, 1).map_err(|e| e.to_string())?;
    if res.counters.requests_completed < requests as u64 {
        return Err(format!("only {} of {requests} requests completed", res.counters.requests_completed));
    }
    let last = res.records.iter().filter_map(|r| r.finish_ns).max().unwrap_or(0);
    if last == 0 {
        return Err("no simulated time elapsed".into());
    }
    let tokens = requests as f64 * row.osl as f64;
    Ok(ThroughputPrediction {
        tok_s_per_gpu: tokens / (last as f64 * 1e-9) / d.chips() as f64,
        max_batch_size: max_bs,
        max_num_tokens: max_tokens,
        requests,
        iterations: res.counters.engine_iterations,
    })
}

/// The deployment a row's `trtllm-bench throughput` run used, as the overview documents it, with
/// the batch and token limits `trtllm-bench` derives.
fn bench_deployment(
    catalog: &Catalog,
    row: &PublishedRow,
    host: Option<crate::HostOverhead>,
) -> Result<(DeploymentSpec, u32, u32), String> {
    let model = catalog_model(catalog, &row.model)?;
    let chip = catalog
        .chip(&row.hardware)
        .or_else(|_| catalog.chip(&format!("{}-sxm", row.hardware)))
        .map_err(|e| e.to_string())?;
    let system = catalog
        .default_system_for_chip(&chip.id)
        .ok_or_else(|| format!("no system for chip `{}` in the catalog", chip.id))?;
    let label = row.parallelism.trim().to_ascii_uppercase();
    let (dep, n) = if let Some(n) = label.strip_prefix("DEP") {
        (true, n)
    } else if let Some(n) = label.strip_prefix("TP") {
        (false, n)
    } else {
        return Err(format!("parallelism `{}`: expected TP<n> or DEP<n>", row.parallelism));
    };
    let n: u32 = n.parse().map_err(|_| format!("parallelism `{}`: expected TP<n> or DEP<n>", row.parallelism))?;
    if n != row.num_accel {
        return Err(format!("parallelism `{}` does not match num_accel {}", row.parallelism, row.num_accel));
    }
    let label: Dtype = row.precision.to_ascii_lowercase().parse()?;
    let hopper = matches!(chip.id.as_str(), "h100-sxm" | "h200-sxm");
    // GPT-OSS is not among the overview's ModelOpt checkpoints: it runs OpenAI's own on every GPU
    // (MXFP4 experts, bf16 attention and the rest), whatever the table's precision label.
    let native = crate::row::openai_checkpoint_formats(model);
    let gpt_oss = native.is_some();
    let (dtype, moe_dtype) = native.unwrap_or((label, label));
    // Its experts' GEMMs take MXFP8 activations on Blackwell (TensorRT-LLM's default TRTLLM MoE
    // backend) and bf16 on Hopper (Triton): the GPT-OSS deployment guide's MoE backend support
    // matrix (nvidia.github.io/TensorRT-LLM/deployment-guide/deployment-guide-for-gpt-oss-on-trtllm.html;
    // reported). Hopper needs no setting: it has no fp4 path, so the weights already run at bf16.
    let moe_act_dtype = (gpt_oss && !hopper).then_some(Dtype::Fp8);
    // KV cache: FP8 for the ModelOpt FP8/FP4 checkpoints (`kv_cache_quant_algo: FP8`) and in the
    // overview's DeepSeek-R1 and GPT-OSS options (`kv_cache_config: dtype: fp8`), except GPT-OSS
    // on Hopper ("Hopper: use auto", the checkpoint's bf16).
    let kv_dtype = if gpt_oss && hopper { Dtype::Bf16 } else { Dtype::Fp8 };
    let parallel = if dep {
        if model.moe.is_none() {
            return Err(format!("`{}` is dense: DEP needs experts", row.model));
        }
        ParallelSpec { tp: 1, pp: 1, attn_dp: n, moe_tp: Some(1), moe_ep: Some(n) }
    } else {
        ParallelSpec { tp: n, pp: 1, attn_dp: 1, moe_tp: Some(n), moe_ep: Some(1) }
    };
    let bytes_per_weight = match moe_dtype {
        Dtype::Fp8 => 1.0,
        Dtype::Fp4 => 0.5,
        _ => 2.0,
    };
    let (kv_heads, head_size) = match &model.attention {
        Attention::Mla(_) => (model.num_attention_heads, model.hidden_size / model.num_attention_heads.max(1)),
        Attention::Gqa => (model.num_kv_heads, model.head_dim),
    };
    let (max_bs, max_tokens) = trtllm_bench_settings(
        chip.hbm_bytes() / (1024.0 * 1024.0 * 1024.0),
        n,
        model.total_params(),
        bytes_per_weight,
        model.num_layers,
        kv_heads,
        head_size,
        if kv_dtype == Dtype::Fp8 { 1.0 } else { 2.0 },
        row.isl,
        row.osl,
        BENCH_KV_FRACTION,
    )?;
    let spec = DeploymentSpec {
        system: system.id.clone(),
        model: model.id.clone(),
        weight_dtype: dtype,
        moe_dtype: Some(moe_dtype),
        moe_act_dtype,
        kv_dtype,
        engine: EngineKind::Trtllm,
        engine_options: EngineOverrides {
            max_num_seqs: Some(max_bs),
            max_num_batched_tokens: Some(max_tokens),
            // trtllm-bench turns chunked prefill on (`--enable_chunked_context`, default true;
            // scheduler `guaranteed_no_evict`, the engine profile's default; reported).
            chunked_prefill: Some(true),
            memory_fraction: Some(BENCH_KV_FRACTION),
            prefix_caching: Some(false),
            host_overhead_ms: host.map(|h| h.per_step_ms),
            host_overhead_per_seq_us: host.map(|h| h.per_seq_us),
            ..Default::default()
        },
        replicas: 1,
        parallel,
        disagg: None,
        allow_multi_domain_tp: false,
    };
    Ok((spec, max_bs, max_tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "category,status,benchmark_or_source,model,precision,hardware,num_accel,parallelism,framework,isl,osl,scenario_or_constraint,metric,value,unit,per_accel,source,notes
throughput,official,\"TensorRT-LLM perf overview (trtllm-bench throughput, max load)\",Llama-3.1-8B,FP8,H100,1,TP1,TRT-LLM,1024,1024,offline max throughput,output tokens/s per GPU,\"12,000\",tok/s/GPU,,x,
throughput,official,TensorRT-LLM perf overview v1.0 (trtllm-bench throughput),Llama-3.1-8B,FP8,H100,2,TP2,TRT-LLM,128,128,offline max throughput,Total Output Throughput (all GPUs),20000,tok/s,,x,
throughput,official,MLPerf Inference v5.1 closed,llama2-70b-99,FP8,H100,8,TP1,TRT-LLM,,,Offline,system tokens/s,30000,tok/s,,x,
";

    #[test]
    fn keeps_only_overview_offline_rows_and_reads_per_gpu_throughput() {
        let (rows, skipped) = parse_published("p.csv", CSV).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].tok_s_per_gpu, 12_000.0, "thousands separators are read");
        assert_eq!(rows[1].tok_s_per_gpu, 10_000.0, "an all-GPU total is divided by the GPUs");
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].0, 4);
        let bad = CSV.replace(",1024,1024,", ",1024,lots,");
        let e = parse_published("p.csv", &bad).unwrap_err().to_string();
        assert!(e.contains("p.csv") && e.contains("line 2") && e.contains("osl"), "{e}");
    }

    #[test]
    fn gpt_oss_experts_take_mxfp8_activations_on_blackwell_only() {
        let cat = Catalog::builtin();
        let row = |model: &str, hw: &str, par: &str, n: u32| PublishedRow {
            line: 2,
            source: "x".into(),
            model: model.into(),
            precision: "FP4".into(),
            hardware: hw.into(),
            num_accel: n,
            parallelism: par.into(),
            isl: 1024,
            osl: 1024,
            tok_s_per_gpu: 1.0,
        };
        let act = |r: PublishedRow| bench_deployment(&cat, &r, None).unwrap().0.moe_act_dtype;
        // The deployment guide's MoE backend matrix: MXFP8 × MXFP4 on Blackwell, bf16 on Hopper.
        assert_eq!(act(row("GPT-OSS-120B", "B200", "TP1", 1)), Some(Dtype::Fp8));
        assert_eq!(act(row("GPT-OSS-120B", "GB200", "DEP4", 4)), Some(Dtype::Fp8));
        assert_eq!(act(row("GPT-OSS-120B", "H200", "TP1", 1)), None);
        assert_eq!(act(row("Qwen3-235B-A22B", "B200", "TP8", 8)), None);
        // W4A8 runs at the fp8 rate: slower per step than the same experts priced at fp4 × fp4.
        let r = row("GPT-OSS-120B", "B200", "TP1", 1);
        let w4a8 = predict_throughput(&cat, &r, None).unwrap().tok_s_per_gpu;
        let (mut spec, ..) = bench_deployment(&cat, &r, None).unwrap();
        spec.moe_act_dtype = None;
        let w4a4 = tokenfab_sim::Deployment::resolve(&cat, &spec).unwrap();
        let w4a8_dep = tokenfab_sim::Deployment::resolve(&cat, &bench_deployment(&cat, &r, None).unwrap().0).unwrap();
        let shape = tokenfab_perf::BatchShape {
            decode_seqs: 1024,
            decode_context: 1024 * 1500,
            logits_seqs: 1024,
            ..Default::default()
        };
        let t = |d: &tokenfab_sim::Deployment| d.pools[0].step.cost(&shape).time_s;
        assert!(t(&w4a8_dep) > t(&w4a4), "{} {}", t(&w4a8_dep), t(&w4a4));
        assert!(w4a8 > 0.0);
    }

    #[test]
    fn trtllm_bench_limits_follow_its_heuristic() {
        // Llama-3.1-8B fp8 on one H100 (79.6 GiB), fp8 KV, 1024/1024: per token 2 × 32 × 8 × 128
        // B = 64 KiB; (79.6 − 7.5) × 0.95 GiB / (2048 × 64 KiB) ≈ 548 requests → batch 640
        // (up to 128s); tokens 548 × 2 = 1096 → 2048 (the floor).
        let (bs, tok) = trtllm_bench_settings(79.6, 1, 8.03e9, 1.0, 32, 8, 128, 1.0, 1024, 1024, 0.95).unwrap();
        assert_eq!((bs, tok), (640, 2048));
        // Long prompts: few requests fit (33), so the batch takes its floor of 64 and the budget
        // 33 × 33 tokens its floor of 2,048.
        let (bs, tok) = trtllm_bench_settings(79.6, 1, 8.03e9, 1.0, 32, 8, 128, 1.0, 32768, 1024, 0.95).unwrap();
        assert_eq!((bs, tok), (64, 2048));
        // Many small requests: the batch is capped at 4,096 and the budget at 32,768.
        let (bs, tok) = trtllm_bench_settings(180.0, 8, 8.03e9, 1.0, 32, 8, 128, 1.0, 2048, 128, 0.95).unwrap();
        assert_eq!((bs, tok), (4096, 32768));
        // Weights larger than the GPUs: an error, not a number.
        assert!(trtllm_bench_settings(79.6, 1, 70e9, 2.0, 80, 8, 128, 1.0, 128, 128, 0.95).is_err());
    }

    #[test]
    fn overview_dataset_sizes() {
        assert_eq!(num_requests(128, 128), 30_000);
        assert_eq!(num_requests(1024, 1024), 3_000);
        assert_eq!(num_requests(8192, 1024), 1_500);
        assert_eq!(num_requests(32768, 1024), 1_000);
    }
}
