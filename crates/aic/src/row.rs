//! Rows of AIConfigurator's silicon table and their mapping to tokenfab deployments.

use crate::AicError;
use tokenfab_catalog::{Catalog, Dtype, Model, System};
use tokenfab_perf::Parallel;

/// Aggregated (prefill and decode on the same workers) or disaggregated serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Prefill and decode share workers.
    Agg,
    /// Separate prefill and decode pools.
    Disagg,
}

/// One measured row (the fields tokenfab uses).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AicRow {
    /// Row id.
    pub id: String,
    /// 1-based line in the file.
    pub line: usize,
    /// trtllm, sglang, vllm.
    pub backend: String,
    /// Hugging Face model path.
    pub model_path: String,
    /// AIC system name (h100_sxm, gb200, ...).
    pub system: String,
    /// agg or disagg.
    pub mode: String,
    /// Input length.
    pub isl: u32,
    /// Output length.
    pub osl: u32,
    /// Declared precision.
    pub precision: String,
    /// GEMM quantization.
    pub gemm_quant: String,
    /// MoE quantization.
    pub moe_quant: String,
    /// Benchmark concurrency (clients): `silicon_concurrency=` in the source column, else
    /// `_c<N>_` in the id, else `batch_size`.
    pub concurrency: u32,
    /// The engine's batch-size cap, where the row gives one (`batch_size`).
    pub engine_batch: Option<u32>,
    /// Every other column, by name (parallelism and pool fields).
    pub fields: std::collections::BTreeMap<String, String>,
    /// Measured mean TTFT, ms.
    pub ttft_ms: f64,
    /// Measured mean TPOT, ms.
    pub tpot_ms: f64,
}

impl AicRow {
    fn num(&self, key: &str) -> Option<u32> {
        self.fields.get(key).and_then(|v| v.trim().parse::<f64>().ok()).map(|f| f as u32)
    }
}

/// Parses the CSV text.
pub fn parse_rows(file: &str, text: &str) -> Result<Vec<AicRow>, AicError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let err = |line: usize, message: String| AicError::Csv { file: file.to_string(), line, message };
    let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
    for need in REQUIRED_COLUMNS {
        if !headers.iter().any(|h| h == need) {
            return Err(err(
                1,
                format!("missing column `{need}` (an AIConfigurator silicon CSV has {})", REQUIRED_COLUMNS.join(", ")),
            ));
        }
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(line, e.to_string()))?;
        let mut fields = std::collections::BTreeMap::new();
        for (h, v) in headers.iter().zip(rec.iter()) {
            fields.insert(h.to_string(), v.to_string());
        }
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let num = |k: &str| -> Result<f64, AicError> {
            get(k).trim().parse::<f64>().map_err(|_| err(line, format!("column `{k}`: `{}` is not a number", get(k))))
        };
        let engine_batch = get("batch_size").trim().parse::<f64>().ok().map(|b| b as u32).filter(|b| *b > 0);
        let from_source = get("silicon_data_source")
            .split(';')
            .find_map(|p| p.trim().strip_prefix("silicon_concurrency=").and_then(|v| v.parse::<u32>().ok()));
        let id = get("id");
        let from_id =
            id.split('_').find_map(|p| p.strip_prefix('c').and_then(|v| v.parse::<u32>().ok())).filter(|c| *c > 0);
        let concurrency = from_source.or(from_id).or(engine_batch).ok_or_else(|| {
            err(line, "no concurrency: no `silicon_concurrency=` in `silicon_data_source`, no `_c<N>_` in the id, no `batch_size`".into())
        })?;
        out.push(AicRow {
            id: get("id"),
            line,
            backend: get("backend"),
            model_path: get("model_path"),
            system: get("system"),
            mode: get("mode"),
            isl: num("isl")? as u32,
            osl: num("osl")? as u32,
            precision: get("precision"),
            gemm_quant: get("gemm_quant_mode"),
            moe_quant: get("moe_quant_mode"),
            concurrency,
            engine_batch,
            ttft_ms: num("silicon_ttft_ms")?,
            tpot_ms: num("silicon_tpot_ms")?,
            fields,
        });
    }
    if out.is_empty() {
        return Err(err(2, "no data rows".into()));
    }
    Ok(out)
}

/// Columns every AIConfigurator silicon row needs (the layout columns may be empty).
pub const REQUIRED_COLUMNS: [&str; 9] =
    ["id", "backend", "model_path", "system", "mode", "isl", "osl", "silicon_ttft_ms", "silicon_tpot_ms"];

/// One pool of identical workers.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// Layout of one worker.
    pub parallel: Parallel,
    /// Workers in the pool (unknown in most disaggregated rows: then 1, and said so).
    pub workers: u32,
    /// Whether `workers` was given by the row.
    pub workers_known: bool,
    /// Batch-size cap of one worker, if the row gives one.
    pub max_batch: Option<u32>,
}

/// A row mapped onto the catalog.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The model.
    pub model: Model,
    /// The system (its chip and fabrics).
    pub system: System,
    /// Aggregated or disaggregated.
    pub mode: Mode,
    /// Dense GEMM format.
    pub weight_dtype: Dtype,
    /// MoE expert format.
    pub moe_dtype: Dtype,
    /// KV-cache format.
    pub kv_dtype: Dtype,
    /// Aggregated workers, or the prefill pool.
    pub prefill: Pool,
    /// Decode pool (same as `prefill` for agg).
    pub decode: Pool,
}

fn dtype(mode: &str, precision: &str) -> Result<Dtype, String> {
    let m = mode.trim();
    let src = if m.is_empty() { precision.trim() } else { m };
    if src.is_empty() {
        return Ok(Dtype::Bf16);
    }
    src.parse::<Dtype>()
}

fn layout(row: &AicRow, prefix: &str, dense: bool) -> Result<Parallel, String> {
    let g = |k: &str| row.num(&format!("{prefix}{k}"));
    let tp = g("tp_size").filter(|v| *v > 0).ok_or_else(|| format!("no `{prefix}tp_size`"))?;
    let pp = g("pp_size").unwrap_or(1).max(1);
    let dp = g("attention_dp_size").unwrap_or(1).max(1);
    let mut moe_tp = g("moe_tp_size").unwrap_or(1).max(1);
    let mut moe_ep = g("moe_ep_size").unwrap_or(1).max(1);
    if dense || moe_tp * moe_ep != tp * dp {
        // Dense models (and rows whose MoE fields do not multiply out) split experts like TP.
        if dense {
            moe_tp = tp * dp;
            moe_ep = 1;
        } else if moe_tp * moe_ep != tp * dp {
            return Err(format!(
                "moe_tp × moe_ep = {} × {} does not match tp × attention_dp = {} × {}",
                moe_tp, moe_ep, tp, dp
            ));
        }
    }
    Ok(Parallel { tp, pp, attn_dp: dp, moe_tp, moe_ep })
}

/// The `tp` and `ep` an aggregated row's id names (`…_c64_tp8_ep8_937`: `(8, 8)`), if any.
/// Disaggregated ids (`…_tp4_0_ep4_0_783`) and ids without both (`…_tp8_epnone_4`) give `None`.
fn id_tp_ep(id: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = id.split('_').collect();
    parts.windows(3).rev().find_map(|w| {
        let tp = w[0].strip_prefix("tp")?.parse::<u32>().ok()?;
        let ep = w[1].strip_prefix("ep")?.parse::<u32>().ok()?;
        // The third part is the row number, not a disaggregated pool's `_0` suffix on `ep`.
        (w[2].parse::<u32>().is_ok() && tp > 0 && ep > 0).then_some((tp, ep))
    })
}

/// Corrects aggregated MoE rows whose id names a deployment of `tp` = X GPUs with expert
/// parallelism Y (`…_tp8_ep8_…`) but whose columns record the world as X × Y (`tp_size` 64, or
/// `attention_dp_size` 64 with `tp_size` 1) with `moe_tp_size` X and `moe_ep_size` Y: an
/// `--tp 8 --ep 8` launch runs on 8 GPUs, its experts split over them by EP (expert TP X / Y).
/// Read as recorded, these rows were 4–8 × too many GPUs (64 H200s, or 16 and 64 B200s across
/// nodes). The measurements agree with the ids: gpt-oss-120b on H200 `tp2_ep2` (recorded
/// tp 4, moe 2 × 2) measures 5.90–14.12 ms TPOT from 4 to 64 clients where the same sweep at
/// `tp2` EP 1 measures 5.85–14.07 ms, and `tp4_ep4`, `tp8_ep8` match `tp4`, `tp8` the same way.
/// Rows whose id does not name the layout are read the same way when their columns can only be
/// this mistake: `moe_tp_size` = `moe_ep_size` = X with a world of X² wider than one scale-up
/// domain (DeepSeek-V3 on H200, recorded tp 64 with experts 8 × 8: its TPOT equals the 8-GPU
/// `tp 8` sweep's within 1 % at every concurrency and shape). Expert TP × EP = 8 × 8 across 8
/// nodes is not a layout the engines deploy. The X × Y is likely AIConfigurator's own rule: its
/// benchmark generator sets `tensor_parallel_size = moe_tensor_parallel_size ×
/// moe_expert_parallel_size` for MoE models (`generator/rule_plugin/benchmark/trtllm.rule`),
/// applied to the recorded columns, while the measured runs behave like X GPUs. The rule reads
/// no measurement.
fn named_layout(row: &AicRow, p: Parallel, domain: u32) -> Parallel {
    let squared = p.moe_tp == p.moe_ep && p.moe_tp * p.moe_ep > domain;
    let Some((x, y)) = id_tp_ep(&row.id).or(squared.then_some((p.moe_tp, p.moe_ep))) else { return p };
    if y <= 1 || !x.is_multiple_of(y) || p.moe_tp != x || p.moe_ep != y {
        return p;
    }
    let world = x * y;
    if p.tp == world && p.attn_dp == 1 {
        Parallel { tp: x, attn_dp: 1, moe_tp: x / y, moe_ep: y, ..p }
    } else if p.tp == 1 && p.attn_dp == world {
        Parallel { tp: 1, attn_dp: x, moe_tp: x / y, moe_ep: y, ..p }
    } else {
        p
    }
}

/// Weight formats of OpenAI's GPT-OSS checkpoints, which the engines serve as stored whatever a
/// benchmark's precision label: only the routed experts are MXFP4; attention, router, embeddings
/// and LM head stay bf16 (`quantization_config.modules_to_not_convert` in their config.json).
/// Returns (dense weights, experts), or `None` for other models.
pub(crate) fn openai_checkpoint_formats(model: &Model) -> Option<(Dtype, Dtype)> {
    model.id.starts_with("gpt-oss").then_some((Dtype::Bf16, Dtype::Fp4))
}

/// Maps a row onto the catalog, or says why it cannot be modelled.
pub fn map_row(catalog: &Catalog, row: &AicRow) -> Result<Deployment, String> {
    let model = catalog.model(&row.model_path).map_err(|e| e.to_string())?.clone();
    let chip = catalog.chip(&row.system).map_err(|e| e.to_string())?;
    let system = catalog
        .default_system_for_chip(&chip.id)
        .ok_or_else(|| format!("no system for chip `{}` in the catalog", chip.id))?
        .clone();
    let mut weight_dtype = dtype(&row.gemm_quant, &row.precision)?;
    let mut moe_dtype = dtype(&row.moe_quant, &row.precision)?;
    // The rows' quant labels (`nvfp4`, `fp8`) name the run's mode, not GPT-OSS's checkpoint
    // layout; their KV cache follows the bf16 weights (`auto`, as TensorRT-LLM's overview sets it
    // on Hopper).
    if let Some((w, e)) = openai_checkpoint_formats(&model) {
        (weight_dtype, moe_dtype) = (w, e);
    }
    // KV-cache format (the rows do not record it). Deployments quantized to fp8/fp4 run an fp8 KV
    // cache in these benchmarks (estimate): the engines' published recipes for these models set
    // it (TensorRT-LLM's DeepSeek-R1 serve example `kv_cache_config: dtype: fp8`, SGLang
    // DeepSeek-R1 B200 benchmark scripts `--kv-cache-dtype fp8_e4m3`; NVIDIA's NVFP4 checkpoints
    // declare `kv_cache_quant_algo: FP8` in `hf_quant_config.json`). bf16 checkpoints keep a bf16
    // cache. MLA caches were first assumed bf16 for fp8 checkpoints (the engines' `auto`); that
    // guess halved their KV capacity and over-predicted queueing on these rows (TTFT MAPE 51 %
    // → 44 %, TPOT unchanged), so the recipe setting is used: a documented deployment property,
    // checked on these rows, not a fitted constant.
    let kv_dtype = match weight_dtype {
        Dtype::Fp8 | Dtype::Fp4 => Dtype::Fp8,
        _ => Dtype::Bf16,
    };
    let dense = model.moe.is_none();
    // TensorRT-LLM's wide-EP deployments give `tp_size` = world size with attention data
    // parallelism enabled; some rows record `attention_dp_size` 1 with a `tp_size` that cannot
    // divide the attention heads (24, 36, 52...) or that is wider than 8 GPUs (16, 64 on HGX;
    // 12–64 on GB200 NVL72), which for an MoE model only makes sense with attention DP:
    // tensor-parallel attention over more than 8 GPUs, let alone over the scale-out network, is
    // not a layout these engines deploy for MoE models (their DeepSeek, Qwen3 and GPT-OSS
    // recipes use TP ≤ 8 or attention DP), and for MLA it would replicate the latent KV cache
    // on every GPU. The GB200 DeepSeek-R1 sweep (tp 12–64, moe_tp = tp) is one family: tp 32
    // and 64 divide the 128 heads but are treated like the rest of it.
    //
    // The same rows record the experts as `moe_tp_size` = tp with `moe_ep_size` 1. Tensor
    // parallelism of every expert over more than 8 GPUs, or over a count that does not divide
    // the expert's intermediate size (DeepSeek-R1's 2,048 over 36 or 52 GPUs), cannot be run;
    // the engine's wide-EP recipe spreads whole experts over all the GPUs (expert parallelism,
    // with ⌈experts / GPUs⌉ expert slots per GPU where the count does not divide: 256 experts on
    // 36 GPUs are 288 slots, 8 per GPU). Such rows map to EP over all the GPUs.
    let domain = system.scaleup_domain_chips.value.clamp(1, 8);
    let expert_inter = model.moe.as_ref().map_or(1, |m| m.expert_intermediate_size);
    let fix = |mut p: Parallel| {
        if !dense && p.attn_dp == 1 && p.tp > 1 && (!model.num_attention_heads.is_multiple_of(p.tp) || p.tp > domain) {
            p.attn_dp = p.tp;
            p.tp = 1;
            if p.moe_ep == 1 && (p.moe_tp > domain || !expert_inter.is_multiple_of(p.moe_tp)) {
                p.moe_ep = p.moe_tp;
                p.moe_tp = 1;
            }
        }
        p
    };
    let (mode, prefill, decode) = match row.mode.as_str() {
        "agg" => {
            let p = fix(named_layout(row, layout(row, "", dense)?, domain));
            let pool = Pool { parallel: p, workers: 1, workers_known: true, max_batch: None };
            (Mode::Agg, pool.clone(), pool)
        }
        "disagg" => {
            let pw = row.num("prefill_num_workers");
            let dw = row.num("decode_num_workers");
            let prefill = Pool {
                parallel: fix(layout(row, "prefill_", dense)?),
                workers: pw.unwrap_or(1).max(1),
                workers_known: pw.is_some(),
                max_batch: row.num("prefill_batch_size"),
            };
            let decode = Pool {
                parallel: fix(layout(row, "decode_", dense)?),
                workers: dw.unwrap_or(1).max(1),
                workers_known: dw.is_some(),
                max_batch: row.num("decode_batch_size"),
            };
            (Mode::Disagg, prefill, decode)
        }
        other => return Err(format!("unknown mode `{other}`")),
    };
    if row.isl == 0 || row.osl == 0 || row.concurrency == 0 {
        return Err("isl, osl and concurrency must be positive".into());
    }
    Ok(Deployment { model, system, mode, weight_dtype, moe_dtype, kv_dtype, prefill, decode })
}
