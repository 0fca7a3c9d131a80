//! `tokenfab step --model M --chip C --batch B (--context T | --prefill L) [--tp N] [--dtype D]`.
use anyhow::{Result, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::process::ExitCode;
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_perf::{BatchShape, ClockMode, Hardware, OpClass, Parallel, StepModel, StepOptions};

/// Flags of `tokenfab step`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model id or Hugging Face name.
    #[arg(long, default_value = "llama-3.1-8b")]
    pub model: String,
    /// Chip or system id.
    #[arg(long, default_value = "h100-sxm")]
    pub chip: String,
    /// Sequences in the batch.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Decode step: cached context tokens per sequence.
    #[arg(long, conflicts_with = "prefill")]
    pub context: Option<u64>,
    /// Prefill step: new tokens per sequence.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub prefill: Option<u64>,
    /// Tensor parallelism.
    #[arg(long, default_value_t = 1)]
    pub tp: u32,
    /// Pipeline parallelism.
    #[arg(long, default_value_t = 1)]
    pub pp: u32,
    /// Attention data parallelism: this many ranks of `--tp` chips each, every rank with its own
    /// share of `--batch` (MoE layers span all tp × attn-dp chips).
    #[arg(long, default_value_t = 1)]
    pub attn_dp: u32,
    /// Expert parallelism (MoE); experts' tensor parallelism becomes tp × attn-dp / ep.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub ep: u32,
    /// Weight/activation format: bf16, fp16, fp8, fp4.
    #[arg(long, default_value = "bf16")]
    pub dtype: Dtype,
    /// Routed experts' weight format, where it differs from --dtype (GPT-OSS: bf16 with fp4
    /// experts).
    #[arg(long)]
    pub moe_dtype: Option<Dtype>,
    /// Activation format of the routed experts' GEMMs, where the engine runs them wider than the
    /// expert weights (GPT-OSS on Blackwell with TensorRT-LLM: fp8, MXFP8 × MXFP4).
    #[arg(long)]
    pub moe_act_dtype: Option<Dtype>,
    /// KV-cache format (default: fp8 when --dtype fp8/fp4, else bf16).
    #[arg(long)]
    pub kv_dtype: Option<Dtype>,
    /// Sustained (power-capped) clocks.
    #[arg(long)]
    pub sustained: bool,
    /// No CUDA graphs: pay a host launch per kernel.
    #[arg(long)]
    pub eager: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(catalog: &Catalog, a: Args) -> Result<ExitCode> {
    let model = catalog.model(&a.model)?;
    let hw = Hardware::from_catalog(catalog, &a.chip)?;
    // A format without its own tensor cores runs at a wider one's rate (fp4 weights on Hopper:
    // the engines' W4A16 kernels), as in the simulator; say so rather than refuse.
    let mut notes = Vec::new();
    for d in [Some(a.dtype), a.moe_dtype].into_iter().flatten() {
        let (_, used) = hw.peak_or_wider(d);
        if used != d && !notes.iter().any(|n: &String| n.starts_with(d.as_str())) {
            notes.push(format!("{d} computed at the {used} rate: {} has no {d} tensor cores", hw.chip_id));
        }
    }
    if a.attn_dp == 0 {
        bail!("--attn-dp must be at least 1");
    }
    let world = a.tp * a.attn_dp;
    if a.ep == 0 || !world.is_multiple_of(a.ep) {
        bail!("--ep {} must divide --tp × --attn-dp ({world})", a.ep);
    }
    let parallel = Parallel { tp: a.tp, pp: a.pp, attn_dp: a.attn_dp, moe_tp: world / a.ep, moe_ep: a.ep };
    let kv = a.kv_dtype.unwrap_or(if matches!(a.dtype, Dtype::Fp8 | Dtype::Fp4) { Dtype::Fp8 } else { Dtype::Bf16 });
    let options = StepOptions {
        weight_dtype: a.dtype,
        moe_dtype: a.moe_dtype,
        moe_act_dtype: a.moe_act_dtype,
        kv_dtype: kv,
        cuda_graphs: !a.eager,
        clock_mode: if a.sustained { ClockMode::Sustained } else { ClockMode::Burst },
        ..Default::default()
    };
    let sm = StepModel::new(model, &hw, parallel, options)?;
    let (shape, kind) = match (a.context, a.prefill) {
        (Some(c), None) => (BatchShape::decode(a.batch, c), format!("decode, {} seqs × {} context", a.batch, c)),
        (None, Some(l)) => (BatchShape::prefill(a.batch, l), format!("prefill, {} seqs × {} tokens", a.batch, l)),
        (None, None) => {
            (BatchShape::decode(a.batch, 1024), format!("decode, {} seqs × 1024 context (default)", a.batch))
        }
        (Some(_), Some(_)) => bail!("give either --context or --prefill"),
    };
    let c = sm.cost(&shape);
    let weights_gb = sm.weight_bytes_per_chip() / 1e9;
    // A sequence's KV lives on its own attention-DP rank: each chip holds 1/attn_dp of the batch's.
    let kv_gb = sm.kv_bytes_per_token_per_chip() * (shape.decode_context + shape.prefill_tokens) as f64
        / a.attn_dp as f64
        / 1e9;
    let tokens = shape.tokens() as f64;
    let chips = parallel.chips();
    if a.json {
        let classes: Vec<_> = OpClass::ALL
            .iter()
            .filter(|k| c.class(**k).time_s > 0.0)
            .map(|k| {
                let x = c.class(*k);
                serde_json::json!({
                    "class": k.as_str(), "time_ms": x.time_s * 1e3, "flops": x.flops, "bytes": x.bytes,
                    "bound": x.bound.as_str(), "share": x.time_s / c.stage_time_s,
                })
            })
            .collect();
        let j = serde_json::json!({
            "model": model.id, "chip": hw.chip_id, "calibration": hw.params.provenance,
            "kind": kind, "notes": notes, "tp": a.tp, "pp": a.pp, "attn_dp": a.attn_dp, "ep": a.ep, "dtype": a.dtype.as_str(), "kv_dtype": kv.as_str(),
            "time_ms": c.time_s * 1e3, "tokens_per_s": tokens / c.stage_time_s,
            "power_w_per_chip": c.power_per_chip_w(chips), "bound": c.bound().as_str(),
            "weights_gb_per_chip": weights_gb, "kv_gb_per_chip": kv_gb,
            "hbm_gb_per_chip": hw.hbm_bytes / 1e9, "classes": classes,
        });
        outln!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} on {} × {} (tp {}, pp {}, attention dp {}, ep {}), {} weights, {} KV cache",
        model.name,
        chips,
        hw.chip_id,
        a.tp,
        a.pp,
        a.attn_dp,
        a.ep,
        a.dtype,
        kv
    );
    outln!("{kind}; efficiencies: {}", hw.params.provenance);
    for n in &notes {
        outln!("note: {n}");
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["class", "time ms", "share", "GFLOP", "GB", "bound"]);
    for k in OpClass::ALL {
        let x = c.class(k);
        if x.time_s <= 0.0 {
            continue;
        }
        t.add_row(vec![
            k.as_str().to_string(),
            format!("{:.4}", x.time_s * 1e3),
            format!("{:.1}%", 100.0 * x.time_s / c.stage_time_s),
            format!("{:.2}", x.flops / 1e9),
            format!("{:.3}", x.bytes / 1e9),
            x.bound.as_str().to_string(),
        ]);
    }
    outln!("{t}");
    outln!(
        "step {:.3} ms · {:.0} tokens/s · {:.0} W per chip · bound: {} · weights {:.1} GB + KV {:.2} GB of {:.0} GB per chip",
        c.time_s * 1e3,
        tokens / c.stage_time_s,
        c.power_per_chip_w(chips),
        c.bound().as_str(),
        weights_gb,
        kv_gb,
        hw.hbm_bytes / 1e9
    );
    if weights_gb + kv_gb > hw.hbm_bytes / 1e9 {
        eprintln!(
            "warning: weights and KV cache ({:.1} GB) exceed HBM ({:.0} GB) per chip",
            weights_gb + kv_gb,
            hw.hbm_bytes / 1e9
        );
    }
    Ok(ExitCode::SUCCESS)
}
