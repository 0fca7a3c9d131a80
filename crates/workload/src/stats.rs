//! Streaming trace statistics in bounded memory, and fitting a task class to them.
//!
//! Token counts go into exact histograms (`BTreeMap<u32, u64>`: memory grows with the number of
//! *distinct* lengths, never with the number of requests); inter-arrival moments use Welford's
//! update. Percentiles are nearest-rank, as DESIGN.md defines them.

use crate::Request;
use crate::arrival::ArrivalSpec;
use crate::dist::{LengthDist, normal_cdf, normal_quantile};
use crate::spec::{Slo, TaskClass, TaskKind, WorkloadSpec};
use serde::Serialize;
use std::collections::BTreeMap;

/// Exact histogram of token counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LengthHistogram {
    counts: BTreeMap<u32, u64>,
    n: u64,
    sum: u128,
}

impl LengthHistogram {
    /// Adds one value.
    pub fn add(&mut self, v: u32) {
        *self.counts.entry(v).or_insert(0) += 1;
        self.n += 1;
        self.sum += v as u128;
    }
    /// Number of values.
    pub fn count(&self) -> u64 {
        self.n
    }
    /// Sum of values.
    pub fn sum(&self) -> u128 {
        self.sum
    }
    /// Distinct values held (the memory bound).
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }
    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum as f64 / self.n as f64 }
    }
    /// Largest value (0 when empty).
    pub fn max(&self) -> u32 {
        self.counts.keys().next_back().copied().unwrap_or(0)
    }
    /// Smallest value (0 when empty).
    pub fn min(&self) -> u32 {
        self.counts.keys().next().copied().unwrap_or(0)
    }
    /// Nearest-rank percentile: the smallest value with at least ⌈p/100 · n⌉ values ≤ it.
    pub fn percentile(&self, p: f64) -> u32 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((p / 100.0 * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (v, c) in &self.counts {
            seen += c;
            if seen >= rank {
                return *v;
            }
        }
        self.max()
    }
    /// The summary printed by `workload stats`.
    pub fn summary(&self) -> LengthSummary {
        LengthSummary {
            mean: self.mean(),
            p50: self.percentile(50.0),
            p90: self.percentile(90.0),
            p99: self.percentile(99.0),
            max: self.max(),
        }
    }
}

/// Mean and nearest-rank percentiles of a token count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LengthSummary {
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: u32,
    /// 90th percentile.
    pub p90: u32,
    /// 99th percentile.
    pub p99: u32,
    /// Maximum.
    pub max: u32,
}

/// What `tokenfab workload stats --json` prints (keys are a contract).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsSummary {
    /// Number of requests.
    pub requests: u64,
    /// Last arrival minus first arrival, s.
    pub duration_s: f64,
    /// (requests − 1) / duration (0 when undefined).
    pub rate_per_s: f64,
    /// Coefficient of variation of inter-arrival gaps (population standard deviation / mean; 0
    /// when undefined).
    pub interarrival_cv: f64,
    /// Prompt tokens.
    pub input_tokens: LengthSummary,
    /// Output tokens.
    pub output_tokens: LengthSummary,
}

/// Accumulates statistics over a request stream.
#[derive(Debug, Clone, Default)]
pub struct TraceStats {
    n: u64,
    first_ns: u64,
    last_ns: u64,
    gaps: u64,
    gap_mean: f64,
    gap_m2: f64,
    /// Prompt-token histogram.
    pub input: LengthHistogram,
    /// Output-token histogram.
    pub output: LengthHistogram,
    /// Per-class tallies (bounded by the number of classes, at most 65 536).
    pub classes: BTreeMap<u16, ClassTally>,
}

/// Requests and token sums of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassTally {
    /// Requests.
    pub requests: u64,
    /// Sum of input tokens.
    pub input_tokens: u64,
    /// Sum of output tokens.
    pub output_tokens: u64,
}

impl TraceStats {
    /// Adds one request (requests must come in arrival order for the inter-arrival statistics).
    pub fn add(&mut self, r: &Request) {
        if self.n == 0 {
            self.first_ns = r.arrival_ns;
        } else {
            let g = r.arrival_ns.saturating_sub(self.last_ns) as f64;
            self.gaps += 1;
            let d = g - self.gap_mean;
            self.gap_mean += d / self.gaps as f64;
            self.gap_m2 += d * (g - self.gap_mean);
        }
        self.last_ns = r.arrival_ns;
        self.n += 1;
        self.input.add(r.input_tokens);
        self.output.add(r.output_tokens);
        let c = self.classes.entry(r.class).or_default();
        c.requests += 1;
        c.input_tokens += r.input_tokens as u64;
        c.output_tokens += r.output_tokens as u64;
    }

    /// Requests seen.
    pub fn requests(&self) -> u64 {
        self.n
    }

    /// The summary.
    pub fn summary(&self) -> StatsSummary {
        let duration_s = (self.last_ns - self.first_ns) as f64 / 1e9;
        let rate_per_s = if duration_s > 0.0 { (self.n - 1) as f64 / duration_s } else { 0.0 };
        let interarrival_cv = if self.gaps > 0 && self.gap_mean > 0.0 {
            (self.gap_m2 / self.gaps as f64).sqrt() / self.gap_mean
        } else {
            0.0
        };
        StatsSummary {
            requests: self.n,
            duration_s,
            rate_per_s,
            interarrival_cv,
            input_tokens: self.input.summary(),
            output_tokens: self.output.summary(),
        }
    }

    /// Fits a one-class workload: truncated lognormal input and output lengths (matching the
    /// trace's p50, p90 and p99, see [`fit_lognormal`]) and Gamma arrivals with the trace's rate
    /// and inter-arrival CV. SLOs are placeholders (1 s TTFT, 50 ms TPOT: estimates to edit).
    pub fn fit(&self, name: &str, source: &str) -> WorkloadSpec {
        let s = self.summary();
        WorkloadSpec {
            name: name.to_string(),
            description: format!(
                "fitted by `tokenfab workload fit` to {source}: {} requests, {:.1} s",
                s.requests, s.duration_s
            ),
            block_tokens: 16,
            max_input_tokens: 131_072,
            arrival: ArrivalSpec::Gamma {
                rate_per_s: round_sig(s.rate_per_s, 6),
                cv: round_sig(s.interarrival_cv, 4),
                profile: None,
            },
            languages: Vec::new(),
            classes: vec![TaskClass {
                name: "fitted".into(),
                kind: TaskKind::Generic,
                share: 1.0,
                input: fit_lognormal(&self.input),
                output: Some(fit_lognormal(&self.output)),
                slo: Slo { ttft_ms: 1000.0, tpot_ms: 50.0 },
                system_prompt_tokens: 0,
                turns_mean: 1.0,
                think_time_s: 0.0,
                output_ratio: None,
                ratio_sigma: 0.0,
                hidden: None,
                pairs: Vec::new(),
                source: format!("fit to {source} (lognormal truncated above, matched at p50/p90/p99)"),
            }],
        }
    }
}

fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let m = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * m).round() / m
}

/// A lognormal truncated above, `exp(mu + sigma·Z)` restricted to `Z ≤ z_c`, fitted so that its
/// 50th, 90th and 99th percentiles match the histogram's: for a truncation mass c = Φ(z_c) the
/// quantiles obey ln q(p) = mu + sigma·Φ⁻¹(p·c), linear in (mu, sigma); c is found by a grid
/// search minimising the squared log error. Real length distributions are capped (context limits,
/// `max_tokens`), which a plain lognormal cannot reproduce at p99.
pub fn fit_lognormal(h: &LengthHistogram) -> LengthDist {
    if h.count() == 0 {
        return LengthDist::Fixed { value: 0 };
    }
    let ps = [0.5, 0.9, 0.99];
    let q: Vec<f64> = ps.iter().map(|p| (h.percentile(p * 100.0).max(1) as f64).ln()).collect();
    if q[2] - q[0] < 1e-9 {
        return LengthDist::Fixed { value: h.percentile(50.0) };
    }
    let mut best = (f64::INFINITY, 0.0, 0.0, 1.0);
    for k in 0..=700 {
        let c = 1.0 - k as f64 * 0.001;
        let z: Vec<f64> = ps.iter().map(|p| normal_quantile(p * c)).collect();
        // Least squares of q = mu + sigma z.
        let zm = z.iter().sum::<f64>() / 3.0;
        let qm = q.iter().sum::<f64>() / 3.0;
        let szz: f64 = z.iter().map(|x| (x - zm) * (x - zm)).sum();
        let szq: f64 = z.iter().zip(&q).map(|(x, y)| (x - zm) * (y - qm)).sum();
        let sigma = szq / szz;
        if sigma <= 0.0 {
            continue;
        }
        let mu = qm - sigma * zm;
        let err: f64 = z.iter().zip(&q).map(|(x, y)| (mu + sigma * x - y).powi(2)).sum();
        if err < best.0 - 1e-12 {
            best = (err, mu, sigma, c);
        }
    }
    let (_, mu, sigma, c) = best;
    let max = if c >= 0.9995 {
        None
    } else {
        let m = (mu + sigma * normal_quantile(c)).exp() - 0.5;
        Some(m.round().clamp(1.0, u32::MAX as f64) as u32)
    };
    debug_assert!(max.is_none_or(|m| normal_cdf(((m as f64 + 0.5).ln() - mu) / sigma) > 0.0));
    LengthDist::Lognormal { median: round_sig(mu.exp(), 6), sigma: round_sig(sigma, 5), min: None, max }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_percentiles(values: &[u32], expect: [u32; 4]) {
        let mut h = LengthHistogram::default();
        values.iter().for_each(|v| h.add(*v));
        let got = [h.percentile(50.0), h.percentile(90.0), h.percentile(99.0), h.percentile(100.0)];
        assert_eq!(got, expect, "{values:?}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        check_percentiles(&[1], [1, 1, 1, 1]);
        check_percentiles(&[3, 1, 2, 4], [2, 4, 4, 4]);
        check_percentiles(&(1..=100).collect::<Vec<_>>(), [50, 90, 99, 100]);
        check_percentiles(&(1..=10).collect::<Vec<_>>(), [5, 9, 10, 10]);
        check_percentiles(&[], [0, 0, 0, 0]);
    }
}
