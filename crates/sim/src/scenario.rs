//! Scenario files: a deployment, a load, routing, SLOs and limits in one TOML document
//! (`deny_unknown_fields` everywhere; errors name the file and the dotted field).
//!
//! ```
//! use tokenfab_sim::scenario::Scenario;
//! let s = Scenario::builtin("default").unwrap();
//! assert_eq!(s.deployment.model, "llama-3.1-8b");
//! let err = Scenario::from_toml("my.toml", "[deployment]\nsystem = 1").unwrap_err().to_string();
//! assert!(err.starts_with("my.toml"), "{err}");
//! ```

use crate::deploy::{Deployment, DeploymentSpec};
use crate::load::{ArrivalSpec, SyntheticLoad};
use crate::metrics::{SimResult, Slo};
use crate::run::{Arrivals, RouterPolicy};
use crate::{SimConfig, SimError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tokenfab_catalog::Catalog;

/// Built-in scenarios: (name, description, TOML text).
pub const BUILTINS: &[(&str, &str, &str)] = &[
    (
        "default",
        "2 × H100 replicas of Llama-3.1-8B (vLLM), 3 minutes of Poisson chat traffic at ~70 % of capacity",
        include_str!("../scenarios/default.toml"),
    ),
    (
        "fleet-hour",
        "1,000 H100s (250 × TP4 Llama-3.1-70B fp8), one simulated hour of assistant traffic at ~70 % utilization",
        include_str!("../scenarios/fleet-hour.toml"),
    ),
];

/// A scenario document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    #[serde(default)]
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Default seed (the command line's `--seed` wins).
    #[serde(default)]
    pub seed: Option<u64>,
    /// What runs.
    pub deployment: DeploymentSpec,
    /// What arrives.
    pub load: LoadSpec,
    /// Routing.
    #[serde(default)]
    pub router: RouterSpec,
    /// Latency targets per class (goodput); default TTFT 2 s and TPOT 100 ms.
    #[serde(default)]
    pub slo: Vec<Slo>,
    /// Facility.
    #[serde(default)]
    pub facility: FacilitySpec,
    /// Bounds on the run.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Output options.
    #[serde(default)]
    pub output: OutputSpec,
}

/// The load: a synthetic generator, optionally sized to a fraction of capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// The generator.
    #[serde(flatten)]
    pub synthetic: SyntheticLoad,
    /// Scale open-loop rates so that the offered load is this fraction of the deployment's
    /// measured capacity (a closed-loop saturation probe on one replica; see docs/SIMULATOR.md).
    /// The rate given in `arrivals` is then ignored.
    #[serde(default)]
    pub utilization: Option<f64>,
}

/// Routing options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    /// Policy.
    #[serde(default)]
    pub policy: RouterPolicy,
    /// Split replicas (and load) into this many independent groups simulated in parallel
    /// (rayon). Each group has its own router; requests go to groups in turn. 1 = one router
    /// over all replicas.
    #[serde(default = "one")]
    pub parallel_groups: u32,
}

fn one() -> u32 {
    1
}

/// Facility figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilitySpec {
    /// Power usage effectiveness.
    #[serde(default = "pue")]
    pub pue: f64,
}

fn pue() -> f64 {
    SimConfig::default().pue
}

impl Default for FacilitySpec {
    fn default() -> Self {
        FacilitySpec { pue: pue() }
    }
}

/// Bounds on the run ("put a limit on everything").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Stop at this simulated time, s.
    #[serde(default = "max_sim")]
    pub max_sim_time_s: f64,
    /// Fail beyond this many engine iterations.
    #[serde(default = "max_iter")]
    pub max_engine_iterations: u64,
}

fn max_sim() -> f64 {
    7.0 * 24.0 * 3600.0
}
fn max_iter() -> u64 {
    2_000_000_000
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec { max_sim_time_s: max_sim(), max_engine_iterations: max_iter() }
    }
}

/// Output options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Write at most this many per-request rows (an evenly spaced, deterministic sample when
    /// there are more requests).
    #[serde(default = "max_rows")]
    pub max_request_rows: u64,
}

fn max_rows() -> u64 {
    1_000_000
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec { max_request_rows: max_rows() }
    }
}

impl Scenario {
    /// Parses scenario text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Scenario, SimError> {
        let s: Scenario = toml::from_str(text).map_err(|e| SimError::Syntax(format!("{file}: {e}")))?;
        s.check().map_err(|e| in_file(file, e))?;
        Ok(s)
    }

    /// A built-in scenario by name (without the `builtin:` prefix).
    pub fn builtin(name: &str) -> Result<Scenario, SimError> {
        let (_, _, text) = BUILTINS.iter().find(|b| b.0 == name).ok_or_else(|| SimError::Field {
            field: "scenario".into(),
            message: format!(
                "no built-in scenario `{name}`; built-ins: {}",
                BUILTINS.iter().map(|b| format!("builtin:{}", b.0)).collect::<Vec<_>>().join(", ")
            ),
        })?;
        Scenario::from_toml(&format!("builtin:{name}"), text)
    }

    /// Checks values serde cannot (ranges, combinations).
    pub fn check(&self) -> Result<(), SimError> {
        let f = |field: String, message: String| SimError::Field { field, message };
        self.load.synthetic.check().map_err(|(k, m)| f(format!("load.{k}"), m))?;
        if let Some(u) = self.load.utilization {
            if !(u > 0.0 && u <= 2.0) {
                return Err(f("load.utilization".into(), "must be in (0, 2]".into()));
            }
            if self.load.synthetic.arrivals.concurrency().is_some() {
                return Err(f("load.utilization".into(), "applies to open-loop arrivals only".into()));
            }
        }
        if self.router.parallel_groups == 0 {
            return Err(f("router.parallel_groups".into(), "must be at least 1".into()));
        }
        if !(self.facility.pue >= 1.0 && self.facility.pue.is_finite()) {
            return Err(f("facility.pue".into(), "must be a finite number >= 1".into()));
        }
        if !(self.limits.max_sim_time_s > 0.0 && self.limits.max_sim_time_s.is_finite()) {
            return Err(f("limits.max_sim_time_s".into(), "must be a finite number > 0".into()));
        }
        for (i, s) in self.slo.iter().enumerate() {
            if !(s.ttft_ms > 0.0 && s.tpot_ms > 0.0) {
                return Err(f(format!("slo[{i}]"), "ttft_ms and tpot_ms must be > 0".into()));
            }
        }
        Ok(())
    }
}

fn in_file(file: &str, e: SimError) -> SimError {
    match e {
        SimError::Field { field, message } => SimError::Field { field: format!("{file}: {field}"), message },
        other => other,
    }
}

/// A scenario resolved against the catalog, ready to run.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The scenario.
    pub scenario: Scenario,
    /// The deployment of one group (all of it when `parallel_groups` is 1).
    pub group: Deployment,
    /// The whole deployment.
    pub deployment: Deployment,
    /// Run settings.
    pub config: SimConfig,
}

impl Resolved {
    /// Resolves `scenario` (from `file`) against `catalog`.
    pub fn new(file: &str, scenario: &Scenario, catalog: &Catalog) -> Result<Resolved, SimError> {
        let deployment = Deployment::resolve(catalog, &scenario.deployment).map_err(|e| in_file(file, e))?;
        let g = scenario.router.parallel_groups;
        let mut gspec = scenario.deployment.clone();
        let split = |n: u32, field: &str| {
            if !n.is_multiple_of(g) {
                Err(in_file(
                    file,
                    SimError::Field {
                        field: field.into(),
                        message: format!("{n} replicas cannot be split into router.parallel_groups = {g}"),
                    },
                ))
            } else {
                Ok(n / g)
            }
        };
        match &mut gspec.disagg {
            None => gspec.replicas = split(gspec.replicas, "deployment.replicas")?,
            Some(d) => {
                d.prefill_replicas = split(d.prefill_replicas, "deployment.disagg.prefill_replicas")?;
                d.decode_replicas = split(d.decode_replicas, "deployment.disagg.decode_replicas")?;
            }
        }
        let group = Deployment::resolve(catalog, &gspec).map_err(|e| in_file(file, e))?;
        let s = scenario;
        let config = SimConfig {
            router: s.router.policy,
            arrivals: match s.load.synthetic.arrivals.concurrency() {
                Some(c) => Arrivals::Closed { concurrency: c.div_ceil(g) },
                None => Arrivals::Timed,
            },
            slos: if s.slo.is_empty() { SimConfig::default().slos } else { s.slo.clone() },
            pue: s.facility.pue,
            max_sim_time_ns: crate::time::s_to_ns(s.limits.max_sim_time_s),
            max_engine_iterations: s.limits.max_engine_iterations,
            ..SimConfig::default()
        };
        Ok(Resolved { scenario: scenario.clone(), group, deployment, config })
    }

    /// Requests per second one group can sustain: a closed-loop saturation probe on the group's
    /// deployment (concurrency = its maximum running sequences), deterministic in `seed`.
    pub fn probe_capacity_rps(&self, seed: u64) -> Result<f64, SimError> {
        let max_running: u64 = self
            .group
            .pools
            .iter()
            .filter(|p| p.role != crate::Role::Prefill)
            .map(|p| {
                p.replicas as u64
                    * p.engines_per_replica as u64
                    * self.group.engine.max_num_seqs as u64
                    * p.parallel.attn_dp as u64
            })
            .sum();
        let conc = max_running.clamp(1, 4096) as u32;
        let mut load = self.scenario.load.synthetic.clone();
        load.arrivals = ArrivalSpec::Closed { concurrency: conc };
        load.requests = Some(conc as u64 * 4);
        load.duration_s = None;
        let cfg = SimConfig { arrivals: Arrivals::Closed { concurrency: conc }, ..self.config.clone() };
        let res = crate::run(&cfg, &self.group, load.requests(seed ^ 0x5eed), seed)?;
        // Throughput of the second half of completions (past the ramp-up).
        let mut fin: Vec<u64> = res.records.iter().filter_map(|r| r.finish_ns).collect();
        fin.sort_unstable();
        let n = fin.len();
        if n < 4 {
            return Err(SimError::Limit("capacity probe completed too few requests".into()));
        }
        let (a, b) = (fin[n / 2], fin[n - 1]);
        Ok(((n - 1 - n / 2) as f64 / ((b - a).max(1) as f64 * 1e-9)).max(1e-9))
    }

    /// The load each group runs (rate scaled to utilization and divided among groups).
    pub fn group_load(&self, capacity_rps_per_group: Option<f64>) -> SyntheticLoad {
        let g = self.scenario.router.parallel_groups as f64;
        let mut load = self.scenario.load.synthetic.clone();
        match (self.scenario.load.utilization, capacity_rps_per_group) {
            (Some(u), Some(c)) => {
                let rate = u * c;
                load.arrivals = match load.arrivals {
                    ArrivalSpec::Gamma { cv, .. } => ArrivalSpec::Gamma { rate_per_s: rate, cv },
                    _ => ArrivalSpec::Poisson { rate_per_s: rate },
                };
            }
            _ => load.arrivals = load.arrivals.scaled(1.0 / g),
        }
        if let Some(n) = load.requests {
            load.requests = Some(n.div_ceil(g as u64));
        }
        if let ArrivalSpec::Closed { concurrency } = load.arrivals {
            load.arrivals = ArrivalSpec::Closed { concurrency: concurrency.div_ceil(g as u32) };
        }
        load
    }

    /// Runs every group (in parallel with rayon) and merges the results. `on_group_done` is
    /// called once per finished group (progress reporting). Returns the result and the
    /// capacity probe's requests/s per group when `load.utilization` is set.
    pub fn execute(&self, seed: u64, on_group_done: &(dyn Fn() + Sync)) -> Result<(SimResult, Option<f64>), SimError> {
        let cap = match self.scenario.load.utilization {
            Some(_) => Some(self.probe_capacity_rps(seed)?),
            None => None,
        };
        let load = self.group_load(cap);
        let g = self.scenario.router.parallel_groups as u64;
        let parts: Result<Vec<SimResult>, SimError> = (0..g)
            .into_par_iter()
            .map(|gi| {
                let gseed = group_seed(seed, gi);
                let reqs = load.requests(gseed).map(move |mut r| {
                    r.id = r.id * g + gi;
                    r
                });
                let mut res = crate::run(&self.config, &self.group, reqs, gseed)?;
                let offset = gi as u32 * replicas_in(&self.group);
                for r in &mut res.records {
                    r.replica += offset;
                    if let Some(d) = &mut r.decode_replica {
                        *d += offset;
                    }
                }
                on_group_done();
                Ok(res)
            })
            .collect();
        Ok((SimResult::merge(parts?), cap))
    }
}

fn replicas_in(d: &Deployment) -> u32 {
    d.pools.iter().map(|p| p.replicas * p.engines_per_replica.max(1)).sum()
}

/// The seed of group `g` (group 0 of a one-group run uses `seed` itself).
pub fn group_seed(seed: u64, g: u64) -> u64 {
    if g == 0 {
        return seed;
    }
    let mut z = seed ^ g.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
