//! Quarter by quarter: demand, deliveries, the placement LP, power, energy and cost.

#![allow(clippy::needless_range_loop)]

use crate::capacity::{Capacity, CapacityCache, CapacityError, CapacityModel, CapacityQuery, layout_name};
use crate::lp::{AllocationProblem, Binding, LpError, LpSite, LpSupply, LpTask};
use crate::scenario::{DeliveryUnit, PowerBasis, Scenario, SiteKind};
use crate::{HOURS_PER_QUARTER, Quarter, SECONDS_PER_QUARTER};
use serde::Serialize;
use std::collections::BTreeMap;
use tokenfab_catalog::Catalog;

/// Errors of the planner.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A catalog look-up failed.
    #[error("{0}")]
    Catalog(String),
    /// The capacity model failed.
    #[error("capacity of task `{task}` on supply `{supply}`: {source}")]
    Capacity {
        /// task name
        task: String,
        /// supply name
        supply: String,
        /// what failed
        source: CapacityError,
    },
    /// The LP failed.
    #[error("quarter {quarter}: {source}")]
    Lp {
        /// quarter
        quarter: Quarter,
        /// what failed
        source: LpError,
    },
    /// A what-if names something the scenario does not have.
    #[error("what-if: {0}")]
    WhatIf(String),
}

/// Changes to a scenario, from the command line.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct WhatIf {
    /// Vendor → quarters of delay of every delivery of that vendor.
    pub delays: BTreeMap<String, i64>,
    /// Demand multiplier (1.0: unchanged).
    pub demand_scale: Option<f64>,
    /// In-house chip throughput change, percent (+20: 20 % more tokens/s at SLO).
    pub asic_efficiency_pct: Option<f64>,
    /// Site → new facility power cap, MW (for every quarter the site is available).
    pub site_caps: BTreeMap<String, f64>,
}

impl WhatIf {
    /// True when it changes nothing.
    pub fn is_base(&self) -> bool {
        self.delays.is_empty()
            && self.demand_scale.is_none()
            && self.asic_efficiency_pct.is_none()
            && self.site_caps.is_empty()
    }

    /// Short label, e.g. `delay amd +2q`, `demand x1.5`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        for (v, k) in &self.delays {
            parts.push(format!("delay {v} {k:+}q"));
        }
        if let Some(f) = self.demand_scale {
            parts.push(format!("demand x{f}"));
        }
        if let Some(p) = self.asic_efficiency_pct {
            parts.push(format!("in-house chip {p:+}%"));
        }
        for (s, mw) in &self.site_caps {
            parts.push(format!("site {s} cap {mw} MW"));
        }
        if parts.is_empty() { "base".into() } else { parts.join(", ") }
    }

    /// The scenario with this what-if applied.
    pub fn apply(&self, base: &Scenario) -> Result<Scenario, PlanError> {
        let mut s = base.clone();
        for (vendor, k) in &self.delays {
            let mut any = false;
            for sup in s.supplies.iter_mut().filter(|x| &x.vendor == vendor) {
                any = true;
                sup.available = sup.available.plus(*k);
                sup.deliveries = sup.deliveries.iter().map(|(q, v)| (q.plus(*k), *v)).collect();
            }
            if !any {
                let known: std::collections::BTreeSet<&str> = base.supplies.iter().map(|x| x.vendor.as_str()).collect();
                return Err(PlanError::WhatIf(format!(
                    "no supply from vendor `{vendor}`; vendors: {}",
                    known.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        if let Some(f) = self.demand_scale {
            if !(f.is_finite() && f >= 0.0) {
                return Err(PlanError::WhatIf(format!("demand scale must be ≥ 0, got {f}")));
            }
            s.demand.weekly_active_users *= f;
            for t in &mut s.tasks {
                if let Some(v) = t.tokens_per_day.as_mut() {
                    *v *= f;
                }
            }
        }
        if let Some(p) = self.asic_efficiency_pct {
            if !(p.is_finite() && p > -100.0) {
                return Err(PlanError::WhatIf(format!("in-house efficiency change must be > -100 %, got {p}")));
            }
            let mut any = false;
            for sup in s.supplies.iter_mut().filter(|x| x.in_house) {
                any = true;
                sup.efficiency_scale *= 1.0 + p / 100.0;
            }
            if !any {
                return Err(PlanError::WhatIf("no supply has `in_house = true`".into()));
            }
        }
        for (site, mw) in &self.site_caps {
            let Some(x) = s.sites.iter_mut().find(|x| &x.name == site) else {
                return Err(PlanError::WhatIf(format!(
                    "unknown site `{site}`; sites: {}",
                    base.sites.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            };
            if !(mw.is_finite() && *mw >= 0.0) {
                return Err(PlanError::WhatIf(format!("site cap must be ≥ 0 MW, got {mw}")));
            }
            x.power_cap_mw = *mw;
            x.power_cap_mw_from.clear();
        }
        Ok(s)
    }
}

/// A supply line resolved against the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedSupply {
    /// Supply name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Catalog system id.
    pub system: String,
    /// Catalog chip id.
    pub chip: String,
    /// Chips per unit (system).
    pub chips_per_unit: u32,
    /// Units per physical rack.
    pub units_per_rack: f64,
    /// IT power of one unit, MW.
    pub unit_it_mw: f64,
    /// Price of one unit, USD.
    pub unit_price_usd: f64,
    /// Where the price comes from.
    pub price_source: String,
    /// Units delivered per quarter (after what-ifs).
    pub units_by_quarter: BTreeMap<Quarter, f64>,
}

/// Capacity of one (task, supply) pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityRow {
    /// First quarter these request lengths apply to (every quarter unless the scenario grows
    /// request lengths).
    pub quarter: String,
    /// Prompt tokens per request.
    pub input_tokens: u64,
    /// Output tokens per request.
    pub output_tokens: u64,
    /// Task.
    pub task: String,
    /// Supply.
    pub supply: String,
    /// Model id.
    pub model: String,
    /// System id.
    pub system: String,
    /// The replica capacity.
    pub capacity: Capacity,
    /// Tokens/s at SLO of one unit (system), × the supply's efficiency scale, before the
    /// utilization cap.
    pub tokens_per_s_per_unit: f64,
}

/// One quarter of the plan. The field names are a contract (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarterPlan {
    /// `2026Q3`.
    pub quarter: String,
    /// Peak demand, tokens (input + output) per second.
    pub demand_tokens_per_s: f64,
    /// Peak demand served at SLO, tokens/s.
    pub served_tokens_per_s: f64,
    /// Peak demand not served, tokens/s.
    pub unserved_tokens_per_s: f64,
    /// At-SLO capacity of the deployed fleet for the quarter's demand mix, tokens/s (before the
    /// utilization cap).
    pub capacity_tokens_per_s: f64,
    /// Served / capacity at peak.
    pub utilization: f64,
    /// Capacity × utilization cap / demand: by how much demand could grow before the deployed
    /// fleet runs short (for the same task mix).
    pub demand_headroom: f64,
    /// Share of deployed units serving at peak (the rest runs training and research).
    pub serving_share: f64,
    /// IT power of deployed systems (chips, hosts, switches, fans), MW.
    pub it_power_mw: f64,
    /// Facility power (IT × site PUE), MW.
    pub facility_power_mw: f64,
    /// Deployed chips by vendor.
    pub chips_by_vendor: BTreeMap<String, u64>,
    /// Deployed units (systems) by supply.
    pub units_by_supply: BTreeMap<String, f64>,
    /// Delivered chips by vendor (deployed or waiting for site power).
    pub chips_delivered_by_vendor: BTreeMap<String, u64>,
    /// Deployed racks by vendor.
    pub racks_by_vendor: BTreeMap<String, f64>,
    /// IT MW by vendor.
    pub it_power_mw_by_vendor: BTreeMap<String, f64>,
    /// Facility MW by site.
    pub facility_power_mw_by_site: BTreeMap<String, f64>,
    /// Facility energy this quarter, TWh (facility MW × hours: the fleet runs at rated power,
    /// serving or training).
    pub energy_twh: f64,
    /// Cash spent on equipment delivered this quarter, USD.
    pub capex_usd: f64,
    /// Cost of the quarter: equipment and facility depreciation, opex, energy, hosting, USD.
    pub cost_usd: f64,
    /// Cost of the units serving, USD (the serving share of `cost_usd` by unit).
    pub serving_cost_usd: f64,
    /// Tokens served this quarter (mean rate × seconds).
    pub tokens_served: f64,
    /// Serving cost per million tokens served, USD.
    pub usd_per_mtok: f64,
    /// Serving cost per million tokens by vendor, USD.
    pub usd_per_mtok_by_vendor: BTreeMap<String, f64>,
    /// Serving cost per million tokens of each vendor's hardware if it served the quarter's task
    /// mix at the utilization cap in its cheapest site, USD (comparable even where the LP gives a
    /// vendor no serving work).
    pub usd_per_mtok_at_cap_by_vendor: BTreeMap<String, f64>,
    /// Served tokens/s at peak by vendor.
    pub served_tokens_per_s_by_vendor: BTreeMap<String, f64>,
    /// Where each supply's units are deployed.
    pub placements: Vec<Placement>,
    /// Constraints that bind.
    pub binding: Vec<Binding>,
}

/// Units of one supply at one site in one quarter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// Supply.
    pub supply: String,
    /// Vendor.
    pub vendor: String,
    /// Site.
    pub site: String,
    /// Deployed units (systems).
    pub units: f64,
    /// Deployed physical racks.
    pub racks: f64,
    /// Deployed chips.
    pub chips: f64,
    /// IT power, MW.
    pub it_power_mw: f64,
    /// Units serving at peak.
    pub serving_units: f64,
}

/// One calendar year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearPlan {
    /// Year.
    pub year: i32,
    /// Quarters of the year in the plan.
    pub quarters: u32,
    /// Facility energy, TWh.
    pub energy_twh: f64,
    /// Equipment capex, USD.
    pub capex_usd: f64,
    /// Cost (depreciation, opex, energy, hosting), USD.
    pub cost_usd: f64,
    /// Tokens served.
    pub tokens_served: f64,
    /// Serving cost per million tokens, USD.
    pub usd_per_mtok: f64,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Scenario name.
    pub scenario: String,
    /// What-if label (`base` for none).
    pub what_if: String,
    /// Capacity fidelity level used.
    pub fidelity: String,
    /// Supplies as resolved.
    pub supplies: Vec<ResolvedSupply>,
    /// Capacities per (task, supply).
    pub capacity: Vec<CapacityRow>,
    /// Quarter by quarter.
    pub quarters: Vec<QuarterPlan>,
    /// Year by year.
    pub years: Vec<YearPlan>,
}

impl Plan {
    /// Quarters with unserved demand.
    pub fn short_quarters(&self) -> Vec<&QuarterPlan> {
        self.quarters.iter().filter(|q| q.unserved_tokens_per_s > 1e-6 * q.demand_tokens_per_s.max(1.0)).collect()
    }
}

/// Tokens per message in quarter `q` relative to the base quarter.
pub fn token_growth(s: &Scenario, q: Quarter) -> f64 {
    (1.0 + s.demand.tokens_per_message_growth_per_quarter).powi(s.demand.base_quarter.until(q) as i32)
}

/// Peak demand of each task in a quarter, tokens/s.
pub fn demand_tokens_per_s(s: &Scenario, q: Quarter) -> Vec<f64> {
    let d = &s.demand;
    let n = d.base_quarter.until(q) as i32;
    let growth = (1.0 + d.growth_per_quarter).powi(n);
    let tok_growth = (1.0 + d.tokens_per_message_growth_per_quarter).powi(n);
    let messages_per_day = d.weekly_active_users * d.messages_per_user_per_day * growth;
    s.tasks
        .iter()
        .map(|t| {
            let tokens_per_day = match (t.share, t.tokens_per_day) {
                (Some(share), _) => messages_per_day * share * (t.input_tokens + t.output_tokens) as f64 * tok_growth,
                (None, Some(v)) => v * growth * tok_growth,
                (None, None) => 0.0,
            };
            tokens_per_day / 86_400.0 * d.peak_to_mean
        })
        .collect()
}

fn resolve_supplies(s: &Scenario, catalog: &Catalog) -> Result<Vec<ResolvedSupply>, PlanError> {
    let mut out = Vec::new();
    for sup in &s.supplies {
        let sys = catalog.system(&sup.system).map_err(|e| PlanError::Catalog(format!("supply `{}`: {e}", sup.name)))?;
        let unit_it_mw = sys.system_power_kw.value / 1000.0;
        let units_per_rack = sys.systems_per_rack.value;
        let (unit_price_usd, price_source) = match (sup.unit_price_usd, sup.capex_usd_per_it_mw, &sys.price_usd) {
            (Some(p), _, _) => (p, "scenario unit_price_usd".to_string()),
            (None, Some(c), _) => (c * unit_it_mw, "scenario capex_usd_per_it_mw × system power".to_string()),
            (None, None, Some(f)) => (f.value, format!("catalog {} ({})", sys.id, f.source)),
            (None, None, None) => {
                return Err(PlanError::Catalog(format!("supply `{}`: no price for system `{}`", sup.name, sys.id)));
            }
        };
        let units_by_quarter = sup
            .deliveries
            .iter()
            .map(|(q, v)| {
                let units = match (sup.unit, sup.power_basis) {
                    (DeliveryUnit::Racks, _) => v * units_per_rack,
                    (DeliveryUnit::Mw, PowerBasis::It) => v / unit_it_mw,
                    (DeliveryUnit::Mw, PowerBasis::Facility) => v / s.reference_pue / unit_it_mw,
                };
                (*q, units)
            })
            .collect();
        out.push(ResolvedSupply {
            name: sup.name.clone(),
            vendor: sup.vendor.clone(),
            system: sys.id.clone(),
            chip: sys.chip.clone(),
            chips_per_unit: sys.chips.value,
            units_per_rack,
            unit_it_mw,
            unit_price_usd,
            price_source,
            units_by_quarter,
        });
    }
    Ok(out)
}

/// Capacity of every (task, supply) pair.
/// `length_scale` multiplies every task's input and output tokens (request-length growth);
/// `quarter` labels the rows.
pub fn capacities(
    s: &Scenario,
    catalog: &Catalog,
    model: &dyn CapacityModel,
    cache: &mut CapacityCache,
    length_scale: f64,
    quarter: Quarter,
) -> Result<Vec<CapacityRow>, PlanError> {
    let mut rows = Vec::new();
    for t in &s.tasks {
        let served = s.model_for(t).ok_or_else(|| PlanError::Catalog(format!("task `{}`: unknown model", t.name)))?;
        for sup in &s.supplies {
            let q = CapacityQuery {
                model: served.id.clone(),
                system: sup.system.clone(),
                engine: sup.engine.clone(),
                weight_dtype: served.weight_dtype,
                moe_dtype: served.moe_dtype,
                kv_dtype: served.kv_dtype,
                input_tokens: ((t.input_tokens as f64 * length_scale).round() as u64).max(1),
                output_tokens: ((t.output_tokens as f64 * length_scale).round() as u64).max(2),
                ttft_s: t.ttft_ms / 1e3,
                tpot_s: t.tpot_ms / 1e3,
                parallel: sup.parallel.map(|mut p| {
                    // `{ tp = 8 }` means experts split like attention: moe_tp = tp, moe_ep = attn_dp.
                    if p.moe_tp == 1 && p.moe_ep == 1 && p.tp * p.attn_dp > 1 {
                        p.moe_tp = p.tp;
                        p.moe_ep = p.attn_dp;
                    }
                    p
                }),
            };
            let c = cache.get_or_compute(model, catalog, &q).map_err(|source| PlanError::Capacity {
                task: t.name.clone(),
                supply: sup.name.clone(),
                source,
            })?;
            let sys = catalog.system(&sup.system).map_err(|e| PlanError::Catalog(e.to_string()))?;
            let per_unit = if c.feasible && c.chips_per_replica > 0 {
                c.tokens_per_s_per_replica * sys.chips.value as f64 / c.chips_per_replica as f64 * sup.efficiency_scale
            } else {
                0.0
            };
            rows.push(CapacityRow {
                quarter: quarter.to_string(),
                input_tokens: q.input_tokens,
                output_tokens: q.output_tokens,
                task: t.name.clone(),
                supply: sup.name.clone(),
                model: served.id.clone(),
                system: sup.system.clone(),
                capacity: c,
                tokens_per_s_per_unit: per_unit,
            });
        }
    }
    Ok(rows)
}

/// Plans a scenario quarter by quarter.
pub fn plan(
    s: &Scenario,
    what_if: &WhatIf,
    catalog: &Catalog,
    model: &dyn CapacityModel,
    cache: &mut CapacityCache,
) -> Result<Plan, PlanError> {
    let s = &what_if.apply(s)?;
    let supplies = resolve_supplies(s, catalog)?;
    let (nt, ns) = (s.tasks.len(), s.supplies.len());
    let mut capacity: Vec<CapacityRow> = Vec::new();
    let mut rate: Vec<Vec<f64>> = Vec::new();
    let f = &s.finance;
    let mut quarters = Vec::new();
    for q in s.quarters() {
        // Capacities: once, or per quarter when request lengths grow (cached by shape).
        if rate.is_empty() || s.demand.grow_request_length {
            let scale = if s.demand.grow_request_length { token_growth(s, q) } else { 1.0 };
            let rows = capacities(s, catalog, model, cache, scale, q)?;
            // rate[t][s]: tokens/s per unit at SLO (no utilization cap).
            rate = (0..nt).map(|t| (0..ns).map(|j| rows[t * ns + j].tokens_per_s_per_unit).collect()).collect();
            capacity.extend(rows);
        }
        let demand = demand_tokens_per_s(s, q);
        let available: Vec<f64> =
            supplies.iter().map(|r| r.units_by_quarter.range(..=q).map(|(_, v)| *v).sum::<f64>()).collect();
        // Cost of one unit for one quarter at each site.
        let unit_cost: Vec<Vec<f64>> = (0..ns)
            .map(|j| {
                let r = &supplies[j];
                let equipment =
                    r.unit_price_usd / (f.depreciation_years * 4.0) + r.unit_price_usd * f.opex_fraction_per_year / 4.0;
                s.sites
                    .iter()
                    .map(|site| {
                        let fmw = r.unit_it_mw * site.pue;
                        let energy = fmw * HOURS_PER_QUARTER * site.electricity_usd_per_mwh;
                        let site_cost = match site.kind {
                            SiteKind::Own => {
                                fmw * site.facility_capex_usd_per_mw / (f.facility_depreciation_years * 4.0)
                            }
                            SiteKind::Partner => fmw * site.hosting_usd_per_mw_year / 4.0,
                        };
                        equipment + energy + site_cost
                    })
                    .collect()
            })
            .collect();
        let problem = AllocationProblem {
            supplies: supplies
                .iter()
                .zip(&s.supplies)
                .zip(&available)
                .map(|((r, sup), avail)| LpSupply {
                    name: r.name.clone(),
                    available_units: *avail,
                    unit_it_mw: r.unit_it_mw,
                    allowed_sites: s
                        .sites
                        .iter()
                        .map(|k| sup.sites.is_empty() || sup.sites.contains(&k.name))
                        .collect(),
                })
                .collect(),
            sites: s
                .sites
                .iter()
                .map(|k| LpSite { name: k.name.clone(), cap_facility_mw: k.cap_mw(q), pue: k.pue })
                .collect(),
            tasks: s
                .tasks
                .iter()
                .zip(&demand)
                .map(|(t, d)| LpTask { name: t.name.clone(), demand_tokens_per_s: *d })
                .collect(),
            tokens_per_s_per_unit: rate.iter().map(|r| r.iter().map(|v| v * s.utilization_cap).collect()).collect(),
            unit_cost_usd: unit_cost.clone(),
        };
        let alloc = problem.solve().map_err(|source| PlanError::Lp { quarter: q, source })?;
        let binding = problem.binding(&alloc);

        let demand_total: f64 = demand.iter().sum();
        let unserved: f64 = alloc.unserved_tokens_per_s.iter().sum();
        let served = (demand_total - unserved).max(0.0);
        // Demand mix for the capacity of idle units: shares of tokens.
        let mix: Vec<f64> =
            demand.iter().map(|d| if demand_total > 0.0 { d / demand_total } else { 1.0 / nt as f64 }).collect();
        let mix_rate: Vec<f64> = (0..ns)
            .map(|j| {
                let (mut w, mut inv) = (0.0, 0.0);
                for t in 0..nt {
                    if rate[t][j] > 0.0 {
                        w += mix[t];
                        inv += mix[t] / rate[t][j];
                    }
                }
                if inv > 0.0 { w / inv } else { 0.0 }
            })
            .collect();
        let mut qp = QuarterPlan {
            quarter: q.to_string(),
            demand_tokens_per_s: demand_total,
            served_tokens_per_s: served,
            unserved_tokens_per_s: unserved,
            capacity_tokens_per_s: 0.0,
            utilization: 0.0,
            demand_headroom: 0.0,
            serving_share: 0.0,
            it_power_mw: 0.0,
            facility_power_mw: 0.0,
            chips_by_vendor: BTreeMap::new(),
            units_by_supply: BTreeMap::new(),
            chips_delivered_by_vendor: BTreeMap::new(),
            racks_by_vendor: BTreeMap::new(),
            it_power_mw_by_vendor: BTreeMap::new(),
            facility_power_mw_by_site: BTreeMap::new(),
            energy_twh: 0.0,
            capex_usd: 0.0,
            cost_usd: 0.0,
            serving_cost_usd: 0.0,
            tokens_served: served / s.demand.peak_to_mean * SECONDS_PER_QUARTER,
            usd_per_mtok: 0.0,
            usd_per_mtok_by_vendor: BTreeMap::new(),
            usd_per_mtok_at_cap_by_vendor: BTreeMap::new(),
            served_tokens_per_s_by_vendor: BTreeMap::new(),
            placements: Vec::new(),
            binding,
        };
        let mut serving_units = 0.0;
        let mut deployed_units = 0.0;
        let mut vendor_cost: BTreeMap<String, f64> = BTreeMap::new();
        for (j, r) in supplies.iter().enumerate() {
            let v = r.vendor.clone();
            let delivered_units = available[j];
            *qp.chips_delivered_by_vendor.entry(v.clone()).or_default() +=
                (delivered_units * r.chips_per_unit as f64).round() as u64;
            let new_units = r.units_by_quarter.get(&q).copied().unwrap_or(0.0);
            qp.capex_usd += new_units * r.unit_price_usd;
            // Delivered equipment depreciates and costs opex whether or not it has site power.
            let equipment =
                r.unit_price_usd / (f.depreciation_years * 4.0) + r.unit_price_usd * f.opex_fraction_per_year / 4.0;
            qp.cost_usd += delivered_units * equipment;
            let mut units = 0.0;
            for (k, site) in s.sites.iter().enumerate() {
                let x = alloc.deployed[j][k];
                units += x;
                let it = x * r.unit_it_mw;
                qp.it_power_mw += it;
                qp.facility_power_mw += it * site.pue;
                *qp.facility_power_mw_by_site.entry(site.name.clone()).or_default() += it * site.pue;
                // Site-side cost of a deployed unit (its share of unit_cost beyond equipment).
                qp.cost_usd += x * (unit_cost[j][k] - equipment);
                let mut y_sum = 0.0;
                for t in 0..nt {
                    let y = alloc.serving[t][j][k];
                    y_sum += y;
                    let tok = y * rate[t][j] * s.utilization_cap;
                    *qp.served_tokens_per_s_by_vendor.entry(v.clone()).or_default() += tok;
                    qp.capacity_tokens_per_s += y * rate[t][j];
                    qp.serving_cost_usd += y * unit_cost[j][k];
                    *vendor_cost.entry(v.clone()).or_default() += y * unit_cost[j][k];
                }
                let y_sum = y_sum.min(x);
                if x > 0.0 {
                    qp.placements.push(Placement {
                        supply: r.name.clone(),
                        vendor: r.vendor.clone(),
                        site: site.name.clone(),
                        units: x,
                        racks: x / r.units_per_rack,
                        chips: x * r.chips_per_unit as f64,
                        it_power_mw: it,
                        serving_units: y_sum,
                    });
                }
                qp.capacity_tokens_per_s += (x - y_sum) * mix_rate[j];
                serving_units += y_sum;
            }
            deployed_units += units;
            qp.units_by_supply.insert(r.name.clone(), units);
            *qp.chips_by_vendor.entry(v.clone()).or_default() += (units * r.chips_per_unit as f64).round() as u64;
            *qp.racks_by_vendor.entry(v.clone()).or_default() += units / r.units_per_rack;
            *qp.it_power_mw_by_vendor.entry(v).or_default() += units * r.unit_it_mw;
        }
        qp.utilization = if qp.capacity_tokens_per_s > 0.0 { served / qp.capacity_tokens_per_s } else { 0.0 };
        qp.demand_headroom =
            if demand_total > 0.0 { qp.capacity_tokens_per_s * s.utilization_cap / demand_total } else { 0.0 };
        qp.serving_share = if deployed_units > 0.0 { serving_units / deployed_units } else { 0.0 };
        qp.energy_twh = qp.facility_power_mw * HOURS_PER_QUARTER / 1e6;
        let mtok = qp.tokens_served / 1e6;
        qp.usd_per_mtok = if mtok > 0.0 { qp.serving_cost_usd / mtok } else { 0.0 };
        for (j, r) in supplies.iter().enumerate() {
            let mtok = mix_rate[j] * s.utilization_cap / s.demand.peak_to_mean * SECONDS_PER_QUARTER / 1e6;
            let cost = unit_cost[j].iter().copied().fold(f64::INFINITY, f64::min);
            if mtok > 0.0 && cost.is_finite() {
                let e = qp.usd_per_mtok_at_cap_by_vendor.entry(r.vendor.clone()).or_insert(f64::INFINITY);
                *e = e.min(cost / mtok);
            }
        }
        for (v, tok_s) in &qp.served_tokens_per_s_by_vendor {
            let vm = tok_s / s.demand.peak_to_mean * SECONDS_PER_QUARTER / 1e6;
            if vm > 0.0 {
                qp.usd_per_mtok_by_vendor.insert(v.clone(), vendor_cost.get(v).copied().unwrap_or(0.0) / vm);
            }
        }
        quarters.push(qp);
    }
    let mut years: BTreeMap<i32, YearPlan> = BTreeMap::new();
    for (q, qp) in s.quarters().iter().zip(&quarters) {
        let y = years.entry(q.year).or_insert(YearPlan {
            year: q.year,
            quarters: 0,
            energy_twh: 0.0,
            capex_usd: 0.0,
            cost_usd: 0.0,
            tokens_served: 0.0,
            usd_per_mtok: 0.0,
        });
        y.quarters += 1;
        y.energy_twh += qp.energy_twh;
        y.capex_usd += qp.capex_usd;
        y.cost_usd += qp.cost_usd;
        y.tokens_served += qp.tokens_served;
        y.usd_per_mtok += qp.serving_cost_usd;
    }
    let years = years
        .into_values()
        .map(|mut y| {
            y.usd_per_mtok = if y.tokens_served > 0.0 { y.usd_per_mtok / (y.tokens_served / 1e6) } else { 0.0 };
            y
        })
        .collect();
    Ok(Plan {
        scenario: s.name.clone(),
        what_if: what_if.label(),
        fidelity: model.fidelity().into(),
        supplies,
        capacity,
        quarters,
        years,
    })
}

/// `tp8` etc. for a capacity row (empty when infeasible).
pub fn capacity_layout(c: &Capacity) -> String {
    c.parallel.as_ref().map(layout_name).unwrap_or_default()
}
