//! The placement LP of one quarter, solved with good_lp's pure-Rust `microlp` solver.
//!
//! ```text
//!  x[s][k] ≥ 0   units (systems) of supply s deployed at site k
//!  y[t][s][k] ≥ 0  of those, units serving task t
//!  u[t] ≥ 0       unserved demand of task t, tokens/s
//!
//!  deliveries[s]:  Σ_k x[s][k]                 ≤ available units of s
//!  site-power[k]:  Σ_s x[s][k] · MW_it[s] · PUE[k] ≤ facility cap of k
//!  rack-use[s][k]: Σ_t y[t][s][k]              ≤ x[s][k]
//!  demand[t]:      Σ_{s,k} y · rate[t][s] + u[t] ≥ demand of t       (rate already × utilization cap)
//!
//!  minimise   M · Σ u  −  R · Σ x · MW_it  +  Σ (y + ε·x) · cost[s][k]
//! ```
//!
//! Priorities, by the size of the weights: serve all demand (M), then deploy every delivered
//! unit the sites can power (R, the lab has paid for them; what does not serve runs training) —
//! where site power is short, the units that serve most of the demand mix per MW first (R is up
//! to 1.5× larger for them) — then serve on the cheapest hardware and sites.
//!
//! microlp gives no duals, so [`AllocationProblem::binding`] does a slack analysis and, for each
//! binding constraint while demand goes unserved, solves one more LP for the smallest relaxation
//! of that constraint that serves everything; when no single limit suffices, one LP finds the
//! smallest joint (relative) relaxation of all limits.

// Index loops over [task][supply][site] arrays read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use good_lp::{Expression, ProblemVariables, Solution, SolverModel, Variable, microlp, variable};
use serde::Serialize;

/// One supply line as the LP sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LpSupply {
    /// Name (for constraint names).
    pub name: String,
    /// Units (systems) delivered so far and usable this quarter.
    pub available_units: f64,
    /// IT power of one unit, MW.
    pub unit_it_mw: f64,
    /// Per site: may this supply be placed there?
    pub allowed_sites: Vec<bool>,
}

/// One site.
#[derive(Debug, Clone, PartialEq)]
pub struct LpSite {
    /// Name.
    pub name: String,
    /// Facility power cap this quarter, MW.
    pub cap_facility_mw: f64,
    /// PUE.
    pub pue: f64,
}

/// One task's demand.
#[derive(Debug, Clone, PartialEq)]
pub struct LpTask {
    /// Name.
    pub name: String,
    /// Peak demand, tokens/s.
    pub demand_tokens_per_s: f64,
}

/// A quarter's placement problem.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationProblem {
    /// Supplies.
    pub supplies: Vec<LpSupply>,
    /// Sites.
    pub sites: Vec<LpSite>,
    /// Tasks.
    pub tasks: Vec<LpTask>,
    /// `[task][supply]`: usable tokens/s of one unit at SLO (capacity × utilization cap; 0 where
    /// the SLO cannot be met).
    pub tokens_per_s_per_unit: Vec<Vec<f64>>,
    /// `[supply][site]`: cost of one unit for one quarter at that site, USD.
    pub unit_cost_usd: Vec<Vec<f64>>,
}

/// A constraint of the LP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConstraintId {
    /// Units delivered of supply `s`.
    Deliveries(usize),
    /// Facility power cap of site `k`.
    SitePower(usize),
}

/// The solved placement.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// `[supply][site]` units deployed.
    pub deployed: Vec<Vec<f64>>,
    /// `[task][supply][site]` units serving.
    pub serving: Vec<Vec<Vec<f64>>>,
    /// `[task]` unserved tokens/s.
    pub unserved_tokens_per_s: Vec<f64>,
    /// Objective value (internal units).
    pub objective: f64,
}

/// A constraint that limits the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    /// `deliveries:SUPPLY`, `site-power:SITE`, `slo:TASK`.
    pub constraint: String,
    /// Its limit (units for deliveries, facility MW for site power).
    pub limit: f64,
    /// How much of it the plan uses.
    pub used: f64,
    /// Unit of `limit`, `used` and `increase_needed`.
    pub unit: String,
    /// By how much the limit must rise for all demand to be served (None: raising this limit
    /// alone cannot serve it all, or nothing is unserved).
    pub increase_needed: Option<f64>,
    /// Whether `increase_needed` holds only together with the other joint increases (no single
    /// limit suffices on its own).
    pub joint: bool,
    /// One-line explanation.
    pub message: String,
}

/// Errors of the LP.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LpError {
    /// The problem's arrays do not match its lists.
    #[error("allocation problem is malformed: {0}")]
    Malformed(String),
    /// The solver failed.
    #[error("LP solver: {0}")]
    Solver(String),
}

// Internal scaling: tokens in millions per second, money in millions of USD.
const TOK: f64 = 1e-6;
const USD: f64 = 1e-6;

struct Vars {
    x: Vec<Vec<Option<Variable>>>,
    y: Vec<Vec<Vec<Option<Variable>>>>,
    u: Vec<Variable>,
}

impl AllocationProblem {
    fn check(&self) -> Result<(), LpError> {
        let (t, s, k) = (self.tasks.len(), self.supplies.len(), self.sites.len());
        if self.tokens_per_s_per_unit.len() != t || self.tokens_per_s_per_unit.iter().any(|r| r.len() != s) {
            return Err(LpError::Malformed(format!("tokens_per_s_per_unit must be {t} × {s}")));
        }
        if self.unit_cost_usd.len() != s || self.unit_cost_usd.iter().any(|r| r.len() != k) {
            return Err(LpError::Malformed(format!("unit_cost_usd must be {s} × {k}")));
        }
        if self.supplies.iter().any(|x| x.allowed_sites.len() != k) {
            return Err(LpError::Malformed(format!("allowed_sites must have {k} entries")));
        }
        let bad = |v: f64| !v.is_finite() || v < 0.0;
        if self.supplies.iter().any(|x| bad(x.available_units) || bad(x.unit_it_mw))
            || self.sites.iter().any(|x| bad(x.cap_facility_mw) || x.pue.is_nan() || x.pue < 1.0)
            || self.tasks.iter().any(|x| bad(x.demand_tokens_per_s))
            || self.tokens_per_s_per_unit.iter().flatten().any(|v| bad(*v))
            || self.unit_cost_usd.iter().flatten().any(|v| bad(*v))
        {
            return Err(LpError::Malformed("negative or non-finite input".into()));
        }
        Ok(())
    }

    /// Solves the placement.
    pub fn solve(&self) -> Result<Allocation, LpError> {
        self.check()?;
        self.solve_inner(&[]).map(|(a, _)| a)
    }

    /// Solves the problem; with a non-empty `relax`, demand must be met in full and the limits of
    /// the listed constraints become variables whose relative increase is minimised. Returns the
    /// increase of each listed limit.
    fn solve_inner(&self, relax: &[ConstraintId]) -> Result<(Allocation, Vec<f64>), LpError> {
        let relaxing = !relax.is_empty();
        let (nt, ns, nk) = (self.tasks.len(), self.supplies.len(), self.sites.len());
        let mut pv = ProblemVariables::new();
        let mut vars = Vars { x: vec![vec![None; nk]; ns], y: vec![vec![vec![None; nk]; ns]; nt], u: Vec::new() };
        for s in 0..ns {
            for k in 0..nk {
                let sup = &self.supplies[s];
                if sup.allowed_sites[k] {
                    vars.x[s][k] = Some(pv.add(variable().min(0.0)));
                    for t in 0..nt {
                        if self.tokens_per_s_per_unit[t][s] > 0.0 {
                            vars.y[t][s][k] = Some(pv.add(variable().min(0.0)));
                        }
                    }
                }
            }
        }
        for _ in 0..nt {
            let u = if relaxing { pv.add(variable().min(0.0).max(0.0)) } else { pv.add(variable().min(0.0)) };
            vars.u.push(u);
        }
        let relax_vars: Vec<(ConstraintId, Variable)> =
            relax.iter().map(|id| (*id, pv.add(variable().min(0.0)))).collect();
        let relax_of = |id: ConstraintId| relax_vars.iter().find(|(c, _)| *c == id).map(|(_, v)| *v);

        // Weights. Costs are per unit-quarter in M$; normalise by the largest per-MW cost.
        let max_cost_per_mw = (0..ns)
            .flat_map(|s| (0..nk).map(move |k| (s, k)))
            .map(|(s, k)| self.unit_cost_usd[s][k] * USD / self.supplies[s].unit_it_mw.max(1e-9))
            .fold(1e-9, f64::max);
        // Deploy reward per IT MW: 10× any cost difference between sites.
        let reward_per_mw = 10.0 * max_cost_per_mw;
        // Where power is scarce, prefer the units that serve the most of the demand mix per MW:
        // the reward per MW rises by up to half for the most productive supply.
        let total_demand: f64 = self.tasks.iter().map(|t| t.demand_tokens_per_s).sum();
        let mix_per_mw: Vec<f64> = (0..ns)
            .map(|s| {
                let (mut w, mut inv) = (0.0, 0.0);
                for t in 0..nt {
                    let share = if total_demand > 0.0 {
                        self.tasks[t].demand_tokens_per_s / total_demand
                    } else {
                        1.0 / nt as f64
                    };
                    if self.tokens_per_s_per_unit[t][s] > 0.0 && share > 0.0 {
                        w += share;
                        inv += share / self.tokens_per_s_per_unit[t][s];
                    }
                }
                if inv > 0.0 { w / inv / self.supplies[s].unit_it_mw.max(1e-9) } else { 0.0 }
            })
            .collect();
        let best_mix = mix_per_mw.iter().copied().fold(0.0, f64::max);
        let reward =
            |s: usize| reward_per_mw * (1.0 + if best_mix > 0.0 { 0.5 * mix_per_mw[s] / best_mix } else { 0.0 });
        // Penalty per unserved Mtok/s: 100× the dearest way of serving one Mtok/s, and well
        // above the deploy reward it could trade against.
        let mut max_cost_per_mtok = 1e-9f64;
        for t in 0..nt {
            for s in 0..ns {
                let r = self.tokens_per_s_per_unit[t][s] * TOK;
                if r > 0.0 {
                    for k in 0..nk {
                        let c = self.unit_cost_usd[s][k] * USD + reward(s) * self.supplies[s].unit_it_mw;
                        max_cost_per_mtok = max_cost_per_mtok.max(c / r);
                    }
                }
            }
        }
        let penalty = 100.0 * max_cost_per_mtok;

        let mut obj = Expression::from(0.0);
        match relaxing {
            true => {
                for (id, r) in &relax_vars {
                    let limit = match id {
                        ConstraintId::Deliveries(s) => self.supplies[*s].available_units,
                        ConstraintId::SitePower(k) => self.sites[*k].cap_facility_mw,
                    };
                    obj.add_mul(1.0 / limit.max(1.0), *r);
                }
            }
            false => {
                for u in &vars.u {
                    obj.add_mul(penalty, *u);
                }
                for s in 0..ns {
                    for k in 0..nk {
                        if let Some(x) = vars.x[s][k] {
                            let c = self.unit_cost_usd[s][k] * USD;
                            obj.add_mul(-reward(s) * self.supplies[s].unit_it_mw + 1e-3 * c, x);
                            for t in 0..nt {
                                if let Some(y) = vars.y[t][s][k] {
                                    obj.add_mul(c, y);
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut model = pv.minimise(obj.clone()).using(microlp);
        for s in 0..ns {
            let mut e = Expression::from(0.0);
            for k in 0..nk {
                if let Some(x) = vars.x[s][k] {
                    e.add_mul(1.0, x);
                }
            }
            match relax_of(ConstraintId::Deliveries(s)) {
                Some(r) => model.add_constraint(e.leq(Expression::from(self.supplies[s].available_units) + r)),
                None => model.add_constraint(e.leq(self.supplies[s].available_units)),
            };
        }
        for k in 0..nk {
            let mut e = Expression::from(0.0);
            for s in 0..ns {
                if let Some(x) = vars.x[s][k] {
                    e.add_mul(self.supplies[s].unit_it_mw * self.sites[k].pue, x);
                }
            }
            match relax_of(ConstraintId::SitePower(k)) {
                Some(r) => model.add_constraint(e.leq(Expression::from(self.sites[k].cap_facility_mw) + r)),
                None => model.add_constraint(e.leq(self.sites[k].cap_facility_mw)),
            };
            for s in 0..ns {
                if let Some(x) = vars.x[s][k] {
                    let mut used = Expression::from(0.0);
                    for t in 0..nt {
                        if let Some(y) = vars.y[t][s][k] {
                            used.add_mul(1.0, y);
                        }
                    }
                    model.add_constraint(used.leq(x));
                }
            }
        }
        for t in 0..nt {
            let mut e = Expression::from(0.0);
            for s in 0..ns {
                for k in 0..nk {
                    if let Some(y) = vars.y[t][s][k] {
                        e.add_mul(self.tokens_per_s_per_unit[t][s] * TOK, y);
                    }
                }
            }
            e.add_mul(1.0, vars.u[t]);
            model.add_constraint(e.geq(self.tasks[t].demand_tokens_per_s * TOK));
        }
        let sol = model.solve().map_err(|e| LpError::Solver(e.to_string()))?;
        let val = |v: Option<Variable>| v.map_or(0.0, |v| sol.value(v).max(0.0));
        let alloc = Allocation {
            deployed: (0..ns).map(|s| (0..nk).map(|k| val(vars.x[s][k])).collect()).collect(),
            serving: (0..nt)
                .map(|t| (0..ns).map(|s| (0..nk).map(|k| val(vars.y[t][s][k])).collect()).collect())
                .collect(),
            unserved_tokens_per_s: vars.u.iter().map(|u| sol.value(*u).max(0.0) / TOK).collect(),
            objective: sol.eval(&obj),
        };
        let increases = relax_vars.iter().map(|(_, r)| sol.value(*r).max(0.0)).collect();
        Ok((alloc, increases))
    }

    /// Which constraints bind in a solved allocation, and — while demand goes unserved — by how
    /// much each must rise to serve all of it (an extra LP per binding constraint).
    pub fn binding(&self, a: &Allocation) -> Vec<Binding> {
        let unserved: f64 = a.unserved_tokens_per_s.iter().sum();
        let total: f64 = self.tasks.iter().map(|t| t.demand_tokens_per_s).sum();
        let short = unserved > 1e-6 * total.max(1.0);
        let mut out = Vec::new();
        // A task no supply can serve at SLO: the SLO itself binds.
        for (t, task) in self.tasks.iter().enumerate() {
            if task.demand_tokens_per_s > 0.0 && self.tokens_per_s_per_unit[t].iter().all(|r| *r <= 0.0) {
                out.push(Binding {
                    constraint: format!("slo:{}", task.name),
                    limit: 0.0,
                    used: task.demand_tokens_per_s,
                    unit: "tokens/s".into(),
                    increase_needed: None,
                    joint: false,
                    message: format!(
                        "no system in the plan meets the SLOs of task `{}`: {:.3e} tokens/s cannot be served",
                        task.name, task.demand_tokens_per_s
                    ),
                });
            }
        }
        let mut check = |id: ConstraintId, name: String, limit: f64, used: f64, unit: &str| {
            let slack = limit - used;
            if limit <= 0.0 || slack > 1e-6 * limit.max(1.0) {
                return;
            }
            let needed =
                if short { self.solve_inner(&[id]).ok().map(|(_, r)| r[0]).filter(|r| r.is_finite()) } else { None };
            let message = match (short, needed) {
                (false, _) => format!("{name} is fully used ({used:.1} of {limit:.1} {unit}); all demand is served"),
                (true, Some(n)) => format!(
                    "{name} binds: {used:.1} of {limit:.1} {unit} used; raising it by {n:.1} {unit} (to {:.1}) would serve the missing {unserved:.3e} tokens/s",
                    limit + n
                ),
                (true, None) => format!(
                    "{name} binds ({used:.1} of {limit:.1} {unit}), but raising it alone cannot serve the missing {unserved:.3e} tokens/s"
                ),
            };
            out.push(Binding {
                constraint: name,
                limit,
                used,
                unit: unit.into(),
                increase_needed: needed,
                joint: false,
                message,
            });
        };
        for (s, sup) in self.supplies.iter().enumerate() {
            let used: f64 = a.deployed[s].iter().sum();
            check(ConstraintId::Deliveries(s), format!("deliveries:{}", sup.name), sup.available_units, used, "units");
        }
        for (k, site) in self.sites.iter().enumerate() {
            let used: f64 =
                (0..self.supplies.len()).map(|s| a.deployed[s][k] * self.supplies[s].unit_it_mw * site.pue).sum();
            check(ConstraintId::SitePower(k), format!("site-power:{}", site.name), site.cap_facility_mw, used, "MW");
        }
        if short && !out.iter().any(|b| b.increase_needed.is_some()) {
            self.joint_increases(a, unserved, &mut out);
        }
        out
    }

    /// No single limit suffices: the smallest joint (relative) increase of all deliveries and
    /// site caps that serves all demand, one entry per limit that must rise.
    fn joint_increases(&self, a: &Allocation, unserved: f64, out: &mut Vec<Binding>) {
        let (ns, nk) = (self.supplies.len(), self.sites.len());
        let ids: Vec<ConstraintId> =
            (0..ns).map(ConstraintId::Deliveries).chain((0..nk).map(ConstraintId::SitePower)).collect();
        let Ok((_, inc)) = self.solve_inner(&ids) else { return };
        let mut rising = Vec::new();
        for (id, r) in ids.iter().zip(&inc) {
            let (name, limit, used, unit) = match *id {
                ConstraintId::Deliveries(s) => (
                    format!("deliveries:{}", self.supplies[s].name),
                    self.supplies[s].available_units,
                    a.deployed[s].iter().sum::<f64>(),
                    "units",
                ),
                ConstraintId::SitePower(k) => (
                    format!("site-power:{}", self.sites[k].name),
                    self.sites[k].cap_facility_mw,
                    (0..ns).map(|s| a.deployed[s][k] * self.supplies[s].unit_it_mw * self.sites[k].pue).sum(),
                    "MW",
                ),
            };
            if *r > 1e-6 * limit.max(1.0) {
                rising.push((name, limit, used, unit, *r));
            }
        }
        let all: Vec<String> = rising.iter().map(|(n, _, _, u, r)| format!("{n} +{r:.1} {u}")).collect();
        for (name, limit, used, unit, r) in rising {
            let message = format!(
                "{name}: {used:.1} of {limit:.1} {unit} used; no single limit suffices — together ({}) they would serve the missing {unserved:.3e} tokens/s",
                all.join(", ")
            );
            match out.iter_mut().find(|b| b.constraint == name) {
                Some(b) => {
                    b.increase_needed = Some(r);
                    b.joint = true;
                    b.message = message;
                }
                None => out.push(Binding {
                    constraint: name,
                    limit,
                    used,
                    unit: unit.into(),
                    increase_needed: Some(r),
                    joint: true,
                    message,
                }),
            }
        }
    }
}
