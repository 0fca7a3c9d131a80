//! # tokenfab-plan
//!
//! The fleet planner: from weekly users to racks, megawatts and dollars per million tokens,
//! quarter by quarter, across vendors and sites.
//!
//! ```text
//!  Scenario (TOML)  demand · models · tasks+SLOs · supply · sites · finance
//!        │
//!        ├─► capacity per (task, supply) at SLO ──── CapacityModel: AnalyticCapacity (perf::StepModel)
//!        │      cached by SHA-256 of the inputs        or SimCapacity (tokenfab-sim) ── CapacityCache
//!        ▼
//!  per quarter: demand (peak tokens/s) · delivered units · site caps
//!        │
//!        ▼
//!  placement LP (good_lp + microlp): serve demand, deploy what sites can power, cheapest first
//!        │      └─► binding constraints and by how much they must rise
//!        ▼
//!  Plan: chips/racks/MW by vendor and site · utilization · TWh · capex · cost · $/Mtok
//!        └─► tables, summary.json, report.html (with what-if comparison)
//! ```
//!
//! ```
//! use tokenfab_catalog::Catalog;
//! use tokenfab_plan::{AnalyticCapacity, CapacityCache, Scenario, WhatIf, plan};
//! let catalog = Catalog::builtin();
//! let scenario = Scenario::from_toml("example", tokenfab_plan::EXAMPLE_SMALL).unwrap();
//! assert!(scenario.validate("example", &catalog).is_empty());
//! let mut cache = CapacityCache::default();
//! let p = plan(&scenario, &WhatIf::default(), &catalog, &AnalyticCapacity::default(), &mut cache).unwrap();
//! let q = &p.quarters[0];
//! assert!(q.facility_power_mw >= q.it_power_mw);
//! ```
//!
//! Architecture Invariant: no IO. Scenario text comes in as `&str`; outputs go out as values,
//! strings and [`tokenfab_report::Table`]s; the binary reads and writes files. The plan is a
//! pure function of (scenario, what-if, catalog, capacity model): no clock, no randomness.
#![warn(missing_docs)]

pub mod capacity;
pub mod lp;
pub mod output;
pub mod planner;
mod quarter;
pub mod scenario;
pub mod sim_capacity;

pub use capacity::{AnalyticCapacity, Capacity, CapacityCache, CapacityError, CapacityModel, CapacityQuery};
pub use planner::{Plan, PlanError, QuarterPlan, WhatIf, plan};
pub use quarter::{HOURS_PER_QUARTER, Quarter, SECONDS_PER_QUARTER};
pub use scenario::{BUILTIN_FRONTIER_LAB, BUILTIN_NAME, Scenario, ScenarioError, ScenarioErrors};
pub use sim_capacity::SimCapacity;

/// A small scenario on catalog entries that always exist (H100 nodes, Llama 3.1 8B), for docs
/// and tests.
pub const EXAMPLE_SMALL: &str = include_str!("../data/example-small.toml");
