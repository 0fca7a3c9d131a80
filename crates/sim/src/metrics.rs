//! Results: per-request records, counters, and the summary (DESIGN.md definitions: TTFT is
//! arrival → first token; TPOT is (E2E − TTFT) / (output tokens − 1); ITL the gaps between
//! consecutive tokens; percentiles nearest-rank).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One request's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// Request id (from the workload).
    pub id: u64,
    /// Class index.
    pub class: u16,
    /// Arrival (closed loop: when the client sent it), ns.
    pub arrival_ns: u64,
    /// First output token, ns (None if it never came).
    pub first_token_ns: Option<u64>,
    /// Last output token, ns (None if unfinished).
    pub finish_ns: Option<u64>,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: u32,
    /// Times preempted (recompute).
    pub preemptions: u32,
    /// Replica (engine instance) index that took it (prefill replica when disaggregated).
    pub replica: u32,
    /// Decode replica when disaggregated.
    pub decode_replica: Option<u32>,
}

impl RequestRecord {
    /// TTFT, ns.
    pub fn ttft_ns(&self) -> Option<u64> {
        self.first_token_ns.map(|t| t - self.arrival_ns)
    }
    /// E2E latency, ns.
    pub fn e2e_ns(&self) -> Option<u64> {
        self.finish_ns.map(|t| t - self.arrival_ns)
    }
    /// TPOT, ns (None for single-token outputs and unfinished requests).
    pub fn tpot_ns(&self) -> Option<f64> {
        match (self.finish_ns, self.first_token_ns) {
            (Some(f), Some(t)) if self.output_tokens > 1 => Some((f - t) as f64 / (self.output_tokens - 1) as f64),
            _ => None,
        }
    }
}

/// Event and work counters (simulated, deterministic).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Engine iterations (steps) over all replicas.
    pub engine_iterations: u64,
    /// Events processed.
    pub events: u64,
    /// Requests that arrived.
    pub requests_arrived: u64,
    /// Requests that finished.
    pub requests_completed: u64,
    /// Requests still queued or running when the run stopped.
    pub requests_unfinished: u64,
    /// Requests dropped because they can never fit in the KV cache.
    pub requests_rejected: u64,
    /// Preemptions (recompute).
    pub preemptions: u64,
    /// Output tokens produced (recomputed tokens counted once).
    pub output_tokens: u64,
    /// KV transfers (disaggregated).
    pub kv_transfers: u64,
    /// Arrivals earlier than the previous one (replayed out of order; delivered at once).
    pub out_of_order_arrivals: u64,
    /// Whether the run hit `max_sim_time`.
    pub stopped_at_time_limit: bool,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.engine_iterations += o.engine_iterations;
        self.events += o.events;
        self.requests_arrived += o.requests_arrived;
        self.requests_completed += o.requests_completed;
        self.requests_unfinished += o.requests_unfinished;
        self.requests_rejected += o.requests_rejected;
        self.preemptions += o.preemptions;
        self.output_tokens += o.output_tokens;
        self.kv_transfers += o.kv_transfers;
        self.out_of_order_arrivals += o.out_of_order_arrivals;
        self.stopped_at_time_limit |= o.stopped_at_time_limit;
    }
}

/// Everything one simulation produced.
#[derive(Debug, Clone)]
pub struct SimResult {
    /// One record per request, in arrival order.
    pub records: Vec<RequestRecord>,
    /// Counters.
    pub counters: Counters,
    /// Inter-token gaps: (gap ns, quantized to 7 significant bits; count), sorted.
    pub itl_ns: Vec<(u64, u64)>,
    /// Simulated time at the end, ns.
    pub end_ns: u64,
    /// Energy of all chips (busy steps + idle), J.
    pub chip_energy_j: f64,
    /// Time-weighted mean fraction of KV blocks in use.
    pub kv_utilization_mean: f64,
    /// Peak fraction of KV blocks in use on any replica.
    pub kv_utilization_peak: f64,
    /// Accelerators.
    pub chips: u64,
    /// Step-model evaluations (memo misses). Not a simulated result: with memo tables shared
    /// across threads it depends on scheduling, so it stays out of the summary.
    pub step_cost_evaluations: u64,
}

impl SimResult {
    /// Joins results of independent replica groups simulated separately (in the given order).
    pub fn merge(parts: Vec<SimResult>) -> SimResult {
        let mut out = SimResult {
            records: Vec::new(),
            counters: Counters::default(),
            itl_ns: Vec::new(),
            end_ns: 0,
            chip_energy_j: 0.0,
            kv_utilization_mean: 0.0,
            kv_utilization_peak: 0.0,
            chips: 0,
            step_cost_evaluations: 0,
        };
        let mut itl: BTreeMap<u64, u64> = BTreeMap::new();
        let end = parts.iter().map(|p| p.end_ns).max().unwrap_or(0);
        let mut kv_w = 0.0;
        for p in parts {
            out.counters.add(&p.counters);
            for (g, c) in p.itl_ns {
                *itl.entry(g).or_default() += c;
            }
            // Groups that ended earlier sat idle until the last one ended.
            out.chip_energy_j += p.chip_energy_j;
            kv_w += p.kv_utilization_mean * p.end_ns as f64 * p.chips as f64;
            out.kv_utilization_peak = out.kv_utilization_peak.max(p.kv_utilization_peak);
            out.chips += p.chips;
            out.step_cost_evaluations += p.step_cost_evaluations;
            out.records.extend(p.records);
        }
        out.end_ns = end;
        out.kv_utilization_mean = if end > 0 && out.chips > 0 { kv_w / (end as f64 * out.chips as f64) } else { 0.0 };
        out.itl_ns = itl.into_iter().collect();
        out.records.sort_by_key(|r| (r.arrival_ns, r.id));
        out
    }
}

/// Latency targets of one request class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Class index the SLO applies to (requests of other classes use the first SLO listed).
    #[serde(default)]
    pub class: u16,
    /// TTFT target, ms.
    pub ttft_ms: f64,
    /// TPOT target, ms.
    pub tpot_ms: f64,
}

/// Mean and nearest-rank percentiles, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Dist {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `p` % at or below.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(n) - 1])
}

fn dist_ns(mut v: Vec<f64>) -> Dist {
    if v.is_empty() {
        return Dist::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let ms = |x: f64| x * 1e-6;
    Dist {
        count: v.len() as u64,
        mean: ms(v.iter().sum::<f64>() / v.len() as f64),
        p50: ms(nearest_rank(&v, 50.0).unwrap_or(0.0)),
        p90: ms(nearest_rank(&v, 90.0).unwrap_or(0.0)),
        p99: ms(nearest_rank(&v, 99.0).unwrap_or(0.0)),
    }
}

fn dist_weighted(v: &[(u64, u64)]) -> Dist {
    let n: u64 = v.iter().map(|x| x.1).sum();
    if n == 0 {
        return Dist::default();
    }
    let pct = |p: f64| {
        let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as u64;
        let mut acc = 0;
        for &(g, c) in v {
            acc += c;
            if acc >= rank {
                return g as f64 * 1e-6;
            }
        }
        v.last().map_or(0.0, |x| x.0 as f64 * 1e-6)
    };
    Dist {
        count: n,
        mean: v.iter().map(|&(g, c)| g as f64 * c as f64).sum::<f64>() / n as f64 * 1e-6,
        p50: pct(50.0),
        p90: pct(90.0),
        p99: pct(99.0),
    }
}

/// Latency distributions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Time to first token, ms.
    pub ttft_ms: Dist,
    /// Time per output token after the first, ms.
    pub tpot_ms: Dist,
    /// Inter-token latency, ms (token-weighted).
    pub itl_ms: Dist,
    /// End-to-end latency, ms.
    pub e2e_ms: Dist,
}

/// Throughput over the measured window (first arrival to last completion).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Throughput {
    /// Window, s.
    pub window_s: f64,
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// Prompt tokens of completed requests per second.
    pub input_tokens_per_s: f64,
    /// Output tokens of completed requests per second.
    pub output_tokens_per_s: f64,
    /// Output tokens per second per accelerator.
    pub output_tokens_per_s_per_chip: f64,
}

/// Goodput under the SLOs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Goodput {
    /// Requests per second meeting every SLO of their class.
    pub requests_per_s: f64,
    /// Fraction of completed requests meeting their SLOs.
    pub fraction: f64,
    /// The SLOs used.
    pub slos: Vec<Slo>,
}

/// Energy per output token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Energy {
    /// Chips only (busy steps + idle time), J per output token.
    pub chip_j_per_output_token: f64,
    /// Chips × IT factor (hosts, switches, fans) × PUE, J per output token.
    pub facility_j_per_output_token: f64,
    /// Mean chip power over the run, W per chip.
    pub mean_chip_power_w: f64,
    /// System power / chip power at full load, from the catalog system.
    pub it_power_factor: f64,
    /// Power usage effectiveness applied.
    pub pue: f64,
}

/// KV-cache use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KvUse {
    /// Time-weighted mean fraction of blocks in use.
    pub utilization_mean: f64,
    /// Peak fraction on any replica.
    pub utilization_peak: f64,
    /// Mean prompt tokens served from the prefix cache per completed request.
    pub prefix_hit_tokens_mean: f64,
}

/// The simulated results of a run (`summary.json` minus the run metadata).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Latency.
    pub latency: Latency,
    /// Throughput.
    pub throughput: Throughput,
    /// Goodput.
    pub goodput: Goodput,
    /// Energy.
    pub energy: Energy,
    /// KV cache.
    pub kv_cache: KvUse,
    /// Counters.
    pub counters: Counters,
    /// Simulated time at the end, s.
    pub simulated_s: f64,
    /// Accelerators.
    pub chips: u64,
}

impl SimResult {
    /// Summary statistics. `it_power_factor` and `pue` turn chip energy into facility energy.
    pub fn summary(&self, slos: &[Slo], it_power_factor: f64, pue: f64) -> Summary {
        let done: Vec<&RequestRecord> = self.records.iter().filter(|r| r.finish_ns.is_some()).collect();
        let ttft = dist_ns(self.records.iter().filter_map(|r| r.ttft_ns()).map(|x| x as f64).collect());
        let tpot = dist_ns(done.iter().filter_map(|r| r.tpot_ns()).collect());
        let e2e = dist_ns(done.iter().filter_map(|r| r.e2e_ns()).map(|x| x as f64).collect());
        let start = self.records.iter().map(|r| r.arrival_ns).min().unwrap_or(0);
        let end = done.iter().filter_map(|r| r.finish_ns).max().unwrap_or(start);
        let window_s = (end - start) as f64 * 1e-9;
        let per_s = |x: f64| if window_s > 0.0 { x / window_s } else { 0.0 };
        let out_tok: u64 = done.iter().map(|r| r.output_tokens as u64).sum();
        let in_tok: u64 = done.iter().map(|r| r.input_tokens as u64).sum();
        let slo_of = |c: u16| slos.iter().find(|s| s.class == c).or(slos.first());
        let good = done
            .iter()
            .filter(|r| match slo_of(r.class) {
                None => true,
                Some(s) => {
                    r.ttft_ns().is_some_and(|t| t as f64 * 1e-6 <= s.ttft_ms)
                        && r.tpot_ns().is_none_or(|t| t * 1e-6 <= s.tpot_ms)
                }
            })
            .count();
        let chips = self.chips.max(1) as f64;
        let produced = self.counters.output_tokens.max(1) as f64;
        let sim_s = self.end_ns as f64 * 1e-9;
        Summary {
            latency: Latency { ttft_ms: ttft, tpot_ms: tpot, itl_ms: dist_weighted(&self.itl_ns), e2e_ms: e2e },
            throughput: Throughput {
                window_s,
                requests_per_s: per_s(done.len() as f64),
                input_tokens_per_s: per_s(in_tok as f64),
                output_tokens_per_s: per_s(out_tok as f64),
                output_tokens_per_s_per_chip: per_s(out_tok as f64) / chips,
            },
            goodput: Goodput {
                requests_per_s: per_s(good as f64),
                fraction: if done.is_empty() { 0.0 } else { good as f64 / done.len() as f64 },
                slos: slos.to_vec(),
            },
            energy: Energy {
                chip_j_per_output_token: self.chip_energy_j / produced,
                facility_j_per_output_token: self.chip_energy_j * it_power_factor * pue / produced,
                mean_chip_power_w: if sim_s > 0.0 { self.chip_energy_j / sim_s / chips } else { 0.0 },
                it_power_factor,
                pue,
            },
            kv_cache: KvUse {
                utilization_mean: self.kv_utilization_mean,
                utilization_peak: self.kv_utilization_peak,
                prefix_hit_tokens_mean: if done.is_empty() {
                    0.0
                } else {
                    done.iter().map(|r| r.cached_tokens as f64).sum::<f64>() / done.len() as f64
                },
            },
            counters: self.counters.clone(),
            simulated_s: sim_s,
            chips: self.chips,
        }
    }
}
