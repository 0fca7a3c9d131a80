//! Arrival processes: Poisson, Gamma renewal with a coefficient of variation, an optional
//! diurnal × weekly rate profile (applied by thinning), and a population model
//! (weekly active users × messages per user per day × traffic fraction → mean rate).

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

/// How requests (or conversation starts) arrive.
///
/// ```toml
/// [arrival]
/// process = "gamma"
/// rate_per_s = 5.5
/// cv = 1.09
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "process", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// Exponential inter-arrival times at `rate_per_s`.
    Poisson {
        /// Mean rate, requests per second.
        rate_per_s: f64,
        /// Optional time-of-day/day-of-week modulation (mean rate is kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<RateProfile>,
    },
    /// Gamma-distributed inter-arrival times with mean `1/rate_per_s` and coefficient of
    /// variation `cv` (1 = Poisson; >1 bursty; 0 = evenly spaced).
    Gamma {
        /// Mean rate, requests per second.
        rate_per_s: f64,
        /// Coefficient of variation of inter-arrival times.
        cv: f64,
        /// Optional time-of-day/day-of-week modulation (mean rate is kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<RateProfile>,
    },
    /// Population model: rate = weekly_active_users × messages_per_user_per_day / 86 400 ×
    /// traffic_fraction (the share of the whole service this workload stands for, e.g. one region
    /// or one replica group), with Gamma inter-arrivals of CV `cv`.
    Population {
        /// Weekly active users.
        weekly_active_users: f64,
        /// Messages per weekly active user per day.
        messages_per_user_per_day: f64,
        /// Fraction of the total traffic generated (default 1).
        #[serde(default = "one")]
        traffic_fraction: f64,
        /// Coefficient of variation of inter-arrival times (default 1: Poisson).
        #[serde(default = "one")]
        cv: f64,
        /// Optional time-of-day/day-of-week modulation (mean rate is kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<RateProfile>,
    },
}

fn one() -> f64 {
    1.0
}

/// A weekly rate profile: the rate at time t is `mean_rate × hourly[h] × weekly[d] / norm`, where
/// `norm` makes the multiplier average 1 over a week, so the profile shapes the traffic without
/// changing its mean. Hours are piecewise constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateProfile {
    /// 24 relative multipliers, hour 0 (00:00–01:00) first.
    pub hourly: Vec<f64>,
    /// 7 relative multipliers, Monday first (default: all equal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekly: Vec<f64>,
    /// Hour of the week at t = 0 (0 = Monday 00:00; default 0).
    #[serde(default)]
    pub start_hour: f64,
}

impl RateProfile {
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.hourly.len() != 24 {
            p.push(format!("arrival.profile.hourly needs 24 values, got {}", self.hourly.len()));
        }
        if !self.weekly.is_empty() && self.weekly.len() != 7 {
            p.push(format!("arrival.profile.weekly needs 7 values (Monday first), got {}", self.weekly.len()));
        }
        if self.hourly.iter().chain(&self.weekly).any(|x| !(x.is_finite() && *x >= 0.0))
            || self.hourly.iter().sum::<f64>() <= 0.0
            || (!self.weekly.is_empty() && self.weekly.iter().sum::<f64>() <= 0.0)
        {
            p.push("arrival.profile multipliers must be finite, ≥ 0, and not all 0".into());
        }
        if !(self.start_hour.is_finite() && self.start_hour >= 0.0) {
            p.push(format!("arrival.profile.start_hour must be ≥ 0, got {}", self.start_hour));
        }
        p
    }

    fn weekly_at(&self, d: usize) -> f64 {
        if self.weekly.is_empty() { 1.0 } else { self.weekly[d] }
    }

    fn norm(&self) -> f64 {
        let h = self.hourly.iter().sum::<f64>() / 24.0;
        let w = if self.weekly.is_empty() { 1.0 } else { self.weekly.iter().sum::<f64>() / 7.0 };
        h * w
    }

    /// The multiplier (mean 1 over a week) at `t_s` seconds after the start.
    pub fn multiplier(&self, t_s: f64) -> f64 {
        let hour_of_week = ((self.start_hour + t_s / 3600.0) % 168.0).floor() as usize % 168;
        self.hourly[hour_of_week % 24] * self.weekly_at(hour_of_week / 24) / self.norm()
    }

    /// The largest multiplier.
    pub fn max_multiplier(&self) -> f64 {
        let h = self.hourly.iter().cloned().fold(0.0, f64::max);
        let w = if self.weekly.is_empty() { 1.0 } else { self.weekly.iter().cloned().fold(0.0, f64::max) };
        h * w / self.norm()
    }
}

impl ArrivalSpec {
    /// Mean rate over a week, requests per second.
    pub fn mean_rate_per_s(&self) -> f64 {
        match self {
            ArrivalSpec::Poisson { rate_per_s, .. } | ArrivalSpec::Gamma { rate_per_s, .. } => *rate_per_s,
            ArrivalSpec::Population { weekly_active_users, messages_per_user_per_day, traffic_fraction, .. } => {
                weekly_active_users * messages_per_user_per_day / 86_400.0 * traffic_fraction
            }
        }
    }

    /// Coefficient of variation of inter-arrival times (before any profile modulation).
    pub fn cv(&self) -> f64 {
        match self {
            ArrivalSpec::Poisson { .. } => 1.0,
            ArrivalSpec::Gamma { cv, .. } | ArrivalSpec::Population { cv, .. } => *cv,
        }
    }

    /// The rate profile, if any.
    pub fn profile(&self) -> Option<&RateProfile> {
        match self {
            ArrivalSpec::Poisson { profile, .. }
            | ArrivalSpec::Gamma { profile, .. }
            | ArrivalSpec::Population { profile, .. } => profile.as_ref(),
        }
    }

    /// The same process with its mean rate multiplied by `factor` (profile and CV unchanged).
    pub fn scaled(&self, factor: f64) -> ArrivalSpec {
        let mut s = self.clone();
        match &mut s {
            ArrivalSpec::Poisson { rate_per_s, .. } | ArrivalSpec::Gamma { rate_per_s, .. } => *rate_per_s *= factor,
            ArrivalSpec::Population { traffic_fraction, .. } => *traffic_fraction *= factor,
        }
        s
    }

    /// Problems with the parameters (empty when valid).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let r = self.mean_rate_per_s();
        if !(r.is_finite() && r > 0.0) {
            p.push(format!("arrival: mean rate must be > 0 requests/s, got {r}"));
        }
        let cv = self.cv();
        if !(cv.is_finite() && (0.0..=100.0).contains(&cv)) {
            p.push(format!("arrival.cv must be in [0, 100], got {cv}"));
        }
        if let Some(pr) = self.profile() {
            p.extend(pr.problems());
        }
        p
    }

    /// An infinite, non-decreasing stream of arrival times (ns since start). Call only on a spec
    /// without [`Self::problems`].
    pub fn generator(&self, seed: u64) -> ArrivalGen {
        ArrivalGen::new(self.mean_rate_per_s(), self.cv(), self.profile().cloned(), seed)
    }
}

/// Renewal process with Gamma inter-arrivals, optionally thinned by a rate profile.
///
/// Thinning (Lewis & Shedler 1979): candidates arrive at the peak rate; a candidate at time t is
/// kept with probability multiplier(t) / max multiplier. For a Poisson process this is exact; for a
/// Gamma renewal with CV c, thinning with keep probability q gives CV² ≈ q·c² + (1 − q), so a
/// profile pulls burstiness toward Poisson (documented in docs/WORKLOADS.md).
#[derive(Debug)]
pub struct ArrivalGen {
    rng: ChaCha8Rng,
    gap: GapSampler,
    profile: Option<RateProfile>,
    max_mult: f64,
    t_s: f64,
}

#[derive(Debug, Clone)]
enum GapSampler {
    Constant(f64),
    Exp(rand_distr::Exp<f64>),
    Gamma(rand_distr::Gamma<f64>),
}

impl ArrivalGen {
    /// A renewal process of mean rate `rate_per_s` and inter-arrival CV `cv`.
    pub fn new(rate_per_s: f64, cv: f64, profile: Option<RateProfile>, seed: u64) -> Self {
        let max_mult = profile.as_ref().map(|p| p.max_multiplier()).unwrap_or(1.0);
        let peak = rate_per_s * max_mult;
        let gap = if cv <= 1e-9 {
            GapSampler::Constant(1.0 / peak)
        } else if (cv - 1.0).abs() < 1e-12 {
            GapSampler::Exp(rand_distr::Exp::new(peak).expect("rate > 0"))
        } else {
            let shape = 1.0 / (cv * cv);
            GapSampler::Gamma(rand_distr::Gamma::new(shape, 1.0 / (peak * shape)).expect("shape, scale > 0"))
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        ArrivalGen { rng, gap, profile, max_mult, t_s: 0.0 }
    }

    fn gap(&mut self) -> f64 {
        match &self.gap {
            GapSampler::Constant(g) => *g,
            GapSampler::Exp(d) => d.sample(&mut self.rng),
            GapSampler::Gamma(d) => d.sample(&mut self.rng),
        }
    }

    /// Next arrival time, seconds since start (first arrival after one gap).
    pub fn next_s(&mut self) -> f64 {
        loop {
            self.t_s += self.gap();
            match &self.profile {
                None => return self.t_s,
                Some(p) => {
                    let keep = p.multiplier(self.t_s) / self.max_mult;
                    let u: f64 = rand::RngExt::random(&mut self.rng);
                    if u < keep {
                        return self.t_s;
                    }
                }
            }
        }
    }
}

impl Iterator for ArrivalGen {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        Some(s_to_ns(self.next_s()))
    }
}

/// Seconds (f64) to integer nanoseconds, rounded; negative and NaN map to 0.
pub fn s_to_ns(t_s: f64) -> u64 {
    let ns = (t_s * 1e9).round();
    if ns.is_nan() || ns <= 0.0 { 0 } else { ns.min(u64::MAX as f64) as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_and_cv(spec: &ArrivalSpec, n: usize) -> (f64, f64) {
        let t: Vec<f64> = {
            let mut g = spec.generator(7);
            (0..n).map(|_| g.next_s()).collect()
        };
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let m = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let v = gaps.iter().map(|g| (g - m) * (g - m)).sum::<f64>() / gaps.len() as f64;
        (1.0 / m, v.sqrt() / m)
    }

    #[test]
    fn processes_reproduce_rate_and_cv() {
        for (spec, rate, cv) in [
            (ArrivalSpec::Poisson { rate_per_s: 5.0, profile: None }, 5.0, 1.0),
            (ArrivalSpec::Gamma { rate_per_s: 2.0, cv: 3.0, profile: None }, 2.0, 3.0),
            (ArrivalSpec::Gamma { rate_per_s: 100.0, cv: 0.5, profile: None }, 100.0, 0.5),
            (
                ArrivalSpec::Population {
                    weekly_active_users: 7e8,
                    messages_per_user_per_day: 2.5e9 / 7e8,
                    traffic_fraction: 1e-4,
                    cv: 1.0,
                    profile: None,
                },
                2.5e9 / 86_400.0 * 1e-4,
                1.0,
            ),
        ] {
            let (r, c) = rate_and_cv(&spec, 200_000);
            assert!((r / rate - 1.0).abs() < 0.03, "{spec:?}: rate {r}");
            assert!((c / cv - 1.0).abs() < 0.05, "{spec:?}: cv {c}");
        }
    }

    #[test]
    fn profile_keeps_mean_rate_and_shapes_the_day() {
        let mut hourly = vec![0.5; 24];
        for h in hourly.iter_mut().skip(12) {
            *h = 1.5;
        }
        let profile = RateProfile { hourly, weekly: vec![], start_hour: 0.0 };
        let spec = ArrivalSpec::Poisson { rate_per_s: 10.0, profile: Some(profile) };
        let mut g = spec.generator(3);
        let (mut am, mut pm) = (0u64, 0u64);
        loop {
            let t = g.next_s();
            if t >= 86_400.0 {
                break;
            }
            if t < 43_200.0 { am += 1 } else { pm += 1 }
        }
        let total = (am + pm) as f64 / 86_400.0;
        assert!((total / 10.0 - 1.0).abs() < 0.02, "mean rate {total}");
        assert!(((pm as f64 / am as f64) / 3.0 - 1.0).abs() < 0.03, "pm/am {}", pm as f64 / am as f64);
    }
}
