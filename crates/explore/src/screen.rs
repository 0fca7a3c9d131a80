//! Analytic screening: the largest batch that meets the SLOs on each layout, and what it yields
//! in tokens per second, tokens per joule and dollars per million tokens.
//!
//! Steady state of continuous batching with chunked prefill: `b` sequences decode one token per
//! step while the step also carries the prompt tokens that keep the mix in balance (`b × input
//! tokens per output token`, as prefill chunks). TPOT is that step's time; TTFT is the time to
//! prefill the longest prompt of the mix on an idle replica plus one step. Queueing is not
//! modelled here (the simulator confirms the frontier).

use crate::Rejection;
use crate::figures::CostModel;
use crate::space::{TaskSpec, WorkloadSpec};
use serde::{Deserialize, Serialize};
use tokenfab_catalog::{Catalog, Dtype, Model};
use tokenfab_perf::{BatchShape, ClockMode, Hardware, Parallel, StepModel, StepOptions};

/// A workload ready to score: models resolved in the catalog, mix statistics derived.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name.
    pub name: String,
    /// Models with their normalized share of output tokens.
    pub models: Vec<(Model, f64)>,
    /// Task classes.
    pub tasks: Vec<TaskSpec>,
    /// Weight format.
    pub weight_dtype: Dtype,
    /// KV format.
    pub kv_dtype: Dtype,
    /// TTFT target, s (the workload default; tasks may have their own).
    pub ttft_slo_s: f64,
    /// TPOT target, s: the tightest of the tasks' (every sequence in a step sees the same TPOT).
    pub tpot_slo_s: f64,
    /// TTFT checks: (prompt tokens, target in s), one per task.
    pub ttft_checks: Vec<(u32, f64)>,
    /// Fraction of the SLOs the analytic mean step times are held to.
    pub slo_headroom: f64,
    /// Fraction of the KV space the batch may fill at the mean context.
    pub kv_headroom: f64,
    /// Per task (same order as `tasks`): (TTFT target, TPOT target), s.
    pub task_slos_s: Vec<(f64, f64)>,
    /// Usable fraction of HBM.
    pub hbm_usable_fraction: f64,
    /// Largest batch searched.
    pub max_batch: u32,
    /// Prompt tokens per generated token over the mix.
    pub input_per_output: f64,
    /// Mean cached context of a decoding sequence (weighted by output tokens), tokens.
    pub mean_context: f64,
    /// Mean prompt length per request, tokens.
    pub mean_input: f64,
    /// Longest prompt of the mix, tokens.
    pub max_input: u32,
}

impl Workload {
    /// Resolves the models of a workload spec in a catalog (first of id and fallbacks found).
    /// Returns the workload and, per spec entry, which id was used.
    pub fn resolve(spec: &WorkloadSpec, catalog: &Catalog) -> Result<Workload, String> {
        let mut models = Vec::new();
        for m in &spec.models {
            let found = std::iter::once(&m.id).chain(m.fallback.iter()).find_map(|id| catalog.model(id).ok());
            match found {
                Some(model) => models.push((model.clone(), m.share)),
                None => {
                    return Err(format!(
                        "workload model `{}` (and fallbacks {:?}) not in the catalog; known: {}",
                        m.id,
                        m.fallback,
                        catalog.models.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        let tasks = match &spec.from {
            Some(name) => tasks_from_workload(name)?,
            None => spec.tasks.clone(),
        };
        let total: f64 = models.iter().map(|m| m.1).sum();
        for m in &mut models {
            m.1 /= total;
        }
        let s_total: f64 = tasks.iter().map(|t| t.share).sum();
        let out: f64 = tasks.iter().map(|t| t.share / s_total * t.output_tokens as f64).sum();
        let inp: f64 = tasks.iter().map(|t| t.share / s_total * t.input_tokens as f64).sum();
        let ctx: f64 = tasks
            .iter()
            .map(|t| {
                t.share / s_total * t.output_tokens as f64 * (t.input_tokens as f64 + t.output_tokens as f64 / 2.0)
            })
            .sum::<f64>()
            / out;
        Ok(Workload {
            name: spec.name.clone(),
            models,
            weight_dtype: spec.weight_dtype,
            kv_dtype: spec.kv_dtype,
            ttft_slo_s: spec.ttft_slo_ms / 1e3,
            tpot_slo_s: tasks
                .iter()
                .map(|t| t.tpot_slo_ms.unwrap_or(spec.tpot_slo_ms))
                .fold(spec.tpot_slo_ms, f64::min)
                / 1e3,
            slo_headroom: spec.slo_headroom,
            kv_headroom: spec.kv_headroom,
            task_slos_s: tasks
                .iter()
                .map(|t| {
                    (t.ttft_slo_ms.unwrap_or(spec.ttft_slo_ms) / 1e3, t.tpot_slo_ms.unwrap_or(spec.tpot_slo_ms) / 1e3)
                })
                .collect(),
            ttft_checks: tasks
                .iter()
                .map(|t| {
                    (t.ttft_input_tokens.unwrap_or(t.input_tokens), t.ttft_slo_ms.unwrap_or(spec.ttft_slo_ms) / 1e3)
                })
                .collect(),
            hbm_usable_fraction: spec.hbm_usable_fraction,
            max_batch: spec.max_batch,
            input_per_output: inp / out,
            mean_context: ctx,
            mean_input: inp,
            max_input: tasks.iter().map(|t| t.ttft_input_tokens.unwrap_or(t.input_tokens)).max().unwrap_or(1),
            tasks,
        })
    }

    /// The steady-state step of `b` decoding sequences plus the prompt chunks that balance them.
    pub fn step_shape(&self, b: u32) -> BatchShape {
        let mut s = BatchShape::decode(b, self.mean_context.round() as u64);
        let p = (b as f64 * self.input_per_output).round() as u64;
        if p > 0 {
            let mean_in = self.mean_input.round().max(1.0) as u64;
            let chunk = p.min(mean_in);
            s.prefill_seqs = p.div_ceil(chunk) as u32;
            s.prefill_tokens = p;
            s.prefill_tokens_sq = p as f64 * chunk as f64;
            s.prefill_cached_x_new = p as f64 * (mean_in - chunk) as f64 / 2.0;
            s.logits_seqs += p.div_ceil(mean_in) as u32;
        }
        s
    }
}

/// Requests sampled from a workload-crate workload to derive a task mix.
pub const MIX_SAMPLE_REQUESTS: usize = 20_000;
/// Seed of that sample (fixed, so the mix does not depend on the run's seed).
pub const MIX_SAMPLE_SEED: u64 = 1;

/// The task mix of a workload-crate workload (`builtin:assistant`): per class, share of
/// requests, mean prompt and output tokens, p90 prompt (for the TTFT check) and the class SLOs,
/// from [`MIX_SAMPLE_REQUESTS`] generated requests.
pub fn tasks_from_workload(name: &str) -> Result<Vec<TaskSpec>, String> {
    let spec = tokenfab_workload::WorkloadSpec::builtin(name).ok_or_else(|| format!("unknown workload `{name}`"))?;
    let requests = spec.generate(MIX_SAMPLE_SEED).map_err(|e| format!("workload `{name}`: {e}"))?;
    let mut per_class: Vec<(Vec<u32>, u64)> = vec![(Vec::new(), 0); spec.classes.len()];
    for r in requests.take(MIX_SAMPLE_REQUESTS) {
        if let Some(c) = per_class.get_mut(r.class as usize) {
            c.0.push(r.input_tokens);
            c.1 += r.output_tokens as u64;
        }
    }
    let n: usize = per_class.iter().map(|c| c.0.len()).sum();
    let mut tasks = Vec::new();
    for (class, (mut inputs, out)) in spec.classes.iter().zip(per_class) {
        if inputs.is_empty() {
            continue;
        }
        inputs.sort_unstable();
        let k = inputs.len();
        let mean_in = inputs.iter().map(|&x| x as u64).sum::<u64>() as f64 / k as f64;
        // Nearest-rank p90.
        let p90 = inputs[((0.9 * k as f64).ceil() as usize).clamp(1, k) - 1];
        tasks.push(TaskSpec {
            name: class.name.clone(),
            share: k as f64 / n as f64,
            input_tokens: (mean_in.round() as u32).max(1),
            output_tokens: ((out as f64 / k as f64).round() as u32).max(1),
            ttft_input_tokens: Some(p90.max(1)),
            ttft_slo_ms: Some(class.slo.ttft_ms),
            tpot_slo_ms: Some(class.slo.tpot_ms),
        });
    }
    if tasks.is_empty() {
        return Err(format!("workload `{name}` generated no requests"));
    }
    Ok(tasks)
}

/// The best operating point of one model on one chip type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScore {
    /// Model id.
    pub model: String,
    /// Layout, e.g. `tp8`, `tp8-ep8`, `dp8-ep8`.
    pub layout: String,
    /// Chips per replica.
    pub chips: u32,
    /// Decode batch per replica.
    pub batch: u32,
    /// Output tokens per second per chip.
    pub tokens_per_s_per_chip: f64,
    /// Average chip power at that point, W.
    pub power_w_per_chip: f64,
    /// Step time (TPOT), ms.
    pub tpot_ms: f64,
    /// TTFT of the longest prompt checked (idle-replica prefill plus one step), ms.
    pub ttft_ms: f64,
    /// Cost per million output tokens, USD.
    pub usd_per_mtok: f64,
}

/// A chip's score on the whole workload (models combined by their token shares).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Output tokens per second per chip over the mix.
    pub tokens_per_s_per_chip: f64,
    /// Output tokens per joule of chip energy over the mix.
    pub tokens_per_joule: f64,
    /// Average chip power over the mix, W.
    pub power_w_per_chip: f64,
    /// USD per million output tokens (capex amortized + energy × PUE).
    pub usd_per_mtok: f64,
    /// Per-model operating points.
    pub models: Vec<ModelScore>,
}

/// Capital and energy prices a score is computed with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Economics {
    /// Capital cost per deployed chip, USD.
    pub capex_usd: f64,
    /// Years it is amortized over.
    pub amortization_years: f64,
    /// USD per kWh.
    pub usd_per_kwh: f64,
    /// Facility PUE.
    pub pue: f64,
}

impl Economics {
    /// From the cost model and a capex.
    pub fn new(capex_usd: f64, c: &CostModel) -> Economics {
        Economics {
            capex_usd,
            amortization_years: c.amortization_years,
            usd_per_kwh: c.electricity_usd_per_kwh,
            pue: c.pue,
        }
    }
    /// USD per chip-second of capital.
    pub fn capex_usd_per_s(&self) -> f64 {
        self.capex_usd / (self.amortization_years * 365.25 * 86_400.0)
    }
    /// USD per million tokens at a throughput and power per chip.
    pub fn usd_per_mtok(&self, tokens_per_s: f64, power_w: f64) -> f64 {
        let energy_usd_per_s = power_w * self.pue * self.usd_per_kwh / 3.6e6;
        1e6 * (self.capex_usd_per_s() + energy_usd_per_s) / tokens_per_s
    }
}

/// Candidate layouts for a model within a scale-up domain: TP over powers of two, and for MoE
/// models expert parallelism with TP or with data-parallel attention.
pub fn layouts(model: &Model, domain: u32) -> Vec<(String, Parallel)> {
    let mut v = Vec::new();
    let mut t = 1u32;
    while t <= domain && t <= model.num_attention_heads {
        v.push((format!("tp{t}"), Parallel::tp(t)));
        if let Some(moe) = &model.moe
            && t > 1
            && moe.num_experts % t == 0
        {
            v.push((format!("tp{t}-ep{t}"), Parallel { tp: t, pp: 1, attn_dp: 1, moe_tp: 1, moe_ep: t }));
            v.push((format!("dp{t}-ep{t}"), Parallel { tp: 1, pp: 1, attn_dp: t, moe_tp: 1, moe_ep: t }));
        }
        t *= 2;
    }
    v
}

/// How far a layout got before failing, to name the reason when no layout works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Fit,
    Ttft,
    Tpot,
}

/// Scores a chip on a workload. `pinned_weight_bytes` is on-chip SRAM a compiler can hold
/// weights in (0 for GPUs, whose L2 is a cache): those bytes are not streamed from HBM.
pub fn score(hw: &Hardware, pinned_weight_bytes: f64, w: &Workload, econ: &Economics) -> Result<Score, Rejection> {
    let options = StepOptions {
        weight_dtype: w.weight_dtype,
        kv_dtype: w.kv_dtype,
        clock_mode: ClockMode::Sustained,
        ..StepOptions::default()
    };
    let usable = hw.hbm_bytes * w.hbm_usable_fraction;
    let mut models = Vec::with_capacity(w.models.len());
    for (model, _) in &w.models {
        let mut best: Option<ModelScore> = None;
        let mut reached: Option<Stage> = None;
        for (name, par) in layouts(model, hw.scaleup_domain) {
            let Ok(probe) = StepModel::new(model, hw, par, options.clone()) else { continue };
            let weights = probe.weight_bytes_per_chip();
            let kv_seq = probe.kv_bytes_per_token_per_chip() * w.mean_context
                + model.linear_state_bytes_per_seq() / par.tp as f64;
            let free = usable - weights;
            let b_mem = if free > 0.0 { (free * w.kv_headroom / kv_seq).floor() * par.attn_dp as f64 } else { 0.0 };
            if b_mem < 1.0 {
                reached = reached.max(Some(Stage::Fit));
                continue;
            }
            // Weights pinned in SRAM are not streamed: a higher effective bandwidth for the
            // weight share of traffic (capped, since KV reads do not benefit).
            let sm = if pinned_weight_bytes > 0.0 {
                let pinned = pinned_weight_bytes.min(weights);
                let boost = (weights / (weights - pinned).max(1.0)).min(1.5);
                let mut h = hw.clone();
                h.hbm_bytes_per_s *= boost;
                match StepModel::new(model, &h, par, options.clone()) {
                    Ok(s) => s,
                    Err(_) => continue,
                }
            } else {
                probe
            };
            let b_hi = (b_mem.min(w.max_batch as f64)) as u32;
            // TTFT of each task's prompt on an idle replica; the tightest margin bounds the step.
            let mut ttft_margin = f64::INFINITY;
            let mut prefill_s = 0.0f64;
            for &(len, slo) in &w.ttft_checks {
                let p = sm.cost(&BatchShape::prefill(1, len as u64)).time_s;
                ttft_margin = ttft_margin.min(slo * w.slo_headroom - p);
                prefill_s = prefill_s.max(p);
            }
            if ttft_margin < 0.0 {
                reached = reached.max(Some(Stage::Ttft));
                continue;
            }
            let ok = |b: u32| {
                let c = sm.cost(&w.step_shape(b));
                let good = c.time_s <= w.tpot_slo_s * w.slo_headroom && c.time_s <= ttft_margin;
                (good, c)
            };
            let (good1, c1) = ok(1);
            if !good1 {
                reached = reached.max(Some(Stage::Tpot));
                continue;
            }
            // Largest b in [1, b_hi] meeting both SLOs (step time grows with b).
            let (mut lo, mut lo_cost, mut hi) = (1u32, c1, b_hi + 1);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let (g, c) = ok(mid);
                if g {
                    lo = mid;
                    lo_cost = c;
                } else {
                    hi = mid;
                }
            }
            let chips = par.chips();
            let tps = lo as f64 / lo_cost.time_s / chips as f64;
            let power = lo_cost.power_per_chip_w(chips);
            let cand = ModelScore {
                model: model.id.clone(),
                layout: name,
                chips,
                batch: lo,
                tokens_per_s_per_chip: tps,
                power_w_per_chip: power,
                tpot_ms: lo_cost.time_s * 1e3,
                ttft_ms: (prefill_s + lo_cost.time_s) * 1e3,
                usd_per_mtok: econ.usd_per_mtok(tps, power),
            };
            // Cheapest per token wins; ties go to the first (smaller) layout.
            if best.as_ref().is_none_or(|b| cand.usd_per_mtok < b.usd_per_mtok) {
                best = Some(cand);
            }
        }
        match best {
            Some(b) => models.push(b),
            None => {
                return Err(match reached {
                    None | Some(Stage::Fit) => Rejection::DoesNotFit,
                    Some(Stage::Ttft) => Rejection::TtftSlo,
                    Some(Stage::Tpot) => Rejection::TpotSlo,
                });
            }
        }
    }
    // Combine models by output-token share: chip-seconds and joules per token add up.
    let mut chip_s_per_tok = 0.0;
    let mut j_per_tok = 0.0;
    for ((_, share), m) in w.models.iter().zip(&models) {
        chip_s_per_tok += share / m.tokens_per_s_per_chip;
        j_per_tok += share * m.power_w_per_chip / m.tokens_per_s_per_chip;
    }
    let tps = 1.0 / chip_s_per_tok;
    let power = j_per_tok * tps;
    Ok(Score {
        tokens_per_s_per_chip: tps,
        tokens_per_joule: 1.0 / j_per_tok,
        power_w_per_chip: power,
        usd_per_mtok: econ.usd_per_mtok(tps, power),
        models,
    })
}
