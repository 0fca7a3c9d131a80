//! Synthetic load: request lengths (fixed, uniform, lognormal), arrivals (closed loop, Poisson,
//! Gamma with a coefficient of variation) and optional shared prompt prefixes. Richer task
//! mixes and trace readers come from `tokenfab_workload`; anything yielding
//! [`Request`]s plugs into [`crate::run`].

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, Gamma, LogNormal};
use serde::{Deserialize, Serialize};
use tokenfab_workload::{PrefixBlocks, Request};

/// A distribution of token counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum LengthSpec {
    /// Always `tokens`.
    Fixed {
        /// Tokens.
        tokens: u32,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// Lognormal with this median and log-space standard deviation, clamped to `[1, max]`.
    Lognormal {
        /// Median tokens.
        median: f64,
        /// σ of ln(tokens).
        sigma: f64,
        /// Upper clamp.
        max: u32,
    },
}

impl LengthSpec {
    /// Problems with the parameters, as (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        match *self {
            LengthSpec::Fixed { tokens: 0 } => bad("tokens", "must be at least 1"),
            LengthSpec::Uniform { min, max } if min == 0 || max < min => bad("min", "need 1 <= min <= max"),
            LengthSpec::Lognormal { median, .. } if !(median >= 1.0 && median.is_finite()) => {
                bad("median", "must be a finite number >= 1")
            }
            LengthSpec::Lognormal { sigma, .. } if !(sigma >= 0.0 && sigma.is_finite()) => {
                bad("sigma", "must be a finite number >= 0")
            }
            LengthSpec::Lognormal { max: 0, .. } => bad("max", "must be at least 1"),
            _ => Ok(()),
        }
    }

    /// Mean tokens (for capacity estimates).
    pub fn mean(&self) -> f64 {
        match *self {
            LengthSpec::Fixed { tokens } => tokens as f64,
            LengthSpec::Uniform { min, max } => (min as f64 + max as f64) / 2.0,
            LengthSpec::Lognormal { median, sigma, max } => (median * (sigma * sigma / 2.0).exp()).min(max as f64),
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        match *self {
            LengthSpec::Fixed { tokens } => tokens,
            LengthSpec::Uniform { min, max } => rng.random_range(min..=max),
            LengthSpec::Lognormal { median, sigma, max } => {
                let d = LogNormal::new(median.ln(), sigma).expect("checked parameters");
                let x: f64 = d.sample(rng);
                (x.round() as u64).clamp(1, max as u64) as u32
            }
        }
    }
}

/// When requests arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// `concurrency` clients; each sends its next request when the previous one completes.
    Closed {
        /// Clients.
        concurrency: u32,
        /// Mean client think time between a response and the next request, ms (each gap is
        /// drawn uniformly from `[0, 2 × think_ms]`, seeded). Default 0: send at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        think_ms: Option<f64>,
        /// Spread of the clients' first sends, ms: each starts at a seeded uniform time in
        /// `[0, start_spread_ms]` (default 0: all start together, in lock-step).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_spread_ms: Option<f64>,
    },
    /// Poisson arrivals.
    Poisson {
        /// Mean requests per second.
        rate_per_s: f64,
    },
    /// Gamma inter-arrival times with a coefficient of variation (1 = Poisson, > 1 bursty).
    Gamma {
        /// Mean requests per second.
        rate_per_s: f64,
        /// Coefficient of variation of the gaps.
        cv: f64,
    },
}

impl ArrivalSpec {
    /// Problems with the parameters, as (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        match *self {
            ArrivalSpec::Closed { concurrency: 0, .. } => bad("concurrency", "must be at least 1"),
            ArrivalSpec::Closed { think_ms: Some(t), .. } if !(t >= 0.0 && t.is_finite() && t <= 3.6e6) => {
                bad("think_ms", "must be a finite number of milliseconds, 0 to 3600000")
            }
            ArrivalSpec::Closed { start_spread_ms: Some(t), .. } if !(t >= 0.0 && t.is_finite() && t <= 3.6e7) => {
                bad("start_spread_ms", "must be a finite number of milliseconds, 0 to 36000000")
            }
            ArrivalSpec::Poisson { rate_per_s } | ArrivalSpec::Gamma { rate_per_s, .. }
                if !(rate_per_s > 0.0 && rate_per_s.is_finite()) =>
            {
                bad("rate_per_s", "must be a finite number > 0")
            }
            ArrivalSpec::Gamma { cv, .. } if !(cv > 0.0 && cv <= 100.0) => bad("cv", "must be a number in (0, 100]"),
            _ => Ok(()),
        }
    }

    /// Closed-loop concurrency, if closed.
    pub fn concurrency(&self) -> Option<u32> {
        match *self {
            ArrivalSpec::Closed { concurrency, .. } => Some(concurrency),
            _ => None,
        }
    }

    /// Closed-loop mean think time, ns (0 when open or unset).
    pub fn think_ns(&self) -> u64 {
        match *self {
            ArrivalSpec::Closed { think_ms: Some(t), .. } => (t * 1e6).round() as u64,
            _ => 0,
        }
    }

    /// Closed-loop spread of the clients' first sends, ns (0 when open or unset).
    pub fn start_spread_ns(&self) -> u64 {
        match *self {
            ArrivalSpec::Closed { start_spread_ms: Some(t), .. } => (t * 1e6).round() as u64,
            _ => 0,
        }
    }

    /// The same process at `factor` × the rate (closed loops unchanged).
    pub fn scaled(&self, factor: f64) -> ArrivalSpec {
        match *self {
            ArrivalSpec::Poisson { rate_per_s } => ArrivalSpec::Poisson { rate_per_s: rate_per_s * factor },
            ArrivalSpec::Gamma { rate_per_s, cv } => ArrivalSpec::Gamma { rate_per_s: rate_per_s * factor, cv },
            ref c => c.clone(),
        }
    }
}

/// Shared prompt prefixes (system prompts, few-shot templates): each request starts with one of
/// `groups` prefixes of `tokens` tokens, chosen uniformly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixSpec {
    /// Shared tokens at the start of the prompt.
    pub tokens: u32,
    /// Distinct prefixes.
    pub groups: u32,
}

/// A synthetic request stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticLoad {
    /// Prompt lengths.
    pub input: LengthSpec,
    /// Output lengths.
    pub output: LengthSpec,
    /// Arrival process.
    pub arrivals: ArrivalSpec,
    /// Stop after this many requests.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Stop generating arrivals after this many simulated seconds (open loop).
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Shared prefixes.
    #[serde(default)]
    pub prefix: Option<PrefixSpec>,
}

/// Tokens per prefix block of generated requests.
pub const PREFIX_BLOCK_TOKENS: u32 = 16;

impl SyntheticLoad {
    /// Problems, as (field under `load`, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        self.input.check().map_err(|(f, m)| (format!("input.{f}"), m))?;
        self.output.check().map_err(|(f, m)| (format!("output.{f}"), m))?;
        self.arrivals.check().map_err(|(f, m)| (format!("arrivals.{f}"), m))?;
        if let Some(d) = self.duration_s
            && !(d > 0.0 && d.is_finite())
        {
            return Err(("duration_s".into(), "must be a finite number > 0".into()));
        }
        if self.requests.is_none() && (self.duration_s.is_none() || self.arrivals.concurrency().is_some()) {
            return Err(("requests".into(), "set `requests` (or `duration_s` for open-loop arrivals)".into()));
        }
        if let Some(p) = &self.prefix
            && p.groups == 0
        {
            return Err(("prefix.groups".into(), "must be at least 1".into()));
        }
        Ok(())
    }

    /// The request stream for `seed`: ids from 0, arrival times from the arrival process (0 for
    /// closed loops, where the simulator sets them).
    pub fn requests(&self, seed: u64) -> SyntheticIter {
        let gaps = match self.arrivals {
            ArrivalSpec::Closed { .. } => Gaps::None,
            ArrivalSpec::Poisson { rate_per_s } => Gaps::Exp(Exp::new(rate_per_s).expect("checked")),
            ArrivalSpec::Gamma { rate_per_s, cv } => {
                let shape = 1.0 / (cv * cv);
                Gaps::Gamma(Gamma::new(shape, 1.0 / (rate_per_s * shape)).expect("checked"))
            }
        };
        let mut lengths = ChaCha8Rng::seed_from_u64(seed);
        lengths.set_stream(2);
        let mut arrivals = ChaCha8Rng::seed_from_u64(seed);
        arrivals.set_stream(3);
        SyntheticIter {
            spec: self.clone(),
            lengths,
            arrivals,
            gaps,
            t_s: 0.0,
            next_id: 0,
            horizon_ns: self.duration_s.map(crate::time::s_to_ns),
        }
    }
}

#[derive(Debug, Clone)]
enum Gaps {
    None,
    Exp(Exp<f64>),
    Gamma(Gamma<f64>),
}

/// Iterator over synthetic requests (see [`SyntheticLoad::requests`]).
#[derive(Debug)]
pub struct SyntheticIter {
    spec: SyntheticLoad,
    lengths: ChaCha8Rng,
    arrivals: ChaCha8Rng,
    gaps: Gaps,
    t_s: f64,
    next_id: u64,
    horizon_ns: Option<u64>,
}

impl Iterator for SyntheticIter {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        if self.spec.requests.is_some_and(|n| self.next_id >= n) {
            return None;
        }
        let gap = match &self.gaps {
            Gaps::None => 0.0,
            Gaps::Exp(d) => d.sample(&mut self.arrivals),
            Gaps::Gamma(d) => d.sample(&mut self.arrivals),
        };
        self.t_s += gap;
        let arrival_ns = crate::time::s_to_ns(self.t_s);
        if !matches!(self.gaps, Gaps::None) && self.horizon_ns.is_some_and(|h| arrival_ns > h) {
            return None;
        }
        let mut input = self.spec.input.sample(&mut self.lengths);
        let output = self.spec.output.sample(&mut self.lengths);
        let prefix = self.spec.prefix.as_ref().map(|p| {
            let g = self.lengths.random_range(0..p.groups) as u64;
            input = input.max(p.tokens + 1);
            let n = p.tokens / PREFIX_BLOCK_TOKENS;
            PrefixBlocks {
                block_tokens: PREFIX_BLOCK_TOKENS,
                ids: (0..n as u64).map(|j| (g << 32) | j).collect(),
                unique_tail: 0,
            }
        });
        let id = self.next_id;
        self.next_id += 1;
        Some(Request {
            id,
            arrival_ns,
            input_tokens: input,
            output_tokens: output,
            class: 0,
            session: None,
            turn: 0,
            prefix,
        })
    }
}

/// `n` requests of exactly `input` prompt and `output` generated tokens, all at time 0: the
/// benchmark-style load for a closed loop (`Arrivals::Closed`), e.g. AIConfigurator rows.
pub fn fixed_requests(n: u64, input: u32, output: u32) -> impl Iterator<Item = Request> + Clone + Send {
    (0..n).map(move |id| Request {
        id,
        arrival_ns: 0,
        input_tokens: input,
        output_tokens: output,
        class: 0,
        session: None,
        turn: 0,
        prefix: None,
    })
}
