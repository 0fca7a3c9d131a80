//! The scenario file: demand, models and tasks with SLOs, supply, sites and finance.
//!
//! Parsed with `deny_unknown_fields`; [`Scenario::from_toml`] names the file and the line and
//! field of a syntax or type error, and [`Scenario::validate`] then reports every semantic
//! problem at once (unknown catalog ids, shares that do not add up, quarters out of range).

use crate::Quarter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokenfab_catalog::{Catalog, Dtype};

/// The built-in scenario, `frontier-lab-2026-2029` (also shipped as
/// `examples/plans/frontier-lab-2026-2029.toml`).
pub const BUILTIN_FRONTIER_LAB: &str = include_str!("../data/frontier-lab-2026-2029.toml");
/// Name of the built-in scenario.
pub const BUILTIN_NAME: &str = "frontier-lab-2026-2029";

/// A whole planning scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports.
    pub name: String,
    /// One paragraph on what the scenario is.
    #[serde(default)]
    pub description: String,
    /// First planned quarter.
    pub start: Quarter,
    /// Last planned quarter (inclusive).
    pub end: Quarter,
    /// Highest fraction of at-SLO capacity that serving may use at peak (headroom for bursts,
    /// failures and maintenance). 0 < cap ≤ 1.
    #[serde(default = "default_utilization_cap")]
    pub utilization_cap: f64,
    /// PUE used to turn supply announced in facility MW into IT MW (see `power_basis`).
    #[serde(default = "default_reference_pue")]
    pub reference_pue: f64,
    /// Who uses the service and how much.
    pub demand: Demand,
    /// Models served.
    #[serde(rename = "model")]
    pub models: Vec<ServedModel>,
    /// Kinds of work, their share of demand, their model and their SLOs.
    #[serde(rename = "task")]
    pub tasks: Vec<Task>,
    /// Hardware deliveries by vendor and system.
    #[serde(rename = "supply")]
    pub supplies: Vec<Supply>,
    /// Data-centre sites.
    #[serde(rename = "site")]
    pub sites: Vec<Site>,
    /// Depreciation and operating costs.
    pub finance: Finance,
}

fn default_utilization_cap() -> f64 {
    0.7
}
fn default_reference_pue() -> f64 {
    1.2
}
fn default_fp8() -> Dtype {
    Dtype::Fp8
}
fn one() -> f64 {
    1.0
}

/// Users and their usage, at `base_quarter`, growing geometrically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// The quarter the figures below describe.
    pub base_quarter: Quarter,
    /// Weekly active users at `base_quarter`.
    pub weekly_active_users: f64,
    /// Messages (requests) per weekly active user per day.
    pub messages_per_user_per_day: f64,
    /// Growth of messages per day per quarter (0.10 = +10 % a quarter), users × usage.
    pub growth_per_quarter: f64,
    /// Growth of tokens per message per quarter (longer prompts, more reasoning).
    #[serde(default)]
    pub tokens_per_message_growth_per_quarter: f64,
    /// Whether that growth lengthens requests (capacity recomputed per quarter for the longer
    /// prompts and outputs) or only adds volume at the base lengths (default).
    #[serde(default)]
    pub grow_request_length: bool,
    /// Peak-hour rate over the daily mean rate. Serving capacity is sized for the peak.
    pub peak_to_mean: f64,
}

/// A model the scenario serves (an id in the catalog) and its serving formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServedModel {
    /// Catalog model id (e.g. `deepseek-v3`).
    pub id: String,
    /// Format of weights and activations.
    #[serde(default = "default_fp8")]
    pub weight_dtype: Dtype,
    /// Format of the KV cache.
    #[serde(default = "default_fp8")]
    pub kv_dtype: Dtype,
    /// Format of MoE expert weights (defaults to `weight_dtype`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe_dtype: Option<Dtype>,
}

/// A kind of work: its volume, its shape, its model and its SLOs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Name, e.g. `chat`.
    pub name: String,
    /// Model id (one of the `[[model]]` entries).
    pub model: String,
    /// Share of the users' messages (0..1). Give this or `tokens_per_day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// Absolute volume at the base quarter, tokens (input + output) per day (e.g. API traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<f64>,
    /// Prompt tokens per request at the base quarter.
    pub input_tokens: u64,
    /// Output tokens per request at the base quarter (including reasoning tokens).
    pub output_tokens: u64,
    /// Time-to-first-token SLO, ms.
    pub ttft_ms: f64,
    /// Time-per-output-token SLO, ms.
    pub tpot_ms: f64,
}

/// How deliveries are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryUnit {
    /// Megawatts (see [`PowerBasis`]).
    Mw,
    /// Physical racks.
    Racks,
}

/// Whether announced megawatts are facility (grid) power or IT power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerBasis {
    /// Facility power at the grid connection: IT MW = MW / `reference_pue`.
    Facility,
    /// IT power of the systems themselves.
    It,
}

/// Deliveries of one system type from one vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supply {
    /// Name, e.g. `nvidia-vera-rubin`.
    pub name: String,
    /// Vendor, e.g. `nvidia` (what-ifs address vendors by this name).
    pub vendor: String,
    /// Catalog system id.
    pub system: String,
    /// First quarter any unit can be delivered.
    pub available: Quarter,
    /// Unit of `deliveries`.
    pub unit: DeliveryUnit,
    /// For `unit = "mw"`: facility or IT megawatts.
    #[serde(default = "default_basis")]
    pub power_basis: PowerBasis,
    /// New deliveries per quarter (`"2026Q3" = 250.0`).
    pub deliveries: BTreeMap<Quarter, f64>,
    /// Price of one catalog system (node or rack), USD. Give this or `capex_usd_per_it_mw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_usd: Option<f64>,
    /// Equipment capex per IT MW, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capex_usd_per_it_mw: Option<f64>,
    /// Serving engine the capacity assumes (recorded in the capacity key).
    #[serde(default = "default_engine")]
    pub engine: String,
    /// Scale on throughput at SLO (1.0 = as modelled; what-if `--asic-efficiency`).
    #[serde(default = "one")]
    pub efficiency_scale: f64,
    /// Whether this is the lab's own chip (what-if `--asic-efficiency` applies to it).
    #[serde(default)]
    pub in_house: bool,
    /// Sites this supply may be placed in (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    /// Fix the replica layout (`{ tp = 8 }`, `{ attn_dp = 8, moe_ep = 8 }`; unset fields are 1,
    /// and with neither `moe_tp` nor `moe_ep` given experts split like attention); default: the
    /// capacity model searches the layouts the system allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<tokenfab_perf::Parallel>,
}

fn default_basis() -> PowerBasis {
    PowerBasis::Facility
}
fn default_engine() -> String {
    "vllm".into()
}

/// Who owns a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteKind {
    /// The lab's own campus: pays facility capex.
    Own,
    /// A partner cloud: pays a hosting fee per MW instead.
    Partner,
}

/// A data-centre site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Name.
    pub name: String,
    /// own or partner.
    pub kind: SiteKind,
    /// Facility power cap, MW, from `available` on.
    pub power_cap_mw: f64,
    /// Changes of the cap from a quarter on (`"2027Q3" = 3000.0`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub power_cap_mw_from: BTreeMap<Quarter, f64>,
    /// First quarter the site can host anything.
    pub available: Quarter,
    /// Power usage effectiveness (facility / IT), ≥ 1.
    pub pue: f64,
    /// Electricity price, USD per MWh.
    pub electricity_usd_per_mwh: f64,
    /// Facility capex per facility MW (own sites), USD.
    #[serde(default)]
    pub facility_capex_usd_per_mw: f64,
    /// Hosting fee per facility MW per year (partner sites), USD.
    #[serde(default)]
    pub hosting_usd_per_mw_year: f64,
}

impl Site {
    /// Facility power cap in a quarter, MW (0 before `available`).
    pub fn cap_mw(&self, q: Quarter) -> f64 {
        if q < self.available {
            return 0.0;
        }
        self.power_cap_mw_from.range(..=q).next_back().map(|(_, v)| *v).unwrap_or(self.power_cap_mw)
    }
}

/// Depreciation and operating cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finance {
    /// Straight-line depreciation of equipment, years.
    pub depreciation_years: f64,
    /// Straight-line depreciation of own facilities, years.
    pub facility_depreciation_years: f64,
    /// Other operating cost (maintenance, staff, network) per year as a fraction of equipment capex.
    pub opex_fraction_per_year: f64,
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct ScenarioError {
    /// The file (or `builtin:NAME`).
    pub file: String,
    /// Where: `supply[amd-mi450].system`, or `line 12, column 3`.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Every problem found in a scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} problem(s) in scenario:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl Scenario {
    /// The built-in `frontier-lab-2026-2029` scenario (parsed, not validated against a catalog).
    pub fn builtin() -> Scenario {
        match Scenario::from_toml(&format!("builtin:{BUILTIN_NAME}"), BUILTIN_FRONTIER_LAB) {
            Ok(s) => s,
            Err(e) => panic!("built-in scenario is invalid (a test should have caught this): {e}"),
        }
    }

    /// Parses scenario text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Scenario, ScenarioErrors> {
        toml::from_str::<Scenario>(text).map_err(|e| {
            let field = match e.span() {
                Some(span) => {
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {col}")
                }
                None => "file".into(),
            };
            ScenarioErrors(vec![ScenarioError { file: file.into(), field, message: e.message().to_string() }])
        })
    }

    /// Parses and validates against a catalog.
    pub fn load(file: &str, text: &str, catalog: &Catalog) -> Result<Scenario, ScenarioErrors> {
        let s = Scenario::from_toml(file, text)?;
        let errs = s.validate(file, catalog);
        if errs.is_empty() { Ok(s) } else { Err(ScenarioErrors(errs)) }
    }

    /// All quarters planned.
    pub fn quarters(&self) -> Vec<Quarter> {
        self.start.range_to(self.end)
    }

    /// The served-model entry for a task.
    pub fn model_for(&self, task: &Task) -> Option<&ServedModel> {
        self.models.iter().find(|m| m.id == task.model)
    }

    /// Checks the scenario against itself and the catalog; returns every problem.
    pub fn validate(&self, file: &str, catalog: &Catalog) -> Vec<ScenarioError> {
        let mut errs = Vec::new();
        let mut err = |field: String, message: String| errs.push(ScenarioError { file: file.into(), field, message });
        let pos = |v: f64| v.is_finite() && v > 0.0;
        let nonneg = |v: f64| v.is_finite() && v >= 0.0;
        if self.end < self.start {
            err("end".into(), format!("end {} is before start {}", self.end, self.start));
        }
        if self.start.until(self.end) > 200 {
            err("end".into(), "at most 200 quarters can be planned".into());
        }
        if !(self.utilization_cap > 0.0 && self.utilization_cap <= 1.0) {
            err("utilization_cap".into(), format!("expected 0 < cap ≤ 1, got {}", self.utilization_cap));
        }
        if !(self.reference_pue >= 1.0 && self.reference_pue < 5.0) {
            err("reference_pue".into(), format!("expected 1 ≤ PUE < 5, got {}", self.reference_pue));
        }
        let d = &self.demand;
        for (f, v) in
            [("weekly_active_users", d.weekly_active_users), ("messages_per_user_per_day", d.messages_per_user_per_day)]
        {
            if !nonneg(v) {
                err(format!("demand.{f}"), format!("expected a non-negative number, got {v}"));
            }
        }
        for (f, v) in [
            ("growth_per_quarter", d.growth_per_quarter),
            ("tokens_per_message_growth_per_quarter", d.tokens_per_message_growth_per_quarter),
        ] {
            if !(v.is_finite() && v > -1.0 && v < 10.0) {
                err(format!("demand.{f}"), format!("expected a growth rate between -1 and 10, got {v}"));
            }
        }
        if !(d.peak_to_mean >= 1.0 && d.peak_to_mean.is_finite()) {
            err("demand.peak_to_mean".into(), format!("expected ≥ 1, got {}", d.peak_to_mean));
        }
        if self.models.is_empty() {
            err("model".into(), "at least one [[model]] is needed".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.models {
            if !seen.insert(m.id.clone()) {
                err(format!("model[{}]", m.id), "listed twice".into());
            }
            if let Err(e) = catalog.model(&m.id) {
                err(format!("model[{}].id", m.id), e.to_string());
            }
        }
        if self.tasks.is_empty() {
            err("task".into(), "at least one [[task]] is needed".into());
        }
        let mut share_sum = 0.0;
        let mut names = std::collections::BTreeSet::new();
        for t in &self.tasks {
            let at = |f: &str| format!("task[{}].{f}", t.name);
            if !names.insert(t.name.clone()) {
                err(format!("task[{}]", t.name), "task name used twice".into());
            }
            if !self.models.iter().any(|m| m.id == t.model) {
                err(at("model"), format!("`{}` is not one of the [[model]] ids", t.model));
            }
            match (t.share, t.tokens_per_day) {
                (Some(s), None) if (0.0..=1.0).contains(&s) => share_sum += s,
                (Some(s), None) => err(at("share"), format!("expected 0 ≤ share ≤ 1, got {s}")),
                (None, Some(v)) if nonneg(v) => {}
                (None, Some(v)) => err(at("tokens_per_day"), format!("expected a non-negative number, got {v}")),
                _ => err(at("share"), "give exactly one of `share` and `tokens_per_day`".into()),
            }
            if t.input_tokens == 0 {
                err(at("input_tokens"), "expected at least 1 token".into());
            }
            if t.output_tokens < 2 {
                err(at("output_tokens"), "expected at least 2 tokens (TPOT needs two)".into());
            }
            if !pos(t.ttft_ms) {
                err(at("ttft_ms"), format!("expected a positive SLO, got {}", t.ttft_ms));
            }
            if !pos(t.tpot_ms) {
                err(at("tpot_ms"), format!("expected a positive SLO, got {}", t.tpot_ms));
            }
        }
        if share_sum > 1.0 + 1e-6 {
            err("task".into(), format!("message shares add up to {share_sum:.3}, more than 1"));
        }
        let site_names: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
        if self.supplies.is_empty() {
            err("supply".into(), "at least one [[supply]] is needed".into());
        }
        let mut supply_names = std::collections::BTreeSet::new();
        for s in &self.supplies {
            let at = |f: &str| format!("supply[{}].{f}", s.name);
            if !supply_names.insert(s.name.clone()) {
                err(format!("supply[{}]", s.name), "supply name used twice".into());
            }
            match catalog.system(&s.system) {
                Ok(sys) => {
                    if s.unit_price_usd.is_none() && s.capex_usd_per_it_mw.is_none() && sys.price_usd.is_none() {
                        err(
                            at("unit_price_usd"),
                            format!(
                                "system `{}` has no catalog price: give unit_price_usd or capex_usd_per_it_mw",
                                s.system
                            ),
                        );
                    }
                    if catalog.chip(&sys.chip).is_err() {
                        err(at("system"), format!("system `{}` names unknown chip `{}`", s.system, sys.chip));
                    }
                }
                Err(e) => err(at("system"), e.to_string()),
            }
            for (q, v) in &s.deliveries {
                if !nonneg(*v) {
                    err(at(&format!("deliveries.{q}")), format!("expected a non-negative amount, got {v}"));
                }
                if *q < s.available {
                    err(
                        at(&format!("deliveries.{q}")),
                        format!("delivery before the supply is available ({})", s.available),
                    );
                }
            }
            if let Some(p) = s.unit_price_usd.filter(|p| !nonneg(*p)) {
                err(at("unit_price_usd"), format!("expected a non-negative price, got {p}"));
            }
            if let Some(p) = s.capex_usd_per_it_mw.filter(|p| !nonneg(*p)) {
                err(at("capex_usd_per_it_mw"), format!("expected a non-negative price, got {p}"));
            }
            if !pos(s.efficiency_scale) {
                err(at("efficiency_scale"), format!("expected a positive scale, got {}", s.efficiency_scale));
            }
            for site in &s.sites {
                if !site_names.contains(&site.as_str()) {
                    err(at("sites"), format!("unknown site `{site}`; known: {}", site_names.join(", ")));
                }
            }
        }
        if self.sites.is_empty() {
            err("site".into(), "at least one [[site]] is needed".into());
        }
        for s in &self.sites {
            let at = |f: &str| format!("site[{}].{f}", s.name);
            if !nonneg(s.power_cap_mw) {
                err(at("power_cap_mw"), format!("expected a non-negative cap, got {}", s.power_cap_mw));
            }
            for (q, v) in &s.power_cap_mw_from {
                if !nonneg(*v) {
                    err(at(&format!("power_cap_mw_from.{q}")), format!("expected a non-negative cap, got {v}"));
                }
            }
            if !(s.pue >= 1.0 && s.pue < 5.0) {
                err(at("pue"), format!("expected 1 ≤ PUE < 5, got {}", s.pue));
            }
            for (f, v) in [
                ("electricity_usd_per_mwh", s.electricity_usd_per_mwh),
                ("facility_capex_usd_per_mw", s.facility_capex_usd_per_mw),
                ("hosting_usd_per_mw_year", s.hosting_usd_per_mw_year),
            ] {
                if !nonneg(v) {
                    err(at(f), format!("expected a non-negative amount, got {v}"));
                }
            }
        }
        let f = &self.finance;
        for (name, v) in [
            ("depreciation_years", f.depreciation_years),
            ("facility_depreciation_years", f.facility_depreciation_years),
        ] {
            if !pos(v) {
                err(format!("finance.{name}"), format!("expected a positive number of years, got {v}"));
            }
        }
        if !nonneg(f.opex_fraction_per_year) {
            err("finance.opex_fraction_per_year".into(), format!("expected ≥ 0, got {}", f.opex_fraction_per_year));
        }
        errs
    }
}
