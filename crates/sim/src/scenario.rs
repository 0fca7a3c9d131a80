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
use crate::load::{ArrivalSpec, LengthSpec, PrefixSpec, SyntheticLoad};
use crate::metrics::{SimResult, Slo};
use crate::run::{Arrivals, RouterPolicy};
use crate::{SimConfig, SimError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tokenfab_catalog::Catalog;
use tokenfab_workload::spec::{TraceRef, WorkloadRef};
use tokenfab_workload::{Request, WorkloadSpec};

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

/// The load: the simple generator (`input`, `output`, `arrivals`) or a workload from
/// `tokenfab_workload` (`workload = "builtin:assistant"`, an inline spec, or a trace file),
/// optionally sized to a fraction of capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// A workload: `"builtin:NAME"`, `{ trace = "FILE" }` or `{ spec = { ... } }`.
    #[serde(default)]
    pub workload: Option<WorkloadRef>,
    /// Prompt lengths (simple generator).
    #[serde(default)]
    pub input: Option<LengthSpec>,
    /// Output lengths (simple generator).
    #[serde(default)]
    pub output: Option<LengthSpec>,
    /// Arrival process (simple generator); `{ kind = "closed", concurrency = N }` also works
    /// with a workload (its lengths, arrivals ignored).
    #[serde(default)]
    pub arrivals: Option<ArrivalSpec>,
    /// Stop after this many requests.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Stop arrivals after this many simulated seconds.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Shared prompt prefixes (simple generator).
    #[serde(default)]
    pub prefix: Option<PrefixSpec>,
    /// Scale open-loop rates so that the offered load is this fraction of the deployment's
    /// measured capacity (a closed-loop saturation probe on one group; see docs/SIMULATOR.md).
    #[serde(default)]
    pub utilization: Option<f64>,
}

/// Where requests come from, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The simple generator.
    Synthetic(SyntheticLoad),
    /// A workload spec (built-in or inline).
    Workload(WorkloadSpec),
    /// A trace file, read by the caller (see [`Resolved::execute`]).
    Trace(TraceRef),
}

/// Routing options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Default for RouterSpec {
    fn default() -> Self {
        RouterSpec { policy: RouterPolicy::default(), parallel_groups: 1 }
    }
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
    /// Refuse deployments of more chips than this (a typo in `replicas` would otherwise exhaust
    /// memory; fleets beyond it are `tokenfab plan`'s job).
    #[serde(default = "max_chips")]
    pub max_chips: u64,
    /// Fail when more requests than this arrive (all parallel groups together; each request is
    /// kept for its record, about 260 bytes).
    #[serde(default = "max_requests")]
    pub max_requests: u64,
    /// Fail when more requests than this are in the system at once (all parallel groups
    /// together): the offered load far exceeds the deployment.
    #[serde(default = "max_in_flight")]
    pub max_in_flight: u64,
}

fn max_sim() -> f64 {
    7.0 * 24.0 * 3600.0
}
fn max_iter() -> u64 {
    2_000_000_000
}
fn max_chips() -> u64 {
    100_000
}
fn max_requests() -> u64 {
    SimConfig::default().max_requests
}
fn max_in_flight() -> u64 {
    SimConfig::default().max_in_flight
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_sim_time_s: max_sim(),
            max_engine_iterations: max_iter(),
            max_chips: max_chips(),
            max_requests: max_requests(),
            max_in_flight: max_in_flight(),
        }
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
        self.source()?;
        if let Some(u) = self.load.utilization {
            if !(u > 0.0 && u <= 2.0) {
                return Err(f("load.utilization".into(), "must be in (0, 2]".into()));
            }
            if self.load.arrivals.as_ref().is_some_and(|a| a.concurrency().is_some()) {
                return Err(f("load.utilization".into(), "applies to open-loop arrivals only".into()));
            }
        }
        if let Some(d) = self.load.duration_s
            && !(d > 0.0 && d.is_finite())
        {
            return Err(f("load.duration_s".into(), "must be a finite number > 0".into()));
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
        if let Some(n) = self.load.requests
            && n > self.limits.max_requests
        {
            return Err(f(
                "load.requests".into(),
                format!(
                    "{n} is more than the request limit ({}, `limits.max_requests`; each request is kept for its \
                     record, about 260 bytes); raise the limit if you mean it",
                    self.limits.max_requests
                ),
            ));
        }
        if let Some(d) = self.load.duration_s
            && d > self.limits.max_sim_time_s
        {
            return Err(f(
                "load.duration_s".into(),
                format!(
                    "{d} s is longer than the simulated-time limit ({} s, `limits.max_sim_time_s`): the run would stop \
                     before the load ends; shorten it, or raise the limit if you mean it",
                    self.limits.max_sim_time_s
                ),
            ));
        }
        for (i, s) in self.slo.iter().enumerate() {
            if !(s.ttft_ms > 0.0 && s.tpot_ms > 0.0) {
                return Err(f(format!("slo[{i}]"), "ttft_ms and tpot_ms must be > 0".into()));
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// The request source the load names, checked.
    pub fn source(&self) -> Result<Source, SimError> {
        let f = |field: &str, message: String| SimError::Field { field: format!("load.{field}"), message };
        let l = &self.load;
        match &l.workload {
            None => {
                let (Some(input), Some(output), Some(arrivals)) = (&l.input, &l.output, &l.arrivals) else {
                    return Err(f(
                        "workload",
                        "give either `workload` or all of `input`, `output` and `arrivals`".into(),
                    ));
                };
                let syn = SyntheticLoad {
                    input: input.clone(),
                    output: output.clone(),
                    arrivals: arrivals.clone(),
                    requests: l.requests,
                    duration_s: l.duration_s,
                    prefix: l.prefix.clone(),
                };
                syn.check().map_err(|(k, m)| f(&k, m))?;
                Ok(Source::Synthetic(syn))
            }
            Some(w) => {
                if l.input.is_some() || l.output.is_some() || l.prefix.is_some() {
                    return Err(f(
                        "workload",
                        "`input`, `output` and `prefix` cannot be combined with `workload`".into(),
                    ));
                }
                if let Some(a) = &l.arrivals {
                    a.check().map_err(|(k, m)| f(&format!("arrivals.{k}"), m))?;
                    if a.concurrency().is_none() {
                        return Err(f("arrivals", "with a workload only closed-loop arrivals can be set".into()));
                    }
                }
                // A trace ends by itself (the whole file is replayed unless `requests` or
                // `duration_s` cut it short); a generated workload does not.
                if l.requests.is_none() && l.duration_s.is_none() && !matches!(w, WorkloadRef::Trace(_)) {
                    return Err(f("requests", "set `requests` or `duration_s` (workloads are endless)".into()));
                }
                match w {
                    WorkloadRef::Trace(t) => Ok(Source::Trace(t.clone())),
                    other => match other.spec() {
                        Ok(Some(spec)) => Ok(Source::Workload(spec)),
                        Ok(None) => Err(f("workload", "no workload spec".into())),
                        Err(e) => Err(f("workload", e.to_string())),
                    },
                }
            }
        }
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
    /// Where requests come from.
    pub source: Source,
    /// Run settings.
    pub config: SimConfig,
}

impl Resolved {
    /// Resolves `scenario` (from `file`) against `catalog`.
    pub fn new(file: &str, scenario: &Scenario, catalog: &Catalog) -> Result<Resolved, SimError> {
        let deployment = Deployment::resolve(catalog, &scenario.deployment).map_err(|e| in_file(file, e))?;
        let max_chips = scenario.limits.max_chips;
        if deployment.chips() > max_chips {
            let field = if scenario.deployment.disagg.is_some() { "deployment.disagg" } else { "deployment.replicas" };
            return Err(in_file(
                file,
                SimError::Field {
                    field: field.into(),
                    message: format!(
                        "{} chips is more than this simulator runs event by event ({max_chips}, `limits.max_chips`); \
                         plan fleets that large with `tokenfab plan`, or raise the limit",
                        deployment.chips()
                    ),
                },
            ));
        }
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
        let source = s.source().map_err(|e| in_file(file, e))?;
        let closed = s.load.arrivals.as_ref().and_then(|a| a.concurrency());
        let slos = if !s.slo.is_empty() {
            s.slo.clone()
        } else if let Source::Workload(w) = &source {
            w.classes
                .iter()
                .enumerate()
                .map(|(i, c)| Slo { class: i as u16, ttft_ms: c.slo.ttft_ms, tpot_ms: c.slo.tpot_ms })
                .collect()
        } else {
            SimConfig::default().slos
        };
        let config = SimConfig {
            router: s.router.policy,
            arrivals: match closed {
                Some(c) => Arrivals::Closed { concurrency: c.div_ceil(g) },
                None => Arrivals::Timed,
            },
            slos,
            pue: s.facility.pue,
            max_sim_time_ns: crate::time::s_to_ns(s.limits.max_sim_time_s),
            max_engine_iterations: s.limits.max_engine_iterations,
            max_requests: s.limits.max_requests.div_ceil(g as u64),
            max_in_flight: s.limits.max_in_flight.div_ceil(g as u64),
            client_think_ns_mean: s.load.arrivals.as_ref().map_or(0, |a| a.think_ns()),
            client_start_spread_ns: s.load.arrivals.as_ref().map_or(0, |a| a.start_spread_ns()),
            ..SimConfig::default()
        };
        Ok(Resolved { scenario: scenario.clone(), source, group, deployment, config })
    }

    fn groups(&self) -> u64 {
        self.scenario.router.parallel_groups as u64
    }

    /// Mean offered rate of the whole load before any utilization scaling, requests/s (None
    /// for closed loops).
    pub fn base_rate_per_s(&self, trace: Option<&[Request]>) -> Option<f64> {
        match &self.source {
            Source::Synthetic(l) => match l.arrivals {
                ArrivalSpec::Poisson { rate_per_s } | ArrivalSpec::Gamma { rate_per_s, .. } => Some(rate_per_s),
                ArrivalSpec::Closed { .. } => None,
            },
            _ if self.config.arrivals != Arrivals::Timed => None,
            Source::Workload(w) => {
                // The weekly mean, times the profile's mean multiplier over the simulated window
                // (a run at night sees less than the weekly mean).
                let mean = w.arrival.mean_rate_per_s();
                let window_s = self.scenario.load.duration_s.unwrap_or(3600.0);
                let m = match w.arrival.profile() {
                    Some(p) => {
                        (0..1000).map(|i| p.multiplier((i as f64 + 0.5) / 1000.0 * window_s)).sum::<f64>() / 1000.0
                    }
                    None => 1.0,
                };
                Some(mean * m)
            }
            Source::Trace(_) => {
                let t = trace?;
                let span = t.last()?.arrival_ns.saturating_sub(t.first()?.arrival_ns).max(1) as f64 * 1e-9;
                Some(t.len() as f64 / span)
            }
        }
    }

    /// The request stream of group `gi` with open-loop rates multiplied by `scale` (and split
    /// over groups). Ids are made unique across groups (`id × groups + gi`).
    fn stream<'a>(
        &'a self,
        gi: u64,
        seed: u64,
        scale: f64,
        trace: Option<&'a [Request]>,
    ) -> Result<Box<dyn Iterator<Item = Request> + Send + 'a>, SimError> {
        let g = self.groups();
        let per_group = self.scenario.load.requests.map(|n| n.div_ceil(g));
        let horizon = self.scenario.load.duration_s.map(crate::time::s_to_ns).unwrap_or(u64::MAX);
        let relabel = move |mut r: Request| {
            r.id = r.id * g + gi;
            r
        };
        let it: Box<dyn Iterator<Item = Request> + Send + 'a> = match &self.source {
            Source::Synthetic(l) => {
                let mut l = l.clone();
                l.arrivals = l.arrivals.scaled(scale / g as f64);
                l.requests = per_group;
                Box::new(l.requests(seed).map(relabel))
            }
            Source::Workload(w) => {
                let spec = w.scaled(scale / g as f64);
                let generator = spec
                    .generate(seed)
                    .map_err(|e| SimError::Field { field: "load.workload".into(), message: e.to_string() })?;
                let closed = self.config.arrivals != Arrivals::Timed;
                let it = generator.take_while(move |r| closed || r.arrival_ns <= horizon).map(relabel);
                match per_group {
                    Some(n) => Box::new(it.take(n as usize)),
                    None => Box::new(it),
                }
            }
            Source::Trace(t) => {
                let reqs = trace.ok_or_else(|| SimError::Field {
                    field: "load.workload.trace".into(),
                    message: format!("the trace {} must be read by the caller and passed in", t.trace.display()),
                })?;
                let t0 = reqs.first().map_or(0, |r| r.arrival_ns);
                let it = reqs
                    .iter()
                    .enumerate()
                    .filter(move |(i, _)| *i as u64 % g == gi)
                    .map(move |(_, r)| {
                        let mut r = r.clone();
                        r.arrival_ns = ((r.arrival_ns - t0.min(r.arrival_ns)) as f64 / scale).round() as u64;
                        r
                    })
                    .take_while(move |r| r.arrival_ns <= horizon)
                    .map(relabel);
                match per_group {
                    Some(n) => Box::new(it.take(n as usize)),
                    None => Box::new(it),
                }
            }
        };
        Ok(it)
    }

    /// Requests per second one group can sustain: a closed-loop saturation probe on the group's
    /// deployment (concurrency = its maximum running sequences, 8× that many requests; the
    /// completion rate from the 20th-percentile completion until the last request is sent),
    /// deterministic in `seed`.
    pub fn probe_capacity_rps(&self, seed: u64, trace: Option<&[Request]>) -> Result<f64, SimError> {
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
        let n = conc as usize * 8;
        let cfg = SimConfig { arrivals: Arrivals::Closed { concurrency: conc }, ..self.config.clone() };
        let reqs: Vec<Request> = match &self.source {
            Source::Synthetic(l) => {
                let mut l = l.clone();
                l.arrivals = ArrivalSpec::Closed { concurrency: conc, think_ms: None, start_spread_ms: None };
                l.requests = Some(n as u64);
                l.duration_s = None;
                l.requests(seed ^ 0x5eed).collect()
            }
            Source::Workload(w) => w
                .generate(seed ^ 0x5eed)
                .map_err(|e| SimError::Field { field: "load.workload".into(), message: e.to_string() })?
                .take(n)
                .collect(),
            Source::Trace(_) => self.stream(0, seed, 1.0, trace)?.take(n).collect(),
        };
        let res = crate::run(&cfg, &self.group, reqs.into_iter(), seed)?;
        // Steady state: from the 20th-percentile completion until the last request was sent
        // (after that the clients drain and the rate falls).
        let mut fin: Vec<u64> = res.records.iter().filter_map(|r| r.finish_ns).collect();
        fin.sort_unstable();
        let fed = res.records.iter().map(|r| r.arrival_ns).max().unwrap_or(0);
        let n = fin.len();
        if n < 10 {
            return Err(SimError::Limit("capacity probe completed too few requests".into()));
        }
        let start = fin[n / 5];
        let (end, count) = if fed > start {
            (fed, fin.iter().filter(|&&t| t > start && t <= fed).count())
        } else {
            (fin[n - 1], n - 1 - n / 5)
        };
        Ok((count as f64 / ((end - start).max(1) as f64 * 1e-9)).max(1e-9))
    }

    /// Runs every group (in parallel with rayon) and merges the results. `trace` holds the
    /// requests of a trace workload (the caller reads the file). `on_group` hears each group
    /// start and finish, from the thread that runs it (progress, wall-clock timing: the
    /// simulation itself reads no clock). Returns the result and the run's [`LoadInfo`].
    pub fn execute(
        &self,
        seed: u64,
        trace: Option<&[Request]>,
        on_group: &(dyn Fn(GroupEvent) + Sync),
    ) -> Result<(SimResult, LoadInfo), SimError> {
        let base = self.base_rate_per_s(trace);
        let g = self.groups();
        let (scale, cap) = match (self.scenario.load.utilization, base) {
            (Some(u), Some(b)) if b > 0.0 => {
                let c = self.probe_capacity_rps(seed, trace)?;
                (u * c * g as f64 / b, Some(c * g as f64))
            }
            _ => (1.0, None),
        };
        let parts: Result<Vec<SimResult>, SimError> = (0..g)
            .into_par_iter()
            .map(|gi| {
                on_group(GroupEvent::Started(gi));
                let gseed = group_seed(seed, gi);
                let reqs = self.stream(gi, gseed, scale, trace)?;
                let mut res = crate::run(&self.config, &self.group, reqs, gseed)?;
                let offset = gi as u32 * replicas_in(&self.group);
                for r in &mut res.records {
                    r.replica += offset;
                    if let Some(d) = &mut r.decode_replica {
                        *d += offset;
                    }
                }
                on_group(GroupEvent::Finished(gi));
                Ok(res)
            })
            .collect();
        let info = LoadInfo {
            capacity_requests_per_s: cap,
            offered_requests_per_s: base.map(|b| b * scale),
            utilization: self.scenario.load.utilization,
        };
        Ok((SimResult::merge(parts?), info))
    }
}

/// A parallel group of [`Resolved::execute`] starting or finishing (its index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    /// The group's simulation starts on the calling thread.
    Started(u64),
    /// The group's simulation finished on the calling thread.
    Finished(u64),
}

/// Wall time a run of parallel groups would take on `cores` cores: the groups' measured wall
/// times (`group_s`, in group order) list-scheduled greedily (each next group on the core that
/// frees first, as rayon's work stealing roughly does), plus the run's serial part (capacity
/// probe, merge). An estimate for sizing a machine, not a measurement: it ignores memory
/// bandwidth shared between cores and rayon's actual split order.
pub fn estimate_wall_s(group_s: &[f64], serial_s: f64, cores: usize) -> f64 {
    let mut free = vec![0.0_f64; cores.max(1)];
    for &g in group_s {
        let (i, _) =
            free.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0))).expect("at least one core");
        free[i] += g.max(0.0);
    }
    serial_s.max(0.0) + free.iter().copied().fold(0.0, f64::max)
}

/// How the load was sized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadInfo {
    /// Measured capacity of the whole deployment (probe), requests/s.
    pub capacity_requests_per_s: Option<f64>,
    /// Mean offered open-loop rate, requests/s.
    pub offered_requests_per_s: Option<f64>,
    /// Requested fraction of capacity.
    pub utilization: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::estimate_wall_s;

    #[test]
    fn wall_time_estimates_schedule_groups_on_the_first_free_core() {
        let g = [3.0, 1.0, 1.0, 1.0, 2.0];
        // One core runs everything in turn.
        assert_eq!(estimate_wall_s(&g, 0.5, 1), 8.5);
        // Two cores: 3 | 1 1 1 2 → the fifth group goes to the core free at 3 (tie: first core).
        assert_eq!(estimate_wall_s(&g, 0.5, 2), 5.5);
        // More cores than groups: the longest group plus the serial part.
        assert_eq!(estimate_wall_s(&g, 0.5, 16), 3.5);
        assert_eq!(estimate_wall_s(&[], 0.25, 4), 0.25);
        // Zero cores is read as one.
        assert_eq!(estimate_wall_s(&g, 0.0, 0), 8.0);
    }
}
