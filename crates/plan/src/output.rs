//! Outputs: tables, the `summary.json` value and the HTML report — built here, written by the
//! caller (see `tokenfab_report::write_table`, `write_atomic`).

use crate::planner::{Plan, capacity_layout};
use serde::Serialize;
use std::collections::BTreeSet;
use tokenfab_report::html::{LineChart, Page, Series, StackedBars};
use tokenfab_report::{Column, ReportError, Table};

/// Version of the `summary.json` layout.
pub const SUMMARY_VERSION: u32 = 1;

/// One plan compared with the base plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIfRow {
    /// What-if label (`base` for the base plan).
    pub what_if: String,
    /// Tokens served over the horizon.
    pub tokens_served: f64,
    /// Share of peak demand served, averaged over quarters.
    pub served_share: f64,
    /// Quarters with unserved demand.
    pub short_quarters: u32,
    /// First quarter with unserved demand.
    pub first_short_quarter: Option<String>,
    /// Largest unserved share of a quarter's peak demand.
    pub max_unserved_share: f64,
    /// Largest facility power, MW.
    pub peak_facility_power_mw: f64,
    /// Facility energy over the horizon, TWh.
    pub energy_twh: f64,
    /// Equipment capex over the horizon, USD.
    pub capex_usd: f64,
    /// Cost over the horizon, USD.
    pub cost_usd: f64,
    /// Serving cost per million tokens over the horizon, USD.
    pub usd_per_mtok: f64,
    /// Constraints binding in the last quarter.
    pub binding_last_quarter: Vec<String>,
}

impl WhatIfRow {
    /// Totals of one plan.
    pub fn of(p: &Plan) -> WhatIfRow {
        let tokens: f64 = p.quarters.iter().map(|q| q.tokens_served).sum();
        let serving_cost: f64 = p.quarters.iter().map(|q| q.serving_cost_usd).sum();
        let short = p.short_quarters();
        let n = p.quarters.len().max(1) as f64;
        WhatIfRow {
            what_if: p.what_if.clone(),
            tokens_served: tokens,
            served_share: p
                .quarters
                .iter()
                .map(|q| if q.demand_tokens_per_s > 0.0 { q.served_tokens_per_s / q.demand_tokens_per_s } else { 1.0 })
                .sum::<f64>()
                / n,
            short_quarters: short.len() as u32,
            first_short_quarter: short.first().map(|q| q.quarter.clone()),
            max_unserved_share: p
                .quarters
                .iter()
                .map(
                    |q| if q.demand_tokens_per_s > 0.0 { q.unserved_tokens_per_s / q.demand_tokens_per_s } else { 0.0 },
                )
                .fold(0.0, f64::max),
            peak_facility_power_mw: p.quarters.iter().map(|q| q.facility_power_mw).fold(0.0, f64::max),
            energy_twh: p.quarters.iter().map(|q| q.energy_twh).sum(),
            capex_usd: p.quarters.iter().map(|q| q.capex_usd).sum(),
            cost_usd: p.quarters.iter().map(|q| q.cost_usd).sum(),
            usd_per_mtok: if tokens > 0.0 { serving_cost / (tokens / 1e6) } else { 0.0 },
            binding_last_quarter: p
                .quarters
                .last()
                .map(|q| q.binding.iter().map(|b| b.constraint.clone()).collect())
                .unwrap_or_default(),
        }
    }
}

/// The `summary.json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Summary<'a> {
    /// Layout version.
    pub summary_version: u32,
    /// `plan`.
    pub command: &'static str,
    /// Scenario name.
    pub scenario: &'a str,
    /// Capacity fidelity.
    pub fidelity: &'a str,
    /// The base plan's quarters.
    pub quarters: &'a [crate::QuarterPlan],
    /// The base plan's years.
    pub years: &'a [crate::planner::YearPlan],
    /// Supplies as resolved.
    pub supplies: &'a [crate::planner::ResolvedSupply],
    /// Capacity per (task, supply).
    pub capacity: &'a [crate::planner::CapacityRow],
    /// Base plan and each what-if, compared.
    pub what_ifs: Vec<WhatIfRow>,
}

/// The summary of a base plan and its what-ifs.
pub fn summary<'a>(base: &'a Plan, what_ifs: &[Plan]) -> Summary<'a> {
    Summary {
        summary_version: SUMMARY_VERSION,
        command: "plan",
        scenario: &base.scenario,
        fidelity: &base.fidelity,
        quarters: &base.quarters,
        years: &base.years,
        supplies: &base.supplies,
        capacity: &base.capacity,
        what_ifs: std::iter::once(base).chain(what_ifs).map(WhatIfRow::of).collect(),
    }
}

/// quarter, vendor, chips, chips delivered, racks, IT MW, served tokens/s, $/Mtok.
type VendorRow = (String, String, i64, i64, f64, f64, f64, f64);

fn vendors(p: &Plan) -> Vec<String> {
    let set: BTreeSet<String> = p.supplies.iter().map(|s| s.vendor.clone()).collect();
    set.into_iter().collect()
}

/// The tables of a plan: `(stem, table)` for `quarters`, `vendors`, `sites`, `placements`, `capacity`,
/// `years`, `binding` and `what_ifs`.
pub fn tables(base: &Plan, what_ifs: &[Plan]) -> Result<Vec<(&'static str, Table)>, ReportError> {
    let qs = &base.quarters;
    let f = |g: &dyn Fn(&crate::QuarterPlan) -> f64| Column::F64(qs.iter().map(g).collect());
    let mut quarters = Table::new();
    quarters.add("quarter", Column::Str(qs.iter().map(|q| q.quarter.clone()).collect()))?;
    quarters.add("demand_tokens_per_s", f(&|q| q.demand_tokens_per_s))?;
    quarters.add("served_tokens_per_s", f(&|q| q.served_tokens_per_s))?;
    quarters.add("unserved_tokens_per_s", f(&|q| q.unserved_tokens_per_s))?;
    quarters.add("capacity_tokens_per_s", f(&|q| q.capacity_tokens_per_s))?;
    quarters.add("utilization", f(&|q| q.utilization))?;
    quarters.add("demand_headroom", f(&|q| q.demand_headroom))?;
    quarters.add("serving_share", f(&|q| q.serving_share))?;
    quarters.add("it_power_mw", f(&|q| q.it_power_mw))?;
    quarters.add("facility_power_mw", f(&|q| q.facility_power_mw))?;
    quarters.add("chips", Column::I64(qs.iter().map(|q| q.chips_by_vendor.values().sum::<u64>() as i64).collect()))?;
    quarters.add("energy_twh", f(&|q| q.energy_twh))?;
    quarters.add("capex_usd", f(&|q| q.capex_usd))?;
    quarters.add("cost_usd", f(&|q| q.cost_usd))?;
    quarters.add("serving_cost_usd", f(&|q| q.serving_cost_usd))?;
    quarters.add("tokens_served", f(&|q| q.tokens_served))?;
    quarters.add("usd_per_mtok", f(&|q| q.usd_per_mtok))?;

    let mut rows: Vec<VendorRow> = Vec::new();
    for q in qs {
        for v in vendors(base) {
            rows.push((
                q.quarter.clone(),
                v.clone(),
                q.chips_by_vendor.get(&v).copied().unwrap_or(0) as i64,
                q.chips_delivered_by_vendor.get(&v).copied().unwrap_or(0) as i64,
                q.racks_by_vendor.get(&v).copied().unwrap_or(0.0),
                q.it_power_mw_by_vendor.get(&v).copied().unwrap_or(0.0),
                q.served_tokens_per_s_by_vendor.get(&v).copied().unwrap_or(0.0),
                q.usd_per_mtok_by_vendor.get(&v).copied().unwrap_or(0.0),
            ));
        }
    }
    let mut by_vendor = Table::new();
    by_vendor.add("quarter", Column::Str(rows.iter().map(|r| r.0.clone()).collect()))?;
    by_vendor.add("vendor", Column::Str(rows.iter().map(|r| r.1.clone()).collect()))?;
    by_vendor.add("chips", Column::I64(rows.iter().map(|r| r.2).collect()))?;
    by_vendor.add("chips_delivered", Column::I64(rows.iter().map(|r| r.3).collect()))?;
    by_vendor.add("racks", Column::F64(rows.iter().map(|r| r.4).collect()))?;
    by_vendor.add("it_power_mw", Column::F64(rows.iter().map(|r| r.5).collect()))?;
    by_vendor.add("served_tokens_per_s", Column::F64(rows.iter().map(|r| r.6).collect()))?;
    by_vendor.add("usd_per_mtok", Column::F64(rows.iter().map(|r| r.7).collect()))?;

    let site_rows: Vec<(String, String, f64)> = qs
        .iter()
        .flat_map(|q| q.facility_power_mw_by_site.iter().map(|(k, v)| (q.quarter.clone(), k.clone(), *v)))
        .collect();
    let mut sites = Table::new();
    sites.add("quarter", Column::Str(site_rows.iter().map(|r| r.0.clone()).collect()))?;
    sites.add("site", Column::Str(site_rows.iter().map(|r| r.1.clone()).collect()))?;
    sites.add("facility_power_mw", Column::F64(site_rows.iter().map(|r| r.2).collect()))?;

    let pl: Vec<(&str, &crate::planner::Placement)> =
        qs.iter().flat_map(|q| q.placements.iter().map(move |p| (q.quarter.as_str(), p))).collect();
    let mut placements = Table::new();
    placements.add("quarter", Column::Str(pl.iter().map(|r| r.0.to_string()).collect()))?;
    placements.add("supply", Column::Str(pl.iter().map(|r| r.1.supply.clone()).collect()))?;
    placements.add("vendor", Column::Str(pl.iter().map(|r| r.1.vendor.clone()).collect()))?;
    placements.add("site", Column::Str(pl.iter().map(|r| r.1.site.clone()).collect()))?;
    placements.add("units", Column::F64(pl.iter().map(|r| r.1.units).collect()))?;
    placements.add("racks", Column::F64(pl.iter().map(|r| r.1.racks).collect()))?;
    placements.add("chips", Column::F64(pl.iter().map(|r| r.1.chips).collect()))?;
    placements.add("it_power_mw", Column::F64(pl.iter().map(|r| r.1.it_power_mw).collect()))?;
    placements.add("serving_units", Column::F64(pl.iter().map(|r| r.1.serving_units).collect()))?;

    let c = &base.capacity;
    let mut cap = Table::new();
    cap.add("quarter", Column::Str(c.iter().map(|r| r.quarter.clone()).collect()))?;
    cap.add("input_tokens", Column::I64(c.iter().map(|r| r.input_tokens as i64).collect()))?;
    cap.add("output_tokens", Column::I64(c.iter().map(|r| r.output_tokens as i64).collect()))?;
    cap.add("task", Column::Str(c.iter().map(|r| r.task.clone()).collect()))?;
    cap.add("supply", Column::Str(c.iter().map(|r| r.supply.clone()).collect()))?;
    cap.add("model", Column::Str(c.iter().map(|r| r.model.clone()).collect()))?;
    cap.add("system", Column::Str(c.iter().map(|r| r.system.clone()).collect()))?;
    cap.add("fidelity", Column::Str(c.iter().map(|r| r.capacity.fidelity.clone()).collect()))?;
    cap.add("feasible", Column::I64(c.iter().map(|r| r.capacity.feasible as i64).collect()))?;
    cap.add("layout", Column::Str(c.iter().map(|r| capacity_layout(&r.capacity)).collect()))?;
    cap.add("chips_per_replica", Column::I64(c.iter().map(|r| r.capacity.chips_per_replica as i64).collect()))?;
    cap.add("batch", Column::I64(c.iter().map(|r| r.capacity.batch as i64).collect()))?;
    cap.add("tokens_per_s_per_replica", Column::F64(c.iter().map(|r| r.capacity.tokens_per_s_per_replica).collect()))?;
    cap.add("tokens_per_s_per_unit", Column::F64(c.iter().map(|r| r.tokens_per_s_per_unit).collect()))?;
    cap.add("tpot_ms", Column::F64(c.iter().map(|r| r.capacity.tpot_ms).collect()))?;
    cap.add("ttft_ms", Column::F64(c.iter().map(|r| r.capacity.ttft_ms).collect()))?;
    cap.add("energy_j_per_token", Column::F64(c.iter().map(|r| r.capacity.energy_j_per_token).collect()))?;
    cap.add("chip_power_w", Column::F64(c.iter().map(|r| r.capacity.chip_power_w).collect()))?;
    cap.add("reason", Column::Str(c.iter().map(|r| r.capacity.reason.clone().unwrap_or_default()).collect()))?;

    let y = &base.years;
    let mut years = Table::new();
    years.add("year", Column::I64(y.iter().map(|r| r.year as i64).collect()))?;
    years.add("quarters", Column::I64(y.iter().map(|r| r.quarters as i64).collect()))?;
    years.add("energy_twh", Column::F64(y.iter().map(|r| r.energy_twh).collect()))?;
    years.add("capex_usd", Column::F64(y.iter().map(|r| r.capex_usd).collect()))?;
    years.add("cost_usd", Column::F64(y.iter().map(|r| r.cost_usd).collect()))?;
    years.add("tokens_served", Column::F64(y.iter().map(|r| r.tokens_served).collect()))?;
    years.add("usd_per_mtok", Column::F64(y.iter().map(|r| r.usd_per_mtok).collect()))?;

    let b: Vec<(String, &crate::lp::Binding)> =
        qs.iter().flat_map(|q| q.binding.iter().map(move |b| (q.quarter.clone(), b))).collect();
    let mut binding = Table::new();
    binding.add("quarter", Column::Str(b.iter().map(|r| r.0.clone()).collect()))?;
    binding.add("constraint", Column::Str(b.iter().map(|r| r.1.constraint.clone()).collect()))?;
    binding.add("limit", Column::F64(b.iter().map(|r| r.1.limit).collect()))?;
    binding.add("used", Column::F64(b.iter().map(|r| r.1.used).collect()))?;
    binding.add("unit", Column::Str(b.iter().map(|r| r.1.unit.clone()).collect()))?;
    binding.add("increase_needed", Column::F64(b.iter().map(|r| r.1.increase_needed.unwrap_or(f64::NAN)).collect()))?;
    binding.add("message", Column::Str(b.iter().map(|r| r.1.message.clone()).collect()))?;

    let w: Vec<WhatIfRow> = std::iter::once(base).chain(what_ifs).map(WhatIfRow::of).collect();
    let mut wt = Table::new();
    wt.add("what_if", Column::Str(w.iter().map(|r| r.what_if.clone()).collect()))?;
    wt.add("tokens_served", Column::F64(w.iter().map(|r| r.tokens_served).collect()))?;
    wt.add("served_share", Column::F64(w.iter().map(|r| r.served_share).collect()))?;
    wt.add("short_quarters", Column::I64(w.iter().map(|r| r.short_quarters as i64).collect()))?;
    wt.add(
        "first_short_quarter",
        Column::Str(w.iter().map(|r| r.first_short_quarter.clone().unwrap_or_default()).collect()),
    )?;
    wt.add("max_unserved_share", Column::F64(w.iter().map(|r| r.max_unserved_share).collect()))?;
    wt.add("peak_facility_power_mw", Column::F64(w.iter().map(|r| r.peak_facility_power_mw).collect()))?;
    wt.add("energy_twh", Column::F64(w.iter().map(|r| r.energy_twh).collect()))?;
    wt.add("capex_usd", Column::F64(w.iter().map(|r| r.capex_usd).collect()))?;
    wt.add("cost_usd", Column::F64(w.iter().map(|r| r.cost_usd).collect()))?;
    wt.add("usd_per_mtok", Column::F64(w.iter().map(|r| r.usd_per_mtok).collect()))?;

    Ok(vec![
        ("quarters", quarters),
        ("vendors", by_vendor),
        ("sites", sites),
        ("placements", placements),
        ("capacity", cap),
        ("years", years),
        ("binding", binding),
        ("what_ifs", wt),
    ])
}

fn qx(i: usize) -> f64 {
    i as f64
}

/// Rounds to 3 significant digits (for display tables).
fn sig3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let m = 10f64.powi(2 - x.abs().log10().floor() as i32);
    (x * m).round() / m
}

fn short_quarter(q: &str) -> String {
    // "2026Q3" -> "26Q3": fits under a bar.
    q.get(2..).unwrap_or(q).to_string()
}

fn display_tables(base: &Plan, what_ifs: &[Plan]) -> Result<[Table; 4], ReportError> {
    let qs = &base.quarters;
    let col = |g: &dyn Fn(&crate::QuarterPlan) -> f64| Column::F64(qs.iter().map(|q| sig3(g(q))).collect());
    let mut quarters = Table::new();
    quarters.add("quarter", Column::Str(qs.iter().map(|q| q.quarter.clone()).collect()))?;
    quarters.add("demand, M tok/s", col(&|q| q.demand_tokens_per_s / 1e6))?;
    quarters.add("capacity, M tok/s", col(&|q| q.capacity_tokens_per_s / 1e6))?;
    quarters.add("unserved, M tok/s", col(&|q| q.unserved_tokens_per_s / 1e6))?;
    quarters.add("util %", col(&|q| q.utilization * 100.0))?;
    quarters.add("headroom x", col(&|q| q.demand_headroom))?;
    quarters.add("IT GW", col(&|q| q.it_power_mw / 1e3))?;
    quarters.add("facility GW", col(&|q| q.facility_power_mw / 1e3))?;
    quarters.add("chips, M", col(&|q| q.chips_by_vendor.values().sum::<u64>() as f64 / 1e6))?;
    quarters.add("TWh", col(&|q| q.energy_twh))?;
    quarters.add("capex $B", col(&|q| q.capex_usd / 1e9))?;
    quarters.add("cost $B", col(&|q| q.cost_usd / 1e9))?;
    quarters.add("$/Mtok", col(&|q| q.usd_per_mtok))?;

    let w: Vec<WhatIfRow> = std::iter::once(base).chain(what_ifs).map(WhatIfRow::of).collect();
    let wc = |g: &dyn Fn(&WhatIfRow) -> f64| Column::F64(w.iter().map(|r| sig3(g(r))).collect());
    let mut wt = Table::new();
    wt.add("plan", Column::Str(w.iter().map(|r| r.what_if.clone()).collect()))?;
    wt.add("served %", wc(&|r| r.served_share * 100.0))?;
    wt.add("short quarters", Column::I64(w.iter().map(|r| r.short_quarters as i64).collect()))?;
    wt.add("first short", Column::Str(w.iter().map(|r| r.first_short_quarter.clone().unwrap_or_default()).collect()))?;
    wt.add("max unserved %", wc(&|r| r.max_unserved_share * 100.0))?;
    wt.add("peak facility GW", wc(&|r| r.peak_facility_power_mw / 1e3))?;
    wt.add("TWh", wc(&|r| r.energy_twh))?;
    wt.add("capex $B", wc(&|r| r.capex_usd / 1e9))?;
    wt.add("cost $B", wc(&|r| r.cost_usd / 1e9))?;
    wt.add("$/Mtok", wc(&|r| r.usd_per_mtok))?;

    // With growing request lengths there is one set per quarter: show the first and the last.
    let (q0, q1) = (
        base.capacity.first().map(|r| r.quarter.clone()).unwrap_or_default(),
        base.capacity.last().map(|r| r.quarter.clone()).unwrap_or_default(),
    );
    let c: Vec<&crate::planner::CapacityRow> =
        base.capacity.iter().filter(|r| r.quarter == q0 || r.quarter == q1).collect();
    let c = &c;
    let cc = |g: &dyn Fn(&crate::planner::CapacityRow) -> f64| Column::F64(c.iter().map(|r| sig3(g(r))).collect());
    let mut cap = Table::new();
    if q0 != q1 {
        cap.add("from", Column::Str(c.iter().map(|r| r.quarter.clone()).collect()))?;
    }
    cap.add("task", Column::Str(c.iter().map(|r| r.task.clone()).collect()))?;
    cap.add(
        "in/out tokens",
        Column::Str(c.iter().map(|r| format!("{}/{}", r.input_tokens, r.output_tokens)).collect()),
    )?;
    cap.add("model", Column::Str(c.iter().map(|r| r.model.clone()).collect()))?;
    cap.add("system", Column::Str(c.iter().map(|r| r.system.clone()).collect()))?;
    cap.add("layout", Column::Str(c.iter().map(|r| capacity_layout(&r.capacity)).collect()))?;
    cap.add("batch", Column::I64(c.iter().map(|r| r.capacity.batch as i64).collect()))?;
    cap.add("k tok/s per system", cc(&|r| r.tokens_per_s_per_unit / 1e3))?;
    cap.add("TPOT ms", cc(&|r| r.capacity.tpot_ms))?;
    cap.add("TTFT ms", cc(&|r| r.capacity.ttft_ms))?;
    cap.add("mJ/token", cc(&|r| r.capacity.energy_j_per_token * 1e3))?;
    cap.add("W/chip", cc(&|r| r.capacity.chip_power_w))?;
    cap.add("why infeasible", Column::Str(c.iter().map(|r| r.capacity.reason.clone().unwrap_or_default()).collect()))?;

    // Binding constraints: one row per constraint and run of quarters with the same state.
    // Consecutive quarters where a constraint binds with the same limit and no shortfall are
    // merged into one row ("2027Q1-2027Q2").
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut open: Vec<(String, String, f64, String, String)> = Vec::new(); // first, last, limit, name, message
    for q in qs {
        let mut next = Vec::new();
        for b in &q.binding {
            if b.increase_needed.is_none()
                && !b.constraint.starts_with("site-power:")
                && !b.constraint.starts_with("slo:")
            {
                continue;
            }
            let mergeable = b.increase_needed.is_none();
            match open.iter().position(|o| mergeable && o.3 == b.constraint && o.2 == b.limit) {
                Some(i) => {
                    let mut o = open.remove(i);
                    o.1 = q.quarter.clone();
                    next.push(o);
                }
                None => {
                    next.push((q.quarter.clone(), q.quarter.clone(), b.limit, b.constraint.clone(), b.message.clone()))
                }
            }
            if !mergeable {
                let o = next.pop().unwrap_or_default();
                rows.push((o.0, o.3, o.4));
            }
        }
        for o in open.drain(..) {
            let span = if o.0 == o.1 { o.0 } else { format!("{}-{}", o.0, o.1) };
            rows.push((span, o.3, o.4));
        }
        open = next;
    }
    for o in open.drain(..) {
        let span = if o.0 == o.1 { o.0 } else { format!("{}-{}", o.0, o.1) };
        rows.push((span, o.3, o.4));
    }
    let mut binding = Table::new();
    binding.add("quarters", Column::Str(rows.iter().map(|r| r.0.clone()).collect()))?;
    binding.add("constraint", Column::Str(rows.iter().map(|r| r.1.clone()).collect()))?;
    binding.add("what it means (first quarter)", Column::Str(rows.iter().map(|r| r.2.clone()).collect()))?;
    Ok([quarters, wt, cap, binding])
}

fn supplies_table(base: &Plan) -> Result<Table, ReportError> {
    let r = &base.supplies;
    let delivered_units = |x: &crate::planner::ResolvedSupply| x.units_by_quarter.values().sum::<f64>();
    let mut t = Table::new();
    t.add("supply", Column::Str(r.iter().map(|x| x.name.clone()).collect()))?;
    t.add("vendor", Column::Str(r.iter().map(|x| x.vendor.clone()).collect()))?;
    t.add("system", Column::Str(r.iter().map(|x| x.system.clone()).collect()))?;
    t.add("chips/system", Column::I64(r.iter().map(|x| x.chips_per_unit as i64).collect()))?;
    t.add("kW/system (IT)", Column::F64(r.iter().map(|x| sig3(x.unit_it_mw * 1e3)).collect()))?;
    t.add("$M/system", Column::F64(r.iter().map(|x| sig3(x.unit_price_usd / 1e6)).collect()))?;
    t.add("delivered IT GW", Column::F64(r.iter().map(|x| sig3(delivered_units(x) * x.unit_it_mw / 1e3)).collect()))?;
    t.add(
        "delivered chips, M",
        Column::F64(r.iter().map(|x| sig3(delivered_units(x) * x.chips_per_unit as f64 / 1e6)).collect()),
    )?;
    t.add("price from", Column::Str(r.iter().map(|x| x.price_source.clone()).collect()))?;
    Ok(t)
}

/// The self-contained HTML report: capacity vs demand, GW by vendor, cost per token, binding
/// constraints, capacity per replica and the what-if comparison.
pub fn report_html(base: &Plan, what_ifs: &[Plan], notes: &[String]) -> Result<String, ReportError> {
    let qs = &base.quarters;
    let [quarters_t, what_if_t, capacity_t, binding_t] = display_tables(base, what_ifs)?;
    let mut page = Page::new(&format!("Fleet plan: {}", base.scenario));
    let first = qs.first().map(|q| q.quarter.as_str()).unwrap_or("");
    let last = qs.last().map(|q| q.quarter.as_str()).unwrap_or("");
    page.paragraph(&format!(
        "Quarters {first} to {last}. Capacity fidelity: {}. Demand is the peak-hour rate of input + output tokens; \
         capacity is the at-SLO rate of the deployed fleet for the quarter's task mix (serving may use at most the \
         utilization cap of it). Deployed systems that do not serve at peak are left to training and research.",
        base.fidelity
    ));
    for n in notes {
        page.paragraph(n);
    }
    if let (Some(a), Some(b)) = (qs.first(), qs.last()) {
        page.paragraph(&format!(
            "In {}: {:.0} M tokens/s of peak demand, {:.1} GW facility power, {:.2} M chips; {} quarter(s) short of demand. \
             In {}: {:.0} M tokens/s, {:.1} GW, {:.2} M chips, demand headroom {:.1}x, serving cost ${:.3} per million tokens.",
            a.quarter,
            a.demand_tokens_per_s / 1e6,
            a.facility_power_mw / 1e3,
            a.chips_by_vendor.values().sum::<u64>() as f64 / 1e6,
            base.short_quarters().len(),
            b.quarter,
            b.demand_tokens_per_s / 1e6,
            b.facility_power_mw / 1e3,
            b.chips_by_vendor.values().sum::<u64>() as f64 / 1e6,
            b.demand_headroom,
            b.usd_per_mtok
        ));
    }
    let axis = format!("quarters after {first}");
    let series = |name: &str, g: &dyn Fn(&crate::QuarterPlan) -> f64| Series {
        name: name.into(),
        points: qs.iter().enumerate().map(|(i, q)| (qx(i), g(q))).collect(),
    };
    page.heading("Capacity vs demand");
    page.line_chart(&LineChart {
        title: "Peak demand, served demand and at-SLO capacity".into(),
        x_label: axis.clone(),
        y_label: "million tokens/s".into(),
        series: vec![
            series("capacity", &|q| q.capacity_tokens_per_s / 1e6),
            series("demand", &|q| q.demand_tokens_per_s / 1e6),
            series("served", &|q| q.served_tokens_per_s / 1e6),
        ],
    });
    page.line_chart(&LineChart {
        title: "Demand headroom: capacity x utilization cap / demand (below 1 = short)".into(),
        x_label: axis.clone(),
        y_label: "x".into(),
        series: vec![series("headroom", &|q| q.demand_headroom), series("1 = just enough", &|_| 1.0)],
    });
    page.heading("Power by vendor");
    let vs = vendors(base);
    page.stacked_bars(&StackedBars {
        title: "IT power of deployed systems by vendor".into(),
        y_label: "GW (IT)".into(),
        // Every other quarter is labelled: 14 labels do not fit under 14 bars.
        categories: qs
            .iter()
            .enumerate()
            .map(|(i, q)| if i % 2 == 0 || qs.len() <= 8 { short_quarter(&q.quarter) } else { String::new() })
            .collect(),
        stacks: vs
            .iter()
            .map(|v| {
                (v.clone(), qs.iter().map(|q| q.it_power_mw_by_vendor.get(v).copied().unwrap_or(0.0) / 1e3).collect())
            })
            .collect(),
    });
    let sites: BTreeSet<String> = qs.iter().flat_map(|q| q.facility_power_mw_by_site.keys().cloned()).collect();
    page.stacked_bars(&StackedBars {
        title: "Facility power by site".into(),
        y_label: "GW (facility)".into(),
        categories: qs
            .iter()
            .enumerate()
            .map(|(i, q)| if i % 2 == 0 || qs.len() <= 8 { short_quarter(&q.quarter) } else { String::new() })
            .collect(),
        stacks: sites
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    qs.iter().map(|q| q.facility_power_mw_by_site.get(k).copied().unwrap_or(0.0) / 1e3).collect(),
                )
            })
            .collect(),
    });
    page.line_chart(&LineChart {
        title: "IT and facility power".into(),
        x_label: axis.clone(),
        y_label: "GW".into(),
        series: vec![series("facility", &|q| q.facility_power_mw / 1e3), series("IT", &|q| q.it_power_mw / 1e3)],
    });
    page.heading("Cost per million tokens");
    let mut cost_series = vec![Series {
        name: "plan (served)".into(),
        points: qs
            .iter()
            .enumerate()
            .filter(|(_, q)| q.usd_per_mtok > 0.0)
            .map(|(i, q)| (qx(i), q.usd_per_mtok))
            .collect(),
    }];
    for v in &vs {
        cost_series.push(Series {
            name: format!("{v} at cap"),
            points: qs
                .iter()
                .enumerate()
                .filter_map(|(i, q)| q.usd_per_mtok_at_cap_by_vendor.get(v).map(|c| (qx(i), *c)))
                .collect(),
        });
    }
    page.line_chart(&LineChart {
        title: "Serving cost per million tokens (depreciation, opex, energy, site)".into(),
        x_label: axis.clone(),
        y_label: "USD per million tokens".into(),
        series: cost_series,
    });
    page.paragraph(
        "\"plan (served)\": cost of the systems the plan uses for serving, over the tokens they serve. \
         \"VENDOR at cap\": what that vendor's systems would cost per million tokens serving the whole task mix at the \
         utilization cap in their cheapest site — comparable even where the plan gives a vendor no serving work.",
    );
    page.heading("What-if comparison");
    if !what_ifs.is_empty() {
        let mut served = Vec::new();
        let mut power = Vec::new();
        for p in std::iter::once(base).chain(what_ifs) {
            served.push(Series {
                name: p.what_if.clone(),
                points: p
                    .quarters
                    .iter()
                    .enumerate()
                    .map(|(i, q)| {
                        let share = if q.demand_tokens_per_s > 0.0 {
                            q.served_tokens_per_s / q.demand_tokens_per_s
                        } else {
                            1.0
                        };
                        (qx(i), share * 100.0)
                    })
                    .collect(),
            });
            power.push(Series {
                name: p.what_if.clone(),
                points: p.quarters.iter().enumerate().map(|(i, q)| (qx(i), q.facility_power_mw / 1e3)).collect(),
            });
        }
        page.line_chart(&LineChart {
            title: "Share of peak demand served".into(),
            x_label: axis.clone(),
            y_label: "% of demand".into(),
            series: served,
        });
        page.line_chart(&LineChart {
            title: "Facility power".into(),
            x_label: axis.clone(),
            y_label: "GW".into(),
            series: power,
        });
    } else {
        page.paragraph("No what-ifs given (tokenfab plan --delay VENDOR=K, --demand-scale F, --asic-efficiency PCT, --site-cap SITE=MW).");
    }
    page.table(&what_if_t);
    page.heading("Binding constraints");
    if binding_t.rows() > 0 {
        page.paragraph(
            "Site caps that are fully used, and every limit named while demand goes unserved, with the increase that \
             would serve all of it (delivered systems are normally all deployed: their limit is not repeated here).",
        );
        page.table(&binding_t);
    } else {
        page.paragraph("No site power cap binds and all demand is served in every quarter.");
    }
    page.heading("Supplies");
    page.table(&supplies_table(base)?);
    page.heading("Quarters");
    page.table(&quarters_t);
    page.heading("Capacity per replica at SLO");
    page.table(&capacity_t);
    Ok(page.render())
}
