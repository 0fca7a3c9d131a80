//! Capacity of one serving replica at SLO, and a cache of it keyed by a hash of the inputs.
//!
//! The fleet planner never simulates millions of users request by request: it asks a
//! [`CapacityModel`] how many requests per second one replica of (model, system, engine,
//! parallel layout) serves while meeting a task's TTFT and TPOT SLOs, and scales that number
//! (multi-fidelity, see DESIGN.md). [`AnalyticCapacity`] is the low-fidelity level, built on
//! the step model of `tokenfab-perf`; a simulator-backed level plugs in through the same trait.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tokenfab_catalog::{Catalog, Dtype, Model};
use tokenfab_perf::{BatchShape, ClockMode, Hardware, Parallel, StepModel, StepOptions};

/// What a capacity is asked for: one task shape on one model on one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityQuery {
    /// Catalog model id.
    pub model: String,
    /// Catalog system id.
    pub system: String,
    /// Serving engine name (recorded; the analytic level models a generic continuous-batching
    /// engine with chunked prefill and CUDA graphs).
    pub engine: String,
    /// Weight format.
    pub weight_dtype: Dtype,
    /// MoE expert format (None: `weight_dtype`).
    pub moe_dtype: Option<Dtype>,
    /// KV-cache format.
    pub kv_dtype: Dtype,
    /// Prompt tokens per request.
    pub input_tokens: u64,
    /// Output tokens per request.
    pub output_tokens: u64,
    /// TTFT SLO, seconds.
    pub ttft_s: f64,
    /// TPOT SLO, seconds.
    pub tpot_s: f64,
    /// Only try this layout (None: search the layouts the system allows).
    pub parallel: Option<Parallel>,
}

/// Capacity of one replica at SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Which level produced it (`analytic`, `sim`).
    pub fidelity: String,
    /// Whether any layout meets the SLOs. If not, `reason` says why and rates are 0.
    pub feasible: bool,
    /// Why no layout meets the SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The layout chosen (highest requests/s per chip).
    pub parallel: Option<Parallel>,
    /// Chips one replica occupies.
    pub chips_per_replica: u32,
    /// Concurrent sequences in the decode batch.
    pub batch: u32,
    /// Requests per second one replica completes at SLO.
    pub requests_per_s_per_replica: f64,
    /// Tokens (input + output) per second one replica processes at SLO.
    pub tokens_per_s_per_replica: f64,
    /// Modelled mean TPOT at that load, ms.
    pub tpot_ms: f64,
    /// Modelled TTFT at that load (queueing excluded), ms.
    pub ttft_ms: f64,
    /// Chip energy per processed token (input + output), J.
    pub energy_j_per_token: f64,
    /// Mean chip power at that load, W.
    pub chip_power_w: f64,
}

impl Capacity {
    /// Requests per second per chip (0 when infeasible).
    pub fn requests_per_s_per_chip(&self) -> f64 {
        if self.feasible && self.chips_per_replica > 0 {
            self.requests_per_s_per_replica / self.chips_per_replica as f64
        } else {
            0.0
        }
    }

    pub(crate) fn infeasible(fidelity: &str, reason: String) -> Capacity {
        Capacity {
            fidelity: fidelity.into(),
            feasible: false,
            reason: Some(reason),
            parallel: None,
            chips_per_replica: 0,
            batch: 0,
            requests_per_s_per_replica: 0.0,
            tokens_per_s_per_replica: 0.0,
            tpot_ms: 0.0,
            ttft_ms: 0.0,
            energy_j_per_token: 0.0,
            chip_power_w: 0.0,
        }
    }
}

/// Errors of a capacity model (bad ids; an SLO that cannot be met is not an error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CapacityError {
    /// A catalog id is unknown.
    #[error("{0}")]
    Catalog(String),
    /// The performance model refused the inputs.
    #[error("{0}")]
    Perf(String),
}

/// Something that says how much one replica serves at SLO.
pub trait CapacityModel {
    /// Short name of the fidelity level (goes into the cache key and reports).
    fn fidelity(&self) -> &'static str;
    /// A string that changes whenever the model's answers would change for reasons the query and
    /// catalog entries do not show (e.g. a recalibrated performance model). Part of the cache key.
    fn fingerprint(&self, catalog: &Catalog, query: &CapacityQuery) -> String;
    /// The capacity.
    fn capacity(&self, catalog: &Catalog, query: &CapacityQuery) -> Result<Capacity, CapacityError>;
}

/// The analytic (low-fidelity) capacity model on [`StepModel`].
///
/// For each layout the system allows, it searches the largest decode batch `B` such that a
/// steady-state mixed step — `B` decode sequences at mean context `in + out/2` plus the
/// `B·in/out` prefill tokens needed to keep the batch full — takes at most the TPOT SLO, the
/// time to prefill one prompt in chunks of `max(B·in/out, min(in, chunk_tokens))` tokens is within
/// the TTFT SLO, and weights plus KV cache fit in `hbm_fraction` of HBM. Throughput is then
/// `B / (out · step time)` requests/s; energy from the step's energy at sustained (power-capped)
/// clocks. Queueing is not modelled here: the planner's utilization cap is the headroom for it.
#[derive(Debug, Clone)]
pub struct AnalyticCapacity {
    /// Fraction of HBM the engine may use for weights + KV (vLLM's `gpu_memory_utilization`).
    pub hbm_fraction: f64,
    /// Largest prefill chunk per step (token budget), tokens.
    pub chunk_tokens: u64,
    /// Largest decode batch tried.
    pub max_batch: u32,
}

impl Default for AnalyticCapacity {
    fn default() -> Self {
        AnalyticCapacity { hbm_fraction: 0.9, chunk_tokens: 8192, max_batch: 4096 }
    }
}

struct Eval {
    ok: bool,
    step_s: f64,
    ttft_s: f64,
    energy_j: f64,
    tokens: f64,
}

impl AnalyticCapacity {
    fn hardware(catalog: &Catalog, system: &str) -> Result<Hardware, CapacityError> {
        Hardware::from_catalog(catalog, system).map_err(|e| CapacityError::Catalog(e.to_string()))
    }

    fn options(q: &CapacityQuery) -> StepOptions {
        StepOptions {
            weight_dtype: q.weight_dtype,
            moe_dtype: q.moe_dtype,
            kv_dtype: q.kv_dtype,
            clock_mode: ClockMode::Sustained,
            ..StepOptions::default()
        }
    }

    /// Layouts to try: TP over powers of two inside the scale-up domain; for MoE models also
    /// attention-DP with expert parallelism (DeepSeek-style wide EP).
    fn layouts(model: &Model, hw: &Hardware, system_chips: u32) -> Vec<Parallel> {
        let limit = hw.scaleup_domain.max(1).min(system_chips.max(hw.scaleup_domain));
        let mut out = Vec::new();
        let mut k = 1;
        while k <= limit {
            out.push(Parallel::tp(k));
            if model.moe.is_some() && k > 1 {
                out.push(Parallel { tp: 1, pp: 1, attn_dp: k, moe_tp: 1, moe_ep: k });
            }
            k *= 2;
        }
        out.retain(|p| p.check(model, hw).is_ok());
        out
    }

    fn eval(&self, sm: &StepModel, q: &CapacityQuery, batch: u32, kv_budget_tokens: f64) -> Eval {
        let (inp, out) = (q.input_tokens as f64, q.output_tokens as f64);
        let ctx_mean = inp + out / 2.0;
        let b = batch as f64;
        // KV: every running sequence holds its context; 10 % headroom for block rounding.
        let kv_ok = b * ctx_mean * 1.1 <= kv_budget_tokens;
        // Steady state: each step finishes B/out requests, which need B·in/out prompt tokens.
        let prefill_per_step = b * inp / out;
        let mixed = |prefill: f64| {
            let mut shape = BatchShape::decode(batch, ctx_mean.round() as u64);
            if prefill >= 1.0 {
                if prefill >= inp {
                    let seqs = (prefill / inp).round().max(1.0) as u32;
                    for _ in 0..seqs.min(4096) {
                        shape.add_prefill(q.input_tokens, 0, true);
                    }
                } else {
                    let cached = ((inp - prefill) / 2.0).round() as u64;
                    shape.add_prefill(prefill.round() as u64, cached, false);
                }
            }
            sm.cost(&shape)
        };
        let avg = mixed(prefill_per_step);
        let step_s = avg.stage_time_s.max(avg.time_s / sm.parallel.pp as f64);
        // TTFT: the prompt is prefilled in chunks while the decode batch keeps running.
        let chunk = prefill_per_step.max(inp.min(self.chunk_tokens as f64)).min(inp).max(1.0);
        let ttft_s = if chunk >= prefill_per_step {
            let c = mixed(chunk);
            (inp / chunk).ceil() * c.time_s
        } else {
            (inp / chunk).ceil() * avg.time_s
        };
        let ok = kv_ok && step_s <= q.tpot_s && ttft_s <= q.ttft_s;
        Eval { ok, step_s, ttft_s, energy_j: avg.energy_j, tokens: b + prefill_per_step }
    }
}

impl CapacityModel for AnalyticCapacity {
    fn fidelity(&self) -> &'static str {
        "analytic"
    }

    fn fingerprint(&self, catalog: &Catalog, q: &CapacityQuery) -> String {
        // The cost of two probe steps: changes whenever the perf model or its calibration does.
        let probe = || -> Option<String> {
            let model = catalog.model(&q.model).ok()?;
            let hw = Self::hardware(catalog, &q.system).ok()?;
            let sm = StepModel::new(model, &hw, Parallel::default(), Self::options(q)).ok()?;
            let a = sm.cost(&BatchShape::decode(8, 1024));
            let b = sm.cost(&BatchShape::prefill(1, 1024));
            Some(format!(
                "{:016x}{:016x}{:016x}{:016x}",
                a.time_s.to_bits(),
                a.energy_j.to_bits(),
                b.time_s.to_bits(),
                b.energy_j.to_bits()
            ))
        };
        format!("{:?}|{}", self, probe().unwrap_or_default())
    }

    fn capacity(&self, catalog: &Catalog, q: &CapacityQuery) -> Result<Capacity, CapacityError> {
        let model = catalog.model(&q.model).map_err(|e| CapacityError::Catalog(e.to_string()))?;
        let system = catalog.system(&q.system).map_err(|e| CapacityError::Catalog(e.to_string()))?;
        let hw = Self::hardware(catalog, &q.system)?;
        let layouts = match q.parallel {
            Some(p) => vec![p],
            None => Self::layouts(model, &hw, system.chips.value),
        };
        if layouts.is_empty() {
            return Ok(Capacity::infeasible(self.fidelity(), "no valid parallel layout".into()));
        }
        let mut best: Option<Capacity> = None;
        let mut reasons = Vec::new();
        for p in layouts {
            let sm = StepModel::new(model, &hw, p, Self::options(q)).map_err(|e| CapacityError::Perf(e.to_string()))?;
            let weights = sm.weight_bytes_per_chip();
            let usable = hw.hbm_bytes * self.hbm_fraction;
            if weights >= usable {
                reasons.push(format!(
                    "{}: weights {:.0} GB/chip exceed {:.0} GB usable",
                    layout_name(&p),
                    weights / 1e9,
                    usable / 1e9
                ));
                continue;
            }
            let kv_per_token = sm.kv_bytes_per_token_per_chip().max(1e-9);
            // KV budget in tokens for the whole replica: each attention-DP rank holds its batch.
            let kv_budget_tokens = (usable - weights) / kv_per_token * p.attn_dp as f64;
            // Largest feasible batch: geometric scan, then bisection.
            let mut lo = 0u32;
            let mut hi = None;
            let mut b = 1u32;
            while b <= self.max_batch {
                if self.eval(&sm, q, b, kv_budget_tokens).ok {
                    lo = b;
                } else {
                    hi = Some(b);
                    break;
                }
                b = (b as f64 * 1.5).ceil() as u32;
            }
            if lo == 0 {
                let e = self.eval(&sm, q, 1, kv_budget_tokens);
                reasons.push(format!(
                    "{}: batch 1 gives step {:.1} ms (TPOT SLO {:.1}), TTFT {:.0} ms (SLO {:.0})",
                    layout_name(&p),
                    e.step_s * 1e3,
                    q.tpot_s * 1e3,
                    e.ttft_s * 1e3,
                    q.ttft_s * 1e3
                ));
                continue;
            }
            if let Some(mut h) = hi {
                while h - lo > 1 {
                    let mid = lo + (h - lo) / 2;
                    if self.eval(&sm, q, mid, kv_budget_tokens).ok {
                        lo = mid;
                    } else {
                        h = mid;
                    }
                }
            }
            // Throughput B / (out · step) usually grows with B, but not always (attention and
            // prefill grow faster than linearly): take the best feasible batch on the grid and
            // refine it between its grid neighbours (ternary search; λ is unimodal there).
            let rate = |b: u32| {
                let e = self.eval(&sm, q, b, kv_budget_tokens);
                b as f64 / (q.output_tokens as f64 * e.step_s)
            };
            let mut grid = vec![];
            let mut g = 1u32;
            while g < lo {
                grid.push(g);
                g = (g as f64 * 1.5).ceil() as u32;
            }
            grid.push(lo);
            let best_i = (0..grid.len()).fold(0, |bi, i| if rate(grid[i]) > rate(grid[bi]) { i } else { bi });
            let (mut a, mut z) = (grid[best_i.saturating_sub(1)], grid[(best_i + 1).min(grid.len() - 1)]);
            while z - a > 2 {
                let m1 = a + (z - a) / 3;
                let m2 = z - (z - a) / 3;
                if rate(m1) < rate(m2) { a = m1 } else { z = m2 }
            }
            let lo = (a..=z).fold(grid[best_i], |bb, b| if rate(b) > rate(bb) { b } else { bb });
            let e = self.eval(&sm, q, lo, kv_budget_tokens);
            let chips = p.chips();
            let rps = lo as f64 / (q.output_tokens as f64 * e.step_s);
            let cap = Capacity {
                fidelity: self.fidelity().into(),
                feasible: true,
                reason: None,
                parallel: Some(p),
                chips_per_replica: chips,
                batch: lo,
                requests_per_s_per_replica: rps,
                tokens_per_s_per_replica: rps * (q.input_tokens + q.output_tokens) as f64,
                tpot_ms: e.step_s * 1e3,
                ttft_ms: e.ttft_s * 1e3,
                energy_j_per_token: e.energy_j / e.tokens,
                chip_power_w: e.energy_j / e.step_s / chips as f64,
            };
            if best.as_ref().is_none_or(|b| cap.requests_per_s_per_chip() > b.requests_per_s_per_chip() * (1.0 + 1e-9))
            {
                best = Some(cap);
            }
        }
        Ok(best.unwrap_or_else(|| Capacity::infeasible(self.fidelity(), reasons.join("; "))))
    }
}

/// `tp4`, `dp8ep8`.
pub fn layout_name(p: &Parallel) -> String {
    let mut s = format!("tp{}", p.tp);
    if p.attn_dp > 1 {
        s = format!("dp{}", p.attn_dp);
        if p.tp > 1 {
            s.push_str(&format!("tp{}", p.tp));
        }
    }
    if p.moe_ep > 1 {
        s.push_str(&format!("ep{}", p.moe_ep));
    }
    if p.pp > 1 {
        s.push_str(&format!("pp{}", p.pp));
    }
    s
}

#[derive(Serialize)]
struct KeyMaterial<'a> {
    fidelity: &'a str,
    fingerprint: String,
    query: &'a CapacityQuery,
    model: Option<&'a Model>,
    chip: Option<&'a tokenfab_catalog::Chip>,
    system: Option<&'a tokenfab_catalog::System>,
    fabrics: Vec<&'a tokenfab_catalog::Fabric>,
}

/// The cache key of a query: SHA-256 over the canonical JSON of the query, the catalog entries
/// it touches, the fidelity level and that level's fingerprint.
pub fn capacity_key(model: &dyn CapacityModel, catalog: &Catalog, q: &CapacityQuery) -> String {
    let system = catalog.system(&q.system).ok();
    let fabrics = system
        .map(|s| {
            [s.scaleup_fabric.as_deref(), s.scaleout_fabric.as_deref()]
                .into_iter()
                .flatten()
                .filter_map(|f| catalog.fabric(f).ok())
                .collect()
        })
        .unwrap_or_default();
    let km = KeyMaterial {
        fidelity: model.fidelity(),
        fingerprint: model.fingerprint(catalog, q),
        query: q,
        model: catalog.model(&q.model).ok(),
        chip: system.and_then(|s| catalog.chip(&s.chip).ok()),
        system,
        fabrics,
    };
    // serde_json writes struct fields in declaration order and maps in key order: canonical.
    let json = serde_json::to_vec(&km).unwrap_or_default();
    let digest = Sha256::digest(&json);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Capacities by key, in memory; [`CapacityCache::to_json`] / [`CapacityCache::from_json`] let
/// the caller keep it on disk (`tokenfab plan --cache-dir`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CapacityCache {
    /// Entries by key.
    pub entries: BTreeMap<String, Capacity>,
    /// Look-ups answered from the cache in this process.
    #[serde(skip)]
    pub hits: u64,
    /// Look-ups computed in this process.
    #[serde(skip)]
    pub misses: u64,
}

impl CapacityCache {
    /// The capacity for a query, computed once per key.
    pub fn get_or_compute(
        &mut self,
        model: &dyn CapacityModel,
        catalog: &Catalog,
        q: &CapacityQuery,
    ) -> Result<Capacity, CapacityError> {
        let key = capacity_key(model, catalog, q);
        if let Some(c) = self.entries.get(&key) {
            self.hits += 1;
            return Ok(c.clone());
        }
        self.misses += 1;
        let c = model.capacity(catalog, q)?;
        self.entries.insert(key, c.clone());
        Ok(c)
    }

    /// The cache as JSON (stable order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// A cache from JSON written by [`CapacityCache::to_json`].
    pub fn from_json(text: &str) -> Result<CapacityCache, serde_json::Error> {
        serde_json::from_str(text)
    }
}
