//! Token-length distributions (fixed, uniform, truncated lognormal, empirical) and the few special
//! functions they need (normal CDF and its inverse, log-gamma), written out so sampling is a pure,
//! version-stable function of the ChaCha8 stream.

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// A distribution of token counts. Samples are integers ≥ 1 (a request always has at least one
/// token in and one out), except `fixed { value = 0 }`, which is allowed for "no tokens".
///
/// ```toml
/// input = { dist = "lognormal", median = 1020, sigma = 0.9, max = 14050 }
/// output = { dist = "fixed", value = 128 }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum LengthDist {
    /// Always `value`.
    Fixed {
        /// The token count.
        value: u32,
    },
    /// Uniform integer in `[min, max]`.
    Uniform {
        /// Smallest value.
        min: u32,
        /// Largest value (inclusive).
        max: u32,
    },
    /// Lognormal with the given median (`exp(mu)`) and log-space standard deviation `sigma`,
    /// truncated to `[min, max]` (sampled by inverse CDF inside the bounds, so a truncation moves
    /// the quantiles instead of piling mass on the bound).
    Lognormal {
        /// Median before truncation, tokens.
        median: f64,
        /// Standard deviation of ln(tokens).
        sigma: f64,
        /// Lower bound (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Upper bound (default: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// An empirical table: `values[i]` with relative weight `weights[i]`.
    Empirical {
        /// Token counts.
        values: Vec<u32>,
        /// Relative weights (need not sum to 1).
        weights: Vec<f64>,
    },
}

impl LengthDist {
    /// Problems with the parameters (empty when valid); `what` names the field in messages.
    pub fn problems(&self, what: &str) -> Vec<String> {
        let mut p = Vec::new();
        match self {
            LengthDist::Fixed { .. } => {}
            LengthDist::Uniform { min, max } => {
                if min > max {
                    p.push(format!("{what}: uniform min {min} > max {max}"));
                }
            }
            LengthDist::Lognormal { median, sigma, min, max } => {
                if !(median.is_finite() && *median > 0.0) {
                    p.push(format!("{what}: lognormal median must be > 0, got {median}"));
                }
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    p.push(format!("{what}: lognormal sigma must be ≥ 0, got {sigma}"));
                }
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    p.push(format!("{what}: lognormal min {a} > max {b}"));
                }
            }
            LengthDist::Empirical { values, weights } => {
                if values.is_empty() || values.len() != weights.len() {
                    p.push(format!(
                        "{what}: empirical needs as many weights as values (≥ 1), got {} values and {} weights",
                        values.len(),
                        weights.len()
                    ));
                }
                if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || weights.iter().sum::<f64>() <= 0.0 {
                    p.push(format!("{what}: empirical weights must be finite, ≥ 0, and not all 0"));
                }
            }
        }
        p
    }

    /// A sampler with precomputed tables. Call only on a distribution without [`Self::problems`].
    pub fn sampler(&self) -> LengthSampler {
        match self {
            LengthDist::Fixed { value } => LengthSampler::Fixed(*value),
            LengthDist::Uniform { min, max } => LengthSampler::Uniform(*min, *max),
            LengthDist::Lognormal { median, sigma, min, max } => {
                let mu = median.ln();
                let lo = min.unwrap_or(1).max(1) as f64;
                // Bounds on the continuous variable that round into [lo, hi].
                let cdf_lo = if *sigma > 0.0 { normal_cdf(((lo - 0.5).max(1e-9).ln() - mu) / sigma) } else { 0.0 };
                let cdf_hi = match max {
                    Some(hi) if *sigma > 0.0 => normal_cdf(((*hi as f64 + 0.5).ln() - mu) / sigma),
                    _ => 1.0,
                };
                LengthSampler::Lognormal {
                    mu,
                    sigma: *sigma,
                    cdf_lo,
                    cdf_hi,
                    lo: lo as u32,
                    hi: max.unwrap_or(u32::MAX).max(lo as u32),
                }
            }
            LengthDist::Empirical { values, weights } => {
                let mut cum = Vec::with_capacity(weights.len());
                let mut s = 0.0;
                for w in weights {
                    s += w;
                    cum.push(s);
                }
                LengthSampler::Empirical { values: values.clone(), cum }
            }
        }
    }

    /// The mean of the distribution (exact for fixed/uniform/empirical; for a truncated lognormal,
    /// computed from the truncated-normal moment formula).
    pub fn mean(&self) -> f64 {
        match self {
            LengthDist::Fixed { value } => *value as f64,
            LengthDist::Uniform { min, max } => (*min as f64 + *max as f64) / 2.0,
            LengthDist::Lognormal { median, sigma, min, max } => {
                let mu = median.ln();
                if *sigma == 0.0 {
                    return *median;
                }
                let a = ((min.unwrap_or(1).max(1) as f64 - 0.5).max(1e-9).ln() - mu) / sigma;
                let b = max.map(|m| ((m as f64 + 0.5).ln() - mu) / sigma).unwrap_or(f64::INFINITY);
                // E[e^X | a<Z<b] = e^{mu+s²/2} (Φ(b-s) - Φ(a-s)) / (Φ(b) - Φ(a)).
                let z = normal_cdf(b) - normal_cdf(a);
                (mu + sigma * sigma / 2.0).exp() * (normal_cdf(b - sigma) - normal_cdf(a - sigma)) / z.max(1e-300)
            }
            LengthDist::Empirical { values, weights } => {
                let w: f64 = weights.iter().sum();
                values.iter().zip(weights).map(|(v, x)| *v as f64 * x).sum::<f64>() / w
            }
        }
    }
}

/// A ready-to-sample [`LengthDist`].
#[derive(Debug, Clone)]
pub enum LengthSampler {
    /// Constant.
    Fixed(u32),
    /// Uniform in `[min, max]`.
    Uniform(u32, u32),
    /// Truncated lognormal by inverse CDF.
    Lognormal {
        /// ln(median).
        mu: f64,
        /// Log-space standard deviation.
        sigma: f64,
        /// Φ at the lower bound.
        cdf_lo: f64,
        /// Φ at the upper bound.
        cdf_hi: f64,
        /// Lower bound after rounding.
        lo: u32,
        /// Upper bound after rounding.
        hi: u32,
    },
    /// Cumulative weights over values.
    Empirical {
        /// Values.
        values: Vec<u32>,
        /// Cumulative weights.
        cum: Vec<f64>,
    },
}

impl LengthSampler {
    /// One sample.
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match self {
            LengthSampler::Fixed(v) => *v,
            LengthSampler::Uniform(a, b) => rng.random_range(*a..=*b),
            LengthSampler::Lognormal { mu, sigma, cdf_lo, cdf_hi, lo, hi } => {
                if *sigma == 0.0 {
                    return (mu.exp().round() as u32).clamp(*lo, *hi);
                }
                let u: f64 = rng.random();
                let p = (cdf_lo + u * (cdf_hi - cdf_lo)).clamp(1e-15, 1.0 - 1e-15);
                let x = (mu + sigma * normal_quantile(p)).exp();
                (x.round().min(u32::MAX as f64) as u32).clamp(*lo, *hi)
            }
            LengthSampler::Empirical { values, cum } => {
                let total = *cum.last().unwrap_or(&1.0);
                let u: f64 = rng.random::<f64>() * total;
                let i = cum.partition_point(|c| *c <= u).min(values.len() - 1);
                values[i]
            }
        }
    }
}

/// Standard normal CDF Φ(x) (erfc with a Chebyshev fit, relative error < 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    // Numerical Recipes `erfcc` (W. H. Press et al.), fractional error < 1.2e-7 everywhere.
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Inverse of the standard normal CDF (P. J. Acklam's rational approximation, relative error
/// < 1.2e-9), for `p` in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let pl = 0.02425;
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.5203681218851,
        -1259.1392167224028,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507343278686905,
        -0.13857109526572012,
        9.984_369_578_019_572e-6,
        1.5056327351493116e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_functions_match_tables() {
        for (x, p) in [(0.0, 0.5), (1.0, 0.841344746), (-1.959964, 0.025), (2.326348, 0.99)] {
            assert!((normal_cdf(x) - p).abs() < 1e-6, "Φ({x})");
            assert!((normal_quantile(p) - x).abs() < 1e-5, "Φ⁻¹({p})");
        }
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        for (x, v) in [(1.0, 0.0), (5.0, 24f64.ln()), (0.5, std::f64::consts::PI.sqrt().ln()), (10.5, 13.940625219)] {
            assert!((ln_gamma(x) - v).abs() < 1e-8, "lnΓ({x})");
        }
    }

    #[test]
    fn truncated_lognormal_mean_matches_samples() {
        use rand::SeedableRng;
        let d = LengthDist::Lognormal { median: 100.0, sigma: 1.0, min: None, max: Some(400) };
        let s = d.sampler();
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
        let n = 200_000;
        let m = (0..n).map(|_| s.sample(&mut rng) as f64).sum::<f64>() / n as f64;
        assert!((m / d.mean() - 1.0).abs() < 0.01, "sample mean {m} vs {}", d.mean());
        assert!((0..1000).all(|_| s.sample(&mut rng) <= 400));
    }
}
