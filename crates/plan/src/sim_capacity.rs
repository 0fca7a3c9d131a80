//! The simulator-backed (high-fidelity) capacity level: `tokenfab-sim` replays Poisson traffic of
//! one task on one replica and a bisection finds the highest offered load whose goodput meets the
//! SLOs.
//!
//! Multi-fidelity: the analytic level ([`AnalyticCapacity`]) picks the layout and gives the
//! starting rate; the simulator then checks it with queueing, continuous batching, chunked
//! prefill, KV-cache limits and engine overheads the analytic level leaves out.

use crate::capacity::{AnalyticCapacity, Capacity, CapacityError, CapacityModel, CapacityQuery};
use rand::{RngExt, SeedableRng};
use tokenfab_catalog::Catalog;
use tokenfab_sim::{
    Arrivals, Deployment, DeploymentSpec, EngineKind, EngineOverrides, ParallelSpec, SimConfig, Slo, run,
};
use tokenfab_workload::Request;

/// Capacity at SLO from the discrete-event simulator.
#[derive(Debug, Clone)]
pub struct SimCapacity {
    /// The analytic level that chooses the layout and the starting rate.
    pub analytic: AnalyticCapacity,
    /// Fraction of requests that must meet both SLOs (goodput / throughput).
    pub goodput_target: f64,
    /// Requests simulated per point: this many per batch slot of the analytic batch, clamped.
    pub requests_per_batch_slot: u32,
    /// Fewest requests per point.
    pub min_requests: u32,
    /// Most requests per point (a bound on work).
    pub max_requests: u32,
    /// Bisection steps over the offered load.
    pub search_steps: u32,
    /// Highest offered load tried, as a multiple of the analytic rate.
    pub max_load_factor: f64,
    /// Seed of the arrival process.
    pub seed: u64,
}

impl Default for SimCapacity {
    fn default() -> Self {
        SimCapacity {
            analytic: AnalyticCapacity::default(),
            goodput_target: 0.9,
            requests_per_batch_slot: 4,
            min_requests: 200,
            max_requests: 6000,
            search_steps: 6,
            max_load_factor: 1.5,
            seed: 1,
        }
    }
}

struct Point {
    goodput_fraction: f64,
    requests_per_s: f64,
    tpot_ms_p90: f64,
    ttft_ms_p90: f64,
    chip_j_per_output_token: f64,
    chip_power_w: f64,
}

impl SimCapacity {
    fn requests(&self, q: &CapacityQuery, n: u32, rate_per_s: f64) -> Vec<Request> {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(self.seed);
        let mut t_s = 0.0f64;
        (0..n as u64)
            .map(|id| {
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                t_s += -u.ln() / rate_per_s;
                Request {
                    id,
                    arrival_ns: (t_s * 1e9).round() as u64,
                    input_tokens: q.input_tokens.min(u32::MAX as u64) as u32,
                    output_tokens: q.output_tokens.min(u32::MAX as u64) as u32,
                    class: 0,
                    session: None,
                    turn: 0,
                    prefix: None,
                }
            })
            .collect()
    }

    fn point(&self, dep: &Deployment, q: &CapacityQuery, n: u32, rate: f64) -> Result<Point, CapacityError> {
        let slos = vec![Slo { class: 0, ttft_ms: q.ttft_s * 1e3, tpot_ms: q.tpot_s * 1e3 }];
        let cfg = SimConfig { arrivals: Arrivals::Timed, slos: slos.clone(), ..SimConfig::default() };
        let res = run(&cfg, dep, self.requests(q, n, rate).into_iter(), self.seed)
            .map_err(|e| CapacityError::Perf(format!("simulator: {e}")))?;
        let s = res.summary(&slos, dep.it_power_factor, cfg.pue);
        Ok(Point {
            goodput_fraction: s.goodput.fraction,
            requests_per_s: s.throughput.requests_per_s,
            tpot_ms_p90: s.latency.tpot_ms.p90,
            ttft_ms_p90: s.latency.ttft_ms.p90,
            chip_j_per_output_token: s.energy.chip_j_per_output_token,
            chip_power_w: s.energy.mean_chip_power_w,
        })
    }
}

fn engine_kind(name: &str) -> Result<EngineKind, CapacityError> {
    match name.to_ascii_lowercase().as_str() {
        "vllm" => Ok(EngineKind::Vllm),
        "sglang" => Ok(EngineKind::Sglang),
        "trtllm" | "tensorrt-llm" => Ok(EngineKind::Trtllm),
        other => Err(CapacityError::Perf(format!("unknown engine `{other}`: expected vllm, sglang or trtllm"))),
    }
}

impl CapacityModel for SimCapacity {
    fn fidelity(&self) -> &'static str {
        "sim"
    }

    fn fingerprint(&self, catalog: &Catalog, q: &CapacityQuery) -> String {
        format!("{:?}|{}", self, self.analytic.fingerprint(catalog, q))
    }

    fn capacity(&self, catalog: &Catalog, q: &CapacityQuery) -> Result<Capacity, CapacityError> {
        let a = self.analytic.capacity(catalog, q)?;
        let Some(p) = a.parallel.filter(|_| a.feasible) else {
            return Ok(Capacity { fidelity: self.fidelity().into(), ..a });
        };
        let ranks = p.attn_dp.max(1);
        // Room above the analytic batch so the simulator, not the cap, finds the limit.
        let per_rank = (a.batch * 2).div_ceil(ranks).max(1);
        let spec = DeploymentSpec {
            system: q.system.clone(),
            model: q.model.clone(),
            weight_dtype: q.weight_dtype,
            moe_dtype: q.moe_dtype,
            moe_act_dtype: None,
            kv_dtype: q.kv_dtype,
            engine: engine_kind(&q.engine)?,
            engine_options: EngineOverrides {
                max_num_seqs: Some(per_rank),
                cuda_graph_max_batch: Some(per_rank),
                prefix_caching: Some(false),
                ..EngineOverrides::default()
            },
            replicas: 1,
            parallel: ParallelSpec {
                tp: p.tp,
                pp: p.pp,
                attn_dp: p.attn_dp,
                moe_tp: Some(p.moe_tp),
                moe_ep: Some(p.moe_ep),
            },
            disagg: None,
            allow_multi_domain_tp: false,
        };
        let dep = Deployment::resolve(catalog, &spec).map_err(|e| CapacityError::Perf(format!("simulator: {e}")))?;
        let n = (a.batch * self.requests_per_batch_slot).clamp(self.min_requests, self.max_requests);
        let rate_a = a.requests_per_s_per_replica;
        // Bisection over the load factor: `lo` meets the goodput target, `hi` does not.
        let (mut lo, mut hi) = (0.0f64, self.max_load_factor);
        let mut best: Option<Point> = None;
        let top = self.point(&dep, q, n, rate_a * hi)?;
        if top.goodput_fraction >= self.goodput_target {
            best = Some(top);
        } else {
            for _ in 0..self.search_steps {
                let mid = (lo + hi) / 2.0;
                let pt = self.point(&dep, q, n, rate_a * mid)?;
                if pt.goodput_fraction >= self.goodput_target {
                    lo = mid;
                    best = Some(pt);
                } else {
                    hi = mid;
                }
            }
        }
        let Some(b) = best else {
            return Ok(Capacity::infeasible(
                self.fidelity(),
                format!(
                    "simulated: even {:.0} % of the analytic rate ({:.2} req/s) misses the {:.0} % goodput target",
                    hi * 100.0,
                    rate_a * hi,
                    self.goodput_target * 100.0
                ),
            ));
        };
        let tokens_per_request = (q.input_tokens + q.output_tokens) as f64;
        // Goodput: the requests that meet the SLOs at the highest passing load.
        let rps = b.requests_per_s * b.goodput_fraction;
        Ok(Capacity {
            fidelity: self.fidelity().into(),
            feasible: true,
            reason: None,
            parallel: Some(p),
            chips_per_replica: a.chips_per_replica,
            batch: a.batch,
            requests_per_s_per_replica: rps,
            tokens_per_s_per_replica: rps * tokens_per_request,
            tpot_ms: b.tpot_ms_p90,
            ttft_ms: b.ttft_ms_p90,
            energy_j_per_token: b.chip_j_per_output_token * q.output_tokens as f64 / tokens_per_request,
            chip_power_w: b.chip_power_w,
        })
    }
}
