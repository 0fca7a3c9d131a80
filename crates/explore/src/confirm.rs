//! Confirming frontier designs with the discrete-event simulator (`tokenfab-sim`).
//!
//! Each frontier design becomes a catalog chip; for every model of the workload its analytic
//! operating point (layout, batch) is simulated as one replica of a vLLM-profile engine (at most
//! `batch` running sequences) under an open-loop Poisson stream of requests drawn from the task
//! mix (seeded ChaCha8) at [`LOAD_FRACTION`] of the analytic throughput. The simulator adds what
//! the screen leaves out: queueing, per-step host overhead, prefill/decode interleaving request
//! by request, KV paging, ramp-up and drain. The result is the simulated throughput, energy,
//! latency percentiles and the share of requests meeting both SLOs (goodput).

use crate::cost::to_chip;
use crate::run::{DesignResult, Explorer};
use crate::screen::{Economics, ModelScore};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, EngineKind, EngineOverrides, ParallelSpec, SimConfig, Slo};
use tokenfab_workload::Request;

/// Requests simulated per running-sequence slot: enough for a steady state between ramp-up
/// and drain.
pub const REQUESTS_PER_CLIENT: u32 = 6;
/// Offered load as a fraction of the analytic throughput (headroom a real deployment keeps so
/// that queues stay short).
pub const LOAD_FRACTION: f64 = 0.85;
/// Fewest requests simulated per model.
pub const MIN_REQUESTS: u32 = 200;
/// Share of requests that must meet both SLOs for a design to count as confirmed.
pub const CONFIRM_GOODPUT_FRACTION: f64 = 0.9;

/// The simulated operating point of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimPoint {
    /// Model id.
    pub model: String,
    /// Layout simulated.
    pub layout: String,
    /// Running-sequence limit (the analytic batch).
    pub clients: u32,
    /// Offered load, requests per second.
    pub offered_requests_per_s: f64,
    /// Requests simulated.
    pub requests: u32,
    /// Output tokens per second per chip.
    pub tokens_per_s_per_chip: f64,
    /// Chip energy per output token, J.
    pub chip_j_per_token: f64,
    /// Median TPOT, ms.
    pub tpot_ms_p50: f64,
    /// 90th-percentile TPOT, ms.
    pub tpot_ms_p90: f64,
    /// 90th-percentile TTFT, ms.
    pub ttft_ms_p90: f64,
    /// Share of requests meeting both SLOs.
    pub goodput_fraction: f64,
}

/// A design (or catalog chip) as the simulator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimCheck {
    /// Design id or chip id.
    pub id: String,
    /// Simulated output tokens per second per chip over the mix.
    pub tokens_per_s_per_chip: f64,
    /// Simulated output tokens per joule over the mix.
    pub tokens_per_joule: f64,
    /// USD per million output tokens at the simulated throughput and power.
    pub usd_per_mtok: f64,
    /// Whether every model kept at least [`CONFIRM_GOODPUT_FRACTION`] of requests within SLO.
    pub meets_slo: bool,
    /// Per model.
    pub models: Vec<SimPoint>,
    /// Why the simulation could not run, if it could not.
    pub error: Option<String>,
}

fn parallel_of(layout: &str) -> ParallelSpec {
    // Layout names come from `screen::layouts`: tpN, tpN-epN, dpN-epN.
    let num = |s: &str| s.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse::<u32>().unwrap_or(1);
    let parts: Vec<&str> = layout.split('-').collect();
    match parts.as_slice() {
        [tp] => ParallelSpec { tp: num(tp), ..Default::default() },
        [a, ep] if a.starts_with("tp") => {
            ParallelSpec { tp: num(a), moe_tp: Some(1), moe_ep: Some(num(ep)), ..Default::default() }
        }
        [a, ep] => {
            ParallelSpec { tp: 1, attn_dp: num(a), moe_tp: Some(1), moe_ep: Some(num(ep)), ..Default::default() }
        }
        _ => ParallelSpec::default(),
    }
}

impl Explorer<'_> {
    /// A Poisson stream of `n` requests of the task mix at `rate_per_s` (task drawn by share).
    pub fn mix_requests(&self, n: u32, rate_per_s: f64, seed: u64) -> Vec<Request> {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
        let total: f64 = self.workload.tasks.iter().map(|t| t.share).sum();
        let mut t_s = 0.0f64;
        (0..n as u64)
            .map(|id| {
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                t_s += -u.ln() / rate_per_s;
                let mut x = rng.random_range(0.0..total);
                let mut k = 0;
                for (i, t) in self.workload.tasks.iter().enumerate() {
                    k = i;
                    if x < t.share {
                        break;
                    }
                    x -= t.share;
                }
                let t = &self.workload.tasks[k];
                Request {
                    id,
                    arrival_ns: (t_s * 1e9).round() as u64,
                    input_tokens: t.input_tokens,
                    output_tokens: t.output_tokens,
                    class: k as u16,
                    session: None,
                    turn: 0,
                    prefix: None,
                }
            })
            .collect()
    }

    /// The engine token budget used in confirmation for a replica batch `b` (a multiple of 256,
    /// at least 512).
    pub fn token_budget(&self, b: u32) -> u32 {
        let step = b as f64 * (1.0 + self.workload.input_per_output);
        ((2.0 * step / 256.0).ceil() as u32 * 256).max(512)
    }

    fn simulate_point(
        &self,
        catalog: &tokenfab_catalog::Catalog,
        chip_id: &str,
        m: &ModelScore,
        seed: u64,
    ) -> Result<SimPoint, String> {
        let parallel = parallel_of(&m.layout);
        let ranks = parallel.attn_dp.max(1);
        let per_rank = m.batch.div_ceil(ranks).max(1);
        let spec = DeploymentSpec {
            system: chip_id.into(),
            model: m.model.clone(),
            weight_dtype: self.workload.weight_dtype,
            moe_dtype: None,
            moe_act_dtype: None,
            kv_dtype: self.workload.kv_dtype,
            engine: EngineKind::Vllm,
            engine_options: EngineOverrides {
                // A token budget of twice the steady-state step (decode tokens plus the prompt
                // tokens that balance them), as an operator tuning for inter-token latency sets
                // it: the default (8,192) lets one long prompt stall every decode for a step.
                max_num_batched_tokens: Some(self.token_budget(m.batch)),
                max_num_seqs: Some(per_rank),
                cuda_graph_max_batch: Some(per_rank),
                // Synthetic requests share no prefixes.
                prefix_caching: Some(false),
                ..EngineOverrides::default()
            },
            replicas: 1,
            parallel,
            disagg: None,
            allow_multi_domain_tp: false,
        };
        let dep = Deployment::resolve(catalog, &spec).map_err(|e| e.to_string())?;
        let n = (m.batch * REQUESTS_PER_CLIENT).max(MIN_REQUESTS);
        let tasks = &self.workload.tasks;
        let share: f64 = tasks.iter().map(|t| t.share).sum();
        let mean_out: f64 = tasks.iter().map(|t| t.share / share * t.output_tokens as f64).sum();
        let rate = LOAD_FRACTION * m.tokens_per_s_per_chip * m.chips as f64 / mean_out;
        let slos =
            vec![Slo { class: 0, ttft_ms: self.workload.ttft_slo_s * 1e3, tpot_ms: self.workload.tpot_slo_s * 1e3 }];
        let cfg = SimConfig {
            arrivals: Arrivals::Timed,
            slos: slos.clone(),
            pue: self.space.figures.cost.pue,
            ..SimConfig::default()
        };
        let res = tokenfab_sim::run(&cfg, &dep, self.mix_requests(n, rate, seed).into_iter(), seed)
            .map_err(|e| e.to_string())?;
        let s = res.summary(&slos, dep.it_power_factor, cfg.pue);
        Ok(SimPoint {
            model: m.model.clone(),
            layout: m.layout.clone(),
            clients: m.batch,
            offered_requests_per_s: rate,
            requests: n,
            tokens_per_s_per_chip: s.throughput.output_tokens_per_s_per_chip,
            chip_j_per_token: s.energy.chip_j_per_output_token,
            tpot_ms_p50: s.latency.tpot_ms.p50,
            tpot_ms_p90: s.latency.tpot_ms.p90,
            ttft_ms_p90: s.latency.ttft_ms.p90,
            goodput_fraction: s.goodput.fraction,
        })
    }

    /// Simulates a design at its analytic operating points.
    pub fn confirm(&self, r: &DesignResult, seed: u64) -> SimCheck {
        let chip = to_chip(&r.design, &r.physical, &self.space.figures.cost, &self.space.file.name);
        let mut catalog = self.catalog.clone();
        catalog.chips.insert(chip.id.clone(), chip.clone());
        let econ = Economics::new(r.physical.capex_usd, &self.space.figures.cost);
        self.combine(&chip.id, &catalog, &r.score.models, &econ, seed)
    }

    /// Simulates a catalog chip at its analytic operating points.
    pub fn confirm_catalog_chip(&self, c: &crate::CatalogScore, seed: u64) -> Option<SimCheck> {
        let score = c.score.as_ref()?;
        let econ = Economics::new(c.capex_usd.unwrap_or(f64::NAN), &self.space.figures.cost);
        Some(self.combine(&c.chip, self.catalog, &score.models, &econ, seed))
    }

    fn combine(
        &self,
        chip_id: &str,
        catalog: &tokenfab_catalog::Catalog,
        models: &[ModelScore],
        econ: &Economics,
        seed: u64,
    ) -> SimCheck {
        let mut points = Vec::new();
        for m in models {
            match self.simulate_point(catalog, chip_id, m, seed) {
                Ok(p) => points.push(p),
                Err(e) => {
                    return SimCheck {
                        id: chip_id.into(),
                        tokens_per_s_per_chip: f64::NAN,
                        tokens_per_joule: f64::NAN,
                        usd_per_mtok: f64::NAN,
                        meets_slo: false,
                        models: points,
                        error: Some(format!("{}: {e}", m.model)),
                    };
                }
            }
        }
        let (mut s_per_tok, mut j_per_tok) = (0.0, 0.0);
        for ((_, share), p) in self.workload.models.iter().zip(&points) {
            s_per_tok += share / p.tokens_per_s_per_chip;
            j_per_tok += share * p.chip_j_per_token;
        }
        let tps = 1.0 / s_per_tok;
        SimCheck {
            id: chip_id.into(),
            tokens_per_s_per_chip: tps,
            tokens_per_joule: 1.0 / j_per_tok,
            usd_per_mtok: econ.usd_per_mtok(tps, j_per_tok * tps),
            meets_slo: points.iter().all(|p| p.goodput_fraction >= CONFIRM_GOODPUT_FRACTION),
            models: points,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_map_back_to_parallel_specs() {
        let check = |s: &str, tp: u32, dp: u32, ep: Option<u32>| {
            let p = parallel_of(s);
            assert_eq!((p.tp, p.attn_dp, p.moe_ep), (tp, dp, ep), "{s}");
        };
        check("tp1", 1, 1, None);
        check("tp8", 8, 1, None);
        check("tp4-ep4", 4, 1, Some(4));
        check("dp8-ep8", 1, 8, Some(8));
    }
}
